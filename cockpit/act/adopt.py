"""Adopting a running agent (``cockpit adopt NAME PANE``): supervise a live pane without restarting it.

The agent's process is found in the pane's tree (the shallowest process running the agent's
program: a pane started by hand often runs a shell with the agent as its child) and recorded as
a registry row ``adopted`` with its pid, start time and pane: from then on it is the agent's open
lifecycle, exactly like a ``spawned`` row. The observer finds the agent through that row (the
process by pid AND start time, in the recorded pane), its exit is recorded like any other, and a
respawn opens a window of its own in the cockpit's session (the operator's pane is never closed).

The act is refused in read-only mode, runs under the agent's lock, refuses an agent that already
runs and a pane another agent owns, and is verified by observing again after the row is written:
the agent must be seen running with the same pid. Nothing is restarted: the pid before and after
is the same.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable

from cockpit.config import AgentConfig, Config
from cockpit.observe.discover import tree_bfs, guess_kind, live_session_of, program_of
from cockpit.observe.procs import Proc, ProcessReader, ProcessTable
from cockpit.observe.snapshot import agent_panes
from cockpit.registry import Journal, Registry, new_spawn_id
from cockpit.tmux import Pane, TmuxClient, TmuxError

@dataclass(frozen=True)
class AdoptResult:
    agent: str
    ok: bool
    summary: str
    skipped: bool = False
    pane: str | None = None
    pid: int | None = None
    start: int | None = None
    session_id: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"action": "adopt", "agent": self.agent, "ok": self.ok, "skipped": self.skipped,
                "summary": self.summary, "pane": self.pane, "pid": self.pid, "start": self.start,
                "session_id": self.session_id, "evidence": self.evidence}


def agent_process(agent: AgentConfig, tree: list[Proc]) -> Proc | None:
    """The process of ``tree`` (shallowest first) that is the agent: it runs the agent's program."""
    want = program_of(agent.command)
    for proc in tree:
        if not proc.zombie and want and program_of(proc.cmdline, proc.comm) == want:
            return proc
    if agent.kind in ("claude-code", "codex"):
        for proc in tree:
            if not proc.zombie and guess_kind(proc.cmdline, proc.comm) == agent.kind:
                return proc
    return None


async def resolve_pane(tmux: TmuxClient, ref: str) -> Pane | None:
    """A pane by id (``%3``) or any tmux target (``work:2.1``)."""
    pane_id = ref
    if not ref.startswith("%"):
        try:
            lines = await tmux.run("display-message", "-p", "-t", ref, "#{pane_id}")
        except TmuxError:
            return None
        pane_id = lines[0].strip() if lines else ""
    return next((p for p in await tmux.list_panes() if p.pane_id == pane_id), None)


def _owner(panes: list[Pane], pane: Pane, session: str, adoptions: dict[str, dict[str, Any]], name: str) -> str | None:
    """Another agent that owns this pane already (spawned into it, or adopted it)."""
    for other, tagged in agent_panes(panes, session).items():
        if other != name and tagged.pane_id == pane.pane_id:
            return other
    if pane.agent and pane.agent != name:
        return pane.agent
    for other, row in adoptions.items():
        if other != name and row.get("pane") == pane.pane_id:
            return other
    return None


