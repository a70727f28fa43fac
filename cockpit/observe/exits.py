"""Exits as events (SPEC §8): a pidfd per live agent (and watched wrapper) on the event loop.

``os.pidfd_open`` gives a descriptor that becomes readable when the process ends, whoever its
parent is (the agents are the tmux server's children, not ours). Registered with
``loop.add_reader``, an exit wakes the supervisor at once instead of waiting for the next tick
to notice a dead pane: the ``exit`` row is written and judged in milliseconds.

A pid is watched with its start time (clock ticks, /proc field 22): the start time is read
again after the pidfd is open, so a pid recycled between the snapshot and ``pidfd_open`` is
reported as the exit it is instead of watching a stranger. Where pidfds do not exist (an old
kernel, not Linux) ``supported`` is False and the tick finds exits as before.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cockpit.observe.procs import proc_start_ticks

__all__ = ["ExitEvent", "ExitWatch"]


@dataclass(frozen=True)
class ExitEvent:
    key: str            # the agent's name, or a wrapper's id
    pid: int
    start: int | None
    at: float           # wall clock when the exit was seen
    mono: float         # monotonic time of the same instant (latency measurements)


class ExitWatch:
    """Watches processes by pidfd on one loop; ``on_exit`` runs on the loop thread for each exit."""

    def __init__(self, on_exit: Callable[[ExitEvent], Any], *, clock: Callable[[], float] = time.time) -> None:
        self.on_exit = on_exit
        self.clock = clock
        self.supported = hasattr(os, "pidfd_open")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watched: dict[str, tuple[int, int | None, int]] = {}  # key -> (pid, start, fd)
        self.errors = 0  # pidfd_open failures other than "no such process" (EMFILE...): the tick still finds those

    def watching(self, key: str) -> tuple[int, int | None] | None:
        entry = self._watched.get(key)
        return (entry[0], entry[1]) if entry is not None else None

    def __len__(self) -> int:
        return len(self._watched)

    def watch(self, key: str, pid: int, start: int | None) -> bool:
        """Watch ``pid`` (started at ``start``) as ``key``; an exit already happened is reported at once.

        Idempotent for the same (pid, start); a different process under the same key replaces it.
        Returns whether a pidfd watches it now.
        """
        if not self.supported:
            return False
        loop = self._loop or asyncio.get_running_loop()
        self._loop = loop
        current = self._watched.get(key)
        if current is not None:
            if current[:2] == (pid, start):
                return True
            self.unwatch(key)
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            self._report(key, pid, start)
            return False
        except OSError:
            self.errors += 1
            return False
        if start is not None and proc_start_ticks(pid) != start:
            os.close(fd)  # the pid was recycled: the process we were told about is gone
            self._report(key, pid, start)
            return False
        self._watched[key] = (pid, start, fd)
        loop.add_reader(fd, self._fired, key, fd)
        return True

    def unwatch(self, key: str) -> None:
        entry = self._watched.pop(key, None)
        if entry is None:
            return
        fd = entry[2]
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(fd)
        os.close(fd)

    def sync(self, live: Mapping[str, tuple[int, int | None]]) -> None:
        """Watch exactly ``live`` (key -> (pid, start)): new ones added, gone or replaced ones dropped."""
        for key in [k for k in self._watched if k not in live]:
            self.unwatch(key)
        for key, (pid, start) in live.items():
            self.watch(key, pid, start)

    def close(self) -> None:
        for key in list(self._watched):
            self.unwatch(key)

    def _fired(self, key: str, fd: int) -> None:
        entry = self._watched.get(key)
        if entry is None or entry[2] != fd:
            return
        self.unwatch(key)
        self._report(key, entry[0], entry[1])

    def _report(self, key: str, pid: int, start: int | None) -> None:
        event = ExitEvent(key=key, pid=pid, start=start, at=self.clock(), mono=time.monotonic())
        loop = self._loop
        if loop is None:
            return
        loop.call_soon(self._deliver, event)

    def _deliver(self, event: ExitEvent) -> None:
        result = self.on_exit(event)
        if asyncio.iscoroutine(result):
            task = asyncio.ensure_future(result)
            task.add_done_callback(_swallow)


def _swallow(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved: the handler logs its own failures
