"""The process table: stat parsing, trees of real processes, pid reuse, verified signals."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.observe import procs as procs_mod
from cockpit.observe.ports import PortProbe
from cockpit.observe.procs import (
    Proc,
    ProcessReader,
    ProcessTable,
    boot_time,
    clock_ticks,
    parse_stat,
    signal_verified,
    start_to_epoch,
)

# -- helpers ------------------------------------------------------------------------


def stat_line(
    pid: int,
    comm: str = "x",
    *,
    state: str = "S",
    ppid: int = 1,
    pgid: int | None = None,
    flags: int = 0,
    threads: int = 1,
    start: int = 100,
) -> str:
    pgid = pid if pgid is None else pgid
    fields_10_to_19 = " ".join(["0"] * 10)
    tail = " ".join(["0"] * 30)  # fields 23..52
    return (
        f"{pid} ({comm}) {state} {ppid} {pgid} {pgid} 0 -1 {flags} "
        f"{fields_10_to_19} {threads} 0 {start} {tail}\n"
    )


def fake_proc(
    root: Path,
    pid: int,
    *,
    cmdline: tuple[str, ...] = ("x",),
    children: tuple[int, ...] | None = (),
    **stat: object,
) -> None:
    """One process in a fake /proc; ``children=None`` leaves out the children file."""
    d = root / str(pid)
    (d / "task" / str(pid)).mkdir(parents=True, exist_ok=True)
    (d / "stat").write_text(stat_line(pid, **stat))  # type: ignore[arg-type]
    (d / "task" / str(pid) / "stat").write_text(stat_line(pid, **stat))  # type: ignore[arg-type]
    (d / "cmdline").write_bytes(b"".join(a.encode() + b"\0" for a in cmdline))
    if children is not None:
        (d / "task" / str(pid) / "children").write_text("".join(f"{c} " for c in children))


def wait_for(predicate: Callable[[], object], timeout: float = 5.0) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen]]:
    """Start real processes, each in its own session; kill their whole groups afterwards."""
    started: list[tuple[subprocess.Popen, bool]] = []

    def _spawn(argv: list[str], *, own_group: bool = True, **kw: object) -> subprocess.Popen:
        p = subprocess.Popen(argv, start_new_session=own_group, **kw)  # type: ignore[call-overload]
        started.append((p, own_group))
        return p

    yield _spawn
    for p, own_group in started:
        try:
            if own_group:
                os.killpg(p.pid, signal.SIGKILL)
            else:
                p.kill()
        except (ProcessLookupError, PermissionError):
            pass
        p.wait()


def started(reader: ProcessReader, pid: int) -> int:
    proc = reader.read(pid)
    assert proc is not None
    return proc.start


# -- stat parsing -------------------------------------------------------------------


def test_stat_with_parens_and_spaces_in_comm_is_split_after_the_last_paren() -> None:
    st_ = parse_stat(stat_line(4242, "a) b (c", state="R", ppid=7, pgid=9, threads=3, start=555))
    assert st_ is not None
    assert (st_.pid, st_.comm, st_.state, st_.ppid, st_.pgid) == (4242, "a) b (c", "R", 7, 9)
    assert (st_.num_threads, st_.start) == (3, 555)


@pytest.mark.parametrize(
    "line",
    [b"", b"12", b"12 (x", b"12 x) S 1", b"(x) S 1 2 3", b"abc (x) S " + b"1 " * 30, b"\xff\xfe)"],
)
def test_malformed_stat_lines_are_rejected_not_raised(line: bytes) -> None:
    assert parse_stat(line) is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_parse_stat_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    parse_stat(data)


def test_fake_proc_tree_with_hostile_comm_reads_pid_start_and_cmdline(tmp_path: Path) -> None:
    fake_proc(tmp_path, 10, comm="a) b (c", start=777, cmdline=("claude", "--resume", "a b"))
    proc = ProcessReader(tmp_path).read(10)
    assert proc == Proc(10, 1, 777, "S", 10, ("claude", "--resume", "a b"), "a) b (c", session=10)
    assert proc.command == "claude --resume a b"


def test_real_process_renamed_with_a_hostile_comm_is_parsed(spawn) -> None:
    code = "open('/proc/self/comm','w').write('a) b (c'); print('ok', flush=True); import time; time.sleep(60)"
    p = spawn([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert p.stdout.readline() == b"ok\n"
    proc = ProcessReader().read(p.pid)
    assert proc is not None
    assert proc.comm == "a) b (c"
    assert proc.ppid == os.getpid() and proc.pgid == p.pid
    assert proc.cmdline[:2] == (sys.executable, "-c")
    # start is field 22: the same instant psutil derives from it (within btime's 1 s)
    assert abs(start_to_epoch(proc.start) - psutil.Process(p.pid).create_time()) < 1.5


def test_own_process_matches_psutil() -> None:
    me = ProcessReader().read(os.getpid())
    ps = psutil.Process()
    assert me is not None
    assert (me.ppid, me.pgid, me.state) == (ps.ppid(), os.getpgrp(), "R")
    assert list(me.cmdline) == ps.cmdline()


def test_gone_pid_reads_as_none(tmp_path: Path) -> None:
    assert ProcessReader().read(2**22 + 12345) is None
    fake_proc(tmp_path, 5)
    (tmp_path / "5" / "cmdline").unlink()  # vanished between the stat and the cmdline read
    assert ProcessReader(tmp_path).read(5) is None


# -- the command-line cache -----------------------------------------------------------


def test_cmdline_is_cached_by_pid_and_start_and_a_reused_pid_is_reread(tmp_path: Path) -> None:
    fake_proc(tmp_path, 20, comm="node", start=100, cmdline=("claude",))
    reader = ProcessReader(tmp_path)
    assert reader.read(20).cmdline == ("claude",)
    assert reader.read(20).cmdline == ("claude",)
    assert reader.cmdline_reads == 1
    # seed #9: the pid is reused by another process: another start, another command
    fake_proc(tmp_path, 20, comm="node", start=900, cmdline=("codex",))
    assert reader.read(20).cmdline == ("codex",)
    assert reader.cmdline_reads == 2


def test_exec_with_the_same_pid_and_start_rereads_the_cmdline(tmp_path: Path) -> None:
    fake_proc(tmp_path, 21, comm="bash", start=100, cmdline=("bash",))
    reader = ProcessReader(tmp_path)
    assert reader.read(21).command == "bash"
    fake_proc(tmp_path, 21, comm="claude", start=100, cmdline=("claude", "-p"))
    assert reader.read(21).command == "claude -p"


def test_kernel_threads_and_zombies_have_no_cmdline(tmp_path: Path, spawn) -> None:
    fake_proc(tmp_path, 2, comm="kthreadd", flags=0x00200000, cmdline=())
    kthread = ProcessReader(tmp_path).read(2)
    assert kthread.cmdline == () and kthread.command == "[kthreadd]"
    p = spawn(["true"])  # exits at once; nobody reaps it until the fixture does
    reader = ProcessReader()
    zombie = wait_for(lambda: (z := reader.read(p.pid)) and z.state == "Z" and z)
    assert zombie, "the child never became a zombie"
    assert zombie.cmdline == () and zombie.zombie


# -- trees ------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["walk", "scan", "auto"])
def test_tree_finds_children_and_grandchildren_of_a_real_process(spawn, method: str) -> None:
    # root sh -> (sh -> sleep 601) and (sleep 602): a child and a grandchild per branch
    root = spawn(["sh", "-c", "sh -c 'sleep 601 & wait' & sleep 602 & wait"])
    reader = ProcessReader()

    def full_tree() -> ProcessTable | None:
        table = reader.tree([root.pid], method=method)
        cmds = sorted(p.command for p in table)
        return table if cmds.count("sleep 601") == 1 and "sleep 602" in cmds else None

    table = wait_for(full_tree)
    assert isinstance(table, ProcessTable)
    assert len(table) == 4
    descendants = table.descendants(root.pid)
    assert descendants[0].pid == root.pid
    assert {p.pid for p in descendants} == {p.pid for p in table}
    grandchild = next(p for p in table if p.command == "sleep 601")
    middle = table.get(grandchild.ppid)
    assert middle is not None and middle.ppid == root.pid
    assert grandchild in table.descendants(middle.pid)
    assert [c.pid for c in table.children(root.pid)] == sorted(
        (c.pid for c in table.children(root.pid)),
        key=lambda pid: (table.get(pid).start, pid),
    )
    assert os.getpid() not in table  # only the fleet's processes, not their parents
    if method != "auto":
        assert reader.last_method == method


def test_walk_finds_a_child_forked_by_a_non_main_thread(spawn) -> None:
    # a child belongs to the thread that forked it: Codex spawns tools from worker threads
    code = (
        "import subprocess, threading, time\n"
        "t = threading.Thread(target=lambda: subprocess.Popen(['sleep', '603']).wait())\n"
        "t.start(); time.sleep(60)\n"
    )
    root = spawn([sys.executable, "-c", code])
    reader = ProcessReader()
    table = wait_for(
        lambda: (t := reader.tree([root.pid], method="walk"))
        and any(p.command == "sleep 603" for p in t)
        and t
    )
    assert table, "walk missed the child of a worker thread"
    assert reader.last_method == "walk"


def test_tree_of_gone_pids_is_empty() -> None:
    table = ProcessReader().tree([2**22 + 4321])
    assert len(table) == 0 and table.descendants(2**22 + 4321) == []


def test_tree_falls_back_to_a_full_scan_without_children_files(tmp_path: Path) -> None:
    fake_proc(tmp_path, 1, comm="init", ppid=0, children=None)
    fake_proc(tmp_path, 30, ppid=1, children=None)
    fake_proc(tmp_path, 31, ppid=30, children=None)
    fake_proc(tmp_path, 32, ppid=31, children=None)
    fake_proc(tmp_path, 40, ppid=1, children=None)
    reader = ProcessReader(tmp_path)
    table = reader.tree([30], method="walk")
    assert [p.pid for p in table.descendants(30)] == [30, 31, 32]
    assert 40 not in table
    assert reader.last_method == "scan"
    reader.tree([30])
    assert reader.last_method == "scan"  # learnt once: no more walking attempts


def test_auto_walks_a_small_tree_on_a_big_host_and_scans_a_threaded_one(tmp_path: Path) -> None:
    fake_proc(tmp_path, 1, comm="init", ppid=0, children=(50, *range(100, 140)))
    fake_proc(tmp_path, 50, ppid=1, children=(51,))
    fake_proc(tmp_path, 51, ppid=50)
    for pid in range(100, 140):  # the rest of a busy host
        fake_proc(tmp_path, pid, ppid=1)
    reader = ProcessReader(tmp_path)
    reader.tree([50])  # the first tree measures itself
    reader.tree([50])
    assert reader.last_method == "walk"
    fake_proc(tmp_path, 51, ppid=50, threads=200)  # now 200 threads' children files
    reader.tree([50])
    reader.tree([50])
    assert reader.last_method == "scan"


def test_one_agents_tree_between_ticks_does_not_skew_the_fleets_choice(tmp_path: Path) -> None:
    agents = range(200, 210)
    fake_proc(tmp_path, 1, comm="init", ppid=0, children=(*agents, *range(100, 140)))
    for pid in agents:  # ten node-like agents of 20 threads each
        fake_proc(tmp_path, pid, ppid=1, threads=20)
    for pid in range(100, 140):
        fake_proc(tmp_path, pid, ppid=1)
    reader = ProcessReader(tmp_path)
    reader.tree(agents)
    reader.tree(agents)
    assert reader.last_method == "scan"  # 10 x 20 children files cost more than 51 stats
    reader.tree([200])  # a spawn check looks at one agent
    assert reader.last_method == "walk"
    reader.tree(agents)
    assert reader.last_method == "scan"


def test_table_survives_a_parent_cycle_from_a_racy_or_hostile_proc(tmp_path: Path) -> None:
    table = ProcessTable([Proc(1, 2, 0, "S", 1, ()), Proc(2, 1, 0, "S", 1, ())])
    assert [p.pid for p in table.descendants(1)] == [1, 2]


# -- identity: pid AND start -------------------------------------------------------------


def test_reused_pid_record_is_not_alive(spawn) -> None:
    p = spawn(["sleep", "604"])
    reader = ProcessReader()
    start = started(reader, p.pid)
    table = reader.tree([p.pid])
    assert table.alive(p.pid, start)
    assert not table.alive(p.pid, start + 1)  # same pid, another process
    assert not table.alive(p.pid, start - 1)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    assert not reader.tree([p.pid]).alive(p.pid, start)


def test_zombie_is_not_alive(spawn) -> None:
    p = spawn(["true"])
    reader = ProcessReader()
    zombie = wait_for(lambda: (z := reader.read(p.pid)) and z.state == "Z" and z)
    assert zombie
    assert not reader.tree([p.pid]).alive(p.pid, zombie.start)


def test_signal_with_a_wrong_start_is_refused_and_the_process_survives(spawn) -> None:
    p = spawn(["sleep", "605"])
    reader = ProcessReader()
    start = started(reader, p.pid)
    assert signal_verified(p.pid, start + 1, signal.SIGKILL) is False
    assert signal_verified(p.pid, start + 1, signal.SIGKILL, group=True) is False
    time.sleep(0.1)
    assert p.poll() is None
    assert reader.tree([p.pid]).alive(p.pid, start)


def test_signal_with_the_recorded_start_reaches_the_process(spawn) -> None:
    p = spawn(["sleep", "606"])
    start = started(ProcessReader(), p.pid)
    assert signal_verified(p.pid, start, signal.SIGTERM, reader=ProcessReader()) is True
    assert p.wait(timeout=5) == -signal.SIGTERM


def test_signal_without_pidfd_still_checks_the_start(spawn, monkeypatch) -> None:
    monkeypatch.setattr(procs_mod, "_pidfd_open", lambda pid: None)
    p = spawn(["sleep", "607"])
    start = started(ProcessReader(), p.pid)
    assert signal_verified(p.pid, start + 5, signal.SIGTERM) is False
    assert p.poll() is None
    assert signal_verified(p.pid, start, signal.SIGTERM) is True
    assert p.wait(timeout=5) == -signal.SIGTERM


def test_group_signal_kills_a_child_in_the_same_group(spawn) -> None:
    leader = spawn(["sh", "-c", "sleep 608 & wait"])
    reader = ProcessReader()
    table = wait_for(lambda: (t := reader.tree([leader.pid])) and len(t) == 2 and t)
    assert table
    child = next(p for p in table if p.pid != leader.pid)
    assert child.pgid == leader.pid
    assert signal_verified(leader.pid, started(reader, leader.pid), signal.SIGTERM, group=True)
    assert leader.wait(timeout=5) == -signal.SIGTERM
    assert wait_for(lambda: not reader.tree([child.pid]).alive(child.pid, child.start))


def test_group_signal_reaches_the_children_of_an_exited_wrapper(spawn) -> None:
    # the wrapper's leader exited (a zombie nobody reaped) while its child lingers on
    leader = spawn(["sh", "-c", "sleep 611 & exit 0"])
    reader = ProcessReader()
    zombie = wait_for(lambda: (z := reader.read(leader.pid)) and z.zombie and z)
    assert zombie
    child = wait_for(lambda: next((p for p in reader.scan_all().matching("^sleep 611$")), None))
    assert child and child.pgid == leader.pid
    assert signal_verified(leader.pid, zombie.start, signal.SIGTERM, group=True)
    assert wait_for(lambda: not reader.tree([child.pid]).alive(child.pid, child.start))


def test_group_signal_refuses_our_own_group_and_init(spawn) -> None:
    p = spawn(["sleep", "609"], own_group=False)  # shares the test runner's group
    start = started(ProcessReader(), p.pid)
    assert signal_verified(p.pid, start, signal.SIGKILL, group=True) is False
    time.sleep(0.1)
    assert p.poll() is None
    init_start = started(ProcessReader(), 1)
    assert signal_verified(1, init_start, 0) is False
    assert signal_verified(0, 0, 0, group=True) is False
    assert signal_verified(os.getpid(), started(ProcessReader(), os.getpid()), 0) is False


def test_signal_to_a_gone_pid_is_false(spawn) -> None:
    p = spawn(["true"])
    start = started(ProcessReader(), p.pid) if ProcessReader().read(p.pid) else 0
    p.wait()
    assert signal_verified(p.pid, start, signal.SIGTERM) is False


def test_reader_is_safe_to_share_between_worker_threads(spawn) -> None:
    from concurrent.futures import ThreadPoolExecutor

    roots = [spawn(["sh", "-c", "sleep 612 & wait"]).pid for _ in range(5)]
    reader = ProcessReader()
    jobs = [lambda: reader.tree(roots), reader.scan_all, lambda: reader.read(roots[0])] * 40
    with ThreadPoolExecutor(8) as pool:
        results = [f.result() for f in [pool.submit(job) for job in jobs]]
    assert all(r is not None for r in results)
    assert wait_for(lambda: len(reader.tree(roots)) == 10)


# -- whole-table scans and clocks ---------------------------------------------------------


def test_wrappers_are_found_by_command_line_regex(spawn) -> None:
    p = spawn(["sleep", "6543.21"])
    reader = ProcessReader()
    found = wait_for(lambda: reader.scan_all().matching(r"^sleep 6543\.21$"))
    assert [w.pid for w in found] == [p.pid]
    everything = reader.scan_all()
    assert os.getpid() in everything and len(everything) > 2
    assert everything.matching(r"no-such-command-xyz") == []


def test_boot_time_and_start_to_epoch_use_btime(tmp_path: Path) -> None:
    (tmp_path / "stat").write_text("cpu  1 2 3\nbtime 1700000000\nprocesses 5\n")
    assert boot_time(tmp_path) == 1700000000.0
    assert start_to_epoch(clock_ticks() * 10, tmp_path) == 1700000010.0
    assert abs(boot_time() - psutil.boot_time()) < 2
    assert clock_ticks() == os.sysconf("SC_CLK_TCK")


# -- cost --------------------------------------------------------------------------------


def test_cost_of_a_tick_for_100_sleeping_agents(spawn) -> None:
    """Not a timed assertion (SPEC §5 is the benchmark): prints the figure for the report."""
    agents = [spawn(["sleep", "610"]) for _ in range(100)]
    time.sleep(0.6)  # past the not-yet-exec'd window, so command lines are cached
    reader, probe = ProcessReader(), PortProbe()
    pids = [a.pid for a in agents]
    reader.tree(pids), probe.scan()
    costs = {}
    for label, tick in {
        "tree(auto)+scan": lambda: (reader.tree(pids), probe.scan()),
        "tree(walk)": lambda: reader.tree(pids, method="walk"),
        "tree(scan)": lambda: reader.tree(pids, method="scan"),
        "ports.scan": probe.scan,
    }.items():
        samples = []
        for _ in range(30):
            t0 = time.perf_counter()
            tick()
            samples.append((time.perf_counter() - t0) * 1000)
        costs[label] = (statistics.median(samples), max(samples))
    assert len(reader.tree(pids)) == 100
    hosts = len([n for n in os.listdir("/proc") if n.isdigit()])
    print(f"\n100 sleeping agents, {hosts} processes on the host, port table via {probe.source}:")
    for label, (median, worst) in costs.items():
        print(f"  {label:16s} median {median:6.2f} ms   max {worst:6.2f} ms")
