"""The judge step: one tick's snapshot in, every agent's status and every finding out. Pure.

Each agent is judged on its own (:func:`judge_one`), so an act that changed one agent has only
that agent judged again from what the act saw; the rest of the findings belong to the fleet.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, Sequence

from cockpit import timefmt
from cockpit.config import AgentConfig, Config
from cockpit.findings import Finding
from cockpit.judge.agents import AgentStatus, agent_status, judge_agent, tmux_finding
from cockpit.judge.blocks import TickBudget, judge_blocks, supervisor_overloaded
from cockpit.judge.canaries import judge_canaries
from cockpit.judge.drift import judge_drift
from cockpit.judge.fold import Fold, judge_folds
from cockpit.judge.hooks import HookState, agent_error, hook_status, hooks_silent, with_hook_session
from cockpit.judge.hosts import judge_hosts
from cockpit.judge.reminders import overdue_grace_s, reminder_findings
from cockpit.judge.state import MIN_FREE_BYTES, state_findings
from cockpit.judge.sessions import bad_route_entry, judge_routes_file, judge_sessions
from cockpit.judge.zombies import judge_zombies
from cockpit.lifecycle import Lifecycle
from cockpit.observe.sessions import RouteState, SessionTruth
from cockpit.observe.tick import AgentRecord, TickSnapshot
from cockpit.observe.wrappers import WrapperView


@dataclass(frozen=True)
class Verdict:
    """One agent's row and findings (its lifecycle's, then its session's)."""
    status: AgentStatus
    findings: tuple[Finding, ...]
    session_findings: tuple[Finding, ...] = ()
    inputs: tuple[Any, ...] = field(default=(), compare=False, repr=False)  # what it was judged from
    session_inputs: tuple[Any, ...] = field(default=(), compare=False, repr=False)  # what its session part read


@dataclass(frozen=True)
class Judgement:
    verdicts: Mapping[str, Verdict]           # config order
    fleet: tuple[Finding, ...]                # findings of no one agent's lifecycle or session
    wrappers: tuple[WrapperView, ...] = ()    # zombies marked
    reminders: tuple[Finding, ...] = ()       # seed #6: missed wakes, overdue reminders
    remote: tuple[AgentStatus, ...] = ()      # SPEC §9: other hosts' rows, HOST/NAME, after the local ones
    remote_findings: tuple[Finding, ...] = ()  # their findings, and host_unreachable
    remote_only: bool = False                 # no local agent: this cockpit needs no tmux server of its own
    folds: Mapping[str, tuple[Fold, ...]] = field(default_factory=dict)  # seed #11: agent -> folds seen
    agents_key: tuple[Any, ...] = field(default=(), compare=False, repr=False)  # what every verdict was judged from

    @property
    def statuses(self) -> tuple[AgentStatus, ...]:
        return tuple(v.status for v in self.verdicts.values()) + self.remote

    @property
    def session_findings(self) -> list[Finding]:
        return [f for v in self.verdicts.values() for f in v.session_findings]

    def findings(self, extra: Iterable[Finding] = ()) -> tuple[Finding, ...]:
        """Every finding, the worst first (then by agent, then kind)."""
        found = [f for v in self.verdicts.values() for f in v.findings + v.session_findings]
        found += [*self.fleet, *self.reminders, *self.remote_findings, *extra]
        found.sort(key=lambda f: (-f.severity.rank, f.agent or "", f.kind))
        return tuple(found)

    def again(self, snap: TickSnapshot, config: Config, names: Iterable[str], *, reminders: bool = False) -> Judgement:
        """The same judgement with ``names`` (and the reminders) judged again from a newer snapshot:
        what their acts saw (of each verdict, only the part whose inputs moved)."""
        names = set(names)
        verdicts = dict(self.verdicts)
        for agent in config.agents:
            if agent.name in names:
                verdicts[agent.name] = judge_one(agent, snap, config, previous=verdicts.get(agent.name))
        again = tuple(judge_reminders(snap, config)) if reminders else self.reminders
        return replace(self, verdicts=verdicts, reminders=again, agents_key=())  # judged from two snapshots


def verdict_inputs(agent: AgentConfig, snap: TickSnapshot, config: Config) -> tuple[Any, ...]:
    """Everything :func:`judge_one` reads for ``agent``: the same inputs give the same verdict. The
    clock is among them only where a judge reads it (``hooks_silent`` of a spawn whose hooks were silent)."""
    name = agent.name
    record = snap.records.get(name)
    sessions = snap.sessions
    now = snap.at if record is not None and record.spawn_hooks == "silent" else None
    if sessions is None:
        return (agent, config.supervisor, snap.tmux_ok, snap.base.agents.get(name), record, name in snap.starting,
                snap.hooks.get(name), now)
    return (agent, config.supervisor, snap.tmux_ok, snap.base.agents.get(name), record, name in snap.starting,
            snap.hooks.get(name), now, sessions.truths.get(name), sessions.routes.get(name), sessions.routes_file,
            sessions.routes_bad_entries.get(name))


