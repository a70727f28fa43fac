"""One snapshot per tick, gathered cheaply and in batch.

Panes come from one ``list-panes -a`` on the supervisor's control connection; the
process tree of every agent and the listening ports (read once for all agents) are read
in one worker thread, never on the event loop.

A spawned agent's pane is found by the tag cockpit set on it at spawn, in the cockpit's
session. An adopted agent (a process cockpit did not start, ``cockpit adopt``) is found from its
open ``adopted`` registry row instead: the recorded process (pid AND start time) is the agent,
in the recorded pane only while that pane's tree still holds it (pane ids restart with a server).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from cockpit.config import AgentConfig, Config
from cockpit.observe.ports import PortProbe
from cockpit.observe.procs import Proc, ProcessReader, ProcessTable
from cockpit.tmux import Pane, TmuxClient, TmuxNoServer, TmuxUnreachable


PREFETCH_WALK_MS = 4.0  # a walk this long is started with the last roots while tmux lists the panes


@dataclass(frozen=True)
class PortState:
    port: int
    listening: bool
    owned: bool | None  # one of the agent's processes holds it (None: cannot tell)

    @property
    def ok(self) -> bool:
        return self.listening and self.owned is not False


@dataclass(frozen=True)
class AgentObservation:
    name: str
    pane: Pane | None           # the agent's pane (alive preferred), None if it has no window
    proc: Proc | None           # the pane's process if alive
    tree: tuple[Proc, ...]      # the pane's process tree
    port: PortState | None
    adopted: bool = False       # a process cockpit did not start (``cockpit adopt``); its pane is not cockpit's


@dataclass(frozen=True)
class TickCost:
    wall_ms: float
    tmux_processes: int
    tmux_commands: int


@dataclass(frozen=True)
class Snapshot:
    at: float
    tmux_ok: bool                 # the panes are known: read from the server, or none because there is no server
    tmux_error: str | None
    panes: tuple[Pane, ...]
    procs: ProcessTable
    agents: Mapping[str, AgentObservation]
    cost: TickCost = field(default_factory=lambda: TickCost(0.0, 0, 0))
    tmux_server: bool = True      # False: no tmux server at all, so no agent runs in one (SPEC §6: judged from disk)


def agent_panes(panes: list[Pane] | tuple[Pane, ...], session: str) -> dict[str, Pane]:
    """Each agent's pane, by the tag cockpit sets at spawn; a live pane wins over a dead one."""
    chosen: dict[str, Pane] = {}
    for pane in panes:
        if pane.agent is None or pane.session != session:
            continue
        current = chosen.get(pane.agent)
        if current is None or (current.dead and not pane.dead) or (
            current.dead == pane.dead and _pane_number(pane) > _pane_number(current)
        ):
            chosen[pane.agent] = pane
    return chosen


def _pane_number(pane: Pane) -> int:
    try:
        return int(pane.pane_id.lstrip("%"))
    except ValueError:
        return -1


