"""The reminder queue (seed #6): ``STATE/reminders.jsonl``, append-only events under one file lock.

A reminder's current state is never stored: it is the fold of its events (:func:`fold`, pure),
the way an agent's lifecycle is the fold of its registry rows. Events, one JSON line each
(``ts`` is added by the store; ``at`` is the epoch second the writer's clock read):

- ``scheduled``: ``id, agent, verb (wake|notice), text, due_at, created_at, respawn_if_down, by``
- ``fired``: ``id, attempt (1, 2, ...), at, late_by_s, by`` and for a wake ``pane`` and ``typed``
- ``delivered``: ``id, attempt, at, latency_s, via (transcript|live-status|journal), evidence``
- ``missed``: ``id, attempt, at, evidence`` (what was typed, into which pane, what the agent showed)
- ``retried``: ``id, attempt (the next one), next_at``: written in the same write as its ``missed``
- ``waiting``: ``id, at, why`` (due, but the agent is down, starting, busy or needs input)
- ``cancelled``: ``id, at, by``

States: ``scheduled`` (waiting for ``next_at``: the due time, or a retry's time), ``waiting``
(due, held back; ``why`` says why), ``fired`` (typed or sent, verdict pending), ``delivered``,
``missed`` (the last retry missed too: final), ``cancelled``. A missed attempt with retries left
goes back to ``scheduled`` with ``next_at`` moved by the backoff.

Exactly once: a firer takes the store's lock, re-reads the file and appends ``fired`` only if the
reminder is still due for that attempt (:meth:`ReminderQueue.claim_fire`); a second firer (another
cockpit, or this one after a restart) then sees it fired and skips. A reminder that fell due while
no supervisor ran is still ``scheduled`` on disk: the next leader fires it, once, and records how
late (``late_by_s``). Time is passed in; nothing here reads a clock it was not given.
"""

from __future__ import annotations

import math
import re
import secrets
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from cockpit import timefmt
from cockpit.fsutil import append_line, atomic_write
from cockpit.records import REMINDER_ROW
from cockpit.registry import JsonlStore, Row, _dumps

__all__ = [
    "EVENTS",
    "MAX_TEXT_BYTES",
    "STATES",
    "VERBS",
    "Reminder",
    "ReminderError",
    "ReminderQueue",
    "due_from_args",
    "fold",
    "new_reminder_id",
    "parse_at",
    "parse_duration",
    "retry_delay_s",
    "validate_text",
]

VERBS = ("wake", "notice")
STATES = ("scheduled", "fired", "delivered", "missed", "cancelled", "waiting")
EVENTS = ("scheduled", "fired", "delivered", "missed", "retried", "cancelled", "waiting")
TERMINAL = frozenset({"delivered", "missed", "cancelled"})
PENDING = frozenset({"scheduled", "waiting"})  # not fired yet for the current attempt
MAX_TEXT_BYTES = 2000  # a terminal in canonical mode cuts lines at 4095 bytes; a reminder is a sentence
MAX_DURATION_S = 366 * 86400.0
RETRY_BASE_S = 2.0
_ID_RE = re.compile(r"^r-[0-9a-f]{4,32}$")
# bounded digits: a duration of thousands of digits is one line, not int()'s ValueError
_DURATION_RE = re.compile(r"^(?:([0-9]{1,9})d)?(?:([0-9]{1,9})h)?(?:([0-9]{1,9})m)?(?:([0-9]{1,9})s)?$")
_DURATION_HELP = "expected a duration like 45s, 10m, 1h30m or 2d"
_AT_HELP = "expected an ISO-8601 time like 2026-11-24T10:00 (local) or 2026-11-24T10:00+01:00"


class ReminderError(ValueError):
    """Bad reminder input or an impossible change: ``str(err)`` is the one line an operator reads."""


# --- parsing the command line -------------------------------------------------------------------


