"""Session truth: live file, bound ids, newest unowned transcript; never swapped, never hijacked (seed #3)."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from cockpit.claude_paths import live_session_path, project_dir
from cockpit.config import parse_config
from cockpit.judge.sessions import judge_routes_file, judge_sessions, session_findings
from cockpit.observe.procs import Proc, ProcessTable, proc_start_ticks
from cockpit.judge.activity import ActivityTracker, screen_needs_input
from cockpit.judge.resolution import resolve_sessions
from cockpit.observe.sessions import (
    AgentFacts,
    LiveSession,
    ProcRef,
    RouteState,
    SessionObserver,
    SessionTruth,
    SessionsReport,
    TranscriptFacts,
    parse_live_session,
)
from cockpit.observe.snapshot import AgentObservation
from tests.test_transcripts import T0, line, turn, user

CWD = "/srv/work"


def session_observer(config, **kw) -> SessionObserver:
    """The observer as the supervisor builds it: the judges' rule and activity tracker handed in."""
    return SessionObserver(config, resolve=resolve_sessions, activity=ActivityTracker(), **kw)

FOLDER = "/cfg/projects/-srv-work"


def sid() -> str:
    return str(uuid.uuid4())


def agent(name, *, tree=(), bound=(), cwd=CWD, folder=FOLDER, kind="claude-code"):
    return AgentFacts(name, kind, (cwd,), (folder,), tuple(ProcRef(*p) for p in tree), tuple(bound))


def transcript(session_id, last_at, *, cwd=CWD, folder=FOLDER, **kw):
    return TranscriptFacts(session_id, "claude-code", folder, cwd, last_at, last_at - 100, True, None, **kw)


# --- the rule, with plain data --------------------------------------------------------------------


def test_the_live_file_of_a_process_in_the_pane_wins_over_newer_transcripts():
    live_sid, newer = sid(), sid()
    res = resolve_sessions(
        [agent("tabs", tree=[(100, 5000, 0), (101, 5100, 1)], bound=[sid()])],
        [LiveSession(101, live_sid, CWD, 5100, "busy")],
        [transcript(live_sid, T0), transcript(newer, T0 + 999)],
    )["tabs"]
    assert (res.disk_session, res.source, res.ambiguous) == (live_sid, "live", False)
    assert res.evidence["live"]["pid"] == 101


def test_a_reused_pid_with_another_proc_start_is_ignored():
    stale, bound = sid(), sid()
    res = resolve_sessions(
        [agent("tabs", tree=[(100, 7777, 0)], bound=[bound])],
        [LiveSession(100, stale, CWD, 5000, "idle", alive=False)],  # the file of a dead process whose pid came back
        [transcript(stale, T0 + 500), transcript(bound, T0)],
    )["tabs"]
    assert (res.disk_session, res.source) == (bound, "bound")
    assert res.evidence["pid_reused"][0]["session_id"] == stale


def test_bound_ids_newest_first_and_only_with_a_transcript():
    old, newer, no_file = sid(), sid(), sid()
    res = resolve_sessions([agent("tabs", bound=[old, newer, no_file])], [],
                           [transcript(old, T0 + 900), transcript(newer, T0)])["tabs"]
    assert (res.disk_session, res.source) == (newer, "bound")
    assert res.evidence["bound_skipped"] == {no_file: "no transcript in the agent's config dir"}


def test_a_freshly_spawned_agent_owns_its_new_id_before_any_turn():
    fresh, older = sid(), sid()
    trans = [transcript(older, T0)]
    running = resolve_sessions([agent("tabs", tree=[(100, 1, 0)], bound=[older, fresh])], [], trans)["tabs"]
    assert (running.disk_session, running.source, running.transcript) == (fresh, "bound", None)
    assert "pending" in running.evidence
    # once it is gone without a turn, the newest id with a transcript is the truth again
    down = resolve_sessions([agent("tabs", bound=[older, fresh])], [], trans)["tabs"]
    assert (down.disk_session, down.source) == (older, "bound")


