"""SVG screenshots of the TUI over the fixture world, for the README.

``python -m cockpit.tui.screenshots [OUTDIR]`` (default ``screenshots/``). The
snapshot tests render the very same scenes (``SCENES``): a screenshot that
changes is a snapshot that fails.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from textual.pilot import Pilot
from textual.screen import Screen

from cockpit.tui.app import CockpitApp, TuiSettings, create_app
from cockpit.tui.conversation import ConversationScreen
from cockpit.tui.fixture import JOURNAL, LAG_HISTORY, FixtureSupervisor, fixture_config
from cockpit.tui.screens import (AgentDetailScreen, ConfirmReap, ConfirmRepoint, ConfirmRespawn, HelpScreen,
                                 ReminderForm)
from cockpit.tui.tabs.agents import AgentTable
from cockpit.tui.tabs.journal import JournalTable
from cockpit.tui.widgets import PanePreview

SETTLE_TIMEOUT_S = 10.0


def frozen_clock() -> float:
    """The loop-lag probe's clock in pictures: it never moves, so the lag reads 0 ms."""
    return 0.0


@dataclass(frozen=True)
class Scene:
    name: str
    description: str
    size: tuple[int, int] = (120, 40)
    read_only: bool = False
    select: str | None = None
    keys: tuple[str, ...] = ()
    screen: type[Screen] | None = None  # the screen on top once the keys were pressed
    # False: the first tick's toast is dismissed before the keys, so the evidence under it shows and a
    # screen pushed on top is drawn the same whether or not the toast rack refreshed before the picture
    toasts: bool = True
    ready: Callable[[CockpitApp], bool] | None = None  # what the screen on top must show before the picture

    def app(self) -> CockpitApp:
        settings = TuiSettings(fixture_config(), read_only=self.read_only)
        return create_app(settings, supervisor=FixtureSupervisor(read_only=self.read_only), clock=frozen_clock)

    async def prepare(self, pilot: Pilot) -> None:
        """Wait for the fixture world to be on screen, then play the scene's keys."""
        app = pilot.app
        assert isinstance(app, CockpitApp)
        await until(pilot, lambda: settled(app), "the fixture world on screen")
        if self.select is not None:
            app.select_agent(self.select)
            await until(pilot, lambda: settled(app), f"{self.select} selected and previewed")
        if not self.toasts:
            app.clear_notifications()
        for key in self.keys:
            await pilot.press(key)
        if self.screen is not None:
            await until(pilot, lambda: isinstance(app.screen, self.screen), f"{self.screen.__name__} on top")
        if self.ready is not None:
            await until(pilot, lambda: self.ready(app), f"{self.name} ready")
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()


def settled(app: CockpitApp) -> bool:
    """The fixture's minute of ticks shown, journal loaded, lag measured, the selected pane's preview captured."""
    if app.report is None or app.lag_ms is None or app.report.tick < len(LAG_HISTORY):
        return False
    if app.query_one(JournalTable).row_count < len(JOURNAL) or not app.query_one(AgentTable).row_count:
        return False
    status = app.agent_status(app.selected_agent)
    if status is not None and status.pane is not None:
        preview = app.query_one(PanePreview)
        return preview.screen_text is not None and (app._preview_key or (None,))[0] == status.name
    return True


async def until(pilot: Pilot, predicate, what: str, timeout: float = SETTLE_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
        await pilot.pause(0.02)


SCENES: tuple[Scene, ...] = (
    Scene("main", "the fleet at 120x40: agents, preview of the selected pane, the journal with evidence"),
    Scene("help", "? lists every key as currently bound", keys=("question_mark",), screen=HelpScreen, toasts=False),
    Scene("confirm-respawn", "R names the agent and the exact command before acting", select="ghost",
          keys=("R",), screen=ConfirmRespawn, toasts=False),
    Scene("read-only", "--read-only: respawn is dimmed, and R says why instead of acting", read_only=True,
          keys=("R",), toasts=False),
    Scene("narrow-80x24", "80x24: the preview steps aside, nothing overflows", size=(80, 24)),
    Scene("sessions", "1, Sessions: each agent's routing record next to its disk truth; docs' evidence",
          select="docs", keys=("1",), toasts=False),
    Scene("confirm-repoint", "p shows both sides, record → disk with their last turns, before repointing",
          select="docs", keys=("p",), screen=ConfirmRepoint, toasts=False),
    Scene("zombies", "3, Zombies: every wrapper, its state and result; the selected one's tree and result line",
          keys=("3",), toasts=False),
    Scene("confirm-reap", "k in the Zombies tab names the wrapper, its pid and its result before reaping",
          keys=("3", "k"), screen=ConfirmReap, toasts=False),
    Scene("blocks", "2, Blocks: loop blocks newest first, the selected block's culprit and stack; the lag "
                    "sparkline in the header", keys=("2",), toasts=False),
    Scene("reminders", "4, Reminders: delivered (latency), missed (after its retries) and waiting (why); the "
                       "selected one's delivery evidence", keys=("4", "down"), toasts=False),
    Scene("agent-detail", "d: everything about reviewer with the evidence, its fold's two turns quoted, its CLI; "
                          "the fleet's failing canary below", select="reviewer", keys=("d",),
          screen=AgentDetailScreen, toasts=False),
    Scene("reminder-form", "n in the Reminders tab: agent, verb, due (in or at), text; validated inline",
          keys=("4", "n", "1", "0", "x", "enter"), screen=ReminderForm, toasts=False),
    Scene("conversation", "c: tabs' conversation, live: prompts, one line per tool call, Markdown replies",
          keys=("c",), screen=ConversationScreen, toasts=False,
          ready=lambda app: getattr(app.screen, "shown", 0) > 0),
)


def scene(name: str) -> Scene:
    return next(s for s in SCENES if s.name == name)


async def render_svg(scene: Scene) -> str:
    app = scene.app()
    async with app.run_test(size=scene.size, notifications=True) as pilot:
        await scene.prepare(pilot)
        return app.export_screenshot(title="cockpit")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) > 1 or (args and args[0].startswith("-")):
        print("usage: python -m cockpit.tui.screenshots [OUTDIR]", file=sys.stderr)
        return 2
    outdir = Path(args[0] if args else "screenshots")
    outdir.mkdir(parents=True, exist_ok=True)
    for item in SCENES:
        path = outdir / f"{item.name}.svg"
        path.write_text(asyncio.run(render_svg(item)), encoding="utf-8")
        print(f"{path}  {item.description}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
