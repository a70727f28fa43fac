"""The one time module: how cockpit writes a timestamp, reads one back, and says how long ago.

Pure (no clock read, no I/O): judges import it. Every stored or shown timestamp is UTC; a naive
string read back is UTC too (never the local zone: a registry row must mean the same instant on
every machine). Operators' typed ``--at`` times are the one exception, in ``cockpit.reminders``.
"""

from __future__ import annotations

import datetime as dt  # the C module: the hook, which imports this, must start in milliseconds
import math

UTC = dt.timezone.utc
MILLISECONDS_ABOVE = 1e11  # a number this large is epoch milliseconds (1e11 s is the year 5138)


def iso(epoch: float | None, *, ms: bool = True) -> str | None:
    """``2025-01-02T03:04:05.678Z`` (``ms=False``: ``2025-01-02T03:04:05Z``); None when unknown or out of range."""
    moment = _utc(epoch)
    if moment is None:
        return None
    return moment.isoformat(timespec="milliseconds" if ms else "seconds").replace("+00:00", "Z")


def parse(value: object) -> float | None:
    """Epoch seconds of an ISO-8601 string (``Z``, an offset, or naive = UTC) or a number (seconds, or
    milliseconds when over ``MILLISECONDS_ABOVE``); None when it cannot be dated (bools, NaN, garbage)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        seconds = float(value)
        if abs(seconds) > MILLISECONDS_ABOVE:
            seconds /= 1000.0
    elif isinstance(value, str) and 10 <= len(value) <= 40:
        try:
            parsed = dt.datetime.fromisoformat(value)
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            seconds = parsed.timestamp()
        except (ValueError, OverflowError, OSError):
            return None
    else:
        return None
    return seconds if math.isfinite(seconds) else None


def age(seconds: float | None) -> str:
    """``12s``, ``4m``, ``3h``, ``2d`` (whole units, rounded down); ``-`` when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def clock_time(epoch: float | None) -> str:
    """``HH:MM:SS`` UTC (the journal's timestamps are UTC too); ``-`` when unknown."""
    moment = _utc(epoch)
    return moment.strftime("%H:%M:%S") if moment is not None else "-"


def stamp(epoch: float | None) -> str:
    """``2025-06-01 11:59:48Z``, for people; ``-`` when unknown."""
    moment = _utc(epoch)
    return moment.strftime("%Y-%m-%d %H:%M:%SZ") if moment is not None else "-"


def compact(epoch: float) -> str:
    """``20250601T115948Z``: a UTC time for file names."""
    moment = _utc(epoch)
    return moment.strftime("%Y%m%dT%H%M%SZ") if moment is not None else "unknown"


def local(epoch: float | None) -> str:
    """``2025-06-01 13:59:48`` in the operator's zone: only for a person's own reading at a terminal
    (``cockpit remind list``), never stored."""
    moment = _utc(epoch)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment is not None else "-"


def _utc(epoch: float | None) -> dt.datetime | None:
    if epoch is None or isinstance(epoch, bool) or not math.isfinite(epoch):
        return None
    try:
        return dt.datetime.fromtimestamp(epoch, UTC)
    except (OverflowError, OSError, ValueError):
        return None
