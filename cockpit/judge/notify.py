"""What to tell the humans, and when: one message per transition of a finding, never per tick.

Pure: findings, the incidents already told (read back from the journal) and ``now`` in;
transitions and messages out. No I/O, no clock.

An *incident* is what one message is about. Most findings are their own incident (their
key); an agent's lifecycle findings (agent_down, spawn_failed, respawn_exhausted: at most one
at a time) are ONE incident per agent, and it stays open while the agent is starting again or
cannot be seen: a crash loop flaps between "starting" and a failure every few seconds, and
peers' users left the tools that pinged on every flap. It resolves once the agent has stayed
clear of them for ``settle_s`` (the restart window: a crash within it is the same crash loop).

Only an incident at or above ``min_severity`` is told; its resolution is told when
``on_resolve``; a severity that rises past the told one is told again (escalated). More
transitions than ``max_per_minute`` allows are folded into one digest, and when the minute's
budget is spent they wait for the next slot, folded, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

from cockpit.findings import Finding, Severity

LIFECYCLE_KINDS = frozenset({"agent_down", "spawn_failed", "respawn_exhausted"})
HELD_STATUSES = frozenset({"starting", "unknown"})  # a lifecycle incident is not over while the agent is these
WINDOW_S = 60.0
DIGEST_LINES = 40  # a digest names this many transitions, then counts the rest


def incident_key(finding: Finding) -> str:
    """The identity one message is about (see the module doc)."""
    if finding.kind in LIFECYCLE_KINDS and finding.agent is not None:
        return f"lifecycle:{finding.agent}"
    return f"{finding.kind}:{finding.agent or ''}:{finding.subject or ''}"


@dataclass(frozen=True)
class Incident:
    """What the humans were last told about one key (the journal's ``notify`` rows keep it)."""
    key: str
    kind: str
    severity: str
    agent: str | None
    summary: str


@dataclass(frozen=True)
class Transition:
    key: str
    event: str          # "opened" | "escalated" | "resolved"
    kind: str
    severity: str
    agent: str | None
    summary: str
    send: bool          # told to the humans (a resolution without on_resolve is only journaled)

    def to_json(self) -> dict[str, object]:
        return {"key": self.key, "event": self.event, "kind": self.kind, "severity": self.severity,
                "agent": self.agent, "summary": self.summary, "send": self.send}

    @property
    def incident(self) -> Incident | None:
        """The incident after this transition (None: closed)."""
        if self.event == "resolved":
            return None
        return Incident(self.key, self.kind, self.severity, self.agent, self.summary)


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    level: str          # "failure" | "warning" | "info" | "success" (Apprise's notify types)
    transitions: tuple[Transition, ...]


def _rank(severity: str) -> int:
    try:
        return Severity(severity).rank
    except ValueError:
        return 0


def transitions(findings: Iterable[Finding], told: Mapping[str, Incident], *, min_severity: str,
                on_resolve: bool, statuses: Mapping[str, str], now: float = 0.0,
                clear: Mapping[str, float] | None = None, settle_s: float = 0.0) -> tuple[list[Transition], dict[str, float]]:
    """The transitions one report makes against what was told, and since when each told lifecycle
    incident has been clear (hand it back next time). ``statuses``: agent -> status."""
    floor = _rank(min_severity)
    worst: dict[str, Finding] = {}
    for f in findings:
        key = incident_key(f)
        if key not in worst or f.severity.rank > worst[key].severity.rank:
            worst[key] = f
    out: list[Transition] = []
    for key, f in worst.items():
        before = told.get(key)
        if before is None:
            if f.severity.rank >= floor:
                out.append(_transition(key, "opened", f, send=True))
        elif f.severity.rank > _rank(before.severity):
            out.append(_transition(key, "escalated", f, send=True))
    clear_since: dict[str, float] = {}
    for key, before in told.items():
        if key in worst:
            continue
        if key.startswith("lifecycle:"):
            if statuses.get(before.agent or "") in HELD_STATUSES:
                continue  # a crash loop between two attempts, or tmux unreadable: not a resolution
            since = (clear or {}).get(key, now)
            if now - since < settle_s:
                clear_since[key] = since  # up again, not yet for long enough to call the loop over
                continue
        out.append(Transition(key, "resolved", before.kind, before.severity, before.agent,
                              f"resolved: {before.summary}", send=on_resolve))
    return out, clear_since


def _transition(key: str, event: str, f: Finding, *, send: bool) -> Transition:
    return Transition(key, event, f.kind, f.severity.value, f.agent, f.summary, send)


def apply(told: Mapping[str, Incident], done: Iterable[Transition]) -> dict[str, Incident]:
    """What is told after ``done`` (the one place the told state changes)."""
    after = dict(told)
    for t in done:
        incident = t.incident
        if incident is None:
            after.pop(t.key, None)
        else:
            after[t.key] = incident
    return after


@dataclass
class RateWindow:
    """Messages sent in the last minute (``max_per_minute``): pure bookkeeping, ``now`` handed in."""
    max_per_minute: int
    sent: list[float] = field(default_factory=list)

    def free(self, now: float) -> int:
        self.sent = [t for t in self.sent if now - t < WINDOW_S]
        return max(0, self.max_per_minute - len(self.sent))

    def take(self, now: float, count: int = 1) -> None:
        self.sent.extend([now] * count)


def plan_messages(pending: list[Transition], window: RateWindow, now: float,
                  source: str = "cockpit") -> tuple[list[Message], list[Transition]]:
    """Messages for the pending transitions (each alone when they fit the minute's budget, else one
    digest), and what still waits for a free slot. Takes the slots it uses from ``window``."""
    if not pending:
        return [], []
    free = window.free(now)
    if free <= 0:
        return [], list(pending)
    if len(pending) <= free:
        window.take(now, len(pending))
        return [message([t], source) for t in pending], []
    window.take(now)
    return [message(pending, source)], []


_LEVELS = {"critical": "failure", "warning": "warning", "info": "info"}


def message(batch: list[Transition], source: str = "cockpit") -> Message:
    """One transition's message, or a digest of several."""
    if len(batch) == 1:
        t = batch[0]
        if t.event == "resolved":
            return Message(f"[{source}] resolved: {t.kind} {t.agent or ''}".rstrip(), t.summary, "success", (t,))
        word = t.severity.upper() + (" (escalated)" if t.event == "escalated" else "")
        return Message(f"[{source}] {word} {t.kind} {t.agent or ''}".rstrip(), t.summary,
                       _LEVELS.get(t.severity, "info"), (t,))
    opened = [t for t in batch if t.event != "resolved"]
    counts: dict[str, int] = {}
    for t in opened:
        counts[t.severity] = counts.get(t.severity, 0) + 1
    parts = [f"{counts[s]} {s}" for s in ("critical", "warning", "info") if s in counts]
    if len(opened) < len(batch):
        parts.append(f"{len(batch) - len(opened)} resolved")
    lines = [f"{'RESOLVED' if t.event == 'resolved' else t.severity.upper():<8} {t.kind} {t.agent or ''}: "
             f"{t.summary}" for t in batch[:DIGEST_LINES]]
    if len(batch) > DIGEST_LINES:
        lines.append(f"... and {len(batch) - DIGEST_LINES} more (the journal has them all)")
    top = max((t.severity for t in opened), key=_rank, default=None)
    level = _LEVELS.get(top, "info") if top is not None else "success"
    return Message(f"[{source}] digest: {len(batch)} changes ({', '.join(parts)})", "\n".join(lines), level,
                   tuple(batch))
