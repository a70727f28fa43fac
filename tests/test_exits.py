"""SPEC §8: an exit is an event: a pidfd on the loop reports a kill -9 in milliseconds."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time

import pytest

from cockpit.observe.procs import proc_start_ticks
from cockpit.observe.exits import ExitEvent, ExitWatch

pytestmark = pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="pidfd_open needs Linux 5.3+")


def _sleeper() -> subprocess.Popen:
    return subprocess.Popen(["sleep", "60"], start_new_session=True)


async def _next(queue: asyncio.Queue, timeout: float = 5.0) -> ExitEvent:
    return await asyncio.wait_for(queue.get(), timeout)


def test_a_kill_9_is_reported_on_the_loop_within_milliseconds() -> None:
    proc = _sleeper()

    async def main() -> tuple[ExitEvent, float]:
        queue: asyncio.Queue = asyncio.Queue()
        watch = ExitWatch(queue.put_nowait)
        assert watch.watch("tabs", proc.pid, proc_start_ticks(proc.pid))
        assert watch.watch("tabs", proc.pid, proc_start_ticks(proc.pid))  # idempotent
        await asyncio.sleep(0.05)
        killed = time.monotonic()
        os.kill(proc.pid, signal.SIGKILL)
        event = await _next(queue)
        assert len(watch) == 0
        return event, event.mono - killed

    try:
        event, latency = asyncio.run(main())
    finally:
        proc.kill()
        proc.wait()
    assert event.key == "tabs" and event.pid == proc.pid
    assert latency < 0.05, latency


def test_a_gone_or_recycled_pid_is_reported_at_once_never_watched() -> None:
    proc = _sleeper()
    start = proc_start_ticks(proc.pid)

    async def main() -> list[ExitEvent]:
        queue: asyncio.Queue = asyncio.Queue()
        watch = ExitWatch(queue.put_nowait)
        assert not watch.watch("recycled", proc.pid, (start or 0) + 1)  # same pid, another process
        proc.kill()
        proc.wait()
        assert not watch.watch("gone", proc.pid, start)
        got = [await _next(queue), await _next(queue)]
        assert len(watch) == 0
        return got

    got = asyncio.run(main())
    assert [e.key for e in got] == ["recycled", "gone"]


def test_sync_follows_the_live_set_and_unwatched_processes_say_nothing() -> None:
    a, b, c = _sleeper(), _sleeper(), _sleeper()

    async def main() -> list[str]:
        queue: asyncio.Queue = asyncio.Queue()
        watch = ExitWatch(queue.put_nowait)
        ref = {p.pid: (p.pid, proc_start_ticks(p.pid)) for p in (a, b, c)}
        watch.sync({"a": ref[a.pid], "b": ref[b.pid]})
        watch.sync({"a": ref[a.pid], "b": ref[c.pid]})  # b respawned as c: the old pid is dropped
        assert watch.watching("b") == ref[c.pid]
        os.kill(b.pid, signal.SIGKILL)  # no longer watched
        os.kill(c.pid, signal.SIGKILL)
        first = await _next(queue)
        await asyncio.sleep(0.1)
        assert queue.empty()
        watch.close()
        os.kill(a.pid, signal.SIGKILL)
        await asyncio.sleep(0.1)
        assert queue.empty()
        return [first.key]

    try:
        assert asyncio.run(main()) == ["b"]
    finally:
        for p in (a, b, c):
            p.kill()
            p.wait()
