"""The TUI driven by keys (App.run_test): a real supervisor on a private tmux server with simulated agents,
and the fixture world where only the UI is under test.

Each test reads like the failure it prevents.
"""

from __future__ import annotations

import asyncio
import io
import os
from dataclasses import replace
from typing import Any

import pytest
from rich.console import Console
from textual import events
from textual.actions import parse as parse_action
from textual.command import CommandPalette
from textual.widgets import Button, Checkbox, Input, Label, Select, Static, TabbedContent

from cockpit.config import DoctorConfig, StateConfig
from cockpit.judge.agents import LIVE_STATUSES
from cockpit.registry import Registry
from cockpit.reminders import Reminder
from cockpit.tui import TuiSettings, create_app
from cockpit.tui.app import DEMO_BLOCK_SCOPE, CockpitApp
from cockpit.tui.attach import attach_plan
from cockpit.tui.fixture import (AT, JOURNAL, PANES, REMINDERS, ROUTES, SESSIONS, FixtureSupervisor, fixture_config,
                                 fixture_report)
from cockpit.tui.messages import ReportReady
from cockpit.tui.screens import (AgentDetailScreen, ConfirmCancelReminder, ConfirmReap, ConfirmRepoint, ConfirmRespawn, DoctorScreen,
                                 HelpScreen, ReminderForm)
from cockpit.tui.screenshots import frozen_clock, settled, until
from cockpit.tui.tabs.agents import AgentTable
from cockpit.tui.tabs.blocks import BlockTable
from cockpit.tui.tabs.journal import JournalTable
from cockpit.tui.tabs.reminders import ReminderTable
from cockpit.tui.tabs.sessions import SessionTable
from cockpit.tui.tabs.zombies import WrapperTable
from cockpit.tui.widgets import EvidencePane, sparkline
from tests.conftest import GHOST, SIM, wait_for
from tests.test_wrappers import has_result, rule_config, sims  # noqa: F401 - the sims fixture


def registry_rows(world, event: str | None = None, agent: str | None = None) -> list[dict[str, Any]]:
    rows = Registry(world.state_dir / "registry.jsonl").read_all().rows
    return [r for r in rows if (event is None or r["event"] == event) and (agent is None or r.get("agent") == agent)]


def record_notifications(app: CockpitApp) -> list[dict[str, Any]]:
    """Every notify() call, as {message, title, severity}."""
    seen: list[dict[str, Any]] = []
    notify = app.notify

    def spy(message: str, *, title: str = "", severity: str = "information", **kwargs: Any) -> None:
        seen.append({"message": message, "title": title, "severity": severity})
        notify(message, title=title, severity=severity, **kwargs)

    app.notify = spy  # type: ignore[method-assign]
    return seen


def journal_top(app: CockpitApp) -> tuple[str, str]:
    """The newest journal row as shown: (event, agent)."""
    table = app.query_one(JournalTable)
    if not table.row_count:
        return ("", "")
    row = table.get_row_at(0)
    return (row[2].plain, row[3].plain)


def journal_shows(app: CockpitApp, event: str, agent: str) -> bool:
    """The journal table shows a row (event, agent): newer rows (a finding the tick judged meanwhile) may sit above it."""
    table = app.query_one(JournalTable)
    return any((row[2].plain, row[3].plain) == (event, agent)
               for row in (table.get_row_at(i) for i in range(table.row_count)))


def fixture_app(**settings: Any) -> tuple[CockpitApp, FixtureSupervisor]:
    read_only = settings.get("read_only", False)
    supervisor = FixtureSupervisor(config=settings.pop("config", fixture_config()), read_only=read_only)
    app = create_app(TuiSettings(supervisor.config, **settings), supervisor=supervisor, clock=frozen_clock)
    return app, supervisor


# --- a real supervisor, a private tmux server, simulated agents -----------------------------------


def test_R_then_confirm_respawns_a_dead_agent_and_the_journal_shows_it_verified(world):
    config = world.write_config([{"name": "tabs", "command": [*SIM]}], supervisor={"auto_respawn": False})

    async def go() -> tuple[tuple[str, ...], list[dict[str, Any]]]:
        app = create_app(TuiSettings(config))
        notes = record_notifications(app)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.report is not None and app.selected_agent == "tabs", "the first report")
            assert app.agent_status("tabs").status in ("down", "unknown")
            await pilot.press("R")
            await until(pilot, lambda: isinstance(app.screen, ConfirmRespawn), "the confirm dialog")
            dialog = app.screen
            assert dialog.agent == "tabs" and dialog.argv == tuple(SIM)  # the exact command, before acting
            assert registry_rows(world, "spawn_requested") == []       # nothing happened yet
            await pilot.press("y")
            await until(pilot, lambda: journal_shows(app, "respawn ✓", "tabs"), "the verified journal row", 20)
            await until(pilot, lambda: app.agent_status("tabs").status in LIVE_STATUSES, "tabs running", 10)
            argv = dialog.argv
            await pilot.press("q")
        return argv, notes

    argv, notes = asyncio.run(go())
    [requested] = registry_rows(world, "spawn_requested", "tabs")
    assert requested["argv"] == list(argv) and requested["by"] == "operator"
    assert len(registry_rows(world, "spawned", "tabs")) == 1
    assert any(n["title"] == "respawn tabs: verified" for n in notes)


def test_a_read_only_cockpit_refuses_R_with_a_notification_and_never_opens_a_dialog(world):
    config = world.write_config([{"name": "solo", "command": [*SIM]}])

    async def go() -> list[dict[str, Any]]:
        app = create_app(TuiSettings(config, read_only=True))
        notes = record_notifications(app)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.report is not None and app.selected_agent == "solo", "the first report")
            respawn = app.screen.active_bindings["R"]
            assert respawn.binding.id == "respawn" and respawn.enabled is False  # dimmed in the footer
            await pilot.press("R")
            await until(pilot, lambda: any(n["title"] == "read-only" for n in notes), "the read-only notice")
            await pilot.pause(0.3)
            assert not isinstance(app.screen, ConfirmRespawn)
            palette = {c.text: c for c in app.palette_commands()}
            assert palette["Respawn solo"].unavailable == "read-only cockpit"
            palette["Respawn solo"].callback()  # the palette's way in refuses the same way
            await pilot.pause(0.2)
            assert not isinstance(app.screen, ConfirmRespawn)
        return notes

    notes = asyncio.run(go())
    assert sum(n["title"] == "read-only" for n in notes) == 2
    assert registry_rows(world, "spawn_requested") == []
    assert registry_rows(world) == []


