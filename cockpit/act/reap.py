"""Reap wrappers that won't die (seed #9), and write their completion record exactly once.

A reap verifies the recorded ``(pid, start)`` first (a PID whose start time differs is never
signalled, SPEC §6), TERMs the wrapper's process group (or, when the wrapper does not lead its
own group, each process of its tree: the group may be its parent agent's), waits
``stop_wait_s``, KILLs whatever of the recorded tree still matches pid + start, closes the
wrapper's own tmux window if it has one, then re-reads /proc: only a wrapper seen gone gets
its registry ``exit`` row (reason ``reaped``, with its result's subtype and is_error) and a
journal row with before/after.

Automatic reaps spend tokens from the same bucket as every automatic action (seed #8): past
the rate limit a zombie waits, shown as ``cleanup_throttled``.

The completion record is shared with ``cockpit wrap`` (which writes its own): both write it
through ``record_completion``, under one lock, only if no exit row for that wrapper exists.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cockpit.config import Config
from cockpit.findings import Finding
from cockpit.act.stop import alive_of, stop_verified
from cockpit.fsutil import ensure_private_dir
from cockpit.judge.plan import Budget, plan_reap_only
from cockpit.locks import LockTimeout, ahold, hold
from cockpit.observe.procs import Proc, ProcessReader
from cockpit.observe.wrappers import ResultLine, WrapperView
from cockpit.registry import Journal, Registry, Row
from cockpit.tmux import TmuxClient, TmuxError

REAP_LOCK_WAIT_S = 0.5  # another cockpit holding a wrapper's lock is reaping it: do not queue behind it
RECORD_LOCK_WAIT_S = 30.0


class RateLimit(Protocol):
    """The automatic-action token bucket (``cockpit.act.actions.TokenBucket``)."""

    def available(self) -> float: ...

    def spend(self, n: int) -> None: ...


# --- the completion record --------------------------------------------------------------------


def records_lock_path(state_dir: Path) -> Path:
    """The lock under which a wrapper's exit row is checked for and written (by reapers and ``cockpit wrap``)."""
    return ensure_private_dir(Path(state_dir) / "locks") / "wrapper-records.lock"


def reap_lock_path(state_dir: Path, pid: int) -> Path:
    """The lock one reap of one wrapper holds: two cockpits never reap the same wrapper twice."""
    return ensure_private_dir(Path(state_dir) / "locks") / f"wrapper-{int(pid)}.lock"


def find_exit_row(rows: Iterable[Mapping[str, Any]], *, pid: int, start: int,
                  spawn_id: str | None = None) -> Row | None:
    """The wrapper's exit row: same spawn id, or same (pid, start)."""
    for row in rows:
        if row.get("event") not in ("exit", "reaped") or row.get("wrapper") is not True:
            continue
        if spawn_id is not None and row.get("spawn_id") == spawn_id:
            return dict(row)
        if row.get("pid") == pid and row.get("start") == start:
            return dict(row)
    return None


def result_fields(result: ResultLine | None) -> dict[str, Any]:
    if result is None:
        return {"subtype": None, "is_error": None}
    return {"subtype": result.subtype, "is_error": result.is_error, "duration_ms": result.duration_ms}


def record_completion(registry: Registry, state_dir: Path, *, name: str, pid: int, start: int,
                      spawn_id: str | None, reason: str, **fields: Any) -> tuple[Row, bool]:
    """Write the wrapper's registry ``exit`` row unless it has one: ``(row, written)``.

    Blocking (file lock + registry read): call it from a worker thread in asyncio code.
    """
    with hold(records_lock_path(state_dir), timeout=RECORD_LOCK_WAIT_S):
        existing = find_exit_row(registry.read_all().rows, pid=pid, start=start, spawn_id=spawn_id)
        if existing is not None:
            return existing, False
        row = registry.event("exit", agent=name, spawn_id=spawn_id, wrapper=True, pid=pid, start=start,
                             reason=reason, **fields)
        return row, True


