"""`cockpit init` and `cockpit adopt` against real tmux: panes started by the test, not by cockpit.

The test plays the operator whose agents already run: a pane running the simulator as `claude`
(exec'd), one where a shell started it (`sh -c "claude ...; ..."`: the agent is the shell's child),
and a plain `sleep`. `init` must write exactly the two agents, `adopt` must keep their pids, and
the next crash of an adopted agent must be respawned, verified, into a window of its own while
the operator's pane stays.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import signal
import sys
import time
import tomllib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.cli import main
from cockpit.config import load_config, parse_config
from cockpit.init import render, toml_str
from cockpit.observe.discover import agent_names, guess_kind, program_of, strip_session_flags, valid_name
from cockpit.supervisor import Supervisor
from tests.conftest import wait_for

SID = "11111111-2222-4333-8444-555555555555"


@pytest.fixture
def fleet(world):
    """An operator's tmux server: `tabs` (the sim as claude, exec'd), `docs` (a shell's child), `idle` (sleep)."""
    bindir = world.root / "bin"
    bindir.mkdir()
    claude = bindir / "claude"
    claude.write_text(f"#!{sys.executable}\nfrom cockpit.sim.agent import main\nraise SystemExit(main())\n")
    claude.chmod(0o755)
    world.bin = claude
    world.tmux("-f", "/dev/null", "new-session", "-d", "-s", "work", "-n", "tabs", "-x", "120", "-y", "30",
               "-c", str(world.work), f"exec {claude} --session-id {SID} --reply-delay-s 0.05")
    inner = f"{shlex.quote(str(claude))} --name docs; sleep 1000"  # sh forks: the agent is its child
    world.tmux("new-window", "-d", "-t", "work:", "-n", "docs!", "-c", str(world.work), f"sh -c {shlex.quote(inner)}")
    world.tmux("new-window", "-d", "-t", "work:", "-n", "idle", "-c", str(world.work), "exec sleep 1000")

    def panes() -> dict[str, tuple[str, int]]:
        out = world.tmux("list-panes", "-a", "-F", "#{window_name} #{pane_id} #{pane_pid}").stdout.split("\n")
        return {w: (p, int(pid)) for w, p, pid in (line.rsplit(" ", 2) for line in out if line)}
    world.panes = panes

    def sims() -> dict[str, int]:
        live = {}
        for f in (world.claude_dir / "sessions").glob("*.json"):
            data = json.loads(f.read_text())
            live[data.get("name") or "tabs"] = data["pid"]
        return live if len(live) == 2 else {}
    world.sims = wait_for(sims, what="both simulated agents' live-session files")
    return world


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_init_writes_exactly_the_running_agents_and_says_what_it_skipped(fleet, capsys):
    out_path = fleet.root / "written.toml"
    # a one-shot sub-agent run (claude -p) is not an interactive agent to supervise
    fleet.tmux("new-window", "-d", "-t", "work:", "-n", "oneshot", "-c", str(fleet.work),
               f"exec {fleet.bin} -p summarise --output-format stream-json --linger-s 1000")
    oneshot_pid = fleet.panes()["oneshot"][1]
    wait_for(lambda: "summarise" in open(f"/proc/{oneshot_pid}/cmdline").read(), what="the one-shot run")
    code, out, err = run(capsys, "init", "--socket", fleet.socket, "--config", str(out_path))
    assert code == 0, err
    config = load_config(out_path)
    assert [(a.name, a.kind, str(a.cwd)) for a in config.agents] == [
        ("tabs", "claude-code", str(fleet.work)), ("docs", "claude-code", str(fleet.work))]
    tabs, docs = config.agents
    assert tabs.command == (str(fleet.bin), "--reply-delay-s", "0.05")  # --session-id stripped, interpreter dropped
    assert docs.command == (str(fleet.bin), "--name", "docs")
    assert tabs.env == {"CLAUDE_CONFIG_DIR": str(fleet.claude_dir)}
    assert config.tmux.socket == fleet.socket and config.tmux.session == "work"
    assert f"removed --session-id {SID}" in out and f"session {SID}" in out
    skipped = [line for line in out.splitlines() if "skipped" in line and "(idle)" in line]
    assert skipped and "no Claude Code or Codex" in skipped[0] and "sleep 1000" in skipped[0]
    assert [line for line in out.splitlines() if "(oneshot)" in line and "a one-shot run" in line]

    # never overwritten without --force; with it, the old file is kept as .bak
    before = out_path.read_bytes()
    code, _, err = run(capsys, "init", "--socket", fleet.socket, "--config", str(out_path), "--match", "sleep")
    assert code == 2 and "exists" in err and out_path.read_bytes() == before
    code, out, _ = run(capsys, "init", "--socket", fleet.socket, "--config", str(out_path), "--match", "^sleep ",
                       "--force")
    assert code == 0 and (fleet.root / "written.toml.bak").read_bytes() == before
    # --match: a regex on each process's command line picks the agents (docs' sh -c line is not one)
    assert [(a.name, a.kind, a.command) for a in load_config(out_path).agents] == [
        ("idle", "generic", ("sleep", "1000"))]
    assert "nothing matches --match '^sleep '" in out


def test_init_without_a_server_or_agents_is_one_line_and_writes_nothing(world, capsys):
    out_path = world.root / "c.toml"
    code, _, err = run(capsys, "init", "--socket", world.socket, "--config", str(out_path))
    assert code == 2 and err.count("\n") == 1 and "no tmux server" in err and not out_path.exists()
    world.tmux("-f", "/dev/null", "new-session", "-d", "-s", "s", "exec sleep 100")
    code, out, _ = run(capsys, "init", "--socket", world.socket, "--config", str(out_path))
    assert code == 1 and "nothing written" in out and not out_path.exists()
    code, _, err = run(capsys, "init", "--socket", world.socket, "--config", str(out_path), "--match", "(")
    assert code == 2 and "--match" in err
    link = world.root / "linked.toml"
    link.symlink_to(world.root / "elsewhere.toml")
    code, _, err = run(capsys, "init", "--socket", world.socket, "--config", str(link), "--match", "sleep", "--force")
    assert code == 2 and "is a symlink" in err and link.is_symlink() and not (world.root / "elsewhere.toml").exists()


def test_the_tui_without_any_config_says_how_to_get_one(world, capsys):
    code, _, err = run(capsys)
    assert code == 2 and err.count("\n") == 1
    assert "cockpit init" in err and "cockpit demo" in err


def test_adopted_agents_keep_their_pids_and_a_crash_is_respawned_into_a_window_of_their_own(fleet, capsys):
    out_path = fleet.root / "cockpit.toml"
    tabs_pane, tabs_pid = fleet.panes()["tabs"]
    docs_pane, shell_pid = fleet.panes()["docs!"]
    code, out, err = run(capsys, "init", "--socket", fleet.socket, "--config", str(out_path), "--adopt")
    assert code == 0, out + err
    assert f"adopted pid {tabs_pid} (claude) in {tabs_pane} as tabs" in out
    assert f"adopted pid {fleet.sims['docs']} (claude) in {docs_pane} as docs" in out  # the shell's child
    # a second adopt of the same process changes nothing
    code, out, _ = run(capsys, "adopt", "tabs", tabs_pane, "--config", str(out_path))
    assert code == 0 and "nothing to do" in out

    with out_path.open("a") as fh:
        fh.write("\n[supervisor]\ntick_s = 0.2\nmin_uptime_s = 0.5\nbackoff_max_s = 0.2\n")
    config = load_config(out_path)

    async def go():
        sup = Supervisor(config)
        try:
            report = await sup.tick()
            status = {a.name: (a.status, a.pid, a.pane) for a in report.agents}
            assert status["tabs"][1:] == (tabs_pid, tabs_pane)
            assert status["docs"][1:] == (fleet.sims["docs"], docs_pane)
            assert sup.sessions.truth("tabs").disk_session == SID  # its live session, from the adoption
            assert [a.to_json().get("adopted") for a in report.agents] == [True, True]
            os.kill(fleet.sims["docs"], signal.SIGKILL)  # the adopted agent crashes; its shell lives on
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                report = await sup.tick()
                docs = next(a for a in report.agents if a.name == "docs")
                if docs.pid not in (None, fleet.sims["docs"]) and not sup.spawning:
                    return report, docs
                await asyncio.sleep(0.2)
            raise AssertionError(f"docs was not respawned: {docs}")
        finally:
            await sup.close()

    report, docs = asyncio.run(go())
    rows = [json.loads(line) for line in config.state.registry.read_text().splitlines()]
    docs_rows = [r["event"] for r in rows if r["agent"] == "docs"]
    assert docs_rows[:4] == ["adopted", "exit", "spawn_requested", "spawned"]
    spawned = next(r for r in rows if r["agent"] == "docs" and r["event"] == "spawned")
    assert spawned["pid"] == docs.pid and spawned["pane"] == docs.pane != docs_pane
    windows = fleet.tmux("list-panes", "-a", "-F", "#{pane_id} #{session_name} #{window_name} #{@cockpit_agent}")
    assert f"{docs.pane} work docs docs" in windows.stdout  # a window of its own, in the cockpit's session
    assert fleet.panes()["docs!"] == (docs_pane, shell_pid)  # the operator's pane and its shell stay
    assert next(a for a in report.agents if a.name == "tabs").pid == tabs_pid  # never restarted
    assert not docs.adopted and "adopted" not in docs.to_json()  # its own window now: a spawned agent


def test_adopt_refuses_what_it_cannot_verify(fleet, capsys):
    cfg = fleet.write_config([{"name": "tabs", "kind": "claude-code", "command": [str(fleet.bin)]},
                              {"name": "other", "kind": "claude-code", "command": [str(fleet.bin)]}])
    path = str(cfg.path)
    idle_pane, _ = fleet.panes()["idle"]
    tabs_pane, tabs_pid = fleet.panes()["tabs"]
    code, out, _ = run(capsys, "adopt", "tabs", idle_pane, "--config", path)
    assert code == 1 and "no process of 'claude'" in out and "sleep 1000" in out
    code, out, _ = run(capsys, "adopt", "tabs", "%999", "--config", path)
    assert code == 1 and "does not exist" in out
    code, _, err = run(capsys, "--read-only", "adopt", "tabs", tabs_pane, "--config", path)
    assert code == 2 and "read-only" in err
    code, out, _ = run(capsys, "adopt", "tabs", tabs_pane, "--config", path, "--json")
    assert code == 0 and json.loads(out)["pid"] == tabs_pid
    code, out, _ = run(capsys, "adopt", "other", tabs_pane, "--config", path)
    assert code == 1 and "belongs to agent 'tabs'" in out
    docs_pane, _ = fleet.panes()["docs!"]
    code, out, _ = run(capsys, "adopt", "tabs", docs_pane, "--config", path)
    assert code == 1 and "already runs as pid" in out
    code, _, err = run(capsys, "adopt", "nobody", tabs_pane, "--config", path)
    assert code == 2 and "no agent named 'nobody'" in err
    journal = (fleet.state_dir / "journal.jsonl").read_text()
    assert journal.count('"action":"adopt"') >= 5


# --- the pure parts ---------------------------------------------------------------------------


@pytest.mark.parametrize("argv,kind,kept,removed", [
    (["claude", "--session-id", SID, "--model", "x"], "claude-code", ["claude", "--model", "x"], ["--session-id", SID]),
    (["claude", "-r", SID, "--dangerously-skip-permissions"], "claude-code",
     ["claude", "--dangerously-skip-permissions"], ["-r", SID]),
    (["claude", "--resume", "--verbose"], "claude-code", ["claude", "--verbose"], ["--resume"]),
    (["claude", f"--resume={SID}", "-c", "--fork-session"], "claude-code", ["claude"],
     [f"--resume={SID}", "-c", "--fork-session"]),
    (["codex", "-m", "o3", "resume", SID], "codex", ["codex", "-m", "o3"], ["resume", SID]),
    (["codex", "resume", "--last"], "codex", ["codex"], ["resume", "--last"]),
    (["tool", "resume", "x"], "generic", ["tool", "resume", "x"], []),
])
def test_session_flags_are_stripped(argv, kind, kept, removed):
    assert strip_session_flags(argv, kind) == (kept, removed)


def test_the_program_and_kind_are_guessed_from_the_process():
    assert program_of(["node", "/usr/lib/node_modules/@openai/codex/bin/codex.js", "resume"]) == "codex"
    assert guess_kind(["node", "/x/codex.js"]) == "codex"
    assert guess_kind(["/home/a/.local/bin/claude", "--resume", "x"]) == "claude-code"
    assert guess_kind(["/home/a/.local/share/claude/versions/2.1.197"], comm="2.1.197") == "claude-code"
    assert guess_kind(["python3", "/venv/bin/cockpit-sim"]) is None
    assert guess_kind(["-bash"], comm="bash") is None


def test_agent_names_are_valid_and_unique():
    assert agent_names([("tabs", "claude"), ("tabs", "claude"), ("my shell!", "x"), ("", "codex"), ("..", "")]) == [
        "tabs", "tabs-2", "my-shell", "codex", "agent"]
    assert agent_names([("a" * 80, "x"), ("a" * 80, "x")]) == ["a" * 64, "a" * 62 + "-2"]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.text(max_size=70), max_size=6))
