"""Modal screens: the confirmations (respawn, repoint, reap) and the key help.

Each confirmation names exactly what will change before anything does: the agent and the
command (respawn), both sides of the routing record (repoint), the wrappers, their pids and
results (reap). The safe answer is the default wherever the act kills live work.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from cockpit import timefmt
from cockpit.config import Config
from cockpit.doctor import (DoctorInputError, DoctorProgress, DoctorResult, PromotionError, cli_of_agent,
                            nearby_candidates, promote_after_pass, run_doctor)

from cockpit.findings import Finding
from cockpit.observe.drift import version_hint
from cockpit.observe.sessions import RouteState, SessionTruth
from cockpit.observe.wrappers import WrapperView
from cockpit.reminders import Reminder, ReminderError, parse_at, parse_duration, validate_text
from cockpit.tui.render import SEVERITY_MARKS, SEVERITY_STYLES, when_text
from cockpit.tui.tabs.zombies import result_text
from cockpit.tui.widgets import KeyHelp


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


class ConfirmRemote(ConfirmDialog):
    """SPEC §9: an act on another host's agent, said with what that host last reported; it decides there, fresh."""

    def __init__(self, verb: str, agent: str, host: str, facts: Sequence[tuple[str, str]], *,
                 destructive: bool = False) -> None:
        super().__init__(id="confirm-remote")
        self.verb = verb
        self.agent = agent
        self.host = host
        self.facts = tuple(facts)
        self.safe_default = destructive

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog") as dialog:
            dialog.border_title = f"{self.verb.capitalize()} {self.agent}?"
            yield Label(Text.assemble((self.agent, "bold"), f" runs on {self.host}; its cockpit there will "
                                      f"{self.verb} it through its own verified path:"), id="confirm-what")
            table = Table.grid(padding=(0, 2))
            table.add_column(style="dim", no_wrap=True)
            table.add_column()
            for key, value in self.facts:
                table.add_row(key, value)
            yield Static(table, id="confirm-sides")
            yield Static(Text(f"Both journals record it: this cockpit's with {self.host}'s verified result, and "
                              f"{self.host}'s own.", style="dim"), id="confirm-note")
            with Horizontal(id="confirm-buttons"):
                yield Button(f"{self.verb.capitalize()} (y)", variant="error" if self.safe_default else "primary",
                             id="confirm-yes")
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
                since = (Text(f"{timefmt.age(view.result_age_s)} since result", style="dim")
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


class AgentDetailScreen(ModalScreen[None]):
    """``d``: everything about one agent with its evidence, refreshed with every report.

    ``render`` is called with the agent's name and returns what to show (the app builds it from
    its latest report); ``refresh_detail`` re-renders it, keeping the scroll position.
    """

    BINDINGS = [Binding("escape,d,q", "close", "Close", id="detail_close")]

    def __init__(self, agent: str, render: Callable[[str], Any]) -> None:
        super().__init__(id="agent-detail")
        self.agent = agent
        self._detail_of = render

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="agent-detail-dialog") as dialog:
            dialog.border_title = f"{self.agent}: detail"
            dialog.border_subtitle = "escape closes"
            yield Static(self._detail_of(self.agent), id="agent-detail-body")

    def on_mount(self) -> None:
        self.query_one("#agent-detail-dialog", VerticalScroll).focus()

    def refresh_detail(self) -> None:
        self.query_one("#agent-detail-body", Static).update(self._detail_of(self.agent))

    def action_close(self) -> None:
        self.dismiss(None)


# --- reminders (seed #6) --------------------------------------------------------------------------


@dataclass(frozen=True)
class ReminderRequest:
    """What the form asks the supervisor to schedule (validated: the due time is parsed)."""
    agent: str
    verb: str
    text: str
    due_at: float
    respawn_if_down: bool = False