def judge_one(agent: AgentConfig, snap: TickSnapshot, config: Config, previous: Verdict | None = None) -> Verdict:
    """One agent: its status row, its lifecycle findings, and its record-vs-disk findings (seed #3).
    ``previous`` (its last verdict) is the answer again when it was judged from the same inputs, and
    its seed #3 part when that part's own inputs did not move (an exit row does not judge it twice)."""
    inputs = verdict_inputs(agent, snap, config)
    if previous is not None and previous.inputs == inputs:
        return previous  # nothing it reads moved (the observe step keeps unchanged objects): not judged again
    return replace(_judge_one(agent, snap, config, previous), inputs=inputs)


def _judge_one(agent: AgentConfig, snap: TickSnapshot, config: Config, previous: Verdict | None = None) -> Verdict:
    sup = config.supervisor
    name = agent.name
    obs = snap.base.agents.get(name) if snap.tmux_ok else None
    record = snap.records.get(name) or AgentRecord(Lifecycle())
    lc = record.lifecycle
    starting = name in snap.starting
    sessions = snap.sessions
    hooks = snap.hooks.get(name)  # SPEC §8: what its hooks said since its spawn comes first
    truth = sessions.truths.get(name) if sessions is not None else None
    truth = with_hook_session(truth, hooks, since=record.spawn_at)
    route = sessions.routes.get(name) if sessions is not None else None
    activity = hook_status(hooks, truth.activity if truth is not None else None,
                           truth.last_turn_at if truth is not None else None, since=record.spawn_at)
    status = agent_status(
        agent, obs, lc, tmux_ok=snap.tmux_ok, starting=starting,
        disk_session=truth.disk_session if truth is not None else record.bound_session,
        route_session=route.session_id if route is not None else None,
        last_turn_at=timefmt.iso(truth.last_turn_at, ms=False) if truth is not None else None,
        activity=activity,
        tokens=truth.transcript.tokens if truth is not None and truth.transcript is not None else None)
    findings = judge_agent(agent, obs, lc, last_failed=record.last_failed, last_exit=record.last_exit,
                           max_restarts=sup.max_restarts, restart_window_s=sup.restart_window_s, starting=starting)
    findings += _hook_findings(name, hooks, record, live=obs is not None and obs.proc is not None and not starting,
                               now=snap.at, verify_s=sup.spawn_verify_s)
    # seed #3 reads the disk truth as the hooks left it, the route, the routes file, the starting flag
    session_inputs = (truth, route, starting, snap.tmux_ok, sessions is None,
                      None if sessions is None else sessions.routes_file,
                      None if sessions is None else sessions.routes_bad_entries.get(name))
    if previous is not None and previous.session_inputs == session_inputs:
        session = previous.session_findings
    else:
        session = _session_findings(name, snap, truth, route, starting=starting)
    return Verdict(status, tuple(findings), session, session_inputs=session_inputs)


def _session_findings(name: str, snap: TickSnapshot, truth: SessionTruth | None, route: RouteState | None, *,
                      starting: bool) -> tuple[Finding, ...]:
    """Seed #3: the record against the disk truth, and a routes entry of an unknown shape (SPEC §6)."""
    sessions = snap.sessions
    if sessions is None:
        return ()
    session: list[Finding] = []
    if snap.tmux_ok:
        session = judge_sessions(name, truth, route, routes_file=sessions.routes_file, starting=starting)
    bad_entry = sessions.routes_bad_entries.get(name)
    if bad_entry is not None:  # an entry of an unknown shape is seen on its agent, tmux or not
        session.append(bad_route_entry(name, bad_entry, sessions.routes_file))
    return tuple(session)


def _hook_findings(name: str, hooks: HookState | None, record: AgentRecord, *, live: bool, now: float,
                   verify_s: float) -> list[Finding]:
    """SPEC §8: ``agent_error`` (a StopFailure of the running process), ``hooks_silent`` (info)."""
    if not live:
        return []
    found = [agent_error(name, hooks, since=record.spawn_at),
             hooks_silent(name, hooks, spawned_with_hooks=record.spawn_hooks == "silent", spawn_at=record.spawn_at,
                          now=now, verify_s=verify_s)]
    return [f for f in found if f is not None]


def judge_self(snap: TickSnapshot, config: Config, budget: TickBudget) -> list[Finding]:
    """Seeds #7, #8: block findings, and ``supervisor_overloaded`` for the last completed tick."""
    sup = config.supervisor
    found = judge_blocks(snap.blocks, snap.at, loop_block_ms=sup.loop_block_ms,
                         heartbeat_budget_s=sup.heartbeat_budget_s)
    if snap.loads:
        overloaded = supervisor_overloaded(snap.loads[-1], budget, shedding=snap.shed, recent=tuple(snap.loads))
        if overloaded is not None:
            found.append(overloaded)
    return found


def judge_reminders(snap: TickSnapshot, config: Config) -> list[Finding]:
    """Seed #6: ``missed_wake`` and ``reminder_overdue`` (due, not fired: no leader, agent down...)."""
    sup = config.supervisor
    return reminder_findings(snap.reminders, now=snap.at, grace_s=overdue_grace_s(sup.tick_s),
                             verify_s=sup.wake_verify_s, max_attempts=1 + sup.wake_retries)


