"""The cockpit's widgets: the fleet header, the agents table, the pane preview, the journal.

Widgets only render what the supervisor reported; formatting lives in small pure
functions next to them so tests and screenshots see exactly what operators see.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from rich.console import Group, RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import DataTable, Input, Static
from textual.widgets.data_table import CellDoesNotExist

from cockpit.findings import Finding, Severity
from cockpit.judge.agents import AgentStatus
from cockpit.lifecycle import AgentState
from cockpit.registry import parse_ts
from cockpit.supervisor import Report

UP_STATUSES = frozenset({"running", "working", "idle", "needs_input"})
STATUS_STYLES = {
    "running": "green", "working": "bold green", "idle": "green", "needs_input": "bold yellow",
    "starting": "cyan", "backoff": "yellow", "down": "red", "fatal": "bold white on red", "unknown": "dim",
}
SEVERITY_STYLES = {Severity.CRITICAL: "bold red", Severity.WARNING: "yellow", Severity.INFO: "dim"}
SEVERITY_MARKS = {Severity.CRITICAL: "✖", Severity.WARNING: "▲", Severity.INFO: "●"}

Cells = tuple[Text, ...]
AGENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", "agent"), ("state", "state"), ("finding", "worst finding"), ("pid", "pid"), ("pane", "pane"),
    ("port", "port"), ("session", "session"), ("turn", "turn"), ("restarts", "restarts"), ("kind", "kind"),
)
# Fixed widths: a cell that shrinks would make DataTable re-measure the whole column, and with a
# few hundred rows that turns one tick into a loop stall (seed #7).
AGENT_COLUMN_WIDTHS: dict[str, int] = {
    "name": 8, "state": 11, "finding": 24, "pid": 7, "pane": 5, "port": 7, "session": 9, "turn": 5,
    "restarts": 8, "kind": 11,
}


# --- formatting (pure) --------------------------------------------------------------------------


def short_age(seconds: float | None) -> str:
    """``12s``, ``4m``, ``3h``, ``2d``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def shown_status(agent: AgentStatus) -> str:
    """What the state column says: the status, or ``backoff`` while a respawn waits out its backoff."""
    if agent.status == "down" and agent.state is AgentState.BACKOFF:
        return "backoff"
    return agent.status


def worst_by_agent(findings: Iterable[Finding]) -> dict[str, tuple[Finding, int]]:
    """Each agent's worst finding and how many it has."""
    out: dict[str, tuple[Finding, int]] = {}
    for finding in findings:
        if finding.agent is None:
            continue
        current = out.get(finding.agent)
        if current is None:
            out[finding.agent] = (finding, 1)
        else:
            top = finding if finding.severity.rank > current[0].severity.rank else current[0]
            out[finding.agent] = (top, current[1] + 1)
    return out



def agent_cells(agent: AgentStatus, worst: tuple[Finding, int] | None, now: float) -> Cells:
    """One row of the agents table, cell by cell."""
    status = shown_status(agent)
    port = Text("-", style="dim")
    if agent.port is not None:
        port = Text(str(agent.port)) if agent.port_listening else Text(f"{agent.port}✗", style="red")
    session = agent.disk_session or agent.route_session
    session_text = Text(session[:8] if session else "-", style="" if session else "dim")
    if agent.route_session and agent.disk_session and agent.route_session != agent.disk_session:
        session_text.append("≠", style="bold red")
    turn_ts = parse_ts(agent.last_turn_at) if agent.last_turn_at else None
    finding = Text("-", style="dim")
    if worst is not None:
        top, count = worst
        finding = Text(f"{SEVERITY_MARKS[top.severity]} {top.kind}", style=SEVERITY_STYLES[top.severity])
        if count > 1:
            finding.append(f" +{count - 1}", style="dim")
    cells = {
        "name": Text(agent.name, style="bold"),
        "state": Text(status, style=STATUS_STYLES.get(status, "")),
        "finding": finding,
        "pid": Text(str(agent.pid) if agent.pid else "-", style="" if agent.pid else "dim"),
        "pane": Text(agent.pane or "-", style="" if agent.pane else "dim"),
        "port": port,
        "session": session_text,
        "turn": Text(short_age(now - turn_ts) if turn_ts is not None else "-", style="" if turn_ts else "dim"),
        "restarts": Text(str(agent.restarts), style="yellow" if agent.restarts else "dim"),
        "kind": Text(agent.kind),
    }
    return tuple(cells[key] for key, _ in AGENT_COLUMNS)


