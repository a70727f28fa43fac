"""The plan, with plain data: every automatic act of a tick (alerts and reminders included) is decided
here, once, and a cockpit that may not act decides none."""

from __future__ import annotations

from dataclasses import replace

from cockpit.findings import Finding, Severity
from cockpit.judge.hooks import HookState, session_ended
from cockpit.judge.notify import RateWindow
from cockpit.judge.plan import (ALERT, FIRE, REAP, RECORD_EXIT, SETTLE, SPAWN, AgentNow, Budget, Mode, TickFacts, plan_notify, plan_tick, repointed,
                                wake_missed)
from cockpit.lifecycle import (AgentState, Lifecycle, RestartPolicy, SpawnFailed, SpawnStarted, SpawnVerified, fold,
                               transition)
from cockpit.reminders import Reminder

NOW = 1_000_000.0
POLICY = RestartPolicy(max_restarts=2, restart_window_s=300.0)
LEADER = Mode(leader=True, read_only=False, tmux_ok=True)


class NeverRepoint:
    def due(self, finding, truth, now=None) -> bool:
        return False


def agent(name: str, lc: Lifecycle, *, live: bool = False) -> AgentNow:
    return AgentNow(name=name, lifecycle=lc, policy=POLICY, observed=True, live=live, open_spawn=False)


def facts(*agents: AgentNow, mode: Mode = LEADER, last_prune: float = NOW, **kw) -> TickFacts:
    return TickFacts(now=NOW, mode=mode, budget=Budget(tokens=10.0, per_minute=10), agents=agents,
                     last_prune=last_prune, **kw)


def spent_budget() -> Lifecycle:
    """Three failed attempts inside the window with max_restarts=2: the transition into FATAL, seen live."""
    lc = Lifecycle()
    for i in range(3):
        lc = transition(lc, SpawnStarted(at=NOW - 30 + i), POLICY)
        lc = transition(lc, SpawnFailed(at=NOW - 29 + i, check="alive"), POLICY)
    assert lc.state is AgentState.FATAL and lc.alert_due
    return lc


def alerts(plan) -> list:
    return list(plan.of(ALERT))


def test_a_spent_budget_yields_exactly_one_alert_with_the_judgements_finding():
    judged = Finding(kind="respawn_exhausted", severity=Severity.CRITICAL, agent="doomed", action="respawn",
                     summary="doomed: 3 failures in 300s", evidence={"screen": "boom"})
    [alert] = alerts(plan_tick(facts(agent("doomed", spent_budget()), findings=(judged,)), NeverRepoint()))
    assert alert.agent == "doomed" and alert.finding is judged and not alert.background


def test_a_spent_budget_is_not_alerted_again_on_the_next_ticks():
    lc = spent_budget()
    # the next tick observes the same FATAL lifecycle with its edge read (the view forgot it) ...
    assert alerts(plan_tick(facts(agent("doomed", replace(lc, alert_due=False))), NeverRepoint())) == []
    # ... or a later failure row while FATAL: still no new edge
    later = transition(lc, SpawnFailed(at=NOW, check="alive"), POLICY)
    assert later.state is AgentState.FATAL and alerts(plan_tick(facts(agent("doomed", later)), NeverRepoint())) == []


def test_a_budget_spent_before_this_cockpit_started_is_not_alerted():
    rows = [{"ts": NOW - 30 + i, "agent": "doomed", "event": e} for i in range(3)
            for e in ("spawn_requested", "spawn_failed")]
    replayed = fold(rows, POLICY)
    assert replayed.state is AgentState.FATAL
    assert alerts(plan_tick(facts(agent("doomed", replayed)), NeverRepoint())) == []


def test_a_spent_budget_without_a_finding_still_alerts_with_one_of_its_own():
    [alert] = alerts(plan_tick(facts(agent("doomed", spent_budget())), NeverRepoint()))
    assert alert.finding.kind == "respawn_exhausted" and alert.finding.agent == "doomed"
    assert alert.finding.severity is Severity.CRITICAL


def drift() -> Finding:
    return Finding(kind="version_drift", severity=Severity.CRITICAL, subject="/usr/bin/claude", action="none",
                   summary="claude changed since its last passed promotion")


