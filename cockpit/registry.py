"""Append-only JSONL stores: the registry of agent lifecycles and the cockpit's journal.

Every writer appends one whole line under the store's lock file, and the pruner
rewrites the file under that SAME lock (seed #4: a pruner that rewrote the
registry without it dropped spawn rows appended during its read). Readers never
take the lock: appends are single O_APPEND writes and a prune is an atomic
rename, so a reader sees the old file or the new one, and at worst a last line
still being written, which it leaves for later.

Registry rows (STATE/registry.jsonl), one per lifecycle event:

- ``ts``: ISO-8601 UTC with millisecond precision and a ``Z`` (added on append).
- ``event``: ``spawn_requested``, ``spawned`` (written only after the spawn was
  verified), ``spawn_failed``, ``exit``, ``reaped``, ``repointed`` or ``adopted`` (a live
  process the cockpit did not start, marked as the agent: ``cockpit adopt``; it opens a
  lifecycle like ``spawned``, with the ``pid``, ``start`` and ``pane`` it was verified in).
- ``agent``: the agent's name.
- ``spawn_id``: a short unique id (``new_spawn_id()``) shared by the rows of one
  lifecycle: spawn_requested, spawned or spawn_failed, then exit or reaped. A row
  about a process the cockpit never spawned (e.g. a foreign wrapper it reaped)
  carries none and is not part of any lifecycle.
- optional: ``pid``, ``start`` (the process start time in clock ticks, checked
  before any signal), ``pane``, ``port``, ``session_id``, ``reason``, ``check``
  (which verification failed), ``screen`` (the captured pane).

A lifecycle is closed by its ``exit``, ``reaped`` or ``spawn_failed`` row.

Journal rows (STATE/journal.jsonl): ``ts``, ``kind`` ("action", "finding",
"resolved", "info", ...), ``summary`` and, when known, ``agent``, ``action``,
``before``, ``after``, ``evidence``, ``result``, ``actor``.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cockpit import timefmt
from cockpit.fsutil import append_line, atomic_write, ensure_private_dir
from cockpit.locks import hold

MAX_LINE_BYTES = 1 << 20
_CHUNK = 1 << 16

EVENTS = ("spawn_requested", "spawned", "spawn_failed", "exit", "reaped", "repointed", "adopted")
OPENING_EVENTS = frozenset({"spawned", "adopted"})  # a verified live process the lifecycle is about
CLOSING_EVENTS = frozenset({"exit", "reaped", "spawn_failed"})

Row = dict[str, Any]


@dataclass(frozen=True)
class ReadResult:
    rows: list[Row] = field(default_factory=list)
    bad_lines: int = 0
    reset: bool = False  # the file was replaced or truncated: rows start from the beginning again


@dataclass(frozen=True)
class PruneResult:
    kept: int
    dropped: int
    bad_lines: int = 0  # lines that were not rows; kept verbatim unless longer than max_line_bytes


def new_spawn_id() -> str:
    return secrets.token_hex(6)


def latest_by_agent(rows: Iterable[Mapping[str, Any]]) -> dict[str, Row]:
    """Each agent's newest ``spawned`` row (the last one in file order)."""
    latest: dict[str, Row] = {}
    for row in rows:
        agent = row.get("agent")
        if row.get("event") == "spawned" and isinstance(agent, str):
            latest[agent] = dict(row)
    return latest


def _dumps(row: Mapping[str, Any]) -> str:
    text = json.dumps(row, ensure_ascii=False, separators=(",", ":"), default=str)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates (undecodable file names, pane bytes) cannot be UTF-8: escape them rather than lose the row.
        text = json.dumps(row, ensure_ascii=True, separators=(",", ":"), default=str)
    return text