def agent_matches(agent: AgentStatus, worst: tuple[Finding, int] | None, query: str) -> bool:
    """The ``/`` filter: a case-insensitive substring of name, kind, state or finding."""
    query = query.strip().casefold()
    if not query:
        return True
    fields = [agent.name, agent.kind, agent.status, shown_status(agent)]
    if worst is not None:
        fields.append(worst[0].kind)
    return any(query in field.casefold() for field in fields)


@dataclass(frozen=True)
class HeaderState:
    """What the header line shows; rendered wide or compact by the header's own width."""
    title: str = "cockpit"
    report: Report | None = None
    lag_ms: float | None = None
    read_only: bool = False
    demo: bool = False


COMPACT_BELOW = 112  # columns: under this the header abbreviates so every part still fits


def header_content(state: HeaderState, *, compact: bool = False) -> Content:
    """The one header line: fleet health, findings by severity, tick cost, loop lag, role, badges."""
    report = state.report
    sep = (" │ ", "$text-muted")
    parts: list[str | tuple[str, str]] = [(f" {state.title} ", "bold $text-accent")]
    if state.demo:
        parts.append(("DEMO " if compact else " DEMO ", "bold $text-warning on $warning-muted"))
    if state.read_only:
        parts.append(("RO" if compact else " READ-ONLY ", "bold $text-error on $error-muted"))
    parts.append(sep)
    if report is None:
        parts.append(("waiting for the first tick…", "$text-muted"))
    else:
        up = sum(1 for a in report.agents if a.status in UP_STATUSES)
        total = len(report.agents)
        parts.append((f"{up}/{total} up", "bold $text-success" if up == total else "bold $text-warning"))
        parts.append(sep)
        counts = {s: 0 for s in Severity}
        for finding in report.findings:
            counts[finding.severity] += 1
        styles = ((Severity.CRITICAL, "bold $text-error"), (Severity.WARNING, "$text-warning"),
                  (Severity.INFO, "$text-muted"))
        for i, (severity, style) in enumerate(styles):
            n = counts[severity]
            label = f"{SEVERITY_MARKS[severity]}{n}" if compact else f"{SEVERITY_MARKS[severity]} {n} {severity.value}"
            parts.append((label, style if n else "$text-muted"))
            if i < len(styles) - 1:
                parts.append(" ")
        parts.append(sep)
        if not report.tmux_ok:
            parts.append(("tmux down" if compact else "tmux unreachable", "bold $text-error"))
            parts.append(sep)
        cost = report.cost
        if compact:
            parts.append(f"{cost.wall_ms:.1f}ms {cost.tmux_processes}p")
        else:
            parts.append(f"tick {cost.wall_ms:.1f} ms · {cost.tmux_processes} tmux")
        if report.skipped_ticks:
            parts.append((f" {report.skipped_ticks} skipped", "$text-warning"))
    parts.append(sep)
    if state.lag_ms is None:
        parts.append(("lag -", "$text-muted"))
    else:
        parts.append((f"lag {state.lag_ms:.0f}{'' if compact else ' '}ms",
                      "bold $text-error" if state.lag_ms >= 100 else ""))
    if report is not None:
        parts.append(sep)
        parts.append(("leader", "$text-success") if report.leader else ("follower", "$text-muted"))
    return Content.assemble(*parts)


JOURNAL_KIND_STYLES = {
    "action": "", "finding": "yellow", "resolved": "green", "refused": "magenta", "alert": "bold red",
    "info": "dim",
}


def journal_time(row: Mapping[str, Any]) -> str:
    """``HH:MM:SS`` of the row's UTC timestamp (as written; never converted by the local clock)."""
    ts = row.get("ts")
    if isinstance(ts, str) and "T" in ts:
        return ts.split("T", 1)[1][:8]
    return "-"


def _text(value: Any, style: str = "") -> Text:
    return Text(str(value) if value is not None else "-", style=style if value is not None else "dim")


