"""Locks: exclusive across processes and threads, freed by a holder's death, never waited on forever."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cockpit.locks import LeaderLock, LockTimeout, agent_lock_path, ahold, hold

CHILD_LEADER = """
import sys, time
from pathlib import Path
from cockpit.locks import LeaderLock
lock = LeaderLock(Path(sys.argv[1]))
print("held" if lock.try_acquire() else "refused", flush=True)
time.sleep(float(sys.argv[2]))
"""

CHILD_HOLD = """
import sys, time
from pathlib import Path
from cockpit.locks import hold
with hold(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def start_child(script: str, *args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *map(str, args)], stdout=subprocess.PIPE, text=True,
    )


def first_line(child: subprocess.Popen[str]) -> str:
    assert child.stdout is not None
    return child.stdout.readline().strip()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_second_leader_in_the_same_process_is_refused(tmp_path: Path) -> None:
    first, second = LeaderLock(tmp_path / "leader.lock"), LeaderLock(tmp_path / "leader.lock")
    assert first.try_acquire()
    assert first.try_acquire(), "the holder asking again still holds it"
    assert not second.try_acquire()
    assert first.held and not second.held
    first.release()
    assert not first.held
    assert second.try_acquire()
    second.release()


def test_leader_lock_is_exclusive_across_processes(tmp_path: Path) -> None:
    path = tmp_path / "leader.lock"
    child = start_child(CHILD_LEADER, path, 30)
    try:
        assert first_line(child) == "held"
        mine = LeaderLock(path)
        assert not mine.try_acquire()
        assert mine.holder_pid() == child.pid
    finally:
        child.kill()
        child.wait()

    assert mine.try_acquire()
    other = start_child(CHILD_LEADER, path, 0)
    try:
        assert first_line(other) == "refused"
    finally:
        other.wait(timeout=10)
        mine.release()


def test_leader_lock_is_freed_when_the_holder_is_killed(tmp_path: Path) -> None:
    path = tmp_path / "leader.lock"
    child = start_child(CHILD_LEADER, path, 60)
    assert first_line(child) == "held"
    survivor = LeaderLock(path)
    assert not survivor.try_acquire()
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    assert survivor.try_acquire()
    assert survivor.holder_pid() == os.getpid()
    survivor.release()


def test_leader_lock_released_from_another_thread_is_free(tmp_path: Path) -> None:
    leader = LeaderLock(tmp_path / "leader.lock")
    assert leader.try_acquire()
    releaser = threading.Thread(target=leader.release)
    releaser.start()
    releaser.join()
    assert LeaderLock(tmp_path / "leader.lock").try_acquire()


def test_hold_times_out_with_a_message_naming_the_lock_file(tmp_path: Path) -> None:
    path = tmp_path / "registry.jsonl.lock"
    blocker = LeaderLock(path)
    assert blocker.try_acquire()
    started = time.monotonic()
    with pytest.raises(LockTimeout) as caught, hold(path, timeout=0.3):
        pytest.fail("took a lock another holder has")
    waited = time.monotonic() - started
    blocker.release()
    assert 0.3 <= waited < 2.0
    message = str(caught.value)
    assert str(path) in message and "0.3" in message and "\n" not in message
    assert caught.value.lock_path == path


def test_hold_waits_for_a_busy_lock_instead_of_skipping(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    child = start_child(CHILD_HOLD, path, 0.4)
    try:
        assert first_line(child) == "held"
        started = time.monotonic()
        with hold(path, timeout=10):
            waited = time.monotonic() - started
        assert waited >= 0.2, "hold went ahead while another process held the lock"
    finally:
        child.wait(timeout=10)


def test_hold_excludes_other_processes_until_they_release(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    child = start_child(CHILD_HOLD, path, 30)
    try:
        assert first_line(child) == "held"
        with pytest.raises(LockTimeout), hold(path, timeout=0.1):
            pass
    finally:
        child.kill()
        child.wait()
    with hold(path, timeout=5):
        pass


def test_hold_excludes_threads_of_one_process(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    inside = 0
    overlaps = 0
    entries = 0

    def worker() -> None:
        nonlocal inside, overlaps, entries
        for _ in range(20):
            with hold(path, timeout=30):
                inside += 1
                overlaps += inside > 1
                entries += 1
                time.sleep(0.0005)
                inside -= 1

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert entries == 120
    assert overlaps == 0


def test_nested_hold_of_the_same_lock_fails_fast_instead_of_waiting_for_itself(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    started = time.monotonic()
    with hold(path), pytest.raises(RuntimeError, match="already held by this thread"), hold(path):
        pass
    assert time.monotonic() - started < 1
    with hold(path, timeout=1):
        pass


def test_lock_files_are_private_even_under_a_permissive_umask(tmp_path: Path) -> None:
    old_umask = os.umask(0)
    try:
        with hold(tmp_path / "a.lock"):
            pass
        leader = LeaderLock(tmp_path / "leader.lock")
        assert leader.try_acquire()
        leader.release()
    finally:
        os.umask(old_umask)
    assert mode(tmp_path / "a.lock") == 0o600
    assert mode(tmp_path / "leader.lock") == 0o600


def test_agent_lock_path_lives_in_a_private_locks_dir(tmp_path: Path) -> None:
    state = tmp_path / "state"
    path = agent_lock_path(state, "tabs")
    assert path == state / "locks" / "agent-tabs.lock"
    assert mode(state / "locks") == 0o700
    with hold(path):
        pass
    assert mode(path) == 0o600


@pytest.mark.parametrize("name", ["", "../escape", "a/b", "nul\0"])
def test_agent_lock_path_refuses_names_that_leave_the_locks_dir(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError):
        agent_lock_path(tmp_path, name)


def test_async_hold_waits_without_blocking_the_event_loop(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    child = start_child(CHILD_HOLD, path, 30)
    try:
        assert first_line(child) == "held"

        async def scenario() -> int:
            ticks = 0

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1

            running = asyncio.create_task(ticker())
            with pytest.raises(LockTimeout, match="x.lock"):
                async with ahold(path, timeout=0.3):
                    pytest.fail("took a lock another process holds")
            running.cancel()
            return ticks

        assert asyncio.run(scenario()) >= 10
    finally:
        child.kill()
        child.wait()

    async def after() -> None:
        async with ahold(path, timeout=5):
            with pytest.raises(LockTimeout), hold(path, timeout=0.1):
                pass

    asyncio.run(after())


def test_cancelled_async_hold_leaves_the_lock_free(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"

    async def scenario() -> None:
        entered = asyncio.Event()

        async def holder() -> None:
            async with ahold(path, timeout=5):
                entered.set()
                await asyncio.sleep(60)

        inside = asyncio.create_task(holder())
        await entered.wait()
        blocker = LeaderLock(path)
        waiting = asyncio.create_task(holder())
        await asyncio.sleep(0.05)
        inside.cancel()
        waiting.cancel()
        await asyncio.gather(inside, waiting, return_exceptions=True)
        await asyncio.sleep(0.05)
        assert blocker.try_acquire(), "a cancelled ahold kept the lock"
        blocker.release()

        # Cancelled while its worker thread is taking the lock: the thread's win must be given back.
        for _ in range(100):
            racing = asyncio.create_task(holder())
            await asyncio.sleep(0)
            racing.cancel()
            await asyncio.gather(racing, return_exceptions=True)
            deadline = time.monotonic() + 1
            while not blocker.try_acquire():
                assert time.monotonic() < deadline, "a cancelled ahold kept the lock"
                await asyncio.sleep(0.002)
            blocker.release()

    asyncio.run(scenario())
