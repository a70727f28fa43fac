"""Session truth against the REAL Claude Code CLI (2.1.197) in a private tmux pane, offline (seed #3).

The CLI is spawned by the cockpit with a pre-assigned --session-id; its own live-session file
binds it; a typed prompt shows working then idle; a stale routing record is found and repointed;
a respawn resumes the disk truth with --resume and the CLI appends to the same transcript.
Skips when the CLI is not installed, except in CI.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
import uuid

import pytest

from cockpit.claude_paths import live_session_path, transcript_path
from cockpit.registry import Journal, Registry
from cockpit.supervisor import Supervisor
from tests.messages_stub import MessagesStub
from tests.realclaude import PROMPT_MARKERS, claude_bin, claude_env, read_jsonl, seed_claude_config
from tests.test_repoint import SessionsHarness

pytestmark = [pytest.mark.realclaude, pytest.mark.timeout(240)]

BIN = claude_bin()
if BIN is None:
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI must run the real Claude Code CLI: .ci/install-claude.sh did not install it")
    pytest.skip("the real Claude Code CLI is not installed (bash .ci/install-claude.sh)", allow_module_level=True)

REPLY = "Noted, the session truth is on disk."


async def until(predicate, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


def test_real_claude_session_truth_activity_repoint_and_resume(world):
    routes = world.root / "routes.json"
    with MessagesStub(reply=REPLY, delay_s=2.0) as stub:
        seed_claude_config(world.claude_dir, world.work)
        env = claude_env(world.home, world.claude_dir, stub.url)
        env.pop("CLAUDE_CONFIG_DIR")  # cockpit exports it from [claude].config_dir
        config = world.write_config(
            [{"name": "tabs", "kind": "claude-code", "command": [str(BIN)], "env": env}],
            supervisor={"spawn_verify_s": 8.0, "min_uptime_s": 2.0, "tick_s": 0.3},
            extra=f'\n[routes]\nfile = "{routes}"\n')

        async def type_line(sup, pane: str, text: str) -> None:
            await until(lambda: _screen_ready(sup, pane), 60, "the CLI's prompt on screen")
            world.tmux("send-keys", "-t", pane, "-l", text)
            world.tmux("send-keys", "-t", pane, "Enter")

        async def go():
            sup = Supervisor(config)
            h = SessionsHarness(sup)
            try:
                # 1. bound through its own live-session file (pid + procStart of the pane's process)
                _, s, _ = await h.tick_until(lambda r, s, f: s.truths["tabs"].source == "live"
                                             and s.truths["tabs"].status == "idle" and not sup.actions.in_flight
                                             and r.agents[0].state.value == "running", timeout=60)
                first = s.truths["tabs"]
                spawned = [r for r in Registry(world.state_dir / "registry.jsonl").read_all().rows
                           if r["event"] == "spawned"][-1]
                assert first.disk_session == spawned["session_id"]
                assert first.evidence["live"]["pid"] == spawned["pid"]
                assert str(first.evidence["live"]["procStart"]) == str(spawned["start"])
                assert first.transcript is None  # no turn yet: no transcript yet
                pane = spawned["pane"]

                # 2. a typed prompt: working, then idle (debounced), and a finished turn on disk
                await type_line(sup, pane, "please take a note")
                seen: list[str] = []
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    _, s, _ = await h.tick()
                    act = s.truths["tabs"].activity
                    if act and (not seen or seen[-1] != act):
                        seen.append(act)
                    if "working" in seen and seen[-1] == "idle" and s.truths["tabs"].turn_finished:
                        break
                    await asyncio.sleep(0.2)
                assert "working" in seen and seen[-1] == "idle", seen
                truth = s.truths["tabs"]
                assert truth.disk_session == first.disk_session and truth.last_turn_at is not None
                assert truth.transcript.last_user_text == "please take a note"
                assert truth.transcript.last_assistant_text == REPLY

                # 3. the gateway's record names an older session of the same cwd: stale, repointed
                older = str(uuid.uuid4())
                subprocess.run([str(BIN), "-p", "older work", "--session-id", older, "--output-format",
                                "stream-json", "--verbose"], cwd=world.work, capture_output=True, timeout=60,
                               env=claude_env(world.home, world.claude_dir, stub.url))
                assert transcript_path(world.claude_dir, str(world.work), older).exists()
                routes.write_text(json.dumps({"tabs": {"session_id": older, "topic": "tabs"}}, indent=2))
                _, s, findings = await h.tick_until(lambda r, s, f: any(x.kind == "stale_route" for x in f))
                [stale] = [f for f in findings if f.kind == "stale_route"]
                assert stale.evidence["route_session"] == older
                assert stale.evidence["disk_session"] == truth.disk_session
                result = await h.repoint("tabs")
                assert result.ok and (result.before, result.after) == (older, truth.disk_session)
                _, s, findings = await h.tick()
                assert not [f for f in findings if f.kind == "stale_route"]

                # 4. a respawn resumes the disk truth; the real CLI keeps the id and appends to the same file
                transcript = transcript_path(world.claude_dir, str(world.work), truth.disk_session)
                before_lines = len(read_jsonl(transcript))
                respawn = await sup.respawn("tabs", force=True)
                assert respawn.ok, respawn.summary
                assert respawn.spawn.argv[-2:] == ("--resume", truth.disk_session)
                new_pid, new_pane = respawn.spawn.pid, respawn.spawn.pane
                _, s, _ = await h.tick_until(lambda r, s, f: s.truths["tabs"].source == "live"
                                             and s.truths["tabs"].evidence["live"]["pid"] == new_pid, timeout=60)
                assert s.truths["tabs"].disk_session == truth.disk_session
                live = json.loads(live_session_path(world.claude_dir, new_pid).read_text())
                assert live["sessionId"] == truth.disk_session
                await type_line(sup, new_pane, "one more note")
                await until(lambda: _has_turn(transcript, "one more note"), 60, "the resumed turn in the transcript")
                return truth.disk_session, older, before_lines, transcript
            finally:
                await sup.close()

        disk, older, before_lines, transcript = asyncio.run(go())
    records = read_jsonl(transcript)
    assert len(records) > before_lines
    prompts = [r for r in records if r.get("type") == "user" and isinstance(r["message"].get("content"), str)]
    assert [p["message"]["content"] for p in prompts][-1] == "one more note"
    assert {p["sessionId"] for p in prompts} == {disk}
    assert json.loads(routes.read_text()) == {"tabs": {"session_id": disk, "topic": "tabs"}}
    journal = Journal(world.state_dir / "journal.jsonl").read_all().rows
    [entry] = [r for r in journal if r.get("action") == "repoint" and r["kind"] == "action"]
    assert entry["before"]["session_id"] == older and entry["after"]["session_id"] == disk


async def _screen_ready(sup, pane: str) -> bool:
    screen = await sup.tmux.capture(pane)
    return bool(screen) and any(m in screen for m in PROMPT_MARKERS)


async def _has_turn(transcript, text: str) -> bool:
    records = read_jsonl(transcript)
    seen = False
    for r in records:
        if r.get("type") == "user" and r.get("message", {}).get("content") == text:
            seen = True
        elif seen and r.get("subtype") == "turn_duration":
            return True
    return False
