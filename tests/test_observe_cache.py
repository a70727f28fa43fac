"""The observe step's caches never hide a change: each input that moved is seen on the next observation.

Real tmux on a private server, real processes: an agent that forks a child, kills it, opens a port,
and a pane respawned with a new process. An unchanged agent keeps its very objects (the later steps
compare by identity); a changed one is observed anew at once.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest

from cockpit.config import AgentConfig, Config, TmuxConfig
from cockpit.observe.procs import ProcessReader
from cockpit.observe.snapshot import Observer, Snapshot
from cockpit.tmux import TmuxClient

SESSION = "cache"
# An agent driven by lines typed into its pane: fork a child, kill it, listen on a port.
AGENT = (
    "import os, signal, socket, subprocess, sys\n"
    "child, sock = None, None\n"
    "for line in sys.stdin:\n"
    "    word, _, arg = line.strip().partition(' ')\n"
    "    if word == 'fork':\n"
    "        child = subprocess.Popen(['sleep', '7321'])\n"
    "    elif word == 'kill' and child is not None:\n"
    "        child.kill(); child.wait(); child = None\n"
    "    elif word == 'listen':\n"
    "        sock = socket.socket(); sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "        sock.bind(('127.0.0.1', int(arg))); sock.listen()\n"
    "    elif word == 'close' and sock is not None:\n"
    "        sock.close(); sock = None\n"
    "    print('ok', word, flush=True)\n"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Rig:
    def __init__(self, socket_name: str, port: int) -> None:
        self.tmux = TmuxClient(("-L", socket_name))
        self.agent = AgentConfig(name="a1", command=(sys.executable, "-c", AGENT), port=port, cwd=Path("/"))
        self.config = Config(tmux=TmuxConfig(socket=socket_name, session=SESSION), agents=(self.agent,))
        self.reader = ProcessReader(hold=True)
        self.observer = Observer(self.config, self.tmux, reader=self.reader)
        self.pane = ""

    async def start(self) -> None:
        await self.tmux.connect(start_server=True)
        await self.tmux.run("new-session", "-d", "-s", SESSION, "-n", "idle", "sleep", "2147483647")
        (line,) = await self.tmux.run("new-window", "-d", "-P", "-F", "#{pane_id}", "-t", f"={SESSION}:",
                                      "-n", "a1", "--", *self.agent.command)
        self.pane = line.strip()
        await self.tmux.run("set-option", "-p", "-t", self.pane, "@cockpit_agent", "a1")

    async def type(self, text: str) -> None:
        await self.tmux.run("send-keys", "-t", self.pane, "-l", text)
        await self.tmux.run("send-keys", "-t", self.pane, "Enter")

    async def until(self, check: Callable[[Snapshot], bool], what: str, timeout: float = 10.0) -> Snapshot:
        deadline = time.monotonic() + timeout
        while True:
            snap = await self.observer.observe()
            if check(snap):
                return snap
            assert time.monotonic() < deadline, f"never observed: {what}"
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        self.reader.close()
        await self.tmux.kill_server()


def run(socket_name: str, body: Callable[[Rig], Awaitable[Any]]) -> None:
    async def main() -> None:
        rig = Rig(socket_name, free_port())
        try:
            await rig.start()
            await body(rig)
        finally:
            await rig.close()
    asyncio.run(main())


def commands(snap: Snapshot) -> list[str]:
    return [p.command for p in snap.agents["a1"].tree]


def test_an_unchanged_agent_keeps_its_observation_and_a_new_child_is_seen_at_once(tmux_socket: str) -> None:
    async def body(rig: Rig) -> None:
        first = await rig.until(lambda s: s.agents["a1"].proc is not None and
                                time.monotonic() > 0 and len(s.agents["a1"].tree) == 1, "the agent alone")
        await asyncio.sleep(0.6)  # past the young-process window: its command line is settled
        settled = await rig.observer.observe()
        again = await rig.observer.observe()
        assert again.agents["a1"] is settled.agents["a1"] and again.procs is settled.procs
        assert first.agents["a1"].proc.pid == again.agents["a1"].proc.pid
        await rig.type("fork")
        forked = await rig.until(lambda s: "sleep 7321" in commands(s), "the forked child")
        assert forked.agents["a1"] is not again.agents["a1"]
        await rig.type("kill")
        await rig.until(lambda s: "sleep 7321" not in commands(s) and len(s.agents["a1"].tree) == 1,
                        "the killed child gone")
    run(tmux_socket, body)


def test_a_port_opened_by_an_unchanged_process_is_seen_on_the_next_observation(tmux_socket: str) -> None:
    async def body(rig: Rig) -> None:
        port = rig.agent.port
        before = await rig.until(lambda s: s.agents["a1"].proc is not None, "the agent")
        assert before.agents["a1"].port is not None and not before.agents["a1"].port.listening
        again = await rig.observer.observe()
        assert again.agents["a1"].port == before.agents["a1"].port
        await rig.type(f"listen {port}")
        after = await rig.until(lambda s: s.agents["a1"].port.listening, "the port listening")
        assert after.agents["a1"].port.ok, "the agent's own process holds it"
        assert after.agents["a1"].proc.pid == before.agents["a1"].proc.pid
    run(tmux_socket, body)


def test_a_respawned_pane_is_observed_with_its_new_process(tmux_socket: str) -> None:
    async def body(rig: Rig) -> None:
        old = await rig.until(lambda s: s.agents["a1"].proc is not None, "the agent")
        old_pid = old.agents["a1"].proc.pid
        await rig.observer.observe()
        await rig.tmux.run("respawn-pane", "-k", "-t", rig.pane, "sleep", "7322")
        new = await rig.until(lambda s: s.agents["a1"].proc is not None and s.agents["a1"].proc.pid != old_pid,
                              "the new process")
        assert new.agents["a1"] is not old.agents["a1"]
        await rig.until(lambda s: commands(s) == ["sleep 7322"], "the new process's command line")
    run(tmux_socket, body)


def test_a_held_reader_sees_a_killed_root_and_its_reused_pid_is_not_the_old_process(spawn_child) -> None:
    root = spawn_child(["sleep", "7323"])
    reader = ProcessReader(hold=True)
    time.sleep(0.6)  # exec'd and past the young-process window
    try:
        table = reader.tree([root.pid])
        assert [p.command for p in table] == ["sleep 7323"]
        assert reader.tree([root.pid]) is table  # nothing moved: the same table
        start = table.get(root.pid).start
        root.kill()
        root.wait()
        after = reader.tree([root.pid])
        assert root.pid not in after or after.get(root.pid).start != start
    finally:
        reader.close()
    assert reader._held == {} and reader._held_fds == 0


def test_a_held_reader_stays_within_its_descriptor_budget(spawn_child) -> None:
    roots = [spawn_child(["sleep", "7324"]).pid for _ in range(6)]
    reader = ProcessReader(hold=True)
    reader._fd_budget = 5  # fewer than the fleet needs: the rest is read by path, the tree stays whole
    try:
        for _ in range(3):
            table = reader.tree(roots)
            assert sorted(p.pid for p in table) == sorted(roots)
            assert reader._held_fds <= 5
    finally:
        reader.close()


@pytest.fixture
def spawn_child():
    import subprocess

    started: list[subprocess.Popen] = []

    def _spawn(argv: list[str]) -> subprocess.Popen:
        p = subprocess.Popen(argv)
        started.append(p)
        return p

    yield _spawn
    for p in started:
        if p.poll() is None:
            p.kill()
            p.wait()


async def agent_window(client: TmuxClient, script: Path) -> str:
    """A fresh server with the agent ``a1`` (``script``) in its tagged window; its pane id."""
    await client.connect(start_server=True)
    await client.run("new-session", "-d", "-s", "agents", "-n", "idle", "sleep", "600")
    (pane,) = await client.run("new-window", "-d", "-P", "-F", "#{pane_id}", "-t", "=agents:", "-n", "a1",
                               "--", sys.executable, str(script))
    await client.run("set-option", "-p", "-t", pane.strip(), "@cockpit_agent", "a1")
    return pane.strip()


def test_a_whole_tick_sees_a_port_opened_then_closed_by_the_same_process(world) -> None:
    """The supervisor's tick, caches and all: the verdict follows the listener both ways at once."""
    from cockpit.supervisor import Supervisor

    port = free_port()
    script = world.work / "agent.py"
    script.write_text(AGENT)
    config = world.write_config([{"name": "a1", "command": [sys.executable, str(script)], "port": port}],
                                supervisor={"auto_respawn": False, "auto_reap": False})

    async def go() -> list[tuple[bool | None, list[str]]]:
        sup = Supervisor(config)
        client = TmuxClient(("-L", world.socket))
        seen: list[tuple[bool | None, list[str]]] = []
        try:
            pane = await agent_window(client, script)

            async def tick_until(listening: bool) -> None:
                deadline = time.monotonic() + 10
                while True:
                    report = await sup.tick()
                    row = report.agents[0]
                    seen.append((row.port_listening, sorted(f.kind for f in report.findings if f.agent == "a1")))
                    if row.pid is not None and row.port_listening is listening:
                        return
                    assert time.monotonic() < deadline, f"the tick never saw listening={listening}: {seen[-3:]}"
                    await asyncio.sleep(0.05)

            await tick_until(False)
            await sup.tick()  # a second unchanged tick: everything from the caches
            for line, listening in ((f"listen {port}", True), ("close", False)):
                await client.run("send-keys", "-t", pane, "-l", line)
                await client.run("send-keys", "-t", pane, "Enter")
                await tick_until(listening)
                seen.append(("after", sorted(f.kind for f in (await sup.tick()).findings if f.agent == "a1")))
            return seen
        finally:
            await sup.close()
            await client.kill_server()

    seen = asyncio.run(go())
    after = [kinds for flag, kinds in seen if flag == "after"]
    assert after == [[], ["port_not_listening"]]