def test_newest_unowned_transcript_by_last_record_time():
    a, b = sid(), sid()
    res = resolve_sessions([agent("tabs")], [], [transcript(a, T0 + 10), transcript(b, T0 + 20)])["tabs"]
    assert (res.disk_session, res.source, res.candidates) == (b, "newest", (b, a))


def test_two_agents_in_one_cwd_are_never_swapped_and_never_merged():
    s1, s2 = sid(), sid()
    trans = [transcript(s1, T0 + 10), transcript(s2, T0 + 20)]
    live = [LiveSession(100, s1, CWD, 1000, "idle"), LiveSession(200, s2, CWD, 2000, "busy")]
    both_live = resolve_sessions([agent("a", tree=[(100, 1000, 0)]), agent("b", tree=[(200, 2000, 0)])], live, trans)
    assert both_live["a"].disk_session == s1 and both_live["b"].disk_session == s2
    # both down, nothing bound: nothing decides → both ambiguous, nothing picked
    down = resolve_sessions([agent("a"), agent("b")], [], trans)
    for name, other in (("a", "b"), ("b", "a")):
        assert down[name].ambiguous and down[name].disk_session is None
        assert set(down[name].candidates) == {s1, s2} and down[name].evidence["rivals"] == [other]
    # one decided by its bound id: the other takes what is left, never the bound one
    one = resolve_sessions([agent("a", bound=[s2]), agent("b")], [], trans)
    assert one["a"].disk_session == s2 and one["b"].disk_session == s1 and one["b"].source == "newest"
    assert one["b"].evidence["owned_by_others"] == ["a"]


def test_one_session_claimed_by_two_agents_is_ambiguous_for_both():
    shared = sid()
    res = resolve_sessions([agent("a", tree=[(100, 1, 0)]), agent("b", tree=[(200, 2, 0)])],
                           [LiveSession(100, shared, CWD, 1), LiveSession(200, shared, CWD, 2)],
                           [transcript(shared, T0)])
    assert res["a"].ambiguous and res["b"].ambiguous
    assert res["a"].disk_session is None and res["a"].evidence["also_claimed_by"] == ["b"]


def test_a_foreign_live_claude_session_in_the_same_cwd_never_wins():
    foreign, mine = sid(), sid()
    trans = [transcript(foreign, T0 + 500), transcript(mine, T0)]
    live = [LiveSession(999, foreign, CWD, 42, "busy")]  # a claude in some other terminal
    res = resolve_sessions([agent("tabs")], live, trans)["tabs"]
    assert (res.disk_session, res.source) == (mine, "newest")
    assert res.evidence["foreign_live"][0]["pid"] == 999
    # not even when the cockpit once bound that id to the agent
    res = resolve_sessions([agent("tabs", bound=[mine, foreign])], live, trans)["tabs"]
    assert (res.disk_session, res.source) == (mine, "bound")
    assert "outside the fleet" in res.evidence["bound_skipped"][foreign]
    # and with nothing else on disk, the agent has no truth rather than the foreigner's
    res = resolve_sessions([agent("tabs")], live, [transcript(foreign, T0 + 500)])["tabs"]
    assert res.disk_session is None and not res.ambiguous


def test_a_bound_id_now_live_in_another_agent_is_not_taken():
    moved, mine = sid(), sid()
    res = resolve_sessions([agent("a", bound=[mine, moved]), agent("b", tree=[(200, 2, 0)])],
                           [LiveSession(200, moved, CWD, 2)], [transcript(moved, T0 + 9), transcript(mine, T0)])
    assert res["a"].disk_session == mine and res["b"].disk_session == moved


def test_the_records_cwd_decides_when_two_cwds_share_a_slug():
    theirs, mine = sid(), sid()
    # /srv/my-app and /srv/my.app have the same slug; the folder holds both
    res = resolve_sessions([agent("tabs", cwd="/srv/my.app", folder="/cfg/projects/-srv-my-app")], [],
                           [transcript(theirs, T0 + 50, cwd="/srv/my-app", folder="/cfg/projects/-srv-my-app"),
                            transcript(mine, T0, cwd="/srv/my.app", folder="/cfg/projects/-srv-my-app")])["tabs"]
    assert res.disk_session == mine


