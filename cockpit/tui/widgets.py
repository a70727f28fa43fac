"""The cockpit's widgets: the fleet header, the agents table, the pane preview, the journal.

Widgets only render what the supervisor reported; formatting lives in small pure
functions next to them so tests and screenshots see exactly what operators see.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import DataTable, Input, Static
from textual.widgets.data_table import CellDoesNotExist, ColumnKey

from cockpit.findings import Finding, Severity
from cockpit.judge.agents import AgentStatus
from cockpit.lifecycle import AgentState
from cockpit.observe.loopwatch import Block
from cockpit.observe.sessions import RouteState, SessionTruth
from cockpit.observe.wrappers import ResultLine, WrapperView
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
    texts: list[tuple[str, str]] = []
    if isinstance(evidence, Mapping):
        texts, evidence = _split_texts(evidence)
    for title, text in texts:  # a fold's quote and both turns, a canary's output: read as text, not JSON
        parts.append(Text(f"\n{title}", style="bold underline"))
        parts.append(Text(text.rstrip("\n")))
    if evidence:
        parts.append(Text("\nevidence", style="bold underline"))
        parts.append(Text(_json_block(evidence)))
    for key, screen in screens:
        parts.append(Text(f"\ncaptured {key.replace('_', ' ')}", style="bold underline"))
        parts.append(Text.from_ansi(screen.rstrip("\n"), no_wrap=True, overflow="crop"))
    return Group(*parts)


# Evidence fields shown as text sections in the journal's detail (seed #11's turns, seed #5's output).
TEXT_KEYS: tuple[tuple[str, str], ...] = (
    ("quote", "quote"), ("pushback", "the pushback (user turn)"), ("reply", "the reply (assistant turn)"),
    ("output_tail", "canary output (tail)"),
)


def _split_texts(evidence: Mapping[str, Any]) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    texts: list[tuple[str, str]] = []
    rest = dict(evidence)
    for key, title in TEXT_KEYS:
        value = rest.get(key)
        if isinstance(value, Mapping) and isinstance(value.get("text"), str):
            when = value.get("at")
            if isinstance(when, (int, float)) and not isinstance(when, bool):
                when = _iso_utc(when)  # the fold detector's evidence carries epoch seconds
            at = f"  ({when})" if when else ""
            texts.append((title + at, value["text"]))
            rest.pop(key)
        elif isinstance(value, str) and value:
            texts.append((title, value))
            rest.pop(key)
    return texts, rest


def _iso_utc(epoch: float) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(epoch))
    except (OverflowError, OSError, ValueError):
        return str(epoch)


def _utc_time(epoch: float | None) -> str:
    """``HH:MM:SS`` UTC (the journal's timestamps are UTC too); ``-`` when unknown."""
    if epoch is None:
        return "-"
    return time.strftime("%H:%M:%S", time.gmtime(epoch))


def when_text(epoch: float | None, now: float) -> Text:
    """``2025-06-01 11:59:48Z · 12s ago``, or ``unknown``."""
    if epoch is None:
        return Text("unknown", style="dim")
    stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(epoch))
    return Text.assemble(stamp, (f" · {short_age(now - epoch)} ago", "dim"))