def test_the_descriptor_limit_is_raised_toward_the_hard_one_and_never_lowered() -> None:
    import resource

    from cockpit.observe.procs import raise_fd_limit

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        low = min(soft, 512)
        resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))
        want = min(4096, hard) if hard != resource.RLIM_INFINITY else 4096
        assert raise_fd_limit(want) == want
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == want
        assert raise_fd_limit(low) == want  # never lowered
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_portless_fleet_keeps_its_observations_until_a_child_or_a_new_process_moves(tmux_socket: str,
                                                                                     tmp_path: Path) -> None:
    """With no port to probe, an unchanged read hands back the very same observations; a child forked
    silently (the pane unchanged), its end and a respawned pane after such idle reads are each seen on
    the next observation."""
    flag = tmp_path / "fork"
    silent = ("import os, subprocess, time\n"
              f"flag, child = {str(flag)!r}, None\n"
              "while True:\n"
              "    time.sleep(0.02)\n"
              "    if os.path.exists(flag) and child is None:\n"
              "        child = subprocess.Popen(['sleep', '7321'])\n"
              "    elif not os.path.exists(flag) and child is not None:\n"
              "        child.kill(); child.wait(); child = None\n")

    async def body(rig: Rig) -> None:
        await rig.tmux.run("respawn-pane", "-k", "-t", rig.pane, sys.executable, "-c", silent)
        rig.agent = AgentConfig(name="a1", command=(sys.executable, "-c", silent), cwd=Path("/"))
        rig.observer.config = rig.config = Config(tmux=rig.config.tmux, agents=(rig.agent,))
        first = await rig.until(lambda s: s.agents["a1"].proc is not None and len(s.agents["a1"].tree) == 1,
                                "the agent")
        await asyncio.sleep(0.6)  # past the young-process window: its command line is settled
        settled = await rig.observer.observe()
        for _ in range(3):
            idle = await rig.observer.observe()
            assert idle.agents is settled.agents and idle.procs is settled.procs
        flag.touch()
        forked = await rig.until(lambda s: "sleep 7321" in commands(s), "the silently forked child", timeout=5)
        assert forked.panes == settled.panes, "the pane did not move: only the process table did"
        assert forked.agents is not settled.agents and forked.agents["a1"] is not settled.agents["a1"]
        await rig.observer.observe()
        flag.unlink()
        await rig.until(lambda s: len(s.agents["a1"].tree) == 1, "the killed child gone", timeout=5)
        old_pid = first.agents["a1"].proc.pid
        await rig.tmux.run("respawn-pane", "-k", "-t", rig.pane, "sleep", "7323")
        await rig.until(lambda s: s.agents["a1"].proc is not None and s.agents["a1"].proc.pid != old_pid
                        and commands(s) == ["sleep 7323"], "the respawned pane's process", timeout=5)
    run(tmux_socket, body)


