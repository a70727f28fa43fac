"""The agents table (the upper pane): not a tab, but the same shape: its columns, its cells, its filter,
its table, and the agent's detail that ``d`` opens."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, NamedTuple, Sequence

from rich.console import Group, RenderableType
from rich.text import Text

from cockpit import timefmt
from cockpit.findings import Finding
from cockpit.judge.agents import AgentStatus
from cockpit.observe.tokens import short_count
from cockpit.observe.wrappers import WrapperView
from cockpit.tui.render import (SEVERITY_MARKS, SEVERITY_STYLES, STATUS_STYLES, Cells, finding_block, kv_grid, quote,
                                section, shown_status)
from cockpit.tui.tabs.reminders import REMINDER_STATE_STYLES, reminder_outcome
from cockpit.tui.tabs.zombies import WRAPPER_STATE_STYLES
from cockpit.tui.widgets import KeyedTable

AGENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", "agent"), ("state", "state"), ("finding", "worst finding"), ("pid", "pid"), ("pane", "pane"),
    ("port", "port"), ("session", "session"), ("turn", "turn"), ("tokens", "tokens"), ("restarts", "restarts"),
    ("kind", "kind"),
)
# Fixed widths: a cell that shrinks would make DataTable re-measure the whole column, and with a
# few hundred rows that turns one tick into a loop stall (seed #7).
AGENT_COLUMN_WIDTHS: dict[str, int] = {
    "name": 8, "host": 5, "state": 11, "finding": 24, "pid": 7, "pane": 5, "port": 7, "session": 9, "turn": 5,
    "tokens": 6, "restarts": 8, "kind": 11,
}


def tokens_text(tokens: Any) -> Text:
    """The table's compact cell: every token of the current session (input, output, cache read and write)."""
    if tokens is None:
        return Text("-", style="dim")
    return Text(short_count(tokens.total), style="" if tokens.total else "dim")


def tokens_detail(tokens: Any) -> Text:
    if tokens is None:
        return Text("- (no transcript read whole yet)", style="dim")
    return Text(f"input {short_count(tokens.input)} · output {short_count(tokens.output)} · "
                f"cache read {short_count(tokens.cache_read)} · cache write {short_count(tokens.cache_write)}"
                f"  (current session)")


def worst_by_agent(findings: Iterable[Finding], agents: Iterable[AgentStatus] = ()) -> dict[str, tuple[Finding, int]]:
    """Each agent's worst finding and how many it has; a host's own finding (``host_unreachable``)
    counts for every agent of that host (SPEC §9)."""
    out: dict[str, tuple[Finding, int]] = {}
    by_host: dict[str, list[str]] = {}
    for agent in agents:
        if agent.host is not None:
            by_host.setdefault(agent.host, []).append(agent.name)
    for finding in findings:
        if finding.agent is not None:
            names = [finding.agent]
        elif finding.host is not None and finding.kind == "host_unreachable":
            names = by_host.get(finding.host, [])
        else:
            continue
        for name in names:
            current = out.get(name)
            if current is None:
                out[name] = (finding, 1)
            else:
                top = finding if finding.severity.rank > current[0].severity.rank else current[0]
                out[name] = (top, current[1] + 1)
    return out


def agent_cells(agent: AgentStatus, worst: tuple[Finding, int] | None, now: float,
                columns: Sequence[tuple[str, str]] = AGENT_COLUMNS) -> Cells:
    """One row of the agents table, cell by cell (``columns``: with the host column when hosts are configured)."""
    status = shown_status(agent)
    port = Text("-", style="dim")
    if agent.port is not None:
        port = Text(str(agent.port)) if agent.port_listening else Text(f"{agent.port}✗", style="red")
    session = agent.disk_session or agent.route_session
    session_text = Text(session[:8] if session else "-", style="" if session else "dim")
    if agent.route_session and agent.disk_session and agent.route_session != agent.disk_session:
        session_text.append("≠", style="bold red")
    turn_ts = timefmt.parse(agent.last_turn_at) if agent.last_turn_at else None
    finding = Text("-", style="dim")
    if worst is not None:
        top, count = worst
        finding = Text(f"{SEVERITY_MARKS[top.severity]} {top.kind}", style=SEVERITY_STYLES[top.severity])
        if count > 1:
            finding.append(f" +{count - 1}", style="dim")
    state = Text(status, style=STATUS_STYLES.get(status, ""))
    if agent.last_seen_at is not None:  # SPEC §9: its host is unreachable; how old is what we know
        state.append(f" {timefmt.age(now - agent.last_seen_at)}", style="dim")
    cells = {
        "name": Text(agent.name, style="bold"),
        "host": Text(agent.host or "local", style="" if agent.host else "dim"),
        "state": state,
        "finding": finding,
        "pid": Text(str(agent.pid) if agent.pid else "-", style="" if agent.pid else "dim"),
        "pane": Text(agent.pane or "-", style="" if agent.pane else "dim"),
        "port": port,
        "session": session_text,
        "turn": Text(timefmt.age(now - turn_ts) if turn_ts is not None else "-", style="" if turn_ts else "dim"),
        "tokens": tokens_text(agent.tokens),
        "restarts": Text(str(agent.restarts), style="yellow" if agent.restarts else "dim"),
        "kind": Text(agent.kind),
    }
    return tuple(cells[key] for key, _ in columns)