def test_slash_filter_narrows_the_agents_table_and_escape_restores_it(world):
    config = world.write_config([{"name": n, "command": [*SIM]} for n in ("alpha", "beta", "gamma")],
                                supervisor={"auto_respawn": False})

    async def go() -> None:
        app = create_app(TuiSettings(config))
        async with app.run_test(size=(120, 40)) as pilot:
            table = app.query_one(AgentTable)
            await until(pilot, lambda: table.row_count == 3, "three agents")
            await pilot.press("slash", "a", "l")
            await until(pilot, lambda: table.row_count == 1, "the filter applied")
            assert table.selected_agent == "alpha"
            await pilot.press("escape")
            await until(pilot, lambda: table.row_count == 3, "the filter cleared")
            assert app.focused is table
            assert [str(k.value) for k in table.rows] == ["alpha", "beta", "gamma"]

    asyncio.run(go())


def test_letters_typed_right_after_slash_reach_the_filter_even_before_the_app_catches_up():
    """A lagging app still has / and the letters after it queued together: the letters are the
    filter's, not the focused table's (a plain binding ran only once / had bubbled up from the table,
    after the letters were already handed to it). In a dialog's input, / is a character."""
    app, _supervisor = fixture_app()

    async def go() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: settled(app), "the fixture world")
            await pilot.press("5")  # the journal's table has the keys
            table = app.query_one(AgentTable)
            for key, char in (("slash", "/"), ("d", "d"), ("o", "o"), ("c", "c")):
                app.post_message(events.Key(key, char))  # queued at once, as a terminal delivers them
            await until(pilot, lambda: app.query_one("#filter", Input).value == "doc", "the letters in the filter")
            await until(pilot, lambda: [str(k.value) for k in table.rows] == ["docs"], "only docs left")
            await pilot.press("escape")
            await until(pilot, lambda: table.row_count > 1, "the filter cleared")
            # applied with enter, the keys are back in the table: escape still clears it
            await pilot.press("slash", "d", "o", "c", "enter")
            await until(pilot, lambda: app.focused is table and table.row_count == 1, "the filter applied")
            await pilot.press("escape")
            await until(pilot, lambda: table.row_count > 1 and app.query_one("#filter", Input).value == "",
                        "the applied filter cleared by escape")
            await pilot.press("s")
            await until(pilot, lambda: isinstance(app.focused, Input) and app.focused.id != "filter", "the send input")
            await pilot.press("slash", "e", "x")
            assert app.focused.value == "/ex" and app.query_one("#filter", Input).value == ""

    asyncio.run(go())


def test_the_agents_table_is_diffed_across_ticks_never_cleared_or_rebuilt(world, monkeypatch):
    config = world.write_config([
        {"name": "steady", "command": [*SIM]},
        {"name": "flaky", "command": [*SIM, "--crash-after-s", "0.6"]},
    ], supervisor={"max_restarts": 20})
    calls: dict[str, int] = {"clear": 0, "add_row": 0, "update_cell": 0}

    def counting(name: str):
        original = getattr(AgentTable, name)

        def spy(self, *args, **kwargs):
            calls[name] += 1
            return original(self, *args, **kwargs)
        return spy

    for name in calls:
        monkeypatch.setattr(AgentTable, name, counting(name))

    async def go() -> int:
        app = create_app(TuiSettings(config))
        async with app.run_test(size=(120, 40)) as pilot:
            table = app.query_one(AgentTable)
            await until(pilot, lambda: table.row_count == 2, "two rows")
            keys = list(table.rows)
            first_tick = app.report.tick
            await until(pilot, lambda: app.report.tick >= first_tick + 5
                        and app.agent_status("flaky").restarts >= 1, "several ticks and a restart", 20)
            assert list(table.rows) == keys  # the same row keys, in the same order
            return app.report.tick - first_tick

    ticks = asyncio.run(go())
    assert ticks >= 5
    assert calls["clear"] == 0
    assert calls["add_row"] == 2              # each agent added once, ever
    assert calls["update_cell"] >= 2          # what changed was updated in place


def test_a_new_critical_finding_raises_one_error_toast_not_one_per_tick(world):
    config = world.write_config([{"name": "ghost", "command": GHOST}],
                                supervisor={"max_restarts": 0})

    async def go() -> list[dict[str, Any]]:
        app = create_app(TuiSettings(config))
        notes = record_notifications(app)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: any(n["severity"] == "error" for n in notes), "an error toast", 20)
            seen = app.report.tick
            await until(pilot, lambda: app.report.tick >= seen + 5, "five more ticks")
        return notes

    notes = asyncio.run(go())
    errors = [n for n in notes if n["severity"] == "error"]
    assert errors and all("ghost" in n["message"] for n in errors)
    titles = [n["title"] for n in errors]
    assert set(titles) <= {"respawn exhausted", "spawn failed", "agent down"}
    assert len(titles) == len(set(titles))  # each finding toasted once, when it was new


def test_a_quiet_agents_pane_is_captured_once_not_every_tick(world):
    config = world.write_config([{"name": "quiet", "command": [*SIM]}])

    async def go() -> tuple[list[str], int]:
        app = create_app(TuiSettings(config))
        tmux = app.supervisor.tmux
        captured: list[str] = []
        capture = tmux.capture

        async def spy(pane_id: str, **kwargs: Any) -> str | None:
            captured.append(pane_id)
            return await capture(pane_id, **kwargs)

        tmux.capture = spy
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.report is not None and app.agent_status("quiet").status in LIVE_STATUSES
                        and captured, "quiet running and previewed", 15)

            def preview_current() -> bool:  # a supervisor over its budget sheds previews: a change is captured later
                pane = app.agent_status("quiet").pane
                return pane is not None and app._preview_key == ("quiet", pane, app._pane_mark(pane))

            # its first screen settles (the banner, then the prompt): two ticks in a row capture nothing, the
            # preview showing the pane as it is
            settled_at = (len(captured), app.report.tick)
            deadline = asyncio.get_running_loop().time() + 15
            while app.report.tick < settled_at[1] + 2 and asyncio.get_running_loop().time() < deadline:
                await pilot.pause(0.1)
                if len(captured) != settled_at[0] or not preview_current():
                    settled_at = (len(captured), app.report.tick)
            before, tick = len(captured), app.report.tick
            await until(pilot, lambda: app.report.tick >= tick + 5, "five more ticks")
            return captured, len(captured) - before

    captured, during_quiet_ticks = asyncio.run(go())
    assert set(captured) == {captured[0]} and during_quiet_ticks == 0


# --- the UI alone, over the fixture world --------------------------------------------------------


