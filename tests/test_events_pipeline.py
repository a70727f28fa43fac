"""SPEC §8 end to end: events wake one-agent passes of the pipeline between ticks.

The tick is set long (60 s): whatever the tests see after the first tick came from an event.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

from cockpit.registry import Registry
from cockpit.timefmt import parse as parse_ts
from cockpit.supervisor import Supervisor
from tests.conftest import SIM

SLEEPER = ["sleep", "2147483647"]


def _rows(world, event: str, agent: str | None = None) -> list[dict]:
    return [r for r in Registry(world.state_dir / "registry.jsonl").read_all().rows
            if r.get("event") == event and (agent is None or r.get("agent") == agent)]


async def _until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Running:
    """The supervisor's own run loop (tick_s long), its reports collected."""

    def __init__(self, config) -> None:
        self.sup = Supervisor(config)
        self.reports: list = []
        self.stop = asyncio.Event()
        self.task: asyncio.Task | None = None

    async def __aenter__(self) -> "Running":
        self.task = asyncio.create_task(self.sup.run(self.stop, on_report=self.reports.append))
        return self

    async def __aexit__(self, *exc) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 30)
        await self.sup.close()

    def status(self, name: str) -> str | None:
        if not self.reports:
            return None
        return next((a.status for a in self.reports[-1].agents if a.name == name), None)


def test_a_kill_9_is_an_exit_row_and_a_respawn_at_once_the_second_crash_waits(world):
    config = world.write_config([{"name": "tabs", "command": SLEEPER}],
                                supervisor={"tick_s": 60.0, "min_uptime_s": 0.3, "backoff_max_s": 2.0})

    async def go():
        async with Running(config) as run:
            first = await _until(lambda: _rows(world, "spawned", "tabs"), 20, "the first spawn verified")
            await _until(lambda: run.sup.events.exits.watching("tabs"), 5, "its pidfd")
            ticks = run.sup.tick_no
            killed = time.time()
            os.kill(first[0]["pid"], signal.SIGKILL)
            (exit_row,) = await _until(lambda: _rows(world, "exit", "tabs"), 5, "the exit row")
            exit_s = parse_ts(exit_row["ts"]) - killed
            second = await _until(lambda: _rows(world, "spawned", "tabs")[1:], 10, "the respawn verified")
            requested = _rows(world, "spawn_requested", "tabs")[1]
            respawn_s = parse_ts(requested["ts"]) - killed
            assert run.sup.tick_no == ticks  # no tick ran: the event did it all
            # the report already shows it running again
            await _until(lambda: run.status("tabs") not in (None, "down", "starting"), 5, "the report")
            # a second crash inside restart_window_s waits its backoff (1 s here)
            killed2 = time.time()
            os.kill(second[0]["pid"], signal.SIGKILL)
            await _until(lambda: len(_rows(world, "exit", "tabs")) == 2, 5, "the second exit row")
            third = await _until(lambda: _rows(world, "spawn_requested", "tabs")[2:], 10, "the third spawn")
            return exit_s, respawn_s, parse_ts(third[0]["ts"]) - killed2, exit_row

    exit_s, respawn_s, backoff_s, exit_row = asyncio.run(go())
    assert exit_s < 0.5, exit_s                 # SPEC §5: ≤ 100 ms here; loaded CI gets slack
    assert respawn_s < 0.5, respawn_s            # no backoff after a healthy run
    assert backoff_s >= 0.95, backoff_s          # the second crash in the window waits
    assert exit_row["pid"] and exit_row.get("reason")


def test_sixty_agents_start_at_once_without_any_throttling(world):
    agents = [{"name": f"a{i:02d}", "command": SLEEPER} for i in range(60)]
    config = world.write_config(agents, supervisor={"tick_s": 0.5, "min_uptime_s": 0.3,
                                                    "max_actions_per_minute": 12, "spawn_verify_s": 15.0})

    async def go():
        async with Running(config) as run:
            await _until(lambda: len(_rows(world, "spawned")) == 60, 60, "60 verified spawns")
            await _until(lambda: all(a.status not in ("starting", "down") for a in run.reports[-1].agents), 10,
                         "every row up")
            return run.reports

    reports = asyncio.run(go())
    throttled = [f for r in reports for f in r.findings if f.kind == "cleanup_throttled"]
    assert throttled == []
    assert {r["by"] for r in _rows(world, "spawn_requested")} == {"start"}
    assert _rows(world, "spawn_failed") == []


