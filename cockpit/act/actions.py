"""The action layer: every act that changes the world goes through here.

Each act is refused in read-only mode (enforced here, below any UI), takes the
per-agent lock shared by every cockpit on the fleet, re-observes under that lock
(so one fault is fixed once, never twice), is journaled with before/after and the
evidence it saw, and automatic acts spend tokens from one rate limit (seed #8).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from cockpit.act.adopt import Adoption, AdoptResult
from cockpit.act.deliver import agent_claude_dir
from cockpit.act.hooks import run_json_command
from cockpit.act.stop import stop_verified
from cockpit.act.reap import Reaper, ReapResult
from cockpit.act.repoint import repoint_agent
from cockpit.act.spawn import SpawnResult, verified_spawn
from cockpit.config import AgentConfig, Config
from cockpit.findings import Finding
from cockpit.locks import LockTimeout, agent_lock_path, ahold
from cockpit.observe.events import EventsStore
from cockpit.observe.ports import PortProbe
from cockpit.observe.procs import ProcessReader
from cockpit.observe.history import RegistryView, RegistryWatch
from cockpit.observe.snapshot import agent_panes
from cockpit.observe.wrappers import WrapperView
from cockpit.registry import Journal, Registry
from cockpit.tmux import Pane, TmuxClient, TmuxError, TmuxUnreachable

AGENT_LOCK_TIMEOUT_S = 30.0


class ReadOnlyError(PermissionError):
    """A mutating action was asked of a read-only cockpit."""


@dataclass(frozen=True)
class ActionResult:
    action: str
    agent: str
    ok: bool
    summary: str
    skipped: bool = False
    spawn: SpawnResult | None = None
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"action": self.action, "agent": self.agent, "ok": self.ok, "skipped": self.skipped,
                               "summary": self.summary}
        if self.spawn is not None:
            out["spawn"] = self.spawn.to_json()
        if self.evidence:
            out["evidence"] = self.evidence
        return out


class TokenBucket:
    """``rate_per_minute`` automatic actions a minute, with bursts up to the same number."""

    def __init__(self, rate_per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(rate_per_minute)
        self.rate = rate_per_minute / 60.0
        self.tokens = float(rate_per_minute)
        self.clock = clock
        self.updated = clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def take(self) -> bool:
        self._refill()
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def available(self) -> float:
        """The tokens there are now (what the plan decides with)."""
        self._refill()
        return self.tokens

    def spend(self, n: int) -> None:
        """Take the ``n`` tokens the plan's intents use (the plan counted them from ``available``)."""
        self.tokens = max(0.0, self.tokens - n)

    def wait_s(self) -> float:
        self._refill()
        return max(0.0, (1.0 - self.tokens) / self.rate) if self.rate > 0 else float("inf")


