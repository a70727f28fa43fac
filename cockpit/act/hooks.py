"""The operator's commands: ``alert_command`` and ``notice_command``.

Each is an argv (never a shell) that gets one JSON document on stdin. It runs in its own session,
is stopped after its timeout (``stop_verified``: its whole group, TERM then KILL), and what happened
(exit status, stderr's tail, or why it did not run) is returned for the journal: an alert or a
notice is recorded as what the command did, not as "sent" before it ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any, Mapping, Sequence

from cockpit.act.stop import KILL_WAIT_S, stop_verified
from cockpit.observe.procs import ProcessReader

__all__ = ["COMMAND_TIMEOUT_S", "run_json_command"]

COMMAND_TIMEOUT_S = 30.0
TERM_WAIT_S = 2.0  # a timed-out command's group gets this long after TERM, then KILL


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
    reader = ProcessReader()
    started = await asyncio.to_thread(reader.read, proc.pid)  # its identity, while it is ours and unreaped
    try:
        _, err = await asyncio.wait_for(proc.communicate(data), timeout=timeout_s)
    except asyncio.TimeoutError:
        return await _stop(proc, started, reader, command, timeout_s)
    stderr = err.decode("utf-8", "replace")[-2000:] if err else ""
    out: dict[str, Any] = {"command": list(command), "exit_status": proc.returncode, "ok": proc.returncode == 0,
                           "result": "ran" if proc.returncode == 0 else f"exited {proc.returncode}"}
    if stderr:
        out["stderr"] = stderr
    return out


async def _stop(proc: asyncio.subprocess.Process, started: Any, reader: ProcessReader, command: Sequence[str],
                timeout_s: float) -> dict[str, Any]:
    """A command over its time: its whole group goes (it runs in its own session: it leads it)."""
    stopped = None
    if started is not None:
        stopped = await stop_verified([started], wait_s=TERM_WAIT_S, reader=reader)
    else:  # exited between the start and the read: nothing of it left to name
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(proc.wait(), KILL_WAIT_S)  # a child that left the group may hold its pipes
    out: dict[str, Any] = {"command": list(command), "result": f"killed after {timeout_s:g}s", "ok": False}
    if stopped is not None and not stopped.gone:
        out["survivors"] = [p.pid for p in stopped.survivors]
    return out
