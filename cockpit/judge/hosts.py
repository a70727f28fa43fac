"""Remote hosts (SPEC §9): their reports as rows and findings of this cockpit, and ``host_unreachable``. Pure.

A remote report is an observed input: it was judged where its truth lives, so its rows and
findings pass through, renamed ``HOST/NAME``. Each report is converted once, when it arrives
(:func:`remote_rows`, :func:`remote_findings`); a tick only looks at each host's latest view, so
this cockpit's cost grows with the reports it receives, not with ticks × agents × hosts.
A host that cannot be reached keeps its agents on screen as ``unknown`` with the time of their
last report, never dropped, and is one critical finding with ssh's own words.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping

from cockpit import timefmt
from cockpit.findings import ACTIONS, FINDING_KINDS, Finding, Severity
from cockpit.judge.agents import AgentStatus
from cockpit.lifecycle import AgentState
from cockpit.observe.tokens import FIELDS as TOKEN_FIELDS, Tokens

HOST_STATES = ("connecting", "up", "down", "incompatible")
_STATE_OF = {"running": AgentState.RUNNING, "working": AgentState.RUNNING, "idle": AgentState.RUNNING,
             "needs_input": AgentState.RUNNING, "starting": AgentState.STARTING, "down": AgentState.DOWN,
             "fatal": AgentState.FATAL, "unknown": AgentState.UNKNOWN}


@dataclass(frozen=True)
class HostView:
    """What this cockpit knows of one host at one instant (built by the transport)."""
    name: str
    state: str = "connecting"            # connecting | up | down | incompatible
    error: str | None = None             # one line: ssh's last stderr line, or why the session was closed
    stderr: tuple[str, ...] = ()         # the last lines ssh (and the remote) wrote on stderr
    version: str | None = None           # the remote's `cockpit --version`
    schema: int | None = None
    leader: bool | None = None           # whether the remote's supervisor holds its leader lock
    last_report_at: float | None = None  # this cockpit's clock when the last report arrived
    down_since: float | None = None
    attempts: int = 0                    # connection attempts since the last good session
    rows: tuple[AgentStatus, ...] = ()   # from the last report, named HOST/NAME
    findings: tuple[Finding, ...] = ()   # the remote's own findings from the last report
    bad_rows: int = 0                    # rows of the last report that could not be used
    latency_s: float | None = None       # the last report: sent there → parsed here

    @property
    def ok(self) -> bool:
        return self.state == "up"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "state": self.state, "error": self.error,
                "last_report_at": timefmt.iso(self.last_report_at, ms=False), "version": self.version,
                "leader": self.leader, "agents": len(self.rows)}


def qualified(host: str, name: str) -> str:
    return f"{host}/{name}"


def split_name(name: str) -> tuple[str | None, str]:
    """``gpu-1/tabs`` → (``gpu-1``, ``tabs``); a bare name is local: (None, name)."""
    host, sep, rest = name.partition("/")
    return (host, rest) if sep else (None, name)


def remote_rows(host: str, agents: Iterable[Mapping[str, Any]],
                previous: Mapping[str, tuple[Mapping[str, Any], AgentStatus]] | None = None) -> tuple[AgentStatus, ...]:
    """A remote report's agent rows (already type-checked by the protocol reader) as this cockpit's rows.

    ``previous``: the last report's rows by name with the raw row each came from; a row that did not
    change is reused, not rebuilt (most rows of most reports).
    """
    rows = []
    for a in agents:
        before = previous.get(a["name"]) if previous else None
        if before is not None and before[0] == a:
            rows.append(before[1])
            continue
        status = a["status"]
        rows.append(AgentStatus(
            name=qualified(host, a["name"]), kind=a.get("kind") or "generic", status=status,
            state=_STATE_OF.get(status, AgentState.UNKNOWN), pid=a.get("pid"), start=None, pane=a.get("pane"),
            port=a.get("port"), port_listening=a.get("port_listening"), route_session=a.get("route_session"),
            disk_session=a.get("disk_session"), last_turn_at=a.get("last_turn_at"), restarts=a.get("restarts") or 0,
            tokens=_tokens(a.get("tokens")), host=host))
    return tuple(rows)


def _tokens(value: Any) -> Tokens | None:
    """SPEC §10's ``tokens`` of a remote row, when every count is a non-negative integer."""
    if not isinstance(value, dict):
        return None
    counts = [value.get(f, 0) for f in TOKEN_FIELDS]
    if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts):
        return None
    return Tokens(*counts)


def remote_findings(host: str, findings: Iterable[Mapping[str, Any]]) -> tuple[tuple[Finding, ...], int]:
    """A remote report's findings, renamed; those of a kind this cockpit does not know are counted."""
    out: list[Finding] = []
    seen: dict[tuple[str, str | None], int] = {}
    unknown = 0
    for f in findings:
        if f["kind"] not in FINDING_KINDS:
            unknown += 1
            continue
        agent = qualified(host, f["agent"]) if f.get("agent") else None
        n = seen[(f["kind"], agent)] = seen.get((f["kind"], agent), 0) + 1
        out.append(Finding(kind=f["kind"], severity=Severity(f["severity"]), summary=f"{host}: {f['summary']}",
                           agent=agent, evidence=dict(f.get("evidence") or {}),
                           action=f.get("action") if f.get("action") in ACTIONS else "none",
                           subject=f"{host}#{n}", host=host))
    return tuple(out), unknown


def judge_host(view: HostView, now: float) -> tuple[tuple[AgentStatus, ...], list[Finding]]:
    """One host's rows and findings for this tick."""
    if view.state == "up":
        return view.rows, list(view.findings)
    rows = tuple(replace(r, status="unknown", state=AgentState.UNKNOWN, last_seen_at=view.last_report_at)
                 for r in view.rows)
    if view.state == "connecting" and view.attempts <= 1 and view.down_since is None:
        return rows, []  # the first session is still being set up: not yet a fault
    return rows, [host_unreachable(view, now)]


def host_unreachable(view: HostView, now: float) -> Finding:
    age = f"last report {timefmt.age(now - view.last_report_at)} ago" if view.last_report_at is not None else "never reported"
    if view.state == "incompatible":
        why = view.error or "speaks another protocol"
    else:
        why = view.error or "no session"
    return Finding(
        kind="host_unreachable", severity=Severity.CRITICAL, action="none", host=view.name, subject=view.name,
        summary=f"host {view.name} is unreachable ({why}); {len(view.rows)} agents kept as unknown, {age}",
        evidence={"host": view.name, "state": view.state, "error": view.error, "stderr": list(view.stderr),
                  "last_report_at": timefmt.iso(view.last_report_at, ms=False),
                  "down_since": timefmt.iso(view.down_since, ms=False),
                  "attempts": view.attempts, "version": view.version, "schema": view.schema},
    )


def judge_hosts(views: Iterable[HostView], now: float) -> tuple[tuple[AgentStatus, ...], list[Finding]]:
    rows: list[AgentStatus] = []
    findings: list[Finding] = []
    for view in views:
        r, f = judge_host(view, now)
        rows.extend(r)
        findings.extend(f)
    return tuple(rows), findings