class ActionLayer:
    def __init__(self, config: Config, *, tmux: TmuxClient, registry: Registry, journal: Journal,
                 reader: ProcessReader, probe: PortProbe, read_only: bool = False,
                 resume_for: Callable[[AgentConfig], str | None] | None = None,
                 resume_truth: Callable[[AgentConfig], Awaitable[str | None]] | None = None,
                 sessions: Any = None, observe: Callable[[], Awaitable[Any]] | None = None,
                 actor: str = "cockpit", watch: RegistryWatch) -> None:
        self.config = config
        self.tmux = tmux
        self.registry = registry
        self.journal = journal
        self.reader = reader
        self.probe = probe
        self.read_only = read_only
        self.resume_for = resume_for or (lambda agent: None)
        self.resume_truth = resume_truth  # the disk truth recomputed now (seed #3); resume_for is the fallback
        self.sessions = sessions          # a SessionObserver: the disk truth for repoint
        self.observe = observe            # a fresh snapshot (pane trees) for repoint
        self.actor = actor
        self.bucket = TokenBucket(config.supervisor.max_actions_per_minute)
        self.in_flight: set[str] = set()
        self.invocations: dict[str, int] = {}  # act -> times invoked (integration tests assert each ran)
        # seed #9: reaps share the read-only switch and the rate limit of every automatic action (seed #8)
        self.reaper = Reaper(config, registry=registry, journal=journal, reader=reader, bucket=self.bucket,
                             tmux=tmux, guard=self.refuse_if_read_only, actor=actor)
        self.events = EventsStore(config.state.events_dir)  # SPEC §8: hook events, one file per agent
        # the registry view is observe's (whoever builds this hands it in); acts sync it after they write,
        # so their verification sees the row
        self.watch = watch

    @property
    def view(self) -> RegistryView:
        return self.watch.view

    async def sync(self) -> None:
        """Bring the registry view up to date with the disk (new rows only)."""
        await self.watch.sync()

    def _count(self, act: str) -> None:
        self.invocations[act] = self.invocations.get(act, 0) + 1

    def refuse_if_read_only(self, action: str, agent: str) -> None:
        if self.read_only:
            self.journal.record("refused", agent=agent, action=action, actor=self.actor,
                                summary=f"{action} {agent} refused: this cockpit is read-only")
            raise ReadOnlyError(f"{action} refused: this cockpit is read-only")

    async def _live_pane(self, agent: AgentConfig, adopted: dict[str, Any] | None = None) -> Pane | None:
        panes = await self.tmux.list_panes()
        if adopted is not None:  # an adopted agent lives in the pane it was found in, not a tagged window
            return next((p for p in panes if p.pane_id == adopted.get("pane")), None)
        return agent_panes(panes, self.config.tmux.session).get(agent.name)

    async def adopt(self, name: str, pane: str, *, by: str = "operator") -> AdoptResult:
        """Mark the live agent in ``pane`` as ``name`` without restarting it (``cockpit adopt``): locked, verified."""
        agent = self.config.agent(name)
        self._count("adopt")
        await asyncio.to_thread(self.refuse_if_read_only, "adopt", name)
        if self.observe is None:
            return AdoptResult(name, False, "adopt needs the observer")
        claude_dir = self.sessions.claude_dir if self.sessions is not None else (
            lambda a: agent_claude_dir(self.config, a))
        adoption = Adoption(self.config, self.tmux, self.registry, self.journal, self.reader, self.observe, self.sync,
                            self.view, claude_dir, actor=self.actor)
        try:
            async with ahold(agent_lock_path(self.config.state.dir, name), timeout=AGENT_LOCK_TIMEOUT_S):
                return await adoption.run(agent, pane, by=by)
        except LockTimeout as exc:
            return AdoptResult(name, False, str(exc))

    async def respawn(self, name: str, *, by: str = "operator", force: bool = False) -> ActionResult:
        """Spawn the agent again, verified. A live agent is left alone unless ``force``."""
        agent = self.config.agent(name)
        self._count("respawn")
        await asyncio.to_thread(self.refuse_if_read_only, "respawn", name)
        if name in self.in_flight:
            return ActionResult("respawn", name, True, f"{name}: a spawn is already in progress", skipped=True)
        self.in_flight.add(name)
        try:
            lock = agent_lock_path(self.config.state.dir, name)
            async with ahold(lock, timeout=AGENT_LOCK_TIMEOUT_S):
                return await self._respawn_locked(agent, by=by, force=force)
        except LockTimeout as exc:
            return ActionResult("respawn", name, False, str(exc))
        finally:
            self.in_flight.discard(name)

    async def _respawn_locked(self, agent: AgentConfig, *, by: str, force: bool) -> ActionResult:
        # Re-observe under the lock: another cockpit may have fixed it already.
        await self.sync()
        adopted = self.view.open_adoption(agent.name)
        try:
            pane = await self._live_pane(agent, adopted)
        except TmuxUnreachable:
            pane = None  # no server: the spawn starts one
        before = _pane_summary(pane)
        if adopted is not None:
            skipped = await self._adopted_running(agent, adopted, before, force=force)
            if skipped is not None:
                return skipped
        elif pane is not None and not pane.dead:
            alive = await asyncio.to_thread(self.reader.read, pane.pid)
            if alive is not None and not force:
                summary = f"{agent.name} is already running (pid {pane.pid}, pane {pane.pane_id}); nothing to do"
                await asyncio.to_thread(self.journal.record, "action", agent=agent.name, action="respawn",
                                        actor=self.actor, summary=summary, before=before, after=before,
                                        result="skipped")
                return ActionResult("respawn", agent.name, True, summary, skipped=True)
        # seed #3: the disk truth, recomputed while the old process (and its live-session file) still runs.
        # A process already gone left nothing newer to read than what was observed while it ran (and its
        # hooks bound since): a crash is respawned without a whole-fleet observe first (SPEC §5: ≤ 150 ms).
        gone = (pane is None or pane.dead) and getattr(self.sessions, "last", None) is not None
        resume = (self.resume_for(agent) if gone or self.resume_truth is None else await self.resume_truth(agent))
        if adopted is not None:
            old_screen = await self._replace_adopted(agent, adopted, pane)
            pane = None  # the operator's pane stays; the agent gets a window of its own
        else:
            old_screen = await self._close_lifecycle(agent, pane, reason="respawned by " + by, replacing=True)
        if pane is not None:
            try:
                await self.tmux.kill_pane_window(pane.pane_id)
            except TmuxError:
                pass
        result = await verified_spawn(agent, self.config, tmux=self.tmux, registry=self.registry,
                                      reader=self.reader, probe=self.probe, by=by, resume=resume,
                                      events=self.events)
        after = {"pane": result.pane, "pid": result.pid, "alive": result.ok, "session_id": result.session_id}
        if result.ok:
            summary = f"respawned {agent.name}: pid {result.pid} in {result.pane}, {result.detail}"
        else:
            summary = f"respawn of {agent.name} failed verification ({result.check}): {result.detail}"
        evidence: dict[str, Any] = {"checks": result.checks, "argv": list(result.argv)}
        if result.screen:
            evidence["screen"] = result.screen[-4000:]
        if old_screen:
            evidence["previous_screen"] = old_screen[-2000:]
        await asyncio.to_thread(self.journal.record, "action", agent=agent.name, action="respawn", actor=self.actor,
                                summary=summary, before=before, after=after, evidence=evidence,
                                result="verified" if result.ok else "failed")
        return ActionResult("respawn", agent.name, result.ok, summary, spawn=result, evidence=evidence)

    async def _adopted_running(self, agent: AgentConfig, row: dict[str, Any], before: dict[str, Any], *,
                               force: bool) -> ActionResult | None:
        """A respawn of an adopted agent that still runs is a no-op unless forced."""
        pid, start = row.get("pid"), row.get("start")
        proc = await asyncio.to_thread(self.reader.read, pid) if isinstance(pid, int) else None
        if force or proc is None or proc.start != start or proc.zombie:
            return None
        summary = f"{agent.name} is already running (adopted pid {pid} in {row.get('pane')}); nothing to do"
        await asyncio.to_thread(self.journal.record, "action", agent=agent.name, action="respawn",
                                actor=self.actor, summary=summary, before=before, after=before, result="skipped")
        return ActionResult("respawn", agent.name, True, summary, skipped=True)

    async def _replace_adopted(self, agent: AgentConfig, row: dict[str, Any], pane: Pane | None) -> str | None:
        """Stop a live adopted process (pid and start checked: TERM, then KILL after stop_wait_s) and close
        its lifecycle. Its pane is the operator's: it stays, and the agent gets a window of its own."""
        pid, start = row.get("pid"), row.get("start")
        proc = await asyncio.to_thread(self.reader.read, pid) if isinstance(pid, int) else None
        if proc is not None and proc.start == start:
            await stop_verified([proc], wait_s=self.config.supervisor.stop_wait_s, reader=self.reader)
        return await self._close_lifecycle(agent, pane, reason="adopted process replaced by a respawn",
                                           replacing=True)

    async def repoint(self, name: str, *, by: str = "operator") -> ActionResult:
        """Point the routing record at the agent's disk truth (seed #3): under the agent's lock, verified, loud."""
        self.config.agent(name)
        self._count("repoint")
        await asyncio.to_thread(self.refuse_if_read_only, "repoint", name)
        if self.sessions is None or self.observe is None:
            return ActionResult("repoint", name, False, "repoint needs the session observer")
        try:
            async with ahold(agent_lock_path(self.config.state.dir, name), timeout=AGENT_LOCK_TIMEOUT_S):
                await self.sync()
                result = await repoint_agent(name, config=self.config, sessions=self.sessions, observe=self.observe,
                                             bound=lambda: self.view.bound_sessions, registry=self.registry,
                                             journal=self.journal, actor=self.actor, by=by, alert=self.alert)
        except LockTimeout as exc:
            return ActionResult("repoint", name, False, str(exc))
        await self.sync()
        return ActionResult("repoint", name, result.ok, result.summary, skipped=result.skipped,
                            evidence=result.to_json())

    async def reap(self, wrappers: list[WrapperView], *, by: str = "operator") -> list[ReapResult]:
        """Reap wrappers (TERM, wait, KILL, verify gone, one completion record each); read-only refuses."""
        self._count("reap")
        return await self.reaper.reap_many(wrappers, by=by)

    def start_reaps(self, wrappers: list[WrapperView], *, by: str = "auto") -> None:
        """Start the background reaps the plan decided (their tokens are spent by the caller)."""
        self._count("auto_reap")
        for view in wrappers:
            self.reaper.start(view, by=by)

    async def record_exit(self, name: str, pane: Pane | None, *, expected: str | None = None) -> bool:
        """Close the agent's open lifecycle with an ``exit`` row if its process is gone (leader bookkeeping).

        ``expected``: the reason of the SessionEnd hook that announced it (SPEC §8), kept in the row."""
        agent = self.config.agent(name)
        self._count("record_exit")
        reason = f"exited after SessionEnd ({expected})" if expected else "exited"
        try:
            async with ahold(agent_lock_path(self.config.state.dir, name), timeout=0.5):
                return await self._close_lifecycle(agent, pane, reason=reason, replacing=False,
                                                   expected=expected) is not None
        except LockTimeout:
            return False  # an action on this agent is under way; the next tick sees its outcome

    async def _close_lifecycle(self, agent: AgentConfig, pane: Pane | None, *, reason: str,
                               replacing: bool, expected: str | None = None) -> str | None:
        """Under the agent lock: write the exit row of the open spawn whose process is gone or is replaced.

        Returns the last screen captured (the evidence), or None if nothing was open.
        """
        await self.sync()
        row = self.view.open_spawn(agent.name)
        if row is None:
            return None
        pid, start = row.get("pid"), row.get("start")
        proc = await asyncio.to_thread(self.reader.read, pid) if isinstance(pid, int) else None
        alive = proc is not None and proc.start == start and not proc.zombie
        if alive and not replacing:
            return None
        screen = ""
        status = None
        if pane is not None:
            status = pane.dead_status
            try:
                screen = await self.tmux.capture(pane.pane_id, history=200) or ""
            except TmuxError:
                screen = ""
        await asyncio.to_thread(self.registry.event, "exit", agent=agent.name, spawn_id=row.get("spawn_id"),
                                pid=pid, start=start, pane=row.get("pane"), status=status,
                                reason=reason if not alive else "replaced while alive", screen=screen[-8000:],
                                **({"expected": expected} if expected and not alive else {}))
        await self.sync()
        return screen

    async def alert(self, finding: Finding) -> bool:
        """Run ``alert_command`` once with the finding as JSON on stdin (argv, never a shell), then
        journal what it did (its exit status, or killed after its timeout, or not configured)."""
        self._count("alert")
        outcome = await run_json_command(self.config.supervisor.alert_command, finding.to_json(),
                                         name="alert_command")
        await asyncio.to_thread(self.journal.record, "alert", agent=finding.agent, actor=self.actor,
                                summary=f"alert: {finding.summary}",
                                evidence={**finding.to_json(), "alert_command": outcome}, result=outcome["result"])
        return bool(outcome.get("ok"))




def _pane_summary(pane: Pane | None) -> dict[str, Any]:
    if pane is None:
        return {"pane": None, "alive": False}
    return {"pane": pane.pane_id, "pid": pane.pid, "alive": not pane.dead, "exit_status": pane.dead_status}
