"""The event loop's sentinel: a thread that notices when the loop stops answering (seed #7).

The loop itself says when it is busy: its selector's ``select`` is wrapped so that leaving it
stamps "busy since" and entering it again closes the busy span (two clock reads per loop
iteration, no callback, no wake-up while the loop idles). A daemon thread looks every
``onset`` and, while one span has lasted longer than ``onset``, samples the loop thread's
stack (``sys._current_frames()``) every ``sample_ms`` until the loop comes back. A span of at
least ``loop_block_ms`` becomes a ``Block``: when it started, how long it lasted (exactly:
the span), the tracked work that was running (or ``"untracked"``) and the dominant stack.
"The 1855ms lines stopped" only once the untracked branch captured a stack: this is it.

A loop without a selector to wrap (another loop implementation) gets the old heartbeat: a
``call_later`` chain every ``interval`` whose lateness is the stall (a lower bound, off by at
most one interval) and about one thread wake-up per ``onset``.

Tracked work: ``with tracked("probe:tmux"):``, ``async with tracked("act"):`` or
``@tracked("judge")``. Scopes are kept per (thread, asyncio task), not in a contextvar,
because the sentinel reads them from another thread; an ``async with`` scope suspended
at an ``await`` is not blamed for what another task does meanwhile (the running task is
read from ``asyncio.tasks._current_tasks``, present in CPython 3.11-3.13).

Idle cost (SPEC §5, ≤ 0.3 % of a core for the whole cockpit): no loop callback at all and one
thread wake-up per ``onset`` (``cockpit bench`` prints it). ``on_block`` runs on the sentinel
thread: keep it quick and thread-safe.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = ["Block", "BlockLog", "LoopWatch", "UNTRACKED", "UNSAMPLED", "active_scopes", "tracked"]

UNTRACKED = "untracked"  # the loop was blocked and no tracked scope was active
PARK_S = 1.0             # selector mode: the longest the sentinel sleeps while the loop waits in select
UNSAMPLED = "unsampled"  # the sentinel could not run during the stall (the GIL was held throughout)
MAX_FRAMES = 48

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Block:
    """One event-loop block, from the cockpit's own loop or from an external log."""
    source: str                   # "cockpit", or the [[logs]] name
    start: float                  # epoch seconds
    duration_ms: float
    culprit: str                  # innermost tracked scope, "untracked", or the log line's culprit
    stack: tuple[str, ...] = ()   # dominant sampled stack, outermost first: "file:line in func"
    scopes: tuple[str, ...] = ()  # the tracked scope path, outermost first
    samples: int = 0              # stack samples taken during the stall
    line: str | None = None       # the log line it came from (external sources)

    @property
    def end(self) -> float:
        return self.start + self.duration_ms / 1000.0

    @property
    def stack_top(self) -> str | None:
        return self.stack[-1] if self.stack else None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": self.source, "start": self.start, "duration_ms": round(self.duration_ms, 1),
            "culprit": self.culprit, "scopes": list(self.scopes), "stack": list(self.stack),
            "samples": self.samples,
        }
        if self.line is not None:
            out["line"] = self.line
        return out


# --- tracked work ------------------------------------------------------------------------------

# (thread id, running task or None) -> active scope names, innermost last. Each list is only
# mutated by its own thread/task; the sentinel copies it (tuple() of a list is atomic under the GIL).
_SCOPES: dict[tuple[int, Any], list[str]] = {}
_current_tasks: dict[Any, Any] | None = getattr(asyncio.tasks, "_current_tasks", None)


def _key() -> tuple[int, Any]:
    loop = asyncio.events._get_running_loop()
    task = asyncio.current_task(loop) if loop is not None else None
    return (threading.get_ident(), task)


def _push(name: str) -> None:
    key = _key()
    stack = _SCOPES.get(key)
    if stack is None:
        stack = _SCOPES[key] = []
    stack.append(name)