def test_the_pane_process_wins_over_a_nested_claude_in_its_tree():
    top, nested = sid(), sid()
    res = resolve_sessions([agent("tabs", tree=[(100, 1, 0), (150, 3, 2)])],
                           [LiveSession(150, nested, CWD, 3), LiveSession(100, top, CWD, 1)], [])["tabs"]
    assert res.disk_session == top and res.evidence["other_live_in_tree"][0]["session_id"] == nested


def test_a_generic_agent_keeps_its_bound_id_without_a_transcript():
    b = sid()
    res = resolve_sessions([agent("gen", kind="generic", bound=[b])], [], [])["gen"]
    assert (res.disk_session, res.source) == (b, "bound")


def test_live_session_files_parse_tolerantly():
    good = parse_live_session(json.dumps({"pid": 12, "sessionId": "ABC", "cwd": "/w", "procStart": "345",
                                          "status": "busy", "updatedAt": 1_750_000_000_000}).encode())
    assert (good.pid, good.session_id, good.proc_start, good.status) == (12, "abc", 345, "busy")
    assert good.updated_at == pytest.approx(1_750_000_000)
    for raw in (b"", b"nope", b"[]", b'{"pid": "x", "sessionId": "s"}', b'{"pid": 3}', b'{"pid": true, "sessionId": "s"}',
                b"\xff\xfe", b"[" * 50_000):
        assert parse_live_session(raw) is None
    assert parse_live_session(b'{"pid": 3, "sessionId": "s", "status": "weird", "procStart": 99}').status is None


# --- activity ------------------------------------------------------------------------------------------


def test_busy_is_working_at_once_idle_is_debounced_waiting_is_immediate():
    act = ActivityTracker(debounce_s=2.0)
    assert act.update("a", now=0, alive=True, live_status="idle") == "idle"
    assert act.update("a", now=1, alive=True, live_status="busy") == "working"
    assert act.update("a", now=2, alive=True, live_status="idle") == "working"  # not yet: debounce
    assert act.update("a", now=3.5, alive=True, live_status="busy") == "working"  # flicker: stays working
    assert act.update("a", now=4, alive=True, live_status="idle") == "working"
    assert act.update("a", now=6.1, alive=True, live_status="idle") == "idle"
    assert act.update("a", now=6.2, alive=True, live_status="waiting") == "needs_input"  # at once
    assert act.update("a", now=7, alive=False) is None


def test_a_permission_prompt_on_screen_is_needs_input_at_once():
    screen = "● Bash(touch x)\n\n Bash command\n   touch x\n Do you want to proceed?\n ❯ 1. Yes\n   2. No\n"
    assert screen_needs_input(screen) and not screen_needs_input("> hello\n● hi there\n")
    act = ActivityTracker()
    assert act.update("a", now=0, alive=True, turn_finished=False, last_turn_at=0, screen=screen) == "needs_input"


def test_without_a_live_status_the_transcript_then_the_pane_decide():
    act = ActivityTracker(debounce_s=2.0, pane_recent_s=3.0, unfinished_stale_s=120.0)
    assert act.update("t", now=100, alive=True, turn_finished=False, last_turn_at=95) == "working"
    assert act.update("t", now=101, alive=True, turn_finished=True, last_turn_at=100) == "working"
    assert act.update("t", now=103.5, alive=True, turn_finished=True, last_turn_at=100) == "idle"
    # an unfinished turn gone quiet for long, with a still pane: idle
    assert act.update("q", now=1000, alive=True, turn_finished=False, last_turn_at=100, pane_mark=1) == "idle"
    # no transcript at all: pane changes mean working
    assert act.update("g", now=0, alive=True, pane_mark=(1,)) == "idle"
    assert act.update("g", now=1, alive=True, pane_mark=(2,)) == "working"
    assert act.update("g", now=2, alive=True, pane_mark=(2,)) == "working"
    assert act.update("g", now=6.5, alive=True, pane_mark=(2,)) == "working"  # quiet since 4.0: debouncing
    assert act.update("g", now=9, alive=True, pane_mark=(2,)) == "idle"


