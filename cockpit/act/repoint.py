"""Repoint: rewrite an agent's routing record entry to its disk truth, loudly (seed #3).

The act behind ``cockpit repoint NAME`` and the TUI's ``p``. It recomputes the disk truth
fresh (never trusting the last tick), refuses when that truth is ambiguous, unknown or has
no transcript yet, rewrites the record under its lock (atomic, only that entry, its shape
kept), re-reads it, and records the change: a registry row ``repointed`` (which also binds
the session to the agent from now on) and a journal row with before/after and the evidence.

The caller (ActionLayer) refuses in read-only mode and holds the agent's lock around it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping, Sequence

from cockpit import timefmt
from cockpit.config import Config
from cockpit.findings import Finding
from cockpit.judge.plan import AutoRepoint, repointed  # the leader's repoint rule, its memory, its alert: the plan's
from cockpit.observe.sessions import SessionObserver, SessionTruth
from cockpit.registry import Journal, Registry
from cockpit.routes import RoutesError, read_routes, repoint

__all__ = ["AutoRepoint", "RepointResult", "repoint_agent"]


@dataclass(frozen=True)
class RepointResult:
    agent: str
    ok: bool
    summary: str
    before: str | None = None
    after: str | None = None
    session_id: str | None = None       # the disk truth that was (or would have been) written
    source: str | None = None           # live | bound | newest
    skipped: bool = False               # the record already said so: nothing written
    refused: str | None = None          # why nothing was written: ambiguous | unknown | no_transcript | no_routes | error
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"action": "repoint", "agent": self.agent, "ok": self.ok, "skipped": self.skipped,
                "refused": self.refused, "summary": self.summary, "before": self.before, "after": self.after,
                "session_id": self.session_id, "source": self.source, "evidence": dict(self.evidence)}


async def repoint_agent(
    name: str,
    *,
    config: Config,
    sessions: SessionObserver,
    observe: Callable[[], Awaitable[Any]],
    bound: Callable[[], Mapping[str, Sequence[str]]] | Mapping[str, Sequence[str]],
    registry: Registry,
    journal: Journal,
    actor: str = "cockpit",
    by: str = "operator",
    alert: Callable[[Finding], Awaitable[Any]] | None = None,
    lock_timeout: float = 10.0,
) -> RepointResult:
    """Point ``name``'s routing record entry at its disk truth, recomputed now.

    ``observe`` returns a fresh snapshot (the pane trees); ``bound`` the registry's bound ids
    per agent (or a callable giving them after a registry sync).
    """
    config.agent(name)
    routes_file = config.routes.file
    snapshot = await observe()
    report = await sessions.observe(snapshot, bound() if callable(bound) else bound, track_activity=False)
    truth: SessionTruth | None = report.truths.get(name)
    route = report.routes.get(name)
    evidence = _evidence(truth, route, routes_file)
    refusal = _refusal(name, truth, report.routes_error, routes_file)
    if refusal is not None:
        reason, summary = refusal
        result = RepointResult(name, False, summary, before=route.session_id if route else None,
                               session_id=truth.disk_session if truth else None,
                               source=truth.source if truth else None, refused=reason, evidence=evidence)
        await asyncio.to_thread(journal.record, "action", agent=name, action="repoint", actor=actor,
                                summary=summary, before={"session_id": result.before}, after=None,
                                evidence=evidence, result=f"refused: {reason}")
        return result
    assert truth is not None and truth.disk_session is not None and routes_file is not None
    sid = truth.disk_session
    current = route.session_id if route else None
    if current is not None and current.lower() == sid.lower():
        summary = f"{name}: the routing record already points at {sid} ({truth.source}); nothing to do"
        return RepointResult(name, True, summary, before=current, after=current, session_id=sid,
                             source=truth.source, skipped=True, evidence=evidence)
    return await _rewrite(name, truth, current, Path(routes_file), evidence, registry=registry, journal=journal,
                          actor=actor, by=by, alert=alert, lock_timeout=lock_timeout)


def _evidence(truth: SessionTruth | None, route: Any, routes_file: Any) -> dict[str, Any]:
    evidence: dict[str, Any] = {"routes_file": str(routes_file) if routes_file else None}
    if truth is not None:
        evidence.update({"source": truth.source, "disk_last_turn_at": timefmt.iso(truth.last_turn_at, ms=False),
                         "candidates": list(truth.candidates), "config_dir": truth.config_dir,
                         **{k: v for k, v in truth.evidence.items() if k != "activity_why"}})
        if truth.transcript is not None:
            evidence["disk_transcript"] = truth.transcript.path
    if route is not None:
        evidence["route_last_turn_at"] = timefmt.iso(route.last_turn_at, ms=False)
        evidence["route_known"] = route.known
    return evidence


def _refusal(name: str, truth: SessionTruth | None, routes_error: str | None,
             routes_file: Any) -> tuple[str, str] | None:
    """Why nothing may be written, (reason, summary); None when the disk truth can be written."""
    if routes_file is None:
        return "no_routes", f"repoint {name} refused: no [routes] file is configured"
    if routes_error is not None:
        return "error", f"repoint {name} refused: {routes_error}"
    if truth is None or truth.ambiguous:
        rivals = ", ".join(truth.evidence.get("rivals") or truth.evidence.get("also_claimed_by") or []) if truth else ""
        return "ambiguous", (f"repoint {name} refused: its session is ambiguous"
                             + (f" (also claimable by {rivals})" if rivals else "") + "; cockpit does not guess")
    if truth.disk_session is None:
        return "unknown", (f"repoint {name} refused: no session of {name} is on disk "
                           f"(no live file, no bound id with a transcript, no unowned transcript)")
    if truth.kind in ("claude-code", "codex") and truth.transcript is None:
        return "no_transcript", (f"repoint {name} refused: its session {truth.disk_session} has no "
                                 f"transcript yet (no turn taken); nothing a respawn could resume")
    return None


async def _rewrite(name: str, truth: SessionTruth, current: str | None, routes_file: Path, evidence: dict[str, Any],
                   *, registry: Registry, journal: Journal, actor: str, by: str,
                   alert: Callable[[Finding], Awaitable[Any]] | None, lock_timeout: float) -> RepointResult:
    """Rewrite the entry under the record's lock, read it back as a reader would, record what was seen."""
    sid = truth.disk_session
    assert sid is not None
    try:
        before, after = await asyncio.to_thread(repoint, routes_file, name, sid, timeout=lock_timeout)
    except RoutesError as exc:
        summary = f"repoint {name} failed: {exc}"
        await asyncio.to_thread(journal.record, "action", agent=name, action="repoint", actor=actor,
                                summary=summary, before={"session_id": current}, evidence=evidence, result="failed")
        return RepointResult(name, False, summary, before=current, session_id=sid, source=truth.source,
                             refused="error", evidence=evidence)
    # Verify as a reader would: the record on disk now, not what we meant to write.
    check = await asyncio.to_thread(read_routes, routes_file)
    verified = check.error is None and check.get(name) == sid
    evidence["verified"] = verified
    summary = (f"repointed {name}: routing record {before or 'none'} -> {after} "
               f"(disk truth from {truth.source}, last turn {timefmt.iso(truth.last_turn_at, ms=False) or 'unknown'})")
    await asyncio.to_thread(registry.event, "repointed", agent=name, before=before, after=after, session_id=sid,
                            source=truth.source, by=by, actor=actor)
    await asyncio.to_thread(journal.record, "action", agent=name, action="repoint", actor=actor, summary=summary,
                            before={"session_id": before, "last_turn_at": evidence.get("route_last_turn_at")},
                            after={"session_id": after, "last_turn_at": timefmt.iso(truth.last_turn_at, ms=False)},
                            evidence=evidence, result="verified" if verified else "unverified")
    told = repointed(name, summary, {"before": before, "after": after, **evidence})
    if alert is not None and told.finding is not None:
        await alert(told.finding)
    return RepointResult(name, verified, summary, before=before, after=after, session_id=sid,
                         source=truth.source, evidence=evidence)
