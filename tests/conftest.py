"""Shared fixtures: a private tmux server per test and a throw-away world.

Tests never touch the default tmux server, the real ~/.claude, ~/.codex or the
user's config: HOME, CLAUDE_CONFIG_DIR, CODEX_HOME and XDG_CONFIG_HOME point into
the test's tmp_path before any tmux server starts (the server inherits them).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cockpit.config import Config, load_config

SIM = [sys.executable, "-m", "cockpit.sim"]
# An agent whose every start fails: it exits 50 ms after it starts, long before min_uptime_s (0.5 s in
# tests) whatever the machine's load. It is not the simulator's --die-after-ms: that one counts from
# the fork but cannot die before its own imports end (site, the editable install, cockpit.sim), which a
# loaded machine stretches past min_uptime_s, and a start that outlives min_uptime_s is rightly verified.
# ``-I -S`` skips site and every import but builtins: the child's own startup is a few milliseconds.
GHOST = [sys.executable, "-I", "-S", "-c",
         "import sys, time; sys.stderr.write('Error: simulated startup failure (a ghost)\\n'); "
         "sys.stderr.flush(); time.sleep(0.05); sys.exit(1)"]


def kill_tmux(socket: str) -> None:
    subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)
    # tmux leaves its socket file behind; a test leaves nothing.
    socket_dir = Path(os.environ.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.getuid()}"
    try:
        (socket_dir / socket).unlink()
    except OSError:
        pass


@pytest.fixture(autouse=True, scope="session")
def _never_the_real_home(tmp_path_factory: pytest.TempPathFactory):
    """Every test, even one without the world fixture, sees a throw-away HOME and agent dirs."""
    base = tmp_path_factory.mktemp("session-home")
    saved = {k: os.environ.get(k) for k in ("HOME", "CLAUDE_CONFIG_DIR", "CODEX_HOME", "XDG_CONFIG_HOME")}
    os.environ.update(HOME=str(base), CLAUDE_CONFIG_DIR=str(base / ".claude"), CODEX_HOME=str(base / ".codex"),
                      XDG_CONFIG_HOME=str(base / ".config"))
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def tmux_socket():
    name = f"cockpit-test-{secrets.token_hex(4)}"
    yield name
    kill_tmux(name)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (str, Path)):
        text = str(value).replace("\\", "\\\\").replace('"', '\\"')
        return f'"{text}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(value)


@dataclass
class World:
    root: Path
    socket: str
    home: Path
    claude_dir: Path
    state_dir: Path
    work: Path
    config_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.config_path = self.root / "cockpit.toml"

    def write_config(self, agents: list[dict[str, Any]], supervisor: dict[str, Any] | None = None,
                     extra: str = "") -> Config:
        sup = {"tick_s": 0.2, "spawn_verify_s": 2.0, "min_uptime_s": 0.5, "backoff_max_s": 0.2,
               "max_restarts": 3, "restart_window_s": 60.0, "max_actions_per_minute": 600}
        sup.update(supervisor or {})
        lines = [
            "[tmux]", f"socket = {_toml(self.socket)}", 'session = "agents"', "",
            "[state]", f"dir = {_toml(self.state_dir)}", "",
            "[claude]", f"config_dir = {_toml(self.claude_dir)}", "",
            "[supervisor]", *[f"{k} = {_toml(v)}" for k, v in sup.items()], "",
        ]
        for agent in agents:
            agent = dict(agent)
            agent.setdefault("cwd", str(self.work))
            lines.append("[[agents]]")
            lines += [f"{k} = {_toml(v)}" for k, v in agent.items()]
            lines.append("")
        self.config_path.write_text("\n".join(lines) + extra)
        return load_config(self.config_path)

    def tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True)

    def env(self) -> dict[str, str]:
        return dict(os.environ)


@pytest.fixture
def world(tmp_path: Path, tmux_socket: str, monkeypatch: pytest.MonkeyPatch) -> World:
    home = tmp_path / "home"
    claude = tmp_path / "claude"
    state = tmp_path / "state"
    work = tmp_path / "work"
    for d in (home, claude, work):
        d.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(claude))
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "codex"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("COCKPIT_CONFIG", raising=False)
    monkeypatch.delenv("TMUX", raising=False)
    return World(root=tmp_path, socket=tmux_socket, home=home, claude_dir=claude, state_dir=state, work=work)


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
