"""Transcript readers: incremental, tolerant, honest about last activity (seed #3, SPEC §5/§6)."""

from __future__ import annotations

import json
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.claude_paths import project_dir
from cockpit.observe import transcripts as tr
from cockpit.observe.transcripts import (
    ClaudeTranscriptReader,
    CodexIndex,
    CodexTranscriptReader,
    GlobTranscripts,
    TranscriptIndex,
    bench_transcript,
    is_session_file,
)

T0 = 1_750_000_000.0  # a fixed epoch for hand-made records


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def line(obj: dict) -> bytes:
    return (json.dumps(obj, separators=(",", ":")) + "\n").encode()


def rec(rtype: str, ts: float | None, *, sid: str = "s", cwd: str = "/w", **body) -> dict:
    r = {"parentUuid": None, "isSidechain": False, "type": rtype, **body, "uuid": str(uuid.uuid4()),
         "userType": "external", "cwd": cwd, "sessionId": sid, "version": "2.1.197", "gitBranch": "HEAD"}
    if ts is not None:
        r["timestamp"] = iso(ts)
    return r


def user(ts, text="fix the tests", **kw):
    return rec("user", ts, message={"role": "user", "content": text}, **kw)


def tool_result(ts, text="ok", **kw):
    return rec("user", ts, message={"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": text}]}, **kw)


def assistant(ts, text=None, tool=None, msg_id="msg_1", **kw):
    content = []
    if text is not None:
        content.append({"type": "text", "text": text})
    if tool is not None:
        content.append({"type": "tool_use", "id": "toolu_1", "name": tool[0], "input": tool[1]})
    return rec("assistant", ts, message={"id": msg_id, "role": "assistant", "model": "m", "content": content}, **kw)


def turn_end(ts, **kw):
    return rec("system", ts, subtype="turn_duration", durationMs=1200, **kw)


def turn(ts: float, n: int, **kw) -> bytes:
    return b"".join(line(r) for r in (
        user(ts, f"prompt {n}", **kw),
        assistant(ts + 1, tool=("Read", {"file_path": f"/src/f{n}.py"}), msg_id=f"m{n}", **kw),
        tool_result(ts + 2, "contents", **kw),
        assistant(ts + 3, text=f"answer {n}", msg_id=f"m{n}b", **kw),
        turn_end(ts + 4, **kw),
    ))


