"""Seeds #7 and #8: event-loop blocks, the heartbeat budget they eat, and the supervisor's own cost.

Pure: blocks, tick loads and ``now`` in, findings out. No clock, no I/O.

- ``loop_block`` (warning): a block of at least ``loop_block_ms`` ended in the last
  ``recent_s`` (default 300 s). One finding per source (``subject`` = the source: the
  cockpit itself or a ``[[logs]]`` name; blocks belong to no agent): the newest block is
  the headline, with its culprit, duration and stack top; the worst and the count are evidence.
- ``heartbeat_risk`` (one per source): the block time inside the rolling window (default
  600 s: the seed's watchdog tripped on ~91 s of drag accumulated over minutes of 1-2 s
  blocks, so the window must span many ticks) against ``heartbeat_budget_s``. Warning
  at 50 % of the budget, critical at 80 %: critical must come while the operator can
  still act, BEFORE the watchdog trips at 100 % (evidence says when it is already over).
- ``supervisor_overloaded`` (warning): one tick cost more than its budget: wall time or
  CPU time over half of ``tick_s``, or more than 2 tmux processes started (the steady
  state is 0: one control-mode connection). ``ShedPolicy`` says which optional work the
  next ticks drop, idle-pane captures first, and the finding carries it as evidence.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cockpit.findings import Finding, Severity
from cockpit.observe.load import TickLoad
from cockpit.observe.loopwatch import Block

HEARTBEAT_WINDOW_S = 600.0
HEARTBEAT_WARN_RATIO = 0.5
HEARTBEAT_CRITICAL_RATIO = 0.8
LOOP_BLOCK_RECENT_S = 300.0
TICK_BUDGET_RATIO = 0.5  # a tick may use half its period, wall or CPU
TICK_TMUX_PROCESSES = 2  # tmux processes a tick may start (a reconnect costs 2; steady state 0)

# Optional work, shed in this order when ticks run over budget (seed #8: cap the idle-detection
# budget per tick). Each name is a flag the code doing that work honours.
OPTIONAL_WORK = ("idle_pane_captures", "pane_previews")


def _ms(value: float) -> str:
    return f"{value:.0f} ms" if value < 10_000 else f"{value / 1000:.1f} s"


# --- event-loop blocks -------------------------------------------------------------------------


def block_time(blocks: Iterable[Block], now: float, window_s: float = HEARTBEAT_WINDOW_S) -> dict[str, float]:
    """Seconds of block per source inside ``[now - window_s, now]`` (a block straddling the edge counts in part)."""
    since = now - window_s
    totals: dict[str, float] = {}
    for block in blocks:
        overlap = min(block.end, now) - max(block.start, since)
        if overlap > 0:
            totals[block.source] = totals.get(block.source, 0.0) + overlap
    return totals


def _block_evidence(block: Block) -> dict[str, Any]:
    return {"source": block.source, "culprit": block.culprit, "duration_ms": round(block.duration_ms, 1),
            "at": block.start, "stack_top": block.stack_top, "scopes": list(block.scopes),
            **({"line": block.line} if block.line else {})}


def loop_block(blocks: Iterable[Block], now: float, loop_block_ms: float,
               recent_s: float = LOOP_BLOCK_RECENT_S) -> list[Finding]:
    """One ``loop_block`` per source that had a block over ``loop_block_ms`` end in the last ``recent_s``."""
    by_source: dict[str, list[Block]] = {}
    for b in blocks:
        if b.duration_ms >= loop_block_ms and now - recent_s <= b.end <= now + 1.0:
            by_source.setdefault(b.source, []).append(b)
    findings = []
    for source, recent in sorted(by_source.items()):
        recent.sort(key=lambda b: b.end)
        newest = recent[-1]
        worst = max(recent, key=lambda b: b.duration_ms)
        where = f" at {newest.stack_top}" if newest.stack_top else ""
        culprit = "untracked work" if newest.culprit == "untracked" else newest.culprit
        more = f" ({len(recent)} blocks in the last {recent_s:.0f} s, worst {_ms(worst.duration_ms)})" \
            if len(recent) > 1 else ""
        summary = f"{source} event loop blocked {_ms(newest.duration_ms)} by {culprit}{where}{more}"
        findings.append(Finding(kind="loop_block", severity=Severity.WARNING, summary=summary, subject=source,
                                evidence={**_block_evidence(newest), "count": len(recent),
                                          "loop_block_ms": loop_block_ms, "worst": _block_evidence(worst)}))
    return findings


def heartbeat_risk(blocks: Iterable[Block], now: float, budget_s: float, window_s: float = HEARTBEAT_WINDOW_S,
                   *, warn_ratio: float = HEARTBEAT_WARN_RATIO,
                   critical_ratio: float = HEARTBEAT_CRITICAL_RATIO) -> list[Finding]:
    """One ``heartbeat_risk`` per source whose block time in the window nears ``budget_s``."""
    blocks = list(blocks)
    if budget_s <= 0:
        return []
    findings = []
    for source, blocked in sorted(block_time(blocks, now, window_s).items()):
        ratio = blocked / budget_s
        if ratio < warn_ratio:
            continue
        severity = Severity.CRITICAL if ratio >= critical_ratio else Severity.WARNING
        state = "over the budget: a heartbeat watchdog would have tripped" if ratio >= 1.0 else \
            "the watchdog trips at 100%"
        summary = (f"{source}: {blocked:.1f} s of event-loop blocks in the last {window_s:.0f} s, "
                   f"{ratio:.0%} of the {budget_s:g} s heartbeat budget ({state})")
        culprits: dict[str, float] = {}
        count = 0
        for b in blocks:
            if b.source == source and b.end >= now - window_s:
                count += 1
                culprits[b.culprit] = culprits.get(b.culprit, 0.0) + b.duration_ms / 1000.0
        top = sorted(culprits.items(), key=lambda kv: -kv[1])[:5]
        findings.append(Finding(kind="heartbeat_risk", severity=severity, summary=summary, subject=source, evidence={
            "source": source, "blocked_s": round(blocked, 3), "blocks": count, "budget_s": budget_s,
            "ratio": round(ratio, 3), "window_s": window_s, "warn_ratio": warn_ratio,
            "critical_ratio": critical_ratio,
            "culprits": [{"culprit": c, "blocked_s": round(v, 3)} for c, v in top],
        }))
    return findings


def judge_blocks(blocks: Iterable[Block], now: float, *, loop_block_ms: float, heartbeat_budget_s: float,
                 window_s: float = HEARTBEAT_WINDOW_S, recent_s: float = LOOP_BLOCK_RECENT_S) -> list[Finding]:
    """``loop_block`` and ``heartbeat_risk`` findings, one per source each (``Finding.subject`` = the source)."""
    blocks = list(blocks)
    return loop_block(blocks, now, loop_block_ms, recent_s) + heartbeat_risk(blocks, now, heartbeat_budget_s, window_s)


# --- the supervisor's own cost -----------------------------------------------------------------


@dataclass(frozen=True)
class TickBudget:
    wall_ms: float
    cpu_ms: float
    tmux_processes: int = TICK_TMUX_PROCESSES

    @classmethod
    def for_tick(cls, tick_s: float, ratio: float = TICK_BUDGET_RATIO) -> TickBudget:
        return cls(wall_ms=tick_s * 1000.0 * ratio, cpu_ms=tick_s * 1000.0 * ratio)

    def overruns(self, load: TickLoad) -> dict[str, tuple[float, float]]:
        """What went over: name -> (measured, budget)."""
        out: dict[str, tuple[float, float]] = {}
        if load.wall_ms > self.wall_ms:
            out["wall_ms"] = (load.wall_ms, self.wall_ms)
        if load.cpu_ms > self.cpu_ms:
            out["cpu_ms"] = (load.cpu_ms, self.cpu_ms)
        if load.tmux_processes > self.tmux_processes:
            out["tmux_processes"] = (load.tmux_processes, self.tmux_processes)
        return out


class ShedPolicy:
    """Which optional work to skip: one more item per tick over budget, one fewer after
    ``recover_after`` ticks in a row under half the budget (no flapping at the edge)."""

    def __init__(self, budget: TickBudget, *, order: Sequence[str] = OPTIONAL_WORK, recover_after: int = 3) -> None:
        self.budget = budget
        self.order = tuple(order)
        self.recover_after = recover_after
        self.level = 0
        self._calm = 0

    @property
    def shed(self) -> tuple[str, ...]:
        return self.order[:self.level]

    def update(self, load: TickLoad) -> tuple[str, ...]:
        """Feed one tick's load; returns what the next tick sheds."""
        if self.budget.overruns(load):
            self.level = min(self.level + 1, len(self.order))
            self._calm = 0
        elif load.wall_ms <= self.budget.wall_ms / 2 and load.cpu_ms <= self.budget.cpu_ms / 2:
            self._calm += 1
            if self._calm >= self.recover_after and self.level:
                self.level -= 1
                self._calm = 0
        else:
            self._calm = 0
        return self.shed


