"""The supervisor: observe → judge → act → verify, once per tick.

Ticks never pile up: the loop runs one tick at a time and a tick that starts
late skips the missed slots instead of queueing them (seed #8, no fork storm
after a stall). Only the holder of the leader lock takes automatic actions;
operator actions from any cockpit go through the same per-agent locks.

The supervisor watches itself (seeds #7, #8): a sentinel thread records event-loop
blocks with the tracked scope (observe, act, judge, each action) and the sampled
stack; ``[[logs]]`` are tailed for other processes' block lines; each tick's wall
time, CPU time and tmux processes are measured, and a tick over its budget makes
the next ticks shed optional work (``Supervisor.shed``, honoured by capture paths).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from cockpit.act.actions import ActionLayer, ActionResult
from cockpit.act.adopt import AdoptResult
from cockpit.act.send import Sender, SendResult
from cockpit.act.deliver import ReminderPass
from cockpit.act.reap import ReapResult, resolve_target
from cockpit.act.repoint import AutoRepoint
from cockpit.config import AgentConfig, Config
from cockpit.findings import Finding, Severity, exit_code
from cockpit.fsutil import ensure_private_dir
from cockpit.judge.agents import AgentStatus, agent_status, iso, judge_agent, tmux_finding
from cockpit.judge.canaries import judge_canaries
from cockpit.judge.drift import judge_drift
from cockpit.judge.fold import Fold, FoldWatch, judge_folds
from cockpit.judge.sessions import session_findings
from cockpit.judge.zombies import judge_zombies
from cockpit.judge.blocks import ShedPolicy, TickBudget, TickLoad, blocks_json, judge_blocks, supervisor_overloaded
from cockpit.judge.reminders import overdue_grace_s, reminder_findings
from cockpit.lifecycle import AgentState
from cockpit.locks import LeaderLock
from cockpit.observe.canaries import CanaryRunner, CanaryState
from cockpit.observe.drift import CliTarget, DriftObserver
from cockpit.observe.logs import LogWatcher
from cockpit.observe.loopwatch import Block, BlockLog, LoopWatch, tracked
from cockpit.observe.ports import PortProbe
from cockpit.observe.procs import ProcessReader
from cockpit.observe.sessions import SessionObserver, SessionsReport
from cockpit.observe.snapshot import Observer, Snapshot, TickCost
from cockpit.observe.wrappers import WrapperTracker, WrapperView
from cockpit.registry import Journal, Registry
from cockpit.reminders import Reminder, ReminderQueue
from cockpit.tmux import Pane, TmuxClient, TmuxUnreachable

SCHEMA = 1
REGISTRY_RETENTION_S = 7 * 24 * 3600.0  # closed lifecycles older than this are pruned
PRUNE_EVERY_S = 600.0
# A STARTING with no spawn in flight this long after its request was cut short (a cockpit killed
# mid-spawn): an attempt takes at most spawn_verify_s, so twice that plus slack is never a live one.
STALLED_SPAWN_FACTOR = 2.0
STALLED_SPAWN_SLACK_S = 5.0


@dataclass(frozen=True)
class Report:
    """What one tick saw and decided: the JSON of ``cockpit check`` and what the TUI renders."""
    at: float
    agents: tuple[AgentStatus, ...]
    findings: tuple[Finding, ...]
    new_findings: tuple[Finding, ...] = ()
    resolved: tuple[Finding, ...] = ()
    cost: TickCost = field(default_factory=lambda: TickCost(0.0, 0, 0))
    tmux_ok: bool = True
    leader: bool = False
    read_only: bool = False
    tick: int = 0
    skipped_ticks: int = 0
    actions: tuple[ActionResult, ...] = ()
    wrappers: tuple[WrapperView, ...] = ()
    blocks: tuple[Block, ...] = ()        # recent event-loop blocks, every source (the Blocks tab)
    load: TickLoad | None = None          # what this whole tick cost (seed #8)
    shed: tuple[str, ...] = ()            # optional work the next ticks skip (judge.blocks.OPTIONAL_WORK)
    loop_lag_ms: float = 0.0              # the loop's worst heartbeat lateness since the last tick
    sessions: SessionsReport | None = None  # seed #3: record vs disk per agent, each side's last turn
    panes: tuple[Pane, ...] = ()  # this tick's panes: the TUI re-captures its preview only when a change_mark moved
    clis: tuple[CliTarget, ...] = ()        # seed #1: each agent CLI's resolved target vs its last passed promotion
    canaries: tuple[CanaryState, ...] = ()  # seed #5: per canary: last run, ok, output tail
    folds: dict[str, tuple[Fold, ...]] = field(default_factory=dict)  # seed #11: agent -> folds seen
    reminders: tuple[Reminder, ...] = ()  # seed #6: open reminders and those finished in the last day (Reminders tab)
    notices: tuple[Reminder, ...] = ()    # notices delivered this tick: the TUI toasts each once

    @property
    def exit_code(self) -> int:
        return 3 if not self.tmux_ok else exit_code(list(self.findings))

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "at": iso(self.at),
            "agents": [a.to_json() for a in self.agents],
            "findings": [f.to_json() for f in self.findings],
            "wrappers": [w.to_json() for w in self.wrappers],
            "reminders": [r.to_json() for r in self.reminders],
            "blocks": blocks_json(self.blocks),
        }


class Supervisor:
    def __init__(self, config: Config, *, read_only: bool = False, clock: Callable[[], float] = time.time,
                 actor: str = "cockpit", tmux: TmuxClient | None = None) -> None:
        self.config = config
        self.read_only = read_only
        self.clock = clock
        ensure_private_dir(config.state.dir)
        self.tmux = tmux or TmuxClient(config.tmux.server_args())
        self.registry = Registry(config.state.registry)
        self.journal = Journal(config.state.journal)
        self.reader = ProcessReader()
        self.probe = PortProbe()
        self.observer = Observer(config, self.tmux, registry_tail=None, reader=self.reader, probe=self.probe,
                                 clock=clock, adopted=lambda: self.actions.view.open_adoptions())
        # seed #3: the session truth comes from the disk each tick; the routing record is only compared with it.
        self.sessions = SessionObserver(config, clock=clock)
        self.auto_repoint = AutoRepoint(clock=clock)
        self.actions = ActionLayer(config, tmux=self.tmux, registry=self.registry, journal=self.journal,
                                   reader=self.reader, probe=self.probe, read_only=read_only,
                                   resume_for=self.resume_for, resume_truth=self.fresh_resume,
                                   sessions=self.sessions, observe=self.observer.observe, actor=actor)
        self.view = self.actions.view
        self.wrappers = WrapperTracker(config.wrappers, registry_path=config.state.registry, reader=self.reader)
        # seed #6: the queue is read by every cockpit (the report); only the leader's pass fires and verifies
        self.reminder_queue = ReminderQueue(config.state.reminders, clock=clock)
        self.reminders = ReminderPass(config, self.reminder_queue, self.actions, tmux=self.tmux,
                                      observe=self.observer.observe, sessions=self.sessions, clock=clock, actor=actor)
        # SPEC §11: the operator's `send` is typed and verified like a wake (hosts forward it over SSH)
        self.sender = Sender(config, self.actions, tmux=self.tmux, observe=self.observer.observe,
                             sessions=self.sessions, clock=clock, actor=actor)
        self._wrappers_lock = asyncio.Lock()  # a tick and an operator's reap never observe at once
        self.leader_lock = LeaderLock(config.state.dir / "leader.lock")
        self.findings: dict[tuple[str, str | None, str | None], Finding] = {}
        self.tasks: set[asyncio.Task[Any]] = set()
        self.spawning: set[str] = set()  # agents whose spawn task is scheduled or running
        self.tick_no = 0
        self.skipped_ticks = 0
        self.last_report: Report | None = None
        self.started = False
        self.last_prune = 0.0
        # seeds #7, #8: the loop's sentinel, external block logs, the tick budget and what it sheds
        sup = config.supervisor
        self.blocks = BlockLog()
        self.loopwatch = LoopWatch(sup.loop_block_ms, on_block=self.blocks.add, clock=clock)
        self.logs = LogWatcher(config.logs, on_block=self.blocks.add, clock=clock)
        self.budget = TickBudget.for_tick(sup.tick_s)
        self.shedder = ShedPolicy(self.budget)
        self.shed: tuple[str, ...] = ()  # optional work skipped while over budget; capture paths honour it
        self.loads: deque[TickLoad] = deque(maxlen=30)
        self.invocations: dict[str, int] = {}  # module -> times invoked (seed #10: tests assert each ran)
        # seeds #1, #5, #11: CLI drift vs the last passed promotion, user-level canaries, folds in transcripts
        self.drift = DriftObserver(config.state.dir, clock=clock, journal=self.journal)
        self.canaries = CanaryRunner(config.canaries, clock=clock)  # its own threads: never on the loop
        self.folds = FoldWatch(clock=clock)

    def _count(self, name: str) -> None:
        self.invocations[name] = self.invocations.get(name, 0) + 1

    @property
    def leader(self) -> bool:
        return self.leader_lock.held

    def resume_for(self, agent: AgentConfig) -> str | None:
        """The session a respawn resumes: the last disk truth, never the routing record (seed #3)."""
        return self.sessions.resume_for(agent, self.view.bound_sessions.get(agent.name, []))

    async def fresh_resume(self, agent: AgentConfig) -> str | None:
        """The disk truth recomputed now (before the old process is replaced): what a respawn resumes."""
        snapshot = await self.observer.observe()
        await self.actions.sync()
        await self.sessions.observe(snapshot, self.view.bound_sessions, track_activity=False)
        return self.resume_for(agent)

    # --- life ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self.started:
            return
        self.started = True
        self.loopwatch.start()
        if self.config.logs:
            watcher = asyncio.create_task(self.logs.run(), name="log-watcher")
            self.tasks.add(watcher)
            watcher.add_done_callback(self.tasks.discard)
        if not self.read_only:
            await asyncio.to_thread(self.leader_lock.try_acquire)
        await self.actions.sync()
        # History replays do not alert again: only a transition into FATAL seen live alerts.
        for name, lc in list(self.view.book.states.items()):
            self.view.book.states[name] = replace(lc, alert_due=False)
        try:
            await self.tmux.connect(start_server=self.leader and bool(self.config.agents) and
                                    self.config.supervisor.auto_respawn)
        except TmuxUnreachable:
            pass  # reported by the first tick
        if self.read_only:
            return
        await asyncio.to_thread(self.journal.record, "info", actor="cockpit",
                                summary=f"supervisor started ({'leader' if self.leader else 'follower'}"
                                        f"{', read-only' if self.read_only else ''})")

    async def close(self) -> None:
        self.loopwatch.stop()
        self.logs.close()
        self.canaries.close()  # kills running canary commands; never waits for one
        self.drift.close()
        await self.reminders.close()  # a wake cut mid-verification stays "fired": the next leader settles it
        self.reminder_queue.close()
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.actions.reaper.close()
        await asyncio.to_thread(self.wrappers.close)
        await self.tmux.close()
        await asyncio.to_thread(self.leader_lock.release)

    async def run(self, stop: asyncio.Event, on_report: Callable[[Report], Any] | None = None) -> None:
        """Tick every ``tick_s`` until ``stop`` is set; a late tick skips missed slots."""
        await self.start()
        period = self.config.supervisor.tick_s
        origin = time.monotonic()
        slot = 0
        while not stop.is_set():
            report = await self.tick()
            if on_report is not None:
                result = on_report(report)
                if asyncio.iscoroutine(result):
                    await result
            slot += 1
            due = origin + slot * period
            now = time.monotonic()
            if now > due:
                missed = int((now - due) // period) + 1
                self.skipped_ticks += missed
                slot += missed
                due = origin + slot * period
            try:
                await asyncio.wait_for(stop.wait(), timeout=max(0.0, due - time.monotonic()))
            except asyncio.TimeoutError:
                pass

    # --- one tick -----------------------------------------------------------------------

    async def tick(self) -> Report:
        if not self.started:
            await self.start()
        self.tick_no += 1
        # seed #8: what this tick costs, all of it (wall, process CPU incl. worker threads, tmux forks)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        procs0, cmds0 = self.tmux.processes_started, self.tmux.commands_sent
        shed = self.shed
        self._count("observe")
        async with tracked("observe"):
            if not self.leader and not self.read_only:
                await asyncio.to_thread(self.leader_lock.try_acquire)
            snapshot = await self.observer.observe()
            if self.config.logs:
                await asyncio.to_thread(self.logs.poll)  # the watcher may be late or absent: read every tick
            if self.config.canaries:
                self._count("canaries")
                self.canaries.start_due(snapshot.at)  # seed #5: submits due canaries to their threads, never waits
            self._count("drift")
            # seed #1: readlink/realpath per distinct CLI; only the leader writes a first-seen baseline
            clis = await asyncio.to_thread(self.drift.observe, self.config.agents,
                                           write=self.leader and not self.read_only)
            await self.actions.sync()
        async with tracked("sessions"):
            self._count("sessions")
            sessions = await self.sessions.observe(snapshot, self.view.bound_sessions)
        async with tracked("folds"):
            self._count("folds")  # seed #11: the new records of each agent's current transcript, incrementally
            folds = await asyncio.to_thread(self.folds.observe, FoldWatch.targets(sessions), snapshot.at)
        async with tracked("wrappers"):
            wrappers, zombies = await self._observe_wrappers(snapshot)
        acted: list[ActionResult] = []
        throttled: list[Finding] = []
        if self.leader and not self.read_only and snapshot.tmux_ok:
            self._count("act")
            async with tracked("act"):
                throttled = await self._act(snapshot)
                acted = await self._repoint_stale(sessions)
                if acted:
                    sessions = self.sessions.last or sessions  # a repoint re-read the record
        if self.leader and not self.read_only and self.config.supervisor.auto_reap:
            # seed #9 at the rate limit of seed #8: a zombie past its grace is reaped, or waits its token
            self._count("reap")
            throttled += self.actions.auto_reap([w for w in wrappers if w.state == "zombie"])
        if self.leader and not self.read_only:
            # seed #6: fire due reminders, settle orphaned firings; each attempt verifies in its own task
            self._count("reminders")
            async with tracked("reminders"):
                await self.reminders.run(snapshot, starting=set(self.actions.in_flight) | self.spawning)
        async with tracked("reminders_read"):
            reminders = await asyncio.to_thread(self.reminder_queue.visible, snapshot.at)
        if self.leader and not self.read_only and snapshot.at - self.last_prune >= PRUNE_EVERY_S:
            async with tracked("prune"):
                await self._prune(snapshot.at)
        self._count("judge")
        with tracked("judge"):
            canaries = self.canaries.states()
            extra = (zombies + throttled + self._judge_self(snapshot.at)
                     + self._judge_reminders(reminders, snapshot.at) + judge_drift(clis)
                     + judge_canaries(canaries, snapshot.at) + judge_folds(folds, snapshot.at))
            report = replace(self._judge(snapshot, extra=extra, sessions=sessions), wrappers=wrappers,
                             reminders=tuple(reminders), notices=tuple(self.reminders.take_notices()),
                             clis=clis, canaries=canaries, folds=folds)
        async with tracked("journal"):
            await self._journal_changes(report)
            await self._alert_fatal(report)
            self._alert_drift(report)
        load = TickLoad(wall_ms=(time.perf_counter() - wall0) * 1000.0,
                        cpu_ms=(time.process_time() - cpu0) * 1000.0,
                        tmux_processes=self.tmux.processes_started - procs0,
                        tmux_commands=self.tmux.commands_sent - cmds0, shed=shed)
        self.loads.append(load)
        self.shed = self.shedder.update(load)
        report = replace(report, blocks=self.blocks.snapshot(), load=load, shed=self.shed,
                         loop_lag_ms=self.loopwatch.max_lag_ms(reset=True))
        self.last_report = report
        return replace(report, actions=tuple(acted))

    def _judge_self(self, now: float) -> list[Finding]:
        """Seeds #7, #8: block findings, and ``supervisor_overloaded`` for the last completed tick."""
        sup = self.config.supervisor
        found = judge_blocks(self.blocks.snapshot(), now, loop_block_ms=sup.loop_block_ms,
                             heartbeat_budget_s=sup.heartbeat_budget_s)
        if self.loads:
            overloaded = supervisor_overloaded(self.loads[-1], self.budget, shedding=self.shed,
                                               recent=tuple(self.loads))
            if overloaded is not None:
                found.append(overloaded)
        return found

    def _judge_reminders(self, reminders: list[Reminder], now: float) -> list[Finding]:
        """Seed #6: ``missed_wake`` and ``reminder_overdue`` (due, not fired: no leader, agent down...)."""
        self._count("judge_reminders")
        sup = self.config.supervisor
        return reminder_findings(reminders, now=now, grace_s=overdue_grace_s(sup.tick_s), verify_s=sup.wake_verify_s,
                                 max_attempts=1 + sup.wake_retries)

    async def _observe_wrappers(self, snapshot: Snapshot) -> tuple[tuple[WrapperView, ...], list[Finding]]:
        """The wrappers (observe, in a worker thread) and their zombies (judge)."""
        # tmux down: the agents are unknown, so no wrapper is judged an orphan this tick
        agents = ({name: obs.proc for name, obs in snapshot.agents.items() if obs.proc is not None}
                  if snapshot.tmux_ok else None)
        async with self._wrappers_lock:
            self._count("wrappers")
            views = await asyncio.to_thread(self.wrappers.observe, snapshot.at, agents=agents,
                                            procs=snapshot.procs, panes=snapshot.panes)
        self._count("zombies")
        return judge_zombies(views, now=snapshot.at, grace_s=self.config.supervisor.zombie_grace_s)

    async def _repoint_stale(self, sessions: SessionsReport) -> list[ActionResult]:
        """seed #3: a record that disagrees with a live or bound disk truth is repointed, loudly, by the leader."""
        acted: list[ActionResult] = []
        starting = {a.name for a in self.config.agents if a.name in self.actions.in_flight or a.name in self.spawning}
        for finding in session_findings([a.name for a in self.config.agents], sessions, starting=starting):
            name = finding.agent
            if name is None or not self.auto_repoint.due(finding, sessions.truths.get(name)):
                continue
            if not self.actions.bucket.take():
                continue  # seed #8: the finding stays; a later token repoints it
            self._count("repoint")
            result = await self.actions.repoint(name, by="auto")
            self.auto_repoint.record(result)
            acted.append(result)
        return acted

    async def _act(self, snapshot: Snapshot) -> list[Finding]:
        """Automatic actions of the leader: close dead lifecycles, start and respawn due agents."""
        throttled: list[Finding] = []
        now = self.clock()
        for agent in self.config.agents:
            name = agent.name
            if name in self.actions.in_flight or name in self.spawning:
                continue
            obs = snapshot.agents.get(name)
            if obs is None or obs.proc is not None:
                continue
            if self.view.open_spawn(name) is not None:
                async with tracked(f"record_exit:{name}"):
                    await self.actions.record_exit(name, obs.pane)
            lc = self.view.lifecycle(name)
            if not self.config.supervisor.auto_respawn:
                continue
            if lc.state is AgentState.UNKNOWN:
                by = "start"
            elif lc.due(now, stalled_after_s=STALLED_SPAWN_FACTOR * self.config.supervisor.spawn_verify_s
                        + STALLED_SPAWN_SLACK_S):
                by = "auto"
            else:
                continue
            # seed #8: the cure must never cost more than the disease.
            if not self.actions.bucket.take():
                throttled.append(Finding(
                    kind="cleanup_throttled", severity=Severity.WARNING, agent=name, action="respawn",
                    summary=(f"{name}: automatic respawn held back by the rate limit "
                             f"({self.config.supervisor.max_actions_per_minute}/min); next token in "
                             f"{self.actions.bucket.wait_s():.0f}s"),
                    evidence={"max_actions_per_minute": self.config.supervisor.max_actions_per_minute},
                ))
                continue
            self._count("spawn")
            self._spawn_in_background(name, by)
        return throttled

    async def _prune(self, now: float) -> None:
        """The pruner takes the writers' lock (seed #4); the view is rebuilt from the rewritten file."""
        self.last_prune = now
        self._count("prune")
        result = await asyncio.to_thread(self.registry.prune, now, REGISTRY_RETENTION_S)
        if result.dropped:
            await asyncio.to_thread(self.journal.record, "info", actor="cockpit",
                                    summary=f"registry pruned: {result.dropped} old rows dropped, {result.kept} kept")
            await self.actions.sync()
        await asyncio.to_thread(self.reminder_queue.prune, now, REGISTRY_RETENTION_S)

    def _spawn_in_background(self, name: str, by: str) -> None:
        task = asyncio.create_task(self._tracked_respawn(name, by), name=f"spawn-{name}")
        self.tasks.add(task)
        self.spawning.add(name)  # judged "starting" from now, not once the task first runs
        task.add_done_callback(self.tasks.discard)
        task.add_done_callback(lambda _task, name=name: self.spawning.discard(name))

    async def _tracked_respawn(self, name: str, by: str, *, force: bool = False) -> ActionResult:
        async with tracked(f"respawn:{name}"):  # seed #7: a block inside an action names the action
            return await self.actions.respawn(name, by=by, force=force)

    def _judge(self, snapshot: Snapshot, extra: list[Finding], sessions: SessionsReport | None = None) -> Report:
        findings: list[Finding] = []
        starting_names: set[str] = set()
        statuses: list[AgentStatus] = []
        tmux_issue = tmux_finding(snapshot, " ".join(self.config.tmux.server_args()))
        if tmux_issue is not None:
            findings.append(tmux_issue)
        sup = self.config.supervisor
        for agent in self.config.agents:
            obs = snapshot.agents.get(agent.name) if snapshot.tmux_ok else None
            lc = self.view.lifecycle(agent.name)
            starting = agent.name in self.actions.in_flight or agent.name in self.spawning
            if starting:
                starting_names.add(agent.name)
            truth = sessions.truths.get(agent.name) if sessions is not None else None
            route = sessions.routes.get(agent.name) if sessions is not None else None
            statuses.append(agent_status(
                agent, obs, lc, tmux_ok=snapshot.tmux_ok, starting=starting,
                disk_session=truth.disk_session if truth is not None else self.view.bound_session(agent.name),
                route_session=route.session_id if route is not None else None,
                last_turn_at=iso(truth.last_turn_at) if truth is not None else None,
                activity=truth.activity if truth is not None else None))
            findings.extend(judge_agent(agent, obs, lc, last_failed=self.view.last_failed.get(agent.name),
                                        last_exit=self.view.last_exit.get(agent.name),
                                        max_restarts=sup.max_restarts, restart_window_s=sup.restart_window_s,
                                        starting=starting))
        if sessions is not None and snapshot.tmux_ok:
            findings.extend(session_findings([a.name for a in self.config.agents], sessions,
                                             starting=starting_names))
        findings.extend(self.actions.orphans.findings())
        findings.extend(extra)
        findings.sort(key=lambda f: (-f.severity.rank, f.agent or "", f.kind))
        current = {f.key: f for f in findings}
        new = tuple(f for k, f in current.items() if k not in self.findings)
        resolved = tuple(f for k, f in self.findings.items() if k not in current)
        self.findings = current
        return Report(at=snapshot.at, agents=tuple(statuses), findings=tuple(findings), new_findings=new,
                      resolved=resolved, cost=snapshot.cost, tmux_ok=snapshot.tmux_ok, leader=self.leader,
                      read_only=self.read_only, tick=self.tick_no, skipped_ticks=self.skipped_ticks,
                      panes=snapshot.panes, sessions=sessions)

    async def _journal_changes(self, report: Report) -> None:
        if self.read_only or not (report.new_findings or report.resolved):
            return

        def write() -> None:
            for f in report.new_findings:
                self.journal.record("finding", agent=f.agent, action=f.action, summary=f.summary,
                                    evidence={"kind": f.kind, "severity": f.severity.value, **dict(f.evidence)})
            for f in report.resolved:
                self.journal.record("resolved", agent=f.agent, summary=f"resolved: {f.summary}",
                                    evidence={"kind": f.kind})

        await asyncio.to_thread(write)

    def _alert_drift(self, report: Report) -> None:
        """seed #1: a CLI changed behind our back is alerted once, when first seen, in the background."""
        if not self.leader or self.read_only:
            return
        for finding in report.new_findings:
            if finding.kind == "version_drift":
                self._count("alert")
                task = asyncio.create_task(self.actions.alert(finding), name="alert-version-drift")
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

    async def _alert_fatal(self, report: Report) -> None:
        """On the first irrecoverable failure: the alert, once (seed #2)."""
        for name, lc in list(self.view.book.states.items()):
            if not lc.alert_due:
                continue
            self.view.book.states[name] = replace(lc, alert_due=False)
            if not self.leader or self.read_only:
                continue
            finding = next((f for f in report.findings if f.agent == name and f.kind == "respawn_exhausted"), None)
            if finding is None:
                finding = Finding(kind="respawn_exhausted", severity=Severity.CRITICAL, agent=name,
                                  action="respawn", summary=f"{name}: restart budget spent")
            self._count("alert")
            await self.actions.alert(finding)

    # --- operator actions -----------------------------------------------------------------

    async def respawn(self, name: str, *, force: bool = False) -> ActionResult:
        self._count("operator_respawn")
        result = await self._tracked_respawn(name, "operator", force=force)
        await self.actions.sync()
        return result

    async def repoint(self, name: str) -> ActionResult:
        """``cockpit repoint NAME`` and the TUI's ``p``: the routing record to the disk truth, verified."""
        self._count("operator_repoint")
        result = await self.actions.repoint(name, by="operator")
        await self.actions.sync()
        return result

    async def adopt(self, name: str, pane: str) -> AdoptResult:
        """``cockpit adopt NAME PANE``: supervise the live agent in ``pane`` as ``name``, same pid, verified."""
        self._count("operator_adopt")
        result = await self.actions.adopt(name, pane, by="operator")
        await self.actions.sync()
        return result

    async def send(self, name: str, text: str) -> SendResult:
        """``cockpit send NAME TEXT`` and the TUI's ``s``: typed literally, verified like a wake, journaled."""
        self._count("operator_send")
        self.config.agent(name)
        if self.sessions.last is None:  # a one-shot command: the session truth (where the turn shows) first
            snapshot = await self.observer.observe()
            await self.actions.sync()
            await self.sessions.observe(snapshot, self.view.bound_sessions, track_activity=False)
        return await self.sender.send(name, text, by="operator")

    async def reap(self, target: str) -> list[ReapResult]:
        """Reap a wrapper by its name, id or PID, or an agent's zombie wrappers (``cockpit reap``, ``k``).

        Raises ``LookupError`` (one line) when the target names no wrapper and no agent.
        """
        self._count("operator_reap")
        snapshot = await self.observer.observe()
        await self.actions.sync()
        wrappers, _ = await self._observe_wrappers(snapshot)
        targets, error = resolve_target(target, wrappers, agents={a.name for a in self.config.agents})
        if error is not None:
            raise LookupError(error)
        results = await self.actions.reap(targets, by="operator")
        await self.actions.sync()
        return results


async def check_once(config: Config) -> Report:
    """``cockpit check``: one scan, no action, no leadership, nothing written but what a scan must."""
    sup = Supervisor(config, read_only=True)
    try:
        await sup.start()
        if config.canaries:  # seed #5: one scan includes one run of each canary, bounded by its timeout
            sup.canaries.start_due()
            await asyncio.to_thread(sup.canaries.wait, max(c.timeout_s for c in config.canaries) + 5.0)
        return await sup.tick()
    finally:
        await sup.close()
