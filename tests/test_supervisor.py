"""The supervisor against a real private tmux server and simulated agents (seed #2).

Each test reads like the failure it prevents; each asserts what was observed on
disk and in tmux, not what was initiated.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cockpit.judge.agents import LIVE_STATUSES
from cockpit.registry import Journal, Registry
from cockpit.supervisor import Supervisor
from tests.conftest import GHOST, SIM, wait_for
from tests.test_wrappers import sims  # noqa: F401  (fixture)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def registry_rows(world, event=None, agent=None):
    rows = Registry(world.state_dir / "registry.jsonl").read_all().rows
    return [r for r in rows if (event is None or r["event"] == event) and (agent is None or r.get("agent") == agent)]


async def tick_until(sup: Supervisor, predicate, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    report = None
    while time.monotonic() < deadline:
        report = await sup.tick()
        if predicate(report):
            return report
        await asyncio.sleep(sup.config.supervisor.tick_s)
    raise AssertionError(f"timed out; last report: {report and [a.to_json() for a in report.agents]} "
                         f"{report and [f.to_json() for f in report.findings]}")


def test_ghost_spawn_that_dies_50ms_after_fork_is_never_logged_as_spawned(world):
    config = world.write_config([{"name": "ghost", "command": GHOST}],
                                supervisor={"max_restarts": 0})

    async def go():
        sup = Supervisor(config)
        try:
            result = await sup.respawn("ghost")
            report = await sup.tick()
            return result, report
        finally:
            await sup.close()

    result, report = asyncio.run(go())
    assert not result.ok and result.spawn.check == "process_alive"
    failed = registry_rows(world, "spawn_failed", "ghost")
    assert len(failed) == 1 and failed[0]["check"] == "process_alive"
    assert "exited" in failed[0]["detail"]
    # the dying child's last screen was kept by remain-on-exit and captured as evidence
    assert "simulated startup failure" in failed[0]["screen"]
    assert registry_rows(world, "spawned", "ghost") == []
    # the dead window was closed
    assert "ghost" not in world.tmux("list-windows", "-a", "-F", "#{window_name}").stdout.split()
    kinds = {f.kind for f in report.findings if f.agent == "ghost"}
    assert kinds & {"spawn_failed", "respawn_exhausted"}


def test_a_port_never_bound_fails_verification(world):
    port = free_port()
    config = world.write_config([{"name": "deaf", "command": [*SIM, "--port", str(port), "--no-bind"],
                                  "port": port}], supervisor={"spawn_verify_s": 1.0, "min_uptime_s": 0.2})

    async def go():
        sup = Supervisor(config)
        try:
            return await sup.respawn("deaf")
        finally:
            await sup.close()

    result = asyncio.run(go())
    assert not result.ok and result.spawn.check == "port_listening"
    assert registry_rows(world, "spawned", "deaf") == []
    [failed] = registry_rows(world, "spawn_failed", "deaf")
    assert failed["check"] == "port_listening" and str(port) in failed["detail"]


def test_a_healthy_agent_is_spawned_verified_and_running(world):
    port = free_port()
    # its SessionStart hook is its readiness: a spawn is verified when it arrives, so a deadline long enough for
    # two Python startups on a loaded machine (the agent, then its hook) costs a healthy spawn nothing
    config = world.write_config([{"name": "tabs", "kind": "claude-code", "command": [*SIM, "--port", str(port)],
                                  "port": port}], supervisor={"spawn_verify_s": 8.0})

    async def go():
        sup = Supervisor(config)
        try:
            report = await tick_until(sup, lambda r: r.agents[0].status in LIVE_STATUSES and not sup.actions.in_flight)
            return report, sup.invocations, sup.actions.invocations
        finally:
            await sup.close()

    report, invoked, acted = asyncio.run(go())
    agent = report.agents[0]
    [spawned] = registry_rows(world, "spawned", "tabs")
    assert agent.pid == spawned["pid"] and agent.pane == spawned["pane"] and agent.port_listening
    assert spawned["session_id"] and agent.disk_session == spawned["session_id"]
    # a claude-code agent got a pre-assigned session id: its own live-session file says so
    live = json.loads((world.claude_dir / "sessions" / f"{agent.pid}.json").read_text())
    assert live["sessionId"] == spawned["session_id"] and live["pid"] == agent.pid
    assert report.findings == ()
    # seed #10: every module of the tick really ran
    assert {"observe", "judge", "act", "spawn"} <= set(invoked) and acted.get("respawn", 0) >= 1


def test_a_crash_after_a_good_start_is_respawned_and_counted(world):
    config = world.write_config([{"name": "flaky", "command": [*SIM, "--crash-after-s", "0.8"]}],
                                supervisor={"max_restarts": 10})

    async def go():
        sup = Supervisor(config)
        try:
            return await tick_until(sup, lambda r: r.agents[0].restarts >= 2 and r.agents[0].status in LIVE_STATUSES,
                                    timeout=25)
        finally:
            await sup.close()

    report = asyncio.run(go())
    assert report.agents[0].restarts >= 2
    exits = registry_rows(world, "exit", "flaky")
    spawned = registry_rows(world, "spawned", "flaky")
    assert len(spawned) >= 3 and len(exits) >= 2
    assert {e["spawn_id"] for e in exits} <= {s["spawn_id"] for s in spawned}
    assert all(e.get("status") in (1, None) for e in exits)


def test_the_budget_stops_respawns_and_alerts_exactly_once(world):
    alerts = world.root / "alerts.jsonl"
    alert_cmd = [sys.executable, "-c",
                 f"import sys; open({str(alerts)!r}, 'a').write(sys.stdin.read().strip() + '\\n')"]
    config = world.write_config([{"name": "doomed", "command": GHOST}],
                                supervisor={"max_restarts": 2, "alert_command": alert_cmd})

    async def go():
        sup = Supervisor(config)
        try:
            report = await tick_until(sup, lambda r: r.agents[0].status == "fatal", timeout=30)
            for _ in range(10):  # the budget is spent: no more attempts however long we wait
                report = await sup.tick()
                await asyncio.sleep(0.1)
            return report, dict(sup.invocations)
        finally:
            await sup.close()

    report, invoked = asyncio.run(go())
    assert invoked.get("alert") == 1  # seed #10: the plan's one alert intent was carried out, once
    assert report.agents[0].status == "fatal"
    assert len(registry_rows(world, "spawn_requested", "doomed")) == 3  # the start + max_restarts
    assert registry_rows(world, "spawned", "doomed") == []
    [finding] = [f for f in report.findings if f.agent == "doomed"]
    assert finding.kind == "respawn_exhausted" and finding.action == "respawn"
    assert finding.evidence.get("screen") is not None
    sent = [json.loads(line) for line in alerts.read_text().splitlines()]
    assert len(sent) == 1 and sent[0]["kind"] == "respawn_exhausted" and sent[0]["agent"] == "doomed"
    # the journal says what the command did, after it ran
    [row] = [r for r in Journal(world.state_dir / "journal.jsonl").read_all().rows if r["kind"] == "alert"]
    assert row["result"] == "ran" and row["evidence"]["alert_command"]["exit_status"] == 0


def test_an_alert_command_that_fails_is_journaled_as_failed_not_as_sent(world):
    config = world.write_config([{"name": "doomed", "command": GHOST}],
                                supervisor={"max_restarts": 1, "alert_command": [
                                    sys.executable, "-c", "import sys; sys.stdin.read(); print('pager down', "
                                                          "file=sys.stderr); sys.exit(3)"]})

    async def go():
        sup = Supervisor(config)
        try:
            await tick_until(sup, lambda r: r.agents[0].status == "fatal", timeout=30)
            await sup.tick()
        finally:
            await sup.close()

    asyncio.run(go())
    [row] = [r for r in Journal(world.state_dir / "journal.jsonl").read_all().rows if r["kind"] == "alert"]
    outcome = row["evidence"]["alert_command"]
    assert row["result"] == "exited 3" and outcome["ok"] is False and "pager down" in outcome["stderr"]


def test_an_operator_respawn_after_fatal_resets_the_budget(world):
    config = world.write_config([{"name": "doomed", "command": GHOST}],
                                supervisor={"max_restarts": 1})

    async def go():
        sup = Supervisor(config)
        try:
            await tick_until(sup, lambda r: r.agents[0].status == "fatal", timeout=20)
            # the operator fixes the command and respawns by hand: the spawn goes ahead despite FATAL
            return await sup.respawn("doomed")
        finally:
            await sup.close()

    result = asyncio.run(go())
    assert not result.skipped
    rows = registry_rows(world, "spawn_requested", "doomed")
    assert rows[-1]["by"] == "operator"


def test_a_killed_tmux_server_leaves_the_agents_down_from_the_disk_then_the_leader_brings_them_back(world):
    # SPEC §6: no tmux server means no agent runs; the disk's truth is judged, not "unknown". Every report
    # counts, the ticks' and the events': the agent's exit event can respawn it into a new server before
    # the next tick, and on a loaded machine it often does (then no tick ever sees the server gone)
    config = world.write_config([{"name": "one", "command": [*SIM]}])
    reports: list = []

    async def until(predicate, timeout: float, what: str, since: int = 0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = next(((i, r) for i, r in enumerate(reports) if i >= since and predicate(r)), None)
            if found is not None:
                return found
            await asyncio.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}; last report: "
                             f"{reports and (reports[-1].tmux_server, [a.to_json() for a in reports[-1].agents])}")

    async def go():
        sup, stop = Supervisor(config), asyncio.Event()
        task = asyncio.create_task(sup.run(stop, on_report=reports.append))
        try:
            await until(lambda r: r.agents[0].status in LIVE_STATUSES, 15, "the agent running")
            world.tmux("kill-server")
            # the leader sees no server: the agent is down (and respawned into a new server)
            at, down = await until(lambda r: not r.tmux_server, 10, "a report without a tmux server")
            assert down.tmux_ok and "tmux_unreachable" not in {f.kind for f in down.findings}
            assert down.agents[0].status in ("down", "starting")
            return (await until(lambda r: r.tmux_server and r.agents[0].status in LIVE_STATUSES, 15, "the agent back",
                                since=at))[1]
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
            await sup.close()

    report = asyncio.run(go())
    assert "tmux_unreachable" not in {f.kind for f in report.findings}
    assert report.agents[0].restarts >= 1


def test_the_respawns_own_report_after_a_killed_tmux_server_says_the_new_server_is_up(world):
    # an event's report (the spawn's pass) is the last report until the next tick: it must not keep the
    # "no tmux server" of the tick before it while it shows the agent running in the new server
    config = world.write_config([{"name": "one", "command": [*SIM]}])

    async def go():
        sup = Supervisor(config)
        try:
            await tick_until(sup, lambda r: r.agents[0].status in LIVE_STATUSES, timeout=15)
            world.tmux("kill-server")
            await tick_until(sup, lambda r: not r.tmux_server, timeout=5)
            deadline = time.monotonic() + 15  # no tick from here: the events bring the agent back
            while time.monotonic() < deadline and sup.last_report.agents[0].status not in LIVE_STATUSES:
                await asyncio.sleep(0.05)
            return sup.last_report
        finally:
            await sup.close()

    report = asyncio.run(go())
    assert report.agents[0].status in LIVE_STATUSES and report.agents[0].pane is not None
    assert report.tmux_server and report.tmux_ok


def test_two_cockpits_and_one_dead_agent_give_exactly_one_respawn(world):
    config = world.write_config([{"name": "solo", "command": [*SIM]}])

    async def go():
        a, b = Supervisor(config, actor="a"), Supervisor(config, actor="b")
        try:
            await a.start()
            await b.start()
            assert a.leader != b.leader
            await tick_until(a, lambda r: r.agents[0].status in LIVE_STATUSES)
            before = len(registry_rows(world, "spawn_requested", "solo"))
            # both operators press R at once on the dead agent
            pane = registry_rows(world, "spawned", "solo")[-1]["pane"]
            world.tmux("kill-window", "-t", pane)
            ra, rb = await asyncio.gather(a.respawn("solo"), b.respawn("solo"))
            return before, ra, rb
        finally:
            await a.close()
            await b.close()

    before, ra, rb = asyncio.run(go())
    after = len(registry_rows(world, "spawn_requested", "solo"))
    assert after - before == 1
    assert sorted([ra.skipped, rb.skipped]) == [False, True]


def test_a_read_only_cockpit_refuses_at_the_action_layer(world):
    from cockpit.act.actions import ReadOnlyError

    config = world.write_config([{"name": "solo", "command": [*SIM]}])

    async def go():
        sup = Supervisor(config, read_only=True)
        try:
            with pytest.raises(ReadOnlyError):
                await sup.actions.respawn("solo")
            report = await sup.tick()
            return report
        finally:
            await sup.close()

    report = asyncio.run(go())
    assert report.agents[0].status in ("down", "unknown")
    assert registry_rows(world, "spawn_requested") == []


def test_two_supervisors_ticking_on_one_dead_agent_respawn_it_once(world):
    config = world.write_config([{"name": "solo", "command": [*SIM]}])

    async def go():
        a, b = Supervisor(config, actor="a"), Supervisor(config, actor="b")
        try:
            await a.start()
            await b.start()
            leader, follower = (a, b) if a.leader else (b, a)
            await tick_until(leader, lambda r: r.agents[0].status in LIVE_STATUSES and not leader.actions.in_flight)
            world.tmux("kill-window", "-t", registry_rows(world, "spawned", "solo")[-1]["pane"])
            for _ in range(15):
                await asyncio.gather(a.tick(), b.tick())
                await asyncio.sleep(0.1)
            await tick_until(leader, lambda r: r.agents[0].status in LIVE_STATUSES and not leader.actions.in_flight)
            return follower.actions.invocations
        finally:
            await a.close()
            await b.close()

    follower_acts = asyncio.run(go())
    assert len(registry_rows(world, "spawn_requested", "solo")) == 2  # the start and one respawn
    assert len(registry_rows(world, "exit", "solo")) == 1
    assert follower_acts.get("respawn", 0) == 0


def test_a_restarted_cockpit_keeps_the_restart_budget_from_the_registry(world):
    config = world.write_config([{"name": "doomed", "command": GHOST}],
                                supervisor={"max_restarts": 2})

    async def first():
        sup = Supervisor(config)
        try:
            await tick_until(sup, lambda r: r.agents[0].status == "fatal", timeout=20)
        finally:
            await sup.close()

    async def second():
        sup = Supervisor(config)  # a fresh process would trust nothing but the disk
        try:
            reports = [await sup.tick() for _ in range(5)]
            return reports[-1]
        finally:
            await sup.close()

    asyncio.run(first())
    requested = len(registry_rows(world, "spawn_requested", "doomed"))
    report = asyncio.run(second())
    assert report.agents[0].status == "fatal"
    assert len(registry_rows(world, "spawn_requested", "doomed")) == requested


def test_a_spawn_cut_short_by_a_killed_cockpit_is_not_left_starting_forever(world):
    """kill -9 between ``spawn_requested`` and its verdict: no row closes the attempt. The next cockpit
    sees an agent "starting" long past spawn_verify_s with no spawn in flight, and spawns it."""
    from cockpit.timefmt import iso as format_ts

    config = world.write_config([{"name": "cut", "command": [*SIM]}], supervisor={"spawn_verify_s": 2.0})
    Registry(world.state_dir / "registry.jsonl").append(
        {"ts": format_ts(time.time() - 60), "event": "spawn_requested", "agent": "cut", "spawn_id": "s-cut-short",
         "by": "auto"})

    async def go():
        sup = Supervisor(config)
        try:
            return await tick_until(sup, lambda r: r.agents[0].status in LIVE_STATUSES, timeout=20)
        finally:
            await sup.close()

    asyncio.run(go())
    assert len(registry_rows(world, "spawned", "cut")) == 1


def test_supervise_runs_headless_and_stops_cleanly_on_sigterm(world):
    import signal as sig

    config = world.write_config([{"name": "calm", "command": [*SIM]}])
    proc = subprocess.Popen([sys.executable, "-m", "cockpit", "supervise", "--config", str(world.config_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: registry_rows(world, "spawned", "calm"), timeout=20, what="the supervised spawn")
        proc.send_signal(sig.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "leader" in out and "Traceback" not in err
    # the agent it spawned keeps running without the supervisor (it is tmux's child, not ours)
    pane = registry_rows(world, "spawned", "calm")[-1]["pane"]
    assert world.tmux("display", "-p", "-t", pane, "#{pane_dead}").stdout.strip() == "0"


def test_an_exit_row_whose_spawn_row_was_lost_is_reported(world):
    config = world.write_config([{"name": "calm", "command": [*SIM]}])
    world.state_dir.mkdir(mode=0o700)
    # a writer elsewhere (a wrapper, a helper) logged an exit whose spawn row a racing pruner dropped
    Registry(world.state_dir / "registry.jsonl").event("exit", agent="calm", spawn_id="lost-spawn-1", pid=4242)

    async def go():
        sup = Supervisor(config, read_only=True)
        try:
            return await sup.tick()
        finally:
            await sup.close()

    report = asyncio.run(go())
    [orphan] = [f for f in report.findings if f.kind == "registry_orphan_exit"]
    assert orphan.agent == "calm" and orphan.evidence["row"]["spawn_id"] == "lost-spawn-1"


def test_a_blocking_call_in_a_tick_is_recorded_with_its_scope_and_the_tick_is_overloaded(world):
    # seeds #7, #8: the supervisor's own sentinel, the gateway's log and its tick budget are wired in
    log = world.root / "gateway.log"
    log.write_text("[event-loop-block] tick took 999ms - history, not replayed\n")
    config = world.write_config([], supervisor={"tick_s": 0.2, "loop_block_ms": 100, "heartbeat_budget_s": 1.0},
                                extra=f'\n[[logs]]\nname = "gateway"\npath = "{log}"\n')

    def sync_capture_fan_out() -> None:
        time.sleep(0.35)  # the seed's synchronous capture-pane shell-outs, on the loop

    async def go():
        sup = Supervisor(config, read_only=True)
        try:
            await sup.start()
            observe = sup.observer.observe_then  # what the tick's observe step awaits

            async def blocking_observe(then):
                sync_capture_fan_out()
                return await observe(then)

            sup.observer.observe_then = blocking_observe
            first = await sup.tick()
            sup.observer.observe_then = observe
            with open(log, "a") as fh:
                fh.write("[event-loop-block] tick took 1855ms - no tracked work active (untracked culprit)\n")
            await asyncio.sleep(0.3)  # the sentinel records the block when the loop comes back
            second = await sup.tick()
            return first, second
        finally:
            await sup.close()

    first, second = asyncio.run(go())
    assert first.load is not None and first.load.wall_ms >= 300
    ours = [b for b in second.blocks if b.source == "cockpit"]
    assert ours and ours[0].culprit == "observe"
    assert any("sync_capture_fan_out" in frame for frame in ours[0].stack)
    gateway = [b for b in second.blocks if b.source == "gateway"]
    assert [b.duration_ms for b in gateway] == [1855.0]
    kinds = {(f.kind, f.subject) for f in second.findings}
    assert {("loop_block", "cockpit"), ("loop_block", "gateway"), ("heartbeat_risk", "gateway")} <= kinds
    assert ("supervisor_overloaded", None) in kinds
    overloaded = next(f for f in second.findings if f.kind == "supervisor_overloaded")
    assert overloaded.evidence["wall_ms"] >= 300 and "idle_pane_captures" in overloaded.evidence["shedding"]
    assert "idle_pane_captures" in first.shed
    assert second.to_json()["blocks"][0]["source"] in ("cockpit", "gateway")



def test_the_supervisor_reaps_zombie_wrappers_at_the_rate_limit_and_reports_them(world, sims):
    """Seed #9 under seed #8: four zombies, two tokens a minute: two are reaped, two wait, all are shown."""
    from tests.test_wrappers import rule_config

    config = rule_config(world, sims.marker, max_actions_per_minute=2, zombie_grace_s=0.3, stop_wait_s=1.0)
    world.tmux("new-session", "-d", "-s", "ops", "sleep 60")  # tmux is up, the fleet is empty
    for _ in range(4):
        sims.start()

    async def go():
        sup = Supervisor(config)
        try:
            await tick_until(sup, lambda r: len(registry_rows(world, "exit")) == 2 and not sup.actions.reaper.tasks)
            return await sup.tick(), sup.invocations, sup.actions.invocations
        finally:
            await sup.close()

    report, invoked, acted = asyncio.run(go())
    exits = registry_rows(world, "exit")
    assert len(exits) == 2 and {e["reason"] for e in exits} == {"reaped"}
    assert all(e["subtype"] == "success" and e["is_error"] is False for e in exits)
    kinds = [f.kind for f in report.findings]
    assert kinds.count("zombie_wrapper") == 2 and kinds.count("cleanup_throttled") == 2
    states = sorted(w["state"] for w in report.to_json()["wrappers"])
    assert states == ["reaped", "reaped", "zombie", "zombie"]
    # seed #10: every module of the chain really ran
    assert {"wrappers", "zombies", "reap"} <= set(invoked) and acted.get("auto_reap", 0) >= 1