def test_a_remapped_respawn_key_from_config_works_and_help_shows_it():
    app, supervisor = fixture_app(config=fixture_config(keys={"respawn": "x", "help": "f1"}))

    async def go() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: settled(app), "the fixture world")
            help_rows = {row.description: row.key for row in app.key_help()}
            assert help_rows["Respawn"] == "x" and help_rows["Help"] == "f1"
            await pilot.press("R")
            await pilot.pause(0.2)
            assert not isinstance(app.screen, ConfirmRespawn)  # R is no longer respawn
            await pilot.press("f1")
            await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
            await pilot.press("escape")
            await pilot.press("x")
            await until(pilot, lambda: isinstance(app.screen, ConfirmRespawn), "the confirm dialog")
            await pilot.press("n")
            await until(pilot, lambda: not isinstance(app.screen, ConfirmRespawn), "the dialog closed")

    asyncio.run(go())
    assert supervisor.respawned == []  # cancelled: nothing was respawned


def test_respawning_a_live_agent_asks_to_kill_it_and_defaults_to_cancel():
    app, supervisor = fixture_app()

    async def go() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: settled(app), "the fixture world")
            assert app.selected_agent == "tabs"
            await pilot.press("R")
            await until(pilot, lambda: isinstance(app.screen, ConfirmRespawn), "the confirm dialog")
            assert app.screen.live and app.focused.id == "confirm-no"
            await pilot.press("enter")  # the default answer is no
            await until(pilot, lambda: not isinstance(app.screen, ConfirmRespawn), "the dialog closed")
            assert supervisor.respawned == []
            await pilot.press("R")
            await until(pilot, lambda: isinstance(app.screen, ConfirmRespawn), "the confirm dialog")
            await pilot.press("y")
            await until(pilot, lambda: journal_top(app) == ("respawn ✓", "tabs"), "the journal row")

    asyncio.run(go())
    assert supervisor.respawned == [("tabs", True)]  # a live agent is restarted on purpose (force)


def test_the_preview_captures_only_when_the_pane_changed_or_the_selection_moved():
    app, supervisor = fixture_app()

    async def go() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: settled(app), "the fixture world")
            assert supervisor.tmux.captures == ["%3"]
            for tick in (2, 3, 4):  # nothing moved on screen: no capture
                app.post_message(ReportReady(fixture_report(tick=tick, new=False)))
            await pilot.pause(0.2)
            assert supervisor.tmux.captures == ["%3"]
            moved = tuple(replace(p, activity=p.activity + 1) if p.pane_id == "%3" else p for p in PANES)
            app.post_message(ReportReady(replace(fixture_report(tick=5, new=False), panes=moved)))
            await until(pilot, lambda: supervisor.tmux.captures == ["%3", "%3"], "a capture of the moved pane")
            app.select_agent("docs")
            await until(pilot, lambda: supervisor.tmux.captures[-1] == "%4", "a capture of the new selection")
            app.select_agent("ghost")  # no window: nothing to capture
            await pilot.pause(0.2)
            assert supervisor.tmux.captures == ["%3", "%3", "%4"]

    asyncio.run(go())


def test_the_palette_lists_actions_by_agent_name_and_runs_them():
    app, supervisor = fixture_app()

    async def go() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: settled(app), "the fixture world")
            texts = [c.text for c in app.palette_commands()]
            for name in ("tabs", "docs", "builder", "reviewer", "ghost", "scribe"):
                assert f"Respawn {name}" in texts and f"Attach to {name}" in texts
            await pilot.press("ctrl+p")
            await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
            await pilot.press(*"respawn ghost")
            await pilot.pause(0.5)
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, ConfirmRespawn), "the confirm dialog")
            assert app.screen.agent == "ghost" and not app.screen.live
            await pilot.press("y")
            await until(pilot, lambda: supervisor.respawned == [("ghost", False)], "the respawn")

    asyncio.run(go())


def test_new_journal_rows_go_on_top_without_moving_the_row_being_read():
    app, supervisor = fixture_app()

    async def go() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: settled(app), "the fixture world")
            table = app.query_one(JournalTable)
            table.move_cursor(row=3)  # the operator reads an older row
            await pilot.pause(0.1)
            reading = app.tab("journal").rows[str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)]
            supervisor.journal.record("info", summary="a new row")
            app._journal_wake.set()
            await until(pilot, lambda: table.row_count == len(JOURNAL) + 1, "the new row")
            assert journal_top(app) == ("info", "-")
            row_key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            assert app.tab("journal").rows[str(row_key)] is reading and table.cursor_row == 4

    asyncio.run(go())


def test_quit_closes_the_supervisor():
    app, supervisor = fixture_app()

    async def go() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: settled(app), "the fixture world")
            await pilot.press("q")
            await pilot.pause(0.1)

    asyncio.run(go())
    assert supervisor.closed


def test_enter_where_the_terminal_cannot_be_suspended_says_how_to_attach_instead(monkeypatch):
    monkeypatch.delenv("TMUX", raising=False)
    app, _ = fixture_app()
    notes = record_notifications(app)

    async def go() -> None:
        async with app.run_test(size=(120, 40)) as pilot:  # headless: no terminal to hand over
            await until(pilot, lambda: settled(app), "the fixture world")
            await pilot.press("enter")
            await until(pilot, lambda: any(n["title"] == "cannot attach to tabs" for n in notes), "the notice")
            app.select_agent("ghost")
            await pilot.pause(0.1)
            await pilot.press("enter")
            await until(pilot, lambda: any(n["title"] == "cannot attach" for n in notes), "the no-window notice")

    asyncio.run(go())
    [notice] = [n for n in notes if n["title"] == "cannot attach to tabs"]
    # the command as a shell takes it (tmux's ; separators quoted), to copy into another terminal
    assert "tmux -L agents select-window -t %3 ';' select-pane -t %3 ';' attach-session -t =agents" in notice["message"]
    assert any("ghost has no tmux window" in n["message"] for n in notes)


# --- attach: argv lists, never a shell string ----------------------------------------------------


def test_attach_outside_tmux_suspends_and_attaches_after_selecting_the_window():
    plan = attach_plan(("-L", "agents"), "agents", "%3", env={}, server_socket="/tmp/tmux-0/agents")
    assert plan.suspend and plan.env is None
    assert plan.argv == ("tmux", "-L", "agents", "select-window", "-t", "%3", ";", "select-pane", "-t", "%3",
                         ";", "attach-session", "-t", "=agents")


def test_attach_inside_the_agents_tmux_server_switches_the_client_instead():
    env = {"TMUX": "/tmp/tmux-0/agents,4242,0"}
    plan = attach_plan(("-L", "agents"), "agents", "%3", env=env, server_socket="/tmp/tmux-0/agents")
    assert not plan.suspend
    assert plan.argv[-3:] == ("switch-client", "-t", "%3") and "attach-session" not in plan.argv


