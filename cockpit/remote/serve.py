"""``cockpit serve --stdio``: this machine's truth, as JSON lines on stdout, for a cockpit elsewhere (SPEC §9).

It runs the same supervisor as the TUI and ``cockpit supervise``, on this machine's own tmux,
state and leader lock: it is the leader only when no other cockpit here holds the lock (a running
``cockpit supervise`` keeps it, and this one is a follower that reports and takes operator acts
under the same per-agent locks); with ``--read-only`` it never leads and refuses every act. It
never connects onward to this config's own ``[[hosts]]``: one hop, no loops.

Down: a ``hello`` (protocol, schema, ``cockpit --version``), then one ``report`` per tick (the
``check --json`` document) and one ``result`` per request. Reports supersede each other: when
the reader is slow only the newest waits to be written; results are never dropped. Up: requests
``{"id": N, "op": ...}``, each run in its own task, so a slow respawn never holds the reports back.
The session ends at EOF on stdin (the SSH session closed) or on SIGTERM/SIGHUP.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections import deque
from typing import Any, Awaitable, Callable

from cockpit import SCHEMA, __version__
from cockpit.config import Config, ConfigError
from cockpit.remote.protocol import (MAX_LINE_BYTES, OPS, PROTOCOL, ProtocolError, Request, arg, decode, encode,
                                     parse_request, request_id)

SENT_OPS = OPS
FINISH_ACTS_S = 60.0  # at the session's end, acts in flight get this long to finish and be journaled


class Outbox:
    """What goes down the pipe, in order: results queue, reports replace the one still waiting."""

    def __init__(self) -> None:
        self.messages: deque[bytes] = deque()
        self.report: bytes | None = None
        self.ready = asyncio.Event()
        self.dropped_reports = 0

    def put(self, message: dict[str, Any]) -> None:
        self.messages.append(encode(message))
        self.ready.set()

    def put_report(self, message: dict[str, Any]) -> None:
        if self.report is not None:
            self.dropped_reports += 1  # superseded before the reader took it
        self.report = encode(message)
        self.ready.set()

    def take(self) -> list[bytes]:
        out = list(self.messages)
        self.messages.clear()
        if self.report is not None:
            out.append(self.report)
            self.report = None
        self.ready.clear()
        return out


async def _write_loop(outbox: Outbox, writer: asyncio.StreamWriter) -> None:
    while True:
        await outbox.ready.wait()
        for line in outbox.take():
            writer.write(line)
        await writer.drain()


async def _open_pipes(in_fd: int, out_fd: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_LINE_BYTES)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(in_fd, "rb", 0))
    transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, os.fdopen(out_fd, "wb", 0))
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    return reader, writer


def protocol_fds() -> tuple[int, int]:
    """The protocol's own copies of stdin/stdout; fd 1 then points at stderr, so a stray print
    anywhere in the process can never corrupt the JSON stream."""
    in_fd, out_fd = os.dup(0), os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return in_fd, out_fd


class Server:
    """One session: a supervisor, its reports down, requests up."""

    def __init__(self, config: Config, *, read_only: bool = False, clock: Callable[[], float] = time.time) -> None:
        from cockpit.supervisor import Supervisor

        self.config = config
        self.read_only = read_only
        self.clock = clock
        self.sup = Supervisor(config, read_only=read_only, actor="serve", clock=clock, hosts=False)
        self.outbox = Outbox()
        self.seq = 0
        self.tasks: set[asyncio.Task[Any]] = set()

    def hello(self) -> dict[str, Any]:
        return {"type": "hello", "protocol": PROTOCOL, "schema": SCHEMA, "version": __version__,
                "leader": self.sup.leader, "read_only": self.read_only, "tick_s": self.config.supervisor.tick_s,
                "ops": list(SENT_OPS), "pid": os.getpid(), "tmux": list(self.config.tmux.server_args()),
                "session": self.config.tmux.session}

    def on_report(self, report: Any) -> None:
        self.seq += 1
        doc = report.to_json()
        doc.update(type="report", seq=self.seq, sent_at=self.clock(), leader=report.leader,
                   dropped_reports=self.outbox.dropped_reports)
        self.outbox.put_report(doc)

    async def run(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (ValueError, RuntimeError):  # not the main thread (tests)
                pass
        write_task = asyncio.create_task(_write_loop(self.outbox, writer), name="serve-write")
        read_task: asyncio.Task[None] | None = None
        try:
            await self.sup.start()
            self.outbox.put(self.hello())  # first, always: requests are read only after it
            read_task = asyncio.create_task(self._read_loop(reader, stop), name="serve-read")
            await self.sup.run(stop, on_report=self.on_report)
        finally:
            if read_task is not None:
                read_task.cancel()
            if self.tasks:  # an act already started finishes (and journals) even if nobody waits for it now
                await asyncio.wait(set(self.tasks), timeout=FINISH_ACTS_S)
            for task in list(self.tasks):
                task.cancel()
            await asyncio.gather(*([read_task] if read_task else []), *self.tasks, return_exceptions=True)
            await self.sup.close()
            try:  # what is still queued (the last results) goes out before the pipe closes
                for line in self.outbox.take():
                    writer.write(line)
                await asyncio.wait_for(writer.drain(), timeout=2.0)
            except (OSError, asyncio.TimeoutError, ConnectionError):
                pass
            write_task.cancel()
            await asyncio.gather(write_task, return_exceptions=True)

    async def _read_loop(self, reader: asyncio.StreamReader, stop: asyncio.Event) -> None:
        try:
            while True:
                try:
                    line = await reader.readuntil(b"\n")
                except asyncio.IncompleteReadError as exc:
                    if exc.partial.strip():
                        self._dispatch(exc.partial)
                    return  # EOF: the session is over
                except asyncio.LimitOverrunError as exc:
                    await reader.readexactly(exc.consumed)  # drop the oversized line's bytes so far
                    self.outbox.put({"type": "result", "id": None, "ok": False,
                                     "error": f"request line over {MAX_LINE_BYTES} bytes"})
                    continue
                if line.strip():
                    self._dispatch(line)
        finally:
            stop.set()

    def _dispatch(self, line: bytes) -> None:
        msg: dict[str, Any] | None = None
        try:
            msg = decode(line)
            request = parse_request(msg)
        except ProtocolError as exc:
            rid = request_id(msg) if msg is not None else None
            self.outbox.put({"type": "result", "id": rid, "ok": False, "error": str(exc)})
            return
        task = asyncio.create_task(self._answer(request), name=f"serve-{request.op}-{request.id}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _answer(self, request: Request) -> None:
        try:
            body = await self.handle(request)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # one line back, never a dead session
            body = _refusal(exc)
        self.outbox.put({"type": "result", "id": request.id, **body})

    async def handle(self, request: Request) -> dict[str, Any]:
        handler: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]] = getattr(self, f"op_{request.op}")
        return await handler(dict(request.args))

    # --- ops: the CLI commands' own paths ---------------------------------------------------------

    def _agent(self, args: dict[str, Any]) -> str:
        name = arg(args, "agent", (str,))
        self.config.agent(name)  # ConfigError (one line) for an unknown name
        return name

    async def op_respawn(self, args: dict[str, Any]) -> dict[str, Any]:
        name = self._agent(args)
        result = await self.sup.respawn(name, force=bool(arg(args, "force", (bool,), required=False, default=False)))
        return {"ok": result.ok, "summary": result.summary, "result": result.to_json()}

    async def op_repoint(self, args: dict[str, Any]) -> dict[str, Any]:
        result = await self.sup.repoint(self._agent(args))
        return {"ok": result.ok, "summary": result.summary, "result": result.to_json()}

    async def op_reap(self, args: dict[str, Any]) -> dict[str, Any]:
        target = arg(args, "target", (str, int), required=False) or arg(args, "agent", (str,))
        results = await self.sup.reap(str(target))
        summary = "; ".join(r.summary for r in results) or f"{target}: no zombie wrapper to reap"
        return {"ok": all(r.ok for r in results), "summary": summary, "result": [r.to_json() for r in results]}

    async def op_remind(self, args: dict[str, Any]) -> dict[str, Any]:
        from cockpit.reminders import schedule_reminder

        self._refuse_read_only("remind")
        name = self._agent(args)
        due_at = arg(args, "due_at", (int, float), required=False)
        r = await asyncio.to_thread(
            schedule_reminder, self.config, name, arg(args, "verb", (str,)), arg(args, "text", (str,)),
            in_=arg(args, "in", (str,), required=False), at=arg(args, "at", (str,), required=False),
            due_at=due_at, respawn_if_down=bool(arg(args, "respawn_if_down", (bool,), required=False, default=False)),
            by="serve", now=self.clock())
        return {"ok": True, "summary": f"{r.id}: {r.verb} {r.agent} scheduled", "result": r.to_json()}

    async def op_cancel(self, args: dict[str, Any]) -> dict[str, Any]:
        from cockpit.reminders import cancel_reminder

        self._refuse_read_only("cancel")
        ref = arg(args, "reminder", (str,), required=False) or arg(args, "id", (str,))
        r = await asyncio.to_thread(cancel_reminder, self.config, ref, by="serve")
        return {"ok": True, "summary": f"{r.id}: cancelled ({r.verb} {r.agent})", "result": r.to_json()}

    async def op_send(self, args: dict[str, Any]) -> dict[str, Any]:
        send = getattr(self.sup, "send", None)
        if send is None:
            return {"ok": False, "unsupported": True,
                    "error": f"send is not supported by this remote (cockpit {__version__})"}
        name = self._agent(args)
        result = await send(name, arg(args, "text", (str,)))
        return {"ok": bool(result.ok), "summary": result.summary, "result": result.to_json()}

    def _refuse_read_only(self, op: str) -> None:
        from cockpit.act.actions import ReadOnlyError

        if self.read_only:
            raise ReadOnlyError(f"{op} refused: this cockpit is read-only")


def _refusal(exc: BaseException) -> dict[str, Any]:
    from cockpit.act.actions import ReadOnlyError

    line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return {"ok": False, "error": line, "refused": isinstance(exc, (ReadOnlyError, ConfigError, LookupError,
                                                                      ProtocolError, ValueError))}


def serve_stdio(config: Config, *, read_only: bool = False) -> int:
    """``cockpit serve --stdio``: until the session ends. Exit 0 on EOF or a signal."""
    in_fd, out_fd = protocol_fds()

    async def main() -> None:
        reader, writer = await _open_pipes(in_fd, out_fd)
        await Server(config, read_only=read_only).run(reader, writer)

    asyncio.run(main())
    return 0
