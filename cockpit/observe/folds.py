"""The fold reader (seed #11): each agent's current transcript, read incrementally for the fold judge.

It reuses the transcript readers' incremental machinery (file identity, offsets, partial and
oversize lines, a big file peeked at its end on first sight) and hands the fold judge
(``cockpit.judge.fold.FoldTracker``) the records appended since the last tick, and whether the
file was replaced or rewritten (then its records come again from the start). Blocking file I/O:
run it in a worker thread, never on the loop.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from cockpit.observe.transcripts import TranscriptReader

__all__ = ["FoldReader", "TranscriptFeed"]


@dataclass(frozen=True)
class TranscriptFeed:
    """What one agent's transcript said since the last read."""
    kind: str                        # claude-code | codex
    path: str
    records: tuple[dict[str, Any], ...]
    rewound: bool = False            # replaced or rewritten (or first sight): the records start over


class _RecordTail(TranscriptReader):
    """The transcript readers' incremental machinery, keeping each new record for the fold judge."""

    def __init__(self, path: str, clock: Callable[[], float]) -> None:
        self.pending: list[dict[str, Any]] = []
        self.rewound = True
        super().__init__(path, full=False, clock=clock)  # a big file on first sight: only its tail

    def _reset_state(self) -> None:
        super()._reset_state()
        self.pending = []
        self.rewound = True

    def _record(self, rec: dict[str, Any]) -> None:
        self._stamp(rec)
        self.pending.append(rec)

    def take(self, kind: str) -> TranscriptFeed:
        feed = TranscriptFeed(kind, str(self.path), tuple(self.pending), self.rewound)
        self.pending, self.rewound = [], False
        return feed


class FoldReader:
    """Per agent, its current transcript followed incrementally.

    ``observe(targets)`` takes agent -> (kind, transcript path) (None: unknown this tick, keep what
    we have) and returns agent -> the feed of new records (None for an agent without a target).
    """

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._tails: dict[str, tuple[str, str, _RecordTail]] = {}
        self.bad_lines = 0

    @staticmethod
    def targets(sessions: Any) -> dict[str, tuple[str, str] | None]:
        """Agent -> (kind, path) of its disk truth's transcript, from a ``SessionsReport``."""
        out: dict[str, tuple[str, str] | None] = {}
        for name, truth in (sessions.truths if sessions is not None else {}).items():
            transcript = truth.transcript
            path = transcript.path if transcript is not None else None
            out[name] = (transcript.kind, path) if path and not truth.ambiguous else None
        return out

    def bytes_read(self, name: str) -> int:
        """Bytes read so far of the agent's current transcript (0: none followed)."""
        current = self._tails.get(name)
        return current[2].bytes_read if current is not None else 0

    def observe(self, targets: Mapping[str, tuple[str, str] | None]) -> dict[str, TranscriptFeed | None]:
        for name in list(self._tails):
            if name not in targets:
                del self._tails[name]
        feeds: dict[str, TranscriptFeed | None] = {}
        bad = 0
        for name, target in targets.items():
            if target is None:
                feeds[name] = None
                continue
            kind, path = target
            current = self._tails.get(name)
            if current is None or current[0] != kind or current[1] != path:
                current = self._tails[name] = (kind, path, _RecordTail(path, self.clock))
            tail = current[2]
            tail.update()
            bad += tail.bad_lines
            feeds[name] = tail.take(kind)
        self.bad_lines = bad
        return feeds