def test_any_window_names_give_unique_names_the_config_accepts(windows):
    names = agent_names([(w, "claude") for w in windows])
    assert len(set(names)) == len(names)
    for name in names:
        assert valid_name(name) == name


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_toml_strings_round_trip(text):
    assert tomllib.loads(f"x = {toml_str(text)}")["x"] == text


def test_a_rendered_config_parses_back(world):
    from cockpit.observe.discover import Found
    from cockpit.observe.procs import Proc
    from cockpit.tmux import Pane

    pane = Pane("%1", 10, False, None, "w", "@1", 0, 80, 24, 0, 0, (0, 0), None, 'we"ird\\name')
    found = Found(pane=pane, proc=Proc(10, 1, 5, "S", 10, ("claude", 'a "b"', "c\\d")), kind="claude-code",
                  program="claude", cwd='/tmp/x "y"', argv=("claude", 'a "b"', "c\\d"), name="weird-name",
                  env={"CLAUDE_CONFIG_DIR": "/tmp/c"})
    text = render([found], ("socket_path", "/tmp/tmux-0/default"), session="w")
    config = parse_config(tomllib.loads(text))
    assert config.agents[0].command == ("claude", 'a "b"', "c\\d") and str(config.agents[0].cwd) == '/tmp/x "y"'
    assert str(config.tmux.socket_path) == "/tmp/tmux-0/default"


