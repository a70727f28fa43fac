"""What the registry says, kept current from its tail: lifecycles, bound sessions, open spawns.

The registry on disk is the truth about lifecycles; this view is rebuilt from it
whenever the file is replaced (a prune) and otherwise fed only the new rows, so a
tick costs what was appended, not the file's size.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Mapping, Sequence

from cockpit.lifecycle import AgentState, Lifecycle, LifecycleBook, RestartPolicy
from cockpit.registry import CLOSING_EVENTS, OPENING_EVENTS, ReadResult, Registry


@dataclass
class RegistryView:
    policies: Mapping[str, RestartPolicy]
    book: LifecycleBook = field(init=False)
    last_spawned: dict[str, dict[str, Any]] = field(default_factory=dict)   # agent -> newest `spawned`/`adopted` row
    last_failed: dict[str, dict[str, Any]] = field(default_factory=dict)    # agent -> newest `spawn_failed` row
    last_exit: dict[str, dict[str, Any]] = field(default_factory=dict)      # agent -> newest `exit`/`reaped` row
    bound_sessions: dict[str, list[str]] = field(default_factory=dict)      # agent -> session ids it was spawned with
    closed: set[str] = field(default_factory=set)                          # spawn ids whose lifecycle ended
    rows_seen: int = 0
    bad_lines: int = 0
    version: int = 0                                                        # moves with every reset and row fed

    def __post_init__(self) -> None:
        self.book = LifecycleBook(self.policies)
        self._adoptions: tuple[int, dict[str, dict[str, Any]]] | None = None

    def reset(self) -> None:
        self.version += 1
        self.book.reset()
        self.last_spawned.clear()
        self.last_failed.clear()
        self.last_exit.clear()
        self.bound_sessions.clear()
        self.closed.clear()
        self.rows_seen = 0
        self.bad_lines = 0

    def feed(self, result: ReadResult) -> list[dict[str, Any]]:
        """Take a tail read (``rows``, ``bad_lines``, ``reset``); returns the rows applied.

        A reset (the file was rewritten by a prune) replays the whole file: an agent that was
        already FATAL, its alert sent or pending, is not made due for the alert a second time.
        """
        replayed = result.reset
        already_fatal: set[str] = set()
        if replayed:
            already_fatal = {name for name, lc in self.book.states.items()
                             if lc.state is AgentState.FATAL and not lc.alert_due}
            self.reset()
        self.bad_lines += result.bad_lines
        rows = list(result.rows)
        self.feed_rows(rows)
        for name in already_fatal:
            lc = self.book.states.get(name)
            if lc is not None and lc.alert_due:
                self.book.states[name] = replace(lc, alert_due=False)
        return rows

    def feed_rows(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            self.version += 1
            self.rows_seen += 1
            agent = row.get("agent")
            event = row.get("event")
            if not isinstance(agent, str):
                continue
            if event in OPENING_EVENTS:
                self.last_spawned[agent] = dict(row)
            elif event == "spawn_failed":
                self.last_failed[agent] = dict(row)
            elif event in ("exit", "reaped"):
                self.last_exit[agent] = dict(row)
            sid = row.get("session_id")
            if event in ("spawned", "repointed", "adopted") and isinstance(sid, str) and sid:
                bound = self.bound_sessions.setdefault(agent, [])  # newest last
                if sid in bound:
                    bound.remove(sid)
                bound.append(sid)
            spawn_id = row.get("spawn_id")
            if event in CLOSING_EVENTS and isinstance(spawn_id, str):
                self.closed.add(spawn_id)
            self.book.feed([row])

    def lifecycle(self, agent: str) -> Lifecycle:
        return self.book.get(agent)

    def open_spawn(self, agent: str) -> dict[str, Any] | None:
        """The agent's newest verified spawn (or adoption) that has no exit row yet."""
        row = self.last_spawned.get(agent)
        if row is None or row.get("spawn_id") in self.closed:
            return None
        return row

    def open_adoption(self, agent: str) -> dict[str, Any] | None:
        """The agent's open lifecycle when it is an adopted process (a pane cockpit did not start)."""
        row = self.open_spawn(agent)
        return row if row is not None and row.get("event") == "adopted" else None

    def open_adoptions(self) -> dict[str, dict[str, Any]]:
        cached = self._adoptions  # asked every tick: recomputed only when a row came in
        if cached is None or cached[0] != self.version:
            found = {name: row for name in list(self.last_spawned) if (row := self.open_adoption(name)) is not None}
            cached = self._adoptions = (self.version, found)
        return dict(cached[1])

    def bound_session(self, agent: str) -> str | None:
        bound = self.bound_sessions.get(agent)
        return bound[-1] if bound else None


class RegistryWatch:
    """The registry's tail and the view it keeps current: the observe step reads it once a tick,
    and every act that writes a row syncs it (so the act's own verification sees the row).

    ``on_rows`` get every read too (the orphan-exit judge keeps its memory from them).
    """

    def __init__(self, registry: Registry, policies: Mapping[str, RestartPolicy], *,
                 on_rows: Sequence[Callable[[ReadResult], Any]] = ()) -> None:
        self.tail = registry.tail()
        self.view = RegistryView(policies)
        self.on_rows = list(on_rows)
        self._lock = threading.Lock()  # the tick and spawn tasks sync from different worker threads

    def sync_now(self) -> None:
        with self._lock:
            result = self.tail.read_new()
            self.view.feed(result)
            for listener in self.on_rows:
                listener(result)

    async def sync(self) -> None:
        """Bring the view up to date with the disk (new rows only), in a worker thread."""
        await asyncio.to_thread(self.sync_now)

    def close(self) -> None:
        self.tail.close()