def test_attach_from_another_tmux_server_nests_without_inheriting_its_TMUX():
    env = {"TMUX": "/tmp/tmux-0/default,4242,0", "HOME": "/home/op"}
    plan = attach_plan(("-S", "/run/agents.sock"), "agents", "%7", env=env, server_socket="/run/agents.sock")
    assert plan.suspend and plan.env == {"HOME": "/home/op"}
    assert plan.argv[:3] == ("tmux", "-S", "/run/agents.sock") and plan.argv[-1] == "=agents"


@pytest.mark.parametrize("width,height", [(80, 24), (120, 40), (200, 60)])
def test_the_layout_fits_the_terminal_without_overflow(width, height):
    app, _ = fixture_app()

    async def go() -> None:
        async with app.run_test(size=(width, height)) as pilot:
            await until(pilot, lambda: settled(app), "the fixture world")
            screen = app.screen
            assert screen.max_scroll_x == 0 and screen.max_scroll_y == 0  # the screen itself never scrolls
            for selector in ("#fleet-header", "#agents", "#lower", "#preview", "#tabs", "#journal-table",
                             "#journal-detail", "Footer"):
                widget = screen.query_one(selector)
                if widget.display:
                    region = widget.region
                    assert region.area and region.right <= width and region.bottom <= height, (selector, region)
            preview = screen.query_one("#preview")
            assert preview.display == (width >= 100 or height >= 30)  # 80x24: no room for the preview
            # SPEC §1: every agent's row on screen, phone-sized too (the agents table never scrolls)
            agents = screen.query_one(AgentTable)
            assert agents.max_scroll_y == 0 and agents.row_count == len(app.report.agents)
            for key, table, detail in (("1", "#sessions-table", "#sessions-detail"),
                                       ("2", "#blocks-table", "#blocks-detail"),
                                       ("3", "#zombies-table", "#zombies-detail")):
                await pilot.press(key)
                await pilot.pause()
                for selector in (table, detail):
                    widget = screen.query_one(selector)
                    if widget.display:
                        region = widget.region
                        assert region.area and region.right <= width and region.bottom <= height, (selector, region)
                assert screen.max_scroll_x == 0 and screen.max_scroll_y == 0

    asyncio.run(go())


# --- issues 4-6: sessions, zombies, blocks --------------------------------------------------------


def shown(widget) -> str:
    """The text an evidence pane shows now (its renderable, printed wide so nothing wraps)."""
    console = Console(width=400, color_system=None, file=io.StringIO())
    console.print(widget.query_one(".evidence-body", Static).content)
    return console.file.getvalue()


def cell(table, key: str, column: str) -> str:
    return table.get_cell(key, column).plain


def test_tab_keys_switch_tabs_in_spec_order_1_to_5():
    app, _ = fixture_app()

    async def go() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: settled(app), "the fixture world")
            tabs = app.query_one(TabbedContent)
            assert tabs.active == "journal-tab"
            for key, pane, table in (("1", "sessions-tab", SessionTable), ("2", "blocks-tab", BlockTable),
                                     ("3", "zombies-tab", WrapperTable), ("4", "reminders-tab", ReminderTable),
                                     ("5", "journal-tab", JournalTable)):
                await pilot.press(key)
                await until(pilot, lambda: tabs.active == pane, f"{key} shows {pane}")
                assert isinstance(app.focused, table)  # its keys (arrows, k) go to that tab's table
            keys = {row.key: row.description for row in app.key_help()}
            assert [keys.get(k) for k in "12345"] == ["Sessions", "Blocks", "Zombies", "Reminders", "Journal"]
            assert {b.binding.id for b in app.screen.active_bindings.values()} >= {"tab_1", "tab_2", "tab_3",
                                                                                   "tab_4", "tab_5"}

    asyncio.run(go())


def test_the_sessions_tab_shows_record_and_disk_side_by_side_with_the_evidence_of_the_selected_agent():
    app, _ = fixture_app()

    async def go() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: settled(app), "the fixture world")
            app.select_agent("docs")
            await pilot.press("1")
            table = app.query_one(SessionTable)
            await until(pilot, lambda: table.selected_key == "docs", "the tab following the agents table")
            assert cell(table, "docs", "record") == ROUTES["docs"][:8]
            assert cell(table, "docs", "vs") == "≠" and cell(table, "docs", "disk") == SESSIONS["docs"][:8]
            assert cell(table, "docs", "record_turn") == "1d" and cell(table, "docs", "disk_turn") == "6m"
            assert cell(table, "docs", "source") == "live" and "stale_route" in cell(table, "docs", "check")
            assert cell(table, "tabs", "vs") == "=" and "ok" in cell(table, "tabs", "check")
            assert cell(table, "builder", "check").endswith("unknown_route")
            assert cell(table, "reviewer", "disk") == "ambiguous" and "ambiguous" in cell(table, "critic", "check")
            detail = shown(app.query_one("#sessions-detail", EvidencePane))
            for text in (ROUTES["docs"], SESSIONS["docs"], "2025-05-31 11:18:00Z", "2025-06-01 11:54:00Z",
                         "Docs rebuilt: 41 pages, 0 broken links.", "rebuild the docs and check the links"):
                assert text in detail, text
            await pilot.press("down")  # moving in the sessions table moves the one selected agent
            await until(pilot, lambda: app.selected_agent == "builder", "the agents table following")
            assert "0196a0aa" in shown(app.query_one("#sessions-detail", EvidencePane))

    asyncio.run(go())


def test_p_on_a_stale_agent_shows_record_and_disk_then_repoints_and_the_journal_shows_it():
    app, supervisor = fixture_app()
    notes = record_notifications(app)

    async def go() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: settled(app), "the fixture world")
            await pilot.press("p")  # tabs' record matches its disk: nothing to repoint, and it says so
            await until(pilot, lambda: any(n["title"] == "cannot repoint" for n in notes), "the notice")
            assert not isinstance(app.screen, ConfirmRepoint)
            app.select_agent("docs")
            await pilot.pause()
            await pilot.press("p")
            await until(pilot, lambda: isinstance(app.screen, ConfirmRepoint), "the repoint dialog")
            dialog = app.screen
            assert (dialog.agent, dialog.record, dialog.disk) == ("docs", ROUTES["docs"], SESSIONS["docs"])
            assert [f.kind for f in dialog.findings] == ["stale_route"]
            assert supervisor.repointed == []  # nothing written before the operator says so
            await pilot.press("y")
            await until(pilot, lambda: journal_top(app) == ("repoint ✓", "docs"), "the verified journal row")

    asyncio.run(go())
    assert supervisor.repointed == ["docs"]
    assert any(n["title"] == "repoint docs: verified" for n in notes)
    assert any("already points at its disk session" in n["message"] for n in notes)


