"""``cockpit bench``'s event figures (SPEC §5): idle cost, time to truth, cold start, and the peers.

One fleet of N agents (default 100), each the same child the peers supervise
(``sleep 2147483647``), is supervised by a real ``Supervisor.run`` in this process, with the
default tick and supervisor settings, on a private tmux server and a throw-away state dir:

- cold start: from ``run`` to every agent's ``spawned`` row (verified);
- idle cost: this process's CPU time (all threads) over a steady window, as % of one core;
- kill -9 of an agent healthy for ≥ min_uptime_s → its ``exit`` row; → the new child alive
  (when tmux gave the new pane's pid); → the new child verified (its ``spawned`` row);
- a hook event (``cockpit hook`` run as an agent's hook runs it) → the report that shows it:
  from the relay's start and from its arrival at the socket.

Then supervisord (and pm2 when on PATH) on N of the same children, the same kill, the same idle
window (cockpit.bench_peers), and the ratios cockpit / peer.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

from cockpit.act.hook_settings import hook_program
from cockpit.bench_peers import CHILD, measure_pm2, measure_supervisord
from cockpit.config import parse_config
from cockpit.registry import Registry

__all__ = ["EVENT_TARGETS", "evaluate_events", "measure_events", "render_events", "run_events_bench"]

# (metric, comparison, limit, description) over the events result
EVENT_TARGETS = (
    ("idle_pct", "<=", 0.3, "idle cost, 100 agents, default tick <= 0.3% of a core"),
    ("idle_vs_supervisord", "<=", 3.0, "idle cost <= 3x supervisord's on the same children"),
    ("kill_exit_ms", "<=", 100.0, "kill -9 -> exit row <= 100 ms"),
    ("kill_alive_ms", "<=", 150.0, "kill -9 -> new child alive <= 150 ms"),
    ("kill_verified_slack_ms", "<=", 500.0, "kill -9 -> new child verified <= min_uptime_s + 0.5 s"),
    ("cold_start_s", "<=", 15.0, "cold start of 100 agents -> all verified <= 15 s"),
    ("hook_report_ms", "<=", 250.0, "hook event -> report <= 250 ms"),
    ("hook_relay_ms", "<=", 300.0, "cockpit hook starts and relays <= 300 ms"),
)


class _RowWatch:
    """A thread that polls the registry every 2 ms and stamps when each wanted row appears."""

    def __init__(self, path: Path) -> None:
        self.tail = Registry(path).tail()
        self.seen: list[tuple[float, dict[str, Any]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-rows", daemon=True)

    def __enter__(self) -> "_RowWatch":
        self.tail.read_new()  # from now on
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)
        self.tail.close()

    def _run(self) -> None:
        while not self._stop.wait(0.002):
            rows = self.tail.read_new().rows
            now = time.monotonic()
            self.seen += [(now, r) for r in rows]

    def first(self, event: str, agent: str, timeout_s: float) -> float | None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for at, row in list(self.seen):
                if row.get("event") == event and row.get("agent") == agent:
                    return at
            time.sleep(0.005)
        return None


def _config(root: Path, socket: str, n: int) -> Any:
    return parse_config({
        "tmux": {"socket": socket, "session": "bench"}, "state": {"dir": str(root / "state")},
        "claude": {"config_dir": str(root / "claude")},
        "agents": [{"name": f"b{i:03d}", "command": list(CHILD), "cwd": "/"} for i in range(n)],
    })


def _registry_count(path: Path, event: str) -> int:
    return sum(1 for r in Registry(path).read_all().rows if r.get("event") == event)


async def _wait(predicate: Callable[[], Any], timeout_s: float, interval_s: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = await asyncio.to_thread(predicate)
        if value:
            return value
        await asyncio.sleep(interval_s)
    return None


async def measure_events(n: int = 100, *, idle_s: float = 20.0, log: Callable[[str], Any] = lambda _m: None
                         ) -> dict[str, Any]:
    """The cockpit's own figures on ``n`` agents (see the module docstring)."""
    from cockpit.supervisor import Supervisor  # the bench's scan part does not need the whole supervisor

    root = Path(tempfile.mkdtemp(prefix="cockpit-bench-events-"))
    socket = f"cockpit-bench-{secrets.token_hex(4)}"
    config = _config(root, socket, n)
    sup = Supervisor(config)
    alive_at: dict[str, float] = {}
    spawn_window = sup.tmux.spawn_window

    async def stamped(session: str, name: str, *args: Any, **kwargs: Any) -> Any:
        pane = await spawn_window(session, name, *args, **kwargs)
        alive_at[name] = time.monotonic()  # tmux has forked the new child and given its pid
        return pane
    sup.tmux.spawn_window = stamped  # type: ignore[method-assign]
    reports: list[tuple[float, Any]] = []
    arrived: dict[str, float] = {}
    on_hook = sup._on_hook

    def hook_seen(row: Any) -> None:
        arrived.setdefault(str(row.get("agent")), time.monotonic())
        on_hook(row)
    sup.events.listener.on_event = hook_seen
    stop = asyncio.Event()
    out: dict[str, Any] = {"agents": n, "tick_s": config.supervisor.tick_s,
                           "min_uptime_s": config.supervisor.min_uptime_s}
    registry = config.state.registry
    started = time.monotonic()
    task = asyncio.create_task(sup.run(stop, on_report=lambda r: reports.append((time.monotonic(), r))))
    try:
        log(f"events: cold start of {n} agents...")
        done = await _wait(lambda: _registry_count(registry, "spawned") >= n, 120.0)
        out["cold_start_s"] = round(time.monotonic() - started, 3) if done else None
        out["throttled_at_start"] = sum(1 for _, r in reports for f in r.findings if f.kind == "cleanup_throttled")
        await asyncio.sleep(2 * config.supervisor.tick_s + 1.0)  # steady: every verification settled
        log(f"events: idle {idle_s:g}s at tick {config.supervisor.tick_s:g}s...")
        cpu0, wall0, ticks0 = time.process_time(), time.monotonic(), sup.tick_no
        await asyncio.sleep(idle_s)
        out["idle_pct"] = round((time.process_time() - cpu0) / (time.monotonic() - wall0) * 100.0, 4)
        out["idle_ticks"] = sup.tick_no - ticks0
        out.update(await _kill(sup, registry, alive_at, config.supervisor.min_uptime_s, log))
        out.update(await _hook(sup, config, reports, arrived, log))
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, 30)
        except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - the bench reports what it measured
            task.cancel()
        await sup.close()
        await asyncio.to_thread(subprocess.run, ["tmux", "-L", socket, "kill-server"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
    return out


async def _kill(sup: Any, registry: Path, alive_at: dict[str, float], min_uptime_s: float,
                log: Callable[[str], Any]) -> dict[str, Any]:
    name = "b000"
    row = sup.view.open_spawn(name)
    if row is None or not isinstance(row.get("pid"), int):
        return {"kill_error": f"{name} has no verified process to kill"}
    log(f"events: kill -9 of {name} (pid {row['pid']})...")
    alive_at.pop(name, None)
    with _RowWatch(registry) as rows:
        killed = time.monotonic()
        os.kill(row["pid"], signal.SIGKILL)
        exit_at = await asyncio.to_thread(rows.first, "exit", name, 10.0)
        verified_at = await asyncio.to_thread(rows.first, "spawned", name, 15.0)
    out: dict[str, Any] = {
        "kill_exit_ms": round((exit_at - killed) * 1000, 1) if exit_at else None,
        "kill_alive_ms": round((alive_at[name] - killed) * 1000, 1) if name in alive_at else None,
        "kill_verified_ms": round((verified_at - killed) * 1000, 1) if verified_at else None,
    }
    if verified_at:
        out["kill_verified_slack_ms"] = round(out["kill_verified_ms"] - min_uptime_s * 1000, 1)
    return out


async def _hook(sup: Any, config: Any, reports: list[tuple[float, Any]], arrived: dict[str, float],
                log: Callable[[str], Any]) -> dict[str, Any]:
    name = "b001"
    log(f"events: a UserPromptSubmit hook of {name}...")
    env = {**os.environ, "COCKPIT_AGENT": name, "COCKPIT_EVENTS": str(config.state.events_socket)}
    payload = json.dumps({"hook_event_name": "UserPromptSubmit", "session_id": "bench", "prompt": "bench"})
    program = hook_program()
    since = len(reports)
    t0 = time.monotonic()
    proc = await asyncio.create_subprocess_exec(*program, "hook", stdin=asyncio.subprocess.PIPE,
                                                stdout=asyncio.subprocess.DEVNULL, env=env)
    await proc.communicate(payload.encode())
    relayed = time.monotonic()

    def shown() -> float | None:
        for at, report in reports[since:]:
            if any(a.name == name and a.status == "working" for a in report.agents):
                return at
        return None
    deadline = time.monotonic() + 5.0
    while (at := shown()) is None and time.monotonic() < deadline:
        await asyncio.sleep(0.002)
    if at is None or name not in arrived:
        return {"hook_error": "the report never showed the hook's status"}
    return {"hook_relay_ms": round((relayed - t0) * 1000, 1), "hook_report_ms": round((at - arrived[name]) * 1000, 1),
            "hook_start_to_report_ms": round((at - t0) * 1000, 1)}


async def run_events_bench(n: int = 100, *, idle_s: float = 20.0, peers: bool = True,
                           log: Callable[[str], Any] = lambda _m: None) -> dict[str, Any]:
    """The cockpit's figures, then each peer's on the same children; ratios cockpit / peer."""
    result: dict[str, Any] = {"cockpit": await measure_events(n, idle_s=idle_s, log=log), "peers": []}
    if peers:
        for measure in (measure_supervisord, measure_pm2):
            result["peers"].append(await asyncio.to_thread(measure, n, idle_s=idle_s, log=log))
    ours = result["cockpit"]
    for peer in result["peers"]:
        ratios = {}
        for key in ("idle_pct", "kill_exit_ms", "kill_alive_ms", "kill_verified_ms", "cold_start_s"):
            a, b = ours.get(key), peer.get(key)
            if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b > 0:
                ratios[key] = round(a / b, 2)
        peer["ratio"] = ratios  # cockpit / peer: below 1 is better than the peer
    sv = next((p for p in result["peers"] if p.get("peer") == "supervisord" and p.get("installed")), None)
    if sv is not None and "idle_pct" in sv.get("ratio", {}):
        ours["idle_vs_supervisord"] = sv["ratio"]["idle_pct"]
    return result


def evaluate_events(result: dict[str, Any]) -> list[dict[str, Any]]:
    ours = result.get("cockpit") or {}
    out = []
    for metric, op, limit, text in EVENT_TARGETS:
        value = ours.get(metric)
        met = None if value is None else (value <= limit if op == "<=" else value >= limit)
        out.append({"size": None, "metric": metric, "target": text, "value": value, "met": met})
    return out


def _fmt(value: Any, unit: str) -> str:
    return "-" if value is None else f"{value:g} {unit}".strip()


def render_events(result: dict[str, Any]) -> list[str]:
    if not result:
        return []
    ours = result.get("cockpit") or {}
    rows = [("idle CPU (% of a core)", "idle_pct", "%"), ("kill -9 -> exit recorded", "kill_exit_ms", "ms"),
            ("kill -9 -> new child alive", "kill_alive_ms", "ms"), ("kill -9 -> verified", "kill_verified_ms", "ms"),
            ("cold start -> all verified", "cold_start_s", "s")]
    peers = [p for p in result.get("peers", []) if p.get("installed")]
    head = f"{'':30} {'cockpit':>12}" + "".join(f" {p['peer']:>12} {'ratio':>7}" for p in peers)
    lines = ["", f"events ({ours.get('agents')} agents of `{' '.join(CHILD)}`, tick {ours.get('tick_s')} s, "
                 f"same children, same kill, same idle window):", head]
    for label, key, unit in rows:
        line = f"{label:30} {_fmt(ours.get(key), unit):>12}"
        for p in peers:
            ratio = p.get("ratio", {}).get(key)
            line += f" {_fmt(p.get(key), unit):>12} {('x%.2f' % ratio) if ratio is not None else '-':>7}"
        lines.append(line)
    lines.append(f"{'hook event -> report':30} {_fmt(ours.get('hook_report_ms'), 'ms'):>12}  (from the relay's "
                 f"start: {_fmt(ours.get('hook_start_to_report_ms'), 'ms')}; relay {_fmt(ours.get('hook_relay_ms'), 'ms')})")
    for p in result.get("peers", []):
        if not p.get("installed"):
            lines.append(f"  {p['peer']}: {p.get('why')}")
        elif p.get("error"):
            lines.append(f"  {p['peer']}: {p['error']}")
    return lines


if __name__ == "__main__":  # pragma: no cover - `python -m cockpit.bench_events [N]`
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    res = asyncio.run(run_events_bench(count, log=lambda m: print(f"bench: {m}", file=sys.stderr, flush=True)))
    print("\n".join(render_events(res)))
    print(json.dumps(res, indent=2))