class RowCells:
    """``agent_cells`` remembered per row: a row whose status object and worst finding are the same as
    last time, and whose shown ages did not change, is not rebuilt. Another host's rows keep their
    objects between its reports (judge.hosts reuses unchanged rows), so a refresh after one host's
    report builds that host's changed rows only, not the whole fleet's (SPEC §9)."""

    def __init__(self) -> None:
        self._memo: dict[str, _Row] = {}

    def rows(self, agents: Iterable[AgentStatus], worst: Mapping[str, tuple[Finding, int]], now: float,
             columns: Sequence[tuple[str, str]]) -> list[tuple[str, Cells]]:
        memo: dict[str, _Row] = {}
        out = []
        for agent in agents:
            top = worst.get(agent.name)
            entry = self._memo.get(agent.name)
            known = entry is not None and entry.agent is agent
            turn_ts = entry.turn_ts if known and entry is not None else _turn_ts(agent)
            ages = (timefmt.age(now - turn_ts) if turn_ts is not None else None,
                    timefmt.age(now - agent.last_seen_at) if agent.last_seen_at is not None else None)
            if known and entry is not None and entry.worst == top and entry.ages == ages and entry.columns is columns:
                cells = entry.cells
            else:
                cells = agent_cells(agent, top, now, columns)
            memo[agent.name] = _Row(agent, top, turn_ts, ages, columns, cells)
            out.append((agent.name, cells))
        self._memo = memo
        return out


class _Row(NamedTuple):
    agent: AgentStatus
    worst: Any
    turn_ts: float | None
    ages: tuple[str | None, str | None]
    columns: Any
    cells: Cells


def _turn_ts(agent: AgentStatus) -> float | None:
    return timefmt.parse(agent.last_turn_at) if agent.last_turn_at else None


def with_host_column(columns: Sequence[tuple[str, str]] = AGENT_COLUMNS) -> tuple[tuple[str, str], ...]:
    """The agents' columns with the host's right after the name (SPEC §9: only when hosts are configured)."""
    return (columns[0], ("host", "host"), *columns[1:])


def agent_matches(agent: AgentStatus, worst: tuple[Finding, int] | None, query: str) -> bool:
    """The ``/`` filter: a case-insensitive substring of name, host, kind, state or finding; words are
    ANDed, and ``host:NAME`` keeps one host's agents (``host:local`` this machine's)."""
    for word in query.casefold().split():
        if word.startswith("host:"):
            if (agent.host or "local").casefold() != word[5:]:
                return False
            continue
        fields = [agent.name, agent.kind, agent.status, shown_status(agent)]  # a remote's name holds its host
        if worst is not None:
            fields.append(worst[0].kind)
        if not any(word in field.casefold() for field in fields):
            return False
    return True


