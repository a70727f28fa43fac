"""Judge each agent from a snapshot and its lifecycle: status, and what is wrong with it.

Pure: no I/O, no clock but the snapshot's. One agent, at most one lifecycle finding
(respawn_exhausted > spawn_failed > agent_down), plus port_not_listening for a live one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from cockpit import timefmt
from cockpit.config import AgentConfig
from cockpit.findings import Finding, Severity
from cockpit.lifecycle import AgentState, Lifecycle
from cockpit.observe.snapshot import AgentObservation, Snapshot
from cockpit.observe.tokens import Tokens

SCREEN_EVIDENCE_CHARS = 4000
# A live agent's status: "running" until its activity is known (seed #3: from the live-session file,
# the transcript, then pane changes), then working / idle / needs_input.
LIVE_STATUSES = ("running", "working", "idle", "needs_input")


@dataclass(frozen=True)
class AgentStatus:
    """One row of the agents table and of ``check --json``."""
    name: str
    kind: str
    status: str                 # running|working|idle|needs_input|starting|down|fatal|unknown
    state: AgentState
    pid: int | None
    start: int | None
    pane: str | None
    port: int | None
    port_listening: bool | None
    route_session: str | None
    disk_session: str | None
    last_turn_at: str | None
    restarts: int
    since: float | None = None
    command: str = ""
    tokens: Tokens | None = None  # the current session's tokens (None: no transcript read whole yet)
    host: str | None = None          # SPEC §9: None for a local agent; remote rows are named HOST/NAME
    last_seen_at: float | None = None  # a remote row whose host is unreachable: when its last report came
    adopted: bool = False            # SPEC §11: its process was started outside cockpit (cockpit adopt)

    def to_json(self) -> dict[str, Any]:
        out = {
            "name": self.name, "kind": self.kind, "status": self.status, "pid": self.pid,
            "pane": self.pane, "port": self.port, "port_listening": self.port_listening,
            "route_session": self.route_session, "disk_session": self.disk_session,
            "last_turn_at": self.last_turn_at, "restarts": self.restarts, "host": self.host,
            "tokens": self.tokens.to_json() if self.tokens is not None else None,
        }
        if self.last_seen_at is not None:
            out["last_seen_at"] = timefmt.iso(self.last_seen_at, ms=False)
        if self.adopted:
            out["adopted"] = True
        return out


def agent_status(agent: AgentConfig, obs: AgentObservation | None, lc: Lifecycle, *, tmux_ok: bool,
                 starting: bool = False, disk_session: str | None = None, route_session: str | None = None,
                 last_turn_at: str | None = None, activity: str | None = None,
                 tokens: Tokens | None = None) -> AgentStatus:
    live = obs is not None and obs.proc is not None
    if not tmux_ok:
        status = "unknown"
    elif starting or (lc.state is AgentState.STARTING and not live):
        status = "starting"
    elif live:
        status = activity or "running"
    elif lc.state is AgentState.FATAL:
        status = "fatal"
    else:
        status = "down"
    proc = obs.proc if obs is not None else None
    return AgentStatus(
        name=agent.name, kind=agent.kind, status=status, state=lc.state,
        pid=proc.pid if proc else None, start=proc.start if proc else None,
        pane=obs.pane.pane_id if obs is not None and obs.pane is not None else None,
        port=agent.port, port_listening=(obs.port.ok if obs is not None and obs.port is not None and live else
                                          (False if agent.port is not None else None)),
        route_session=route_session, disk_session=disk_session, last_turn_at=last_turn_at,
        restarts=lc.restarts, since=lc.since, command=proc.command if proc else "", tokens=tokens,
        adopted=bool(obs is not None and obs.adopted),
    )


def judge_agent(agent: AgentConfig, obs: AgentObservation | None, lc: Lifecycle, *,
                last_failed: Mapping[str, Any] | None = None, last_exit: Mapping[str, Any] | None = None,
                max_restarts: int, restart_window_s: float, starting: bool = False) -> list[Finding]:
    """The findings for one agent. ``obs`` is None when tmux could not be read."""
    if obs is None or starting:
        return []
    findings: list[Finding] = []
    live = obs.proc is not None
    if not live:
        if lc.state is AgentState.FATAL:
            findings.append(Finding(
                kind="respawn_exhausted", severity=Severity.CRITICAL, agent=agent.name, action="respawn",
                summary=(f"{agent.name}: {len(lc.failures)} failures in {restart_window_s:g}s spent the budget of "
                         f"{max_restarts} restarts; no automatic respawn until an operator respawns"),
                evidence=_failure_evidence(lc, last_failed, last_exit),
            ))
        elif lc.last_check and lc.state in (AgentState.BACKOFF, AgentState.DOWN) and last_failed is not None:
            check = lc.last_check
            findings.append(Finding(
                kind="spawn_failed", severity=Severity.CRITICAL, agent=agent.name, action="respawn",
                summary=f"{agent.name}: spawn failed verification ({check}): {last_failed.get('detail', '')}".rstrip(": "),
                evidence=_failure_evidence(lc, last_failed, last_exit),
            ))
        else:
            pane = obs.pane
            if pane is not None and pane.dead:
                how = f"exited with status {pane.dead_status}" if pane.dead_status is not None else "exited"
            elif lc.state is AgentState.UNKNOWN:
                how = "is not running (never started by cockpit)"
            else:
                how = "has no tmux window"
            # SPEC §8: an exit its SessionEnd hook announced is expected (the reason is kept), not a crash
            expected = last_exit.get("expected") if last_exit is not None else None
            calm = lc.state is AgentState.DOWN and (lc.last_exit_status == 0 or isinstance(expected, str))
            if isinstance(expected, str):
                how += f" after its session ended ({expected})"
            findings.append(Finding(
                kind="agent_down", severity=Severity.WARNING if calm else Severity.CRITICAL, agent=agent.name,
                action="respawn",
                summary=f"{agent.name} {how}" + (f"; next attempt in backoff" if lc.state is AgentState.BACKOFF else ""),
                evidence={"state": lc.state.value, "pane": pane.pane_id if pane else None,
                          "exit_status": pane.dead_status if pane else lc.last_exit_status,
                          **({"expected": expected} if isinstance(expected, str) else {})},
            ))
        return findings
    port = obs.port
    if port is not None and not port.ok:
        why = "nothing listens on it" if not port.listening else "it is held by a process outside the agent's tree"
        findings.append(Finding(
            kind="port_not_listening", severity=Severity.CRITICAL, agent=agent.name, action="respawn",
            summary=f"{agent.name}: port {port.port} is not served by the agent ({why})",
            evidence={"port": port.port, "listening": port.listening, "owned_by_agent": port.owned,
                      "pid": obs.proc.pid if obs.proc else None},
        ))
    return findings


def _failure_evidence(lc: Lifecycle, last_failed: Mapping[str, Any] | None,
                      last_exit: Mapping[str, Any] | None) -> dict[str, Any]:
    evidence: dict[str, Any] = {
        "state": lc.state.value, "failures_in_window": len(lc.failures), "last_check": lc.last_check,
        "last_exit_status": lc.last_exit_status,
    }
    latest = max((r for r in (last_failed, last_exit) if r), key=lambda r: str(r.get("ts", "")), default=None)
    if latest is not None:
        evidence["last_event"] = latest.get("event")
        evidence["at"] = latest.get("ts")
        for key in ("check", "detail", "argv", "status"):
            if key in latest:
                evidence[key] = latest[key]
        screen = latest.get("screen")
        if isinstance(screen, str):
            evidence["screen"] = screen[-SCREEN_EVIDENCE_CHARS:]
    return evidence


def tmux_finding(snapshot: Snapshot, server: str) -> Finding | None:
    if snapshot.tmux_ok:
        return None
    return Finding(
        kind="tmux_unreachable", severity=Severity.CRITICAL, action="none",
        summary=f"tmux server {server} is unreachable; agents cannot be observed (will reconnect)",
        evidence={"error": snapshot.tmux_error},
    )
