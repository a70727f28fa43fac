"""The routing record: a JSON file mapping agent name → session id (seed #3: the cache that lied).

Either shape per entry: ``{"tabs": "uuid"}`` or ``{"tabs": {"session_id": "uuid", ...other keys}}``.
Reading is tolerant: a missing, unreadable or malformed file is one clear error line, never a
crash, and entries of an unknown shape are reported, not fatal. ``repoint`` changes one
entry under the record's lock (``PATH.lock``, the lock the gateway must take too), keeps every
other entry and the entry's shape, replaces the file atomically (temp + fsync + rename: a
kill -9 at any instant leaves the old or the new file) and re-reads it to verify.
"""

from __future__ import annotations

import json
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from cockpit.fsutil import FILE_MODE, atomic_write
from cockpit.locks import LockTimeout, hold

__all__ = ["MAX_ROUTES_BYTES", "RoutesError", "RoutesRead", "lock_path_for", "read_routes", "repoint"]

MAX_ROUTES_BYTES = 16 << 20
SESSION_KEYS = ("session_id", "sessionId")
_STALE_TEMP_S = 60.0
_CAS_RETRIES = 5


class RoutesError(Exception):
    """The routing record cannot be read or changed: ``str(err)`` is the one line an operator reads."""


@dataclass(frozen=True)
class RoutesRead:
    """One read of the routing record. ``error`` set: the file as a whole could not be used."""
    path: Path
    sessions: Mapping[str, str] = field(default_factory=dict)     # agent -> session id
    shapes: Mapping[str, str] = field(default_factory=dict)       # agent -> "string" | "object"
    bad_entries: Mapping[str, str] = field(default_factory=dict)  # agent -> why the entry was not understood
    error: str | None = None
    missing: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None

    def get(self, agent: str) -> str | None:
        return self.sessions.get(agent)

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "sessions": dict(self.sessions), "shapes": dict(self.shapes),
                "bad_entries": dict(self.bad_entries), "error": self.error, "missing": self.missing}


def lock_path_for(path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".lock")


def _entry_session(value: Any) -> tuple[str | None, str | None, str | None]:
    """(session id, shape, why not understood)."""
    if isinstance(value, str):
        return (value, "string", None) if value.strip() else (None, None, "empty session id")
    if isinstance(value, dict):
        for key in SESSION_KEYS:
            sid = value.get(key)
            if isinstance(sid, str) and sid.strip():
                return sid, "object", None
            if key in value and sid is not None:
                return None, None, f"{key} is not a string"
        return None, "object", None  # an entry without a session yet
    if value is None:
        return None, None, None
    return None, None, f"expected a string or an object with session_id, got {type(value).__name__}"


def _parse(path: Path, raw: bytes) -> tuple[dict[str, Any] | None, str | None]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"{path}: expected UTF-8 JSON (bad byte at offset {exc.start})"
    try:
        data = json.loads(text)
    except RecursionError:
        return None, f"{path}: JSON nested too deeply"
    except ValueError as exc:
        return None, f"{path}: expected JSON ({_one_line(str(exc))})"
    if not isinstance(data, dict):
        return None, f"{path}: expected a JSON object mapping agent name to session id, got {type(data).__name__}"
    return data, None


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]


def _read_bytes(path: Path) -> bytes:
    # never a FIFO that blocks or a device that never ends: a regular file, bounded
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise RoutesError(f"{path}: not a regular file; not a routing record")
        raw = fh.read(MAX_ROUTES_BYTES + 1)
    if len(raw) > MAX_ROUTES_BYTES:
        raise RoutesError(f"{path}: larger than {MAX_ROUTES_BYTES} bytes; not a routing record")
    return raw


def read_routes(path: str | os.PathLike[str]) -> RoutesRead:
    """Read the record; never raises. A bad file gives ``error`` (one line) and no sessions."""
    path = Path(path)
    try:
        raw = _read_bytes(path)
    except FileNotFoundError:
        return RoutesRead(path, error=f"{path}: no such file", missing=True)
    except RoutesError as exc:
        return RoutesRead(path, error=str(exc))
    except OSError as exc:
        return RoutesRead(path, error=f"{path}: cannot be read: {exc.strerror or exc}")
    data, error = _parse(path, raw)
    if data is None:
        return RoutesRead(path, error=error)
    sessions: dict[str, str] = {}
    shapes: dict[str, str] = {}
    bad: dict[str, str] = {}
    for agent, value in data.items():
        sid, shape, why = _entry_session(value)
        if why is not None:
            bad[agent] = why
            continue
        if shape is not None:
            shapes[agent] = shape
        if sid is not None:
            sessions[agent] = sid
    return RoutesRead(path, sessions, shapes, bad)


