"""Tab 5, Journal: every journal row newest first (this cockpit's, other cockpits' and the CLI's), and the
selected row's evidence: before/after, quoted turns, captured screens."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from rich.console import Group, RenderableType
from rich.text import Text
from textual.widgets import DataTable

from cockpit import timefmt
from cockpit.tui.render import Cells, json_block, split_screens, split_texts, text_or_dash
from cockpit.tui.tabs.base import TabView
from cockpit.tui.widgets import EvidencePane

JOURNAL_MAX_ROWS = 1000     # newest rows kept in the table; the file keeps them all

JOURNAL_KIND_STYLES = {
    "action": "", "finding": "yellow", "resolved": "green", "refused": "magenta", "alert": "bold red",
    "info": "dim",
}


def journal_time(row: Mapping[str, Any]) -> str:
    """``HH:MM:SS`` of the row's UTC timestamp (as written; never converted by the local clock)."""
    return timefmt.clock_time(timefmt.parse(row.get("ts")))


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
        text_or_dash(row.get("agent"), "bold"),
        Text(summary),
    )


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
            parts.append(Text(json_block(row[key])))
    evidence = row.get("evidence")
    screens: list[tuple[str, str]] = []
    if isinstance(evidence, Mapping):
        screens, evidence = split_screens(evidence)
    texts: list[tuple[str, str]] = []
    if isinstance(evidence, Mapping):
        texts, evidence = split_texts(evidence)
    for title, text in texts:  # a fold's quote and both turns, a canary's output: read as text, not JSON
        parts.append(Text(f"\n{title}", style="bold underline"))
        parts.append(Text(text.rstrip("\n")))
    if evidence:
        parts.append(Text("\nevidence", style="bold underline"))
        parts.append(Text(json_block(evidence)))
    for key, screen in screens:
        parts.append(Text(f"\ncaptured {key.replace('_', ' ')}", style="bold underline"))
        parts.append(Text.from_ansi(screen.rstrip("\n"), no_wrap=True, overflow="crop"))
    return Group(*parts)


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


class JournalDetail(EvidencePane):
    """The selected journal row's evidence."""

    _row: Mapping[str, Any] | None = None

    def show_row(self, row: Mapping[str, Any] | None) -> None:
        if row is self._row and row is not None:
            return  # the same row: keep the operator's scroll position
        self._row = row
        self.show(journal_detail(row))


class JournalTab(TabView):
    """Fed by the journal reader (not by the report): rows are added as the file grows."""

    KEY = "5"
    LABEL = "Journal"
    NAME = "journal"

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.rows: dict[str, dict[str, Any]] = {}
        self.bad_lines = 0
        self._seq = 0

    def make_table(self) -> JournalTable:
        return JournalTable(id=self.table_id())

    def make_detail(self) -> JournalDetail:
        return JournalDetail(id=f"{self.NAME}-detail", classes="detail")

    def add_rows(self, rows: Sequence[dict[str, Any]], *, bad_lines: int = 0, reset: bool = False) -> None:
        """New rows on top; an older row the operator is reading stays under the cursor."""
        table = self.table
        reading = self._cursor_key()
        with self.app.batch_update():
            if reset:  # the file was replaced (pruned): its rows start over
                table.clear()
                self.rows.clear()
                self.bad_lines = 0
            self.bad_lines += bad_lines
            for row in rows:
                self._seq += 1
                key = f"j{self._seq}"
                self.rows[key] = row
                table.add_row(*journal_cells(self._seq, row), key=key)
            while len(self.rows) > JOURNAL_MAX_ROWS:
                oldest = next(iter(self.rows))
                table.remove_row(oldest)
                del self.rows[oldest]
            if rows:
                table.sort("seq", key=lambda cell: int(cell.plain), reverse=True)
                if reading is not None and reading in self.rows:
                    table.move_cursor(row=table.get_row_index(reading), animate=False)
                else:
                    table.move_cursor(row=0, animate=False)
        bad = f" · {self.bad_lines} bad lines" if self.bad_lines else ""
        table.border_subtitle = f"{len(self.rows)} rows{bad}"
        self.show_detail()

    def _cursor_key(self) -> str | None:
        """The row under the cursor, unless it is the newest (the cursor then follows new rows)."""
        table = self.table
        if not table.row_count or table.cursor_row == 0:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def show_detail(self) -> None:
        table = self.table
        row = None
        if table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            row = self.rows.get(str(key))
        self.query_one(JournalDetail).show_row(row)