def test_a_forced_respawn_of_a_live_adopted_agent_stops_it_by_pid_and_start_then_spawns_its_own_window(fleet,
                                                                                                     capsys):
    cfg = fleet.write_config([{"name": "tabs", "kind": "claude-code", "command": [str(fleet.bin)]}])
    path = str(cfg.path)
    tabs_pane, tabs_pid = fleet.panes()["tabs"]
    assert run(capsys, "adopt", "tabs", tabs_pane, "--config", path)[0] == 0
    code, out, _ = run(capsys, "respawn", "tabs", "--config", path)
    assert code == 0 and f"already running (adopted pid {tabs_pid} in {tabs_pane})" in out
    code, out, _ = run(capsys, "respawn", "tabs", "--force", "--config", path, "--json")
    result = json.loads(out)
    assert code == 0 and result["ok"] and result["spawn"]["pid"] != tabs_pid
    wait_for(lambda: not os.path.exists(f"/proc/{tabs_pid}"), what="the adopted process gone")
    windows = fleet.tmux("list-panes", "-a", "-F", "#{pane_id} #{session_name} #{@cockpit_agent}").stdout
    assert f"{result['spawn']['pane']} agents tabs" in windows  # its own window, in the cockpit's session
    rows = [json.loads(line) for line in cfg.state.registry.read_text().splitlines()]
    assert [r["event"] for r in rows] == ["adopted", "exit", "spawn_requested", "spawned"]
    assert rows[1]["pid"] == tabs_pid and rows[1]["reason"] == "adopted process replaced by a respawn"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["--session-id", "-r", "--resume", "-c", "--continue", "resume", "--last", SID,
                                 "--model", "x", "--resume=y", "--fork-session", "-p"]), max_size=8),
       st.sampled_from(["claude-code", "codex", "generic"]))
