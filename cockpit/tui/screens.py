"""Modal screens: the respawn confirmation and the key help."""

from __future__ import annotations

import shlex
from typing import Sequence

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from cockpit.tui.widgets import KeyHelp


class ConfirmRespawn(ModalScreen[bool]):
    """Names the agent and the exact command before anything is started or killed."""

    BINDINGS = [
        Binding("y", "confirm", "Respawn", id="confirm_yes"),
        Binding("n,escape", "cancel", "Cancel", id="confirm_no"),
    ]

    def __init__(self, agent: str, argv: Sequence[str], *, cwd: str, state: str, live: bool) -> None:
        super().__init__(id="confirm-respawn")
        self.agent = agent
        self.argv = tuple(argv)
        self.cwd = cwd
        self.state = state
        self.live = live

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog") as dialog:
            dialog.border_title = f"Respawn {self.agent}?"
            if self.live:
                what = Text.assemble((self.agent, "bold"), f" is {self.state}: respawning ",
                                     ("kills it", "bold red"), " and starts it again, verified:")
            else:
                what = Text.assemble((self.agent, "bold"), f" is {self.state}: cockpit starts it again, verified:")
            yield Label(what, id="confirm-what")
            yield Static(Text(shlex.join(self.argv), style="bold"), id="confirm-argv")
            yield Label(Text.assemble(("in ", "dim"), self.cwd), id="confirm-cwd")
            yield Label(Text("The journal records the result: window, process, uptime and port checks.", style="dim"),
                        id="confirm-note")
            with Horizontal(id="confirm-buttons"):
                yield Button("Respawn (y)", variant="error" if self.live else "primary", id="confirm-yes")
                yield Button("Cancel (n)", id="confirm-no")

    def on_mount(self) -> None:
        # A live agent is killed by a respawn: the safe answer is the default there.
        self.query_one("#confirm-no" if self.live else "#confirm-yes", Button).focus()

    @on(Button.Pressed, "#confirm-yes")
    def action_confirm(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#confirm-no")
    def action_cancel(self) -> None:
        self.dismiss(False)


class HelpScreen(ModalScreen[None]):
    """Every key, read from the live bindings (so remapped keys show as remapped)."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close", id="help_close")]

    def __init__(self, keys: Sequence[KeyHelp], navigation: Sequence[KeyHelp]) -> None:
        super().__init__(id="help")
        self.keys = tuple(keys)
        self.navigation = tuple(navigation)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog") as dialog:
            dialog.border_title = "Keys"
            dialog.border_subtitle = "escape to close"
            yield Static(self._table(self.keys), id="help-keys")
            yield Static(self._table(self.navigation, title="In tables and dialogs"), id="help-navigation")

    @staticmethod
    def _table(rows: Sequence[KeyHelp], title: str | None = None) -> Table:
        table = Table(box=None, show_header=False, padding=(0, 2, 0, 0), title=title, title_justify="left",
                      title_style="bold")
        table.add_column("key", style="bold", no_wrap=True)
        table.add_column("what")
        for row in rows:
            what = Text(row.description)
            if row.tooltip:
                what.append(f" — {row.tooltip}", style="dim")
            if not row.enabled:
                what.append("  (unavailable now)", style="italic")
            table.add_row(Text(row.key, style="bold" if row.enabled else "dim"), what)
        return table

    def action_close(self) -> None:
        self.dismiss(None)
