"""Reaping wrappers that won't die (seed #9) at the rate limit of every automatic action (seed #8).

Each test asserts what was observed afterwards (/proc, the registry, the journal), not what
was initiated.
"""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
import time

import pytest

from cockpit.act.actions import TokenBucket
from cockpit.act.reap import Reaper, resolve_target
from cockpit.judge.zombies import judge_zombies
from cockpit.observe.procs import ProcessReader
from cockpit.observe.wrappers import WrapperTracker
from cockpit.registry import Journal, Registry
from cockpit.tmux import TmuxClient
from tests.conftest import wait_for
from tests.test_wrappers import has_result, observe_until, rule_config, sim_argv, sims, view  # noqa: F401

READER = ProcessReader()


def alive(pid: int, start: int) -> bool:
    proc = READER.read(pid)
    return proc is not None and proc.start == start and not proc.zombie


def exit_rows(config, **match):
    rows = Registry(config.state.registry).read_all().rows
    return [r for r in rows if r["event"] == "exit" and all(r.get(k) == v for k, v in match.items())]


def journal(config):
    return Journal(config.state.journal).read_all().rows


def make(config, rate: int = 600, tmux=None, guard=None) -> Reaper:
    return Reaper(config, registry=Registry(config.state.registry), journal=Journal(config.state.journal),
                  reader=ProcessReader(), bucket=TokenBucket(rate), tmux=tmux, guard=guard, actor="test")


def zombies_now(tracker: WrapperTracker, grace_s: float, count: int = 1):
    """Observe until ``count`` wrappers have written their result; judge them with ``grace_s``."""
    views = observe_until(tracker, lambda vs: sum(v.ends_with_result for v in vs) >= count, timeout=20)
    marked, findings = judge_zombies(views, now=time.time(), grace_s=grace_s)
    return [v for v in marked if v.state == "zombie"], findings


def test_a_wrapper_lingering_after_its_success_is_reaped_after_its_grace_and_recorded_once(world, sims):
    config = rule_config(world, sims.marker, zombie_grace_s=0.6, stop_wait_s=2.0)
    proc, out = sims.start()
    tracker = WrapperTracker(config.wrappers, registry_path=config.state.registry, rescan_s=0)
    zombies, findings = zombies_now(tracker, grace_s=config.supervisor.zombie_grace_s)
    assert zombies == [] and findings == []  # result written, but still within its grace
    time.sleep(0.7)
    [zombie], [finding] = zombies_now(tracker, grace_s=config.supervisor.zombie_grace_s)
    assert finding.kind == "zombie_wrapper" and finding.evidence["reason"] == "after_result"
    reaper = make(config)

    result = asyncio.run(reaper.reap(zombie))
    assert result.ok and result.record_written and not result.killed, result.summary
    assert not alive(zombie.pid, zombie.start)  # verified in /proc, not assumed
    [row] = exit_rows(config, pid=proc.pid)
    assert row["reason"] == "reaped" and row["subtype"] == "success" and row["is_error"] is False
    assert row["wrapper"] is True and row["start"] == zombie.start and "spawn_id" not in row
    [action] = [r for r in journal(config) if r.get("action") == "reap"]
    assert action["result"] == "verified" and action["before"]["alive"] and not action["after"]["alive"]

    again = asyncio.run(make(config).reap(zombie))  # a second reap (another cockpit, a repeated key)
    assert again.ok and again.skipped and again.record["reason"] == "reaped"
    assert len(exit_rows(config, pid=proc.pid)) == 1  # the exit row, exactly once
    [gone] = observe_until(tracker, lambda vs: vs and not vs[0].alive)
    assert gone.state == "reaped"


