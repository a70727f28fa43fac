"""Registry and journal stores, their tail, the pruner, and the orphan-exit judge (seed #4)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.findings import Severity
from cockpit.judge.registry import OrphanWatch, orphan_exits
from cockpit import timefmt
from cockpit.registry import (
    Journal,
    JsonlStore,
    ReadResult,
    Registry,
    latest_by_agent,
    new_spawn_id,
)

OLD = "2000-01-01T00:00:00.000Z"
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC).timestamp()
DAY = 86400.0


def ago(seconds: float) -> str:
    return timefmt.iso(NOW - seconds)


def lifecycle(agent: str, spawn_id: str, ts: str, *, closed: bool = True) -> list[dict[str, Any]]:
    rows = [{"ts": ts, "event": "spawned", "agent": agent, "spawn_id": spawn_id}]
    if closed:
        rows.append({"ts": ts, "event": "exit", "agent": agent, "spawn_id": spawn_id})
    return rows


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- the seed #4 race: many writers and a pruner on one registry ------------------------------

# Each writer appends LIFECYCLES lifecycles of two rows. Kinds by j % 4: 0 and 1 are closed and
# old (the pruner drops them unless one is its agent's newest), 2 is closed and fresh, 3 is open
# and old (spawn_requested + spawned, no exit). Only kinds 0 and 1 may ever disappear, and only whole.
WRITER = """
import sys, time
from pathlib import Path
from cockpit.registry import Registry
path, writer, lifecycles, go = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
registry = Registry(path)
while not go.exists():
    time.sleep(0.005)
n = 0
for j in range(lifecycles):
    kind = j % 4
    agent, spawn_id = f"w{writer}-a{j % 5}", f"w{writer}-{j}"
    events = ("spawn_requested", "spawned") if kind == 3 else ("spawned", "exit")
    for event in events:
        row = {"event": event, "agent": agent, "spawn_id": spawn_id, "w": writer, "n": n}
        if kind != 2:
            row["ts"] = "2000-01-01T00:00:00.000Z"
        registry.append(row)
        n += 1
"""

PRUNER = """
import json, sys, time
from pathlib import Path
from cockpit.registry import Registry
registry, go, stop = Registry(Path(sys.argv[1])), Path(sys.argv[2]), Path(sys.argv[3])
while not go.exists():
    time.sleep(0.005)
prunes = rewrites = dropped = 0
while not stop.exists():
    result = registry.prune(time.time(), 3600)
    prunes += 1
    rewrites += result.dropped > 0
    dropped += result.dropped
    time.sleep(0.01)
print(json.dumps({"prunes": prunes, "rewrites": rewrites, "dropped": dropped}))
"""


def expected_survivors(writers: int, lifecycles: int) -> set[tuple[int, int]]:
    """(writer, n) of the rows a final prune keeps: all but old closed lifecycles that are not their agent's newest."""
    keep: set[tuple[int, int]] = set()
    for writer in range(writers):
        newest = {j % 5: j for j in range(lifecycles)}
        for j in range(lifecycles):
            if j % 4 in (2, 3) or newest[j % 5] == j:
                keep.update({(writer, 2 * j), (writer, 2 * j + 1)})
    return keep


def test_pruner_never_drops_a_concurrent_spawn_row(tmp_path: Path) -> None:
    writers, rows_each = 8, 500
    lifecycles = rows_each // 2
    path = tmp_path / "state" / "registry.jsonl"
    go, stop = tmp_path / "go", tmp_path / "stop"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    pruner = subprocess.Popen(
        [sys.executable, "-c", PRUNER, str(path), str(go), str(stop)], stdout=subprocess.PIPE, text=True, env=env,
    )
    children = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(w), str(lifecycles), str(go)], env=env)
        for w in range(writers)
    ]
    time.sleep(0.5)  # let the interpreters start, so writers and pruner really overlap
    go.touch()
    try:
        codes = [child.wait(timeout=60) for child in children]
    finally:
        stop.touch()
        out, _ = pruner.communicate(timeout=30)
    assert codes == [0] * writers
    stats = json.loads(out)
    final = Registry(path).prune(time.time(), 3600)

    # The pruner genuinely rewrote the file while the writers appended.
    assert stats["rewrites"] >= 10, stats
    data = path.read_bytes()
    assert data.endswith(b"\n")
    result = Registry(path).read_all()
    assert result.bad_lines == 0, "a torn line"
    ids = [(row["w"], row["n"]) for row in result.rows]
    assert len(ids) == len(set(ids)), "a row was written twice"
    assert set(ids) == expected_survivors(writers, lifecycles), "a row was lost or wrongly kept"
    assert len(ids) + stats["dropped"] + final.dropped == writers * rows_each, "rows unaccounted for"
    assert orphan_exits(result.rows) == []
    assert mode(path) == 0o600


