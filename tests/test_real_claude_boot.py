"""The REAL Claude Code CLI (npm @anthropic-ai/claude-code 2.1.197), offline, against our stub.

These tests pin down the facts the cockpit (and cockpit-sim) rely on: where the transcript is,
what the live-session file holds and how its status moves, what --resume does. Install the CLI
with ``bash .ci/install-claude.sh``; without it the tests skip, except under ``CI=true`` where
they fail. Always a temp HOME and CLAUDE_CONFIG_DIR; tmux is a private server.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from cockpit.claude_paths import live_session_path, transcript_path
from cockpit.observe.procs import proc_start_ticks

try:
    from tests.messages_stub import MessagesStub
    from tests.realclaude import (CLAUDE_VERSION, PROMPT_MARKERS, PrivateTmux, claude_bin, claude_env, read_json, read_jsonl,
                                  seed_claude_config, wait_for)
except ImportError:  # tests/ is not importable as a package: it is on sys.path itself
    from messages_stub import MessagesStub
    from realclaude import (CLAUDE_VERSION, PROMPT_MARKERS, PrivateTmux, claude_bin, claude_env, read_json, read_jsonl,
                            seed_claude_config, wait_for)

pytestmark = [pytest.mark.realclaude, pytest.mark.timeout(180)]

REPLY = "Stub says: the build is green."


@pytest.fixture(scope="module")
def claude() -> Path:
    binary = claude_bin()
    if binary is None:
        reason = ("real Claude Code CLI not installed: run `bash .ci/install-claude.sh` "
                  "(or set COCKPIT_CLAUDE_BIN to a claude binary)")
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " [CI=true: not skipping]")
        pytest.skip(reason)
    return binary


@pytest.fixture
def rworld(tmp_path: Path) -> dict:
    home = tmp_path / "home"
    cfg = home / ".claude-test-config"
    cwd = tmp_path / "proj.dir_x"
    for d in (home, cfg, cwd):
        d.mkdir(parents=True)
    # The CLI records realpath(cwd); resolve so our expectations use the same string.
    return {"home": home, "cfg": cfg, "cwd": os.path.realpath(cwd)}


def _run_print(claude: Path, rworld: dict, stub: MessagesStub, *args: str) -> subprocess.CompletedProcess:
    env = claude_env(rworld["home"], rworld["cfg"], stub.url)
    return subprocess.run([str(claude), *args], cwd=rworld["cwd"], env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=90)


def test_print_mode_stream_json_against_stub(claude: Path, rworld: dict) -> None:
    sid = str(uuid.uuid4())
    with MessagesStub(reply=REPLY) as stub:
        t0 = time.monotonic()
        res = _run_print(claude, rworld, stub, "-p", "hi", "--output-format", "stream-json", "--verbose",
                         "--session-id", sid)
        elapsed = time.monotonic() - t0
        requests = stub.message_requests()
    assert res.returncode == 0, res.stderr
    lines = [json.loads(line) for line in res.stdout.splitlines() if line.strip()]
    init, result = lines[0], lines[-1]
    assert (init["type"], init["subtype"], init["session_id"]) == ("system", "init", sid)
    assert init["cwd"] == rworld["cwd"]
    assert any(line["type"] == "assistant" for line in lines)
    assert result["type"] == "result" and result["subtype"] == "success" and result["is_error"] is False
    assert result["result"] == REPLY and result["session_id"] == sid and result["num_turns"] == 1
    assert isinstance(result["duration_ms"], int) and "total_cost_usd" in result

    transcript = transcript_path(rworld["cfg"], rworld["cwd"], sid)
    assert transcript.is_file(), sorted(str(p) for p in rworld["cfg"].rglob("*.jsonl"))
    recs = read_jsonl(transcript)
    users = [r for r in recs if r.get("type") == "user"]
    assistants = [r for r in recs if r.get("type") == "assistant"]
    assert users[0]["message"]["content"] == "hi" and users[0]["parentUuid"] is None
    assert any(b.get("text") == REPLY for a in assistants for b in a["message"]["content"])
    for rec in users + assistants:
        assert rec["sessionId"] == sid and rec["cwd"] == rworld["cwd"] and rec["isSidechain"] is False
        assert rec["timestamp"].endswith("Z") and rec["version"] == CLAUDE_VERSION
    # bookkeeping at the end, no timestamp: 2.1.197 last-prompt; 2.1.332 cost-state (last-prompt not always)
    assert any(r.get("type") in ("last-prompt", "cost-state") and "timestamp" not in r for r in recs)
    # it really called the stub, streaming, with our prompt
    assert requests and all(r.stream for r in requests)
    assert any("hi" in json.dumps(r.body) for r in requests)
    assert not list((rworld["cfg"] / "sessions").glob("*.json"))  # its live file is gone after exit
    print(f"claude -p against the stub: {elapsed:.2f}s")


def test_resume_keeps_the_id_and_unknown_id_is_refused(claude: Path, rworld: dict) -> None:
    sid = str(uuid.uuid4())
    with MessagesStub(reply=REPLY) as stub:
        first = _run_print(claude, rworld, stub, "-p", "first prompt", "--output-format", "stream-json",
                           "--verbose", "--session-id", sid)
        assert first.returncode == 0, first.stderr
        again = _run_print(claude, rworld, stub, "-p", "x", "--session-id", sid)
        second = _run_print(claude, rworld, stub, "-p", "second prompt", "--output-format", "stream-json",
                            "--verbose", "--resume", sid)
        unknown = str(uuid.uuid4())
        missing = _run_print(claude, rworld, stub, "-p", "x", "--resume", unknown)
        both = _run_print(claude, rworld, stub, "--session-id", str(uuid.uuid4()), "--resume", sid)
    assert again.returncode == 1 and f"Session ID {sid} is already in use." in again.stderr
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout.splitlines()[-1])["session_id"] == sid
    transcript = transcript_path(rworld["cfg"], rworld["cwd"], sid)
    prompts = [r["message"]["content"] for r in read_jsonl(transcript)
               if r.get("type") == "user" and isinstance(r["message"]["content"], str)]
    assert prompts == ["first prompt", "second prompt"]
    assert [p.name for p in transcript.parent.glob("*.jsonl")] == [transcript.name]
    assert missing.returncode == 1
    assert f"No conversation found with session ID: {unknown}" in missing.stderr
    assert both.returncode == 1
    # 2.1.197: "--session-id can only be used with --continue or --resume if --fork-session is also specified"
    # 2.1.332: "--session-id with --continue or --resume also needs --fork-session"
    assert "--session-id" in both.stderr and "--fork-session" in both.stderr


def test_interactive_boot_turn_status_and_exit(claude: Path, rworld: dict) -> None:
    cfg, cwd = rworld["cfg"], rworld["cwd"]
    seed_claude_config(cfg, cwd)
    sid = str(uuid.uuid4())
    prompt = "please reply with the magic words"
    # The delay keeps the CLI "busy" long enough for a poll to see it.
    with MessagesStub(reply=REPLY, delay_s=1.5) as stub, \
            PrivateTmux({"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(rworld["home"]),
                         "TERM": "xterm-256color", "LANG": "C.UTF-8"}) as tmux:
        env = claude_env(rworld["home"], cfg, stub.url)
        t0 = time.monotonic()
        pane = tmux.spawn([str(claude), "--session-id", sid], cwd=cwd, env=env, name="claude")
        pid = tmux.pane_pid(pane)
        screen = wait_for(lambda: (s := tmux.capture(pane, history=False))
                          and any(m in s for m in PROMPT_MARKERS) and s,
                          timeout=60, message=f"the prompt ({PROMPT_MARKERS}) on screen")
        boot_s = time.monotonic() - t0
        assert f"Claude Code v{CLAUDE_VERSION}" in screen and "❯" in screen
        for unwanted in ("trust", "Choose the text style", "Detected a custom API key", "Select login method"):
            assert unwanted not in screen, screen

        live_path = live_session_path(cfg, pid)
        live = wait_for(lambda: read_json(live_path), timeout=30, message=f"{live_path}")
        assert live["pid"] == pid and live["sessionId"] == sid and live["cwd"] == cwd
        assert live["procStart"] == str(proc_start_ticks(pid))
        assert live["kind"] == "interactive" and live["entrypoint"] == "cli"
        live = wait_for(lambda: (d := read_json(live_path)) and d.get("status") == "idle" and d,
                        timeout=30, message="status idle at boot")
        transcript = transcript_path(cfg, cwd, sid)
        assert not transcript.exists()  # created at the first prompt, not at boot

        tmux.send_line(pane, prompt)
        seen: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status = (read_json(live_path) or {}).get("status")
            if status and (not seen or seen[-1] != status):
                seen.append(status)
            if "busy" in seen and seen[-1] == "idle":
                break
            time.sleep(0.02)
        assert "busy" in seen and seen[-1] == "idle", seen
        assert seen.index("busy") < len(seen) - 1

        recs = wait_for(lambda: (r := read_jsonl(transcript)) and any(x.get("subtype") == "turn_duration"
                                                                     for x in r) and r,
                        timeout=30, message="turn_duration in the transcript")
        users = [r for r in recs if r.get("type") == "user"]
        assert users[0]["message"]["content"] == prompt and users[0]["sessionId"] == sid
        assert any(b.get("text") == REPLY for r in recs if r.get("type") == "assistant"
                   for b in r["message"]["content"])
        wait_for(lambda: REPLY in tmux.capture(pane), timeout=10, message="the reply on screen")
        assert stub.saw_text(prompt)
        assert all(r.stream for r in stub.message_requests())

        tmux.send_line(pane, "/exit")
        wait_for(lambda: tmux.dead_status(pane) is not None, timeout=30, message="exit after /exit")
        assert tmux.dead_status(pane) == 0
        assert not live_path.exists()
        assert {"last-prompt", "cost-state"} & {r.get("type") for r in read_jsonl(transcript)}  # bookkeeping, as above
        assert f"claude --resume {sid}" in tmux.capture(pane)
    print(f"interactive boot to prompt: {boot_s:.2f}s; statuses seen: {seen}")


def _tool_then_text(req) -> str | dict:
    """Main-model requests get a Bash tool_use (→ permission prompt) until a tool_result comes back."""
    body = req.body if isinstance(req.body, dict) else {}
    if "haiku" in str(body.get("model")):
        return "Stub title"  # the side request that names the session
    users = [m for m in body.get("messages") or [] if isinstance(m, dict) and m.get("role") == "user"]
    content = users[-1].get("content") if users else None
    if isinstance(content, list) and any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content):
        return REPLY
    return {"name": "Bash", "input": {"command": "touch created-by-tool", "description": "Create a file"}}


def test_interactive_permission_prompt_sets_waiting(claude: Path, rworld: dict) -> None:
    cfg, cwd = rworld["cfg"], rworld["cwd"]
    seed_claude_config(cfg, cwd)
    sid = str(uuid.uuid4())
    with MessagesStub(reply=_tool_then_text) as stub, \
            PrivateTmux({"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(rworld["home"]),
                         "TERM": "xterm-256color", "LANG": "C.UTF-8"}) as tmux:
        env = claude_env(rworld["home"], cfg, stub.url)
        # the default permission mode asks (2.1.332 defaults to auto mode, which may not)
        pane = tmux.spawn([str(claude), "--session-id", sid, "--permission-mode", "default"], cwd=cwd, env=env,
                          name="claude")
        pid = tmux.pane_pid(pane)
        wait_for(lambda: any(m in tmux.capture(pane, history=False) for m in PROMPT_MARKERS), timeout=60,
                 message="the prompt")
        live_path = live_session_path(cfg, pid)
        wait_for(lambda: (read_json(live_path) or {}).get("status") == "idle", timeout=30, message="idle")
        tmux.send_line(pane, "create the file")
        live = wait_for(lambda: (d := read_json(live_path)) and d.get("status") == "waiting" and d,
                        timeout=30, message="status waiting")
        assert live["waitingFor"] == "permission prompt"
        screen = wait_for(lambda: (s := tmux.capture(pane, history=False)) and "Do you want to proceed?" in s and s,
                          timeout=10, message="the permission prompt")
        assert "1. Yes" in screen and "No" in screen
        tmux.tmux("send-keys", "-t", pane, "Escape")  # decline: nothing runs
        live = wait_for(lambda: (d := read_json(live_path)) and d.get("status") == "idle" and d,
                        timeout=30, message="idle after declining")
        assert "waitingFor" not in live
        assert not (Path(cwd) / "created-by-tool").exists()
        recs = read_jsonl(transcript_path(cfg, cwd, sid))
        blocks = [b for r in recs for b in ((r.get("message") or {}).get("content") or [])
                  if isinstance(b, dict)]
        assert any(b.get("type") == "tool_use" and b.get("name") == "Bash" for b in blocks)
        os.kill(pid, 15)
        wait_for(lambda: tmux.dead_status(pane) is not None, timeout=30, message="exit on SIGTERM")
        assert tmux.dead_status(pane) == 143
        assert not live_path.exists()
        print("screen at the permission prompt:\n" + "\n".join(l for l in screen.splitlines() if l.strip()))
