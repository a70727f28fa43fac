"""Every reader fed random JSON values of every type in every field (SPEC §6), not only random bytes.

Each row starts as a good row of its file and has some of its fields replaced by any JSON value
(null, booleans, huge and non-finite numbers, strings, lists, nested objects); the real reader
reads it from a real file. None may raise: a value of the wrong type is a counted bad line,
a dropped field or a finding.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.act.reap import find_exit_row
from cockpit.judge.registry import OrphanWatch, orphan_exits
from cockpit.lifecycle import RestartPolicy
from cockpit.observe.drift import PromotionLog
from cockpit.observe.history import RegistryView
from cockpit.observe.procs import ProcessTable
from cockpit.observe.sessions import parse_live_session
from cockpit.observe.transcripts import ClaudeTranscriptReader, CodexTranscriptReader, GenericTranscriptReader
from cockpit.observe.wrappers import StreamTail, WrapperTracker
from cockpit.registry import Journal, Registry
from cockpit.reminders import ReminderQueue
from cockpit.routes import read_routes

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=True, allow_infinity=True)
           | st.text(max_size=12) | st.sampled_from(["spawned", "exit", "a1", "", "2025-01-01T00:00:00Z", "NaN"]))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)


def hostile(good: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """``good`` with any subset of its fields replaced by any JSON value (and maybe a stray field)."""
    keys = sorted(good)
    return st.fixed_dictionaries({k: st.just(good[k]) | json_values for k in keys},
                                 optional={"extra": json_values})


def _dump(value: Any) -> str:
    return json.dumps(value, allow_nan=True)


def _file(tmp: str, name: str, rows: list[Any]) -> Path:
    path = Path(tmp) / name
    path.write_text("".join(_dump(r) + "\n" for r in rows))
    return path


REGISTRY_GOOD = {"ts": "2025-01-01T00:00:00.000Z", "event": "spawned", "agent": "a1", "spawn_id": "s1", "pid": 4242,
                 "start": 7, "pane": "%1", "port": 8000, "session_id": "x", "status": 0, "check": "port",
                 "by": "auto", "wrapper": True, "output": "/tmp/x", "parent_agent": "a1", "argv": ["a"],
                 "reason": "r", "screen": "s"}


@SETTINGS
@given(rows=st.lists(hostile(REGISTRY_GOOD) | json_values, max_size=8))
def test_registry_readers_take_any_values_in_any_field(rows: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        registry = Registry(_file(tmp, "registry.jsonl", rows))
        result = registry.read_all()
        view = RegistryView({"a1": RestartPolicy()})
        tail = registry.tail()
        read = tail.read_new()
        view.feed(read)
        watch = OrphanWatch()
        watch.feed(read)
        watch.findings()
        orphan_exits(result.rows)
        find_exit_row(result.rows, pid=4242, start=7, spawn_id="s1")
        view.open_spawn("a1")
        view.bound_session("a1")
        registry.prune(2e9, 1.0)
        tracker = WrapperTracker([], registry_path=registry.path)
        tracker.observe(2e9, agents={}, procs=ProcessTable([]))
        tracker.close()
        tail.close()


REMINDER_GOOD = {"event": "scheduled", "id": "r-abcd", "agent": "a1", "verb": "wake", "text": "t", "due_at": 1.0,
                 "created_at": 1.0, "at": 1.0, "attempt": 1, "next_at": 2.0, "late_by_s": 0.0, "latency_s": 1.0,
                 "respawn_if_down": False, "by": "cli", "pane": "%1", "via": "x", "why": "y", "evidence": {}}


@SETTINGS
@given(rows=st.lists(hostile(REMINDER_GOOD) | hostile({**REMINDER_GOOD, "event": "fired"}) | json_values,
                     max_size=8))
def test_the_reminder_queue_takes_any_values_in_any_field(rows: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        queue = ReminderQueue(_file(tmp, "reminders.jsonl", rows))
        for r in queue.visible(3.0):
            r.to_json()
        queue.close()


@SETTINGS
@given(rows=st.lists(hostile({"kind": "promotion", "link": "/x", "resolved": "/y", "chain": ["/y"],
                              "fingerprint": {"size": 1}, "agents": ["a1"]}) | json_values, max_size=6),
       journal=st.lists(hostile({"kind": "info", "summary": "s", "agent": "a1", "evidence": {}, "ts": "2025-01-01T00:00:00Z",
                                   "before": {}, "after": {}, "action": "respawn", "result": "ok"}) | json_values,
                        max_size=6))
def test_promotions_and_journal_take_any_values(rows: list[Any], journal: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        log = PromotionLog(_file(tmp, "promotions.jsonl", rows))
        log.latest()
        log.last_for("/x")
        from rich.console import Console

        from cockpit.tui.tabs.journal import journal_cells, journal_detail

        console = Console(file=open(os.devnull, "w"), width=100)
        for seq, row in enumerate(Journal(_file(tmp, "journal.jsonl", journal)).read_all().rows):
            journal_cells(seq, row)  # the Journal tab renders whatever a row holds
            console.print(journal_detail(row))


CLAUDE_GOOD = {"type": "assistant", "timestamp": "2025-01-01T00:00:00Z", "cwd": "/w", "sessionId": "s",
               "isSidechain": False, "message": {"role": "assistant", "content": [{"type": "text", "text": "hi"}]}}
CODEX_GOOD = {"type": "response_item", "timestamp": "2025-01-01T00:00:00Z",
              "payload": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}}


@SETTINGS
@given(claude=st.lists(hostile(CLAUDE_GOOD) | hostile({**CLAUDE_GOOD, "type": "user"}) | json_values, max_size=6),
       codex=st.lists(hostile(CODEX_GOOD) | hostile({"type": "session_meta", "payload": {"id": "x", "cwd": "/w"}})
                      | json_values, max_size=6))
def test_transcript_readers_take_any_values_in_any_field(claude: list[Any], codex: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for cls, rows in ((ClaudeTranscriptReader, claude), (CodexTranscriptReader, codex),
                          (GenericTranscriptReader, claude + codex)):
            reader = cls(_file(tmp, f"{cls.__name__}.jsonl", rows))
            reader.update()
            reader.summary().to_json()


@SETTINGS
@given(events=st.lists(hostile({"type": "result", "subtype": "success", "is_error": False, "duration_ms": 5,
                                "num_turns": 1, "session_id": "s"}) | json_values, max_size=6))
def test_the_stream_json_tail_takes_any_values(events: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tail = StreamTail(_file(tmp, "out.jsonl", events))
        tail.read(1.0)
        if tail.result is not None:
            tail.result.to_json()


@SETTINGS
@given(data=hostile({"pid": 42, "sessionId": "s", "cwd": "/w", "status": "busy", "procStart": 5,
                     "updatedAt": 1000}) | json_values,
       routes=st.dictionaries(st.text(max_size=5), json_values, max_size=4) | json_values)
def test_live_session_files_and_routes_take_any_values(data: Any, routes: Any) -> None:
    parse_live_session(_dump(data).encode())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "routes.json"
        path.write_text(_dump(routes))
        read = read_routes(path)
        read.to_json()
        assert read.error is not None or set(read.sessions) | set(read.bad_entries) | set(read.shapes) <= set(routes)
