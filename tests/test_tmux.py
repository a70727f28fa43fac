"""The one tmux client: control mode, tmux quoting, batching, a server killed under it."""

from __future__ import annotations

import asyncio
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.tmux import (
    PANE_FIELDS, SCAN_FIELDS, Pane, TmuxClient, TmuxUnreachable, parse_pane_line, parse_scan_line, quote,
)


def run(coro):
    return asyncio.run(coro)


def test_reads_never_start_a_server(tmux_socket):
    async def go():
        client = TmuxClient(["-L", tmux_socket])
        with pytest.raises(TmuxUnreachable):
            await client.list_panes()
        await client.close()

    run(go())
    assert subprocess.run(["tmux", "-L", tmux_socket, "has-session"], capture_output=True).returncode != 0


def test_argv_runs_without_a_shell_and_a_fast_death_keeps_its_last_screen(tmux_socket, tmp_path):
    async def go():
        client = TmuxClient(["-L", tmux_socket])
        try:
            pane = await client.spawn_window(
                "agents", "fast", ["sh", "-c", 'echo "said: $1 $FOO"; exit 3', "sh", "a;b $(id)"],
                cwd=str(tmp_path), env={"FOO": "x'y"})
            for _ in range(100):
                current = await client.pane(pane.pane_id)
                if current is not None and current.dead:
                    break
                await asyncio.sleep(0.02)
            assert current is not None and current.dead and current.agent == "fast"
            screen = await client.capture(pane.pane_id, history=100)
            return screen
        finally:
            await client.kill_server()

    screen = run(go())
    assert "said: a;b $(id) x'y" in screen


def test_a_one_word_argv_is_execed_too_never_handed_to_a_shell(tmux_socket, tmp_path):
    """tmux runs a lone command argument through ``sh -c``: a one-element argv must still be execed."""
    marker = tmp_path / "ran"

    async def go():
        client = TmuxClient(["-L", tmux_socket])
        try:
            pane = await client.spawn_window("agents", "one", [f"touch {marker}; sleep 60"], cwd=str(tmp_path))
            for _ in range(100):
                current = await client.pane(pane.pane_id)
                if current is not None and current.dead:
                    break
                await asyncio.sleep(0.02)
            return current
        finally:
            await client.kill_server()

    current = run(go())
    assert current is not None and current.dead  # no program of that name: it never ran
    assert not marker.exists()


def test_a_tick_costs_no_tmux_process_whatever_the_fleet_size(tmux_socket, tmp_path):
    async def go():
        client = TmuxClient(["-L", tmux_socket])
        try:
            panes = [await client.spawn_window("agents", f"a{i}", ["sleep", "60"], cwd=str(tmp_path))
                     for i in range(12)]
            before = client.processes_started
            for _ in range(5):
                listed = await client.list_panes()
                shots = await client.capture_many([p.pane_id for p in panes])
            assert len([p for p in listed if p.agent]) == 12
            assert set(shots) == {p.pane_id for p in panes}
            return client.processes_started - before
        finally:
            await client.kill_server()

    assert run(go()) == 0


def test_killed_server_is_reported_then_recovered(tmux_socket, tmp_path):
    async def go():
        client = TmuxClient(["-L", tmux_socket])
        try:
            await client.spawn_window("agents", "one", ["sleep", "60"], cwd=str(tmp_path))
            assert len(await client.list_panes()) == 1
            subprocess.run(["tmux", "-L", tmux_socket, "kill-server"], check=True)
            with pytest.raises(TmuxUnreachable):
                for _ in range(50):
                    await client.list_panes()
                    await asyncio.sleep(0.02)
            # The old server may still be exiting: start the new one as an operator would, retrying.
            for _ in range(50):
                if subprocess.run(["tmux", "-L", tmux_socket, "new-session", "-d", "-s", "back", "sleep 60"],
                                  capture_output=True).returncode == 0:
                    break
                await asyncio.sleep(0.05)
            panes = await client.list_panes()
            assert [p.session for p in panes] == ["back"]
            assert client.connected
        finally:
            await client.kill_server()

    run(go())


