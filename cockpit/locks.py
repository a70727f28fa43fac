"""One way to take locks: flock-based file locks shared by processes and threads.

``hold`` (``ahold`` in asyncio code) is the per-resource lock every writer takes
(the registry, the routing record, an agent's respawn); ``LeaderLock`` is held for a cockpit's whole life so
that only one of several cockpits on a fleet takes automatic actions. Both are
kernel ``flock`` locks on a private lock file: a holder that dies, even by
kill -9, frees them, and each acquisition opens its own descriptor, so two
threads of one process exclude each other exactly as two processes do.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import filelock

from cockpit.fsutil import FILE_MODE, ensure_private_dir

_FIRST_POLL_S = 0.005
_MAX_POLL_S = 0.1

# Lock files held by hold() in each thread: a nested hold of the same file could only wait for itself.
_held_here = threading.local()


class LockTimeout(Exception):
    """A lock stayed busy for longer than the caller was willing to wait."""

    def __init__(self, lock_path: Path, waited_s: float) -> None:
        self.lock_path = Path(lock_path)
        self.waited_s = waited_s
        super().__init__(f"lock {self.lock_path} still busy after waiting {waited_s:.2f}s")


def _file_lock(lock_path: Path) -> filelock.FileLock:
    # A fresh object per acquisition: its own descriptor, so threads and processes contend alike.
    # No soft-lock fallback: a soft lock outlives a killed holder, and a lock that never frees wedges every writer.
    return filelock.FileLock(
        os.fspath(lock_path), mode=FILE_MODE, thread_local=False, fallback_to_soft=False,
    )


def _try(lock: filelock.FileLock) -> bool:
    try:
        lock.acquire(blocking=False)
    except filelock.Timeout:
        return False
    return True


@contextmanager
def hold(lock_path: Path, *, timeout: float = 30.0) -> Iterator[None]:
    """Hold the flock on ``lock_path`` for the block; retry with backoff, raise LockTimeout after ``timeout``.

    The lock file is created 0600; its directory must exist (callers use ensure_private_dir).
    """
    lock_path = Path(lock_path)
    key = os.path.abspath(lock_path)
    held: set[str] = _held_here.__dict__.setdefault("paths", set())
    if key in held:
        raise RuntimeError(f"lock {lock_path} is already held by this thread; a nested hold would wait for itself")
    lock = _file_lock(lock_path)
    started = time.monotonic()
    delay = _FIRST_POLL_S
    # seed #4: contention is retried until the deadline, never skipped and never overwritten blind.
    while not _try(lock):
        remaining = started + timeout - time.monotonic()
        if remaining <= 0:
            raise LockTimeout(lock_path, time.monotonic() - started)
        # Jitter keeps a crowd of waiters from retrying in lockstep.
        time.sleep(min(delay * random.uniform(0.5, 1.0), remaining))
        delay = min(delay * 2, _MAX_POLL_S)
    held.add(key)
    try:
        yield
    finally:
        held.discard(key)
        lock.release()


class LeaderLock:
    """The one lock a cockpit holds for its whole life to be the fleet's leader.

    Non-blocking: a second cockpit (or a second LeaderLock on the same file in this
    process) gets ``False`` from ``try_acquire`` and stays read-only for automatic
    actions. The kernel frees the lock when the holder dies.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock: filelock.FileLock | None = None
        self._guard = threading.Lock()

    def try_acquire(self) -> bool:
        with self._guard:
            if self._lock is not None:
                return True
            lock = _file_lock(self.path)
            if not _try(lock):
                return False
            self._lock = lock
            self._record_holder()
            return True

    @property
    def held(self) -> bool:
        return self._lock is not None

    def release(self) -> None:
        with self._guard:
            if self._lock is not None:
                self._lock.release()
                self._lock = None

    def holder_pid(self) -> int | None:
        """The pid the last holder wrote; meaningful while ``try_acquire`` fails."""
        try:
            text = self.path.read_text(encoding="ascii", errors="replace").strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def _record_holder(self) -> None:
        # Written only while holding the lock, so a losing contender never clobbers it.
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_NOFOLLOW)
        except OSError:
            return
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        except OSError:
            pass
        finally:
            os.close(fd)


def agent_lock_path(state_dir: Path, name: str) -> Path:
    """The lock file serialising actions on one agent (respawn, reap, repoint): STATE/locks/agent-NAME.lock."""
    if not name or "/" in name or "\0" in name:
        raise ValueError(f"agent name {name!r} cannot name a lock file")
    locks = ensure_private_dir(Path(state_dir) / "locks")
    return locks / f"agent-{name}.lock"


def _release_if_won(lock: filelock.FileLock) -> Callable[[asyncio.Future[bool]], None]:
    def release(attempt: asyncio.Future[bool]) -> None:
        if not attempt.cancelled() and attempt.exception() is None and attempt.result():
            lock.release()
    return release


async def _attempt(lock: filelock.FileLock) -> bool:
    attempt = asyncio.ensure_future(asyncio.to_thread(_try, lock))
    try:
        return await asyncio.shield(attempt)
    except asyncio.CancelledError:
        # The worker thread may still win the lock after the caller is cancelled: give it back when it does.
        attempt.add_done_callback(_release_if_won(lock))
        raise


@asynccontextmanager
async def ahold(lock_path: Path, *, timeout: float = 30.0) -> AsyncIterator[None]:
    """``hold`` for asyncio code: the same flock, polled with backoff without blocking the loop."""
    lock_path = Path(lock_path)
    lock = _file_lock(lock_path)
    started = time.monotonic()
    delay = _FIRST_POLL_S
    while not await _attempt(lock):
        remaining = started + timeout - time.monotonic()
        if remaining <= 0:
            raise LockTimeout(lock_path, time.monotonic() - started)
        await asyncio.sleep(min(delay * random.uniform(0.5, 1.0), remaining))
        delay = min(delay * 2, _MAX_POLL_S)
    try:
        yield
    finally:
        await asyncio.to_thread(lock.release)
