"""The hosts benchmark: this cockpit's cost with many simulated hosts (a script, not a test).

``cockpit bench-hosts [--hosts 10] [--agents 100] [--seconds 15]``: ``--hosts`` simulated hosts
(:mod:`cockpit.remote.simhost`, through the local transport :mod:`cockpit.remote.localssh`, one
process per host as one ssh would be), each reporting ``--agents`` agents, to a headless
supervisor. Four runs show what the cost follows: the base (reports every 2 s, local tick 2 s),
the local tick 8× faster (same reports: only the tick's own fixed cost may add), the same with one
agent a host (that added cost must not depend on the rows), and reports 4× as often (the cost
must follow). Printed: the cockpit process's CPU (all threads) as % of a core, reports received
per second, CPU per report, the report latency (sent there → parsed here) and the time until
this cockpit's own report shows it (what the TUI draws), median and p99.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from typing import Any

from cockpit.config import parse_config

LOCALSSH = [sys.executable, "-m", "cockpit.remote.localssh"]
SIMHOST = [sys.executable, "-m", "cockpit.remote.simhost"]


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


async def _run(hosts: int, agents: int, every_s: float, tick_s: float, seconds: float, state: str) -> dict[str, Any]:
    from cockpit.supervisor import Supervisor

    config = parse_config({
        "state": {"dir": state}, "supervisor": {"tick_s": tick_s},
        "hosts": [{"name": f"sim-{h:02d}", "ssh": [*LOCALSSH, "--host", f"sim-{h:02d}"],
                   "cockpit": [*SIMHOST, "--agents", str(agents), "--every", str(every_s)]} for h in range(hosts)]})
    sup = Supervisor(config, read_only=True)
    stop = asyncio.Event()
    try:
        await sup.start()
        await sup.hosts.settled(30)
        deadline = time.monotonic() + 30
        while sum(c.reports for c in sup.hosts.clients.values()) < hosts and time.monotonic() < deadline:
            await asyncio.sleep(0.1)  # every host has reported once: the steady state begins
        reports0 = sum(c.reports for c in sup.hosts.clients.values())
        for c in sup.hosts.clients.values():
            c.latencies.clear()
        ticks0 = sup.tick_no
        shown: list[float] = []   # a host's report sent there → in a report of this cockpit (what the TUI draws)
        seen: dict[str, float | None] = {}
        refreshes = [0]

        def on_report(report: Any) -> None:
            refreshes[0] += 1
            for view in report.hosts:
                if view.last_report_at is not None and seen.get(view.name) != view.last_report_at:
                    seen[view.name] = view.last_report_at
                    shown.append(report.at - view.last_report_at + (view.latency_s or 0.0))

        cpu0, wall0 = time.process_time(), time.monotonic()
        runner = asyncio.create_task(sup.run(stop, on_report=on_report))
        await asyncio.sleep(seconds)
        stop.set()
        await runner
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        reports = sum(c.reports for c in sup.hosts.clients.values()) - reports0
        latencies = [x for c in sup.hosts.clients.values() for x in c.latencies]
        rows = len(sup.last_report.agents) if sup.last_report is not None else 0
        sessions = sum(c.sessions for c in sup.hosts.clients.values())
    finally:
        await sup.close()
    return {"hosts": hosts, "agents_per_host": agents, "report_every_s": every_s, "tick_s": tick_s,
            "seconds": round(wall, 1), "ticks": sup.tick_no - ticks0, "rows": rows, "ssh_sessions": sessions,
            "cpu_pct": round(100.0 * cpu / wall, 2), "reports_per_s": round(reports / wall, 2),
            "cpu_ms_per_report": round(1000.0 * cpu / reports, 3) if reports else None,
            "latency_ms_p50": round(1000 * _percentile(latencies, 0.5), 2),
            "latency_ms_p99": round(1000 * _percentile(latencies, 0.99), 2),
            "shown_ms_p50": round(1000 * _percentile(shown[hosts:], 0.5), 1),
            "shown_ms_p99": round(1000 * _percentile(shown[hosts:], 0.99), 1), "reports_out": refreshes[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cockpit bench-hosts", description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    # the base; 8x the ticks (the cost must not follow); 8x the ticks with 1 agent a host (the ticks' part
    # must not depend on the rows); 4x the reports (the cost must follow)
    runs = (("base", 2.0, 2.0, args.agents), ("ticks x8", 2.0, 0.25, args.agents), ("ticks x8 1/h", 2.0, 0.25, 1),
            ("reports x4", 0.5, 2.0, args.agents))
    results = []
    with tempfile.TemporaryDirectory(prefix="cockpit-bench-hosts-") as state:
        for label, every, tick, agents in runs:
            result = asyncio.run(_run(args.hosts, agents, every, tick, args.seconds, f"{state}/{label}"))
            result["run"] = label
            results.append(result)
            if not args.json:
                print(f"{label:<12} {result['hosts']} hosts x {result['agents_per_host']} agents, reports every "
                      f"{every:g}s, tick {tick:g}s: CPU {result['cpu_pct']:.2f}% of a core, "
                      f"{result['reports_per_s']:.1f} reports/s ({result['cpu_ms_per_report']} ms CPU each), "
                      f"{result['ticks']} ticks, latency p50 {result['latency_ms_p50']} ms p99 "
                      f"{result['latency_ms_p99']} ms, shown p50 {result['shown_ms_p50']} ms p99 "
                      f"{result['shown_ms_p99']} ms, {result['rows']} rows, {result['ssh_sessions']} sessions",
                      flush=True)
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
