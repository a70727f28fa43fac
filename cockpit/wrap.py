"""``cockpit wrap [--ack-timeout S] -- COMMAND ...``: a sub-agent run that cannot hang after its result.

Seed #9: sub-agents wrote their ``"subtype":"success"`` result, then waited for a stop-hook ack
that never came, and never exited. Here the command (an argv, never a shell) runs in its own
process group; its stream-json stdout is teed to ``STATE/wrappers/<spawn id>.jsonl`` (0600) and
to our stdout. The run registers itself in the registry (a ``spawned`` row with
``wrapper: true``, our pid/start, the child's, the output log, the parent agent), and ends with
exactly one completion record (an ``exit`` row):

- the command exits: reason ``exited`` with its real status;
- the command wrote its ``result`` line but is still alive ``--ack-timeout`` seconds later (its
  stop hook never acked): reason ``ack_timeout``, written first, then the group is TERMed and,
  after a short wait, KILLed;
- we are signalled (TERM, INT, HUP; a reaper): reason ``terminated``, after stopping the group.

Exit code: the command's verdict, 0 only if its result has subtype "success" and is_error
false, else 1 (128+N when a signal N stopped us before any result); 2 for usage errors.

The child is not reaped (``waitid(WNOWAIT)``) until its group is dealt with, so its pid, and
with it the group id, cannot be reused while we signal the group.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

from cockpit.act.reap import record_completion, result_fields
from cockpit.act.stop import stop_verified
from cockpit.config import Config, ConfigError, find_config_path, load_config
from cockpit.fsutil import FILE_MODE, StateDirError, ensure_private_dir
from cockpit.locks import LockTimeout
from cockpit.observe.procs import ProcessReader
from cockpit.observe.wrappers import MAX_EVENT_BYTES, ResultLine, parse_event, result_from_event
from cockpit.registry import Registry, new_spawn_id

DEFAULT_ACK_TIMEOUT_S = 30.0
TERM_WAIT_S = 2.0  # after TERM, before KILL
DRAIN_S = 1.0  # after the command exits: how long its stdout may stay open (a grandchild holding it)
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
USAGE = "cockpit wrap [--config FILE] [--ack-timeout S] [--name NAME] [--agent NAME] -- COMMAND ..."


class WrapUsageError(Exception):
    """A bad command line: one line, exit 2."""

    def __init__(self, message: str, *, show_usage: bool = True) -> None:
        super().__init__(message)
        self.show_usage = show_usage

    def line(self) -> str:
        return f"{self} (usage: {USAGE})" if self.show_usage else str(self)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        raise WrapUsageError(message)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``cockpit wrap`` (shared by the ``cockpit`` CLI and ``python -m cockpit.wrap``)."""
    parser.add_argument("--ack-timeout", type=float, default=DEFAULT_ACK_TIMEOUT_S, metavar="S",
                        help="after the command's result line, how long it may take to exit "
                             f"(its stop hook's ack) before it is stopped (default {DEFAULT_ACK_TIMEOUT_S:g})")
    parser.add_argument("--name", help="this wrapper's name in the registry and the cockpit (default wrap-<id>)")
    parser.add_argument("--agent", metavar="NAME", help="the fleet agent this sub-agent works for")
    parser.add_argument("argv", nargs=argparse.REMAINDER, metavar="COMMAND", help="the sub-agent's argv, after --")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="cockpit wrap", usage=USAGE,
                     description="Run a sub-agent with a hard timeout on its stop-hook ack.")
    parser.add_argument("--config", metavar="FILE", help="config file (default: $COCKPIT_CONFIG, "
                        "else $XDG_CONFIG_HOME/cockpit/cockpit.toml)")
    add_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m cockpit.wrap ...``: parse, load the config, run. Never a traceback for bad input."""
    try:
        args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    except WrapUsageError as exc:
        return _fail(exc.line())
    try:
        config = load_config(find_config_path(args.config))
    except ConfigError as exc:
        return _fail(str(exc))
    return run_args(args, config)


def run_args(args: argparse.Namespace, config: Config) -> int:
    """Run from parsed ``add_arguments`` options (the ``cockpit wrap`` subcommand's handler)."""
    command = list(args.argv)
    if command[:1] == ["--"]:
        command = command[1:]
    try:
        return wrap(command, config, ack_timeout_s=args.ack_timeout, name=args.name, agent=args.agent)
    except WrapUsageError as exc:
        return _fail(exc.line())
    except (ConfigError, StateDirError, LockTimeout) as exc:
        return _fail(str(exc) if not isinstance(exc, StateDirError) else (exc.strerror or str(exc)))
    except OSError as exc:  # a state file that is a directory, a FIFO, a planted symlink, a full disk
        where = f"{exc.filename}: " if exc.filename is not None else ""
        return _fail(f"{where}{exc.strerror or exc}")


def wrap(command: Sequence[str], config: Config, *, ack_timeout_s: float = DEFAULT_ACK_TIMEOUT_S,
         name: str | None = None, agent: str | None = None, out: BinaryIO | None = None) -> int:
    """Run ``command`` as a wrapped sub-agent; returns the exit code (see the module docstring).

    Raises ``WrapUsageError`` for bad arguments (caught by ``run_args``/``main``).
    """
    if not command:
        raise WrapUsageError("expected a command after --")
    if isinstance(ack_timeout_s, bool) or not math.isfinite(ack_timeout_s) or ack_timeout_s <= 0:
        raise WrapUsageError(f"--ack-timeout: expected a number of seconds > 0, got {ack_timeout_s!r}")
    if name is not None:
        if not _NAME_RE.match(name):
            raise WrapUsageError(f"--name: expected letters, digits, '.', '_' or '-' (at most 64), got {name!r}")
        if any(a.name == name for a in config.agents):
            raise WrapUsageError(f"--name: {name!r} is a fleet agent's name; a wrapper needs its own")
    if agent is not None:
        config.agent(agent)  # an unknown agent is a one-line config error
    run = _Run(list(command), config, ack_timeout_s=ack_timeout_s, name=name, agent=agent,
               out=out if out is not None else _stdout())
    return asyncio.run(run.main())


def _stdout() -> BinaryIO | None:
    try:
        return sys.stdout.buffer
    except AttributeError:
        return None


def _warn(message: str) -> None:
    try:
        print(f"cockpit wrap: {message}", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def _fail(message: str) -> int:
    print(f"cockpit wrap: {message}", file=sys.stderr)
    return 2


def verdict(result: ResultLine | None) -> int:
    """SPEC §2: 0 only for subtype "success" with is_error false."""
    return 0 if result is not None and result.success else 1


class _Run:
    def __init__(self, command: list[str], config: Config, *, ack_timeout_s: float, name: str | None,
                 agent: str | None, out: BinaryIO | None) -> None:
        self.command = command
        self.config = config
        self.ack_timeout_s = ack_timeout_s
        self.spawn_id = new_spawn_id()
        self.name = name or f"wrap-{self.spawn_id}"
        self.agent = agent
        self.out = out
        self.registry = Registry(config.state.registry)
        self.reader = ProcessReader()
        self.result: ResultLine | None = None
        self.result_at: float | None = None  # monotonic
        self.bad_lines = 0
        self.log_fd: int | None = None
        self.log_path: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.child_start: int | None = None
        self.start: int = 0

    # -- the run -----------------------------------------------------------------------------

    async def main(self) -> int:
        loop = asyncio.get_running_loop()
        state = ensure_private_dir(self.config.state.dir)
        logs = ensure_private_dir(state / "wrappers")
        self.log_path = logs / f"{self.spawn_id}.jsonl"
        self.log_fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC,
                              FILE_MODE)
        me = self.reader.read(os.getpid())
        self.start = me.start if me is not None else 0
        stopped: asyncio.Future[int] = loop.create_future()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(sig, lambda s=sig: stopped.done() or stopped.set_result(s))
        try:
            # own session, so its own process group and no terminal signals from ours
            self.proc = subprocess.Popen(self.command, stdout=subprocess.PIPE, start_new_session=True)
        except OSError as exc:
            os.close(self.log_fd)
            self.log_path.unlink(missing_ok=True)
            raise WrapUsageError(f"cannot run {self.command[0]!r}: {exc.strerror or exc}", show_usage=False) from None
        child = self.reader.read(self.proc.pid)
        self.child_start = child.start if child is not None else None

        result_seen = asyncio.Event()
        exited = asyncio.Event()
        pump_done = threading.Event()
        try:
            threading.Thread(target=self._pump, args=(loop, result_seen, pump_done), name="wrap-pump",
                             daemon=True).start()
            threading.Thread(target=self._wait_exit, args=(loop, exited), name="wrap-wait", daemon=True).start()
            await self._register()
            outcome = await self._until_done(result_seen, exited, stopped)
            if outcome == "ack_timeout":
                # seed #9: write the completion record on timeout, then stop it and exit.
                await self._record("ack_timeout", ack_timeout_s=self.ack_timeout_s)
                await self._stop_group()
                await asyncio.to_thread(pump_done.wait, DRAIN_S)
                return verdict(self.result)
            leftovers = await self._stop_group()  # after an exit: what it left behind in its group goes too
            await asyncio.to_thread(pump_done.wait, DRAIN_S)
            if outcome == "exited":
                await self._record("exited", leftovers_stopped=leftovers, **self._status())
                return verdict(self.result)
            signum = stopped.result()
            await self._record("terminated", signal=signal.Signals(signum).name, **self._status())
            return verdict(self.result) if self.result is not None else 128 + signum
        finally:
            self._reap_child()
            fd, self.log_fd = self.log_fd, None
            if fd is not None:
                os.close(fd)

    async def _until_done(self, result_seen: asyncio.Event, exited: asyncio.Event,
                          stopped: asyncio.Future[int]) -> str:
        exit_wait = asyncio.ensure_future(exited.wait())
        result_wait = asyncio.ensure_future(result_seen.wait())
        try:
            done, _ = await asyncio.wait({exit_wait, result_wait, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if exit_wait in done:
                return "exited"
            if stopped in done:
                return "stopped"
            # The result is out: the stop hook's ack (the command exiting) gets ack_timeout_s, no more.
            assert self.result_at is not None
            left = self.result_at + self.ack_timeout_s - time.monotonic()
            done, _ = await asyncio.wait({exit_wait, stopped}, timeout=max(0.0, left),
                                         return_when=asyncio.FIRST_COMPLETED)
            if exit_wait in done:
                return "exited"
            if stopped in done:
                return "stopped"
            return "ack_timeout"
        finally:
            for task in (exit_wait, result_wait):
                task.cancel()

    # -- threads -----------------------------------------------------------------------------

    def _pump(self, loop: asyncio.AbstractEventLoop, result_seen: asyncio.Event, done: threading.Event) -> None:
        """Tee the command's stdout to the log and our stdout; spot its result line."""
        assert self.proc is not None and self.proc.stdout is not None
        stream = self.proc.stdout
        pending = b""
        discarding = False
        try:
            while True:
                try:
                    chunk = stream.read1(65536)
                except (OSError, ValueError):
                    break
                if not chunk:
                    break
                self._write(chunk)
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if discarding:  # the rest of an over-long line
                        discarding = False
                        continue
                    self._line(line, loop, result_seen)
                if len(pending) > MAX_EVENT_BYTES:
                    pending, discarding = b"", True
                    self.bad_lines += 1
            if pending.strip() and not discarding:
                self._line(pending, loop, result_seen)
        finally:
            done.set()

    def _line(self, line: bytes, loop: asyncio.AbstractEventLoop, result_seen: asyncio.Event) -> None:
        if not line.strip():
            return
        event = parse_event(line)
        if event is None:
            self.bad_lines += 1
            return
        if event["type"] == "result":
            self.result = result_from_event(event, time.time())
            self.result_at = time.monotonic()
            loop.call_soon_threadsafe(result_seen.set)

    def _write(self, chunk: bytes) -> None:
        if self.log_fd is not None:
            try:
                view = memoryview(chunk)
                while view:
                    view = view[os.write(self.log_fd, view):]
            except OSError:
                pass  # a full disk must not hang the sub-agent: it still streams to our stdout
        if self.out is not None:
            try:
                self.out.write(chunk)
                self.out.flush()
            except (OSError, ValueError):
                self.out = None  # nobody reads our stdout any more: keep the log

    def _wait_exit(self, loop: asyncio.AbstractEventLoop, exited: asyncio.Event) -> None:
        """Wait for the command to exit WITHOUT reaping it: its pid (our group id) stays reserved."""
        assert self.proc is not None
        while True:
            try:
                os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOWAIT)
                break
            except ChildProcessError:
                break
            except InterruptedError:
                continue
        loop.call_soon_threadsafe(exited.set)

    # -- the group ---------------------------------------------------------------------------

    def _group(self) -> list[Any]:
        """The live members of the command's process group (its leader may be an unreaped zombie)."""
        assert self.proc is not None
        pgid = self.proc.pid
        return [p for p in self.reader.scan_all() if p.pgid == pgid and not p.zombie]

    async def _stop_group(self) -> int:
        """Stop the command's group (``stop_verified`` through its leader, which is ours and unreaped:
        its pid + start still name it); returns how many processes were alive."""
        assert self.proc is not None
        members = await asyncio.to_thread(self._group)
        leader = await asyncio.to_thread(self.reader.read, self.proc.pid)
        if not members or leader is None or leader.start != self.child_start:
            return 0
        await stop_verified([leader], wait_s=TERM_WAIT_S, kill_wait_s=TERM_WAIT_S, reader=self.reader,
                            members=self._group)
        return len(members)

    def _status(self) -> dict[str, Any]:
        """The command's real exit status (it is still unreaped: read it without reaping)."""
        assert self.proc is not None
        try:
            info = os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            info = None
        if info is None:
            return {"status": None}
        if info.si_code == os.CLD_EXITED:
            return {"status": info.si_status}
        return {"status": 128 + info.si_status, "child_signal": signal.Signals(info.si_status).name}

    def _reap_child(self) -> None:
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout=TERM_WAIT_S)
        except subprocess.TimeoutExpired:  # only if it survived KILL (uninterruptible): let init have it
            pass
        if self.proc.stdout is not None:
            try:
                self.proc.stdout.close()
            except OSError:
                pass

    async def _register(self) -> None:
        """The registry ``spawned`` row, written once the command is seen running."""
        assert self.proc is not None
        try:
            await asyncio.to_thread(
                self.registry.event, "spawned", agent=self.name, spawn_id=self.spawn_id, wrapper=True,
                pid=os.getpid(), start=self.start, child_pid=self.proc.pid, child_start=self.child_start,
                pgid=self.proc.pid, output=str(self.log_path), parent_agent=self.agent, argv=self.command,
                cwd=os.getcwd(), ack_timeout_s=self.ack_timeout_s)
        except (OSError, LockTimeout) as exc:  # the sub-agent's work matters more than our bookkeeping
            _warn(f"cannot register in {self.registry.path}: {exc}")

    async def _record(self, reason: str, **fields: Any) -> None:
        assert self.proc is not None
        try:
            await asyncio.to_thread(
                record_completion, self.registry, self.config.state.dir, name=self.name, pid=os.getpid(),
                start=self.start, spawn_id=self.spawn_id, reason=reason, child_pid=self.proc.pid,
                parent_agent=self.agent, output=str(self.log_path), bad_lines=self.bad_lines,
                **result_fields(self.result), **fields)
        except (OSError, LockTimeout) as exc:
            _warn(f"cannot write the completion record to {self.registry.path}: {exc}")


if __name__ == "__main__":
    raise SystemExit(main())