def test_k_on_an_agent_reaps_its_zombie_wrappers_after_naming_them():
    app, supervisor = fixture_app()

    async def go() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: settled(app), "the fixture world")
            assert app.selected_agent == "tabs"
            await pilot.press("k")
            await until(pilot, lambda: isinstance(app.screen, ConfirmReap), "the reap dialog")
            dialog = app.screen
            assert [(w.name, w.pid) for w in dialog.wrappers] == [("wrapper-48630", 48630)]
            assert dialog.agent == "tabs" and app.focused.id == "confirm-yes"  # a zombie: reap is the default
            await pilot.press("n")
            await until(pilot, lambda: not isinstance(app.screen, ConfirmReap), "the dialog closed")
            assert supervisor.reaped == []
            await pilot.press("k", "y")
            await until(pilot, lambda: supervisor.reaped == ["48630:486300"], "the reap")
            await until(pilot, lambda: journal_top(app) == ("reap ✓", "tabs"), "the journal row")
            texts = [c.text for c in app.palette_commands()]
            assert "Repoint docs" in texts and "Reap tabs" in texts and "Reap review-fixups" in texts

    asyncio.run(go())


def test_a_read_only_cockpit_dims_p_and_k_and_refuses_them_with_a_reason():
    app, supervisor = fixture_app(read_only=True)
    notes = record_notifications(app)

    async def go() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: settled(app), "the fixture world")
            app.select_agent("docs")
            await pilot.pause()
            bindings = app.screen.active_bindings
            assert not bindings["p"].enabled and not bindings["k"].enabled and not bindings["ctrl+k"].enabled
            await pilot.press("p")
            await pilot.press("3", "k")
            await pilot.press("ctrl+k")
            await until(pilot, lambda: sum(n["title"] == "read-only" for n in notes) == 3, "three refusals")
            assert not isinstance(app.screen, (ConfirmRepoint, ConfirmReap))
            palette = {c.text: c for c in app.palette_commands()}
            assert palette["Repoint docs"].unavailable == palette["Reap tabs"].unavailable == "read-only cockpit"
            palette["Repoint docs"].callback()  # the palette's way in refuses the same way
            palette["Reap tabs"].callback()
            await pilot.pause(0.2)
            assert not isinstance(app.screen, (ConfirmRepoint, ConfirmReap))

    asyncio.run(go())
    assert supervisor.repointed == [] and supervisor.reaped == []
    assert sum(n["title"] == "read-only" for n in notes) == 5


def test_the_preview_waits_while_the_supervisor_sheds_pane_previews_but_follows_a_new_selection():
    app, supervisor = fixture_app()

    async def go() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: settled(app), "the fixture world")
            assert supervisor.tmux.captures == ["%3"]
            moved = tuple(replace(p, activity=p.activity + 1) for p in PANES)
            app.post_message(ReportReady(replace(fixture_report(tick=100, new=False), panes=moved,
                                                 shed=("idle_pane_captures", "pane_previews"))))
            await pilot.pause(0.2)
            assert supervisor.tmux.captures == ["%3"]  # seed #8: over budget, the moved pane waits
            app.select_agent("docs")
            await until(pilot, lambda: supervisor.tmux.captures[-1:] == ["%4"], "the new selection captured")
            app.select_agent("tabs")
            await until(pilot, lambda: supervisor.tmux.captures[-1:] == ["%3"], "tabs captured again")
            app.post_message(ReportReady(replace(fixture_report(tick=101, new=False), panes=PANES)))
            await until(pilot, lambda: supervisor.tmux.captures.count("%3") == 3, "the budget back: captured")

    asyncio.run(go())


def test_the_header_sparkline_shows_the_loop_lag_per_tick_and_a_stall_stands_out():
    bars = sparkline([1.0] * 10 + [600.0] + [2.0] * 9, 10)
    assert [c for c, _ in bars] == ["▁"] * 5 + ["█"] + ["▁"] * 4
    assert "".join(c for c, _ in sparkline([3.0], 4)) == "   ▁"  # a young history is right-aligned
    app, _ = fixture_app()

    async def go() -> str:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: settled(app), "the fixture world")
            return str(app.query_one("#fleet-header").render())

    header = asyncio.run(go())
    assert "█" in header and "▁" in header


def test_k_and_ctrl_k_reap_real_zombie_wrappers_and_the_zombies_tab_shows_them_reaped(world, sims):
    first, out1 = sims.start(linger=60)
    second, out2 = sims.start(linger=60)
    wait_for(lambda: has_result(out1) and has_result(out2), what="both result lines")
    config = rule_config(world, sims.marker, zombie_grace_s=0.3, auto_reap=False, stop_wait_s=2.0)

    async def go() -> CockpitApp:
        app = create_app(TuiSettings(config))
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: sum(w.state == "zombie" for w in app.wrappers.values()) == 2,
                        "two zombies", 15)
            await pilot.press("3")
            table = app.query_one(WrapperTable)
            await until(pilot, lambda: table.row_count == 2 and app.focused is table, "the Zombies tab")
            target = app.wrappers[table.selected_key]
            await pilot.press("k")
            await until(pilot, lambda: isinstance(app.screen, ConfirmReap), "the reap dialog")
            assert [(w.name, w.pid) for w in app.screen.wrappers] == [(target.name, target.pid)]
            assert target.result is not None and target.result.subtype == "success"
            await pilot.press("y")
            await until(pilot, lambda: cell(table, target.id, "state") == "reaped", "the first one reaped", 15)
            await pilot.press("down")
            other = app.wrappers[table.selected_key]
            assert other.id != target.id and other.state == "zombie"
            await pilot.press("ctrl+k")  # no question asked
            await pilot.pause(0.1)
            assert not isinstance(app.screen, ConfirmReap)
            await until(pilot, lambda: cell(table, other.id, "state") == "reaped", "the second one reaped", 15)
            await pilot.press("q")
        return app

    asyncio.run(go())
    assert first.wait(timeout=5) is not None and second.wait(timeout=5) is not None
    exits = [r for r in registry_rows(world, "exit") if r.get("wrapper") is True]
    assert sorted(r["pid"] for r in exits) == sorted([first.pid, second.pid])
    assert {r["reason"] for r in exits} == {"reaped"}


