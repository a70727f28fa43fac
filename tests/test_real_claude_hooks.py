"""SPEC §8 with the real Claude Code CLI (offline, against the tests' API stub): its hooks, relayed by
`cockpit hook` through the settings layer the cockpit writes, drive the agent's row between ticks.

The tick is 60 s: after the first tick, what the reports show came from the hooks' events.
"""

from __future__ import annotations

import asyncio
import json
import os

import pytest

from cockpit.registry import Registry
from tests.messages_stub import MessagesStub
from tests.realclaude import claude_bin, claude_env, previous_bin, seed_claude_config
from tests.test_events_pipeline import Running, _until

pytestmark = pytest.mark.realclaude

BIN = claude_bin()
if BIN is None:
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI must run the real Claude Code CLI: .ci/install-claude.sh did not install it")
    pytest.skip("the real Claude Code CLI is not installed (bash .ci/install-claude.sh)", allow_module_level=True)

# The pinned CLI, and the previous pin when installed (.ci/run installs it): the formats differ between them.
BINS = [pytest.param(BIN, id="pinned")] + ([pytest.param(previous_bin(), id="previous-pin")] if previous_bin() else [])

USER_SETTINGS = {"env": {"COCKPIT_TEST_USER_SETTING": "1"}, "hooks": {"SessionStart": [{"hooks": [
    {"type": "command", "command": "touch \"$CLAUDE_CONFIG_DIR/user-hook-ran\"", "timeout": 5}]}]}}


def _spawned(world) -> list[dict]:
    return [r for r in Registry(world.state_dir / "registry.jsonl").read_all().rows if r.get("event") == "spawned"]


def _world(world, stub, *, user_settings: dict, binary=BIN) -> object:
    seed_claude_config(world.claude_dir, world.work)
    (world.claude_dir / "settings.json").write_text(json.dumps(user_settings, indent=1))
    env = claude_env(world.home, world.claude_dir, stub.url)
    env.pop("CLAUDE_CONFIG_DIR")  # cockpit exports it from [claude].config_dir
    routes = world.root / "routes.json"
    return world.write_config([{"name": "tabs", "kind": "claude-code", "command": [str(binary)], "env": env}],
                              supervisor={"tick_s": 60.0, "spawn_verify_s": 10.0, "min_uptime_s": 1.0},
                              extra=f'\n[routes]\nfile = "{routes}"\n')


def _type(world, pane: str, text: str) -> None:
    world.tmux("send-keys", "-t", pane, "-l", text)
    world.tmux("send-keys", "-t", pane, "Enter")


def _agent(run: Running):
    return next(a for a in run.reports[-1].agents if a.name == "tabs")


@pytest.mark.parametrize("binary", BINS)
def test_real_claude_hooks_bind_the_session_drive_the_status_and_rebind_after_clear(world, binary):
    with MessagesStub(reply="Done.", delay_s=1.5) as stub:
        config = _world(world, stub, user_settings=USER_SETTINGS, binary=binary)

        async def go():
            async with Running(config) as run:
                (spawned,) = await _until(lambda: _spawned(world), 60, "the spawn verified at its SessionStart")
                assert spawned["hooks"] == "ok"
                sid, pane = spawned["session_id"], spawned["pane"]
                (world.root / "routes.json").write_text(json.dumps({"tabs": sid}))
                run.reports.append(await run.sup.tick())  # the gateway's record, read once, agrees with the disk
                assert _agent(run).disk_session == sid and _agent(run).route_session == sid
                assert not [f for f in run.reports[-1].findings if f.agent == "tabs"]
                ticks = run.sup.tick_no
                await asyncio.sleep(1.0)  # the prompt is ready
                _type(world, pane, "say done")
                await _until(lambda: _agent(run).status == "working", 20, "working through UserPromptSubmit")
                await _until(lambda: _agent(run).status == "idle", 30, "idle through Stop")
                assert run.sup.tick_no == ticks  # the hooks did it, not a tick
                hooks = run.sup.events.states["tabs"]
                assert hooks.session_id == sid and hooks.prompts[-1][1] == "say done"
                _type(world, pane, "/clear")
                new = await _until(lambda: (lambda s: s if s and s != sid else None)(
                    run.sup.events.states["tabs"].session_id), 30, "a new session id after /clear")
                await _until(lambda: _agent(run).disk_session == new, 10, "the row bound to the new session")
                stale = [f for f in run.reports[-1].findings if f.agent == "tabs"
                         and f.kind in ("stale_route", "unknown_route_session")]
                if not stale:  # the CLI's live-session file named the new id first: the leader repointed at once
                    assert json.loads((world.root / "routes.json").read_text()) == {"tabs": new}
                    assert _agent(run).route_session == new
                else:
                    assert stale[0].evidence.get("disk_session") == new  # judged against the new id at once
                return sid, new

        sid, new = asyncio.run(go())
    assert sid != new
    # the user's settings are read (their hook ran too) and never written by cockpit (the CLI itself adds
    # DISABLE_AUTOUPDATER to env on its first run); the project has no .claude/
    after = json.loads((world.claude_dir / "settings.json").read_text())
    assert after["hooks"] == USER_SETTINGS["hooks"] and "cockpit" not in json.dumps(after)
    assert after["env"].items() >= USER_SETTINGS["env"].items()
    assert (world.claude_dir / "user-hook-ran").exists()
    assert not (world.work / ".claude").exists()
    events = [json.loads(line)["event"] for line in (world.state_dir / "events" / "tabs.jsonl").read_text().splitlines()]
    assert {"SessionStart", "UserPromptSubmit", "Stop", "SessionEnd"} <= set(events)


def test_real_claude_with_hooks_blocked_says_hooks_silent_and_its_status_is_still_right(world):
    blocked = {"disableAllHooks": True}
    with MessagesStub(reply="Done.", delay_s=1.5) as stub:
        config = _world(world, stub, user_settings=blocked)
        config = type(config)(**{**config.__dict__, "supervisor": type(config.supervisor)(
            **{**config.supervisor.__dict__, "tick_s": 0.5, "spawn_verify_s": 3.0})})

        async def go():
            async with Running(config) as run:
                (spawned,) = await _until(lambda: _spawned(world), 60, "the spawn verified without hooks")
                assert spawned["hooks"] == "silent"
                await _until(lambda: any(f.kind == "hooks_silent" and f.agent == "tabs"
                                         for f in run.reports[-1].findings), 10, "hooks_silent")
                (finding,) = [f for f in run.reports[-1].findings if f.kind == "hooks_silent"]
                assert finding.severity.value == "info"
                await _until(lambda: _agent(run).status == "idle", 30, "idle from the live-session file")
                await asyncio.sleep(1.0)
                _type(world, spawned["pane"], "say done")
                await _until(lambda: _agent(run).status == "working", 20, "working from the live-session file")
                await _until(lambda: _agent(run).status == "idle", 30, "idle again")
                assert _agent(run).disk_session == spawned["session_id"]

        asyncio.run(go())
    assert not (world.state_dir / "events" / "tabs.jsonl").exists()