def _read_cwd(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return None


@dataclass
class Adoption:
    """One adoption, under the agent's lock (``ActionLayer.adopt`` takes it)."""
    config: Config
    tmux: TmuxClient
    registry: Registry
    journal: Journal
    reader: ProcessReader
    observe: Callable[[], Awaitable[Any]]
    sync: Callable[[], Awaitable[None]]
    view: Any
    claude_dir: Callable[[AgentConfig], Path]
    actor: str = "cockpit"

    async def run(self, agent: AgentConfig, ref: str, *, by: str) -> AdoptResult:
        await self.sync()
        pane = await resolve_pane(self.tmux, ref)
        if pane is None or pane.dead:
            why = "is dead" if pane is not None else "does not exist on this tmux server"
            return await self._refuse(agent, f"pane {ref} {why}")
        table: ProcessTable = await asyncio.to_thread(self.reader.tree, [pane.pid])
        tree = tree_bfs(table, pane.pid)
        proc = agent_process(agent, tree)
        if proc is None:
            shown = " → ".join(p.command[:60] for p in tree[:3]) or "nothing readable"
            return await self._refuse(agent, f"no process of {program_of(agent.command)!r} in pane {pane.pane_id} "
                                             f"(it runs: {shown})")
        open_row = self.view.open_spawn(agent.name)
        if open_row is not None:
            result = await self._already(agent, open_row, proc)
            if result is not None:
                return result
        owner = _owner(await self.tmux.list_panes(), pane, self.config.tmux.session, self.view.open_adoptions(),
                       agent.name)
        if owner is not None:
            return await self._refuse(agent, f"pane {pane.pane_id} belongs to agent {owner!r}")
        return await self._record(agent, pane, proc, table, by=by)

    async def _already(self, agent: AgentConfig, row: dict[str, Any], proc: Proc) -> AdoptResult | None:
        pid, start = row.get("pid"), row.get("start")
        if pid == proc.pid and start == proc.start:
            summary = f"{agent.name} is already pid {pid} in {row.get('pane')}; nothing to do"
            await asyncio.to_thread(self.journal.record, "action", agent=agent.name, action="adopt", actor=self.actor,
                                    summary=summary, result="skipped")
            return AdoptResult(agent.name, True, summary, skipped=True, pane=row.get("pane"), pid=proc.pid,
                               start=proc.start)
        current = await asyncio.to_thread(self.reader.read, pid) if isinstance(pid, int) else None
        if current is not None and current.start == start and not current.zombie:
            return await self._refuse(agent, f"{agent.name} already runs as pid {pid} in {row.get('pane')}; "
                                             "stop it first (or adopt into another agent name)")
        return None  # its process is gone: the next tick records the exit; the adoption opens a new lifecycle

    async def _record(self, agent: AgentConfig, pane: Pane, proc: Proc, table: ProcessTable, *,
                      by: str) -> AdoptResult:
        if self.view.open_spawn(agent.name) is not None:
            # its recorded process is gone: close that lifecycle first, so no exit row is missing
            row = self.view.open_spawn(agent.name)
            await asyncio.to_thread(self.registry.event, "exit", agent=agent.name, spawn_id=row.get("spawn_id"),
                                    pid=row.get("pid"), start=row.get("start"), pane=row.get("pane"), status=None,
                                    reason="gone before an adoption")
        session = await asyncio.to_thread(live_session_of, table.descendants(proc.pid), self.claude_dir(agent))
        cwd = await asyncio.to_thread(_read_cwd, proc.pid)
        spawn_id = new_spawn_id()
        await asyncio.to_thread(self.registry.event, "adopted", agent=agent.name, spawn_id=spawn_id, by=by,
                                pid=proc.pid, start=proc.start, pane=pane.pane_id, session_id=session,
                                argv=list(proc.cmdline), cwd=cwd, window=f"{pane.session}:{pane.window_index}")
        await self.sync()
        snapshot = await self.observe()  # verify: the agent is seen running, same pid, same start
        obs = snapshot.agents.get(agent.name) if getattr(snapshot, "tmux_ok", True) else None
        seen = obs.proc if obs is not None else None
        evidence = {"pane": pane.pane_id, "window": f"{pane.session}:{pane.window_index} ({pane.window_name})",
                    "pid": proc.pid, "start": proc.start, "command": proc.command, "cwd": cwd, "session_id": session,
                    "seen_pid": seen.pid if seen is not None else None}
        if seen is None or seen.pid != proc.pid or seen.start != proc.start:
            await asyncio.to_thread(self.registry.event, "exit", agent=agent.name, spawn_id=spawn_id, pid=proc.pid,
                                    start=proc.start, pane=pane.pane_id, status=None,
                                    reason="not seen running right after its adoption")
            await self.sync()
            summary = f"adoption of pid {proc.pid} in {pane.pane_id} as {agent.name} not verified: it was not seen running"
            await self._journal(agent, summary, evidence, "failed")
            return AdoptResult(agent.name, False, summary, pane=pane.pane_id, pid=proc.pid, start=proc.start,
                               evidence=evidence)
        summary = (f"adopted pid {proc.pid} ({program_of(proc.cmdline, proc.comm)}) in {pane.pane_id} as "
                   f"{agent.name}, without restarting it" + (f"; session {session}" if session else ""))
        await self._journal(agent, summary, evidence, "verified")
        return AdoptResult(agent.name, True, summary, pane=pane.pane_id, pid=proc.pid, start=proc.start,
                           session_id=session, evidence=evidence)

    async def _journal(self, agent: AgentConfig, summary: str, evidence: dict[str, Any], result: str) -> None:
        await asyncio.to_thread(self.journal.record, "action", agent=agent.name, action="adopt", actor=self.actor,
                                summary=summary, after={"pid": evidence.get("seen_pid"), "pane": evidence.get("pane")},
                                evidence=evidence, result=result)

    async def _refuse(self, agent: AgentConfig, why: str) -> AdoptResult:
        summary = f"adopt {agent.name} refused: {why}"
        await asyncio.to_thread(self.journal.record, "action", agent=agent.name, action="adopt", actor=self.actor,
                                summary=summary, result="refused")
        return AdoptResult(agent.name, False, summary)