def test_the_control_session_vanishes_with_the_client(tmux_socket, tmp_path):
    async def go():
        client = TmuxClient(["-L", tmux_socket])
        await client.spawn_window("agents", "one", ["sleep", "60"], cwd=str(tmp_path))
        name = client.control_session
        await client.close()
        return name

    name = run(go())
    sessions = subprocess.run(["tmux", "-L", tmux_socket, "list-sessions", "-F", "#{session_name}"],
                              capture_output=True, text=True).stdout.split()
    assert name not in sessions and "agents" in sessions


@pytest.fixture(scope="module")
def shared_server():
    import secrets
    name = f"cockpit-test-{secrets.token_hex(4)}"
    subprocess.run(["tmux", "-L", name, "-f", "/dev/null", "new-session", "-d", "-s", "q", "sleep 600"], check=True)
    yield name
    subprocess.run(["tmux", "-L", name, "kill-server"], capture_output=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=60))
def test_any_text_survives_tmux_quoting_unchanged(shared_server, text):
    async def go():
        client = TmuxClient(["-L", shared_server])
        try:
            await client.run("set-option", "-g", "@cockpit_quote", text)
            return "\n".join(await client.run("show-options", "-gv", "@cockpit_quote"))
        finally:
            await client.close()

    assert run(go()) == text
    assert "\n" not in quote(text)


def test_concurrent_spawns_into_a_missing_session_all_get_windows(tmux_socket, tmp_path):
    async def go():
        client = TmuxClient(["-L", tmux_socket])
        try:
            panes = await asyncio.gather(*(client.spawn_window("agents", f"a{i}", ["sleep", "60"], cwd=str(tmp_path))
                                           for i in range(6)))
            listed = await client.list_panes()
            return panes, listed
        finally:
            await client.kill_server()

    panes, listed = run(go())
    assert len({p.pane_id for p in panes}) == 6
    assert sorted(p.agent for p in listed if p.agent) == [f"a{i}" for i in range(6)]


@given(st.text(max_size=200))
def test_a_scan_line_of_any_text_is_a_pane_or_none_never_a_raise(line):
    pane = parse_scan_line(line)
    assert pane is None or isinstance(pane, Pane)


@given(agent=st.text(alphabet=st.characters(blacklist_characters="\x1f\n"), max_size=30),
       pid=st.integers(0, 2**22), dead=st.booleans())
def test_a_scan_line_reads_what_the_full_line_reads_of_what_a_tick_uses(agent, pid, dead):
    values = {"pane_id": "%7", "pane_pid": str(pid), "pane_dead": "1" if dead else "0", "pane_dead_status": "3",
              "session_name": "agents", "window_id": "@2", "window_index": "4", "pane_width": "80",
              "pane_height": "24", "window_activity": "1700000000", "history_size": "12", "cursor_x": "1",
              "cursor_y": "2", "@cockpit_agent": agent, "window_name": "w"}
    full = parse_pane_line("\x1f".join(values[f] for f in PANE_FIELDS))
    scan = parse_scan_line("\x1f".join(values[f] for f in SCAN_FIELDS))
    assert full is not None and scan is not None
    for field in ("pane_id", "pid", "dead", "dead_status", "session", "agent", "change_mark"):
        assert getattr(scan, field) == getattr(full, field)


def test_the_scan_lists_every_pane_with_what_a_tick_reads(tmux_socket):
    async def go():
        client = TmuxClient(["-L", tmux_socket])
        try:
            await client.connect(start_server=True)
            await client.run("new-session", "-d", "-s", "agents", "-n", "w", "sleep", "600")
            full = {p.pane_id: p for p in await client.list_panes()}
            scan = {p.pane_id: p for p in await client.list_panes(scan=True)}
            return full, scan
        finally:
            await client.kill_server()

    full, scan = run(go())
    assert full.keys() == scan.keys() and full
    for pane_id, pane in full.items():
        assert (scan[pane_id].pid, scan[pane_id].session, scan[pane_id].change_mark) == \
            (pane.pid, pane.session, pane.change_mark)
