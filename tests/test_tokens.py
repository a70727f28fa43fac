"""Tokens per agent from the transcripts' usage: hand-built transcripts, split messages, garbage lines (SPEC §10)."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.observe.tokens import TokenTally, Tokens
from cockpit.observe.transcripts import ClaudeTranscriptReader, CodexTranscriptReader

SID = "3f0c2d1e-aaaa-bbbb-cccc-0123456789ab"


def assistant(msg_id: str | None, usage: object, text: str = "ok", **extra: object) -> dict:
    message: dict = {"role": "assistant", "model": "claude-x", "content": [{"type": "text", "text": text}],
                     "usage": usage}
    if msg_id is not None:
        message["id"] = msg_id
    return {"type": "assistant", "sessionId": SID, "cwd": "/w", "timestamp": "2026-01-01T00:00:00Z",
            "message": message, **extra}


def usage(i: int = 0, o: int = 0, cr: int = 0, cw: int = 0) -> dict:
    return {"input_tokens": i, "output_tokens": o, "cache_read_input_tokens": cr, "cache_creation_input_tokens": cw}


def write(path: Path, records: list[object], mode: str = "w") -> None:
    with path.open(mode + "b") as fh:
        for rec in records:
            fh.write(rec if isinstance(rec, bytes) else json.dumps(rec).encode())
            fh.write(b"\n")


def test_claude_usage_is_summed_with_a_split_message_counted_once_and_garbage_skipped(tmp_path: Path) -> None:
    path = tmp_path / f"{SID}.jsonl"
    write(path, [
        {"type": "user", "sessionId": SID, "cwd": "/w", "message": {"role": "user", "content": "hi"}},
        assistant("msg_1", usage(10, 5, 100, 20)),
        # one API response split over three records: the usage repeats, the last is the final count
        assistant("msg_2", usage(3, 1, 200, 0), "thinking"),
        assistant("msg_2", usage(3, 1, 200, 0), "tool call"),
        assistant("msg_2", usage(3, 40, 200, 0), "done"),
        b"{not json",
        b"\xff\xfe not utf-8",
        b"[1, 2, 3]",
        assistant("msg_3", "usage as a string"),
        assistant("msg_4", usage(True, -5, "7", 10**15)),  # bool, negative, string, absurd: ignored
        assistant("msg_5", usage(1, 1, 1, 1), isSidechain=True),  # a sub-agent's record: not this session's
        assistant(None, usage(2, 2, 0, 0)),  # no id: counted as it is
        b'{"type": "assistant", "message": {"id": "msg_6", "usage": {"input_tokens": 7',  # torn
    ])
    reader = ClaudeTranscriptReader(path)
    reader.update()
    summary = reader.summary()
    assert summary.tokens == Tokens(input=10 + 3 + 2, output=5 + 40 + 2, cache_read=100 + 200, cache_write=20)
    assert summary.bad_lines >= 3


def test_tokens_are_read_incrementally_and_a_split_across_reads_counts_once(tmp_path: Path) -> None:
    path = tmp_path / f"{SID}.jsonl"
    write(path, [assistant("msg_1", usage(10, 1, 0, 0))])
    reader = ClaudeTranscriptReader(path)
    reader.update()
    assert reader.summary().tokens == Tokens(input=10, output=1)
    read = reader.bytes_read
    write(path, [assistant("msg_1", usage(10, 30, 0, 0)), assistant("msg_2", usage(5, 5, 0, 0))], mode="a")
    reader.update()
    assert reader.summary().tokens == Tokens(input=15, output=35)
    assert reader.bytes_read - read < path.stat().st_size  # only the appended part was read


def test_a_peeked_big_transcript_says_unknown_until_read_whole(tmp_path: Path) -> None:
    path = tmp_path / f"{SID}.jsonl"
    write(path, [assistant(f"m{i}", usage(1, 1, 0, 0), "x" * 2000) for i in range(400)])
    reader = ClaudeTranscriptReader(path, full=False)
    reader.update()
    assert reader.summary().tokens is None  # only head and tail read: a partial sum would lie
    reader.ensure_full()
    reader.update()
    assert reader.summary().tokens == Tokens(input=400, output=400)


def token_count(total: dict | None) -> dict:
    info = None if total is None else {"total_token_usage": total, "last_token_usage": total}
    return {"timestamp": "2026-01-01T00:00:01Z", "type": "event_msg",
            "payload": {"type": "token_count", "info": info, "rate_limits": {"primary": {"used_percent": 3.0}}}}


def codex_total(i: int, cached: int, o: int) -> dict:
    return {"input_tokens": i, "cached_input_tokens": cached, "output_tokens": o, "reasoning_output_tokens": 0,
            "total_tokens": i + o}


def test_codex_rollouts_count_the_increase_of_their_cumulative_totals(tmp_path: Path) -> None:
    path = tmp_path / "rollout-2026-01-01T00-00-00-11111111-2222-3333-4444-555555555555.jsonl"
    write(path, [
        {"timestamp": "2026-01-01T00:00:00Z", "type": "session_meta", "payload": {"id": "s", "cwd": "/w"}},
        token_count(None),  # rate limits only, before the first response
        token_count(codex_total(1000, 800, 50)),
        token_count(codex_total(1000, 800, 50)),  # repeated: nothing new
        token_count(codex_total(2500, 2000, 120)),
        b"garbage",
        {"timestamp": "2026-01-01T00:00:02Z", "type": "event_msg", "payload": {"type": "token_count", "info": "x"}},
        token_count(codex_total(300, 0, 10)),  # a resumed session's new process starts from zero again
    ])
    reader = CodexTranscriptReader(path)
    reader.update()
    assert reader.summary().tokens == Tokens(input=500 + 300, output=120 + 10, cache_read=2000, cache_write=0)


_value = st.one_of(st.none(), st.booleans(), st.integers(-10, 10**13), st.text(max_size=3), st.floats(),
                   st.lists(st.integers(), max_size=2))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c", None]),
                          st.one_of(_value, st.dictionaries(st.sampled_from(
                              ["input_tokens", "output_tokens", "cache_read_input_tokens",
                               "cache_creation_input_tokens"]), _value))), max_size=12))
def test_any_usage_never_raises_and_each_message_counts_once_at_its_largest(records) -> None:
    tally = TokenTally()
    expected: dict[object, list[int]] = {}
    anonymous = [0, 0, 0, 0]
    for n, (msg_id, use) in enumerate(records):
        message = {"id": msg_id, "usage": use} if msg_id is not None else {"usage": use}
        tally.claude_message(message)
        if not isinstance(use, dict):
            continue
        counts = [v if isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 10**12 else 0
                  for v in (use.get("input_tokens"), use.get("output_tokens"), use.get("cache_read_input_tokens"),
                            use.get("cache_creation_input_tokens"))]
        if msg_id is None:
            anonymous = [a + c for a, c in zip(anonymous, counts)]
        else:
            expected[msg_id] = [max(a, c) for a, c in zip(expected.get(msg_id, [0, 0, 0, 0]), counts)]
    sums = [sum(v[i] for v in expected.values()) + anonymous[i] for i in range(4)]
    assert list(tally.totals.to_json().values()) == sums


def test_the_table_shows_a_compact_total_and_the_detail_each_kind() -> None:
    from cockpit.observe.tokens import short_count
    from cockpit.tui.tabs.agents import tokens_detail, tokens_text

    assert [short_count(n) for n in (0, 950, 9_499, 123_456, 4_200_000, 1_100_000_000)] == \
        ["0", "950", "9.5k", "123k", "4.2M", "1.1G"]
    tokens = Tokens(input=1200, output=5400, cache_read=88_000, cache_write=4100)
    assert tokens_text(tokens).plain == "98.7k" and tokens_text(None).plain == "-"
    assert tokens_detail(tokens).plain.startswith("input 1.2k · output 5.4k · cache read 88.0k · cache write 4.1k")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(_value, st.fixed_dictionaries({"info": st.one_of(_value, st.fixed_dictionaries(
    {"total_token_usage": st.one_of(_value, st.dictionaries(st.sampled_from(
        ["input_tokens", "cached_input_tokens", "output_tokens"]), _value))}))})), max_size=10))
def test_any_codex_token_count_payload_never_raises_and_never_goes_negative(payloads) -> None:
    tally = TokenTally()
    for payload in payloads:
        if isinstance(payload, dict):
            tally.codex_event(payload)
    assert all(v >= 0 for v in tally.totals.to_json().values())


def test_check_prints_a_tokens_column() -> None:
    from cockpit.cli import render_report
    from cockpit.tui.fixture import fixture_report

    lines = render_report(fixture_report()).splitlines()
    header = next(line for line in lines if line.startswith("AGENT"))
    assert "TOKENS" in header
    tabs = next(line for line in lines if line.startswith("tabs "))
    ghost = next(line for line in lines if line.startswith("ghost "))
    assert "5.1M" in tabs.split() and "-" in ghost.split()
