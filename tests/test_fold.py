"""fold_under_pressure (seed #11): a reversal right after a pushback, without re-reading the basis."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.findings import Severity
from cockpit.observe.folds import FoldReader
from cockpit.judge.fold import (FOLD_PHRASES, FoldTracker, PhraseMatcher, TurnEvent, claude_events, codex_events,
                                detect_folds, is_reread, judge_folds)

T0 = time.time() - 600


class FoldWatch:
    """The fold reader (observe) and the fold tracker (judge), run one after the other as a tick does."""

    targets = staticmethod(FoldReader.targets)

    def __init__(self) -> None:
        self.reader = FoldReader()
        self.tracker = FoldTracker()

    def observe(self, targets, now: float | None = None):
        return self.tracker.feed(self.reader.observe(targets), time.time() if now is None else now)

    @property
    def bad_lines(self) -> int:
        return self.reader.bad_lines


class Transcript:
    """Claude-Code-shaped records, appended like the CLI does (assistant responses split per block)."""

    def __init__(self, path: Path, session: str | None = None) -> None:
        self.path = path
        self.session = session or str(uuid.uuid4())
        self.n = 0

    def _write(self, rtype: str, message: dict, **extra) -> str:
        self.n += 1
        uid = str(uuid.uuid4())
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(T0 + self.n)) + ".000Z"
        rec = {"parentUuid": None, "isSidechain": False, "userType": "external", "cwd": "/w", "type": rtype,
               "message": message, "uuid": uid, "timestamp": ts, "sessionId": self.session, "version": "2.1.197",
               **extra}
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec) + "\n")
        return uid

    def user(self, text: str) -> str:
        return self._write("user", {"role": "user", "content": text})

    def say(self, text: str) -> str:
        return self._write("assistant", {"id": f"msg_{self.n}", "role": "assistant", "model": "m",
                                         "content": [{"type": "text", "text": text}]})

    def tool(self, name: str, **inputs) -> None:
        tid = f"toolu_{self.n}"
        self._write("assistant", {"id": f"msg_{self.n}", "role": "assistant", "model": "m",
                                  "content": [{"type": "tool_use", "id": tid, "name": name, "input": inputs}]})
        self._write("user", {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tid,
                                                          "content": "file contents"}]})

    def raw(self, line: bytes) -> None:
        with open(self.path, "ab") as fh:
            fh.write(line)


RECOMMENDATION = ("Keep Postgres: docs/research/db-choice.md measured 3x the write throughput we need "
                  "and the team already runs it.")
PUSHBACK = "hmm, I'm not sure. SQLite is simpler, isn't it?"
FOLD = "You\u2019re right, SQLite is simpler. Scrap mine, let's go with SQLite."


def test_a_fold_is_found_with_both_turns_quoted(tmp_path: Path) -> None:
    t = Transcript(tmp_path / f"{uuid.uuid4()}.jsonl")
    t.user("which database for the queue?")
    t.tool("Read", file_path="docs/research/db-choice.md")
    t.say(RECOMMENDATION)
    t.user(PUSHBACK)
    t.tool("Edit", file_path="queue.py")  # doing, not re-reading
    reply = t.say(FOLD)
    watch = FoldWatch()
    folds = watch.observe({"tabs": ("claude-code", str(t.path))})
    [fold] = folds["tabs"]
    assert fold.phrase == "you're right" and fold.id == reply
    assert fold.pushback == PUSHBACK and fold.reply == FOLD
    assert fold.quote.startswith("You\u2019re right") and fold.tools_between == ("Edit(queue.py)",)
    assert fold.session_id == t.session and fold.path == str(t.path)
    [finding] = judge_folds(folds, now=time.time())
    assert finding.kind == "fold_under_pressure" and finding.severity is Severity.WARNING and finding.agent == "tabs"
    assert finding.evidence["pushback"]["text"] == PUSHBACK and finding.evidence["reply"]["text"] == FOLD
    assert finding.evidence["phrase"] == "you're right" and "\u201cyou're right\u201d" in finding.summary


def test_a_reversal_after_a_read_is_not_a_fold(tmp_path: Path) -> None:
    t = Transcript(tmp_path / f"{uuid.uuid4()}.jsonl")
    t.user("which database?")
    t.say(RECOMMENDATION)
    t.user(PUSHBACK)
    t.tool("Read", file_path="docs/research/db-choice.md")  # re-opened the basis first
    t.say("I re-read docs/research/db-choice.md: you're right, the measured load fits SQLite.")
    assert FoldWatch().observe({"tabs": ("claude-code", str(t.path))}) == {"tabs": ()}


@pytest.mark.parametrize("tool,inputs,folded", [
    ("Grep", {"pattern": "throughput"}, False),
    ("Glob", {"pattern": "docs/**/*.md"}, False),
    ("WebFetch", {"url": "https://example.org/bench"}, False),
    ("Bash", {"command": "cat docs/research/db-choice.md"}, False),
    ("Bash", {"command": "cd docs && rg -n throughput research/"}, False),
    ("Bash", {"command": "sed -n 1,40p docs/research/db-choice.md"}, False),
    ("Bash", {"command": "git show HEAD~3:docs/research/db-choice.md"}, False),
    ("mcp__fs__read_file", {"path": "docs/research/db-choice.md"}, False),
    ("Bash", {"command": "npm test"}, True),
    ("Bash", {"command": "sed -i s/postgres/sqlite/ config.toml"}, True),
    ("Edit", {"file_path": "queue.py"}, True),
])
def test_what_counts_as_a_reread(tool: str, inputs: dict, folded: bool) -> None:
    events = [TurnEvent("assistant", RECOMMENDATION), TurnEvent("user", PUSHBACK),
              *claude_events({"type": "assistant", "message": {"content": [
                  {"type": "tool_use", "name": tool, "input": inputs}]}}),
              TurnEvent("assistant", "Fair point, switching.")]
    assert bool(detect_folds(events)) is folded


def test_phrases_any_case_any_apostrophe_on_word_boundaries() -> None:
    matcher = PhraseMatcher(FOLD_PHRASES)
    assert matcher.search("YOU'RE RIGHT.")[0] == "you're right"
    assert matcher.search("you\u2019re  right")[0] == "you're right"
    assert matcher.search("ok \u2014 fair\npoint")[0] == "fair point"
    assert matcher.search("Fine, scrap mine.")[0] == "scrap mine"
    assert matcher.search("an unfair pointer") is None and matcher.search("youre righteous") is None


def test_no_pushback_no_fold_and_one_fold_per_pushback() -> None:
    # agreeing with a first request is not folding; the same turn saying it twice is one fold
    assert detect_folds([TurnEvent("user", "rename x to y"), TurnEvent("assistant", "You're right, done.")]) == []
    events = [TurnEvent("assistant", RECOMMENDATION), TurnEvent("user", PUSHBACK),
              TurnEvent("assistant", "You're right."), TurnEvent("assistant", "Fair point again."),
              TurnEvent("user", "and Redis?"), TurnEvent("assistant", "Fair point, Redis it is.")]
    assert [f.phrase for f in detect_folds(events)] == ["you're right", "fair point"]
    # a tool result is part of the turn, not a pushback
    assert detect_folds([TurnEvent("assistant", RECOMMENDATION), TurnEvent("tool_result"),
                         TurnEvent("assistant", "You're right")]) == []


def test_codex_rollouts_fold_too() -> None:
    def ev(kind: str, **payload) -> dict:
        return {"timestamp": "2026-01-01T00:00:00Z", "type": kind, "payload": payload}

    records = [ev("event_msg", type="agent_message", message=RECOMMENDATION),
               ev("event_msg", type="user_message", message=PUSHBACK),
               ev("response_item", type="function_call", name="shell",
                  arguments=json.dumps({"command": ["bash", "-lc", "npm run build"]})),
               ev("event_msg", type="agent_message", message="Fair point \u2014 scrap mine.")]
    [fold] = detect_folds([e for r in records for e in codex_events(r)])
    assert fold.phrase == "fair point" and fold.tools_between == ("shell(bash -lc 'npm run build')",)
    reread = ev("response_item", type="function_call", name="shell",
                arguments=json.dumps({"command": ["bash", "-lc", "cat docs/db.md"]}))
    assert is_reread(codex_events(reread)[0])
    assert detect_folds([e for r in (*records[:2], reread, records[3]) for e in codex_events(r)]) == []


def test_the_feeder_is_incremental_and_reports_each_fold_once(tmp_path: Path) -> None:
    t = Transcript(tmp_path / f"{uuid.uuid4()}.jsonl")
    watch = FoldWatch()
    target = {"tabs": ("claude-code", str(t.path))}
    assert watch.observe(target) == {"tabs": ()}  # no file yet
    t.say(RECOMMENDATION)
    t.user(PUSHBACK)
    assert watch.observe(target) == {"tabs": ()}
    t.raw(b'{"type":"assistant","message":{"content":[{"type":"text","text":"You\'re ri')  # half a line
    assert watch.observe(target) == {"tabs": ()}
    t.raw(b'ght"}]},"uuid":"u-1"}\n')
    [fold] = watch.observe(target)["tabs"]
    assert fold.id == "u-1" and fold.seen_at is not None
    read_before = watch.reader.bytes_read("tabs")
    for _ in range(3):
        assert len(watch.observe(target)["tabs"]) == 1
    assert watch.reader.bytes_read("tabs") == read_before  # a quiet tick reads nothing
    # rewritten from scratch (same content): read again, the fold is not reported twice
    content = t.path.read_bytes()
    os.unlink(t.path)
    t.path.write_bytes(content)
    assert len(watch.observe(target)["tabs"]) == 1
    # a new session for the agent: followed; the old fold stays in its history
    t2 = Transcript(tmp_path / f"{uuid.uuid4()}.jsonl")
    t2.say(RECOMMENDATION)
    t2.user("no")
    t2.say("Scrap mine.")
    assert [f.phrase for f in watch.observe({"tabs": ("claude-code", str(t2.path))})["tabs"]] == [
        "you're right", "scrap mine"]
    assert watch.observe({}) == {}  # an agent gone from the fleet is forgotten


def test_judge_shows_recent_folds_only() -> None:
    from cockpit.judge.fold import Fold

    now = 10_000.0
    folds = {"tabs": tuple(Fold(id=str(i), phrase="fair point", quote="q", pushback="p", reply="r",
                                reply_at=now - 60 * (10 - i)) for i in range(10)),
             "old": (Fold(id="x", phrase="fair point", quote="q", pushback="p", reply="r", reply_at=now - 7200),)}
    found = judge_folds(folds, now)
    assert [f.subject for f in found] == ["fold:7", "fold:8", "fold:9"]


def test_targets_come_from_the_sessions_report() -> None:
    truth = SimpleNamespace(ambiguous=False, transcript=SimpleNamespace(kind="claude-code", path="/c/p/s.jsonl"))
    unsure = SimpleNamespace(ambiguous=True, transcript=SimpleNamespace(kind="claude-code", path="/c/p/t.jsonl"))
    none = SimpleNamespace(ambiguous=False, transcript=None)
    report = SimpleNamespace(truths={"a": truth, "b": unsure, "c": none})
    assert FoldWatch.targets(report) == {"a": ("claude-code", "/c/p/s.jsonl"), "b": None, "c": None}


HOSTILE = [
    b"\xff\xfe not utf-8 \x00\n",
    b"{not json\n",
    b"[]\n",
    b'"a string"\n',
    b'{"type":"user","message":"not a dict"}\n',
    b'{"type":"user","message":{"content":{"dict":"instead of list"}}}\n',
    b'{"type":"user","message":{"content":[1,null,"x",{"type":"text","text":42}]}}\n',
    b'{"type":"assistant","message":{"content":[{"type":"tool_use","name":7,"input":[1,2]}]}}\n',
    b'{"type":"assistant","message":{"content":[{"type":"tool_use","name":"Bash","input":{"command":"cat \'unterminated"}}]}}\n',
    b'{"type":"assistant","message":{"content":[{"type":"text","text":"You\'re right"}]},"timestamp":"9999-99-99"}\n',
    b'{"type":"assistant","isSidechain":true,"message":{"content":[{"type":"text","text":"fair point"}]}}\n',
    b"[" * 100000 + b"\n",
    b'{"type":"user","message":{"content":"' + b"x" * (9 << 20) + b'"}}\n',
]


def test_hostile_transcript_lines_do_not_break_the_feeder(tmp_path: Path) -> None:
    t = Transcript(tmp_path / f"{uuid.uuid4()}.jsonl")
    target = {"tabs": ("claude-code", str(t.path))}
    watch = FoldWatch()
    t.say(RECOMMENDATION)
    assert watch.observe(target) == {"tabs": ()}
    for line in HOSTILE:
        t.raw(line)
    t.user(PUSHBACK)
    for line in HOSTILE[:6]:
        t.raw(line)
    t.say(FOLD)
    [fold] = watch.observe(target)["tabs"]
    assert fold.pushback == PUSHBACK and watch.bad_lines >= 5


def test_a_big_transcript_on_first_sight_costs_only_its_tail(tmp_path: Path) -> None:
    t = Transcript(tmp_path / f"{uuid.uuid4()}.jsonl")
    t.user("start")
    t.raw(b'{"type":"progress","data":"' + b"x" * (2 << 20) + b'"}\n')  # 2 MB of history
    t.say(RECOMMENDATION)
    t.user(PUSHBACK)
    t.say(FOLD)
    watch = FoldWatch()
    [fold] = watch.observe({"tabs": ("claude-code", str(t.path))})["tabs"]
    assert fold.reply == FOLD and watch.reader.bytes_read("tabs") < (1 << 20)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(
    st.binary(max_size=200),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=30),
                 lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                     st.sampled_from(["type", "message", "content", "text", "name", "input", "command", "role",
                                      "isSidechain", "uuid", "timestamp", "payload"]), inner, max_size=5),
                 max_leaves=20).map(lambda v: json.dumps(v).encode()),
), max_size=30))
def test_any_lines_never_raise(tmp_path: Path, lines: list[bytes]) -> None:
    path = tmp_path / f"{uuid.uuid4()}.jsonl"
    path.write_bytes(b"\n".join(line.replace(b"\n", b" ") for line in lines) + b"\n")
    for kind in ("claude-code", "codex"):
        FoldWatch().observe({"x": (kind, str(path))})
