"""Where Claude Code keeps its files: pure helpers shared by the simulator and the cockpit.

Nothing here touches the disk (a process's start time is ``cockpit.observe.procs.proc_start_ticks``).

The slug rule is the one Claude Code 2.1.197 itself uses (read from its bundled source)::

    function $E(e){ let t = e.replace(/[^a-zA-Z0-9]/g, "-");
                    if (t.length <= 200) return t;
                    return `${t.slice(0, 200)}-${Math.abs(jCe(e)).toString(36)}` }
    function jCe(e){ let t = 0; for (...) t = (t << 5) - t + e.charCodeAt(n) | 0; return t }

i.e. every UTF-16 code unit outside ``[A-Za-z0-9]`` becomes ``-`` (so a character outside the
Basic Multilingual Plane, a surrogate pair in JavaScript, becomes ``--``); a slug longer than 200
code units is cut to 200 and followed by ``-`` and the base-36 absolute value of the Java-style
32-bit ``String.hashCode`` of the ORIGINAL path (computed over UTF-16 code units). We reproduce it
bit for bit so transcripts we predict are the files the real CLI writes.

The mapping is lossy: never decode a slug back into a path, read the records' ``cwd`` field.
"""

from __future__ import annotations

import os
from pathlib import Path

SLUG_MAX = 200

__all__ = [
    "SLUG_MAX",
    "config_dir_from_env",
    "java_string_hash",
    "live_session_path",
    "project_dir",
    "project_slug",
    "transcript_path",
]


def _utf16_units(text: str) -> list[int]:
    data = text.encode("utf-16-le", "surrogatepass")
    return [int.from_bytes(data[i : i + 2], "little") for i in range(0, len(data), 2)]


def java_string_hash(text: str) -> int:
    """JavaScript ``(h << 5) - h + charCodeAt(i) | 0`` over UTF-16 code units: a signed 32-bit int."""
    h = 0
    for unit in _utf16_units(text):
        h = (h * 31 + unit) & 0xFFFFFFFF
    return h - 0x1_0000_0000 if h & 0x8000_0000 else h


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    if n == 0:
        return "0"
    out = []
    while n:
        n, r = divmod(n, 36)
        out.append(digits[r])
    return "".join(reversed(out))


def project_slug(cwd: str) -> str:
    """Claude Code's project folder name for ``cwd`` (see the module docstring for the exact rule).

    >>> project_slug("/home/a/my.proj_x")
    '-home-a-my-proj-x'
    """
    cwd = os.fsdecode(cwd)
    units = _utf16_units(cwd)
    slug = "".join(
        chr(u) if (48 <= u <= 57 or 65 <= u <= 90 or 97 <= u <= 122) else "-" for u in units
    )
    if len(slug) <= SLUG_MAX:
        return slug
    return f"{slug[:SLUG_MAX]}-{_base36(abs(java_string_hash(cwd)))}"


def config_dir_from_env(env: dict[str, str] | None = None) -> Path:
    """``$CLAUDE_CONFIG_DIR`` or ``~/.claude`` (``~`` from ``$HOME`` of ``env``)."""
    env = os.environ if env is None else env
    value = env.get("CLAUDE_CONFIG_DIR")
    if value:
        return Path(value).expanduser()
    home = env.get("HOME") or os.path.expanduser("~")
    return Path(home) / ".claude"


def project_dir(config_dir: str | os.PathLike[str], cwd: str) -> Path:
    return Path(config_dir) / "projects" / project_slug(cwd)


def transcript_path(config_dir: str | os.PathLike[str], cwd: str, session_id: str) -> Path:
    """``config_dir/projects/<slug of cwd>/<session_id>.jsonl``."""
    return project_dir(config_dir, cwd) / f"{session_id}.jsonl"


def live_session_path(config_dir: str | os.PathLike[str], pid: int) -> Path:
    """``config_dir/sessions/<pid>.json`` (Claude Code 2.1.2xx and later)."""
    return Path(config_dir) / "sessions" / f"{int(pid)}.json"