def test_an_idle_agent_settled_by_many_ticks_is_working_on_the_tick_after_its_pane_moves(world) -> None:
    """The sessions step skips the activity update of a settled idle agent; its pane's next change
    (typed text echoed) still makes it working on the next tick, and it settles idle again after."""
    from cockpit.supervisor import Supervisor

    script = world.work / "agent.py"
    script.write_text(AGENT)
    config = world.write_config([{"name": "a1", "command": [sys.executable, str(script)]}],
                                supervisor={"auto_respawn": False, "auto_reap": False})

    async def go() -> list[str]:
        sup = Supervisor(config)
        client = TmuxClient(("-L", world.socket))
        try:
            pane = await agent_window(client, script)
            seen: list[str] = []
            for _ in range(4):  # the first tick sees its first mark; the rest find it quiet
                seen.append((await sup.tick()).agents[0].status)
            assert sup.sessions.activity.settled("a1")
            await client.run("send-keys", "-t", pane, "-l", "fork")
            await client.run("send-keys", "-t", pane, "Enter")
            deadline = time.monotonic() + 5
            while "ok fork" not in "\n".join(await client.run("capture-pane", "-p", "-t", pane)):
                assert time.monotonic() < deadline, "the agent never echoed"
                await asyncio.sleep(0.05)
            seen.append((await sup.tick()).agents[0].status)
            return seen
        finally:
            await sup.close()
            await client.kill_server()

    seen = asyncio.run(go())
    assert seen[1:4] == ["idle", "idle", "idle"] and seen[-1] == "working", seen
