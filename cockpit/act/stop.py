"""The one way cockpit stops a process: ``stop_verified``.

Each process is named by pid + start time (SPEC §6: a pid alone is not an identity) and is
signalled only while both still match. A group leader's whole group gets the signal (a command's
children die with it); any other process is signalled alone. TERM first, wait, KILL what is left,
wait again, then observe once more and say what is still there: the caller records what it saw,
not what it sent. Used by the reaper, ``cockpit wrap``, the demo's teardown, the doctor and the
alert/notice runner.
"""

from __future__ import annotations

import asyncio
import signal
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from cockpit.observe.procs import Proc, ProcessReader, signal_verified

__all__ = ["KILL_WAIT_S", "POLL_S", "StopResult", "alive_of", "stop_verified", "stop_verified_sync"]

KILL_WAIT_S = 2.0   # after KILL: how long the kernel gets to finish them
POLL_S = 0.05


@dataclass(frozen=True)
class StopResult:
    """What a stop did and what it saw after."""
    termed: tuple[int, ...] = ()        # pids TERMed (a group leader: its group)
    killed: tuple[int, ...] = ()        # pids KILLed after TERM was not enough
    survivors: tuple[Proc, ...] = ()    # still alive after both: the stop failed

    @property
    def gone(self) -> bool:
        return not self.survivors


def alive_of(procs: Sequence[Proc], reader: ProcessReader) -> list[Proc]:
    """Those of ``procs`` still alive now: the same pid and start time, not a zombie."""
    out = []
    for p in procs:
        now = reader.read(p.pid)
        if now is not None and now.start == p.start and not now.zombie:
            out.append(now)
    return out


class _Stop:
    """One stop's blocking steps (run in a worker thread by the async form)."""

    def __init__(self, procs: Sequence[Proc], reader: ProcessReader,
                 members: Callable[[], Sequence[Proc]] | None) -> None:
        self.procs = list({(p.pid, p.start): p for p in procs}.values())
        self.reader = reader
        self.members = members
        self.groups: set[int] = set()

    def signal(self, procs: Sequence[Proc], sig: int) -> list[int]:
        """Signal each process, checked by pid + start: a group leader's whole group at once."""
        sent: list[int] = []
        done: set[int] = set()
        for p in procs:
            if p.pgid in done:
                continue
            if p.pgid == p.pid and signal_verified(p.pid, p.start, sig, group=True, reader=self.reader):
                done.add(p.pgid)
                self.groups.add(p.pgid)
                sent.append(p.pid)
            elif signal_verified(p.pid, p.start, sig, reader=self.reader):
                sent.append(p.pid)
        return sent

    def alive(self) -> list[Proc]:
        """What is still there: the named processes (same start, not a zombie) and every live member
        of a group that was signalled (a child the leader started dies with the group, or it is seen)."""
        left = {(p.pid, p.start): p for p in alive_of(self.procs, self.reader)}
        if self.members is not None:
            extra = self.members()
        elif self.groups:
            extra = [p for p in self.reader.scan_all() if p.pgid in self.groups]
        else:
            extra = []
        for p in extra:
            if not p.zombie:
                left.setdefault((p.pid, p.start), p)
        return list(left.values())


async def stop_verified(procs: Sequence[Proc], *, wait_s: float, reader: ProcessReader | None = None,
                        kill_wait_s: float = KILL_WAIT_S,
                        members: Callable[[], Sequence[Proc]] | None = None) -> StopResult:
    """TERM ``procs`` (groups of leaders), wait up to ``wait_s`` for them to go, KILL what is left,
    wait up to ``kill_wait_s``, and report what is still alive. ``members`` overrides what "still
    alive" means (``cockpit wrap``: its command's group, leader unreaped). Never blocks the loop."""
    stop = _Stop(procs, reader or ProcessReader(), members)
    termed = await asyncio.to_thread(stop.signal, stop.procs, signal.SIGTERM)
    left = await _wait_gone(stop, wait_s)
    killed: list[int] = []
    if left:
        killed = await asyncio.to_thread(stop.signal, left, signal.SIGKILL)
        left = await _wait_gone(stop, kill_wait_s)
    return StopResult(tuple(termed), tuple(killed), tuple(left))


def stop_verified_sync(procs: Sequence[Proc], *, wait_s: float, reader: ProcessReader | None = None,
                       kill_wait_s: float = KILL_WAIT_S,
                       members: Callable[[], Sequence[Proc]] | None = None) -> StopResult:
    """``stop_verified`` for code that is not on an event loop (teardowns, worker threads)."""
    stop = _Stop(procs, reader or ProcessReader(), members)
    termed = stop.signal(stop.procs, signal.SIGTERM)
    left = _wait_gone_sync(stop, wait_s)
    killed: list[int] = []
    if left:
        killed = stop.signal(left, signal.SIGKILL)
        left = _wait_gone_sync(stop, kill_wait_s)
    return StopResult(tuple(termed), tuple(killed), tuple(left))


async def _wait_gone(stop: _Stop, timeout: float) -> list[Proc]:
    deadline = time.monotonic() + timeout
    while True:
        left = await asyncio.to_thread(stop.alive)
        if not left or time.monotonic() >= deadline:
            return left
        await asyncio.sleep(POLL_S)


def _wait_gone_sync(stop: _Stop, timeout: float) -> list[Proc]:
    deadline = time.monotonic() + timeout
    while True:
        left = stop.alive()
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(POLL_S)