def sid_path(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{uuid.uuid4()}.jsonl"


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as fh:
        fh.write(data)


# --- what a reader tells ------------------------------------------------------------------------


def test_claude_reader_summarises_a_session(tmp_path):
    path = sid_path(tmp_path)
    path.write_bytes(
        line({"type": "mode", "mode": "normal", "sessionId": "s"})
        + line({"type": "permission-mode", "permissionMode": "default", "sessionId": "s"})
        + turn(T0, 1, cwd="/home/a/my.proj_x") + turn(T0 + 60, 2, cwd="/home/a/my.proj_x")
        + line({"type": "last-prompt", "lastPrompt": "prompt 2", "sessionId": "s"})
    )
    reader = ClaudeTranscriptReader(path)
    assert reader.update() is True
    s = reader.summary()
    assert s.session_id == path.stem and s.kind == "claude-code"
    assert s.cwd == "/home/a/my.proj_x"  # from the records, never from the folder's slug
    assert s.first_at == pytest.approx(T0) and s.last_at == pytest.approx(T0 + 64)
    assert s.turn_finished is True and s.turns == 2 and s.turns_finished == 2 and s.assistant_messages == 4
    assert s.last_user_text == "prompt 2" and s.last_assistant_text == "answer 2"
    assert s.bad_lines == 0 and s.complete and not s.sidechain
    roles = [r.role for r in s.recent]
    assert roles[-5:] == ["user", "assistant", "tool_result", "assistant", "system"]
    assert s.recent[-4].tools == ("Read(file_path=/src/f2.py)",)
    assert s.recent[-1].kind == "system/turn_duration"
    json.dumps(s.to_json())  # serialisable as evidence


def test_last_activity_is_the_last_timestamp_not_mtime_and_untimed_lines_do_not_move_it(tmp_path):
    path = sid_path(tmp_path)
    path.write_bytes(turn(T0, 1))
    reader = ClaudeTranscriptReader(path)
    reader.update()
    append(path, line({"type": "last-prompt", "lastPrompt": "x", "sessionId": "s"}))
    os.utime(path, (T0 + 99999, T0 + 99999))
    reader.update()
    assert reader.summary().last_at == pytest.approx(T0 + 4)


def test_turn_state_follows_user_assistant_and_turn_duration(tmp_path):
    path = sid_path(tmp_path)
    reader = ClaudeTranscriptReader(path)
    steps = [
        (user(T0, "go"), False),
        (assistant(T0 + 1, tool=("Bash", {"command": "ls"})), False),
        (tool_result(T0 + 2), False),
        (turn_end(T0 + 3), True),
        (user(T0 + 4, "<command-name>/model</command-name>"), True),  # a local command: no model turn
        (user(T0 + 5, "caveat", isMeta=True), True),
        (user(T0 + 6, "again"), False),
        (user(T0 + 7, "[Request interrupted by user]"), True),
    ]
    for record, finished in steps:
        append(path, line(record))
        reader.update()
        assert reader.summary().turn_finished is finished, record
    assert reader.summary().turns == 2


def test_a_tick_reads_only_the_appended_bytes(tmp_path):
    path = sid_path(tmp_path)
    with open(path, "wb") as fh:
        for n in range(3000):  # several MB
            fh.write(turn(T0 + n * 10, n))
    reader = ClaudeTranscriptReader(path)
    reader.update()
    size = path.stat().st_size
    assert reader.bytes_read == size
    first_probe = reader.probe_bytes
    # an unchanged file costs a stat, no read at all
    assert reader.update() is False and reader.bytes_read == size
    extra = turn(T0 + 99999, 9999)
    append(path, extra)
    assert reader.update() is True
    assert reader.bytes_read - size == len(extra)  # only the appended bytes
    assert reader.probe_bytes - first_probe <= tr.HEAD_ID_BYTES + 1  # identity check: head + one byte
    s = reader.summary()
    assert s.turns == 3001 and s.last_user_text == "prompt 9999" and s.last_at == pytest.approx(T0 + 99999 + 4)


def test_a_partial_last_line_waits_for_its_newline(tmp_path):
    path = sid_path(tmp_path)
    whole = line(user(T0 + 5, "typed"))
    path.write_bytes(turn(T0, 1) + whole[:40])
    reader = ClaudeTranscriptReader(path)
    reader.update()
    assert reader.summary().turn_finished is True and reader.summary().bad_lines == 0
    append(path, whole[40:])
    reader.update()
    s = reader.summary()
    assert s.turn_finished is False and s.last_user_text == "typed" and s.bad_lines == 0


def test_a_truncated_file_is_read_again_from_the_start(tmp_path):
    path = sid_path(tmp_path)
    path.write_bytes(turn(T0, 1) + turn(T0 + 10, 2))
    reader = ClaudeTranscriptReader(path)
    reader.update()
    path.write_bytes(turn(T0 + 100, 7))  # truncated and rewritten shorter
    reader.update()
    s = reader.summary()
    assert s.turns == 1 and s.last_user_text == "prompt 7" and s.first_at == pytest.approx(T0 + 100)
    assert reader.resets == 1


def test_a_replaced_file_is_detected_even_when_it_grew(tmp_path):
    path = sid_path(tmp_path)
    path.write_bytes(turn(T0, 1))
    reader = ClaudeTranscriptReader(path)
    reader.update()
    other = tmp_path / "new.tmp"
    other.write_bytes(turn(T0 + 500, 5) + turn(T0 + 600, 6))
    os.replace(other, path)  # rotation: another inode at the same path
    reader.update()
    s = reader.summary()
    assert s.turns == 2 and s.first_at == pytest.approx(T0 + 500) and s.last_user_text == "prompt 6"


def test_a_file_rewritten_in_place_is_read_again(tmp_path):
    path = sid_path(tmp_path)
    path.write_bytes(turn(T0, 1))
    reader = ClaudeTranscriptReader(path)
    reader.update()
    with open(path, "r+b") as fh:  # same inode, new content, longer
        fh.write(turn(T0 + 700, 8) + turn(T0 + 800, 9))
    reader.update()
    s = reader.summary()
    assert s.first_at == pytest.approx(T0 + 700) and s.turns == 2


def test_hostile_lines_are_counted_and_skipped(tmp_path):
    path = sid_path(tmp_path)
    path.write_bytes(
        turn(T0, 1)
        + b'{"type":"user","message":{"role":"user","content":"trunc\n'       # truncated JSON
        + b"\xff\xfe\x00garbage\x80\n"                                        # not UTF-8
        + b"[1,2,3]\n"                                                        # not an object
        + b"[" * 100_000 + b"\n"                                              # deeper than the parser goes
        + b'{"n":' + b"9" * 5000 + b"}\n"                                     # an int too long to convert
        + line({"type": "brand-new-type", "timestamp": iso(T0 + 50)})          # unknown type: skipped, not bad
        + line({"type": "user", "message": "not a dict", "timestamp": iso(T0 + 51)})
        + line({"type": "assistant", "message": {"content": [1, None, {"type": "text"}]}, "timestamp": iso(T0 + 52)})
        + line({"type": "user", "timestamp": "not a date"})
        + line({"type": "user", "timestamp": iso(4_000_000_000)})             # in the future: not believed
        + b"\n\n"
    )
    reader = ClaudeTranscriptReader(path, max_line_bytes=50_000)
    reader.update()
    s = reader.summary()
    assert s.bad_lines == 5
    assert s.oversize_lines == 1  # the 100 000 brackets
    assert s.last_at == pytest.approx(T0 + 52) and s.turns == 1


def test_a_huge_line_is_skipped_but_keeps_its_timestamp(tmp_path):
    path = sid_path(tmp_path)
    huge = user(T0 + 30, "x" * 300_000)
    path.write_bytes(turn(T0, 1) + line(huge))
    reader = ClaudeTranscriptReader(path, max_line_bytes=100_000)
    reader.update()
    s = reader.summary()
    assert s.oversize_lines == 1 and s.bad_lines == 1
    assert s.last_at == pytest.approx(T0 + 30)  # salvaged from the end of the line
    append(path, line(turn_end(T0 + 31)))
    reader.update()
    assert reader.summary().last_at == pytest.approx(T0 + 31)


def test_a_huge_line_arriving_in_pieces_is_skipped_across_ticks(tmp_path):
    path = sid_path(tmp_path)
    huge = line(user(T0 + 30, "y" * 250_000))
    path.write_bytes(turn(T0, 1))
    reader = ClaudeTranscriptReader(path, max_line_bytes=100_000)
    reader.update()
    for i in range(0, len(huge), 60_000):
        append(path, huge[i:i + 60_000])
        reader.update()
    append(path, line(user(T0 + 40, "after")))
    reader.update()
    s = reader.summary()
    assert s.oversize_lines == 1 and s.last_user_text == "after" and s.last_at == pytest.approx(T0 + 40)


# --- discovery ------------------------------------------------------------------------------------


def test_subagent_transcripts_are_not_sessions(tmp_path):
    cfg = tmp_path / "claude"
    cwd = "/home/a/proj"
    folder = project_dir(cfg, cwd)
    main = sid_path(folder)
    main.write_bytes(turn(T0, 1, cwd=cwd))
    sub = folder / main.stem / "subagents" / "agent-a1b2.jsonl"
    sub.parent.mkdir(parents=True)
    sub.write_bytes(line(user(T0 + 100, "sub", cwd=cwd, isSidechain=True)))
    (folder / "agent-1234abcd.jsonl").write_bytes(line(user(T0 + 100, "old sub", cwd=cwd, isSidechain=True)))
    side = sid_path(folder)  # a top-level UUID file made only of sidechain records
    side.write_bytes(line(user(T0 + 200, "side", cwd=cwd, isSidechain=True)))
    (folder / "notes.jsonl").write_bytes(b"{}\n")
    assert is_session_file(main) and not is_session_file(sub) and not is_session_file(folder / "agent-1234abcd.jsonl")
    index = TranscriptIndex(cfg)
    sums = index.refresh([cwd])[str(folder)]
    assert {s.session_id for s in sums} == {main.stem, side.stem}
    assert [s.sidechain for s in sums if s.session_id == side.stem] == [True]


def test_the_index_lists_only_the_fleets_folders_unless_asked(tmp_path):
    cfg = tmp_path / "claude"
    mine, other = "/srv/fleet/a", "/srv/elsewhere"
    sid_path(project_dir(cfg, mine)).write_bytes(turn(T0, 1, cwd=mine))
    far = sid_path(project_dir(cfg, other))
    far.write_bytes(turn(T0, 1, cwd=other))
    index = TranscriptIndex(cfg)
    found = index.refresh([mine, mine])
    assert list(found) == [str(project_dir(cfg, mine))] and index.folder_scans == 1
    assert str(far) not in index.readers
    everything = index.scan_all()
    assert str(project_dir(cfg, other)) in everything
    assert index.locate(far.stem) == [far]
    # a vanished file is dropped from its folder
    far.unlink()
    assert index.refresh_folder(project_dir(cfg, other)) == []


def test_a_big_candidate_is_peeked_then_read_whole_once(tmp_path):
    cfg = tmp_path / "claude"
    cwd = "/w"
    path = sid_path(project_dir(cfg, cwd))
    with open(path, "wb") as fh:
        for n in range(1500):
            fh.write(turn(T0 + n * 10, n))
    size = path.stat().st_size
    assert size > tr.FULL_READ_BELOW * 2
    index = TranscriptIndex(cfg)
    [s] = index.refresh([cwd])[str(project_dir(cfg, cwd))]
    reader = index.readers[str(path)]
    assert reader.bytes_read < tr.PEEK_HEAD + tr.PEEK_TAIL + 1  # head and tail, not the middle
    assert not s.complete and s.first_at == pytest.approx(T0) and s.last_at == pytest.approx(T0 + 14994)
    assert s.turn_finished is True and s.last_user_text == "prompt 1499" and s.cwd == cwd
    full = index.ensure_full(project_dir(cfg, cwd), path.stem)
    assert full.complete and full.turns == 1500 and full.first_at == pytest.approx(T0)
    read = reader.bytes_read
    append(path, turn(T0 + 99999, 1500))
    index.refresh([cwd])
    assert reader.bytes_read - read == len(turn(T0 + 99999, 1500))
    assert index.get(project_dir(cfg, cwd), path.stem).turns == 1501


# --- Codex and generic -------------------------------------------------------------------------------


def codex_line(ts: float, rtype: str, payload: dict) -> bytes:
    return line({"timestamp": iso(ts), "type": rtype, "payload": payload})


def test_codex_rollouts_give_id_cwd_and_task_complete(tmp_path):
    home = tmp_path / "codex"
    sid = str(uuid.uuid4())
    day = home / "sessions" / "2024" / "01" / "02"
    day.mkdir(parents=True)
    path = day / f"rollout-2024-01-02T03-04-05-{sid}.jsonl"
    path.write_bytes(
        codex_line(T0, "session_meta", {"id": sid, "cwd": "/repo", "cli_version": "0.40.0", "source": "cli",
                                        "timestamp": iso(T0)})
        + codex_line(T0 + 1, "event_msg", {"type": "task_started"})
        + codex_line(T0 + 2, "event_msg", {"type": "user_message", "message": "add a test"})
        + codex_line(T0 + 3, "response_item", {"type": "function_call", "name": "shell",
                                               "arguments": json.dumps({"command": "pytest"})})
        + codex_line(T0 + 4, "event_msg", {"type": "agent_message", "message": "added it"})
    )
    reader = CodexTranscriptReader(path)
    reader.update()
    s = reader.summary()
    assert (s.session_id, s.cwd, s.turn_finished, s.turns) == (sid, "/repo", False, 1)
    assert s.last_user_text == "add a test" and s.last_assistant_text == "added it"
    assert s.recent[-2].tools == ("shell(command=pytest)",)
    # `codex resume` appends to the rollout in its old date folder: the index still follows it
    index = CodexIndex(home, clock=lambda: T0 + 400 * 86400)
    [found] = index.refresh(["/repo"])
    assert found.session_id == sid
    append(path, codex_line(T0 + 5, "event_msg", {"type": "task_complete", "last_agent_message": "done"}))
    [found] = index.refresh(["/repo"])
    assert found.turn_finished is True and found.last_assistant_text == "done"
    assert index.by_session(sid.upper()) is not None


def test_a_generic_glob_reader(tmp_path):
    (tmp_path / "logs").mkdir()
    path = tmp_path / "logs" / "chat-1.jsonl"
    path.write_bytes(line({"ts": T0, "role": "user", "text": "hi"}) + line({"time": iso(T0 + 5), "role": "assistant",
                                                                           "content": "hello"}) + b"junk\n")
    glob = GlobTranscripts(str(tmp_path / "logs" / "*.jsonl"))
    [s] = glob.refresh()
    assert (s.session_id, s.turns, s.last_assistant_text, s.bad_lines) == ("chat-1", 1, "hello", 1)
    assert s.last_at == pytest.approx(T0 + 5)


# --- properties -------------------------------------------------------------------------------------

_piece = st.one_of(
    st.builds(lambda n, ts: line(user(T0 + ts, f"p{n}")), st.integers(0, 99), st.integers(0, 10_000)),
    st.builds(lambda ts: line(turn_end(T0 + ts)), st.integers(0, 10_000)),
    st.builds(lambda ts: line(assistant(T0 + ts, text="a")), st.integers(0, 10_000)),
    st.builds(lambda ts, cut: line(user(T0 + ts, "cut"))[:cut] + b"\n", st.integers(0, 100), st.integers(1, 60)),
    st.binary(max_size=80),
    st.builds(lambda n: b"z" * n + b"\n", st.integers(300, 900)),  # over the reader's max_line_bytes below
    st.builds(lambda n: b'{"timestamp":"' + iso(T0 + n).encode() + b'","pad":"' + b"q" * 700 + b'"}\n',
              st.integers(0, 100)),
    st.just(b"\xff\xfe\x00\n"),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(_piece, max_size=25), cuts=st.lists(st.integers(0, 4000), max_size=6),
       reader_class=st.sampled_from([ClaudeTranscriptReader, CodexTranscriptReader, tr.GenericTranscriptReader]))
def test_readers_never_raise_and_incremental_equals_one_pass(tmp_path, pieces, cuts, reader_class):
    data = b"".join(pieces)
    path = tmp_path / f"{uuid.uuid4()}.jsonl"
    path.write_bytes(b"")
    incremental = reader_class(path, max_line_bytes=256)
    written = 0
    for cut in sorted(c % (len(data) + 1) for c in cuts) + [len(data)]:
        if cut > written:
            append(path, data[written:cut])
            written = cut
        incremental.update()
    whole = reader_class(path, max_line_bytes=256)
    whole.update()
    a, b = incremental.summary(), whole.summary()
    assert a == b
    path.unlink()


def test_the_benchmark_function_reports_first_read_and_incremental_tick(tmp_path):
    first, tick = bench_transcript(2 << 20, tmp_path)
    assert first > 0 and tick > 0 and tick < first