def journal_event(row: Mapping[str, Any]) -> Text:
    """What happened, in a word: ``respawn ✓``, ``respawn ✗``, ``finding``, ``alert``, ``refused``..."""
    kind = str(row.get("kind", "?"))
    result = row.get("result")
    if kind == "action":
        action = str(row.get("action") or "action")
        mark, style = {"verified": ("✓", "green"), "failed": ("✗", "bold red"), "skipped": ("·", "dim")}.get(
            str(result), ("", ""))
        return Text(f"{action} {mark}".strip(), style=style)
    style = JOURNAL_KIND_STYLES.get(kind, "")
    evidence = row.get("evidence")
    if kind == "finding" and isinstance(evidence, Mapping):
        style = {"critical": "bold red", "warning": "yellow", "info": "dim"}.get(str(evidence.get("severity")), style)
    return Text(kind, style=style)


SUMMARY_CELL_CHARS = 160


def journal_cells(seq: int, row: Mapping[str, Any]) -> Cells:
    summary = " ".join(str(row.get("summary", "")).split())
    if len(summary) > SUMMARY_CELL_CHARS:
        summary = summary[:SUMMARY_CELL_CHARS - 1] + "…"
    return (
        Text(str(seq), style="dim"),
        Text(journal_time(row)),
        journal_event(row),
        _text(row.get("agent"), "bold"),
        Text(summary),
    )


def _json_block(value: Any) -> str:
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(value)


SCREEN_KEYS = ("screen", "previous_screen")


def _split_screens(evidence: Mapping[str, Any]) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """Captured screens (top level, or inside a finding's own evidence) apart from the rest of the evidence."""
    screens = [(k, evidence[k]) for k in SCREEN_KEYS if isinstance(evidence.get(k), str)]
    rest = {k: v for k, v in evidence.items() if k not in SCREEN_KEYS}
    inner = rest.get("evidence")
    if isinstance(inner, Mapping):
        inner_screens, inner_rest = _split_screens(inner)
        screens += inner_screens
        rest["evidence"] = inner_rest
    return screens, rest


def journal_detail(row: Mapping[str, Any] | None) -> RenderableType:
    """A journal row's evidence: summary, who/when, before/after, the evidence, captured screens."""
    if row is None:
        return Text("Select a journal row to see its evidence.", style="dim")
    parts: list[RenderableType] = []
    parts.append(Text(str(row.get("summary", "")), style="bold"))
    meta = Text()
    for key in ("ts", "kind", "agent", "action", "result", "actor"):
        if row.get(key) is not None:
            meta.append(f"{key} ", style="dim")
            meta.append(f"{row[key]}  ")
    parts.append(meta)
    for key in ("before", "after"):
        if key in row:
            parts.append(Text(f"\n{key}", style="bold underline"))
            parts.append(Text(_json_block(row[key])))
    evidence = row.get("evidence")
    screens: list[tuple[str, str]] = []
    if isinstance(evidence, Mapping):
        screens, evidence = _split_screens(evidence)
    if evidence:
        parts.append(Text("\nevidence", style="bold underline"))
        parts.append(Text(_json_block(evidence)))
    for key, screen in screens:
        parts.append(Text(f"\ncaptured {key.replace('_', ' ')}", style="bold underline"))
        parts.append(Text.from_ansi(screen.rstrip("\n"), no_wrap=True, overflow="crop"))
    return Group(*parts)


# --- widgets ------------------------------------------------------------------------------------


class FleetHeader(Widget):
    """One line: fleet health, findings by severity, tick cost, loop lag, leader/follower, badges."""

    state: reactive[HeaderState] = reactive(HeaderState)

    def render(self) -> Content:
        return header_content(self.state, compact=self.size.width < COMPACT_BELOW)


def _signature(cells: Sequence[Text]) -> tuple[tuple[str, str, tuple[Any, ...]], ...]:
    return tuple((c.plain, str(c.style), tuple(c.spans)) for c in cells)