def test_the_demo_block_key_records_a_block_whose_culprit_and_stack_show_in_the_blocks_tab(world):
    config = world.write_config([], supervisor={"loop_block_ms": 250})

    async def go() -> tuple[str, str]:
        app = create_app(TuiSettings(config, demo=True))
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.report is not None, "the first report")
            assert app.screen.active_bindings["b"].binding.id == "demo_block"
            await pilot.press("b")
            await until(pilot, lambda: any(b.culprit == DEMO_BLOCK_SCOPE for b in app.tab("blocks").blocks.values()),
                        "the block in a report", 10)
            await pilot.press("2")
            table, tab = app.query_one(BlockTable), app.tab("blocks")

            def newest_selected() -> bool:  # newest first, the cursor on the top row whatever arrives
                newest = max(tab.blocks, key=lambda k: tab.blocks[k].start, default=None)
                return newest is not None and table.cursor_row == 0 and table.selected_key == newest
            await until(pilot, newest_selected, "the newest block selected")
            # a loaded machine can really stall the loop after the demo's block: that one is newer, so the
            # demo's row is found by its culprit and selected
            [demo] = [k for k, b in tab.blocks.items() if b.culprit == DEMO_BLOCK_SCOPE]
            assert table.select_key(demo)
            detail = app.query_one("#blocks-detail", EvidencePane)
            await until(pilot, lambda: table.selected_key == demo and DEMO_BLOCK_SCOPE in shown(detail),
                        "the demo's block in the detail")
            return " ".join(c.plain for c in table.get_row(demo)), shown(detail)

    row, detail = asyncio.run(go())
    assert "cockpit" in row and DEMO_BLOCK_SCOPE in row
    assert int(row.split(" ms")[0].split()[-1]) >= 500
    assert "stack (innermost first)" in detail
    assert detail.split("stack (innermost first)")[1].split("\n")[1].startswith("→ cockpit/tui/app.py:")
    assert "in action_demo_block" in detail.split("stack (innermost first)")[1].split("\n")[1]


def test_the_demo_block_key_does_not_exist_outside_the_demo():
    app, _ = fixture_app()

    async def go() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: settled(app), "the fixture world")
            assert "b" not in app.screen.active_bindings
            assert "Block loop" not in {row.description for row in app.key_help()}
            blocks = len(app.tab("blocks").blocks)
            await pilot.press("b")
            await pilot.pause(0.1)
            assert len(app.tab("blocks").blocks) == blocks

    asyncio.run(go())


# --- seed #6: the Reminders tab; seed #1: the doctor from the palette ------------------------------


def test_n_in_the_reminders_tab_schedules_a_reminder_with_the_parsed_due_time():
    app, supervisor = fixture_app()

    async def go() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: settled(app), "the fixture world")
            await pilot.press("4")
            await pilot.press("n")
            await until(pilot, lambda: isinstance(app.screen, ReminderForm), "the reminder form")
            form = app.screen
            assert form.query_one("#reminder-agent", Select).value == "tabs"  # the selected agent
            for key in "1h30m":
                await pilot.press(key)  # the due field has focus
            form.query_one("#reminder-verb", Select).value = "notice"
            form.query_one("#reminder-text", Input).value = "check the deploy"
            form.query_one("#reminder-respawn", Checkbox).value = True
            await pilot.press("ctrl+s")
            await until(pilot, lambda: supervisor.reminders.scheduled, "schedule called")
            assert not isinstance(app.screen, ReminderForm)

    asyncio.run(go())
    assert supervisor.reminders.scheduled == [{"agent": "tabs", "verb": "notice", "text": "check the deploy",
                                               "due_at": AT + 5400, "respawn_if_down": True, "by": "tui"}]


def test_an_invalid_due_time_is_named_inline_and_nothing_is_scheduled():
    app, supervisor = fixture_app()

    async def go() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: settled(app), "the fixture world")
            await pilot.press("4", "n")
            await until(pilot, lambda: isinstance(app.screen, ReminderForm), "the reminder form")
            form = app.screen
            for key in "10x":
                await pilot.press(key)
            await pilot.press("enter")
            await pilot.pause(0.05)
            error = form.query_one("#reminder-error", Label)
            assert "expected a duration like 45s, 10m" in str(error.content) and error.has_class("-error")
            assert app.screen is form  # still open, nothing raised
            form.query_one("#reminder-when", Select).value = "at"
            form.query_one("#reminder-due", Input).value = "2020-01-01T10:00"
            form.query_one("#reminder-text", Input).value = "too late"
            await pilot.press("ctrl+s")
            await pilot.pause(0.05)
            assert "is in the past" in str(error.content) and app.screen is form
            form.query_one("#reminder-due", Input).value = "10m"
            form.query_one("#reminder-when", Select).value = "in"
            form.query_one("#reminder-text", Input).value = "   "
            await pilot.press("ctrl+s")
            await pilot.pause(0.05)
            assert "printable text" in str(error.content) and app.screen is form
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, ReminderForm), "the form closed")

    asyncio.run(go())
    assert supervisor.reminders.scheduled == []


def test_x_cancels_the_selected_reminder_after_naming_it_and_explains_a_finished_one():
    app, supervisor = fixture_app()

    async def go() -> list[dict[str, Any]]:
        notes = record_notifications(app)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: settled(app), "the fixture world")
            await pilot.press("4")
            table = app.query_one(ReminderTable)
            assert table.row_count == 3 and table.select_key("r-1a2b3c4d")
            await pilot.pause()
            await pilot.press("x")  # delivered: nothing to cancel, says why
            await pilot.pause(0.05)
            assert not isinstance(app.screen, ConfirmCancelReminder)
            assert any("already delivered" in n["message"] for n in notes)
            assert "in 4.2s transcript" in cell(table, "r-1a2b3c4d", "outcome")
            assert table.select_key("r-9c0d1e2f")
            await pilot.pause()
            assert "needs input" in shown(app.query_one("#reminders-detail", EvidencePane))
            await pilot.press("x")
            await until(pilot, lambda: isinstance(app.screen, ConfirmCancelReminder), "the cancel confirmation")
            await pilot.press("y")
            await until(pilot, lambda: supervisor.reminders.cancelled, "cancel called")
            return notes

    notes = asyncio.run(go())
    assert supervisor.reminders.cancelled == ["r-9c0d1e2f"]
    assert any(n["title"] == "reminder cancelled" for n in notes)


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 50)])
def test_the_reminders_table_fits_its_pane_and_gives_the_text_what_is_left(size):
    """No sideways scrolling at any width: the text column takes what the other columns leave."""
    app, _ = fixture_app()

    async def go() -> tuple[int, int]:
        async with app.run_test(size=size) as pilot:
            await until(pilot, lambda: settled(app), "the fixture world")
            # more reminders than the pane has rows: the vertical scrollbar takes its columns too
            many = tuple(replace(REMINDERS[i % 3], id=f"r-{i:08x}", due_at=AT + i) for i in range(30))
            app.post_message(ReportReady(replace(fixture_report(tick=300, new=False), reminders=many)))
            await pilot.press("4")
            table = app.query_one(ReminderTable)
            await until(pilot, lambda: table.row_count == 30 and table.size.width > 0, "the reminders shown")
            await pilot.pause(0.1)
            text = next(c.width for c in table.columns.values() if c.key.value == "text")
            return table.max_scroll_x, text

    sideways, text = asyncio.run(go())
    assert sideways == 0, f"the table scrolls {sideways} columns sideways at {size}"
    assert text >= 6
    if size[0] >= 200:
        assert text >= 40  # a wide terminal shows most of the text

