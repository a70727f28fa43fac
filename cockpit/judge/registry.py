"""Seed #4: an exit in the registry whose spawn row is missing means a writer or a pruner lost a row."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cockpit.findings import Finding, Severity
from cockpit.registry import OPENING_EVENTS, ReadResult

_EXIT_EVENTS = frozenset({"exit", "reaped"})


def _spawn_id(row: Mapping[str, Any]) -> str | None:
    spawn_id = row.get("spawn_id")
    return spawn_id if isinstance(spawn_id, str) and spawn_id else None


def _orphan_finding(row: Mapping[str, Any]) -> Finding:
    agent = row.get("agent") if isinstance(row.get("agent"), str) else None
    event = row.get("event")
    summary = (
        f"{agent or 'unnamed agent'}: registry {event} row of spawn {row.get('spawn_id')} "
        "has no spawned row; a registry write was lost"
    )
    return Finding(
        kind="registry_orphan_exit",
        severity=Severity.WARNING,
        summary=summary,
        agent=agent,
        evidence={"row": dict(row)},
        action="none",
        subject=str(row.get("spawn_id")),
    )


def orphan_exits(rows: Iterable[Mapping[str, Any]]) -> list[Finding]:
    """Every exit or reaped row whose spawn_id has no spawned row, in file order.

    Rows without a spawn_id belong to no lifecycle (a process the cockpit never
    spawned) and are not judged.
    """
    spawned: set[str] = set()
    exits: list[Mapping[str, Any]] = []
    for row in rows:
        spawn_id = _spawn_id(row)
        if spawn_id is None:
            continue
        if row.get("event") in OPENING_EVENTS:
            spawned.add(spawn_id)
        elif row.get("event") in _EXIT_EVENTS:
            exits.append(row)
    return [_orphan_finding(row) for row in exits if _spawn_id(row) not in spawned]


class OrphanWatch:
    """``orphan_exits`` kept up to date from a registry Tail: a tick costs only the rows appended since the last."""

    def __init__(self) -> None:
        self._spawned: set[str] = set()
        self._exits: list[Mapping[str, Any]] = []  # exits not yet matched, in file order

    def feed(self, result: ReadResult) -> None:
        if result.reset:
            self._spawned.clear()
            self._exits.clear()
        for row in result.rows:
            spawn_id = _spawn_id(row)
            if spawn_id is None:
                continue
            if row.get("event") in OPENING_EVENTS:
                self._spawned.add(spawn_id)
            elif row.get("event") in _EXIT_EVENTS and spawn_id not in self._spawned:
                self._exits.append(row)

    def findings(self) -> list[Finding]:
        # A spawned row may land after its exit (writers race); only then is the exit matched.
        self._exits = [row for row in self._exits if _spawn_id(row) not in self._spawned]
        return [_orphan_finding(row) for row in self._exits]
