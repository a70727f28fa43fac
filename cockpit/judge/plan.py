"""The plan: every automatic act of one tick, decided in one place (supervisord's ``transition()``).

Pure: what the tick observed (each agent's lifecycle and process, the findings, the zombie
wrappers), the time and the rate limit's tokens in; intents out, and a ``cleanup_throttled``
finding for each act the rate limit holds back (seed #8: the cure must never cost more than the
disease). The supervisor carries the intents out; each act verifies itself and the next tick
sees what it did. Operator acts and events enter here too, for one agent (:func:`plan_for`).
Alerts are intents too (:func:`plan_alerts`): a budget spent, a CLI drift, and the alerts that
follow an act's verdict (a wake's final miss, a rewritten routing record), each decided here once;
so are the reminders due (:func:`plan_reminders`) and what a report tells the humans
(:func:`plan_notify`).

Order of the tokens, as a tick spends them: starts and respawns (config order), then repoints,
then reaps (the oldest result first).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Collection, Iterable, Mapping, Protocol, Sequence

from cockpit.findings import Finding, Severity
from cockpit.judge.hooks import HookState, session_ended
from cockpit.judge.notify import Incident, Message, RateWindow, Transition, apply, plan_messages, transitions
from cockpit.judge.reminders import missed_wake
from cockpit.lifecycle import AgentState, Exited, Lifecycle, RestartPolicy, transition
from cockpit.observe.snapshot import Snapshot
from cockpit.observe.tick import AgentRecord
from cockpit.reminders import Reminder

# A STARTING with no spawn in flight this long after its request was cut short (a cockpit killed
# mid-spawn): an attempt takes at most spawn_verify_s, so twice that plus slack is never a live one.
STALLED_SPAWN_FACTOR = 2.0
STALLED_SPAWN_SLACK_S = 5.0
PRUNE_EVERY_S = 600.0

# What an automatic act is called in an intent (and in the supervisor's invocation counts).
RECORD_EXIT, SPAWN, REPOINT, REAP, PRUNE = "record_exit", "spawn", "repoint", "reap", "prune"
# Telling the humans through ``alert_command`` (seeds #1, #2, #6): once per transition, never per tick.
ALERT = "alert"
# Seed #6: a reminder's attempt (wake or notice), and the verdict of a firing its cockpit left behind.
FIRE, SETTLE = "fire_reminder", "settle_reminder"
ORPHAN_SLACK_S = 2.0  # a "fired" older than wake_verify_s + this, not ours: its cockpit stopped
# Events that enter the pipeline for one agent (SPEC §8): its process seen to exit (a pidfd), a hook's word.
EXIT_EVENT, HOOK_EVENT = "exit_event", "hook_event"
# Operator causes that enter the pipeline for one agent.
OPERATOR_RESPAWN, OPERATOR_REPOINT = "operator_respawn", "operator_repoint"
# SPEC §11: the operator's adopt (a live pane becomes the agent) and send (a line typed, verified).
ADOPT, SEND = "adopt", "send"
OPERATOR_ADOPT, OPERATOR_SEND = "operator_adopt", "operator_send"


@dataclass(frozen=True)
class Intent:
    """One act the plan decided: ``act`` on ``agent`` (a wrapper for a reap), started ``by`` whom."""
    act: str
    agent: str | None = None
    by: str = "auto"
    why: str = ""
    force: bool = False
    wrapper: Any = None          # the WrapperView a reap stops
    pane: Any = None             # the pane whose exit is recorded (its status, its last screen); adopt: the pane
    text: str = ""               # send: what is typed
    finding: Finding | None = None  # alert: the finding ``alert_command`` gets
    background: bool = False     # alert: the tick does not wait for the command
    reminder: Reminder | None = None  # fire, settle: the reminder as observed this tick
    expected: str | None = None  # record_exit: the agent announced its exit (SessionEnd's reason)


@dataclass(frozen=True)
class Budget:
    """The rate limit as the plan sees it: tokens available now, and the refill rate."""
    tokens: float
    per_minute: int

    def wait_s(self, left: float) -> float:
        rate = self.per_minute / 60.0
        return max(0.0, (1.0 - left) / rate) if rate > 0 else float("inf")


@dataclass(frozen=True)
class AgentNow:
    """What the plan needs of one agent this tick."""
    name: str
    lifecycle: Lifecycle
    policy: RestartPolicy | None
    observed: bool               # tmux answered and the agent was looked for
    live: bool                   # its pane's process runs
    open_spawn: bool             # its newest verified spawn has no exit row yet
    exit_status: int | None = None
    pane: Any = None
    starting: bool = False       # a spawn is in flight (this cockpit)
    ended: str | None = None     # SPEC §8: the reason of the SessionEnd its hooks sent since its spawn

    @classmethod
    def of(cls, name: str, base: Snapshot, record: AgentRecord, *, policy: RestartPolicy | None,
           starting: Collection[str], hooks: HookState | None) -> AgentNow:
        """The agent as one observation shows it: its pane and process, its record, its hooks' word."""
        obs = base.agents.get(name)
        pane = obs.pane if obs is not None else None
        return cls(name=name, lifecycle=record.lifecycle, policy=policy, observed=obs is not None,
                   live=obs is not None and obs.proc is not None, open_spawn=record.open_spawn,
                   exit_status=pane.dead_status if pane is not None else None, pane=pane, starting=name in starting,
                   ended=session_ended(hooks, since=record.spawn_at))


