"""What every tab of the lower pane is: a table of rows keyed by identity, the selected row's evidence
below it, and how a report becomes both.

A new tab is one module: subclass ``TabView`` (its key, label and id; its table; ``update`` keeps what
it needs of each report, ``show`` renders it diffed, ``show_detail`` the selected row's evidence) and
list the class in ``cockpit.tui.tabs.TABS``: the app composes it, binds its key, names it in the
palette and the help, and calls it each tick.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.containers import Container
from textual.css.query import NoMatches
from textual.widgets import DataTable, TabPane

from cockpit.config import Config
from cockpit.supervisor import Report
from cockpit.tui.widgets import EvidencePane, KeyedTable


class TabView(TabPane):
    """One tab: ``KEY`` shows it, ``LABEL`` names it (with ``badge()`` when non-zero), ``NAME`` makes its
    ids (``NAME-tab`` the pane, ``NAME-table`` its table, ``NAME-detail`` its evidence)."""

    KEY: ClassVar[str]
    LABEL: ClassVar[str]
    NAME: ClassVar[str]

    def __init__(self, config: Config) -> None:
        super().__init__(self.LABEL, id=self.pane_id())
        self.config = config
        self.report: Report | None = None

    @classmethod
    def pane_id(cls) -> str:
        return f"{cls.NAME}-tab"

    @classmethod
    def table_id(cls) -> str:
        return f"{cls.NAME}-table"

    @classmethod
    def binding_id(cls) -> str:
        return f"tab_{cls.KEY}"

    # --- what a tab module provides -----------------------------------------------------------

    def make_table(self) -> DataTable[Any]:
        raise NotImplementedError

    def make_detail(self) -> EvidencePane:
        return EvidencePane(id=f"{self.NAME}-detail", classes="detail")

    def update(self, report: Report) -> None:
        """Keep what this tab needs of ``report`` (every tick, shown or not: cheap, no rendering)."""
        self.report = report

    def badge(self) -> int:
        """How many of its rows need an eye (shown in its label when non-zero)."""
        return 0

    def show(self) -> None:
        """Bring the table (diffed) and the detail up to date; called only while the tab is shown."""

    def show_detail(self) -> None:
        """The selected row's evidence."""

    def highlighted(self) -> None:
        """The operator moved the cursor in this tab's table."""
        self.show_detail()

    def follow(self, agent: str | None) -> None:
        """The agents table's selection moved to ``agent`` (a tab keyed by agent follows it)."""

    # --- shared ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Container(id=self.NAME, classes="tab-body"):
            yield self.make_table()
            yield self.make_detail()

    @property
    def table(self) -> Any:
        return self.query_one(f"#{self.table_id()}")

    @property
    def detail(self) -> EvidencePane:
        return self.query_one(f"#{self.NAME}-detail", EvidencePane)

    @property
    def selected_key(self) -> str | None:
        try:
            table = self.table
        except NoMatches:  # not composed yet, or shutting down
            return None
        return table.selected_key if isinstance(table, KeyedTable) else None

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == self.table_id():
            self.highlighted()
