"""Many hosts through a real OpenSSH server on 127.0.0.1 (SPEC §9).

Two "hosts" (two sshd on free ports, named in a temp ssh_config as an operator's ~/.ssh/config
would), each with its own world (tmux socket, state dir, agents) run by its own
``cockpit supervise``; this cockpit reaches each through one ``ssh`` process running
``cockpit serve --stdio`` there. Everything runs as processes the tests own and kill.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cockpit.config import load_config
from cockpit.registry import Journal, Registry
from cockpit.supervisor import Supervisor
from tests.conftest import SIM, _toml, kill_tmux, wait_for
from tests.sshd import SshLab, ssh_processes

COCKPIT = str(Path(sys.executable).with_name("cockpit"))
HOSTS = ("alpha", "beta")


def remote_world(root: Path, socket: str, agents: list[str]) -> Path:
    for d in ("state", "claude", "work"):
        (root / d).mkdir(parents=True)
    lines = ["[tmux]", f"socket = {_toml(socket)}", "", "[state]", f"dir = {_toml(root / 'state')}", "",
             "[claude]", f"config_dir = {_toml(root / 'claude')}", "",
             "[supervisor]", "tick_s = 0.5", "spawn_verify_s = 2.0", "min_uptime_s = 0.3", ""]
    for name in agents:
        lines += ["[[agents]]", f"name = {_toml(name)}", f"command = {_toml(SIM)}", f"cwd = {_toml(root / 'work')}", ""]
    path = root / "cockpit.toml"
    path.write_text("\n".join(lines))
    return path


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("hosts")
    env = {"HOME": str(base / "remote-home"), "CLAUDE_CONFIG_DIR": str(base / "remote-home" / ".claude"),
           "CODEX_HOME": str(base / "remote-home" / ".codex"), "XDG_CONFIG_HOME": str(base / "remote-home" / ".config"),
           "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    lab = SshLab(base / "ssh", env)
    sockets = {h: f"cockpit-test-{secrets.token_hex(4)}" for h in HOSTS}
    supervisors: list[subprocess.Popen[bytes]] = []
    try:
        remote_configs = {}
        for host in HOSTS:
            lab.add_host(host)
            remote_configs[host] = remote_world(base / host, sockets[host], [f"{host[0]}1", f"{host[0]}2"])
            supervisors.append(subprocess.Popen([COCKPIT, "supervise", "--config", str(remote_configs[host])],
                                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                                stderr=open(base / f"{host}-supervise.log", "wb")))
        local = base / "local"
        (local / "state").mkdir(parents=True)
        lines = ["[tmux]", f'socket = "cockpit-test-{secrets.token_hex(4)}"', "", "[state]",
                 f"dir = {_toml(local / 'state')}", "", "[supervisor]", "tick_s = 0.2", "backoff_max_s = 0.5", ""]
        for host in HOSTS:
            lines += ["[[hosts]]", f"name = {_toml(host)}", f"ssh = {_toml(lab.ssh_argv(host))}",
                      f"cockpit = {_toml([COCKPIT])}", f"config = {_toml(remote_configs[host])}", ""]
        (local / "cockpit.toml").write_text("\n".join(lines))
        for host in HOSTS:  # each host's own supervisor has verified its agents
            registry = Registry(base / host / "state" / "registry.jsonl")
            wait_for(lambda: len({r["agent"] for r in registry.read_all().rows if r["event"] == "spawned"}) == 2,
                     timeout=30, what=f"{host}'s agents spawned")
        yield {"base": base, "lab": lab, "local": local / "cockpit.toml", "remote": remote_configs, "sockets": sockets}
    finally:
        lab.close()
        for proc in supervisors:
            proc.terminate()
        for proc in supervisors:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        for socket in sockets.values():
            kill_tmux(socket)


async def ticks_until(sup: Supervisor, predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    report = None
    while time.monotonic() < deadline:
        report = await sup.tick()
        if predicate(report):
            return report
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out; last report: {report and report.to_json()}")


def live(report, host):
    return [a for a in report.agents if a.host == host and a.status in ("running", "idle", "working")]


def test_check_json_covers_both_hosts_through_sshd(fleet):
    out = subprocess.run([COCKPIT, "check", "--json", "--config", str(fleet["local"])], capture_output=True,
                         text=True, timeout=60)
    doc = json.loads(out.stdout)
    assert out.returncode == 0, (out.stderr, doc["findings"])
    names = {a["name"]: a for a in doc["agents"]}
    assert set(names) == {"alpha/a1", "alpha/a2", "beta/b1", "beta/b2"}
    assert {a["host"] for a in doc["agents"]} == {"alpha", "beta"}
    assert all(isinstance(a["pid"], int) for a in doc["agents"])
    assert [(h["name"], h["ok"], h["error"]) for h in doc["hosts"]] == [("alpha", True, None), ("beta", True, None)]
    assert all(h["version"] and h["last_report_at"] for h in doc["hosts"])

    narrowed = subprocess.run([COCKPIT, "check", "--json", "--host", "beta", "--config", str(fleet["local"])],
                              capture_output=True, text=True, timeout=60)
    doc = json.loads(narrowed.stdout)
    assert {a["name"] for a in doc["agents"]} == {"beta/b1", "beta/b2"}
    assert [h["name"] for h in doc["hosts"]] == ["beta"]


def test_the_tui_shows_both_hosts_and_R_respawns_a_remote_agent_verified_there(fleet):
    from cockpit.tui import TuiSettings, create_app
    from cockpit.tui.screens import ConfirmRemote
    from cockpit.tui.tabs.agents import AgentTable
    from tests.test_tui_pilot import record_notifications, until

    config = load_config(fleet["local"])
    registry = Registry(fleet["base"] / "beta" / "state" / "registry.jsonl")
    before = len([r for r in registry.read_all().rows if r["event"] == "spawned" and r["agent"] == "b1"])

    async def go():
        app = create_app(TuiSettings(config))
        notes = record_notifications(app)
        async with app.run_test(size=(140, 40)) as pilot:
            table = app.query_one(AgentTable)
            want = {"alpha/a1", "alpha/a2", "beta/b1", "beta/b2"}
            await until(pilot, lambda: want <= set(table._shown), "both hosts' agents on screen", 30)
            columns = [key for key, _ in table.COLUMNS]
            hosts_cells = {str(table.get_row(n)[1]) for n in want}
            header = str(app.query_one("#fleet-header").render())
            app._filter = "host:beta"
            app._show_agents()
            await pilot.pause(0.1)
            narrowed = set(table._shown)
            app._filter = ""
            app._show_agents()
            app.select_agent("beta/b1")
            await pilot.pause(0.1)
            await pilot.press("R")
            await until(pilot, lambda: isinstance(app.screen, ConfirmRemote), "the remote confirm")
            dialog = app.screen
            await pilot.press("y")
            await until(pilot, lambda: any(n["title"].startswith("respawn beta/b1") for n in notes), "the result", 30)
            await pilot.press("q")
        return columns, hosts_cells, header, narrowed, dialog, notes

    columns, hosts_cells, header, narrowed, dialog, notes = asyncio.run(go())
    assert columns[:2] == ["name", "host"] and hosts_cells == {"alpha", "beta"}
    assert "hosts 2/2" in header and "4/4 up" in header
    assert narrowed == {"beta/b1", "beta/b2"}
    assert (dialog.agent, dialog.host, dialog.verb) == ("beta/b1", "beta", "respawn")
    [note] = [n for n in notes if n["title"].startswith("respawn beta/b1")]
    assert note["title"] == "respawn beta/b1: verified", note
    spawned = [r for r in registry.read_all().rows if r["event"] == "spawned" and r["agent"] == "b1"]
    assert len(spawned) == before + 1 and spawned[-1]["by"] == "operator"


def test_one_ssh_process_per_host_through_100_ticks(fleet):
    config = load_config(fleet["local"])

    async def go():
        sup = Supervisor(config, read_only=True)
        counts = {h: set() for h in HOSTS}
        try:
            await sup.start()
            await ticks_until(sup, lambda r: all(live(r, h) for h in HOSTS))
            for _ in range(100):
                await sup.tick()
                for host in HOSTS:
                    counts[host].add(len(ssh_processes(host)))
                await asyncio.sleep(0)  # the sessions' reports keep arriving between ticks
            return counts, {h: c.sessions for h, c in sup.hosts.clients.items()}
        finally:
            await sup.close()

    counts, sessions = asyncio.run(go())
    assert counts == {"alpha": {1}, "beta": {1}}
    assert sessions == {"alpha": 1, "beta": 1}
    assert all(not ssh_processes(h) for h in HOSTS)  # closing ends every session


def test_respawn_of_a_remote_agent_is_verified_on_the_remotes_registry(fleet):
    config = load_config(fleet["local"])
    remote_registry = Registry(fleet["base"] / "alpha" / "state" / "registry.jsonl")

    async def go():
        sup = Supervisor(config)
        try:
            await sup.start()
            before = await ticks_until(sup, lambda r: live(r, "alpha"))
            old_pid = next(a.pid for a in before.agents if a.name == "alpha/a1")
            result = await sup.respawn("alpha/a1", force=True)
            after = await ticks_until(sup, lambda r: any(a.name == "alpha/a1" and a.pid not in (None, old_pid)
                                                         and a.status != "unknown" for a in r.agents))
            return old_pid, result, after
        finally:
            await sup.close()

    old_pid, result, after = asyncio.run(go())
    assert result.ok, result.summary
    new_pid = result.result["spawn"]["pid"]
    spawned = [r for r in remote_registry.read_all().rows if r["event"] == "spawned" and r["agent"] == "a1"]
    assert spawned[-1]["pid"] == new_pid != old_pid and spawned[-1]["by"] == "operator"
    assert next(a.pid for a in after.agents if a.name == "alpha/a1") == new_pid
    local_rows = Journal(fleet["local"].parent / "state" / "journal.jsonl").read_all().rows
    assert any(r.get("agent") == "alpha/a1" and r.get("action") == "respawn" and r.get("result") == "ok"
               for r in local_rows)
    remote_rows = Journal(fleet["base"] / "alpha" / "state" / "journal.jsonl").read_all().rows
    assert any(r.get("agent") == "a1" and r.get("actor") == "serve" for r in remote_rows)


def test_sshd_killed_is_host_unreachable_with_agents_kept_then_recovered(fleet):
    config = load_config(fleet["local"])
    alpha = fleet["lab"].servers["alpha"]

    async def go():
        sup = Supervisor(config, read_only=True)
        try:
            await sup.start()
            await ticks_until(sup, lambda r: len(live(r, "alpha")) == 2 and live(r, "beta"))
            alpha.kill()
            down = await ticks_until(sup, lambda r: any(f.kind == "host_unreachable" for f in r.findings))
            alpha.start()
            back = await ticks_until(sup, lambda r: len(live(r, "alpha")) == 2
                                     and not any(f.kind == "host_unreachable" for f in r.findings), timeout=30)
            return down, back
        finally:
            await sup.close()

    down, back = asyncio.run(go())
    finding = next(f for f in down.findings if f.kind == "host_unreachable")
    assert finding.severity.value == "critical" and finding.host == "alpha"
    assert finding.evidence["stderr"] or finding.evidence["error"]
    kept = {a.name: a for a in down.agents if a.host == "alpha"}
    assert set(kept) == {"alpha/a1", "alpha/a2"}
    assert all(a.status == "unknown" and a.last_seen_at is not None for a in kept.values())
    assert all(a.to_json()["last_seen_at"] for a in kept.values())
    assert live(down, "beta")  # the other host is untouched
    assert any(f.kind == "host_unreachable" for f in back.resolved) or not any(
        f.kind == "host_unreachable" for f in back.findings)
    assert {h.name: h.ok for h in back.hosts} == {"alpha": True, "beta": True}
