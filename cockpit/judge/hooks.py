"""What an agent's hook events say (SPEC §8): pure, from its events rows to its hook state.

- ``SessionStart`` binds the session id and transcript path (the strongest truth; after
  ``/clear`` or a compact the id changes and the route is judged against the new one at once);
- ``UserPromptSubmit`` → working; ``Notification`` with ``notification_type``
  ``permission_prompt`` / ``elicitation_dialog`` → needs_input; ``Stop`` → idle (a Codex
  ``agent-turn-complete`` too);
- ``StopFailure`` → ``agent_error`` (critical for auth and billing, warning for rate limits and
  the rest) until the next prompt or stop;
- ``SessionEnd`` → the exit that follows is expected (its reason is kept);
- ``SubagentStart`` / ``SubagentStop`` → sub-agent activity;
- the prompts seen (a wake is verified by the ``UserPromptSubmit`` carrying its text).

Hooks can stay silent (a managed policy, an old CLI): ``hooks_silent`` (info) for an agent
spawned with hooks that sent no ``SessionStart`` within ``spawn_verify_s``; its status then
comes from the live-session file, the transcript and the pane as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from cockpit import timefmt
from cockpit.findings import Finding, Severity
from cockpit.observe.events import HookState  # the fold's data: observe reads it, the rules here make it
from cockpit.observe.sessions import SessionTruth

__all__ = ["HookState", "agent_error", "fold_events", "hook_activity", "hooks_silent", "with_hook_session",
           "CRITICAL_ERRORS"]

NEEDS_INPUT = frozenset({"permission_prompt", "elicitation_dialog"})
CRITICAL_ERRORS = frozenset({"authentication_failed", "billing_error", "oauth_org_not_allowed"})
MAX_PROMPTS = 16
MAX_SUBAGENTS = 64


def _text(row: Mapping[str, Any], key: str) -> str | None:
    value = row.get(key)
    return value if isinstance(value, str) and value else None


def fold_events(state: HookState, rows: Iterable[Mapping[str, Any]]) -> HookState:
    """Apply rows in order; rows that are not objects with an ``event`` and a ``ts`` are skipped."""
    for row in rows:
        at = timefmt.parse(row.get("ts")) if isinstance(row, Mapping) else None
        event = row.get("event") if at is not None else None
        if not isinstance(event, str):
            continue
        state = _apply(replace(state, events=state.events + 1, last_at=at), event, row, at)
    return state


def _activity(state: HookState, activity: str, at: float, **changes: Any) -> HookState:
    return replace(state, activity=activity, activity_at=at, **changes)


def _apply(state: HookState, event: str, row: Mapping[str, Any], at: float) -> HookState:
    if event == "SessionStart":
        sid = _text(row, "session_id")
        previous = state.previous_sessions
        if state.session_id and sid and sid != state.session_id:
            previous = (previous + (state.session_id,))[-MAX_PROMPTS:]
        # a new session (startup, resume, /clear): idle at its prompt, no error, no pending end
        return replace(state, session_id=sid or state.session_id, previous_sessions=previous,
                       transcript_path=_text(row, "transcript_path") or state.transcript_path,
                       session_source=_text(row, "source"), session_at=at, activity="idle", activity_at=at,
                       error=None, ended=None, subagents=())
    if event == "UserPromptSubmit":
        prompt = _text(row, "prompt") or ""
        return _activity(state, "working", at, error=None, prompts=(state.prompts + ((at, prompt),))[-MAX_PROMPTS:])
    if event == "Notification":
        if _text(row, "notification_type") in NEEDS_INPUT:
            return _activity(state, "needs_input", at)
        return state
    if event in ("Stop", "agent-turn-complete"):
        return _activity(state, "idle", at, error=None, subagents=())
    if event == "StopFailure":
        return _activity(state, "idle", at, error=dict(row))
    if event == "SessionEnd":
        return replace(state, ended=dict(row))
    if event == "SubagentStart":
        agent_id = _text(row, "agent_id") or f"anon-{state.events}"
        return replace(state, subagents=(state.subagents + (agent_id,))[-MAX_SUBAGENTS:], subagent_at=at)
    if event == "SubagentStop":
        agent_id = _text(row, "agent_id")
        left = tuple(a for a in state.subagents if a != agent_id) if agent_id else state.subagents[:-1]
        return replace(state, subagents=left, subagent_at=at)
    return state


def hook_activity(state: HookState | None, *, since: float | None) -> str | None:
    """The agent's status from its hooks, when they spoke after ``since`` (its spawn): else None."""
    if state is None or state.activity is None or state.activity_at is None:
        return None
    if since is not None and state.activity_at < since:
        return None
    return state.activity


