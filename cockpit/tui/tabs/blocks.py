"""Tab 2, Blocks (seed #7): event-loop blocks newest first; the selected block's culprit and stack."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from cockpit import timefmt
from cockpit.observe.loopwatch import Block
from cockpit.supervisor import Report
from cockpit.tui.render import Cells, kv_grid, section
from cockpit.tui.tabs.base import TabView
from cockpit.tui.widgets import KeyedTable

BLOCK_COLUMNS: tuple[tuple[str, str], ...] = (
    ("time", "time"), ("source", "source"), ("duration", "duration"), ("culprit", "culprit"),
)
BLOCK_COLUMN_WIDTHS: dict[str, int] = {"time": 8, "source": 10, "duration": 9, "culprit": 34}
MAX_BLOCK_ROWS = 200


def block_key(block: Block) -> str:
    return f"{block.source}|{block.start:.6f}|{block.duration_ms:.1f}"


def _duration(ms: float) -> str:
    return f"{ms:.0f} ms" if ms < 10_000 else f"{ms / 1000:.1f} s"


def block_cells(block: Block, loop_block_ms: float = 250.0) -> Cells:
    untracked = block.culprit in ("untracked", "unsampled")
    return (
        Text(timefmt.clock_time(block.start)),
        Text(block.source, style="bold"),
        Text(_duration(block.duration_ms), style="bold red" if block.duration_ms >= 4 * loop_block_ms else "yellow"),
        Text(block.culprit, style="bold yellow" if untracked else ""),
    )


_FRAME_PREFIXES = tuple(sorted({p.rstrip("/") + "/" for p in sys.path if p.startswith("/")}, key=len, reverse=True))


def short_frame(frame: str) -> str:
    """``/usr/lib/python3.11/asyncio/events.py:80 in _run`` → ``asyncio/events.py:80 in _run``."""
    for prefix in _FRAME_PREFIXES:
        if frame.startswith(prefix):
            return frame[len(prefix):]
    return frame


def block_detail(block: Block | None) -> RenderableType:
    """A block's evidence: who held the loop, for how long, and the stack sampled during the stall."""
    if block is None:
        return Text("Select a block to see its culprit and stack.", style="dim")
    parts: list[RenderableType] = [Text.assemble(
        (f"{block.source} event loop blocked {_duration(block.duration_ms)}", "bold"),
        f" at {timefmt.clock_time(block.start)} UTC by ", (block.culprit, "bold yellow"))]
    rows: list[tuple[str, RenderableType]] = []
    if block.scopes:
        rows.append(("tracked", Text(" › ".join(block.scopes))))
    rows.append(("samples", Text(str(block.samples))))
    if block.line:
        rows.append(("log line", Text(block.line)))
    parts.append(kv_grid(rows))
    parts.append(section("stack (innermost first)"))
    if block.stack:
        # innermost first: in a small pane the frame that held the loop is the one in view
        frames = [short_frame(f) for f in reversed(block.stack)]
        stack = Text("\n").join(Text(("→ " if i == 0 else "  ") + frame, style="bold" if i == 0 else "dim")
                                 for i, frame in enumerate(frames))
        parts.append(stack)
    else:
        parts.append(Text("none: an external log line carries no stack" if block.line else "not sampled",
                          style="dim"))
    return Group(*parts)


class BlockTable(KeyedTable):
    """Seed #7: event-loop blocks, newest first."""

    COLUMNS = BLOCK_COLUMNS
    WIDTHS = BLOCK_COLUMN_WIDTHS
    FOLLOW_TOP = True


class BlocksTab(TabView):
    """The supervisor's and the UI's loop blocks over ``loop_block_ms``, newest first."""

    KEY = "2"
    LABEL = "Blocks"
    NAME = "blocks"

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.blocks: dict[str, Block] = {}

    def make_table(self) -> BlockTable:
        return BlockTable(id=self.table_id())

    def update(self, report: Report) -> None:
        super().update(report)
        self.blocks = {block_key(b): b for b in report.blocks[-MAX_BLOCK_ROWS:]}

    def badge(self) -> int:
        return len(self.blocks)

    def show(self) -> None:
        table = self.table
        threshold = float(self.config.supervisor.loop_block_ms)
        newest_first = sorted(self.blocks.items(), key=lambda item: -item[1].start)
        with self.app.batch_update():
            table.show_rows([(key, block_cells(block, threshold)) for key, block in newest_first])
        table.border_subtitle = f"{len(self.blocks)} blocks" if self.blocks else f"no block over {threshold:g} ms yet"
        self.show_detail()

    def show_detail(self) -> None:
        key = self.selected_key
        block = self.blocks.get(key) if key is not None else None
        self.detail.show(block_detail(block), key=key, signature=block)
