"""Tab 4, Reminders (seed #6): open reminders and those finished in the last day, with their delivery
evidence; ``n`` adds one, ``x`` cancels the selected one."""

from __future__ import annotations

from typing import Any, Sequence

from rich.console import Group, RenderableType
from rich.text import Text
from textual.widgets.data_table import ColumnKey

from cockpit import timefmt
from cockpit.reminders import Reminder
from cockpit.supervisor import Report
from cockpit.tui.render import Cells, json_block, kv_grid, section, split_screens, truncate, when_text
from cockpit.tui.tabs.base import TabView
from cockpit.tui.widgets import KeyedTable

REMINDER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("due", "due"), ("agent", "agent"), ("verb", "verb"), ("text", "text"), ("state", "state"),
    ("outcome", "latency / why"),
)
# "text" takes what the pane leaves (REMINDER_TEXT_MIN..REMINDER_TEXT_MAX); the detail shows it whole.
REMINDER_COLUMN_WIDTHS: dict[str, int] = {
    "due": 8, "agent": 8, "verb": 6, "text": 14, "state": 9, "outcome": 18,
}
REMINDER_TEXT_MIN = 6
REMINDER_TEXT_MAX = 60
REMINDER_LATE_SHOWN_S = 5.0  # a firing later than this after its due time says so in the table (a tick is ~1-2 s)
REMINDER_STATE_STYLES = {
    "scheduled": "cyan", "waiting": "yellow", "fired": "bold cyan", "delivered": "green", "missed": "bold red",
    "cancelled": "dim",
}


def reminder_outcome(reminder: Any) -> Text:
    """Delivery latency, how late the first firing was, or why it waits."""
    out = Text()
    if reminder.latency_s is not None:
        out.append(f"in {reminder.latency_s:.1f}s", style="green")
        if reminder.via:
            out.append(f" {reminder.via}", style="dim")
    if reminder.state == "missed":
        tries = f"{reminder.attempts} {'try' if reminder.attempts == 1 else 'tries'}"
        out.append((" · " if out.plain else "") + f"{tries}, none seen", style="red")
    elif reminder.attempts > 1:
        out.append((" · " if out.plain else "") + f"try {reminder.attempts}", style="yellow")
    if reminder.late_by_s and reminder.late_by_s >= REMINDER_LATE_SHOWN_S:
        out.append((" · " if out.plain else "") + f"late {timefmt.age(reminder.late_by_s)}", style="yellow")
    if reminder.why:
        out.append((" · " if out.plain else "") + reminder.why, style="yellow")
    return out if out.plain else Text("-", style="dim")


def reminder_cells(reminder: Any) -> Cells:
    """One row of the Reminders tab."""
    state = reminder.state
    return (
        Text(timefmt.clock_time(reminder.due_at)),
        Text(reminder.agent, style="bold"),
        Text(reminder.verb, style="magenta" if reminder.verb == "wake" else ""),
        Text(truncate(reminder.text, REMINDER_TEXT_MAX)),
        Text(state, style=REMINDER_STATE_STYLES.get(state, "")),
        reminder_outcome(reminder),
    )


def reminder_detail(reminder: Any, now: float) -> RenderableType:
    """A reminder's delivery evidence: its times, each verdict, what was typed and what the agent showed."""
    if reminder is None:
        return Text("Select a reminder to see its delivery evidence. n adds one, x cancels the selected one.",
                    style="dim")
    parts: list[RenderableType] = []
    parts.append(Text.assemble((reminder.id, "bold"), "  ", (reminder.verb, "magenta"), " ",
                               (reminder.agent, "bold"), "  ",
                               (reminder.state, REMINDER_STATE_STYLES.get(reminder.state, ""))))
    rows: list[tuple[str, RenderableType]] = [
        ("text", Text(reminder.text)),
        ("due", when_text(reminder.due_at, now)),
        ("created", Text.assemble(when_text(reminder.created_at, now), (f"  by {reminder.by}" if reminder.by else "",
                                                                        "dim"))),
        ("attempts", Text(str(reminder.attempts))),
    ]
    if reminder.pending and reminder.next_at and reminder.next_at != reminder.due_at:
        rows.append(("next try", when_text(reminder.next_at, now)))
    if reminder.fired_at is not None:
        rows.append(("fired", when_text(reminder.fired_at, now)))
    if reminder.late_by_s:
        rows.append(("late by", Text(f"{reminder.late_by_s:.1f}s", style="yellow")))
    if reminder.delivered_at is not None:
        rows.append(("delivered", when_text(reminder.delivered_at, now)))
    if reminder.latency_s is not None:
        rows.append(("latency", Text(f"{reminder.latency_s:.1f}s" + (f" (via {reminder.via})" if reminder.via else ""),
                                     style="green")))
    if reminder.missed_at is not None:
        rows.append(("missed", when_text(reminder.missed_at, now)))
    if reminder.cancelled_at is not None:
        rows.append(("cancelled", when_text(reminder.cancelled_at, now)))
    if reminder.why:
        rows.append(("why", Text(reminder.why, style="yellow")))
    if reminder.pane:
        rows.append(("pane", Text(reminder.pane)))
    rows.append(("if down", Text("respawn the agent first" if reminder.respawn_if_down else "wait for it",
                                 style="dim")))
    parts.append(kv_grid(rows))
    evidence = dict(reminder.evidence or {})
    if evidence:
        screens, rest = split_screens(evidence)
        if rest:
            parts.append(section("evidence"))
            parts.append(Text(json_block(rest)))
        for key, screen in screens:
            parts.append(section(f"captured {key.replace('_', ' ')}"))
            parts.append(Text.from_ansi(screen.rstrip("\n"), no_wrap=True, overflow="crop"))
    return Group(*parts)


