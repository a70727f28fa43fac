"""The cockpit's generic widgets: the fleet header, the diffed keyed table, the pane preview, the
filter bar and the evidence pane. The tabs (``cockpit.tui.tabs``) build on them.

Widgets only render what the supervisor reported; formatting lives in small pure
functions (here and in ``cockpit.tui.render``) so tests and screenshots see exactly what operators see.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from rich.console import RenderableType
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

from cockpit.findings import Severity
from cockpit.supervisor import Report
from cockpit.tui.render import SEVERITY_MARKS, Cells

UP_STATUSES = frozenset({"running", "working", "idle", "needs_input"})


@dataclass(frozen=True)
class HeaderState:
    """What the header line shows; rendered wide or compact by the header's own width."""
    title: str = "cockpit"
    report: Report | None = None
    lag_ms: float | None = None
    read_only: bool = False
    demo: bool = False
    lag_history: tuple[float, ...] = ()  # the supervisor's loop lag per tick (Report.loop_lag_ms), oldest first


COMPACT_BELOW = 112  # columns: under this the header abbreviates so every part still fits
SPARK_WIDE = 20      # bars of the loop-lag sparkline: 60 ticks at 3 a bar
SPARK_COMPACT = 10   # 60 ticks at 6 a bar


def header_content(state: HeaderState, *, compact: bool = False, spark_width: int | None = None) -> Content:
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
        hosts = report.hosts
        if hosts:  # SPEC §9: the fleet spans machines; how many answer
            reached = sum(1 for h in hosts if h.ok)
            parts.append((f" {reached}/{len(hosts)}h" if compact else f" · hosts {reached}/{len(hosts)}",
                          "$text-success" if reached == len(hosts) else "bold $text-error"))
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
        elif not report.tmux_server:
            parts.append(("no tmux" if compact else "no tmux server", "bold $text-warning"))
            parts.append(sep)
        bad = sum(entry.get("total", 0) for entry in report.bad_lines.values())
        if bad:  # SPEC §6: bad lines are counted and shown (check --json says which, by reason)
            parts.append((f"{bad} bad" if compact else f"{bad} bad lines", "$text-warning"))
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
    if state.lag_history:
        parts.append(" ")
        width = spark_width or (SPARK_COMPACT if compact else SPARK_WIDE)
        for char, value in sparkline(state.lag_history, width):
            parts.append((char, "$text-error" if value >= SPARK_FLOOR_MS else
                          "$text-warning" if value >= SPARK_FLOOR_MS / 4 else "$text-muted"))
    if report is not None:
        parts.append(sep)
        parts.append(("leader", "$text-success") if report.leader else ("follower", "$text-muted"))
    return Content.assemble(*parts)


SPARK_CHARS = "▁▂▃▄▅▆▇█"
SPARK_FLOOR_MS = 100.0  # the scale never goes below this: idle jitter stays flat, a stall stands out