def _render(data: dict[str, Any], original: bytes) -> bytes:
    """The record as JSON in the original's style (indented if it was multi-line), key order kept."""
    multi_line = b"\n" in original.strip()
    indent = None
    if multi_line:
        for line in original.splitlines()[1:]:
            stripped = line.lstrip(b" ")
            if stripped and len(line) != len(stripped):
                indent = len(line) - len(stripped)
                break
        indent = indent or 2
    end = "\n" if original.endswith(b"\n") or not original else ""
    try:
        return (json.dumps(data, indent=indent, ensure_ascii=False) + end).encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from \ud800 escapes: keep them escaped
        return (json.dumps(data, indent=indent, ensure_ascii=True) + end).encode("ascii")


def _with_entry(data: dict[str, Any], agent: str, session_id: str) -> tuple[dict[str, Any], str | None]:
    """A copy of ``data`` with only ``agent``'s session changed, its shape kept; and the old session id."""
    new = dict(data)
    old = data.get(agent)
    before, shape, why = _entry_session(old)
    if why is not None:
        raise RoutesError(f"entry {agent!r}: {why}; not rewriting an entry cockpit does not understand")
    if isinstance(old, dict):
        entry = dict(old)
        key = next((k for k in SESSION_KEYS if k in entry), SESSION_KEYS[0])
        entry[key] = session_id
        new[agent] = entry
    elif isinstance(old, str) or agent in data:
        new[agent] = session_id
    else:
        # A new entry takes the shape the record already uses.
        objects = [v for v in data.values() if isinstance(v, dict)]
        strings = [v for v in data.values() if isinstance(v, str)]
        new[agent] = {"session_id": session_id} if objects and len(objects) >= len(strings) else session_id
    return new, before


def _clean_stale_temps(path: Path) -> None:
    """Temp files of writers killed mid-write (ours: ``.NAME.<hex>.tmp``), once they are old."""
    prefix = f".{path.name}."
    now = time.time()
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith(prefix) and entry.name.endswith(".tmp"):
            try:
                if now - entry.stat(follow_symlinks=False).st_mtime > _STALE_TEMP_S:
                    os.unlink(entry.path)
            except OSError:
                pass


def repoint(path: str | os.PathLike[str], agent: str, session_id: str, *,
            lock: str | os.PathLike[str] | None = None, timeout: float = 10.0) -> tuple[str | None, str]:
    """Point ``agent`` at ``session_id`` in the record; returns (before, after) as re-read from disk.

    Under the lock (default ``PATH.lock``), read, change only that entry, write atomically,
    re-read and verify. Raises ``RoutesError`` (nothing changed on disk) for a missing or
    malformed record, a busy lock or a failed verification.
    """
    if not isinstance(session_id, str) or not session_id.strip() or not session_id.isprintable():
        raise RoutesError(f"refusing to write session id {session_id!r}: expected a non-empty printable string")
    if not isinstance(agent, str) or not agent:
        raise RoutesError("refusing to repoint an agent without a name")
    link = Path(path)
    target = Path(os.path.realpath(link))  # a symlinked record stays a symlink: replace its target
    lock_path = Path(lock) if lock is not None else lock_path_for(link)
    try:
        with hold(lock_path, timeout=timeout):
            return _repoint_locked(target, link, agent, session_id)
    except LockTimeout as exc:
        raise RoutesError(f"{link}: {exc}") from None
    except OSError as exc:
        raise RoutesError(f"{link}: {exc.strerror or exc}") from None


def _repoint_locked(target: Path, shown: Path, agent: str, session_id: str) -> tuple[str | None, str]:
    for _ in range(_CAS_RETRIES):
        try:
            original = _read_bytes(target)
            mode = os.stat(target).st_mode & 0o777
        except FileNotFoundError:
            raise RoutesError(f"{shown}: no such file; the gateway writes the routing record, cockpit only repoints it")
        data, error = _parse(shown, original)
        if data is None:
            raise RoutesError(f"{error}; not rewriting it")
        new, before = _with_entry(data, agent, session_id)
        payload = _render(new, original)
        # A writer that ignores the lock (a gateway without it) may have written since our read: start over.
        if _read_bytes(target) != original:
            continue
        atomic_write(target, payload, mode=mode or FILE_MODE)
        break
    else:
        raise RoutesError(f"{shown}: kept changing under us ({_CAS_RETRIES} tries); is its writer taking {shown}.lock?")
    _clean_stale_temps(target)
    # Verify: read back what is on disk now, not what we meant to write.
    check = read_routes(target)
    if check.error is not None:
        raise RoutesError(f"verification failed: {check.error}")
    after = check.sessions.get(agent)
    if after != session_id:
        raise RoutesError(f"verification failed: {shown} says {agent} -> {after!r} after writing {session_id!r}")
    for other, value in data.items():
        if other != agent and _entry_session(value)[0] != check.sessions.get(other):
            raise RoutesError(f"verification failed: entry {other!r} changed while repointing {agent!r}")
    return before, after
