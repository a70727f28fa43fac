"""The real Claude Code CLI as a supervised `claude-code` agent (offline, against the tests' API stub).

The cockpit spawns it through the verified spawn path in a private tmux server with a
pre-assigned --session-id, and it must come up `running`, bound to that session by its
own live-session file. Skips when the CLI is not installed, except in CI.
"""

from __future__ import annotations

import asyncio
import json
import os
import time

import pytest

from cockpit.judge.agents import LIVE_STATUSES
from cockpit.registry import Registry
from cockpit.supervisor import Supervisor
from tests.messages_stub import MessagesStub
from tests.realclaude import claude_bin, claude_env, seed_claude_config
from tests.test_supervisor import tick_until

pytestmark = pytest.mark.realclaude

BIN = claude_bin()
if BIN is None:
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI must run the real Claude Code CLI: .ci/install-claude.sh did not install it")
    pytest.skip("the real Claude Code CLI is not installed (bash .ci/install-claude.sh)", allow_module_level=True)


def test_real_claude_code_is_spawned_verified_and_running(world):
    with MessagesStub(reply="Ready when you are.") as stub:
        seed_claude_config(world.claude_dir, world.work)
        env = claude_env(world.home, world.claude_dir, stub.url)
        env.pop("CLAUDE_CONFIG_DIR")  # cockpit exports it from [claude].config_dir
        config = world.write_config(
            [{"name": "tabs", "kind": "claude-code", "command": [str(BIN)], "env": env}],
            supervisor={"spawn_verify_s": 8.0, "min_uptime_s": 2.0, "tick_s": 0.5})

        async def go():
            sup = Supervisor(config)
            try:
                report = await tick_until(sup, lambda r: r.agents[0].status in LIVE_STATUSES
                                          and not sup.actions.in_flight, timeout=40)
                # the CLI really is up at its prompt: its own live-session file names our session
                pid = report.agents[0].pid
                live_path = world.claude_dir / "sessions" / f"{pid}.json"
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and not live_path.exists():
                    await asyncio.sleep(0.2)
                live = json.loads(live_path.read_text())
                # verified at its SessionStart hook, which may come before the first screen is drawn
                screen = ""
                while time.monotonic() < deadline and not screen.strip():
                    screen = await sup.tmux.capture(report.agents[0].pane) or ""
                    await asyncio.sleep(0.1)
                return report, live, screen, sup.invocations
            finally:
                await sup.close()

        report, live, screen, invoked = asyncio.run(go())
    agent = report.agents[0]
    [spawned] = [r for r in Registry(world.state_dir / "registry.jsonl").read_all().rows if r["event"] == "spawned"]
    assert spawned["pid"] == agent.pid and spawned["pane"] == agent.pane
    assert "--session-id" in [r for r in Registry(world.state_dir / "registry.jsonl").read_all().rows
                              if r["event"] == "spawn_requested"][0]["argv"]
    assert live["sessionId"] == spawned["session_id"] == agent.disk_session
    assert str(live["procStart"]) == str(spawned["start"])
    # hooks_silent (info) only when its SessionStart hook was slower than spawn_verify_s on a loaded machine
    assert [f for f in report.findings if f.kind != "hooks_silent"] == []
    assert {"observe", "judge", "act", "spawn"} <= set(invoked)
    assert screen.strip()
