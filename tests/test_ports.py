"""Port checks: one listening table per tick, and the agent's own listener, not a squatter's."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.observe.ports import (
    PortProbe,
    listening_sockets,
    listening_sockets_netlink,
    naive_port_lookup,
    parse_diag_dump,
    parse_listening,
)
from cockpit.observe.procs import Proc, ProcessReader

HEADER = (
    b"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt"
    b"   uid  timeout inode\n"
)
LISTEN_CODE = (
    "import socket, sys, time\n"
    "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen()\n"
    "print(s.getsockname()[1], flush=True); time.sleep(120)\n"
)


def tcp_line(sl: int, port: int, inode: int, state: str = "0A") -> bytes:
    return (
        f"{sl:4d}: 0100007F:{port:04X} 00000000:0000 {state} 00000000:00000000 00:00000000 "
        f"00000000  1000        0 {inode} 1 0000000000000000 100 0 0 10 0\n"
    ).encode()


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen]]:
    started: list[subprocess.Popen] = []

    def _spawn(argv: list[str], **kw: object) -> subprocess.Popen:
        p = subprocess.Popen(argv, start_new_session=True, **kw)  # type: ignore[call-overload]
        started.append(p)
        return p

    yield _spawn
    for p in started:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()


def listener(spawn, port: int = 0, *, via_shell: bool = False) -> tuple[subprocess.Popen, int]:
    """A child process listening on 127.0.0.1:port; returns it and the bound port."""
    argv = [sys.executable, "-c", LISTEN_CODE, str(port)]
    if via_shell:  # the listener is the agent's grandchild, like a server a shell started
        argv = ["sh", "-c", 'exec 3>&1; "$@" & wait', "sh", *argv]
    p = spawn(argv, stdout=subprocess.PIPE)
    line = p.stdout.readline()
    assert line.strip().isdigit(), f"listener did not start: {line!r}"
    return p, int(line)


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    port = s.getsockname()[1]
    s.close()
    return port


# -- the listening table ----------------------------------------------------------------


@pytest.mark.parametrize("netlink", [True, False], ids=["sock_diag", "proc_net"])
def test_listening_sees_a_childs_socket_and_not_a_closed_one(spawn, netlink: bool) -> None:
    _, port = listener(spawn)
    gone = closed_port()
    probe = PortProbe(netlink=netlink)
    probe.scan()
    assert probe.source == ("netlink" if netlink else "proc")
    assert probe.listening(port)
    assert not probe.listening(gone)


def test_ipv6_listener_is_seen() -> None:
    try:
        s = socket.socket(socket.AF_INET6)
        s.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with s:
        s.listen()
        port = s.getsockname()[1]
        assert port in listening_sockets()
        for netlink in (True, False):
            probe = PortProbe(netlink=netlink)
            probe.scan()
            assert probe.listening(port)


def test_sock_diag_and_proc_net_agree(spawn) -> None:
    listener(spawn)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        via_netlink = listening_sockets_netlink()
        if via_netlink is None:
            pytest.skip("no sock_diag in this kernel")
        assert via_netlink == listening_sockets()
        assert s.getsockname()[1] in via_netlink


def test_connected_sockets_are_not_listeners() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname()) as client:
            client_port = client.getsockname()[1]
            table = listening_sockets()
            assert server.getsockname()[1] in table
            assert client_port not in table


def test_naive_lookup_agrees_with_the_probe(spawn) -> None:
    _, port = listener(spawn)
    assert naive_port_lookup(port) is True
    assert naive_port_lookup(closed_port()) is False


# -- ownership: the agent's listener, not someone else's -------------------------------------


def test_owner_ok_tells_the_agents_listener_from_another_processes(spawn) -> None:
    agent, agent_port = listener(spawn, via_shell=True)
    squatter, squatter_port = listener(spawn)
    reader = ProcessReader()
    agent_tree = list(reader.tree([agent.pid]))
    squatter_tree = list(reader.tree([squatter.pid]))
    assert len(agent_tree) == 2  # sh -> python: the listener is the pane's grandchild
    probe = PortProbe()
    probe.scan()
    assert probe.owner_ok(agent_port, agent_tree) is True
    assert probe.owner_ok(squatter_port, agent_tree) is False  # listening, but not ours
    assert probe.owner_ok(agent_port, squatter_tree) is False
    assert probe.owner_ok(closed_port(), agent_tree) is False
    with socket.socket() as mine:  # held by the test runner: outside every agent's tree
        mine.bind(("127.0.0.1", 0))
        mine.listen()
        probe.scan()
        assert probe.owner_ok(mine.getsockname()[1], agent_tree) is False


def test_unchanged_agent_costs_no_readlinks_on_the_next_call(spawn) -> None:
    agent, port = listener(spawn, via_shell=True)
    _, other_port = listener(spawn)
    tree = list(ProcessReader().tree([agent.pid]))
    probe = PortProbe()
    probe.scan()
    assert probe.owner_ok(port, tree) is True
    assert probe.owner_ok(other_port, tree) is False
    first = probe.readlinks
    assert first > 0
    probe.scan()  # the next tick
    assert probe.owner_ok(port, tree) is True
    assert probe.owner_ok(other_port, tree) is False  # a cached miss is free too
    assert probe.readlinks == first


def test_restarted_agent_on_the_same_port_is_checked_again(spawn) -> None:
    reader = ProcessReader()
    old, port = listener(spawn)
    old_tree = list(reader.tree([old.pid]))
    probe = PortProbe()
    probe.scan()
    assert probe.owner_ok(port, old_tree) is True
    os.killpg(old.pid, signal.SIGKILL)
    old.wait()
    new, same_port = listener(spawn, port)
    assert same_port == port
    probe.scan()
    assert probe.owner_ok(port, list(reader.tree([new.pid]))) is True
    assert probe.owner_ok(port, old_tree) is False  # the dead spawn does not own the new socket


def test_owner_ok_is_none_when_the_fd_table_cannot_be_read(spawn) -> None:
    agent, port = listener(spawn)
    tree = list(ProcessReader().tree([agent.pid]))

    def denied(path: str) -> list[str]:
        raise PermissionError(13, "Permission denied", path)

    probe = PortProbe(listdir=denied)
    probe.scan()
    assert probe.owner_ok(port, tree) is None
    assert probe.owner_ok(closed_port(), tree) is False  # nothing listens: no doubt


def fake_fd(root: Path, pid: int, start: int, sockets: dict[int, str]) -> None:
    d = root / str(pid)
    (d / "fd").mkdir(parents=True)
    tail = " ".join(["0"] * 30)
    (d / "stat").write_text(f"{pid} (x) S 1 {pid} {pid} 0 -1 0 {'0 ' * 10}1 0 {start} {tail}\n")
    for fd, target in sockets.items():
        os.symlink(target, d / "fd" / str(fd))


def test_owner_by_socket_inode_in_a_fake_proc(tmp_path: Path) -> None:
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "tcp").write_bytes(HEADER + tcp_line(0, 8080, 501) + tcp_line(1, 9090, 777))
    fake_fd(tmp_path, 10, 100, {0: "/dev/null", 3: "socket:[999]", 4: "socket:[501]"})
    fake_fd(tmp_path, 11, 100, {0: "/dev/null", 5: "socket:[777]", 6: "pipe:[777]"})
    probe = PortProbe(tmp_path)
    assert probe.listening(8080) and probe.source == "proc"
    agent = Proc(10, 1, 100, "S", 10, ("agent",))
    assert probe.owner_ok(8080, [agent]) is True
    assert probe.owner_ok(9090, [agent]) is False
    assert probe.owner_ok(9090, [agent, Proc(11, 1, 100, "S", 11, ())]) is True
    # seed #9: the record's pid now belongs to a process with another start
    assert PortProbe(tmp_path).owner_ok(8080, [Proc(10, 1, 55, "S", 10, ())]) is False


# -- hostile input ----------------------------------------------------------------------------


HOSTILE = [
    b"",
    HEADER,
    b"\x00\xff\xfe garbage\n" * 3,
    HEADER + b"   0: 0100007F:ZZZZ 00000000:0000 0A 0 0 0 0 0 0 1234\n",  # bad hex port
    HEADER + b"   0: 0100007F:1F90 00000000:0000 0A 0 0 0 0 0 0 notanint\n",
    HEADER + b"   0: 0100007F:0000 00000000:0000 0A 0 0 0 0 0 0 1\n",  # port 0
    HEADER + b"   0: 0100007F:FFFFF 00000000:0000 0A 0 0 0 0 0 0 1\n",  # port > 65535
    HEADER + b"   0: 0100007F:-1 00000000:0000 0A 0 0 0 0 0 0 1\n",
    HEADER + b"   0: 0100007F:1F90 00000000:0000 0A\n",  # truncated
    HEADER + tcp_line(0, 8080, 501)[:40],
    HEADER + b"x" * 1_000_000 + b"\n",
    HEADER + "ünïcode 0A ☃ \u2028\n".encode() * 10,
]


@pytest.mark.parametrize("data", HOSTILE)
def test_hostile_proc_net_tcp_does_not_raise(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "tcp").write_bytes(HEADER + tcp_line(7, 4321, 42) + data)
    (tmp_path / "net" / "tcp6").write_bytes(data)
    assert listening_sockets(tmp_path) == {4321: frozenset({42})}
    probe = PortProbe(tmp_path)
    probe.scan()
    assert probe.listening(4321) and not probe.listening(8080)
    if data.strip() and data != HEADER:  # only LISTEN rows are parsed, so only they count
        assert probe.bad_lines > 0  # counted, to be shown, never fatal


def test_missing_proc_net_means_nothing_listens(tmp_path: Path) -> None:
    assert listening_sockets(tmp_path) == {}
    assert PortProbe(tmp_path).listening(80) is False


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)), max_size=30))
def test_listening_parser_never_raises(lines: list[bytes]) -> None:
    table: dict[int, set[int]] = {}
    parse_listening(b"\n".join(lines), table)
    assert all(0 < port < 65536 and inodes for port, inodes in table.items())


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.integers(0, 3))
def test_sock_diag_parser_never_raises(data: bytes, seq: int) -> None:
    parse_diag_dump(data, seq, {})


def test_sock_diag_parser_reads_port_and_inode() -> None:
    msg = bytearray(72)
    msg[0:2] = bytes([socket.AF_INET, 10])
    msg[4:6] = (8080).to_bytes(2, "big")
    msg[68:72] = (4242).to_bytes(4, "little" if sys.byteorder == "little" else "big")
    header = (16 + 72).to_bytes(4, sys.byteorder) + (20).to_bytes(2, sys.byteorder)
    header += (2).to_bytes(2, sys.byteorder) + (1).to_bytes(4, sys.byteorder) + bytes(4)
    done = (16).to_bytes(4, sys.byteorder) + (3).to_bytes(2, sys.byteorder) + bytes(2)
    done += (1).to_bytes(4, sys.byteorder) + bytes(4)
    table: dict[int, set[int]] = {}
    assert parse_diag_dump(bytes(header + msg) + done, 1, table) == (True, 0)
    assert table == {8080: {4242}}


def test_probe_cost_is_one_table_read_per_tick(spawn) -> None:
    """20 agents' ports answered from one scan: the naive way re-reads the table per agent."""
    agents = [listener(spawn) for _ in range(20)]
    reader, probe = ProcessReader(), PortProbe()
    trees = {port: list(reader.tree([p.pid])) for p, port in agents}
    probe.scan()
    assert all(probe.owner_ok(port, tree) for port, tree in trees.items())
    before = probe.readlinks
    t0 = time.perf_counter()
    probe.scan()
    assert all(probe.owner_ok(port, tree) for port, tree in trees.items())
    assert probe.readlinks == before
    cached = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    for _, port in agents[:3]:
        naive_port_lookup(port)
    naive = (time.perf_counter() - t0) / 3 * 20 * 1000
    print(f"\n20 agents' ports: probe {cached:.2f} ms per tick, naive psutil ~{naive:.1f} ms")