def test_a_version_drift_is_alerted_when_first_seen_only():
    [alert] = alerts(plan_tick(facts(findings=(drift(),)), NeverRepoint()))
    assert alert.finding.kind == "version_drift" and alert.background
    assert alerts(plan_tick(facts(findings=(drift(),), known=frozenset({drift().key})), NeverRepoint())) == []


def test_a_read_only_or_follower_cockpits_plan_yields_no_acts():
    due = agent("fresh", Lifecycle())  # never started: a leader would start it
    doomed = agent("doomed", spent_budget())
    for mode in (replace(LEADER, read_only=True), replace(LEADER, leader=False)):
        plan = plan_tick(facts(due, doomed, mode=mode, findings=(drift(),), last_prune=0.0), NeverRepoint())
        assert plan.intents == () and plan.throttled == () and plan.tokens == 0
    acting = plan_tick(facts(due, doomed, findings=(drift(),)), NeverRepoint())
    assert [i.act for i in acting.intents if i.act in (SPAWN, ALERT, REAP)] == [SPAWN, ALERT, ALERT]


def reminder(state: str, **kw) -> Reminder:
    return Reminder(id="r-abcd", agent="api", verb="wake", text="resume the migration", due_at=NOW - 60,
                    created_at=NOW - 120, state=state, **kw)


def test_a_wakes_final_miss_is_alerted_and_a_miss_with_retries_left_is_not():
    final = reminder("missed", attempts=3, missed_at=NOW, evidence={"typed": "resume the migration"})
    intent = wake_missed(final, now=NOW, max_attempts=3)
    assert intent is not None and intent.act == ALERT and intent.agent == "api"
    assert intent.finding.kind == "missed_wake" and intent.finding.severity is Severity.CRITICAL
    retrying = reminder("scheduled", attempts=1, missed_at=NOW, next_at=NOW + 4)
    assert wake_missed(retrying, now=NOW, max_attempts=3) is None
    assert wake_missed(reminder("delivered", attempts=1), now=NOW, max_attempts=3) is None


def test_a_rewritten_routing_record_is_told_as_an_info_alert():
    intent = repointed("scribe", "repointed scribe: routing record s-old -> s-new", {"before": "s-old", "after": "s-new"})
    assert intent.act == ALERT and intent.agent == "scribe"
    assert (intent.finding.kind, intent.finding.severity, intent.finding.action) == ("stale_route", Severity.INFO,
                                                                                      "repoint")
    assert intent.finding.evidence["after"] == "s-new"


def due(rid: str, agent: str, verb: str = "wake", *, next_at: float = NOW, **kw) -> Reminder:
    return Reminder(id=rid, agent=agent, verb=verb, text="hello", due_at=next_at, created_at=NOW - 600,
                    next_at=next_at, **kw)


def fired(plan) -> list[str]:
    return [i.reminder.id for i in plan.of(FIRE)]


def test_a_reminder_due_now_is_fired_and_one_not_yet_due_is_not():
    plan = plan_tick(facts(reminders=(due("r-now", "api"), due("r-later", "tabs", next_at=NOW + 1))), NeverRepoint())
    assert fired(plan) == ["r-now"] and plan.of(FIRE)[0].agent == "api"
    assert fired(plan_tick(facts(reminders=(due("r-later", "tabs", next_at=NOW + 1),)), NeverRepoint())) == []


def test_one_wake_per_agent_at_a_time_and_notices_are_not_held_by_a_wake():
    reminders = (due("r-2", "api", next_at=NOW - 5), due("r-1", "api", next_at=NOW - 10),
                 due("r-n", "api", "notice", next_at=NOW - 1), due("r-t", "tabs"))
    assert fired(plan_tick(facts(reminders=reminders), NeverRepoint())) == ["r-1", "r-n", "r-t"]
    # a wake of api already in flight (this cockpit): api's next wake waits; an attempt in flight is not doubled
    plan = plan_tick(facts(reminders=reminders, waking=frozenset({"api"}), reminders_in_flight=frozenset({"r-t"})),
                     NeverRepoint())
    assert fired(plan) == ["r-n"]


