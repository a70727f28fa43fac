"""The bench's peers on a handful of the same children: every figure is there and nothing is left running."""

from __future__ import annotations

import psutil
import pytest

from cockpit.bench_peers import CHILD, measure_pm2, measure_supervisord


def _children_left() -> list[int]:
    return [p.pid for p in psutil.process_iter(["cmdline"]) if (p.info["cmdline"] or []) == list(CHILD)]


def test_supervisord_on_three_children_reports_every_figure_and_stops_them():
    pytest.importorskip("supervisor", reason="the bench extra (pip install 'cockpit[bench]') is not installed")
    before = set(_children_left())
    out = measure_supervisord(3, idle_s=0.3)
    assert out["installed"] and out["agents"] == 3
    for name in ("cold_start_s", "idle_pct", "kill_exit_ms", "kill_alive_ms", "kill_verified_ms"):
        assert isinstance(out.get(name), (int, float)), (name, out)
    assert out["kill_verified_ms"] >= 900  # RUNNING again only after startsecs=1
    assert set(_children_left()) <= before  # its children went with it


def test_a_peer_that_is_not_installed_is_said_so(monkeypatch):
    monkeypatch.setattr("shutil.which", lambda _name: None)
    assert measure_pm2(3, idle_s=0.1) == {"peer": "pm2", "installed": False, "why": "pm2 not on PATH"}
