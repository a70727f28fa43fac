"""Tab 3, Zombies (seed #9): every sub-agent wrapper, its state and result; the selected one's tree."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from cockpit import timefmt
from cockpit.observe.wrappers import ResultLine, WrapperView
from cockpit.supervisor import Report
from cockpit.tui.render import Cells, json_block, kv_grid, section
from cockpit.tui.tabs.base import TabView
from cockpit.tui.widgets import KeyedTable

WRAPPER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", "wrapper"), ("pid", "pid"), ("state", "state"), ("since", "since"), ("result", "result"),
    ("agent", "agent"),
)
WRAPPER_COLUMN_WIDTHS: dict[str, int] = {"name": 13, "pid": 7, "state": 8, "since": 5, "result": 17, "agent": 8}
WRAPPER_STATE_STYLES = {"running": "green", "finished": "dim", "zombie": "bold yellow", "reaped": "magenta"}


def result_text(result: ResultLine | None) -> Text:
    """``success``, or ``error_max_turns ✗`` when the run failed (SPEC §2: success needs is_error false)."""
    if result is None:
        return Text("-", style="dim")
    subtype = result.subtype or "?"
    if result.success:
        return Text(subtype, style="green")
    return Text(f"{subtype}{' ✗' if result.is_error else ''}", style="red")


def wrapper_cells(view: WrapperView) -> Cells:
    state = Text(view.state, style=WRAPPER_STATE_STYLES.get(view.state, ""))
    agent = Text(view.agent or "-", style="bold" if view.agent else "dim")
    if view.orphan:
        agent.append("✗", style="bold red")  # its parent agent is gone: an orphan
    cells = {
        "name": Text(view.name, style="bold"),
        "pid": Text(str(view.pid)),
        "state": state,
        "since": Text(timefmt.age(view.result_age_s)) if view.result_age_s is not None else Text("-", style="dim"),
        "result": result_text(view.result),
        "agent": agent,
    }
    return tuple(cells[key] for key, _ in WRAPPER_COLUMNS)


def wrapper_detail(view: WrapperView | None) -> RenderableType:
    """A wrapper's evidence: what it runs, its result line, its process tree, its completion record."""
    if view is None:
        return Text("Select a wrapper to see its process tree and result line.", style="dim")
    parts: list[RenderableType] = []
    head = Text.assemble((view.name, "bold"), "  ", (view.state, WRAPPER_STATE_STYLES.get(view.state, "")))
    if view.zombie_reason == "after_result" and view.result_age_s is not None:
        head.append(f": still alive {timefmt.age(view.result_age_s)} after its result line", style="yellow")
    elif view.zombie_reason == "orphan":
        head.append(f": its parent agent {view.agent or ''} is gone".replace("  ", " "), style="yellow")
    parts.append(head)
    rows: list[tuple[str, RenderableType]] = [
        ("id", Text(f"{view.id}  (pid:start; a pid alone is not an identity)")),
        ("agent", Text(view.agent or "none found (not under an agent's pane)")),
        ("command", Text(view.command or "-")),
        ("output", Text(view.output or "-", style="dim")),
    ]
    if view.registered:
        rows.append(("registered", Text(f"by cockpit wrap, spawn {view.spawn_id or '?'}")))
    if view.pane:
        rows.append(("window", Text(view.pane)))
    if view.bad_lines:
        rows.append(("bad lines", Text(str(view.bad_lines), style="yellow")))
    parts.append(kv_grid(rows))
    parts.append(section("result line"))
    if view.result is None:
        parts.append(Text("no result line yet", style="dim"))
    else:
        parts.append(Text(json_block(view.result.to_json())))
    parts.append(section("process tree" if view.alive else "process tree (as last seen alive)"))
    if view.tree:
        tree = Table.grid(padding=(0, 2))
        for column in ("pid", "pgid", "command"):
            tree.add_column(header=column, style="dim" if column == "pgid" else "")
        for proc in view.tree:
            indent = "  " if proc.pid != view.pid else ""
            tree.add_row(f"{indent}{proc.pid}", str(proc.pgid), Text(proc.command[:300]))
        parts.append(tree)
    else:
        parts.append(Text("-", style="dim"))
    if view.exit:
        parts.append(section("completion record"))
        parts.append(Text(json_block(dict(view.exit))))
    return Group(*parts)


class WrapperTable(KeyedTable):
    """Seed #9: every sub-agent wrapper, one row per wrapper id (pid:start)."""

    COLUMNS = WRAPPER_COLUMNS
    WIDTHS = WRAPPER_COLUMN_WIDTHS


class ZombiesTab(TabView):
    """One row per wrapper id (pid:start); ``k`` here reaps the selected wrapper."""

    KEY = "3"
    LABEL = "Zombies"
    NAME = "zombies"

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.wrappers: dict[str, WrapperView] = {}

    def make_table(self) -> WrapperTable:
        return WrapperTable(id=self.table_id())

    def update(self, report: Report) -> None:
        super().update(report)
        self.wrappers = {w.id: w for w in report.wrappers}

    def badge(self) -> int:
        return sum(1 for w in self.wrappers.values() if w.state == "zombie")

    def show(self) -> None:
        table = self.table
        with self.app.batch_update():
            table.show_rows([(key, wrapper_cells(view)) for key, view in self.wrappers.items()])
        table.border_subtitle = (f"{len(self.wrappers)} wrappers · {self.badge()} zombies" if self.wrappers
                                 else "no wrappers ([[wrappers]] rules and cockpit wrap runs)")
        self.show_detail()

    def show_detail(self) -> None:
        key = self.selected_key
        view = self.wrappers.get(key) if key is not None else None
        self.detail.show(wrapper_detail(view), key=key, signature=view)
