"""[[canaries]] (seed #5): user-level assertions on their own schedule, in worker threads, never on the loop."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from cockpit.config import Canary, parse_config
from cockpit.findings import Severity
from cockpit.judge.canaries import CRITICAL_AFTER, judge_canaries
from cockpit.observe.canaries import CanaryRunner

pytestmark = pytest.mark.timeout(60)


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def run_once(runner: CanaryRunner, clock: Clock | None = None) -> None:
    runner.start_due(clock() if clock else None)
    assert runner.wait(timeout=20)


def alive(pid: int) -> bool:
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return raw[raw.rfind(b")") + 2:raw.rfind(b")") + 3] not in (b"Z", b"X")


def test_a_canary_that_stops_matching_raises_canary_failed(tmp_path: Path) -> None:
    sentinel = tmp_path / "notice.txt"
    sentinel.write_text("user notice: shown\n")
    clock = Clock()
    canary = Canary(name="notice-shown", every_s=60.0, command=("cat", str(sentinel)), expect=r"^user notice: shown$")
    runner = CanaryRunner([canary], clock=clock)
    try:
        run_once(runner, clock)
        [state] = runner.states()
        assert state.ok is True and state.failures == 0 and "user notice: shown" in state.last.output_tail
        assert judge_canaries(runner.states(), clock.now) == []
        sentinel.write_text("")  # the fix shipped; the user no longer sees the thing
        findings = []
        for run in range(1, CRITICAL_AFTER + 1):
            clock.now += 60.0
            run_once(runner, clock)
            [finding] = judge_canaries(runner.states(), clock.now)
            findings.append(finding)
        assert [f.severity for f in findings] == [Severity.WARNING, Severity.WARNING, Severity.CRITICAL]
        first, last = findings[0], findings[-1]
        assert first.kind == "canary_failed" and first.agent is None
        assert "canary notice-shown failed" in first.summary and "did not match" in first.summary
        assert last.evidence["failures_in_a_row"] == 3 and last.evidence["command"] == ["cat", str(sentinel)]
        assert last.evidence["exit_code"] == 0 and "3 runs in a row" in last.summary
        sentinel.write_text("user notice: shown\n")
        clock.now += 60.0
        run_once(runner, clock)
        assert judge_canaries(runner.states(), clock.now) == []  # clears on the next pass
        assert runner.states()[0].runs == 5
    finally:
        runner.close()


def test_a_canary_that_times_out_fails_and_its_process_group_is_killed(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    canary = Canary(name="slow", every_s=60.0, timeout_s=0.5, expect="never",
                    command=("sh", "-c", f"echo started; sleep 30 & echo $! > {pidfile}; wait"))
    runner = CanaryRunner([canary])
    try:
        t0 = time.monotonic()
        run_once(runner)
        assert time.monotonic() - t0 < 5
        [state] = runner.states()
        assert state.ok is False and state.last.timed_out and "timed out after 0.5s" in state.last.detail
        assert "started" in state.last.output_tail
        [finding] = judge_canaries(runner.states(), time.time())
        assert finding.evidence["timed_out"] is True and finding.severity is Severity.WARNING
        child = int(pidfile.read_text())
        deadline = time.monotonic() + 3
        while alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(child)  # the whole group went, not only the shell
    finally:
        runner.close()


def test_a_stale_expect_file_raises_canary_failed(tmp_path: Path) -> None:
    report = tmp_path / "nightly.md"
    report.write_text("ok")
    clock = Clock()
    canary = Canary(name="nightly", expect_file=report, max_age_s=3600.0)
    runner = CanaryRunner([canary], clock=clock)
    try:
        run_once(runner, clock)
        assert runner.states()[0].ok is True and judge_canaries(runner.states(), clock.now) == []
        old = clock.now - 2 * 3600
        os.utime(report, (old, old))
        clock.now += 60.0
        run_once(runner, clock)
        [finding] = judge_canaries(runner.states(), clock.now)
        assert "is stale" in finding.summary and finding.evidence["age_s"] >= 7200
        assert finding.evidence["expect_file"] == str(report) and finding.evidence["max_age_s"] == 3600.0
        report.unlink()
        clock.now += 60.0
        run_once(runner, clock)
        [missing] = judge_canaries(runner.states(), clock.now)
        assert "is missing" in missing.summary
    finally:
        runner.close()


def test_canaries_never_run_on_the_loop_and_never_pile_up(tmp_path: Path) -> None:
    clock = Clock()
    canary = Canary(name="slow-ok", every_s=0.01, timeout_s=5.0, command=("sh", "-c", "sleep 1; echo ok"),
                    expect="ok")
    runner = CanaryRunner([canary], clock=clock)

    async def go() -> tuple[float, list[list[str]], float]:
        lag = 0.0
        started: list[list[str]] = []
        worst_call = 0.0
        loop = asyncio.get_running_loop()
        for _ in range(20):  # ticks every 50 ms while the canary sleeps a whole second
            t0 = time.perf_counter()
            started.append(runner.start_due())
            worst_call = max(worst_call, time.perf_counter() - t0)
            before = loop.time()
            await asyncio.sleep(0.05)
            lag = max(lag, loop.time() - before - 0.05)
            clock.now += 0.05
        return lag, started, worst_call

    try:
        lag, started, worst_call = asyncio.run(go())
        assert worst_call < 0.05 and lag < 0.1
        assert sum(len(s) for s in started) == 1  # still running: not started again
        assert runner.states()[0].running
        assert runner.wait(timeout=10) and runner.states()[0].ok
    finally:
        runner.close()


def test_schedule_every_s_and_run_now() -> None:
    clock = Clock()
    runner = CanaryRunner([Canary(name="v", every_s=30.0, command=("echo", "2.1.197"), expect=r"\d+\.\d+\.\d+")],
                          clock=clock)
    try:
        assert runner.start_due() == ["v"] and runner.wait(10)
        clock.now += 10
        assert runner.start_due() == []
        clock.now += 21
        assert runner.start_due() == ["v"] and runner.wait(10)
        assert runner.run_now("v") and runner.wait(10) and runner.states()[0].runs == 3
        assert runner.states()[0].to_json()["last"]["ok"] is True
    finally:
        runner.close()


def test_a_command_that_cannot_run_fails_with_its_reason() -> None:
    runner = CanaryRunner([Canary(name="gone", command=("/nonexistent/cli", "--version"), expect="x")])
    try:
        run_once(runner)
        [finding] = judge_canaries(runner.states(), time.time())
        assert "cannot run /nonexistent/cli" in finding.summary and finding.evidence["error"]
    finally:
        runner.close()


def test_close_kills_a_running_canary(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    runner = CanaryRunner([Canary(name="hang", timeout_s=60.0, expect="x",
                                  command=("sh", "-c", f"echo $$ > {pidfile}; exec sleep 60"))])
    runner.start_due()
    deadline = time.monotonic() + 5
    while not pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.1)
    pid = int(pidfile.read_text())
    runner.close()
    deadline = time.monotonic() + 3
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid)


def test_a_hung_canary_is_reported() -> None:
    from dataclasses import replace
    from cockpit.observe.canaries import CanaryState

    state = CanaryState(index=0, name="nfs", kind="file", every_s=60, timeout_s=10, expect_file="/mnt/x",
                        max_age_s=60, running_since=1000.0)
    [finding] = judge_canaries([state], now=1000.0 + 100)
    assert "hung" in finding.summary
    assert judge_canaries([replace(state, running_since=None)], now=1100.0) == []  # never ran: says nothing


def test_canaries_from_the_config_run(tmp_path: Path) -> None:
    marker = tmp_path / "m"
    marker.write_text("x")
    config = parse_config({"canaries": [
        {"name": "echo", "command": ["echo", "hello"], "expect": "^hello$", "every_s": 5},
        {"name": "file", "expect_file": str(marker), "max_age_s": 60},
    ]})
    runner = CanaryRunner(config.canaries)
    try:
        run_once(runner)
        assert [s.ok for s in runner.states()] == [True, True]
        assert [s.kind for s in runner.states()] == ["command", "file"]
    finally:
        runner.close()
