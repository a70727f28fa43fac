"""The demo world (``cockpit demo`` without the TUI): built, supervised, and torn down without a trace.

A real private tmux server and real simulated agents; the supervisor runs headless, as the TUI
would run it. Each test asserts what is on disk, in tmux and in /proc, not what was initiated.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from cockpit.judge.agents import LIVE_STATUSES
from cockpit.claude_paths import transcript_path
from cockpit.config import load_config
from cockpit.demo import (CLI_BROKEN, CLI_CURRENT, CLI_GOOD, DemoError, DemoWorld, demo_agents,
                          destroy_world, lag_probe, run_demo, world_processes)
from cockpit.registry import Registry
from cockpit.tmux import socket_file
from cockpit.supervisor import Supervisor

REPO = Path(__file__).resolve().parent.parent
HEALTHY = ("tabs", "scribe", "api", "relay", "flaky", "asker")


def tmux_alive(socket: str) -> bool:
    return subprocess.run(["tmux", "-L", socket, "has-session"], capture_output=True).returncode == 0


def pid_alive(pid: int, start: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    fields = stat[stat.rfind(b")") + 2:].split()
    return int(fields[19]) == start and fields[0] not in (b"Z", b"X")


def assert_gone(root: Path, socket: str, socket_path: Path | None, pids: dict[int, int]) -> None:
    """SPEC §4: quitting leaves no tmux server, no process, no directory behind."""
    assert not tmux_alive(socket), f"tmux -L {socket} still answers"
    assert world_processes(root, socket) == {}, "a process of the world survived the teardown"
    assert [pid for pid, start in pids.items() if pid_alive(pid, start)] == []
    assert not root.exists(), f"{root} is still there"
    socket_path = socket_path or socket_file(("-L", socket))
    assert not socket_path.exists(), f"stale socket {socket_path} left behind"


async def tick_until(sup: Supervisor, predicate, timeout: float, seen: list | None = None):
    """Tick the supervisor until ``predicate(report)``; every finding seen is added to ``seen``."""
    deadline = time.monotonic() + timeout
    report = None
    while time.monotonic() < deadline:
        report = await sup.tick()
        if seen is not None:
            seen.extend(report.findings)
        if predicate(report):
            return report
        await asyncio.sleep(sup.config.supervisor.tick_s / 2)
    raise AssertionError(f"timed out; last report: {report and [a.to_json() for a in report.agents]} "
                         f"{report and [f.to_json() for f in report.findings]}")


def status(report, name: str):
    return next(a for a in report.agents if a.name == name)


def test_the_demo_world_shows_each_fault_through_the_real_spawn_path_and_leaves_nothing(tmp_path):
    world = DemoWorld()
    with world:
        root, socket, socket_path = world.root, world.socket, world.socket_path
        assert root.name.startswith(f"{socket}-") and socket.startswith("cockpit-demo-")
        # the config an operator can check by hand is the one the demo runs on
        assert load_config(world.config_path) == world.config
        assert [a.name for a in world.config.agents] == ["tabs", "scribe", "api", "relay", "ghost", "deaf",
                                                         "flaky", "asker"]
        assert {a.kind for a in world.config.agents} == {"claude-code", "generic"}
        assert world.config.agent("tabs").cwd == world.config.agent("scribe").cwd  # two agents, one cwd
        assert world.config.claude.config_dir == world.claude_dir and world.config.claude.explicit
        # the gateway's routing record points scribe at an old session that is on disk (stale route)
        routes = json.loads(world.routes_file.read_text())
        assert routes == {"scribe": world.stale_session}
        assert transcript_path(world.claude_dir, str(world.config.agent("scribe").cwd), world.stale_session).exists()
        assert world.gateway_log.exists() and "[event-loop-block]" in world.gateway_log.read_text()
        # before the supervisor runs, the server holds the world's own session (the gateway and the
        # sub-agent wrappers) and the operator's desk, where flaky was started by hand, then adopted
        assert tmux_alive(socket) or world.server_running()
        windows = subprocess.run(["tmux", "-L", socket, "list-windows", "-a", "-F", "#{session_name}:#{window_name}"],
                                 capture_output=True, text=True).stdout.split()
        assert sorted(windows) == ["desk:flaky", "world:gateway", "world:ghost-notes", "world:zombie-1",
                                   "world:zombie-2"]
        [adopted] = [r for r in Registry(world.state_dir / "registry.jsonl").read_all().rows if r["event"] == "adopted"]
        desk_pid = subprocess.run(["tmux", "-L", socket, "display-message", "-p", "-t", "desk:flaky", "#{pane_pid}"],
                                  capture_output=True, text=True).stdout.strip()
        assert adopted["agent"] == "flaky" and adopted["pid"] == int(desk_pid)
        assert [r.match for r in world.config.wrappers] == [f"--name {world.wrapper_marker}-"]
        assert not world.config.supervisor.auto_reap  # the operator reaps them with k

        seen: list = []

        async def go():
            sup = Supervisor(world.config, actor="test")
            try:
                def settled(r):
                    return (all(status(r, n).status in LIVE_STATUSES for n in HEALTHY)
                            and status(r, "ghost").status == "fatal"
                            and any(f.agent == "deaf" for f in seen))
                await tick_until(sup, settled, timeout=40, seen=seen)

                # seed #9: two wrappers alive past zombie_grace_s after their result line, and an orphan
                # of ghost; seed #7: the gateway's log reported a block (untracked culprit); seed #6: the
                # wake to tabs delivered, the one to api missed after its retries; seed #11: relay folded
                def zombies(r):
                    reminders = {(x.agent, x.verb): x.state for x in r.reminders}
                    return (sum(w.state == "zombie" for w in r.wrappers) == 3
                            and any(b.source == "gateway" for b in r.blocks)
                            and reminders.get(("tabs", "wake")) == "delivered"
                            and reminders.get(("api", "wake")) == "missed"
                            and any(f.kind == "fold_under_pressure" for f in r.findings))
                return await tick_until(sup, zombies, timeout=60, seen=seen)
            finally:
                await sup.close()

        report = asyncio.run(go())
        by_name = {w.name: w for w in report.wrappers}
        assert by_name["ghost-notes"].zombie_reason == "orphan" and by_name["ghost-notes"].agent == "ghost"
        after = sorted((w.result.subtype, w.result.is_error) for w in report.wrappers
                       if w.zombie_reason == "after_result")
        assert after == [("error_max_turns", True), ("success", False)]
        blocks = {b.line: b for b in report.blocks if b.source == "gateway"}.values()  # one every 20 s
        assert blocks and all(b.duration_ms == 1855 and "untracked culprit" in b.culprit for b in blocks)
        assert {(f.kind, f.subject) for f in report.findings if f.kind == "loop_block"} == {("loop_block", "gateway")}
        # seed #3: the gateway wrote its cached route back over the leader's repoint; the leader does not
        # fight it, so the finding stays for the operator (p)
        assert "written back from the gateway's cache" in world.gateway_log.read_text()
        assert ("stale_route", "scribe") in {(f.kind, f.agent) for f in report.findings}
        assert json.loads(world.routes_file.read_text()) == {"scribe": world.stale_session}
        assert status(report, "api").port_listening is True
        assert sorted(f.kind for f in report.findings if f.agent == "ghost") == ["respawn_exhausted",
                                                                                "zombie_wrapper"]
        deaf = [f for f in seen if f.agent == "deaf" and f.kind in ("spawn_failed", "port_not_listening")]
        assert deaf and deaf[0].evidence.get("check", "port_listening") == "port_listening"
        assert "deaf" not in {f.agent for f in report.findings if f.kind == "respawn_exhausted"}
        # each irrecoverable failure alerted once, through alert_command: ghost's budget, api's missed wake
        alerts = [(a["kind"], a["agent"]) for a in map(json.loads, world.alerts_file.read_text().splitlines())]
        assert [a for a in alerts if a[0] != "stale_route"] == [("respawn_exhausted", "ghost"), ("missed_wake", "api")]

        # seed #6: the notice went to the humans (journal, notice_command), never into a pane; tabs's wake
        # was typed and verified through a new user record in its transcript; api's was typed three times
        # (two retries) and never showed
        reminders = {(r.agent, r.verb): r for r in report.reminders}
        notice, wake, missed = reminders[("tabs", "notice")], reminders[("tabs", "wake")], reminders[("api", "wake")]
        assert notice.state == "delivered" and notice.pane is None
        [noticed] = [json.loads(line) for line in world.notices_file.read_text().splitlines()]
        assert noticed["id"] == notice.id and noticed["verb"] == "notice"
        assert wake.via == "transcript" and wake.attempts == 1 and wake.latency_s < world.config.supervisor.wake_verify_s
        tabs_transcript = Path(wake.evidence["record"]["transcript"])
        user_texts = [row["message"]["content"] for row in map(json.loads, tabs_transcript.read_text().splitlines())
                      if row.get("type") == "user" and isinstance(row["message"]["content"], str)]
        assert wake.text in user_texts and notice.text not in user_texts
        assert missed.state == "missed" and missed.attempts == 1 + world.config.supervisor.wake_retries
        assert ("missed_wake", "api") in {(f.kind, f.agent) for f in report.findings}
        # seed #5: the CLI canary passes, the two-day-old nightly report fails with its age as evidence
        canaries = [f for f in report.findings if f.kind == "canary_failed"]
        assert [f.evidence["canary"] for f in canaries] == ["nightly-report"]
        assert canaries[0].evidence["age_s"] > 86400
        # seed #11: relay gave up its recommendation at the first pushback without re-reading anything
        [fold] = [f for f in report.findings if f.kind == "fold_under_pressure"]
        assert fold.agent == "relay" and fold.evidence["tools_between"] == []
        assert "keep the cache" in fold.evidence["pushback"]["text"]
        assert "You're right, scrap mine" in fold.evidence["reply"]["text"]
        # seed #1: every agent runs the world's CLI link; nobody promoted anything, so no drift
        assert {a.command[0] for a in world.config.agents} == {str(world.cli_link)}
        assert not [f for f in report.findings if f.kind == "version_drift"]
        # seed #3: once scribe has a turn on disk, the leader repoints its stale record, loudly, once
        assert [a for a in alerts if a[0] == "stale_route"] in ([], [("stale_route", "scribe")])
        # every healthy agent came from a verified spawn of the supervisor, in the world's Claude dir
        rows = Registry(world.state_dir / "registry.jsonl").read_all().rows
        assert {r["agent"] for r in rows if r["event"] == "spawned"} >= set(HEALTHY)
        # flaky was adopted (never restarted by the adoption), then its crash was recorded and respawned
        flaky = [r["event"] for r in rows if r.get("agent") == "flaky"]
        assert flaky[:2] == ["adopted", "exit"] and "spawned" in flaky
        tabs = status(report, "tabs")
        live = json.loads((world.claude_dir / "sessions" / f"{tabs.pid}.json").read_text())
        assert live["pid"] == tabs.pid and live["cwd"] == str(world.config.agent("tabs").cwd)
        environ = Path(f"/proc/{tabs.pid}/environ").read_bytes().split(b"\0")
        assert f"HOME={world.home}".encode() in environ
        # the world's processes are found by its marker (the teardown relies on it)
        procs = world.processes()
        assert {status(report, n).pid for n in HEALTHY} <= set(procs)
        assert world.server_pid in procs

        # an operator's one-shot check against the kept config sees the same world
        check = subprocess.run([sys.executable, "-m", "cockpit", "check", "--json", "--config",
                                str(world.config_path)], capture_output=True, text=True, timeout=60,
                               cwd=tmp_path)
        assert check.returncode == 2, check.stderr  # ghost is critical
        data = json.loads(check.stdout)
        assert {a["name"]: a["status"] for a in data["agents"]}["tabs"] in LIVE_STATUSES
        assert {a["name"]: a["status"] for a in data["agents"]}["ghost"] == "fatal"

    assert_gone(root, socket, socket_path, procs)
    assert world.close() is None  # closing twice is harmless


def test_doctor_fails_the_demos_broken_candidate_and_promotes_the_good_one(tmp_path):
    """Seed #1 in the demo: the broken CLI answers --version like any other; booted with the production
    flags it crashes, and doctor says so and leaves the link; the good one passes and is promoted."""
    with DemoWorld(agents=1) as world:
        link = world.cli_link
        current = os.readlink(link)
        assert os.path.realpath(link) == str(world.cli_versions / CLI_CURRENT)

        def run(*argv: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(list(argv), capture_output=True, text=True, timeout=60, cwd=tmp_path)

        def doctor(version: str) -> tuple[int, dict]:
            done = run(sys.executable, "-m", "cockpit", "doctor", str(world.cli_versions / version),
                       "--promote", str(link), "--config", str(world.config_path), "--json")
            return done.returncode, json.loads(done.stdout)

        # what the old doctor checked ("the flag exists in --help", a version answer) passes for the broken one
        naive = run(str(world.cli_versions / CLI_BROKEN), "--version")
        assert naive.returncode == 0 and naive.stdout.startswith(CLI_BROKEN)
        assert run(str(world.cli_versions / CLI_BROKEN), "--help").returncode == 0

        code, broken = doctor(CLI_BROKEN)
        assert code == 1 and broken["verdict"] == "fail"
        assert broken["argv"][1:] == list(world.config.doctor.args)  # booted with the production flags
        assert "TypeError: g9H is not a function" in broken["screen"]
        assert {h["pattern"] for h in broken["hits"]} >= {"is not a function", "sandbox"}
        assert broken["promotion"] is None and os.readlink(link) == current  # untouched

        code, good = doctor(CLI_GOOD)
        assert code == 0 and good["verdict"] == "pass" and good["ready"] is True
        assert os.path.realpath(link) == str(world.cli_versions / CLI_GOOD)  # promoted, readlink verified
        promotions = [json.loads(line) for line in (world.state_dir / "promotions.jsonl").read_text().splitlines()]
        assert [(r["kind"], r["new_target"]) for r in promotions] == [("promotion", str(world.cli_versions / CLI_GOOD))]
        # the promoted CLI is what the agents now start
        assert run(str(link), "--version").stdout.startswith(CLI_GOOD)


def test_keep_leaves_the_world_running_and_says_where_it_is():
    world = DemoWorld(agents=2, keep=True)
    try:
        world.open()

        async def go():
            sup = Supervisor(world.config, actor="test")
            try:
                return await tick_until(sup, lambda r: status(r, "tabs").status in LIVE_STATUSES, timeout=20)
            finally:
                await sup.close()

        tabs = status(asyncio.run(go()), "tabs")
        text = world.close()
        assert text is not None
        assert f"tmux -L {world.socket} attach" in text and str(world.config_path) in text
        assert f"tmux -L {world.socket} kill-server; sleep 1; rm -rf {world.root}" in text
        # nothing was torn down
        assert tmux_alive(world.socket) and world.root.exists() and pid_alive(tabs.pid, tabs.start)
        # the clean-up the text gives works: no process of the world outlives it
        cleanup = text.split("clean up:", 1)[1].strip().splitlines()[0]
        subprocess.run(["sh", "-c", cleanup], check=True, capture_output=True)
        deadline = time.monotonic() + 5
        while pid_alive(tabs.pid, tabs.start) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not pid_alive(tabs.pid, tabs.start) and not tmux_alive(world.socket) and not world.root.exists()
    finally:
        world.close(keep=False)


def supervise_until(names: tuple[str, ...], record: dict):
    """An app_runner that runs the supervisor headless until the named agents run."""

    def runner(config):
        async def go():
            sup = Supervisor(config, actor="test")
            try:
                report = await tick_until(sup, lambda r: all(status(r, n).status in LIVE_STATUSES for n in names),
                                          timeout=20)
                record["pids"] = {a.pid: a.start for a in report.agents if a.pid}
            finally:
                await sup.close()

        record["socket"] = config.tmux.socket
        record["root"] = config.state.dir.parent
        asyncio.run(go())
        return 0

    return runner


def test_run_demo_runs_the_app_on_the_world_and_tears_it_down_when_it_quits():
    record: dict = {}
    out = io.StringIO()
    assert run_demo(agents=3, app_runner=supervise_until(("tabs",), record), out=out) == 0
    assert_gone(record["root"], record["socket"], None, record["pids"])
    said = out.getvalue()
    assert f"tmux -L {record['socket']}" in said and "torn down" in said


def test_run_demo_tears_down_when_the_app_crashes():
    record: dict = {}
    inner = supervise_until(("tabs",), record)

    def crashing(config):
        inner(config)
        raise RuntimeError("the app blew up")

    with pytest.raises(RuntimeError, match="blew up"):
        run_demo(agents=1, app_runner=crashing, out=io.StringIO())
    assert_gone(record["root"], record["socket"], None, record["pids"])


def test_run_demo_with_keep_prints_where_the_world_is(capsys):
    record: dict = {}
    try:
        assert run_demo(agents=1, keep=True, app_runner=supervise_until(("tabs",), record)) == 0
        said = capsys.readouterr().out
        assert f"tmux -L {record['socket']} attach" in said and f"rm -rf {record['root']}" in said
        assert tmux_alive(record["socket"]) and record["root"].exists()
    finally:
        if "socket" in record:
            destroy_world(record["root"], record["socket"], known=record.get("pids"))


def test_a_bad_agent_count_is_one_line_and_builds_nothing(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where DemoWorld would make its dir
    assert run_demo(agents=0, app_runner=lambda config: pytest.fail("no app without a world")) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--agents" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(DemoError):
        DemoWorld(agents=10_000)


def test_the_cast_keeps_one_of_each_fault_and_grows_with_plain_chatters():
    assert [a.name for a in demo_agents(3)] == ["tabs", "ghost", "deaf"]
    names = [a.name for a in demo_agents(10)]
    assert names[:8] == ["tabs", "scribe", "api", "relay", "ghost", "deaf", "flaky", "asker"]
    assert names[8:] == ["worker-09", "worker-10"]
    faults = {a.name: a.flags for a in demo_agents()}
    assert "--die-after-ms" in faults["ghost"] and "--no-bind" in faults["deaf"]
    assert "--crash-after-s" in faults["flaky"] and "--prompt-permission" in faults["asker"]
    assert "--ignore-input" in faults["api"] and "--fold-after-s" in faults["relay"]
    light = demo_agents(200, faults=False)
    assert len({a.name for a in light}) == 200
    assert all(not set(a.flags) & {"--die-after-ms", "--no-bind", "--crash-after-s"} for a in light)


SIGNALLED = textwrap.dedent("""
    import asyncio, sys
    from cockpit.demo import run_demo
    from cockpit.supervisor import Supervisor

    def runner(config):
        async def go():
            sup = Supervisor(config, actor="test")
            try:
                await sup.run(asyncio.Event())   # until a signal ends the process
            finally:
                await sup.close()
        asyncio.run(go())

    sys.exit(run_demo(agents=2, app_runner=runner))
