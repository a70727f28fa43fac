"""The routing record and repoint: atomic, shape-keeping, verified, loud; respawn resumes the disk truth (seed #3)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.act.repoint import AutoRepoint, RepointResult, repoint_agent
from cockpit.claude_paths import live_session_path, transcript_path
from cockpit.findings import Finding, Severity
from cockpit.judge.sessions import session_findings
from cockpit.locks import agent_lock_path, ahold, hold
from cockpit.observe.sessions import SessionObserver
from cockpit.registry import Journal, Registry
from cockpit.routes import RoutesError, lock_path_for, read_routes, repoint
from cockpit.supervisor import Supervisor
from tests.conftest import SIM
from tests.test_sessions import make_config, session_observer, sid, snapshot_of, write_live, write_transcript
from tests.test_transcripts import T0

REPO = Path(__file__).resolve().parent.parent


# --- the routing record -------------------------------------------------------------------------


def test_a_string_entry_stays_a_string_and_other_entries_are_kept(tmp_path):
    path = tmp_path / "routes.json"
    old, new, other = sid(), sid(), sid()
    path.write_text(json.dumps({"tabs": old, "docs": {"session_id": other, "topic": "d"}, "n": 3}, indent=4) + "\n")
    before, after = repoint(path, "tabs", new)
    assert (before, after) == (old, new)
    data = json.loads(path.read_text())
    assert data == {"tabs": new, "docs": {"session_id": other, "topic": "d"}, "n": 3}
    assert list(data) == ["tabs", "docs", "n"]  # key order kept
    assert path.read_text().splitlines()[1].startswith("    ")  # and the indentation


def test_an_object_entry_keeps_its_other_keys(tmp_path):
    path = tmp_path / "routes.json"
    old, new = sid(), sid()
    path.write_text(json.dumps({"tabs": {"topic": "t", "session_id": old, "chat": 42}, "docs": "x"}))
    assert repoint(path, "tabs", new) == (old, new)
    assert json.loads(path.read_text()) == {"tabs": {"topic": "t", "session_id": new, "chat": 42}, "docs": "x"}
    # a new agent takes the shape the record uses
    path.write_text(json.dumps({"docs": {"session_id": old}}))
    assert repoint(path, "tabs", new) == (None, new)
    assert json.loads(path.read_text())["tabs"] == {"session_id": new}


def test_the_file_mode_and_a_symlinked_record_survive_a_repoint(tmp_path):
    real = tmp_path / "gateway" / "routes.json"
    real.parent.mkdir()
    real.write_text(json.dumps({"tabs": sid()}))
    os.chmod(real, 0o640)
    link = tmp_path / "routes.json"
    link.symlink_to(real)
    new = sid()
    repoint(link, "tabs", new)
    assert link.is_symlink() and json.loads(real.read_text())["tabs"] == new
    assert real.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize("content, expected", [
    (b'{"tabs": ', "expected JSON"),
    (b"\xff\xfe{}", "expected UTF-8 JSON"),
    (b'["tabs"]', "expected a JSON object"),
    (b"[" * 100_000, "JSON"),
], ids=["truncated", "not-utf8", "not-an-object", "too-deep"])
def test_a_bad_record_is_one_clear_error_and_nothing_changes(tmp_path, content, expected):
    path = tmp_path / "routes.json"
    path.write_bytes(content)
    read = read_routes(path)
    assert read.error is not None and expected in read.error and str(path) in read.error
    assert "\n" not in read.error and read.sessions == {}
    with pytest.raises(RoutesError) as err:
        repoint(path, "tabs", sid())
    assert expected in str(err.value)
    assert path.read_bytes() == content


def test_a_missing_record_or_a_bad_entry_is_refused(tmp_path):
    path = tmp_path / "routes.json"
    assert read_routes(path).missing
    with pytest.raises(RoutesError, match="no such file"):
        repoint(path, "tabs", sid())
    assert not path.exists()
    path.write_text(json.dumps({"tabs": 7, "docs": "s"}))
    read = read_routes(path)
    assert read.bad_entries == {"tabs": "expected a string or an object with session_id, got int"}
    assert read.sessions == {"docs": "s"}
    with pytest.raises(RoutesError, match="does not understand"):
        repoint(path, "tabs", sid())
    with pytest.raises(RoutesError, match="non-empty printable"):
        repoint(path, "docs", "bad\nid")


def test_repoint_waits_for_the_lock_and_gives_up_cleanly(tmp_path):
    path = tmp_path / "routes.json"
    path.write_text(json.dumps({"tabs": "old"}))
    held, release = threading.Event(), threading.Event()

    def holder():  # another writer (the gateway) holds the record's lock
        with hold(lock_path_for(path)):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        held.wait(5)
        with pytest.raises(RoutesError, match="still busy"):
            repoint(path, "tabs", sid(), timeout=0.2)
    finally:
        release.set()
        thread.join()
    assert json.loads(path.read_text()) == {"tabs": "old"}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.one_of(
    st.binary(max_size=200),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                 lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                 max_leaves=12).map(lambda v: json.dumps(v).encode()),
))
def test_reading_any_bytes_never_raises(tmp_path, raw):
    path = tmp_path / "routes.json"
    path.write_bytes(raw)
    read = read_routes(path)
    assert read.error is None or "\n" not in read.error
    assert all(isinstance(v, str) for v in read.sessions.values())


KILL_LOOP = r"""
import sys
from cockpit.routes import repoint
path, a, b = sys.argv[1:4]
print("ready", flush=True)
i = 0
while True:
    repoint(path, "tabs", a if i % 2 == 0 else b)
    i += 1
