"""Which ports are listening, and whether the agent itself is the listener.

One read of the listening table per tick serves the whole fleet (seed #8: one psutil port
lookup per agent is the load that grows with the fleet). The table comes from the kernel's
sock_diag netlink interface, asking for LISTEN sockets only (~40 us), and falls back to
/proc/net/tcp{,6}: reading those walks the whole established-connection hash, about 2 ms
per file on a host with 512k buckets, whatever the number of sockets. Ownership is settled by the
socket inodes in the agent's own processes' fds: a port held by a process outside the
agent's pane tree is not the agent's port (seed #2: "port listening" must mean *this*
spawn came up, not a leftover from the last one).

Caveat: /proc/net is the caller's network namespace; an agent in another netns is not seen.
"""

from __future__ import annotations

import os
import socket
import struct
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from cockpit.observe.procs import Proc, _read, parse_stat

__all__ = [
    "PortProbe",
    "listening_sockets",
    "listening_sockets_netlink",
    "naive_port_lookup",
    "parse_diag_dump",
    "parse_listening",
]

_LISTEN = b"0A"


def parse_listening(data: bytes, into: dict[int, set[int]]) -> int:
    """Add every LISTEN socket of one /proc/net/tcp* text to ``into`` (port -> inodes).

    Returns the number of malformed lines skipped; never raises on hostile input.
    """
    bad = 0
    lines = data.split(b"\n")
    for line in lines[1:]:  # the first line is the header
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 10:
            bad += 1
            continue
        if parts[3] != _LISTEN:
            continue
        try:
            port = int(parts[1].rpartition(b":")[2], 16)
            inode = int(parts[9])
        except ValueError:
            bad += 1
            continue
        if not 0 < port < 65536 or inode <= 0:
            bad += 1
            continue
        into.setdefault(port, set()).add(inode)
    return bad


def _read_listening(proc_root: Path) -> tuple[dict[int, frozenset[int]], int]:
    table: dict[int, set[int]] = {}
    bad = 0
    for name in ("tcp", "tcp6"):
        try:
            with open(proc_root / "net" / name, "rb") as fh:
                data = fh.read()
        except OSError:  # no IPv6, or no /proc/net in this namespace
            continue
        bad += parse_listening(data, table)
    return {port: frozenset(inodes) for port, inodes in table.items()}, bad


def listening_sockets(proc_root: Path = Path("/proc")) -> dict[int, frozenset[int]]:
    """Every TCP socket in LISTEN, IPv4 and IPv6: port -> socket inodes. One read per call."""
    return _read_listening(Path(proc_root))[0]


_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST_DUMP = 0x1 | 0x300
_NLMSG_ERROR = 2
_NLMSG_DONE = 3
_TCP_LISTEN = 10
_NLMSG_HDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid
_DIAG_REQ = struct.Struct("=BBBxI48x")  # family, protocol, ext, states, sockid (zeroed)
_DIAG_MSG_LEN = 72  # struct inet_diag_msg
_SPORT = struct.Struct(">H")  # inet_diag_msg.id.idiag_sport, network order, at offset 4
_INODE = struct.Struct("=I")  # inet_diag_msg.idiag_inode, at offset 68


def parse_diag_dump(data: bytes, seq: int, into: dict[int, set[int]]) -> tuple[bool, int]:
    """Add the sockets of one sock_diag datagram to ``into``; never raises.

    Returns (finished, errno): finished on NLMSG_DONE or NLMSG_ERROR (errno > 0 then).
    """
    off = 0
    end = len(data)
    while off + _NLMSG_HDR.size <= end:
        length, kind, _flags, msg_seq, _pid = _NLMSG_HDR.unpack_from(data, off)
        if length < _NLMSG_HDR.size or off + length > end:
            return True, 74  # EBADMSG: a torn datagram, give up on this source
        body = off + _NLMSG_HDR.size
        if msg_seq == seq:
            if kind == _NLMSG_DONE:
                return True, 0
            if kind == _NLMSG_ERROR:
                code = struct.unpack_from("=i", data, body)[0] if length >= 20 else -74
                return True, -code if code < 0 else 74
            if kind == _SOCK_DIAG_BY_FAMILY and length - _NLMSG_HDR.size >= _DIAG_MSG_LEN:
                port = _SPORT.unpack_from(data, body + 4)[0]
                inode = _INODE.unpack_from(data, body + 68)[0]
                if port and inode:
                    into.setdefault(port, set()).add(inode)
        off += (length + 3) & ~3
    return False, 0


def listening_sockets_netlink() -> dict[int, frozenset[int]] | None:
    """Every TCP socket in LISTEN via sock_diag (what ``ss -lt`` uses); None if unavailable.

    The kernel filters by state, so the cost follows the listeners, not the connections.
    """
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG)
    except (OSError, AttributeError):
        return None
    table: dict[int, set[int]] = {}
    try:
        sock.settimeout(1.0)
        for seq, family in enumerate((socket.AF_INET, socket.AF_INET6), start=1):
            request = _DIAG_REQ.pack(family, socket.IPPROTO_TCP, 0, 1 << _TCP_LISTEN)
            header = _NLMSG_HDR.pack(
                _NLMSG_HDR.size + len(request), _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST_DUMP, seq, 0
            )
            sock.send(header + request)
            while True:
                finished, err = parse_diag_dump(sock.recv(1 << 17), seq, table)
                if finished:
                    break
            if err and family == socket.AF_INET:
                return None  # no sock_diag for TCP here: let the caller read /proc/net
            # an error for AF_INET6 means no IPv6 in this kernel: nothing listens there
    except OSError:
        return None
    finally:
        sock.close()
    return {port: frozenset(inodes) for port, inodes in table.items()}


