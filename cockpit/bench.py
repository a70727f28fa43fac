"""``cockpit bench``: the whole tick, and the scan against the naive one, at 20, 100, 500 and 1000 agents (SPEC §5).

Each fleet lives on a private tmux server (``cockpit-bench-<hex>``, always killed at the
end). An agent is a tiny Python that binds its port and then execs ``sleep``, keeping the
listening socket: one ~1 MB process per agent, so 500 fit on 2 cores, and the port path
(listening AND owned by the agent's own process) is exercised. Windows are created
through the cockpit's own ``TmuxClient`` and tagged ``@cockpit_agent`` as spawn does.

Per size, in one run:
- the whole tick: a real ``Supervisor.tick`` on the fleet (observe, sessions, folds, wrappers,
  judge, plan, act, journal), leader of a throw-away state dir with nothing to fix: median, p99,
  tmux processes started per tick;
- scan: the real ``Observer.observe`` plus a batched capture of the panes whose change
  mark moved (the supervisor's capture policy), N iterations after a warm-up: median, p99;
  and the same with every pane captured every tick (the worst case, for reference);
- the loop's max lag while scanning (a 5 ms timer on the same loop);
- tmux processes started per tick (the control connection is persistent: 0 steady state);
- peak RSS of this process (``ru_maxrss``, so far in the run);
- the naive scan: one libtmux ``capture_pane`` and one psutil port lookup per agent,
  sequentially; above ``naive_full_max`` agents it is sampled on an even subset and
  extrapolated (the output says so); and the ratio naive/ours.
Then the transcript figure (first read vs incremental tick of a 100 MB JSONL transcript,
and the incremental tick of a 1 KB one) and the loop sentinel's idle cost.

``--json`` prints the machine-readable result. Exit 0 when every target is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cockpit.bench_events import evaluate_events, render_events, run_events_bench
from cockpit.config import AgentConfig, ClaudeConfig, CodexConfig, Config, StateConfig, SupervisorConfig, TmuxConfig
from cockpit.observe.loopwatch import LoopWatch
from cockpit.observe.ports import listening_sockets, listening_sockets_netlink, naive_port_lookup
from cockpit.observe.snapshot import Observer
from cockpit.tmux import TmuxClient, exec_argv, kill_server_sync

SCHEMA = 1
SIZES = (20, 100, 500, 1000)
SESSION = "bench"
# Binds the port, marks the socket inheritable and becomes `sleep`: the pane's only process holds it.
_AGENT = (
    "import os,socket,sys\n"
    "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(8); s.set_inheritable(True)\n"
    "os.execvp('sleep', ['sleep', '2147483647'])\n"
)

# (size, metric, comparison, limit, description)
TARGETS = (
    (100, "tick_median_ms", "<=", 15.0, "whole tick median <= 15 ms"),
    (1000, "tick_median_ms", "<=", 150.0, "whole tick median <= 150 ms"),
    (1000, "peak_rss_mb", "<=", 300.0, "peak RSS <= 300 MB"),
    (100, "scan_median_ms", "<=", 15.0, "median scan <= 15 ms"),
    (100, "loop_max_lag_ms", "<=", 20.0, "loop max lag <= 20 ms"),
    (100, "tmux_processes_per_tick_max", "<=", 2, "tmux processes per tick <= 2"),
    (None, "tmux_processes_constant", "==", True, "tmux processes per tick constant in the fleet size"),
    (100, "naive_ratio", ">=", 10.0, ">= 10x faster than the naive scan"),
    (500, "scan_median_ms", "<=", 75.0, "median scan <= 75 ms"),
    (500, "peak_rss_mb", "<=", 250.0, "peak RSS <= 250 MB"),
    (None, "transcript_tick_flat", "==", True, "a 100 MB transcript's tick costs what a 1 KB one's does"),
)


@dataclass
class SizeResult:
    agents: int
    up: int                                   # agents whose port was listening when measured
    iterations: int
    scan_median_ms: float
    scan_p99_ms: float
    scan_all_captures_median_ms: float        # every pane captured every tick (worst case)
    observe_median_ms: float                  # Observer.observe alone
    loop_max_lag_ms: float
    tmux_processes_per_tick: list[int]        # the distinct values seen over the measured ticks
    tmux_processes_per_tick_max: int
    tmux_commands_per_tick_median: float
    captures_per_tick_median: float
    peak_rss_mb: float
    naive_ms: float
    naive_measured_agents: int
    naive_extrapolated: bool
    naive_ratio: float
    proc_method: str = ""
    port_source: str = ""
    tick_median_ms: float = 0.0               # the whole tick (Supervisor.tick), median
    tick_p99_ms: float = 0.0
    tick_tmux_processes_max: int = 0          # tmux processes a whole tick started, at most
    tick_phases_ms: dict[str, float] = field(default_factory=dict)  # median per step of the tick


@dataclass
class BenchResult:
    schema: int = SCHEMA
    machine: dict[str, Any] = field(default_factory=dict)
    sizes: list[SizeResult] = field(default_factory=list)
    transcript: dict[str, Any] = field(default_factory=dict)
    sentinel: dict[str, Any] = field(default_factory=dict)
    events: dict[str, Any] = field(default_factory=dict)  # idle cost, time to truth, cold start, peers (bench_events)
    targets: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    socket: str = ""
    port_base: int = 0                        # agents listen on port_base + i
    torn_down: bool = False
    elapsed_s: float = 0.0

    @property
    def all_met(self) -> bool:
        return all(t["met"] for t in self.targets if t["met"] is not None)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["all_met"] = self.all_met
        return out


# --- small tools -------------------------------------------------------------------------------


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _p(values: Sequence[float], q: float) -> float:
    """The q-quantile (nearest rank): with 100 samples p99 is the second worst."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 1))))
    return ordered[rank - 1]