def judge_fleet(snap: TickSnapshot, config: Config, budget: TickBudget, *, orphans: Sequence[Finding] = (),
                folds: Mapping[str, Sequence[Fold]] | None = None, server: str = "",
                outputs: Sequence[Finding] = ()) -> tuple[tuple[WrapperView, ...], list[Finding]]:
    """The findings of no one agent: tmux, the routing file, orphan exits, wrappers, the cockpit itself,
    CLI drift, canaries, folds. Returns the wrappers with zombies marked, and the findings."""
    found: list[Finding] = []
    tmux_issue = tmux_finding(snap.base, server)
    if tmux_issue is not None and remote_only(snap, config):
        tmux_issue = None  # SPEC §9: a cockpit of remote hosts only needs no tmux server of its own
    if tmux_issue is not None:
        found.append(tmux_issue)
    if snap.sessions is not None and snap.tmux_ok:
        problem = judge_routes_file(snap.sessions)
        if problem is not None:
            found.append(problem)
    found += orphans
    wrappers, zombies = judge_zombies(snap.wrappers, now=snap.at, grace_s=config.supervisor.zombie_grace_s)
    found += zombies
    found += judge_self(snap, config, budget)
    found += judge_drift(snap.clis)
    found += judge_canaries(snap.canaries, snap.at)
    found += judge_folds(folds or {}, snap.at)
    found += outputs  # SPEC §10: a notification channel or the metrics endpoint/textfile failing
    if snap.state is not None:  # SPEC §6: a full state disk, or a write that failed there
        found += state_findings(snap.state.failures, state_dir=snap.state.dir, free=snap.state.free,
                                min_free=MIN_FREE_BYTES)
    return wrappers, found


def judge_tick(snap: TickSnapshot, config: Config, budget: TickBudget, *, orphans: Sequence[Finding] = (),
               folds: Mapping[str, tuple[Fold, ...]] | None = None, server: str = "",
               outputs: Sequence[Finding] = (), previous: Judgement | None = None) -> Judgement:
    """Every agent, then the fleet. ``orphans`` and ``folds`` come from the judges that keep a memory
    (the registry's unmatched exits, each transcript's fold detector), fed from this snapshot;
    ``previous`` (the last judgement) gives back each verdict whose inputs did not move."""
    key = agents_key(snap, config)
    if previous is not None and same_agents_inputs(previous.agents_key, key, snap):
        verdicts = previous.verdicts  # no input of any verdict moved, and none reads the clock: not one judged again
    else:
        last = previous.verdicts if previous is not None else {}
        verdicts = {agent.name: judge_one(agent, snap, config, last.get(agent.name)) for agent in config.agents}
    wrappers, fleet = judge_fleet(snap, config, budget, orphans=orphans, folds=folds, server=server, outputs=outputs)
    return again_hosts(Judgement(verdicts, tuple(fleet), wrappers, tuple(judge_reminders(snap, config)),
                                 remote_only=remote_only(snap, config), folds=dict(folds or {}), agents_key=key), snap)


def agents_key(snap: TickSnapshot, config: Config) -> tuple[Any, ...]:
    """Every input of every :func:`verdict_inputs`, whole: the agents, the settings, tmux, the starting
    set, the observation map, the records, the hooks' states, the session truth and routes."""
    sessions = snap.sessions
    routes = (None,) * 4 if sessions is None else (sessions.truths, sessions.routes, sessions.routes_file,
                                                     sessions.routes_bad_entries)
    return (config.agents, config.supervisor, snap.base.agents, snap.records, sessions is None, snap.tmux_ok,
            snap.starting, snap.hooks, *routes)


_BY_IDENTITY = 4  # the agents, the settings, the observation map, the records: the same objects, or judged again


def same_agents_inputs(last: tuple[Any, ...], key: tuple[Any, ...], snap: TickSnapshot) -> bool:
    """Whether every verdict judged from ``last`` is this snapshot's too: the same objects (the rest
    equal: the hooks' states and the routes come in a fresh dict of the same values) and no verdict
    that reads the clock (a spawn whose hooks were silent: its ``hooks_silent`` comes due with time alone)."""
    if len(last) != len(key):
        return False
    if any(last[i] is not key[i] for i in range(_BY_IDENTITY)):
        return False
    if any(a is not b and a != b for a, b in zip(last[_BY_IDENTITY:], key[_BY_IDENTITY:])):
        return False
    return not any(record.spawn_hooks == "silent" for record in snap.records.values())


def again_hosts(judgement: Judgement, snap: TickSnapshot) -> Judgement:
    """The other hosts' part judged (again) from ``snap.hosts``: each report was converted once, on arrival."""
    remote, findings = judge_hosts(snap.hosts, snap.at)
    return replace(judgement, remote=remote, remote_findings=tuple(findings))


def remote_only(snap: TickSnapshot, config: Config) -> bool:
    return not config.agents and bool(snap.hosts)
