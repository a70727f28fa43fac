"""Hook events as an observe-side source (SPEC §8): the socket, the per-agent files, their tails.

``cockpit hook`` (cockpit.hook) sends one JSON line per hook to ``STATE/events.sock``. The
cockpit that listens there appends every line it accepts to ``STATE/events/<agent>.jsonl``
under the file's lock (the relay appends there itself when nobody listens), then wakes the
supervisor for that one agent. Every cockpit, listening or not, reads the files incrementally:
the disk keeps the truth, so a follower, a one-shot ``cockpit respawn`` and a restarted
supervisor see the same events. The files are pruned like the registry, keeping each agent's
newest ``SessionStart`` (the session binding).

Only one process can listen: the first cockpit that finds no live listener takes the socket
(a stale socket file of a dead cockpit is replaced); the others retry at each tick.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import socket
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cockpit import timefmt
from cockpit.fsutil import atomic_write, ensure_private_dir
from cockpit.hook import NAME_RE, socket_address
from cockpit.registry import JsonlStore, Row, Tail

__all__ = ["EventListener", "EventsStore", "HookState", "accept_row"]

MAX_EVENT_BYTES = 1 << 20
READ_TIMEOUT_S = 2.0  # a relay that connects and sends nothing is dropped after this


def accept_row(raw: bytes, agents: Iterable[str] | None = None) -> Row | None:
    """A line from the socket as an events row, or None: it must be one object naming a known agent."""
    try:
        row = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(row, dict):
        return None
    agent, event = row.get("agent"), row.get("event")
    if not isinstance(agent, str) or not NAME_RE.match(agent) or not isinstance(event, str):
        return None
    if agents is not None and agent not in agents:
        return None
    if timefmt.parse(row.get("ts")) is None:
        return None
    return row


class EventsStore:
    """``STATE/events/<agent>.jsonl``: every hook event of one agent, appended under its lock."""

    def __init__(self, events_dir: Path) -> None:
        self.dir = Path(events_dir)
        self._stores: dict[str, JsonlStore] = {}

    def path(self, agent: str) -> Path:
        if not NAME_RE.match(agent):
            raise ValueError(f"not an agent name: {agent!r}")
        return self.dir / f"{agent}.jsonl"

    def store(self, agent: str) -> JsonlStore:
        store = self._stores.get(agent)
        if store is None:
            store = self._stores[agent] = JsonlStore(self.path(agent), lock_timeout=5.0)
        return store

    def append(self, agent: str, rows: list[Row]) -> None:
        ensure_private_dir(self.dir)
        self.store(agent).append_many(rows)

    def tail(self, agent: str, *, from_end: bool = False) -> Tail:
        """An incremental reader; ``from_end``: only rows appended from now on (a spawn's readiness wait)."""
        tail = Tail(self.path(agent))
        if from_end:
            tail.read_new()
        return tail

    def prune(self, agent: str, now: float, max_age_s: float) -> int:
        """Drop rows older than ``max_age_s`` but the newest SessionStart, under the writers' lock."""
        store = self.store(agent)
        if not store.path.exists():
            return 0
        with store.locked():
            result = store.read_all()
            keep = _keep(result.rows, now - max_age_s)
            dropped = len(result.rows) - len(keep)
            if dropped or result.bad_lines:
                atomic_write(store.path, "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n"
                                                 for r in keep))
            return dropped


def _keep(rows: list[Row], cutoff: float) -> list[Row]:
    last_start = max((i for i, r in enumerate(rows) if r.get("event") == "SessionStart"), default=None)
    return [r for i, r in enumerate(rows) if i == last_start or (timefmt.parse(r.get("ts")) or 0.0) >= cutoff]


@dataclass
class ListenStats:
    accepted: int = 0
    rejected: int = 0   # not JSON, not an object, an unknown agent: counted, never raised
    errors: int = 0     # appends that failed (a full disk): the line is lost, the count says so


