"""One long-lived SSH session per host (SPEC §9), through the operator's own OpenSSH client.

Each host's session is one ``ssh`` process (its keys, agent, ``~/.ssh/config``, ProxyJump and
ControlMaster work as in the operator's shell) running ``cockpit serve --stdio`` there. Never more
than one session per host, and no process per tick: reports stream down the same pipe. When the
session ends (ssh exits, or no message came for several remote ticks) it is closed, its stderr
kept as the reason, pending requests failed honestly, and a new one is tried with backoff.
Everything runs on the event loop as asyncio subprocess streams: nothing here blocks.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import shlex
import signal
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable, Iterable

from cockpit import SCHEMA
from cockpit.config import HostConfig
from cockpit.judge.hosts import HostView, remote_findings, remote_rows
from cockpit.remote.memory import REWRITE_EVERY_S, memory_path, recall, remember
from cockpit.remote.protocol import (MAX_LINE_BYTES, PROTOCOL, Hello, ProtocolError, decode, encode, parse_hello,
                                     parse_report)

HELLO_TIMEOUT_S = 30.0    # ssh connect + the remote cockpit's start
STALE_TICKS = 5           # no message for this many remote ticks: the session is dead, whatever ssh says
STALE_MIN_S = 15.0
BACKOFF_START_S = 1.0
STDERR_LINES = 20
REQUEST_TIMEOUT_S = 120.0  # a respawn waits for locks and verification on the remote
PANE_RE = re.compile(r"^%[0-9]{1,9}$")


class HostUnavailable(RuntimeError):
    """No session to send a request on, or it ended before the result came: one line."""


def remote_command(host: HostConfig, *, read_only: bool) -> str:
    """The one word ssh sends to the remote shell: the remote cockpit's argv, each part quoted."""
    argv = [*host.cockpit, "serve", "--stdio"]
    if host.config:
        argv += ["--config", host.config]
    if read_only:
        argv.append("--read-only")
    return shlex.join(argv)