def sparkline(values: Sequence[float], width: int, *, floor_ms: float = SPARK_FLOOR_MS) -> list[tuple[str, float]]:
    """``width`` bars over ``values`` (oldest first): each bar the worst value of its share, as (char, ms).

    Fewer values than bars: the line is right-aligned (blank bars first, value NaN).
    """
    values = [max(0.0, float(v)) for v in values]
    if width <= 0:
        return []
    per = max(1, -(-len(values) // width))  # ceil: every value lands in a bar
    bins = [max(values[i:i + per]) for i in range(0, len(values), per)][-width:]
    top = max([floor_ms, *bins])
    out = [(" ", float("nan"))] * (width - len(bins))
    for value in bins:
        level = min(len(SPARK_CHARS) - 1, int(value / top * (len(SPARK_CHARS) - 1) + 0.5))
        out.append((SPARK_CHARS[level], value))
    return out


class FleetHeader(Widget):
    """One line: fleet health, findings by severity, tick cost, loop lag, leader/follower, badges."""

    state: reactive[HeaderState] = reactive(HeaderState)

    def render(self) -> Content:
        if self.size.width >= COMPACT_BELOW:
            # wide, unless its badges and sparkline would not fit: a shorter sparkline first, then compact
            for spark in (SPARK_WIDE, SPARK_COMPACT):
                full = header_content(self.state, spark_width=spark)
                if full.cell_length <= self.size.width:
                    return full
        return header_content(self.state, compact=True)


def _signature(cells: Sequence[Text]) -> tuple[tuple[str, str, tuple[Any, ...]], ...]:
    return tuple((c.plain, str(c.style), tuple(c.spans)) for c in cells)


class KeyedTable(DataTable[Text]):
    """Rows keyed by identity (an agent's name, a wrapper's id...), updated by diffing (Dolphie style):
    gone rows removed, changed cells updated in place, new rows added; never cleared and rebuilt.

    Columns have fixed widths: a cell that shrinks would make DataTable re-measure the whole
    column, and with a few hundred rows that turns one tick into a loop stall (seed #7).
    The cursor stays on the row it was on, by key, when rows come and go around it.
    """

    COLUMNS: tuple[tuple[str, str], ...] = ()
    WIDTHS: Mapping[str, int] = {}
    FOLLOW_TOP = False  # a cursor on the first row stays there when newer rows are added above it

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cursor_type", "row")
        super().__init__(**kwargs)
        self._shown: dict[str, tuple[Any, ...]] = {}  # key -> what each cell shows, to diff against
        self._first: dict[str, Text] = {}  # key -> its first cell as stored (what a re-order sorts by)
        self._given: dict[str, Cells] = {}  # key -> the cells object last given: the same object is unchanged

    def column_width(self, key: str) -> int | None:
        return self.WIDTHS.get(key)

    def on_mount(self) -> None:
        for key, label in self.COLUMNS:
            self.add_column(label, key=key, width=self.column_width(key))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # enter belongs to the app's "attach" binding (remappable), not to DataTable's select.
        if action == "select_cursor":
            return False
        return super().check_action(action, parameters)

    @property
    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except CellDoesNotExist:
            return None
        return str(key.value) if key.value is not None else None

    def select_key(self, key: str) -> bool:
        if key not in self._shown:
            return False
        self.move_cursor(row=self.get_row_index(key), animate=False)
        return True

    def show_rows(self, rows: Sequence[tuple[str, Cells]]) -> None:
        """Make the table show exactly ``rows`` (in order): remove gone rows, update changed cells, add new ones."""
        wanted = {key: cells for key, cells in rows}
        under_cursor = self.selected_key
        at_top = self.cursor_row == 0
        for key in [k for k in self._shown if k not in wanted]:
            self.remove_row(key)
            del self._shown[key]
            del self._first[key]
            self._given.pop(key, None)
        for key, cells in rows:
            if self._given.get(key) is cells:
                continue  # the very cells shown already (a remembered row): nothing to compare
            self._given[key] = cells
            signature = _signature(cells)
            old = self._shown.get(key)
            if old is None:
                self.add_row(*cells, key=key)
                self._first[key] = cells[0]
            elif old != signature:
                for i, ((column, _), before, after, cell) in enumerate(
                        zip(self.COLUMNS, old, signature, cells, strict=True)):
                    if before != after:
                        self.update_cell(key, column, cell)
                        if i == 0:
                            self._first[key] = cell
            self._shown[key] = signature
        if list(self._shown) != list(wanted):
            order = {id(self._first[key]): i for i, key in enumerate(wanted)}
            self.sort(key=lambda row: order.get(id(row[0]), len(order)))
            self._shown = {key: self._shown[key] for key in wanted}
        if not self.row_count:
            return
        if self.FOLLOW_TOP and at_top:
            target = 0
        elif under_cursor is not None and under_cursor in self._shown:
            target = self.get_row_index(under_cursor)
        else:
            target = min(self.cursor_row, self.row_count - 1)
        if target != self.cursor_row:
            self.move_cursor(row=target, animate=False)


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


class EvidencePane(VerticalScroll):
    """The evidence of the row selected in the table above it; keeps its scroll while the row stays."""

    PLACEHOLDER = "Select a row to see its evidence."

    _shown_key: Any = None
    _shown_signature: Any = None

    def compose(self) -> ComposeResult:
        yield Static(Text(self.PLACEHOLDER, style="dim"), classes="evidence-body")

    def show(self, renderable: RenderableType, *, key: Any = None, signature: Any = None) -> None:
        """Show ``renderable`` for row ``key``; ``signature`` unchanged on the same key: nothing to redraw."""
        if key is not None and key == self._shown_key and signature == self._shown_signature:
            return
        same_row = key is not None and key == self._shown_key
        self._shown_key, self._shown_signature = key, signature
        self.query_one(".evidence-body", Static).update(renderable)
        if not same_row:
            self.scroll_home(animate=False)


@dataclass(frozen=True)
class KeyHelp:
    """One line of the help screen."""
    key: str
    description: str
    tooltip: str = ""
    enabled: bool = True
