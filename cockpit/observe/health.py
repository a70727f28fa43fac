"""SPEC §6: bad lines are counted and shown. One summary of every reader's bad lines, by source.

Each source gives a ``BadLines`` (counts by reason and the last example) or, for readers that only
count, a number; a tail that cannot read its file at all gives its one-line ``error``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cockpit.records import BadLines

__all__ = ["bad_line_report", "source_entry"]


def source_entry(reader: Any) -> dict[str, Any] | None:
    """``{"total", "reasons", "last"[, "error"]}`` for one reader, or None when it has nothing to say."""
    if reader is None:
        return None
    bad = getattr(reader, "bad", None)
    if isinstance(bad, BadLines):
        entry = bad.to_json()
    else:
        count = getattr(reader, "bad_lines", 0)
        entry = {"total": count if isinstance(count, int) else 0, "reasons": {}, "last": None}
    error = getattr(reader, "error", None)
    if isinstance(error, str) and error:
        entry["error"] = error
    return entry


def _merge(entries: Iterable[dict[str, Any] | None]) -> dict[str, Any]:
    merged = BadLines()
    errors: list[str] = []
    for entry in entries:
        if entry is None:
            continue
        if entry["reasons"]:
            for reason, n in entry["reasons"].items():
                merged.counts[reason] += n
        elif entry["total"]:
            merged.counts["bad line"] += entry["total"]
        if entry.get("last"):
            merged.last = entry["last"]
        if entry.get("error"):
            errors.append(entry["error"])
    out = merged.to_json()
    if errors:
        out["error"] = "; ".join(errors[:3]) + (f" (+{len(errors) - 3} more)" if len(errors) > 3 else "")
    return out


def bad_line_report(*, registry: Any = None, reminders: Any = None, promotions: Any = None,
                    logs: Iterable[Any] = (), sessions: Any = None, wrappers: Any = None,
                    folds: Any = None) -> dict[str, dict[str, Any]]:
    """Per source: the registry, reminders, promotions, each ``[[logs]]`` (``log:NAME``), transcripts,
    stream-json outputs of wrappers, fold readers. Sources with nothing to say are left out, except the registry."""
    report: dict[str, dict[str, Any]] = {"registry": _merge([source_entry(registry)])}
    for name, reader in (("reminders", reminders), ("promotions", promotions), ("folds", folds)):
        entry = source_entry(reader)
        if entry is not None and (entry["total"] or entry.get("error")):
            report[name] = entry
    for tail in logs:
        entry = source_entry(tail)
        if entry is not None and (entry["total"] or entry.get("error")):
            report[f"log:{getattr(tail, 'name', '?')}"] = entry
    if sessions is not None:
        readers = [r for index in list(getattr(sessions, "_claude", {}).values()) + list(getattr(sessions, "_codex", {}).values())
                   for r in list(getattr(index, "readers", {}).values())]
        entry = _merge(source_entry(r) for r in readers)
        if entry["total"]:
            report["transcripts"] = entry
    if wrappers is not None:
        tails = [t.tail for t in list(getattr(wrappers, "_tracked", {}).values()) if getattr(t, "tail", None) is not None]
        entry = _merge(source_entry(t) for t in tails)
        if entry["total"]:
            report["stream_json"] = entry
    return report