@dataclass(frozen=True)
class Mode:
    """Who may act: only the leader, never read-only; tmux down means agents are unknown."""
    leader: bool
    read_only: bool
    tmux_ok: bool
    auto_respawn: bool = True
    auto_reap: bool = True
    spawn_verify_s: float = 20.0
    wake_verify_s: float = 30.0

    @property
    def acting(self) -> bool:
        return self.leader and not self.read_only

    @property
    def stalled_after_s(self) -> float:
        return STALLED_SPAWN_FACTOR * self.spawn_verify_s + STALLED_SPAWN_SLACK_S


class RepointPolicy(Protocol):
    def due(self, finding: Finding, truth: Any, now: float | None = None) -> bool: ...


@dataclass(frozen=True)
class Plan:
    intents: tuple[Intent, ...] = ()
    throttled: tuple[Finding, ...] = ()   # cleanup_throttled: acts the rate limit held back
    tokens: int = 0                       # tokens the intents spend

    def of(self, *acts: str) -> tuple[Intent, ...]:
        return tuple(i for i in self.intents if i.act in acts)

    @property
    def agents(self) -> set[str]:
        """Agents an intent changes (their judgement is redone from what the act saw)."""
        return {i.agent for i in self.intents
                if i.agent is not None and i.act in (RECORD_EXIT, SPAWN, REPOINT, ADOPT)}


# --- one agent: each STATE -> action, named in one function ----------------------------------------


def agent_step(a: AgentNow, now: float, mode: Mode) -> tuple[Intent, ...]:
    """The automatic step of one agent whose process is gone: record its exit, then start or respawn it.

    RUNNING (an open spawn)  -> record_exit; its next step waits for the next tick if the exit moves it
    UNKNOWN                  -> spawn by "start" (never started by cockpit)
    BACKOFF, its time come   -> spawn by "auto"
    STARTING, stalled        -> spawn by "auto" (a spawn cut short by a killed cockpit)
    DOWN, FATAL              -> nothing: the policy, or only an operator, restarts it
    """
    if a.starting or not a.observed or a.live:
        return ()  # in flight, not observable this tick, or running: nothing to do
    steps: list[Intent] = []
    lc = a.lifecycle
    if a.open_spawn:
        steps.append(Intent(RECORD_EXIT, a.name, why="its process is gone", pane=a.pane, expected=a.ended))
        exited = Exited(now, a.exit_status, expected=a.ended is not None)
        if a.policy is not None and transition(lc, exited, a.policy).state is not lc.state:
            return tuple(steps)  # the exit row moves the lifecycle: the next tick decides on the new state
    if not mode.auto_respawn:
        return tuple(steps)
    state = lc.state
    if state is AgentState.UNKNOWN:
        steps.append(Intent(SPAWN, a.name, by="start", why="never started by cockpit"))
    elif state is AgentState.BACKOFF and lc.due(now):
        steps.append(Intent(SPAWN, a.name, by="auto", why="its backoff is over"))
    elif state is AgentState.STARTING and lc.due(now, stalled_after_s=mode.stalled_after_s):
        steps.append(Intent(SPAWN, a.name, by="auto", why="a spawn cut short, never verified"))
    return tuple(steps)