def _kv_grid(rows: Iterable[tuple[str, RenderableType]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column()
    for key, value in rows:
        grid.add_row(key, value)
    return grid


def _section(title: str) -> Text:
    return Text(f"\n{title}", style="bold underline")


def _quote(text: str | None, limit: int = 400) -> Text:
    if not text:
        return Text("-", style="dim")
    flat = " ".join(text.split())
    return Text(flat[:limit - 1] + "…" if len(flat) > limit else flat)


# --- sessions (seed #3) ---------------------------------------------------------------------------

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
    return Text(short_age(now - epoch)) if epoch is not None else Text("-", style="dim")


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
    parts.append(_section("routing record"))
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
    parts.append(_kv_grid(rows))
    parts.append(_section("disk truth"))
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
        rows.append(("last user", _quote(transcript.last_user_text)))
        rows.append(("last assistant", _quote(transcript.last_assistant_text)))
    parts.append(_kv_grid(rows))
    evidence = {k: v for k, v in truth.evidence.items() if k != "activity_why"}
    if evidence:
        parts.append(_section("evidence"))
        parts.append(Text(_json_block(evidence)))
    return Group(*parts)


# --- wrappers (seed #9) ---------------------------------------------------------------------------

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
        "since": Text(short_age(view.result_age_s)) if view.result_age_s is not None else Text("-", style="dim"),
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
        head.append(f": still alive {short_age(view.result_age_s)} after its result line", style="yellow")
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
    parts.append(_kv_grid(rows))
    parts.append(_section("result line"))
    if view.result is None:
        parts.append(Text("no result line yet", style="dim"))
    else:
        parts.append(Text(_json_block(view.result.to_json())))
    parts.append(_section("process tree" if view.alive else "process tree (as last seen alive)"))
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
        parts.append(_section("completion record"))
        parts.append(Text(_json_block(dict(view.exit))))
    return Group(*parts)


# --- blocks (seed #7) -----------------------------------------------------------------------------

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
        Text(_utc_time(block.start)),
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
        f" at {_utc_time(block.start)} UTC by ", (block.culprit, "bold yellow"))]
    rows: list[tuple[str, RenderableType]] = []
    if block.scopes:
        rows.append(("tracked", Text(" › ".join(block.scopes))))
    rows.append(("samples", Text(str(block.samples))))
    if block.line:
        rows.append(("log line", Text(block.line)))
    parts.append(_kv_grid(rows))
    parts.append(_section("stack (innermost first)"))
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


# --- the loop-lag sparkline -----------------------------------------------------------------------

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


# --- widgets ------------------------------------------------------------------------------------


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
        for key, cells in rows:
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


