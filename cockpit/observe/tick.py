"""One tick's snapshot: everything the tick knows, gathered once by the observe step.

The judges and the plan read this and nothing else of the world: the panes, processes and
ports (``base``), what the registry says of each agent (``records``), the session truth, the
records appended to each agent's transcript (the fold judge's feed), the wrappers, the canaries, the CLI drift, the reminders and the supervisor's own load.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Mapping

from cockpit import timefmt
from cockpit.lifecycle import Lifecycle
from cockpit.observe.canaries import CanaryState
from cockpit.observe.drift import CliTarget
from cockpit.observe.events import HookState
from cockpit.observe.folds import TranscriptFeed
from cockpit.observe.history import RegistryView
from cockpit.observe.load import TickLoad
from cockpit.observe.loopwatch import Block
from cockpit.observe.sessions import SessionsReport
from cockpit.observe.snapshot import Snapshot
from cockpit.observe.state import StateDisk
from cockpit.observe.wrappers import WrapperView
from cockpit.reminders import Reminder


@dataclass(frozen=True)
class AgentRecord:
    """What the registry says of one agent: its lifecycle and the rows the judges cite."""
    lifecycle: Lifecycle
    open_spawn: bool = False                      # its newest verified spawn has no exit row yet
    last_failed: Mapping[str, Any] | None = None  # newest spawn_failed row
    last_exit: Mapping[str, Any] | None = None    # newest exit/reaped row
    bound_session: str | None = None              # the newest session id cockpit bound it to
    spawn_at: float | None = None                 # SPEC §8: when its open spawn was verified (hooks since count)
    spawn_hooks: str | None = None                # SPEC §8: "ok" / "silent": spawned with hooks, and whether they spoke

    @classmethod
    def of(cls, view: RegistryView, name: str) -> "AgentRecord":
        row = view.open_spawn(name)
        at, hooks = _spawn_facts(*(_scalar(row.get(k)) for k in ("spawn_id", "ts", "elapsed_s", "hooks"))) \
            if row is not None else (None, None)
        return cls(lifecycle=view.lifecycle(name), open_spawn=row is not None,
                   last_failed=view.last_failed.get(name), last_exit=view.last_exit.get(name),
                   bound_session=view.bound_session(name), spawn_at=at, spawn_hooks=hooks)


def _scalar(value: Any) -> Any:
    return value if isinstance(value, (str, int, float)) else None  # a hostile row's list is no cache key


@functools.lru_cache(maxsize=4096)
def _spawn_facts(spawn_id: Any, ts: Any, elapsed: Any, hooks: Any) -> tuple[float | None, str | None]:
    """(when the spawn started, its hooks verdict) of a spawned row; parsed once per row, not per tick."""
    at = timefmt.parse(ts)
    if at is not None and isinstance(elapsed, (int, float)) and not isinstance(elapsed, bool):
        at -= float(elapsed)  # from the spawn's start: its SessionStart comes before the verdict
    return at, hooks if isinstance(hooks, str) else None


def records_of(view: RegistryView, names: Any) -> dict[str, AgentRecord]:
    return {name: AgentRecord.of(view, name) for name in names}


class RecordBook:
    """Each agent's AgentRecord, tick after tick: the same object while the lifecycle and rows it is
    made of are the same (the judges' memo compares records by identity)."""

    def __init__(self) -> None:
        self._memo: dict[str, tuple[tuple[Any, ...], AgentRecord]] = {}
        self._last: tuple[int, dict[str, Any], tuple[str, ...], dict[str, AgentRecord]] | None = None

    def records(self, view: RegistryView, names: Any) -> dict[str, AgentRecord]:
        names = tuple(names)
        last = self._last  # no row came in and no lifecycle moved: the same records
        if last is not None and last[0] == view.version and last[2] == names and last[1] == view.book.states:
            return last[3]
        out = self._records(view, names)
        self._last = (view.version, dict(view.book.states), names, out)
        return out

    def _records(self, view: RegistryView, names: tuple[str, ...]) -> dict[str, AgentRecord]:
        out: dict[str, AgentRecord] = {}
        for name in names:
            key = (view.lifecycle(name), view.open_spawn(name), view.last_failed.get(name),
                   view.last_exit.get(name), view.bound_session(name))
            memo = self._memo.get(name)
            if memo is None or memo[0] != key:
                memo = self._memo[name] = (key, AgentRecord.of(view, name))
            out[name] = memo[1]
        return out


@dataclass(frozen=True)
class TickSnapshot:
    base: Snapshot                                   # panes, process trees, ports (one list-panes, one /proc pass)
    records: Mapping[str, AgentRecord]               # per agent, from the registry view
    starting: frozenset[str] = frozenset()           # agents whose spawn is in flight in this cockpit
    sessions: SessionsReport | None = None           # seed #3: record vs disk per agent
    transcripts: Mapping[str, TranscriptFeed | None] = field(default_factory=dict)  # seed #11: new records
    wrappers: tuple[WrapperView, ...] = ()           # seed #9: as observed (the judge marks zombies)
    canaries: tuple[CanaryState, ...] = ()           # seed #5
    clis: tuple[CliTarget, ...] = ()                 # seed #1
    reminders: tuple[Reminder, ...] = ()             # seed #6: open, and finished in the last day
    blocks: tuple[Block, ...] = ()                   # seed #7: recent event-loop blocks, every source
    loads: tuple[TickLoad, ...] = ()                 # seed #8: the last ticks' cost, newest last
    shed: tuple[str, ...] = ()                       # optional work the ticks skip while over budget
    reaps_in_flight: frozenset[str] = frozenset()    # wrapper ids being reaped by this cockpit
    hosts: tuple[Any, ...] = ()                      # SPEC §9: a judge.hosts.HostView per [[hosts]] entry
    hooks: Mapping[str, HookState] = field(default_factory=dict)  # SPEC §8: each agent's hook events, folded
    state: StateDisk | None = None                   # SPEC §6: failed state writes, the state disk's free bytes

    @property
    def at(self) -> float:
        return self.base.at

    @property
    def tmux_ok(self) -> bool:
        return self.base.tmux_ok
