"""A broken world (SPEC §6): hostile rows, state files that are not files, planted symlinks.

Each test reproduces one way the cockpit broke before: a row of the wrong types took the whole
cockpit down, a state file that was a directory gave a traceback, a planted symlink was written
through. Every reader turns a line into typed data or a counted bad line with its reason.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cockpit import cli
from cockpit.fsutil import StateFileError, append_line, atomic_write
from cockpit.judge.registry import OrphanWatch
from cockpit.lifecycle import RestartPolicy
from cockpit.observe.history import RegistryView
from cockpit.records import REGISTRY_ROW, BadLines
from cockpit import timefmt
from cockpit.registry import Journal, Registry
from cockpit.reminders import ReminderQueue

NOW = 1_800_000_000.0

HOSTILE_ROWS = [
    {"event": ["spawned"], "agent": "a1", "spawn_id": "s1"},
    {"event": {"x": 1}, "agent": "a1", "spawn_id": "s1"},
    {"event": "exit", "agent": ["a1"], "spawn_id": "s1"},
    {"event": "exit", "agent": "a1", "spawn_id": ["s1"]},
    {"event": "spawned", "agent": "a1", "spawn_id": "s1", "pid": "12", "start": [1], "ts": {"t": 1}},
    {"event": "spawned", "agent": "a1", "spawn_id": "s1", "session_id": 5, "port": 1e300},
    {"event": None, "agent": None},
]


def _write_rows(path: Path, rows: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


# --- item 1: one bad row never takes the cockpit down ----------------------------------------------


def test_a_registry_row_whose_event_is_a_list_is_a_counted_bad_line_for_every_reader(tmp_path: Path) -> None:
    path = tmp_path / "registry.jsonl"
    good = [{"ts": timefmt.iso(NOW), "event": "spawned", "agent": "a1", "spawn_id": "s0", "pid": 10, "start": 5}]
    _write_rows(path, good + HOSTILE_ROWS)
    registry = Registry(path)
    result = registry.read_all()
    assert result.bad.counts  # each bad line has its reason
    assert "registry row: event is not a non-empty string (a list)" in result.bad.counts
    view = RegistryView({"a1": RestartPolicy()})
    tail = registry.tail()
    read = tail.read_new()
    view.feed(read)  # raised TypeError (unhashable list) before
    OrphanWatch().feed(read)
    assert view.last_spawned["a1"]["spawn_id"] in ("s0", "s1")
    assert read.bad_lines == tail.bad.total >= 4
    assert registry.prune(NOW + 10 * 86400, 86400).kept >= 1  # the pruner's keep rule too


def test_a_wrongly_typed_optional_field_is_dropped_and_counted_the_row_kept() -> None:
    bad = BadLines()
    row = REGISTRY_ROW.line(json.dumps({"event": "exit", "agent": "a1", "pid": "12", "status": 0}), bad)
    assert row == {"event": "exit", "agent": "a1", "status": 0}
    assert bad.total == 1 and "pid" in (bad.last or "")


def test_check_with_hostile_registry_rows_prints_a_report_not_a_traceback(world, capsys) -> None:
    world.write_config([{"name": "a1", "command": ["sleep", "30"]}])
    _write_rows(world.state_dir / "registry.jsonl", HOSTILE_ROWS)
    code = cli.main(["check", "--config", str(world.config_path), "--json"])
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    report = json.loads(out.out)
    assert report["bad_lines"]["registry"]["total"] >= 4
    assert code in (0, 1, 2, 3)


# --- item 2: a state file that is not a regular file is one line -------------------------------------


@pytest.mark.parametrize("name", ["registry.jsonl", "journal.jsonl", "reminders.jsonl"])
@pytest.mark.parametrize("kind", ["dir", "fifo"])
def test_a_state_file_that_is_a_directory_or_fifo_is_one_line_naming_it(world, capsys, name, kind) -> None:
    world.write_config([{"name": "a1", "command": ["sleep", "30"]}])
    world.state_dir.mkdir(mode=0o700)
    target = world.state_dir / name
    target.mkdir() if kind == "dir" else os.mkfifo(target)
    for argv in (["remind", "a1", "--in", "5m", "--notice", "hello"], ["reminders"], ["check"]):
        code = cli.main([*argv, "--config", str(world.config_path)])
        err = capsys.readouterr().err
        assert "Traceback" not in err
        if name in err:  # the command touched that file: one line naming it
            assert len(err.strip().splitlines()) == 1, err
            assert code in (2, 3)


def test_remind_that_cannot_write_its_journal_row_schedules_nothing(world, capsys) -> None:
    world.write_config([{"name": "a1", "command": ["sleep", "30"]}])
    world.state_dir.mkdir(mode=0o700)
    (world.state_dir / "journal.jsonl").mkdir()
    code = cli.main(["remind", "a1", "--in", "5m", "--notice", "hello", "--config", str(world.config_path)])
    err = capsys.readouterr().err
    assert code == 2 and "journal.jsonl" in err and "Traceback" not in err
    assert ReminderQueue(world.state_dir / "reminders.jsonl").reminders() == []  # both or neither


# --- item 3: planted symlinks are refused, never written through -----------------------------------------


@pytest.mark.parametrize("dangling", [False, True])
def test_a_planted_symlink_in_the_state_dir_is_refused_not_written_through(tmp_path: Path, dangling: bool) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    victim = tmp_path / "victim"
    if not dangling:
        victim.write_text("precious\n")
    os.symlink(victim, state / "registry.jsonl")
    with pytest.raises(StateFileError, match="symlink"):
        Registry(state / "registry.jsonl").event("spawned", agent="a1", spawn_id="x")
    with pytest.raises(StateFileError, match="symlink"):
        Registry(state / "registry.jsonl").read_all()
    assert (victim.read_text() == "precious\n") if not dangling else not victim.exists()


def test_append_line_refuses_a_fifo_instead_of_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "j.jsonl")
    with pytest.raises(StateFileError, match="not a regular file"):
        append_line(tmp_path / "j.jsonl", "{}")


def test_atomic_write_replaces_a_planted_link_itself_never_its_target(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    os.symlink(victim, tmp_path / "routes.json")
    atomic_write(tmp_path / "routes.json", "{}\n")
    assert victim.read_text() == "precious\n"
    assert not (tmp_path / "routes.json").is_symlink()


def test_a_symlinked_journal_makes_the_cli_say_one_line(world, capsys) -> None:
    world.write_config([{"name": "a1", "command": ["sleep", "30"]}])
    world.state_dir.mkdir(mode=0o700)
    victim = world.root / "victim"
    victim.write_text("precious\n")
    os.symlink(victim, world.state_dir / "journal.jsonl")
    code = cli.main(["remind", "a1", "--in", "5m", "--notice", "hi", "--config", str(world.config_path)])
    err = capsys.readouterr().err
    assert code == 2 and "symlink" in err and len(err.strip().splitlines()) == 1
    assert victim.read_text() == "precious\n"
    assert ReminderQueue(world.state_dir / "reminders.jsonl").reminders() == []


def test_journal_rows_of_the_wrong_shape_are_counted(tmp_path: Path) -> None:
    _write_rows(tmp_path / "journal.jsonl", [{"summary": ["x"]}, {"summary": "ok", "kind": "info"}, [1]])
    result = Journal(tmp_path / "journal.jsonl").read_all()
    assert [r["summary"] for r in result.rows] == ["ok"] and result.bad_lines == 2


@pytest.mark.parametrize("name", ["registry.jsonl", "journal.jsonl", "reminders.jsonl"])
def test_check_names_a_state_file_that_is_not_a_file_and_exits_3(world, capsys, name) -> None:
    world.write_config([{"name": "a1", "command": ["sleep", "30"]}])
    world.state_dir.mkdir(mode=0o700)
    (world.state_dir / name).mkdir()
    code = cli.main(["check", "--config", str(world.config_path)])
    err = capsys.readouterr().err
    assert code == 3 and err.strip() == f"cockpit: {world.state_dir / name}: not a regular file"


# --- item 5: numbers and nesting from users are bounded ---------------------------------------------


def test_a_duration_of_thousands_of_digits_is_one_line(world, capsys) -> None:
    world.write_config([{"name": "a1", "command": ["sleep", "30"]}])
    for when in (["--in", "9" * 5000 + "s"], ["--in", "99999999999d"], ["--at", "9999-12-31T23:59:59"]):
        code = cli.main(["remind", "a1", *when, "--notice", "x", "--config", str(world.config_path)])
        err = capsys.readouterr().err
        assert code == 2 and len(err.strip().splitlines()) == 1 and len(err) < 300, err


@pytest.mark.parametrize("text", [
    "a = " + "[" * 5000 + "]" * 5000 + "\n",
    "a = " + "{x=" * 3000 + "1" + "}" * 3000 + "\n",
    "[supervisor]\ntick_s = " + "9" * 5000 + "\n",
    "[supervisor]\ntick_s = 1e300\n",
    "[supervisor]\nwake_retries = 10000000000000\n",
], ids=["lists-5000-deep", "tables-3000-deep", "5000-digits", "1e300-seconds", "retries-1e13"])
def test_deep_nesting_and_huge_numbers_in_the_config_are_one_line(tmp_path: Path, capsys, text: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text + "[[agents]]\nname = 'a'\ncommand = ['x']\n")
    assert cli.main(["check", "--config", str(path)]) == 3
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and str(path) in err and len(err) < 400, err


@pytest.mark.parametrize("special", ["/dev/zero", "fifo", "dir", "huge"])
def test_a_config_that_is_an_endless_device_a_fifo_or_huge_is_one_line(tmp_path: Path, capsys, special: str) -> None:
    path = {"/dev/zero": Path("/dev/zero"), "fifo": tmp_path / "fifo", "dir": tmp_path, "huge": tmp_path / "h"}[special]
    if special == "fifo":
        os.mkfifo(path)
    if special == "huge":
        with open(path, "wb") as fh:
            fh.truncate(64 << 20)  # sparse: a huge file costs no disk
    assert cli.main(["check", "--config", str(path)]) == 3
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and str(path) in err, err


# --- item 6: a routes entry of an unknown shape is a finding on that agent -------------------------------


@pytest.mark.parametrize("entry", [5, [1], {"session_id": [1]}, True])
def test_a_routes_entry_of_an_unknown_shape_is_a_finding_on_that_agent(world, capsys, entry) -> None:
    routes = world.root / "routes.json"
    routes.write_text(json.dumps({"a1": entry, "other": "x"}))
    world.write_config([{"name": "a1", "kind": "claude-code", "command": ["sleep", "30"]}],
                       extra=f'\n[routes]\nfile = "{routes}"\n')
    world.tmux("new-session", "-d", "-s", "agents")
    cli.main(["check", "--json", "--config", str(world.config_path)])
    report = json.loads(capsys.readouterr().out)
    found = [f for f in report["findings"] if f["agent"] == "a1" and f["kind"] == "unknown_route_session"]
    assert found and "not understood" in found[0]["summary"]


def test_a_routes_file_that_is_a_fifo_is_read_as_an_error_not_a_hang(tmp_path: Path) -> None:
    from cockpit.routes import read_routes

    os.mkfifo(tmp_path / "routes.json")
    assert "not a regular file" in (read_routes(tmp_path / "routes.json").error or "")


# --- item 4: with no tmux server, the disk's truth is still judged ---------------------------------------


def _claude_transcript(claude_dir: Path, cwd: str, sid: str, ts: float) -> None:
    from cockpit.claude_paths import project_slug

    folder = claude_dir / "projects" / project_slug(cwd)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = timefmt.iso(ts)
    rows = [{"type": "user", "timestamp": stamp, "cwd": cwd, "sessionId": sid,
             "message": {"role": "user", "content": "hello"}},
            {"type": "assistant", "timestamp": stamp, "cwd": cwd, "sessionId": sid,
             "message": {"role": "assistant", "content": [{"type": "text", "text": "hi"}]}}]
    (folder / f"{sid}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_with_no_tmux_server_a_spent_budget_and_a_stale_route_are_still_judged(world, capsys) -> None:
    """Seed #3 exactly: a crash loop spent the budget, the last window closed, the server is gone."""
    import time

    now = time.time()
    cwd = str(world.work)
    old_sid, new_sid = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
    _claude_transcript(world.claude_dir, cwd, old_sid, now - 3600)
    _claude_transcript(world.claude_dir, cwd, new_sid, now - 60)
    routes = world.root / "routes.json"
    routes.write_text(json.dumps({"tabs": old_sid}))
    world.write_config([{"name": "tabs", "kind": "claude-code", "command": ["claude"]}],
                       supervisor={"max_restarts": 1, "restart_window_s": 3600.0},
                       extra=f'\n[routes]\nfile = "{routes}"\n')
    rows = []
    for n in range(3):  # each spawn fails verification: the budget of one restart is spent
        at = timefmt.iso(now - 300 + n)
        rows += [{"ts": at, "event": "spawn_requested", "agent": "tabs", "spawn_id": f"s{n}", "by": "auto"},
                 {"ts": at, "event": "spawn_failed", "agent": "tabs", "spawn_id": f"s{n}", "check": "process_alive"}]
    _write_rows(world.state_dir / "registry.jsonl", rows)
    code = cli.main(["check", "--json", "--config", str(world.config_path)])
    report = json.loads(capsys.readouterr().out)
    kinds = {f["kind"] for f in report["findings"]}
    assert report["agents"][0]["status"] == "fatal"
    assert {"respawn_exhausted", "stale_route"} <= kinds and "tmux_unreachable" not in kinds
    assert code == 2