def test_stripping_never_raises_and_only_removes(rest, kind):
    kept, removed = strip_session_flags(["claude", *rest], kind)
    assert kept[0] == "claude" and sorted(kept[1:] + removed) == sorted(rest)
    assert not {"--session-id", "-r", "--resume", "-c", "--continue"} & set(kept)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=200))
def test_a_hostile_live_session_file_is_no_session_never_an_error(tmp_path_factory, data):
    from cockpit.observe.discover import live_session_of
    from cockpit.observe.procs import Proc

    root = tmp_path_factory.getbasetemp() / "live"
    (root / "sessions").mkdir(parents=True, exist_ok=True)
    (root / "sessions" / "4242.json").write_bytes(data)
    sid = live_session_of([Proc(4242, 1, 7, "S", 4242, ("claude",))], root)
    assert sid is None or (isinstance(sid, str) and b"sessionId" in data and b"4242" in data)
    (root / "sessions" / "4242.json").write_text(json.dumps({"pid": 4242, "procStart": "7", "sessionId": SID}))
    assert live_session_of([Proc(4242, 1, 7, "S", 4242, ("claude",))], root) == SID
    assert live_session_of([Proc(4242, 1, 8, "S", 4242, ("claude",))], root) is None  # a reused pid


def test_the_server_is_the_one_asked_for_else_the_enclosing_one_else_tmuxs_default():
    from cockpit.init import server_args, server_from

    assert server_from("fleet", None, {"TMUX": "/tmp/tmux-0/work,1,0"}) == ("socket", "fleet")
    assert server_from(None, "/run/t.sock", {}) == ("socket_path", "/run/t.sock")
    assert server_from(None, None, {"TMUX": "/tmp/tmux-0/work,123,0"}) == ("socket_path", "/tmp/tmux-0/work")
    assert server_from(None, None, {}) == ("socket", "default")
    assert server_args(("socket", "default")) == ("-L", "default")


def test_an_adoption_opens_a_lifecycle_and_its_first_respawn_counts_as_a_restart():
    from cockpit.lifecycle import AgentState, RestartPolicy, fold

    rows = [{"ts": f"2026-12-03T08:00:0{i}Z", "event": e, "agent": "tabs", "spawn_id": s, **extra}
            for i, (e, s, extra) in enumerate([("adopted", "a", {}), ("exit", "a", {"status": 1}),
                                                ("spawn_requested", "b", {}), ("spawned", "b", {})])]
    assert fold(rows[:1], RestartPolicy()).state is AgentState.RUNNING
    lc = fold(rows, RestartPolicy())
    assert lc.state is AgentState.RUNNING and lc.restarts == 1 and len(lc.failures) == 1
