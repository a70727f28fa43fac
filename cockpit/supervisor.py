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
import contextlib
import os
import sys
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any, AsyncIterator, Callable, Collection, Iterator, Mapping

from cockpit import SCHEMA, timefmt
from cockpit.act.actions import ActionLayer, ActionResult
from cockpit.act.adopt import AdoptResult
from cockpit.act.remote import RemoteActs, RemoteResult
from cockpit.act.send import Sender, SendResult
from cockpit.claude_paths import transcript_path
from cockpit.observe.conversation import ConversationTail
from cockpit.act.deliver import ReminderPass
from cockpit.act.notify import Notifier
from cockpit.act.reap import ReapResult, resolve_target
from cockpit.config import AgentConfig, Config
from cockpit.events import EventSources
from cockpit.findings import Finding, exit_code
from cockpit.fsutil import ensure_private_dir
from cockpit.judge.activity import ActivityTracker
from cockpit.judge.agents import AgentStatus
from cockpit.judge.blocks import ShedPolicy, TickBudget, TickLoad, blocks_json
from cockpit.judge.fold import Fold, FoldTracker
from cockpit.judge.hosts import HostView, split_name
from cockpit.judge.plan import (ALERT, AutoRepoint, ADOPT, EXIT_EVENT, HOOK_EVENT, OPERATOR_ADOPT, OPERATOR_REPOINT, OPERATOR_RESPAWN, OPERATOR_SEND, PRUNE, REAP,
                                FIRE, RECORD_EXIT, REPOINT, SETTLE, SEND, SPAWN, AgentNow, Budget, Intent, Mode, Plan, TickFacts, plan_for, plan_tick)
from cockpit.judge.registry import OrphanWatch
from cockpit.judge.resolution import resolve_sessions
from cockpit.judge.tick import Judgement, again_hosts, judge_tick
from cockpit.judge.zombies import judge_zombies
from cockpit.lifecycle import AgentState, policies_for
from cockpit.locks import LeaderLock
from cockpit.metrics import MetricsExporter
from cockpit.observe.canaries import CanaryRunner, CanaryState
from cockpit.observe.drift import CliTarget, DriftObserver
from cockpit.observe.folds import FoldReader
from cockpit.observe.history import RegistryWatch
from cockpit.observe.health import bad_line_report
from cockpit.observe.logs import LogWatcher
from cockpit.observe.loopwatch import Block, BlockLog, LoopWatch, tracked
from cockpit.observe.ports import PortProbe
from cockpit.observe.procs import ProcessReader, raise_fd_limit
from cockpit.observe.sessions import SessionObserver, SessionsReport
from cockpit.observe.snapshot import Observer, Snapshot, TickCost
from cockpit.observe.state import StateDisk
from cockpit.observe.exits import ExitEvent
from cockpit.observe.tick import AgentRecord, RecordBook, TickSnapshot, records_of
from cockpit.observe.wrappers import WrapperTracker, WrapperView
from cockpit.registry import Journal, Registry
from cockpit.remote.transport import HostFleet
from cockpit.reminders import Reminder, ReminderQueue, ReminderStore
from cockpit.tmux import Pane, TmuxClient, TmuxError, TmuxUnreachable

REGISTRY_RETENTION_S = 7 * 24 * 3600.0  # closed lifecycles older than this are pruned
HOST_CHECK_TIMEOUT_S = 30.0  # `cockpit check` waits this long for each host's first report
HOST_REPORT_BATCH_S = 0.1    # hosts' reports arriving this close together are shown in one refresh


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
    hosts: tuple[HostView, ...] = ()      # SPEC §9: each configured host's session and last report
    bad_lines: dict[str, dict[str, Any]] = field(default_factory=dict)  # SPEC §6: per source, counted and shown
    tmux_server: bool = True              # False: no tmux server (agents judged down from the disk, SPEC §6)

    @property
    def exit_code(self) -> int:
        return 3 if not self.tmux_ok else exit_code(list(self.findings))

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "at": timefmt.iso(self.at, ms=False),
            "agents": [a.to_json() for a in self.agents],
            "findings": [f.to_json() for f in self.findings],
            "wrappers": [w.to_json() for w in self.wrappers],
            "reminders": [r.to_json() for r in self.reminders],
            "blocks": blocks_json(self.blocks),
            "hosts": [h.to_json() for h in self.hosts],
            "bad_lines": self.bad_lines,
        }

    def for_host(self, host: str) -> Report:
        """``cockpit check --host NAME``: that host's rows, findings and entry only."""
        return replace(self, agents=tuple(a for a in self.agents if a.host == host),
                       findings=tuple(f for f in self.findings if f.host == host),
                       hosts=tuple(h for h in self.hosts if h.name == host), tmux_ok=True, wrappers=(),
                       reminders=(), blocks=())