# --- the judge -----------------------------------------------------------------------------------------


def truth(**kw):
    base = dict(agent="tabs", disk_session="d" * 8 + "-disk", source="live", last_turn_at=T0 + 180,
                turn_finished=True, status="idle", transcript=SimpleNamespace(path="/x.jsonl", last_user_text="hi"),
                config_dir="/cfg")
    base.update(kw)
    return SessionTruth(**base)


def test_stale_route_carries_both_ids_and_both_last_turns():
    route = RouteState("tabs", "r" * 8 + "-record", "object", True, T0, None, "/cfg")
    [f] = judge_sessions("tabs", truth(), route, routes_file="/gw/routes.json")
    assert (f.kind, f.severity.value, f.action) == ("stale_route", "critical", "repoint")
    ev = f.evidence
    assert ev["route_session"].startswith("rrrr") and ev["disk_session"].startswith("dddd")
    assert ev["route_last_turn_at"] and ev["disk_last_turn_at"] and ev["source"] == "live"
    assert ev["routes_file"] == "/gw/routes.json"
    assert judge_sessions("tabs", truth(), route, starting=True) == []


def test_never_stale_when_the_disk_truth_is_unknown_or_ambiguous():
    route = RouteState("tabs", "r" * 8 + "-record", "string", True, T0, None, "/cfg")
    assert judge_sessions("tabs", truth(disk_session=None, source=None, transcript=None), route) == []
    [f] = judge_sessions("tabs", truth(disk_session=None, source=None, ambiguous=True, candidates=("x", "y"),
                                       evidence={"rivals": ["other"]}, transcript=None), route)
    assert (f.kind, f.action, f.severity.value) == ("ambiguous_session", "none", "warning")
    # a live session with no turn on disk yet is not a resumable truth: no stale_route either
    assert judge_sessions("tabs", truth(transcript=None, last_turn_at=None), route) == []
    # and a record that agrees with the disk is fine
    assert judge_sessions("tabs", truth(), RouteState("tabs", "d" * 8 + "-disk", "string", True, T0)) == []


def test_unknown_route_session_points_nowhere_resumable():
    route = RouteState("tabs", "e" * 8 + "-elsewhere", "string", False, None, None, "/cfg")
    [f] = judge_sessions("tabs", truth(), route)
    assert (f.kind, f.severity.value, f.action) == ("unknown_route_session", "warning", "repoint")
    [f] = judge_sessions("tabs", truth(disk_session=None, source=None, transcript=None), route)
    assert f.action == "none"
    # the record naming the live session before its first turn is right, not unknown
    fresh = truth(transcript=None, last_turn_at=None)
    assert judge_sessions("tabs", fresh, RouteState("tabs", fresh.disk_session, "string", False)) == []


def test_a_bad_routing_record_is_one_finding():
    report = SessionsReport(at=T0, truths={}, routes={}, routes_file="/gw/routes.json",
                            routes_error="/gw/routes.json: expected JSON (Expecting value: line 1 column 1)")
    f = judge_routes_file(report)
    assert f.kind == "unknown_route_session" and f.agent is None and "expected JSON" in f.summary
    assert session_findings(["tabs"], report) == [f]


# --- the observer on real files (no tmux) ------------------------------------------------------------------


class Stand(tuple):
    """(pid, start) of a stand-in process, with .kill() to end it for good (reaped, not a zombie)."""

    def __new__(cls, pid, start, popen):
        self = super().__new__(cls, (pid, start))
        self.popen = popen
        return self

    def kill(self):
        self.popen.kill()
        self.popen.wait()


