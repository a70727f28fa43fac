"""The conversation view's reader: the last turns of Claude Code and Codex transcripts, from the end.

Records are written by the simulator's own session writer (Claude Code's real format) or as
Codex rollout lines; garbage lines are counted, never fatal; a 60 MB transcript opens by reading
its end only; appended records are followed, a partial last line waits for its newline.
"""

from __future__ import annotations

import json
import time
import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.observe.conversation import ConversationTail, Entry, main_argument
from cockpit.sim.agent import SimSession


def claude_session(tmp_path) -> SimSession:
    return SimSession(tmp_path / "claude", str(tmp_path), str(uuid.uuid4()), entrypoint="cli", name=None,
                      write_status=False, model="claude-sim")


def write_turn(sess: SimSession, prompt: str, reply: str, *, tool: tuple[str, dict] | None = None) -> None:
    sess.user(prompt)
    if tool is not None:
        tool_id = f"toolu_{uuid.uuid4().hex[:8]}"
        sess.assistant([{"type": "tool_use", "id": tool_id, "name": tool[0], "input": tool[1]}], stop_reason="tool_use")
        sess.user([{"type": "tool_result", "tool_use_id": tool_id, "content": "ok"}], source="tool")
    sess.assistant([{"type": "text", "text": reply}])
    sess.turn_duration(1200)


def shown(entries: list[Entry]) -> list[tuple[str, str | None, str]]:
    return [(e.role, e.tool, e.text) for e in entries]


def test_claude_turns_show_user_text_assistant_text_and_one_line_per_tool_call(tmp_path):
    sess = claude_session(tmp_path)
    write_turn(sess, "why does test_login fail?", "The **token** expired:\n\n- renew it", tool=(
        "Bash", {"command": "pytest -q tests/test_login.py", "description": "run it"}))
    with open(sess.transcript, "ab") as fh:
        fh.write(b"{torn line\n\xff\xfe binary\n[1, 2]\n")
    write_turn(sess, "fix it", "Done.", tool=("Edit", {"file_path": "/src/auth.py", "old_string": "a", "new_string": "b"}))
    tail = ConversationTail(sess.transcript)
    reset, entries = tail.update()
    assert reset and shown(entries) == [
        ("user", None, "why does test_login fail?"),
        ("tool", "Bash", "pytest -q tests/test_login.py"),
        ("assistant", None, "The **token** expired:\n\n- renew it"),
        ("user", None, "fix it"),
        ("tool", "Edit", "/src/auth.py"),
        ("assistant", None, "Done."),
    ]
    assert tail.bad_lines == 3 and tail.complete and entries[0].at is not None

    # live: a new record is followed, a partial line waits for its newline
    sess.user("and the docs?")
    assert shown(tail.update()[1]) == [("user", None, "and the docs?")]
    rec = json.dumps({"type": "assistant", "message": {"role": "assistant", "content": [{"type": "text", "text": "Yes."}]}})
    with open(sess.transcript, "a") as fh:
        fh.write(rec[:20])
    assert tail.update() == (False, [])
    with open(sess.transcript, "a") as fh:
        fh.write(rec[20:] + "\n")
    assert shown(tail.update()[1]) == [("assistant", None, "Yes.")]


def test_codex_rollouts_show_the_same_shape(tmp_path):
    path = tmp_path / "rollout-2026-12-03T07-00-00-abc.jsonl"
    lines = [
        {"type": "session_meta", "payload": {"id": "abc", "cwd": "/src"}},
        {"type": "event_msg", "payload": {"type": "user_message", "message": "list the tests"}},
        {"type": "response_item", "payload": {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "list the tests"}]}},
        {"type": "response_item", "payload": {"type": "function_call", "name": "shell",
                                              "arguments": json.dumps({"command": ["bash", "-lc", "ls tests"]})}},
        {"type": "response_item", "payload": {"type": "custom_tool_call", "name": "apply_patch",
                                              "input": "*** Begin Patch\n*** Update File: a.py\n"}},
        {"type": "event_msg", "payload": {"type": "agent_message", "message": "There are 12 tests."}},
        {"type": "event_msg", "payload": {"type": "task_complete"}},
    ]
    path.write_text("".join(json.dumps({"timestamp": "2026-12-03T07:00:00.000Z", **r}) + "\n" for r in lines))
    tail = ConversationTail(path, "codex")
    assert shown(tail.update()[1]) == [
        ("user", None, "list the tests"),
        ("tool", "shell", "bash -lc ls tests"),
        ("tool", "apply_patch", "*** Begin Patch"),
        ("assistant", None, "There are 12 tests."),
    ]


def test_a_big_transcript_opens_from_its_end(tmp_path):
    sess = claude_session(tmp_path)
    write_turn(sess, "the very first prompt", "first reply")
    filler = json.dumps({"type": "progress", "data": "x" * 2000}) + "\n"
    with open(sess.transcript, "a") as fh:
        fh.write(filler * 30_000)  # ~60 MB of records the view does not show
    for i in range(400):
        write_turn(sess, f"prompt {i}", f"reply {i}")
    assert sess.transcript.stat().st_size > 60e6
    tail = ConversationTail(sess.transcript, max_entries=100)
    started = time.perf_counter()
    entries = tail.open()
    elapsed = time.perf_counter() - started
    assert elapsed < 0.5, elapsed
    assert len(entries) == 100 and entries[-1].text == "reply 399" and entries[0].text == "prompt 350"
    assert not tail.complete and tail.offset == sess.transcript.stat().st_size
    sess.user("one more")
    assert shown(tail.update()[1]) == [("user", None, "one more")]


def test_a_replaced_or_vanished_file_is_read_again_not_a_crash(tmp_path):
    sess = claude_session(tmp_path)
    write_turn(sess, "before", "old")
    tail = ConversationTail(sess.transcript)
    tail.update()
    sess.transcript.unlink()
    assert tail.update() == (False, []) and "No such file" in tail.error
    write_turn(sess, "after", "new")
    reset, entries = tail.update()
    assert reset and [e.text for e in entries] == ["after", "new"] and tail.error is None


def test_main_arguments():
    assert main_argument("Grep", {"pattern": "TODO", "path": "src"}) == "TODO"
    assert main_argument("TodoWrite", {"todos": [{}, {}]}) == "2 items"
    assert main_argument("mcp__x__y", {"n": 3}) == "3"
    assert main_argument("shell", "not json at all\nsecond") == "not json at all"
    assert main_argument("Bash", {"command": "a\n  b"}) == "a b"


_SCRATCH: list = []


def _scratch(factory):
    if not _SCRATCH:
        _SCRATCH.append(factory.mktemp("hyp"))
    return _SCRATCH[0]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=300), st.builds(
    lambda d: json.dumps(d).encode(), st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                                                  lambda c: st.lists(c, max_size=3) | st.dictionaries(
                                                      st.sampled_from(["type", "message", "content", "payload",
                                                                       "text", "name", "input", "timestamp"]),
                                                      c, max_size=4), max_leaves=12))), max_size=30),
       st.sampled_from(["claude-code", "codex"]))
def test_any_lines_are_entries_or_counted_never_an_error(tmp_path_factory, lines, kind):
    path = _scratch(tmp_path_factory) / "t.jsonl"
    path.write_bytes(b"\n".join(line.replace(b"\n", b" ") for line in lines) + b"\n")
    tail = ConversationTail(path, kind)
    reset, entries = tail.update()
    assert reset and all(isinstance(e.text, str) for e in entries)
    for e in entries:
        e.text.encode("utf-8")
    assert tail.bad_lines <= len(lines)