def test_a_hook_makes_the_agent_working_then_idle_in_its_report_at_once(world):
    config = world.write_config([{"name": "tabs", "kind": "claude-code", "command": [*SIM, "--reply-delay-s", "1.0"]}],
                                supervisor={"tick_s": 60.0, "min_uptime_s": 0.3, "spawn_verify_s": 8.0})

    async def go():
        async with Running(config) as run:
            spawned = await _until(lambda: _rows(world, "spawned", "tabs"), 20, "the spawn verified")
            assert spawned[0]["hooks"] == "ok"
            await _until(lambda: run.status("tabs") == "idle", 10, "idle at its prompt (SessionStart)")
            ticks = run.sup.tick_no
            world.tmux("send-keys", "-t", spawned[0]["pane"], "-l", "fix the tests")
            world.tmux("send-keys", "-t", spawned[0]["pane"], "Enter")
            await _until(lambda: run.status("tabs") == "working", 5, "working (UserPromptSubmit)")
            await _until(lambda: run.status("tabs") == "idle", 10, "idle again (Stop)")
            assert run.sup.tick_no == ticks
            hooks = run.sup.last_snap.hooks["tabs"]
            assert hooks.prompts[-1][1] == "fix the tests" and hooks.session_id == spawned[0]["session_id"]

    asyncio.run(go())


def test_a_send_to_a_hooked_agent_is_verified_by_its_user_prompt_submit_hook(world):
    """SPEC §8: a wake (and `cockpit send`) is verified by the UserPromptSubmit carrying its text."""
    from cockpit.act.deliver import HOOK_SOURCE, WakeTarget, WakeWatch
    from cockpit.hook import relay

    config = world.write_config([{"name": "tabs", "kind": "claude-code", "command": [*SIM]}])
    config.state.dir.mkdir(mode=0o700, parents=True)
    target = WakeTarget("tabs", "claude-code", "%1", 1, False, None, None, None, None, ())
    watch = WakeWatch(target, "check the build", events=config.state.events_dir / "tabs.jsonl")
    assert relay({"hook_event_name": "UserPromptSubmit", "prompt": "an older prompt"}, agent="tabs",
                 sock_path=str(config.state.events_socket)) == "appended"
    watch.baseline()
    fired = time.time()
    assert watch.check(fired).match is None
    relay({"hook_event_name": "UserPromptSubmit", "prompt": "please: check  the build"}, agent="tabs",
          sock_path=str(config.state.events_socket))
    match = watch.check(fired).match
    assert match is not None and match[0].startswith(HOOK_SOURCE) and "check  the build" in match[2]


def test_an_exit_announced_by_session_end_is_recorded_as_expected(world):
    """SPEC §8: SessionEnd → the exit that follows is expected, its reason kept (the sim's /exit)."""
    config = world.write_config([{"name": "tabs", "kind": "claude-code", "command": [*SIM], "restart": "on-failure"}],
                                supervisor={"tick_s": 60.0, "min_uptime_s": 0.3, "spawn_verify_s": 8.0})

    async def go():
        async with Running(config) as run:
            (spawned,) = await _until(lambda: _rows(world, "spawned", "tabs"), 20, "the spawn verified")
            await asyncio.sleep(0.3)
            world.tmux("send-keys", "-t", spawned["pane"], "-l", "/exit")
            world.tmux("send-keys", "-t", spawned["pane"], "Enter")
            (row,) = await _until(lambda: _rows(world, "exit", "tabs"), 10, "the exit row")
            await _until(lambda: run.status("tabs") == "down", 5, "down in the report")
            down = [f for f in run.reports[-1].findings if f.kind == "agent_down"]
            return row, down

    row, down = asyncio.run(go())
    assert row["expected"] == "prompt_input_exit" and "SessionEnd" in row["reason"]
    assert down and down[0].severity.value == "warning" and down[0].evidence["expected"] == "prompt_input_exit"