def parse_duration(text: str, *, arg: str = "--in") -> float:
    """``45s``, ``10m``, ``1h30m``, ``2d``, ``1d2h3m4s`` → seconds (units in that order, each once)."""
    raw = (text or "").strip().lower()
    match = _DURATION_RE.match(raw)
    if not raw or match is None or not any(match.groups()):
        raise ReminderError(f"{arg}: {_DURATION_HELP}, got {_shown(text)}")
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    total = days * 86400.0 + hours * 3600.0 + minutes * 60.0 + seconds
    if total > MAX_DURATION_S:
        raise ReminderError(f"{arg}: {_DURATION_HELP} of at most 366d, got {_shown(text)}")
    return total


def _shown(text: Any) -> str:
    """A user's value in an error line, cut to a readable length."""
    shown = repr(text)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def parse_at(text: str, *, now: float, arg: str = "--at") -> float:
    """An ISO-8601 time (``2026-11-24T10:00``, ``...:00Z``, ``...+01:00``; a naive time is LOCAL) → epoch.

    A time already past is an error: a reminder for yesterday is a typo, not a wish.
    """
    raw = (text or "").strip()
    try:
        parsed = datetime.fromisoformat(raw) if 10 <= len(raw) <= 40 else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise ReminderError(f"{arg}: {_AT_HELP}, got {_shown(text)}")
    if parsed.tzinfo is None:
        parsed = parsed.astimezone()  # naive: the local time zone, as an operator types it
    try:
        at = parsed.timestamp()
    except (OverflowError, OSError, ValueError):
        raise ReminderError(f"{arg}: {_AT_HELP}, got {_shown(text)}") from None
    if at < now - 1.0:
        local = datetime.fromtimestamp(now).astimezone().isoformat(timespec="seconds")
        raise ReminderError(f"{arg}: {_shown(text)} is in the past (now is {local})")
    if at > now + MAX_DURATION_S:
        raise ReminderError(f"{arg}: {_shown(text)} is more than 366 days ahead")
    return at


def due_from_args(*, in_: str | None, at: str | None, now: float) -> float:
    """The due time of ``cockpit remind`` from exactly one of ``--in`` and ``--at``."""
    if (in_ is None) == (at is None):
        raise ReminderError("remind: give exactly one of --in DURATION or --at TIME")
    if in_ is not None:
        return now + parse_duration(in_)
    return parse_at(at or "", now=now)


def validate_text(text: Any, *, arg: str = "TEXT") -> str:
    """The reminder's text: printable content, no NUL, at most MAX_TEXT_BYTES of UTF-8."""
    if not isinstance(text, str):
        raise ReminderError(f"{arg}: expected text, got {type(text).__name__}")
    if "\x00" in text:
        raise ReminderError(f"{arg}: expected text without NUL characters")
    if not any(not unicodedata.category(c).startswith(("C", "Z")) for c in text):
        raise ReminderError(f"{arg}: expected some printable text, got {_shown(text)}")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise ReminderError(f"{arg}: expected valid UTF-8 text") from None
    if size > MAX_TEXT_BYTES:
        raise ReminderError(f"{arg}: expected at most {MAX_TEXT_BYTES} bytes of text, got {size}")
    return text


def new_reminder_id() -> str:
    return "r-" + secrets.token_hex(4)


def retry_delay_s(attempt: int, backoff_max_s: float) -> float:
    """Backoff before attempt ``attempt + 1``: 2 s, 4 s, 8 s, ... capped at ``backoff_max_s``."""
    return max(0.0, min(backoff_max_s, RETRY_BASE_S * 2 ** max(0, attempt - 1)))


# --- the view -----------------------------------------------------------------------------------


