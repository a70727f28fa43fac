"""Seeds #7 and #8 as plain data: block time against the heartbeat budget, and the supervisor's own cost."""

from __future__ import annotations

from cockpit.findings import Severity
from cockpit.judge.blocks import (
    HEARTBEAT_WINDOW_S,
    OPTIONAL_WORK,
    ShedPolicy,
    TickBudget,
    TickLoad,
    block_time,
    blocks_json,
    heartbeat_risk,
    judge_blocks,
    loop_block,
    supervisor_overloaded,
)
from cockpit.observe.loopwatch import UNTRACKED, Block

NOW = 10_000.0


def gateway_blocks(total_s: float, each_s: float = 1.5, *, source: str = "gateway", ending: float = NOW) -> list[Block]:
    """Blocks of ``each_s`` back to back (2 s apart) ending at ``ending``, adding up to ``total_s``."""
    blocks = []
    t = ending
    left = total_s
    while left > 1e-9:
        d = min(each_s, left)
        t -= 2.0
        blocks.append(Block(source=source, start=t, duration_ms=d * 1000, culprit=UNTRACKED))
        left -= d
    return blocks


def test_heartbeat_risk_is_silent_below_half_the_budget():
    assert heartbeat_risk(gateway_blocks(44.9), NOW, budget_s=90) == []


def test_heartbeat_risk_warns_at_half_the_budget():
    (finding,) = heartbeat_risk(gateway_blocks(45.0), NOW, budget_s=90)
    assert finding.kind == "heartbeat_risk" and finding.severity is Severity.WARNING
    assert finding.subject == "gateway" and finding.agent is None
    assert abs(finding.evidence["blocked_s"] - 45.0) < 1e-6
    assert finding.evidence["blocks"] == 30


def test_heartbeat_risk_is_critical_before_the_watchdog_trips():
    (finding,) = heartbeat_risk(gateway_blocks(72.0), NOW, budget_s=90)  # 80 % of 90 s
    assert finding.severity is Severity.CRITICAL
    assert "watchdog trips at 100%" in finding.summary
    (over,) = heartbeat_risk(gateway_blocks(95.0), NOW, budget_s=90)
    assert over.severity is Severity.CRITICAL and "over the budget" in over.summary


def test_heartbeat_window_forgets_old_blocks_and_counts_the_edge_in_part():
    old = gateway_blocks(80.0, ending=NOW - HEARTBEAT_WINDOW_S - 1)
    assert heartbeat_risk(old, NOW, budget_s=90) == []
    edge = [Block(source="gateway", start=NOW - HEARTBEAT_WINDOW_S - 30, duration_ms=60_000, culprit="x")]
    assert abs(block_time(edge, NOW)["gateway"] - 30.0) < 1e-6


def test_heartbeat_budget_is_per_source():
    blocks = gateway_blocks(40, source="gateway") + gateway_blocks(40, source="cockpit")
    assert heartbeat_risk(blocks, NOW, budget_s=90) == []
    blocks += gateway_blocks(10, source="gateway", ending=NOW - 200)
    (finding,) = heartbeat_risk(blocks, NOW, budget_s=90)
    assert finding.subject == "gateway" and finding.evidence["source"] == "gateway"
    assert finding.evidence["culprits"][0]["culprit"] == UNTRACKED
    both = heartbeat_risk(blocks + gateway_blocks(10, source="cockpit", ending=NOW - 200), NOW, budget_s=90)
    assert [f.subject for f in both] == ["cockpit", "gateway"]
    assert len({f.key for f in both}) == 2  # two findings, two identities


