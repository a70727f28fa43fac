"""systemd's notify protocol, for ``cockpit supervise`` under ``Type=notify`` (SPEC §10).

One datagram per message on the AF_UNIX socket named by ``$NOTIFY_SOCKET`` (a path, or an
abstract name written ``@name``); no dependency. ``READY=1`` after the first complete tick,
``WATCHDOG=1`` after each complete tick, ``STATUS=`` one line. The heartbeat is sent from the
event loop after a tick, never from a thread: a wedged loop stops it and systemd restarts the
cockpit (seed #7 turned on the cockpit itself). Sending never blocks and never raises.
"""

from __future__ import annotations

import os
import socket
from typing import Any, Mapping

from cockpit.findings import Severity

LIVE = ("running", "working", "idle", "needs_input")


class SdNotify:
    """A notify socket, or nothing when ``$NOTIFY_SOCKET`` is unset (every call is then a no-op)."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self.address = _address(env.get("NOTIFY_SOCKET", ""))
        # WATCHDOG_PID names the process systemd expects the heartbeat from; another pid must not send it.
        # Without WatchdogSec systemd ignores WATCHDOG=1, so it is sent whenever the pid is ours.
        pid = env.get("WATCHDOG_PID", "")
        self.watchdog = not pid.isdigit() or int(pid) == os.getpid()
        usec = env.get("WATCHDOG_USEC", "")
        self.watchdog_s = int(usec) / 1e6 if usec.isdigit() and int(usec) > 0 else None
        self.sent = 0
        self.errors = 0
        self.ready_sent = False
        self._sock: socket.socket | None = None
        if self.address is not None:
            try:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.setblocking(False)
            except OSError:
                self._sock = None

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def send(self, *fields: str) -> bool:
        """One datagram of ``KEY=VALUE`` lines; False (counted) when it could not be sent."""
        if self._sock is None or self.address is None:
            return False
        try:
            self._sock.sendto("\n".join(fields).encode("utf-8", "replace"), self.address)
        except OSError:  # no listener (yet), a full queue: never block the loop for it
            self.errors += 1
            return False
        self.sent += 1
        return True

    def after_tick(self, report: Any) -> None:
        """After each complete tick: READY=1 the first time, WATCHDOG=1 every time, and STATUS=."""
        fields = [f"STATUS={status_line(report)}"]
        if not self.ready_sent:
            fields.insert(0, "READY=1")
        if self.watchdog:
            fields.append("WATCHDOG=1")
        if self.send(*fields):
            self.ready_sent = True

    def check_period(self, tick_s: float) -> str | None:
        """One line when systemd's watchdog would fire between two healthy ticks (WatchdogSec too short)."""
        if self.address is None or self.watchdog_s is None or self.watchdog_s >= 3 * tick_s:
            return None
        return (f"WatchdogSec={self.watchdog_s:g}s is shorter than three ticks (supervisor.tick_s = {tick_s:g}): "
                f"systemd would restart a healthy cockpit; raise WatchdogSec or lower tick_s")

    def stopping(self) -> None:
        self.send("STOPPING=1", "STATUS=stopping")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _address(value: str) -> str | bytes | None:
    if value.startswith("@"):
        return b"\0" + value[1:].encode("utf-8", "surrogateescape")  # an abstract socket name
    if value.startswith("/"):
        return value
    return None  # unset, or a transport this module does not speak (vsock:...)


def status_line(report: Any) -> str:
    """One line: agents up, findings by severity, the tick's cost."""
    agents = getattr(report, "agents", ())
    up = sum(1 for a in agents if a.status in LIVE)
    findings = getattr(report, "findings", ())
    counts = {s: sum(1 for f in findings if f.severity is s) for s in Severity}
    parts = [f"{up}/{len(agents)} agents up"]
    if any(counts.values()):
        parts.append(", ".join(f"{n} {s.value}" for s, n in counts.items() if n))
    else:
        parts.append("nothing wrong")
    load = getattr(report, "load", None)
    if load is not None:
        parts.append(f"tick {load.wall_ms:.0f} ms")
    if not getattr(report, "leader", True):
        parts.append("follower")
    return "; ".join(parts)
