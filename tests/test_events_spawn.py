"""SPEC §8 at spawn: a claude-code agent is launched with the cockpit's hook settings layer, its
SessionStart (relayed by `cockpit hook`) is the spawn's readiness signal, and hooks that stay
silent (blocked by the user's or a managed policy) still give a verified spawn that says so."""

from __future__ import annotations

import asyncio
import json

from cockpit.registry import Registry
from cockpit.supervisor import Supervisor
from tests.conftest import SIM


def _rows(world, event: str) -> list[dict]:
    return [r for r in Registry(world.state_dir / "registry.jsonl").read_all().rows if r.get("event") == event]


def _respawn(config):
    async def go():
        sup = Supervisor(config)
        try:
            await sup.start()
            return await sup.respawn(config.agents[0].name)
        finally:
            await sup.close()
    return asyncio.run(go())


def test_a_claude_agent_is_ready_at_its_session_start_hook(world):
    config = world.write_config([{"name": "tabs", "kind": "claude-code", "command": [*SIM]}],
                                supervisor={"spawn_verify_s": 8.0, "min_uptime_s": 0.3})
    result = _respawn(config)
    assert result.ok and result.spawn is not None and not result.spawn.hooks_silent
    assert result.spawn.checks["session_start"] is True
    (spawned,) = _rows(world, "spawned")
    assert spawned["hooks"] == "ok" and spawned["session_id"] == result.spawn.session_id
    events = [json.loads(line) for line in (world.state_dir / "events" / "tabs.jsonl").read_text().splitlines()]
    assert events[0]["event"] == "SessionStart" and events[0]["session_id"] == spawned["session_id"]
    # the user's settings and the project's .claude/ are never written
    assert not (world.claude_dir / "settings.json").exists() and not (world.work / ".claude").exists()
    settings = json.loads((world.state_dir / "hooks" / "tabs.json").read_text())
    assert "SessionStart" in settings["hooks"]


def test_hooks_blocked_by_policy_still_verify_the_spawn_and_say_hooks_silent(world):
    (world.claude_dir / "settings.json").write_text(json.dumps({"disableAllHooks": True}))
    config = world.write_config([{"name": "tabs", "kind": "claude-code", "command": [*SIM]}],
                                supervisor={"spawn_verify_s": 1.0, "min_uptime_s": 0.3})
    result = _respawn(config)
    assert result.ok and result.spawn is not None and result.spawn.hooks_silent
    assert "hooks silent" in result.spawn.detail and result.spawn.elapsed_s >= 1.0
    (spawned,) = _rows(world, "spawned")
    assert spawned["hooks"] == "silent"
    assert json.loads((world.claude_dir / "settings.json").read_text()) == {"disableAllHooks": True}


def test_hooks_off_in_the_config_launch_without_the_settings_layer(world):
    config = world.write_config([{"name": "tabs", "kind": "claude-code", "command": [*SIM]}],
                                supervisor={"min_uptime_s": 0.3}, extra="")
    config = type(config)(**{**config.__dict__, "claude": type(config.claude)(
        config_dir=config.claude.config_dir, explicit=True, hooks=False)})
    result = _respawn(config)
    assert result.ok and "--settings" not in result.spawn.argv
    (spawned,) = _rows(world, "spawned")
    assert "hooks" not in spawned and not (world.state_dir / "hooks").exists()