def supervisor_overloaded(load: TickLoad, budget: TickBudget, *, shedding: Sequence[str] = (),
                          recent: Sequence[TickLoad] = ()) -> Finding | None:
    """``supervisor_overloaded`` when this tick went over its budget; ``shedding``: what the next ticks drop."""
    over = budget.overruns(load)
    if not over:
        return None
    parts = []
    for name, (value, limit) in over.items():
        if name == "tmux_processes":
            parts.append(f"{value:.0f} tmux processes started (budget {limit:.0f})")
        else:
            parts.append(f"{name.split('_')[0]} {_ms(value)} (budget {_ms(limit)})")
    response = f"; shedding {', '.join(w.replace('_', ' ') for w in shedding)}" if shedding else ""
    summary = f"supervisor tick over budget: {', '.join(parts)}{response}"
    over_recent = sum(1 for r in recent if budget.overruns(r))
    return Finding(kind="supervisor_overloaded", severity=Severity.WARNING, summary=summary, evidence={
        **load.to_json(),
        "budget": {"wall_ms": budget.wall_ms, "cpu_ms": budget.cpu_ms, "tmux_processes": budget.tmux_processes},
        "over": sorted(over), "shedding": list(shedding), "shed_this_tick": list(load.shed),
        "recent_over": over_recent, "recent": len(recent),
    })


def blocks_json(blocks: Iterable[Block], limit: int = 50) -> list[Mapping[str, Any]]:
    """The newest ``limit`` blocks, newest first, for ``check --json`` and the Blocks tab."""
    return [b.to_json() for b in sorted(blocks, key=lambda b: b.end, reverse=True)[:limit]]
