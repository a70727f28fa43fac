"""SPEC §11 against the REAL Claude Code CLI (2.1.197): started by hand in a tmux pane, not by cockpit.

`cockpit init` finds it (its program, cwd, config dir and live session), `init --adopt` adopts it
without restarting it (same pid), and `cockpit send` to it is verified by its own transcript.
Offline, against the tests' Messages API stub. Skips when the CLI is not installed, except in CI.
"""

from __future__ import annotations

import json
import os
import shlex

import pytest

from cockpit.cli import main
from cockpit.config import load_config
from tests.messages_stub import MessagesStub
from tests.realclaude import PROMPT_MARKERS, claude_bin, claude_env, read_jsonl, seed_claude_config, wait_for

pytestmark = [pytest.mark.realclaude, pytest.mark.timeout(240)]

BIN = claude_bin()
if BIN is None:
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI must run the real Claude Code CLI: .ci/install-claude.sh did not install it")
    pytest.skip("the real Claude Code CLI is not installed (bash .ci/install-claude.sh)", allow_module_level=True)


def test_the_real_cli_started_by_hand_is_found_adopted_and_a_send_to_it_is_verified(world, capsys):
    with MessagesStub(reply="Looking at the failing test now.", delay_s=0.5) as stub:
        seed_claude_config(world.claude_dir, world.work)
        env = claude_env(world.home, world.claude_dir, stub.url)
        # the operator's own shell line: env + the CLI, in a pane of their tmux server
        line = "exec env -i " + " ".join(shlex.quote(f"{k}={v}") for k, v in env.items()) + f" {shlex.quote(str(BIN))}"
        world.tmux("-f", "/dev/null", "new-session", "-d", "-s", "work", "-n", "api", "-x", "150", "-y", "40",
                   "-c", str(world.work), line)
        world.tmux("new-window", "-d", "-t", "work:", "-n", "logs", "exec sleep 1000")
        pane, pid = world.tmux("display-message", "-p", "-t", "work:api", "#{pane_id} #{pane_pid}").stdout.split()
        live = world.claude_dir / "sessions" / f"{pid}.json"
        wait_for(lambda: live.exists() and json.loads(live.read_text()).get("status") == "idle", 60,
                 message="the CLI's live-session file, idle")
        wait_for(lambda: any(m in world.tmux("capture-pane", "-p", "-t", pane).stdout for m in PROMPT_MARKERS), 60,
                 message="the CLI's prompt")
        session = json.loads(live.read_text())["sessionId"]

        path = world.root / "cockpit.toml"
        code = main(["init", "--socket", world.socket, "--config", str(path), "--adopt"])
        out = capsys.readouterr().out
        assert code == 0, out
        [agent] = load_config(path).agents
        assert (agent.name, agent.kind, str(agent.cwd), agent.command) == ("api", "claude-code", str(world.work),
                                                                            (str(BIN),))
        assert agent.env == {"CLAUDE_CONFIG_DIR": str(world.claude_dir)}
        assert f"session {session}" in out and "skipped work:1 (logs)" in out
        assert f"adopted pid {pid} (claude) in {pane} as api, without restarting it; session {session}" in out

        code = main(["send", "api", "why does test_login fail?", "--config", str(path), "--json"])
        result = json.loads(capsys.readouterr().out)
        assert code == 0, result
        assert result["via"] in ("transcript", "live-status") and result["evidence"]["pid"] == int(pid)
        assert stub.saw_text("why does test_login fail?")
        transcript = next((world.claude_dir / "projects").glob(f"*/{session}.jsonl"))
        prompts = [r["message"]["content"] for r in read_jsonl(transcript) if r.get("type") == "user"
                   and isinstance(r["message"].get("content"), str)]
        assert prompts == ["why does test_login fail?"]
        assert world.tmux("display-message", "-p", "-t", pane, "#{pane_pid}").stdout.strip() == pid  # same process