class LagProbe:
    """A 5 ms timer on the loop; ``max_ms`` is how late it woke at worst."""

    def __init__(self, period_s: float = 0.005) -> None:
        self.period_s = period_s
        self.max_ms = 0.0
        self.samples = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(self.period_s)
            lag = (time.perf_counter() - started - self.period_s) * 1000.0
            self.samples += 1
            if lag > self.max_ms:
                self.max_ms = lag

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="bench-lag-probe")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass


def _free_port_base(count: int, rng: random.Random) -> int:
    """A base port with ``count`` consecutive ports nobody listens on (below the ephemeral range)."""
    table = listening_sockets_netlink()
    used = set(table if table is not None else listening_sockets())
    for _ in range(200):
        base = rng.randrange(20000, 32000 - count)
        if not any(p in used for p in range(base, base + count)):
            return base
    raise RuntimeError(f"no {count} consecutive free ports in 20000-32000")


# --- the fleet ---------------------------------------------------------------------------------


class Fleet:
    """Agents on a private tmux server, grown in place from one size to the next."""

    def __init__(self, socket: str, *, python: str = sys.executable, port_base: int) -> None:
        self.socket = socket
        self.python = python
        self.port_base = port_base
        self.tmux = TmuxClient(("-L", socket))
        self.agents: list[AgentConfig] = []
        self.panes: dict[str, str] = {}  # agent -> pane id

    async def start(self) -> None:
        await self.tmux.connect(start_server=True)
        await self.tmux.run("new-session", "-d", "-s", SESSION, "-n", "idle", "-x", "80", "-y", "24",
                            "sleep", "2147483647")

    async def grow(self, size: int, *, chunk: int = 100) -> None:
        new: list[AgentConfig] = []
        for i in range(len(self.agents), size):
            port = self.port_base + i
            command = (self.python, "-S", "-E", "-c", _AGENT, str(port))
            new.append(AgentConfig(name=f"bench-{i:03d}", command=command, port=port, cwd=Path("/")))
        for start in range(0, len(new), chunk):
            part = new[start:start + chunk]
            created = await self.tmux.run_many(
                ["new-window", "-d", "-P", "-F", "#{pane_id}", "-t", f"={SESSION}:", "-n", a.name, "-c", "/",
                 "--", *exec_argv(a.command)] for a in part)
            tags = []
            for agent, result in zip(part, created):
                if isinstance(result, BaseException) or not result:
                    raise RuntimeError(f"tmux could not create {agent.name}: {result}")
                pane_id = result[0].strip()
                self.panes[agent.name] = pane_id
                tags.append(["set-option", "-p", "-t", pane_id, "@cockpit_agent", agent.name])
            for result in await self.tmux.run_many(tags):
                if isinstance(result, BaseException):
                    raise RuntimeError(f"tmux could not tag a bench pane: {result}")
        self.agents.extend(new)

    async def wait_listening(self, timeout_s: float) -> int:
        """Wait until every agent's port listens; returns how many do."""
        ports = {a.port for a in self.agents}
        deadline = time.monotonic() + timeout_s
        while True:
            table = await asyncio.to_thread(lambda: listening_sockets_netlink() or listening_sockets())
            up = len(ports & set(table))
            if up == len(ports) or time.monotonic() > deadline:
                return up
            await asyncio.sleep(0.1)

    def config(self, size: int) -> Config:
        return Config(tmux=TmuxConfig(socket=self.socket, session=SESSION), agents=tuple(self.agents[:size]))

    async def teardown(self) -> bool:
        """Kill the private server (its panes' processes get SIGHUP) and remove its socket file;
        True when it is gone."""
        try:
            return await self.tmux.kill_server()
        except Exception:  # the control connection failed: the same kill, without it
            return await asyncio.to_thread(kill_server_sync, ("-L", self.socket))


