"""The judge step with plain data: an acting tick judges each agent's session findings once (the verify
step judges a touched agent's lifecycle again from what its act saw, its record-vs-disk findings only when
their inputs changed); what observe read of the state disk is judged, not read, here."""

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
from cockpit.observe.state import StateDisk
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
    again = judgement.again(after, config, {"api"})
    assert sorted(calls) == ["api", "tabs"]  # judged once this tick
    assert again.verdicts["api"].session_findings == (stale("api"),)
    assert again.verdicts["api"] is not judgement.verdicts["api"]  # its lifecycle was judged again


def test_a_spawn_under_way_judges_the_agents_session_again(tmp_path, monkeypatch):
    config, snap, calls = world(tmp_path, monkeypatch)
    judgement = judge_tick(snap, config, TickBudget.for_tick(2.0))
    judgement.again(replace(snap, starting=frozenset({"api"})), config, {"api"})
    assert sorted(calls) == ["api", "api", "tabs"]  # its truth is in flux now: what it says changes


def test_a_repoint_judges_the_agents_session_again(tmp_path, monkeypatch):
    config, snap, calls = world(tmp_path, monkeypatch)
    judgement = judge_tick(snap, config, TickBudget.for_tick(2.0))
    routes = {"api": RouteState("api", "s-disk", "string", True, NOW)}  # the record rewritten to the disk truth
    repointed = replace(snap, sessions=replace(snap.sessions, at=NOW + 1, routes=routes))
    judgement.again(repointed, config, {"api"})
    assert sorted(calls) == ["api", "api", "tabs"]  # the repoint's verification reads the record again


def test_the_state_disk_observe_read_is_judged_into_state_unwritable(tmp_path, monkeypatch):
    config, snap, _ = world(tmp_path, monkeypatch)
    budget = TickBudget.for_tick(2.0)
    full = StateDisk("/state", {"/state/journal.jsonl": (NOW, "No space left on device")}, free=0)
    found = [f for f in judge_tick(replace(snap, state=full), config, budget).fleet if f.kind == "state_unwritable"]
    assert [f.subject for f in found] == ["/state/journal.jsonl"]  # the failed write says it all
    low = StateDisk("/state", {}, free=100)
    [finding] = [f for f in judge_tick(replace(snap, state=low), config, budget).fleet if f.kind == "state_unwritable"]
    assert finding.subject == "/state" and finding.evidence["free_bytes"] == 100
    roomy = StateDisk("/state", {}, free=1 << 30)
    assert "state_unwritable" not in {f.kind for f in judge_tick(replace(snap, state=roomy), config, budget).fleet}


# --- an idle tick: every verdict given back whole while nothing it reads moved ------------------------

def live_world(tmp_path, *, spawn_hooks: str | None = "ok"):
    """Two live agents, api spawned with hooks at NOW (``spawn_hooks``: whether they spoke)."""
    from cockpit.observe.procs import Proc
    from cockpit.observe.snapshot import AgentObservation
    config = parse_config({"state": {"dir": str(tmp_path / "state")}, "supervisor": {"spawn_verify_s": 5},
                           "agents": [{"name": "api", "command": ["true"]}, {"name": "tabs", "command": ["true"]}]},
                          tmp_path / "cockpit.toml")
    procs = {n: Proc(100 + i, 1, 5000 + i, "S", 100 + i, ("true",)) for i, n in enumerate(("api", "tabs"))}
    agents = {n: AgentObservation(n, None, p, (p,), None) for n, p in procs.items()}
    base = Snapshot(at=NOW, tmux_ok=True, tmux_error=None, panes=(), procs=ProcessTable(()), agents=agents)
    records = {"api": AgentRecord(Lifecycle(), open_spawn=True, spawn_at=NOW, spawn_hooks=spawn_hooks),
               "tabs": AgentRecord(Lifecycle())}
    truths = {n: SessionTruth(n, "s-disk", "live", NOW, True, "idle") for n in ("api", "tabs")}
    return config, TickSnapshot(base=base, records=records, sessions=SessionsReport(at=NOW, truths=truths, routes={}))


def idle_ticks(snap: TickSnapshot, config, judgement, times):
    """Ticks at ``times`` whose observation map, records, hooks, truths... are the very objects of ``snap``
    (each tick's session report and its routes map are new: the same truths, equal routes)."""
    budget = TickBudget.for_tick(2.0)
    for at in times:
        sessions = replace(snap.sessions, at=at, routes=dict(snap.sessions.routes))
        judgement = judge_tick(replace(snap, base=replace(snap.base, at=at), sessions=sessions), config, budget,
                               previous=judgement)
    return judgement


def kinds(judgement, agent: str) -> list[str]:
    return [f.kind for f in judgement.findings() if f.agent == agent]


def test_an_idle_tick_gives_every_verdict_back_whole(tmp_path):
    config, snap = live_world(tmp_path)
    first = judge_tick(snap, config, TickBudget.for_tick(2.0))
    later = idle_ticks(snap, config, first, (NOW + 2, NOW + 4, NOW + 60))
    assert later.verdicts is first.verdicts  # not one agent judged again


def test_a_silent_spawns_hooks_silent_comes_due_on_time_after_idle_ticks(tmp_path):
    config, snap = live_world(tmp_path, spawn_hooks="silent")
    first = judge_tick(snap, config, TickBudget.for_tick(2.0))
    before = idle_ticks(snap, config, first, (NOW + 2, NOW + 4))
    assert "hooks_silent" not in kinds(before, "api")  # within its spawn_verify_s
    due = idle_ticks(snap, config, before, (NOW + 6,))  # the same objects: only the clock moved
    assert "hooks_silent" in kinds(due, "api")


def test_a_changed_input_after_idle_ticks_is_judged(tmp_path):
    from cockpit.lifecycle import AgentState
    from cockpit.observe.events import HookState
    config, snap = live_world(tmp_path)
    budget = TickBudget.for_tick(2.0)
    idle = idle_ticks(snap, config, judge_tick(snap, config, budget), (NOW + 2, NOW + 4))
    gone = {**snap.base.agents, "tabs": replace(snap.base.agents["tabs"], proc=None, tree=())}
    died = judge_tick(replace(snap, base=replace(snap.base, at=NOW + 6, agents=gone)), config, budget, previous=idle)
    assert died.verdicts["tabs"].status.status != idle.verdicts["tabs"].status.status  # its process is gone
    failed = {"api": HookState(events=1, activity_at=NOW + 7, error={"error": "rate_limit"})}
    said = judge_tick(replace(snap, base=replace(snap.base, at=NOW + 8), hooks=failed), config, budget,
                      previous=idle)
    assert "agent_error" in kinds(said, "api")  # a hook's StopFailure, the map otherwise the same
    fatal = {**snap.records, "tabs": AgentRecord(Lifecycle(state=AgentState.FATAL))}
    moved = judge_tick(replace(snap, base=replace(snap.base, at=NOW + 8), records=fatal), config, budget,
                       previous=idle)
    assert moved.verdicts["tabs"].status.state is AgentState.FATAL  # its record moved: judged from it
    truths = {**snap.sessions.truths, "tabs": SessionTruth("tabs", "s-new", "live", NOW, True, "idle")}
    busy = replace(snap, base=replace(snap.base, at=NOW + 8), sessions=replace(snap.sessions, truths=truths))
    assert judge_tick(busy, config, budget, previous=idle).verdicts["tabs"].status.disk_session == "s-new"
    assert idle.verdicts["tabs"].status.disk_session == "s-disk"  # a new session on disk: judged
