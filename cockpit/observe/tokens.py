"""Tokens per session: a pure consumer of the records the transcript reader parses (SPEC §10).

Claude Code: each assistant record carries ``message.usage`` (``input_tokens``,
``output_tokens``, ``cache_read_input_tokens``, ``cache_creation_input_tokens``); one API
response is split over several records sharing ``message.id`` and each repeats the usage (the
later ones may be larger while streaming), so a message counts once, at the largest value seen
of each field. Codex: ``event_msg`` payloads of type ``token_count`` carry
``info.total_token_usage`` (cumulative for the process: ``input_tokens`` including
``cached_input_tokens``, ``output_tokens``); a session adds the increase of each total, and a
total that goes down (a resumed session's new process) starts a new run.

Values are checked before use: a count that is not a non-negative integer (a bool, a string, a
float, a huge number) is ignored, never raised.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Mapping

MAX_COUNT = 10**12        # more than any one message or session could use: a hostile value, ignored
MESSAGE_IDS = 1024        # message ids remembered to count a split message once (they arrive together)
FIELDS = ("input", "output", "cache_read", "cache_write")
_CLAUDE = (("input", "input_tokens"), ("output", "output_tokens"), ("cache_read", "cache_read_input_tokens"),
           ("cache_write", "cache_creation_input_tokens"))


@dataclass(frozen=True)
class Tokens:
    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0

    def __add__(self, other: Tokens) -> Tokens:
        return Tokens(*(getattr(self, f) + getattr(other, f) for f in FIELDS))

    def __sub__(self, other: Tokens) -> Tokens:
        return Tokens(*(getattr(self, f) - getattr(other, f) for f in FIELDS))

    def most(self, other: Tokens) -> Tokens:
        return Tokens(*(max(getattr(self, f), getattr(other, f)) for f in FIELDS))

    def covers(self, other: Tokens) -> bool:
        return all(getattr(self, f) >= getattr(other, f) for f in FIELDS)

    @property
    def total(self) -> int:
        return sum(getattr(self, f) for f in FIELDS)

    def to_json(self) -> dict[str, int]:
        return {f: getattr(self, f) for f in FIELDS}


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        return 0
    return value


class TokenTally:
    """The tokens of one transcript, fed record by record (no I/O)."""

    def __init__(self) -> None:
        self.totals = Tokens()
        self._messages: OrderedDict[str, Tokens] = OrderedDict()
        self._codex_last: Tokens | None = None

    def claude_message(self, message: Mapping[str, Any]) -> None:
        """An assistant record's ``message``: its ``usage``, once per ``message.id``."""
        usage = message.get("usage")
        if not isinstance(usage, dict):
            return
        seen = Tokens(**{name: _count(usage.get(key)) for name, key in _CLAUDE})
        msg_id = message.get("id")
        if not isinstance(msg_id, str) or not msg_id:
            self.totals = self.totals + seen
            return
        before = self._messages.pop(msg_id, None)
        now = seen if before is None else before.most(seen)
        self._messages[msg_id] = now
        if len(self._messages) > MESSAGE_IDS:
            self._messages.popitem(last=False)
        self.totals = self.totals + (now if before is None else now - before)

    def codex_event(self, payload: Mapping[str, Any]) -> None:
        """An ``event_msg`` payload of type ``token_count``."""
        info = payload.get("info")
        if not isinstance(info, dict) or not isinstance(info.get("total_token_usage"), dict):
            return  # info is null until the first response (rate-limit-only events)
        usage = info["total_token_usage"]
        given = _count(usage.get("input_tokens"))
        cached = min(_count(usage.get("cached_input_tokens")), given)
        total = Tokens(input=given - cached, output=_count(usage.get("output_tokens")), cache_read=cached)
        last = self._codex_last
        self.totals = self.totals + (total - last if last is not None and total.covers(last) else total)
        self._codex_last = total


def short_count(n: int) -> str:
    """``950``, ``9.5k``, ``98.7k``, ``123k``, ``4.2M``, ``1.1G``: at most five characters (tables)."""
    for unit, size in (("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if n >= size:
            value = n / size
            return f"{value:.1f}{unit}" if value < 100 else f"{min(int(value), 999)}{unit}"
    return str(max(0, n))
