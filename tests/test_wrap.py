"""``cockpit wrap``: a sub-agent whose stop hook never acks still ends, with its verdict and its record (seed #9)."""

from __future__ import annotations

import asyncio
import json
import stat
import subprocess
import sys
import time

from cockpit.act.actions import TokenBucket
from cockpit.act.reap import Reaper
from cockpit.judge.zombies import judge_zombies
from cockpit.observe.procs import ProcessReader
from cockpit.observe.wrappers import WrapperTracker
from cockpit.registry import Journal, Registry
from tests.test_wrappers import observe_until, sim_argv, sims  # noqa: F401

WRAP = [sys.executable, "-m", "cockpit.wrap"]
READER = ProcessReader()


def wrap(world, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*WRAP, "--config", str(world.config_path), *args], capture_output=True, timeout=timeout)


def rows(config, event=None):
    return [r for r in Registry(config.state.registry).read_all().rows if event is None or r["event"] == event]


def gone(pid: int, start: int | None) -> bool:
    proc = READER.read(pid)
    return proc is None or proc.start != start or proc.zombie


def test_a_sub_agent_that_never_exits_after_its_result_is_ended_by_the_ack_timeout(world, sims):
    config = world.write_config([])
    began = time.monotonic()
    done = wrap(world, "--ack-timeout", "1", "--", *sim_argv(sims.marker, "--spawn-child"))
    took = time.monotonic() - began
    assert done.returncode == 0, done.stderr  # its result said success, is_error false
    assert 1.0 <= took < 10, took  # the sub-agent lingers 30 s: the hard timeout ended it
    [spawned] = rows(config, "spawned")
    [ended] = rows(config, "exit")
    assert spawned["wrapper"] is True and spawned["spawn_id"] == ended["spawn_id"]
    assert spawned["agent"] == ended["agent"] == f"wrap-{spawned['spawn_id']}"
    assert ended["reason"] == "ack_timeout" and ended["subtype"] == "success" and ended["is_error"] is False
    assert ended["pid"] == spawned["pid"] and ended["start"] == spawned["start"]
    assert gone(spawned["child_pid"], spawned["child_start"])
    # its child in the same process group went with it
    assert not [p for p in READER.scan_all() if p.pgid == spawned["pgid"] and not p.zombie]
    # the stream-json went to our stdout and to a private log beside the registry
    log = config.state.dir / "wrappers" / f"{spawned['spawn_id']}.jsonl"
    assert spawned["output"] == str(log) and stat.S_IMODE(log.stat().st_mode) == 0o600
    assert log.read_bytes() == done.stdout
    assert json.loads(done.stdout.splitlines()[-1])["type"] == "result"


def test_a_failing_result_gives_exit_1_even_when_the_command_hangs(world, sims):
    config = world.write_config([])
    done = wrap(world, "--ack-timeout", "0.5", "--", *sim_argv(sims.marker, "--result-is-error"))
    assert done.returncode == 1
    [ended] = rows(config, "exit")
    assert ended["reason"] == "ack_timeout" and ended["is_error"] is True and ended["subtype"] == "success"


def test_a_command_that_ignores_term_is_killed_after_the_ack_timeout(world, sims):
    config = world.write_config([])
    done = wrap(world, "--ack-timeout", "0.5", "--", *sim_argv(sims.marker, "--ignore-term", "--spawn-child"))
    assert done.returncode == 0
    [spawned] = rows(config, "spawned")
    assert gone(spawned["child_pid"], spawned["child_start"])
    assert not [p for p in READER.scan_all() if p.pgid == spawned["pgid"] and not p.zombie]
    assert [r["reason"] for r in rows(config, "exit")] == ["ack_timeout"]


def test_a_command_that_exits_records_its_real_status_and_verdict(world, sims):
    config = world.write_config([])
    ok = wrap(world, "--name", "helper", "--", *sim_argv(sims.marker, linger=0))
    assert ok.returncode == 0
    bad = wrap(world, "--", *sim_argv(sims.marker, "--result-subtype", "error_max_turns", linger=0))
    assert bad.returncode == 1
    first, second = rows(config, "exit")
    assert (first["agent"], first["reason"], first["status"], first["subtype"]) == ("helper", "exited", 0, "success")
    assert (second["reason"], second["status"], second["subtype"]) == ("exited", 1, "error_max_turns")


def test_usage_errors_exit_2_and_change_nothing(world):
    config = world.write_config([{"name": "tabs", "command": ["true"]}])
    for args in ([], ["--"], ["--ack-timeout", "0", "--", "true"], ["--ack-timeout", "nan", "--", "true"],
                 ["--name", "tabs", "--", "true"], ["--name", "a b", "--", "true"], ["--agent", "nobody", "--", "true"],
                 ["--", "/nonexistent/agent"]):
        done = wrap(world, *args)
        assert done.returncode == 2, (args, done)
        err = done.stderr.decode()
        assert err.startswith("cockpit wrap: ") and err.count("\n") == 1 and "Traceback" not in err
    missing = subprocess.run([*WRAP, "--config", str(world.root / "none.toml"), "--", "true"], capture_output=True)
    assert missing.returncode == 2 and b"none.toml" in missing.stderr
    assert rows(config) == []


def test_a_wrap_reaped_as_a_zombie_is_recorded_once(world, sims):
    config = world.write_config([], supervisor={"stop_wait_s": 5.0})
    proc = subprocess.Popen([*WRAP, "--config", str(world.config_path), "--ack-timeout", "60", "--",
                             *sim_argv(sims.marker)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    sims.track(proc)
    tracker = WrapperTracker((), registry_path=config.state.registry)  # found by its registration alone
    views = observe_until(tracker, lambda vs: vs and vs[0].ends_with_result and len(vs[0].tree) >= 2)
    [zombie], [finding] = judge_zombies(views, now=time.time(), grace_s=0)
    assert zombie.registered and zombie.pid == proc.pid and finding.subject == zombie.id
    reaper = Reaper(config, registry=Registry(config.state.registry), journal=Journal(config.state.journal),
                    reader=ProcessReader(), bucket=TokenBucket(60))

    result = asyncio.run(reaper.reap(zombie))
    assert result.ok and not result.killed, result.summary  # the wrapper stopped its group and exited on TERM
    assert proc.wait(timeout=5) == 0  # its result was a success
    [ended] = rows(config, "exit")  # one completion record, though both the wrapper and the reaper end it
    assert ended["reason"] == "terminated" and ended["signal"] == "SIGTERM" and ended["subtype"] == "success"
    assert not result.record_written and result.record["reason"] == "terminated"
    assert all(gone(p.pid, p.start) for p in zombie.tree)


def test_wrap_runs_its_command_without_a_shell(world, tmp_path):
    world.write_config([])
    marker = tmp_path / "pwned"
    done = wrap(world, "--", sys.executable, "-c", "import sys; print(sys.argv[1])", f"$(touch {marker}); `id`")
    assert done.returncode == 1  # no result line: no verdict of success
    assert done.stdout.decode().strip() == f"$(touch {marker}); `id`" and not marker.exists()
