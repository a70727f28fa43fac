"""SPEC §10 through the real supervisor: real tmux, real agents, a real HTTP receiver and a real scrape."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from cockpit.registry import Journal
from cockpit.supervisor import Supervisor, check_once
from tests.conftest import GHOST, SIM, wait_for
from tests.receiver import Receiver


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def notify_toml(url: str, **extra: object) -> str:
    lines = ["", "[notify]", f'urls = ["{url}"]'] + [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


async def run_until(sup: Supervisor, done, *, extra_ticks: int = 3, timeout: float = 30.0) -> None:
    """Tick until ``done(report)``, then a few ticks more; the supervisor is closed after."""
    stop = asyncio.Event()
    left = [extra_ticks]

    def on_report(report) -> None:
        if left[0] < extra_ticks or done(report):
            left[0] -= 1
            if left[0] <= 0:
                stop.set()

    try:
        await asyncio.wait_for(sup.run(stop, on_report=on_report), timeout)
    finally:
        await sup.close()


def exhausted(report) -> bool:
    return any(f.kind == "respawn_exhausted" for f in report.findings)


def test_a_crash_loop_is_one_message_across_a_restart_of_the_cockpit(world, receiver) -> None:
    config = world.write_config([{"name": "ghost", "command": GHOST}],
                                supervisor={"max_restarts": 2}, extra=notify_toml(receiver.url))
    asyncio.run(run_until(Supervisor(config), exhausted))
    told = [[(t["event"], t["kind"]) for t in r["evidence"]["transitions"]]
            for r in Journal(config.state.journal).read_all().rows if r["kind"] == "notify"]
    assert len(receiver.messages) == 1, told
    assert "ghost" in receiver.messages[0]["title"] and receiver.messages[0]["type"] == "failure"
    # a restarted cockpit sees the same fatal agent: told already, the journal says so
    asyncio.run(run_until(Supervisor(config), exhausted))
    assert len(receiver.messages) == 1
    rows = [r for r in Journal(config.state.journal).read_all().rows if r["kind"] == "notify"]
    assert [r["result"] for r in rows] == ["sent"]


def test_a_read_only_cockpit_never_notifies(world, receiver) -> None:
    config = world.write_config([{"name": "ghost", "command": GHOST}],
                                extra=notify_toml(receiver.url, min_severity="warning"))
    seen: list[str] = []

    def critical(report) -> bool:  # no tmux server yet (a read-only cockpit starts none): tmux_unreachable
        seen.extend(f.kind for f in report.findings if f.severity.value == "critical")
        return bool(seen)

    asyncio.run(run_until(Supervisor(config, read_only=True), critical))
    assert seen
    assert receiver.messages == []
    assert not [r for r in Journal(config.state.journal).read_all().rows if r["kind"] == "notify"]


def test_the_supervisor_serves_metrics_and_tokens_of_a_chatting_agent(world, tmp_path: Path) -> None:
    textfile = tmp_path / "cockpit.prom"
    config = world.write_config([{"name": "tabs", "kind": "claude-code", "command": [*SIM, "--chat-every-s", "0.2"]}],
                                extra=f'\n[metrics]\nlisten = "127.0.0.1:0"\ntextfile = "{textfile}"\n')
    scraped: dict[str, str] = {}

    def chatted(report) -> bool:  # until a scrape shows the agent up with tokens (metrics are per tick)
        if sup.metrics.port is None:
            return False
        body = urllib.request.urlopen(f"http://127.0.0.1:{sup.metrics.port}/metrics", timeout=5).read().decode()
        families = {f.name: f for f in text_string_to_metric_families(body)}
        up = [s.value for s in families["cockpit_agent_up"].samples if s.labels.get("agent") == "tabs"]
        out = [s.value for s in families["cockpit_agent_tokens"].samples if s.labels.get("type") == "output"]
        scraped["body"] = body
        return up == [1.0] and bool(out) and out[0] > 0

    sup = Supervisor(config)
    asyncio.run(run_until(sup, chatted, extra_ticks=1))
    for text in (scraped["body"], textfile.read_text()):
        families = {f.name: f for f in text_string_to_metric_families(text)}
        up = {tuple(sorted(s.labels.items())): s.value for s in families["cockpit_agent_up"].samples}
        assert up == {(("agent", "tabs"), ("host", "")): 1.0}
        tokens = {s.labels["type"]: s.value for s in families["cockpit_agent_tokens"].samples
                  if s.labels.get("agent") == "tabs"}
        assert set(tokens) == {"input", "output", "cache_read", "cache_write"} and tokens["output"] > 0


def test_check_json_carries_the_tokens_of_the_current_session(world) -> None:
    config = world.write_config([{"name": "tabs", "kind": "claude-code", "command": [*SIM, "--chat-every-s", "0.1"]}])
    sup = Supervisor(config)
    asyncio.run(run_until(sup, lambda r: r.agents[0].tokens is not None and r.agents[0].tokens.output > 0,
                          extra_ticks=1))
    pane_pid = int(world.tmux("display-message", "-p", "-t", "agents:tabs", "#{pane_pid}").stdout)
    group = os.getpgid(pane_pid)
    os.killpg(group, signal.SIGSTOP)  # freeze the agent and its children: its transcript stops growing
    try:
        report = asyncio.run(check_once(config)).to_json()
        [tabs] = report["agents"]
        transcript = next(Path(world.claude_dir, "projects").glob(f"*/{tabs['disk_session']}.jsonl"))
        by_id: dict[str, dict] = {}
        for line in transcript.read_text().splitlines():
            rec = json.loads(line)
            if rec.get("type") == "assistant" and not rec.get("isSidechain"):
                by_id[rec["message"]["id"]] = rec["message"]["usage"]
        assert tabs["tokens"] == {
            "input": sum(u["input_tokens"] for u in by_id.values()),
            "output": sum(u["output_tokens"] for u in by_id.values()),
            "cache_read": sum(u["cache_read_input_tokens"] for u in by_id.values()),
            "cache_write": sum(u["cache_creation_input_tokens"] for u in by_id.values()),
        }
        assert tabs["tokens"]["output"] > 0
    finally:
        os.killpg(group, signal.SIGCONT)


def test_a_burst_of_findings_in_one_tick_reaches_the_receiver_as_one_digest(world, receiver) -> None:
    world.tmux("new-session", "-d", "-s", "elsewhere")  # a tmux server, without any of the agents
    config = world.write_config([{"name": f"idle{i}", "command": ["sleep", "60"]} for i in range(5)],
                                supervisor={"auto_respawn": False},
                                extra=notify_toml(receiver.url, max_per_minute=2))
    asyncio.run(run_until(Supervisor(config), lambda r: len(r.findings) >= 5, extra_ticks=3))
    assert len(receiver.messages) == 1, [m["title"] for m in receiver.messages]
    digest = receiver.messages[0]
    assert "digest: 5 changes (5 critical)" in digest["title"]
    assert all(f"agent_down idle{i}" in digest["message"] for i in range(5))
