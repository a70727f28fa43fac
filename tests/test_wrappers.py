"""Wrapper discovery and the zombie judge (seed #9), with real simulated sub-agents.

Every simulated wrapper carries a unique marker in its argv, and the rules match only that
marker: wrappers of other test runs on the same machine are never found, let alone reaped.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.judge.zombies import judge_zombies, zombie_reason
from cockpit.observe.procs import Proc, ProcessReader
from cockpit.observe.wrappers import ResultLine, StreamTail, WrapperTracker, WrapperView
from cockpit.registry import Registry
from tests.conftest import SIM, wait_for

RESULT_OK = {"type": "result", "subtype": "success", "is_error": False, "duration_ms": 1234, "num_turns": 1}


# --- helpers shared with test_reap.py and test_wrap.py --------------------------------------------


def sim_argv(marker: str, *extra: str, linger: float = 30.0) -> list[str]:
    """A print-mode sub-agent that writes its result, then lingers (a wrapper that won't die)."""
    return [*SIM, "-p", "hi", "--output-format", "stream-json", "--reply-delay-s", "0",
            "--linger-s", str(linger), "--name", marker, *extra]


class Sims:
    """Simulated wrappers with stdout redirected to a file; every one is killed at teardown."""

    def __init__(self, root: Path, marker: str) -> None:
        self.root = root
        self.marker = marker
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, *extra: str, linger: float = 30.0, own_group: bool = True) -> tuple[subprocess.Popen[bytes], Path]:
        out = self.root / f"wrapper-{len(self.procs)}.jsonl"
        with open(out, "wb") as fh:
            proc = subprocess.Popen(sim_argv(self.marker, *extra, linger=linger), stdout=fh,
                                    stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                                    start_new_session=own_group)
        self.procs.append(proc)
        return proc, out

    def track(self, proc: subprocess.Popen[bytes]) -> None:
        self.procs.append(proc)

    def cleanup(self) -> None:
        for proc in self.procs:
            # never waited before this: a dead leader stays a zombie, so its group id is still ours
            try:
                if os.getpgid(proc.pid) == proc.pid:
                    os.killpg(proc.pid, signal.SIGKILL)
                else:
                    proc.kill()
            except OSError:
                pass
            proc.wait()


@pytest.fixture
def sims(world):
    marker = f"wrapzombie-{secrets.token_hex(4)}"
    s = Sims(world.root, marker)
    yield s
    s.cleanup()


def rule_config(world, marker: str, *, output: str | None = None, agents=(), **supervisor):
    extra = f'\n[[wrappers]]\nmatch = "{marker}"\n'
    if output is not None:
        extra += f'output = "{output}"\n'
    return world.write_config(list(agents), supervisor=supervisor, extra=extra)


def has_result(path: Path) -> bool:
    try:
        return b'"type":"result"' in path.read_bytes()
    except OSError:
        return False


def started(pid: int) -> int:
    proc = ProcessReader().read(pid)
    assert proc is not None
    return proc.start


def observe_until(tracker: WrapperTracker, predicate, timeout: float = 10.0, **kwargs):
    deadline = time.monotonic() + timeout
    views = ()
    while time.monotonic() < deadline:
        views = tracker.observe(time.time(), **kwargs)
        if predicate(views):
            return views
        time.sleep(0.05)
    raise AssertionError(f"timed out; last views: {[v.to_json() for v in views]}")


def line(obj) -> bytes:
    return json.dumps(obj).encode() + b"\n"


def view(**changes) -> WrapperView:
    """A plain-data wrapper view for the pure judge."""
    base = dict(id="100:5", name="wrapper-100", pid=100, start=5, pgid=100, command="claude -p x",
                output="/tmp/out.jsonl", agent="tabs", state="finished", alive=True,
                result=ResultLine("success", False, 1234, seen_at=1000.0), ends_with_result=True,
                result_age_s=0.0, tree=(Proc(100, 1, 5, "S", 100, ("claude", "-p", "x")),))
    base.update(changes)
    return WrapperView(**base)