# --- one reap ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReapResult:
    wrapper: str  # its name
    id: str  # pid:start
    pid: int
    ok: bool  # verified gone
    summary: str
    by: str = "operator"
    refused: bool = False  # the recorded start time did not match: nothing was signalled
    skipped: bool = False  # already being reaped, here or by another cockpit
    termed: tuple[int, ...] = ()  # pids (group leaders: whole groups) sent TERM
    killed: tuple[int, ...] = ()  # pids sent KILL
    survivors: tuple[int, ...] = ()
    window_closed: str | None = None
    record: Mapping[str, Any] | None = None  # the exit row (written now, or found already written)
    record_written: bool = False
    elapsed_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "action": "reap", "wrapper": self.wrapper, "id": self.id, "pid": self.pid, "ok": self.ok,
            "by": self.by, "refused": self.refused, "skipped": self.skipped, "summary": self.summary,
            "termed": list(self.termed), "killed": list(self.killed), "survivors": list(self.survivors),
            "window_closed": self.window_closed, "record_written": self.record_written,
            "record": dict(self.record) if self.record is not None else None,
            "elapsed_s": round(self.elapsed_s, 3),
        }


def _proc_json(procs: Iterable[Proc]) -> list[dict[str, Any]]:
    return [{"pid": p.pid, "start": p.start, "pgid": p.pgid, "command": p.command[:200]} for p in procs]


