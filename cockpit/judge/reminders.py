"""Seed #6, the reminder that fired while the agent never woke: ``missed_wake`` and ``reminder_overdue``.

Pure: reminders (folded from STATE/reminders.jsonl) and the time in, findings out.

- ``missed_wake``: a wake was typed and the agent showed no new turn with its text (transcript) and
  did not go busy (live-session status) within ``wake_verify_s``. A warning while retries remain,
  critical once the last retry missed too; the evidence is what the verifier saw.
- ``reminder_overdue``: due longer than ``grace_s`` ago and not fired (no leader cockpit running,
  the agent down or needing input: ``why`` says), or fired and never given a verdict (the cockpit
  that fired it stopped while verifying).
"""

from __future__ import annotations

from collections.abc import Iterable

from cockpit import timefmt
from cockpit.findings import Finding, Severity
from cockpit.reminders import Reminder

RECENT_S = 86400.0  # a final miss stays a finding this long (then it is history, in the journal)


def overdue_grace_s(tick_s: float) -> float:
    """How late a due reminder may fire before it is ``reminder_overdue``: a few ticks, at least 5 s."""
    return max(5.0, 3.0 * tick_s)


def _quote(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[:limit] + "…")


def missed_wake(reminder: Reminder, *, now: float, max_attempts: int | None = None,
                recent_s: float = RECENT_S) -> Finding | None:
    r = reminder
    if r.verb != "wake" or r.missed_at is None or r.state in ("delivered", "cancelled"):
        return None
    final = r.state == "missed"
    if final and now - r.missed_at > recent_s:
        return None
    of = f" of {max_attempts}" if max_attempts else ""
    if final:
        summary = (f"{r.agent} never woke for reminder {r.id} {_quote(r.text)}: "
                   f"{r.attempts} attempt{'s' if r.attempts != 1 else ''} typed, none showed in its transcript")
    else:
        summary = (f"{r.agent} did not pick up reminder {r.id} {_quote(r.text)} "
                   f"(attempt {r.attempts}{of}); retrying")
    return Finding(kind="missed_wake", severity=Severity.CRITICAL if final else Severity.WARNING,
                   agent=r.agent, subject=r.id, action="none", summary=summary,
                   evidence={"reminder": r.id, "attempts": r.attempts, "final": final,
                             "text": r.text, **dict(r.evidence)})


def reminder_overdue(reminder: Reminder, *, now: float, grace_s: float, verify_s: float) -> Finding | None:
    r = reminder
    if r.pending and now - r.next_at > grace_s:
        retry = f" (retry {r.attempts + 1})" if r.attempts else ""
        why = f": {r.why}" if r.state == "waiting" and r.why else ": no leader cockpit fired it"
        action = "respawn" if r.verb == "wake" and r.why and r.why.startswith("agent down") else "none"
        return Finding(kind="reminder_overdue", severity=Severity.WARNING, agent=r.agent, subject=r.id,
                       action=action,
                       summary=f"{r.agent}: {r.verb} reminder {r.id}{retry} due {timefmt.age(now - r.next_at)} ago "
                               f"has not fired{why}",
                       evidence={"reminder": r.id, "verb": r.verb, "state": r.state, "why": r.why,
                                 "overdue_s": round(now - r.next_at, 1), "attempts": r.attempts})
    if r.state == "fired" and r.fired_at is not None and now - r.fired_at > verify_s + grace_s:
        return Finding(kind="reminder_overdue", severity=Severity.WARNING, agent=r.agent, subject=r.id,
                       action="none",
                       summary=f"{r.agent}: {r.verb} reminder {r.id} fired {timefmt.age(now - r.fired_at)} ago and has "
                               "no verdict (the cockpit that fired it stopped while verifying?)",
                       evidence={"reminder": r.id, "verb": r.verb, "state": r.state, "attempts": r.attempts,
                                 "pane": r.pane, "fired_s_ago": round(now - r.fired_at, 1)})
    return None


def reminder_findings(reminders: Iterable[Reminder], *, now: float, grace_s: float, verify_s: float,
                      max_attempts: int | None = None, recent_s: float = RECENT_S) -> list[Finding]:
    found: list[Finding] = []
    for r in reminders:
        for finding in (missed_wake(r, now=now, max_attempts=max_attempts, recent_s=recent_s),
                        reminder_overdue(r, now=now, grace_s=grace_s, verify_s=verify_s)):
            if finding is not None:
                found.append(finding)
    return found