class EventListener:
    """The supervisor's end of ``STATE/events.sock`` (0600): accept lines, append them, wake the pass."""

    def __init__(self, sock_path: Path, store: EventsStore, agents: Callable[[], Iterable[str]],
                 on_event: Callable[[Row], Any] | None = None) -> None:
        self.sock_path = Path(sock_path)
        self.store = store
        self.agents = agents
        self.on_event = on_event
        self.server: asyncio.AbstractServer | None = None
        self.stats = ListenStats()
        self.error: str | None = None  # why this cockpit does not listen (another one does, a planted file)

    @property
    def listening(self) -> bool:
        return self.server is not None

    async def start(self) -> bool:
        """Listen unless a live cockpit already does; True when this one listens."""
        if self.server is not None:
            return True
        ensure_private_dir(self.sock_path.parent)
        sock = await asyncio.to_thread(self._bind)
        if sock is None:
            return False
        self.server = await asyncio.start_unix_server(self._serve, sock=sock, limit=MAX_EVENT_BYTES)
        self.error = None
        return True

    def _bind(self) -> socket.socket | None:
        path = str(self.sock_path)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            st = None
        if st is not None:
            if not stat.S_ISSOCK(st.st_mode):
                self.error = f"{path} exists and is not a socket: not listening for hook events"
                return None
            if _live(path):
                self.error = f"another cockpit listens on {path}"
                return None
            os.unlink(path)  # the socket of a cockpit that died
        address, dir_fd = socket_address(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(address)
            os.chmod(path, 0o600, follow_symlinks=False)  # the dir is 0700: nobody could reach it meanwhile
            sock.listen(128)
            sock.setblocking(False)
            return sock
        except OSError as exc:
            sock.close()
            self.error = f"cannot listen on {path}: {exc.strerror or exc}"
            return None
        finally:
            if dir_fd is not None:
                os.close(dir_fd)

    async def close(self) -> None:
        server, self.server = self.server, None
        if server is None:
            return
        server.close()
        try:
            await server.wait_closed()
        except Exception:  # noqa: BLE001 - closing never fails the caller
            pass
        try:
            os.unlink(self.sock_path)
        except OSError:
            pass

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        rows: list[Row] = []
        try:
            while True:
                line = await asyncio.wait_for(reader.readline(), READ_TIMEOUT_S)
                if not line:
                    break
                row = accept_row(line, set(self.agents()))
                if row is None:
                    self.stats.rejected += 1
                else:
                    rows.append(row)
        except (asyncio.TimeoutError, ValueError, asyncio.LimitOverrunError, ConnectionError):
            self.stats.rejected += 1
        try:
            await self._accept(rows)
        finally:
            writer.close()  # the relay waits for this close: its line is on disk
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass

    async def _accept(self, rows: list[Row]) -> None:
        by_agent: dict[str, list[Row]] = {}
        for row in rows:
            by_agent.setdefault(row["agent"], []).append(row)
        for agent, mine in by_agent.items():
            try:
                await asyncio.to_thread(self.store.append, agent, mine)
            except OSError:
                self.stats.errors += len(mine)
                continue
            self.stats.accepted += len(mine)
            if self.on_event is not None:
                for row in mine:
                    result = self.on_event(row)
                    if asyncio.iscoroutine(result):
                        await result


def _live(path: str) -> bool:
    """Whether a process accepts connections on the unix socket ``path``."""
    address, dir_fd = socket_address(path)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(0.2)
            probe.connect(address)
        return True
    except OSError as exc:
        return exc.errno not in (errno.ECONNREFUSED, errno.ENOENT)
    finally:
        if dir_fd is not None:
            os.close(dir_fd)


def rows_by_agent(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    out: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        agent = row.get("agent")
        if isinstance(agent, str):
            out.setdefault(agent, []).append(row)
    return out


@dataclass(frozen=True)
class HookState:
    """One agent's hook events, folded (by ``judge.hooks.fold_events``). Times are epoch seconds from the rows' ``ts``."""
    events: int = 0
    last_at: float | None = None
    session_id: str | None = None
    transcript_path: str | None = None
    session_source: str | None = None       # startup | resume | clear | compact
    session_at: float | None = None
    previous_sessions: tuple[str, ...] = ()  # ids this agent had before (a /clear keeps the process)
    activity: str | None = None             # working | needs_input | idle
    activity_at: float | None = None
    error: Mapping[str, Any] | None = None  # the StopFailure row, until the next prompt or stop
    ended: Mapping[str, Any] | None = None  # the SessionEnd row: the exit that follows is expected
    subagents: tuple[str, ...] = ()         # running sub-agents (SubagentStart without its Stop)
    subagent_at: float | None = None
    prompts: tuple[tuple[float, str], ...] = ()  # recent UserPromptSubmit (time, text)

    def to_json(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "transcript_path": self.transcript_path,
                "session_source": self.session_source, "activity": self.activity, "events": self.events,
                "subagents": len(self.subagents), "error": (self.error or {}).get("error"),
                "ended": (self.ended or {}).get("reason")}
