"""`cockpit send NAME TEXT`: typed literally into an agent the test started (then adopted), verified like a wake.

Exit 0 only when the agent shows the turn (a new user record with the text in its transcript);
an agent that ignores its input makes `send` exit 1 with what was seen (its status, its prompts,
its screen). Read-only refuses at the action layer; every attempt is journaled.
"""

from __future__ import annotations

import json
import sys

from cockpit.act.deliver import typed_text
from cockpit.cli import main
from tests.conftest import wait_for


def start_sim(world, window: str, *args: str) -> tuple[str, int]:
    """A pane the test starts (not cockpit): the simulator as `claude`; returns (pane, pid) once it is idle."""
    claude = world.root / "bin" / "claude"
    if not claude.exists():
        claude.parent.mkdir()
        claude.write_text(f"#!{sys.executable}\nfrom cockpit.sim.agent import main\nraise SystemExit(main())\n")
        claude.chmod(0o755)
    cmd = " ".join([f"exec {claude}", "--reply-delay-s", "0.05", *args])
    if world.tmux("has-session", "-t", "work").returncode != 0:
        world.tmux("-f", "/dev/null", "new-session", "-d", "-s", "work", "-n", window, "-c", str(world.work), cmd)
    else:
        world.tmux("new-window", "-d", "-t", "work:", "-n", window, "-c", str(world.work), cmd)
    pane, pid = world.tmux("display-message", "-p", "-t", f"work:{window}", "#{pane_id} #{pane_pid}").stdout.split()

    def idle():
        path = world.claude_dir / "sessions" / f"{pid}.json"
        return path.exists() and json.loads(path.read_text()).get("status") == "idle"
    wait_for(idle, what=f"{window} idle")
    return pane, int(pid)


def adopted(world, capsys, window: str, *args: str, supervisor=None):
    pane, pid = start_sim(world, window, *args)
    claude = str(world.root / "bin" / "claude")
    config = world.write_config([{"name": window, "kind": "claude-code", "command": [claude]}],
                                supervisor={"wake_verify_s": 5.0, "wake_retries": 0, **(supervisor or {})})
    assert main(["adopt", window, pane, "--config", str(config.path)]) == 0
    capsys.readouterr()
    return config, pane, pid


def user_prompts(world) -> list[str]:
    out = []
    for path in (world.claude_dir / "projects").glob("*/*.jsonl"):
        for line in path.read_text().splitlines():
            rec = json.loads(line)
            if rec.get("type") == "user" and isinstance(rec["message"].get("content"), str):
                out.append(rec["message"]["content"])
    return out


def test_send_with_shell_metacharacters_arrives_literally_and_runs_nothing(world, capsys):
    config, pane, pid = adopted(world, capsys, "tabs")
    pwn = [world.root / "pwned-dollar", world.root / "pwned-tick", world.root / "pwned-bang"]
    text = f"it's \"quoted\"; echo $(touch {pwn[0]}) `touch {pwn[1]}` ${{HOME}} | cat > x && exit"
    code = main(["send", "tabs", text, "--config", str(config.path), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["ok"] and out["via"] == "transcript" and out["pane"] == pane
    assert out["evidence"]["record"]["text"] == text and out["evidence"]["pid"] == pid
    code = main(["send", "tabs", f"!touch {pwn[2]}", "--config", str(config.path)])
    assert code == 0 and "verified by its transcript" in capsys.readouterr().out
    assert user_prompts(world) == [text, f" !touch {pwn[2]}"]  # each exactly one turn; ! is not bash mode
    assert not any(p.exists() for p in pwn) and not (world.work / "x").exists()
    rows = [json.loads(line) for line in config.state.journal.read_text().splitlines()]
    sends = [r for r in rows if r.get("action") == "send"]
    assert [r["result"] for r in sends] == ["verified", "verified"] and sends[0]["evidence"]["typed"] == text


def test_send_to_an_agent_that_ignores_input_exits_1_with_what_was_seen(world, capsys):
    config, pane, _ = adopted(world, capsys, "deaf", "--ignore-input",
                              supervisor={"wake_verify_s": 1.0, "wake_retries": 1})
    code = main(["send", "deaf", "please run the tests", "--config", str(config.path)])
    out = capsys.readouterr().out
    assert code == 1
    assert "deaf did NOT pick up the text within 1s (attempt 2 of 2; no retry left)" in out
    assert "status idle" in out and "no new prompt in its transcript" in out
    assert f"--- deaf's screen ({pane}) ---" in out and "please run the tests" in out  # it sits in its input box
    rows = [json.loads(line) for line in config.state.journal.read_text().splitlines()]
    assert [r["result"] for r in rows if r.get("action") == "send"] == ["missed", "missed"]


def test_send_is_refused_read_only_and_never_typed_into_a_down_agent(world, capsys):
    config, pane, pid = adopted(world, capsys, "tabs")
    assert main(["--read-only", "send", "tabs", "hello", "--config", str(config.path)]) == 2
    assert "send refused: this cockpit is read-only" in capsys.readouterr().err
    assert main(["send", "nobody", "hello", "--config", str(config.path)]) == 2
    world.tmux("kill-pane", "-t", pane)
    wait_for(lambda: not (world.claude_dir / "sessions" / f"{pid}.json").exists(), what="tabs gone")
    assert main(["send", "tabs", "hello", "--config", str(config.path)]) == 1
    assert "not typed: agent down" in capsys.readouterr().out
    assert user_prompts(world) == []
    assert typed_text("a\nb") == "a b"


def test_send_to_an_agent_with_nothing_to_verify_by_is_typed_once_and_says_so(world, capsys):
    world.tmux("-f", "/dev/null", "new-session", "-d", "-s", "work", "-n", "log", "-c", str(world.work),
               "exec cat > typed.txt")
    pane = world.tmux("display-message", "-p", "-t", "work:log", "#{pane_id}").stdout.strip()
    config = world.write_config([{"name": "log", "command": ["cat"]}],
                                supervisor={"wake_verify_s": 0.5, "wake_retries": 3})
    assert main(["adopt", "log", pane, "--config", str(config.path)]) == 0
    capsys.readouterr()
    assert main(["send", "log", "hello there", "--config", str(config.path)]) == 1
    assert "cannot be verified" in capsys.readouterr().out
    wait_for(lambda: (world.work / "typed.txt").read_text() == "hello there\n", what="the line, once")