class HostClient:
    """The session with one host, reconnected with backoff until :meth:`close`."""

    def __init__(self, host: HostConfig, *, read_only: bool = False, clock: Callable[[], float] = time.time,
                 backoff_max_s: float = 30.0, hello_timeout_s: float = HELLO_TIMEOUT_S,
                 on_report: Callable[[str], Any] | None = None, state_dir: Path | None = None) -> None:
        self.host = host
        self.name = host.name
        self.read_only = read_only
        self.clock = clock
        self.backoff_max_s = max(0.05, backoff_max_s)
        self.hello_timeout_s = hello_timeout_s
        self.on_report = on_report
        self.argv = [*host.ssh_argv, remote_command(host, read_only=read_only)]
        self.proc: asyncio.subprocess.Process | None = None
        self.hello: Hello | None = None
        self.state = "connecting"
        self.error: str | None = None
        self.stderr: deque[str] = deque(maxlen=STDERR_LINES)
        self.last_report_at: float | None = None
        self.last_message = 0.0                  # monotonic
        self.down_since: float | None = None
        self.attempts = 0
        self.sessions = 0                        # ssh processes started, ever (tests: one per session)
        self.reports = 0
        self.bad_lines = 0
        self.latency_s: float | None = None
        self.latencies: deque[float] = deque(maxlen=4096)  # sent there → parsed here, per report (the bench)
        self._rows: tuple[Any, ...] = ()
        self._row_cache: dict[str, tuple[Any, Any]] = {}  # name -> (raw row, AgentStatus): unchanged rows reused
        self._findings: tuple[Any, ...] = ()
        self._bad_rows = 0
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._message = asyncio.Event()
        self._wake = asyncio.Event()
        self._settled = asyncio.Event()          # a first report arrived, or a first attempt failed
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        # the last report, on disk: a host unreachable after a restart still shows its agents (never dropped)
        self.memory = memory_path(state_dir, host.name) if state_dir is not None else None
        self.memory_error: str | None = None
        self._remembered: tuple[frozenset[str], float] | None = None  # (agents, when) of the copy on disk
        self._writing = False
        self._background: set[asyncio.Task[None]] = set()

    # --- life -----------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"host-{self.name}")

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        await self._end_session()
        if self._task is not None:
            try:  # the session sees its ssh gone and winds down by itself
                await asyncio.wait_for(asyncio.shield(self._task), timeout=5.0)
            except (asyncio.TimeoutError, Exception):
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
        self._fail_pending("the cockpit is closing")
        if self._background:  # the last copy of a report being written is finished, never torn
            await asyncio.gather(*self._background, return_exceptions=True)

    def reconnect_now(self) -> None:
        """Skip the rest of the backoff (an operator asked)."""
        self._wake.set()

    async def settled(self, timeout: float) -> bool:
        """Wait until the host reported once or failed once (``cockpit check``)."""
        try:
            await asyncio.wait_for(self._settled.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    def give_up(self, why: str) -> None:
        """Call the host down now (``cockpit check`` waited long enough); the session may still come up."""
        if self.state != "up":
            self.state = "down"
            self.error = why + (f"; ssh said: {self.stderr[-1]}" if self.stderr else "")
            self.down_since = self.down_since or self.clock()

    async def _recall(self) -> None:
        if self.memory is None:
            return
        found = await asyncio.to_thread(recall, self.memory)
        if isinstance(found, str):
            self.memory_error = None if found == "nothing remembered" else found
            return
        msg, received_at = found
        try:
            report = parse_report(msg)
        except ProtocolError as exc:
            self.memory_error = f"{self.memory}: {exc}"
            return
        if self.reports == 0:  # a live report may have come first
            self._rows = remote_rows(self.name, report.agents)
            self.last_report_at = received_at
            self._remembered = (frozenset(a["name"] for a in report.agents), received_at)

    def _remember(self, msg: dict[str, Any], names: frozenset[str], now: float) -> None:
        """Write the report down when its agents changed, or a minute after the last copy (read-only: never)."""
        if self.memory is None or self.read_only or self._writing:
            return
        if self._remembered is not None and self._remembered[0] == names and now - self._remembered[1] < REWRITE_EVERY_S:
            return
        self._writing = True
        self._remembered = (names, now)
        path = self.memory

        async def write() -> None:
            try:
                await asyncio.to_thread(remember, path, self.name, msg, now)
                self.memory_error = None
            except OSError as exc:
                self.memory_error = str(exc)
            finally:
                self._writing = False

        task = asyncio.create_task(write(), name=f"host-{self.name}-remember")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _run(self) -> None:
        await self._recall()
        delay = min(BACKOFF_START_S, self.backoff_max_s)
        while not self._closing:
            self.attempts += 1
            good = await self._session()
            if self._closing:
                return
            self.state = "down" if self.state != "incompatible" else "incompatible"
            if self.down_since is None:
                self.down_since = self.clock()
            self._settled.set()
            if good:
                delay = min(BACKOFF_START_S, self.backoff_max_s)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            except asyncio.TimeoutError:
                pass
            delay = min(delay * 2, self.backoff_max_s)

    # --- one session ----------------------------------------------------------------------

    async def _session(self) -> bool:
        """Run one ssh process to its end; True if it delivered a report (the backoff starts over)."""
        self.hello = None
        self.stderr.clear()
        if self.state != "incompatible":
            self.state = "connecting"
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, start_new_session=True, limit=MAX_LINE_BYTES)
        except OSError as exc:
            self.error = f"cannot run {self.argv[0]}: {exc.strerror or exc}"
            return False
        self.sessions += 1
        self.last_message = time.monotonic()
        reports_before = self.reports
        err_task = asyncio.create_task(self._read_stderr(self.proc), name=f"host-{self.name}-stderr")
        out_task = asyncio.create_task(self._read_stdout(self.proc), name=f"host-{self.name}-stdout")
        try:
            why = await self._watch(out_task)
        finally:
            await self._end_session()
            # a child of ssh (a ProxyCommand) may still hold the pipes: never wait on it for long
            await asyncio.wait({err_task, out_task}, timeout=2.0)
            err_task.cancel()
            out_task.cancel()
            await asyncio.gather(err_task, out_task, return_exceptions=True)
        rc = self.proc.returncode if self.proc is not None else None
        tail = self.stderr[-1] if self.stderr else None
        if why is None:
            why = f"ssh exited with status {rc}" + (f": {tail}" if tail else "")
        elif tail:
            why = f"{why}; ssh said: {tail}"
        self.error = why
        self._fail_pending(f"the session with {self.name} ended before the result ({why}); the act may or may "
                           f"not have happened there: look at the host before repeating it")
        self.proc = None
        return self.reports > reports_before

    async def _watch(self, out_task: asyncio.Task[None]) -> str | None:
        """Until stdout ends; a silent session is closed (a dead link can keep ssh alive for minutes)."""
        while not out_task.done() and not self._closing:
            limit = self.hello_timeout_s if self.hello is None else max(STALE_MIN_S, STALE_TICKS * self.hello.tick_s)
            remaining = self.last_message + limit - time.monotonic()
            if remaining <= 0:
                return (f"no hello within {limit:g}s" if self.hello is None
                        else f"no report for {limit:g}s ({STALE_TICKS} of the remote's ticks)")
            self._message.clear()
            waiter = asyncio.create_task(self._message.wait())
            await asyncio.wait({out_task, waiter}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
        return None

    async def _end_session(self) -> None:
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.close()  # EOF: the remote serve ends its session cleanly
            await asyncio.wait_for(proc.wait(), timeout=2.0)
        except (asyncio.TimeoutError, OSError, ConnectionError):
            pass
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if proc.returncode is not None:
                return
            try:  # its own session's group: our unreaped child leads it, so the id cannot have been reused
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            except PermissionError:
                proc.send_signal(sig)
            try:
                await asyncio.wait_for(proc.wait(), timeout=2.0)
            except asyncio.TimeoutError:
                continue

    async def _read_stderr(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        while True:
            try:
                line = await proc.stderr.readline()
            except (ValueError, asyncio.LimitOverrunError):
                continue
            if not line:
                return
            text = line.decode("utf-8", "replace").strip()
            if text:
                self.stderr.append("".join(c if c.isprintable() else "?" for c in text)[:500])

    async def _read_stdout(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while True:
            try:
                line = await proc.stdout.readuntil(b"\n")
            except asyncio.IncompleteReadError:
                return  # EOF (a partial last line is not a message)
            except asyncio.LimitOverrunError as exc:
                await proc.stdout.readexactly(exc.consumed)
                self.bad_lines += 1
                continue
            self.last_message = time.monotonic()
            self._message.set()
            try:
                self._dispatch(decode(line))
            except ProtocolError:
                self.bad_lines += 1

    def _dispatch(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind == "hello":
            self._on_hello(parse_hello(msg))
        elif kind == "report":
            if self.hello is not None and self.state != "incompatible":
                self._on_report(msg)
        elif kind == "result":
            rid = msg.get("id")
            future = self._pending.pop(rid, None) if isinstance(rid, int) else None
            if future is not None and not future.done():
                future.set_result(msg)
        else:
            self.bad_lines += 1

    def _on_hello(self, hello: Hello) -> None:
        self.hello = hello
        if hello.protocol != PROTOCOL or hello.schema != SCHEMA:
            self.state = "incompatible"
            self.error = (f"the remote cockpit {hello.version} speaks protocol {hello.protocol}, schema {hello.schema}; "
                          f"this one speaks protocol {PROTOCOL}, schema {SCHEMA}: upgrade one of them")
            self._settled.set()
            return
        self.state = "connecting"  # up with its first report

    def _on_report(self, msg: dict[str, Any]) -> None:
        try:
            report = parse_report(msg)
        except ProtocolError:
            self.bad_lines += 1
            return
        now = self.clock()
        self._rows = remote_rows(self.name, report.agents, self._row_cache)
        self._row_cache = {raw["name"]: (raw, row) for raw, row in zip(report.agents, self._rows)}
        self._findings, unknown = remote_findings(self.name, report.findings)
        self._bad_rows = report.bad + unknown
        self.last_report_at = now
        self.latency_s = (now - report.sent_at) if report.sent_at is not None else None
        if self.latency_s is not None:
            self.latencies.append(self.latency_s)
        self.reports += 1
        self._remember(msg, frozenset(a["name"] for a in report.agents), now)
        self.state = "up"
        self.error = None
        self.down_since = None
        self.attempts = 0
        self._settled.set()
        if self.on_report is not None:
            self.on_report(self.name)

    # --- requests -------------------------------------------------------------------------

    async def request(self, op: str, args: dict[str, Any], timeout: float = REQUEST_TIMEOUT_S) -> dict[str, Any]:
        """Send one request on the session and wait for its result (``HostUnavailable`` if there is none)."""
        proc = self.proc
        if self.state != "up" or proc is None or proc.stdin is None:
            raise HostUnavailable(f"host {self.name} is not connected ({self.error or self.state})")
        if self.hello is not None and self.hello.ops and op not in self.hello.ops:
            raise HostUnavailable(f"host {self.name} (cockpit {self.hello.version}) does not support {op}")
        rid = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = future
        try:
            proc.stdin.write(encode({**args, "id": rid, "op": op}))
            await proc.stdin.drain()
            return await asyncio.wait_for(future, timeout)
        except (OSError, ConnectionError) as exc:
            raise HostUnavailable(f"host {self.name}: the session broke while sending ({exc})") from None
        except asyncio.TimeoutError:
            raise HostUnavailable(f"host {self.name}: no result within {timeout:g}s; the act may still be running "
                                  f"there") from None
        finally:
            self._pending.pop(rid, None)

    def _fail_pending(self, why: str) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(HostUnavailable(why))
        self._pending.clear()

    # --- what the supervisor reads --------------------------------------------------------

    def view(self) -> HostView:
        hello = self.hello
        return HostView(
            name=self.name, state=self.state, error=self.error, stderr=tuple(self.stderr),
            version=hello.version if hello else None, schema=hello.schema if hello else None,
            leader=hello.leader if hello else None, last_report_at=self.last_report_at,
            down_since=self.down_since, attempts=self.attempts, rows=self._rows, findings=self._findings,
            bad_rows=self._bad_rows, latency_s=self.latency_s)

    def attach_argv(self, pane: str) -> list[str] | None:
        """``ssh -t HOST tmux -L ... attach`` to a remote pane, or None before the host said its tmux server."""
        hello = self.hello
        if hello is None or not hello.tmux or not PANE_RE.match(pane):
            return None
        ssh = list(self.host.ssh_argv)
        if os.path.basename(ssh[0]) == "ssh":  # a terminal this time: -t, never the session's -T
            ssh = [ssh[0], "-t", *(a for a in ssh[1:] if a != "-T")]
        tmux = ["tmux", *hello.tmux, "select-window", "-t", pane, ";", "select-pane", "-t", pane, ";",
                "attach-session", *(["-t", f"={hello.session}"] if hello.session else [])]
        return [*ssh, shlex.join(tmux)]

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None


class HostFleet:
    """Every configured host's client; a host named twice is one client."""

    def __init__(self, hosts: Iterable[HostConfig], **kwargs: Any) -> None:
        self.clients = {h.name: HostClient(h, **kwargs) for h in hosts}

    def __bool__(self) -> bool:
        return bool(self.clients)

    def start(self) -> None:
        for client in self.clients.values():
            client.start()

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self.clients.values()), return_exceptions=True)

    async def settled(self, timeout: float) -> None:
        """Wait for every host's first report or failure; one still silent after ``timeout`` is down."""
        done = await asyncio.gather(*(c.settled(timeout) for c in self.clients.values()))
        for client, ok in zip(self.clients.values(), done):
            if not ok:
                client.give_up(f"no report within {timeout:g}s")

    def views(self) -> tuple[HostView, ...]:
        return tuple(c.view() for c in self.clients.values())

    def client(self, name: str) -> HostClient:
        try:
            return self.clients[name]
        except KeyError:
            known = ", ".join(self.clients) or "none"
            raise LookupError(f"no host named {name!r} (known: {known})") from None