def hook_status(state: HookState | None, truth_activity: str | None, last_turn_at: float | None, *,
                since: float | None) -> str | None:
    """The live status: the hooks' word when they spoke since the spawn, else the disk's (live file,
    transcript, pane). A "working" the transcript has since closed (a turn interrupted with Esc fires
    no hook) gives way to the disk's word."""
    said = hook_activity(state, since=since)
    if said is None:
        return truth_activity
    assert state is not None and state.activity_at is not None
    if said == "working" and last_turn_at is not None and last_turn_at > state.activity_at + 1.0:
        return truth_activity or said
    return said


def with_hook_session(truth: SessionTruth | None, state: HookState | None, *, since: float | None
                      ) -> SessionTruth | None:
    """The session a SessionStart named since the spawn is the strongest truth (SPEC §8): after
    ``/clear`` the route is judged against the new id at once. A live-session file that already names
    it (or a newer one) stands."""
    if truth is None or state is None or not state.session_id or state.session_at is None:
        return truth
    if since is not None and state.session_at < since - 1.0:
        return truth
    if truth.disk_session == state.session_id:
        return truth
    if truth.source == "live" and truth.disk_session not in state.previous_sessions:
        return truth
    evidence = {**dict(truth.evidence), "hook_session": state.session_id, "hook_source": state.session_source,
                "replaced": truth.disk_session}
    return replace(truth, disk_session=state.session_id, source="hook", ambiguous=False, candidates=(),
                   evidence=evidence)


def session_ended(state: HookState | None, *, since: float | None) -> str | None:
    """SPEC §8: the reason of the SessionEnd its hooks sent since its spawn (``since``): its exit is expected."""
    ended = state.ended if state is not None else None
    at = timefmt.parse(ended.get("ts")) if ended is not None else None
    if ended is None or at is None or (since is not None and at < since):
        return None
    reason = ended.get("reason")
    return reason if isinstance(reason, str) and reason else "other"


def agent_error(name: str, state: HookState | None, *, since: float | None) -> Finding | None:
    """``agent_error`` from the last StopFailure of the current process (``since``: its spawn)."""
    if state is None or state.error is None or state.activity_at is None:
        return None
    if since is not None and state.activity_at < since:
        return None
    row = state.error
    error = row.get("error") if isinstance(row.get("error"), str) else "unknown"
    severity = Severity.CRITICAL if error in CRITICAL_ERRORS else Severity.WARNING
    details = row.get("error_details")
    summary = f"{name}: the turn failed ({error})"
    if isinstance(details, str) and details:
        summary += f": {details[:200]}"
    evidence = {k: row.get(k) for k in ("ts", "error", "error_details", "session_id", "last_assistant_message")
                if row.get(k) is not None}
    return Finding(kind="agent_error", severity=severity, agent=name, summary=summary, evidence=evidence,
                   action="none")


def hooks_silent(name: str, state: HookState | None, *, spawned_with_hooks: bool, spawn_at: float | None,
                 now: float, verify_s: float) -> Finding | None:
    """``hooks_silent`` (info): spawned with hooks, no SessionStart since the spawn within ``verify_s``."""
    if not spawned_with_hooks or spawn_at is None or now - spawn_at < verify_s:
        return None
    if state is not None and state.session_at is not None and state.session_at >= spawn_at - 1.0:
        return None
    return Finding(kind="hooks_silent", severity=Severity.INFO, agent=name, action="none",
                   summary=(f"{name}: spawned with hooks but no SessionStart arrived within {verify_s:g}s "
                            "(blocked by policy, or an old CLI): status from the live-session file, "
                            "transcript and pane"),
                   evidence={"spawn_at": spawn_at, "events": state.events if state else 0})
