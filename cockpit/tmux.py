"""One tmux client per tmux server, for the whole process.

Every command goes through a persistent control-mode connection (``tmux -C``), so
a tick costs no new tmux process however many agents there are (seed #8: twenty
synchronous ``capture-pane`` shell-outs per pass became the load). Commands are
quoted for tmux's own parser, never for a shell; typed text uses literal
``send-keys -l``.

If the server dies, every pending and later call raises ``TmuxUnreachable`` and
the next call tries to reconnect; the connection never starts a server unless
asked to (``start_server=True``, done by spawn).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import secrets
import subprocess
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

# Control mode lines of a command's reply: "%begin TIME NUMBER FLAGS" ... "%end|%error TIME NUMBER FLAGS".
_GUARD_RE = re.compile(r"^%(begin|end|error) (\d+) (\d+) (\d+)$")
_SAFE_RE = re.compile(r"^[A-Za-z0-9_@%:./=+,-]+$")
_PLACEHOLDER = ("sleep", "2147483647")


def exec_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` as tmux must be given it to exec it: tmux hands a lone argument to ``sh -c``, so a
    one-word command goes through ``env`` (which execs it, same pid) and never reaches a shell."""
    return ["env", "--", *argv] if len(argv) == 1 else list(argv)
_FIELD_SEP = "\x1f"

PANE_FIELDS = (
    "pane_id", "pane_pid", "pane_dead", "pane_dead_status", "session_name", "window_id",
    "window_index", "pane_width", "pane_height", "window_activity", "history_size",
    "cursor_x", "cursor_y", "@cockpit_agent", "window_name",
)  # no pane_current_command: tmux reads /proc for it on every pane of every tick, and nothing uses it
PANE_FORMAT = _FIELD_SEP.join("#{%s}" % name for name in PANE_FIELDS)
# The tick's scan asks only what a tick reads: tmux expands every field of every pane on every tick
# (about 3 us a field a pane here), so the window's id, index, name and the pane's size are left out.
SCAN_FIELDS = (
    "pane_id", "pane_pid", "pane_dead", "pane_dead_status", "session_name", "window_activity", "history_size",
    "cursor_x", "cursor_y", "@cockpit_agent",
)
SCAN_FORMAT = _FIELD_SEP.join("#{%s}" % name for name in SCAN_FIELDS)


class TmuxError(Exception):
    """A tmux command answered with an error."""


class TmuxUnreachable(TmuxError):
    """The tmux server is not running or the connection to it was lost."""


class TmuxNoServer(TmuxUnreachable):
    """There is no tmux server on the socket at all: no agent can be running in it (SPEC §6)."""


SERVER_STATE_TIMEOUT_S = 3.0
# tmux's words for "nothing listens on this socket": no socket file, or a stale one a killed server left
_NO_SERVER_MARKS = ("no server running", "no such file or directory", "connection refused")