def test_a_wrapper_that_ignores_term_is_killed_after_stop_wait_with_its_child(world, sims):
    config = rule_config(world, sims.marker, stop_wait_s=1.0)
    sims.start("--ignore-term", "--spawn-child")
    tracker = WrapperTracker(config.wrappers, registry_path=config.state.registry, rescan_s=0)
    views = observe_until(tracker, lambda vs: vs and vs[0].ends_with_result and len(vs[0].tree) == 2)
    [zombie], _ = judge_zombies(views, now=time.time(), grace_s=0)
    child = zombie.tree[1]
    assert "cockpit-sim-child" in child.command and child.pgid == zombie.pid

    result = asyncio.run(make(config).reap(zombie))
    assert result.ok and result.killed and result.elapsed_s >= 1.0, result.summary
    assert not alive(zombie.pid, zombie.start) and not alive(child.pid, child.start)
    [row] = exit_rows(config, pid=zombie.pid)
    assert row["reason"] == "reaped" and row["signals"]["kill"]


def test_a_wrapper_in_its_agents_process_group_is_reaped_alone_and_the_agent_survives(world, sims):
    """The wrapper does not lead its group (its agent does): TERMing the group would kill the agent."""
    config = rule_config(world, sims.marker, stop_wait_s=1.0)
    out = world.root / "child.jsonl"
    code = ("import subprocess, sys, time\n"
            f"subprocess.Popen({sim_argv(sims.marker, '--spawn-child')!r}, stdout=open({str(out)!r}, 'wb'), "
            "stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
            "time.sleep(60)\n")
    agent = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    sims.track(agent)
    agent_start = READER.read(agent.pid).start
    tracker = WrapperTracker(config.wrappers, registry_path=config.state.registry, rescan_s=0)
    views = observe_until(tracker, lambda vs: vs and vs[0].ends_with_result and len(vs[0].tree) == 2,
                          agents={"tabs": READER.read(agent.pid)})
    [zombie], _ = judge_zombies(views, now=time.time(), grace_s=0)
    assert zombie.pgid == agent.pid and zombie.agent == "tabs"
    child = zombie.tree[1]

    result = asyncio.run(make(config).reap(zombie))
    assert result.ok, result.summary
    assert not alive(zombie.pid, zombie.start) and not alive(child.pid, child.start)
    assert alive(agent.pid, agent_start)  # the agent, in the same group, was never signalled
    [row] = exit_rows(config, pid=zombie.pid)
    assert row["parent_agent"] == "tabs"


def test_a_pid_whose_start_time_differs_from_the_record_is_never_signalled(world, sims):
    config = rule_config(world, sims.marker)
    proc, _ = sims.start()
    tracker = WrapperTracker(config.wrappers, registry_path=config.state.registry, rescan_s=0)
    [zombie], _ = judge_zombies(observe_until(tracker, lambda vs: vs and vs[0].ends_with_result),
                                now=time.time(), grace_s=0)
    stale = dataclasses.replace(zombie, start=zombie.start - 1)  # the record of an older process with this pid

    result = asyncio.run(make(config).reap(stale))
    assert result.refused and not result.ok and not result.termed and not result.killed
    time.sleep(0.2)
    assert alive(zombie.pid, zombie.start)
    assert exit_rows(config) == []
    [refused] = [r for r in journal(config) if r["kind"] == "refused"]
    assert refused["evidence"]["found_start"] == zombie.start and "nothing was signalled" in refused["summary"]


def test_twenty_zombies_are_reaped_at_the_rate_limit_and_the_rest_wait_throttled(world, sims):
    config = rule_config(world, sims.marker, max_actions_per_minute=5, stop_wait_s=2.0)
    for _ in range(20):
        sims.start()
    tracker = WrapperTracker(config.wrappers, registry_path=config.state.registry, rescan_s=0)
    zombies, findings = zombies_now(tracker, grace_s=0, count=20)
    assert len(zombies) == 20 and len(findings) == 20
    reaper = make(config, rate=config.supervisor.max_actions_per_minute)

    async def go():
        throttled = reaper.auto_reap(zombies)
        await reaper.wait()
        # the next tick: observe and judge again; no token yet, so the rest keep waiting
        views, _ = judge_zombies(tracker.observe(time.time()), now=time.time(), grace_s=0)
        again = reaper.auto_reap([v for v in views if v.state == "zombie"])
        return throttled, views, again

    throttled, views, again = asyncio.run(go())
    assert len(reaper.done) == 5 and all(r.ok for r in reaper.done)
    assert len(exit_rows(config)) == 5
    reaped = {r.pid for r in reaper.done}
    assert sum(alive(z.pid, z.start) for z in zombies) == 15
    assert not any(alive(z.pid, z.start) for z in zombies if z.pid in reaped)
    assert len(throttled) == 15 and {f.kind for f in throttled} == {"cleanup_throttled"}
    assert {f.subject for f in throttled} == {z.id for z in zombies if z.pid not in reaped}
    assert all(f.action == "reap" and "5/min" in f.summary for f in throttled)
    assert sorted(v.state for v in views) == ["reaped"] * 5 + ["zombie"] * 15
    assert {f.subject for f in again} == {f.subject for f in throttled} and len(reaper.done) == 5


