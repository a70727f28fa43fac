"""Sub-agent wrappers: find them, follow their stream-json output, know their parent agent (seed #9).

A wrapper is either
- a process whose command line matches a ``[[wrappers]]`` rule and whose output is a file: its
  stdout (``/proc/PID/fd/1``) is a regular file, or one of its open files matches the rule's
  ``output`` glob; or
- a ``cockpit wrap`` run, which registers itself: a registry ``spawned`` row with
  ``wrapper: true``, its pid/start, its output log and the parent agent it was given.

Each output is followed from its end (a new wrapper's 100 MB log costs a 256 KB read, then
only the bytes appended since the last tick): the last event is kept, and the last ``result``
line with when it was first seen. Bad lines are counted, never fatal.

The parent agent is the fleet agent whose pane process is an ancestor of the wrapper (or the
one named at registration); the agent's process identity ``(pid, start)`` is remembered, so
"its parent agent is gone" is a fact about that process, not a name.

``WrapperTracker.observe`` is blocking /proc and file I/O: call it from a worker thread.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cockpit import timefmt
from cockpit.config import WrapperRule
from cockpit.observe.procs import Proc, ProcessReader, ProcessTable
from cockpit.observe.lines import LineTail, Oversize
from cockpit.records import REGISTRY_ROW, BadLines, json_object
from cockpit.registry import Tail
from cockpit.tmux import Pane

__all__ = [
    "ResultLine",
    "StreamTail",
    "WrapperTracker",
    "WrapperView",
    "wrapper_name_for_pid",
]

FIRST_READ_BYTES = 256 * 1024  # a wrapper seen for the first time: read only the end of its output
MAX_EVENT_BYTES = 8 << 20  # a result line carries the whole answer: allow big lines, bounded
KEEP_GONE_S = 600.0  # a gone wrapper stays listed (finished/reaped) this long


def wrapper_name_for_pid(pid: int) -> str:
    """The name of a wrapper found by a rule (it has none of its own): stable while it lives."""
    return f"wrapper-{pid}"


# --- the output ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResultLine:
    """The ``{"type":"result",...}`` line that ends a ``claude -p --output-format stream-json`` run."""

    subtype: str | None
    is_error: bool | None
    duration_ms: float | None
    seen_at: float  # when it was first seen (never later than the observation that saw it)
    num_turns: int | None = None
    session_id: str | None = None

    @property
    def success(self) -> bool:
        """SPEC §2: a run succeeded only when subtype == "success" and is_error is false."""
        return self.subtype == "success" and self.is_error is False

    def to_json(self) -> dict[str, Any]:
        return {"subtype": self.subtype, "is_error": self.is_error, "duration_ms": self.duration_ms,
                "num_turns": self.num_turns, "session_id": self.session_id, "seen_at": timefmt.iso(self.seen_at),
                "success": self.success}


def parse_event(line: bytes) -> dict[str, Any] | None:
    """One stream-json line as an event (a JSON object with a string ``type``), else None."""
    value, _ = json_object(line)
    if value is None or not isinstance(value.get("type"), str):
        return None
    return value


def result_from_event(event: Mapping[str, Any], seen_at: float) -> ResultLine:
    """The fields of a result event, each kept only when it has the documented type."""
    subtype = event.get("subtype")
    is_error = event.get("is_error")
    duration = event.get("duration_ms")
    turns = event.get("num_turns")
    session = event.get("session_id")
    return ResultLine(
        subtype=subtype if isinstance(subtype, str) else None,
        is_error=is_error if isinstance(is_error, bool) else None,
        duration_ms=duration if isinstance(duration, (int, float)) and not isinstance(duration, bool) else None,
        seen_at=seen_at,
        num_turns=turns if isinstance(turns, int) and not isinstance(turns, bool) else None,
        session_id=session if isinstance(session, str) else None,
    )


class StreamTail:
    """Follows one stream-json output from its end: each ``read`` costs the bytes appended since the last.

    Keeps the last event's type and the last result line. A file replaced or truncated is
    followed again from its end; a last line still being written is read again next time.
    """

    def __init__(self, path: Path, *, first_read_bytes: int = FIRST_READ_BYTES,
                 max_line_bytes: int = MAX_EVENT_BYTES) -> None:
        self.path = Path(path)
        self.max_line_bytes = max_line_bytes
        # the one line reader: from the last first_read_bytes, and from the end again when replaced or truncated
        self._lines = LineTail(self.path, max_line_bytes=max_line_bytes, start="end", tail_bytes=first_read_bytes,
                               replaced="end")
        self._result_digest: int | None = None  # identity of the current result line
        self.last_event: str | None = None
        self.result: ResultLine | None = None
        self.bad = BadLines()
        self.error: str | None = None

    @property
    def bad_lines(self) -> int:
        return self.bad.total

    @property
    def bytes_read(self) -> int:  # advisory, for tests and the benchmark
        return self._lines.bytes_read

    @property
    def ends_with_result(self) -> bool:
        return self.last_event == "result" and self.result is not None

    def read(self, now: float) -> None:
        try:
            mtime = os.stat(self.path).st_mtime
        except OSError:
            mtime = now
        batch = self._lines.read()
        self.error = batch.error
        if batch.error is not None:
            return
        if batch.reset:
            self._result_digest = None
            self.last_event = None
            self.result = None
        seen_at = min(now, mtime)
        for line in batch.lines:
            if isinstance(line, Oversize):
                self.bad.add(f"stream-json line over {self.max_line_bytes} bytes")
            else:
                self._take(line, seen_at)
        if batch.partial:
            # An unterminated last line that is already a whole event (a writer that hangs
            # right after its result may never send the newline): take it; it is read again
            # once complete, and keeps its first-seen time.
            event = parse_event(batch.partial)
            if event is not None:
                self._event(event, batch.partial.strip(), seen_at)

    def _take(self, line: bytes, seen_at: float) -> None:
        raw = line.strip()
        if not raw:
            return
        event = parse_event(raw)
        if event is None:
            self.bad.add("stream-json: not an event (a JSON object with a string type)", raw)
            return
        self._event(event, raw, seen_at)

    def _event(self, event: Mapping[str, Any], raw: bytes, seen_at: float) -> None:
        self.last_event = event["type"]
        if self.last_event == "result":
            digest = hash(raw)  # the same line read twice (first unterminated) keeps its first-seen time
            if digest != self._result_digest or self.result is None:
                self.result = result_from_event(event, seen_at)
                self._result_digest = digest


# --- the view -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WrapperView:
    """One wrapper as one observation saw it (the judge may mark it ``zombie``)."""

    id: str  # "pid:start": a pid alone is not an identity
    name: str
    pid: int
    start: int
    pgid: int | None
    command: str
    output: str | None
    agent: str | None  # the parent agent
    state: str  # running | finished (its result is out, or it exited) | zombie (judged) | reaped
    alive: bool
    result: ResultLine | None
    ends_with_result: bool  # the output's last event is its result line
    result_age_s: float | None
    tree: tuple[Proc, ...]  # the wrapper and its descendants, as last seen alive
    registered: bool = False  # started by `cockpit wrap`
    spawn_id: str | None = None
    pane: str | None = None  # the tmux pane whose process it is, if it has its own window
    agent_proc: tuple[int, int] | None = None  # the parent agent's (pid, start) when it was associated
    orphan: bool = False  # its parent agent's process is gone
    first_seen: float = 0.0
    gone_at: float | None = None
    exit: Mapping[str, Any] | None = None  # its registry exit row, if one was written
    bad_lines: int = 0
    zombie_reason: str | None = None  # set by the judge

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "pid": self.pid, "start": self.start, "pgid": self.pgid,
            "command": self.command, "output": self.output, "agent": self.agent, "state": self.state,
            "alive": self.alive, "result": self.result.to_json() if self.result else None,
            "ends_with_result": self.ends_with_result,
            "since_result_s": None if self.result_age_s is None else round(self.result_age_s, 1),
            "zombie_reason": self.zombie_reason, "orphan": self.orphan, "registered": self.registered,
            "spawn_id": self.spawn_id, "pane": self.pane, "bad_lines": self.bad_lines,
            "exit_reason": (self.exit or {}).get("reason"),
            "tree": [{"pid": p.pid, "start": p.start, "pgid": p.pgid, "command": p.command[:200]} for p in self.tree],
        }


# --- the tracker ----------------------------------------------------------------------------------


@dataclass
class _Tracked:
    pid: int
    start: int
    name: str
    first_seen: float
    command: str = ""
    pgid: int | None = None
    output: Path | None = None
    tail: StreamTail | None = None
    agent: str | None = None
    agent_proc: tuple[int, int] | None = None
    registered: bool = False
    spawn_id: str | None = None
    tree: tuple[Proc, ...] = ()
    pane: str | None = None
    orphan: bool = False
    gone_at: float | None = None
    exit: dict[str, Any] | None = None


@dataclass
class _Rule:
    rule: WrapperRule
    regex: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        self.regex = re.compile(self.rule.match)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class WrapperTracker:
    """Keeps every known wrapper from one observation to the next.

    ``rescan_s``: how often the whole process table is read for rule matches (wrappers under a
    fleet agent are found every tick in the agents' trees, which the snapshot already read).
    """

    def __init__(self, rules: Sequence[WrapperRule] = (), *, registry_path: Path | None = None,
                 reader: ProcessReader | None = None, rescan_s: float = 10.0,
                 keep_gone_s: float = KEEP_GONE_S) -> None:
        self.rules = [_Rule(r) for r in rules]
        self.reader = reader or ProcessReader()
        self.rescan_s = rescan_s
        self.keep_gone_s = keep_gone_s
        self._proc_root = str(self.reader.proc_root)
        self._registry = Tail(registry_path, schema=REGISTRY_ROW) if registry_path is not None else None
        self._registered: dict[tuple[int, int], dict[str, Any]] = {}  # open `spawned` rows of cockpit wrap runs
        self._tracked: dict[tuple[int, int], _Tracked] = {}
        self._no_output: set[tuple[int, int]] = set()  # rule matches without an output file, until the next scan
        self._last_scan: float | None = None
        self.full_scans = 0
        self.registry_bad_lines = 0

    # -- public ----------------------------------------------------------------------------

    def observe(self, now: float | None = None, *, agents: Mapping[str, Proc] | None = None,
                procs: ProcessTable | None = None, panes: Iterable[Pane] | None = None) -> tuple[WrapperView, ...]:
        """One observation. ``agents``: each live fleet agent's pane process (None: not known this
        tick, e.g. tmux is unreachable: nobody is judged an orphan). ``procs``: the snapshot's
        process table (the agents' trees). ``panes``: tmux panes, to find a wrapper's own window.
        """
        now = time.time() if now is None else now
        self._read_registry()
        if not self.rules and not self._registered and not self._tracked:
            return ()  # no rule, no registered wrapper, none tracked: nothing to look at this tick
        lookup: dict[int, Proc] = {p.pid: p for p in procs} if procs is not None else {}
        if self.rules and (self._last_scan is None or now - self._last_scan >= self.rescan_s):
            everything = self.reader.scan_all()
            self._last_scan = now
            self.full_scans += 1
            self._no_output.clear()
            lookup.update((p.pid, p) for p in everything)
            self._discover(everything, agents, now)
        elif self.rules and procs is not None:
            self._discover(procs, agents, now)  # new wrappers inside the agents' trees
        self._adopt_registered(now)
        live_keys = [k for k, t in self._tracked.items() if t.gone_at is None]
        if live_keys:
            fresh = self.reader.tree([pid for pid, _ in live_keys])
            lookup.update((p.pid, p) for p in fresh)
        table = ProcessTable(lookup.values())
        agent_roots = {p.pid: (name, p.start) for name, p in (agents or {}).items() if p is not None}
        pane_of = self._panes_by_pid(panes, set(agents or {}))
        self._drop_nested()
        views = []
        for key, tracked in list(self._tracked.items()):
            self._refresh(tracked, table, agents, agent_roots, pane_of, now)
            if tracked.gone_at is not None and now - tracked.gone_at > self.keep_gone_s:
                del self._tracked[key]
                self._registered.pop(key, None)  # gone without an exit row (kill -9): listed once, not forever
                continue
            views.append(self._view(tracked, now))
        views.sort(key=lambda v: (v.agent or "~", v.name))
        return tuple(views)

    def close(self) -> None:
        if self._registry is not None:
            self._registry.close()

    # -- registry --------------------------------------------------------------------------

    def _read_registry(self) -> None:
        if self._registry is None:
            return
        result = self._registry.read_new()
        if result.reset:
            self._registered.clear()
        self.registry_bad_lines += result.bad_lines
        for row in result.rows:
            if row.get("wrapper") is not True:
                continue
            pid, start = row.get("pid"), row.get("start")
            if not (_is_int(pid) and _is_int(start)):
                continue
            key = (pid, start)
            if row.get("event") == "spawned":
                self._registered[key] = dict(row)
            elif row.get("event") in ("exit", "reaped"):
                self._registered.pop(key, None)
                if key in self._tracked:
                    self._tracked[key].exit = dict(row)

    def _adopt_registered(self, now: float) -> None:
        for key, row in self._registered.items():
            tracked = self._tracked.get(key)
            if tracked is None:
                name = row.get("agent") if isinstance(row.get("agent"), str) else wrapper_name_for_pid(key[0])
                tracked = self._tracked[key] = _Tracked(pid=key[0], start=key[1], name=name, first_seen=now)
            if tracked.registered:
                continue
            # a rule may have found it first: the registration names it
            tracked.registered = True
            if isinstance(row.get("agent"), str):
                tracked.name = row["agent"]
            tracked.spawn_id = row.get("spawn_id") if isinstance(row.get("spawn_id"), str) else None
            parent = row.get("parent_agent")
            if isinstance(parent, str) and parent:
                tracked.agent = parent
            output = row.get("output")
            if isinstance(output, str) and output and (tracked.output is None or str(tracked.output) != output):
                tracked.output = Path(output)
                tracked.tail = StreamTail(tracked.output)
            argv = row.get("argv")
            if isinstance(argv, list) and not tracked.command:
                tracked.command = "cockpit wrap -- " + " ".join(str(a) for a in argv)

    # -- discovery -------------------------------------------------------------------------

    def _discover(self, table: ProcessTable, agents: Mapping[str, Proc] | None, now: float) -> None:
        roots = {(p.pid, p.start) for p in (agents or {}).values() if p is not None}
        me = os.getpid()
        for proc in table:
            key = (proc.pid, proc.start)
            if key in self._tracked or key in self._no_output or proc.zombie or not proc.cmdline:
                continue
            if proc.pid == me or key in roots:
                continue  # an agent itself is never its own wrapper, nor is the cockpit
            command = " ".join(proc.cmdline)
            rule = next((r for r in self.rules if r.regex.search(command)), None)
            if rule is None:
                continue
            output = self._output_of(proc.pid, rule.rule.output)
            if output is None:
                self._no_output.add(key)
                continue
            self._tracked[key] = _Tracked(pid=proc.pid, start=proc.start, name=wrapper_name_for_pid(proc.pid),
                                          first_seen=now, command=command, pgid=proc.pgid, output=output,
                                          tail=StreamTail(output))

    def _output_of(self, pid: int, glob: str | None) -> Path | None:
        """The file a wrapper writes its stream-json to: an open file matching the glob, else its stdout."""
        base = f"{self._proc_root}/{pid}/fd"
        if glob:
            try:
                fds = sorted(os.listdir(base), key=lambda n: int(n) if n.isdigit() else 1 << 30)
            except OSError:
                fds = []
            for fd in fds:
                target = _regular_target(f"{base}/{fd}")
                if target is not None and fnmatch.fnmatchcase(target, glob):
                    return Path(target)
        target = _regular_target(f"{base}/1")
        return Path(target) if target is not None else None

    def _drop_nested(self) -> None:
        """A rule match inside a registered wrapper's tree is that wrapper's child, not another wrapper."""
        nested: set[tuple[int, int]] = set()
        for tracked in self._tracked.values():
            if tracked.registered:
                nested.update((p.pid, p.start) for p in tracked.tree[1:])
        for key in nested:
            found = self._tracked.get(key)
            if found is not None and not found.registered:
                del self._tracked[key]

    # -- per wrapper -----------------------------------------------------------------------

    def _refresh(self, tracked: _Tracked, table: ProcessTable, agents: Mapping[str, Proc] | None,
                 agent_roots: Mapping[int, tuple[str, int]], pane_of: Mapping[int, str], now: float) -> None:
        if tracked.gone_at is None:
            proc = table.get(tracked.pid)
            if proc is None or proc.start != tracked.start:
                proc = self.reader.read(tracked.pid)
            if proc is None or proc.start != tracked.start or proc.zombie:
                tracked.gone_at = now
            else:
                tracked.pgid = proc.pgid
                if not tracked.command and proc.cmdline:
                    tracked.command = proc.command
                tracked.tree = tuple(table.descendants(proc.pid)) if table.alive(proc.pid, proc.start) else (proc,)
                tracked.pane = pane_of.get(tracked.pid)
                if agents is not None:
                    self._parent(tracked, proc, table, agents, agent_roots)
        if tracked.tail is not None:
            tracked.tail.read(now)

    def _parent(self, tracked: _Tracked, proc: Proc, table: ProcessTable, agents: Mapping[str, Proc],
                agent_roots: Mapping[int, tuple[str, int]]) -> None:
        if tracked.agent_proc is None:
            found = _ancestor_agent(proc, table, agent_roots)
            if found is not None:
                tracked.agent, tracked.agent_proc = found[0], (found[1], found[2])
            elif tracked.agent is not None:  # named at registration
                root = agents.get(tracked.agent)
                if root is not None:
                    tracked.agent_proc = (root.pid, root.start)
                else:
                    tracked.orphan = True  # named, and not running
                    return
        if tracked.agent_proc is None:
            return
        pid, start = tracked.agent_proc
        root = table.get(pid)
        if root is None or root.start != start:
            root = self.reader.read(pid)
        tracked.orphan = root is None or root.start != start or root.zombie

    def _panes_by_pid(self, panes: Iterable[Pane] | None, agent_names: set[str]) -> dict[int, str]:
        """Live panes by their process, never an agent's own window."""
        return {p.pid: p.pane_id for p in panes or () if p.pid and not p.dead and p.agent not in agent_names}

    def _view(self, tracked: _Tracked, now: float) -> WrapperView:
        tail = tracked.tail
        result = tail.result if tail is not None else None
        ends = bool(tail is not None and tail.ends_with_result)
        alive = tracked.gone_at is None
        if not alive:
            state = "reaped" if tracked.exit is not None and tracked.exit.get("reason") == "reaped" else "finished"
        else:
            state = "finished" if ends else "running"
        return WrapperView(
            id=f"{tracked.pid}:{tracked.start}", name=tracked.name, pid=tracked.pid, start=tracked.start,
            pgid=tracked.pgid, command=tracked.command, output=str(tracked.output) if tracked.output else None,
            agent=tracked.agent, state=state, alive=alive, result=result, ends_with_result=ends,
            result_age_s=max(0.0, now - result.seen_at) if result is not None else None, tree=tracked.tree,
            registered=tracked.registered, spawn_id=tracked.spawn_id, pane=tracked.pane if alive else None,
            agent_proc=tracked.agent_proc, orphan=tracked.orphan and alive, first_seen=tracked.first_seen,
            gone_at=tracked.gone_at, exit=tracked.exit, bad_lines=tail.bad_lines if tail is not None else 0,
        )


def _regular_target(fd_path: str) -> str | None:
    """Where an fd link points, if it is a regular file (not a pipe, socket or tty)."""
    try:
        if not stat.S_ISREG(os.stat(fd_path).st_mode):
            return None
        target = os.readlink(fd_path)
    except OSError:
        return None
    if target.endswith(" (deleted)") or not target.startswith("/"):
        return None
    return target


def _ancestor_agent(proc: Proc, table: ProcessTable,
                    agent_roots: Mapping[int, tuple[str, int]]) -> tuple[str, int, int] | None:
    """The fleet agent whose pane process is an ancestor of ``proc``: (name, pid, start)."""
    seen: set[int] = set()
    cur: Proc | None = table.get(proc.ppid)
    while cur is not None and cur.pid not in seen:
        seen.add(cur.pid)
        hit = agent_roots.get(cur.pid)
        if hit is not None and hit[1] == cur.start:
            return hit[0], cur.pid, cur.start
        if cur.ppid == cur.pid or cur.ppid <= 1:
            return None
        cur = table.get(cur.ppid)
    return None