def quote(arg: str) -> str:
    """Quote one argument for tmux's command parser (not a shell).

    Printable runs go in single quotes (no ``$``, ``~`` or escape processing);
    a quote or control character goes in its own double-quoted escape. tmux joins
    adjacent quoted parts into one argument.
    """
    if arg and _SAFE_RE.match(arg) and (not arg.startswith("%") or arg[1:].isdigit()):
        return arg
    if not arg:
        return "''"
    parts: list[str] = []
    run: list[str] = []
    for ch in arg:
        code = ord(ch)
        if ch == "'" or code < 0x20 or code == 0x7F:
            if run:
                parts.append("'" + "".join(run) + "'")
                run = []
            escapes = {"'": "'", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
            parts.append('"' + (escapes.get(ch) or "\\%03o" % code) + '"')
        else:
            run.append(ch)
    if run:
        parts.append("'" + "".join(run) + "'")
    return "".join(parts)


def format_literal(text: str) -> str:
    """Escape ``#`` for arguments tmux expands as formats (such as ``-c``)."""
    return text.replace("#", "##")


def command_line(args: Sequence[str]) -> str:
    return " ".join(_quote_short(a) if len(a) <= 512 else quote(a) for a in args)


@functools.lru_cache(maxsize=1024)
def _quote_short(arg: str) -> str:
    return quote(arg)  # the same formats and targets are quoted every tick


@dataclass(frozen=True, slots=True)
class Pane:
    pane_id: str
    pid: int
    dead: bool
    dead_status: int | None
    session: str
    window_id: str
    window_index: int
    width: int
    height: int
    activity: int
    history_size: int
    cursor: tuple[int, int]
    agent: str | None
    window_name: str

    @property
    def change_mark(self) -> tuple[int, int, tuple[int, int], bool]:
        """What changes when the pane's screen changes (for capture-only-when-changed)."""
        return (self.activity, self.history_size, self.cursor, self.dead)


@functools.lru_cache(maxsize=8192)
def _parse_cached(line: str) -> Pane | None:
    return parse_pane_line(line)


def _parse_known(line: str) -> Pane | None:
    return _parse_cached(line) if len(line) < 4096 else parse_pane_line(line)


def _parse_scan_known(line: str) -> Pane | None:
    return _parse_scan_cached(line) if len(line) < 4096 else parse_scan_line(line)


@functools.lru_cache(maxsize=8192)
def _parse_scan_cached(line: str) -> Pane | None:
    return parse_scan_line(line)


def parse_scan_line(line: str) -> Pane | None:
    """One line of the tick's scan (``SCAN_FORMAT``): the window's id, index and name and the pane's
    size were not asked for (empty, -1 and 0)."""
    parts = line.split(_FIELD_SEP, len(SCAN_FIELDS) - 1)
    if len(parts) != len(SCAN_FIELDS):
        return None
    pane_id, pid, dead, status, session, activity, history, cx, cy, agent = parts
    return _pane(pane_id, pid, dead, status, session, "", "-1", "0", "0", activity, history, cx, cy, agent, "")


def _num(text: str, default: int = 0) -> int:
    try:
        return int(text)
    except ValueError:
        return default


def parse_pane_line(line: str) -> Pane | None:
    parts = line.split(_FIELD_SEP, len(PANE_FIELDS) - 1)
    if len(parts) != len(PANE_FIELDS):
        return None
    return _pane(*parts)


def _pane(pane_id: str, pid: str, dead: str, status: str, session: str, window_id: str, window_index: str,
          width: str, height: str, activity: str, history: str, cx: str, cy: str, agent: str,
          window_name: str) -> Pane:
    num = _num
    return Pane(
        pane_id=pane_id, pid=num(pid), dead=dead == "1",
        dead_status=int(status) if status.lstrip("-").isdigit() else None,
        session=session, window_id=window_id, window_index=num(window_index),
        width=num(width), height=num(height), activity=num(activity), history_size=num(history),
        cursor=(num(cx), num(cy)), agent=agent or None, window_name=window_name,
    )


@dataclass
class _Pending:
    future: asyncio.Future[list[str]]
    line: str


def socket_file(server_args: Sequence[str], env: Mapping[str, str] | None = None) -> Path | None:
    """Where a private server's socket is: ``-S PATH`` as given, ``-L NAME`` under ``$TMUX_TMPDIR``
    (else /tmp) ``/tmux-UID/``; None for the default server (never touched)."""
    args = list(server_args)
    for flag in ("-S", "-L"):
        if flag in args[:-1]:
            value = args[args.index(flag) + 1]
            if flag == "-S":
                return Path(value)
            tmpdir = (env if env is not None else os.environ).get("TMUX_TMPDIR") or "/tmp"
            return Path(tmpdir) / f"tmux-{os.getuid()}" / value
    return None


def kill_server_sync(server_args: Sequence[str], *, tmux_bin: str = "tmux", env: Mapping[str, str] | None = None,
                     socket: Path | None = None, timeout_s: float = 10.0) -> bool:
    """The one way to kill a private tmux server off the event loop (teardowns): ``kill-server``, then
    observe (``has-session`` fails), then remove the socket file tmux leaves behind. True when gone.
    ``socket``: the path the server reported, when known; else the one ``server_args`` name."""
    path = socket or socket_file(server_args, env)
    if path is None:
        raise ValueError("only a private tmux server (-L NAME or -S PATH) is killed")
    run_env = dict(env) if env is not None else None
    gone = False
    for command in ("kill-server", "has-session"):
        try:
            done = subprocess.run([tmux_bin, *server_args, command], env=run_env, capture_output=True,
                                  stdin=subprocess.DEVNULL, timeout=timeout_s)
        except (OSError, subprocess.SubprocessError):
            return False
        gone = command == "has-session" and done.returncode != 0
    if gone:
        try:
            if path.is_socket():
                path.unlink()
        except OSError:
            pass
    return gone


class TmuxClient:
    """An asyncio client holding one control-mode connection to one tmux server."""

    def __init__(self, server_args: Sequence[str], *, tmux_bin: str = "tmux", env: dict[str, str] | None = None) -> None:
        self.server_args = tuple(server_args)
        self.tmux_bin = tmux_bin
        self.env = env
        self.processes_started = 0  # tmux processes this client has forked: the per-tick budget counts them
        self.commands_sent = 0
        self.control_session: str | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: deque[_Pending] = deque()
        self._connect_lock = asyncio.Lock()
        self._write_lock = asyncio.Lock()
        self._session_lock = asyncio.Lock()
        self._closing = False
        self._ready: asyncio.Event | None = None
        self.last_error: str | None = None
        self.last_state: tuple[str, float] | None = None  # the last server_state() and when (monotonic)

    # --- connection ----------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._proc is not None and self._proc.returncode is None and self._reader is not None and not self._reader.done()

    async def _oneshot(self, *args: str) -> tuple[int, str, str]:
        self.processes_started += 1
        proc = await asyncio.create_subprocess_exec(
            self.tmux_bin, *self.server_args, *args,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=self.env,
        )
        out, err = await proc.communicate()
        return proc.returncode or 0, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")

    async def server_running(self) -> bool:
        return await self.server_state() == "running"

    async def server_state(self) -> str:
        """``running``; ``none`` (no server on the socket: no agent can be running); ``unreachable``
        (a server may exist but cannot be read: permission, a hung server); the reason in ``last_error``."""
        self.processes_started += 1
        proc = await asyncio.create_subprocess_exec(
            self.tmux_bin, *self.server_args, "list-sessions", "-F", "#{session_name}",
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            env=self.env, start_new_session=True)
        try:
            _, raw = await asyncio.wait_for(proc.communicate(), SERVER_STATE_TIMEOUT_S)
        except asyncio.TimeoutError:  # something holds the socket and never answers (a hung server)
            proc.kill()
            await proc.wait()
            self.last_error = f"tmux {' '.join(self.server_args)}: the server did not answer in {SERVER_STATE_TIMEOUT_S:g}s"
            self.last_state = ("unreachable", time.monotonic())
            return "unreachable"
        code, err = proc.returncode or 0, raw.decode("utf-8", "replace")
        self.last_state = ("running" if code == 0 else
                           "none" if any(mark in err.lower() for mark in _NO_SERVER_MARKS) else "unreachable",
                           time.monotonic())
        if code == 0:
            return "running"
        self.last_error = " ".join(err.split()) or f"tmux exited {code}"
        return "none" if any(mark in err.lower() for mark in _NO_SERVER_MARKS) else "unreachable"

    async def connect(self, *, start_server: bool = False) -> None:
        async with self._connect_lock:
            if self.connected:
                return
            await self._teardown()
            if self._closing:  # a pass still running as the cockpit quits must not start a client no one will close
                raise TmuxUnreachable("tmux connection closed")
            if not start_server:
                state = await self.server_state()
                if state == "none":
                    self.last_error = "no tmux server running on " + " ".join(self.server_args)
                    raise TmuxNoServer(self.last_error)
                if state != "running":
                    raise TmuxUnreachable(self.last_error or "tmux server unreachable")
            name = f"cockpit-ctl-{os.getpid()}-{secrets.token_hex(3)}"
            self.processes_started += 1
            proc = await asyncio.create_subprocess_exec(
                self.tmux_bin, *self.server_args, "-C", "new-session", "-s", name, "-x", "80", "-y", "24",
                *_PLACEHOLDER,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
                env=self.env, limit=16 * 1024 * 1024,
            )
            self._proc = proc
            self.control_session = name
            self._ready = asyncio.Event()
            self._reader = asyncio.create_task(self._read_loop(proc), name="tmux-control-reader")
            try:
                # The client's own session must exist before commands target it.
                await asyncio.wait_for(self._wait_ready(), timeout=10)
                # The control client needs no pane output, must not size windows, and its session
                # must vanish with it (a kill -9 of the cockpit leaves nothing behind).
                await self._command_locked(
                    ["refresh-client", "-f", "no-output,ignore-size"],
                    ["set-option", "-t", f"={name}:", "destroy-unattached", "on"],
                )
            except (TmuxError, asyncio.TimeoutError) as exc:
                await self._teardown()
                raise TmuxUnreachable(f"tmux control connection failed: {exc}") from None
            self.last_error = None

    async def _wait_ready(self) -> None:
        assert self._ready is not None
        ready = asyncio.create_task(self._ready.wait())
        reader = self._reader
        assert reader is not None
        done, _ = await asyncio.wait({ready, reader}, return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
            raise TmuxUnreachable(self.last_error or "tmux control client exited at start")

    async def _read_loop(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        block: list[str] | None = None
        block_id: tuple[str, str] | None = None
        ours = False
        pending: list[bytes] = []  # a line's start, until its newline arrives
        try:
            while True:
                # read in chunks, not a readline per line: a 1000-pane list-panes is 1000 lines every tick
                chunk = await proc.stdout.read(1 << 16)
                if not chunk:
                    break
                if b"\n" not in chunk:
                    pending.append(chunk)
                    continue
                lines = (b"".join(pending) + chunk if pending else chunk).split(b"\n")
                tail = lines.pop()  # after the last newline: the start of the next line, or nothing
                pending = [tail] if tail else []
                for raw in lines:
                    line = raw.decode("utf-8", "replace")
                    if block is not None:
                        match = _GUARD_RE.match(line) if line.startswith("%") else None
                        if match and match.group(1) != "begin" and (match.group(2), match.group(3)) == block_id:
                            self._finish(block, match.group(1), ours)
                            block, block_id = None, None
                            continue
                        block.append(line)
                        continue
                    match = _GUARD_RE.match(line)
                    if match and match.group(1) == "begin":
                        block, block_id = [], (match.group(2), match.group(3))
                        # flags 0: the reply to the command line that started the client, not ours.
                        ours = match.group(4) != "0"
                        continue
                    if line.startswith("%exit"):
                        return
                    # Other notifications (%window-add, %sessions-changed, ...) are not needed.
        except (asyncio.CancelledError, ConnectionError):
            pass
        finally:
            reason = "tmux server connection lost (" + " ".join(self.server_args) + ")"
            self.last_error = reason
            while self._pending:
                pending = self._pending.popleft()
                if not pending.future.done():
                    pending.future.set_exception(TmuxUnreachable(reason))

    def _finish(self, block: list[str], how: str, ours: bool) -> None:
        """A reply's guard line came: the first reply readies the client, ours settle their command."""
        if not ours and self._ready is not None:
            self._ready.set()
        if ours and self._pending:
            pending = self._pending.popleft()
            if not pending.future.done():
                if how == "end":
                    pending.future.set_result(block)
                else:
                    pending.future.set_exception(TmuxError(" ".join(block) or "tmux error"))

    async def _teardown(self) -> None:
        proc, reader = self._proc, self._reader
        self._proc, self._reader = None, None
        if proc is not None and proc.stdin is not None:
            # Closed even when the client is already gone (a signal to our process group reaches
            # it too): an open stdin keeps its transport alive past the loop.
            proc.stdin.close()
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 2)
            except asyncio.TimeoutError:
                proc.kill()
                await proc.wait()
        if reader is not None:
            reader.cancel()
            try:
                await reader
            except asyncio.CancelledError:
                pass
        while self._pending:
            pending = self._pending.popleft()
            if not pending.future.done():
                pending.future.set_exception(TmuxUnreachable("tmux connection closed"))

    async def close(self) -> None:
        self._closing = True
        await self._teardown()

    # --- commands ------------------------------------------------------------------------

    async def _command_locked(self, *commands: Sequence[str]) -> list[list[str] | BaseException]:
        proc = self._proc
        if proc is None or proc.stdin is None or proc.returncode is not None:
            raise TmuxUnreachable(self.last_error or "tmux not connected")
        loop = asyncio.get_running_loop()
        batch: list[_Pending] = []
        for args in commands:
            batch.append(_Pending(loop.create_future(), command_line(args)))
        async with self._write_lock:
            self._pending.extend(batch)
            payload = "".join(p.line + "\n" for p in batch).encode("utf-8")
            try:
                proc.stdin.write(payload)
                await proc.stdin.drain()
            except (ConnectionError, BrokenPipeError) as exc:
                for p in batch:
                    if not p.future.done():
                        p.future.set_exception(TmuxUnreachable(f"tmux connection lost: {exc}"))
            self.commands_sent += len(batch)
        return list(await asyncio.gather(*(p.future for p in batch), return_exceptions=True))

    async def run_many(self, commands: Iterable[Sequence[str]]) -> list[list[str] | BaseException]:
        """Send many commands in one write; each result is its output lines or its exception."""
        commands = list(commands)
        if not commands:
            return []
        if not self.connected:
            await self.connect()
        results = await self._command_locked(*commands)
        if any(isinstance(r, TmuxUnreachable) for r in results):
            raise next(r for r in results if isinstance(r, TmuxUnreachable))
        return results

    async def run(self, *args: str) -> list[str]:
        (result,) = await self.run_many([args])
        if isinstance(result, BaseException):
            raise result
        return result

    # --- reads ---------------------------------------------------------------------------

    async def list_panes(self, *, scan: bool = False) -> list[Pane]:
        """Every pane of the server in one command: id, pid, dead flag, activity, agent tag. ``scan``:
        only what a tick reads (``SCAN_FORMAT``: no window id, index, name nor pane size)."""
        lines = await self.run("list-panes", "-a", "-F", SCAN_FORMAT if scan else PANE_FORMAT)
        parse = _parse_scan_known if scan else _parse_known
        panes = []
        for line in lines:
            pane = parse(line)  # an unchanged line (an idle pane) is not parsed again each tick
            if pane is not None and pane.session != self.control_session:
                panes.append(pane)
        return panes

    async def capture_many(self, pane_ids: Sequence[str], *, history: int = 0, escapes: bool = False) -> dict[str, str | None]:
        """Capture several panes in one write; a pane that vanished maps to None."""
        args = ["capture-pane", "-p", "-J"]
        if escapes:
            args.append("-e")
        if history:
            args += ["-S", f"-{history}"]
        results = await self.run_many([[*args, "-t", pane_id] for pane_id in pane_ids])
        out: dict[str, str | None] = {}
        for pane_id, result in zip(pane_ids, results):
            out[pane_id] = None if isinstance(result, BaseException) else "\n".join(result).rstrip("\n")
        return out

    async def capture(self, pane_id: str, *, history: int = 0, escapes: bool = False) -> str | None:
        return (await self.capture_many([pane_id], history=history, escapes=escapes))[pane_id]

    async def pane(self, pane_id: str) -> Pane | None:
        try:
            lines = await self.run("list-panes", "-t", pane_id, "-F", PANE_FORMAT)
        except TmuxUnreachable:
            raise
        except TmuxError:
            return None
        for line in lines:
            pane = parse_pane_line(line)
            if pane is not None and pane.pane_id == pane_id:
                return pane
        return None

    # --- writes --------------------------------------------------------------------------

    async def spawn_window(
        self, session: str, name: str, argv: Sequence[str], *, cwd: str, env: dict[str, str] | None = None,
        agent_tag: str | None = None,
    ) -> Pane:
        """Create a window running ``argv`` (no shell), with remain-on-exit set before the child starts.

        The window starts on a placeholder so remain-on-exit is on before the real
        child runs: a child that dies 50 ms after fork still leaves its last screen.
        """
        if not self.connected:
            await self.connect(start_server=True)
        fmt = "#{pane_id}"
        new_window = ["new-window", "-d", "-P", "-F", fmt, "-t", f"={session}:", "-n", name, *_PLACEHOLDER]
        # Concurrent spawns into a fleet with no session yet: one creates it, the others add windows.
        async with self._session_lock:
            (result,) = await self.run_many([new_window])
            if isinstance(result, BaseException):
                (result,) = await self.run_many([["new-session", "-d", "-P", "-F", fmt, "-s", session, "-n", name,
                                                  "-x", "200", "-y", "50", *_PLACEHOLDER]])
            if isinstance(result, BaseException):
                raise result
        pane_id = result[0].strip()
        respawn = ["respawn-pane", "-k", "-t", pane_id, "-c", format_literal(cwd)]
        for key, value in (env or {}).items():
            respawn += ["-e", f"{key}={value}"]
        commands: list[Sequence[str]] = [
            ["set-option", "-w", "-t", pane_id, "remain-on-exit", "on"],
            ["set-option", "-p", "-t", pane_id, "@cockpit_agent", agent_tag or name],
            [*respawn, "--", *exec_argv(argv)],
        ]
        results = await self.run_many(commands)
        for args, res in zip(commands, results):
            if isinstance(res, BaseException):
                await self.kill_pane_window(pane_id)
                raise TmuxError(f"{args[0]} failed: {res}")
        pane = await self.pane(pane_id)
        if pane is None:
            raise TmuxError(f"window for {name} vanished right after creation")
        return pane

    async def kill_pane_window(self, pane_id: str) -> bool:
        try:
            await self.run("kill-window", "-t", pane_id)
            return True
        except TmuxUnreachable:
            raise
        except TmuxError:
            return False

    async def send_literal(self, pane_id: str, text: str, *, enter: bool = True) -> None:
        """Type ``text`` into a pane literally (never interpreted as keys or commands)."""
        commands: list[Sequence[str]] = []
        if text:
            commands.append(["send-keys", "-l", "-t", pane_id, "--", text])
        if enter:
            commands.append(["send-keys", "-t", pane_id, "Enter"])
        for res in await self.run_many(commands):
            if isinstance(res, BaseException):
                raise res

    async def kill_server(self) -> bool:
        """Kill this client's server (a private one: ``-L``/``-S``) and verify it is gone; True when it is.
        Its socket file, which tmux 3.3a leaves behind, goes too."""
        try:
            await self.run("kill-server")
        except TmuxError:
            pass
        await self._teardown()
        return await asyncio.to_thread(kill_server_sync, self.server_args, tmux_bin=self.tmux_bin, env=self.env)
