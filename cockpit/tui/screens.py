"""Modal screens: the confirmations (respawn, repoint, reap) and the key help.

Each confirmation names exactly what will change before anything does: the agent and the
command (respawn), both sides of the routing record (repoint), the wrappers, their pids and
results (reap). The safe answer is the default wherever the act kills live work.
"""

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

from cockpit.findings import Finding
from cockpit.observe.sessions import RouteState, SessionTruth
from cockpit.observe.wrappers import WrapperView
from cockpit.tui.widgets import (
    SEVERITY_MARKS,
    SEVERITY_STYLES,
    KeyHelp,
    when_text,
    result_text,
    short_age,
)


class ConfirmDialog(ModalScreen[bool]):
    """y/enter on the focused button answers; n or escape cancels. Subclasses compose the body."""

    BINDINGS = [
        Binding("y", "confirm", "Yes", id="confirm_yes"),
        Binding("n,escape", "cancel", "Cancel", id="confirm_no"),
    ]
    safe_default = False  # focus Cancel first (the act kills live work)

    def on_mount(self) -> None:
        self.query_one("#confirm-no" if self.safe_default else "#confirm-yes", Button).focus()

    @on(Button.Pressed, "#confirm-yes")
    def action_confirm(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#confirm-no")
    def action_cancel(self) -> None:
        self.dismiss(False)


class ConfirmRespawn(ConfirmDialog):
    """Names the agent and the exact command before anything is started or killed."""

    def __init__(self, agent: str, argv: Sequence[str], *, cwd: str, state: str, live: bool) -> None:
        super().__init__(id="confirm-respawn")
        self.agent = agent
        self.argv = tuple(argv)
        self.cwd = cwd
        self.state = state
        self.live = live
        self.safe_default = live  # a live agent is killed by a respawn: the safe answer is the default there

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


class ConfirmRepoint(ConfirmDialog):
    """Seed #3: both sides, record → disk, with their last turns, before the record is rewritten."""

    def __init__(self, agent: str, truth: SessionTruth | None, route: RouteState | None, *,
                 findings: Sequence[Finding] = (), now: float, routes_file: str | None = None) -> None:
        super().__init__(id="confirm-repoint")
        self.agent = agent
        self.record = route.session_id if route is not None else None
        self.disk = truth.disk_session if truth is not None else None
        self.truth = truth
        self.route = route
        self.findings = tuple(findings)
        self.now = now
        self.routes_file = routes_file

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog") as dialog:
            dialog.border_title = f"Repoint {self.agent}?"
            what = Text.assemble(("The routing record of ", ""), (self.agent, "bold"))
            if self.findings:
                what.append(" disagrees with the disk: ")
                for i, finding in enumerate(self.findings):
                    what.append(("" if i == 0 else ", ") + f"{SEVERITY_MARKS[finding.severity]} {finding.kind}",
                                style=SEVERITY_STYLES[finding.severity])
            else:
                what.append(" is rewritten to the disk truth:")
            yield Label(what, id="confirm-what")
            table = Table.grid(padding=(0, 2))
            table.add_column(style="dim", no_wrap=True)
            table.add_column()
            route_turn = self.route.last_turn_at if self.route is not None else None
            table.add_row("record", Text(self.record or "no entry for this agent",
                                         style="bold red" if self.record else "dim"))
            table.add_row("", Text.assemble(("last turn ", "dim"), when_text(route_turn, self.now)))
            table.add_row("", Text("↓ becomes", style="bold"))
            source = f"  ({self.truth.source})" if self.truth is not None and self.truth.source else ""
            table.add_row("disk", Text.assemble((self.disk or "unknown", "bold green" if self.disk else "dim"),
                                                (source, "cyan")))
            table.add_row("", Text.assemble(("last turn ", "dim"), when_text(
                self.truth.last_turn_at if self.truth is not None else None, self.now)))
            yield Static(table, id="confirm-sides")
            where = f" in {self.routes_file}" if self.routes_file else ""
            yield Static(Text(f"cockpit recomputes the disk truth first, rewrites only this entry{where} under its "
                              f"lock, atomically, and re-reads it; the journal records before and after.",
                              style="dim"), id="confirm-note")
            with Horizontal(id="confirm-buttons"):
                yield Button("Repoint (y)", variant="primary", id="confirm-yes")
                yield Button("Cancel (n)", id="confirm-no")


class ConfirmReap(ConfirmDialog):
    """Seed #9: the wrappers, their pids and results, before any process is signalled."""

    def __init__(self, wrappers: Sequence[WrapperView], *, agent: str | None = None, stop_wait_s: float = 10.0) -> None:
        super().__init__(id="confirm-reap")
        self.wrappers = tuple(wrappers)
        self.agent = agent
        self.stop_wait_s = stop_wait_s
        # reaping a wrapper that has not written its result kills live work: ask with the safe default
        self.safe_default = any(w.state != "zombie" for w in self.wrappers)

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog") as dialog:
            many = len(self.wrappers) > 1
            of = f" of {self.agent}" if self.agent else ""
            dialog.border_title = (f"Reap {len(self.wrappers)} wrappers{of}?" if many
                                   else f"Reap {self.wrappers[0].name}?")
            yield Label(Text.assemble("TERM ", ("each process group" if many else "its process group", "bold"),
                                      f", wait up to {self.stop_wait_s:g}s, then KILL what is left:"),
                        id="confirm-what")
            table = Table.grid(padding=(0, 2))
            for _ in range(5):
                table.add_column(no_wrap=True)
            for view in self.wrappers:
                state = Text(view.state, style="bold yellow" if view.state == "zombie" else "bold red")
                if view.zombie_reason:
                    state.append(f" ({view.zombie_reason.replace('_', ' ')})", style="yellow")
                since = (Text(f"{short_age(view.result_age_s)} since result", style="dim")
                         if view.result_age_s is not None else Text("no result yet", style="dim"))
                table.add_row(Text(view.name, style="bold"), Text(f"pid {view.pid}"), state, result_text(view.result),
                              since)
            yield Static(table, id="confirm-sides")
            running = [w.name for w in self.wrappers if w.state != "zombie"]
            if running:
                yield Label(Text(f"{', '.join(running)} {'is' if len(running) == 1 else 'are'} not a zombie: "
                                 f"reaping kills work that may still be running.", style="bold red"),
                            id="confirm-warning")
            yield Static(Text("Only a process whose pid and start time match the record is signalled; each gone "
                              "wrapper gets its registry exit row and a journal row.", style="dim"), id="confirm-note")
            with Horizontal(id="confirm-buttons"):
                yield Button("Reap (y)", variant="error", id="confirm-yes")
                yield Button("Cancel (n)", id="confirm-no")


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
        # one line per key, cut at the edge: on a phone-sized terminal every key still shows, tooltips shortened
        table.add_column("key", style="bold", no_wrap=True, min_width=max((len(r.key) for r in rows), default=1))
        table.add_column("what", no_wrap=True, overflow="ellipsis")
        for row in rows:
            what = Text(row.description)
            if not row.enabled:
                what.append("  (unavailable now)", style="italic")
            if row.tooltip:
                what.append(f" — {row.tooltip}", style="dim")
            table.add_row(Text(row.key, style="bold" if row.enabled else "dim"), what)
        return table

    def action_close(self) -> None:
        self.dismiss(None)
