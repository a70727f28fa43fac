"""One place where a line of a file becomes typed data, or a counted bad line with its reason.

Every reader of the cockpit's JSONL files (registry, journal, reminders, promotions, transcripts,
stream-json outputs, live-session files) turns bytes into a JSON object with ``json_object`` and
checks each field's type with a ``Schema`` before any value is used (SPEC §6: a registry row
whose ``event`` is a list, a reminder whose ``due`` is a string, a routes entry that is a number
are each a counted bad line or a finding, never an exception). ``BadLines`` counts what was
refused, by reason, and keeps the last example so an operator can see it (the report and the TUI).

A row whose required field has the wrong type is refused whole; an optional field of the wrong
type is dropped from the row (the rest is still true) and counted; an optional null is "not known". Numbers must be finite and
integers bounded; a bool is never a number.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BadLines", "Field", "Schema", "json_object", "json_value"]

MAX_INT = 1 << 63          # integers from files are bounded: a pid, a port, a start time, a count
EXAMPLE_CHARS = 160


@dataclass
class BadLines:
    """Bad lines of one source, counted by reason; ``last`` is the newest reason with a short example."""

    counts: Counter[str] = field(default_factory=Counter)
    last: str | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def add(self, reason: str, example: Any = None) -> None:
        self.counts[reason] += 1
        shown = "" if example is None else f": {_short(example)}"
        self.last = f"{reason}{shown}"

    def merge(self, other: BadLines) -> None:
        self.counts.update(other.counts)
        if other.last is not None:
            self.last = other.last

    def clear(self) -> None:
        self.counts.clear()
        self.last = None

    def to_json(self) -> dict[str, Any]:
        return {"total": self.total, "reasons": dict(self.counts), "last": self.last}


def _short(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        text = bytes(value[:EXAMPLE_CHARS * 2]).decode("utf-8", "replace")
    else:
        text = repr(value)
    text = " ".join(text.split())
    return text if len(text) <= EXAMPLE_CHARS else text[: EXAMPLE_CHARS - 1] + "…"


def json_value(line: bytes | str) -> tuple[Any, str | None]:
    """Any JSON value from one line: (value, None) or (None, why not)."""
    if isinstance(line, (bytes, bytearray)):
        try:
            line = bytes(line).decode("utf-8")
        except UnicodeDecodeError as exc:
            return None, f"not UTF-8 (byte {exc.start})"
    try:
        return json.loads(line), None
    except RecursionError:
        return None, "JSON nested too deeply"
    except ValueError as exc:  # JSONDecodeError, an integer of thousands of digits
        return None, "not JSON" if isinstance(exc, json.JSONDecodeError) else f"not JSON ({_short(str(exc))})"


def json_object(line: bytes | str) -> tuple[dict[str, Any] | None, str | None]:
    """One line as a JSON object: (object, None) or (None, why not)."""
    value, why = json_value(line)
    if why is not None:
        return None, why
    if not isinstance(value, dict):
        return None, f"not a JSON object (a {_kind(value)})"
    return value, None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


# --- field kinds: a predicate and the words an operator reads --------------------------------------


@dataclass(frozen=True)
class Field:
    """What a field must be: ``check(value)`` is True for a good value; ``expected`` says it in words."""

    expected: str
    check: Callable[[Any], bool]

    @staticmethod
    def string(*, empty: bool = False, choices: tuple[str, ...] | None = None) -> Field:
        if choices is not None:
            return Field(f"one of {', '.join(choices)}", lambda v: isinstance(v, str) and v in choices)
        return Field("a string" if empty else "a non-empty string",
                     lambda v: isinstance(v, str) and (empty or bool(v)))

    @staticmethod
    def integer(minimum: int = -MAX_INT, maximum: int = MAX_INT) -> Field:
        return Field(f"an integer in {minimum}..{maximum}",
                     lambda v: isinstance(v, int) and not isinstance(v, bool) and minimum <= v <= maximum)

    @staticmethod
    def number() -> Field:
        return Field("a finite number", is_number)

    @staticmethod
    def boolean() -> Field:
        return Field("true or false", lambda v: isinstance(v, bool))

    @staticmethod
    def timestamp() -> Field:
        return Field("an ISO-8601 time or a number", lambda v: is_number(v) or (isinstance(v, str) and 0 < len(v) <= 64))

    @staticmethod
    def strings() -> Field:
        return Field("a list of strings", lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v))

    @staticmethod
    def obj() -> Field:
        return Field("an object", lambda v: isinstance(v, dict))

    @staticmethod
    def anything() -> Field:
        return Field("any value", lambda v: True)

    def __or__(self, other: Field) -> Field:
        return Field(f"{self.expected} or {other.expected}", lambda v: self.check(v) or other.check(v))


NULL = Field("null", lambda v: v is None)


def is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(value, int):
        return -MAX_INT <= value <= MAX_INT
    return math.isfinite(value)


@dataclass(frozen=True)
class Schema:
    """The fields of one kind of row. ``parse`` returns (the row, None), (the row minus bad optional
    fields, why) or (None, why) when the row cannot be used at all."""

    name: str
    required: Mapping[str, Field] = field(default_factory=dict)
    optional: Mapping[str, Field] = field(default_factory=dict)

    def parse(self, value: Any) -> tuple[dict[str, Any] | None, str | None]:
        if not isinstance(value, dict):
            return None, f"{self.name}: not a JSON object (a {_kind(value)})"
        for key, kind in self.required.items():
            if key not in value:
                return None, f"{self.name}: no {key}"
            if not kind.check(value[key]):
                return None, f"{self.name}: {key} is not {kind.expected} (a {_kind(value[key])})"
        row = value
        why = None
        for key, kind in self.optional.items():
            if value.get(key) is not None and not kind.check(value[key]):  # null is "not known": as absent
                if row is value:
                    row = dict(value)
                del row[key]
                why = why or f"{self.name}: {key} is not {kind.expected} (a {_kind(value[key])}); field ignored"
        return row, why

    def line(self, line: bytes | str, bad: BadLines | None = None) -> dict[str, Any] | None:
        """One line through ``json_object`` and ``parse``; what is wrong is counted in ``bad``."""
        value, why = json_object(line)
        if value is None:
            if bad is not None:
                bad.add(f"{self.name}: {why}", line)
            return None
        row, why = self.parse(value)
        if why is not None and bad is not None:
            bad.add(why, line)
        return row


# --- the schemas of the cockpit's own files ----------------------------------------------------------

_STR = Field.string()
_ANY_STR = Field.string(empty=True)
_PID = Field.integer(1, 1 << 31)
_START = Field.integer(0)

REGISTRY_ROW = Schema(
    "registry row",
    required={"event": _STR, "agent": _STR},
    optional={
        "ts": Field.timestamp(), "spawn_id": _STR, "pid": _PID, "start": _START, "pane": _ANY_STR,
        "port": Field.integer(1, 65535), "session_id": _STR, "reason": _ANY_STR | NULL, "check": _ANY_STR,
        "screen": _ANY_STR | NULL, "by": _ANY_STR, "status": Field.integer() | _ANY_STR | NULL,
        "wrapper": Field.boolean(), "output": _ANY_STR | NULL, "parent_agent": _ANY_STR | NULL,
        "argv": Field.strings(),
    },
)

JOURNAL_ROW = Schema(
    "journal row",
    required={"summary": _ANY_STR},
    optional={"ts": Field.timestamp(), "kind": _ANY_STR, "agent": _ANY_STR | NULL, "action": _ANY_STR | NULL,
              "actor": _ANY_STR | NULL},
)

REMINDER_ROW = Schema(
    "reminder row",
    required={"event": _STR, "id": _STR},
    optional={
        "ts": Field.timestamp(), "at": Field.number(), "agent": _STR, "verb": Field.string(choices=("wake", "notice")),
        "text": _ANY_STR, "due_at": Field.number(), "created_at": Field.number(), "next_at": Field.number(),
        "attempt": Field.integer(0, 1 << 20), "late_by_s": Field.number(), "latency_s": Field.number(),
        "respawn_if_down": Field.boolean(), "by": _ANY_STR | NULL, "pane": _ANY_STR | NULL,
        "via": _ANY_STR | NULL, "why": _ANY_STR | NULL, "evidence": Field.obj() | NULL,
    },
)

PROMOTION_ROW = Schema(
    "promotion row",
    required={"kind": _STR},
    optional={"ts": Field.timestamp(), "link": _STR, "resolved": _STR, "link_given": _ANY_STR,
              "chain": Field.strings(), "agents": Field.strings(), "fingerprint": Field.obj() | NULL},
)

# Claude Code 2.1.x: $CLAUDE_CONFIG_DIR/sessions/<pid>.json (reference/agent-formats.md)
LIVE_SESSION = Schema(
    "live-session file",
    required={"pid": _PID, "sessionId": _STR},
    optional={"cwd": _ANY_STR, "status": Field.string(choices=("busy", "idle", "waiting")),
              "procStart": Field.integer(0) | _ANY_STR, "updatedAt": Field.number()},
)
