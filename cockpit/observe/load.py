"""What one whole tick cost the cockpit (seed #8): measured by the supervisor around its own tick, read
by the next ticks' judge (``supervisor_overloaded``) and shown in the report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TickLoad:
    """What one whole tick (observe, judge, act) cost the cockpit."""
    wall_ms: float
    cpu_ms: float               # process CPU time during the tick (loop thread and worker threads)
    tmux_processes: int         # tmux client processes started
    tmux_commands: int = 0      # commands sent over the control connection
    shed: tuple[str, ...] = ()  # optional work this tick skipped

    def to_json(self) -> dict[str, Any]:
        return {"wall_ms": round(self.wall_ms, 2), "cpu_ms": round(self.cpu_ms, 2),
                "tmux_processes": self.tmux_processes, "tmux_commands": self.tmux_commands,
                "shed": list(self.shed)}