@pytest.fixture
def procs():
    """Two real processes standing in for claude processes in two panes."""
    children = [subprocess.Popen(["sleep", "60"]) for _ in range(3)]
    try:
        yield [Stand(c.pid, proc_start_ticks(c.pid), c) for c in children]
    finally:
        for c in children:
            c.kill()
            c.wait()


def make_config(tmp_path, agents, routes=None):
    data = {"claude": {"config_dir": str(tmp_path / "claude")}, "state": {"dir": str(tmp_path / "state")},
            "agents": agents}
    if routes is not None:
        data["routes"] = {"file": str(routes)}
    return parse_config(data)


def snapshot_of(trees: dict[str, list[tuple[int, int]]]):
    agents, all_procs = {}, []
    for name, tree in trees.items():
        ps = tuple(Proc(pid, 1, start, "S", pid, ("claude",), "claude") for pid, start in tree)
        all_procs.extend(ps)
        agents[name] = AgentObservation(name, None, ps[0] if ps else None, ps, None)
    return SimpleNamespace(agents=agents, procs=ProcessTable(all_procs))


def write_live(cfg: Path, pid: int, start: int | None, session_id: str, cwd: str, status="idle"):
    path = live_session_path(cfg, pid)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": pid, "sessionId": session_id, "cwd": cwd, "procStart": str(start),
                                "status": status, "kind": "interactive", "entrypoint": "cli"}))


def write_transcript(cfg: Path, cwd: str, session_id: str, ts: float) -> Path:
    path = project_dir(cfg, cwd) / f"{session_id}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as fh:
        fh.write(turn(ts, 1, cwd=cwd, sid=session_id))
    return path


def test_the_observer_binds_through_live_files_and_remembers_after_death(tmp_path, procs):
    work = tmp_path / "work"
    work.mkdir()
    cwd = str(work)
    cfg = tmp_path / "claude"
    pa, pb, _ = procs
    (a_pid, a_start), (b_pid, b_start), (f_pid, f_start) = procs
    a_sid, b_sid, foreign_sid, old = sid(), sid(), sid(), sid()
    for s, ts in ((a_sid, T0 + 100), (b_sid, T0 + 200), (foreign_sid, T0 + 900), (old, T0)):
        write_transcript(cfg, cwd, s, ts)
    write_live(cfg, a_pid, a_start, a_sid, cwd, "busy")
    write_live(cfg, b_pid, b_start, b_sid, cwd)
    write_live(cfg, f_pid, f_start, foreign_sid, cwd, "busy")  # a claude outside the fleet, same cwd
    write_live(cfg, 4_000_000, 1, sid(), cwd)  # left behind by a killed process
    config = make_config(tmp_path, [{"name": "a", "kind": "claude-code", "cwd": cwd, "command": ["claude"]},
                                    {"name": "b", "kind": "claude-code", "cwd": cwd, "command": ["claude"]}])
    observer = session_observer(config)
    report = observer.observe_sync(snapshot_of({"a": [(a_pid, a_start)], "b": [(b_pid, b_start)]}), {}, now=T0)
    a, b = report.truths["a"], report.truths["b"]
    assert (a.disk_session, a.source, a.status) == (a_sid, "live", "busy")
    assert (b.disk_session, b.source, b.status) == (b_sid, "live", "idle")
    assert a.last_turn_at == pytest.approx(T0 + 104) and a.transcript.turns == 1
    assert a.activity == "working" and b.activity == "idle"
    # both die (kill -9: their live files stay behind): each keeps its own session, learned from its live file
    pa.kill()
    pb.kill()
    report = observer.observe_sync(snapshot_of({"a": [], "b": []}), {}, now=T0 + 10)
    assert report.truths["a"].disk_session == a_sid and report.truths["a"].source == "bound"
    assert report.truths["b"].disk_session == b_sid and report.truths["b"].source == "bound"
    assert report.truths["a"].activity is None
    assert observer.resume_for(config.agent("a")) == a_sid
    # a fresh observer (a restarted cockpit) knows nothing bound: the two down agents are ambiguous
    fresh = session_observer(config).observe_sync(snapshot_of({"a": [], "b": []}), {}, now=T0)
    assert fresh.truths["a"].ambiguous and fresh.truths["b"].ambiguous
    assert foreign_sid not in fresh.truths["a"].candidates  # the foreigner's session is never a candidate
    assert session_observer(config).resume_for(config.agent("a")) is None


