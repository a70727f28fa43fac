"""SPEC §11 in the TUI: `c` opens the selected agent's conversation, live; `s` sends it a line, toasted.

The conversation follows a real transcript file the simulator's session writer appends to (Claude
Code's format); the send goes through the supervisor (the fixture's here; the real path is
tests/test_send.py) and is refused read-only with the reason.
"""

from __future__ import annotations

import asyncio
import io
import uuid
from pathlib import Path

from rich.console import Console
from textual.widgets import Input, Static

from cockpit.observe.conversation import ConversationTail
from cockpit.sim.agent import SimSession
from cockpit.tui.actions import ACTIONS, Target
from cockpit.tui.conversation import ConversationScreen, SendForm
from cockpit.tui.screenshots import until
from tests.test_tui_pilot import fixture_app, record_notifications


def shown_text(screen: ConversationScreen) -> list[str]:
    """Each entry as the operator reads it (Markdown rendered)."""
    out = []
    for widget in screen.query("#conversation-log Static"):
        console = Console(width=100, record=True, file=io.StringIO())
        console.print(widget.content)
        out.append(" ".join(console.export_text().split()))
    return out


def test_the_conversation_view_follows_new_records_as_the_agent_writes(tmp_path: Path):
    sess = SimSession(tmp_path / "claude", str(tmp_path), str(uuid.uuid4()), entrypoint="cli", name=None,
                      write_status=False, model="claude-sim")
    app, supervisor = fixture_app()
    supervisor.conversation = lambda name: ConversationTail(sess.transcript)  # type: ignore[method-assign]

    def status() -> str:
        return str(app.screen.query_one("#conversation-status", Static).render())

    async def go() -> tuple[list[str], list[str], str]:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.report is not None and app.selected_agent == "tabs", "the first report")
            await pilot.press("c")
            await until(pilot, lambda: isinstance(app.screen, ConversationScreen) and "no transcript at" in status(),
                        "no transcript yet")  # the session's file is written at its first turn
            sess.user("why does test_checkout fail?")
            sess.assistant([{"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "pytest -q"}}])
            sess.assistant([{"type": "text", "text": "It rounds **each line**."}])
            await until(pilot, lambda: len(shown_text(app.screen)) == 3, "the first turn")
            before = shown_text(app.screen)
            sess.user("and the invoice?")
            sess.assistant([{"type": "text", "text": "Same bug in `invoice.py`."}])
            await until(pilot, lambda: len(shown_text(app.screen)) == 5, "the new records", timeout=5)
            after = shown_text(app.screen)
            shown_status = status()
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, ConversationScreen), "closed")
            return before, after, shown_status

    before, after, status = asyncio.run(go())
    assert before[0] == "› why does test_checkout fail?" and "Bash" in before[1] and "pytest -q" in before[1]
    assert "It rounds each line." in before[2]  # rendered as Markdown: no asterisks
    assert after[3] == "› and the invoice?" and "Same bug in invoice.py." in after[4]
    assert str(sess.transcript) in status and "5 entries" in status


def test_s_sends_a_line_and_toasts_the_verified_result_or_the_refusal():
    app, supervisor = fixture_app()
    notes = record_notifications(app)

    async def go() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.report is not None and app.selected_agent == "tabs", "the first report")
            await pilot.press("s")
            await until(pilot, lambda: isinstance(app.screen, SendForm), "the send line")
            await pilot.press("enter")  # blank: said inline, nothing sent
            assert "nothing to send" in str(app.screen.query_one("#send-error", Static).render())
            app.screen.query_one("#send-input", Input).value = "run `make test`; then $(stop)"
            await pilot.press("enter")
            await until(pilot, lambda: any(n["title"].startswith("send tabs") for n in notes), "the toast")

    asyncio.run(go())
    assert supervisor.sent == [("tabs", "run `make test`; then $(stop)")]
    [toast] = [n for n in notes if n["title"].startswith("send tabs")]
    assert toast["title"] == "send tabs: verified" and "verified by its transcript" in toast["message"]

    # read-only: refused before the line is asked for (the footer dims s; the action layer refuses too,
    # tests/test_send.py), with the reason
    app, supervisor = fixture_app(read_only=True)
    reason = app.why_not(ACTIONS["send"], Target(agent="tabs"))
    assert reason is not None and "read-only" in reason
    assert app.why_not(ACTIONS["send"], Target(agent=None)) is not None