def _round(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None


@dataclass(frozen=True)
class Reminder:
    """One reminder as of its last event. Times are epoch seconds; ``to_json`` renders ISO-8601."""
    id: str
    agent: str
    verb: str                       # wake | notice
    text: str
    due_at: float
    created_at: float
    state: str = "scheduled"        # see STATES
    attempts: int = 0               # fired attempts so far
    next_at: float = 0.0            # when the next attempt is due (due_at, or a retry's time)
    fired_at: float | None = None   # the last attempt's firing
    first_fired_at: float | None = None
    delivered_at: float | None = None
    latency_s: float | None = None  # firing → the agent showed it (wake) or the journal had it (notice)
    late_by_s: float | None = None  # the first firing after its due time (a cockpit was down, say)
    why: str | None = None          # for ``waiting``
    respawn_if_down: bool = False
    by: str | None = None           # who scheduled it
    pane: str | None = None         # the pane the last attempt typed into
    via: str | None = None          # how delivery was verified: transcript | live-status | journal
    missed_at: float | None = None
    cancelled_at: float | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)  # of the last verdict

    @property
    def done(self) -> bool:
        return self.state in TERMINAL

    @property
    def pending(self) -> bool:
        """Not fired yet for its current attempt (scheduled or waiting)."""
        return self.state in PENDING

    def is_due(self, now: float) -> bool:
        return self.pending and self.next_at <= now

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "agent": self.agent, "verb": self.verb, "text": self.text,
            "state": self.state, "due_at": timefmt.iso(self.due_at), "created_at": timefmt.iso(self.created_at),
            "next_at": timefmt.iso(self.next_at) if self.pending else None, "attempts": self.attempts,
            "fired_at": timefmt.iso(self.fired_at), "first_fired_at": timefmt.iso(self.first_fired_at),
            "delivered_at": timefmt.iso(self.delivered_at), "latency_s": _round(self.latency_s),
            "late_by_s": _round(self.late_by_s), "why": self.why, "respawn_if_down": self.respawn_if_down,
            "by": self.by, "pane": self.pane, "via": self.via, "missed_at": timefmt.iso(self.missed_at),
            "cancelled_at": timefmt.iso(self.cancelled_at), "evidence": dict(self.evidence),
        }


# --- the fold -----------------------------------------------------------------------------------


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _when(row: Mapping[str, Any]) -> float | None:
    at = _num(row.get("at"))
    return at if at is not None else timefmt.parse(row.get("ts"))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _scheduled(row: Mapping[str, Any]) -> Reminder | None:
    rid, agent, verb, text = row.get("id"), row.get("agent"), row.get("verb"), row.get("text")
    due = _num(row.get("due_at"))
    if not (isinstance(rid, str) and rid and isinstance(agent, str) and agent and verb in VERBS
            and isinstance(text, str) and due is not None):
        return None
    created = _num(row.get("created_at"))
    return Reminder(id=rid, agent=agent, verb=verb, text=text, due_at=due,
                    created_at=created if created is not None else (_when(row) or due), next_at=due,
                    respawn_if_down=row.get("respawn_if_down") is True, by=_text(row.get("by")))


def _evidence(row: Mapping[str, Any]) -> Mapping[str, Any]:
    evidence = row.get("evidence")
    return evidence if isinstance(evidence, dict) else {}


def apply(reminder: Reminder, row: Mapping[str, Any]) -> Reminder:
    """One event on one reminder. Pure; events that make no sense in the current state change nothing."""
    event = row.get("event")
    at = _when(row)
    state = reminder.state
    attempt = row.get("attempt")
    if at is None or (event in ("fired", "delivered", "missed", "retried")
                      and (not isinstance(attempt, int) or isinstance(attempt, bool))):
        return reminder  # a row we did not write (no time, no attempt): never moves a reminder
    if event == "fired":
        if state not in PENDING or attempt != reminder.attempts + 1:
            return reminder
        late = _num(row.get("late_by_s"))
        return replace(reminder, state="fired", attempts=attempt, fired_at=at, why=None,
                       first_fired_at=reminder.first_fired_at if reminder.first_fired_at is not None else at,
                       late_by_s=reminder.late_by_s if reminder.late_by_s is not None else late,
                       pane=_text(row.get("pane")) or reminder.pane)
    if event == "delivered":
        if state == "delivered" or attempt != reminder.attempts:
            return reminder
        # A cancel while the attempt was in flight does not undo what the agent saw: the truth wins.
        return replace(reminder, state="delivered", delivered_at=at, latency_s=_num(row.get("latency_s")),
                       via=_text(row.get("via")), evidence=_evidence(row), why=None)
    if event == "missed":
        if state in ("delivered", "missed") or attempt != reminder.attempts:
            return reminder
        updated = replace(reminder, missed_at=at, evidence=_evidence(row))
        return updated if state == "cancelled" else replace(updated, state="missed")
    if event == "retried":
        if state != "missed" or attempt != reminder.attempts + 1:
            return reminder
        next_at = _num(row.get("next_at"))
        return replace(reminder, state="scheduled", next_at=next_at if next_at is not None else at)
    if event == "waiting":
        if state not in PENDING:
            return reminder
        return replace(reminder, state="waiting", why=_text(row.get("why")) or "held back")
    if event == "cancelled":
        if state in TERMINAL:
            return reminder
        return replace(reminder, state="cancelled", cancelled_at=at, why=None)
    return reminder


