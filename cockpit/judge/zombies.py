"""Seed #9, wrappers that won't die: ``zombie_wrapper`` findings from wrapper views.

Pure: the time is passed in. A live wrapper is a zombie when
- its output's last event is its ``result`` line and it is still alive ``grace_s`` after that
  line was first seen (reason ``after_result``): its stop hook never acked; or
- the process of its parent agent is gone (reason ``orphan``): nobody will read its answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from cockpit.findings import Finding, Severity
from cockpit.observe.wrappers import WrapperView

AFTER_RESULT = "after_result"
ORPHAN = "orphan"


def zombie_reason(view: WrapperView, *, now: float, grace_s: float) -> str | None:
    if not view.alive:
        return None
    if view.ends_with_result and view.result is not None and now - view.result.seen_at >= grace_s:
        return AFTER_RESULT
    if view.orphan:
        return ORPHAN
    return None


def zombie_evidence(view: WrapperView, *, now: float, reason: str) -> dict[str, Any]:
    result = view.result
    return {
        "reason": reason,
        "wrapper": view.id,
        "name": view.name,
        "pid": view.pid,
        "start": view.start,
        "pgid": view.pgid,
        "command": view.command[:500],
        "output": view.output,
        "parent_agent": view.agent,
        "parent_process": list(view.agent_proc) if view.agent_proc else None,
        "result": result.to_json() if result is not None else None,
        "since_result_s": round(now - result.seen_at, 1) if result is not None else None,
        "tree": [{"pid": p.pid, "start": p.start, "pgid": p.pgid, "command": p.command[:200]} for p in view.tree],
    }


def _summary(view: WrapperView, reason: str, now: float) -> str:
    who = f"{view.name} (pid {view.pid}{', of ' + view.agent if view.agent else ''})"
    if reason == AFTER_RESULT and view.result is not None:
        r = view.result
        return (f"{who} still alive {now - r.seen_at:.0f}s after its result line "
                f"(subtype {r.subtype}, is_error {str(r.is_error).lower()})")
    return f"{who}: its parent agent{' ' + view.agent if view.agent else ''} is gone"


def judge_zombies(views: Iterable[WrapperView], *, now: float,
                  grace_s: float) -> tuple[tuple[WrapperView, ...], list[Finding]]:
    """The views with zombies marked (state ``zombie``, ``zombie_reason``), and one finding per zombie.

    A finding's ``agent`` is the parent agent and its ``subject`` the wrapper's id: twenty
    zombies of one agent are twenty findings.
    """
    marked: list[WrapperView] = []
    findings: list[Finding] = []
    for view in views:
        reason = zombie_reason(view, now=now, grace_s=grace_s)
        if reason is None:
            marked.append(view)
            continue
        marked.append(replace(view, state="zombie", zombie_reason=reason))
        findings.append(Finding(kind="zombie_wrapper", severity=Severity.WARNING, agent=view.agent,
                                subject=view.id, summary=_summary(view, reason, now), action="reap",
                                evidence=zombie_evidence(view, now=now, reason=reason)))
    return tuple(marked), findings
