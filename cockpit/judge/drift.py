"""Seed #1, auto-update without verification: ``version_drift`` from resolved agent CLIs. Pure.

A CLI whose resolved target (the end of its symlink chain) differs from the one the last passed
promotion (or the first-seen baseline) recorded, or whose file there was rewritten in place (its
size or mtime differ: an npm update), or vanished, changed without anyone running
``cockpit doctor``: critical, because the next spawn runs a binary nobody verified. One finding per
link (several agents sharing a CLI share it); it clears when a promotion of the current target
passes, or the link is pointed back.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cockpit.findings import Finding, Severity
from cockpit.observe.drift import CliTarget, version_hint


def drift_reason(target: CliTarget) -> str | None:
    """Why ``target`` is not what was promoted (None: it is)."""
    expected = target.expected
    if expected is None or target.link is None:
        return None
    if target.resolved != expected.get("resolved"):
        return "retargeted"
    if not target.exists:
        return "missing"
    old_fp = expected.get("fingerprint")
    if isinstance(old_fp, dict) and target.fingerprint is not None and dict(target.fingerprint) != old_fp:
        return "rewritten"
    return None


def _promoted_link(target: CliTarget) -> str:
    """The link to repoint: the promoted one, else the last symlink hop before the versioned file."""
    expected = target.expected or {}
    if expected.get("kind") == "promotion" and isinstance(expected.get("link_given"), str):
        return expected["link_given"]
    return target.chain[-2] if len(target.chain) >= 2 else (target.link or target.command)


def drift_evidence(target: CliTarget, reason: str) -> dict[str, Any]:
    expected = dict(target.expected or {})
    old = expected.get("resolved")
    link = _promoted_link(target)
    evidence: dict[str, Any] = {
        "reason": reason, "link": target.link, "chain": list(target.chain),
        "old_target": old, "new_target": target.resolved,
        "old_version": expected.get("version") or version_hint(old), "new_version": target.version,
        "old_fingerprint": expected.get("fingerprint"),
        "new_fingerprint": dict(target.fingerprint) if target.fingerprint else None,
        "exists": target.exists, "agents": list(target.agents),
        "last_passed": {k: expected.get(k) for k in ("ts", "kind", "link", "actor", "screen_sha256")},
        "verify": ["cockpit", "doctor", target.resolved or "", "--promote", link],
    }
    if isinstance(old, str) and reason == "retargeted":
        evidence["revert"] = ["cockpit", "doctor", old, "--promote", link]
    return evidence


def judge_drift(targets: Iterable[CliTarget]) -> list[Finding]:
    findings: list[Finding] = []
    for target in targets:
        reason = drift_reason(target)
        if reason is None:
            continue
        evidence = drift_evidence(target, reason)
        who = target.agents[0] if len(target.agents) == 1 else f"{len(target.agents)} agents"
        old, new = evidence["old_target"], target.resolved
        what = {
            "retargeted": f"now resolves to {new} (was {old})",
            "missing": f"resolves to {new}, which no longer exists",
            "rewritten": f"{new} was rewritten in place (size/mtime changed)",
        }[reason]
        since = (target.expected or {}).get("kind", "promotion")
        findings.append(Finding(
            kind="version_drift", severity=Severity.CRITICAL,
            agent=target.agents[0] if len(target.agents) == 1 else None, subject=f"cli:{target.link}",
            summary=(f"{who}: {target.command} changed since the last {'passed promotion' if since == 'promotion' else 'baseline'}"
                     f" and nobody promoted it: {what}; verify with `cockpit doctor {new} --promote {_promoted_link(target)}`"),
            evidence=evidence,
        ))
    return findings
