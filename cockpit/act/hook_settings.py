"""The per-agent Claude Code settings layer that relays its hooks to the cockpit (SPEC §8).

A ``claude-code`` agent is spawned with ``--settings STATE/hooks/<agent>.json``: a settings
layer for that one process, merged with the user's, the project's and the local settings (hook
arrays are concatenated, so the user's own hooks keep running). The cockpit never edits
``~/.claude/settings.json`` nor the project's ``.claude/``: installers that did collided with
other tools, and running sessions dropped a hooks key added there. Each hook runs
``cockpit hook`` (cockpit.hook), which always exits 0, quickly.

A ``codex`` agent gets ``-c notify=[<cockpit>, "hook", "--codex"]``: Codex runs it after each
turn with the turn's JSON as its last argument.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

from cockpit.fsutil import atomic_write, ensure_private_dir

__all__ = ["HOOK_EVENTS", "HOOK_TIMEOUT_S", "codex_notify_arg", "hook_program", "settings_doc",
           "write_hook_settings"]

# The hooks the cockpit listens to; each is a status, a session binding or an error (SPEC §8).
HOOK_EVENTS = ("SessionStart", "UserPromptSubmit", "Notification", "Stop", "StopFailure", "SessionEnd",
               "SubagentStart", "SubagentStop")
HOOK_TIMEOUT_S = 5  # seconds; the relay gives up on the socket after 0.25 s and exits 0 in any case


def hook_program() -> tuple[str, ...]:
    """The argv that runs this cockpit's ``cockpit``: the agents' PATH may not hold our install.

    The console script beside this interpreter (a venv or a prefix), else the one on PATH, else
    ``python -m cockpit`` with this interpreter.
    """
    beside = Path(sys.executable).with_name("cockpit")
    if beside.is_file() and os.access(beside, os.X_OK):
        return (str(beside),)
    found = shutil.which("cockpit")
    if found:
        return (os.path.abspath(found),)
    return (sys.executable, "-m", "cockpit")


def settings_doc(program: tuple[str, ...]) -> dict[str, Any]:
    """The settings layer: every hook in HOOK_EVENTS runs ``<program> hook`` (a shell-quoted command)."""
    command = shlex.join([*program, "hook"])
    entry = {"hooks": [{"type": "command", "command": command, "timeout": HOOK_TIMEOUT_S}]}
    return {"hooks": {event: [entry] for event in HOOK_EVENTS}}


def write_hook_settings(hooks_dir: Path, agent: str, program: tuple[str, ...]) -> Path:
    """Write ``hooks_dir/<agent>.json`` (0600 in a 0700 dir, atomically); unchanged content is not rewritten."""
    ensure_private_dir(hooks_dir)
    path = hooks_dir / f"{agent}.json"
    data = (json.dumps(settings_doc(program), indent=2, sort_keys=True) + "\n").encode("utf-8")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        fd = None
    if fd is not None:
        try:
            if os.read(fd, len(data) + 1) == data:
                return path
        finally:
            os.close(fd)
    atomic_write(path, data)
    return path


def codex_notify_arg(program: tuple[str, ...]) -> str:
    """The ``-c`` override for Codex: ``notify=[...]`` as a TOML array of strings (JSON strings are TOML)."""
    return "notify=" + json.dumps([*program, "hook", "--codex"], ensure_ascii=False)
