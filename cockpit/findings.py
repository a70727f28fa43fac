"""Findings: typed records of what is wrong, with evidence and the action that fixes it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Mapping


class Severity(str, Enum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"critical": 2, "warning": 1, "info": 0}[self.value]


FINDING_KINDS = (
    "agent_down", "spawn_failed", "respawn_exhausted", "port_not_listening",
    "stale_route", "unknown_route_session", "ambiguous_session", "registry_orphan_exit",
    "canary_failed", "version_drift", "missed_wake", "reminder_overdue", "loop_block",
    "heartbeat_risk", "supervisor_overloaded", "cleanup_throttled", "zombie_wrapper",
    "fold_under_pressure", "tmux_unreachable", "host_unreachable",
) + (
    # SPEC §10: the cockpit's own outputs failing: a notification channel that did not answer,
    # a metrics endpoint or textfile that cannot be served or written (never a stall, never a crash).
    "notify_failed", "metrics_failed",
) + (
    # SPEC §8: a turn that failed (StopFailure hook); hooks that never spoke after a spawn with them.
    "agent_error", "hooks_silent",
) + (
    # SPEC §6: a state file the cockpit could not write (a full disk): loud, never a crash.
    "state_unwritable",
)
ACTIONS = ("respawn", "repoint", "reap", "none")


@dataclass(frozen=True)
class Finding:
    kind: str
    severity: Severity
    summary: str
    agent: str | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)
    action: str = "none"
    subject: str | None = None  # what, besides the agent, the finding is about (a spawn id, a wrapper)
    host: str | None = None     # SPEC §9: the host it was judged on (None: this one); part of the agent's name

    def __post_init__(self) -> None:
        if self.kind not in FINDING_KINDS:
            raise ValueError(f"unknown finding kind {self.kind!r}")
        if self.action not in ACTIONS:
            raise ValueError(f"unknown action {self.action!r}")

    @property
    def key(self) -> tuple[str, str | None, str | None]:
        """Identity across ticks: the same fault seen again is the same finding."""
        return (self.kind, self.agent, self.subject)

    def to_json(self) -> dict[str, Any]:
        out = {
            "kind": self.kind,
            "severity": self.severity.value,
            "agent": self.agent,
            "summary": self.summary,
            "evidence": dict(self.evidence),
            "action": self.action,
        }
        if self.host is not None:  # SPEC §9: judged on another host (its agents are named HOST/NAME)
            out["host"] = self.host
        return out


def worst(findings: list[Finding] | tuple[Finding, ...]) -> Finding | None:
    return max(findings, key=lambda f: f.severity.rank, default=None)


def exit_code(findings: list[Finding] | tuple[Finding, ...]) -> int:
    """Monitoring-plugin exit codes: 0 ok, 1 warnings, 2 critical."""
    top = worst(findings)
    if top is None or top.severity is Severity.INFO:
        return 0
    return 2 if top.severity is Severity.CRITICAL else 1
