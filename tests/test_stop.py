"""One way to stop a process: ``stop_verified`` (pid + start time, TERM the group, wait, KILL, verify gone)."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from cockpit.act.hooks import run_json_command
from cockpit.act.stop import stop_verified, stop_verified_sync
from cockpit.observe.procs import Proc, ProcessReader
from cockpit.tmux import kill_server_sync, socket_file


def alive(pid: int) -> bool:
    proc = ProcessReader().read(pid)
    return proc is not None and not proc.zombie


def wait_gone(pid: int, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return not alive(pid)


def test_a_hook_command_killed_on_timeout_takes_its_whole_group_with_it(tmp_path: Path):
    """The alert/notice runner used to kill only the group's leader: a child it started lived on."""
    pidfile = tmp_path / "child.pid"
    script = f"sleep 60 & echo $! > {pidfile}; wait"

    async def run() -> dict:
        # bounded: a runner that waits for the child's end (it holds stderr open) would wait 60 s
        return await asyncio.wait_for(run_json_command(["sh", "-c", script], {"x": 1}, name="alert_command",
                                                       timeout_s=0.5), timeout=10)

    started = time.monotonic()
    try:
        out = asyncio.run(run())
        assert out["ok"] is False and "killed after 0.5s" in out["result"]
        assert time.monotonic() - started < 10
        child = int(pidfile.read_text())
        assert wait_gone(child), f"the command's child {child} outlived the timeout"
    finally:
        child = int(pidfile.read_text()) if pidfile.exists() else 0
        if child and alive(child):
            os.kill(child, signal.SIGKILL)


def started(argv: list[str]) -> tuple[subprocess.Popen, Proc]:
    proc = subprocess.Popen(argv, start_new_session=True, stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    deadline = time.monotonic() + 5
    while (found := ProcessReader().read(proc.pid)) is None or not found.cmdline:
        assert time.monotonic() < deadline, "the process never showed in /proc"
        time.sleep(0.02)
    return proc, found


def test_a_pid_whose_start_time_changed_is_never_signalled():
    proc, found = started(["sh", "-c", "echo ready; exec sleep 30"])
    try:
        result = stop_verified_sync([replace(found, start=found.start + 1)], wait_s=0.2, kill_wait_s=0.2)
        assert result.termed == () and result.killed == ()
        assert proc.poll() is None  # untouched: the recorded identity is not this process
    finally:
        proc.kill()
        proc.wait()


def test_a_group_that_ignores_term_is_killed_and_seen_gone():
    code = "import signal, subprocess, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); " \
           "subprocess.Popen(['sleep', '30']); print('ready', flush=True); time.sleep(30)"
    proc, found = started([sys.executable, "-c", code])
    try:
        result = asyncio.run(stop_verified([found], wait_s=0.3))
        assert result.termed == (found.pid,) and result.killed == (found.pid,)
        assert result.gone and proc.wait(timeout=5) == -signal.SIGKILL
        assert [p for p in ProcessReader().scan_all() if p.pgid == found.pid and not p.zombie] == []
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_private_tmux_server_is_killed_verified_gone_and_its_socket_file_removed():
    name = f"cockpit-test-{secrets.token_hex(4)}"
    args = ("-L", name, "-f", "/dev/null")
    subprocess.run(["tmux", *args, "new-session", "-d", "-s", "s", "sleep 60"], check=True, timeout=10)
    path = socket_file(args)
    try:
        assert path is not None and path.is_socket()
        assert kill_server_sync(args) is True
        assert subprocess.run(["tmux", *args, "has-session"], capture_output=True, timeout=10).returncode != 0
        assert not path.exists()
    finally:
        subprocess.run(["tmux", *args, "kill-server"], capture_output=True, timeout=10)


def test_the_default_tmux_server_is_never_the_one_killed():
    with pytest.raises(ValueError):
        kill_server_sync(())
    assert socket_file(()) is None and socket_file(("-S", "/x/y")) == Path("/x/y")