class ReminderTable(KeyedTable):
    """Seed #6: open reminders and those finished in the last day, by due time.

    The text column takes the width the pane leaves, so the row fits without sideways scrolling
    (the detail below shows the whole text); the agent column fits the fleet's names.
    """

    COLUMNS = REMINDER_COLUMNS
    WIDTHS = REMINDER_COLUMN_WIDTHS

    def __init__(self, names: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._agent_width = min(24, max([len("agent"), *(len(n) for n in names)])) if names else \
            REMINDER_COLUMN_WIDTHS["agent"]
        self._text_width = REMINDER_COLUMN_WIDTHS["text"]

    def column_width(self, key: str) -> int | None:
        if key == "agent":
            return self._agent_width
        if key == "text":
            return self._text_width
        return super().column_width(key)

    def text_width_for(self, width: int) -> int:
        """The text column's width in a table ``width`` cells wide (the others keep theirs)."""
        others = sum(self.column_width(key) or 0 for key, _ in self.COLUMNS if key != "text")
        padding = 2 * self.cell_padding * len(self.COLUMNS)
        scrollbar = self.styles.scrollbar_size_vertical or 0
        gutter = self.styles.gutter.width  # the table's own border and padding
        return max(REMINDER_TEXT_MIN, min(REMINDER_TEXT_MAX, width - gutter - others - padding - scrollbar))

    def on_resize(self, event: Any) -> None:
        self.fit_text(event.size.width)

    def fit_text(self, width: int) -> None:
        wanted = self.text_width_for(width)
        if wanted == self._text_width:
            return
        self._text_width = wanted
        column = self.columns.get(ColumnKey("text"))
        if column is None:  # not mounted yet: on_mount adds it at this width
            return
        column.width = wanted
        # DataTable has no public "resize a column": drop its cached layout and measure again
        # (textual is pinned; the Reminders snapshot tests catch a change here).
        self._clear_caches()
        self._require_update_dimensions = True
        self.refresh()


class RemindersTab(TabView):
    """One row per reminder, by due time."""

    KEY = "4"
    LABEL = "Reminders"
    NAME = "reminders"

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.reminders: dict[str, Reminder] = {}

    def make_table(self) -> ReminderTable:
        return ReminderTable(names=[a.name for a in self.config.agents], id=self.table_id())

    def update(self, report: Report) -> None:
        super().update(report)
        self.reminders = {r.id: r for r in report.reminders}

    def badge(self) -> int:
        return sum(1 for r in self.reminders.values() if not r.done)

    def show(self) -> None:
        table = self.table
        ordered = sorted(self.reminders.values(), key=lambda r: (r.due_at, r.id))
        with self.app.batch_update():
            table.show_rows([(r.id, reminder_cells(r)) for r in ordered])
        table.border_subtitle = (f"{len(ordered)} reminders · {self.badge()} open" if ordered
                                 else "no reminders (n adds one; cockpit remind from a shell)")
        self.show_detail()

    def show_detail(self) -> None:
        key = self.selected_key
        reminder = self.reminders.get(key) if key is not None else None
        now = self.report.at if self.report is not None else 0.0  # no report: no reminder, the placeholder
        self.detail.show(reminder_detail(reminder, now), key=key, signature=reminder)