def test_reaping_closes_the_wrappers_own_tmux_window(world, sims):
    config = rule_config(world, sims.marker, stop_wait_s=1.0)
    out = world.root / "in-window.jsonl"
    cmd = " ".join(sim_argv(sims.marker))
    world.tmux("new-session", "-d", "-s", "work", "-x", "80", "-y", "20", "sleep 60")
    world.tmux("set-option", "-g", "remain-on-exit", "on")  # a dead wrapper leaves its window behind
    world.tmux("new-window", "-d", "-t", "work:", f"exec {cmd} > {out}")
    wait_for(lambda: has_result(out), what="the result in the window")

    async def go():
        tmux = TmuxClient(["-L", world.socket])
        try:
            panes = await tmux.list_panes()
            tracker = WrapperTracker(config.wrappers, registry_path=config.state.registry, rescan_s=0)
            [zombie], _ = judge_zombies(tracker.observe(time.time(), panes=panes), now=time.time(), grace_s=0)
            assert zombie.pane == next(p.pane_id for p in panes if p.pid == zombie.pid)
            return zombie, await make(config, tmux=tmux).reap(zombie)
        finally:
            await tmux.close()

    zombie, result = asyncio.run(go())
    assert result.ok and result.window_closed == zombie.pane
    assert not alive(zombie.pid, zombie.start)
    assert zombie.pane not in world.tmux("list-panes", "-a", "-F", "#{pane_id}").stdout.split()


def test_a_read_only_guard_refuses_before_anything_is_signalled(world, sims):
    config = rule_config(world, sims.marker)
    proc, _ = sims.start()
    tracker = WrapperTracker(config.wrappers, registry_path=config.state.registry, rescan_s=0)
    [zombie], _ = judge_zombies(observe_until(tracker, lambda vs: vs and vs[0].ends_with_result),
                                now=time.time(), grace_s=0)

    def read_only(action: str, name: str) -> None:
        raise PermissionError(f"{action} refused: this cockpit is read-only")

    reaper = make(config, guard=read_only)
    with pytest.raises(PermissionError):
        asyncio.run(reaper.reap(zombie))

    async def auto():
        reaper.auto_reap([zombie])
        await reaper.wait()

    asyncio.run(auto())
    time.sleep(0.2)
    assert alive(zombie.pid, zombie.start) and exit_rows(config) == [] and not reaper.in_flight


def test_an_operator_names_a_wrapper_by_name_id_pid_or_its_agent():
    a = view()
    b = view(id="200:7", name="wrap-x", pid=200, start=7, agent="tabs", state="zombie")
    c = view(id="300:9", name="wrapper-300", pid=300, start=9, agent="notes", state="running")
    views = [a, b, c]
    assert resolve_target("wrap-x", views) == ([b], None)
    assert resolve_target("300:9", views) == ([c], None)
    assert resolve_target("100", views) == ([a], None)
    assert resolve_target("tabs", views, agents={"tabs", "notes"}) == ([b], None)  # the agent's zombies only
    assert resolve_target("notes", views, agents={"tabs", "notes"}) == ([], None)
    targets, error = resolve_target("4242", views)
    assert targets == [] and "not a known wrapper" in error
    assert resolve_target("nobody", views)[1] == "no wrapper or agent named 'nobody'"