def test_a_tmux_server_that_exists_but_cannot_be_read_is_tmux_unreachable(world, capsys) -> None:
    import socket

    world.write_config([{"name": "a1", "command": ["sleep", "30"]}])
    path = Path(os.environ.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.getuid()}" / world.socket
    path.parent.mkdir(mode=0o700, exist_ok=True)
    hung = socket.socket(socket.AF_UNIX)
    hung.bind(str(path))
    hung.listen(8)  # something holds the socket and never answers: a hung server
    try:
        code = cli.main(["check", "--json", "--config", str(world.config_path)])
    finally:
        hung.close()
        path.unlink()
    report = json.loads(capsys.readouterr().out)
    assert code == 3 and report["findings"][0]["kind"] == "tmux_unreachable"
    assert report["agents"][0]["status"] == "unknown"


# --- a full state disk: refused whole, reported, never torn ------------------------------------------------


def test_a_write_cut_by_a_full_disk_leaves_no_torn_line_and_is_reported(tmp_path: Path, monkeypatch) -> None:
    import errno

    from cockpit import fsutil
    from cockpit.judge.state import state_findings

    registry = Registry(tmp_path / "registry.jsonl")
    registry.event("spawned", agent="a1", spawn_id="s1")
    real_write = os.write

    def half_then_full(fd: int, data) -> int:
        if len(data) > 10:
            return real_write(fd, bytes(data[:10]))  # half a line lands...
        raise OSError(errno.ENOSPC, "No space left on device")  # ...then the disk is full

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(StateFileError, match="No space left"):
        registry.event("exit", agent="a1", spawn_id="s1")
    monkeypatch.setattr(os, "write", real_write)
    result = registry.read_all()
    assert result.bad_lines == 0 and [r["event"] for r in result.rows] == ["spawned"]
    [finding] = state_findings(fsutil.write_failures(tmp_path))
    assert finding.kind == "state_unwritable" and "No space left" in finding.summary
    registry.event("exit", agent="a1", spawn_id="s1")  # the disk has room again: the failure is forgotten
    assert fsutil.write_failures(tmp_path) == {}