def test_threads_of_one_process_lose_no_rows_to_a_pruner_thread(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "registry.jsonl")
    done = threading.Event()
    dropped = 0
    rewrites = 0

    def writer(w: int) -> None:
        for j in range(50):
            ts = OLD if j % 2 == 0 else None
            for event in ("spawned", "exit"):
                row = {"event": event, "agent": f"t{w}", "spawn_id": f"{w}-{j}", "w": w, "j": j}
                registry.append(row if ts is None else {**row, "ts": ts})

    def pruner() -> None:
        nonlocal dropped, rewrites
        while not done.is_set():
            result = registry.prune(time.time(), 3600)
            dropped += result.dropped
            rewrites += result.dropped > 0
            time.sleep(0.002)

    prune_thread = threading.Thread(target=pruner)
    prune_thread.start()
    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    prune_thread.join()
    dropped += registry.prune(time.time(), 3600).dropped

    result = registry.read_all()
    assert result.bad_lines == 0
    assert rewrites >= 1
    kept = [(row["w"], row["j"]) for row in result.rows]
    fresh = [(w, j) for w in range(8) for j in range(50) if j % 2 == 1 for _ in ("spawned", "exit")]
    assert sorted(kept) == sorted(fresh)
    assert len(result.rows) + dropped == 8 * 100
    assert orphan_exits(result.rows) == []