# --- the output tail ------------------------------------------------------------------------------


def test_the_output_is_read_incrementally_and_its_last_event_kept(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_bytes(line({"type": "system", "subtype": "init"}))
    tail = StreamTail(out)
    tail.read(now=1e12)
    assert tail.last_event == "system" and tail.result is None and not tail.ends_with_result
    with open(out, "ab") as fh:
        fh.write(line({"type": "assistant", "message": {}}) + line(RESULT_OK))
    read_before = tail.bytes_read
    tail.read(now=1e12)
    assert tail.ends_with_result and tail.result.success
    assert tail.result.duration_ms == 1234 and tail.result.num_turns == 1
    assert tail.bytes_read - read_before == out.stat().st_size - len(line({"type": "system", "subtype": "init"}))
    seen = tail.result.seen_at
    tail.read(now=1e12)  # nothing new: same result, same first-seen time
    assert tail.result.seen_at == seen
    with open(out, "ab") as fh:  # it works again: the result is no longer its last word
        fh.write(line({"type": "assistant", "message": {}}))
    tail.read(now=1e12)
    assert not tail.ends_with_result and tail.result is not None


def test_hostile_output_lines_are_counted_never_fatal(tmp_path):
    out = tmp_path / "out.jsonl"
    small = StreamTail(out, max_line_bytes=1000)
    out.write_bytes(b"".join([
        b"\xff\xfe not utf-8\n", b'{"type": "assistant", "trunc\n', b"[1, 2, 3]\n", b'{"no_type": 1}\n',
        b"[" * 100_000 + b"\n", b"x" * 5000 + b"\n", b"\n", line({"type": "result", "subtype": 7, "is_error": "no",
                                                                  "duration_ms": True}),
    ]))
    small.read(now=1e12)
    assert small.bad_lines == 6
    # a result line with the wrong types keeps only what it can trust, and is no success
    assert small.ends_with_result and small.result.subtype is None and small.result.is_error is None
    assert small.result.duration_ms is None and not small.result.success
    deep = tmp_path / "deep.jsonl"
    deep.write_bytes(b"[" * 200_000 + b"\n" + b'{"type": ' * 50_000 + b"\n" + line(RESULT_OK))
    tail = StreamTail(deep, first_read_bytes=1 << 20)
    tail.read(now=1e12)  # nesting deep enough to blow the parser's recursion limit
    assert tail.bad_lines == 2 and tail.result.success


def test_a_huge_output_costs_a_read_of_its_end_not_of_its_size(tmp_path):
    out = tmp_path / "big.jsonl"
    filler = line({"type": "assistant", "message": {"content": "x" * 1000}})
    with open(out, "wb") as fh:
        for _ in range(8000):  # ~8 MB
            fh.write(filler)
        fh.write(line(RESULT_OK))
    tail = StreamTail(out)
    tail.read(now=1e12)
    assert tail.ends_with_result and tail.result.success
    assert tail.bytes_read <= 300 * 1024 and tail.bad_lines == 0  # the cut first line is skipped, not "bad"


def test_a_result_line_without_its_newline_is_seen_and_keeps_its_first_seen_time(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_bytes(line({"type": "system"}) + json.dumps(RESULT_OK).encode())
    tail = StreamTail(out)
    tail.read(now=1e12)
    assert tail.ends_with_result
    first = tail.result.seen_at
    time.sleep(0.02)
    with open(out, "ab") as fh:
        fh.write(b"\n")
    tail.read(now=1e12)
    assert tail.ends_with_result and tail.result.seen_at == first


def test_a_replaced_output_is_followed_again(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_bytes(line(RESULT_OK))
    tail = StreamTail(out)
    tail.read(now=1e12)
    assert tail.ends_with_result
    tmp = tmp_path / "new.jsonl"
    tmp.write_bytes(line({"type": "system"}))
    os.replace(tmp, out)
    tail.read(now=1e12)
    assert tail.last_event == "system" and tail.result is None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.lists(st.binary(max_size=300), max_size=12), cuts=st.lists(st.integers(0, 4000), max_size=6))
def test_any_bytes_in_any_chunks_never_raise_and_a_final_result_is_found(tmp_path_factory, garbage, cuts):
    out = tmp_path_factory.mktemp("prop") / "out.jsonl"
    data = b"\n".join(garbage) + b"\n" + line(RESULT_OK)
    tail = StreamTail(out, first_read_bytes=1024)
    points = sorted({min(c, len(data)) for c in cuts}) + [len(data)]
    written = 0
    for point in points:
        with open(out, "ab") as fh:
            fh.write(data[written:point])
        written = point
        tail.read(now=1e12)
    assert tail.ends_with_result and tail.result.success


# --- discovery ------------------------------------------------------------------------------------


def test_a_rule_finds_a_wrapper_whose_stdout_is_a_file_and_sees_its_result(world, sims):
    config = rule_config(world, sims.marker)
    proc, out = sims.start()
    piped = subprocess.Popen(sim_argv(sims.marker), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             stdin=subprocess.DEVNULL, start_new_session=True)
    sims.track(piped)  # matches the rule, but its output is a pipe: nothing to judge, not a wrapper
    tracker = WrapperTracker(config.wrappers, registry_path=config.state.registry, rescan_s=0)
    views = observe_until(tracker, lambda vs: any(v.ends_with_result for v in vs))
    [v] = views
    assert v.pid == proc.pid and v.start == started(proc.pid) and v.id == f"{proc.pid}:{v.start}"
    assert v.output == str(out) and v.pgid == proc.pid and sims.marker in v.command
    assert v.alive and v.state == "finished" and v.result.success and v.result.subtype == "success"
    assert v.tree[0].pid == proc.pid and not v.registered and v.name == f"wrapper-{proc.pid}"
    json.dumps(v.to_json())  # the check --json "wrappers" entry
    proc.kill()
    [gone] = observe_until(tracker, lambda vs: vs and not vs[0].alive)
    assert gone.state == "finished" and gone.gone_at is not None


def test_an_output_glob_picks_the_wrappers_file(world, sims):
    glob = str(world.root / "wrapper-*.jsonl")
    config = rule_config(world, sims.marker, output=glob)
    proc, out = sims.start()
    tracker = WrapperTracker(config.wrappers, registry_path=config.state.registry, rescan_s=0)
    [v] = observe_until(tracker, lambda vs: any(v.ends_with_result for v in vs))
    assert v.output == str(out)


def test_a_registered_cockpit_wrap_is_tracked_from_its_registry_row(world, sims):
    config = world.write_config([{"name": "tabs", "command": [*SIM]}])
    proc, out = sims.start()
    wait_for(lambda: has_result(out), what="the result line")
    registry = Registry(config.state.registry)
    registry.event("spawned", agent="wrap-abc", spawn_id="abc", wrapper=True, pid=proc.pid, start=started(proc.pid),
                   output=str(out), parent_agent="tabs", argv=["claude", "-p", "hi"])
    tracker = WrapperTracker((), registry_path=config.state.registry)  # no rule: the registration alone
    [v] = tracker.observe(time.time())
    assert v.registered and v.name == "wrap-abc" and v.spawn_id == "abc" and v.agent == "tabs"
    assert v.ends_with_result and v.result.success and v.output == str(out)
    proc.kill()
    registry.event("exit", agent="wrap-abc", spawn_id="abc", wrapper=True, pid=proc.pid, start=v.start,
                   reason="reaped", subtype="success", is_error=False)
    [v] = observe_until(tracker, lambda vs: vs and not vs[0].alive)
    assert v.state == "reaped" and v.exit["reason"] == "reaped"


def test_the_parent_agent_is_found_through_ancestry_and_its_death_orphans_the_wrapper(world, sims):
    config = rule_config(world, sims.marker, agents=[{"name": "tabs", "command": [*SIM]}])
    out = world.root / "child.jsonl"
    # the "agent": a process that starts the sub-agent (same process group) and keeps working
    code = ("import subprocess, sys, time\n"
            f"subprocess.Popen({sim_argv(sims.marker)!r}, stdout=open({str(out)!r}, 'wb'), "
            "stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
            "time.sleep(60)\n")
    agent = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    sims.track(agent)
    wait_for(lambda: has_result(out), what="the sub-agent's result")
    agent_proc = ProcessReader().read(agent.pid)
    tracker = WrapperTracker(config.wrappers, registry_path=config.state.registry, rescan_s=0)
    [v] = tracker.observe(time.time(), agents={"tabs": agent_proc})
    assert v.agent == "tabs" and v.agent_proc == (agent.pid, agent_proc.start) and not v.orphan
    _, findings = judge_zombies([v], now=time.time(), grace_s=60)
    assert findings == []  # within its grace, with its parent alive: not a zombie
    wrapper_pid = v.pid
    agent.kill()  # the agent dies; its sub-agent does not
    [v] = tracker.observe(time.time(), agents=None)
    assert not v.orphan  # tmux unreachable: the agents are unknown, nobody is judged an orphan
    [v] = observe_until(tracker, lambda vs: vs and vs[0].orphan, agents={})
    assert v.alive and v.agent == "tabs" and v.pid == wrapper_pid
    [marked], [finding] = judge_zombies([v], now=time.time(), grace_s=60)
    assert marked.state == "zombie" and finding.evidence["reason"] == "orphan"
    assert "tabs is gone" in finding.summary
    os.kill(wrapper_pid, signal.SIGKILL)  # it is not our child: the cleanup cannot reach it


# --- the judge (pure) -----------------------------------------------------------------------------


def test_a_wrapper_alive_past_its_grace_after_its_result_is_a_zombie_wrapper():
    v = view()
    assert zombie_reason(v, now=1059.9, grace_s=60) is None
    (marked,), (finding,) = judge_zombies([v], now=1075.0, grace_s=60)
    assert marked.state == "zombie" and marked.zombie_reason == "after_result"
    assert finding.kind == "zombie_wrapper" and finding.severity.value == "warning" and finding.action == "reap"
    # about the parent agent, one per wrapper: twenty zombies of one agent are twenty findings
    assert finding.agent == "tabs" and finding.subject == "100:5" and finding.evidence["name"] == "wrapper-100"
    ev = finding.evidence
    assert ev["result"]["subtype"] == "success" and ev["result"]["is_error"] is False
    assert ev["result"]["duration_ms"] == 1234 and ev["since_result_s"] == 75.0
    assert ev["tree"] == [{"pid": 100, "start": 5, "pgid": 100, "command": "claude -p x"}]
    assert ev["parent_agent"] == "tabs" and "75s after its result" in finding.summary


def test_gone_or_still_working_wrappers_are_not_zombies():
    assert zombie_reason(view(alive=False), now=5000, grace_s=60) is None
    assert zombie_reason(view(ends_with_result=False), now=5000, grace_s=60) is None
    assert zombie_reason(view(result=None, ends_with_result=False), now=5000, grace_s=60) is None
    failing = view(result=ResultLine("success", True, 10, seen_at=1000.0))
    assert zombie_reason(failing, now=1060, grace_s=60) == "after_result"  # a failed run lingers just the same


def test_an_orphaned_wrapper_is_a_zombie_even_before_its_result():
    v = view(result=None, ends_with_result=False, orphan=True)
    (marked,), (finding,) = judge_zombies([v], now=1000, grace_s=60)
    assert marked.zombie_reason == "orphan" and finding.evidence["result"] is None