def test_a_nearly_full_state_disk_is_reported_before_a_write_fails() -> None:
    from cockpit.judge.state import state_findings

    [finding] = state_findings({}, state_dir="/state", free=100, min_free=65536)
    assert finding.kind == "state_unwritable" and finding.severity.value == "critical"
    assert state_findings({}, state_dir="/state", free=1 << 30, min_free=65536) == []


def test_the_sessions_tab_shows_a_routes_entry_it_cannot_read() -> None:
    from cockpit.judge.sessions import bad_route_entry
    from cockpit.tui.tabs.sessions import SESSION_COLUMNS, session_cells

    finding = bad_route_entry("a1", "expected a string or an object with session_id, got int", "/r.json")
    cells = dict(zip([key for key, _ in SESSION_COLUMNS], session_cells("a1", None, None, [finding], NOW)))
    assert cells["record"].plain == "bad entry" and "unknown_route" in cells["check"].plain


def test_the_header_counts_bad_lines_and_says_when_there_is_no_tmux_server() -> None:
    from dataclasses import replace as dc_replace

    from cockpit.tui.fixture import fixture_report
    from cockpit.tui.widgets import HeaderState, header_content

    report = dc_replace(fixture_report(), bad_lines={"registry": {"total": 3, "reasons": {}, "last": None}},
                        tmux_server=False)
    text = header_content(HeaderState(report=report)).plain
    assert "3 bad lines" in text and "no tmux server" in text