class Reaper:
    """Reaps wrappers: operator reaps (``reap``) and automatic, rate-limited ones (``auto_reap``).

    ``guard(action, name)`` raises to refuse (the action layer's read-only switch); it runs
    before anything is read or signalled.
    """

    def __init__(self, config: Config, *, registry: Registry, journal: Journal, reader: ProcessReader,
                 bucket: RateLimit, tmux: TmuxClient | None = None,
                 guard: Callable[[str, str], None] | None = None, actor: str = "cockpit") -> None:
        self.config = config
        self.state_dir = config.state.dir
        self.stop_wait_s = config.supervisor.stop_wait_s
        self.registry = registry
        self.journal = journal
        self.reader = reader
        self.bucket = bucket
        self.tmux = tmux
        self.guard = guard
        self.actor = actor
        self.in_flight: set[str] = set()  # wrapper ids being reaped by this cockpit
        self.tasks: set[asyncio.Task[ReapResult | None]] = set()
        self.done: collections.deque[ReapResult] = collections.deque(maxlen=200)  # automatic reaps' results
        self.invocations: dict[str, int] = {}  # seed #10: integration tests assert each ran

    def _count(self, what: str) -> None:
        self.invocations[what] = self.invocations.get(what, 0) + 1

    # -- entry points ----------------------------------------------------------------------

    async def reap(self, view: WrapperView, *, by: str = "operator") -> ReapResult:
        """Reap one wrapper now (the operator's ``k`` / ``cockpit reap``)."""
        self._count("reap")
        if self.guard is not None:
            await asyncio.to_thread(self.guard, "reap", view.name)
        if view.id in self.in_flight:
            return ReapResult(view.name, view.id, view.pid, False, f"{view.name}: a reap is already under way",
                              by=by, skipped=True)
        self.in_flight.add(view.id)
        return await self._run(view, by)

    async def reap_many(self, views: Sequence[WrapperView], *, by: str = "operator") -> list[ReapResult]:
        """Several reaps at once: each waits its own ``stop_wait_s``, not one after the other."""
        return list(await asyncio.gather(*(self.reap(v, by=by) for v in views)))

    def auto_reap(self, zombies: Iterable[WrapperView], *, by: str = "auto") -> list[Finding]:
        """Start a background reap for each zombie the rate limit allows (the plan's rule: oldest result first).

        Returns a ``cleanup_throttled`` finding for each zombie held back: it waits for a token
        on a later tick. Call from the event loop.
        """
        plan = plan_reap_only(zombies, Budget(self.bucket.available(), self.config.supervisor.max_actions_per_minute),
                              in_flight=self.in_flight)
        self.bucket.spend(plan.tokens)
        for intent in plan.intents:
            self.start(intent.wrapper, by=by)
        return list(plan.throttled)

    def start(self, view: WrapperView, *, by: str = "auto") -> None:
        """Reap one zombie in the background (its token already spent); the result lands in ``done``."""
        if view.id in self.in_flight:
            return
        self._count("auto_reap")
        self.in_flight.add(view.id)
        task = asyncio.create_task(self._auto(view, by), name=f"reap-{view.name}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def wait(self) -> None:
        """Wait for the background reaps under way (tests, shutdown)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await self.wait()

    async def _auto(self, view: WrapperView, by: str) -> ReapResult | None:
        try:
            if self.guard is not None:
                await asyncio.to_thread(self.guard, "reap", view.name)  # refusals are journaled by the guard
        except Exception:
            self.in_flight.discard(view.id)
            return None
        try:
            result = await self._run(view, by)
        except Exception as exc:  # a background reap never fails silently: the next tick sees it again
            result = ReapResult(view.name, view.id, view.pid, False, f"reap of {view.name} failed: {exc}", by=by)
        self.done.append(result)
        return result

    # -- the reap --------------------------------------------------------------------------

    async def _run(self, view: WrapperView, by: str) -> ReapResult:
        """Holds ``view.id`` in ``in_flight`` (the caller added it) until done."""
        started = time.monotonic()
        try:
            async with ahold(reap_lock_path(self.state_dir, view.pid), timeout=REAP_LOCK_WAIT_S):
                return await self._reap_locked(view, by, started)
        except LockTimeout:
            return ReapResult(view.name, view.id, view.pid, False,
                              f"{view.name}: another cockpit is reaping it", by=by, skipped=True)
        finally:
            self.in_flight.discard(view.id)

    async def _reap_locked(self, view: WrapperView, by: str, started: float) -> ReapResult:
        proc = await asyncio.to_thread(self.reader.read, view.pid)
        before = {"state": view.state, "alive": view.alive, "pid": view.pid, "start": view.start, "pgid": view.pgid,
                  "zombie_reason": view.zombie_reason, "tree": _proc_json(view.tree)}
        evidence = {"command": view.command[:500], "output": view.output, "parent_agent": view.agent,
                    "result": view.result.to_json() if view.result else None}
        if proc is not None and proc.start != view.start:
            # SPEC §6: the pid now names another process; it is never signalled.
            summary = (f"reap {view.name} refused: pid {view.pid} now has start time {proc.start}, "
                       f"the record says {view.start}; nothing was signalled")
            await asyncio.to_thread(self.journal.record, "refused", agent=view.name, action="reap", actor=self.actor,
                                    summary=summary, before=before, evidence={**evidence, "found_start": proc.start})
            return ReapResult(view.name, view.id, view.pid, False, summary, by=by, refused=True,
                              elapsed_s=time.monotonic() - started)
        if proc is None or proc.zombie:
            existing = await asyncio.to_thread(self._existing_record, view)
            summary = f"{view.name} (pid {view.pid}) is already gone; nothing to reap"
            await asyncio.to_thread(self.journal.record, "action", agent=view.name, action="reap", actor=self.actor,
                                    summary=summary, before=before, after={"alive": False}, result="skipped")
            return ReapResult(view.name, view.id, view.pid, True, summary, by=by, skipped=True, record=existing,
                              elapsed_s=time.monotonic() - started)

        members = await asyncio.to_thread(self._recorded_tree, view)
        stopped = await stop_verified(members, wait_s=self.stop_wait_s, reader=self.reader)
        termed, killed = list(stopped.termed), list(stopped.killed)
        window = await self._close_window(view)
        left = await asyncio.to_thread(alive_of, members, self.reader)  # verify: observe again, record what is seen
        elapsed = time.monotonic() - started
        after = {"alive": bool(left), "survivors": _proc_json(left), "window_closed": window}
        signals = {"term": termed, "kill": killed}
        if left:
            summary = (f"reap of {view.name} failed: {', '.join(str(p.pid) for p in left)} still alive "
                       f"after TERM and KILL ({elapsed:.1f}s)")
            await asyncio.to_thread(self.journal.record, "action", agent=view.name, action="reap", actor=self.actor,
                                    summary=summary, before=before, after=after,
                                    evidence={**evidence, "signals": signals}, result="failed")
            return ReapResult(view.name, view.id, view.pid, False, summary, by=by, termed=tuple(termed),
                              killed=tuple(killed), survivors=tuple(p.pid for p in left), window_closed=window,
                              elapsed_s=elapsed)
        row, written = await asyncio.to_thread(
            record_completion, self.registry, self.state_dir, name=view.name, pid=view.pid, start=view.start,
            spawn_id=view.spawn_id, reason="reaped", by=by, zombie_reason=view.zombie_reason,
            parent_agent=view.agent, output=view.output, signals=signals, **result_fields(view.result))
        how = "KILLed after TERM was ignored" if killed else "gone after TERM"
        summary = f"reaped {view.name} (pid {view.pid}): {how}, {elapsed:.1f}s"
        if not written:
            summary += f"; its completion record was already written ({row.get('reason')})"
        await asyncio.to_thread(self.journal.record, "action", agent=view.name, action="reap", actor=self.actor,
                                summary=summary, before=before, after=after,
                                evidence={**evidence, "signals": signals, "exit_row": row}, result="verified")
        return ReapResult(view.name, view.id, view.pid, True, summary, by=by, termed=tuple(termed),
                          killed=tuple(killed), window_closed=window, record=row, record_written=written,
                          elapsed_s=elapsed)

    # -- helpers (blocking: worker threads) --------------------------------------------------

    def _recorded_tree(self, view: WrapperView) -> list[Proc]:
        """The wrapper and its descendants: as recorded, plus any forked since (each keyed by pid + start)."""
        members: dict[tuple[int, int], Proc] = {}
        fresh = self.reader.tree([view.pid]).descendants(view.pid)
        if fresh and fresh[0].start != view.start:
            fresh = []
        for p in [*fresh, *view.tree]:
            members.setdefault((p.pid, p.start), p)
        return list(members.values())

    async def _close_window(self, view: WrapperView) -> str | None:
        """Close the wrapper's own tmux window (its pane's process is the wrapper), never an agent's."""
        if self.tmux is None:
            return None
        agents = {a.name for a in self.config.agents}
        try:
            panes = await self.tmux.list_panes()
        except TmuxError:
            return None
        for pane in panes:
            if pane.pid != view.pid or pane.agent in agents:
                continue
            if not pane.dead:
                proc = await asyncio.to_thread(self.reader.read, pane.pid)
                if proc is None or proc.start != view.start:
                    continue  # the pid names another process now
            try:
                if await self.tmux.kill_pane_window(pane.pane_id):
                    return pane.pane_id
            except TmuxError:
                return None
        return None

    def _existing_record(self, view: WrapperView) -> Row | None:
        return find_exit_row(self.registry.read_all().rows, pid=view.pid, start=view.start, spawn_id=view.spawn_id)


# --- which wrappers an operator means -----------------------------------------------------------


def resolve_target(target: str, views: Sequence[WrapperView], *,
                   agents: Collection[str] = ()) -> tuple[list[WrapperView], str | None]:
    """``cockpit reap TARGET``: a wrapper's name or id (pid:start), a PID, or an agent's name (its zombies).

    Returns the wrappers meant, or an error line. A PID that is not a known wrapper is an
    error: the cockpit signals only processes it has a record of.
    """
    exact = [v for v in views if target in (v.name, v.id)]
    if exact:
        return exact, None
    if target.isdigit():
        by_pid = [v for v in views if v.pid == int(target)]
        if by_pid:
            return by_pid, None
        return [], f"pid {target} is not a known wrapper (the cockpit only signals processes it has a record of)"
    if target in agents or any(v.agent == target for v in views):
        return [v for v in views if v.agent == target and v.state == "zombie"], None
    return [], f"no wrapper or agent named {target!r}"

