"""systemd's notify protocol: READY after the first complete tick, WATCHDOG from the loop, STATUS (SPEC §10).

The tests bind the NOTIFY_SOCKET themselves (AF_UNIX datagram) and read what cockpit sends.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from cockpit.sdnotify import SdNotify, status_line
from cockpit.supervisor import Supervisor
from tests.conftest import wait_for


class NotifySocket:
    """A datagram socket like systemd's, collecting (monotonic time, message) pairs in a thread."""

    def __init__(self, path: str | bytes) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.05)
        self.received: list[tuple[float, str]] = []
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            self.received.append((time.monotonic(), data.decode()))

    def fields(self, key: str) -> list[tuple[float, str]]:
        return [(t, line) for t, msg in self.received for line in msg.split("\n") if line.startswith(key)]

    def close(self) -> None:
        self._stop = True
        self.thread.join(2)
        self.sock.close()


def test_without_notify_socket_nothing_is_sent() -> None:
    sd = SdNotify(env={})
    assert not sd.enabled and sd.send("READY=1") is False


def test_a_missing_listener_is_counted_never_raised(tmp_path: Path) -> None:
    sd = SdNotify(env={"NOTIFY_SOCKET": str(tmp_path / "nobody")})
    assert sd.enabled and sd.send("WATCHDOG=1") is False and sd.errors == 1


def test_watchdog_is_not_sent_for_another_pid(tmp_path: Path) -> None:
    path = str(tmp_path / "notify")
    sock = NotifySocket(path)
    try:
        sd = SdNotify(env={"NOTIFY_SOCKET": path, "WATCHDOG_PID": str(os.getpid() + 1)})
        sd.after_tick(object())
        wait_for(lambda: sock.received, 2, what="a datagram")
        assert sock.fields("READY=1") and not sock.fields("WATCHDOG=1")
    finally:
        sock.close()


def test_supervise_sends_ready_repeated_watchdog_and_status_on_an_abstract_socket(world) -> None:
    world.write_config([], supervisor={"tick_s": 0.1})
    name = f"cockpit-test-notify-{secrets.token_hex(4)}"
    sock = NotifySocket(b"\0" + name.encode())
    env = {**world.env(), "NOTIFY_SOCKET": "@" + name, "WATCHDOG_USEC": "5000000"}
    proc = subprocess.Popen([sys.executable, "-m", "cockpit", "--config", str(world.config_path), "supervise"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: len(sock.fields("WATCHDOG=1")) >= 3, 20, what="three heartbeats")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0, proc.stderr.read().decode() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sock.close()
    ready = sock.fields("READY=1")
    assert len(ready) == 1 and ready[0][0] <= sock.fields("WATCHDOG=1")[0][0]
    status = sock.fields("STATUS=")
    assert status and "agents up" in status[0][1] and "\n" not in status[0][1]
    assert sock.fields("STOPPING=1")


def test_no_watchdog_while_the_loop_is_blocked_on_purpose(world, tmp_path: Path) -> None:
    config = world.write_config([], supervisor={"tick_s": 0.05})
    path = str(tmp_path / "notify.sock")
    sock = NotifySocket(path)
    sd = SdNotify(env={"NOTIFY_SOCKET": path})
    window: dict[str, float] = {}

    async def run() -> None:
        sup = Supervisor(config)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def block() -> None:  # a wedged loop: what systemd's watchdog is for
            window["start"] = time.monotonic()
            time.sleep(1.0)
            window["end"] = time.monotonic()

        async def script() -> None:
            await asyncio.to_thread(wait_for, lambda: len(sock.fields("WATCHDOG=1")) >= 2, 10, 0.02, "heartbeats")
            loop.call_soon(block)
            await asyncio.sleep(0.1)
            count = len(sock.fields("WATCHDOG=1"))
            await asyncio.to_thread(wait_for, lambda: len(sock.fields("WATCHDOG=1")) >= count + 2, 10, 0.02,
                                    "heartbeats after the block")
            stop.set()

        runner = asyncio.create_task(script())
        try:
            await sup.run(stop, on_report=sd.after_tick)
        finally:
            await sup.close()
            await runner

    try:
        asyncio.run(run())
    finally:
        sock.close()
    beats = [t for t, _ in sock.fields("WATCHDOG=1")]
    # nothing arrived while the loop was blocked (a thread-driven heartbeat would have kept beating)
    assert not [t for t in beats if window["start"] + 0.05 < t < window["end"]]
    assert any(t < window["start"] for t in beats) and any(t > window["end"] for t in beats)


def test_the_status_line_is_one_line() -> None:
    class R:
        agents = ()
        findings = ()
        leader = True
        load = None
    assert status_line(R()) == "0/0 agents up; nothing wrong"


def test_the_shipped_unit_is_type_notify_with_a_watchdog_and_restart_on_failure() -> None:
    from cockpit.config import SupervisorConfig

    unit = (Path(__file__).resolve().parent.parent / "config" / "cockpit.service").read_text()
    keys: dict[str, str] = {}
    for line in unit.splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            keys[key.strip()] = value.strip()
    assert keys["Type"] == "notify" and keys["Restart"] == "on-failure"
    assert keys["ExecStart"].endswith("cockpit supervise")
    # several ticks fit in the watchdog: a slow tick is not a wedged loop
    assert float(keys["WatchdogSec"]) >= 5 * SupervisorConfig().tick_s
    assert keys["KillMode"] == "process"  # the agents' tmux server outlives a restart of the cockpit


def test_a_watchdog_shorter_than_three_ticks_is_one_warning(tmp_path: Path) -> None:
    env = {"NOTIFY_SOCKET": str(tmp_path / "s"), "WATCHDOG_USEC": "20000000"}
    assert SdNotify(env=env).check_period(2.0) is None
    warning = SdNotify(env=env).check_period(10.0)
    assert warning is not None and "WatchdogSec=20s" in warning and "\n" not in warning
    assert SdNotify(env={"WATCHDOG_USEC": "1000"}).check_period(10.0) is None  # not under systemd: silent
