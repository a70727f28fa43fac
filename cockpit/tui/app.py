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
import os
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass
from functools import partial
from importlib.resources import files
from typing import Any, Callable, Iterable, Protocol

from textual import on, work
from textual.app import App, ComposeResult, SuspendNotSupported
from textual.binding import Binding
from textual.containers import Container
from textual.css.query import NoMatches
from textual.widgets import DataTable, Footer, TabbedContent, TabPane
from textual.worker import get_current_worker

from cockpit.act.actions import ActionResult, ReadOnlyError
from cockpit.act.spawn import plan_launch
from cockpit.config import Config
from cockpit.findings import Severity
from cockpit.judge.agents import AgentStatus
from cockpit.observe.loopwatch import Block, tracked
from cockpit.observe.sessions import RouteState, SessionTruth
from cockpit.observe.wrappers import WrapperView
from cockpit.supervisor import Report, Supervisor
from cockpit.tmux import TmuxError
from cockpit.tui.attach import attach_plan
from cockpit.tui.commands import AgentCommands, PaletteCommand
from cockpit.tui.messages import ActionDone, JournalRows, PaneCaptured, ReportReady, TickFailed
from cockpit.reminders import Reminder, ReminderError
from cockpit.tui.screens import (AgentDetailScreen, ConfirmCancelReminder, ConfirmReap, ConfirmRepoint,
                                 ConfirmRespawn, DoctorScreen, HelpScreen, ReminderForm, ReminderRequest)
from cockpit.tui.widgets import (
    MAX_BLOCK_ROWS,
    agent_detail,
    AgentTable,
    BlockTable,
    EvidencePane,
    FilterBar,
    FleetHeader,
    HeaderState,
    JournalDetail,
    JournalTable,
    KeyHelp,
    PanePreview,
    ReminderTable,
    SessionTable,
    WrapperTable,
    agent_cells,
    agent_matches,
    block_cells,
    block_detail,
    block_key,
    journal_cells,
    reminder_cells,
    reminder_detail,
    session_cells,
    session_detail,
    session_findings_by_agent,
    shown_status,
    worst_by_agent,
    wrapper_cells,
    wrapper_detail,
)

STYLESHEET = files("cockpit") / "styles" / "cockpit.tcss"
LAG_INTERVAL_S = 0.1        # the loop-lag probe: a timer that should wake every 100 ms
LAG_WINDOW = 20             # the header shows the worst lag of the last 2 s
JOURNAL_POLL_S = 1.0        # the journal is also written by other cockpits and the CLI
JOURNAL_MAX_ROWS = 1000     # newest rows kept in the table; the file keeps them all
MAX_SEPARATE_TOASTS = 3     # more new critical findings than this in one tick: one summary toast
TOAST_REPEAT_S = 300.0      # a finding that comes back (a spawn that fails every few seconds) toasts once per this
NEW_SESSION = "<new session id>"
LAG_HISTORY_TICKS = 60      # the header's sparkline: the supervisor's loop lag over the last 60 ticks
DEMO_BLOCK_SCOPE = "demo:block-the-loop"
DEMO_BLOCK_S = 0.6          # the demo's deliberate stall: over loop_block_ms, so the sentinel records it

# Actions that change the world: refused in read-only mode (by the action layer; the UI dims and explains).
MUTATING = ("respawn", "repoint", "reap", "reap_now", "add_reminder", "cancel_reminder")
# Keys of the Reminders tab: in the footer only while that tab is shown.
REMINDER_ACTIONS = ("add_reminder", "cancel_reminder")
# Actions whose key stays in the footer, dimmed, when unavailable; pressing it says why.
EXPLAINED = (*MUTATING, "attach", "describe")


@dataclass(frozen=True)
class Tab:
    """One tab of the lower pane: its key's binding id, its pane, and the table its key focuses."""
    binding_id: str
    key: str
    pane: str
    label: str
    table: str


# SPEC §4 order.
TABS: tuple[Tab, ...] = (
    Tab("tab_1", "1", "sessions-tab", "Sessions", "sessions-table"),
    Tab("tab_2", "2", "blocks-tab", "Blocks", "blocks-table"),
    Tab("tab_3", "3", "zombies-tab", "Zombies", "zombies-table"),
    Tab("tab_4", "4", "reminders-tab", "Reminders", "reminders-table"),
    Tab("tab_5", "5", "journal-tab", "Journal", "journal-table"),
)
TAB_KEYS = Binding.Group("Tabs", compact=True)  # the footer shows "12345 Tabs"; help lists each
REAP_KEYS = Binding.Group("Reap")


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


def respawn_preview(supervisor: SupervisorLike, name: str) -> tuple[tuple[str, ...], str]:
    """The exact argv a respawn will run, and its cwd (a fresh session id is shown as a placeholder)."""
    agent = supervisor.config.agent(name)
    plan = plan_launch(agent, supervisor.config, supervisor.resume_for(agent))
    argv = plan.argv
    if plan.session_id and not plan.resumed:
        argv = tuple(a.replace(plan.session_id, NEW_SESSION) for a in argv)
    return argv, str(agent.cwd)


