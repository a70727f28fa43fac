"""The process table, read straight from /proc: cheap per tick, honest about pid reuse.

A process is identified by ``(pid, start)``: ``start`` is field 22 of ``/proc/PID/stat``
(clock ticks since boot, the number Claude Code writes as ``procStart``). A pid alone is
not an identity: the kernel hands it to the next process once the old one is reaped, so
every liveness check and every signal here compares both (SPEC §6, seed #9).

Everything is blocking file I/O for a worker thread. ``ProcessReader`` keeps the only
state (the command-line cache); ``ProcessTable`` is an immutable snapshot.
"""

from __future__ import annotations

import errno
import os
import re
import resource
import signal
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "Proc",
    "ProcessReader",
    "ProcessTable",
    "boot_time",
    "clock_ticks",
    "parse_stat",
    "raise_fd_limit",
    "signal_verified",
    "start_to_epoch",
]

_PF_KTHREAD = 0x00200000  # task flag: a kernel thread (no cmdline, ever)
_O_READ = os.O_RDONLY | os.O_CLOEXEC
_SHORT_READ = 3072  # below this a /proc read ended at EOF, not at the end of a page


@dataclass(frozen=True, slots=True)
class Proc:
    pid: int
    ppid: int
    start: int  # clock ticks since boot (stat field 22) = Claude Code's procStart
    state: str  # R, S, D, Z, T, ...
    pgid: int
    cmdline: tuple[str, ...]  # () for kernel threads and zombies
    comm: str = ""  # the kernel's 15-char name, shown when there is no cmdline
    session: int = 0  # its session id (a tmux pane's process leads one)

    @property
    def command(self) -> str:
        """The command line joined for display; ``[comm]`` like ps when there is none."""
        if self.cmdline:
            return " ".join(self.cmdline)
        return f"[{self.comm}]" if self.comm else ""

    @property
    def zombie(self) -> bool:
        return self.state in ("Z", "X", "x")


class StatFields(NamedTuple):
    """The fields of /proc/PID/stat the cockpit uses."""

    pid: int
    comm: str
    state: str
    ppid: int
    pgid: int
    flags: int
    num_threads: int
    start: int
    session: int = 0


def parse_stat(data: bytes | str) -> StatFields | None:
    """Parse one /proc/PID/stat line; None when it is not one.

    comm may hold spaces and ')' (a process names itself), so the fixed fields start
    after the LAST ')'.
    """
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    open_ = data.find(b"(")
    close = data.rfind(b")")
    if open_ < 1 or close < open_:
        return None
    rest = data[close + 1 :].split()
    if len(rest) < 20:
        return None
    try:
        return StatFields(
            int(data[:open_]),  # pid
            data[open_ + 1 : close].decode("utf-8", "replace"),  # comm
            rest[0].decode("ascii", "replace"),  # field 3: state
            int(rest[1]),  # field 4: ppid
            int(rest[2]),  # field 5: pgrp
            int(rest[6]),  # field 9: flags
            int(rest[17]),  # field 20: num_threads
            int(rest[19]),  # field 22: starttime
            int(rest[3]),  # field 6: session
        )
    except ValueError:
        return None


def _read(path: str, limit: int = 1 << 20) -> bytes | None:
    """The whole file, or None if it (or its process) is gone or unreadable."""
    try:
        fd = os.open(path, _O_READ)
    except OSError:
        return None
    try:
        chunk = os.read(fd, 65536)
        # /proc serves at most a page per read: a short first read is the whole file,
        # which spares the second (EOF) read on every stat and children file
        if len(chunk) < _SHORT_READ:
            return chunk
        chunks = [chunk]
        size = len(chunk)
        while size < limit:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    except OSError:  # ESRCH: the process went away between open and read
        return None
    finally:
        os.close(fd)


def _pread(fd: int) -> bytes | None:
    """A /proc file held open, read again from its start (the kernel renders it anew); None when its
    process is gone (ESRCH: the file stays bound to that process, never to a successor with its pid)."""
    try:
        chunk = os.pread(fd, 65536, 0)
    except OSError:
        return None
    if len(chunk) < 65536:
        return chunk
    chunks, off = [chunk], len(chunk)
    while chunk and off < 1 << 20:
        try:
            chunk = os.pread(fd, 65536, off)
        except OSError:
            return None
        chunks.append(chunk)
        off += len(chunk)
    return b"".join(chunks)