def _pop(name: str) -> None:
    key = _key()
    stack = _SCOPES.get(key)
    if not stack:
        return
    if stack[-1] == name:
        stack.pop()
    else:  # exited out of order (a generator closed late): remove the newest of that name
        for i in range(len(stack) - 1, -1, -1):
            if stack[i] == name:
                del stack[i]
                break
    if not stack:
        _SCOPES.pop(key, None)


def active_scopes(thread_id: int, loop: asyncio.AbstractEventLoop | None = None) -> tuple[str, ...]:
    """The scopes active on ``thread_id`` now, for the task ``loop`` is running (safe from any thread)."""
    task = _current_tasks.get(loop) if (_current_tasks is not None and loop is not None) else None
    stack = _SCOPES.get((thread_id, task))
    if stack is None and task is not None:
        stack = _SCOPES.get((thread_id, None))
    return tuple(stack) if stack else ()


class tracked:  # noqa: N801 - used like contextlib.suppress
    """Name the work running on the loop: a sync or async context manager, or a decorator."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = str(name)

    def __enter__(self) -> tracked:
        _push(self.name)
        return self

    def __exit__(self, *exc: object) -> None:
        _pop(self.name)

    async def __aenter__(self) -> tracked:
        _push(self.name)
        return self

    async def __aexit__(self, *exc: object) -> None:
        _pop(self.name)

    def __call__(self, func: F) -> F:
        name = self.name
        if inspect.iscoroutinefunction(func):
            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                _push(name)
                try:
                    return await func(*args, **kwargs)
                finally:
                    _pop(name)
            return run_async  # type: ignore[return-value]

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            _push(name)
            try:
                return func(*args, **kwargs)
            finally:
                _pop(name)
        return run  # type: ignore[return-value]


# --- the sentinel --------------------------------------------------------------------------------

Frame = tuple[str, int, str]  # filename, line, function


@dataclass
class _Stall:
    beat_no: int                      # beats counted when the stall was noticed
    samples: list[tuple[tuple[Frame, ...], tuple[str, ...]]] = field(default_factory=list)


def _format(frame: Frame) -> str:
    return f"{frame[0]}:{frame[1]} in {frame[2]}"


def summarize(samples: list[tuple[tuple[Frame, ...], tuple[str, ...]]]) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """(culprit, scope path, dominant stack) of a stall's samples.

    The dominant stack is the most frequent function path (line numbers ignored, so a busy
    loop over several lines counts as one place), shown with its most frequent exact lines.
    """
    if not samples:
        return UNSAMPLED, (), ()
    scope_paths = Counter(scopes for _, scopes in samples)
    scopes = scope_paths.most_common(1)[0][0]
    culprit = scopes[-1] if scopes else UNTRACKED
    groups = Counter(tuple((f[0], f[2]) for f in stack) for stack, _ in samples)
    place = groups.most_common(1)[0][0]
    exact = Counter(stack for stack, _ in samples if tuple((f[0], f[2]) for f in stack) == place)
    stack = exact.most_common(1)[0][0]
    return culprit, scopes, tuple(_format(f) for f in stack)


class LoopWatch:
    """Watches one asyncio loop from a daemon thread; see the module docstring.

    ``blocks`` is a bounded deque of the recent blocks, newest last. ``max_lag_ms()`` is the
    worst heartbeat lateness since it was last reset (the TUI's "loop lag").
    """

    def __init__(self, loop_block_ms: float = 250, *, on_block: Callable[[Block], Any] | None = None,
                 source: str = "cockpit", interval_ms: float | None = None, sample_ms: float = 15.0,
                 history: int = 256, clock: Callable[[], float] = time.time) -> None:
        if loop_block_ms <= 0:
            raise ValueError("loop_block_ms must be > 0")
        self.loop_block_ms = float(loop_block_ms)
        self.on_block = on_block
        self.source = source
        # The beat's lateness underestimates a block by at most one interval: keep it small.
        self.interval_s = (interval_ms if interval_ms is not None else min(25.0, max(2.0, loop_block_ms / 10))) / 1000
        self.onset_s = min(self.loop_block_ms / 2000.0, 0.05)  # start sampling once the beat is this late
        self.sample_s = max(sample_ms, 1.0) / 1000
        self.clock = clock
        self.blocks: deque[Block] = deque(maxlen=history)
        self.beats = 0
        self.callback_errors = 0
        self._max_lag = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_tid: int | None = None
        self._due = 0.0
        self._handle: asyncio.TimerHandle | None = None
        self._ended: deque[tuple[int, float, float]] = deque()  # (beat_no, lag_s, monotonic end)
        self._paused_beat = -1  # a beat during which the loop was not running: its lateness is no block
        self._busy_since: float | None = None  # selector mode: when the loop left select (None: in select)
        self._parked = False                   # selector mode: the sentinel sleeps until the loop leaves select
        self._selector: Any = None             # selector mode: the selector whose select we wrapped
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._cpu_s = 0.0

    # --- life ------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> LoopWatch:
        """Start watching ``loop`` (default: the running loop). Idempotent."""
        if self.running:
            return self
        self._loop = loop or asyncio.get_running_loop()
        self._stop.clear()
        self._loop.call_soon_threadsafe(self._arm)
        self._thread = threading.Thread(target=self._run, name="cockpit-loopwatch", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the sentinel and the heartbeat; safe from any thread, and when the loop is gone."""
        self._stop.set()
        self._wake.set()
        handle, loop = self._handle, self._loop
        self._handle = None
        if self._selector is not None:
            if loop is None or loop.is_closed() or self._loop_tid == threading.get_ident():
                self._unwrap()
            else:
                try:
                    loop.call_soon_threadsafe(self._unwrap)
                except RuntimeError:
                    self._unwrap()
        if handle is not None and loop is not None and not loop.is_closed():
            try:
                if self._loop_tid == threading.get_ident():
                    handle.cancel()
                else:
                    loop.call_soon_threadsafe(handle.cancel)
            except RuntimeError:  # closed meanwhile
                pass
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2.0)
        self._thread = None

    def max_lag_ms(self, *, reset: bool = False) -> float:
        value = self._max_lag * 1000.0
        if reset:
            self._max_lag = 0.0
        return value

    @property
    def cpu_ms(self) -> float:
        """CPU time the sentinel thread has used (the beat callbacks are not included)."""
        return self._cpu_s * 1000.0

    # --- the loop side ---------------------------------------------------------------------

    @property
    def mode(self) -> str:
        """``selector`` (busy spans from the loop's own select) or ``beat`` (the heartbeat fallback)."""
        return "selector" if self._selector is not None else "beat"

    def _arm(self) -> None:
        assert self._loop is not None
        if self._stop.is_set():
            return
        self._loop_tid = threading.get_ident()
        selector = getattr(self._loop, "_selector", None)
        original = getattr(selector, "select", None)
        if original is not None and "select" not in vars(selector):
            def select(timeout: float | None = None, _original=original) -> Any:
                self._idle_enter()
                try:
                    return _original(timeout)
                finally:
                    self._busy_since = time.monotonic()
                    if self._parked:
                        self._wake.set()
            selector.select = select
            self._selector = selector
            self._busy_since = time.monotonic()  # this callback is running: the loop is busy now
            return
        self._due = time.monotonic() + self.interval_s
        self._handle = self._loop.call_later(self.interval_s, self._beat)

    def _unwrap(self) -> None:
        selector, self._selector = self._selector, None
        if selector is not None and "select" in vars(selector):
            del selector.select

    def _idle_enter(self) -> None:
        """The loop is about to wait in select: the busy span since it last left select is over."""
        since = self._busy_since
        if since is None:
            return
        now = time.monotonic()
        lag = now - since
        self._busy_since = None
        if lag > self._max_lag:
            self._max_lag = lag
        if lag * 1000.0 >= self.loop_block_ms and self._paused_beat != self.beats:
            self._ended.append((self.beats, lag, now))  # before the count moves: the sentinel relies on it
            self._wake.set()
        self.beats += 1

    def _beat(self) -> None:
        now = time.monotonic()
        lag = now - self._due
        if lag < 0.0:
            lag = 0.0
        if lag > self._max_lag:
            self._max_lag = lag
        if lag * 1000.0 >= self.loop_block_ms and self._paused_beat != self.beats:
            self._ended.append((self.beats, lag, now))  # before the count moves: the sentinel relies on it
            self._wake.set()
        self.beats += 1
        if self._stop.is_set() or self._loop is None:
            return
        self._due = now + self.interval_s
        self._handle = self._loop.call_later(self.interval_s, self._beat)

    # --- the sentinel thread -----------------------------------------------------------------

    def _run(self) -> None:
        started = time.thread_time()
        stall: _Stall | None = None
        try:
            while not self._stop.is_set():
                loop = self._loop
                if loop is None or loop.is_closed():
                    break
                beats = self.beats  # read before draining: a finished block is queued before the count moves
                while self._ended:
                    beat_no, lag, end = self._ended.popleft()
                    matched = stall if stall is not None and stall.beat_no == beat_no else None
                    self._record(matched, lag, end)
                    if matched is not None:
                        stall = None
                if stall is not None and stall.beat_no != beats:
                    stall = None  # the loop came back before loop_block_ms: a short stall, not a block
                now = time.monotonic()
                if self._selector is not None:
                    since = self._busy_since
                    overdue = now - since if since is not None else -self.onset_s
                    due = since if since is not None else now
                else:
                    overdue = now - self._due
                    due = self._due
                if self._loop_tid is None:
                    timeout = self.interval_s
                elif not loop.is_running():
                    self._paused_beat = beats  # stopped between run_until_complete calls: not a block
                    stall = None
                    timeout = 0.1
                elif overdue >= self.onset_s:
                    if stall is None:
                        stall = _Stall(beat_no=beats)
                    self._sample(stall)
                    timeout = self.sample_s
                elif self._selector is not None and self._busy_since is None:
                    # The loop waits in select: nothing can stall until it leaves it, and leaving it wakes
                    # us (the select wrapper). An idle cockpit costs no wake-up at all between ticks.
                    self._parked = True
                    timeout = PARK_S if self._busy_since is None else 0.0
                else:  # one wake-up per onset, not per beat: the sentinel's idle cost
                    timeout = max(due + self.onset_s - now, self.onset_s)
                self._wake.wait(timeout)
                self._parked = False
                self._wake.clear()
                self._cpu_s = time.thread_time() - started
        finally:
            self._cpu_s = time.thread_time() - started

    def _sample(self, stall: _Stall) -> None:
        tid = self._loop_tid
        frame = sys._current_frames().get(tid) if tid is not None else None
        stack: list[Frame] = []
        while frame is not None and len(stack) < MAX_FRAMES:
            code = frame.f_code
            stack.append((code.co_filename, frame.f_lineno or 0, code.co_name))
            frame = frame.f_back
        del frame
        stack.reverse()
        if stack:
            stall.samples.append((tuple(stack), active_scopes(tid, self._loop)))  # type: ignore[arg-type]

    def _record(self, stall: _Stall | None, lag: float, end_mono: float) -> None:
        end_wall = self.clock() - (time.monotonic() - end_mono)
        culprit, scopes, stack = summarize(stall.samples if stall is not None else [])
        block = Block(source=self.source, start=end_wall - lag, duration_ms=lag * 1000.0, culprit=culprit,
                      stack=stack, scopes=scopes, samples=len(stall.samples) if stall is not None else 0)
        self.blocks.append(block)
        if self.on_block is not None:
            try:
                self.on_block(block)
            except Exception:  # a broken callback must not kill the sentinel
                self.callback_errors += 1


class BlockLog:
    """Recent blocks from every source (the sentinel thread, log tails), safe to add from any thread."""

    def __init__(self, maxlen: int = 4096) -> None:
        self._blocks: deque[Block] = deque(maxlen=maxlen)
        self._lock = threading.Lock()
        self.added = 0

    def add(self, block: Block) -> None:
        with self._lock:
            self._blocks.append(block)
            self.added += 1

    def snapshot(self) -> tuple[Block, ...]:
        with self._lock:
            return tuple(self._blocks)

    def __len__(self) -> int:
        return len(self._blocks)
