"""The simulator's hooks: it runs the hooks of a ``--settings`` file as Claude Code does.

Claude Code runs each matching hook command through the shell with the event's JSON on stdin
(``session_id``, ``transcript_path``, ``cwd``, ``permission_mode``, ``hook_event_name`` and the
event's own fields) and waits for it up to its ``timeout``. The simulator does the same, in
order, on one worker thread (a slow hook delays the next hook, never the agent's turn), for
SessionStart, UserPromptSubmit, Notification, Stop and SessionEnd. ``disableAllHooks`` in the
user's settings (``$CLAUDE_CONFIG_DIR/settings.json``) turns them all off, as a blocked policy does.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
from pathlib import Path
from typing import Any

DEFAULT_TIMEOUT_S = 60.0


def load_hook_commands(settings: str | None, config_dir: Path) -> dict[str, list[tuple[str, float]]]:
    """Event name -> [(shell command, timeout_s)] from a settings file; {} when hooks are off or unreadable."""
    if not settings:
        return {}
    try:
        user = json.loads((config_dir / "settings.json").read_text(encoding="utf-8"))
        if isinstance(user, dict) and user.get("disableAllHooks") is True:
            return {}
    except (OSError, ValueError):
        pass
    try:
        doc = json.loads(Path(settings).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    hooks = doc.get("hooks") if isinstance(doc, dict) else None
    out: dict[str, list[tuple[str, float]]] = {}
    for event, groups in (hooks.items() if isinstance(hooks, dict) else ()):
        for group in groups if isinstance(groups, list) else ():
            for hook in (group.get("hooks") or []) if isinstance(group, dict) else ():
                if isinstance(hook, dict) and hook.get("type") == "command" and isinstance(hook.get("command"), str):
                    timeout = hook.get("timeout")
                    out.setdefault(str(event), []).append(
                        (hook["command"], float(timeout) if isinstance(timeout, (int, float)) else DEFAULT_TIMEOUT_S))
    return out


class SimHooks:
    """Runs hook commands in order on a worker thread; ``fire`` never blocks the caller."""

    def __init__(self, commands: dict[str, list[tuple[str, float]]], *, session_id: str, transcript: Path,
                 cwd: str) -> None:
        self.commands = commands
        self.session_id = session_id
        self.transcript = str(transcript)
        self.cwd = cwd
        self._queue: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        if commands:
            self._thread = threading.Thread(target=self._run, name="sim-hooks", daemon=True)
            self._thread.start()

    def fire(self, event: str, **fields: Any) -> None:
        if event not in self.commands:
            return
        payload = {"session_id": self.session_id, "transcript_path": self.transcript, "cwd": self.cwd,
                   "permission_mode": "default", "hook_event_name": event, **fields}
        self._queue.put((event, payload))

    def close(self, timeout_s: float = 2.0) -> None:
        """Run what is queued (SessionEnd included), then stop; waits at most ``timeout_s``."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(timeout_s)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            event, payload = item
            data = json.dumps(payload).encode("utf-8")
            for command, timeout in self.commands.get(event, ()):
                try:
                    subprocess.run(["/bin/sh", "-c", command], input=data, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, timeout=timeout, env=os.environ.copy())
                except (OSError, subprocess.SubprocessError):
                    pass