def fold(rows: Iterable[Mapping[str, Any]], start: Mapping[str, Reminder] | None = None) -> dict[str, Reminder]:
    """Every reminder's current state from its events (after ``start``, for an incremental read). Pure."""
    out: dict[str, Reminder] = dict(start or {})
    for row in rows:
        if not isinstance(row, Mapping):
            continue
        rid = row.get("id")
        if not isinstance(rid, str):
            continue
        if row.get("event") == "scheduled":
            if rid not in out and (made := _scheduled(row)) is not None:
                out[rid] = made
            continue
        current = out.get(rid)
        if current is not None:
            out[rid] = apply(current, row)
    return out


# --- the queue ----------------------------------------------------------------------------------


class ReminderStore(JsonlStore):
    """The JSONL store, plus an append for a caller that already holds the lock (a check-then-write)."""

    schema = REMINDER_ROW

    def append_held(self, rows: Iterable[Mapping[str, Any]]) -> list[Row]:
        stamped = [self._stamp(row) for row in rows]
        if stamped:
            text = "\n".join(_dumps(row) for row in stamped)
            if not self._ends_with_newline():
                text = "\n" + text  # seed #4: a torn line never swallows the next row
            append_line(self.path, text)
        return stamped


class ReminderQueue:
    """``STATE/reminders.jsonl``: add, cancel, list; the act layer claims and records attempts.

    Blocking file I/O: from asyncio code call it through ``asyncio.to_thread``. Safe across
    threads and processes (every write holds the store's flock; reads follow an incremental tail).
    """

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time, lock_timeout: float = 10.0) -> None:
        self.path = Path(path)
        self.clock = clock
        self.store = ReminderStore(self.path, clock=clock, lock_timeout=lock_timeout)
        self._tail = self.store.tail()
        self._state: dict[str, Reminder] = {}
        self._guard = threading.Lock()
        self.bad_lines = 0

    @property
    def bad(self) -> Any:
        """The bad lines of the reminders file, by reason (the report shows them)."""
        return self._tail.bad

    @classmethod
    def for_config(cls, config: Any, *, clock: Callable[[], float] = time.time) -> ReminderQueue:
        return cls(config.state.reminders, clock=clock)

    # --- reading --------------------------------------------------------------------------
    def refresh(self) -> dict[str, Reminder]:
        """Fold the events appended since the last read (everything again if the file was replaced)."""
        with self._guard:
            result = self._tail.read_new()
            if result.reset:
                self._state, self.bad_lines = {}, 0
            self._state = fold(result.rows, self._state)
            self.bad_lines += result.bad_lines
            return dict(self._state)

    def reminders(self) -> list[Reminder]:
        """Every reminder, the next to act on first."""
        return sorted(self.refresh().values(), key=lambda r: (r.done, r.next_at, r.created_at, r.id))

    def visible(self, now: float, *, keep_s: float = 86400.0) -> list[Reminder]:
        """What a report shows: every open reminder, and finished ones of the last ``keep_s``."""
        def finished_at(r: Reminder) -> float:
            return max(t for t in (r.delivered_at, r.missed_at, r.cancelled_at, r.fired_at, r.created_at)
                       if t is not None)
        return [r for r in self.reminders() if not r.done or now - finished_at(r) <= keep_s]

    def get(self, ref: str) -> Reminder:
        """A reminder by its id or a unique prefix of it; ``ReminderError`` (one line) otherwise."""
        state = self.refresh()
        if ref in state:
            return state[ref]
        matches = [r for rid, r in state.items() if ref and rid.startswith(ref)] if len(ref) >= 3 else []
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise ReminderError(f"reminder {ref!r} is ambiguous: {', '.join(sorted(r.id for r in matches))}")
        raise ReminderError(f"no reminder {ref!r} (cockpit reminders lists them)")

    # --- operator changes -----------------------------------------------------------------
    def add(self, agent: str, verb: str, text: str, due_at: float, *, respawn_if_down: bool = False,
            by: str = "cli", now: float | None = None, rid: str | None = None,
            then: Callable[[Reminder], Any] | None = None) -> Reminder:
        """Schedule a reminder; raises ReminderError for bad input (nothing written).

        ``then(reminder)`` (the act's journal row) runs under the store's lock: if it raises, the
        reminder is taken back before the error propagates, so the two are written both or neither.
        """
        if not isinstance(agent, str) or not agent:
            raise ReminderError("NAME: expected an agent name")
        if verb not in VERBS:
            raise ReminderError(f"verb: expected wake or notice, got {verb!r}")
        validate_text(text)
        due = _num(due_at)
        if due is None:
            raise ReminderError(f"due time: expected a finite time, got {due_at!r}")
        if rid is not None and not _ID_RE.match(rid):
            raise ReminderError(f"id: expected r-<hex>, got {rid!r}")
        now = self.clock() if now is None else now
        row = {"event": "scheduled", "id": rid or new_reminder_id(), "agent": agent, "verb": verb, "text": text,
               "due_at": due, "due": timefmt.iso(due), "created_at": now, "at": now,
               "respawn_if_down": bool(respawn_if_down), "by": by}
        if then is None:
            self.store.append(row)
        else:
            self.store.append_with([row], lambda rows: then(_scheduled(rows[0])))
        return self.refresh()[row["id"]]

    def cancel(self, ref: str, *, by: str = "cli", now: float | None = None) -> Reminder:
        """Cancel an open reminder (a wake in flight keeps its verdict, but is not retried)."""
        rid = self.get(ref).id
        now = self.clock() if now is None else now
        done = self.transition(rid, [{"event": "cancelled", "id": rid, "at": now, "by": by}],
                               when=lambda r: not r.done)
        if done is None:
            current = self.get(rid)
            raise ReminderError(f"reminder {rid} is already {current.state}; nothing to cancel")
        return done

    # --- the act layer's writes (check and write under one lock) ----------------------------
    def transition(self, rid: str, rows: list[dict[str, Any]],
                   when: Callable[[Reminder], bool]) -> Reminder | None:
        """Append ``rows`` only if ``when(reminder)`` holds on the file as it is now, under the lock."""
        with self.store.locked():
            current = self.refresh().get(rid)
            if current is None or not when(current):
                return None
            self.store.append_held(rows)
            return self.refresh()[rid]

    def claim_fire(self, rid: str, *, attempt: int, at: float, by: str,
                   fields: Mapping[str, Any] | None = None) -> Reminder | None:
        """Write ``fired`` for ``attempt`` if this reminder is still due for it; None if someone else did."""
        def due(r: Reminder) -> bool:
            return r.pending and r.attempts == attempt - 1 and r.next_at <= at

        current = self.refresh().get(rid)
        late = max(0.0, at - current.next_at) if current is not None else 0.0
        row = {"event": "fired", "id": rid, "attempt": attempt, "at": at, "late_by_s": round(late, 3), "by": by}
        row.update(fields or {})
        return self.transition(rid, [row], when=due)

    def record_delivered(self, rid: str, *, attempt: int, at: float, latency_s: float, via: str,
                         evidence: Mapping[str, Any]) -> Reminder | None:
        row = {"event": "delivered", "id": rid, "attempt": attempt, "at": at, "latency_s": round(latency_s, 3),
               "via": via, "evidence": dict(evidence)}
        return self.transition(rid, [row], when=lambda r: r.attempts == attempt and r.state in ("fired", "cancelled"))

    def record_missed(self, rid: str, *, attempt: int, at: float, evidence: Mapping[str, Any],
                      retry_at: float | None) -> Reminder | None:
        """``missed`` for this attempt; with ``retry_at``, ``retried`` in the same write (never half of it)."""
        rows: list[dict[str, Any]] = [{"event": "missed", "id": rid, "attempt": attempt, "at": at,
                                       "evidence": dict(evidence)}]
        if retry_at is not None:
            rows.append({"event": "retried", "id": rid, "attempt": attempt + 1, "at": at, "next_at": retry_at})
        return self.transition(rid, rows, when=lambda r: r.attempts == attempt and r.state in ("fired", "cancelled"))

    def record_waiting(self, rid: str, *, why: str, at: float) -> Reminder | None:
        """``waiting`` with its reason, only when the state or the reason changed (no row per tick)."""
        current = self.refresh().get(rid)
        if current is None or (current.state == "waiting" and current.why == why):
            return None
        return self.transition(rid, [{"event": "waiting", "id": rid, "at": at, "why": why}],
                               when=lambda r: r.pending and not (r.state == "waiting" and r.why == why))

    # --- housekeeping -------------------------------------------------------------------------
    def prune(self, now: float, max_age_s: float) -> int:
        """Drop the events of reminders finished more than ``max_age_s`` ago (under the lock, atomic)."""
        with self.store.locked():
            rows = self.store.read_all().rows
            state = fold(rows)
            old = {rid for rid, r in state.items() if r.done and now - max(
                t for t in (r.delivered_at, r.missed_at, r.cancelled_at, r.created_at) if t is not None) > max_age_s}
            if not old:
                return 0
            kept = [row for row in rows if row.get("id") not in old]
            atomic_write(self.path, "".join(_dumps(row) + "\n" for row in kept))
            return len(rows) - len(kept)

    def close(self) -> None:
        self._tail.close()


