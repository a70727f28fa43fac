"""``cockpit demo --hosts N``: N more "hosts" on this machine, each its own demo world (its own tmux
server, state dir and ``cockpit supervise``), reached through the same ``serve --stdio`` transport
an SSH host is, with :mod:`cockpit.remote.localssh` in place of ``ssh``. The last one goes away for
a while (its connection refused, its session cut), so the operator sees ``host_unreachable``,
its agents kept as ``unknown`` with the age of their last report, and the recovery.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from cockpit.demo import DemoWorld

HOST_AGENTS = 3
AWAY_AFTER_S = 45.0   # the last host goes away this long after the demo starts...
AWAY_FOR_S = 60.0     # ...and comes back after this long
LOCALSSH = (sys.executable, "-m", "cockpit.remote.localssh")
REMOTE_COCKPIT = (sys.executable, "-m", "cockpit")


class DemoHosts:
    """The extra hosts' worlds; ``entries()`` is what the main world's config lists as ``[[hosts]]``."""

    def __init__(self, n: int, *, keep: bool = False, away_after_s: float = AWAY_AFTER_S,
                 away_for_s: float = AWAY_FOR_S, base_dir: str | os.PathLike[str] | None = None) -> None:
        self.names = [f"lab-{i + 1}" for i in range(n)]
        self.worlds = [DemoWorld(HOST_AGENTS, keep=keep, faults=False, chat_every_s=(4.0, 9.0), base_dir=base_dir)
                       for _ in self.names]
        self.away_after_s = away_after_s
        self.away_for_s = away_for_s
        self.started_at = 0.0

    def open(self) -> DemoHosts:
        self.started_at = time.time()
        try:
            for world in self.worlds:
                world.open()
                assert world.config is not None
                # each host runs its own supervisor, as a real one would (a window of its own tmux server)
                world._window("supervise", [*REMOTE_COCKPIT, "supervise", "--config", str(world.config_path)])
        except BaseException:
            self.close(keep=False)
            raise
        return self

    def entries(self) -> list[dict[str, Any]]:
        out = []
        for i, (name, world) in enumerate(zip(self.names, self.worlds)):
            ssh = [*LOCALSSH, "--host", name]
            if i == len(self.worlds) - 1:  # the last one goes away for a while
                start = self.started_at + self.away_after_s
                ssh += ["--down-between", f"{start:.0f}", f"{start + self.away_for_s:.0f}"]
            out.append({"name": name, "ssh": ssh, "cockpit": list(REMOTE_COCKPIT), "config": str(world.config_path)})
        return out

    def describe(self) -> str:
        lines = []
        for i, (name, world) in enumerate(zip(self.names, self.worlds)):
            away = (f"; goes away {self.away_after_s:.0f}s in, back {self.away_for_s:.0f}s later"
                    if i == len(self.worlds) - 1 else "")
            lines.append(f"  host {name}: {len(world.agents)} agents on tmux -L {world.socket}, world {world.root}{away}")
        return "\n".join(lines)

    def close(self, *, keep: bool | None = None) -> list[str]:
        texts = []
        for world in self.worlds:
            text = world.close(keep=keep)
            if text:
                texts.append(text)
        return texts
