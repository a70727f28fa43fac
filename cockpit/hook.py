"""``cockpit hook``: the relay an agent's hooks run (SPEC §8), tiny and always exit 0.

Claude Code runs it for every hook with the hook's JSON on stdin; Codex runs
``cockpit hook --codex JSON`` after each turn (its ``notify`` program). It adds the agent's
name (``$COCKPIT_AGENT``, set by the cockpit at spawn), sends one JSON line to the
supervisor's socket (``$COCKPIT_EVENTS`` = ``STATE/events.sock``) and, when no supervisor
listens, appends the line to ``STATE/events/<agent>.jsonl`` itself. A hook must never block or
fail its agent (a ``Stop`` hook that exits 2 blocks the stop): every path exits 0, quickly.

It runs on every hook, so it starts fast: the standard library only (no Textual, no asyncio,
no config file, no filelock: the fallback append takes the same ``flock`` on ``PATH.lock`` that
``cockpit.locks`` takes through filelock). ``cockpit bench`` measures its start.
"""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import sys
import time

from cockpit import timefmt

__all__ = ["event_row", "events_path", "main", "relay", "socket_address"]

AGENT_ENV = "COCKPIT_AGENT"
EVENTS_ENV = "COCKPIT_EVENTS"
MAX_INPUT_BYTES = 1 << 20     # a hook's stdin beyond this is cut (a huge tool_input is not status)
MAX_TEXT_CHARS = 8192         # each string kept from the payload (a wake's text is matched in `prompt`)
MAX_LIST_ITEMS = 20
SEND_TIMEOUT_S = 0.25         # connect + send to the supervisor; past it the line goes to the file
LOCK_WAIT_S = 0.5             # the fallback append waits this long for the events file's lock
SUN_PATH_MAX = 100            # sockaddr_un holds 108 bytes: longer paths go through /proc/self/fd
# The agent names the config accepts (cockpit.config): a name can never walk out of STATE/events/.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _bounded(value: object, depth: int = 0) -> object:
    """A JSON value cut to size: long strings trimmed, long lists shortened, deep nesting dropped."""
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT_CHARS else value[:MAX_TEXT_CHARS] + "…"
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if depth >= 2:
        return None
    if isinstance(value, list):
        return [_bounded(v, depth + 1) for v in value[:MAX_LIST_ITEMS]]
    if isinstance(value, dict):
        return {str(k)[:64]: _bounded(v, depth + 1) for k, v in list(value.items())[:MAX_LIST_ITEMS]}
    return None


def event_row(payload: object, agent: str, *, now: float, via: str = "claude") -> dict[str, object]:
    """The events-file row of one hook payload (also what the supervisor re-checks on receipt).

    ``event`` is the hook's ``hook_event_name`` (Codex: its ``type``, ``agent-turn-complete``);
    the payload's top-level fields are kept, bounded; ``tool_input``/``tool_response`` are dropped.
    """
    fields = payload if isinstance(payload, dict) else {}
    row: dict[str, object] = {"ts": timefmt.iso(now), "agent": agent, "via": via}
    name = fields.get("hook_event_name") if via != "codex" else fields.get("type")
    row["event"] = name if isinstance(name, str) and name else "unknown"
    if not isinstance(payload, dict):
        row["bad_payload"] = True
    for key, value in list(fields.items())[:64]:
        key = str(key)[:64]
        if key in row or key in ("tool_input", "tool_response"):
            continue
        row[key] = _bounded(value)
    return row


def socket_address(path: str) -> tuple[str, int | None]:
    """A connectable address for ``path``: itself, or ``/proc/self/fd/N/name`` when it is too long."""
    if len(os.fsencode(path)) <= SUN_PATH_MAX:
        return path, None
    fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY)
    return f"/proc/self/fd/{fd}/{os.path.basename(path)}", fd


def send(sock_path: str, line: bytes) -> bool:
    """One line to the supervisor's socket; False when nobody listens (or it is too slow)."""
    address, fd = socket_address(sock_path)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(SEND_TIMEOUT_S)
            sock.connect(address)
            sock.sendall(line)
            sock.shutdown(socket.SHUT_WR)
            try:
                sock.recv(1)  # the listener closes once the line is on disk; a busy one is not waited for
            except OSError:
                pass  # the line was handed over: appending it here too would record it twice
        return True
    except OSError:
        return False
    finally:
        if fd is not None:
            os.close(fd)


def events_path(sock_path: str, agent: str) -> str:
    """``STATE/events/<agent>.jsonl`` for the socket ``STATE/events.sock``."""
    return os.path.join(os.path.dirname(sock_path), "events", agent + ".jsonl")


def append(path: str, line: bytes) -> bool:
    """Append one line under the file's lock (``PATH.lock``, flock), never through a symlink."""
    directory = os.path.dirname(path)
    try:
        os.mkdir(directory, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return False
    flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        lock = os.open(path + ".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError:
        return False
    try:
        _flock(lock)
        fd = os.open(path, flags, 0o600)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return False  # a FIFO or device planted in the state dir is not an events file
            size = st.st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line  # a torn last line must not swallow this one
            os.write(fd, line)
        finally:
            os.close(fd)
        return True
    except OSError:
        return False
    finally:
        os.close(lock)  # closing the descriptor releases the flock


def _flock(fd: int) -> None:
    import fcntl

    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return  # a stuck holder must not stall the agent: append unlocked (O_APPEND, one write)
            time.sleep(0.005)


def relay(payload: object, *, agent: str, sock_path: str, via: str = "claude", now: float | None = None) -> str:
    """Send the payload's row to the supervisor, else append it; says which ("sent", "appended", "lost")."""
    row = event_row(payload, agent, now=time.time() if now is None else now, via=via)
    line = (json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8", "replace")
    if send(sock_path, line):
        return "sent"
    return "appended" if append(events_path(sock_path, agent), line) else "lost"


def _read_stdin() -> bytes:
    try:
        if sys.stdin is None or sys.stdin.isatty():
            return b""
        return sys.stdin.buffer.read(MAX_INPUT_BYTES)
    except (OSError, ValueError):
        return b""


def _parse(raw: bytes | str) -> object:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


def main(argv: list[str] | None = None) -> int:
    """``cockpit hook [--codex JSON]``: always 0; does nothing outside an agent the cockpit spawned."""
    try:
        args = list(sys.argv[2:] if argv is None else argv)
        agent = os.environ.get(AGENT_ENV, "")
        sock_path = os.environ.get(EVENTS_ENV, "")
        codex = bool(args) and args[0] == "--codex"
        payload = _parse(args[-1]) if codex and len(args) > 1 else (None if codex else _parse(_read_stdin()))
        if not NAME_RE.match(agent) or not os.path.isabs(sock_path):
            return 0  # not one of the cockpit's agents (or a hostile name): nothing to relay
        relay(payload, agent=agent, sock_path=sock_path, via="codex" if codex else "claude")
    except Exception:  # noqa: BLE001 - a hook never fails its agent, whatever happened
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
