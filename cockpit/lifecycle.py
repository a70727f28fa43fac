"""An agent's lifecycle: named states, explicit events, one transition function.

Like supervisord (STARTING, RUNNING, BACKOFF, EXITED, FATAL), but the restart
budget also counts crashes after a successful start (supervisord's blind spot),
and the state is derived from the registry on disk, so a restarted cockpit keeps
its budget instead of trusting a fresh cache (seed #2, #3).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from typing import TYPE_CHECKING, Iterable, Mapping, Union

if TYPE_CHECKING:
    from cockpit.config import Config

from cockpit import timefmt


class AgentState(str, Enum):
    UNKNOWN = "unknown"    # never seen by this cockpit
    STARTING = "starting"  # a spawn was issued and is being verified
    RUNNING = "running"    # verified and alive
    BACKOFF = "backoff"    # failed; waiting out the backoff before the next automatic attempt
    DOWN = "down"          # not running and not restarted automatically (policy, clean exit, auto off)
    FATAL = "fatal"        # restart budget spent: no automatic respawn until an operator respawns


@dataclass(frozen=True)
class RestartPolicy:
    restart: str = "on-failure"  # on-failure | always | never
    max_restarts: int = 5
    restart_window_s: float = 300.0
    backoff_max_s: float = 30.0
    auto_respawn: bool = True

    @property
    def backoff_base_s(self) -> float:
        return min(1.0, self.backoff_max_s)

    def backoff(self, consecutive_failures: int) -> float:
        """Doubling from one second (or backoff_max_s if smaller), capped at backoff_max_s."""
        exponent = max(0, consecutive_failures - 1)
        return min(self.backoff_max_s, self.backoff_base_s * (2 ** min(exponent, 30)))


# --- events -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpawnStarted:
    at: float
    by: str = "auto"  # auto | operator | start


@dataclass(frozen=True)
class SpawnVerified:
    at: float


@dataclass(frozen=True)
class SpawnFailed:
    at: float
    check: str = ""


@dataclass(frozen=True)
class Exited:
    at: float
    status: int | None = None  # None: the exit status was not seen (tmux reports it late or not at all)
    expected: bool = False  # the agent announced it (SessionEnd, SPEC §8): an ending, not a crash


@dataclass(frozen=True)
class Adopted:
    """A live process the cockpit did not start, marked as the agent (``cockpit adopt``): it runs, verified."""
    at: float


Event = Union[SpawnStarted, SpawnVerified, SpawnFailed, Exited, Adopted]


@dataclass(frozen=True)
class Lifecycle:
    state: AgentState = AgentState.UNKNOWN
    failures: tuple[float, ...] = ()      # failure times inside the restart window (the budget)
    consecutive_failures: int = 0
    next_attempt_at: float | None = None  # BACKOFF: when the next automatic attempt is due
    restarts: int = 0                     # spawns after the first one
    spawns: int = 0
    last_check: str | None = None         # the verification check that failed last
    last_exit_status: int | None = None
    since: float | None = None            # when the current state began
    alert_due: bool = False               # set on the transition into FATAL: alert once

    def due(self, now: float, *, stalled_after_s: float | None = None) -> bool:
        """Whether an automatic spawn should happen now.

        ``stalled_after_s``: a STARTING this old with no spawn in flight (the caller knows) is an
        attempt nobody finished, its cockpit killed between the request and the verdict: due again.
        """
        if self.state is AgentState.BACKOFF:
            return self.next_attempt_at is None or now >= self.next_attempt_at
        if self.state is AgentState.STARTING and stalled_after_s is not None and self.since is not None:
            return now - self.since >= stalled_after_s
        return False


def _failure(lc: Lifecycle, policy: RestartPolicy, at: float, **changes) -> Lifecycle:
    window = tuple(t for t in lc.failures if at - t < policy.restart_window_s) + (at,)
    consecutive = lc.consecutive_failures + 1
    base = replace(lc, failures=window, consecutive_failures=consecutive, since=at, **changes)
    if not policy.auto_respawn:
        return replace(base, state=AgentState.DOWN, next_attempt_at=None)
    if len(window) > policy.max_restarts:
        entering = lc.state is not AgentState.FATAL
        return replace(base, state=AgentState.FATAL, next_attempt_at=None, alert_due=entering)
    # SPEC §8: a crash after a verified (healthy for min_uptime_s) run, the first in the window, is
    # respawned at once; backoff applies from the second crash in the window (the budget is unchanged).
    healthy_first = lc.state is AgentState.RUNNING and len(window) == 1
    delay = 0.0 if healthy_first else policy.backoff(consecutive)
    return replace(base, state=AgentState.BACKOFF, next_attempt_at=at + delay)


def transition(lc: Lifecycle, event: Event, policy: RestartPolicy) -> Lifecycle:
    """The one function that moves an agent between states."""
    lc = replace(lc, alert_due=False)
    if isinstance(event, SpawnStarted):
        if event.by == "operator":
            # An operator's respawn is a fresh start: the budget is theirs to reset (SPEC §3 row 2).
            lc = replace(lc, failures=(), consecutive_failures=0)
        elif lc.state is AgentState.FATAL:
            return lc  # nothing automatic leaves FATAL
        restarts = lc.restarts + (1 if lc.spawns > 0 else 0)
        return replace(lc, state=AgentState.STARTING, spawns=lc.spawns + 1, restarts=restarts,
                       next_attempt_at=None, since=event.at)
    if isinstance(event, SpawnVerified):
        return replace(lc, state=AgentState.RUNNING, consecutive_failures=0, last_check=None, since=event.at)
    if isinstance(event, Adopted):
        # counted as a start, so the first respawn after it is a restart
        return replace(lc, state=AgentState.RUNNING, spawns=lc.spawns + 1, consecutive_failures=0,
                       last_check=None, next_attempt_at=None, since=event.at)
    if isinstance(event, SpawnFailed):
        if lc.state is AgentState.FATAL:
            return lc
        return _failure(lc, policy, event.at, last_check=event.check or None)
    if isinstance(event, Exited):
        if lc.state in (AgentState.FATAL, AgentState.DOWN, AgentState.BACKOFF):
            return replace(lc, last_exit_status=event.status)
        clean = event.status == 0 or (event.expected and event.status is None)
        if policy.restart == "never" or (policy.restart == "on-failure" and clean):
            return replace(lc, state=AgentState.DOWN, last_exit_status=event.status, next_attempt_at=None,
                           since=event.at, consecutive_failures=0)
        # "always", or a failure under "on-failure": a crash after a good start counts against the budget.
        return _failure(lc, policy, event.at, last_exit_status=event.status)
    raise TypeError(f"unknown lifecycle event {event!r}")


# --- derived from the registry --------------------------------------------------------------


def event_from_row(row: Mapping[str, object]) -> Event | None:
    """The lifecycle event a registry row records, if any."""
    at = timefmt.parse(row.get("ts"))
    if at is None:
        return None
    kind = row.get("event")
    if kind == "spawn_requested":
        by = row.get("by")
        return SpawnStarted(at=at, by=by if isinstance(by, str) else "auto")
    if kind == "spawned":
        return SpawnVerified(at=at)
    if kind == "adopted":
        return Adopted(at=at)
    if kind == "spawn_failed":
        check = row.get("check")
        return SpawnFailed(at=at, check=check if isinstance(check, str) else "")
    if kind in ("exit", "reaped"):
        status = row.get("status")
        expected = row.get("expected")
        return Exited(at=at, status=status if isinstance(status, int) and not isinstance(status, bool) else None,
                      expected=isinstance(expected, str) and bool(expected))
    return None


def fold(rows: Iterable[Mapping[str, object]], policy: RestartPolicy, start: Lifecycle | None = None) -> Lifecycle:
    """Replay one agent's registry rows through ``transition``."""
    lc = start or Lifecycle()
    for row in rows:
        event = event_from_row(row)
        if event is not None:
            lc = transition(lc, event, policy)
    return replace(lc, alert_due=False)


