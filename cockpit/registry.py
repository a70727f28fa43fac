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
import stat
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cockpit import timefmt
from cockpit.fsutil import (
    StateFileError,
    append_line,
    atomic_write,
    ensure_private_dir,
    open_state_file,
    state_file_error,
)
from cockpit.locks import hold
from cockpit.observe.lines import LineBatch, LineTail, Oversize
from cockpit.records import JOURNAL_ROW, REGISTRY_ROW, BadLines, Schema, json_object

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
    bad: BadLines = field(default_factory=BadLines)  # the bad lines by reason
    error: str | None = None  # the file could not be read at all (not a regular file, unreadable): one line


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
    value, _ = json_object(line)
    return value


def _collect(batch: LineBatch, schema: Schema | None, bad: BadLines) -> list[Row]:
    """The rows of a read: each line through the store's schema; what is not a row is counted in ``bad``."""
    rows: list[Row] = []
    for line in batch.lines:
        if isinstance(line, Oversize):
            bad.add(f"line over the size limit ({line.size} bytes)")
            continue
        if not line.strip():
            continue
        row = schema.line(line, bad) if schema is not None else _untyped(line, bad)
        if row is not None:
            rows.append(row)
    return rows


def _untyped(line: bytes, bad: BadLines) -> Row | None:
    value, why = json_object(line)
    if value is None:
        bad.add(why or "bad line", line)
    return value


class Tail:
    """Incremental reader of a JSONL store: each ``read_new`` returns only the rows appended since the last.

    It keeps the file open between calls (the one ``LineTail``), so the inode it follows cannot be
    recycled for another file; a replaced (pruned) or truncated file is read again from the start
    with ``reset=True``. Every line goes through the store's schema: bad lines are counted by reason.
    """

    def __init__(self, path: Path, *, max_line_bytes: int = MAX_LINE_BYTES, schema: Schema | None = None) -> None:
        self.path = Path(path)
        self.schema = schema
        self.bad = BadLines()  # every bad line this tail has seen, by reason (shown with its source)
        self._lines = LineTail(self.path, max_line_bytes=max_line_bytes, keep_open=True, nofollow=True)
        self.error: str | None = None

    @property
    def offset(self) -> int:
        return self._lines.offset

    def read_new(self) -> ReadResult:
        batch = self._lines.read()
        self.error = batch.error
        if batch.reset:
            self.bad.clear()  # the file is read again from its start: its bad lines are counted again
        bad = BadLines()
        rows = _collect(batch, self.schema, bad)
        self.bad.merge(bad)
        return ReadResult(rows, bad.total, batch.reset, bad=bad, error=batch.error)

    def close(self) -> None:
        self._lines.close()

    def __enter__(self) -> Tail:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class JsonlStore:
    """An append-only JSONL file whose writers all take one lock file (default: PATH.lock)."""

    schema: Schema | None = None  # what a row must be (records.py); None: any JSON object

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
        with self.locked():
            self._append_locked(stamped)
        return stamped

    def append_with(self, rows: Iterable[Mapping[str, Any]], then: Callable[[list[Row]], Any]) -> list[Row]:
        """Append rows and run ``then(rows)`` under the lock: both or neither. If ``then`` raises (the
        journal row of the same act could not be written), the rows are taken back before it propagates."""
        stamped = [self._stamp(row) for row in rows]
        with self.locked():
            size = self._size()
            self._append_locked(stamped)
            try:
                then(stamped)
            except BaseException:
                self._truncate(size)
                raise
        return stamped

    def check_writable(self) -> None:
        """Raise ``StateFileError`` (one line) unless the store can be appended to: its dir usable, the file
        regular, not a symlink. Creates an empty file when there is none."""
        ensure_private_dir(self.path.parent)
        os.close(open_state_file(self.path, os.O_WRONLY | os.O_APPEND))

    def check_usable(self) -> None:
        """Raise ``StateFileError`` (one line naming it) when the store exists but is not a regular file
        (a directory, a FIFO, a planted symlink) or cannot be read. Writes nothing."""
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise state_file_error(self.path, exc) from None
        if stat.S_ISLNK(st.st_mode):
            raise StateFileError(f"{self.path}: is a symlink; refusing to follow it (state files are never "
                                 "written through a link: remove it)")
        if not stat.S_ISREG(st.st_mode):
            raise StateFileError(f"{self.path}: not a regular file")
        if not os.access(self.path, os.R_OK):
            raise StateFileError(f"{self.path}: cannot be read (permission denied)")

    def _append_locked(self, stamped: list[Row]) -> None:
        if not stamped:
            return
        text = "\n".join(_dumps(row) for row in stamped)
        if not self._ends_with_newline():
            # seed #4: a line torn by a crashed writer must not swallow the next row into a bad line.
            text = "\n" + text
        append_line(self.path, text)

    def _size(self) -> int:
        try:
            return os.lstat(self.path).st_size
        except FileNotFoundError:
            return 0

    def _truncate(self, size: int) -> None:
        fd = open_state_file(self.path, os.O_WRONLY)
        try:
            os.ftruncate(fd, size)
        finally:
            os.close(fd)

    def read_all(self) -> ReadResult:
        """Every row; bad lines (torn, non-UTF-8, not an object, a field of the wrong type, over
        max_line_bytes) are counted by reason, never raised. A store that is not a regular file
        (a directory, a FIFO, a symlink) raises ``StateFileError``: one line naming it."""
        batch = LineTail(self.path, max_line_bytes=self._max_line_bytes, nofollow=True).read()
        if batch.error is not None:
            raise StateFileError(batch.error)
        bad = BadLines()
        rows = _collect(batch, self.schema, bad)
        if batch.partial.strip():
            bad.add(f"{self._what()}: unterminated last line (torn, or still being written)", batch.partial)
        return ReadResult(rows, bad.total, bad=bad)

    def tail(self) -> Tail:
        return Tail(self.path, max_line_bytes=self._max_line_bytes, schema=self.schema)

    def _what(self) -> str:
        return self.schema.name if self.schema is not None else self.path.name

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
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            return True
        except OSError as exc:
            raise state_file_error(self.path, exc) from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise StateFileError(f"{self.path}: not a regular file")
            size = st.st_size
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

    schema = REGISTRY_ROW

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
            lines, bad = self._read_lines()
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

    def _read_lines(self) -> tuple[list[tuple[bytes, Row | None]], int]:
        """Every line with its row (None for a bad line, kept verbatim); oversize lines are counted, not kept."""
        batch = LineTail(self.path, max_line_bytes=self._max_line_bytes, nofollow=True).read()
        if batch.error is not None:
            raise StateFileError(batch.error)
        lines: list[tuple[bytes, Row | None]] = []
        bad = BadLines()
        for line in batch.lines:
            if isinstance(line, Oversize):
                bad.add("line over the size limit")
            elif line.strip():
                value, _ = json_object(line)
                row, _ = REGISTRY_ROW.parse(value) if value is not None else (None, None)
                bad.add("bad line") if row is None else None
                lines.append((line, row))
        if batch.partial.strip():
            bad.add("unterminated last line")
            lines.append((batch.partial, None))
        return lines, bad.total


class Journal(JsonlStore):
    """STATE/journal.jsonl: every decision and action the cockpit took, with its evidence."""

    schema = JOURNAL_ROW

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