def test_check_lists_wrappers_and_reports_a_zombie_without_reaping_it(world, sims):
    from cockpit.supervisor import check_once
    from tests.test_wrappers import has_result, rule_config

    config = rule_config(world, sims.marker, zombie_grace_s=0.0)
    world.tmux("new-session", "-d", "-s", "ops", "sleep 60")
    proc, out = sims.start()
    wait_for(lambda: has_result(out), what="the result line")
    report = asyncio.run(check_once(config))
    [wrapper] = report.to_json()["wrappers"]
    assert wrapper["pid"] == proc.pid and wrapper["state"] == "zombie" and wrapper["result"]["subtype"] == "success"
    [finding] = [f for f in report.findings if f.kind == "zombie_wrapper"]
    assert finding.action == "reap" and report.exit_code == 1
    assert proc.poll() is None and registry_rows(world, "exit") == []  # check takes no action


def test_version_drift_canaries_and_folds_are_judged_every_tick(world):
    # seeds #1, #5, #11 wired into the tick (seed #10: each module is asserted invoked, not only present)
    import os

    from cockpit.observe.drift import PromotionLog

    versions = world.root / "versions"
    versions.mkdir()
    for version in ("2.1.196", "2.1.197"):
        cli = versions / version
        cli.write_text(f'#!/bin/sh\nexec {sys.executable} -m cockpit.sim "$@"\n')
        cli.chmod(0o755)
    (world.root / "bin").mkdir()
    link = world.root / "bin" / "claude"
    os.symlink(versions / "2.1.196", link)
    notice = world.root / "notice.txt"
    notice.write_text("user notice: shown\n")
    canary = ('\n[[canaries]]\nname = "notice"\nevery_s = 0.2\n'
              f'command = ["cat", "{notice}"]\nexpect = "^user notice: shown$"\n')
    config = world.write_config([{"name": "tabs", "kind": "claude-code", "command": [str(link), "which db?"],
                                  "cwd": str(world.work)}], extra=canary)

    async def go():
        sup = Supervisor(config)
        try:
            report = await tick_until(sup, lambda r: r.agents[0].status in LIVE_STATUSES and r.sessions is not None
                                      and r.sessions.truths["tabs"].transcript is not None
                                      # a pushback answers the agent's reply: wait for the reply on disk
                                      and r.sessions.truths["tabs"].transcript.last_assistant_text
                                      and r.canaries and r.canaries[0].ok)
            assert not {f.kind for f in report.findings} & {"version_drift", "canary_failed", "fold_under_pressure"}
            [row] = PromotionLog.in_state_dir(world.state_dir).read_all().rows
            assert row["kind"] == "baseline" and row["resolved"] == str(versions / "2.1.196")
            # overnight: an updater repoints the CLI, the notice stops showing, the agent folds
            os.unlink(link)
            os.symlink(versions / "2.1.197", link)
            notice.write_text("")
            path = Path(report.sessions.truths["tabs"].transcript.path)
            with open(path, "a") as fh:
                for rtype, content in (("user", "hmm, are you sure?"),
                                       ("assistant", [{"type": "text", "text": "You're right, scrap mine."}])):
                    fh.write(json.dumps({"type": rtype, "message": {"role": rtype, "content": content},
                                         "uuid": f"u-{rtype}", "timestamp": iso_now(), "isSidechain": False,
                                         "cwd": str(world.work)}) + "\n")
            want = {"version_drift", "canary_failed", "fold_under_pressure"}
            report = await tick_until(sup, lambda r: want <= {f.kind for f in r.findings})
            await asyncio.sleep(0.2)  # the drift alert runs in the background
            return report, dict(sup.invocations)
        finally:
            await sup.close()

    report, invoked = asyncio.run(go())
    assert {"drift", "canaries", "folds"} <= set(invoked)
    by_kind = {f.kind: f for f in report.findings}
    assert by_kind["version_drift"].severity.value == "critical"
    assert by_kind["version_drift"].evidence["new_target"] == str(versions / "2.1.197")
    assert by_kind["fold_under_pressure"].evidence["pushback"]["text"] == "hmm, are you sure?"
    assert by_kind["canary_failed"].evidence["canary"] == "notice"
    rows = Journal(world.state_dir / "journal.jsonl").read_all().rows
    assert any(r["kind"] == "alert" and "changed since" in r["summary"] for r in rows)
    assert any(r["kind"] == "info" and "version baseline" in r["summary"] for r in rows)


def iso_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