def test_waiting_is_due_again_and_finished_or_fired_reminders_are_not_fired():
    reminders = (due("r-w", "api", state="waiting", why="agent busy"), due("r-d", "tabs", state="delivered"),
                 due("r-c", "relay", state="cancelled"), due("r-f", "scribe", state="fired", fired_at=NOW - 1))
    assert fired(plan_tick(facts(reminders=reminders), NeverRepoint())) == ["r-w"]


def test_a_firing_left_without_a_verdict_is_settled_after_the_verify_window():
    mode = replace(LEADER, wake_verify_s=30.0)
    fresh = due("r-f", "api", state="fired", fired_at=NOW - 31.0, attempts=1)
    assert plan_tick(facts(mode=mode, reminders=(fresh,)), NeverRepoint()).of(SETTLE) == ()
    old = replace(fresh, fired_at=NOW - 33.0)
    [settle] = plan_tick(facts(mode=mode, reminders=(old,)), NeverRepoint()).of(SETTLE)
    assert settle.reminder is old and settle.agent == "api"


def test_a_read_only_cockpit_fires_no_reminder():
    for mode in (replace(LEADER, read_only=True), replace(LEADER, leader=False)):
        plan = plan_tick(facts(mode=mode, reminders=(due("r-now", "api"),)), NeverRepoint())
        assert plan.intents == ()


def test_an_exit_its_hooks_announced_is_recorded_as_expected_and_not_respawned():
    running = transition(transition(Lifecycle(), SpawnStarted(at=NOW - 60), POLICY), SpawnVerified(at=NOW - 59), POLICY)
    gone = replace(agent("tabs", running), open_spawn=True, ended="prompt_input_exit")  # no exit status seen yet
    [record] = plan_tick(facts(gone), NeverRepoint()).intents[:1]
    assert record.act == RECORD_EXIT and record.expected == "prompt_input_exit"
    assert plan_tick(facts(gone), NeverRepoint()).of(SPAWN) == ()  # on-failure: an ending, not a crash
    crashed = replace(gone, ended=None)
    assert plan_tick(facts(crashed), NeverRepoint()).of(RECORD_EXIT)[0].expected is None


def test_a_session_end_counts_only_since_the_agents_spawn():
    state = HookState(ended={"ts": NOW - 5, "reason": "prompt_input_exit"})
    assert session_ended(state, since=NOW - 10) == "prompt_input_exit"
    assert session_ended(state, since=NOW) is None  # an earlier process's ending
    assert session_ended(HookState(ended={"ts": NOW - 5}), since=None) == "other"
    assert session_ended(HookState(), since=None) is None and session_ended(None, since=None) is None


def notify(findings, told=None, *, pending=(), window=None, now=NOW, statuses=None):
    return plan_notify(findings, statuses or {}, told=told or {}, clear={}, pending=pending,
                       window=window or RateWindow(3), now=now, min_severity="warning", on_resolve=True,
                       settle_s=60.0, source="cockpit@test")


def test_a_finding_is_told_once_when_it_opens_and_once_when_it_resolves():
    down = Finding(kind="port_not_listening", severity=Severity.CRITICAL, agent="api", action="none",
                   summary="api: port 8080 not listening")
    first = notify([down])
    assert [m.transitions[0].event for m in first.messages] == ["opened"] and first.window.sent == [NOW]
    again = notify([down], first.told, window=first.window, now=NOW + 2)
    assert again.messages == () and again.told == first.told  # the next tick tells nothing
    gone = notify([], again.told, window=again.window, now=NOW + 4, statuses={"api": "idle"})
    assert [m.transitions[0].event for m in gone.messages] == ["resolved"] and gone.told == {}


def test_a_spent_minute_keeps_the_transitions_waiting_folded_never_dropped():
    findings = [Finding(kind="port_not_listening", severity=Severity.WARNING, agent=f"a{i}", action="none",
                        summary=f"a{i}: port") for i in range(2)]
    full = RateWindow(1, [NOW - 1])
    plan = notify(findings, window=full)
    assert plan.messages == () and len(plan.pending) == 2 and full.sent == [NOW - 1]  # its input untouched
    later = notify(findings, plan.told, pending=plan.pending, window=plan.window, now=NOW + 60)
    [digest] = later.messages
    assert len(digest.transitions) == 2 and later.pending == ()