def _spawn_throttled(name: str, per_minute: int, wait_s: float) -> Finding:
    return Finding(
        kind="cleanup_throttled", severity=Severity.WARNING, agent=name, action="respawn",
        summary=(f"{name}: automatic respawn held back by the rate limit "
                 f"({per_minute}/min); next token in {wait_s:.0f}s"),
        evidence={"max_actions_per_minute": per_minute},
    )


def reap_throttled(view: Any, per_minute: int, wait_s: float) -> Finding:
    return Finding(
        kind="cleanup_throttled", severity=Severity.WARNING, agent=view.agent, subject=view.id, action="reap",
        summary=(f"{view.name}: automatic reap held back by the rate limit ({per_minute}/min); "
                 f"next token in {wait_s:.0f}s"),
        evidence={"max_actions_per_minute": per_minute, "next_token_s": round(wait_s, 1), "wrapper": view.id,
                  "name": view.name, "zombie_reason": view.zombie_reason},
    )


class _Tokens:
    """The plan's own count of the rate limit's tokens (the bucket itself is spent by the act)."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.left = budget.tokens
        self.spent = 0

    def take(self) -> bool:
        if self.left >= 1.0:
            self.left -= 1.0
            self.spent += 1
            return True
        return False

    def wait_s(self) -> float:
        return self.budget.wait_s(self.left)


def plan_reaps(zombies: Iterable[Any], tokens: _Tokens, *, in_flight: Iterable[str] = ()
               ) -> tuple[list[Intent], list[Finding]]:
    """Seed #9 at the rate limit of seed #8: each live zombie, oldest result first, is reaped or waits."""
    busy = set(in_flight)
    intents: list[Intent] = []
    throttled: list[Finding] = []
    order = sorted(zombies, key=lambda v: (v.result.seen_at if v.result else v.first_seen, v.pid))
    for view in order:
        if view.id in busy or not view.alive:
            continue
        if not tokens.take():
            throttled.append(reap_throttled(view, tokens.budget.per_minute, tokens.wait_s()))
            continue
        intents.append(Intent(REAP, view.agent, why=view.zombie_reason or "zombie", wrapper=view))
    return intents, throttled


def plan_reap_only(zombies: Iterable[Any], budget: Budget, *, in_flight: Iterable[str] = ()) -> Plan:
    """The reaps alone (the reaper's ``auto_reap``): the same rule as a tick's."""
    tokens = _Tokens(budget)
    intents, throttled = plan_reaps(zombies, tokens, in_flight=in_flight)
    return Plan(tuple(intents), tuple(throttled), tokens.spent)


# --- the leader's repoints: the rule, and the memory that stops a tug of war ----------------------