def raise_fd_limit(want: int = 65536) -> int:
    """Raise this process's soft descriptor limit toward the hard one (as Go's runtime and supervisord's
    ``minfds`` do): a fleet holds a pidfd and its /proc files per agent, and 1024 is a common default.
    Returns the soft limit now; never lowers it."""
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        target = want if hard == resource.RLIM_INFINITY else min(want, hard)
        if soft != resource.RLIM_INFINITY and soft < target:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        return soft
    except (OSError, ValueError):
        return -1


def _fd_budget() -> int:
    """How many /proc files a reader may hold open: a quarter of the soft descriptor limit (the rest is
    the pidfds', the sockets' and the files' of a fleet), at most 16384."""
    try:
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (OSError, ValueError):
        return 0
    if soft == resource.RLIM_INFINITY:
        soft = 65536
    return max(0, min(soft // 4, 16384))


@dataclass(slots=True)
class _Held:
    """One process the walk keeps open (stat and children files, read again with pread each tick),
    with what the last read gave: an unchanged stat is not parsed again nor its Proc rebuilt."""
    stat_fd: int
    raw: bytes = b""
    st: StatFields | None = None
    proc: Proc | None = None
    proc_of: StatFields | None = None          # the stat ``proc`` was built from
    kids: dict[str, int] = field(default_factory=dict)  # tid -> its children file
    used: int = 0                               # the tree call that last read it


def _close_all(held: dict[int, _Held]) -> None:
    for entry in held.values():
        for fd in (entry.stat_fd, *entry.kids.values()):
            try:
                os.close(fd)
            except OSError:
                pass
    held.clear()


def proc_start_ticks(pid: int, proc_root: str = "/proc") -> int | None:
    """Start time of ``pid`` in clock ticks since boot (field 22 of its stat), or None when it is gone.

    Claude Code's ``procStart`` is this number, read the same way (fields split after the LAST ``)``:
    a process may put spaces and parentheses in its own name).
    """
    try:
        raw = _read(f"{proc_root}/{int(pid)}/stat", 8192)
    except ValueError:
        return None
    st = parse_stat(raw) if raw else None
    return st.start if st is not None else None


def _split_cmdline(raw: bytes) -> tuple[str, ...]:
    if not raw:
        return ()
    if raw.endswith(b"\0"):
        raw = raw[:-1]
    return tuple(arg.decode("utf-8", "replace") for arg in raw.split(b"\0"))


def clock_ticks() -> int:
    """Clock ticks per second (the unit of ``Proc.start``)."""
    return _clock_ticks()


@cache
def _clock_ticks() -> int:
    try:
        return int(os.sysconf("SC_CLK_TCK")) or 100
    except (OSError, ValueError):
        return 100


@cache
def _boot_time(root: str) -> float:
    raw = _read(f"{root}/stat") or b""
    for line in raw.splitlines():
        if line.startswith(b"btime "):
            try:
                return float(line.split()[1])
            except (IndexError, ValueError):
                break
    return time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)


def boot_time(proc_root: Path = Path("/proc")) -> float:
    """Boot time as a Unix epoch (``btime`` of /proc/stat), read once per proc root."""
    return _boot_time(str(proc_root))


def start_to_epoch(start_ticks: int, proc_root: Path = Path("/proc")) -> float:
    """A ``Proc.start`` (ticks since boot) as a Unix epoch; whole-second precise (btime)."""
    return boot_time(proc_root) + start_ticks / clock_ticks()


class ProcessTable:
    """An immutable snapshot of some processes, indexed by pid and by parent."""

    __slots__ = ("_procs", "_children")

    def __init__(self, procs: Iterable[Proc]) -> None:
        self._procs: dict[int, Proc] = {p.pid: p for p in procs}
        children: dict[int, list[int]] = {}
        for p in self._procs.values():
            if p.ppid != p.pid and p.ppid in self._procs:
                children.setdefault(p.ppid, []).append(p.pid)
        for kids in children.values():
            kids.sort(key=lambda pid: (self._procs[pid].start, pid))
        self._children = {ppid: tuple(kids) for ppid, kids in children.items()}

    def get(self, pid: int) -> Proc | None:
        return self._procs.get(pid)

    def __contains__(self, pid: object) -> bool:
        return pid in self._procs

    def __iter__(self) -> Iterator[Proc]:
        return iter(self._procs.values())

    def __len__(self) -> int:
        return len(self._procs)

    def __repr__(self) -> str:
        return f"ProcessTable({len(self._procs)} processes)"

    def children(self, pid: int) -> list[Proc]:
        """Direct children, oldest first."""
        return [self._procs[c] for c in self._children.get(pid, ())]

    def descendants(self, pid: int) -> list[Proc]:
        """``pid`` itself first, then its descendants depth-first; [] if it is not here."""
        if pid not in self._procs:
            return []
        out: list[Proc] = []
        seen: set[int] = set()
        stack = [pid]
        while stack:
            cur = stack.pop()
            if cur in seen:  # a hostile or racy table must not loop forever
                continue
            seen.add(cur)
            out.append(self._procs[cur])
            stack.extend(reversed(self._children.get(cur, ())))
        return out

    def alive(self, pid: int, start: int) -> bool:
        """The recorded process still runs: same pid AND same start, and not a zombie.

        A reused pid (another start) is another process: seed #9.
        """
        p = self._procs.get(pid)
        return p is not None and p.start == start and not p.zombie

    def matching(self, regex: str | re.Pattern[str]) -> list[Proc]:
        """Processes whose command line matches ``regex`` (re.search), by pid."""
        pattern = re.compile(regex) if isinstance(regex, str) else regex
        return sorted(
            (p for p in self._procs.values() if p.cmdline and pattern.search(" ".join(p.cmdline))),
            key=lambda p: p.pid,
        )


class ProcessReader:
    """Reads processes from ``proc_root``; caches command lines by (pid, start).

    ``tree()`` picks, per call, the cheaper of two exact ways to find descendants: walking
    the children files (cost follows the fleet's processes *and threads*: a child belongs
    to the thread that forked it, so a 12-thread node agent costs 12 reads) or one pass
    over every /proc/PID/stat (cost follows the host). ``last_method`` says which ran.

    With ``hold`` (the supervisor's reader, the real /proc only) the walk keeps each tree process's
    stat and children files open and reads them again with ``pread``: no path lookup, and a process
    whose stat did not change is neither parsed again nor rebuilt, so an unchanged fleet yields the
    same ``Proc`` objects and the same ``ProcessTable`` (what the later steps compare by identity).
    A held file answers for its own process only (a gone process's file says ESRCH, never its pid's
    successor's), new children show in the children files at once, and what no walk read for a few
    calls is closed. ``close()`` releases them.

    Thread-safe: the caches are the only shared state and are swapped under a lock.
    """

    _SWEEP_EVERY = 64  # calls between sweeps of the command-line cache
    _MIN_CACHE_AGE_S = 0.5  # a younger process may not have exec'd yet: do not cache it
    # measured costs relative to one stat read + parse (~17 us): seed #8, pick the cheaper
    _CHILDREN_READ_COST = 0.4
    _TASK_LISTDIR_COST = 0.7
    _HELD_READ_COST = 0.3  # a pread of a held file against a read by path (measured: ~3.5 us vs ~17 us with parse)
    _HOLD_UNUSED_CALLS = 16  # held files no tree call read for this many calls are closed
    _HOST_COUNT_EVERY = 16  # tree calls between counts of the host's processes (held mode)

    def __init__(self, proc_root: Path = Path("/proc"), *, hold: bool = False) -> None:
        self.proc_root = Path(proc_root)
        self._root = str(self.proc_root)
        self._lock = threading.Lock()
        # held files (real /proc only: a fake tree's files are replaced, not rewritten in place)
        self._hold = hold and self._root == "/proc"
        self._held: dict[int, _Held] = {}
        self._held_fds = 0
        self._fd_budget = _fd_budget() if self._hold else 0
        self._walk_lock = threading.Lock()  # one walk at a time owns the held descriptors
        self._tables: dict[tuple[int, ...], tuple[tuple[Proc, ...], ProcessTable]] = {}
        self._host_count: tuple[int, int] | None = None  # (tree call, processes on the host)
        self._finalizer = weakref.finalize(self, _close_all, self._held)
        # (pid, start) -> (comm, cmdline, generation last used)
        self._cmdlines: dict[tuple[int, int], tuple[str, tuple[str, ...], int]] = {}
        self._generation = 0
        self._children_files: bool | None = None  # None: not known yet
        # walk cost of the last tree per root, in stat reads: spawn checks ask for one
        # agent's tree between fleet-wide ticks, so the estimate scales with the roots
        self._walk_cost_per_root: float | None = None
        self.last_method = ""  # "walk" or "scan": how the last tree() was found
        self.cmdline_reads = 0  # counters for the benchmark and tests (racy, advisory)
        self.stat_reads = 0
        if self._hold:  # CONFIG_PROC_CHILDREN known before the first walk, which then holds files at once
            self._children_files = os.path.exists(f"/proc/self/task/{threading.get_native_id()}/children") or None

    # -- single reads -------------------------------------------------------------

    def _stat(self, pid: int) -> StatFields | None:
        self.stat_reads += 1
        raw = _read(f"{self._root}/{pid}/stat", 8192)
        if raw is None:
            return None
        st = parse_stat(raw)
        return st if st is not None and st.pid == pid else None

    def _now_ticks(self) -> float:
        if self._root != "/proc":
            return float("inf")  # a fake tree has no clock of its own: everything is old
        return time.clock_gettime(time.CLOCK_BOOTTIME) * clock_ticks()

    def _proc(self, st: StatFields, gen: int, now_ticks: float) -> Proc | None:
        key = (st.pid, st.start)
        hit = self._cmdlines.get(key)
        # exec keeps (pid, start) but renames comm: a changed comm means a new cmdline
        if hit is not None and hit[0] == st.comm:
            cmdline = hit[1]
            if hit[2] != gen:
                self._cmdlines[key] = (hit[0], cmdline, gen)
        else:
            no_cmdline = bool(st.flags & _PF_KTHREAD) or st.state in ("Z", "X", "x")
            if no_cmdline:
                raw = b""
            else:
                self.cmdline_reads += 1
                raw = _read(f"{self._root}/{st.pid}/cmdline")
                if raw is None:
                    return None  # it vanished between the two reads
            cmdline = _split_cmdline(raw)
            # a just-forked child still shows its parent's cmdline until it execs
            young = now_ticks - st.start < self._MIN_CACHE_AGE_S * clock_ticks()
            if (cmdline or no_cmdline) and not young:
                with self._lock:
                    self._cmdlines[key] = (st.comm, cmdline, gen)
        return Proc(st.pid, st.ppid, st.start, st.state, st.pgid, cmdline, st.comm, st.session)

    def read(self, pid: int) -> Proc | None:
        """The process as it is now, or None if it is gone."""
        st = self._stat(pid)
        if st is None:
            return None
        return self._proc(st, self._generation, self._now_ticks())

    def exit_status(self, pid: int) -> int | None:
        """A zombie's wait status (field 52 of its stat: it exited, nobody reaped it yet); None otherwise."""
        raw = _read(f"{self._root}/{pid}/stat", 8192)
        fields = raw[raw.rfind(b")") + 1:].split() if raw else []
        if len(fields) < 50 or fields[0] != b"Z" or not fields[49].isdigit():
            return None
        return int(fields[49])

    def environ(self, pid: int) -> tuple[bytes, ...]:
        """The process's environment entries (``NAME=value``, raw bytes); () when gone or unreadable."""
        raw = _read(f"{self._root}/{pid}/environ")
        return tuple(e for e in raw.split(b"\0") if e) if raw else ()

    # -- batches ------------------------------------------------------------------

    def _next_generation(self) -> int:
        with self._lock:
            self._generation += 1
            gen = self._generation
            if gen % self._SWEEP_EVERY == 0:
                oldest = gen - self._SWEEP_EVERY
                self._cmdlines = {k: v for k, v in self._cmdlines.items() if v[2] >= oldest}
            return gen

    def _pid_names(self) -> list[str]:
        try:
            return [name for name in os.listdir(self._root) if name.isdigit()]
        except OSError:
            return []

    def _all_stats(self, names: list[str] | None = None) -> dict[int, StatFields]:
        stats: dict[int, StatFields] = {}
        for name in self._pid_names() if names is None else names:
            st = self._stat(int(name))
            if st is not None:
                stats[st.pid] = st
        return stats

    def _children(self, st: StatFields) -> list[int] | None:
        """Children of every thread of ``st``; None if this kernel has no children files."""
        base = f"{self._root}/{st.pid}/task"
        if st.num_threads <= 1:
            tids: Iterable[str] = (str(st.pid),)
        else:
            try:
                tids = os.listdir(base)
            except OSError:
                return []
        kids: list[int] = []
        for tid in tids:
            raw = _read(f"{base}/{tid}/children")
            if raw is None:
                if self._children_files is None and tid == str(st.pid):
                    # missing while its task still exists: not a race, CONFIG_PROC_CHILDREN off
                    if os.path.exists(f"{base}/{tid}/stat"):
                        self._children_files = False
                        return None
                continue
            self._children_files = True
            for word in raw.split():
                try:
                    kids.append(int(word))
                except ValueError:
                    continue
        return kids

    def _walk(self, roots: list[int], gen: int = 0) -> dict[int, StatFields] | None:
        held = self._hold and self._children_files is True  # CONFIG_PROC_CHILDREN known on: hold files
        stats: dict[int, StatFields] = {}
        stack = list(reversed(roots))
        while stack:
            pid = stack.pop()
            if pid in stats:
                continue
            entry = self._held_stat(pid, gen) if held else None
            st = entry.st if entry is not None else self._stat(pid)
            if st is None:
                continue
            kids = self._held_children(entry, st) if entry is not None else self._children(st)
            if kids is None:
                return None
            stats[pid] = st
            stack.extend(reversed(kids))
        return stats

    # -- held files (hold=True) -----------------------------------------------------

    def _open(self, path: str) -> int | None:
        if self._held_fds >= self._fd_budget:
            return None
        try:
            fd = os.open(path, _O_READ)
        except OSError:
            return None
        self._held_fds += 1
        return fd

    def _close(self, fd: int) -> None:
        self._held_fds -= 1
        try:
            os.close(fd)
        except OSError:
            pass

    def _release(self, pid: int) -> None:
        entry = self._held.pop(pid, None)
        if entry is not None:
            for fd in (entry.stat_fd, *entry.kids.values()):
                self._close(fd)

    def _held_stat(self, pid: int, gen: int) -> _Held | None:
        """``pid``'s held entry with its stat read now (st None: gone); None when it cannot be held."""
        self.stat_reads += 1
        entry = self._held.get(pid)
        raw = _pread(entry.stat_fd) if entry is not None else None
        if entry is not None and not raw:
            self._release(pid)  # that process is gone; the pid may name a new one: open it afresh
            entry = None
        if entry is None:
            fd = self._open(f"{self._root}/{pid}/stat")
            if fd is None:
                self.stat_reads -= 1
                return None
            entry = self._held[pid] = _Held(fd)
            raw = _pread(fd)
        entry.used = gen
        if raw != entry.raw:
            st = parse_stat(raw) if raw else None
            entry.raw, entry.st = raw or b"", st if st is not None and st.pid == pid else None
        return entry

    def _held_children(self, entry: _Held, st: StatFields) -> list[int]:
        """Children of every thread of ``st``, from its held children files."""
        if st.num_threads <= 1:
            tids: Iterable[str] = (str(st.pid),)
        else:
            try:
                tids = os.listdir(f"{self._root}/{st.pid}/task")
            except OSError:
                return []
        kids: list[int] = []
        for tid in tids:
            fd = entry.kids.get(tid)
            if fd is None:
                fd = self._open(f"{self._root}/{st.pid}/task/{tid}/children")
                if fd is None:
                    raw = _read(f"{self._root}/{st.pid}/task/{tid}/children")  # over budget: by path
                else:
                    entry.kids[tid] = fd
                    raw = _pread(fd)
            else:
                raw = _pread(fd)
            for word in (raw or b"").split():
                try:
                    kids.append(int(word))
                except ValueError:
                    continue
        if len(entry.kids) > 1 and len(entry.kids) > st.num_threads:  # threads ended: their files go
            live = set(tids)
            for tid in [t for t in entry.kids if t not in live]:
                self._close(entry.kids.pop(tid))
        return kids

    def _held_proc(self, st: StatFields, gen: int, now: float) -> Proc | None:
        """The Proc of a walked stat: the held one while its stat is unchanged (or equal when rebuilt)."""
        entry = self._held.get(st.pid) if self._hold else None
        if entry is None or entry.st is not st:
            return self._proc(st, gen, now)
        if entry.proc is not None and entry.proc_of is st:
            return entry.proc
        proc = self._proc(st, gen, now)
        if proc is not None and proc != entry.proc:
            entry.proc = proc
        entry.proc_of = st
        return entry.proc if proc is not None else None

    def _sweep_held(self, gen: int) -> None:
        if gen % 4:
            return
        oldest = gen - self._HOLD_UNUSED_CALLS
        for pid in [pid for pid, e in self._held.items() if e.used < oldest]:
            self._release(pid)

    def _table(self, roots: list[int], procs: list[Proc]) -> ProcessTable:
        """The same table as the last call with these roots when it holds the same Proc objects."""
        if not self._hold:
            return ProcessTable(procs)
        key = tuple(roots)
        last = self._tables.get(key)
        if last is not None and len(last[0]) == len(procs) and all(a is b for a, b in zip(last[0], procs)):
            return last[1]
        table = ProcessTable(procs)
        if len(self._tables) >= 8 and key not in self._tables:
            self._tables.pop(next(iter(self._tables)))
        self._tables[key] = (tuple(procs), table)
        return table

    def _host_processes(self, gen: int) -> int:
        cached = self._host_count
        if cached is None or gen - cached[0] >= self._HOST_COUNT_EVERY:
            cached = self._host_count = (gen, len(self._pid_names()))
        return cached[1]

    def close(self) -> None:
        """Release the held /proc files (the reader still works, reading by path until it holds again)."""
        with self._walk_lock:
            for pid in list(self._held):
                self._release(pid)
            self._tables.clear()

    def _select(self, roots: list[int], stats: dict[int, StatFields]) -> dict[int, StatFields]:
        kids: dict[int, list[int]] = {}
        for st in stats.values():
            kids.setdefault(st.ppid, []).append(st.pid)
        picked: dict[int, StatFields] = {}
        stack = [r for r in roots if r in stats]
        while stack:
            pid = stack.pop()
            if pid not in picked:
                picked[pid] = stats[pid]
                stack.extend(kids.get(pid, ()))
        return picked

    def tree(self, root_pids: Iterable[int], *, method: str = "auto") -> ProcessTable:
        """The given pids and all their descendants (roots that are gone are left out).

        ``method``: "walk" (children files), "scan" (every stat) or "auto" (the cheaper,
        judged by the last tree's processes and threads per root against the host's process
        count).
        """
        if method not in ("auto", "walk", "scan"):
            raise ValueError(f"method must be auto, walk or scan, not {method!r}")
        roots = list(dict.fromkeys(int(p) for p in root_pids))
        if self._hold:
            with self._walk_lock:
                return self._tree(roots, method)
        return self._tree(roots, method)

    def _tree(self, roots: list[int], method: str) -> ProcessTable:
        gen = self._next_generation()
        now = self._now_ticks()
        names: list[str] | None = None
        if self._children_files is False:
            method = "scan"
        elif method == "auto":
            if self._hold:  # the host's count, not its names: a held walk needs no getdents per tick
                count = self._host_processes(gen)
            else:
                names = self._pid_names()  # one getdents; reused by the scan if it wins
                count = len(names)
            per_root = self._walk_cost_per_root
            if self._hold:  # a held file's pread costs a fraction of a read by path (no lookup, no open)
                per_root = (per_root if per_root is not None else 1.0 + self._CHILDREN_READ_COST) * self._HELD_READ_COST
            walk_ok = per_root is not None and per_root * len(roots) <= count
            method = "walk" if walk_ok else "scan"
        stats = self._walk(roots, gen) if method == "walk" else None
        if stats is None:
            method = "scan"
            stats = self._select(roots, self._all_stats(names))
        self.last_method = method
        if roots:
            walk_cost = sum(
                1.0
                + self._CHILDREN_READ_COST * max(st.num_threads, 1)
                + (self._TASK_LISTDIR_COST if st.num_threads > 1 else 0.0)
                for st in stats.values()
            )
            self._walk_cost_per_root = walk_cost / len(roots)
        procs = [self._held_proc(st, gen, now) for st in stats.values()]
        if self._hold:
            self._sweep_held(gen)
        return self._table(roots, [p for p in procs if p is not None])

    def scan_all(self) -> ProcessTable:
        """The whole process table (wrapper discovery by command-line regex)."""
        gen = self._next_generation()
        now = self._now_ticks()
        procs = [self._proc(st, gen, now) for st in self._all_stats().values()]
        table = ProcessTable(p for p in procs if p is not None)
        with self._lock:  # everything not seen now is dead: drop it
            self._cmdlines = {
                k: v for k, v in self._cmdlines.items() if (p := table.get(k[0])) and p.start == k[1]
            }
        return table


def _pidfd_open(pid: int) -> int | None:
    """A pidfd for ``pid``; None when the platform has none; raises ProcessLookupError."""
    opener = getattr(os, "pidfd_open", None)
    if opener is None or not hasattr(signal, "pidfd_send_signal"):
        return None
    try:
        return opener(pid)
    except OSError as exc:
        if exc.errno in (errno.ENOSYS, errno.EPERM, errno.EINVAL):
            return None
        raise


_PIDFD_SIGNAL_PROCESS_GROUP = 4  # Linux 6.9+: signal the pidfd's process group


def signal_verified(
    pid: int,
    start: int,
    sig: int,
    *,
    group: bool = False,
    reader: ProcessReader | None = None,
) -> bool:
    """Send ``sig`` to the recorded process ``(pid, start)``; True if it was sent.

    Nothing is sent when the pid is gone or now belongs to a process with another start
    time (seed #9, SPEC §6). With ``group`` the signal goes to the process's group,
    never to group 0/1 nor the cockpit's own. The pidfd is opened before the start time
    is checked, so the signal reaches the process that was checked, not a successor;
    for a group, Linux 6.9+ signals the pidfd's group itself (before that, killpg of the
    pgid just read: its number cannot be reused while the checked process still exists).
    """
    if pid <= 1 or pid == os.getpid():
        return False
    reader = reader or ProcessReader()
    try:
        pidfd = _pidfd_open(pid)
    except OSError:  # ProcessLookupError: already gone
        return False
    try:
        st = reader._stat(pid)
        if st is None or st.start != start:
            return False
        if group:
            if st.pgid <= 1 or st.pgid == os.getpgrp():
                return False
            if pidfd is not None:
                try:
                    signal.pidfd_send_signal(pidfd, sig, None, _PIDFD_SIGNAL_PROCESS_GROUP)
                    return True
                except ProcessLookupError:
                    return False
                except OSError as exc:
                    if exc.errno != errno.EINVAL:  # EINVAL: kernel older than 6.9
                        return False
            try:
                os.killpg(st.pgid, sig)
                return True
            except OSError:
                return False
        try:
            if pidfd is not None:
                signal.pidfd_send_signal(pidfd, sig)
            else:
                os.kill(pid, sig)
            return True
        except OSError:
            return False
    finally:
        if pidfd is not None:
            os.close(pidfd)
