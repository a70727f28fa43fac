"""One line of a Codex rollout file, walked once: what it says, for every reader of Codex transcripts.

A rollout line is ``{"timestamp", "type", "payload": {"type", ...}}``: ``event_msg`` lines carry the
conversation's text (``user_message``, ``agent_message``, ``turn_aborted``), ``response_item`` lines the
tool calls (``function_call`` and ``custom_tool_call`` with a name and arguments, ``local_shell_call``
with an action). Each reader (the conversation view, the fold judge) makes its own view of an item.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cockpit import timefmt

TOOL_CALLS = ("function_call", "custom_tool_call", "local_shell_call")


@dataclass(frozen=True)
class CodexItem:
    """A message (``user``, ``assistant``), an aborted turn (``aborted``) or a tool call (``tool``)."""
    kind: str
    at: float | None
    text: str = ""       # user, assistant: the message, never blank
    call: str = ""       # tool: the payload's type (one of TOOL_CALLS)
    name: str = ""       # tool: its name ("" when the line names none)
    args: Any = None     # tool: its arguments (a JSON string), input, or a shell call's action

    @classmethod
    def of(cls, rec: Any) -> CodexItem | None:
        """The item one decoded line holds; None for bookkeeping lines and shapes of no use."""
        payload = rec.get("payload") if isinstance(rec, dict) else None
        if not isinstance(payload, dict):
            return None
        at = timefmt.parse(rec.get("timestamp"))
        rtype, ptype = rec.get("type"), payload.get("type")
        if rtype == "event_msg":
            message = payload.get("message")
            if ptype in ("user_message", "agent_message") and isinstance(message, str) and message.strip():
                return cls("user" if ptype == "user_message" else "assistant", at, message)
            return cls("aborted", at) if ptype == "turn_aborted" else None
        if rtype == "response_item" and ptype in TOOL_CALLS:
            name = payload.get("name")
            args = next((payload[k] for k in ("arguments", "input", "action") if k in payload), None)
            return cls("tool", at, call=ptype, name=name if isinstance(name, str) else "", args=args)
        return None
