"""Seed #5, the fix shipped but the user never saw it: ``canary_failed`` from canary states. Pure.

Severity, decided: a canary's last run failing is a **warning** — one run can be a flake (a slow
command, a network blip), and ``cockpit check`` still exits 1 so monitoring sees it. Failing
``CRITICAL_AFTER`` (3) runs in a row is **critical**: the user-visible thing is broken, not flaky,
and that is exactly the outage seed #5 let run for weeks. A canary still running long after its
``timeout_s`` (a hung stat on a dead mount) is a warning too. A canary that never ran yet says
nothing. The finding clears on the next passing run.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cockpit import timefmt
from cockpit.findings import Finding, Severity
from cockpit.observe.canaries import CanaryState

CRITICAL_AFTER = 3
HUNG_SLACK_S = 30.0


def canary_evidence(state: CanaryState) -> dict[str, Any]:
    last = state.last
    evidence: dict[str, Any] = {"canary": state.name, "kind": state.kind, "failures_in_a_row": state.failures,
                                "failing_since": timefmt.iso(state.failing_since, ms=False), "every_s": state.every_s}
    if state.kind == "command":
        evidence.update(command=list(state.command), expect=state.expect, timeout_s=state.timeout_s)
    else:
        evidence.update(expect_file=state.expect_file, max_age_s=state.max_age_s)
    if last is not None:
        evidence.update(detail=last.detail, last_run=timefmt.iso(last.started_at, ms=False),
                        duration_s=round(last.duration_s, 3),
                        output_tail=last.output_tail, exit_code=last.exit_code, timed_out=last.timed_out,
                        age_s=None if last.age_s is None else round(last.age_s, 1), error=last.error)
    return evidence


def judge_canaries(states: Iterable[CanaryState], now: float) -> list[Finding]:
    findings: list[Finding] = []
    for state in states:
        subject = f"canary:{state.index}:{state.name}"
        if state.running_since is not None and now - state.running_since > 2 * state.timeout_s + HUNG_SLACK_S:
            findings.append(Finding(
                kind="canary_failed", severity=Severity.WARNING, subject=subject,
                summary=(f"canary {state.name}: still running {now - state.running_since:.0f}s after it started "
                         f"(timeout {state.timeout_s:g}s): hung"),
                evidence={**canary_evidence(state), "running_since": timefmt.iso(state.running_since, ms=False)},
            ))
            continue
        if state.last is None or state.last.ok:
            continue
        critical = state.failures >= CRITICAL_AFTER
        streak = f" ({state.failures} runs in a row)" if state.failures > 1 else ""
        findings.append(Finding(
            kind="canary_failed", severity=Severity.CRITICAL if critical else Severity.WARNING, subject=subject,
            summary=f"canary {state.name} failed{streak}: {state.last.detail}",
            evidence=canary_evidence(state),
        ))
    return findings