# --- the operator's two writes, shared by `cockpit remind`, `reminders cancel` and `serve` ----------


def schedule_reminder(config: Any, agent: str, verb: str, text: str, *, in_: str | None = None,
                      at: str | None = None, due_at: float | None = None, respawn_if_down: bool = False,
                      by: str = "cli", now: float) -> Reminder:
    """Validate, append ``scheduled`` and journal it; ``ReminderError`` (one line) for bad input."""
    from cockpit.registry import Journal

    if respawn_if_down and verb != "wake":
        raise ReminderError("remind: --respawn-if-down goes with --wake only")
    if due_at is None:
        due = due_from_args(in_=in_, at=at, now=now)
    elif in_ is None and at is None:
        due = due_at
    else:
        raise ReminderError("remind: give exactly one of --in DURATION, --at TIME or due_at")
    journal = Journal(config.state.journal)
    journal.check_writable()  # a journal that cannot take the row fails the act before anything is written

    def record(r: Reminder) -> None:
        journal.record("action", agent=r.agent, action="remind", actor=by, result="scheduled",
                       summary=f"reminder {r.id} scheduled: {r.verb} {r.agent} at {timefmt.iso(r.due_at)}",
                       after=r.to_json())

    queue = ReminderQueue.for_config(config)
    try:  # both or neither: the reminder is taken back if its journal row cannot be written
        return queue.add(agent, verb, text, due, respawn_if_down=respawn_if_down, by=by, now=now, then=record)
    finally:
        queue.close()


def cancel_reminder(config: Any, ref: str, *, by: str = "cli") -> Reminder:
    """Cancel one reminder by id or unique prefix, and journal it."""
    from cockpit.registry import Journal

    Journal(config.state.journal).check_writable()  # the cancel is journaled, or not made
    queue = ReminderQueue.for_config(config)
    try:
        r = queue.cancel(ref, by=by)
    finally:
        queue.close()
    Journal(config.state.journal).record("action", agent=r.agent, action="cancel_reminder", actor=by,
                                         summary=f"reminder {r.id} cancelled ({r.verb} {r.agent})",
                                         after=r.to_json(), result="cancelled")
    return r
