"""The supervisor's event sources (SPEC §8): exits by pidfd, hook lines on the socket.

A tick is the floor, not the rule: between ticks the supervisor is woken by these, and each
wakes one pass of the same pipeline for the one agent it concerns (``Supervisor._event_pass``).

- ``exits``: a pidfd per live agent process, re-synced from every snapshot and armed for a
  new process the moment its spawn is verified;
- the events socket (``observe.events.EventListener``), taken when no other cockpit listens;
- each agent's events file, read incrementally and folded into its ``HookState``: the hook
  state every cockpit judges comes from the files, the socket only wakes the pass sooner.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cockpit.config import Config
from cockpit.judge.hooks import HookState, fold_events
from cockpit.observe.events import EventListener, EventsStore
from cockpit.observe.exits import ExitEvent, ExitWatch
from cockpit.registry import Row, Tail

__all__ = ["EventSources"]


class EventSources:
    def __init__(self, config: Config, *, on_exit: Callable[[ExitEvent], Any], on_hook: Callable[[Row], Any],
                 read_only: bool = False) -> None:
        self.config = config
        self.read_only = read_only
        self.names = frozenset(a.name for a in config.agents)
        self.store = EventsStore(config.state.events_dir)
        self.listener = EventListener(config.state.events_socket, self.store, agents=lambda: self.names,
                                      on_event=on_hook)
        self.exits = ExitWatch(on_exit)
        self._tails: dict[str, Tail] = {}
        self._sizes: dict[str, int] = {}
        self._taken: set[tuple[Any, ...]] = set()  # rows folded on arrival, skipped when their file is read
        self.states: dict[str, HookState] = {}
        self.bad_lines = 0

    async def start(self) -> None:
        """Listen on the events socket unless read-only or another cockpit does (retried each tick)."""
        if not self.read_only:
            await self.listener.start()

    async def ensure_listening(self) -> None:
        if not self.read_only and not self.listener.listening:
            await self.listener.start()

    async def close(self) -> None:
        self.exits.close()
        await self.listener.close()
        for tail in self._tails.values():
            tail.close()
        self._tails.clear()

    def _grown(self) -> set[str]:
        """The agents whose events file changed size since the last read: one directory scan, not a
        stat and a read per agent per tick (the idle cost, SPEC §5)."""
        sizes: dict[str, int] = {}
        try:
            with os.scandir(self.store.dir) as entries:
                for entry in entries:
                    if entry.name.endswith(".jsonl"):
                        sizes[entry.name[:-6]] = entry.stat(follow_symlinks=False).st_size
        except OSError:
            pass
        grown = {n for n in self.names if sizes.get(n) != self._sizes.get(n)}
        self._sizes = sizes
        return grown

    def read_hooks(self, names: Iterable[str] | None = None) -> dict[str, HookState]:
        """(worker thread) New rows of each agent's events file, folded; returns every agent's state.

        ``names``: read these (an event's pass); default: those whose file changed size."""
        for name in names if names is not None else self._grown():
            tail = self._tails.get(name)
            if tail is None:
                tail = self._tails[name] = self.store.tail(name)
            result = tail.read_new()
            self.bad_lines += result.bad_lines
            if result.reset:  # pruned (rewritten): fold again from its first row
                self.states.pop(name, None)
            rows = [r for r in result.rows if _key(r) not in self._taken]
            if result.reset:
                rows = result.rows
            self._taken.difference_update(_key(r) for r in result.rows)
            if rows:
                self.states[name] = fold_events(self.states.get(name, HookState()), rows)
        return dict(self.states)

    def prune(self, now: float, max_age_s: float) -> int:
        """(worker thread) Each agent's events file pruned like the registry (its newest SessionStart kept)."""
        dropped = 0
        for name in self.names:
            try:
                dropped += self.store.prune(name, now, max_age_s)
            except OSError:
                continue  # a full disk, a file turned into a directory: the next prune tries again
        return dropped

    def take(self, row: Row) -> None:
        """(loop thread) A row the listener just appended, folded at once: the report needs no file read
        (SPEC §8: ≤ 250 ms). Its file read later skips it."""
        name = row.get("agent")
        if not isinstance(name, str) or name not in self.names:
            return
        if len(self._taken) > 10_000:  # rows whose file was never read back (a test, a stuck disk): bounded
            self._taken.clear()
        self._taken.add(_key(row))
        self.states[name] = fold_events(self.states.get(name, HookState()), [row])

    def __len__(self) -> int:
        return len(self.states)

    def sync_exits(self, live: Mapping[str, tuple[int, int | None]]) -> None:
        """(loop thread) Watch the live agents' processes. Nothing is unwatched from a snapshot: a spawn
        verified after it was taken is already watched; a watch ends when it fires or a newer process
        of the agent replaces it."""
        for name, (pid, start) in live.items():
            self.exits.watch(name, pid, start)

    def watch(self, name: str, pid: int | None, start: int | None) -> None:
        if pid is not None and pid > 0:
            self.exits.watch(name, pid, start)


def _key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """A row's identity: its time (ms), agent, event and session; a prompt's first characters."""
    prompt = row.get("prompt")
    return (row.get("ts"), row.get("agent"), row.get("event"), row.get("session_id"),
            prompt[:64] if isinstance(prompt, str) else None)