class AutoRepoint:
    """Which route findings the leader fixes by itself, and the memory that stops a tug of war.

    Only ``stale_route``/``unknown_route_session`` findings whose action is repoint and whose
    disk truth came from a live file or a bound id: a truth from "newest transcript" is left to
    an operator. If the record goes back to the session we repointed away from within
    ``cooldown_s`` (a writer that does not take the lock keeps rewriting it), we do not fight:
    the finding stays, with that as evidence (seed #8: the cure must not become the load).
    """

    SOURCES = ("live", "bound")

    def __init__(self, cooldown_s: float = 600.0, clock: Callable[[], float] | None = None) -> None:
        self.cooldown_s = cooldown_s
        self.clock = clock  # handed in: the plan reads no clock of its own
        self._done: dict[str, tuple[float, str | None, str | None]] = {}  # agent -> (at, before, after)

    def _now(self, now: float | None) -> float:
        if now is not None:
            return now
        if self.clock is None:
            raise TypeError("AutoRepoint needs a clock or a now")
        return self.clock()

    def due(self, finding: Finding, truth: SessionTruth | None, now: float | None = None) -> bool:
        now = self._now(now)
        if finding.kind not in ("stale_route", "unknown_route_session") or finding.action != "repoint":
            return False
        if finding.agent is None or truth is None or truth.source not in self.SOURCES:
            return False
        last = self._done.get(finding.agent)
        if last is not None and now - last[0] < self.cooldown_s:
            return finding.evidence.get("route_session") != last[1]  # reverted to what we replaced: do not fight
        return True

    def reverted(self, agent: str, route_session: str | None, now: float | None = None) -> bool:
        now = self._now(now)
        last = self._done.get(agent)
        return last is not None and now - last[0] < self.cooldown_s and route_session == last[1]

    def record(self, result: Any, now: float | None = None) -> None:
        """Remember a repoint that changed the record (a RepointResult, or an ActionResult carrying one)."""
        if not getattr(result, "ok", False) or getattr(result, "skipped", False):
            return
        evidence = getattr(result, "evidence", None) or {}
        before = getattr(result, "before", evidence.get("before"))
        after = getattr(result, "after", evidence.get("after"))
        self._done[result.agent] = (self._now(now), before, after)


# --- the whole tick --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TickFacts:
    """Everything the plan reads of one tick (built by the supervisor from its snapshot and judgement)."""
    now: float
    mode: Mode
    budget: Budget
    agents: Sequence[AgentNow] = ()
    session_findings: Sequence[Finding] = ()
    truths: Mapping[str, Any] = field(default_factory=dict)
    zombies: Sequence[Any] = ()
    reaps_in_flight: frozenset[str] = frozenset()
    last_prune: float = 0.0
    findings: Sequence[Finding] = ()                    # this tick's judgement, every finding
    reminders: Sequence[Reminder] = ()                  # seed #6: open ones and the last day's
    reminders_in_flight: frozenset[str] = frozenset()   # reminder ids whose attempt runs (this cockpit)
    waking: frozenset[str] = frozenset()                # agents with a wake in flight (this cockpit)
    known: frozenset[tuple[str, str | None, str | None]] = frozenset()  # the last report's finding keys


def plan_tick(facts: TickFacts, repoint_policy: RepointPolicy) -> Plan:
    """Every automatic act of one tick, in the order the tick carries them out:

    each agent's step (:func:`agent_step`)        -> record_exit, spawn (first starts free, respawns at a token)
    a stale route with a live or bound disk truth -> repoint, at a token
    a zombie wrapper past its grace               -> reap, at a token (:func:`plan_reaps`)
    a reminder due, or fired with no verdict      -> fire_reminder, settle_reminder (:func:`plan_reminders`)
    the registry's retention reached              -> prune
    a budget spent, a drift first seen            -> alert (:func:`plan_alerts`)

    A read-only cockpit or a follower plans nothing."""
    mode, now = facts.mode, facts.now
    if not mode.acting:
        return Plan()
    tokens = _Tokens(facts.budget)
    intents: list[Intent] = []
    throttled: list[Finding] = []
    spawning: set[str] = set()
    if mode.tmux_ok:
        for agent in facts.agents:
            for step in agent_step(agent, now, mode):
                if step.act == SPAWN:
                    # SPEC §8: a first start is not cleanup: concurrent, verified, never rate-limited
                    if step.by != "start" and not tokens.take():
                        throttled.append(_spawn_throttled(agent.name, facts.budget.per_minute, tokens.wait_s()))
                        continue
                    spawning.add(agent.name)
                intents.append(step)
        # seed #3: a record that disagrees with a live or bound disk truth is repointed, loudly
        for finding in facts.session_findings:
            name = finding.agent
            if name is None or name in spawning or not repoint_policy.due(finding, facts.truths.get(name), now):
                continue
            if not tokens.take():
                continue  # seed #8: the finding stays; a later token repoints it
            intents.append(Intent(REPOINT, name, why=finding.kind))
    if mode.auto_reap:
        reaps, held = plan_reaps(facts.zombies, tokens, in_flight=facts.reaps_in_flight)
        intents += reaps
        throttled += held
    # seed #6: fire due reminders and settle orphaned firings (each attempt verifies in its own task)
    intents += plan_reminders(facts.reminders, now, verify_s=mode.wake_verify_s,
                              in_flight=facts.reminders_in_flight, waking=facts.waking)
    if now - facts.last_prune >= PRUNE_EVERY_S:
        intents.append(Intent(PRUNE, why="closed lifecycles past their retention"))
    intents += plan_alerts(facts.agents, facts.findings, facts.known)
    return Plan(tuple(intents), tuple(throttled), tokens.spent)