def test_the_observer_checks_the_routing_record_against_the_disk(tmp_path, procs):
    work = tmp_path / "work"
    work.mkdir()
    cwd = str(work)
    cfg = tmp_path / "claude"
    other_cfg = tmp_path / "other-claude"
    (pid, start), _, _ = procs
    live_sid, stale, elsewhere = sid(), sid(), sid()
    write_transcript(cfg, cwd, stale, T0)
    write_transcript(cfg, cwd, live_sid, T0 + 180)
    write_transcript(other_cfg, cwd, elsewhere, T0 + 500)  # another CLAUDE_CONFIG_DIR
    write_live(cfg, pid, start, live_sid, cwd)
    routes = tmp_path / "routes.json"
    routes.write_text(json.dumps({"tabs": {"session_id": stale, "topic": "t"}, "docs": elsewhere}))
    config = make_config(tmp_path, [{"name": "tabs", "kind": "claude-code", "cwd": cwd, "command": ["claude"]},
                                    {"name": "docs", "kind": "claude-code", "cwd": cwd, "command": ["claude"]}],
                         routes=routes)
    observer = session_observer(config)
    report = observer.observe_sync(snapshot_of({"tabs": [(pid, start)], "docs": []}), {"docs": [stale]}, now=T0)
    assert report.routes["tabs"].known and report.routes["tabs"].last_turn_at == pytest.approx(T0 + 4)
    assert report.routes["docs"].known is False
    findings = {f.kind: f for f in session_findings(["tabs", "docs"], report)}
    stale_f = findings["stale_route"]
    assert stale_f.agent == "tabs" and stale_f.evidence["route_session"] == stale
    assert stale_f.evidence["disk_session"] == live_sid
    unknown = findings["unknown_route_session"]
    assert unknown.agent == "docs" and str(cfg) in unknown.summary
    # a bad record: one clear error, never a crash
    routes.write_bytes(b'{"tabs": ')
    report = observer.observe_sync(snapshot_of({"tabs": [(pid, start)], "docs": []}), {}, now=T0)
    assert "expected JSON" in report.routes_error and report.routes == {}
    assert [f.kind for f in session_findings(["tabs", "docs"], report)] == ["unknown_route_session"]


def test_a_tick_costs_what_was_appended_not_the_transcript_size(tmp_path, procs):
    work = tmp_path / "work"
    work.mkdir()
    cwd = str(work)
    cfg = tmp_path / "claude"
    (pid, start), _, _ = procs
    s = sid()
    path = project_dir(cfg, cwd) / f"{s}.jsonl"
    path.parent.mkdir(parents=True)
    with open(path, "wb") as fh:
        for n in range(2000):
            fh.write(turn(T0 + n * 10, n, cwd=cwd, sid=s))
    write_live(cfg, pid, start, s, cwd)
    config = make_config(tmp_path, [{"name": "tabs", "kind": "claude-code", "cwd": cwd, "command": ["claude"]}])
    observer = session_observer(config)
    snap = snapshot_of({"tabs": [(pid, start)]})
    first = observer.observe_sync(snap, {}, now=T0)
    assert first.truths["tabs"].transcript.complete and first.truths["tabs"].transcript.turns == 2000
    quiet = observer.observe_sync(snap, {}, now=T0 + 1)
    assert quiet.bytes_read == 0
    extra = line(user(T0 + 99_999, "one more", cwd=cwd, sid=s))
    with open(path, "ab") as fh:
        fh.write(extra)
    tick = observer.observe_sync(snap, {}, now=T0 + 2)
    assert tick.bytes_read <= len(extra) + 65  # the appended line plus the identity probe
    assert tick.truths["tabs"].turn_finished is False and tick.truths["tabs"].transcript.turns == 2001