class AgentTable(DataTable[Text]):
    """The agents, one row per agent keyed by name, updated by diffing (Dolphie style)."""

    def __init__(self, names: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._shown: dict[str, tuple[Any, ...]] = {}  # name -> what each cell shows, to diff against
        # The fleet is known from the config: the name column fits its longest name (up to 24).
        self._name_width = min(24, max([AGENT_COLUMN_WIDTHS["name"], *(len(n) for n in names)]))

    def on_mount(self) -> None:
        for key, label in AGENT_COLUMNS:
            width = self._name_width if key == "name" else AGENT_COLUMN_WIDTHS[key]
            self.add_column(label, key=key, width=width)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # enter belongs to the app's "attach" binding (remappable), not to DataTable's select.
        if action == "select_cursor":
            return False
        return super().check_action(action, parameters)

    @property
    def selected_agent(self) -> str | None:
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except CellDoesNotExist:
            return None
        return str(key.value) if key.value is not None else None

    def select_agent(self, name: str) -> bool:
        if name not in self._shown:
            return False
        self.move_cursor(row=self.get_row_index(name))
        return True

    def show_rows(self, rows: Sequence[tuple[str, Cells]]) -> None:
        """Make the table show exactly ``rows`` (in order): remove gone rows, update changed cells, add new ones."""
        wanted = {name: cells for name, cells in rows}
        added = False
        for name in [n for n in self._shown if n not in wanted]:
            self.remove_row(name)
            del self._shown[name]
        for name, cells in rows:
            signature = _signature(cells)
            old = self._shown.get(name)
            if old is None:
                self.add_row(*cells, key=name)
                added = True
            elif old != signature:
                for (column, _), before, after, cell in zip(AGENT_COLUMNS, old, signature, cells, strict=True):
                    if before != after:
                        self.update_cell(name, column, cell)
            self._shown[name] = signature
        if added and list(self._shown) != list(wanted):
            order = {name: i for i, name in enumerate(wanted)}
            self.sort("name", key=lambda cell: order.get(cell.plain, len(order)))
            self._shown = {name: self._shown[name] for name in sorted(self._shown, key=order.__getitem__)}


class PanePreview(Widget):
    """The selected agent's pane, its bottom lines, colours kept (captured with escapes)."""

    DEFAULT_CSS = """
    PanePreview { height: 1fr; }
    """

    screen_text: reactive[Text | None] = reactive(None, layout=False)
    placeholder: reactive[str] = reactive("Select an agent to preview its pane.")

    def show_screen(self, screen: str | None, placeholder: str = "") -> None:
        if screen is None:
            self.screen_text = None
            self.placeholder = placeholder or "(no screen)"
            return
        self.screen_text = Text.from_ansi(screen.rstrip(), no_wrap=True, overflow="crop", end="")

    def render(self) -> RenderableType:
        text = self.screen_text
        if text is None:
            return Text(self.placeholder, style="dim")
        height = max(1, self.content_size.height)
        lines = text.split("\n", allow_blank=True)
        shown = Text("\n", end="").join(lines[-height:])
        shown.no_wrap = True
        shown.overflow = "crop"
        return shown


class FilterBar(Input):
    """The ``/`` filter: narrows the agents table as you type; escape clears it and leaves."""

    BINDINGS = [Binding("escape", "close", "Clear filter")]

    @dataclass
    class Closed(Message):
        """The operator cleared the filter and left it."""

    def action_close(self) -> None:
        self.value = ""
        self.post_message(self.Closed())


class JournalTable(DataTable[Text]):
    """Every journal row, newest first."""

    COLUMNS: tuple[tuple[str, str], ...] = (
        ("seq", "#"), ("time", "time"), ("event", "event"), ("agent", "agent"), ("summary", "summary"),
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", **kwargs)

    def on_mount(self) -> None:
        for key, label in self.COLUMNS:
            self.add_column(label, key=key)


class JournalDetail(VerticalScroll):
    """The selected journal row's evidence."""

    _row: Mapping[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Static(journal_detail(None), id="journal-detail-body")

    def show_row(self, row: Mapping[str, Any] | None) -> None:
        if row is self._row and row is not None:
            return  # the same row: keep the operator's scroll position
        self._row = row
        self.query_one("#journal-detail-body", Static).update(journal_detail(row))
        self.scroll_home(animate=False)


@dataclass(frozen=True)
class KeyHelp:
    """One line of the help screen."""
    key: str
    description: str
    tooltip: str = ""
    enabled: bool = True