# --- reminders: which are due ----------------------------------------------------------------------


def plan_reminders(reminders: Iterable[Reminder], now: float, *, verify_s: float,
                   in_flight: Collection[str] = (), waking: Collection[str] = ()) -> list[Intent]:
    """Seed #6: the attempts one tick starts, the next due first.

    scheduled/waiting, its time come -> fire it (a wake: one per agent at a time, typing never interleaves)
    fired, no verdict past verify_s  -> settle it (the cockpit that fired it stopped while verifying)
    """
    busy = set(waking)
    intents: list[Intent] = []
    for r in sorted(reminders, key=lambda r: (r.next_at, r.created_at)):
        if r.id in in_flight:
            continue
        if r.state == "fired" and r.fired_at is not None and now - r.fired_at > verify_s + ORPHAN_SLACK_S:
            intents.append(Intent(SETTLE, r.agent, why="fired, and its cockpit gave no verdict", reminder=r))
        elif r.is_due(now):
            if r.verb == "wake":
                if r.agent in busy:
                    continue
                busy.add(r.agent)
            intents.append(Intent(FIRE, r.agent, why=f"{r.verb} due", reminder=r))
    return intents


# --- alerts: who is told through alert_command, once per transition ---------------------------------


def plan_alerts(agents: Iterable[AgentNow], findings: Iterable[Finding], known: Collection[tuple[Any, ...]]
                ) -> list[Intent]:
    """The alerts one acting tick sends (never one per tick: each is the edge of a transition).

    FATAL entered, seen live   -> alert with its ``respawn_exhausted`` (seed #2): the lifecycle's
                                  ``alert_due`` is that edge, read once by observe
    version_drift, first seen  -> alert, in the background (seed #1): absent from the last report
    """
    findings = list(findings)
    intents: list[Intent] = []
    for agent in agents:
        if agent.lifecycle.state is AgentState.FATAL and agent.lifecycle.alert_due:
            finding = next((f for f in findings if f.agent == agent.name and f.kind == "respawn_exhausted"),
                           None) or respawn_exhausted(agent.name)
            intents.append(Intent(ALERT, agent.name, why="its restart budget is spent", finding=finding))
    for finding in findings:
        if finding.kind == "version_drift" and finding.key not in known:
            intents.append(Intent(ALERT, finding.agent, why="an agent CLI changed behind our back",
                                  finding=finding, background=True))
    return intents


@dataclass(frozen=True)
class NotifyPlan:
    """SPEC §10: what one report tells the humans, and the notifier's memory after it."""
    told: dict[str, Incident]                 # incidents as the humans know them
    clear: dict[str, float]                   # lifecycle incident -> since when its agent is clear of it
    window: RateWindow                        # the minute's messages, these included
    messages: tuple[Message, ...] = ()        # to send: each transition alone, or one digest
    quiet: tuple[Transition, ...] = ()        # journaled only: a resolution nobody asked to hear of
    pending: tuple[Transition, ...] = ()      # past the minute's budget: wait for a slot, folded, never dropped


