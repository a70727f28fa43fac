"""An acting tick judges each agent's session findings once: the verify step judges a touched agent's
lifecycle again from what its act saw, and its record-vs-disk findings only when their inputs changed."""

from __future__ import annotations

from dataclasses import replace

import cockpit.judge.tick as judge_tick_module
from cockpit.config import parse_config
from cockpit.findings import Finding, Severity
from cockpit.judge.blocks import TickBudget
from cockpit.judge.tick import judge_tick
from cockpit.lifecycle import Lifecycle
from cockpit.observe.procs import ProcessTable
from cockpit.observe.sessions import RouteState, SessionsReport, SessionTruth
from cockpit.observe.snapshot import Snapshot
from cockpit.observe.tick import AgentRecord, TickSnapshot

NOW = 1_000_000.0


def stale(name: str) -> Finding:
    return Finding(kind="stale_route", severity=Severity.WARNING, agent=name, action="repoint",
                   summary=f"{name}: the record points at an old session")


def world(tmp_path, monkeypatch):
    config = parse_config({"state": {"dir": str(tmp_path / "state")},
                           "agents": [{"name": "api", "command": ["true"]}, {"name": "tabs", "command": ["true"]}]},
                          tmp_path / "cockpit.toml")
    calls: list[str] = []

    def counted(name, truth, route, **kw):
        calls.append(name)
        return [stale(name)]
    monkeypatch.setattr(judge_tick_module, "judge_sessions", counted)
    truths = {n: SessionTruth(n, "s-disk", "live", NOW, True, "idle") for n in ("api", "tabs")}
    base = Snapshot(at=NOW, tmux_ok=True, tmux_error=None, panes=(), procs=ProcessTable(()), agents={})
    snap = TickSnapshot(base=base, records={n: AgentRecord(Lifecycle()) for n in ("api", "tabs")},
                        sessions=SessionsReport(at=NOW, truths=truths, routes={}))
    return config, snap, calls


def test_an_exit_row_does_not_judge_the_agents_session_again(tmp_path, monkeypatch):
    config, snap, calls = world(tmp_path, monkeypatch)
    judgement = judge_tick(snap, config, TickBudget.for_tick(2.0))
    assert sorted(calls) == ["api", "tabs"]
    after = replace(snap, records={**snap.records, "api": AgentRecord(Lifecycle(), last_exit={"status": 1})})
    again = judgement.again(after, config, {"api"}, sessions_kept={"api"})
    assert sorted(calls) == ["api", "tabs"]  # judged once this tick
    assert again.verdicts["api"].session_findings == (stale("api"),)
    assert again.verdicts["api"] is not judgement.verdicts["api"]  # its lifecycle was judged again


def test_a_repoint_judges_the_agents_session_again(tmp_path, monkeypatch):
    config, snap, calls = world(tmp_path, monkeypatch)
    judgement = judge_tick(snap, config, TickBudget.for_tick(2.0))
    routes = {"api": RouteState("api", "s-disk", "string", True, NOW)}  # the record rewritten to the disk truth
    repointed = replace(snap, sessions=replace(snap.sessions, at=NOW + 1, routes=routes))
    judgement.again(repointed, config, {"api"})
    assert sorted(calls) == ["api", "api", "tabs"]  # the repoint's verification reads the record again