def test_each_block_over_loop_block_ms_is_a_loop_block_with_culprit_duration_and_stack_top():
    blocks = [
        Block(source="cockpit", start=NOW - 50, duration_ms=120, culprit="judge"),  # under the threshold
        Block(source="cockpit", start=NOW - 40, duration_ms=1855, culprit=UNTRACKED),
        Block(source="cockpit", start=NOW - 5, duration_ms=300, culprit="probe:tmux",
              stack=("a.py:1 in main", "b.py:9 in capture_sync"), scopes=("observe", "probe:tmux")),
        Block(source="gateway", start=NOW - 30, duration_ms=1262, culprit="no tracked work active (untracked culprit)",
              line="[event-loop-block] tick took 1262ms - no tracked work active (untracked culprit)"),
    ]
    cockpit, gateway = loop_block(blocks, NOW, loop_block_ms=250)
    assert cockpit.subject == "cockpit" and cockpit.severity is Severity.WARNING
    ev = cockpit.evidence
    assert (ev["culprit"], ev["duration_ms"], ev["stack_top"]) == ("probe:tmux", 300, "b.py:9 in capture_sync")
    assert ev["count"] == 2 and ev["worst"]["duration_ms"] == 1855
    assert "probe:tmux" in cockpit.summary and "b.py:9 in capture_sync" in cockpit.summary
    assert gateway.subject == "gateway" and gateway.evidence["line"].startswith("[event-loop-block]")
    assert gateway.evidence["duration_ms"] == 1262
    assert loop_block(blocks, NOW + 1000, loop_block_ms=250) == []  # not recent any more


def test_judge_blocks_gives_both_findings():
    kinds = {f.kind for f in judge_blocks(gateway_blocks(75), NOW, loop_block_ms=250, heartbeat_budget_s=90)}
    assert kinds == {"loop_block", "heartbeat_risk"}
    assert judge_blocks([], NOW, loop_block_ms=250, heartbeat_budget_s=90) == []


def test_a_tick_over_its_wall_budget_is_supervisor_overloaded_with_the_shed_work():
    budget = TickBudget.for_tick(2.0)  # 1000 ms of a 2 s tick
    assert supervisor_overloaded(TickLoad(wall_ms=400, cpu_ms=100, tmux_processes=0), budget) is None
    load = TickLoad(wall_ms=1500, cpu_ms=200, tmux_processes=0, tmux_commands=3)
    finding = supervisor_overloaded(load, budget, shedding=("idle_pane_captures",), recent=[load, load])
    assert finding is not None and finding.kind == "supervisor_overloaded"
    assert finding.evidence["over"] == ["wall_ms"]
    assert finding.evidence["shedding"] == ["idle_pane_captures"]
    assert finding.evidence["recent_over"] == 2
    assert "shedding idle pane captures" in finding.summary


def test_tmux_processes_per_tick_over_two_is_overloaded():
    budget = TickBudget.for_tick(2.0)
    finding = supervisor_overloaded(TickLoad(wall_ms=50, cpu_ms=20, tmux_processes=20), budget)
    assert finding is not None and finding.evidence["over"] == ["tmux_processes"]
    assert "20 tmux processes" in finding.summary
    assert supervisor_overloaded(TickLoad(wall_ms=50, cpu_ms=20, tmux_processes=2), budget) is None


def test_shedding_drops_idle_captures_first_and_recovers_after_calm_ticks():
    policy = ShedPolicy(TickBudget.for_tick(1.0), recover_after=3)
    heavy = TickLoad(wall_ms=900, cpu_ms=100, tmux_processes=0)
    calm = TickLoad(wall_ms=50, cpu_ms=10, tmux_processes=0)
    middling = TickLoad(wall_ms=400, cpu_ms=10, tmux_processes=0)
    assert policy.update(heavy) == ("idle_pane_captures",)
    assert policy.update(heavy) == OPTIONAL_WORK
    assert policy.update(heavy) == OPTIONAL_WORK
    assert policy.update(calm) == OPTIONAL_WORK
    assert policy.update(middling) == OPTIONAL_WORK  # not calm: the streak starts again
    for _ in range(2):
        assert policy.update(calm) == OPTIONAL_WORK
    assert policy.update(calm) == ("idle_pane_captures",)
    for _ in range(3):
        policy.update(calm)
    assert policy.shed == ()


def test_blocks_json_is_newest_first_and_bounded():
    blocks = gateway_blocks(30, each_s=1.0)
    out = blocks_json(blocks, limit=5)
    assert len(out) == 5
    assert out[0]["start"] > out[-1]["start"]
    assert out[0]["source"] == "gateway" and out[0]["culprit"] == UNTRACKED
