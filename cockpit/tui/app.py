"""The cockpit TUI: one screen over the embedded supervisor.

Built by one factory, ``create_app(settings)``, that the CLI, the tests and the
screenshot code share (like Posting). The supervisor runs inside the app as
workers: an exclusive async tick loop (``Supervisor.run``: one tick at a time, a
late tick is skipped, never queued) whose reports come back as small dataclass
messages, and a thread worker that tails the journal. The UI only renders what
the supervisor reported and turns keys into the supervisor's own actions; it
holds no logic ``cockpit check``/``respawn`` would need.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import os
import shlex
import threading
import time
import traceback
from collections import deque
from functools import partial
from importlib.resources import files
from typing import Any, Callable, Iterable, Protocol

from dataclasses import dataclass
from textual import on, work
from textual.app import App, ComposeResult, ScreenStackError, SuspendNotSupported
from textual.binding import Binding
from textual.containers import Container
from textual.css.query import NoMatches
from textual.widgets import DataTable, Footer, Input, TabbedContent
from textual.worker import get_current_worker

from cockpit.act.actions import ActionResult, ReadOnlyError
from cockpit.config import Config
from cockpit.findings import Severity
from cockpit.judge.agents import AgentStatus
from cockpit.observe.loopwatch import tracked
from cockpit.observe.wrappers import WrapperView
from cockpit.reminders import Reminder, ReminderError
from cockpit.supervisor import Report, Supervisor
from cockpit.tmux import TmuxError
from cockpit.tui.actions import ACTION_LIST, ACTIONS, OVERS, Action, Target, bindings, palette_items, toast_result
from cockpit.tui.attach import attach_plan
from cockpit.tui.commands import AgentCommands, PaletteCommand
from cockpit.tui.conversation import ConversationScreen
from cockpit.tui.messages import ActionDone, JournalRows, PaneCaptured, ReportReady, TickFailed
from cockpit.tui.render import shown_status
from cockpit.tui.screens import AgentDetailScreen, DoctorScreen, HelpScreen
from cockpit.tui.tabs import TABS, JournalTab, SessionsTab, TabView
from cockpit.tui.tabs.journal import JOURNAL_MAX_ROWS
from cockpit.tui.tabs.agents import AgentTable, RowCells, agent_detail, agent_matches, worst_by_agent
from cockpit.tui.widgets import FilterBar, FleetHeader, HeaderState, KeyHelp, PanePreview

STYLESHEET = files("cockpit") / "styles" / "cockpit.tcss"
LAG_INTERVAL_S = 0.1        # the loop-lag probe: a timer that should wake every 100 ms
LAG_WINDOW = 20             # the header shows the worst lag of the last 2 s
JOURNAL_POLL_S = 1.0        # the journal is also written by other cockpits and the CLI
MAX_SEPARATE_TOASTS = 3     # more new critical findings than this in one tick: one summary toast
TOAST_REPEAT_S = 300.0      # a finding that comes back (a spawn that fails every few seconds) toasts once per this
LAG_HISTORY_TICKS = 60      # the header's sparkline: the supervisor's loop lag over the last 60 ticks
DEMO_BLOCK_SCOPE = "demo:block-the-loop"
DEMO_BLOCK_S = 0.6          # the demo's deliberate stall: over loop_block_ms, so the sentinel records it
ACTION_ERRORS = (LookupError, ReminderError, OSError)  # a target gone meanwhile, a bad reminder, a file error


class SupervisorLike(Protocol):
    """What the TUI uses of ``cockpit.supervisor.Supervisor`` (the fixture world implements the same)."""
    config: Config
    read_only: bool
    tmux: Any        # .capture(pane_id, history=, escapes=), .run(*args)
    journal: Any     # .tail() -> reader with .read_new() -> ReadResult, .close()
    actions: Any     # .read_only

    @property
    def leader(self) -> bool: ...
    async def start(self) -> None: ...
    async def run(self, stop: asyncio.Event, on_report: Callable[[Report], Any] | None = None) -> None: ...
    async def respawn(self, name: str, *, force: bool = False) -> ActionResult: ...
    async def repoint(self, name: str) -> ActionResult: ...
    async def reap(self, target: str) -> list[Any]: ...   # list[ReapResult]; LookupError: names nothing
    async def send(self, name: str, text: str) -> Any: ...  # SendResult: typed, verified like a wake
    def conversation(self, name: str) -> Any: ...          # the reader of its current transcript, or None
    async def close(self) -> None: ...
    def resume_for(self, agent: Any) -> str | None: ...


@dataclass(frozen=True)
class TuiSettings:
    """Everything the CLI decides about the TUI."""
    config: Config
    read_only: bool = False
    demo: bool = False
    title: str = "cockpit"


def create_app(settings: TuiSettings, *, supervisor: SupervisorLike | None = None,
               clock: Callable[[], float] | None = None) -> CockpitApp:
    """The one way in: the CLI, the tests and the screenshots all build the app here.

    ``supervisor`` defaults to the real one on ``settings.config`` (the app closes it on quit);
    tests and screenshots pass the deterministic fixture world. ``clock`` (monotonic seconds)
    drives the loop-lag probe; snapshots freeze it.
    """
    if supervisor is None:
        supervisor = Supervisor(settings.config, read_only=settings.read_only, actor="tui")
    return CockpitApp(settings, supervisor, clock=clock or time.monotonic)


class CockpitApp(App[int]):
    """One screen: fleet header, agents table, pane preview, and the tabs (``cockpit.tui.tabs``); keys
    turn into the supervisor's actions (``cockpit.tui.actions``: respawn, repoint, reap, attach...)."""

    CSS_PATH = [str(STYLESHEET)]
    TITLE = "cockpit"
    COMMANDS = App.COMMANDS | {AgentCommands}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]
    NOTIFICATION_TIMEOUT = 6

    BINDINGS = bindings()

    def __init__(self, settings: TuiSettings, supervisor: SupervisorLike, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.settings = settings
        self.supervisor = supervisor
        self.title = settings.title
        self.report: Report | None = None
        self.lag_ms: float | None = None
        self._clock = clock
        self._worst: dict[str, Any] = {}
        self._row_cells = RowCells()  # unchanged rows are not rebuilt (another host's, between its reports)
        self._filter = ""
        self._preview_key: tuple[Any, ...] | None = None
        self._stop = asyncio.Event()
        self._journal_wake = threading.Event()
        self._lag_samples: deque[float] = deque(maxlen=LAG_WINDOW)
        self._lag_last: float | None = None
        self._closed = False
        self._availability: tuple[bool | None, ...] = ()
        self._tick_error: str | None = None
        self._toasted: dict[tuple[str, str | None, str | None], float] = {}  # finding key -> when last toasted
        self._journal_error: str | None = None
        self._lag_history: deque[float] = deque(maxlen=LAG_HISTORY_TICKS)
        self._tab_labels: dict[str, str] = {}
        self._gc_frozen = False
        if settings.config.keys:
            self.set_keymap(dict(settings.config.keys))

    # --- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield FleetHeader(id="fleet-header")
        yield FilterBar(placeholder="filter agents: name, kind, state or finding (escape clears)", id="filter")
        yield AgentTable(names=[a.name for a in self.settings.config.agents],
                         hosts=[h.name for h in self.settings.config.hosts], id="agents")
        with Container(id="lower"):
            yield PanePreview(id="preview")
            with TabbedContent(id="tabs", initial=JournalTab.pane_id()):
                for tab in TABS:
                    yield tab(self.settings.config)
        yield Footer(show_command_palette=False)

    def on_resize(self, event: Any) -> None:
        # Narrow terminals: the footer drops its padding so every key still fits (q Quit included).
        self.query_one(Footer).compact = event.size.width < 100

    def on_mount(self) -> None:
        self.query_one(AgentTable).focus()
        self.query_one(AgentTable).border_title = "agents"
        self.query_one(PanePreview).border_title = "preview"
        self._render_header()
        self.set_interval(LAG_INTERVAL_S, self._sample_lag, name="loop-lag probe")
        self.run_supervisor()
        self.read_journal()

    # --- state ----------------------------------------------------------------------------

    @property
    def read_only(self) -> bool:
        """Read-only when asked or when the action layer below says so (it refuses either way)."""
        actions = getattr(self.supervisor, "actions", None)
        return bool(self.settings.read_only or getattr(self.supervisor, "read_only", False)
                    or getattr(actions, "read_only", False))

    @property
    def selected_agent(self) -> str | None:
        try:
            return self.query_one(AgentTable).selected_agent
        except NoMatches:  # not composed yet, or shutting down
            return None

    def agent_status(self, name: str | None) -> AgentStatus | None:
        if name is None or self.report is None:
            return None
        return next((a for a in self.report.agents if a.name == name), None)

    def agent_names(self) -> list[str]:
        if self.report is not None:
            return [a.name for a in self.report.agents]
        return [a.name for a in self.supervisor.config.agents]

    def tab(self, name: str) -> Any:
        """The tab called ``name`` (``TabView.NAME``: "sessions", "zombies"...)."""
        return self.query_one(f"#{name}-tab", TabView)

    def tab_shown(self, name: str) -> bool:
        """``name`` is the tab on screen (and no dialog is over it)."""
        try:
            return self.query_one(TabbedContent).active == f"{name}-tab" and len(self.screen_stack) == 1
        except NoMatches:
            return False

    @property
    def wrappers(self) -> dict[str, WrapperView]:
        """The last report's wrappers by id (pid:start)."""
        return self._tab_rows("zombies", "wrappers")

    @property
    def reminders(self) -> dict[str, Reminder]:
        """The last report's reminders by id."""
        return self._tab_rows("reminders", "reminders")

    def _tab_rows(self, tab: str, rows: str) -> dict[str, Any]:
        try:
            return getattr(self.tab(tab), rows)
        except NoMatches:  # the app is not composed yet, or is gone
            return {}

    def zombies_focused(self) -> bool:
        """The keys are in the Zombies tab (k then means the wrapper selected there)."""
        try:
            focused = self.focused
            pane = self.tab("zombies")
        except (NoMatches, ScreenStackError):  # not composed yet, or shutting down
            return False
        if focused is None:
            return False
        return focused is pane or pane in focused.ancestors

    def wall_clock(self) -> Callable[[], float]:
        reminders = getattr(self.supervisor, "reminders", None)
        return getattr(reminders, "clock", None) or time.time

    # --- workers --------------------------------------------------------------------------

    @work(exclusive=True, group="supervisor", name="tick loop")
    async def run_supervisor(self) -> None:
        """Tick every tick_s through ``Supervisor.run`` (one at a time; a late tick is skipped)."""
        period = self.supervisor.config.supervisor.tick_s
        while not self._stop.is_set():
            try:
                await self.supervisor.run(self._stop, on_report=self._post_report)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one failing tick must not take the cockpit down: say it, go on
                self.log.error(traceback.format_exc())
                self.post_message(TickFailed(f"{type(exc).__name__}: {exc}"))
                try:
                    await asyncio.wait_for(self._stop.wait(), timeout=period)
                except asyncio.TimeoutError:
                    pass

    def _post_report(self, report: Report) -> None:
        self.post_message(ReportReady(report))

    @work(thread=True, exclusive=True, group="journal", name="journal reader")
    def read_journal(self) -> None:
        """Tail the journal in a thread (file reads never run on the event loop)."""
        worker = get_current_worker()
        tail = self.supervisor.journal.tail()
        try:
            while not worker.is_cancelled and not self._closed:
                try:
                    result = tail.read_new()
                except OSError as exc:
                    self.post_message(JournalRows(error=f"cannot read the journal: {exc}"))
                else:
                    if result.rows or result.reset or result.bad_lines:
                        self.post_message(JournalRows(rows=result.rows[-JOURNAL_MAX_ROWS:],
                                                      bad_lines=result.bad_lines, reset=result.reset))
                self._journal_wake.wait(timeout=JOURNAL_POLL_S)
                self._journal_wake.clear()
        finally:
            tail.close()

    @work(exclusive=True, group="preview", name="pane capture")
    async def capture_pane(self, agent: str, pane: str) -> None:
        """Capture the selected pane through the supervisor's one tmux client."""
        try:
            screen = await self.supervisor.tmux.capture(pane, escapes=True)
        except TmuxError as exc:
            self.post_message(PaneCaptured(agent, pane, None, error=str(exc)))
            return
        self.post_message(PaneCaptured(agent, pane, screen))

    # --- supervisor messages --------------------------------------------------------------

    def _main_up(self) -> bool:
        """The main screen is up: not composing, not being torn down at exit (Textual stops running first, then
        removes the widgets while the app still handles the messages its workers posted)."""
        return self.is_running and any(screen.query(AgentTable) for screen in self.screen_stack)

    def on_report_ready(self, message: ReportReady) -> None:
        if not self._main_up():
            return  # an event's report waits for none
        report = message.report
        if self.report is None:
            self.call_after_refresh(self._freeze_startup_heap)
        self.report = report
        self._tick_error = None
        self._worst = worst_by_agent(report.findings, report.agents)
        self._lag_history.append(report.loop_lag_ms)
        for tab in self.query(TabView):
            tab.update(report)
        self._show_agents()
        self._render_header()
        self._toast_new_findings(report)
        self._toast_notices(report)
        self._update_preview()
        self._show_tab_labels()
        self._show_tab(self.query_one(TabbedContent).active)
        if isinstance(self.screen, AgentDetailScreen):
            self.screen.refresh_detail()
        self._journal_wake.set()  # the tick may have journaled findings
        self._refresh_availability()

    def _freeze_startup_heap(self) -> None:
        """Keep the startup heap (Textual, styles, widgets) out of full GC passes.

        A gen-2 collection over it stalled the loop 100+ ms every few seconds (seed #7: the
        loop must not block); objects made later are still collected. Undone on unmount.
        """
        if not self._gc_frozen:
            gc.freeze()
            self._gc_frozen = True

    def on_tick_failed(self, message: TickFailed) -> None:
        if message.error != self._tick_error:  # a fault that persists is toasted once, not every tick
            self._tick_error = message.error
            self.notify(message.error, title="tick failed", severity="error", markup=False)

    def _toast_new_findings(self, report: Report) -> None:
        """Each new critical finding is toasted; one that keeps coming back (deaf failing every spawn)
        toasts again only after ``TOAST_REPEAT_S``: it stays in the table and the journal meanwhile."""
        now = self._clock()
        self._toasted = {key: at for key, at in self._toasted.items() if now - at < TOAST_REPEAT_S}
        critical = [f for f in report.new_findings if f.severity is Severity.CRITICAL and f.key not in self._toasted]
        for finding in critical:
            self._toasted[finding.key] = now
        if len(critical) > MAX_SEPARATE_TOASTS:
            names = ", ".join(f"{f.kind} {f.agent or ''}".strip() for f in critical)
            self.notify(f"{len(critical)} new critical findings: {names}", title="critical",
                        severity="error", timeout=10, markup=False)
            return
        for finding in critical:
            self.notify(finding.summary, title=finding.kind.replace("_", " "), severity="error", timeout=10,
                        markup=False)

    def _toast_notices(self, report: Report) -> None:
        """Seed #6: a notice reminder is told to the humans: each delivered notice is toasted once."""
        for notice in report.notices:
            self.notify(notice.text, title=f"notice for {notice.agent} ({notice.id})", timeout=10, markup=False)

    def _show_agents(self) -> None:
        if self.report is None:
            return
        table = self.query_one(AgentTable)
        shown = [a for a in self.report.agents if agent_matches(a, self._worst.get(a.name), self._filter)]
        rows = self._row_cells.rows(shown, self._worst, self.report.at, table.COLUMNS)
        with self.batch_update():
            table.show_rows(rows)
        table.border_subtitle = f"filter: {self._filter}" if self._filter else ""

    def _render_header(self) -> None:
        headers = self.query(FleetHeader)  # none while the main screen is torn down at exit (the lag probe may fire)
        if not headers:
            return
        headers.first().state = HeaderState(
            title=self.settings.title, report=self.report, lag_ms=self.lag_ms, read_only=self.read_only,
            demo=self.settings.demo, lag_history=tuple(self._lag_history))

    # --- tabs -----------------------------------------------------------------------------

    def _show_tab_labels(self) -> None:
        """Each tab says how much it holds that needs an eye: session findings, zombies, blocks, open reminders."""
        if self.report is None:
            return
        tabs = self.query_one(TabbedContent)
        for tab in self.query(TabView):
            count = tab.badge()
            label = tab.LABEL + (f" {count}" if count else "")
            if self._tab_labels.get(tab.id, tab.LABEL) != label:
                self._tab_labels[tab.id] = label
                tabs.get_tab(tab).label = label

    def _show_tab(self, pane: str | None) -> None:
        """Bring a tab up to date (diffed). Hidden tabs wait until shown: a tick costs what is on screen."""
        if pane is None or self.report is None:
            return
        tab = self.query_one(f"#{pane}", TabView)
        tab.follow(self.selected_agent)
        tab.show()

    @on(TabbedContent.TabActivated, "#tabs")
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._show_tab(event.pane.id)
        self._refresh_availability()

    @on(SessionsTab.AgentPicked)
    def _agent_picked(self, event: SessionsTab.AgentPicked) -> None:
        self.query_one(AgentTable).select_agent(event.agent)  # one selected agent: p, R and the preview follow

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id != "agents":
            self._refresh_availability()  # k, x: the wrapper or reminder selected in a tab

    def _sample_lag(self) -> None:
        """The event loop's lag: how late this 100 ms timer woke (worst of the last 2 s)."""
        now = self._clock()
        if self._lag_last is not None:
            self._lag_samples.append(max(0.0, now - self._lag_last - LAG_INTERVAL_S))
        self._lag_last = now
        if not self._lag_samples:
            return
        lag_ms = round(max(self._lag_samples) * 1000.0)
        if lag_ms != self.lag_ms:
            self.lag_ms = lag_ms
            self._render_header()

    # --- preview --------------------------------------------------------------------------

    @on(DataTable.RowHighlighted, "#agents")
    def _agent_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._update_preview()
        self._refresh_availability()
        self.tab("sessions").follow(self.selected_agent)

    def on_descendant_focus(self) -> None:
        self._refresh_availability()  # k means the selected wrapper in the Zombies tab, the agent's zombies elsewhere


    def _pane_mark(self, pane: str) -> Any:
        """What changes when the pane's screen changes; captures happen only when it moved."""
        report = self.report
        if report is None:  # no report yet: no way to tell, so capture
            return ("tick", None)
        for candidate in report.panes:
            if candidate.pane_id == pane:
                return candidate.change_mark
        return None

    def _update_preview(self) -> None:
        preview = self.query_one(PanePreview)
        name = self.selected_agent
        status = self.agent_status(name)
        if name is None or status is None:
            key: tuple[Any, ...] = (None,)
            if key != self._preview_key:
                self._preview_key = key
                preview.border_title = "preview"
                preview.show_screen(None, "No agent selected.")
            return
        pane = status.pane
        key = (name, pane, self._pane_mark(pane) if pane else None)
        if key == self._preview_key:
            return
        selection_changed = self._preview_key is None or self._preview_key[:2] != key[:2]
        if not selection_changed and self.report is not None and "pane_previews" in self.report.shed:
            return  # seed #8: the supervisor is over its tick budget; the preview waits (a new selection does not)
        self._preview_key = key
        preview.border_title = f"{name} · {pane}" if pane else name
        if status.host is not None:  # SPEC §9: its pane is on another machine's tmux; enter attaches over ssh
            preview.show_screen(None, f"{name} runs on {status.host} ({shown_status(status)}"
                                      + (f", pane {pane}); enter attaches to it over ssh" if pane else ")"))
            return
        if pane is None:
            preview.show_screen(None, f"{name} has no tmux window ({shown_status(status)}).")
            return
        if selection_changed:
            preview.show_screen(None, f"capturing {pane}…")
        self.capture_pane(name, pane)

    def on_pane_captured(self, message: PaneCaptured) -> None:
        if self._preview_key is None or self._preview_key[:2] != (message.agent, message.pane):
            return  # the selection moved on while capturing
        if not self._main_up():
            return
        preview = self.query_one(PanePreview)
        if message.screen is None:
            preview.show_screen(None, f"{message.pane} could not be captured: {message.error or 'it is gone'}")
        else:
            preview.show_screen(message.screen)

    # --- journal --------------------------------------------------------------------------

    def on_journal_rows(self, message: JournalRows) -> None:
        if message.error:
            if message.error != self._journal_error:  # said once, not every poll
                self._journal_error = message.error
                self.notify(message.error, title="journal", severity="warning", markup=False)
            return
        self._journal_error = None
        if not self._main_up():
            return  # torn down at exit (the reader starts once the main screen is up)
        self.tab("journal").add_rows(message.rows, bad_lines=message.bad_lines, reset=message.reset)

    # --- actions (the table in cockpit.tui.actions) ----------------------------------------

    def action_act(self, action_id: str) -> None:
        """A key bound to an action of the table: the same request as the palette's."""
        self.request(action_id)

    def request(self, action_id: str, target: Target | None = None) -> None:
        """Request → (refusal explained) → confirm → run: the one way every key and palette entry acts."""
        action = ACTIONS[action_id]
        if action.exists is not None and not action.exists(self):
            return
        if target is None:
            target = action.select(self) if action.select is not None else Target(agent=self.selected_agent)
        reason = self.why_not(action, target)
        if reason is not None:
            self._explain(action, reason)
        elif action.confirm is not None:
            self._confirm_then_run(action, target)
        else:
            self._run(action, target)

    def why_not(self, action: Action, target: Target | None = None) -> str | None:
        """Why ``action`` cannot run on ``target`` (default: what is selected) now; None when it can."""
        if action.mutating and self.read_only:
            return f"this cockpit is read-only (--read-only): {action.verb} is refused"
        if action.why_not is None:
            return None
        if target is None:
            target = action.select(self) if action.select is not None else Target(agent=self.selected_agent)
        return action.why_not(self, target)

    def _explain(self, action: Action, reason: str) -> None:
        read_only = action.mutating and self.read_only
        self.notify(reason, title="read-only" if read_only else f"cannot {action.verb}", severity="warning",
                    markup=False)

    @work(exclusive=True, group="confirm", name="confirm")
    async def _confirm_then_run(self, action: Action, target: Target) -> None:
        assert action.confirm is not None
        confirmed = await action.confirm(self, target)
        if confirmed is not None:
            self._run(action, confirmed)

    def _run(self, action: Action, target: Target) -> None:
        outcome = action.run(self, target)
        if inspect.iscoroutine(outcome):
            self.run_worker(self._finish(action, target, outcome), group=action.worker, exclusive=action.exclusive,
                            name=action.id)

    async def _finish(self, action: Action, target: Target, outcome: Any) -> None:
        """Await a run; the action layer's refusal (read-only, whatever the UI thought) or a target gone
        meanwhile is told, never raised."""
        label = getattr(target.payload, "label", None) or target.agent or target.wrapper or target.reminder or ""
        try:
            done = await outcome
        except ReadOnlyError as exc:
            done = ActionDone(action.verb, label, refused=str(exc))
        except ACTION_ERRORS as exc:
            done = ActionDone("remind" if action.id == "add_reminder" else action.verb, label, error=str(exc))
        if isinstance(done, ActionDone):
            self.post_message(done)

    def on_action_done(self, message: ActionDone) -> None:
        self._journal_wake.set()
        if message.refused is not None:
            self.notify(message.refused, title="read-only", severity="warning", markup=False)
            return
        if message.error is not None:
            self.notify(message.error, title=f"cannot {message.action} {message.agent}", severity="warning",
                        markup=False)
            return
        action = next((a for a in ACTION_LIST if a.verb == message.action), None)
        if message.action == "remind":
            action = ACTIONS["add_reminder"]
        (action.result if action is not None and action.result is not None else toast_result)(self, message)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Unavailable actions stay in the footer, dimmed (None); pressing them explains why."""
        row = ACTIONS.get(str(parameters[0])) if action == "act" and parameters else None
        if row is None:
            return True
        if row.priority and isinstance(self.focused, Input):
            return False  # the operator types into an input (the filter, a dialog's): the key is a character
        return self._footer_state(row)

    def _footer_state(self, action: Action) -> bool | None:
        if action.exists is not None and not action.exists(self):
            return False  # not a key of this cockpit (the demo's): hidden
        if action.footer is not None and not action.footer(self):
            return False  # a tab's keys: in the footer while that tab is shown
        if action.explained:
            return None if self.why_not(action) else True
        return True

    def _refresh_availability(self) -> None:
        """Re-render the footer only when an action became available or unavailable (footers are costly)."""
        if self._closed or not self.screen_stack:
            return  # shutting down: no footer to re-render
        availability = tuple(self._footer_state(a) for a in ACTION_LIST if a.explained or a.footer or a.exists)
        if availability != self._availability:
            self._availability = availability
            self.refresh_bindings()

    def on_key(self, event: Any) -> None:
        """A key bound to an unavailable action says why instead of doing nothing."""
        active = self.screen.active_bindings.get(event.key)
        if active is None or active.enabled:
            return
        action = ACTIONS.get(active.binding.id or "")
        if action is None or not action.explained or self._footer_state(action) is False:
            return  # hidden keys (n and x outside the Reminders tab) do nothing
        reason = self.why_not(action)
        if reason:
            self._explain(action, reason)

    # seed #7, demo only: a deliberate stall, so an operator sees what the Blocks tab records

    def action_demo_block(self) -> None:
        if not self.settings.demo:
            return
        with tracked(DEMO_BLOCK_SCOPE):
            time.sleep(DEMO_BLOCK_S)  # on the loop, on purpose: the sentinel thread samples this stack
        self.notify(f"the event loop was blocked {DEMO_BLOCK_S * 1000:.0f} ms on purpose by {DEMO_BLOCK_SCOPE}; "
                    f"press 2: the Blocks tab shows its culprit and stack", title="demo block", markup=False)

    # seed #1: the doctor, from the palette

    def open_doctor(self, agent: str | None = None) -> None:
        self.push_screen(DoctorScreen(self.supervisor.config, agent=agent, read_only=self.read_only))

    def open_conversation(self, name: str) -> None:
        """c or the palette: the agent's current transcript, read from its end and followed (SPEC §11)."""
        self.push_screen(ConversationScreen(name, lambda: self.supervisor.conversation(name)))

    def open_detail(self, name: str) -> None:
        """d or the palette: the agent's detail, refreshed with each report until closed."""
        self.push_screen(AgentDetailScreen(name, self.render_agent_detail))

    def render_agent_detail(self, name: str) -> Any:
        """What ``d`` shows for ``name``, from the latest report (nothing is read or re-judged here)."""
        report = self.report
        if report is None:
            return agent_detail(None, (), time.time())
        return agent_detail(
            self.agent_status(name), [f for f in report.findings if f.agent == name], report.at,
            cli=next((c for c in report.clis if name in c.agents), None),
            reminders=sorted((r for r in self.reminders.values() if r.agent == name), key=lambda r: r.due_at),
            wrappers=[w for w in self.wrappers.values() if w.agent == name],
            fleet=[f for f in report.findings if f.agent is None])

    @work(exclusive=True, group="attach", name="attach")
    async def run_attach(self, name: str) -> None:
        status = self.agent_status(name)
        if status is None or status.pane is None:
            return
        pane = status.pane
        config = self.supervisor.config
        if status.host is not None:  # SPEC §9: ssh -t HOST tmux -L ... attach, the TUI suspended
            await self._attach_remote(name, status.host, pane)
            return
        try:
            lines = await self.supervisor.tmux.run("display-message", "-p", "#{socket_path}")
            socket = lines[0].strip() if lines else None
        except TmuxError:
            socket = None
        plan = attach_plan(config.tmux.server_args(), config.tmux.session, pane, env=os.environ,
                           server_socket=socket)
        if not plan.suspend:
            proc = await asyncio.create_subprocess_exec(*plan.argv, env=plan.env, stdin=asyncio.subprocess.DEVNULL,
                                                        stdout=asyncio.subprocess.DEVNULL,
                                                        stderr=asyncio.subprocess.PIPE)
            _, err = await proc.communicate()
            if proc.returncode:
                self.notify(err.decode("utf-8", "replace").strip() or f"tmux exited {proc.returncode}",
                            title=f"cannot attach to {name}", severity="error", markup=False)
            return
        await self._run_suspended(plan.argv, plan.env, name, "tmux")

    async def _attach_remote(self, name: str, host: str, pane: str) -> None:
        client = self.supervisor.hosts.clients.get(host)
        argv = client.attach_argv(pane) if client is not None else None
        if argv is None:
            self.notify(f"{host} has not said which tmux server it runs (no session yet)",
                        title=f"cannot attach to {name}", severity="warning", markup=False)
            return
        await self._run_suspended(argv, None, name, "ssh")

    async def _run_suspended(self, argv: Iterable[str], env: dict[str, str] | None, name: str, program: str) -> None:
        """The attach itself: the TUI suspended while ``argv`` has the terminal; what went wrong is a toast."""
        argv = list(argv)
        try:
            # The supervisor keeps ticking while the operator is away; nothing is painted meanwhile.
            with self.batch_update(), self.suspend():
                proc = await asyncio.create_subprocess_exec(*argv, env=env)
                code = await proc.wait()
        except SuspendNotSupported:
            self.notify("this terminal cannot be suspended; attach with: " + shlex.join(argv),
                        title=f"cannot attach to {name}", severity="warning", markup=False)
            return
        except OSError as exc:
            self.notify(str(exc), title=f"cannot attach to {name}", severity="error", markup=False)
            return
        if code:
            self.notify(f"{program} exited with status {code}", title=f"attach to {name}", severity="warning")

    def action_filter(self) -> None:
        bar = self.query_one(FilterBar)
        bar.add_class("-active")
        # now, not after the queue: under load the letters typed right after / are already queued
        self.screen.set_focus(bar)

    @on(FilterBar.Changed, "#filter")
    def _filter_changed(self, event: FilterBar.Changed) -> None:
        self._filter = event.value
        self._show_agents()
        self._update_preview()

    @on(FilterBar.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        bar = self.query_one(FilterBar)
        bar.set_class(bool(self._filter), "-active")
        self.query_one(AgentTable).focus()

    @property
    def filtered(self) -> bool:
        """A filter narrows the agents table now."""
        return bool(self._filter)

    def clear_filter(self) -> None:
        self.query_one(FilterBar).action_close()

    @on(FilterBar.Closed)
    def _filter_closed(self) -> None:
        self.query_one(FilterBar).remove_class("-active")
        self.query_one(AgentTable).focus()

    def select_agent(self, name: str) -> bool:
        """Move the agents table's cursor to ``name`` (clearing a filter that hides it)."""
        table = self.query_one(AgentTable)
        if not table.select_agent(name) and self._filter:
            self.query_one(FilterBar).value = ""
            self._filter = ""
            self._show_agents()
            return table.select_agent(name)
        return True

    def action_show_tab(self, tab: str) -> None:
        """1–5: show the tab and put the keys in its table (k then means the wrapper selected there)."""
        tabs = self.query_one(TabbedContent)
        if tabs.active != tab:
            tabs.active = tab
            self._show_tab(tab)  # now, not when TabActivated arrives: the table is up to date before it has focus
        # now, not after the queue: a deferred focus ran after a / typed next and took the letters from the filter
        self.screen.set_focus(self.query_one(f"#{tab}", TabView).table)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.key_help(), NAVIGATION_HELP))

    def key_help(self) -> list[KeyHelp]:
        """Every key of the main screen as bound now (remaps included), from the live bindings."""
        order = {b.id: i for i, b in enumerate(self.BINDINGS) if isinstance(b, Binding)}
        found: dict[str, tuple[int, KeyHelp]] = {}
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if binding.id is None or binding.id in found:
                continue
            found[binding.id] = (order.get(binding.id, len(order)),
                                 KeyHelp(self.get_key_display(binding), binding.description, binding.tooltip,
                                         active.enabled))
        return [help for _, help in sorted(found.values(), key=lambda item: item[0])]

    def palette_commands(self) -> Iterable[PaletteCommand]:
        """Every palette entry of the action table: per agent, per open reminder, per live wrapper, then once."""
        for over in OVERS:
            items = list(palette_items(self, over))
            rows = [(action, entry) for action in ACTION_LIST for entry in action.palette if entry.over == over]
            if over == "agent":  # agent by agent: each one's actions together
                pairs = [(item, row) for item in items for row in rows]
            else:
                pairs = [(item, row) for row in rows for item in items]
            for (fields, target), (action, entry) in pairs:
                if action.exists is not None and not action.exists(self):
                    continue
                unavailable = "read-only cockpit" if action.mutating and self.read_only else \
                    self.why_not(action, target) if action.why_not is not None else None
                yield PaletteCommand(entry.text.format(**fields), entry.help.format(**fields),
                                     partial(self.request, action.id, target), unavailable)

    # --- quitting -------------------------------------------------------------------------

    async def action_quit(self) -> None:
        await self._close_supervisor()
        self.exit(0)

    async def _close_supervisor(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._journal_wake.set()
        for worker in list(self.workers):
            if worker.group == "supervisor":
                try:
                    await asyncio.wait_for(worker.wait(), timeout=5)
                except (asyncio.TimeoutError, Exception):
                    worker.cancel()
        await self.supervisor.close()

    async def on_unmount(self) -> None:
        await self._close_supervisor()
        if self._gc_frozen:
            gc.unfreeze()
            self._gc_frozen = False


NAVIGATION_HELP = (
    KeyHelp("↑ ↓ pgup pgdn", "move in the focused table (1–5 put the keys in that tab's table)"),
    KeyHelp("tab", "move focus: agents, the tab strip, the tab's table, its evidence"),
    KeyHelp("escape", "clear the filter; close a dialog"),
    KeyHelp("y / n", "answer a confirmation"),
    KeyHelp("ctrl+q", "quit from anywhere"),
)