class AgentTable(KeyedTable):
    """The agents, one row per agent keyed by name."""

    COLUMNS = AGENT_COLUMNS
    WIDTHS = AGENT_COLUMN_WIDTHS

    def __init__(self, names: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(zebra_stripes=True, **kwargs)
        # The fleet is known from the config: the name column fits its longest name (up to 24).
        self._name_width = min(24, max([AGENT_COLUMN_WIDTHS["name"], *(len(n) for n in names)]))

    def column_width(self, key: str) -> int | None:
        return self._name_width if key == "name" else super().column_width(key)

    @property
    def selected_agent(self) -> str | None:
        return self.selected_key

    def select_agent(self, name: str) -> bool:
        return self.select_key(name)


class SessionTable(KeyedTable):
    """Seed #3: each agent's routing record next to its disk truth, one row per agent."""

    COLUMNS = SESSION_COLUMNS
    WIDTHS = SESSION_COLUMN_WIDTHS

    def __init__(self, names: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._name_width = min(24, max([SESSION_COLUMN_WIDTHS["name"], *(len(n) for n in names)]))

    def column_width(self, key: str) -> int | None:
        return self._name_width if key == "name" else super().column_width(key)


class WrapperTable(KeyedTable):
    """Seed #9: every sub-agent wrapper, one row per wrapper id (pid:start)."""

    COLUMNS = WRAPPER_COLUMNS
    WIDTHS = WRAPPER_COLUMN_WIDTHS


class BlockTable(KeyedTable):
    """Seed #7: event-loop blocks, newest first."""

    COLUMNS = BLOCK_COLUMNS
    WIDTHS = BLOCK_COLUMN_WIDTHS
    FOLLOW_TOP = True


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


class JournalDetail(EvidencePane):
    """The selected journal row's evidence."""

    _row: Mapping[str, Any] | None = None

    def show_row(self, row: Mapping[str, Any] | None) -> None:
        if row is self._row and row is not None:
            return  # the same row: keep the operator's scroll position
        self._row = row
        self.show(journal_detail(row))


@dataclass(frozen=True)
class KeyHelp:
    """One line of the help screen."""
    key: str
    description: str
    tooltip: str = ""
    enabled: bool = True


# --- reminders (seed #6) --------------------------------------------------------------------------

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


def _truncate(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


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
        out.append((" · " if out.plain else "") + f"late {short_age(reminder.late_by_s)}", style="yellow")
    if reminder.why:
        out.append((" · " if out.plain else "") + reminder.why, style="yellow")
    return out if out.plain else Text("-", style="dim")


def reminder_cells(reminder: Any) -> Cells:
    """One row of the Reminders tab."""
    state = reminder.state
    return (
        Text(_utc_time(reminder.due_at)),
        Text(reminder.agent, style="bold"),
        Text(reminder.verb, style="magenta" if reminder.verb == "wake" else ""),
        Text(_truncate(reminder.text, REMINDER_TEXT_MAX)),
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
    parts.append(_kv_grid(rows))
    evidence = dict(reminder.evidence or {})
    if evidence:
        screens, rest = _split_screens(evidence)
        if rest:
            parts.append(_section("evidence"))
            parts.append(Text(_json_block(rest)))
        for key, screen in screens:
            parts.append(_section(f"captured {key.replace('_', ' ')}"))
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


# --- the agent's detail (d) ------------------------------------------------------------------------


def finding_block(finding: Finding) -> RenderableType:
    """One finding in full: its mark, kind and summary, its quoted texts (a fold's turns, a canary's
    output), its captured screens, and the rest of its evidence."""
    parts: list[RenderableType] = [Text.assemble(
        (f"{SEVERITY_MARKS[finding.severity]} {finding.kind}", SEVERITY_STYLES[finding.severity]),
        ("  action " + finding.action if finding.action and finding.action != "none" else "", "dim"))]
    parts.append(Text(finding.summary))
    screens, evidence = _split_screens(dict(finding.evidence or {}))
    texts, evidence = _split_texts(evidence)
    for title, text in texts:
        parts.append(Text(title, style="dim underline"))
        parts.append(Text(text.rstrip("\n")))
    if evidence:  # the rest, one line per key (the journal keeps the whole record)
        parts.append(_kv_grid((key, Text(_one_line_json(value), style="dim"))
                              for key, value in sorted(evidence.items())))
    for key, screen in screens:
        parts.append(Text(f"captured {key.replace('_', ' ')}", style="dim underline"))
        parts.append(Text.from_ansi(screen.rstrip("\n"), no_wrap=True, overflow="crop"))
    return Group(*parts)


def _one_line_json(value: Any, limit: int = 240) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str,
                                                           separators=(", ", ": "))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


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
    turn_ts = parse_ts(agent.last_turn_at) if agent.last_turn_at else None
    rows: list[tuple[str, RenderableType]] = [
        ("state", Text(f"{agent.state.value}" + (f" since {short_age(now - agent.since)} ago"
                                                  if agent.since is not None else ""))),
        ("process", Text(f"pid {agent.pid} (start {agent.start})" if agent.pid else "-",
                         style="" if agent.pid else "dim")),
        ("pane", Text(agent.pane or "-", style="" if agent.pane else "dim")),
        ("port", port),
        ("session", session),
        ("last turn", Text(f"{short_age(now - turn_ts)} ago" if turn_ts is not None else "-",
                           style="" if turn_ts is not None else "dim")),
        ("restarts", Text(str(agent.restarts), style="yellow" if agent.restarts else "")),
        ("CLI", _cli_text(cli)),
    ]
    if agent.command:
        rows.append(("command", Text(agent.command, style="dim")))
    parts.append(_kv_grid(rows))
    ordered = sorted(findings, key=lambda f: -f.severity.rank)
    parts.append(_section(f"findings ({len(ordered)})" if ordered else "findings"))
    if not ordered:
        parts.append(Text("none: the disk and the process table agree with what is expected", style="green"))
    for finding in ordered:
        parts.append(finding_block(finding))
        parts.append(Text(""))
    if reminders:
        parts.append(_section("reminders"))
        for reminder in reminders:
            parts.append(Text.assemble((_utc_time(reminder.due_at), ""), "  ",
                                       (reminder.verb, "magenta" if reminder.verb == "wake" else ""), "  ",
                                       (reminder.state, REMINDER_STATE_STYLES.get(reminder.state, "")), "  ",
                                       reminder_outcome(reminder), "  ", _quote(reminder.text, 80)))
    if wrappers:
        parts.append(_section("sub-agents"))
        for view in wrappers:
            parts.append(Text.assemble((view.name, "bold"), "  ",
                                       (view.state, WRAPPER_STATE_STYLES.get(view.state, "")),
                                       (f"  pid {view.pid}" if view.pid else "", "dim")))
    if fleet:
        parts.append(_section("fleet findings (no single agent)"))
        for finding in sorted(fleet, key=lambda f: -f.severity.rank):
            parts.append(finding_block(finding))
            parts.append(Text(""))
    return Group(*parts)