""")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: s.name)
def test_a_signal_to_the_demo_still_tears_the_world_down(tmp_path, sig):
    out = tmp_path / "out.txt"
    with open(out, "w") as fh:
        proc = subprocess.Popen([sys.executable, "-c", SIGNALLED], stdout=fh, stderr=subprocess.STDOUT,
                                cwd=REPO, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        match = None
        while match is None and time.monotonic() < deadline:
            match = re.search(r"tmux -L (cockpit-demo-\w+), world (\S+)", out.read_text())
            time.sleep(0.05)
        assert match, out.read_text()
        socket, root = match.group(1), Path(match.group(2))
        registry = root / "state" / "registry.jsonl"
        while time.monotonic() < deadline:  # an agent's verified spawn (the world's own wrapper row is not one)
            rows = Registry(registry).read_all().rows if registry.exists() else []
            if any(r.get("event") == "spawned" and r.get("wrapper") is not True for r in rows):
                break
            time.sleep(0.1)
        pids = world_processes(root, socket)
        assert len(pids) >= 2, "the agents did not start"
        proc.send_signal(sig)
        code = proc.wait(timeout=30)
        assert code == 128 + sig, out.read_text()
        assert_gone(root, socket, None, pids)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def test_the_demo_module_does_not_import_textual():
    code = "import sys, cockpit.demo; sys.exit('textual' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0


def test_config_demo_toml_is_what_the_demo_writes():
    """config/demo.toml documents the demo's config: same agents, faults and supervisor settings."""
    example = load_config(REPO / "config" / "demo.toml", env={"HOME": "/nonexistent"})
    with DemoWorld() as world:
        real = world.config

    def shape(config):
        agents = [(a.name, a.kind, a.restart, a.port is not None,
                   tuple("PORT" if arg.isdigit() and a.port is not None and int(arg) == a.port else arg
                         for arg in a.command[1:]), tuple(sorted(a.env)))
                  for a in config.agents]
        sup = config.supervisor
        canaries = [(c.name, c.every_s, c.command[1:], c.expect, c.expect_file is not None, c.max_age_s, c.timeout_s)
                    for c in config.canaries]
        return agents, (sup.tick_s, sup.spawn_verify_s, sup.min_uptime_s, sup.max_restarts,
                        sup.restart_window_s, sup.backoff_max_s, sup.max_actions_per_minute,
                        sup.zombie_grace_s, sup.stop_wait_s, sup.auto_reap, sup.wake_verify_s, sup.wake_retries,
                        sup.alert_command[1:3], sup.notice_command[1:3]), \
            [log.name for log in config.logs], config.tmux.session, \
            [re.sub(r"demo-zombie-[0-9a-f]+-", "demo-zombie-HEX-", w.match) for w in config.wrappers], \
            canaries, config.doctor

    assert shape(example) == shape(real)


def test_lag_probe_reports_the_loop_lag_with_the_supervisor_alone():
    result = lag_probe(agents=3, seconds=1, tui=False, spawn_timeout_s=30)
    assert result["mode"] == "supervisor" and result["spawned"] == 3
    assert result["samples"] > 10 and 0 <= result["median_ms"] <= result["p99_ms"] <= result["max_ms"]
    assert result["tick_ms"]["ticks"] >= 1
