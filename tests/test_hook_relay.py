"""SPEC §8: `cockpit hook` (the relay every hook runs), the events socket, the per-agent settings.

A hook must never block or fail its agent: the relay always exits 0, starts fast and imports
nothing it does not need; the socket is 0600 and taken over from a dead cockpit; the settings
layer lives in the state dir and the spawn argv/env carry it.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from cockpit.act.hook_settings import HOOK_EVENTS, codex_notify_arg, settings_doc, write_hook_settings
from cockpit.act.spawn import plan_launch
from cockpit.config import parse_config
from cockpit.hook import event_row, relay
from cockpit.observe.events import EventListener, EventsStore, accept_row
from cockpit.registry import JsonlStore

COCKPIT = [sys.executable, "-m", "cockpit"]


def hook_env(state: Path, agent: str = "tabs") -> dict[str, str]:
    return {**os.environ, "COCKPIT_AGENT": agent, "COCKPIT_EVENTS": str(state / "events.sock")}


def run_hook(state: Path, payload: bytes | str, *args: str, agent: str = "tabs") -> subprocess.CompletedProcess:
    data = payload.encode() if isinstance(payload, str) else payload
    return subprocess.run([*COCKPIT, "hook", *args], input=data, env=hook_env(state, agent), capture_output=True,
                          timeout=30)


def rows(path: Path) -> list[dict]:
    return JsonlStore(path).read_all().rows


# --- the relay ----------------------------------------------------------------------------------


def test_hook_with_nobody_listening_appends_to_the_agents_events_file(tmp_path: Path) -> None:
    payload = {"hook_event_name": "SessionStart", "session_id": "s-1", "transcript_path": "/t.jsonl",
               "source": "startup", "tool_input": {"huge": "x" * 10}}
    done = run_hook(tmp_path, json.dumps(payload))
    assert done.returncode == 0 and done.stdout == b"" and done.stderr == b""
    path = tmp_path / "events" / "tabs.jsonl"
    (row,) = rows(path)
    assert row["agent"] == "tabs" and row["event"] == "SessionStart" and row["session_id"] == "s-1"
    assert row["source"] == "startup" and "tool_input" not in row and row["ts"].endswith("Z")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700


@pytest.mark.parametrize("agent", ["", "../escape", "a/b", ".hidden", "x" * 80])
def test_hook_outside_a_cockpit_agent_or_with_a_hostile_name_writes_nothing_and_exits_0(tmp_path: Path,
                                                                                       agent: str) -> None:
    done = run_hook(tmp_path, '{"hook_event_name":"Stop"}', agent=agent)
    assert done.returncode == 0
    assert not (tmp_path / "events").exists() and not (tmp_path.parent / "escape.jsonl").exists()


def test_hook_exits_0_on_garbage_stdin_and_an_unwritable_state_dir(tmp_path: Path) -> None:
    done = run_hook(tmp_path, b"\xff\xfe not json")
    assert done.returncode == 0
    (row,) = rows(tmp_path / "events" / "tabs.jsonl")
    assert row["event"] == "unknown" and row["bad_payload"] is True
    blocked = tmp_path / "blocked"
    blocked.mkdir(mode=0o500)
    (blocked / "events").mkdir(mode=0o000) if os.getuid() != 0 else (blocked / "events").write_text("a file")
    done = run_hook(blocked, '{"hook_event_name":"Stop"}')
    assert done.returncode == 0 and done.stderr == b""


def test_hook_never_writes_through_a_symlink_planted_in_the_events_dir(tmp_path: Path) -> None:
    (tmp_path / "events").mkdir(mode=0o700)
    target = tmp_path / "victim"
    target.write_text("keep\n")
    (tmp_path / "events" / "tabs.jsonl").symlink_to(target)
    assert run_hook(tmp_path, '{"hook_event_name":"Stop"}').returncode == 0
    assert target.read_text() == "keep\n"


def test_codex_notify_json_arrives_as_an_agent_turn_complete_event(tmp_path: Path) -> None:
    note = {"type": "agent-turn-complete", "turn-id": "7", "input-messages": ["fix it"],
            "last-assistant-message": "done"}
    done = subprocess.run([*COCKPIT, "hook", "--codex", json.dumps(note)], env=hook_env(tmp_path),
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    assert done.returncode == 0
    (row,) = rows(tmp_path / "events" / "tabs.jsonl")
    assert row["event"] == "agent-turn-complete" and row["via"] == "codex" and row["input-messages"] == ["fix it"]


def test_the_hook_entry_imports_no_textual_asyncio_or_config_reader() -> None:
    code = ("import sys, runpy; sys.argv=['cockpit','hook']; from cockpit.entry import main; main(); "
            "print(' '.join(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "COCKPIT_AGENT": ""},
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30).stdout.split()
    heavy = {"textual", "asyncio", "tomllib", "cockpit.cli", "cockpit.config", "filelock", "psutil", "argparse"}
    assert not heavy & set(out), heavy & set(out)


def test_the_hook_starts_fast(tmp_path: Path) -> None:
    """SPEC §8: ≤ 300 ms here; the console script, as agents run it (median of 5)."""
    script = Path(sys.executable).with_name("cockpit")
    argv = [str(script), "hook"] if script.exists() else [*COCKPIT, "hook"]
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run(argv, input=b'{"hook_event_name":"Stop"}', env=hook_env(tmp_path), timeout=30)
        times.append(time.perf_counter() - t0)
    assert sorted(times)[2] < 1.0, times  # SPEC §8: ≤ 300 ms here (cockpit bench measures it); CI machines are shared
    assert len(rows(tmp_path / "events" / "tabs.jsonl")) == 5


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
                           lambda kids: st.lists(kids, max_size=5) | st.dictionaries(st.text(max_size=10), kids,
                                                                                     max_size=5), max_leaves=30)


@settings(max_examples=80, deadline=None)
@given(payload=json_values)
def test_any_hook_payload_becomes_one_bounded_row(payload: object) -> None:
    row = event_row(payload, "tabs", now=1_700_000_000.0)
    assert row["agent"] == "tabs" and isinstance(row["event"], str)
    assert accept_row(json.dumps(row).encode(), {"tabs"}) == json.loads(json.dumps(row))


def test_long_strings_are_cut_and_lists_shortened() -> None:
    row = event_row({"hook_event_name": "Stop", "last_assistant_message": "y" * 50_000, "xs": list(range(100))},
                    "tabs", now=0.0)
    assert len(row["last_assistant_message"]) <= 8193 and len(row["xs"]) == 20


# --- the listener -----------------------------------------------------------------------------------


def _listener(state: Path, seen: list) -> EventListener:
    return EventListener(state / "events.sock", EventsStore(state / "events"), agents=lambda: {"tabs"},
                         on_event=seen.append)


def test_a_listening_cockpit_receives_the_line_and_appends_it_once(tmp_path: Path) -> None:
    state = tmp_path / "s"

    async def main() -> None:
        seen: list = []
        listener = _listener(state, seen)
        assert await listener.start()
        assert stat.S_IMODE(os.stat(state / "events.sock").st_mode) == 0o600
        t0 = time.monotonic()
        how = await asyncio.to_thread(relay, {"hook_event_name": "UserPromptSubmit", "prompt": "hi"},
                                      agent="tabs", sock_path=str(state / "events.sock"))
        assert how == "sent" and time.monotonic() - t0 < 1.0
        assert [r["event"] for r in seen] == ["UserPromptSubmit"]
        # not a known agent, not JSON: counted and dropped, never raised
        await asyncio.to_thread(relay, {"hook_event_name": "Stop"}, agent="other", sock_path=str(state / "events.sock"))
        await listener.close()
        assert listener.stats.accepted == 1 and listener.stats.rejected == 1
        assert not (state / "events.sock").exists()

    asyncio.run(main())
    assert [r["prompt"] for r in rows(state / "events" / "tabs.jsonl")] == ["hi"]


def test_a_stale_socket_is_taken_over_and_a_live_one_is_left_to_its_owner(tmp_path: Path) -> None:
    state = tmp_path / "a-very-long-directory-name-to-pass-the-108-byte-limit-of-unix-socket-paths" / "state"
    state.mkdir(parents=True, mode=0o700)
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    assert len(str(state / "events.sock")) > 108

    async def main() -> None:
        first = _listener(state, [])
        assert await first.start()
        second = _listener(state, [])
        assert not await second.start() and "another cockpit" in (second.error or "")
        await first.close()
        # the socket file of a cockpit killed -9: bound, never listening
        from cockpit.hook import socket_address
        address, fd = socket_address(str(state / "events.sock"))
        dead.bind(address)
        os.close(fd)
        assert await second.start()
        assert await asyncio.to_thread(relay, {"hook_event_name": "Stop"}, agent="tabs",
                                       sock_path=str(state / "events.sock")) == "sent"
        await second.close()

    try:
        asyncio.run(main())
    finally:
        dead.close()


def test_a_planted_file_at_the_socket_path_is_refused_loudly(tmp_path: Path) -> None:
    (tmp_path / "events.sock").write_text("not a socket")

    async def main() -> None:
        listener = _listener(tmp_path, [])
        assert not await listener.start()
        assert "is not a socket" in (listener.error or "")

    asyncio.run(main())
    assert (tmp_path / "events.sock").read_text() == "not a socket"


def test_pruning_keeps_the_newest_session_start(tmp_path: Path) -> None:
    store = EventsStore(tmp_path / "events")
    old = [event_row({"hook_event_name": e, "session_id": "s1"}, "tabs", now=1000.0 + i)
           for i, e in enumerate(["SessionStart", "UserPromptSubmit", "Stop"])]
    new = [event_row({"hook_event_name": "Stop"}, "tabs", now=90_000.0)]
    store.append("tabs", old + new)
    assert store.prune("tabs", now=100_000.0, max_age_s=50_000.0) == 2
    assert [r["event"] for r in rows(store.path("tabs"))] == ["SessionStart", "Stop"]


# --- the settings layer and the launch ------------------------------------------------------------


def _config(tmp_path: Path, kind: str, hooks: bool = True):
    return parse_config({"state": {"dir": str(tmp_path / "state")}, "claude": {"hooks": hooks},
                         "agents": [{"name": "tabs", "kind": kind, "command": ["agent", "--flag"],
                                     "cwd": str(tmp_path)}]})


def test_a_claude_agent_is_launched_with_its_settings_layer_and_the_events_env(tmp_path: Path) -> None:
    config = _config(tmp_path, "claude-code")
    plan = plan_launch(config.agents[0], config, None, program=("/opt/cockpit",))
    argv = list(plan.argv)
    assert argv[:2] == ["agent", "--flag"] and plan.hooks
    assert argv[argv.index("--settings") + 1] == str(tmp_path / "state" / "hooks" / "tabs.json")
    assert "--session-id" in argv
    assert plan.env["COCKPIT_AGENT"] == "tabs" and plan.env["COCKPIT_EVENTS"] == str(tmp_path / "state" / "events.sock")
    off = _config(tmp_path, "claude-code", hooks=False)
    assert "--settings" not in plan_launch(off.agents[0], off, None, program=("/opt/cockpit",)).argv


def test_a_codex_agent_gets_its_notify_program_before_resume(tmp_path: Path) -> None:
    config = _config(tmp_path, "codex")
    plan = plan_launch(config.agents[0], config, "0199-abc", program=("/opt/my cockpit",))
    argv = list(plan.argv)
    assert argv[argv.index("-c") + 1] == 'notify=["/opt/my cockpit", "hook", "--codex"]'
    assert argv.index("-c") < argv.index("resume") and argv[-1] == "0199-abc"
    import tomllib
    assert tomllib.loads(codex_notify_arg(("/opt/é \"q\"",)))["notify"] == ['/opt/é "q"', "hook", "--codex"]


def test_the_settings_file_runs_the_relay_for_every_hook_and_is_private(tmp_path: Path) -> None:
    path = write_hook_settings(tmp_path / "hooks", "tabs", ("/opt/my cockpit/bin/cockpit",))
    doc = json.loads(path.read_text())
    assert set(doc["hooks"]) == set(HOOK_EVENTS)
    for groups in doc["hooks"].values():
        (hook,) = groups[0]["hooks"]
        assert shlex.split(hook["command"]) == ["/opt/my cockpit/bin/cockpit", "hook"] and hook["timeout"] > 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    before = path.stat().st_ino
    write_hook_settings(tmp_path / "hooks", "tabs", ("/opt/my cockpit/bin/cockpit",))
    assert path.stat().st_ino == before  # unchanged content is not rewritten
    assert settings_doc(("x",))["hooks"]["Stop"][0]["hooks"][0]["command"] == "x hook"


def test_the_supervisors_prune_prunes_the_events_files_too(tmp_path: Path) -> None:
    from cockpit.events import EventSources

    config = parse_config({"state": {"dir": str(tmp_path / "state")},
                           "agents": [{"name": "tabs", "command": ["x"]}, {"name": "idle", "command": ["x"]}]})
    sources = EventSources(config, on_exit=lambda e: None, on_hook=lambda r: None)
    sources.store.append("tabs", [event_row({"hook_event_name": "Stop"}, "tabs", now=1000.0),
                                  event_row({"hook_event_name": "Stop"}, "tabs", now=99_000.0)])
    assert sources.prune(100_000.0, 10_000.0) == 1  # the agent with no file is skipped, not an error
    assert [r["ts"] for r in rows(sources.store.path("tabs"))] == [event_row({}, "tabs", now=99_000.0)["ts"]]
