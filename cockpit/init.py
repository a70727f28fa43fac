"""``cockpit init``: write a config for the agents that already run on a tmux server.

One ``[[agents]]`` per pane whose process tree runs Claude Code or Codex (or matches ``--match``),
named from its window, with the cwd and argv of its process (session flags removed: a respawn
adds its own), then ``[tmux]`` (the server it looked at; the session respawned agents get a
window in) and ``[state]``. An existing file is never overwritten without ``--force``, which
keeps the old one as ``FILE.bak``. The text written is parsed back with the cockpit's own config
parser before it replaces anything: init never writes a config the cockpit would refuse.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from cockpit.config import ConfigError, parse_config
from cockpit.fsutil import atomic_write
from cockpit.observe.discover import Found, Scan, Skipped

DEFAULT_SESSION = "agents"
DEFAULT_STATE_DIR = "~/.local/state/cockpit"


class InitError(Exception):
    """init cannot go on: one line for the operator (exit 2, nothing written)."""


def server_from(socket: str | None, socket_path: str | None, env: Mapping[str, str]) -> tuple[str, str]:
    """Which tmux server: ``("socket", NAME)`` or ``("socket_path", PATH)``; default ``$TMUX``'s, else tmux's own."""
    if socket:
        return ("socket", socket)
    if socket_path:
        return ("socket_path", os.path.abspath(os.path.expanduser(socket_path)))
    tmux = env.get("TMUX", "")
    if tmux and tmux.split(",", 1)[0]:
        return ("socket_path", tmux.split(",", 1)[0])
    return ("socket", "default")


def server_args(server: tuple[str, str]) -> tuple[str, ...]:
    return ("-L", server[1]) if server[0] == "socket" else ("-S", server[1])


def toml_str(text: str) -> str:
    """A TOML basic string (quotes, backslashes and control characters escaped)."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif code < 0x20 or code == 0x7F:
            out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(ch, f"\\u{code:04X}"))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _unwritable(found: Found) -> str | None:
    """Why the agent cannot be written as a config the parser reads back the same; None if it can."""
    for what, text in (("cwd", found.cwd), ("command", found.argv[0] if found.argv else "")):
        if "$" in text or text.startswith("~"):
            return f"its {what} {text!r} holds '$' or starts with '~', which a config would expand"
    for text in (found.cwd, *found.argv, *found.env.values()):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "its command line or cwd is not UTF-8"
    return None


def writable(scan: Scan) -> Scan:
    """The scan with the agents a config cannot hold moved to the skipped, with why."""
    keep: list[Found] = []
    skipped = list(scan.skipped)
    for found in scan.found:
        why = _unwritable(found)
        if why is None:
            keep.append(found)
        else:
            skipped.append(Skipped(found.pane, why))
    return Scan(tuple(keep), tuple(skipped))


def session_for(found: Sequence[Found]) -> str:
    """The session respawned agents get a window in: the one the agents share, else ``agents``."""
    sessions = Counter(f.pane.session for f in found)
    if len(sessions) == 1:
        (session,) = sessions
        if re.match(r"^[A-Za-z0-9_.-]+$", session):
            return session
    return DEFAULT_SESSION


def render(found: Sequence[Found], server: tuple[str, str], *, session: str, now: datetime | None = None) -> str:
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [
        f"# Written by cockpit init at {stamp} from the agents running on tmux {' '.join(server_args(server))}.",
        "# Every key and its default: config/cockpit.example.toml. `cockpit adopt NAME PANE` supervises a",
        "# running agent without restarting it; `cockpit init --adopt` does it for all of them.",
        "",
        "[tmux]",
        f"{server[0]} = {toml_str(server[1])}",
        f"session = {toml_str(session)}   # respawned agents get a window of their own here",
        "",
        "[state]",
        f"dir = {toml_str(DEFAULT_STATE_DIR)}",
    ]
    for f in found:
        lines += ["", f"# found in {f.where}, pid {f.proc.pid}"
                  + (f"; removed {' '.join(f.removed)}" if f.removed else "")
                  + (f"; live session {f.session_id}" if f.session_id else ""),
                  "[[agents]]",
                  f"name = {toml_str(f.name)}",
                  f"kind = {toml_str(f.kind)}",
                  f"cwd = {toml_str(f.cwd)}",
                  "command = [" + ", ".join(toml_str(a) for a in f.argv) + "]"]
        if f.env:
            lines.append("env = { " + ", ".join(f"{k} = {toml_str(v)}" for k, v in sorted(f.env.items())) + " }")
    return "\n".join(lines) + "\n"


def check_text(text: str, path: Path) -> None:
    """The text must parse as the config it is meant to be (nothing written otherwise)."""
    try:
        parse_config(tomllib.loads(text), path=path)
    except (ValueError, ConfigError) as exc:
        raise InitError(f"{path}: the config init built does not parse back ({exc}); nothing written") from None


def write_config(path: Path, text: str, *, force: bool) -> Path | None:
    """Write ``text`` to ``path`` atomically; with ``force`` the old file is kept as ``.bak`` (returned)."""
    if path.is_dir():
        raise InitError(f"{path} is a directory; pass --config FILE")
    if path.is_symlink():  # replacing it would turn a managed link (dotfiles) into a plain file, silently
        raise InitError(f"{path} is a symlink (to {os.readlink(path)}); nothing written: pass --config with the "
                        "file it points to")
    backup: Path | None = None
    if path.exists() or path.is_symlink():
        if not force:
            raise InitError(f"{path} exists; nothing written (--force replaces it and keeps it as {path.name}.bak)")
        try:
            old = path.read_bytes()
        except OSError as exc:
            raise InitError(f"{path}: cannot be read to keep a backup ({exc.strerror or exc}); nothing written") \
                from None
        backup = path.with_name(path.name + ".bak")
        atomic_write(backup, old, mode=0o600)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, text, mode=0o644)
    except OSError as exc:
        raise InitError(f"{path}: cannot be written ({exc.strerror or exc})") from None
    return backup


@dataclass(frozen=True)
class InitPlan:
    path: Path
    server: tuple[str, str]
    session: str
    scan: Scan
    text: str


def plan(scan: Scan, server: tuple[str, str], path: Path) -> InitPlan:
    scan = writable(scan)
    session = session_for(scan.found)
    text = render(scan.found, server, session=session)
    if scan.found:
        check_text(text, path)
    return InitPlan(path, server, session, scan, text)


def summary_lines(p: InitPlan) -> list[str]:
    """What init found and skipped, one line each."""
    where = " ".join(server_args(p.server))
    lines = [f"tmux {where}: {len(p.scan.found)} agent(s) found, {len(p.scan.skipped)} pane(s) skipped"]
    for f in p.scan.found:
        extra = f"; removed {' '.join(f.removed)}" if f.removed else ""
        sess = f"; session {f.session_id}" if f.session_id else ""
        lines.append(f"  found   {f.name:<16} {f.kind:<11} {f.where}  pid {f.proc.pid}  {' '.join(f.argv)}"
                     f"  (cwd {f.cwd}{extra}{sess})")
    for s in p.scan.skipped:
        lines.append(f"  skipped {s.where}: {s.reason}")
    return lines