class ReminderForm(ModalScreen["ReminderRequest | None"]):
    """n: add a reminder. Validated with the CLI's own parsers; an error is shown inline, never raised."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="reminder_cancel"),
        Binding("ctrl+s", "submit", "Schedule", id="reminder_submit"),
    ]

    def __init__(self, agents: Sequence[str], *, agent: str | None = None,
                 now: Callable[[], float] = time.time) -> None:
        super().__init__(id="reminder-form")
        self.agents = tuple(agents)
        self.agent = agent if agent in self.agents else (self.agents[0] if self.agents else None)
        self.now = now

    def compose(self) -> ComposeResult:
        with Vertical(id="reminder-dialog") as dialog:
            dialog.border_title = "New reminder"
            dialog.border_subtitle = "ctrl+s schedules · escape cancels"
            with Horizontal(classes="form-row"):
                yield Label("agent", classes="form-label")
                yield Select([(a, a) for a in self.agents], value=self.agent if self.agent else Select.NULL,
                             allow_blank=self.agent is None, id="reminder-agent")
            with Horizontal(classes="form-row"):
                yield Label("verb", classes="form-label")
                yield Select([("wake: type it into the agent's pane, verify a new turn", "wake"),
                              ("notice: tell the humans (journal, notice_command)", "notice")],
                             value="wake", allow_blank=False, id="reminder-verb")
            with Horizontal(classes="form-row"):
                yield Label("due", classes="form-label")
                yield Select([("in", "in"), ("at", "at")], value="in", allow_blank=False, id="reminder-when")
                yield Input(placeholder="10m, 1h30m, 2d (in) · 2026-11-24T10:00 (at)", id="reminder-due")
            with Horizontal(classes="form-row"):
                yield Label("text", classes="form-label")
                yield Input(placeholder="what the agent (or the humans) should read", id="reminder-text")
            yield Checkbox("respawn the agent first if it is down", id="reminder-respawn")
            yield Label("", id="reminder-error")
            with Horizontal(id="confirm-buttons"):
                yield Button("Schedule", variant="primary", id="reminder-ok")
                yield Button("Cancel", id="reminder-no")

    def on_mount(self) -> None:
        self.query_one("#reminder-due", Input).focus()

    def request(self) -> ReminderRequest:
        """The validated request; ReminderError (one line) when any field is wrong."""
        agent = self.query_one("#reminder-agent", Select).value
        if not isinstance(agent, str):
            raise ReminderError("agent: choose an agent")
        verb = str(self.query_one("#reminder-verb", Select).value)
        when = self.query_one("#reminder-when", Select).value
        due_text = self.query_one("#reminder-due", Input).value
        now = self.now()
        if when == "at":
            due_at = parse_at(due_text, now=now, arg="at")
        else:
            due_at = now + parse_duration(due_text, arg="in")
        text = validate_text(self.query_one("#reminder-text", Input).value.strip(), arg="text")
        return ReminderRequest(agent, verb, text, due_at, self.query_one("#reminder-respawn", Checkbox).value)

    def show_error(self, message: str | None) -> None:
        label = self.query_one("#reminder-error", Label)
        label.update(Text(message or "", style="bold red"))
        label.set_class(bool(message), "-error")

    @on(Input.Submitted)
    @on(Button.Pressed, "#reminder-ok")
    def action_submit(self) -> None:
        try:
            request = self.request()
        except ReminderError as exc:
            self.show_error(str(exc))
            return
        self.dismiss(request)

    @on(Input.Changed)
    def _edited(self) -> None:
        self.show_error(None)

    @on(Button.Pressed, "#reminder-no")
    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmCancelReminder(ConfirmDialog):
    """x: names the reminder (id, verb, agent, due, text) before it is cancelled."""

    def __init__(self, reminder: Reminder, *, now: float) -> None:
        super().__init__(id="confirm-cancel-reminder")
        self.reminder = reminder
        self.now = now

    def compose(self) -> ComposeResult:
        r = self.reminder
        with Vertical(id="confirm-dialog") as dialog:
            dialog.border_title = f"Cancel reminder {r.id}?"
            yield Label(Text.assemble("Cancel the ", (r.verb, "bold"), " reminder for ", (r.agent, "bold"),
                                      f" ({r.state}):"), id="confirm-what")
            table = Table.grid(padding=(0, 2))
            table.add_column(style="dim", no_wrap=True)
            table.add_column()
            table.add_row("due", when_text(r.due_at, self.now))
            table.add_row("text", Text(r.text))
            yield Static(table, id="confirm-sides")
            yield Static(Text("It is never fired afterwards; the journal records who cancelled it.", style="dim"),
                         id="confirm-note")
            with Horizontal(id="confirm-buttons"):
                yield Button("Cancel reminder (y)", variant="error", id="confirm-yes")
                yield Button("Keep it (n)", id="confirm-no")


# --- doctor (seed #1) -----------------------------------------------------------------------------


def doctor_progress_text(event: DoctorProgress) -> Text:
    out = Text.assemble((event.phase, "bold cyan"), f"  {event.elapsed_s:.1f}s / {event.boot_s:g}s  ",
                        (event.message, "dim"))
    if event.screen_tail:
        out.append("\n" + event.screen_tail.rstrip("\n"))
    return out


def doctor_verdict_text(result: DoctorResult) -> Text:
    out = Text.assemble(("PASS" if result.passed else "FAIL", "bold green" if result.passed else "bold red"),
                        f"  {result.reason}  ", result.summary)
    for problem in result.problems:
        out.append(f"\n  {problem}", style="red")
    for hit in result.hits:
        out.append(f"\n  /{hit.pattern}/: {hit.line}", style="red")
    if result.screen_file:
        out.append(f"\n  screen kept in {result.screen_file}", style="dim")
    if result.promotion is not None:
        p = result.promotion
        out.append(f"\npromoted: {p.link} -> {p.readlink} (was {p.old_target or 'nothing'}), "
                   f"{'verified' if p.verified else 'NOT verified'}", style="bold green" if p.verified else "bold red")
    return out


class DoctorScreen(ModalScreen[None]):
    """Check a candidate CLI for an agent: boot it in a throwaway pane, judge its screen, promote after a pass."""

    BINDINGS = [Binding("escape", "close", "Close", id="doctor_close")]

    def __init__(self, config: Config, *, agent: str | None = None, read_only: bool = False) -> None:
        super().__init__(id="doctor")
        self.config = config
        names = [a.name for a in config.agents]
        self.agent = agent if agent in names else (names[0] if names else None)
        self.read_only = read_only
        self.result: DoctorResult | None = None
        self.cli: dict[str, Any] = {}

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="doctor-dialog") as dialog:
            dialog.border_title = "Doctor: check a candidate CLI"
            dialog.border_subtitle = "escape closes"
            with Horizontal(classes="form-row"):
                yield Label("agent", classes="form-label")
                yield Select([(a.name, a.name) for a in self.config.agents],
                             value=self.agent if self.agent else Select.NULL, allow_blank=self.agent is None,
                             id="doctor-agent")
            yield Static(Text("…", style="dim"), id="doctor-cli")
            with Horizontal(classes="form-row"):
                yield Label("nearby", classes="form-label")
                yield Select([], prompt="candidates next to its CLI", id="doctor-candidates")
            with Horizontal(classes="form-row"):
                yield Label("candidate", classes="form-label")
                yield Input(placeholder="path of the candidate executable", id="doctor-candidate")
            with Horizontal(classes="form-row"):
                yield Label("link", classes="form-label")
                yield Input(placeholder="the symlink a pass may repoint", id="doctor-link")
            with Horizontal(id="doctor-buttons"):
                yield Button("Check", variant="primary", id="doctor-check")
                yield Button("Promote" + (" (read-only)" if self.read_only else ""), variant="warning",
                             id="doctor-promote", disabled=True)
                yield Button("Close", id="doctor-close")
            yield Static(Text("Pick a candidate and press Check: it boots with the production flags in a private "
                              "tmux pane; its screen is judged.", style="dim"), id="doctor-progress")
            yield Static("", id="doctor-verdict")
            yield Static("", id="doctor-screen")

    def on_mount(self) -> None:
        if self.agent is not None:
            self.load_cli(self.agent)

    @on(Select.Changed, "#doctor-agent")
    def _agent_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self.agent = event.value
            self.load_cli(event.value)

    @work(exclusive=True, group="doctor-cli", name="doctor cli")
    async def load_cli(self, name: str) -> None:
        agent = self.config.agent(name)
        cli = await asyncio.to_thread(cli_of_agent, agent)
        candidates = await asyncio.to_thread(nearby_candidates, cli.get("resolved"))
        self.cli = cli
        info = Text.assemble(("CLI ", "dim"), str(cli.get("link") or f"{cli.get('command')} (not found on PATH)"))
        if cli.get("resolved"):
            info.append(" -> ", style="dim")
            info.append(str(cli["resolved"]), style="bold")
        if cli.get("version"):
            info.append(f"  version {cli['version']}", style="cyan")
        self.query_one("#doctor-cli", Static).update(info)
        select = self.query_one("#doctor-candidates", Select)
        select.set_options([(os.path.basename(c) + "  " + c, c) for c in candidates])
        # another agent's CLI: nothing of the previous one's may stay to be checked or promoted
        self.query_one("#doctor-link", Input).value = str(cli.get("promote_link") or "")
        candidate = self.query_one("#doctor-candidate", Input)
        candidate.value = ""
        # the keyboard goes where the next step is: the newest nearby version is picked (Check is
        # focused: enter checks it; shift+tab picks another), or the path is to be typed. Only a
        # versioned file is picked: next to a CLI in /usr/bin, the first executable is no candidate.
        if candidates and version_hint(os.path.basename(candidates[0])):
            select.value = candidates[0]
        else:
            candidate.focus()

    @on(Select.Changed, "#doctor-candidates")
    def _candidate_picked(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self.query_one("#doctor-candidate", Input).value = event.value
            self.query_one("#doctor-check", Button).focus()  # enter checks it

    @on(Button.Pressed, "#doctor-check")
    def _check_pressed(self) -> None:
        candidate = self.query_one("#doctor-candidate", Input).value.strip()
        if not candidate:
            self._verdict(Text("choose or type a candidate first", style="bold red"))
            return
        self.result = None
        self.query_one("#doctor-promote", Button).disabled = True
        self.run_check(candidate)

    def _verdict(self, text: Text) -> None:
        self.query_one("#doctor-verdict", Static).update(text)

    def _progress(self, event: DoctorProgress) -> None:
        self.query_one("#doctor-progress", Static).update(doctor_progress_text(event))

    @work(exclusive=True, group="doctor", name="doctor check")
    async def run_check(self, candidate: str) -> None:
        self._verdict(Text("checking…", style="dim"))
        self.query_one("#doctor-screen", Static).update("")
        try:
            result = await run_doctor(candidate, self.config, progress=self._progress, read_only=self.read_only,
                                      actor="tui")
        except (DoctorInputError, PromotionError, OSError) as exc:
            self._verdict(Text(f"cannot check: {exc}", style="bold red"))
            return
        self.result = result
        self._verdict(doctor_verdict_text(result))
        self.query_one("#doctor-screen", Static).update(
            Group(Text("captured screen", style="bold underline"),
                  Text.from_ansi(result.screen.rstrip("\n") or "(empty)", no_wrap=True, overflow="crop")))
        promote = self.query_one("#doctor-promote", Button)
        promote.disabled = not result.passed
        if result.passed and not self.read_only:
            promote.focus()  # enter promotes it

    @on(Button.Pressed, "#doctor-promote")
    def _promote_pressed(self) -> None:
        result = self.result
        link = self.query_one("#doctor-link", Input).value.strip()
        if result is None or not result.passed:
            self._verdict(Text("only a passed candidate is promoted", style="bold red"))
            return
        if not link:
            self._verdict(Text("type the symlink to repoint first", style="bold red"))
            return
        self.run_promote(result, link)

    @work(exclusive=True, group="doctor", name="doctor promote")
    async def run_promote(self, result: DoctorResult, link: str) -> None:
        try:
            promoted = await promote_after_pass(result, link, self.config, actor="tui", read_only=self.read_only)
        except (PromotionError, DoctorInputError, OSError) as exc:
            title = "read-only" if self.read_only else "promote refused"
            self._verdict(Text.assemble(doctor_verdict_text(result), (f"\npromote refused: {exc}", "bold red")))
            self.app.notify(str(exc), title=title, severity="warning", markup=False)
            return
        self.result = promoted
        self._verdict(doctor_verdict_text(promoted))
        self.query_one("#doctor-promote", Button).disabled = True
        self.app.notify(f"{link} -> {promoted.promotion.readlink if promoted.promotion else '?'}",
                        title="promoted", markup=False)

    @on(Button.Pressed, "#doctor-close")
    def action_close(self) -> None:
        self.dismiss(None)