def _parse(line: bytes) -> Row | None:
    try:
        value = json.loads(line.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


class _Scanner:
    """Splits a file into complete lines from a byte offset, in bounded memory.

    Yields each complete line's bytes, or None once for a line longer than
    ``max_line_bytes`` (whose bytes are skipped up to its newline). ``offset`` ends
    after the last complete line; ``pending`` counts the bytes of an unterminated
    last line, which is left for the next scan.
    """

    def __init__(self, max_line_bytes: int) -> None:
        self.max_line_bytes = max_line_bytes
        self.offset = 0
        self.discarding = False
        self.pending = 0

    def lines(self, fd: int) -> Iterator[bytes | None]:
        buf = bytearray()
        while chunk := os.pread(fd, _CHUNK, self.offset + len(buf)):
            buf += chunk
            start = 0
            while (newline := buf.find(b"\n", start)) != -1:
                line = bytes(buf[start:newline])
                start = newline + 1
                if self.discarding:
                    self.discarding = False
                    continue
                yield None if len(line) > self.max_line_bytes else line
            del buf[:start]
            self.offset += start
            if len(buf) > self.max_line_bytes and not self.discarding:
                self.discarding = True
                yield None
            if self.discarding:
                self.offset += len(buf)
                buf.clear()
        self.pending = len(buf)


def _collect(scanner: _Scanner, fd: int) -> tuple[list[Row], int]:
    rows: list[Row] = []
    bad = 0
    for line in scanner.lines(fd):
        if line is not None and not line.strip():
            continue
        row = None if line is None else _parse(line)
        if row is None:
            bad += 1
        else:
            rows.append(row)
    return rows, bad


class Tail:
    """Incremental reader of a JSONL file: each ``read_new`` returns only the rows appended since the last.

    It keeps the file open between calls, so the inode it follows cannot be
    recycled for another file; a replaced (pruned) or truncated file is read again
    from the start with ``reset=True``.
    """

    def __init__(self, path: Path, *, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self.path = Path(path)
        self._max_line_bytes = max_line_bytes
        self._scanner = _Scanner(max_line_bytes)
        self._fd: int | None = None
        self._ident: tuple[int, int] | None = None

    @property
    def offset(self) -> int:
        return self._scanner.offset

    def read_new(self) -> ReadResult:
        reset = False
        try:
            ident = _ident(os.stat(self.path))
        except FileNotFoundError:
            reset = self._fd is not None or self._scanner.offset > 0
            self._restart()
            return ReadResult([], 0, reset)
        if self._fd is None or ident != self._ident:
            reset = self._fd is not None
            self._restart()
            try:
                self._fd = os.open(self.path, os.O_RDONLY)
            except FileNotFoundError:
                return ReadResult([], 0, reset)
            self._ident = _ident(os.fstat(self._fd))
        if self._rewritten_in_place(self._fd):
            reset = True
            self._scanner = _Scanner(self._max_line_bytes)
        rows, bad = _collect(self._scanner, self._fd)
        return ReadResult(rows, bad, reset)

    def close(self) -> None:
        self._restart()

    def _rewritten_in_place(self, fd: int) -> bool:
        """Truncated below our offset, or the byte before it is no longer the newline we stopped after."""
        offset = self._scanner.offset
        if os.fstat(fd).st_size < offset:
            return True
        return offset > 0 and not self._scanner.discarding and os.pread(fd, 1, offset - 1) != b"\n"

    def _restart(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
        self._fd = None
        self._ident = None
        self._scanner = _Scanner(self._max_line_bytes)

    def __enter__(self) -> Tail:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            os.close(fd)


def _ident(st: os.stat_result) -> tuple[int, int]:
    return (st.st_dev, st.st_ino)


class JsonlStore:
    """An append-only JSONL file whose writers all take one lock file (default: PATH.lock)."""

    def __init__(
        self,
        path: Path,
        lock_path: Path | None = None,
        *,
        clock: Callable[[], float] = time.time,
        lock_timeout: float = 30.0,
        max_line_bytes: int = MAX_LINE_BYTES,
    ) -> None:
        self.path = Path(path)
        self.lock_path = Path(lock_path) if lock_path is not None else self.path.with_name(self.path.name + ".lock")
        self._clock = clock
        self._lock_timeout = lock_timeout
        self._max_line_bytes = max_line_bytes

    def append(self, row: Mapping[str, Any]) -> Row:
        return self.append_many([row])[0]

    def append_many(self, rows: Iterable[Mapping[str, Any]]) -> list[Row]:
        """Append rows (stamped with ``ts`` when absent) in one write under the lock."""
        stamped = [self._stamp(row) for row in rows]
        if not stamped:
            return []
        text = "\n".join(_dumps(row) for row in stamped)
        with self.locked():
            if not self._ends_with_newline():
                # seed #4: a line torn by a crashed writer must not swallow the next row into a bad line.
                text = "\n" + text
            append_line(self.path, text)
        return stamped

    def read_all(self) -> ReadResult:
        """Every row; bad lines (torn, non-UTF-8, not an object, over max_line_bytes) are counted, never raised."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return ReadResult()
        try:
            scanner = _Scanner(self._max_line_bytes)
            rows, bad = _collect(scanner, fd)
            if scanner.pending and os.pread(fd, scanner.pending, scanner.offset).strip():
                bad += 1  # an unterminated last line: torn, or still being written
            return ReadResult(rows, bad)
        finally:
            os.close(fd)

    def tail(self) -> Tail:
        return Tail(self.path, max_line_bytes=self._max_line_bytes)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store's lock: the one every writer and the pruner take."""
        ensure_private_dir(self.path.parent)
        with hold(self.lock_path, timeout=self._lock_timeout):
            yield

    def _stamp(self, row: Mapping[str, Any]) -> Row:
        if "ts" in row:
            return dict(row)
        return {"ts": timefmt.iso(self._clock()), **row}

    def _ends_with_newline(self) -> bool:
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return True
        try:
            size = os.fstat(fd).st_size
            return size == 0 or os.pread(fd, 1, size - 1) == b"\n"
        finally:
            os.close(fd)


@dataclass
class _Lifecycle:
    first_index: int
    agent: str | None = None
    closed: bool = False
    newest_ts: float | None = None
    undated: bool = False


def _keep_mask(rows: list[Row], cutoff: float) -> list[bool]:
    """Which rows a prune keeps: whole closed lifecycles older than ``cutoff`` go, never half of one."""
    lifecycles: dict[str, _Lifecycle] = {}
    for index, row in enumerate(rows):
        spawn_id = row.get("spawn_id")
        if not isinstance(spawn_id, str) or not spawn_id:
            continue
        life = lifecycles.setdefault(spawn_id, _Lifecycle(first_index=index))
        agent = row.get("agent")
        if life.agent is None and isinstance(agent, str):
            life.agent = agent
        if row.get("event") in CLOSING_EVENTS:
            life.closed = True
        ts = timefmt.parse(row.get("ts"))
        if ts is None:
            life.undated = True
        elif life.newest_ts is None or ts > life.newest_ts:
            life.newest_ts = ts

    newest_of_agent: dict[str, str] = {}
    for spawn_id, life in lifecycles.items():
        if life.agent is None:
            continue
        current = newest_of_agent.get(life.agent)
        if current is None or lifecycles[current].first_index < life.first_index:
            newest_of_agent[life.agent] = spawn_id

    droppable = {
        spawn_id
        for spawn_id, life in lifecycles.items()
        if life.closed
        and not life.undated
        and life.newest_ts is not None
        and life.newest_ts < cutoff
        and newest_of_agent.get(life.agent or "") != spawn_id
    }

    mask: list[bool] = []
    for row in rows:
        spawn_id = row.get("spawn_id")
        if isinstance(spawn_id, str) and spawn_id:
            mask.append(spawn_id not in droppable)
        else:
            ts = timefmt.parse(row.get("ts"))
            mask.append(ts is None or ts >= cutoff)
    return mask


class Registry(JsonlStore):
    """STATE/registry.jsonl: one row per lifecycle event; see the module docstring for the fields."""

    def event(self, event: str, *, agent: str, spawn_id: str | None = None, **fields: Any) -> Row:
        if event not in EVENTS:
            raise ValueError(f"unknown registry event {event!r} (expected one of {', '.join(EVENTS)})")
        row: Row = {"event": event, "agent": agent}
        if spawn_id is not None:
            row["spawn_id"] = spawn_id
        row.update(fields)
        return self.append(row)

    def prune(self, now: float, max_age_s: float) -> PruneResult:
        """Drop closed lifecycles (and lifecycle-less rows) older than ``max_age_s``, keeping each agent's newest.

        Holds the writers' lock from the read through the rename, so no append can
        land in between and be lost (seed #4); the file is rewritten only when
        something is dropped.
        """
        with self.locked():
            try:
                fd = os.open(self.path, os.O_RDONLY)
            except FileNotFoundError:
                return PruneResult(0, 0)
            try:
                lines, bad = self._read_lines(fd)
            finally:
                os.close(fd)
            rows = [row for _, row in lines if row is not None]
            mask = iter(_keep_mask(rows, now - max_age_s))
            kept: list[bytes] = []
            dropped = 0
            for raw, row in lines:
                if row is None or next(mask):
                    kept.append(raw)
                else:
                    dropped += 1
            if dropped:
                atomic_write(self.path, b"".join(raw + b"\n" for raw in kept))
            return PruneResult(len(rows) - dropped, dropped, bad)

    def _read_lines(self, fd: int) -> tuple[list[tuple[bytes, Row | None]], int]:
        """Every line with its parsed row (None for a bad line); oversize lines are counted, not kept."""
        scanner = _Scanner(self._max_line_bytes)
        lines: list[tuple[bytes, Row | None]] = []
        bad = 0
        for line in scanner.lines(fd):
            if line is None:
                bad += 1
            elif line.strip():
                row = _parse(line)
                bad += row is None
                lines.append((line, row))
        if scanner.pending and not scanner.discarding:
            torn = os.pread(fd, scanner.pending, scanner.offset)
            if torn.strip():
                bad += 1
                lines.append((torn, None))
        return lines, bad


class Journal(JsonlStore):
    """STATE/journal.jsonl: every decision and action the cockpit took, with its evidence."""

    def record(
        self,
        kind: str,
        *,
        agent: str | None = None,
        action: str | None = None,
        summary: str,
        before: Any = None,
        after: Any = None,
        evidence: Any = None,
        result: Any = None,
        actor: str | None = None,
    ) -> Row:
        row: Row = {"kind": kind, "summary": summary}
        optional = {
            "agent": agent, "action": action, "before": before, "after": after,
            "evidence": evidence, "result": result, "actor": actor,
        }
        row.update({key: value for key, value in optional.items() if value is not None})
        return self.append(row)