def test_an_unchanged_agent_keeps_its_truth_and_a_rewritten_live_file_is_seen_at_once(tmp_path, procs):
    work = tmp_path / "work"
    work.mkdir()
    cwd = str(work)
    cfg = tmp_path / "claude"
    (pid, start), _, _ = procs
    first_sid, second_sid = sid(), sid()
    write_transcript(cfg, cwd, first_sid, T0)
    write_live(cfg, pid, start, first_sid, cwd, "busy")
    config = make_config(tmp_path, [{"name": "tabs", "kind": "claude-code", "cwd": cwd, "command": ["claude"]}])
    observer = session_observer(config)
    snap = snapshot_of({"tabs": [(pid, start)]})
    observer.observe_sync(snap, {}, now=T0)  # learns the live id as the agent's own (its facts change once)
    first = observer.observe_sync(snap, {}, now=T0 + 0.5)
    quiet = observer.observe_sync(snap, {}, now=T0 + 1)
    assert quiet.truths["tabs"] is first.truths["tabs"]  # nothing it is made of moved: not rebuilt
    # /clear: the same process, a new session in its live file (and its transcript): seen on the next pass
    write_transcript(cfg, cwd, second_sid, T0 + 50)
    write_live(cfg, pid, start, second_sid, cwd, "waiting")
    moved = observer.observe_sync(snap, {}, now=T0 + 2)
    assert (moved.truths["tabs"].disk_session, moved.truths["tabs"].status) == (second_sid, "waiting")
    assert moved.truths["tabs"].activity == "needs_input"


def test_an_idle_pass_reuses_its_truths_until_a_file_moves_or_time_ends_a_debounce(tmp_path, procs):
    """The same observations (an idle fleet's tick hands the same objects) give the same truths object;
    a transcript grown, a live status changed and a debounce that only time ends are each seen at once."""
    work = tmp_path / "work"
    work.mkdir()
    cwd, cfg = str(work), tmp_path / "claude"
    (a_pid, a_start), _, _ = procs
    a_sid = sid()
    path = write_transcript(cfg, cwd, a_sid, T0 + 100)
    write_live(cfg, a_pid, a_start, a_sid, cwd, "idle")
    config = make_config(tmp_path, [{"name": "a", "kind": "claude-code", "cwd": cwd, "command": ["claude"]}])
    observer = session_observer(config)
    snap = snapshot_of({"a": [(a_pid, a_start)]})
    first = observer.observe_sync(snap, {}, now=T0 + 200)
    assert (first.truths["a"].disk_session, first.truths["a"].activity) == (a_sid, "idle")
    first = observer.observe_sync(snap, {}, now=T0 + 201)  # the id seen live is learned: its facts move once
    for at in (T0 + 202, T0 + 204):
        again = observer.observe_sync(snap, {}, now=at)
        assert again.truths is first.truths
    # a new turn in the transcript: its time on the very next pass
    with open(path, "ab") as fh:
        fh.write(turn(T0 + 300, 2, cwd=cwd, sid=a_sid))
    grown = observer.observe_sync(snap, {}, now=T0 + 306)
    assert grown.truths is not first.truths and grown.truths["a"].last_turn_at > first.truths["a"].last_turn_at
    # busy at once; back to idle only after the debounce, which time alone ends (the inputs stay the same)
    write_live(cfg, a_pid, a_start, a_sid, cwd, "busy")
    assert observer.observe_sync(snap, {}, now=T0 + 308).truths["a"].activity == "working"
    write_live(cfg, a_pid, a_start, a_sid, cwd, "idle")
    assert observer.observe_sync(snap, {}, now=T0 + 310).truths["a"].activity == "working"  # debouncing
    assert observer.observe_sync(snap, {}, now=T0 + 310.5).truths["a"].activity == "working"
    settled = observer.observe_sync(snap, {}, now=T0 + 313)
    assert settled.truths["a"].activity == "idle"
    assert observer.observe_sync(snap, {}, now=T0 + 315).truths is settled.truths
