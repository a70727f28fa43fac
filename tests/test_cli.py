"""The command line as scripts and cron use it: JSON, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.judge.agents import LIVE_STATUSES
from tests.conftest import GHOST, SIM, wait_for
from tests.test_supervisor import free_port
from tests.test_wrappers import sims  # noqa: F401  (fixture)

COCKPIT = [sys.executable, "-m", "cockpit"]


def cockpit(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COCKPIT, *args], capture_output=True, text=True, timeout=timeout,
                          env=env or dict(os.environ))


def test_check_json_on_three_simulated_agents_prints_the_spec_schema(world):
    port = free_port()
    world.write_config([
        {"name": "tabs", "kind": "claude-code", "command": [*SIM, "--port", str(port)], "port": port},
        {"name": "notes", "kind": "claude-code", "command": [*SIM]},
        {"name": "ghost", "command": GHOST},
    ], supervisor={"max_restarts": 0})
    for name in ("tabs", "notes", "ghost"):
        cockpit("respawn", name, "--config", str(world.config_path))
    done = cockpit("check", "--json", "--config", str(world.config_path))
    report = json.loads(done.stdout)
    assert set(report) == {"schema", "at", "agents", "findings", "wrappers", "reminders", "blocks", "hosts", "bad_lines"}
    assert report["hosts"] == []  # SPEC §9: no [[hosts]], an empty list
    assert report["schema"] == 1 and report["at"].endswith("Z")
    by_name = {a["name"]: a for a in report["agents"]}
    assert set(by_name) == {"tabs", "notes", "ghost"}
    for agent in report["agents"]:
        assert set(agent) == {"name", "kind", "status", "pid", "pane", "port", "port_listening",
                              "route_session", "disk_session", "last_turn_at", "restarts", "tokens", "host"}
        assert agent["host"] is None  # local
    assert by_name["tabs"]["status"] in LIVE_STATUSES and by_name["tabs"]["port_listening"] is True
    assert by_name["tabs"]["pane"].startswith("%") and isinstance(by_name["tabs"]["pid"], int)
    assert by_name["notes"]["disk_session"]
    assert by_name["ghost"]["status"] == "fatal"
    [finding] = report["findings"]
    assert set(finding) == {"kind", "severity", "agent", "summary", "evidence", "action"}
    assert finding["kind"] == "respawn_exhausted" and finding["severity"] == "critical"
    assert done.returncode == 2  # something critical


def test_check_exit_codes_follow_monitoring_plugins(world):
    world.write_config([{"name": "calm", "command": [*SIM]}])
    assert cockpit("respawn", "calm", "--config", str(world.config_path)).returncode == 0
    ok = cockpit("check", "--config", str(world.config_path))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert re.search(r"calm +(running|working|idle|needs_input) ", ok.stdout) and "OK: nothing wrong" in ok.stdout
    world.tmux("kill-server")
    gone = cockpit("check", "--json", "--config", str(world.config_path))
    # SPEC §6: no tmux server, no agent running: the agent is down (critical), judged from the disk
    assert gone.returncode == 2
    assert [(f["kind"], f["agent"]) for f in json.loads(gone.stdout)["findings"]] == [("agent_down", "calm")]
    assert json.loads(gone.stdout)["agents"][0]["status"] == "down"


def test_check_takes_no_action(world):
    world.write_config([{"name": "idle", "command": [*SIM]}])
    assert world.tmux("new-session", "-d", "-s", "ops", "sleep 60").returncode == 0
    done = cockpit("check", "--config", str(world.config_path))
    assert done.returncode == 2 and "agent_down" in done.stdout
    registry = world.state_dir / "registry.jsonl"
    assert not registry.exists() or "spawn" not in registry.read_text()
    windows = world.tmux("list-windows", "-a", "-F", "#{window_name}").stdout.split()
    assert "idle" not in windows


@pytest.mark.parametrize("body, key", [
    ("[supervisor]\ntick_sec = 2\n", "supervisor.tick_sec"),
    ("[supervisor]\ntick_s = \"fast\"\n", "supervisor.tick_s"),
    ('[[agents]]\nname = "a"\ncommand = "claude --resume x"\n', "agents[0].command"),
    ('[[agents]]\nname = "a"\ncommand = ["x"]\n[[agents]]\nname = "a"\ncommand = ["y"]\n', "agents[1].name"),
])
def test_bad_config_is_one_line_naming_file_and_key(tmp_path, body, key):
    path = tmp_path / "bad.toml"
    path.write_text(body)
    original = path.read_bytes()
    for args, code in ((["check"], 3), (["supervise"], 2), (["respawn", "a"], 2)):
        done = cockpit(*args, "--config", str(path))
        assert done.returncode == code, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and str(path) in lines[0] and key in lines[0], done.stderr
        assert "Traceback" not in done.stderr
    assert path.read_bytes() == original


def test_missing_config_file_is_one_clear_line(tmp_path):
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "nowhere"))
    env.pop("COCKPIT_CONFIG", None)
    done = cockpit("check", env=env)
    assert done.returncode == 3
    [line] = done.stderr.strip().splitlines()
    assert "cockpit.toml" in line and "no such file" in line


def test_unknown_agent_and_bad_arguments_are_one_line(world):
    world.write_config([{"name": "calm", "command": [*SIM]}])
    done = cockpit("respawn", "nobody", "--config", str(world.config_path))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1 and "nobody" in done.stderr
    bad = cockpit("check", "--jsonn")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "--jsonn" in bad.stderr


def test_unwritable_state_dir_is_one_line(world, tmp_path):
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    world.state_dir = blocker / "state"
    world.write_config([{"name": "calm", "command": [*SIM]}])
    done = cockpit("respawn", "calm", "--config", str(world.config_path))
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert "state dir" in line and str(blocker) in line


def test_respawn_prints_the_verified_result_and_the_last_screen_on_failure(world):
    world.write_config([{"name": "ghost", "command": GHOST}])
    done = cockpit("respawn", "ghost", "--config", str(world.config_path))
    assert done.returncode == 1
    assert "failed verification (process_alive)" in done.stdout
    assert "--- last screen ---" in done.stdout and "simulated startup failure" in done.stdout
    as_json = json.loads(cockpit("respawn", "ghost", "--json", "--config", str(world.config_path)).stdout)
    assert as_json["ok"] is False and as_json["spawn"]["check"] == "process_alive"


def test_version():
    done = cockpit("--version")
    assert done.returncode == 0 and done.stdout.startswith("cockpit ")


def test_reap_and_wrap_are_commands(world, sims):
    from tests.test_wrappers import has_result, rule_config, sim_argv

    config = rule_config(world, sims.marker, zombie_grace_s=0.0, stop_wait_s=1.0)
    proc, out = sims.start()
    wait_for(lambda: has_result(out), what="the result line")
    unknown = cockpit("reap", "4242424", "--config", str(world.config_path))
    assert unknown.returncode == 2 and "not a known wrapper" in unknown.stderr and unknown.stderr.count("\n") == 1
    refused = cockpit("--read-only", "reap", str(proc.pid), "--config", str(world.config_path))
    assert refused.returncode == 2 and "read-only" in refused.stderr and proc.poll() is None
    done = cockpit("reap", str(proc.pid), "--json", "--config", str(world.config_path))
    assert done.returncode == 0, done.stderr
    [result] = json.loads(done.stdout)
    assert result["ok"] and result["record_written"] and result["record"]["reason"] == "reaped"
    wait_for(lambda: proc.poll() is not None, what="the reaped wrapper's exit")

    wrapped = cockpit("wrap", "--ack-timeout", "0.5", "--config", str(world.config_path), "--",
                      *sim_argv(sims.marker))
    assert wrapped.returncode == 0, wrapped.stderr
    assert json.loads(wrapped.stdout.splitlines()[-1])["type"] == "result"
    rows = [json.loads(line) for line in (config.state.dir / "registry.jsonl").read_text().splitlines()]
    assert [r["reason"] for r in rows if r["event"] == "exit"] == ["reaped", "ack_timeout"]
    assert cockpit("wrap", "--config", str(world.config_path)).returncode == 2


def test_doctor_is_a_command_with_exit_codes(world):
    # seed #1: `cockpit doctor CANDIDATE --promote LINK`: 1 and LINK untouched on a fail, 0 and promoted on a pass
    world.write_config([], extra='\n[doctor]\nboot_s = 5.0\nready_pattern = "^> ?$"\n')
    versions = world.root / "versions"
    versions.mkdir()
    bad, good = versions / "2.1.197", versions / "2.1.198"
    bad.write_text('#!/bin/sh\necho "TypeError: g9H is not a function"\nsleep 30\n')
    good.write_text('#!/bin/sh\necho "> "\nsleep 30\n')
    for path in (bad, good):
        path.chmod(0o755)
    link = world.root / "claude-link"
    os.symlink(versions / "2.1.196", link)
    cfg = ["--config", str(world.config_path)]
    failed = cockpit("doctor", str(bad), "--promote", str(link), *cfg)
    assert failed.returncode == 1 and "g9H is not a function" in failed.stdout
    assert os.readlink(link) == str(versions / "2.1.196")
    passed = cockpit("doctor", str(good), "--promote", str(link), "--json", *cfg)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert json.loads(passed.stdout)["promotion"]["readlink"] == str(good) and os.readlink(link) == str(good)
    missing = cockpit("doctor", str(versions / "nope"), *cfg)
    assert missing.returncode == 2 and missing.stdout == "" and missing.stderr.count("\n") == 1