def test_prune_waits_for_the_writers_lock_instead_of_overwriting_blind(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "registry.jsonl")
    registry.append_many(lifecycle("tabs", "old", OLD) + lifecycle("tabs", "new", ago(0)))
    outcome: list[Any] = []
    with registry.locked():
        pruning = threading.Thread(target=lambda: outcome.append(registry.prune(NOW, DAY)))
        pruning.start()
        time.sleep(0.3)
        assert pruning.is_alive(), "prune ran while a writer held the lock"
        # A writer mid-append, as in seed #4: its row must survive the prune that was waiting.
        line = json.dumps({"ts": OLD, "event": "spawned", "agent": "docs", "spawn_id": "mid"})
        with open(registry.path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
    pruning.join(timeout=10)
    assert outcome[0].dropped == 2
    assert [row["spawn_id"] for row in registry.read_all().rows] == ["new", "new", "mid"]


# --- pruning rules --------------------------------------------------------------------------


def spawn_ids(registry: Registry) -> list[str]:
    return [row.get("spawn_id", "-") for row in registry.read_all().rows]


def test_prune_drops_old_closed_lifecycles_whole(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "registry.jsonl")
    registry.append_many(lifecycle("tabs", "a", ago(3 * DAY)) + lifecycle("tabs", "b", ago(60)))
    result = registry.prune(NOW, DAY)
    assert (result.kept, result.dropped) == (2, 2)
    assert spawn_ids(registry) == ["b", "b"]


def test_prune_keeps_open_lifecycles_however_old(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "registry.jsonl")
    registry.append_many(lifecycle("tabs", "running", OLD, closed=False) + lifecycle("docs", "x", OLD))
    registry.append_many(lifecycle("docs", "y", ago(0)))
    registry.prune(NOW, DAY)
    assert spawn_ids(registry) == ["running", "y", "y"]


def test_prune_keeps_the_newest_lifecycle_of_each_agent_however_old(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "registry.jsonl")
    registry.append_many(lifecycle("tabs", "t1", OLD) + lifecycle("tabs", "t2", OLD) + lifecycle("docs", "d1", OLD))
    registry.prune(NOW, DAY)
    assert spawn_ids(registry) == ["t2", "t2", "d1", "d1"]


def test_prune_never_orphans_an_exit_whose_spawn_row_is_old(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "registry.jsonl")
    registry.append({"ts": ago(5 * DAY), "event": "spawned", "agent": "tabs", "spawn_id": "long"})
    registry.append_many(lifecycle("tabs", "later", OLD, closed=False))
    registry.append({"ts": ago(60), "event": "exit", "agent": "tabs", "spawn_id": "long"})
    registry.prune(NOW, DAY)
    rows = registry.read_all().rows
    assert [r["spawn_id"] for r in rows] == ["long", "later", "long"]
    assert orphan_exits(rows) == []


def test_prune_drops_old_rows_without_a_lifecycle_but_keeps_undated_ones(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "registry.jsonl")
    registry.append_many([
        {"ts": OLD, "event": "repointed", "agent": "tabs", "session_id": "s1"},
        {"ts": "yesterday-ish", "event": "repointed", "agent": "tabs", "session_id": "s2"},
        {"ts": ago(10), "event": "repointed", "agent": "tabs", "session_id": "s3"},
    ])
    registry.append_many(lifecycle("x", "undated", "not a time") + lifecycle("x", "newer", OLD))
    result = registry.prune(NOW, DAY)
    assert result.dropped == 1
    rows = registry.read_all().rows
    assert [r.get("session_id") for r in rows[:2]] == ["s2", "s3"]
    assert spawn_ids(registry)[2:] == ["undated", "undated", "newer", "newer"]


def test_prune_keeps_lines_it_cannot_read_verbatim(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "registry.jsonl")
    registry.append_many(lifecycle("tabs", "old", OLD))
    with open(registry.path, "ab") as fh:
        fh.write(b'{"event": "spawned", "agent": "\xff\xfe"}\n[1, 2]\n')
    registry.append_many(lifecycle("tabs", "new", ago(0)))
    result = registry.prune(NOW, DAY)
    assert (result.kept, result.dropped, result.bad_lines) == (2, 2, 2)
    assert registry.path.read_bytes().splitlines()[:2] == [b'{"event": "spawned", "agent": "\xff\xfe"}', b"[1, 2]"]


def test_prune_with_nothing_to_drop_leaves_the_file_alone(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "registry.jsonl")
    registry.append_many(lifecycle("tabs", "a", ago(0)))
    inode = registry.path.stat().st_ino
    assert registry.prune(NOW, DAY).dropped == 0
    assert registry.path.stat().st_ino == inode


def test_prune_of_a_missing_registry_creates_nothing(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "registry.jsonl")
    assert registry.prune(NOW, DAY) == registry.prune(NOW, DAY)
    assert not registry.path.exists()


def test_pruned_registry_stays_private(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "state" / "registry.jsonl")
    registry.append_many(lifecycle("tabs", "a", OLD) + lifecycle("tabs", "b", OLD))
    assert registry.prune(NOW, DAY).dropped == 2
    assert mode(registry.path) == 0o600
    assert mode(registry.path.parent) == 0o700
    assert mode(registry.lock_path) == 0o600
    assert registry.lock_path.name == "registry.jsonl.lock"
    assert sorted(p.name for p in registry.path.parent.iterdir()) == ["registry.jsonl", "registry.jsonl.lock"]


# --- writing --------------------------------------------------------------------------------


def test_append_stamps_rows_with_utc_milliseconds(tmp_path: Path) -> None:
    store = JsonlStore(tmp_path / "x.jsonl", clock=lambda: 1700000000.1234)
    row = store.append({"event": "spawned"})
    assert row["ts"] == "2023-11-14T22:13:20.123Z"
    assert store.append({"ts": OLD})["ts"] == OLD
    assert timefmt.parse(row["ts"]) == pytest.approx(1700000000.123)
    assert store.path.read_text().splitlines()[0] == '{"ts":"2023-11-14T22:13:20.123Z","event":"spawned"}'


def test_newlines_and_unicode_in_a_row_stay_on_one_line(tmp_path: Path) -> None:
    store = JsonlStore(tmp_path / "x.jsonl")
    store.append({"screen": "line1\nline2\r\u2028 — ünï", "path": tmp_path})
    assert len(store.path.read_bytes().splitlines()) == 1
    row = store.read_all().rows[0]
    assert row["screen"] == "line1\nline2\r\u2028 — ünï" and row["path"] == str(tmp_path)


def test_undecodable_text_in_a_row_is_escaped_not_fatal(tmp_path: Path) -> None:
    store = JsonlStore(tmp_path / "x.jsonl")
    store.append({"cwd": os.fsdecode(b"/tmp/\xff")})
    assert store.read_all().rows[0]["cwd"] == "/tmp/\udcff"


def test_append_after_a_torn_line_starts_a_new_line(tmp_path: Path) -> None:
    store = JsonlStore(tmp_path / "x.jsonl")
    store.append({"n": 1})
    with open(store.path, "ab") as fh:
        fh.write(b'{"n": 2, "event": "spaw')  # a writer killed mid-line
    store.append_many([{"n": 3}, {"n": 4}])
    result = store.read_all()
    assert [row["n"] for row in result.rows] == [1, 3, 4]
    assert result.bad_lines == 1


def test_store_files_are_private_in_a_private_dir(tmp_path: Path) -> None:
    old_umask = os.umask(0)
    try:
        store = Journal(tmp_path / "state" / "journal.jsonl")
        store.record("info", summary="started")
    finally:
        os.umask(old_umask)
    assert mode(store.path) == 0o600
    assert mode(store.path.parent) == 0o700
    assert mode(store.lock_path) == 0o600


def test_journal_records_decisions_with_their_evidence(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    row = journal.record(
        "action", agent="tabs", action="repoint", summary="repointed tabs to the newest transcript",
        before={"session_id": "old"}, after={"session_id": "new"}, evidence={"transcript": "x.jsonl"},
        result="ok", actor="auto",
    )
    assert journal.read_all().rows == [row]
    assert row["kind"] == "action" and row["before"] == {"session_id": "old"}
    assert set(journal.record("info", summary="quiet")) == {"ts", "kind", "summary"}


def test_registry_event_names_are_checked(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "registry.jsonl")
    spawn_id = new_spawn_id()
    row = registry.event("spawned", agent="tabs", spawn_id=spawn_id, pid=42, start=1234, port=18819)
    assert row["spawn_id"] == spawn_id and row["pid"] == 42
    with pytest.raises(ValueError, match="spawn_succeeded"):
        registry.event("spawn_succeeded", agent="tabs")
    assert len({new_spawn_id() for _ in range(1000)}) == 1000


def test_latest_by_agent_is_each_agents_newest_spawned_row() -> None:
    rows = [
        {"event": "spawned", "agent": "tabs", "spawn_id": "1"},
        {"event": "spawned", "agent": "docs", "spawn_id": "2"},
        {"event": "spawned", "agent": "tabs", "spawn_id": "3"},
        {"event": "exit", "agent": "tabs", "spawn_id": "3"},
        {"event": "spawn_requested", "agent": "tabs", "spawn_id": "4"},
    ]
    assert {agent: row["spawn_id"] for agent, row in latest_by_agent(rows).items()} == {"tabs": "3", "docs": "2"}


# --- reading --------------------------------------------------------------------------------

HOSTILE = [
    b"\xff\xfe\xfd not utf-8\n",
    b'{"event": "spawned", "agent": "tr\n',
    b"[1, 2, 3]\n",
    b"42\n",
    b"null\n",
    b"[" * 100000 + b"\n",
    b"\n",
    b"   \n",
]


def test_hostile_lines_are_counted_not_raised(tmp_path: Path) -> None:
    store = JsonlStore(tmp_path / "x.jsonl")
    tail = store.tail()
    store.append({"n": 1})
    with open(store.path, "ab") as fh:
        for line in HOSTILE:
            fh.write(line)
        fh.write(b'{"big": "' + b"x" * (5 << 20) + b'"}\n')
    store.append({"n": 2})
    expected_bad = 6 + 1  # six hostile non-blank lines and the 5 MB one
    result = store.read_all()
    assert [row["n"] for row in result.rows] == [1, 2]
    assert result.bad_lines == expected_bad
    tailed = tail.read_new()
    assert [row["n"] for row in tailed.rows] == [1, 2]
    assert tailed.bad_lines == expected_bad


def test_tail_returns_only_rows_appended_since_the_last_read(tmp_path: Path) -> None:
    store = JsonlStore(tmp_path / "x.jsonl")
    tail = store.tail()
    assert tail.read_new() == ReadResult()
    store.append_many([{"n": 1}, {"n": 2}])
    assert [row["n"] for row in tail.read_new().rows] == [1, 2]
    assert tail.read_new().rows == []
    store.append({"n": 3})
    result = tail.read_new()
    assert [row["n"] for row in result.rows] == [3] and not result.reset


def test_tail_leaves_a_partial_last_line_until_it_is_complete(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    tail = JsonlStore(path).tail()
    with open(path, "ab") as fh:
        fh.write(b'{"n": 1}\n{"n": ')
        fh.flush()
        assert [row["n"] for row in tail.read_new().rows] == [1]
        assert tail.read_new() == ReadResult()
        fh.write(b'2}\n')
        fh.flush()
        result = tail.read_new()
    assert [row["n"] for row in result.rows] == [2] and result.bad_lines == 0


def test_tail_rereads_from_the_start_after_a_prune_replaced_the_file(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "registry.jsonl")
    registry.append_many(lifecycle("tabs", "a", OLD) + lifecycle("tabs", "b", OLD))
    tail = registry.tail()
    assert len(tail.read_new().rows) == 4
    assert registry.prune(NOW, DAY).dropped == 2
    registry.append({"event": "repointed", "agent": "tabs", "spawn_id": "b"})
    result = tail.read_new()
    assert result.reset
    assert [row["spawn_id"] for row in result.rows] == ["b", "b", "b"]
    assert not tail.read_new().reset


def test_tail_rereads_from_the_start_after_truncation(tmp_path: Path) -> None:
    store = JsonlStore(tmp_path / "x.jsonl")
    store.append_many([{"n": 1}, {"n": 2}])
    tail = store.tail()
    tail.read_new()
    with open(store.path, "wb"):
        pass
    store.append({"n": 3})
    result = tail.read_new()
    assert result.reset and [row["n"] for row in result.rows] == [3]


def test_tail_notices_a_file_rewritten_in_place_past_its_offset(tmp_path: Path) -> None:
    store = JsonlStore(tmp_path / "x.jsonl")
    store.append({"n": 1})
    tail = store.tail()
    tail.read_new()
    with open(store.path, "r+b") as fh:
        fh.write(b'{"n": 7, "pad": "' + b"x" * 64 + b'"}\n')
    result = tail.read_new()
    assert result.reset and [row["n"] for row in result.rows] == [7]


def test_tail_reports_a_deleted_file_as_reset_and_follows_its_successor(tmp_path: Path) -> None:
    store = JsonlStore(tmp_path / "x.jsonl")
    store.append({"n": 1})
    tail = store.tail()
    tail.read_new()
    store.path.unlink()
    assert tail.read_new() == ReadResult(reset=True)
    assert tail.read_new() == ReadResult()
    store.append({"n": 2})
    result = tail.read_new()
    assert [row["n"] for row in result.rows] == [2] and not result.reset


def test_tail_reads_only_new_bytes_however_large_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = JsonlStore(tmp_path / "x.jsonl")
    with open(store.path, "wb") as fh:
        fh.write(b'{"pad": "' + b"x" * 200 + b'"}\n' * 1)
        fh.write((b'{"n": 0, "pad": "' + b"y" * 200 + b'"}\n') * 20000)
    tail = store.tail()
    assert len(tail.read_new().rows) == 20001
    store.append({"n": 1})
    read = 0
    real_pread = os.pread

    def counting_pread(fd: int, size: int, offset: int) -> bytes:
        nonlocal read
        data = real_pread(fd, size, offset)
        read += len(data)
        return data

    monkeypatch.setattr(os, "pread", counting_pread)
    assert [row["n"] for row in tail.read_new().rows] == [1]
    assert read < 100


def test_tail_skips_an_oversize_line_still_being_written_without_rereading_it(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    tail = JsonlStore(path, max_line_bytes=100).tail()
    with open(path, "ab") as fh:
        fh.write(b'{"n": 1}\n' + b"z" * 500)
        fh.flush()
        first = tail.read_new()
        offset = tail.offset
        fh.write(b"z" * 500 + b'\n{"n": 2}\n')
        fh.flush()
        second = tail.read_new()
    assert [row["n"] for row in first.rows] == [1] and first.bad_lines == 1
    assert offset > 500
    assert [row["n"] for row in second.rows] == [2] and second.bad_lines == 0


@settings(max_examples=150, deadline=None)
@given(chunks=st.lists(st.binary(max_size=300) | st.sampled_from(HOSTILE[:5] + [b'{"a": 1}\n', b'{"b":']), max_size=12))
def test_arbitrary_appended_bytes_never_make_a_reader_raise(chunks: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = JsonlStore(Path(tmp) / "x.jsonl", max_line_bytes=64)
        tail = store.tail()
        tailed: list[dict[str, Any]] = []
        for chunk in chunks:
            with open(store.path, "ab") as fh:
                fh.write(chunk)
            result = tail.read_new()
            assert not result.reset
            tailed.extend(result.rows)
            store.read_all()
        with open(store.path, "ab") as fh:
            fh.write(b"\n")
        tailed.extend(tail.read_new().rows)
        assert tailed == store.read_all().rows
        tail.close()


# --- the judge: exits without a spawn row ---------------------------------------------------


def test_exit_without_a_spawned_row_is_an_orphan() -> None:
    rows: list[dict[str, Any]] = [
        {"event": "spawn_requested", "agent": "tabs", "spawn_id": "a"},
        {"event": "exit", "agent": "tabs", "spawn_id": "a", "pid": 7},
    ]
    (finding,) = orphan_exits(rows)
    assert finding.kind == "registry_orphan_exit"
    assert finding.severity is Severity.WARNING
    assert finding.agent == "tabs" and finding.action == "none"
    assert finding.evidence["row"] == rows[1]
    assert "tabs" in finding.summary and "a" in finding.summary and "\n" not in finding.summary


def test_complete_lifecycles_and_failed_spawns_are_not_orphans() -> None:
    rows: list[dict[str, Any]] = [
        *lifecycle("tabs", "a", OLD),
        {"event": "spawn_requested", "agent": "docs", "spawn_id": "b"},
        {"event": "spawn_failed", "agent": "docs", "spawn_id": "b", "check": "port"},
        {"event": "reaped", "agent": "wrapper", "pid": 9},  # a process the cockpit never spawned
        {"event": "exit", "agent": "tabs", "spawn_id": ["not", "a", "string"]},
    ]
    assert orphan_exits(rows) == []


def test_reaped_row_without_spawn_row_is_an_orphan_too() -> None:
    findings = orphan_exits([{"event": "reaped", "agent": "w", "spawn_id": "z"}, {"event": "exit", "spawn_id": "y"}])
    assert [f.agent for f in findings] == ["w", None]


def test_orphan_watch_follows_the_tail_and_rebuilds_after_a_prune(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "registry.jsonl")
    tail, watch = registry.tail(), OrphanWatch()
    registry.append_many(lifecycle("tabs", "a", OLD) + lifecycle("tabs", "b", ago(0)))
    registry.append({"event": "exit", "agent": "docs", "spawn_id": "lost", "ts": OLD})
    watch.feed(tail.read_new())
    assert [f.agent for f in watch.findings()] == ["docs"]

    registry.append({"event": "spawned", "agent": "docs", "spawn_id": "lost"})  # a late spawn row settles it
    watch.feed(tail.read_new())
    assert watch.findings() == []

    registry.append({"event": "exit", "agent": "tabs", "spawn_id": "gone", "ts": OLD})
    registry.prune(NOW, DAY)
    result = tail.read_new()
    assert result.reset
    watch.feed(result)
    assert watch.findings() == orphan_exits(registry.read_all().rows)
    assert [f.evidence["row"]["spawn_id"] for f in watch.findings()] == ["gone"]


def test_a_registry_rewritten_under_the_view_does_not_make_a_spent_budget_alert_again():
    """A prune (this cockpit's or another's) replays the file: an agent already fatal is not alerted
    twice; one that became fatal in rows not yet seen still is."""
    from types import SimpleNamespace

    from cockpit.lifecycle import AgentState, RestartPolicy
    from cockpit.observe.history import RegistryView

    policy = RestartPolicy(max_restarts=1, restart_window_s=300.0)
    view = RegistryView({"ghost": policy, "flaky": policy})

    def fails(agent: str, *seconds_ago: float) -> list[dict[str, Any]]:
        return [{"ts": ago(s), "event": "spawn_failed", "agent": agent, "spawn_id": f"{agent}-{s}",
                 "check": "process_alive"} for s in seconds_ago]

    ghost = fails("ghost", 30, 20)
    view.feed(SimpleNamespace(rows=ghost, bad_lines=0, reset=False))
    assert view.book.get("ghost").state is AgentState.FATAL and view.book.get("ghost").alert_due
    view.book.states["ghost"] = replace(view.book.get("ghost"), alert_due=False)  # the supervisor alerted

    flaky = fails("flaky", 9, 8)  # appended just before the prune, not read yet
    view.feed(SimpleNamespace(rows=ghost + flaky, bad_lines=0, reset=True))
    assert view.book.get("ghost").state is AgentState.FATAL and not view.book.get("ghost").alert_due
    assert view.book.get("flaky").state is AgentState.FATAL and view.book.get("flaky").alert_due
