"""External logs: ``[[logs]]`` files tailed for event-loop block lines (seed #7).

The gateway's own log says ``[event-loop-block] tick took 1855ms - no tracked work active
(untracked culprit)``; each matching line becomes a ``Block`` from that source, so the
cockpit can add up the drag before the gateway's heartbeat watchdog trips.

``LogTail`` reads only appended bytes, through the one line reader (``observe/lines.py``). It follows the path, not the inode: a rotated log
(renamed away, a new file at the path) is drained to its end and then the new file is read
from its start; a truncated log (copytruncate) is read again from its start. A log that
exists when the tail starts is read from its END (like ``tail -f``: history lines carry no
time the default pattern can read, so replaying them would count old blocks as new); one
that appears later is read from its start. Lines are bytes until matched: non-UTF-8 is
replaced, a line over ``max_line_bytes`` is skipped and counted, never fatal.

``LogWatcher`` runs the tails: ``await watcher.run()`` reacts to file events through
``watchfiles`` (the parent directories, non-recursive), and ``poll()`` is the fallback a
supervisor calls every tick (or a test, or a CLI without a watcher). Both read in the
calling thread: ``run()`` hands the reads to a worker thread, never the loop.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from cockpit.config import LogSource
from cockpit.observe.lines import LineTail, Oversize
from cockpit.observe.loopwatch import UNTRACKED, Block
from cockpit.records import BadLines

__all__ = ["LogTail", "LogWatcher", "parse_block_line"]

MAX_LINE_BYTES = 64 * 1024
MAX_READ_PER_POLL = 8 * 1024 * 1024  # a poll reads at most this much; the rest waits for the next
LINE_EVIDENCE_CHARS = 500


def parse_block_line(pattern: re.Pattern[str], line: str, *, source: str, now: float) -> Block | None:
    """A Block from one log line, or None when the line is not a block line (or its ms is not a number)."""
    match = pattern.search(line)
    if match is None:
        return None
    try:
        ms = float(match.group("ms"))
    except (IndexError, TypeError, ValueError, OverflowError):
        return None
    if not (ms >= 0.0 and ms < 1e9):  # NaN, negative and absurd values are not durations
        return None
    culprit = None
    if "culprit" in pattern.groupindex:
        culprit = (match.group("culprit") or "").strip() or None
    return Block(source=source, start=now - ms / 1000.0, duration_ms=ms, culprit=culprit or UNTRACKED,
                 line=line[:LINE_EVIDENCE_CHARS])


class LogTail:
    """Incremental reader of one log file; ``poll()`` returns the blocks appended since the last poll."""

    def __init__(self, source: LogSource, *, from_start: bool = False, clock: Callable[[], float] = time.time,
                 max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self.source = source
        self.path = Path(source.path)
        self.pattern = re.compile(source.pattern)
        self.clock = clock
        self.max_line_bytes = max_line_bytes
        self._lock = threading.Lock()
        # the one line reader: from the end like tail -f, a rotated log drained then followed from its start
        self._lines = LineTail(self.path, max_line_bytes=max_line_bytes, start="start" if from_start else "end",
                               replaced="drain", max_read_bytes=MAX_READ_PER_POLL)
        # counters shown with the source
        self.lines = 0
        self.bad = BadLines()
        self.errors = 0
        self.last_error: str | None = None

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def bad_lines(self) -> int:
        return self.bad.total

    @property
    def error(self) -> str | None:
        return self.last_error

    @property
    def rotations(self) -> int:
        return self._lines.rotations

    @property
    def truncations(self) -> int:
        return self._lines.truncations

    def poll(self) -> list[Block]:
        with self._lock:
            batch = self._lines.read()
            if batch.error is not None:  # unreadable, a directory, a FIFO...: counted and shown, never fatal
                self.errors += 1
                self.last_error = batch.error
            else:
                self.last_error = None
            now = self.clock()
            blocks = []
            for raw in batch.lines:
                if isinstance(raw, Oversize):
                    self.bad.add(f"log line over {self.max_line_bytes} bytes")
                    continue
                self.lines += 1
                block = parse_block_line(self.pattern, raw.rstrip(b"\r").decode("utf-8", "replace"),
                                         source=self.name, now=now)
                if block is not None:
                    blocks.append(block)
            return blocks

    def close(self) -> None:
        with self._lock:
            self._lines.close()


class LogWatcher:
    """All ``[[logs]]`` sources: ``poll()`` every tick, and ``run()`` to react to file events sooner.

    Every block found, by either path, goes to ``on_block`` (from the thread that read it)
    and is returned by ``poll()``.
    """

    def __init__(self, sources: Iterable[LogSource], *, on_block: Callable[[Block], Any] | None = None,
                 clock: Callable[[], float] = time.time, from_start: bool = False,
                 debounce_ms: int = 100) -> None:
        self.tails = [LogTail(s, clock=clock, from_start=from_start) for s in sources]
        self.on_block = on_block
        self.debounce_ms = debounce_ms
        self.events = 0  # file events seen by run()
        self.watching = False
        self.watch_error: str | None = None
        self._stop = threading.Event()  # watchfiles checks it every step: run() ends within ~50 ms

    def poll(self) -> list[Block]:
        blocks: list[Block] = []
        for tail in self.tails:
            blocks.extend(tail.poll())
        if self.on_block is not None:
            for block in blocks:
                self.on_block(block)
        return blocks

    def close(self) -> None:
        self._stop.set()
        for tail in self.tails:
            tail.close()

    async def run(self) -> None:
        """Tail on file events until ``close()`` or cancellation; without watchable dirs, return."""
        if not self.tails:
            return
        await asyncio.to_thread(self.poll)  # open each log at its end now, so lines from here on count
        paths = {str(t.path.absolute()) for t in self.tails}
        dirs = sorted({os.path.dirname(p) for p in paths if os.path.isdir(os.path.dirname(p))})
        if not dirs:
            return
        try:
            from watchfiles import awatch
        except ImportError as exc:  # pragma: no cover - a declared dependency
            self.watch_error = str(exc)
            return
        self.watching = True
        try:
            async for changes in awatch(*dirs, watch_filter=lambda _c, p: p in paths, recursive=False,
                                        debounce=self.debounce_ms, step=50, stop_event=self._stop):
                self.events += len(changes)
                await asyncio.to_thread(self.poll)
        except asyncio.CancelledError:
            self._stop.set()
            raise
        except Exception as exc:  # the directory vanished, inotify limits...: the tick's poll() still runs
            self.watch_error = f"{type(exc).__name__}: {exc}"
        finally:
            self.watching = False