# --- measurements ------------------------------------------------------------------------------


async def measure_scan(fleet: Fleet, size: int, iterations: int, *, warmup: int = 3,
                       pause_s: float = 0.01) -> dict[str, Any]:
    """Our scan: Observer.observe + capture of the panes whose change mark moved, like a tick."""
    config = fleet.config(size)
    observer = Observer(config, fleet.tmux)
    tmux = fleet.tmux
    marks: dict[str, Any] = {}

    async def tick(capture_all: bool) -> tuple[float, float, int, int, int]:
        procs0, cmds0 = tmux.processes_started, tmux.commands_sent
        started = time.perf_counter()
        snapshot = await observer.observe()
        observed = time.perf_counter()
        ids = []
        for obs in snapshot.agents.values():
            pane = obs.pane
            if pane is None:
                continue
            if capture_all or marks.get(pane.pane_id) != pane.change_mark:
                ids.append(pane.pane_id)
            marks[pane.pane_id] = pane.change_mark
        if ids:
            await tmux.capture_many(ids)
        ended = time.perf_counter()
        return ((ended - started) * 1000.0, (observed - started) * 1000.0, tmux.processes_started - procs0,
                tmux.commands_sent - cmds0, len(ids))

    for _ in range(warmup):
        await tick(False)
    probe = LagProbe()
    probe.start()
    walls, observes, procs, cmds, captures = [], [], [], [], []
    try:
        for _ in range(iterations):
            wall, obs_ms, nproc, ncmd, ncap = await tick(False)
            walls.append(wall)
            observes.append(obs_ms)
            procs.append(nproc)
            cmds.append(ncmd)
            captures.append(ncap)
            await asyncio.sleep(pause_s)
        all_walls = []
        for _ in range(max(5, iterations // 5)):
            wall, _, nproc, ncmd, _ = await tick(True)
            all_walls.append(wall)
            procs.append(nproc)
            await asyncio.sleep(pause_s)
    finally:
        await probe.stop()
    snapshot = await observer.observe()
    up = sum(1 for o in snapshot.agents.values() if o.port is not None and o.port.ok)
    return {
        "up": up,
        "scan_median_ms": statistics.median(walls),
        "scan_p99_ms": _p(walls, 0.99),
        "scan_all_captures_median_ms": statistics.median(all_walls),
        "observe_median_ms": statistics.median(observes),
        "loop_max_lag_ms": probe.max_ms,
        "tmux_processes_per_tick": sorted(set(procs)),
        "tmux_processes_per_tick_max": max(procs),
        "tmux_commands_per_tick_median": statistics.median(cmds),
        "captures_per_tick_median": statistics.median(captures),
        "proc_method": observer.reader.last_method,
        "port_source": observer.probe.source,
    }


TICK_PHASES = ("observe", "sessions", "folds", "wrappers", "reminders_read", "judge", "plan", "act", "journal")


def tick_config(fleet: Fleet, size: int, workdir: Path) -> Config:
    """The fleet's config for a real supervisor: its own state, Claude and Codex dirs (never the user's),
    nothing to fix automatically (the bench started the agents; a tick only finds them healthy)."""
    base = fleet.config(size)
    return Config(tmux=base.tmux, agents=base.agents, state=StateConfig(dir=workdir / "state"),
                  claude=ClaudeConfig(config_dir=workdir / "claude"), codex=CodexConfig(home=workdir / "codex"),
                  supervisor=SupervisorConfig(auto_respawn=False, auto_reap=False))


async def measure_tick(fleet: Fleet, size: int, iterations: int, workdir: Path, *, warmup: int = 3,
                       pause_s: float = 0.01) -> dict[str, Any]:
    """The whole tick: ``Supervisor.tick`` as the leader (observe, sessions, folds, wrappers, judge,
    plan, act, journal), wall time per tick; and the median of each step."""
    from cockpit.supervisor import Supervisor  # the bench's scan figures do not need it loaded

    sup = Supervisor(tick_config(fleet, size, workdir), actor="bench")
    walls: list[float] = []
    procs: list[int] = []
    phases: dict[str, list[float]] = {}
    try:
        await sup.start()
        for i in range(warmup + iterations):
            started = time.perf_counter()
            report = await sup.tick()
            wall = (time.perf_counter() - started) * 1000.0
            if i >= warmup:
                walls.append(wall)
                procs.append(report.load.tmux_processes if report.load is not None else 0)
                for name, ms in sup.phases_ms.items():
                    phases.setdefault(name, []).append(ms)
            await asyncio.sleep(pause_s)
    finally:
        await sup.close()
    return {"tick_median_ms": statistics.median(walls), "tick_p99_ms": _p(walls, 0.99),
            "tick_tmux_processes_max": max(procs),
            "tick_phases_ms": {name: round(statistics.median(phases[name]), 3)
                               for name in (*TICK_PHASES, *sorted(set(phases) - set(TICK_PHASES))) if name in phases}}


def naive_scan(socket: str, targets: Sequence[tuple[str, int]], total: int) -> tuple[float, int, bool]:
    """The naive way, sequentially: one libtmux capture_pane and one psutil port lookup per agent.

    Measures ``targets`` (a subset when ``len(targets) < total``) and extrapolates to ``total``.
    Returns (milliseconds for the whole fleet, agents measured, extrapolated).
    """
    import libtmux

    server = libtmux.Server(socket_name=socket)
    started = time.perf_counter()
    panes = {p.pane_id: p for p in server.panes}
    listed = time.perf_counter() - started
    per_agent = []
    for pane_id, port in targets:
        t0 = time.perf_counter()
        pane = panes.get(pane_id)
        if pane is not None:
            pane.capture_pane()
        naive_port_lookup(port)
        per_agent.append(time.perf_counter() - t0)
    extrapolated = len(targets) < total
    total_s = listed + (statistics.mean(per_agent) * total if per_agent else 0.0)
    return total_s * 1000.0, len(targets), extrapolated


def _transcript_reader(path: Path) -> tuple[str, Callable[[], Any]]:
    """The transcript reader to measure: cockpit.observe.transcripts' incremental Claude reader when
    present, else the minimal incremental JSONL tail (cockpit.registry.Tail). Returns (name, read)."""
    try:
        from cockpit.observe.transcripts import ClaudeTranscriptReader
    except ImportError:
        ClaudeTranscriptReader = None  # noqa: N806
    if ClaudeTranscriptReader is not None:
        reader = ClaudeTranscriptReader(path, full=True)
        return "cockpit.observe.transcripts.ClaudeTranscriptReader.update", reader.update
    from cockpit.registry import Tail

    tail = Tail(path)
    return "cockpit.registry.Tail.read_new (cockpit.observe.transcripts not available)", tail.read_new


def _record(kind: str, n: int, message: dict[str, Any]) -> str:
    return json.dumps({
        "parentUuid": None, "isSidechain": False, "type": kind, "message": message,
        "uuid": f"{n:08x}-0000-4000-8000-{secrets.token_hex(6)}", "timestamp": "2026-01-01T00:00:00.000Z",
        "userType": "external", "cwd": "/bench", "sessionId": "bench", "version": "2.1.197",
    }, separators=(",", ":")) + "\n"


def _write_transcript(path: Path, size_bytes: int) -> int:
    """A Claude-Code-shaped transcript of about ``size_bytes``: user and assistant turns."""
    filler = "lorem ipsum dolor sit amet " * 30
    lines = 0
    written = 0
    with open(path, "w", encoding="utf-8") as fh:
        while written < size_bytes:
            if lines % 2 == 0:
                line = _record("user", lines, {"role": "user", "content": f"turn {lines}: {filler}"})
            else:
                line = _record("assistant", lines, {"id": f"msg_{lines}", "role": "assistant", "model": "m",
                                                    "content": [{"type": "text", "text": filler}]})
            fh.write(line)
            written += len(line)
            lines += 1
    return lines


def _append_turn(path: Path) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(_record("user", 0, {"role": "user", "content": "next"}))
        fh.write(_record("assistant", 1, {"id": "msg_next", "role": "assistant", "model": "m",
                                          "content": [{"type": "text", "text": "done"}]}))


def measure_transcript(directory: Path, size_mb: float, repeats: int = 20) -> dict[str, Any]:
    """First read vs incremental tick of a big transcript, and the incremental tick of a 1 KB one."""
    big, small = directory / "big.jsonl", directory / "small.jsonl"
    size = int(size_mb * 1024 * 1024)
    _write_transcript(big, size)
    _write_transcript(small, 1024)
    out: dict[str, Any] = {"size_mb": round(big.stat().st_size / 1024 / 1024, 1)}
    for label, path in (("big", big), ("small", small)):
        name, read_new = _transcript_reader(path)
        t0 = time.perf_counter()
        read_new()
        first = (time.perf_counter() - t0) * 1000.0
        ticks = []
        for _ in range(repeats):
            _append_turn(path)
            t0 = time.perf_counter()
            read_new()
            ticks.append((time.perf_counter() - t0) * 1000.0)
        out["reader"] = name
        out[f"{label}_first_read_ms"] = first
        out[f"{label}_tick_median_ms"] = statistics.median(ticks)
    big.unlink()
    small.unlink()
    # flat: the 100 MB tick within 3x (and 0.5 ms) of the 1 KB tick; a re-read would cost the first read
    out["flat"] = out["big_tick_median_ms"] <= max(3 * out["small_tick_median_ms"], out["small_tick_median_ms"] + 0.5)
    return out


async def measure_sentinel(seconds: float = 2.0, loop_block_ms: int = 250) -> dict[str, Any]:
    """The loop sentinel's idle cost: process CPU per second with and without it."""
    await asyncio.sleep(0.1)
    c0 = time.process_time()
    await asyncio.sleep(seconds)
    base = (time.process_time() - c0) / seconds
    watch = LoopWatch(loop_block_ms).start()
    await asyncio.sleep(0.1)
    beats0, c0 = watch.beats, time.process_time()
    await asyncio.sleep(seconds)
    used = (time.process_time() - c0) / seconds
    beats = (watch.beats - beats0) / seconds
    watch.stop()
    return {"loop_block_ms": loop_block_ms, "interval_ms": watch.interval_s * 1000.0,
            "cpu_ms_per_s": max(0.0, used - base) * 1000.0, "baseline_cpu_ms_per_s": base * 1000.0,
            "beats_per_s": beats, "sentinel_thread_cpu_ms": watch.cpu_ms}


# --- the run -----------------------------------------------------------------------------------


async def run_bench(sizes: Sequence[int] = SIZES, *, iterations: int = 100, naive_full_max: int = 100,
                    naive_sample: int = 50, transcript_mb: float = 100.0, sentinel_s: float = 2.0,
                    log: Callable[[str], Any] | None = None, seed: int | None = None,
                    events_agents: int = 100, events_idle_s: float = 20.0, events_peers: bool = True) -> BenchResult:
    """The whole benchmark; the private tmux server is torn down whatever happens."""
    sizes = sorted(set(int(s) for s in sizes))
    say = log or (lambda _msg: None)
    rng = random.Random(seed)
    started = time.monotonic()
    result = BenchResult()
    result.machine = {"cpus": os.cpu_count(), "python": platform.python_version(),
                      "tmux": _tmux_version(), "platform": platform.platform()}
    say("sentinel idle cost...")
    result.sentinel = await measure_sentinel(sentinel_s)
    socket = f"cockpit-bench-{secrets.token_hex(4)}"
    result.socket = socket
    fleet = Fleet(socket, port_base=_free_port_base(max(sizes), rng))
    result.port_base = fleet.port_base
    workdir = Path(tempfile.mkdtemp(prefix="cockpit-bench-tick-"))
    try:
        await fleet.start()
        for size in sizes:
            say(f"{size} agents: spawning...")
            await fleet.grow(size)
            up = await fleet.wait_listening(timeout_s=30.0 + size * 0.2)
            if up < size:
                result.notes.append(f"{size} agents: only {up} listening after the wait")
            say(f"{size} agents: whole tick x{iterations}...")
            tick = await measure_tick(fleet, size, iterations, workdir / f"tick-{size}")
            say(f"{size} agents: scanning x{iterations}...")
            scan = await measure_scan(fleet, size, iterations)
            peak = _peak_rss_mb()
            agents = fleet.agents[:size]
            if size > naive_full_max:
                step = max(1, size // naive_sample)
                chosen = agents[::step][:naive_sample]
            else:
                chosen = agents
            say(f"{size} agents: naive scan over {len(chosen)} agents...")
            targets = [(fleet.panes[a.name], a.port or 0) for a in chosen]
            naive_ms, measured, extrapolated = await asyncio.to_thread(naive_scan, socket, targets, size)
            if extrapolated:
                result.notes.append(f"{size} agents: naive scan sampled on {measured} of {size} agents "
                                    f"(every {size // max(measured, 1)}th) and extrapolated")
            result.sizes.append(SizeResult(
                agents=size, up=scan["up"], iterations=iterations,
                scan_median_ms=scan["scan_median_ms"], scan_p99_ms=scan["scan_p99_ms"],
                scan_all_captures_median_ms=scan["scan_all_captures_median_ms"],
                observe_median_ms=scan["observe_median_ms"], loop_max_lag_ms=scan["loop_max_lag_ms"],
                tmux_processes_per_tick=scan["tmux_processes_per_tick"],
                tmux_processes_per_tick_max=max(scan["tmux_processes_per_tick_max"], tick["tick_tmux_processes_max"]),
                tmux_commands_per_tick_median=scan["tmux_commands_per_tick_median"],
                captures_per_tick_median=scan["captures_per_tick_median"],
                peak_rss_mb=peak, naive_ms=naive_ms, naive_measured_agents=measured,
                naive_extrapolated=extrapolated,
                naive_ratio=naive_ms / scan["scan_median_ms"] if scan["scan_median_ms"] > 0 else 0.0,
                proc_method=scan["proc_method"], port_source=scan["port_source"], **tick,
            ))
    finally:
        say("tearing down the tmux server...")
        result.torn_down = await fleet.teardown()
        shutil.rmtree(workdir, ignore_errors=True)
    say(f"transcript: {transcript_mb:g} MB...")
    tmp = Path(tempfile.mkdtemp(prefix="cockpit-bench-"))
    try:
        result.transcript = await asyncio.to_thread(measure_transcript, tmp, transcript_mb)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not result.transcript.get("reader", "").startswith("cockpit.observe.transcripts"):
        result.notes.append("transcript measured with cockpit.registry.Tail: cockpit.observe.transcripts "
                            "has no incremental reader here")
    if events_agents > 0:  # SPEC §5: idle cost, time to truth, cold start, and the peers on the same children
        result.events = await run_events_bench(events_agents, idle_s=events_idle_s, peers=events_peers, log=say)
    result.targets = evaluate(result) + evaluate_events(result.events)
    result.elapsed_s = time.monotonic() - started
    return result


def _tmux_version() -> str:
    try:
        return subprocess.run(["tmux", "-V"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def evaluate(result: BenchResult) -> list[dict[str, Any]]:
    by_size = {s.agents: s for s in result.sizes}
    per_tick = [s.tmux_processes_per_tick_max for s in result.sizes]
    out = []
    for size, metric, op, limit, text in TARGETS:
        value: Any
        if metric == "tmux_processes_constant":
            value = len(set(per_tick)) <= 1 if per_tick else None
        elif metric == "transcript_tick_flat":
            value = result.transcript.get("flat")
        else:
            row = by_size.get(size)  # type: ignore[arg-type]
            value = getattr(row, metric) if row is not None else None
        if value is None:
            met = None  # that size was not run
        elif op == "<=":
            met = value <= limit
        elif op == ">=":
            met = value >= limit
        else:
            met = value == limit
        out.append({"size": size, "metric": metric, "target": text, "value": value, "met": met})
    return out


# --- output ------------------------------------------------------------------------------------


def _ms(value: float) -> str:
    return f"{value:.2f} ms"


# The table, one column per entry (title, width, cell): a new figure is one more line here.
COLUMNS: list[tuple[str, int, Callable[[SizeResult], str]]] = [
    ("agents", 6, lambda s: str(s.agents)),
    ("up", 4, lambda s: str(s.up)),
    ("tick med", 9, lambda s: _ms(s.tick_median_ms)),
    ("p99", 9, lambda s: _ms(s.tick_p99_ms)),
    ("scan med", 9, lambda s: _ms(s.scan_median_ms)),
    ("p99", 9, lambda s: _ms(s.scan_p99_ms)),
    ("+all capt", 9, lambda s: _ms(s.scan_all_captures_median_ms)),
    ("loop lag", 9, lambda s: _ms(s.loop_max_lag_ms)),
    ("tmux/tick", 9, lambda s: "/".join(str(p) for p in sorted({*s.tmux_processes_per_tick,
                                                                 s.tick_tmux_processes_max}))),
    ("cmds", 5, lambda s: f"{s.tmux_commands_per_tick_median:.0f}"),
    ("peak RSS", 9, lambda s: f"{s.peak_rss_mb:.1f} MB"),
    ("naive", 10, lambda s: f"{s.naive_ms:,.0f} ms" + ("*" if s.naive_extrapolated else "")),
    ("naive/ours", 10, lambda s: f"{s.naive_ratio:.0f}x"),
]


def render(result: BenchResult) -> str:
    m = result.machine
    lines = [f"cockpit bench: {m.get('cpus')} CPUs, {m.get('tmux')}, Python {m.get('python')}; "
             f"private tmux server {result.socket} ({'torn down' if result.torn_down else 'NOT torn down'})", ""]
    lines.append(" ".join(f"{title:>{width}}" for title, width, _ in COLUMNS))
    for row in result.sizes:
        lines.append(" ".join(f"{cell(row):>{width}}" for _, width, cell in COLUMNS))
    if any(s.naive_extrapolated for s in result.sizes):
        lines.append("  * naive scan sampled on a subset and extrapolated (see notes)")
    lines.append(f"  tick = the whole Supervisor.tick, median/p99 of {result.sizes[0].iterations if result.sizes else 0}; "
                 f"scan = Observer.observe + capture of changed panes; +all capt = every pane captured each tick")
    for row in result.sizes:
        if row.tick_phases_ms:
            steps = ", ".join(f"{name} {ms:.2f}" for name, ms in row.tick_phases_ms.items())
            lines.append(f"  {row.agents} agents, tick steps (median ms): {steps}")
    t = result.transcript
    if t:
        lines += ["", f"transcript ({t['reader']}): {t['size_mb']} MB first read {t['big_first_read_ms']:.0f} ms, "
                      f"incremental tick {t['big_tick_median_ms']:.3f} ms; 1 KB transcript tick "
                      f"{t['small_tick_median_ms']:.3f} ms"]
    s = result.sentinel
    if s:
        lines.append(f"loop sentinel idle cost: {s['cpu_ms_per_s']:.2f} ms CPU per second "
                     f"({s['cpu_ms_per_s'] / 10:.2f}% of a core; {s['beats_per_s']:.0f} beats/s at "
                     f"{s['interval_ms']:.0f} ms, loop_block_ms {s['loop_block_ms']})")
    lines += render_events(result.events)
    lines += ["", "targets:"]
    for target in result.targets:
        where = f"{target['size']} agents: " if target["size"] else ""
        value = target["value"]
        shown = f"{value:.2f}" if isinstance(value, float) else str(value)
        verdict = {True: "met   ", False: "MISSED", None: "n/a   "}[target["met"]]
        lines.append(f"  [{verdict}] {where}{target['target']} (measured {shown})")
    for note in result.notes:
        lines.append(f"note: {note}")
    lines.append(f"elapsed {result.elapsed_s:.0f} s")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cockpit bench",
                                     description="SPEC §5: the whole tick, and the scan against the naive scan.")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)),
                        help=f"fleet sizes (default {','.join(map(str, SIZES))})")
    parser.add_argument("--iterations", type=int, default=100, help="measured ticks per size (default 100)")
    parser.add_argument("--transcript-mb", type=float, default=100.0, help="big transcript size (default 100)")
    parser.add_argument("--events-agents", type=int, default=100,
                        help="agents for idle cost, time to truth, cold start and the peers (default 100; 0 skips)")
    parser.add_argument("--idle-s", type=float, default=20.0, help="the idle window, seconds (default 20)")
    return parser


def run(json_out: bool = False, sizes: Sequence[int] = SIZES, iterations: int = 100,
        transcript_mb: float = 100.0, events_agents: int = 100, idle_s: float = 20.0) -> int:
    """``cockpit bench [--json]``: prints the table (or JSON); 0 when every target is met."""
    log = (lambda msg: print(f"bench: {msg}", file=sys.stderr, flush=True)) if sys.stderr.isatty() else None
    result = asyncio.run(run_bench(sizes, iterations=iterations, transcript_mb=transcript_mb, log=log,
                                   events_agents=events_agents, events_idle_s=idle_s))
    print(json.dumps(result.to_json(), indent=2) if json_out else render(result))
    return 0 if result.all_met else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        print(f"cockpit bench: --sizes: expected comma-separated integers, got {args.sizes!r}", file=sys.stderr)
        return 2
    if not sizes or min(sizes) < 1 or args.iterations < 1:
        print("cockpit bench: --sizes and --iterations must be positive", file=sys.stderr)
        return 2
    return run(args.json, sizes, args.iterations, args.transcript_mb, max(0, args.events_agents), args.idle_s)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