def test_a_read_only_cockpit_dims_n_and_x_in_the_reminders_tab_and_refuses_them_with_a_reason():
    app, supervisor = fixture_app(read_only=True)

    async def go() -> list[dict[str, Any]]:
        notes = record_notifications(app)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: settled(app), "the fixture world")
            outside = app.screen.active_bindings.get("n")
            assert outside is None or not outside.enabled  # n and x belong to the Reminders tab
            await pilot.press("4")
            await pilot.pause()
            app.query_one(ReminderTable).select_key("r-9c0d1e2f")
            await pilot.pause()
            for key in ("n", "x"):
                assert not app.screen.active_bindings[key].enabled
                _, action, parameters = parse_action(app.screen.active_bindings[key].binding.action)
                assert app.check_action(action, parameters) is None  # dimmed
                await pilot.press(key)
                await pilot.pause(0.05)
                assert not isinstance(app.screen, (ReminderForm, ConfirmCancelReminder))
            return notes

    notes = asyncio.run(go())
    refusals = [n for n in notes if n["title"] == "read-only"]
    assert any("new reminder" in n["message"] or "add reminder" in n["message"] for n in refusals)
    assert any("cancel reminder" in n["message"] for n in refusals)
    assert supervisor.reminders.scheduled == [] and supervisor.reminders.cancelled == []


def test_a_delivered_notice_is_toasted_once():
    app, _ = fixture_app()
    notice = Reminder(id="r-abcdef01", agent="docs", verb="notice", text="the nightly build is red", due_at=AT,
                      created_at=AT - 60, state="delivered", attempts=1)

    async def go() -> list[dict[str, Any]]:
        notes = record_notifications(app)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: settled(app), "the fixture world")
            app.post_message(ReportReady(replace(fixture_report(tick=99, new=False), notices=(notice,))))
            app.post_message(ReportReady(fixture_report(tick=100, new=False)))
            await pilot.pause(0.1)
            return notes

    notes = asyncio.run(go())
    assert [n["message"] for n in notes if "notice" in n["title"]] == ["the nightly build is red"]


def test_a_critical_finding_that_keeps_coming_back_is_toasted_once_not_every_time():
    """A spawn failing every few seconds is new each time; the operator is told once (it stays in the table)."""
    app, _ = fixture_app()

    async def go() -> list[dict[str, Any]]:
        notes = record_notifications(app)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: settled(app), "the fixture world")
            for tick in range(100, 104):  # new, gone, new again...
                app.post_message(ReportReady(fixture_report(tick=tick, new=tick % 2 == 0)))
            await pilot.pause(0.1)
            return notes

    notes = asyncio.run(go())
    repeated = [f for f in fixture_report().new_findings]
    assert repeated, "the fixture has a new critical finding"
    for finding in repeated:
        assert [n["message"] for n in notes].count(finding.summary) == 1


def test_a_finding_that_is_still_coming_back_after_five_minutes_is_toasted_again():
    now = [0.0]
    supervisor = FixtureSupervisor(config=fixture_config())
    app = create_app(TuiSettings(supervisor.config), supervisor=supervisor, clock=lambda: now[0])

    async def go() -> list[dict[str, Any]]:
        notes = record_notifications(app)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: settled(app), "the fixture world")
            for tick, at in ((100, 10.0), (102, 250.0), (104, 320.0)):  # new again at 10 s, 250 s, 320 s
                now[0] = at
                app.post_message(ReportReady(fixture_report(tick=tick, new=True)))
                await pilot.pause(0.05)
            return notes

    notes = asyncio.run(go())
    [finding] = fixture_report().new_findings
    # the first one (at start-up or 10 s), none at 250 s, again at 320 s (more than 300 s after the first)
    assert [n["message"] for n in notes].count(finding.summary) == 2


def test_doctor_from_the_palette_passes_a_candidate_and_promote_repoints_the_link(tmp_path):
    versions = tmp_path / "versions"
    versions.mkdir()
    old, new = versions / "1.0.0", versions / "2.0.0"
    for path, body in ((old, 'echo "old"; sleep 60\n'), (new, 'echo "claude 2.0.0 ready"; sleep 60\n')):
        path.write_text("#!/bin/sh\n" + body)
        path.chmod(0o755)
    (tmp_path / "bin").mkdir()
    link = tmp_path / "bin" / "claude"
    link.symlink_to(old)
    (tmp_path / "state").mkdir()
    base = fixture_config()
    config = replace(base, state=StateConfig(dir=tmp_path / "state"),
                     doctor=DoctorConfig(boot_s=5.0, ready_pattern="ready"),
                     agents=(replace(base.agents[0], command=(str(link),), cwd=tmp_path), *base.agents[1:]))
    app, _ = fixture_app(config=config)

    async def go() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: settled(app), "the fixture world")
            [command] = [c for c in app.palette_commands() if c.text == "Doctor: check a candidate CLI for tabs"]
            command.callback()
            await until(pilot, lambda: isinstance(app.screen, DoctorScreen) and app.screen.is_mounted, "the doctor screen")
            await pilot.pause()
            doctor = app.screen
            await until(pilot, lambda: doctor.query_one("#doctor-link", Input).value == str(link), "the CLI's link")
            candidates = doctor.query_one("#doctor-candidates", Select)
            assert [v for _, v in candidates._options if v is not Select.NULL] == [str(new), str(old)]
            # the newest version is picked and Check focused: the whole flow is enter, enter
            await until(pilot, lambda: doctor.query_one("#doctor-candidate", Input).value == str(new), "picked")
            await until(pilot, lambda: app.focused is doctor.query_one("#doctor-check", Button), "Check focused")
            await pilot.press("enter")
            await until(pilot, lambda: doctor.result is not None, "the verdict", timeout=30)
            assert doctor.result.passed and doctor.result.reason == "ready"
            assert "claude 2.0.0 ready" in shown_static(doctor.query_one("#doctor-screen", Static))
            assert "PASS" in shown_static(doctor.query_one("#doctor-verdict", Static))
            promote = doctor.query_one("#doctor-promote", Button)
            assert not promote.disabled
            await until(pilot, lambda: app.focused is promote, "Promote focused after the pass")
            await pilot.press("enter")
            await until(pilot, lambda: doctor.result.promotion is not None, "the promotion", timeout=15)
            assert "promoted" in shown_static(doctor.query_one("#doctor-verdict", Static))

    asyncio.run(go())
    assert os.readlink(link) == str(new)


