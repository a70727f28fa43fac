"""``[[canaries]]``: user-level assertions run on their own schedule, never on the loop (seed #5).

"PR merged" is not "the user sees the thing": a canary asserts the user-visible end of a fix.
Two shapes (config.Canary):

- a command (an argv, never a shell string) whose combined stdout+stderr must match ``expect``
  (a regex, searched with ``re.MULTILINE``; the exit status is kept as evidence but not judged:
  the pattern is the assertion). It is killed with its process group after ``timeout_s``.
- a file (``expect_file``) that must exist and be newer than ``max_age_s`` seconds.

Each canary runs every ``every_s`` in a worker thread of the runner's own small pool (never the
loop's default executor, so a slow canary cannot starve the tick's observe work); a canary still
running is not started again (runs never pile up). ``start_due`` only submits, it never waits, so
the supervisor calls it from the loop each tick. State per canary (last run, ok, output tail,
consecutive failures) is exposed by ``states()`` for the judge and the TUI.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

from cockpit.config import Canary

__all__ = ["CanaryRun", "CanaryRunner", "CanaryState", "check_file", "run_command"]

MATCH_BYTES = 1 << 20       # the end of the output searched for ``expect``
TAIL_CHARS = 2000           # the end of the output kept as evidence
MAX_WORKERS = 4


@dataclass(frozen=True)
class CanaryRun:
    """One run of one canary."""
    ok: bool
    started_at: float
    duration_s: float
    detail: str                     # one line a human reads
    output_tail: str = ""
    exit_code: int | None = None
    timed_out: bool = False
    age_s: float | None = None      # file canaries: how old the file was
    error: str | None = None        # could not run at all (no such command, permission...)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "started_at": self.started_at, "duration_s": round(self.duration_s, 3),
                "detail": self.detail, "output_tail": self.output_tail, "exit_code": self.exit_code,
                "timed_out": self.timed_out, "age_s": None if self.age_s is None else round(self.age_s, 3),
                "error": self.error}


@dataclass(frozen=True)
class CanaryState:
    """What the TUI shows per canary and what the judge reads."""
    index: int
    name: str
    kind: str                       # command | file
    every_s: float
    timeout_s: float
    command: tuple[str, ...] = ()
    expect: str | None = None
    expect_file: str | None = None
    max_age_s: float | None = None
    last: CanaryRun | None = None
    runs: int = 0
    failures: int = 0               # consecutive failed runs (0 after a pass)
    failing_since: float | None = None
    running_since: float | None = None
    next_due: float | None = None

    @property
    def ok(self) -> bool | None:
        return None if self.last is None else self.last.ok

    @property
    def running(self) -> bool:
        return self.running_since is not None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "every_s": self.every_s, "timeout_s": self.timeout_s,
                "command": list(self.command), "expect": self.expect, "expect_file": self.expect_file,
                "max_age_s": self.max_age_s, "ok": self.ok, "last": self.last.to_json() if self.last else None,
                "runs": self.runs, "failures": self.failures, "failing_since": self.failing_since,
                "running": self.running, "running_since": self.running_since, "next_due": self.next_due}


def _tail(text: str, limit: int = TAIL_CHARS) -> str:
    return text if len(text) <= limit else "…" + text[-limit:]


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Our own unreaped child leads its group (start_new_session), so its pid cannot have been reused."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            proc.kill()
        except ProcessLookupError:
            pass


def run_command(canary: Canary, *, clock: Callable[[], float] = time.time,
                track: Callable[[subprocess.Popen[bytes] | None], None] | None = None) -> CanaryRun:
    """Run a command canary (blocking: a worker thread). Never raises for the command's sake."""
    started = clock()
    t0 = time.monotonic()
    pattern = canary.expect or ""
    with tempfile.TemporaryFile(prefix="cockpit-canary-") as out:
        try:
            proc = subprocess.Popen(list(canary.command), stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
        except (OSError, ValueError) as exc:
            detail = f"cannot run {canary.command[0] if canary.command else '(empty command)'}: " \
                     f"{getattr(exc, 'strerror', None) or exc}"
            return CanaryRun(False, started, time.monotonic() - t0, detail, error=detail)
        if track is not None:
            track(proc)
        timed_out = False
        try:
            proc.wait(timeout=canary.timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc)
            proc.wait()
        finally:
            if track is not None:
                track(None)
        size = out.seek(0, os.SEEK_END)
        out.seek(max(0, size - MATCH_BYTES))
        text = out.read().decode("utf-8", "replace")
    duration = time.monotonic() - t0
    code = proc.returncode
    if timed_out:
        return CanaryRun(False, started, duration, f"timed out after {canary.timeout_s:g}s (killed)",
                         _tail(text), code, True)
    try:
        matched = re.search(pattern, text, re.MULTILINE) is not None
    except re.error as exc:  # validated by the config; kept safe for hand-built canaries
        return CanaryRun(False, started, duration, f"bad expect pattern: {exc}", _tail(text), code, error=str(exc))
    if matched:
        return CanaryRun(True, started, duration, f"output matched {pattern!r} (exit {code})", _tail(text), code)
    return CanaryRun(False, started, duration, f"output did not match {pattern!r} (exit {code})", _tail(text), code)


def check_file(canary: Canary, *, clock: Callable[[], float] = time.time) -> CanaryRun:
    """A file canary: ``expect_file`` exists and is at most ``max_age_s`` old (blocking: a worker thread)."""
    started = clock()
    t0 = time.monotonic()
    path = os.fspath(canary.expect_file) if canary.expect_file is not None else ""
    limit = canary.max_age_s if canary.max_age_s is not None else 0.0
    try:
        st = os.stat(path)
    except OSError as exc:
        what = "is missing" if isinstance(exc, FileNotFoundError) else f"cannot be read: {exc.strerror or exc}"
        return CanaryRun(False, started, time.monotonic() - t0, f"{path} {what}", error=None)
    age = max(0.0, clock() - st.st_mtime)
    ok = age <= limit
    detail = (f"{path} is {age:.0f}s old (limit {limit:g}s)" if ok
              else f"{path} is stale: {age:.0f}s old, limit {limit:g}s")
    return CanaryRun(ok, started, time.monotonic() - t0, detail, age_s=age)


class CanaryRunner:
    """Schedules the canaries on a small thread pool of its own; ``start_due`` never blocks."""

    def __init__(self, canaries: Sequence[Canary], *, clock: Callable[[], float] = time.time,
                 max_workers: int = MAX_WORKERS) -> None:
        self.canaries = tuple(canaries)
        self.clock = clock
        self._max_workers = max(1, min(max_workers, len(self.canaries) or 1))
        # Re-entrant: a future that is already done runs its callback inside _submit, under the lock.
        self._lock = threading.RLock()
        self._states = [CanaryState(
            index=i, name=c.name, kind="command" if c.command else "file", every_s=c.every_s,
            timeout_s=c.timeout_s, command=tuple(c.command), expect=c.expect,
            expect_file=os.fspath(c.expect_file) if c.expect_file is not None else None, max_age_s=c.max_age_s,
        ) for i, c in enumerate(self.canaries)]
        self._futures: dict[int, Future[CanaryRun]] = {}
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._closed = False
        self.started_runs = 0

    # --- scheduling (the loop calls these; they only submit) -------------------------------
    def start_due(self, now: float | None = None) -> list[str]:
        """Start every canary that is due and not running; returns their names."""
        if not self.canaries or self._closed:
            return []
        now = self.clock() if now is None else now
        started: list[str] = []
        with self._lock:
            for state in self._states:
                if state.running_since is None and (state.next_due is None or now >= state.next_due):
                    self._submit(state.index, now)
                    started.append(state.name)
        return started

    def run_now(self, name: str) -> bool:
        """Start ``name`` at once (the TUI's "run now"); False when unknown or already running."""
        now = self.clock()
        with self._lock:
            for state in self._states:
                if state.name == name and state.running_since is None and not self._closed:
                    self._submit(state.index, now)
                    return True
        return False

    def _submit(self, index: int, now: float) -> None:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=self._max_workers, thread_name_prefix="canary")
        state = self._states[index]
        self._states[index] = replace(state, running_since=now, next_due=now + state.every_s)
        self.started_runs += 1
        future = self._executor.submit(self._run, index)
        self._futures[index] = future
        future.add_done_callback(lambda f, index=index: self._done(index, f))

    def _run(self, index: int) -> CanaryRun:
        canary = self.canaries[index]
        if canary.command:
            def track(proc: subprocess.Popen[bytes] | None) -> None:
                with self._lock:
                    if proc is None:
                        self._procs.pop(index, None)
                    elif self._closed:
                        _kill_group(proc)
                    else:
                        self._procs[index] = proc
            return run_command(canary, clock=self.clock, track=track)
        return check_file(canary, clock=self.clock)

    def _done(self, index: int, future: Future[CanaryRun]) -> None:
        if future.cancelled():
            run = None
        else:
            exc = future.exception()
            run = future.result() if exc is None else CanaryRun(
                False, self.clock(), 0.0, f"canary crashed: {type(exc).__name__}: {exc}", error=str(exc))
        with self._lock:
            self._futures.pop(index, None)
            state = self._states[index]
            if run is None:
                self._states[index] = replace(state, running_since=None)
                return
            failures = 0 if run.ok else state.failures + 1
            since = None if run.ok else (state.failing_since if state.failures else run.started_at)
            self._states[index] = replace(state, last=run, runs=state.runs + 1, failures=failures,
                                          failing_since=since, running_since=None)

    # --- reading --------------------------------------------------------------------------
    def states(self) -> tuple[CanaryState, ...]:
        with self._lock:
            return tuple(self._states)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the running canaries finish (``cockpit check``); True when none is left running."""
        with self._lock:
            pending = list(self._futures.values())
        if pending:
            wait_futures(pending, timeout=timeout)
        with self._lock:
            return not any(s.running_since is not None for s in self._states)

    def close(self) -> None:
        """Kill running canary commands and stop the pool (never waits for a canary)."""
        with self._lock:
            self._closed = True
            procs = list(self._procs.values())
            executor, self._executor = self._executor, None
        for proc in procs:
            if proc.poll() is None:
                _kill_group(proc)
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