class Observer:
    """Gathers snapshots for one config through one tmux client."""

    def __init__(self, config: Config, tmux: TmuxClient, *,
                 reader: ProcessReader | None = None, probe: PortProbe | None = None,
                 clock=time.time, adopted: Callable[[], Mapping[str, Mapping[str, Any]]] | None = None) -> None:
        self.config = config
        self.tmux = tmux
        self.reader = reader or ProcessReader()
        self.probe = probe or PortProbe()
        self.clock = clock
        self.adopted = adopted or (lambda: {})  # agent -> its open `adopted` registry row
        # per agent, what the last observation was made of and gave: an agent whose pane, process table
        # and listeners did not move keeps the same AgentObservation object (the later steps compare by identity)
        self._last: dict[str, tuple[ProcessTable, frozenset[int] | None, AgentObservation]] = {}
        self._roots: tuple[int, ...] = ()  # the trees' roots of the last read, and how long their walk took
        self._walk_ms = 0.0
        # what the last read's observations were made of (table, panes by agent, adoptions) and what they were
        self._last_read: tuple[ProcessTable, dict[str, Pane], Mapping[str, Any], dict[str, AgentObservation], Any] | None = None

    async def observe(self) -> Snapshot:
        snap, _ = await self.observe_then(None)
        return snap

    async def observe_then(self, then: Callable[[Snapshot], Any] | None) -> tuple[Snapshot, Any]:
        """One snapshot, and ``then(snapshot)`` run in the same worker thread right after the process
        table is read: a tick's other blocking reads ride on this one hop (a hop costs ~150 us of CPU)."""
        started = time.perf_counter()
        procs_before, cmds_before = self.tmux.processes_started, self.tmux.commands_sent
        tmux_ok, error, panes, server = True, None, (), True
        # a big fleet's walk is started with the last roots while tmux lists the panes (it is used when the
        # roots are the same; a walk shorter than a worker hop is not worth a second hop)
        early = asyncio.ensure_future(asyncio.to_thread(self._walk, self._roots)) \
            if self._roots and self._walk_ms > PREFETCH_WALK_MS else None
        # SPEC §9: a cockpit of remote hosts only has nothing in a local tmux to look at: no probe per tick
        if self.config.agents or self.config.wrappers:
            try:
                panes = tuple(await self.tmux.list_panes(scan=True))  # what a tick reads of each pane
            except TmuxUnreachable as exc:
                error, panes = str(exc), ()
                # SPEC §6: no server means no agent runs (the disk's truth is judged); only a server that
                # exists and cannot be read is "unreachable" (the agents unknown)
                server = not isinstance(exc, TmuxNoServer) and await self._server_state() != "none"
                tmux_ok = not server
            finally:
                walked = await early if early is not None else None
        else:
            walked = await early if early is not None else None
        by_agent = agent_panes(panes, self.config.tmux.session)
        adopted = dict(self.adopted())

        def work() -> tuple[Snapshot, Any]:
            procs, agents = self._read_system(by_agent, panes, adopted, walked)
            cost = TickCost(
                wall_ms=(time.perf_counter() - started) * 1000.0,
                tmux_processes=self.tmux.processes_started - procs_before,
                tmux_commands=self.tmux.commands_sent - cmds_before,
            )
            snap = Snapshot(at=self.clock(), tmux_ok=tmux_ok, tmux_error=error, panes=panes, procs=procs,
                            agents=agents, cost=cost, tmux_server=server)
            return snap, then(snap) if then is not None else None
        return await asyncio.to_thread(work)

    async def _server_state(self) -> str:
        """The server's state, from the probe the failed connect just made when it is fresh."""
        last = self.tmux.last_state
        if last is not None and time.monotonic() - last[1] < 1.0:
            return last[0]
        return await self.tmux.server_state()

    def _walk(self, roots: tuple[int, ...]) -> tuple[tuple[int, ...], ProcessTable, bool]:
        """(worker thread) The trees of ``roots`` and, when an agent has a port, the listening table."""
        started = time.perf_counter()
        procs = self.reader.tree(roots)
        self._walk_ms = (time.perf_counter() - started) * 1000.0
        scanned = any(a.port for a in self.config.agents)
        if scanned:
            self.probe.scan()
        return roots, procs, scanned

    def _read_system(self, by_agent: dict[str, Pane], panes: tuple[Pane, ...] = (),
                     adopted: Mapping[str, Mapping[str, Any]] | None = None,
                     walked: tuple[tuple[int, ...], ProcessTable, bool] | None = None,
                     ) -> tuple[ProcessTable, dict[str, AgentObservation]]:
        adopted = adopted or {}
        by_id = {p.pane_id: p for p in panes} if adopted else {}
        roots = [p.pid for p in by_agent.values() if not p.dead and p.pid > 0]
        for row in adopted.values():
            pane = by_id.get(row.get("pane"))  # type: ignore[arg-type]
            roots += [pid for pid in (row.get("pid"), pane.pid if pane is not None and not pane.dead else None)
                      if isinstance(pid, int) and pid > 0]
        self._roots = tuple(roots)
        if walked is None or walked[0] != self._roots:  # the panes' processes moved: walk what they are now
            walked = self._walk(self._roots)
        procs = walked[1]
        need_ports = any(a.port for a in self.config.agents if a.name in by_agent or a.name in adopted)
        if need_ports and not walked[2]:
            self.probe.scan()
        last = self._last_read
        if (not need_ports and last is not None and last[0] is procs and last[1] == by_agent and last[2] == adopted
                and last[4] is self.config.agents):
            return procs, last[3]  # the same table, panes and adoptions: the same observations (an idle fleet)
        agents: dict[str, AgentObservation] = {}
        for agent in self.config.agents:
            row = adopted.get(agent.name)
            if row is not None:
                agents[agent.name] = self._observe_adopted(agent, row, by_id, procs)
            else:
                agents[agent.name] = self._observe_agent(agent, by_agent.get(agent.name), procs)
        self._last_read = (procs, by_agent, adopted, agents, self.config.agents)
        return procs, agents

    def _observe_adopted(self, agent: AgentConfig, row: Mapping[str, Any], by_id: Mapping[str, Pane],
                         procs: ProcessTable) -> AgentObservation:
        """An adopted agent: the recorded process if it still runs (pid AND start), in its recorded pane."""
        pid, start = row.get("pid"), row.get("start")
        proc = procs.get(pid) if isinstance(pid, int) and isinstance(start, int) and procs.alive(pid, start) else None
        pane = by_id.get(row.get("pane")) if isinstance(row.get("pane"), str) else None
        if proc is not None and pane is not None and all(p.pid != proc.pid for p in procs.descendants(pane.pid)):
            pane = None  # the pane id now names another pane (a restarted server): not the agent's
        return self._observe_agent(agent, pane, procs, proc=proc, adopted=True)

    def _observe_agent(self, agent: AgentConfig, pane: Pane | None, procs: ProcessTable, *,
                       proc: Proc | None = None, adopted: bool = False) -> AgentObservation:
        if not adopted:
            proc = procs.get(pane.pid) if pane is not None and not pane.dead else None
        last = self._last.get(agent.name)
        before = last[2] if last is not None else None
        if before is not None and last[0] is procs and before.proc is proc:  # type: ignore[index]
            tree = before.tree  # the same table (no process of the fleet changed): the same tree
        else:
            tree = tuple(procs.descendants(proc.pid)) if proc is not None else ()
            if before is not None and tree == before.tree:
                tree = before.tree
        port, inodes = None, None
        if agent.port is not None:
            if proc is None:
                port = PortState(agent.port, False, None)
            else:
                inodes = self.probe.inodes(agent.port)
                if before is not None and before.port is not None and before.tree is tree and last[1] == inodes:  # type: ignore[index]
                    port = before.port  # the same listeners, the same tree: the same answer
                else:
                    listening = inodes is not None
                    owned = self.probe.owner_ok(agent.port, tree) if listening else False
                    port = PortState(agent.port, listening, owned)
        obs = before
        if before is None or not (before.pane is pane and before.proc is proc and before.tree is tree
                                  and before.port == port and before.adopted == adopted):
            obs = AgentObservation(name=agent.name, pane=pane, proc=proc, tree=tree, port=port, adopted=adopted)
        self._last[agent.name] = (procs, inodes, obs)
        return obs
