"""Verified spawn (seed #2): a spawn is a success only after it was seen to succeed.

Create the agent's window (argv, cwd, env; remain-on-exit on before the child
runs), then within ``spawn_verify_s`` assert: the pane exists, its process is
alive, still alive after ``min_uptime_s``, and the configured port is served by
the agent's own process tree. Only then is the registry row ``spawned`` written.
On failure: ``spawn_failed`` with the check that failed and the captured screen,
and the dead window is closed.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cockpit.act.hook_settings import codex_notify_arg, hook_program, write_hook_settings
from cockpit.claude_paths import transcript_path
from cockpit.hook import AGENT_ENV, EVENTS_ENV
from cockpit.config import AgentConfig, Config
from cockpit.observe.events import EventsStore
from cockpit.observe.ports import PortProbe
from cockpit.observe.procs import ProcessReader
from cockpit.registry import Registry, new_spawn_id
from cockpit.tmux import TmuxClient, TmuxError, TmuxUnreachable

POLL_S = 0.05
SCREEN_HISTORY_LINES = 200


@dataclass(frozen=True)
class LaunchPlan:
    argv: tuple[str, ...]
    env: dict[str, str]
    session_id: str | None
    resumed: bool
    hooks: bool = False  # SPEC §8: spawned with the hook settings layer; SessionStart is its readiness signal


@dataclass(frozen=True)
class SpawnResult:
    ok: bool
    agent: str
    spawn_id: str
    argv: tuple[str, ...]
    session_id: str | None = None
    pane: str | None = None
    pid: int | None = None
    start: int | None = None
    port: int | None = None
    check: str | None = None        # the verification that failed
    detail: str = ""
    screen: str | None = None
    elapsed_s: float = 0.0
    checks: dict[str, Any] = field(default_factory=dict)  # what was observed, check by check
    hooks_silent: bool = False      # SPEC §8: spawned with hooks, no SessionStart within spawn_verify_s

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "agent": self.agent, "spawn_id": self.spawn_id, "argv": list(self.argv),
            "session_id": self.session_id, "pane": self.pane, "pid": self.pid, "start": self.start,
            "port": self.port, "check": self.check, "detail": self.detail,
            "elapsed_s": round(self.elapsed_s, 3), "checks": self.checks,
        }


def plan_launch(agent: AgentConfig, config: Config, resume: str | None,
                program: tuple[str, ...] | None = None) -> LaunchPlan:
    """The argv and env of one launch. ``resume`` is the disk truth, never the routing cache (seed #3).

    Every agent's environment names it and the events socket (``cockpit hook`` relays nothing
    without them); ``program`` is the ``cockpit`` the hooks run (SPEC §8).
    """
    program = program or hook_program()
    argv = list(agent.command)
    env = dict(agent.env)
    env[AGENT_ENV] = agent.name
    env[EVENTS_ENV] = str(config.state.events_socket)
    session_id: str | None = None
    resumed = False
    hooks = agent.kind == "claude-code" and config.claude.hooks
    if hooks:
        argv += ["--settings", str(config.state.hooks_dir / f"{agent.name}.json")]
    if agent.kind == "claude-code":
        if config.claude.explicit:
            env.setdefault("CLAUDE_CONFIG_DIR", str(config.claude.config_dir))
        config_dir = Path(env.get("CLAUDE_CONFIG_DIR", str(config.claude.config_dir)))
        if resume and transcript_path(config_dir, str(agent.cwd), resume).exists():
            argv += ["--resume", resume]
            session_id, resumed = resume, True
        else:
            session_id = str(uuid.uuid4())
            argv += ["--session-id", session_id]
    elif agent.kind == "codex":
        if config.codex.explicit:
            env.setdefault("CODEX_HOME", str(config.codex.home))
        argv += ["-c", codex_notify_arg(program)]  # before `resume`: a global option
        if resume:
            argv += ["resume", resume]
            session_id, resumed = resume, True
    else:
        if any("{session_id}" in a for a in argv):
            session_id = resume or str(uuid.uuid4())
            resumed = resume is not None
            argv = [a.replace("{session_id}", session_id) for a in argv]
    return LaunchPlan(tuple(argv), env, session_id, resumed, hooks)


async def verified_spawn(
    agent: AgentConfig,
    config: Config,
    *,
    tmux: TmuxClient,
    registry: Registry,
    reader: ProcessReader,
    probe: PortProbe,
    by: str = "auto",
    resume: str | None = None,
    events: EventsStore | None = None,
) -> SpawnResult:
    """Start the agent in a tagged window and verify it (alive past min_uptime, its port, its SessionStart)."""
    spawn = _Spawn(agent, config, tmux=tmux, registry=registry, reader=reader, probe=probe, by=by, resume=resume)
    await asyncio.to_thread(registry.event, "spawn_requested", agent=agent.name, spawn_id=spawn.spawn_id, by=by,
                            argv=list(spawn.plan.argv), cwd=str(agent.cwd), session_id=spawn.plan.session_id,
                            resumed=spawn.plan.resumed, port=agent.port)
    return await spawn.run(events)


class _Spawn:
    """One verified spawn: open the window, watch it until verified or failed, record the verdict."""

    def __init__(self, agent: AgentConfig, config: Config, *, tmux: TmuxClient, registry: Registry,
                 reader: ProcessReader, probe: PortProbe, by: str, resume: str | None) -> None:
        self.agent, self.config, self.tmux, self.registry = agent, config, tmux, registry
        self.reader, self.probe, self.by = reader, probe, by
        self.program = hook_program()
        self.plan = plan_launch(agent, config, resume, self.program)
        self.spawn_id = new_spawn_id()
        self.started = time.monotonic()
        self.ready: _Readiness | None = None
        self.checks: dict[str, Any] = {}

    async def fail(self, check: str, detail: str, pane_id: str | None, pid: int | None = None,
                   start: int | None = None) -> SpawnResult:
        agent, plan = self.agent, self.plan
        screen = None
        if self.ready is not None:
            self.ready.close()
        if pane_id is not None:
            try:
                screen = tidy_screen(await self.tmux.capture(pane_id, history=SCREEN_HISTORY_LINES))
                await self.tmux.kill_pane_window(pane_id)
            except TmuxError:
                pass
        elapsed = time.monotonic() - self.started
        await asyncio.to_thread(self.registry.event, "spawn_failed", agent=agent.name, spawn_id=self.spawn_id,
                                by=self.by, check=check, detail=detail, pane=pane_id, pid=pid, start=start,
                                port=agent.port, screen=(screen or "")[-8000:], argv=list(plan.argv),
                                elapsed_s=round(elapsed, 3))
        return SpawnResult(False, agent.name, self.spawn_id, plan.argv, plan.session_id, pane_id, pid, start,
                           agent.port, check, detail, screen, elapsed, self.checks)

    async def run(self, events: EventsStore | None) -> SpawnResult:
        self.started = time.monotonic()  # after the request row: min_uptime counts from here, as it always did
        cwd = str(self.agent.cwd)
        if not os.path.isdir(cwd):
            return await self.fail("window", f"cwd {cwd} is not a directory", None)
        if self.plan.hooks:
            try:
                await asyncio.to_thread(write_hook_settings, self.config.state.hooks_dir, self.agent.name,
                                        self.program)
            except OSError as exc:
                return await self.fail("window", f"cannot write the hook settings: {exc.strerror or exc}", None)
            self.ready = await asyncio.to_thread(_Readiness, events or EventsStore(self.config.state.events_dir),
                                                 self.agent.name)
        try:
            pane = await self.tmux.spawn_window(self.config.tmux.session, self.agent.name, self.plan.argv, cwd=cwd,
                                                env=self.plan.env, agent_tag=self.agent.name)
        except TmuxUnreachable as exc:
            return await self.fail("window", f"tmux unreachable: {exc}", None)
        except TmuxError as exc:
            return await self.fail("window", f"tmux could not create the window: {exc}", None)
        proc = await asyncio.to_thread(self.reader.read, pane.pid)
        start = proc.start if proc is not None else None
        self.checks = {"window": True}
        failed = await self._watch(pane.pane_id, pane.pid, start)
        return failed if failed is not None else await self._verified(pane.pane_id, pane.pid, start)

    async def _watch(self, pane_id: str, pid: int, start: int | None) -> SpawnResult | None:
        """Poll until the agent is verified (None) or a check fails (its result)."""
        sup, agent, checks = self.config.supervisor, self.agent, self.checks
        deadline = self.started + sup.spawn_verify_s
        port_seen: tuple[bool, bool | None] = (False, None)
        while True:
            now = time.monotonic()
            gone = await self._gone(pane_id, pid, start, now)
            if gone is not None:
                return gone
            uptime_ok = now - self.started >= sup.min_uptime_s
            checks["min_uptime"] = uptime_ok
            hook_ok = True
            if self.ready is not None:  # SPEC §8: SessionStart is the readiness signal (Type=notify), when hooks speak
                hook_ok = self.ready.session is not None or await asyncio.to_thread(self.ready.poll)
                checks["session_start"] = hook_ok
            port_ok = True
            if agent.port is not None:
                port_seen = await asyncio.to_thread(_port_state, self.reader, self.probe, pid, agent.port)
                port_ok = port_seen[0] and port_seen[1] is not False
                checks["port_listening"] = port_ok
            if uptime_ok and port_ok and (hook_ok or now >= deadline):
                return None
            if now >= deadline:
                if not uptime_ok:
                    return await self.fail("min_uptime", f"not verified within {sup.spawn_verify_s:g}s", pane_id,
                                           pid, start)
                why = "never listened" if not port_seen[0] else "is held by a process outside the agent"
                return await self.fail("port_listening", f"port {agent.port} {why} within {sup.spawn_verify_s:g}s",
                                       pane_id, pid, start)
            await asyncio.sleep(POLL_S)

    async def _gone(self, pane_id: str, pid: int, start: int | None, now: float) -> SpawnResult | None:
        """The failure when the window or the process is gone, else None."""
        try:
            current = await self.tmux.pane(pane_id)
        except TmuxUnreachable as exc:
            return await self.fail("window", f"tmux unreachable during verification: {exc}", None, pid, start)
        if current is None:
            self.checks["window"] = False
            return await self.fail("window", "the window vanished", None, pid, start)
        alive = not current.dead and start is not None and await asyncio.to_thread(_alive, self.reader, pid, start)
        self.checks["process_alive"] = alive
        if alive:
            return None
        status = current.dead_status
        if current.dead and status is None:
            await asyncio.sleep(POLL_S)  # tmux may report the exit status a moment later
            again = await self.tmux.pane(pane_id)
            status = again.dead_status if again is not None else None
        how = f"exited with status {status}" if status is not None else "exited"
        return await self.fail("process_alive", f"process {pid} {how} {now - self.started:.2f}s after spawn",
                               pane_id, pid, start)

    async def _verified(self, pane_id: str, pid: int, start: int | None) -> SpawnResult:
        agent, plan, ready = self.agent, self.plan, self.ready
        elapsed = time.monotonic() - self.started
        silent = ready is not None and ready.session is None
        session_id = ready.session if ready is not None and ready.session else plan.session_id
        extra: dict[str, Any] = {} if ready is None else {"hooks": "silent" if silent else "ok"}
        if ready is not None:
            ready.close()
        await asyncio.to_thread(self.registry.event, "spawned", agent=agent.name, spawn_id=self.spawn_id, by=self.by,
                                pid=pid, start=start, pane=pane_id, port=agent.port, session_id=session_id,
                                resumed=plan.resumed, elapsed_s=round(elapsed, 3), **extra)
        detail = f"verified in {elapsed:.2f}s" + ("; no SessionStart hook (hooks silent)" if silent else "")
        return SpawnResult(True, agent.name, self.spawn_id, plan.argv, session_id, pane_id, pid, start, agent.port,
                           None, detail, None, elapsed, self.checks, hooks_silent=silent)


class _Readiness:
    """The spawn's SessionStart, read from the agent's events file (whoever wrote it: a listener or the relay)."""

    def __init__(self, events: EventsStore, agent: str) -> None:
        self.tail = events.tail(agent, from_end=True)
        self.session: str | None = None

    def poll(self) -> bool:
        for row in self.tail.read_new().rows:
            sid = row.get("session_id")
            if row.get("event") == "SessionStart" and isinstance(sid, str) and sid:
                self.session = sid
        return self.session is not None

    def close(self) -> None:
        self.tail.close()


def tidy_screen(screen: str | None) -> str:
    """A captured screen as evidence: no trailing spaces, no long runs of blank lines."""
    if not screen:
        return ""
    lines = [line.rstrip() for line in screen.splitlines()]
    out: list[str] = []
    for line in lines:
        if not line and out and not out[-1]:
            continue
        out.append(line)
    return "\n".join(out).strip("\n")


def _alive(reader: ProcessReader, pid: int, start: int) -> bool:
    proc = reader.read(pid)
    return proc is not None and proc.start == start and not proc.zombie


def _port_state(reader: ProcessReader, probe: PortProbe, pid: int, port: int) -> tuple[bool, bool | None]:
    probe.scan()
    if not probe.listening(port):
        return (False, False)
    tree = reader.tree([pid])
    return (True, probe.owner_ok(port, tree.descendants(pid)))
