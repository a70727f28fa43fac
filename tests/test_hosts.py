"""Many hosts (SPEC §9) without sshd: the wire's readers, the host judge, and the transport through
a local command in place of ``ssh`` (``sh -c``: the remote shell's half of what ssh does)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.config import ConfigError, HostConfig, parse_config
from cockpit.findings import Severity
from cockpit.judge.hosts import HostView, judge_host, remote_findings, remote_rows, split_name
from cockpit.registry import Journal
from cockpit.remote.protocol import (PROTOCOL, ProtocolError, decode, encode, parse_hello, parse_report,
                                     parse_request)
from cockpit.remote.transport import HostClient, remote_command
from cockpit.supervisor import Supervisor, check_once
from tests.conftest import SIM, wait_for

COCKPIT = str(Path(sys.executable).with_name("cockpit"))

# --- config ------------------------------------------------------------------------------------


def test_hosts_config_defaults_and_errors():
    cfg = parse_config({"hosts": [{"name": "gpu-1"}, {"name": "lab", "ssh": ["ssh", "-p", "2222", "lab.example"],
                                                      "cockpit": ["~/.local/bin/cockpit"], "config": "~/c.toml"}]})
    gpu, lab = cfg.hosts
    assert gpu.ssh_argv == ("ssh", "-T", "-o", "BatchMode=yes", "gpu-1") and gpu.cockpit == ("cockpit",)
    assert gpu.config is None
    assert lab.cockpit == ("~/.local/bin/cockpit",) and lab.config == "~/c.toml"  # remote paths stay unexpanded
    for bad, key in (([{"ssh": ["ssh"]}], "hosts[0].name"), ([{"name": "a/b"}], "hosts[0].name"),
                     ([{"name": "a"}, {"name": "a"}], "hosts[1].name"), ([{"name": "a", "ssh": "ssh a"}], "hosts[0].ssh"),
                     ([{"name": "a", "port": 22}], "hosts[0].port"), ([{"name": "a", "cockpit": []}], "hosts[0].cockpit")):
        with pytest.raises(ConfigError) as err:
            parse_config({"hosts": bad})
        assert err.value.key == key


def test_check_of_an_unknown_host_is_one_config_line_before_anything_is_built(tmp_path):
    state = tmp_path / "state"
    cfg = parse_config({"state": {"dir": str(state)}, "hosts": [{"name": "gpu-1"}]}, tmp_path / "cockpit.toml")
    with pytest.raises(ConfigError) as err:
        asyncio.run(check_once(cfg, host="gpu-2"))
    assert err.value.key == "hosts" and "no host named 'gpu-2' (known: gpu-1)" in str(err.value)
    assert not state.exists()


def test_the_remote_command_is_one_quoted_word_never_a_shell_string_from_data():
    host = HostConfig(name="h", cockpit=("/opt/my cockpit/bin/cockpit",), config="/tmp/a b;rm -rf ~.toml")
    word = remote_command(host, read_only=True)
    assert word == "'/opt/my cockpit/bin/cockpit' serve --stdio --config '/tmp/a b;rm -rf ~.toml' --read-only"


# --- the wire's readers: any bytes in, a value or ProtocolError out ----------------------------------

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                        max_size=4), max_leaves=20)
report_like = st.fixed_dictionaries({"type": st.just("report"), "schema": st.integers(0, 2)}, optional={
    "seq": json_values, "at": json_values, "sent_at": json_values,
    "agents": st.lists(st.fixed_dictionaries({}, optional={
        "name": st.sampled_from(["a", "b", "", "x/y", 3]), "status": st.sampled_from(["idle", "bogus", None]),
        "pid": json_values, "restarts": json_values, "kind": json_values}), max_size=5) | json_values,
    "findings": st.lists(st.fixed_dictionaries({}, optional={
        "kind": st.sampled_from(["agent_down", "new_kind", 1]), "severity": st.sampled_from(["critical", "x"]),
        "summary": json_values, "agent": json_values, "evidence": json_values, "action": json_values}),
        max_size=5) | json_values,
    "wrappers": json_values, "reminders": json_values, "blocks": json_values})


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=200))
def test_decode_takes_any_bytes(raw):
    try:
        assert isinstance(decode(raw), dict)
    except ProtocolError as exc:
        assert "\n" not in str(exc)


@settings(max_examples=80, deadline=None)
@given(report_like)
def test_parse_report_keeps_only_well_typed_rows_and_never_raises_otherwise(msg):
    try:
        report = parse_report(json.loads(encode(msg)))
    except ProtocolError:
        return
    for a in report.agents:
        assert isinstance(a["name"], str) and "/" not in a["name"] and a["status"] == "idle"
        assert not isinstance(a.get("pid"), (str, float, list, dict))
    rows = remote_rows("h", report.agents)  # what the transport does next must not raise either
    findings, unknown = remote_findings("h", report.findings)
    assert all(r.name.startswith("h/") and r.host == "h" for r in rows)
    assert all(f.host == "h" and (f.agent is None or f.agent.startswith("h/")) for f in findings)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(["type", "protocol", "schema", "version", "tick_s", "ops", "id", "op",
                                        "agent"]), json_values, max_size=8))
def test_hello_and_request_readers_never_raise_but_protocol_error(msg):
    for reader in (parse_hello, parse_request):
        try:
            reader(msg)
        except ProtocolError:
            pass


def test_parse_request_keeps_the_commands_arguments():
    req = parse_request({"id": 7, "op": "respawn", "agent": "tabs", "force": True})
    assert (req.id, req.op, dict(req.args)) == (7, "respawn", {"agent": "tabs", "force": True})
    with pytest.raises(ProtocolError, match="unknown op"):
        parse_request({"id": 1, "op": "rm"})
    with pytest.raises(ProtocolError, match="integer id"):
        parse_request({"id": True, "op": "reap"})


# --- the host judge ------------------------------------------------------------------------------


def _view(**kw) -> HostView:
    rows = remote_rows("gpu", [{"name": "tabs", "status": "idle", "pid": 5, "restarts": 0}])
    findings, _ = remote_findings("gpu", [{"kind": "agent_down", "severity": "critical", "summary": "tabs exited",
                                            "agent": "tabs", "evidence": {}, "action": "respawn"}])
    return HostView(name="gpu", rows=rows, findings=findings, last_report_at=1000.0, **kw)


def test_a_reachable_host_passes_its_rows_and_findings_through_renamed():
    rows, findings = judge_host(_view(state="up"), now=1001.0)
    assert [(r.name, r.status, r.host) for r in rows] == [("gpu/tabs", "idle", "gpu")]
    assert [(f.kind, f.agent, f.host) for f in findings] == [("agent_down", "gpu/tabs", "gpu")]
    assert findings[0].to_json()["agent"] == "gpu/tabs" and findings[0].to_json()["host"] == "gpu"


def test_an_unreachable_host_keeps_its_agents_as_unknown_with_the_age_of_their_last_report():
    view = _view(state="down", error="ssh exited with status 255: Connection refused",
                 stderr=("ssh: connect to host gpu port 22: Connection refused",), down_since=1010.0, attempts=3)
    rows, findings = judge_host(view, now=1100.0)
    assert [(r.name, r.status, r.last_seen_at) for r in rows] == [("gpu/tabs", "unknown", 1000.0)]
    assert rows[0].to_json()["last_seen_at"] == "1970-01-01T00:16:40Z"
    (finding,) = findings  # the stale remote findings are not repeated as if current
    assert finding.kind == "host_unreachable" and finding.severity is Severity.CRITICAL and finding.host == "gpu"
    assert "Connection refused" in finding.summary and "last report 1m ago" in finding.summary
    assert finding.evidence["stderr"] == ["ssh: connect to host gpu port 22: Connection refused"]


def test_the_first_connection_is_not_a_fault_until_it_fails():
    assert judge_host(HostView(name="gpu", state="connecting", attempts=1), now=5.0) == ((), [])
    assert judge_host(HostView(name="gpu", state="connecting", attempts=2, down_since=1.0), now=5.0)[1]


def test_split_name():
    assert split_name("gpu-1/tabs") == ("gpu-1", "tabs") and split_name("tabs") == (None, "tabs")


# --- the transport, through a local command in place of ssh ---------------------------------------


def local_host(name: str, remote_config: Path | None, cockpit: list[str] | None = None) -> HostConfig:
    return HostConfig(name=name, ssh=("sh", "-c"), cockpit=tuple(cockpit or [COCKPIT]),
                      config=str(remote_config) if remote_config else None)


def test_a_remote_of_another_protocol_is_a_finding_not_a_crash(tmp_path):
    fake = tmp_path / "old-cockpit"  # prints a hello from the future, then reports nobody can read
    fake.write_text("#!/bin/sh\necho '{\"type\":\"hello\",\"protocol\":99,\"schema\":7,\"version\":\"9.0\"}'\n"
                    "echo 'not json at all'\necho '{\"type\":\"report\",\"schema\":7,\"agents\":[{\"name\":1}]}'\n"
                    "exec sleep 30\n")
    fake.chmod(0o755)

    async def go():
        client = HostClient(local_host("old", None, [str(fake)]), backoff_max_s=0.2)
        client.start()
        try:
            await client.settled(10)
            deadline = time.monotonic() + 5
            while client.bad_lines < 1 and time.monotonic() < deadline:  # the lines after the hello
                await asyncio.sleep(0.05)
            view = client.view()
            return view, judge_host(view, now=time.time()), client.bad_lines
        finally:
            await client.close()

    view, (rows, findings), bad = asyncio.run(go())
    assert view.state == "incompatible" and view.version == "9.0" and rows == ()
    assert findings[0].kind == "host_unreachable" and "protocol 99" in findings[0].summary
    assert f"protocol {PROTOCOL}" in findings[0].summary
    assert bad == 1  # the garbage line, counted


def test_serve_answers_bad_requests_with_one_line_and_keeps_the_session(world):
    config = world.write_config([{"name": "tabs", "command": SIM}], supervisor={"auto_respawn": False})
    proc = subprocess.Popen([COCKPIT, "serve", "--stdio", "--read-only", "--config", str(world.config_path)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        lines = [b"not json\n", b'{"id": 1, "op": "format-disk"}\n', b'{"id": 2, "op": "respawn"}\n',
                 b'{"id": 3, "op": "respawn", "agent": "nobody"}\n', b'{"id": 4, "op": "respawn", "agent": "tabs"}\n',
                 b'{"id": 5, "op": "remind", "agent": "tabs", "verb": "notice", "text": "hi", "in": "1m"}\n']
        out, err = proc.communicate(b"".join(lines), timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    msgs = [json.loads(line) for line in out.splitlines()]
    assert msgs[0]["type"] == "hello" and msgs[0]["protocol"] == PROTOCOL and msgs[0]["read_only"] is True
    results = {m["id"]: m for m in msgs if m["type"] == "result"}
    assert results[None]["ok"] is False and "not JSON" in results[None]["error"]
    assert "unknown op" in results[1]["error"] and "missing argument 'agent'" in results[2]["error"]
    assert "no agent named 'nobody'" in results[3]["error"]
    assert results[4]["ok"] is False and results[4]["refused"] and "read-only" in results[4]["error"]
    assert results[5]["ok"] is False and "read-only" in results[5]["error"]
    assert proc.returncode == 0 and b"Traceback" not in err
    assert not (world.state_dir / "reminders.jsonl").exists() or "hi" not in (world.state_dir / "reminders.jsonl").read_text()


def test_serve_leads_when_no_supervisor_runs_there_and_its_acts_are_journaled_on_both_sides(world, tmp_path):
    remote = world.write_config([{"name": "tabs", "command": SIM}])
    local_state = tmp_path / "local-state"
    local = parse_config({"state": {"dir": str(local_state)}, "supervisor": {"backoff_max_s": 0.2},
                          "hosts": [{"name": "box", "ssh": ["sh", "-c"], "cockpit": [COCKPIT],
                                     "config": str(world.config_path)}]})

    async def go():
        sup = Supervisor(local)
        try:
            await sup.start()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                report = await sup.tick()
                if any(a.name == "box/tabs" and a.pid for a in report.agents):
                    break
                await asyncio.sleep(0.2)
            leader = sup.hosts.client("box").view().leader
            reminded = await sup.remote.act("remind", "box/tabs", {"verb": "notice", "text": "look", "in": "1h"})
            refused = await sup.remote.act("respawn", "box/nobody", {})
            return report, leader, reminded, refused
        finally:
            await sup.close()

    report, leader, reminded, refused = asyncio.run(go())
    row = next(a for a in report.agents if a.name == "box/tabs")
    assert row.host == "box" and row.pid and leader is True  # no `cockpit supervise` there: serve leads
    assert reminded.ok and "look" in (world.state_dir / "reminders.jsonl").read_text()
    assert not refused.ok and "no agent named 'nobody'" in refused.summary
    local_rows = Journal(local_state / "journal.jsonl").read_all().rows
    assert [(r["agent"], r["action"], r["result"]) for r in local_rows if r.get("kind") == "action"] == [
        ("box/tabs", "remind", "ok"), ("box/nobody", "respawn", "failed")]
    remote_rows_ = Journal(world.state_dir / "journal.jsonl").read_all().rows
    assert any(r.get("action") == "remind" and r.get("actor") == "serve" for r in remote_rows_)
    assert remote  # the remote world's config was written


def test_a_read_only_cockpit_refuses_a_remote_act_before_sending_it(tmp_path):
    local = parse_config({"state": {"dir": str(tmp_path / "s")},
                          "hosts": [{"name": "box", "ssh": ["false"]}]})

    async def go():
        sup = Supervisor(local, read_only=True, hosts=False)
        try:
            return await sup.respawn("box/tabs")
        finally:
            await sup.close()

    from cockpit.act.actions import ReadOnlyError

    with pytest.raises((ReadOnlyError, LookupError)):
        asyncio.run(go())


# --- the demo's hosts ------------------------------------------------------------------------------

LOCALSSH = [sys.executable, "-m", "cockpit.remote.localssh", "--host", "lab-2"]


def test_the_local_transport_refuses_in_its_down_window_and_cuts_a_running_session():
    now = time.time()
    refused = subprocess.run([*LOCALSSH, "--down-between", str(now - 1), str(now + 60), "echo hi"],
                             capture_output=True, text=True, timeout=10)
    assert refused.returncode == 255 and refused.stdout == ""
    assert "ssh: connect to host lab-2 port 22: Connection refused" in refused.stderr
    ok = subprocess.run([*LOCALSSH, "-T", "echo 'it runs' $((1+1))"], capture_output=True, text=True, timeout=10)
    assert (ok.returncode, ok.stdout) == (0, "it runs 2\n")  # one word, run by sh -c as sshd would
    t0 = time.monotonic()
    cut = subprocess.run([*LOCALSSH, "--down-between", str(time.time() + 0.5), str(time.time() + 60), "sleep 30"],
                         capture_output=True, text=True, timeout=10)
    assert cut.returncode == 255 and "Connection to lab-2 closed by remote host." in cut.stderr
    assert time.monotonic() - t0 < 5


def test_demo_hosts_run_their_own_supervisors_behind_serve_and_the_main_config_lists_them(tmp_path):
    from cockpit.demo import run_demo
    from cockpit.demo_hosts import DemoHosts
    from cockpit.supervisor import check_once

    seen: dict[str, object] = {}

    def runner(config):
        seen["hosts"] = [h.name for h in config.hosts]
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            report = asyncio.run(check_once(config, host_timeout_s=20))
            rows = [a for a in report.agents if a.host is not None]
            if len(rows) == 6 and all(a.pid for a in rows):
                break
            time.sleep(0.5)
        seen["rows"] = sorted((a.name, a.status != "unknown") for a in rows)
        seen["hosts_ok"] = [(h.name, h.ok) for h in report.hosts]
        return 0

    out = io.StringIO()
    assert run_demo(agents=1, app_runner=runner, out=out, more_hosts=partial(DemoHosts, 2)) == 0
    assert seen["hosts"] == ["lab-1", "lab-2"]
    assert seen["rows"] == [(f"lab-{h}/sim-{i}", True) for h in (1, 2) for i in (1, 2, 3)]
    assert seen["hosts_ok"] == [("lab-1", True), ("lab-2", True)]
    assert "lab-2" in out.getvalue() and "goes away" in out.getvalue()


def test_the_hosts_bench_counts_reports_and_shows_them_as_they_come_not_per_tick(tmp_path):
    from cockpit.remote.bench import _run

    result = asyncio.run(_run(hosts=2, agents=5, every_s=0.3, tick_s=2.0, seconds=1.5, state=str(tmp_path / "s")))
    assert result["rows"] == 10 and result["ssh_sessions"] == 2  # one session per host, all along
    assert result["ticks"] <= 2 < result["reports_out"]  # the reports were shown as they came, not per tick
    assert result["reports_per_s"] > 4 and result["shown_ms_p99"] < 1000  # ~100 ms batching; slack for a loaded CI


async def tick_once_hosts_settled(config, *, read_only: bool = False):
    """One cockpit: started, its hosts given time to answer (or fail), one tick, closed."""
    sup = Supervisor(config, read_only=read_only)
    try:
        await sup.start()
        await sup.hosts.settled(20)
        return await sup.tick()
    finally:
        await sup.close()


def test_a_host_unreachable_after_a_restart_still_shows_its_agents_from_its_last_report(tmp_path):
    sim = [sys.executable, "-m", "cockpit.remote.simhost", "--agents", "3", "--every", "0.2"]
    up = parse_config({"state": {"dir": str(tmp_path / "s")}, "hosts": [{"name": "gpu", "ssh": ["sh", "-c"],
                                                                        "cockpit": sim}]})
    gone = parse_config({"state": {"dir": str(tmp_path / "s")}, "supervisor": {"backoff_max_s": 0.2},
                         "hosts": [{"name": "gpu", "ssh": [*LOCALSSH, "--down-between", "0", "1e12"],
                                    "cockpit": sim}]})

    def run(config, read_only=False):
        return asyncio.run(tick_once_hosts_settled(config, read_only=read_only))

    before = time.time()
    first = run(up)
    after = time.time()
    assert [a.name for a in first.agents] == ["gpu/sim-0000", "gpu/sim-0001", "gpu/sim-0002"]
    memory = tmp_path / "s" / "hosts" / "gpu.json"
    assert memory.stat().st_mode & 0o777 == 0o600
    later = run(gone, read_only=True)  # a cockpit started while the host is down
    assert [(a.name, a.status) for a in later.agents] == [(f"gpu/sim-000{i}", "unknown") for i in range(3)]
    # the agents are shown with the time of the report the first cockpit remembered (reports kept
    # coming after its tick: the memory holds one of them)
    from cockpit.remote.memory import recall

    _, remembered = recall(memory)
    assert before <= remembered <= after
    assert all(a.last_seen_at == remembered for a in later.agents)
    [finding] = [f for f in later.findings if f.kind == "host_unreachable"]
    assert "3 agents kept as unknown" in finding.summary and "Connection refused" in finding.summary
    memory.write_text("[1, 2")  # a memory that cannot be used is only ignored
    assert run(gone, read_only=True).agents == ()


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()))
def test_the_memory_reader_takes_any_file(tmp_path_factory, raw):
    from cockpit.remote.memory import recall

    path = tmp_path_factory.mktemp("memory") / "h.json"
    path.write_bytes(raw)
    found = recall(path)
    assert isinstance(found, str) or (isinstance(found[0], dict) and isinstance(found[1], float))


def test_a_remote_cockpit_that_cannot_start_is_host_unreachable_with_its_own_words(tmp_path):
    config = parse_config({"state": {"dir": str(tmp_path / "s")}, "supervisor": {"backoff_max_s": 0.2},
                           "hosts": [{"name": "box", "ssh": ["sh", "-c"], "cockpit": [COCKPIT],
                                      "config": str(tmp_path / "missing.toml")}]})

    report = asyncio.run(tick_once_hosts_settled(config, read_only=True))
    [finding] = report.findings
    assert finding.kind == "host_unreachable" and "missing.toml" in finding.summary
    assert "no such file" in finding.evidence["error"] and report.exit_code == 2
    assert report.to_json()["hosts"][0]["ok"] is False


def test_attach_to_a_remote_pane_is_ssh_with_a_terminal_running_tmux_there():
    from cockpit.remote.protocol import parse_hello

    client = HostClient(HostConfig(name="gpu-1"))
    assert client.attach_argv("%3") is None  # before its hello, the remote tmux server is not known
    client.hello = parse_hello({"protocol": PROTOCOL, "schema": 1, "version": "x", "tmux": ["-L", "agents"],
                                "session": "agents"})
    argv = client.attach_argv("%3")
    assert argv == ["ssh", "-t", "-o", "BatchMode=yes", "gpu-1",
                    "tmux -L agents select-window -t %3 ';' select-pane -t %3 ';' attach-session -t =agents"]
    assert client.attach_argv("%3; rm -rf ~") is None  # a pane id is %N, nothing else reaches a command line
    client.hello = parse_hello({"protocol": PROTOCOL, "schema": 1, "tmux": ["-X", "evil"]})
    assert client.attach_argv("%3") is None