class CockpitApp(App[int]):
    """One screen: fleet header, agents table, pane preview, and the tabs (Sessions, Blocks, Zombies,
    Journal); keys turn into the supervisor's actions (respawn, repoint, reap, attach)."""

    CSS_PATH = [str(STYLESHEET)]
    TITLE = "cockpit"
    COMMANDS = App.COMMANDS | {AgentCommands}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]
    NOTIFICATION_TIMEOUT = 6

    BINDINGS = [
        Binding("R", "respawn", "Respawn", id="respawn",
                tooltip="Respawn the selected agent through the verified spawn path (asks first)"),
        Binding("p", "repoint", "Repoint", id="repoint",
                tooltip="Point the selected agent's routing record at its disk session (asks first)"),
        Binding("k", "reap", "Reap", id="reap", group=REAP_KEYS,
                tooltip="Reap the selected wrapper (Zombies tab) or the selected agent's zombie wrappers "
                        "(asks first)"),
        Binding("ctrl+k", "reap_now", "Reap now", id="reap_now", group=REAP_KEYS,
                tooltip="Reap zombie wrappers without asking"),
        Binding("enter", "attach", "Attach", id="attach",
                tooltip="Attach to the selected agent's pane (detach to come back)"),
        Binding("n", "add_reminder", "New reminder", id="add_reminder",
                tooltip="Reminders tab: schedule a wake or notice for an agent"),
        Binding("x", "cancel_reminder", "Cancel reminder", id="cancel_reminder",
                tooltip="Reminders tab: cancel the selected reminder (asks first)"),
        Binding("slash", "filter", "Filter", id="filter",
                tooltip="Narrow the agents by name, kind, state or finding"),
        *(Binding(tab.key, f"show_tab('{tab.pane}')", tab.label, id=tab.binding_id, group=TAB_KEYS,
                  tooltip=f"Show the {tab.label} tab") for tab in TABS),
        Binding("question_mark", "help", "Help", id="help", tooltip="Every key, as currently bound"),
        Binding("q", "quit", "Quit", id="quit", tooltip="Stop the supervisor and leave"),
        Binding("ctrl+p", "command_palette", "Palette", id="palette", priority=True,
                tooltip="Every action for every agent, by name"),
        # after q and ctrl+p: on an 80-column footer the keys the SPEC lists come first
        Binding("d", "describe", "Detail", id="describe",
                tooltip="Everything about the selected agent, each finding with its evidence (a fold's turns, "
                        "a failed spawn's screen), its CLI, reminders and sub-agents"),
        Binding("b", "demo_block", "Block loop", id="demo_block",
                tooltip="Demo only: stall the event loop 600 ms on purpose; the Blocks tab shows the trace"),
    ]

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
        self._filter = ""
        self._preview_key: tuple[Any, ...] | None = None
        self._stop = asyncio.Event()
        self._journal_wake = threading.Event()
        self._journal_rows: dict[str, dict[str, Any]] = {}
        self._journal_seq = 0
        self._journal_bad = 0
        self._lag_samples: deque[float] = deque(maxlen=LAG_WINDOW)
        self._lag_last: float | None = None
        self._closed = False
        self._availability: tuple[bool, ...] = ()
        self._tick_error: str | None = None
        self._toasted: dict[tuple[str, str | None, str | None], float] = {}  # finding key -> when last toasted
        self._journal_error: str | None = None
        self._lag_history: deque[float] = deque(maxlen=LAG_HISTORY_TICKS)
        self._blocks: dict[str, Block] = {}
        self._reminders: dict[str, Reminder] = {}
        self._wrappers: dict[str, WrapperView] = {}
        self._tab_labels: dict[str, str] = {}
        self._gc_frozen = False
        if settings.config.keys:
            self.set_keymap(dict(settings.config.keys))

    # --- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield FleetHeader(id="fleet-header")
        yield FilterBar(placeholder="filter agents: name, kind, state or finding (escape clears)", id="filter")
        yield AgentTable(names=[a.name for a in self.settings.config.agents], id="agents")
        names = [a.name for a in self.settings.config.agents]
        with Container(id="lower"):
            yield PanePreview(id="preview")
            with TabbedContent(id="tabs", initial="journal-tab"):
                with TabPane("Sessions", id="sessions-tab"):
                    with Container(id="sessions", classes="tab-body"):
                        yield SessionTable(names=names, id="sessions-table")
                        yield EvidencePane(id="sessions-detail", classes="detail")
                with TabPane("Blocks", id="blocks-tab"):
                    with Container(id="blocks", classes="tab-body"):
                        yield BlockTable(id="blocks-table")
                        yield EvidencePane(id="blocks-detail", classes="detail")
                with TabPane("Zombies", id="zombies-tab"):
                    with Container(id="zombies", classes="tab-body"):
                        yield WrapperTable(id="zombies-table")
                        yield EvidencePane(id="zombies-detail", classes="detail")
                with TabPane("Reminders", id="reminders-tab"):
                    with Container(id="reminders", classes="tab-body"):
                        yield ReminderTable(names=names, id="reminders-table")
                        yield EvidencePane(id="reminders-detail", classes="detail")
                with TabPane("Journal", id="journal-tab"):
                    with Container(id="journal", classes="tab-body"):
                        yield JournalTable(id="journal-table")
                        yield JournalDetail(id="journal-detail", classes="detail")
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

    def on_report_ready(self, message: ReportReady) -> None:
        report = message.report
        if self.report is None:
            self.call_after_refresh(self._freeze_startup_heap)
        self.report = report
        self._tick_error = None
        self._worst = worst_by_agent(report.findings)
        self._lag_history.append(report.loop_lag_ms)
        self._wrappers = {w.id: w for w in report.wrappers}
        self._blocks = {block_key(b): b for b in report.blocks[-MAX_BLOCK_ROWS:]}
        self._reminders = {r.id: r for r in getattr(report, "reminders", ())}
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
        for notice in getattr(report, "notices", ()):
            self.notify(notice.text, title=f"notice for {notice.agent} ({notice.id})", timeout=10, markup=False)

    def _show_agents(self) -> None:
        if self.report is None:
            return
        table = self.query_one(AgentTable)
        rows = [(a.name, agent_cells(a, self._worst.get(a.name), self.report.at))
                for a in self.report.agents if agent_matches(a, self._worst.get(a.name), self._filter)]
        with self.batch_update():
            table.show_rows(rows)
        table.border_subtitle = f"filter: {self._filter}" if self._filter else ""

    def _render_header(self) -> None:
        self.query_one(FleetHeader).state = HeaderState(
            title=self.settings.title, report=self.report, lag_ms=self.lag_ms, read_only=self.read_only,
            demo=self.settings.demo, lag_history=tuple(self._lag_history))

    # --- tabs -----------------------------------------------------------------------------

    def _show_tab_labels(self) -> None:
        """Each tab says how much it holds that needs an eye: session findings, zombies, blocks."""
        report = self.report
        if report is None:
            return
        counts = {
            "sessions-tab": sum(len(v) for v in session_findings_by_agent(report.findings).values()),
            "blocks-tab": len(self._blocks),
            "zombies-tab": sum(1 for w in report.wrappers if w.state == "zombie"),
            "reminders-tab": sum(1 for r in self._reminders.values() if not r.done),
        }
        tabs = self.query_one(TabbedContent)
        for tab in TABS:
            label = tab.label + (f" {counts[tab.pane]}" if counts.get(tab.pane) else "")
            if self._tab_labels.get(tab.pane, tab.label) != label:
                self._tab_labels[tab.pane] = label
                tabs.get_tab(tab.pane).label = label

    def _show_tab(self, pane: str | None) -> None:
        """Bring a tab up to date (diffed). Hidden tabs wait until shown: a tick costs what is on screen."""
        if pane == "sessions-tab":
            self._show_sessions()
        elif pane == "blocks-tab":
            self._show_blocks()
        elif pane == "zombies-tab":
            self._show_wrappers()
        elif pane == "reminders-tab":
            self._show_reminders()

    @on(TabbedContent.TabActivated, "#tabs")
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._show_tab(event.pane.id)
        self._refresh_availability()

    def _session_sides(self, name: str | None) -> tuple[SessionTruth | None, RouteState | None]:
        sessions = self.report.sessions if self.report is not None else None
        if name is None or sessions is None:
            return None, None
        return sessions.truths.get(name), sessions.routes.get(name)

    def _show_sessions(self) -> None:
        report = self.report
        if report is None:
            return
        table = self.query_one(SessionTable)
        findings = session_findings_by_agent(report.findings)
        rows = []
        for agent in report.agents:
            truth, route = self._session_sides(agent.name)
            rows.append((agent.name, session_cells(agent.name, truth, route, findings.get(agent.name, ()), report.at)))
        with self.batch_update():
            table.show_rows(rows)
            if not table.has_focus and self.selected_agent is not None:
                table.select_key(self.selected_agent)  # the tab follows the agents table
        sessions = report.sessions
        table.border_subtitle = (f"record: {sessions.routes_file}" if sessions is not None and sessions.routes_file
                                 else "no [routes] file configured")
        self._show_session_detail()

    def _show_session_detail(self) -> None:
        report = self.report
        name = self.query_one(SessionTable).selected_key
        truth, route = self._session_sides(name)
        findings = session_findings_by_agent(report.findings).get(name or "", []) if report is not None else []
        now = report.at if report is not None else time.time()
        sessions = report.sessions if report is not None else None
        signature = (truth, route, tuple(f.key for f in findings), int(now))
        self.query_one("#sessions-detail", EvidencePane).show(
            session_detail(name, truth, route, findings, now,
                           routes_file=sessions.routes_file if sessions is not None else None),
            key=name, signature=signature)

    @on(DataTable.RowHighlighted, "#sessions-table")
    def _session_highlighted(self) -> None:
        table = self.query_one(SessionTable)
        name = table.selected_key
        if table.has_focus and name is not None and name != self.selected_agent:
            self.query_one(AgentTable).select_agent(name)  # one selected agent: p, R and the preview follow
        self._show_session_detail()

    def _show_wrappers(self) -> None:
        table = self.query_one(WrapperTable)
        with self.batch_update():
            table.show_rows([(key, wrapper_cells(view)) for key, view in self._wrappers.items()])
        zombies = sum(1 for w in self._wrappers.values() if w.state == "zombie")
        table.border_subtitle = f"{len(self._wrappers)} wrappers · {zombies} zombies" if self._wrappers else \
            "no wrappers ([[wrappers]] rules and cockpit wrap runs)"
        self._show_wrapper_detail()

    def _show_wrapper_detail(self) -> None:
        key = self.query_one(WrapperTable).selected_key
        view = self._wrappers.get(key) if key is not None else None
        self.query_one("#zombies-detail", EvidencePane).show(wrapper_detail(view), key=key, signature=view)

    @on(DataTable.RowHighlighted, "#zombies-table")
    def _wrapper_highlighted(self) -> None:
        self._show_wrapper_detail()
        self._refresh_availability()

    def _show_reminders(self) -> None:
        table = self.query_one(ReminderTable)
        ordered = sorted(self._reminders.values(), key=lambda r: (r.due_at, r.id))
        with self.batch_update():
            table.show_rows([(r.id, reminder_cells(r)) for r in ordered])
        open_ = sum(1 for r in ordered if not r.done)
        table.border_subtitle = (f"{len(ordered)} reminders · {open_} open" if ordered
                                 else "no reminders (n adds one; cockpit remind from a shell)")
        self._show_reminder_detail()

    def _show_reminder_detail(self) -> None:
        key = self.query_one(ReminderTable).selected_key
        reminder = self._reminders.get(key) if key is not None else None
        now = self.report.at if self.report is not None else time.time()
        self.query_one("#reminders-detail", EvidencePane).show(reminder_detail(reminder, now), key=key,
                                                               signature=reminder)

    @on(DataTable.RowHighlighted, "#reminders-table")
    def _reminder_highlighted(self) -> None:
        self._show_reminder_detail()
        self._refresh_availability()

    def _show_blocks(self) -> None:
        table = self.query_one(BlockTable)
        threshold = float(self.supervisor.config.supervisor.loop_block_ms)
        newest_first = sorted(self._blocks.items(), key=lambda item: -item[1].start)
        with self.batch_update():
            table.show_rows([(key, block_cells(block, threshold)) for key, block in newest_first])
        table.border_subtitle = f"{len(self._blocks)} blocks" if self._blocks else \
            f"no block over {threshold:g} ms yet"
        self._show_block_detail()

    def _show_block_detail(self) -> None:
        key = self.query_one(BlockTable).selected_key
        block = self._blocks.get(key) if key is not None else None
        self.query_one("#blocks-detail", EvidencePane).show(block_detail(block), key=key, signature=block)

    @on(DataTable.RowHighlighted, "#blocks-table")
    def _block_highlighted(self) -> None:
        self._show_block_detail()

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
        sessions = self.query_one(SessionTable)
        name = self.selected_agent
        if name is not None and not sessions.has_focus and self.query_one(TabbedContent).active == "sessions-tab":
            sessions.select_key(name)

    def on_descendant_focus(self) -> None:
        self._refresh_availability()  # k means the selected wrapper in the Zombies tab, the agent's zombies elsewhere

    def _refresh_availability(self) -> None:
        """Re-render the footer only when an action became available or unavailable (footers are costly)."""
        availability = (*(self._why_not(action) is None for action in EXPLAINED), self._reminders_shown())
        if availability != self._availability:
            self._availability = availability
            self.refresh_bindings()

    def _pane_mark(self, pane: str) -> Any:
        """What changes when the pane's screen changes; captures happen only when it moved."""
        report = self.report
        panes = getattr(report, "panes", None)
        if panes is None:  # a report without its panes: no way to tell, so capture each tick
            return ("tick", report.tick if report is not None else None)
        for candidate in panes:
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
        if not selection_changed and "pane_previews" in getattr(self.report, "shed", ()):
            return  # seed #8: the supervisor is over its tick budget; the preview waits (a new selection does not)
        self._preview_key = key
        preview.border_title = f"{name} · {pane}" if pane else name
        if pane is None:
            preview.show_screen(None, f"{name} has no tmux window ({shown_status(status)}).")
            return
        if selection_changed:
            preview.show_screen(None, f"capturing {pane}…")
        self.capture_pane(name, pane)

    def on_pane_captured(self, message: PaneCaptured) -> None:
        if self._preview_key is None or self._preview_key[:2] != (message.agent, message.pane):
            return  # the selection moved on while capturing
        preview = self.query_one(PanePreview)
        if message.screen is None:
            preview.show_screen(None, f"{message.pane} could not be captured: {message.error or 'it is gone'}")
        else:
            preview.show_screen(message.screen)

    # --- journal --------------------------------------------------------------------------

    def on_journal_rows(self, message: JournalRows) -> None:
        table = self.query_one(JournalTable)
        if message.error:
            if message.error != self._journal_error:  # said once, not every poll
                self._journal_error = message.error
                self.notify(message.error, title="journal", severity="warning", markup=False)
            return
        self._journal_error = None
        reading = self._journal_cursor_key()  # an older row the operator is reading stays under the cursor
        with self.batch_update():
            if message.reset:  # the file was replaced (pruned): its rows start over
                table.clear()
                self._journal_rows.clear()
                self._journal_bad = 0
            self._journal_bad += message.bad_lines
            for row in message.rows:
                self._journal_seq += 1
                key = f"j{self._journal_seq}"
                self._journal_rows[key] = row
                table.add_row(*journal_cells(self._journal_seq, row), key=key)
            while len(self._journal_rows) > JOURNAL_MAX_ROWS:
                oldest = next(iter(self._journal_rows))
                table.remove_row(oldest)
                del self._journal_rows[oldest]
            if message.rows:
                table.sort("seq", key=lambda cell: int(cell.plain), reverse=True)
                if reading is not None and reading in self._journal_rows:
                    table.move_cursor(row=table.get_row_index(reading), animate=False)
                else:
                    table.move_cursor(row=0, animate=False)
        bad = f" · {self._journal_bad} bad lines" if self._journal_bad else ""
        table.border_subtitle = f"{len(self._journal_rows)} rows{bad}"
        self._show_journal_detail()

    @on(DataTable.RowHighlighted, "#journal-table")
    def _journal_highlighted(self) -> None:
        self._show_journal_detail()

    def _journal_cursor_key(self) -> str | None:
        """The journal row under the cursor, unless it is the newest (the cursor then follows new rows)."""
        table = self.query_one(JournalTable)
        if not table.row_count or table.cursor_row == 0:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def _show_journal_detail(self) -> None:
        table = self.query_one(JournalTable)
        row = None
        if table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            row = self._journal_rows.get(str(key))
        self.query_one(JournalDetail).show_row(row)

    # --- actions --------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Unavailable actions stay in the footer, dimmed (None); pressing them explains why."""
        if action == "demo_block":
            return bool(self.settings.demo)  # not a key of a real fleet's cockpit: hidden outside the demo
        if action in REMINDER_ACTIONS and not self._reminders_shown():
            return False  # the Reminders tab's keys: in the footer while that tab is shown
        if action in EXPLAINED:
            return None if self._why_not(action) else True
        return True

    def _reminders_shown(self) -> bool:
        try:
            return self.query_one(TabbedContent).active == "reminders-tab" and len(self.screen_stack) == 1
        except NoMatches:
            return False

    def _why_not(self, action: str, name: str | None = None) -> str | None:
        if action in MUTATING and self.read_only:
            what = action.replace('_now', '').replace('_', ' ')
            return f"this cockpit is read-only (--read-only): {what} is refused"
        if action in ("reap", "reap_now"):
            return self.reap_request(now=action == "reap_now")[2]
        if action == "add_reminder":
            return None if self.agent_names() else "no agents configured"
        if action == "cancel_reminder":
            return self.cancel_reminder_request()[1]
        name = name if name is not None else self.selected_agent
        if name is None:
            return "select an agent first"
        if action == "attach":
            status = self.agent_status(name)
            if status is None or status.pane is None:
                return f"{name} has no tmux window to attach to"
        if action == "repoint":
            return self._repoint_blocker(name)
        return None

    def _repoint_blocker(self, name: str) -> str | None:
        """Why ``p`` has nothing to do for ``name`` (the action layer decides again, fresh, before writing)."""
        truth, route = self._session_sides(name)
        if truth is None:
            return f"no session observation of {name} yet"
        if truth.ambiguous:
            return f"{name}'s session is ambiguous (see the Sessions tab): cockpit does not guess"
        if truth.disk_session is None:
            return f"no session of {name} is on disk: nothing to repoint its record to"
        record = route.session_id if route is not None else None
        if record is not None and record.lower() == truth.disk_session.lower():
            return f"{name}'s routing record already points at its disk session {truth.disk_session[:8]}"
        return None

    def on_key(self, event: Any) -> None:
        """A key bound to an unavailable action says why instead of doing nothing."""
        active = self.screen.active_bindings.get(event.key)
        if active is None or active.enabled or active.binding.action not in EXPLAINED:
            return
        if active.binding.action in REMINDER_ACTIONS and not self._reminders_shown():
            return  # n and x belong to the Reminders tab
        reason = self._why_not(active.binding.action)
        if reason:
            self._explain(active.binding.action, reason)

    def _explain(self, action: str, reason: str) -> None:
        read_only = action in MUTATING and self.read_only
        self.notify(reason, title="read-only" if read_only else
                    f"cannot {action.replace('_now', '').replace('_', ' ')}",
                    severity="warning", markup=False)

    def action_respawn(self) -> None:
        self.request_respawn(self.selected_agent)

    # seed #6: n adds a reminder, x cancels the selected one

    def _wall_clock(self) -> Callable[[], float]:
        reminders = getattr(self.supervisor, "reminders", None)
        return getattr(reminders, "clock", None) or time.time

    def action_add_reminder(self) -> None:
        self.request_add_reminder(self.selected_agent)

    def request_add_reminder(self, agent: str | None = None) -> None:
        """n or the palette: the form (validated inline), then schedule through the supervisor's reminder pass."""
        reason = self._why_not("add_reminder")
        if reason is not None:
            self._explain("add_reminder", reason)
            return
        self.ask_reminder(agent)

    @work(exclusive=True, group="confirm", name="reminder form")
    async def ask_reminder(self, agent: str | None) -> None:
        request = await self.push_screen_wait(ReminderForm(self.agent_names(), agent=agent, now=self._wall_clock()))
        if request is not None:
            self.run_schedule(request)

    @work(group="actions", name="schedule reminder")
    async def run_schedule(self, request: ReminderRequest) -> None:
        try:
            reminder = await self.supervisor.reminders.schedule(
                request.agent, request.verb, request.text, request.due_at,
                respawn_if_down=request.respawn_if_down, by="tui")
        except ReadOnlyError as exc:
            self.post_message(ActionDone("remind", request.agent, refused=str(exc)))
            return
        except (ReminderError, LookupError, OSError) as exc:
            self.post_message(ActionDone("remind", request.agent, error=str(exc)))
            return
        self._journal_wake.set()
        self.notify(f"{reminder.id}: {reminder.verb} {reminder.agent} at {reminder.to_json()['due_at']}",
                    title="reminder scheduled", markup=False)

    def cancel_reminder_request(self, ref: str | None = None) -> tuple[Reminder | None, str | None]:
        """The reminder x would cancel (the one selected in the Reminders tab), or why none."""
        if ref is None:
            try:
                ref = self.query_one(ReminderTable).selected_key
            except NoMatches:
                ref = None
        if ref is None:
            return None, "select a reminder in the Reminders tab first"
        reminder = self._reminders.get(ref)
        if reminder is None:
            return None, f"no reminder {ref} in the last tick"
        if reminder.done:
            return None, f"{reminder.id} is already {reminder.state}"
        return reminder, None

    def action_cancel_reminder(self) -> None:
        self.request_cancel_reminder()

    def request_cancel_reminder(self, ref: str | None = None) -> None:
        if self.read_only:
            self._explain("cancel_reminder", self._why_not("cancel_reminder") or "read-only")
            return
        reminder, reason = self.cancel_reminder_request(ref)
        if reminder is None:
            self._explain("cancel_reminder", reason or "nothing to cancel")
            return
        self.confirm_cancel_reminder(reminder)

    @work(exclusive=True, group="confirm", name="confirm cancel reminder")
    async def confirm_cancel_reminder(self, reminder: Reminder) -> None:
        now = self.report.at if self.report is not None else time.time()
        if await self.push_screen_wait(ConfirmCancelReminder(reminder, now=now)):
            self.run_cancel_reminder(reminder)

    @work(group="actions", name="cancel reminder")
    async def run_cancel_reminder(self, reminder: Reminder) -> None:
        try:
            cancelled = await self.supervisor.reminders.cancel(reminder.id, by="tui")
        except ReadOnlyError as exc:
            self.post_message(ActionDone("cancel reminder", reminder.agent, refused=str(exc)))
            return
        except (ReminderError, LookupError, OSError) as exc:
            self.post_message(ActionDone("cancel reminder", reminder.agent, error=str(exc)))
            return
        self._journal_wake.set()
        self.notify(f"{cancelled.id} ({cancelled.verb} {cancelled.agent}) is {cancelled.state}",
                    title="reminder cancelled", markup=False)

    # seed #1: the doctor, from the palette

    def open_doctor(self, agent: str | None = None) -> None:
        self.push_screen(DoctorScreen(self.supervisor.config, agent=agent, read_only=self.read_only))

    def request_respawn(self, name: str | None) -> None:
        """R or the palette: confirm (naming the agent and the exact command), then respawn, verified."""
        reason = self._why_not("respawn", name)
        if reason is not None or name is None:
            self._explain("respawn", reason or "select an agent first")
            return
        self.confirm_respawn(name)

    @work(exclusive=True, group="confirm", name="confirm respawn")
    async def confirm_respawn(self, name: str) -> None:
        status = self.agent_status(name)
        argv, cwd = await asyncio.to_thread(respawn_preview, self.supervisor, name)
        live = status is not None and status.pid is not None
        state = shown_status(status) if status is not None else "unknown"
        confirmed = await self.push_screen_wait(ConfirmRespawn(name, argv, cwd=cwd, state=state, live=live))
        if confirmed:
            self.run_respawn(name, force=live)

    @work(group="actions", name="respawn")
    async def run_respawn(self, name: str, *, force: bool = False) -> None:
        self.notify(f"respawning {name}…", title="respawn", timeout=3, markup=False)
        try:
            result = await self.supervisor.respawn(name, force=force)
        except ReadOnlyError as exc:  # the action layer is the authority, whatever the UI thought
            self.post_message(ActionDone("respawn", name, refused=str(exc)))
            return
        self.post_message(ActionDone("respawn", name, result=result))

    # seed #3: p repoints the routing record to the disk truth

    def action_repoint(self) -> None:
        self.request_repoint(self.selected_agent)

    def request_repoint(self, name: str | None) -> None:
        """p or the palette: show both sides (record → disk, with last turns), then repoint, verified."""
        reason = self._why_not("repoint", name)
        if reason is not None or name is None:
            self._explain("repoint", reason or "select an agent first")
            return
        self.confirm_repoint(name)

    @work(exclusive=True, group="confirm", name="confirm repoint")
    async def confirm_repoint(self, name: str) -> None:
        report = self.report
        truth, route = self._session_sides(name)
        findings = session_findings_by_agent(report.findings).get(name, []) if report is not None else []
        sessions = report.sessions if report is not None else None
        confirmed = await self.push_screen_wait(ConfirmRepoint(
            name, truth, route, findings=findings, now=report.at if report is not None else time.time(),
            routes_file=sessions.routes_file if sessions is not None else None))
        if confirmed:
            self.run_repoint(name)

    @work(group="actions", name="repoint")
    async def run_repoint(self, name: str) -> None:
        self.notify(f"repointing {name}…", title="repoint", timeout=3, markup=False)
        try:
            result = await self.supervisor.repoint(name)
        except ReadOnlyError as exc:
            self.post_message(ActionDone("repoint", name, refused=str(exc)))
            return
        self.post_message(ActionDone("repoint", name, result=result))

    # seed #9: k reaps wrappers that won't die

    def _zombies_focused(self) -> bool:
        focused = self.focused
        if focused is None:
            return False
        try:
            pane = self.query_one("#zombies-tab")
        except NoMatches:
            return False
        return focused is pane or pane in focused.ancestors

    def reap_request(self, *, wrapper: str | None = None, agent: str | None = None,
                     now: bool = False) -> tuple[str | None, list[WrapperView], str | None]:
        """What a reap would act on: ``(target for Supervisor.reap, its wrappers, why not)``.

        Nothing named: the wrapper selected in the Zombies tab when it has focus, else the
        selected agent's zombie wrappers. ``now`` (ctrl+k, no question asked) takes zombies only.
        """
        if wrapper is None and agent is None:
            if self._zombies_focused():
                wrapper = self.query_one(WrapperTable).selected_key
                if wrapper is None:
                    return None, [], "select a wrapper in the Zombies tab first"
            else:
                agent = self.selected_agent
                if agent is None:
                    return None, [], "select an agent (its zombie wrappers) or a wrapper in the Zombies tab"
        if wrapper is not None:
            view = self._wrappers.get(wrapper) or next((w for w in self._wrappers.values() if w.name == wrapper),
                                                        None)
            if view is None:
                return None, [], f"no wrapper {wrapper} in the last tick"
            if not view.alive:
                return None, [], f"{view.name} is already gone ({view.state})"
            if now and view.state != "zombie":
                return None, [], f"{view.name} is {view.state}, not a zombie: k reaps it after asking"
            return view.id, [view], None
        zombies = [w for w in self._wrappers.values() if w.agent == agent and w.state == "zombie" and w.alive]
        if not zombies:
            return None, [], f"{agent} has no zombie wrappers"
        return agent, zombies, None

    def action_reap(self) -> None:
        self.request_reap()

    def action_reap_now(self) -> None:
        self.request_reap(now=True)

    def request_reap(self, *, wrapper: str | None = None, agent: str | None = None, now: bool = False) -> None:
        """k (confirm first), ctrl+k (at once, zombies only) or the palette."""
        action = "reap_now" if now else "reap"
        if self.read_only:
            self._explain(action, "this cockpit is read-only (--read-only): reap is refused")
            return
        target, views, reason = self.reap_request(wrapper=wrapper, agent=agent, now=now)
        if reason is not None or target is None:
            self._explain(action, reason or "nothing to reap")
            return
        owner = target if target not in self._wrappers else None
        if now:
            self.run_reap(target, views[0].name if owner is None else owner)
        else:
            self.confirm_reap(target, views, owner)

    @work(exclusive=True, group="confirm", name="confirm reap")
    async def confirm_reap(self, target: str, views: list[WrapperView], agent: str | None) -> None:
        stop_wait = self.supervisor.config.supervisor.stop_wait_s
        if await self.push_screen_wait(ConfirmReap(views, agent=agent, stop_wait_s=stop_wait)):
            self.run_reap(target, agent or views[0].name)

    @work(group="actions", name="reap")
    async def run_reap(self, target: str, label: str) -> None:
        self.notify(f"reaping {label}…", title="reap", timeout=3, markup=False)
        try:
            results = await self.supervisor.reap(target)
        except ReadOnlyError as exc:
            self.post_message(ActionDone("reap", label, refused=str(exc)))
            return
        except LookupError as exc:
            self.post_message(ActionDone("reap", label, error=str(exc)))
            return
        self.post_message(ActionDone("reap", label, reaps=tuple(results)))

    def on_action_done(self, message: ActionDone) -> None:
        self._journal_wake.set()
        if message.refused is not None:
            self.notify(message.refused, title="read-only", severity="warning", markup=False)
            return
        if message.error is not None:
            self.notify(message.error, title=f"cannot {message.action} {message.agent}", severity="warning",
                        markup=False)
            return
        if message.action == "reap":
            self._toast_reaps(message.agent, message.reaps)
            return
        result = message.result
        if result is None:
            return
        refused = result.evidence.get("refused") if isinstance(result.evidence, dict) else None
        outcome = "skipped" if result.skipped else "verified" if result.ok else "refused" if refused else "failed"
        severity = "error" if outcome == "failed" else "warning" if outcome == "refused" else "information"
        self.notify(result.summary, title=f"{message.action} {message.agent}: {outcome}", severity=severity,
                    timeout=8, markup=False)

    def _toast_reaps(self, label: str, reaps: tuple[Any, ...]) -> None:
        if not reaps:
            self.notify(f"{label}: nothing to reap (no zombie wrapper now)", title=f"reap {label}", markup=False)
            return
        gone = sum(1 for r in reaps if r.ok)
        outcome = "verified" if gone == len(reaps) else "skipped" if all(r.skipped for r in reaps) else "failed"
        self.notify("\n".join(r.summary for r in reaps), title=f"reap {label}: {outcome} ({gone}/{len(reaps)} gone)",
                    severity="error" if outcome == "failed" else "information", timeout=8, markup=False)

    # seed #7, demo only: a deliberate stall, so an operator sees what the Blocks tab records

    def action_demo_block(self) -> None:
        if not self.settings.demo:
            return
        with tracked(DEMO_BLOCK_SCOPE):
            time.sleep(DEMO_BLOCK_S)  # on the loop, on purpose: the sentinel thread samples this stack
        self.notify(f"the event loop was blocked {DEMO_BLOCK_S * 1000:.0f} ms on purpose by {DEMO_BLOCK_SCOPE}; "
                    f"press 2: the Blocks tab shows its culprit and stack", title="demo block", markup=False)

    def action_attach(self) -> None:
        self.request_attach(self.selected_agent)

    def action_describe(self) -> None:
        self.request_describe(self.selected_agent)

    def request_describe(self, name: str | None) -> None:
        """d or the palette: the agent's detail, refreshed with each report until closed."""
        reason = self._why_not("describe", name)
        if reason is not None or name is None:
            self._explain("describe", reason or "select an agent first")
            return
        self.push_screen(AgentDetailScreen(name, self.render_agent_detail))

    def render_agent_detail(self, name: str) -> Any:
        """What ``d`` shows for ``name``, from the latest report (nothing is read or re-judged here)."""
        report = self.report
        if report is None:
            return agent_detail(None, (), time.time())
        now = report.at
        clis = getattr(report, "clis", ()) or ()
        return agent_detail(
            self.agent_status(name), [f for f in report.findings if f.agent == name], now,
            cli=next((c for c in clis if name in c.agents), None),
            reminders=sorted((r for r in self._reminders.values() if r.agent == name), key=lambda r: r.due_at),
            wrappers=[w for w in self._wrappers.values() if w.agent == name],
            fleet=[f for f in report.findings if f.agent is None])

    def request_attach(self, name: str | None) -> None:
        reason = self._why_not("attach", name)
        status = self.agent_status(name)
        if reason is not None or status is None or status.pane is None or name is None:
            self._explain("attach", reason or "select an agent first")
            return
        self.run_attach(name, status.pane)

    @work(exclusive=True, group="attach", name="attach")
    async def run_attach(self, name: str, pane: str) -> None:
        config = self.supervisor.config
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
        try:
            # The supervisor keeps ticking while the operator is away; nothing is painted meanwhile.
            with self.batch_update(), self.suspend():
                proc = await asyncio.create_subprocess_exec(*plan.argv, env=plan.env)
                code = await proc.wait()
        except SuspendNotSupported:
            self.notify("this terminal cannot be suspended; attach with: " + " ".join(plan.argv),
                        title=f"cannot attach to {name}", severity="warning", markup=False)
            return
        except OSError as exc:
            self.notify(str(exc), title=f"cannot attach to {name}", severity="error", markup=False)
            return
        if code:
            self.notify(f"tmux exited with status {code}", title=f"attach to {name}", severity="warning")

    def action_filter(self) -> None:
        bar = self.query_one(FilterBar)
        bar.add_class("-active")
        bar.focus()

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
        target = next((t.table for t in TABS if t.pane == tab), None)
        if target is not None:
            self.query_one(f"#{target}").focus()

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
        read_only = "read-only cockpit" if self.read_only else None
        for name in self.agent_names():
            status = self.agent_status(name)
            yield PaletteCommand(f"Respawn {name}", "Confirm, then respawn through the verified spawn path",
                                 partial(self.request_respawn, name), read_only)
            yield PaletteCommand(f"Repoint {name}", "Show record and disk side by side, then point the routing "
                                 "record at the disk session", partial(self.request_repoint, name),
                                 read_only or self._repoint_blocker(name))
            yield PaletteCommand(f"Reap {name}", "Confirm, then reap this agent's zombie wrappers",
                                 partial(self.request_reap, agent=name),
                                 read_only or self.reap_request(agent=name)[2])
            no_pane = None if status is not None and status.pane else "no tmux window"
            yield PaletteCommand(f"Attach to {name}", "Suspend the cockpit and attach to the agent's pane",
                                 partial(self.request_attach, name), no_pane)
            yield PaletteCommand(f"Select {name}", "Move the agents table to this agent and preview its pane",
                                 partial(self.select_agent, name))
            yield PaletteCommand(f"Detail of {name}", "Every finding of this agent with its evidence, its CLI, "
                                 "reminders and sub-agents (d)", partial(self.request_describe, name))
            yield PaletteCommand(f"Remind {name}", "Schedule a wake or notice reminder for this agent",
                                 partial(self.request_add_reminder, name), read_only)
            yield PaletteCommand(f"Doctor: check a candidate CLI for {name}",
                                 "Boot a candidate of this agent's CLI in a throwaway pane, judge it, promote after "
                                 "a pass", partial(self.open_doctor, name))
        for reminder in self._reminders.values():
            if not reminder.done:
                yield PaletteCommand(f"Cancel reminder {reminder.id}",
                                     f"{reminder.verb} {reminder.agent}: {reminder.text[:60]}",
                                     partial(self.request_cancel_reminder, reminder.id), read_only)
        for view in self._wrappers.values():
            if view.alive:
                yield PaletteCommand(f"Reap {view.name}", f"Confirm, then reap wrapper pid {view.pid} ({view.state})",
                                     partial(self.request_reap, wrapper=view.id),
                                     read_only or self.reap_request(wrapper=view.id)[2])
        yield PaletteCommand("Filter agents", "Narrow the agents table (/)", self.action_filter)
        for tab in TABS:
            yield PaletteCommand(f"Show {tab.label.lower()}", f"The {tab.label} tab ({tab.key})",
                                 partial(self.action_show_tab, tab.pane))
        if self.settings.demo:
            yield PaletteCommand("Block the event loop (demo)", "Stall the loop 600 ms on purpose; see the Blocks tab",
                                 self.action_demo_block)
        yield PaletteCommand("Keys", "Every key as currently bound (?)", self.action_help)

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