def plan_notify(findings: Iterable[Finding], statuses: Mapping[str, str], *, told: Mapping[str, Incident],
                clear: Mapping[str, float], pending: Sequence[Transition], window: RateWindow, now: float,
                min_severity: str, on_resolve: bool, settle_s: float, source: str) -> NotifyPlan:
    """The transitions one report makes against what was told (once per transition, never per tick;
    a crash loop is one incident until it settled), folded into messages at the rate limit."""
    changes, clear_after = transitions(findings, told, min_severity=min_severity, on_resolve=on_resolve,
                                       statuses=statuses, now=now, clear=clear, settle_s=settle_s)
    window = RateWindow(window.max_per_minute, list(window.sent))  # the plan spends its own copy
    messages, waiting = plan_messages([*pending, *(t for t in changes if t.send)], window, now, source)
    return NotifyPlan(apply(told, changes), clear_after, window, tuple(messages),
                      tuple(t for t in changes if not t.send), tuple(waiting))


def respawn_exhausted(name: str) -> Finding:
    """What the alert says when the judgement had no finding of its own (the agent is not configured)."""
    return Finding(kind="respawn_exhausted", severity=Severity.CRITICAL, agent=name, action="respawn",
                   summary=f"{name}: restart budget spent")


def repointed(name: str, summary: str, evidence: Mapping[str, Any]) -> Intent:
    """A routing record rewritten (seed #3: loudly, by the leader or an operator) -> alert, info."""
    return Intent(ALERT, name, why="its routing record was rewritten",
                  finding=Finding(kind="stale_route", severity=Severity.INFO, agent=name, action="repoint",
                                  summary=summary, evidence=dict(evidence)))


def wake_missed(reminder: Reminder, *, now: float, max_attempts: int) -> Intent | None:
    """A wake's verdict: its last attempt missed too -> alert with ``missed_wake`` (seed #6), once:
    only the act that wrote the final miss asks."""
    if reminder.state != "missed":
        return None
    finding = missed_wake(reminder, now=now, max_attempts=max_attempts)
    if finding is None:
        return None
    return Intent(ALERT, reminder.agent, why="a wake's last retry missed", finding=finding)


def plan_for(agent: AgentNow, cause: str, *, now: float, mode: Mode, budget: Budget, force: bool = False,
             pane: str | None = None, text: str = "") -> Plan:
    """The pipeline's entry for one agent and one cause: an operator's key, or an event about the agent.

    An operator's act spends no token (the rate limit bounds the automatic ones) and is verified
    by the act itself, under the agent's lock. Any other cause (a process seen to exit, a hook's
    word) takes the agent's automatic step, as a tick would, at the rate limit.
    """
    if cause == OPERATOR_RESPAWN:
        return Plan((Intent(SPAWN, agent.name, by="operator", force=force, why="operator"),))
    if cause == OPERATOR_REPOINT:
        return Plan((Intent(REPOINT, agent.name, by="operator", why="operator"),))
    if cause == OPERATOR_ADOPT:
        return Plan((Intent(ADOPT, agent.name, by="operator", why="operator", pane=pane),))
    if cause == OPERATOR_SEND:
        return Plan((Intent(SEND, agent.name, by="operator", why="operator", text=text),))
    if not mode.acting or not mode.tmux_ok:
        return Plan()
    tokens = _Tokens(budget)
    intents: list[Intent] = []
    throttled: list[Finding] = []
    for step in agent_step(agent, now, mode):
        if step.act == SPAWN and step.by != "start" and not tokens.take():
            throttled.append(_spawn_throttled(agent.name, budget.per_minute, tokens.wait_s()))
            continue
        intents.append(replace(step, why=f"{step.why} ({cause})"))
    return Plan(tuple(intents), tuple(throttled), tokens.spent)
