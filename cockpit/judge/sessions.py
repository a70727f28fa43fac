"""Judge the routing record against the disk truth (seed #3: the cache lies, disk has the answer).

Pure: plain data in (a SessionTruth, a RouteState), findings out; no I/O, no clock.

- ``stale_route`` (critical, repoint): the record and the disk disagree, and the disk truth is
  known, unambiguous and has a transcript. Evidence: both ids and both last-turn times.
- ``unknown_route_session`` (warning): the record names a session with no transcript in the
  agent's config dir (e.g. it points into another CLAUDE_CONFIG_DIR; a respawn through it
  would start a blank session). Action repoint when a disk truth exists, else none.
- ``ambiguous_session`` (warning, none): nothing decides which session is the agent's.

Never ``stale_route`` when the disk truth is unknown or ambiguous: guessing is how peers hijacked sessions.
"""

from __future__ import annotations

from typing import Any, Collection, Iterable

from cockpit import timefmt
from cockpit.findings import Finding, Severity
from cockpit.observe.sessions import RouteState, SessionsReport, SessionTruth

__all__ = ["bad_route_entry", "judge_routes_file", "judge_sessions", "session_findings"]

EVIDENCE_KEYS = ("live", "bound", "bound_skipped", "owned_by_others", "foreign_live", "rivals", "pid_reused",
                 "also_claimed_by", "candidates_last_at", "dead_live_files")


def _short(sid: str | None) -> str:
    return sid[:8] if sid else "none"


def _truth_evidence(truth: SessionTruth) -> dict[str, Any]:
    ev: dict[str, Any] = {"source": truth.source, "candidates": list(truth.candidates)}
    for key in EVIDENCE_KEYS:
        if key in truth.evidence:
            ev[key] = truth.evidence[key]
    if truth.transcript is not None:
        ev["disk_transcript"] = truth.transcript.path
        if truth.transcript.last_user_text:
            ev["disk_last_user_text"] = truth.transcript.last_user_text[:200]
    return ev


def judge_sessions(agent: str, truth: SessionTruth | None, route: RouteState | None, *,
                   routes_file: str | None = None, starting: bool = False) -> list[Finding]:
    """The session findings of one agent. ``starting``: a spawn is under way, its truth is in flux."""
    if starting or truth is None:
        return []
    findings: list[Finding] = []
    if truth.ambiguous:
        claimed = truth.evidence.get("also_claimed_by")
        if claimed:
            summary = (f"{agent}: session {_short(truth.candidates[0] if truth.candidates else None)} is claimed by "
                       f"{agent} and {', '.join(claimed)} at once; cockpit picks neither")
        else:
            rivals = truth.evidence.get("rivals") or []
            summary = (f"{agent}: {len(truth.candidates)} transcript(s) in its cwd could be {agent}'s or "
                       f"{', '.join(rivals) or 'another agent'}'s and nothing decides; cockpit picks none "
                       f"(a respawn starts a new session)")
        findings.append(Finding(kind="ambiguous_session", severity=Severity.WARNING, agent=agent, action="none",
                                summary=summary, evidence={**_truth_evidence(truth),
                                                           "route_session": route.session_id if route else None}))
    if route is None or route.session_id is None or truth.kind not in ("claude-code", "codex"):
        return findings
    record = route.session_id
    disk = truth.disk_session
    if disk is not None and record.lower() == disk.lower():
        return findings  # the record is right (even if the disk truth has no turn on disk yet)
    evidence = {
        "route_session": record, "disk_session": disk,
        "route_last_turn_at": timefmt.iso(route.last_turn_at, ms=False),
        "disk_last_turn_at": timefmt.iso(truth.last_turn_at, ms=False),
        "routes_file": routes_file, "config_dir": route.config_dir or truth.config_dir,
        **_truth_evidence(truth),
    }
    if route.known is False:
        where = f" (it is in {route.found_in}, another project's folder)" if route.found_in else ""
        fixable = truth.resumable
        findings.append(Finding(
            kind="unknown_route_session", severity=Severity.WARNING, agent=agent,
            action="repoint" if fixable else "none",
            summary=(f"{agent}: the routing record names session {_short(record)}, which has no transcript in "
                     f"{route.config_dir or truth.config_dir}{where}; resuming it would start a blank session"
                     + (f"; the disk says {_short(disk)} ({truth.source})" if fixable else "")),
            evidence={**evidence, "found_in": route.found_in},
        ))
        return findings
    if route.known is True and truth.resumable and truth.transcript is not None:
        findings.append(Finding(
            kind="stale_route", severity=Severity.CRITICAL, agent=agent, action="repoint",
            summary=(f"{agent}: the routing record says {_short(record)} (last turn "
                     f"{timefmt.iso(route.last_turn_at, ms=False) or 'unknown'}) but the disk says {_short(disk)} "
                     f"({truth.source}, last turn {timefmt.iso(truth.last_turn_at, ms=False) or 'unknown'})"),
            evidence=evidence,
        ))
    return findings


def judge_routes_file(report: SessionsReport) -> Finding | None:
    """A routing record that cannot be read at all: one finding, never a crash."""
    if report.routes_error is None:
        return None
    return Finding(kind="unknown_route_session", severity=Severity.WARNING, agent=None, action="none",
                   subject=report.routes_file, summary=f"routing record unusable: {report.routes_error}; no agent's route can be checked",
                   evidence={"routes_file": report.routes_file, "error": report.routes_error})


def session_findings(agents: Iterable[str], report: SessionsReport | None, *,
                     starting: Collection[str] = ()) -> list[Finding]:
    """Every session finding of one observation: per agent, plus the record itself."""
    if report is None:
        return []
    findings: list[Finding] = []
    problem = judge_routes_file(report)
    if problem is not None:
        findings.append(problem)
    for name in agents:
        findings.extend(judge_sessions(name, report.truths.get(name), report.routes.get(name),
                                       routes_file=report.routes_file, starting=name in starting))
    return findings


def bad_route_entry(agent: str, why: str, routes_file: str | None) -> Finding:
    """SPEC §6: a routes entry of an unknown shape (a number, a list) is seen, never silently ignored."""
    return Finding(kind="unknown_route_session", severity=Severity.WARNING, agent=agent, action="none",
                   summary=f"{agent}: the routing record's entry is not understood ({why}); its route cannot be checked",
                   evidence={"routes_file": routes_file, "entry_error": why})
