"""Seed #6 against the REAL Claude Code CLI (2.1.197) in a private tmux pane, offline against the stub.

The cockpit spawns the CLI, a ``wake`` reminder is typed into its pane and counts as delivered
only when the CLI's own files show it: a new user record with the text in its transcript and its
live-session status going busy. A reminder starting with ``!`` (Claude Code's bash mode: typed as
is, it RUNS the command) arrives as a prompt and runs nothing; one that falls due while the CLI is
busy waits for its turn to end. Skips when the CLI is not installed, except in CI.
"""

from __future__ import annotations

import asyncio
import json
import os
import time

import pytest

from cockpit.act.deliver import typed_text
from tests.messages_stub import MessagesStub
from tests.realclaude import CLAUDE_VERSION, PROMPT_MARKERS, claude_bin, wait_for, claude_env, read_jsonl, seed_claude_config
from tests.test_deliver import Cockpit, events

pytestmark = [pytest.mark.realclaude, pytest.mark.timeout(240)]

BIN = claude_bin()
if BIN is None:
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI must run the real Claude Code CLI: .ci/install-claude.sh did not install it")
    pytest.skip("the real Claude Code CLI is not installed (bash .ci/install-claude.sh)", allow_module_level=True)

REPLY = "On it: checking the nightly build."


def test_a_wake_to_the_real_claude_cli_is_verified_by_its_transcript_and_live_status(world):
    bang_file = world.work / "created-by-bang"
    with MessagesStub(reply=REPLY, delay_s=2.0) as stub:  # the delay keeps the CLI busy long enough to see it
        seed_claude_config(world.claude_dir, world.work)
        env = claude_env(world.home, world.claude_dir, stub.url)
        env.pop("CLAUDE_CONFIG_DIR")  # cockpit exports it from [claude].config_dir
        config = world.write_config(
            [{"name": "tabs", "kind": "claude-code", "command": [str(BIN)], "env": env}],
            supervisor={"spawn_verify_s": 8.0, "min_uptime_s": 2.0, "tick_s": 0.3, "wake_verify_s": 30.0})

        async def go():
            cp = Cockpit(config)
            try:
                await cp.ready("tabs", timeout=60)
                await _prompt_on_screen(cp, cp.sup.view.open_spawn("tabs")["pane"])
                wake = await asyncio.to_thread(cp.queue.add, "tabs", "wake",
                                               "please check the nightly build\nand report back", time.time())
                # due at once too: it waits while the CLI is busy with the first, then goes
                bang = await asyncio.to_thread(cp.queue.add, "tabs", "wake", f"!touch {bang_file}", time.time())
                first = await cp.until_done(wake.id, timeout=60)
                second = await cp.until_done(bang.id, timeout=60)
                truth = cp.sup.sessions.truth("tabs")
                # a wake verified by its hook may be ahead of its transcript record: wait for the record
                # before the world (and the CLI) is torn down
                path = next((world.claude_dir / "projects").glob(f"*/{truth.disk_session}.jsonl"))
                await asyncio.to_thread(wait_for, lambda: any(r.get("type") == "user" and f"!touch {bang_file}"
                                                              in json.dumps(r) for r in read_jsonl(path)), 15, 0.1,
                                        "the second wake's record in the transcript")
                return first, second, truth.disk_session
            finally:
                await cp.close()

        first, second, session = asyncio.run(go())
        typed = "please check the nightly build and report back"
        assert stub.saw_text(typed)  # the model really got it

    # with hooks on (the default) its UserPromptSubmit may verify it before the transcript record is read
    assert first.state == "delivered" and first.attempts == 1 and first.via in ("hook", "transcript")
    assert first.latency_s is not None and first.latency_s < 30
    ev = first.evidence
    assert ev["record"]["text"] == typed and ev["typed"] == typed
    assert ev["status_before"] == "idle"
    assert ev["live_file"] == str(world.claude_dir / "sessions" / f"{ev['pid']}.json")
    transcript = world.claude_dir / "projects"
    [path] = list(transcript.glob(f"*/{session}.jsonl"))
    if first.via == "transcript":
        assert ev["went_busy"] is True  # its live-session status went busy
        assert ev["record"]["transcript"] == str(path)
    else:  # SPEC §8: its UserPromptSubmit hook, from the agent's events file
        assert ev["record"]["transcript"] == "hook:" + str(world.state_dir / "events" / "tabs.jsonl")
    records = read_jsonl(path)
    typed_prompts = [r["message"]["content"] for r in records
                     if r.get("type") == "user" and isinstance(r["message"].get("content"), str)]
    assert typed_prompts[0] == typed
    # 2.1.197 keeps the second as the typed string " !touch ..."; 2.1.332 records it in another shape
    assert any(f"!touch {bang_file}" in json.dumps(r) for r in records)
    if CLAUDE_VERSION == "2.1.197":
        assert typed_prompts == [typed, typed_text(f"!touch {bang_file}")]
        assert typed_prompts[1] == f" !touch {bang_file}"
    assert [r for r in records if r.get("promptSource") == "typed"]
    # "!" typed as is would have been bash mode: here it was a prompt and ran nothing
    assert not bang_file.exists()
    assert not [r for r in records if "<bash-input>" in json.dumps(r)]
    assert second.state == "delivered"
    waits = [e for e in events(world, "waiting") if e["id"] == second.id]
    assert waits and waits[0]["why"].startswith("agent busy")


async def _prompt_on_screen(cp: Cockpit, pane: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        screen = await cp.sup.tmux.capture(pane) or ""
        if any(marker in screen for marker in PROMPT_MARKERS):
            return
        assert time.monotonic() < deadline, f"the CLI's prompt never showed: {screen[-500:]!r}"
        await asyncio.sleep(0.2)
