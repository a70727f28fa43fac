"""Small dataclass messages from the supervisor's workers to the UI (Toolong style)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message

from cockpit.act.actions import ActionResult
from cockpit.act.reap import ReapResult
from cockpit.supervisor import Report


@dataclass
class ReportReady(Message):
    """One tick's report. Never replaced by a newer one: its new findings are toasted."""
    report: Report


@dataclass
class TickFailed(Message):
    """A tick raised; the loop goes on at the next slot."""
    error: str


@dataclass
class JournalRows(Message):
    """Rows appended to the journal since the last read (all of them after a reset)."""
    rows: list[dict[str, Any]] = field(default_factory=list)
    bad_lines: int = 0
    reset: bool = False
    error: str | None = None


@dataclass
class PaneCaptured(Message):
    """The selected agent's pane screen, with the change mark it was captured at."""
    agent: str
    pane: str
    screen: str | None
    error: str | None = None

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, PaneCaptured)


@dataclass
class ActionDone(Message):
    """An operator action finished: what the action layer verified, or why it refused."""
    action: str
    agent: str                              # the agent, or the reap target as the operator named it
    result: ActionResult | None = None
    refused: str | None = None              # read-only: the action layer said no
    error: str | None = None                # the target named nothing (a wrapper gone meanwhile...)
    reaps: tuple[ReapResult, ...] = ()      # a reap: one result per wrapper
    value: Any = None                       # what else the run returned (the reminder scheduled...)