class Supervisor:
    def __init__(self, config: Config, *, read_only: bool = False, clock: Callable[[], float] = time.time,
                 actor: str = "cockpit", tmux: TmuxClient | None = None,
                 hosts: bool | tuple[str, ...] = True) -> None:
        for name in () if isinstance(hosts, bool) else hosts:
            config.host(name)  # an unknown host is a one-line config error, before anything is built
        self.config = config
        self.read_only = read_only
        self.clock = clock
        ensure_private_dir(config.state.dir)
        self.tmux = tmux or TmuxClient(config.tmux.server_args())
        self._names = tuple(a.name for a in config.agents)
        self._server = " ".join(config.tmux.server_args())
        self._build_observe(config, clock)
        self._build_judge(config, clock)
        self._build_act(config, clock, actor)
        self.hosts, self.remote = self._host_fleet(hosts, actor)  # SPEC §9
        self._host_refresh_due = False
        # SPEC §8: exits (pidfds) and hook lines (the events socket) wake one-agent passes between ticks
        self.events = EventSources(config, on_exit=self._on_exit, on_hook=self._on_hook, read_only=read_only)
        self.findings: dict[tuple[str, str | None, str | None], Finding] = {}
        self.tasks: set[asyncio.Task[Any]] = set()
        self._closing = False  # close() began: no new background pass starts
        self.spawning: set[str] = set()  # agents whose spawn task is scheduled or running
        self.tick_no = 0
        self.skipped_ticks = 0
        self.last_report: Report | None = None
        self.started = False
        self.last_prune = 0.0
        self.shed: tuple[str, ...] = ()  # optional work skipped while over budget; capture paths honour it
        self.loads: deque[TickLoad] = deque(maxlen=30)
        self.phases_ms: dict[str, float] = {}  # step -> ms, of the last tick
        self.invocations: dict[str, int] = {}  # module -> times invoked (seed #10: tests assert each ran)
        self._on_report: Callable[[Report], Any] | None = None
        self.last_snap: TickSnapshot | None = None
        self.last_judgement: Judgement | None = None
        self._agent_nows: dict[str, tuple[Any, ...]] = {}  # agent -> (obs, record, hooks, starting, its AgentNow)
        self._agent_nows_all: tuple[tuple[Any, ...], list[AgentNow]] | None = None  # the whole list, and its inputs
        self._hook_due: set[str] = set()

    def _build_observe(self, config: Config, clock: Callable[[], float]) -> None:
        """What the observe step reads from: the stores, the process table, tmux, the session truth,
        the wrappers, the reminder queue, the loop's sentinel, the CLIs, canaries and transcripts."""
        self.registry = Registry(config.state.registry)
        self.journal = Journal(config.state.journal)
        # SPEC §6: a state file that is a directory, a FIFO or a planted symlink is one line, before anything runs
        for store in (self.registry, self.journal, ReminderStore(config.state.reminders)):
            store.check_usable()
        raise_fd_limit()  # a pidfd and held /proc files per agent: a 1000-agent fleet needs more than 1024
        self.reader = ProcessReader(hold=True)  # the fleet's /proc files held open across ticks (closed by close())
        self.probe = PortProbe()
        # seed #4: the registry's view (lifecycles, bound sessions) is observed once a tick; acts sync it
        policies = policies_for(config)
        self.registry_watch = RegistryWatch(self.registry, policies)
        self.view = self.registry_watch.view
        self.record_book = RecordBook()  # each agent's record, the same object while its rows are
        self.observer = Observer(config, self.tmux, reader=self.reader, probe=self.probe, clock=clock,
                                 adopted=lambda: self.registry_watch.view.open_adoptions())
        # seed #3: the session truth comes from the disk each tick (the judges' rule and activity tracker)
        self.sessions = SessionObserver(config, resolve=resolve_sessions, activity=ActivityTracker(), clock=clock,
                                        reader=self.reader)
        self.wrappers = WrapperTracker(config.wrappers, registry_path=config.state.registry, reader=self.reader)
        self._wrappers_lock = asyncio.Lock()  # a tick and an operator's reap never observe at once
        # seeds #7, #8: the loop's sentinel and external block logs
        self.blocks = BlockLog()
        self.loopwatch = LoopWatch(config.supervisor.loop_block_ms, on_block=self.blocks.add, clock=clock)
        self.logs = LogWatcher(config.logs, on_block=self.blocks.add, clock=clock)
        # seeds #1, #5, #11: CLI drift vs the last passed promotion, user-level canaries, transcripts' new records
        self.drift = DriftObserver(config.state.dir, clock=clock, journal=self.journal)
        self.canaries = CanaryRunner(config.canaries, clock=clock)  # its own threads: never on the loop
        self.fold_reader = FoldReader(clock=clock)
        # seed #6: the queue is read by every cockpit (the report); only the leader's pass fires and verifies
        self.reminder_queue = ReminderQueue(config.state.reminders, clock=clock)
        self.leader_lock = LeaderLock(config.state.dir / "leader.lock")

    def _build_judge(self, config: Config, clock: Callable[[], float]) -> None:
        """The judges and the plan that keep a memory: orphan exits, folds, the leader's repoints, the budget."""
        self.orphans = OrphanWatch()
        self.registry_watch.on_rows.append(self.orphans.feed)
        self.folds = FoldTracker()  # seed #11: the fold detector over each transcript's new records
        self.auto_repoint = AutoRepoint(clock=clock)
        self.budget = TickBudget.for_tick(config.supervisor.tick_s)  # seed #8: the tick's budget, what it sheds
        self.shedder = ShedPolicy(self.budget)

    def _build_act(self, config: Config, clock: Callable[[], float], actor: str) -> None:
        """The few effects: the action layer (locks, read-only, rate limit, journal), reminders, send, notify."""
        self.actions = ActionLayer(config, tmux=self.tmux, registry=self.registry, journal=self.journal,
                                   reader=self.reader, probe=self.probe, read_only=self.read_only,
                                   resume_for=self.resume_for, resume_truth=self.fresh_resume,
                                   sessions=self.sessions, observe=self.observer.observe, actor=actor,
                                   watch=self.registry_watch)
        # seed #6 and SPEC §11: a wake and the operator's `send` are typed and verified alike (one set of parts)
        typist = dict(tmux=self.tmux, observe=self.observer.observe, sessions=self.sessions, clock=clock, actor=actor)
        self.reminders = ReminderPass(config, self.reminder_queue, self.actions, **typist)
        self.sender = Sender(config, self.actions, **typist)  # hosts forward a send over SSH
        # SPEC §10: notifications once per transition and metrics; both the leader's, both off by default
        self.notifier = Notifier(config, self.journal, clock=clock, actor=actor)
        self.metrics = MetricsExporter(config, config.state.journal)

    def _count(self, name: str) -> None:
        self.invocations[name] = self.invocations.get(name, 0) + 1

    @contextlib.asynccontextmanager
    async def _step(self, name: str) -> AsyncIterator[None]:
        """One step of the tick: named for the loop sentinel (seed #7) and timed (``phases_ms``, the bench)."""
        started = time.perf_counter()
        try:
            async with tracked(name):
                yield
        finally:
            self.phases_ms[name] = self.phases_ms.get(name, 0.0) + (time.perf_counter() - started) * 1000.0

    @contextlib.contextmanager
    def _sync_step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            with tracked(name):
                yield
        finally:
            self.phases_ms[name] = self.phases_ms.get(name, 0.0) + (time.perf_counter() - started) * 1000.0

    @property
    def leader(self) -> bool:
        return self.leader_lock.held

    def resume_for(self, agent: AgentConfig) -> str | None:
        """The session a respawn resumes: the last disk truth, never the routing record (seed #3); the
        session its hooks named since its spawn (SessionStart, after a /clear too) is the newest truth."""
        bound = list(self.view.bound_sessions.get(agent.name, []))
        hooks = self.events.states.get(agent.name)
        record = AgentRecord.of(self.view, agent.name)
        if hooks is not None and hooks.session_id and hooks.session_at is not None and (
                record.spawn_at is None or hooks.session_at >= record.spawn_at - 1.0):
            bound = [sid for sid in bound if sid != hooks.session_id] + [hooks.session_id]
        return self.sessions.resume_for(agent, bound)

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
        self.hosts.start()
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
        await self.events.start()
        if self.read_only:
            return
        await asyncio.to_thread(self.journal.record, "info", actor="cockpit",
                                summary=f"supervisor started ({'leader' if self.leader else 'follower'}"
                                        f"{', read-only' if self.read_only else ''})")

    async def close(self) -> None:
        self._closing = True
        self.loopwatch.stop()
        await self.events.close()
        await self.hosts.close()
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
        await self.notifier.close()  # bounded: what was sent is journaled before a new leader reads it back
        await asyncio.to_thread(self.metrics.close)
        await asyncio.to_thread(self.wrappers.close)
        await asyncio.to_thread(self.reader.close)
        await self.tmux.close()
        await asyncio.to_thread(self.leader_lock.release)

    async def run(self, stop: asyncio.Event, on_report: Callable[[Report], Any] | None = None) -> None:
        """Tick every ``tick_s`` until ``stop`` is set; a late tick skips missed slots."""
        await self.start()
        self._on_report = on_report  # an event's pass reports at once, not at the next tick (SPEC §8)
        try:
            await self._ticks(stop, on_report)
        finally:
            self._on_report = None  # whoever stops running the supervisor gets no more event reports

    async def _ticks(self, stop: asyncio.Event, on_report: Callable[[Report], Any] | None) -> None:
        period = self.config.supervisor.tick_s
        origin = time.monotonic()
        slot = 0
        while not stop.is_set():
            try:
                report = await self.tick()
            except OSError as exc:  # a full state disk, a file turned into a directory: the loop goes on
                print(f"cockpit: tick {self.tick_no} could not finish: {exc}", file=sys.stderr, flush=True)
                await asyncio.sleep(period)
                continue
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

    # --- one tick: observe -> judge -> plan -> act -> verify -> report ------------------------

    async def tick(self) -> Report:
        if not self.started:
            await self.start()
        self.tick_no += 1
        self.phases_ms = {}  # what each step of this tick took (the bench reads it)
        # seed #8: what this tick costs, all of it (wall, process CPU incl. worker threads, tmux forks)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        procs0, cmds0 = self.tmux.processes_started, self.tmux.commands_sent
        shed = self.shed
        snap = await self._observe()
        self._fatal_edges_read(snap)
        judgement, plan = self._decide(snap)
        acted, after = await self._act(plan, snap)
        judgement = self._verify(plan, snap, after, judgement)
        snap = after
        findings = judgement.findings(plan.throttled)
        new, resolved = self._diff(findings)
        async with self._step("journal"):
            await self._journal_changes(new, resolved)
        bad_lines, notices = self.bad_lines(), tuple(self.reminders.take_notices())
        load = TickLoad(wall_ms=(time.perf_counter() - wall0) * 1000.0,
                        cpu_ms=(time.process_time() - cpu0) * 1000.0,
                        tmux_processes=self.tmux.processes_started - procs0,
                        tmux_commands=self.tmux.commands_sent - cmds0, shed=shed)
        self.loads.append(load)
        self.shed = self.shedder.update(load)
        report = Report(
            at=snap.at, agents=judgement.statuses, findings=findings, new_findings=new, resolved=resolved,
            cost=snap.base.cost, tmux_ok=snap.tmux_ok or judgement.remote_only, leader=self.leader, read_only=self.read_only,
            tick=self.tick_no, skipped_ticks=self.skipped_ticks, actions=tuple(acted), wrappers=judgement.wrappers,
            blocks=self.blocks.snapshot(), load=load, shed=self.shed, loop_lag_ms=self.loopwatch.max_lag_ms(reset=True),
            sessions=snap.sessions, panes=snap.base.panes, clis=snap.clis, canaries=snap.canaries, folds=judgement.folds,
            reminders=snap.reminders, notices=notices, hosts=snap.hosts, bad_lines=bad_lines,
            tmux_server=snap.base.tmux_server)
        self.last_report = report
        self.last_snap, self.last_judgement = snap, judgement
        async with tracked("outputs"):
            await self._outputs(report)
        return report

    def bad_lines(self) -> dict[str, dict[str, Any]]:
        """SPEC §6: every reader's bad lines, by source (counted and shown, never fatal)."""
        return bad_line_report(registry=self.registry_watch.tail, reminders=self.reminder_queue,
                               promotions=self.drift.log, logs=self.logs.tails, sessions=self.sessions,
                               wrappers=self.wrappers, folds=self.fold_reader)

    async def _outputs(self, report: Report) -> None:
        """SPEC §10: tell the humans of this report's transitions, export its metrics (the leader's; off the loop)."""
        await self._notify(report)
        if self.metrics.enabled:
            self._count("metrics")
            await self.metrics.after_tick(report, leader=self.leader and not self.read_only)

    async def _notify(self, report: Report) -> None:
        """A tick's or an event's report: the notifier sends what changed since it last told (never twice)."""
        if self.notifier.enabled:
            self._count("notify")
            # SPEC §9: another host's findings are told by the cockpit there (its own [notify]); this one
            # tells what only it can see: that a host cannot be reached
            mine = [f for f in report.findings if f.host is None or f.kind == "host_unreachable"]
            await self.notifier.after_report(mine, {a.name: a.status for a in report.agents if a.host is None},
                                             leader=self.leader, read_only=self.read_only)

    # --- observe: one snapshot of everything the tick knows ---------------------------------

    def _starting(self) -> frozenset[str]:
        return frozenset(self.actions.in_flight) | frozenset(self.spawning)

    async def _observe(self) -> TickSnapshot:
        self._count("observe")
        for name in ("drift", "sessions", "folds", "wrappers"):
            self._count(name)
        await self.events.ensure_listening()
        async with self._step("observe"), self._wrappers_lock:  # a tick and an operator's reap never observe wrappers at once
            # one worker hop for the whole read: the process table, then the disk's small reads, the session
            # truth, the transcripts' new records, the wrappers and the reminders (each timed as its step)
            base, (clis, hooks, state, sessions, transcripts, wrappers, reminders) = await self.observer.observe_then(
                self._read_tick)
        for name in ("sessions", "folds", "wrappers", "reminders_read"):  # their time is theirs, not observe's
            self.phases_ms["observe"] -= self.phases_ms.get(name, 0.0)
        if self.config.canaries:
            self._count("canaries")
            self.canaries.start_due(base.at)  # seed #5: submits due canaries to their threads, never waits
        # SPEC §8: every live agent's process is watched by a pidfd
        self.events.sync_exits({name: (obs.proc.pid, obs.proc.start) for name, obs in base.agents.items()
                                if obs.proc is not None})
        return TickSnapshot(
            base=base, records=self.record_book.records(self.view, self._names), starting=self._starting(), sessions=sessions,
            transcripts=transcripts, wrappers=wrappers, canaries=self.canaries.states(), clis=clis, reminders=reminders,
            blocks=self.blocks.snapshot(), loads=tuple(self.loads), shed=self.shed,
            reaps_in_flight=frozenset(self.actions.reaper.in_flight),
            hosts=self.hosts.views(), hooks=hooks, state=state)  # SPEC §9: each host's last report, parsed once

    def _read_tick(self, base: Snapshot) -> tuple[Any, ...]:
        """(worker thread, after the process table) the rest of the tick's reads, in order."""
        clis, hooks, state = self._read_small()
        with self._worker_step("sessions"):
            sessions = self.sessions.observe_sync(base, self.view.bound_sessions)
        return (clis, hooks, state, sessions, *self._read_rest(base, sessions))

    def _read_small(self) -> tuple[Any, dict[str, Any], StateDisk]:
        """(worker thread) The tick's small reads in one hop (a hop costs more CPU than most of them):
        the leader lock, the log sources, the CLIs, the registry's new rows, the hook events files, the state disk."""
        if not self.leader and not self.read_only:
            self.leader_lock.try_acquire()
        if self.config.logs:
            self.logs.poll()  # the watcher may be late or absent: read every tick
        # seed #1: readlink/realpath per distinct CLI; only the leader writes a first-seen baseline
        clis = self.drift.observe(self.config.agents, write=self.leader and not self.read_only)
        self.registry_watch.sync_now()
        return clis, self.events.read_hooks(), StateDisk.read(self.config.state.dir)

    def _read_rest(self, base: Snapshot, sessions: Any) -> tuple[Any, tuple[WrapperView, ...], tuple[Any, ...]]:
        """(worker thread) In one hop: each transcript's new records (seed #11), the wrappers (the judge
        marks the zombies) and the reminders; each timed under its step's name."""
        with self._worker_step("folds"):
            transcripts = self.fold_reader.observe(FoldReader.targets(sessions))
        with self._worker_step("wrappers"):
            wrappers = self.wrappers.observe(base.at, agents=_wrapper_agents(base), procs=base.procs, panes=base.panes)
        with self._worker_step("reminders_read"):
            reminders = tuple(self.reminder_queue.visible(base.at))
        return transcripts, wrappers, reminders

    @contextlib.contextmanager
    def _worker_step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()  # a worker's part of a step: timed, not the loop sentinel's business
        try:
            yield
        finally:
            self.phases_ms[name] = self.phases_ms.get(name, 0.0) + (time.perf_counter() - started) * 1000.0

    async def _observe_wrappers(self, base: Snapshot) -> tuple[WrapperView, ...]:
        """The wrappers, observed in a worker thread (the judge marks the zombies)."""
        async with self._wrappers_lock:
            self._count("wrappers")
            return await asyncio.to_thread(self.wrappers.observe, base.at, agents=_wrapper_agents(base),
                                           procs=base.procs, panes=base.panes)

    # --- judge and plan: pure ---------------------------------------------------------------

    def _decide(self, snap: TickSnapshot) -> tuple[Judgement, Plan]:
        """judge -> plan, pure: the snapshot in (with what the judges and the plan remember), every
        finding and every automatic act of the tick out."""
        mode, budget = self._mode(snap.tmux_ok), self._budget()
        self._count("judge")
        self._count("zombies")
        self._count("judge_reminders")
        with self._sync_step("judge"):
            folds = self.folds.feed(snap.transcripts, snap.at)
            judgement = judge_tick(snap, self.config, self.budget, orphans=self.orphans.findings(), folds=folds,
                                   server=self._server, outputs=self.notifier.findings() + self.metrics.findings(),
                                   previous=self.last_judgement)
        if not mode.acting:
            return judgement, Plan()  # a read-only cockpit or a follower decides no act
        with self._sync_step("plan"):
            facts = TickFacts(
                now=self.clock(), mode=mode, budget=budget,
                agents=self._agent_nows_of(snap),
                session_findings=judgement.session_findings,
                truths=snap.sessions.truths if snap.sessions is not None else {},
                zombies=[w for w in judgement.wrappers if w.state == "zombie"],
                reaps_in_flight=snap.reaps_in_flight, last_prune=self.last_prune,
                findings=judgement.findings(), known=frozenset(self.findings), reminders=snap.reminders,
                reminders_in_flight=frozenset(self.reminders.tasks), waking=frozenset(self.reminders.waking))
            return judgement, plan_tick(facts, self.auto_repoint)

    def _mode(self, tmux_ok: bool) -> Mode:
        sup = self.config.supervisor
        return Mode(leader=self.leader, read_only=self.read_only, tmux_ok=tmux_ok, auto_respawn=sup.auto_respawn,
                    auto_reap=sup.auto_reap, spawn_verify_s=sup.spawn_verify_s, wake_verify_s=sup.wake_verify_s)

    def _budget(self) -> Budget:
        return Budget(self.actions.bucket.available(), self.config.supervisor.max_actions_per_minute)

    def _agent_nows_of(self, snap: TickSnapshot) -> list[AgentNow]:
        """Every agent's AgentNow: the same list while the observation map, the records, the starting set
        and the hooks' states are the same as last tick (else each agent's own memo)."""
        key = (snap.base.agents, snap.records, snap.starting, snap.hooks)
        last = self._agent_nows_all
        if last is not None and last[0][0] is key[0] and last[0][1] is key[1] and last[0][2] == key[2] \
                and (last[0][3] is key[3] or last[0][3] == key[3]):
            return last[1]
        nows = [self._agent_now(n, snap.base, snap.records[n], snap.starting, hooks=snap.hooks.get(n))
                for n in self._names]
        self._agent_nows_all = (key, nows)
        return nows

    def _agent_now(self, name: str, base: Snapshot, record: AgentRecord, starting: Collection[str],
                   hooks: Any = ...) -> AgentNow:
        """What the plan needs of the agent (its hooks' state: the snapshot's, else the latest): the same
        AgentNow (pure of its inputs) while its observation, record, hooks and starting flag are the same
        objects as last time."""
        hooks = self.events.states.get(name) if hooks is ... else hooks
        obs, is_starting = base.agents.get(name), name in starting
        memo = self._agent_nows.get(name)
        if memo is not None and memo[0] is obs and memo[1] is record and memo[2] is hooks and memo[3] == is_starting:
            return memo[4]
        now = AgentNow.of(name, base, record, policy=self.view.policies.get(name), starting=starting, hooks=hooks)
        self._agent_nows[name] = (obs, record, hooks, is_starting, now)
        return now

    def _fatal_edges_read(self, snap: TickSnapshot) -> None:
        """seed #2: a transition into FATAL is an edge: the snapshot carries it, the view forgets it, so
        the plan alerts once (a follower reads it too: it never alerts an old one when it leads later)."""
        for name, record in snap.records.items():
            lc = self.view.book.states.get(name)
            if record.lifecycle.alert_due and lc is not None and lc.alert_due:
                self.view.book.states[name] = replace(lc, alert_due=False)

    # --- act and verify -----------------------------------------------------------------------

    async def _act(self, plan: Plan, snap: TickSnapshot) -> tuple[list[ActionResult], TickSnapshot]:
        """Carry out the plan's intents in its order; returns what was acted on and the snapshot as the
        acts left it (verify)."""
        results: list[Any] = []
        if plan.intents:
            self._count("act")
            async with self._step("act"):
                results = await self._execute(plan, snap)
        acted = [r for r in results if isinstance(r, ActionResult)]
        return acted, await self._reobserve(plan, snap, repointed=bool(plan.of(REPOINT)))

    async def _execute(self, plan: Plan, snap: TickSnapshot | None = None) -> list[Any]:
        """The tick's, an event's and an operator's plan alike: its tokens spent, its intents carried
        out in its order; what each act returned."""
        self.actions.bucket.spend(plan.tokens)
        results = []
        for intent in plan.intents:
            result = await self._carry_out(intent, snap)
            if result is not None:
                results.append(result)
        return results

    async def _carry_out(self, intent: Intent, snap: TickSnapshot | None = None) -> Any:
        """One intent, each act named once: prune, (re)spawn, repoint, send, alert, adopt, record an exit,
        reap, fire or settle a reminder."""
        name = intent.agent
        if intent.act == PRUNE:
            async with self._step("prune"):
                return await self._prune(self.clock() if snap is None else snap.at)
        if intent.act == SPAWN and name is not None:
            return await self._spawn(name, intent)
        if intent.act == REPOINT and name is not None:
            return await self._repoint(name, intent.by)
        if intent.act == SEND and name is not None:
            async with tracked(f"send:{name}"):
                return await self._send(name, intent.text)
        if intent.act == ALERT and intent.finding is not None:
            self._count("alert")  # alert_command with the finding, journaled with what the command did
            if intent.background:
                return self._soon(self.actions.alert(intent.finding), f"alert-{intent.finding.kind}")
            return await self.actions.alert(intent.finding)
        if intent.act == ADOPT and name is not None:
            async with tracked(f"adopt:{name}"):
                result = await self.actions.adopt(name, intent.pane, by=intent.by)
                await self.actions.sync()
                return result
        if intent.act == RECORD_EXIT and name is not None:
            async with tracked(f"record_exit:{name}"):
                await self.actions.record_exit(name, intent.pane, expected=intent.expected)
            return None
        if intent.act == REAP:
            self._count("reap")  # seed #9 at the rate limit of seed #8: its token was spent with the plan's
            return self.actions.start_reaps([intent.wrapper])
        if intent.act in (FIRE, SETTLE):
            self._count("reminders")  # seed #6: each attempt verifies in its own task
            with self._sync_step("reminders"):
                return self.reminders.start((intent,), snap.base if snap is not None else None,
                                            starting=self._starting())
        raise ValueError(f"no act for intent {intent.act!r}")

    async def _spawn(self, name: str, intent: Intent) -> ActionResult | None:
        """An automatic start or respawn runs in the background (verified there); an operator's is awaited."""
        if intent.by != "operator":
            self._count("spawn")
            self._spawn_in_background(name, intent.by)
            return None
        result = await self._tracked_respawn(name, "operator", force=intent.force)
        await self.actions.sync()
        return result

    async def _repoint(self, name: str, by: str) -> ActionResult:
        if by != "auto":
            result = await self.actions.repoint(name, by=by)
            await self.actions.sync()
            return result
        self._count("repoint")
        result = await self.actions.repoint(name, by="auto")
        self.auto_repoint.record(result)
        return result

    async def _reobserve(self, plan: Plan, snap: TickSnapshot, *, repointed: bool) -> TickSnapshot:
        """Verify: what the acts changed, observed again (the registry rows they wrote, the record a
        repoint rewrote, the reminders a pass fired); the rest of the snapshot stands."""
        if not plan.intents:
            return snap
        touched = plan.agents
        records = {**snap.records, **records_of(self.view, touched)} if touched else snap.records
        reminders = snap.reminders
        if plan.of(FIRE, SETTLE):
            async with self._step("reminders_read"):
                reminders = tuple(await asyncio.to_thread(self.reminder_queue.visible, snap.at))
        sessions = (self.sessions.last or snap.sessions) if repointed else snap.sessions
        return replace(snap, records=records, starting=self._starting(), sessions=sessions, reminders=reminders)

    def _verify(self, plan: Plan, before: TickSnapshot, after: TickSnapshot, judgement: Judgement) -> Judgement:
        """The agents an act touched are judged again from what it saw; so are the reminders a pass fired."""
        if after is before:
            return judgement
        with self._sync_step("judge"):
            return judgement.again(after, self.config, plan.agents | (before.starting ^ after.starting),
                                   reminders=bool(plan.of(FIRE, SETTLE)))

    # --- report: what changed since the last tick, journaled once -----------------------------

    def _diff(self, findings: tuple[Finding, ...]) -> tuple[tuple[Finding, ...], tuple[Finding, ...]]:
        current = {f.key: f for f in findings}
        new = tuple(f for k, f in current.items() if k not in self.findings)
        resolved = tuple(f for k, f in self.findings.items() if k not in current)
        self.findings = current
        return new, resolved

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
        await asyncio.to_thread(self.events.prune, now, REGISTRY_RETENTION_S)  # SPEC §8: like the registry

    def _spawn_in_background(self, name: str, by: str) -> None:
        if self._closing:
            return
        task = asyncio.create_task(self._tracked_respawn(name, by), name=f"spawn-{name}")
        self.tasks.add(task)
        self.spawning.add(name)  # judged "starting" from now, not once the task first runs
        task.add_done_callback(self.tasks.discard)
        task.add_done_callback(_state_error_line)
        task.add_done_callback(lambda _task, name=name: self.spawning.discard(name))
        task.add_done_callback(lambda _task, name=name: self._soon(self._spawned_pass(name), f"spawned-{name}"))

    async def _tracked_respawn(self, name: str, by: str, *, force: bool = False) -> ActionResult:
        async with tracked(f"respawn:{name}"):  # seed #7: a block inside an action names the action
            result = await self.actions.respawn(name, by=by, force=force)
        spawn = result.spawn
        if spawn is not None and spawn.ok:
            self.events.watch(name, spawn.pid, spawn.start)  # its exit is an event from its first moment
        return result

    async def _journal_changes(self, new: tuple[Finding, ...], resolved: tuple[Finding, ...]) -> None:
        if self.read_only or not (new or resolved):
            return

        def write() -> None:
            for f in new:
                self.journal.record("finding", agent=f.agent, action=f.action, summary=f.summary,
                                    evidence={"kind": f.kind, "severity": f.severity.value, **dict(f.evidence)})
            for f in resolved:
                self.journal.record("resolved", agent=f.agent, summary=f"resolved: {f.summary}",
                                    evidence={"kind": f.kind})

        try:
            await asyncio.to_thread(write)
        except OSError:
            pass  # a full state disk: remembered by fsutil and reported as state_unwritable, never a crash

    # --- events: the same pipeline, for one agent, between ticks (SPEC §8) -----------------------

    def _soon(self, coro: Any, name: str) -> None:
        if self._closing:  # a timer or a done callback that fires while the cockpit quits starts nothing
            coro.close()
            return
        task = asyncio.create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        task.add_done_callback(_state_error_line)

    def _host_fleet(self, hosts: bool | tuple[str, ...], actor: str) -> tuple[HostFleet, RemoteActs]:
        """One SSH session per configured host (all, none, or the named ones); their reports are observed
        input, and acts on their agents go through ``RemoteActs``."""
        wanted = [h for h in self.config.hosts if hosts is True or (not isinstance(hosts, bool) and h.name in hosts)]
        fleet = HostFleet(wanted, read_only=self.read_only, clock=self.clock,
                          backoff_max_s=self.config.supervisor.backoff_max_s, on_report=self._on_host_report,
                          state_dir=self.config.state.dir)
        return fleet, RemoteActs(fleet, self.journal, read_only=self.read_only, actor=actor)

    def _on_host_report(self, host: str) -> None:
        """SPEC §9: a host's report is an event: shown within HOST_REPORT_BATCH_S, not at the next tick;
        a burst of hosts' reports is one refresh."""
        if self._host_refresh_due or self.last_report is None:
            return
        self._host_refresh_due = True
        asyncio.get_running_loop().call_later(HOST_REPORT_BATCH_S, lambda: self._soon(self._hosts_pass(), "hosts"))

    async def _hosts_pass(self) -> None:
        """The last report with the hosts' part judged again from their newest reports; journaled and handed on."""
        self._host_refresh_due = False
        snap, judgement, last = self.last_snap, self.last_judgement, self.last_report
        if snap is None or judgement is None or last is None:
            return
        snap = replace(snap, hosts=self.hosts.views())
        with tracked("judge"):
            judgement = again_hosts(judgement, snap)
        held = tuple(f for f in last.findings if f.kind == "cleanup_throttled")
        await self._publish(last, snap, judgement, held, hosts=snap.hosts)

    def _on_exit(self, event: ExitEvent) -> None:
        """A watched process ended (its pidfd fired): the exit row and the finding now, not at the next tick."""
        if event.key in self._names:
            self._soon(self._exit_pass(event), f"exit-{event.key}")

    def _on_hook(self, row: Mapping[str, Any]) -> None:
        """A hook line arrived (already on disk): the agent's row reflects it now (≤ 250 ms)."""
        name = row.get("agent")
        self.events.take(row)  # folded now: the pass reads no file (SPEC §8: the row within 250 ms)
        if isinstance(name, str) and name not in self._hook_due:
            self._hook_due.add(name)  # a burst of lines is one pass
            self._soon(self._hook_pass(name), f"hook-{name}")

    async def _hook_pass(self, name: str) -> None:
        self._count(HOOK_EVENT)
        async with tracked(f"hook:{name}"):
            self._hook_due.discard(name)
            await self._refresh({name}, read=False)

    async def _exit_pass(self, event: ExitEvent) -> None:
        """observe (the pane's dead status) -> plan_for -> act (record_exit, then the respawn the new
        lifecycle makes due: at once after a healthy run) -> report."""
        name = event.key
        self._count(EXIT_EVENT)
        async with tracked(f"exit:{name}"):
            await self._agent_pass(name, EXIT_EVENT, await self._dead_pane_seen(name))

    async def _agent_pass(self, name: str, cause: str, base: Snapshot) -> None:
        plan = Plan()
        await asyncio.to_thread(self.events.read_hooks, {name})  # a SessionEnd just before the exit counts
        for _ in range(2):  # an exit row moves the lifecycle; the second step acts on the new state
            await self.registry_watch.sync()
            agent = self._agent_now(name, base, AgentRecord.of(self.view, name), self._starting())
            plan = plan_for(agent, cause, now=self.clock(), mode=self._mode(base.tmux_ok), budget=self._budget())
            await self._execute(plan)
            if not plan.intents:
                break
        self._arm_backoff(name)
        await self._refresh({name}, base, throttled=plan.throttled)

    def _arm_backoff(self, name: str) -> None:
        """An agent in BACKOFF is woken when its backoff ends (a timer is an event too), not at the next tick."""
        lc = self.view.lifecycle(name)
        if lc.state is not AgentState.BACKOFF or lc.next_attempt_at is None or name in self._starting():
            return
        delay = max(0.0, lc.next_attempt_at - self.clock())
        if delay >= self.config.supervisor.tick_s:
            return  # the tick comes first
        asyncio.get_running_loop().call_later(delay + 0.005, lambda: self._soon(self._backoff_pass(name),
                                                                                 f"backoff-{name}"))

    async def _backoff_pass(self, name: str) -> None:
        async with tracked(f"backoff:{name}"):
            await self._agent_pass(name, EXIT_EVENT, await self.observer.observe())

    async def _spawned_pass(self, name: str) -> None:
        """A background spawn ended (verified or failed): its row shows it now, observed again."""
        if self.last_report is not None:
            await self._refresh({name}, await self.observer.observe())
        self._arm_backoff(name)  # a spawn that failed verification is retried when its backoff ends

    async def _dead_pane_seen(self, name: str) -> Snapshot:
        """A snapshot in which tmux has reaped the agent's child: its pane dead with the exit status or the
        signal known (tmux closes the pty before it reaps the child), at most 200 ms after the pidfd fired."""
        row = self.view.open_spawn(name)
        pane_id = row.get("pane") if row is not None else None
        deadline = time.monotonic() + 0.2
        while isinstance(pane_id, str) and time.monotonic() < deadline:
            try:
                (line,) = await self.tmux.run("display-message", "-p", "-t", pane_id,
                                              "#{pane_dead}:#{pane_dead_status}:#{pane_dead_signal}") or ("",)
            except (TmuxError, ValueError):
                break  # the pane is gone (or tmux is): the observe says so
            dead, status, sig = (line.split(":") + ["", "", ""])[:3]
            if dead == "1" and (status or sig):
                break
            await asyncio.sleep(0.003)
        return await self.observer.observe()

    async def _refresh(self, names: set[str], base: Snapshot | None = None,
                       throttled: tuple[Finding, ...] = (), *, read: bool = True) -> None:
        """The last report with ``names`` judged again from what is known now; journaled, and handed to
        whoever runs the supervisor (the TUI redraws those rows and the header)."""
        snap, judgement, last = self.last_snap, self.last_judgement, self.last_report
        if snap is None or judgement is None or last is None:
            return
        if read:  # a hook's pass has its row folded already and changed no registry row
            await asyncio.to_thread(self.events.read_hooks, names)
            await self.registry_watch.sync()
        hooks = dict(self.events.states)
        snap = replace(snap, base=base or snap.base, records={**snap.records, **records_of(self.view, names)},
                       starting=self._starting(), hooks=hooks)
        with tracked("judge"):
            judgement = judgement.again(snap, self.config, names)
        held = tuple(f for f in last.findings if f.kind == "cleanup_throttled" and f.agent not in names)
        # a notice is toasted once, by its tick
        # a fresh base says what tmux is now (a server killed or started since the tick), not the tick's report
        fresh = {} if base is None else {"panes": base.panes, "tmux_server": base.tmux_server,
                                         "tmux_ok": base.tmux_ok or judgement.remote_only}
        await self._publish(last, snap, judgement, held + tuple(throttled), notices=(), **fresh)

    async def _publish(self, last: Report, snap: TickSnapshot, judgement: Judgement, extra: tuple[Finding, ...],
                       **changes: Any) -> None:
        """An event's report: ``last`` with this judgement's rows and findings; the changes journaled,
        told now (not at the next tick) and handed to whoever runs the supervisor."""
        findings = judgement.findings(extra)
        new, resolved = self._diff(findings)
        await self._journal_changes(new, resolved)
        report = replace(last, at=self.clock(), agents=judgement.statuses, findings=findings,
                         new_findings=new, resolved=resolved, actions=(), **changes)
        self.last_snap, self.last_judgement, self.last_report = snap, judgement, report
        await self._notify(report)
        if self._on_report is not None:
            result = self._on_report(report)
            if asyncio.iscoroutine(result):
                await result

    # --- operator actions and events: the same pipeline, for one agent ----------------------------

    async def pass_for(self, name: str, cause: str, *, force: bool = False, pane: str | None = None,
                       text: str = "") -> list[Any]:
        """One pass of the pipeline for one agent: observe it, plan for ``cause``, act, verify.

        The operator's keys (``respawn``, ``repoint``) enter here; so can an event about the agent
        (a process seen to exit): its automatic step is then planned as a tick would, rate limit included.
        """
        self.config.agent(name)  # an unknown agent is one clear error, before anything is observed
        self._count(cause)
        base = await self.observer.observe()
        await self.registry_watch.sync()
        record = AgentRecord.of(self.view, name)
        agent = self._agent_now(name, base, record, self._starting())
        plan = plan_for(agent, cause, now=self.clock(), mode=self._mode(base.tmux_ok), budget=self._budget(),
                        force=force, pane=pane, text=text)
        return await self._execute(plan)

    async def respawn(self, name: str, *, force: bool = False) -> ActionResult | RemoteResult:
        """``cockpit respawn NAME`` and the TUI's ``r``: a verified respawn (a live agent only with ``force``)."""
        if split_name(name)[0] is not None:  # HOST/NAME: the remote's own pipeline, verified there
            return await self.remote.act("respawn", name, {"force": force})
        [result] = await self.pass_for(name, OPERATOR_RESPAWN, force=force)
        return result

    async def repoint(self, name: str) -> ActionResult | RemoteResult:
        """``cockpit repoint NAME`` and the TUI's ``p``: the routing record to the disk truth, verified."""
        if split_name(name)[0] is not None:
            return await self.remote.act("repoint", name, {})
        [result] = await self.pass_for(name, OPERATOR_REPOINT)
        return result

    async def adopt(self, name: str, pane: str) -> AdoptResult:
        """``cockpit adopt NAME PANE``: supervise the live agent in ``pane`` as ``name``, same pid, verified."""
        [result] = await self.pass_for(name, OPERATOR_ADOPT, pane=pane)
        return result

    async def send(self, name: str, text: str) -> SendResult:
        """``cockpit send NAME TEXT`` and the TUI's ``s``: typed literally, verified like a wake, journaled."""
        if split_name(name)[0] is not None:  # HOST/NAME: typed and verified there
            return await self.remote.act("send", name, {"text": text})  # type: ignore[return-value]
        [result] = await self.pass_for(name, OPERATOR_SEND, text=text)
        return result

    async def _send(self, name: str, text: str) -> SendResult:
        if self.sessions.last is None:  # a one-shot command: the session truth (where the turn shows) first
            snapshot = await self.observer.observe()
            await self.actions.sync()
            await self.sessions.observe(snapshot, self.view.bound_sessions, track_activity=False)
        return await self.sender.send(name, text, by="operator")

    def conversation(self, name: str) -> ConversationTail | None:
        """The reader of ``name``'s current transcript (the conversation view, ``c``): the disk truth's
        transcript, or where the truth's session will write it; None while no session is known. No I/O."""
        agent = self.config.agent(name)
        truth = self.sessions.truth(name)
        if truth is None:
            return None
        kind = "codex" if truth.kind == "codex" else "claude-code"
        if truth.transcript is not None and truth.transcript.path:
            return ConversationTail(truth.transcript.path, kind)
        if truth.disk_session and kind == "claude-code" and not truth.ambiguous:
            cwd = str(truth.transcript.cwd) if truth.transcript is not None else os.path.expanduser(str(agent.cwd))
            return ConversationTail(transcript_path(self.sessions.claude_dir(agent), cwd, truth.disk_session), kind)
        return None

    async def reap(self, target: str) -> list[ReapResult]:
        """Reap a wrapper by its name, id or PID, or an agent's zombie wrappers (``cockpit reap``, ``k``).

        Raises ``LookupError`` (one line) when the target names no wrapper and no agent.
        """
        self._count("operator_reap")
        if split_name(target)[0] is not None:
            return [await self.remote.act("reap", target, {})]  # type: ignore[list-item]
        base = await self.observer.observe()
        await self.actions.sync()
        views = await self._observe_wrappers(base)
        wrappers, _ = judge_zombies(views, now=base.at, grace_s=self.config.supervisor.zombie_grace_s)
        targets, error = resolve_target(target, wrappers, agents={a.name for a in self.config.agents})
        if error is not None:
            raise LookupError(error)
        results = await self.actions.reap(targets, by="operator")
        await self.actions.sync()
        return results


