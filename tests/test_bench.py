"""`cockpit bench` at a tiny size: every field is there and the private tmux server is gone (no timing asserts)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time

from cockpit import bench
from cockpit.observe.ports import listening_sockets


def test_tiny_bench_reports_every_field_and_tears_down_its_tmux_server():
    result = asyncio.run(bench.run_bench([3], iterations=3, transcript_mb=0.2, sentinel_s=0.2, naive_full_max=2,
                                         naive_sample=2, events_agents=3, events_idle_s=0.3,
                                         events_peers=False))
    assert result.socket.startswith("cockpit-bench-")
    assert result.torn_down
    assert subprocess.run(["tmux", "-L", result.socket, "list-sessions"], capture_output=True).returncode != 0
    tmpdir = os.environ.get("TMUX_TMPDIR") or "/tmp"
    assert not os.path.exists(os.path.join(tmpdir, f"tmux-{os.getuid()}", result.socket))  # no socket file left
    deadline = time.monotonic() + 5  # the agents got SIGHUP with their panes: their ports close
    ports = set(range(result.port_base, result.port_base + 3))
    while ports & set(listening_sockets()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not ports & set(listening_sockets())

    (size,) = result.sizes
    assert size.agents == 3 and size.up == 3 and size.iterations == 3
    for name in ("scan_median_ms", "scan_p99_ms", "scan_all_captures_median_ms", "observe_median_ms",
                 "loop_max_lag_ms", "peak_rss_mb", "naive_ms", "naive_ratio", "tick_median_ms", "tick_p99_ms"):
        assert getattr(size, name) > 0, name
    # the whole tick, step by step: what SPEC §5 measures, not the scan alone
    assert {"observe", "sessions", "folds", "wrappers", "judge", "plan", "journal"} <= set(size.tick_phases_ms)
    assert size.tick_median_ms >= size.tick_phases_ms["observe"]
    assert size.tmux_processes_per_tick and size.tmux_processes_per_tick_max >= 0
    assert size.naive_extrapolated and size.naive_measured_agents == 2  # sampled above naive_full_max
    assert any("sampled on 2 of 3" in note for note in result.notes)

    t = result.transcript
    for name in ("reader", "big_first_read_ms", "big_tick_median_ms", "small_first_read_ms",
                 "small_tick_median_ms", "flat"):
        assert name in t, name
    for name in ("cpu_ms_per_s", "beats_per_s", "interval_ms"):
        assert name in result.sentinel, name

    targets = {(t["size"], t["metric"]) for t in result.targets}
    assert (100, "scan_median_ms") in targets and (500, "peak_rss_mb") in targets
    assert {(100, "tick_median_ms"), (1000, "tick_median_ms"), (1000, "peak_rss_mb")} <= targets
    assert all(t["met"] is None for t in result.targets if t["size"] in (100, 500, 1000))  # not run at this size

    data = json.loads(json.dumps(result.to_json()))
    assert data["schema"] == 1 and data["sizes"][0]["agents"] == 3 and "all_met" in data
    table = bench.render(result)
    assert "naive/ours" in table and "tick med" in table and "targets:" in table and "torn down" in table

    # SPEC §5's event figures, measured on the same kind of children as the peers (which need the bench extra)
    ours = result.events["cockpit"]
    for name in ("cold_start_s", "idle_pct", "kill_exit_ms", "kill_alive_ms", "kill_verified_ms", "hook_report_ms"):
        assert isinstance(ours.get(name), (int, float)), (name, ours)
    assert ours["throttled_at_start"] == 0
    assert result.events["peers"] == []  # the peers run in the real bench (cockpit.bench_peers has its own test)
    assert "kill -9 -> exit recorded" in table and "hook event -> report" in table
    assert {"idle_pct", "kill_alive_ms", "cold_start_s"} <= {t["metric"] for t in result.targets}


def test_bad_arguments_are_one_line_and_exit_2(capsys):
    assert bench.main(["--sizes", "twenty"]) == 2
    assert "--sizes" in capsys.readouterr().err
    assert bench.main(["--sizes", "0"]) == 2