@dataclass
class LifecycleBook:
    """Each agent's lifecycle, kept up to date from registry rows as they are appended."""

    policies: Mapping[str, RestartPolicy]
    states: dict[str, Lifecycle] = field(default_factory=dict)

    def reset(self) -> None:
        self.states.clear()

    def get(self, name: str) -> Lifecycle:
        return self.states.get(name, Lifecycle())

    def apply(self, name: str, event: Event) -> Lifecycle:
        policy = self.policies.get(name)
        if policy is None:
            return Lifecycle()
        lc = transition(self.get(name), event, policy)
        self.states[name] = lc
        return lc

    def feed(self, rows: Iterable[Mapping[str, object]]) -> None:
        for row in rows:
            name = row.get("agent")
            if not isinstance(name, str) or name not in self.policies:
                continue
            event = event_from_row(row)
            if event is not None:
                self.apply(name, event)


def policies_for(config: "Config") -> dict[str, RestartPolicy]:
    """Each configured agent's restart policy (its restart mode, the supervisor's budget and backoff)."""
    sup = config.supervisor
    return {a.name: RestartPolicy(restart=a.restart, max_restarts=sup.max_restarts,
                                  restart_window_s=sup.restart_window_s, backoff_max_s=sup.backoff_max_s,
                                  auto_respawn=sup.auto_respawn) for a in config.agents}
