"""Tab 1, Sessions (seed #3): each agent's routing record next to its disk truth, and the evidence."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from rich.console import Group, RenderableType
from rich.text import Text
from textual.message import Message

from cockpit import timefmt
from cockpit.findings import Finding
from cockpit.observe.sessions import RouteState, SessionTruth
from cockpit.supervisor import Report
from cockpit.tui.render import SEVERITY_MARKS, SEVERITY_STYLES, Cells, json_block, kv_grid, quote, section, when_text
from cockpit.tui.tabs.base import TabView
from cockpit.tui.widgets import KeyedTable

SESSION_FINDINGS = ("stale_route", "unknown_route_session", "ambiguous_session")
SESSION_COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", "agent"), ("record", "record"), ("record_turn", "age"), ("vs", ""), ("disk", "disk"),
    ("source", "source"), ("disk_turn", "age"), ("check", "check"),
)
SESSION_COLUMN_WIDTHS: dict[str, int] = {
    "name": 8, "record": 9, "record_turn": 3, "vs": 1, "disk": 9, "source": 6, "disk_turn": 3, "check": 15,
}
# The check column's words (the detail and the agents table name the finding in full).
SESSION_CHECK_LABELS = {"stale_route": "stale_route", "unknown_route_session": "unknown_route",
                        "ambiguous_session": "ambiguous"}


def session_findings_by_agent(findings: Iterable[Finding]) -> dict[str, list[Finding]]:
    """Each agent's session findings (what the judge said; the TUI never re-judges)."""
    out: dict[str, list[Finding]] = {}
    for finding in findings:
        if finding.kind in SESSION_FINDINGS and finding.agent is not None:
            out.setdefault(finding.agent, []).append(finding)
    for found in out.values():
        found.sort(key=lambda f: -f.severity.rank)
    return out


def _sid(sid: str | None, style: str = "") -> Text:
    return Text(sid[:8], style=style) if sid else Text("-", style="dim")


def _age_cell(epoch: float | None, now: float) -> Text:
    return Text(timefmt.age(now - epoch)) if epoch is not None else Text("-", style="dim")


def session_cells(name: str, truth: SessionTruth | None, route: RouteState | None,
                  findings: Sequence[Finding], now: float) -> Cells:
    """One row of the Sessions tab: the record's side, the disk's side, and the judge's verdict."""
    record = route.session_id if route is not None else None
    disk = truth.disk_session if truth is not None else None
    kinds = {f.kind for f in findings}
    record_style = "bold red" if "stale_route" in kinds else "yellow" if "unknown_route_session" in kinds else ""
    record_cell = _sid(record, record_style)
    if route is not None and route.known is False and record:
        record_cell.append("?", style="yellow")  # no transcript of it in the agent's config dir
    if not record and any("entry_error" in f.evidence for f in findings):
        record_cell = Text("bad entry", style="bold yellow")  # SPEC §6: an entry of an unknown shape is shown
    if truth is not None and truth.ambiguous:
        disk_cell = Text("ambiguous", style="yellow")
    else:
        disk_cell = _sid(disk, "bold" if disk else "")
    if record and disk:
        vs = Text("=", style="dim") if record.lower() == disk.lower() else Text("≠", style="bold red")
    elif truth is not None and truth.ambiguous:
        vs = Text("~", style="yellow")
    else:
        vs = Text("?", style="yellow") if record else Text(" ")  # a record the disk cannot confirm
    if findings:
        top = findings[0]
        check = Text(f"{SEVERITY_MARKS[top.severity]} {SESSION_CHECK_LABELS.get(top.kind, top.kind)}",
                     style=SEVERITY_STYLES[top.severity])
        if len(findings) > 1:
            check.append(f" +{len(findings) - 1}", style="dim")
    elif record and disk and record.lower() == disk.lower():
        check = Text("✓ ok", style="green")
    elif not record:
        check = Text("no record", style="dim")
    else:
        check = Text("disk unknown", style="dim")
    cells = {
        "name": Text(name, style="bold"),
        "record": record_cell,
        "record_turn": _age_cell(route.last_turn_at if route is not None else None, now),
        "vs": vs,
        "disk": disk_cell,
        "source": Text(truth.source, style="cyan") if truth is not None and truth.source else Text("-", style="dim"),
        "disk_turn": _age_cell(truth.last_turn_at if truth is not None else None, now),
        "check": check,
    }
    return tuple(cells[key] for key, _ in SESSION_COLUMNS)