def test_doctor_picks_nothing_by_itself_next_to_an_unversioned_cli(tmp_path):
    """A CLI in a bin folder: its neighbours are other programs, none is picked; the path is to be typed."""
    (tmp_path / "bin").mkdir()
    for name in ("claude", "yaml2obj", "zip"):
        path = tmp_path / "bin" / name
        path.write_text("#!/bin/sh\nsleep 60\n")
        path.chmod(0o755)
    base = fixture_config()
    config = replace(base, agents=(replace(base.agents[0], command=(str(tmp_path / "bin" / "claude"),), cwd=tmp_path),
                                   *base.agents[1:]))
    app, _ = fixture_app(config=config)

    async def go() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: settled(app), "the fixture world")
            app.open_doctor("tabs")
            await until(pilot, lambda: isinstance(app.screen, DoctorScreen) and app.screen.is_mounted, "the doctor")
            doctor = app.screen
            candidate = doctor.query_one("#doctor-candidate", Input)
            await until(pilot, lambda: app.focused is candidate, "the candidate's path focused")
            assert candidate.value == "" and doctor.query_one("#doctor-candidates", Select).value is Select.NULL

    asyncio.run(go())


def test_doctor_in_a_read_only_cockpit_checks_but_refuses_to_promote(tmp_path):
    good = tmp_path / "2.0.0"
    good.write_text('#!/bin/sh\necho "ready"; sleep 60\n')
    good.chmod(0o755)
    old = tmp_path / "1.0.0"
    old.write_text('#!/bin/sh\nsleep 60\n')
    old.chmod(0o755)
    link = tmp_path / "claude"
    link.symlink_to(old)
    config = replace(fixture_config(), state=StateConfig(dir=tmp_path / "state"),
                     doctor=DoctorConfig(boot_s=5.0, ready_pattern="ready"))
    app, _ = fixture_app(config=config, read_only=True)

    async def go() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: settled(app), "the fixture world")
            app.open_doctor("docs")
            await until(pilot, lambda: isinstance(app.screen, DoctorScreen) and app.screen.is_mounted, "the doctor screen")
            await pilot.pause()
            doctor = app.screen
            doctor.query_one("#doctor-candidate", Input).value = str(good)
            doctor.query_one("#doctor-link", Input).value = str(link)
            doctor.query_one("#doctor-check", Button).press()
            await until(pilot, lambda: doctor.result is not None, "the verdict", timeout=30)
            assert doctor.result.passed
            doctor.query_one("#doctor-promote", Button).press()
            await until(pilot, lambda: "refused" in shown_static(doctor.query_one("#doctor-verdict", Static)),
                        "the refusal")

    asyncio.run(go())
    assert os.readlink(link) == str(old)


def shown_static(widget: Static) -> str:
    console = Console(width=400, color_system=None, file=io.StringIO())
    console.print(widget.content)
    return console.file.getvalue()


def test_canary_and_fold_findings_show_their_output_and_both_turns_when_selected_in_the_journal():
    """Seeds #5 and #11: the canary's output tail; the fold's quote, the pushback and the reply."""
    app, _ = fixture_app()

    async def go() -> dict[str, str]:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: settled(app), "the fixture world")
            table = app.query_one(JournalTable)
            seen: dict[str, str] = {}
            for index in range(table.row_count):
                table.move_cursor(row=index, animate=False)
                await pilot.pause()
                text = shown(app.query_one("#journal-detail", EvidencePane))
                for kind in ("canary_failed", "fold_under_pressure"):
                    if f'"kind": "{kind}"' in text:
                        seen[kind] = text
            return seen

    seen = asyncio.run(go())
    canary, fold = seen["canary_failed"], seen["fold_under_pressure"]
    assert "canary output (tail)" in canary and "TypeError: t.map is not a function" in canary
    assert "Welcome back" in canary
    assert "the pushback (user turn)" in fold and "No, your approach breaks the tab order" in fold
    assert "the reply (assistant turn)" in fold and "I'll revert my change" in fold


def detail_text(app: CockpitApp) -> str:
    console = Console(width=300, color_system=None, file=io.StringIO())
    console.print(app.screen.query_one("#agent-detail-body", Static).content)
    return console.file.getvalue()


def test_d_shows_the_agents_findings_with_their_evidence_and_follows_new_reports():
    """Seeds #11 and #5 in the agent's detail: the fold's two turns, the CLI, the fleet's canary; live."""
    app, _ = fixture_app()

    async def go() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: settled(app), "the fixture world")
            assert app.select_agent("reviewer")
            await pilot.pause()
            await pilot.press("d")
            await until(pilot, lambda: isinstance(app.screen, AgentDetailScreen), "the agent's detail")
            text = detail_text(app)
            assert "reviewer" in text and "needs_input" in text and "pid 48412" in text
            assert "fold_under_pressure" in text and "ambiguous_session" in text
            assert "No, your approach breaks the tab order. Use mine." in text  # the pushback, quoted
            assert "I'll revert my change." in text  # the reply, quoted
            assert "versions/2.1.197" in text and "promoted" in text  # its CLI and what verified it
            assert "canary_failed" in text and "TypeError: t.map is not a function" in text  # the fleet's
            assert "stale_route" not in text  # docs' finding is docs'

            # the next report no longer has the fold: the open detail follows it
            report = fixture_report(tick=200, new=False)
            app.post_message(ReportReady(replace(report, findings=tuple(
                f for f in report.findings if f.kind != "fold_under_pressure"))))
            await until(pilot, lambda: "fold_under_pressure" not in detail_text(app), "the detail refreshed")
            assert "ambiguous_session" in detail_text(app)
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, AgentDetailScreen), "the detail closed")

            # the palette opens any agent's detail by name
            await pilot.press("ctrl+p")
            await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
            await pilot.press(*"detail of docs")
            await pilot.pause(0.5)
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, AgentDetailScreen), "docs' detail")
            assert app.screen.agent == "docs" and "stale_route" in detail_text(app)

    asyncio.run(go())
