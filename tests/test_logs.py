"""Seed #7: the gateway's `[event-loop-block]` lines are tailed through rotation and truncation."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from cockpit.config import LogSource
from cockpit.observe.logs import LogTail, LogWatcher

SEED_LINE = "[event-loop-block] tick took 1855ms - no tracked work active (untracked culprit)"


def _append(path: Path, text: str | bytes) -> None:
    data = text.encode() if isinstance(text, str) else text
    with open(path, "ab") as fh:
        fh.write(data)


def _tail(path: Path, **kwargs) -> LogTail:
    return LogTail(LogSource(name="gateway", path=path), clock=lambda: 1000.0, **kwargs)


def test_a_block_line_appended_to_the_log_becomes_a_block_from_that_source(tmp_path: Path):
    log = tmp_path / "gateway.log"
    log.write_text("2026-01-01 started\n[event-loop-block] tick took 999ms - old history\n")
    tail = _tail(log)
    assert tail.poll() == []  # history before the tail started is not replayed
    _append(log, "info: routed a message\n" + SEED_LINE + "\n")
    (block,) = tail.poll()
    assert block.source == "gateway"
    assert block.duration_ms == 1855.0
    assert block.culprit == "no tracked work active (untracked culprit)"
    assert block.start == 1000.0 - 1.855
    assert block.line == SEED_LINE
    assert tail.poll() == []  # read once


def test_a_half_written_line_waits_for_its_newline(tmp_path: Path):
    log = tmp_path / "gateway.log"
    log.write_text("")
    tail = _tail(log)
    tail.poll()
    _append(log, "[event-loop-block] tick took 12")
    assert tail.poll() == []
    _append(log, "62ms - no tracked work active (untracked culprit)\r\n")
    (block,) = tail.poll()
    assert block.duration_ms == 1262.0


def test_a_rotated_log_keeps_being_read(tmp_path: Path):
    log = tmp_path / "gateway.log"
    log.write_text("")
    tail = _tail(log)
    tail.poll()
    _append(log, "[event-loop-block] tick took 1000ms\n")
    os.rename(log, tmp_path / "gateway.log.1")
    # the writer still holds the old file for a moment: its last lines land there
    _append(tmp_path / "gateway.log.1", "[event-loop-block] tick took 1001ms\n")
    assert [b.duration_ms for b in tail.poll()] == [1000.0, 1001.0]
    log.write_text("[event-loop-block] tick took 1479ms - no tracked work active (untracked culprit)\n")
    assert [b.duration_ms for b in tail.poll()] == [1479.0]
    _append(log, "[event-loop-block] tick took 1500ms\n")
    assert [b.duration_ms for b in tail.poll()] == [1500.0]
    assert tail.rotations == 1


def test_a_truncated_log_keeps_being_read(tmp_path: Path):
    log = tmp_path / "gateway.log"
    log.write_text("")
    tail = _tail(log)
    tail.poll()
    _append(log, "x" * 200 + "\n[event-loop-block] tick took 1100ms\n")
    assert [b.duration_ms for b in tail.poll()] == [1100.0]
    with open(log, "r+b") as fh:  # copytruncate
        fh.truncate(0)
    _append(log, "[event-loop-block] tick took 1200ms\n")
    assert [b.duration_ms for b in tail.poll()] == [1200.0]
    # truncated and grown past the old offset before the next poll: noticed by the changed byte
    with open(log, "r+b") as fh:
        fh.truncate(0)
    _append(log, "[event-loop-block] tick took 1300ms - " + "y" * 100 + "\n")
    assert [b.duration_ms for b in tail.poll()] == [1300.0]
    assert tail.truncations == 2


def test_a_log_that_appears_later_is_read_from_its_start(tmp_path: Path):
    log = tmp_path / "later.log"
    tail = _tail(log)
    assert tail.poll() == []
    log.write_text(SEED_LINE + "\n")
    assert len(tail.poll()) == 1


def test_hostile_lines_are_counted_never_raised(tmp_path: Path):
    log = tmp_path / "gateway.log"
    log.write_text("")
    tail = _tail(log, max_line_bytes=1024)
    tail.poll()
    _append(log, b"\xff\xfe[event-loop-block] tick took 1300ms - caf\xe9\n")
    _append(log, b"z" * 5000 + b"\n")  # over max_line_bytes
    _append(log, b"[event-loop-block] tick took 99999999999999999999ms\n")  # absurd
    _append(log, b"\x00\x00\n[event-loop-block] tick took 7ms\n")
    blocks = tail.poll()
    assert [b.duration_ms for b in blocks] == [1300.0, 7.0]
    assert "\ufffd" in blocks[0].culprit
    assert tail.bad_lines == 1


def test_custom_pattern_without_culprit_group_reads_as_untracked(tmp_path: Path):
    log = tmp_path / "daemon.log"
    log.write_text("")
    tail = LogTail(LogSource(name="daemon", path=log, pattern=r"blocked for (?P<ms>\d+(?:\.\d+)?) ms"))
    tail.poll()
    _append(log, "WARN loop blocked for 312.5 ms\n")
    (block,) = tail.poll()
    assert (block.source, block.duration_ms, block.culprit) == ("daemon", 312.5, "untracked")


def test_an_unreadable_log_is_an_error_not_a_crash(tmp_path: Path):
    path = tmp_path / "a-directory"
    path.mkdir()
    tail = _tail(path)
    assert tail.poll() == []
    assert tail.errors == 1 and tail.last_error


def test_watcher_polls_every_source_and_reports_through_on_block(tmp_path: Path):
    one, two = tmp_path / "one.log", tmp_path / "two.log"
    one.write_text("")
    two.write_text("")
    seen = []
    watcher = LogWatcher([LogSource("one", one), LogSource("two", two)], on_block=seen.append)
    assert watcher.poll() == []
    _append(one, SEED_LINE + "\n")
    _append(two, "[event-loop-block] tick took 5ms\n")
    blocks = watcher.poll()
    assert [b.source for b in blocks] == ["one", "two"]
    assert seen == blocks


def test_watcher_reacts_to_file_events_and_stops(tmp_path: Path):
    log = tmp_path / "gateway.log"
    log.write_text("old line\n")

    async def main() -> tuple[list, LogWatcher, float]:
        seen: list = []
        watcher = LogWatcher([LogSource("gateway", log)], on_block=seen.append, debounce_ms=50)
        task = asyncio.create_task(watcher.run())
        deadline = time.monotonic() + 5
        while not watcher.watching and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        _append(log, SEED_LINE + "\n")
        while not seen and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        stopping = time.monotonic()
        watcher.close()
        await asyncio.wait_for(task, 3)
        return seen, watcher, time.monotonic() - stopping

    seen, watcher, stop_s = asyncio.run(main())
    assert [b.duration_ms for b in seen] == [1855.0]
    assert watcher.events >= 1
    assert stop_s < 2


def test_watcher_task_cancels_promptly(tmp_path: Path):
    log = tmp_path / "gateway.log"
    log.write_text("")

    async def main() -> float:
        watcher = LogWatcher([LogSource("gateway", log)])
        task = asyncio.create_task(watcher.run())
        await asyncio.sleep(0.3)
        started = time.monotonic()
        task.cancel()
        try:
            await asyncio.wait_for(task, 3)
        except asyncio.CancelledError:
            pass
        return time.monotonic() - started

    assert asyncio.run(main()) < 2