"""


def test_kill_9_during_repoint_leaves_the_old_or_the_new_record(tmp_path):
    path = tmp_path / "routes.json"
    a, b, other = sid(), sid(), sid()
    original = {"tabs": {"session_id": a, "topic": "t"}, "docs": other}
    path.write_text(json.dumps(original, indent=2) + "\n")
    seen = set()
    rng = random.Random(4)
    for _ in range(25):
        child = subprocess.Popen([sys.executable, "-c", KILL_LOOP, str(path), a, b], cwd=REPO,
                                 stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.04))
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        data = json.loads(path.read_text())  # always whole JSON: the old file or the new one
        assert data["docs"] == other and data["tabs"]["topic"] == "t" and set(data) == {"tabs", "docs"}
        assert data["tabs"]["session_id"] in (a, b)
        seen.add(data["tabs"]["session_id"])
    assert seen == {a, b}  # the loop really was writing when it was killed
    # the lock died with its holder: the next writer gets it at once
    assert repoint(path, "tabs", a, timeout=2.0)[1] == a


# --- repoint_agent without tmux ------------------------------------------------------------------------


@pytest.fixture
def stand():
    child = subprocess.Popen(["sleep", "60"])
    from cockpit.observe.procs import proc_start_ticks
    yield child.pid, proc_start_ticks(child.pid)
    child.kill()
    child.wait()


def _setup(tmp_path, stand, agents=None, route=None):
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    cwd = str(work)
    cfg = tmp_path / "claude"
    routes = tmp_path / "routes.json"
    live_sid, stale = sid(), sid()
    write_transcript(cfg, cwd, stale, T0)
    write_transcript(cfg, cwd, live_sid, T0 + 180)
    pid, start = stand
    write_live(cfg, pid, start, live_sid, cwd)
    routes.write_text(json.dumps({"tabs": {"session_id": route or stale, "topic": "tabs"}, "docs": "keep-me"}))
    config = make_config(tmp_path, agents or [{"name": "tabs", "kind": "claude-code", "cwd": cwd,
                                               "command": ["claude"]}], routes=routes)
    registry = Registry(config.state.registry)
    journal = Journal(config.state.journal)
    return config, registry, journal, routes, live_sid, stale


def run_repoint(config, registry, journal, trees, bound=None):
    observer = session_observer(config)

    async def observe():
        return snapshot_of(trees)

    return asyncio.run(repoint_agent("tabs", config=config, sessions=observer, observe=observe,
                                     bound=lambda: bound or {}, registry=registry, journal=journal, actor="test"))


def test_repoint_rewrites_the_record_and_says_so_loudly(tmp_path, stand):
    config, registry, journal, routes, live_sid, stale = _setup(tmp_path, stand)
    result = run_repoint(config, registry, journal, {"tabs": [stand]})
    assert result.ok and not result.skipped and (result.before, result.after) == (stale, live_sid)
    assert result.source == "live" and result.evidence["verified"] is True
    assert json.loads(routes.read_text()) == {"tabs": {"session_id": live_sid, "topic": "tabs"}, "docs": "keep-me"}
    [row] = [r for r in registry.read_all().rows if r["event"] == "repointed"]
    assert (row["agent"], row["before"], row["after"], row["session_id"]) == ("tabs", stale, live_sid, live_sid)
    [entry] = [r for r in journal.read_all().rows if r.get("action") == "repoint"]
    assert entry["kind"] == "action" and entry["before"]["session_id"] == stale
    assert entry["after"]["session_id"] == live_sid and entry["result"] == "verified"
    assert entry["evidence"]["live"]["pid"] == stand[0] and entry["evidence"]["disk_last_turn_at"]
    json.dumps(result.to_json())
    # again: the record already says so, nothing is written
    again = run_repoint(config, registry, journal, {"tabs": [stand]})
    assert again.ok and again.skipped
    assert len([r for r in registry.read_all().rows if r["event"] == "repointed"]) == 1


def test_repoint_refuses_an_ambiguous_session(tmp_path, stand):
    work = str(tmp_path / "work")
    agents = [{"name": n, "kind": "claude-code", "cwd": work, "command": ["claude"]} for n in ("tabs", "docs")]
    config, registry, journal, routes, live_sid, stale = _setup(tmp_path, stand, agents=agents)
    before = routes.read_bytes()
    result = run_repoint(config, registry, journal, {"tabs": [], "docs": []})  # both down: nothing decides
    assert not result.ok and result.refused == "ambiguous" and "docs" in result.summary
    assert routes.read_bytes() == before
    assert [r for r in registry.read_all().rows if r["event"] == "repointed"] == []
    [entry] = [r for r in journal.read_all().rows if r.get("action") == "repoint"]
    assert entry["result"] == "refused: ambiguous"


def test_repoint_refuses_when_no_session_is_known(tmp_path, stand):
    config, registry, journal, routes, live_sid, stale = _setup(tmp_path, stand)
    for path in (tmp_path / "claude" / "projects").rglob("*.jsonl"):
        path.unlink()
    before = routes.read_bytes()
    result = run_repoint(config, registry, journal, {"tabs": []})
    assert result.refused == "unknown" and routes.read_bytes() == before


def test_the_leader_repoints_by_itself_only_live_or_bound_truths_and_never_fights():
    auto = AutoRepoint(cooldown_s=600, clock=lambda: 1000.0)
    stale = Finding("stale_route", Severity.CRITICAL, "x", agent="tabs", action="repoint",
                    evidence={"route_session": "old"})

    class T:
        source = "live"

    assert auto.due(stale, T())
    T.source = "newest"
    assert not auto.due(stale, T())  # a newest-transcript truth waits for an operator
    T.source = "live"
    auto.record(RepointResult("tabs", True, "ok", before="old", after="new"))
    assert not auto.due(stale, T())  # the record went back to what we replaced: someone rewrites it; no tug of war
    assert auto.reverted("tabs", "old")
    other = Finding("stale_route", Severity.CRITICAL, "x", agent="tabs", action="repoint",
                    evidence={"route_session": "third"})
    assert auto.due(other, T())


# --- end to end: simulated agents in a private tmux server -----------------------------------------


class _NeverAutomatic(AutoRepoint):
    def due(self, finding, truth, now=None) -> bool:
        return False


class SessionsHarness:
    """Session truth wired around a Supervisor from the outside (the lead's diff does this inside it)."""

    def __init__(self, sup: Supervisor) -> None:
        self.sup = sup
        wired = getattr(sup, "sessions", None)
        self.sessions = wired if isinstance(wired, SessionObserver) else session_observer(sup.config)
        if hasattr(sup, "auto_repoint"):  # wired: these tests drive the operator's repoint, not the leader's
            sup.auto_repoint = _NeverAutomatic()
        sup.actions.resume_for = lambda agent: self.sessions.resume_for(
            agent, sup.view.bound_sessions.get(agent.name, []))

    async def tick(self):
        report = await self.sup.tick()
        snap = await self.sup.observer.observe()
        await self.sup.actions.sync()
        sessions = await self.sessions.observe(snap, self.sup.view.bound_sessions)
        findings = session_findings([a.name for a in self.sup.config.agents], sessions,
                                    starting=set(self.sup.actions.in_flight))
        return report, sessions, findings

    async def tick_until(self, predicate, timeout=20.0):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = await self.tick()
            if predicate(*last):
                return last
            await asyncio.sleep(self.sup.config.supervisor.tick_s)
        raise AssertionError(f"timed out; last truths: {last and {k: v.to_json() for k, v in last[1].truths.items()}}"
                             f" findings: {last and [f.to_json() for f in last[2]]}")

    async def repoint(self, name: str):
        async with ahold(agent_lock_path(self.sup.config.state.dir, name)):
            await self.sup.actions.sync()
            return await repoint_agent(name, config=self.sup.config, sessions=self.sessions,
                                       observe=self.sup.observer.observe, bound=lambda: self.sup.view.bound_sessions,
                                       registry=self.sup.registry, journal=self.sup.journal, actor="test")


def sim_print_session(world, session_id: str, config_dir: Path | None = None) -> Path:
    """A finished session written by the simulator in print mode (the real transcript format)."""
    env = dict(os.environ, CLAUDE_CONFIG_DIR=str(config_dir or world.claude_dir))
    subprocess.run([*SIM, "-p", "older work", "--session-id", session_id, "--reply-delay-s", "0"], cwd=world.work,
                   env=env, check=True, capture_output=True, timeout=30)
    path = transcript_path(config_dir or world.claude_dir, str(world.work), session_id)
    assert path.exists()
    return path


def registry_rows(world, event=None):
    return [r for r in Registry(world.state_dir / "registry.jsonl").read_all().rows
            if event is None or r["event"] == event]


def has_turn(truths, name):
    t = truths.truths.get(name)
    return t is not None and t.source == "live" and t.transcript is not None


def test_a_stale_record_is_found_repointed_and_the_respawn_resumes_the_disk_truth(world):
    routes = world.root / "routes.json"
    config = world.write_config(
        [{"name": "tabs", "kind": "claude-code", "command": [*SIM, "first task", "--reply-delay-s", "0.05"]}],
        extra=f'\n[routes]\nfile = "{routes}"\n')

    async def go():
        sup = Supervisor(config)
        h = SessionsHarness(sup)
        try:
            _, truths, _ = await h.tick_until(lambda r, s, f: has_turn(s, "tabs"))
            live_sid = truths.truths["tabs"].disk_session
            # the gateway's cache names another session, newer on disk than the live one: the live file wins
            stale = str(uuid.uuid4())
            sim_print_session(world, stale)
            routes.write_text(json.dumps({"tabs": {"session_id": stale, "topic": "tabs"}, "docs": "keep-me"}))
            _, truths, findings = await h.tick_until(lambda r, s, f: any(x.kind == "stale_route" for x in f))
            [finding] = [f for f in findings if f.kind == "stale_route"]
            assert finding.agent == "tabs" and finding.action == "repoint" and finding.severity.value == "critical"
            assert finding.evidence["route_session"] == stale and finding.evidence["disk_session"] == live_sid
            assert finding.evidence["route_last_turn_at"] and finding.evidence["disk_last_turn_at"]
            result = await h.repoint("tabs")
            assert result.ok and (result.before, result.after) == (stale, live_sid)
            _, _, findings = await h.tick()
            assert not [f for f in findings if f.kind == "stale_route"]
            # the agent is killed -9 (its live file stays behind); the supervisor respawns it
            pid = truths.truths["tabs"].evidence["live"]["pid"]
            os.kill(pid, signal.SIGKILL)
            _, truths, _ = await h.tick_until(
                lambda r, s, f: s.truths["tabs"].source == "live" and s.truths["tabs"].evidence["live"]["pid"] != pid,
                timeout=30)
            return live_sid, stale, truths
        finally:
            await sup.close()

    live_sid, stale, truths = asyncio.run(go())
    assert truths.truths["tabs"].disk_session == live_sid
    respawn = [r for r in registry_rows(world, "spawn_requested") if r["agent"] == "tabs"][-1]
    argv = respawn["argv"]
    assert argv[argv.index("--resume") + 1] == live_sid and stale not in argv
    new_pid = truths.truths["tabs"].evidence["live"]["pid"]
    live = json.loads(live_session_path(world.claude_dir, new_pid).read_text())
    assert live["sessionId"] == live_sid
    assert json.loads(routes.read_text()) == {"tabs": {"session_id": live_sid, "topic": "tabs"}, "docs": "keep-me"}
    journal = Journal(world.state_dir / "journal.jsonl").read_all().rows
    assert any(r.get("action") == "repoint" and r.get("result") == "verified" for r in journal)


def test_a_record_into_another_config_dir_is_unknown_and_never_resumed(world):
    routes = world.root / "routes.json"
    config = world.write_config(
        [{"name": "tabs", "kind": "claude-code", "command": [*SIM, "first task", "--reply-delay-s", "0.05"]}],
        extra=f'\n[routes]\nfile = "{routes}"\n')
    other_dir = world.root / "other-claude"

    async def go():
        sup = Supervisor(config)
        h = SessionsHarness(sup)
        try:
            _, truths, _ = await h.tick_until(lambda r, s, f: has_turn(s, "tabs"))
            live_sid = truths.truths["tabs"].disk_session
            foreign = str(uuid.uuid4())
            sim_print_session(world, foreign, config_dir=other_dir)
            routes.write_text(json.dumps({"tabs": foreign}))
            _, _, findings = await h.tick_until(lambda r, s, f: any(x.kind == "unknown_route_session" for x in f))
            [finding] = [f for f in findings if f.kind == "unknown_route_session"]
            assert finding.agent == "tabs" and finding.action == "repoint"
            assert str(world.claude_dir) in finding.summary and finding.evidence["route_session"] == foreign
            # respawn through the operator: it resumes the disk truth, never the record's id
            result = await sup.respawn("tabs", force=True)
            assert result.ok, result.summary
            return live_sid, foreign
        finally:
            await sup.close()

    live_sid, foreign = asyncio.run(go())
    argv = [r for r in registry_rows(world, "spawn_requested") if r["agent"] == "tabs"][-1]["argv"]
    assert argv[argv.index("--resume") + 1] == live_sid and foreign not in argv
    assert json.loads(routes.read_text()) == {"tabs": foreign}  # nobody repointed: the record is untouched


@pytest.mark.skipif(not hasattr(Supervisor, "repoint"), reason="the supervisor wiring (issue 4 diff) is not applied")
def test_the_wired_supervisor_reports_truth_and_repoints_a_stale_record_by_itself(world):
    routes = world.root / "routes.json"
    config = world.write_config(
        [{"name": "tabs", "kind": "claude-code", "command": [*SIM, "first task", "--reply-delay-s", "0.05"]}],
        extra=f'\n[routes]\nfile = "{routes}"\n')

    async def go():
        sup = Supervisor(config)
        try:
            deadline = time.monotonic() + 20
            while True:
                report = await sup.tick()
                a = report.agents[0]
                if a.disk_session and a.last_turn_at and a.status in ("idle", "working"):
                    break
                assert time.monotonic() < deadline, [x.to_json() for x in report.agents]
                await asyncio.sleep(0.2)
            live_sid = a.disk_session
            stale = str(uuid.uuid4())
            sim_print_session(world, stale)
            routes.write_text(json.dumps({"tabs": stale}))
            deadline = time.monotonic() + 20
            while True:
                report = await sup.tick()
                if report.agents[0].route_session == live_sid:
                    break
                assert time.monotonic() < deadline, [f.to_json() for f in report.findings]
                await asyncio.sleep(0.2)
            return live_sid, stale, report
        finally:
            await sup.close()

    live_sid, stale, report = asyncio.run(go())
    assert json.loads(routes.read_text()) == {"tabs": live_sid}
    assert "stale_route" not in {f.kind for f in report.findings}
    [row] = registry_rows(world, "repointed")
    assert (row["before"], row["after"]) == (stale, live_sid)


@pytest.mark.skipif(not hasattr(Supervisor, "repoint"), reason="the supervisor wiring (issue 4 diff) is not applied")
def test_cockpit_check_and_repoint_from_the_command_line(world):
    routes = world.root / "routes.json"
    world.write_config(
        [{"name": "tabs", "kind": "claude-code", "command": [*SIM, "first task", "--reply-delay-s", "0.05"]}],
        extra=f'\n[routes]\nfile = "{routes}"\n')

    def cockpit(*args):
        return subprocess.run([sys.executable, "-m", "cockpit", *args, "--config", str(world.config_path)],
                              capture_output=True, text=True, timeout=60, cwd=REPO)

    assert cockpit("respawn", "tabs").returncode == 0
    [spawned] = registry_rows(world, "spawned")
    live_sid = spawned["session_id"]
    deadline = time.monotonic() + 10
    while not transcript_path(world.claude_dir, str(world.work), live_sid).exists():
        assert time.monotonic() < deadline, "the agent's first turn never reached the disk"
        time.sleep(0.05)
    stale = str(uuid.uuid4())
    sim_print_session(world, stale)
    routes.write_text(json.dumps({"tabs": {"session_id": stale, "topic": "tabs"}}))
    check = cockpit("check", "--json")
    assert check.returncode == 2, check.stderr  # critical: a stale route
    [finding] = [f for f in json.loads(check.stdout)["findings"] if f["kind"] == "stale_route"]
    assert finding["evidence"]["route_session"] == stale and finding["evidence"]["disk_session"] == live_sid
    [agent] = json.loads(check.stdout)["agents"]
    assert (agent["route_session"], agent["disk_session"]) == (stale, live_sid) and agent["last_turn_at"]
    refused = subprocess.run([sys.executable, "-m", "cockpit", "--read-only", "repoint", "tabs", "--config",
                              str(world.config_path)], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert refused.returncode == 2 and "read-only" in refused.stderr
    assert json.loads(routes.read_text())["tabs"]["session_id"] == stale
    done = cockpit("repoint", "tabs", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["ok"] and result["evidence"]["before"] == stale and result["evidence"]["after"] == live_sid
    assert json.loads(routes.read_text()) == {"tabs": {"session_id": live_sid, "topic": "tabs"}}
    again = cockpit("repoint", "tabs")
    assert again.returncode == 0 and "nothing to do" in again.stdout
    assert cockpit("check").returncode == 0
