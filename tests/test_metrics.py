"""[metrics]: the series of SPEC §10, scraped over HTTP and read from the textfile with prometheus_client's parser."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
import stat
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from cockpit.config import parse_config
from cockpit.judge.blocks import TickLoad
from cockpit.metrics import FleetMetrics, MetricsExporter
from cockpit.registry import Journal
from cockpit.tui.fixture import fixture_report

SERIES = {  # name as the parser reports it (counters without _total) -> type
    "cockpit_agents": "gauge", "cockpit_agent_up": "gauge", "cockpit_agent_restarts": "counter",
    "cockpit_findings": "gauge", "cockpit_tick_seconds": "histogram", "cockpit_loop_lag_seconds": "gauge",
    "cockpit_loop_blocks": "counter", "cockpit_actions": "counter", "cockpit_reminders": "gauge",
    "cockpit_agent_tokens": "counter",
}


def report(wall_ms: float = 12.0, lag_ms: float = 40.0):
    load = TickLoad(wall_ms=wall_ms, cpu_ms=1.0, tmux_processes=0, tmux_commands=1, shed=())
    return dataclasses.replace(fixture_report(lag_ms=lag_ms), load=load)


def parse(text: str) -> dict[str, object]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def samples(families: dict, name: str) -> dict[tuple, float]:
    return {tuple(sorted(s.labels.items())): s.value for s in families[name].samples if s.name == name
            or s.name == name + "_total"}


def cfg(tmp_path: Path, **metrics):
    return parse_config({"state": {"dir": str(tmp_path / "state")}, "metrics": metrics})


def run_ticks(exporter: MetricsExporter, reports, leader: bool = True) -> None:
    async def go() -> None:
        for r in reports:
            await exporter.after_tick(r, leader=leader)
    asyncio.run(go())


def test_the_endpoint_serves_exactly_the_spec_series_on_its_own_registry(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "state" / "journal.jsonl")
    journal.record("action", agent="old", action="respawn", result="verified", summary="before this cockpit")
    exporter = MetricsExporter(cfg(tmp_path, listen="127.0.0.1:0"), journal.path)
    try:
        run_ticks(exporter, [report(wall_ms=3.0)])
        journal.record("action", agent="api", action="respawn", result="verified", summary="respawned")
        journal.record("action", agent="docs", action="repoint", result="failed", summary="repoint failed")
        run_ticks(exporter, [report(wall_ms=300.0)])
        assert exporter.server.server_address[0] == "127.0.0.1"
        body = urllib.request.urlopen(f"http://127.0.0.1:{exporter.port}/metrics", timeout=5).read().decode()
    finally:
        exporter.close()
    families = parse(body)
    assert {n: f.type for n, f in families.items()} == SERIES  # nothing else: not the process/gc defaults
    agents = fixture_report().agents
    up = samples(families, "cockpit_agent_up")
    assert len(up) == len(agents) and all(dict(k)["host"] == "" for k in up)
    states = samples(families, "cockpit_agents")
    assert sum(states.values()) == len(agents)
    findings = samples(families, "cockpit_findings")
    assert sum(findings.values()) == len(fixture_report().findings)
    hist = {s.labels.get("le"): s.value for s in families["cockpit_tick_seconds"].samples if s.name.endswith("_bucket")}
    assert hist["0.005"] == 1 and hist["0.25"] == 1 and hist["0.5"] == 2 and hist["+Inf"] == 2
    assert samples(families, "cockpit_loop_lag_seconds")[()] == pytest.approx(0.04)
    actions = samples(families, "cockpit_actions")
    assert actions == {(("action", "repoint"), ("result", "failed")): 1.0,
                       (("action", "respawn"), ("result", "verified")): 1.0}
    blocks = samples(families, "cockpit_loop_blocks")
    assert sum(blocks.values()) == len(fixture_report().blocks)  # counted once though seen in two ticks


def test_the_textfile_is_rewritten_atomically_each_tick_and_parses(tmp_path: Path) -> None:
    textfile = tmp_path / "textfile" / "cockpit.prom"
    textfile.parent.mkdir()
    exporter = MetricsExporter(cfg(tmp_path, textfile=str(textfile)))
    run_ticks(exporter, [report()])
    first = textfile.stat().st_ino
    run_ticks(exporter, [report()])
    assert textfile.stat().st_ino != first  # replaced, never rewritten in place
    assert stat.S_IMODE(textfile.stat().st_mode) == 0o644  # node_exporter reads it as its own user
    assert os.listdir(textfile.parent) == ["cockpit.prom"]  # no temp file left behind
    families = parse(textfile.read_text())
    assert set(families) == set(SERIES)
    assert families["cockpit_tick_seconds"].samples[-1].value == pytest.approx(0.024)  # _sum of two 12 ms ticks
    assert exporter.server is None  # no listen: no endpoint


def test_a_port_in_use_is_one_finding_not_a_crash(tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    exporter = MetricsExporter(cfg(tmp_path, listen=f"127.0.0.1:{port}"))
    try:
        run_ticks(exporter, [report(), report()])
    finally:
        taken.close()
        exporter.close()
    [finding] = exporter.findings()
    assert finding.kind == "metrics_failed" and f"127.0.0.1:{port}" in finding.summary
    assert "in use" in finding.summary and "\n" not in finding.summary


def test_an_unwritable_textfile_is_one_finding_and_clears_when_it_works_again(tmp_path: Path) -> None:
    textfile = tmp_path / "missing-dir" / "cockpit.prom"
    exporter = MetricsExporter(cfg(tmp_path, textfile=str(textfile)))
    run_ticks(exporter, [report()])
    [finding] = exporter.findings()
    assert finding.kind == "metrics_failed" and str(textfile) in finding.summary
    textfile.parent.mkdir()
    run_ticks(exporter, [report()])
    assert exporter.findings() == [] and textfile.exists()


def test_off_by_default_and_only_the_leader_exports(tmp_path: Path) -> None:
    off = MetricsExporter(parse_config({}))
    assert not off.enabled
    run_ticks(off, [report()])
    assert off.fleet.observed == 0
    textfile = tmp_path / "cockpit.prom"
    follower = MetricsExporter(cfg(tmp_path, listen=":0", textfile=str(textfile)))
    run_ticks(follower, [report()], leader=False)
    assert follower.server is None and not textfile.exists()


def test_a_bare_port_binds_to_loopback(tmp_path: Path) -> None:
    exporter = MetricsExporter(cfg(tmp_path, listen="0"))
    try:
        run_ticks(exporter, [report()])
        assert exporter.server.server_address[0] == "127.0.0.1"
    finally:
        exporter.close()


def test_tokens_and_a_remote_host_label_are_exported() -> None:
    agents = list(fixture_report().agents)

    @dataclasses.dataclass(frozen=True)
    class Remote:
        name: str = "gpu-1/tabs"
        status: str = "idle"
        restarts: int = 2
        host: str = "gpu-1"
        tokens: tuple = ()

    class WithTokens:
        def __init__(self, agent):
            self._agent = agent
            self.tokens = {"input": 10, "output": 20, "cache_read": 30, "cache_write": 40}

        def __getattr__(self, name):
            return getattr(self._agent, name)

    fake = dataclasses.replace(report(), agents=(WithTokens(agents[0]), Remote()))
    fleet = FleetMetrics()
    fleet.observe(fake)
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(fleet)
    families = parse(generate_latest(registry).decode())
    tokens = samples(families, "cockpit_agent_tokens")
    assert tokens[(("agent", agents[0].name), ("type", "cache_write"))] == 40
    assert samples(families, "cockpit_agent_up")[(("agent", "gpu-1/tabs"), ("host", "gpu-1"))] == 1