class PortProbe:
    """Per-tick port checks for a whole fleet: ``scan()`` once, then ask per agent.

    ``owner_ok`` caches what it learnt per (pid, start, inode): an agent whose listener
    and processes did not change costs no readlink on later ticks. Thread-safe.
    ``netlink``: read the table through sock_diag (default: only for the real /proc,
    falling back to /proc/net for good if the kernel refuses). ``listdir``/``readlink``
    are seams for tests; ``readlinks`` counts the calls.
    """

    _FORGET_AFTER_SCANS = 8  # cache entries unused for this many scans are dropped

    def __init__(
        self,
        proc_root: Path = Path("/proc"),
        *,
        netlink: bool | None = None,
        listdir: Callable[[str], list[str]] = os.listdir,
        readlink: Callable[[str], str] = os.readlink,
    ) -> None:
        self.proc_root = Path(proc_root)
        self._root = str(self.proc_root)
        self._netlink = self._root == "/proc" if netlink is None else netlink
        self.source = ""  # "netlink" or "proc": where the last scan read the table
        self._listdir = listdir
        self._readlink = readlink
        self._lock = threading.Lock()
        self._listen: dict[int, frozenset[int]] | None = None
        self._scans = 0
        # (pid, start, inode) -> (holds it, scan number last used)
        self._owners: dict[tuple[int, int, int], tuple[bool, int]] = {}
        self.bad_lines = 0  # malformed lines in the last scan
        self.readlinks = 0  # readlink calls since creation

    def scan(self) -> dict[int, frozenset[int]]:
        """Read the listening table once for this tick; returns it (port -> inodes)."""
        table = listening_sockets_netlink() if self._netlink else None
        if table is not None:
            bad, self.source = 0, "netlink"
        else:
            self._netlink = False
            table, bad = _read_listening(self.proc_root)
            self.source = "proc"
        with self._lock:
            self._listen = table
            self.bad_lines = bad
            self._scans += 1
            live = set().union(*table.values()) if table else set()
            oldest = self._scans - self._FORGET_AFTER_SCANS
            self._owners = {
                k: v for k, v in self._owners.items() if k[2] in live and v[1] >= oldest
            }
        return table

    def _table(self) -> dict[int, frozenset[int]]:
        table = self._listen
        return table if table is not None else self.scan()

    def inodes(self, port: int) -> frozenset[int] | None:
        """The socket inodes listening on ``port`` as of the last scan; None when nothing listens."""
        return self._table().get(port) or None

    def listening(self, port: int) -> bool:
        """Something listens on ``port`` (any address, IPv4 or IPv6) as of the last scan."""
        return port in self._table()

    def owner_ok(self, port: int, procs: Iterable[Proc]) -> bool | None:
        """One of ``procs`` (the agent's pane tree) holds a listening socket of ``port``.

        False when nothing listens there or only processes outside ``procs`` do; None when
        it cannot tell (an fd table it may not read and no owner found elsewhere).
        """
        inodes = self._table().get(port)
        if not inodes:
            return False
        procs = list(procs)
        scan_no = self._scans
        owners = self._owners
        todo: list[Proc] = []
        for proc in procs:  # cached answers first: an unchanged agent stops here
            known = True
            for inode in inodes:
                hit = owners.get((proc.pid, proc.start, inode))
                if hit is None:
                    known = False
                elif hit[0]:
                    self._touch(proc, inodes, scan_no)
                    return True
            if known:
                self._touch(proc, inodes, scan_no)
            else:
                todo.append(proc)
        unknown = False
        for proc in todo:
            found = self._socket_search(proc, inodes)
            if found is None:
                unknown = True
                continue
            with self._lock:  # a hit stops the search early: only a full miss proves absence
                for inode in found or inodes:
                    self._owners[(proc.pid, proc.start, inode)] = (bool(found), scan_no)
            if found:
                return True
        return None if unknown else False

    def _touch(self, proc: Proc, inodes: frozenset[int], scan_no: int) -> None:
        with self._lock:
            for inode in inodes:
                key = (proc.pid, proc.start, inode)
                hit = self._owners.get(key)
                if hit is not None and hit[1] != scan_no:
                    self._owners[key] = (hit[0], scan_no)

    def _socket_search(self, proc: Proc, inodes: frozenset[int]) -> set[int] | None:
        """The ``inodes`` among ``proc``'s open fds (stops at the first); None if unreadable."""
        fd_dir = f"{self._root}/{proc.pid}/fd"
        try:
            fds = self._listdir(fd_dir)
        except PermissionError:
            return None
        except OSError:  # the process is gone: it holds nothing
            return set()
        for fd in fds:
            self.readlinks += 1
            try:
                target = self._readlink(f"{fd_dir}/{fd}")
            except PermissionError:
                return None
            except OSError:  # the fd was closed meanwhile
                continue
            if target.startswith("socket:[") and target.endswith("]"):
                try:
                    inode = int(target[8:-1])
                except ValueError:
                    continue
                if inode in inodes:
                    return {inode} if self._same_process(proc) else set()
        return set()

    def _same_process(self, proc: Proc) -> bool:
        """The pid still belongs to ``proc``: a reused pid's fds are another process's."""
        raw = _read(f"{self._root}/{proc.pid}/stat")
        st = parse_stat(raw) if raw is not None else None
        return st is not None and st.start == proc.start


def naive_port_lookup(port: int) -> bool:
    """The naive reference for the benchmark: one psutil table walk per agent."""
    import psutil

    return any(
        conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port
        for conn in psutil.net_connections(kind="tcp")
    )