def session_detail(name: str | None, truth: SessionTruth | None, route: RouteState | None,
                   findings: Sequence[Finding], now: float, *, routes_file: str | None = None) -> RenderableType:
    """The evidence of one agent's row: both ids, both last turns, the candidates, the transcript's last words."""
    if name is None:
        return Text("Select an agent to compare its routing record with the disk.", style="dim")
    parts: list[RenderableType] = []
    head = Text(name, style="bold")
    for finding in findings:
        head.append("  ")
        head.append(f"{SEVERITY_MARKS[finding.severity]} {finding.kind}", style=SEVERITY_STYLES[finding.severity])
    parts.append(head)
    for finding in findings:
        parts.append(Text(finding.summary))
    record = route.session_id if route is not None else None
    known = {True: "yes", False: "no: resuming it would start a blank session", None: "cannot tell"}[
        route.known if route is not None else None]
    parts.append(section("routing record"))
    rows: list[tuple[str, RenderableType]] = [
        ("session", Text(record, style="bold") if record else Text("no entry for this agent", style="dim")),
        ("last turn", when_text(route.last_turn_at if route is not None else None, now)),
    ]
    if record:
        rows.append(("transcript", Text(known)))
        if route is not None and route.found_in:
            rows.append(("found in", Text(route.found_in)))
    if routes_file:
        rows.append(("file", Text(routes_file, style="dim")))
    parts.append(kv_grid(rows))
    parts.append(section("disk truth"))
    if truth is None:
        parts.append(Text("not observed yet", style="dim"))
        return Group(*parts)
    disk = truth.disk_session
    if truth.ambiguous:
        disk_text = Text("ambiguous: nothing decides which session is this agent's; cockpit picks none",
                         style="yellow")
    else:
        disk_text = Text(disk, style="bold") if disk else Text("unknown: no live file, bound id or unowned "
                                                               "transcript", style="dim")
    rows = [("session", disk_text), ("source", Text(truth.source or "-")),
            ("last turn", when_text(truth.last_turn_at, now))]
    if truth.status or truth.activity:
        rows.append(("activity", Text(" · ".join(x for x in (truth.activity, truth.status and
                                                             f"live status {truth.status}") if x))))
    if truth.candidates:
        rows.append(("candidates", Text(", ".join(truth.candidates))))
    transcript = truth.transcript
    if transcript is not None:
        rows.append(("transcript", Text(transcript.path, style="dim")))
        rows.append(("last user", quote(transcript.last_user_text)))
        rows.append(("last assistant", quote(transcript.last_assistant_text)))
    parts.append(kv_grid(rows))
    evidence = {k: v for k, v in truth.evidence.items() if k != "activity_why"}
    if evidence:
        parts.append(section("evidence"))
        parts.append(Text(json_block(evidence)))
    return Group(*parts)


class SessionTable(KeyedTable):
    """Seed #3: each agent's routing record next to its disk truth, one row per agent."""

    COLUMNS = SESSION_COLUMNS
    WIDTHS = SESSION_COLUMN_WIDTHS

    def __init__(self, names: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._name_width = min(24, max([SESSION_COLUMN_WIDTHS["name"], *(len(n) for n in names)]))

    def column_width(self, key: str) -> int | None:
        return self._name_width if key == "name" else super().column_width(key)


def session_sides(report: Report | None, name: str | None) -> tuple[SessionTruth | None, RouteState | None]:
    """``name``'s disk truth and routing record as the report observed them."""
    sessions = report.sessions if report is not None else None
    if name is None or sessions is None:
        return None, None
    return sessions.truths.get(name), sessions.routes.get(name)


class SessionsTab(TabView):
    """One row per agent; the row follows the agents table's selection, and moving it here moves that."""

    KEY = "1"
    LABEL = "Sessions"
    NAME = "sessions"

    class AgentPicked(Message):
        """The operator moved to an agent's row in this tab: p, R and the preview follow it."""

        def __init__(self, agent: str) -> None:
            super().__init__()
            self.agent = agent

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.findings: dict[str, list[Finding]] = {}
        self.selected_agent: str | None = None

    def make_table(self) -> SessionTable:
        return SessionTable(names=[a.name for a in self.config.agents], id=self.table_id())

    def update(self, report: Report) -> None:
        super().update(report)
        self.findings = session_findings_by_agent(report.findings)

    def badge(self) -> int:
        return sum(len(found) for found in self.findings.values())

    def show(self) -> None:
        report = self.report
        if report is None:
            return
        table = self.table
        rows = []
        for agent in report.agents:
            truth, route = session_sides(report, agent.name)
            rows.append((agent.name, session_cells(agent.name, truth, route, self.findings.get(agent.name, ()),
                                                   report.at)))
        with self.app.batch_update():
            table.show_rows(rows)
            if not table.has_focus and self.selected_agent is not None:
                table.select_key(self.selected_agent)  # the tab follows the agents table
        sessions = report.sessions
        table.border_subtitle = (f"record: {sessions.routes_file}" if sessions is not None and sessions.routes_file
                                 else "no [routes] file configured")
        self.show_detail()

    def show_detail(self) -> None:
        report = self.report
        if report is None:
            return
        name = self.selected_key
        truth, route = session_sides(report, name)
        findings = self.findings.get(name or "", [])
        sessions = report.sessions
        signature = (truth, route, tuple(f.key for f in findings), int(report.at))
        self.detail.show(session_detail(name, truth, route, findings, report.at,
                                        routes_file=sessions.routes_file if sessions is not None else None),
                         key=name, signature=signature)

    def highlighted(self) -> None:
        self.show_detail()
        name = self.selected_key
        if self.table.has_focus and name is not None and name != self.selected_agent:
            self.post_message(self.AgentPicked(name))

    def follow(self, agent: str | None) -> None:
        self.selected_agent = agent
        if agent is not None and self.display and self.is_mounted and not self.table.has_focus:
            self.table.select_key(agent)