def _wrapper_agents(base: Snapshot) -> dict[str, Any] | None:
    """Each live agent's pane process; None when tmux is down: the agents are unknown, so no wrapper
    is judged an orphan this tick."""
    return {name: obs.proc for name, obs in base.agents.items() if obs.proc is not None} if base.tmux_ok else None


def _state_error_line(task: asyncio.Task[Any]) -> None:
    """A background act that failed on a state file (a full disk) is one line, not "exception never
    retrieved" with a traceback; it is reported as ``state_unwritable`` by the next tick."""
    if task.cancelled():
        return
    exc = task.exception()
    if isinstance(exc, OSError):
        print(f"cockpit: {task.get_name()} could not finish: {exc}", file=sys.stderr, flush=True)
    elif exc is not None:
        task.get_loop().call_exception_handler({"message": f"{task.get_name()} failed", "exception": exc, "task": task})


async def check_once(config: Config, *, host: str | None = None, host_timeout_s: float = HOST_CHECK_TIMEOUT_S) -> Report:
    """``cockpit check``: one scan, no action, no leadership, nothing written but what a scan must.

    With ``[[hosts]]``, each host's first report (or its failure) is waited for, at most
    ``host_timeout_s``; ``host`` narrows the scan to that one host.
    """
    sup = Supervisor(config, read_only=True, hosts=True if host is None else (host,))
    try:
        await sup.start()
        if config.canaries:  # seed #5: one scan includes one run of each canary, bounded by its timeout
            sup.canaries.start_due()
            await asyncio.to_thread(sup.canaries.wait, max(c.timeout_s for c in config.canaries) + 5.0)
        if sup.hosts:
            await sup.hosts.settled(host_timeout_s)
        report = await sup.tick()
        return report.for_host(host) if host is not None else report
    finally:
        await sup.close()
