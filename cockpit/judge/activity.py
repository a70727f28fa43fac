"""Activity (seed #3): working / idle / needs_input per agent, from the live status, a permission
prompt on screen, the transcript and pane changes. Pure apart from its memory; time is passed in.

The session observer hands each agent's facts to :meth:`ActivityTracker.update` once a tick.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["ActivityTracker", "screen_needs_input"]

PERMISSION_PATTERNS = (
    re.compile(r"Do you want to (?:proceed|make this edit|create|allow|run|overwrite)"),
    re.compile(r"❯\s*1\.\s*Yes"),
    re.compile(r"\bWaiting for (?:your )?(?:permission|approval)\b"),
)
SCREEN_TAIL_LINES = 25


def screen_needs_input(screen: str | None) -> bool:
    """A permission prompt at the bottom of the pane's screen."""
    if not screen:
        return False
    lines = [line for line in screen.splitlines() if line.strip()][-SCREEN_TAIL_LINES:]
    tail = "\n".join(lines)
    return any(p.search(tail) for p in PERMISSION_PATTERNS)


@dataclass
class _Activity:
    shown: str | None = None
    idle_since: float | None = None
    mark: Any = None
    mark_changed_at: float | None = None
    why: str = ""


class ActivityTracker:
    """working / idle / needs_input per agent; pure apart from its memory, time passed in.

    Order: the live-session status (busy/idle/waiting), a permission prompt on screen, then the
    transcript (a finished turn ends with turn_duration), then pane changes. needs_input and
    working are shown at once; going back to idle waits ``debounce_s`` (a status flickering
    between tool calls must not flap the table).
    """

    def __init__(self, *, debounce_s: float = 2.0, pane_recent_s: float = 3.0,
                 unfinished_stale_s: float = 120.0) -> None:
        self.debounce_s = debounce_s
        self.pane_recent_s = pane_recent_s
        self.unfinished_stale_s = unfinished_stale_s
        self._states: dict[str, _Activity] = {}

    def raw(self, state: _Activity, *, now: float, live_status: str | None, turn_finished: bool | None,
            last_turn_at: float | None, screen: str | None) -> tuple[str, str]:
        pane_recent = state.mark_changed_at is not None and now - state.mark_changed_at <= self.pane_recent_s
        if live_status == "waiting":
            return "needs_input", "live status waiting"
        if screen_needs_input(screen):
            return "needs_input", "permission prompt on screen"
        if live_status == "busy":
            return "working", "live status busy"
        if live_status == "idle":
            return "idle", "live status idle"
        if turn_finished is False:
            if last_turn_at is not None and now - last_turn_at <= self.unfinished_stale_s:
                return "working", "turn in progress in the transcript"
            if pane_recent:
                return "working", "unfinished turn, pane changing"
            return "idle", "unfinished turn gone quiet"
        if turn_finished is True:
            return "idle", "last turn finished (turn_duration)"
        if pane_recent:
            return "working", "pane changing"
        return "idle", "pane quiet"

    def update(self, agent: str, *, now: float, alive: bool, live_status: str | None = None,
               turn_finished: bool | None = None, last_turn_at: float | None = None, pane_mark: Any = None,
               screen: str | None = None) -> str | None:
        state = self._states.setdefault(agent, _Activity())
        if pane_mark is not None:
            if state.mark is not None and pane_mark != state.mark:
                state.mark_changed_at = now
            state.mark = pane_mark
        if not alive:
            state.shown, state.idle_since, state.why = None, None, "not running"
            return None
        raw, why = self.raw(state, now=now, live_status=live_status, turn_finished=turn_finished,
                            last_turn_at=last_turn_at, screen=screen)
        if raw != "idle":
            state.shown, state.idle_since, state.why = raw, None, why
        elif state.shown in (None, "idle"):
            state.shown, state.idle_since, state.why = "idle", None, why
        else:
            if state.idle_since is None:
                state.idle_since = now
            if now - state.idle_since >= self.debounce_s:
                state.shown, state.idle_since, state.why = "idle", None, why
        return state.shown

    def settled(self, agent: str) -> bool:
        """Time alone cannot move this agent's activity: idle with no debounce running, or not running.
        ``update`` with the inputs it last had would leave it as it is (an idle fleet's tick skips it):
        each idle answer of ``raw`` stays idle as ``now`` grows (a pane's change ages, a turn goes stale)."""
        state = self._states.get(agent)
        return state is not None and state.idle_since is None and (
            state.shown == "idle" or (state.shown is None and state.why == "not running"))

    def why(self, agent: str) -> str:
        state = self._states.get(agent)
        return state.why if state else ""

    def forget(self, agent: str) -> None:
        self._states.pop(agent, None)
