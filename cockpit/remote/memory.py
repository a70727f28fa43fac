"""What this cockpit last heard from each host, kept on disk (``STATE/hosts/NAME.json``), so a host that
cannot be reached after a restart still shows its agents, as ``unknown`` with the age of that report,
instead of none (SPEC §9: never dropped). Written atomically when the host's agents change and at
most once a minute otherwise; read with the same checks as every state file (no symlink, regular,
bounded). A file that cannot be used is ignored with its reason: it is only a memory.
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path
from typing import Any

from cockpit.fsutil import atomic_write_json, ensure_private_dir

MAX_BYTES = 16 << 20
REWRITE_EVERY_S = 60.0


def memory_path(state_dir: Path, host: str) -> Path:
    return Path(state_dir) / "hosts" / f"{host}.json"


def recall(path: Path) -> tuple[dict[str, Any], float] | str:
    """``(report message, received_at)``, or the reason there is none (one line)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return "nothing remembered"
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_BYTES:
            return f"{path}: not a regular file of at most {MAX_BYTES} bytes"
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = json.loads(f.read())
    except (OSError, ValueError, RecursionError) as exc:
        return f"{path}: unreadable ({exc})"
    finally:
        os.close(fd)
    if not isinstance(data, dict):
        return f"{path}: not a JSON object"
    report, at = data.get("report"), data.get("received_at")
    if not isinstance(report, dict) or isinstance(at, bool) or not isinstance(at, (int, float)) or not math.isfinite(at):
        return f"{path}: no report with its received_at"
    return report, float(at)


def remember(path: Path, host: str, report: dict[str, Any], received_at: float) -> None:
    ensure_private_dir(path.parent)
    atomic_write_json(path, {"host": host, "received_at": received_at, "report": report})