class AgentTable(KeyedTable):
    """The agents, one row per agent keyed by name."""

    COLUMNS = AGENT_COLUMNS
    WIDTHS = AGENT_COLUMN_WIDTHS

    def __init__(self, names: Sequence[str] = (), hosts: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(zebra_stripes=True, **kwargs)
        # The fleet is known from the config: the name column fits its longest name (up to 24); a remote
        # agent's name is HOST/NAME, its names unknown until its first report: room for a dozen characters.
        longest = [len(n) for n in names] + [len(h) + 13 for h in hosts]
        self._name_width = min(24, max([AGENT_COLUMN_WIDTHS["name"], *longest]))
        if hosts:  # SPEC §9: the host column exists only when hosts are configured
            self.COLUMNS = with_host_column()
            self._host_width = max([AGENT_COLUMN_WIDTHS["host"], *(len(h) for h in hosts)])

    def column_width(self, key: str) -> int | None:
        if key == "host":
            return self._host_width
        return self._name_width if key == "name" else super().column_width(key)

    @property
    def selected_agent(self) -> str | None:
        return self.selected_key

    def select_agent(self, name: str) -> bool:
        return self.select_key(name)


def _cli_text(cli: Any) -> Text:
    if cli is None:
        return Text("-", style="dim")
    out = Text(str(cli.link or f"{cli.command} (not found on PATH)"))
    if cli.resolved and cli.resolved != cli.link:
        out.append(" -> ", style="dim")
        out.append(str(cli.resolved), style="bold")
    if cli.version:
        out.append(f"  version {cli.version}", style="cyan")
    expected = cli.expected or {}
    if expected:
        since = "promoted" if expected.get("kind") == "promotion" else "first seen"
        out.append(f"  ({since} {expected.get('ts', '')})".replace(" )", ")"), style="dim")
    return out


def agent_detail(agent: AgentStatus | None, findings: Sequence[Finding], now: float, *,
                 cli: Any = None, reminders: Sequence[Any] = (), wrappers: Sequence[WrapperView] = (),
                 fleet: Sequence[Finding] = ()) -> RenderableType:
    """Everything the cockpit knows about one agent, with the evidence: its state and process, its
    session, its CLI, each of its findings in full (a fold's two turns, a failed spawn's screen),
    its reminders and sub-agents; then the findings about the whole fleet (canaries)."""
    if agent is None:
        return Text("The agent is no longer in the report.", style="dim")
    status = shown_status(agent)
    parts: list[RenderableType] = [Text.assemble((agent.name, "bold"), "  ", (agent.kind, "dim"), "  ",
                                                 (status, STATUS_STYLES.get(status, "")))]
    port: RenderableType = Text("-", style="dim")
    if agent.port is not None:
        port = Text(f"{agent.port} listening", style="green") if agent.port_listening else \
            Text(f"{agent.port} not listening", style="red")
    session = Text(agent.disk_session or "-", style="" if agent.disk_session else "dim")
    if agent.route_session and agent.disk_session and agent.route_session != agent.disk_session:
        session.append(f"  (routing record: {agent.route_session})", style="bold red")
    turn_ts = timefmt.parse(agent.last_turn_at) if agent.last_turn_at else None
    rows: list[tuple[str, RenderableType]] = [
        ("state", Text(f"{agent.state.value}" + (f" since {timefmt.age(now - agent.since)} ago"
                                                  if agent.since is not None else ""))),
        ("process", Text(f"pid {agent.pid} (start {agent.start})" if agent.pid else "-",
                         style="" if agent.pid else "dim")
         + (Text(" · adopted: started outside cockpit", style="italic") if agent.adopted else Text(""))),
        ("pane", Text(agent.pane or "-", style="" if agent.pane else "dim")),
        ("port", port),
        ("session", session),
        ("last turn", Text(f"{timefmt.age(now - turn_ts)} ago" if turn_ts is not None else "-",
                           style="" if turn_ts is not None else "dim")),
        ("tokens", tokens_detail(agent.tokens)),
        ("restarts", Text(str(agent.restarts), style="yellow" if agent.restarts else "")),
        ("CLI", _cli_text(cli)),
    ]
    if agent.command:
        rows.append(("command", Text(agent.command, style="dim")))
    parts.append(kv_grid(rows))
    ordered = sorted(findings, key=lambda f: -f.severity.rank)
    parts.append(section(f"findings ({len(ordered)})" if ordered else "findings"))
    if not ordered:
        parts.append(Text("none: the disk and the process table agree with what is expected", style="green"))
    for finding in ordered:
        parts.append(finding_block(finding))
        parts.append(Text(""))
    if reminders:
        parts.append(section("reminders"))
        for reminder in reminders:
            parts.append(Text.assemble((timefmt.clock_time(reminder.due_at), ""), "  ",
                                       (reminder.verb, "magenta" if reminder.verb == "wake" else ""), "  ",
                                       (reminder.state, REMINDER_STATE_STYLES.get(reminder.state, "")), "  ",
                                       reminder_outcome(reminder), "  ", quote(reminder.text, 80)))
    if wrappers:
        parts.append(section("sub-agents"))
        for view in wrappers:
            parts.append(Text.assemble((view.name, "bold"), "  ",
                                       (view.state, WRAPPER_STATE_STYLES.get(view.state, "")),
                                       (f"  pid {view.pid}" if view.pid else "", "dim")))
    if fleet:
        parts.append(section("fleet findings (no single agent)"))
        for finding in sorted(fleet, key=lambda f: -f.severity.rank):
            parts.append(finding_block(finding))
            parts.append(Text(""))
    return Group(*parts)
