"""The operator's commands: ``alert_command`` and ``notice_command``.

Each is an argv (never a shell) that gets one JSON document on stdin. It runs in its own session,
is killed after its timeout, and what happened (exit status, stderr's tail, or why it did not run)
is returned for the journal: an alert or a notice is recorded as what the command did, not as
"sent" before it ran.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Mapping, Sequence

__all__ = ["COMMAND_TIMEOUT_S", "run_json_command"]

COMMAND_TIMEOUT_S = 30.0


async def run_json_command(command: Sequence[str], payload: Mapping[str, Any], *, name: str,
                           timeout_s: float = COMMAND_TIMEOUT_S) -> dict[str, Any]:
    """Run ``command`` with ``payload`` as JSON on stdin; what happened. ``name`` is the config key."""
    if not command:
        return {"command": None, "result": f"no {name} configured"}
    data = json.dumps(payload, ensure_ascii=False).encode("utf-8", "replace")
    try:
        proc = await asyncio.create_subprocess_exec(*command, stdin=asyncio.subprocess.PIPE,
                                                    stdout=asyncio.subprocess.DEVNULL,
                                                    stderr=asyncio.subprocess.PIPE, start_new_session=True)
    except OSError as exc:
        return {"command": list(command), "result": f"could not start: {exc.strerror or exc}", "ok": False}
    try:
        _, err = await asyncio.wait_for(proc.communicate(data), timeout=timeout_s)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        return {"command": list(command), "result": f"killed after {timeout_s:g}s", "ok": False}
    stderr = err.decode("utf-8", "replace")[-2000:] if err else ""
    out: dict[str, Any] = {"command": list(command), "exit_status": proc.returncode, "ok": proc.returncode == 0,
                           "result": "ran" if proc.returncode == 0 else f"exited {proc.returncode}"}
    if stderr:
        out["stderr"] = stderr
    return out
