"""Seed #6 against a private tmux server and simulated agents: a wake counts only when the agent shows it.

Each test drives a real Supervisor (:class:`Cockpit`): its plan decides which reminders are due, its
reminder pass fires and verifies them.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path


from cockpit.act.deliver import ReminderPass, WakeTarget, WakeWatch, typed_text, text_matches
from cockpit.judge.agents import LIVE_STATUSES
from cockpit.registry import Journal, Registry
from cockpit.reminders import ReminderQueue
from cockpit.supervisor import Supervisor
from tests.conftest import SIM

APPEND_STDIN = "import sys; open(sys.argv[1], 'a').write(sys.stdin.read().replace(chr(10), ' ') + chr(10))"


class Cockpit:
    """A Supervisor and its reminder pass (the plan decides what is due; the pass fires and verifies)."""

    def __init__(self, config, **kwargs) -> None:
        self.sup = Supervisor(config, **kwargs)
        self.rpass: ReminderPass = self.sup.reminders
        self.queue = self.rpass.queue
        self.toasts: list = []  # notices the TUI would toast

    async def tick(self):
        report = await self.sup.tick()
        self.toasts += report.notices
        return report

    async def tick_until(self, predicate, timeout: float = 20.0, what: str = "condition"):
        deadline = time.monotonic() + timeout
        while True:
            report = await self.tick()
            value = predicate(report)
            if value:
                return value
            if time.monotonic() > deadline:
                states = {r.id: (r.state, r.why, r.attempts) for r in await asyncio.to_thread(self.queue.reminders)}
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; reminders {states}; "
                                     f"agents {[a.to_json() for a in report.agents]}")
            await asyncio.sleep(self.sup.config.supervisor.tick_s)

    async def ready(self, name: str, timeout: float = 20.0):
        """The agent runs, verified, and its live-session file says idle."""
        def ok(report):
            truth = self.sup.sessions.truth(name)
            agent = next(a for a in report.agents if a.name == name)
            return (agent.status in LIVE_STATUSES and not self.sup.actions.in_flight and not self.sup.spawning
                    and truth is not None and truth.status == "idle" and agent)
        return await self.tick_until(ok, timeout, f"{name} running and idle")

    def reminder(self, rid: str):
        return self.queue.get(rid)

    async def until_done(self, rid: str, timeout: float = 20.0):
        return await self.tick_until(lambda _r: (r := self.queue.get(rid)).done and r, timeout, f"reminder {rid} done")

    async def close(self) -> None:
        await self.sup.close()


def sim_agent(name: str = "tabs", *extra: str, **fields) -> dict:
    return {"name": name, "kind": "claude-code", "command": [*SIM, *extra], **fields}


def prompts(claude_dir: Path) -> list[str]:
    """Every typed prompt in every transcript under the config dir, in file order."""
    out: list[str] = []
    for path in sorted(claude_dir.glob("projects/*/*.jsonl")):
        for raw in path.read_bytes().splitlines():
            try:
                rec = json.loads(raw)
            except ValueError:
                continue
            if rec.get("type") == "user" and isinstance(rec.get("message", {}).get("content"), str):
                out.append(rec["message"]["content"])
    return out


def events(world, event: str | None = None) -> list[dict]:
    rows = ReminderQueue(world.state_dir / "reminders.jsonl").store.read_all().rows
    return [r for r in rows if event is None or r.get("event") == event]


def journal(world) -> list[dict]:
    return Journal(world.state_dir / "journal.jsonl").read_all().rows


# --- pure ---------------------------------------------------------------------------------------


def test_typed_text_is_one_line_and_never_a_mode_switch():
    assert typed_text("plain text") == "plain text"
    assert typed_text("line one\nline two\r\n\tthree") == "line one line two three"
    assert typed_text("esc\x1b[31m red\x7f") == "esc [31m red"
    assert typed_text("  padded  ") == "padded"
    # Claude Code: a leading "!" is bash mode (it RAN the command), "/" a slash command
    assert typed_text("!touch /tmp/x") == " !touch /tmp/x"
    assert typed_text("\n/clear everything") == " /clear everything"
    assert typed_text("say it's \"$(date)\"; `id`") == "say it's \"$(date)\"; `id`"
    assert text_matches("prefix " + typed_text("!do  it") + " suffix", typed_text("!do  it"))
    assert text_matches("do\nit", "do it") and not text_matches("done", "do it")


# --- against simulated agents ----------------------------------------------------------------


def test_a_wake_is_typed_and_verified_through_the_transcript(world):
    config = world.write_config([sim_agent()], supervisor={"wake_verify_s": 10.0})

    async def go():
        cp = Cockpit(config)
        try:
            await cp.ready("tabs")
            r = await asyncio.to_thread(cp.queue.add, "tabs", "wake", "check the nightly build", time.time())
            done = await cp.until_done(r.id)
            assert cp.sup.invocations.get("reminders", 0) >= 1  # seed #10: the tick's act really starts the pass
            return done, cp.rpass.invocations
        finally:
            await cp.close()

    done, invoked = asyncio.run(go())
    assert done.state == "delivered" and done.via == "transcript" and done.attempts == 1
    assert done.latency_s is not None and 0.0 <= done.latency_s < 10.0
    assert done.evidence["record"]["text"] == "check the nightly build"
    assert done.evidence["typed"] == "check the nightly build" and done.pane.startswith("%")
    assert prompts(world.claude_dir) == ["check the nightly build"]  # typed once, one turn
    [row] = [j for j in journal(world) if j.get("action") == "wake"]
    assert row["result"] == "verified" and row["agent"] == "tabs"
    assert [e["event"] for e in events(world)] == ["scheduled", "fired", "delivered"]
    assert invoked.get("wake") == 1  # seed #10: the wake path really ran


def test_a_wake_to_an_agent_that_ignores_input_is_missed_after_retries_and_alerted_once(world):
    alerts = world.root / "alerts.jsonl"
    config = world.write_config(
        [sim_agent("deaf", "--ignore-input")],
        supervisor={"wake_verify_s": 1.0, "wake_retries": 2, "backoff_max_s": 0.2,
                    "alert_command": [sys.executable, "-c", APPEND_STDIN, str(alerts)]})

    async def go():
        cp = Cockpit(config)
        lags: list[float] = []
        stop = asyncio.Event()

        async def heartbeat():  # seed #7: verification must never block the loop
            while not stop.is_set():
                t0 = time.perf_counter()
                await asyncio.sleep(0.02)
                lags.append(time.perf_counter() - t0 - 0.02)

        beat = asyncio.create_task(heartbeat())
        try:
            await cp.ready("deaf")
            r = await asyncio.to_thread(cp.queue.add, "deaf", "wake", "wake up, deaf one", time.time())
            done = await cp.until_done(r.id, timeout=30)
            await cp.rpass.idle(timeout=30)  # the last attempt's journal row and alert
            for _ in range(5):  # later ticks never alert again
                await cp.tick()
            return done, max(lags)
        finally:
            stop.set()
            await beat
            await cp.close()

    done, max_lag = asyncio.run(go())
    assert done.state == "missed" and done.attempts == 3
    ev = done.evidence
    assert ev["typed"] == "wake up, deaf one" and ev["pane"].startswith("%")
    assert ev["status_before"] == "idle" and ev["status_after"] == "idle" and ev["record"] is None
    assert ev["live_file"] and ev["new_prompts"] == []
    assert [e["attempt"] for e in events(world, "fired")] == [1, 2, 3]
    assert [e["attempt"] for e in events(world, "retried")] == [2, 3]
    [alert] = [json.loads(line) for line in alerts.read_text().splitlines()]
    assert alert["kind"] == "missed_wake" and alert["severity"] == "critical" and alert["agent"] == "deaf"
    assert alert["evidence"]["typed"] == "wake up, deaf one" and alert["evidence"]["attempts"] == 3
    missed = [j for j in journal(world) if j.get("action") == "wake"]
    assert [j["result"] for j in missed] == ["missed"] * 3
    assert len([j for j in journal(world) if j["kind"] == "alert"]) == 1
    assert prompts(world.claude_dir) == []  # the agent really never took a turn
    assert max_lag < 0.5, f"the loop stalled {max_lag:.3f}s during verification"


def test_a_notice_never_touches_any_pane_and_runs_notice_command(world):
    notices = world.root / "notices.jsonl"
    config = world.write_config(
        [sim_agent("tabs", "first turn")],
        supervisor={"notice_command": [sys.executable, "-c", APPEND_STDIN, str(notices)]})

    async def go():
        cp = Cockpit(config)
        try:
            await cp.tick_until(lambda _r: prompts(world.claude_dir) == ["first turn"]
                                and cp.sup.sessions.truth("tabs") and cp.sup.sessions.truth("tabs").status == "idle",
                                what="the first turn")
            transcript = next(world.claude_dir.glob("projects/*/*.jsonl"))
            panes = world.tmux("list-panes", "-a", "-F", "#{pane_id}").stdout.split()
            screens = {p: world.tmux("capture-pane", "-p", "-t", p).stdout for p in panes}
            before = transcript.read_bytes()
            r = await asyncio.to_thread(cp.queue.add, "tabs", "notice", "standup in 5 minutes; bring $(coffee)",
                                        time.time())
            done = await cp.until_done(r.id)
            await asyncio.sleep(0.5)  # anything typed would have been echoed by now
            after = {p: world.tmux("capture-pane", "-p", "-t", p).stdout for p in panes}
            await cp.tick()
            return done, screens, after, before, transcript.read_bytes(), cp.toasts
        finally:
            await cp.close()

    done, screens, after, before, transcript_after, toasts = asyncio.run(go())
    assert done.state == "delivered" and done.via == "journal"
    assert screens == after  # capture-pane before/after identical, every pane
    assert transcript_after == before  # the agent's transcript did not change
    [payload] = [json.loads(line) for line in notices.read_text().splitlines()]
    assert payload["id"] == done.id and payload["text"] == "standup in 5 minutes; bring $(coffee)"
    assert payload["verb"] == "notice" and payload["agent"] == "tabs"
    assert done.evidence["notice_command"]["ok"] is True
    [row] = [j for j in journal(world) if j["kind"] == "notice"]
    assert "standup in 5 minutes" in row["summary"]
    assert [t.id for t in toasts] == [done.id]  # the TUI's toast, once
    assert not [e for e in events(world, "fired") if e.get("pane")]


def test_hostile_text_arrives_literally_and_runs_nothing(world):
    pwn = [world.root / "pwned-dollar", world.root / "pwned-backtick", world.root / "pwned-bang"]
    text = (f"it's \"quoted\"; echo pwned $(touch {pwn[0]}) `touch {pwn[1]}` ${{HOME}} && rm -rf nothing\n"
            "second line\r\n\tthird; $(touch pwned-relative)")
    bang = f"!touch {pwn[2]}"
    config = world.write_config([sim_agent()], supervisor={"wake_verify_s": 10.0})

    async def go():
        cp = Cockpit(config)
        try:
            await cp.ready("tabs")
            first = await asyncio.to_thread(cp.queue.add, "tabs", "wake", text, time.time())
            second = await asyncio.to_thread(cp.queue.add, "tabs", "wake", bang, time.time())
            return await cp.until_done(first.id), await cp.until_done(second.id)
        finally:
            await cp.close()

    first, second = asyncio.run(go())
    assert first.state == "delivered" and second.state == "delivered"
    expected = (f"it's \"quoted\"; echo pwned $(touch {pwn[0]}) `touch {pwn[1]}` ${{HOME}} && rm -rf nothing "
                "second line third; $(touch pwned-relative)")
    assert typed_text(text) == expected  # the documented transformation: newlines and tabs become one space
    assert prompts(world.claude_dir) == [expected, " " + bang]  # exactly that, each one turn
    for path in [*pwn, world.work / "pwned-relative"]:
        assert not path.exists(), f"{path} was created: typed text ran"


def test_a_wake_for_a_down_agent_waits_and_says_why(world):
    config = world.write_config([sim_agent()], supervisor={"auto_respawn": False})

    async def go():
        cp = Cockpit(config)
        try:
            r = await asyncio.to_thread(cp.queue.add, "tabs", "wake", "are you there?", time.time())
            await cp.tick_until(lambda _r: cp.queue.get(r.id).state == "waiting", what="waiting")
            for _ in range(5):
                await cp.tick()
            return cp.queue.get(r.id)
        finally:
            await cp.close()

    r = asyncio.run(go())
    assert r.state == "waiting" and r.why == "agent down" and r.attempts == 0
    assert len(events(world, "waiting")) == 1  # said once, not once per tick
    assert "tabs" not in world.tmux("list-windows", "-a", "-F", "#{window_name}").stdout.split()
    assert any("waits: agent down" in j["summary"] for j in journal(world))


def test_respawn_if_down_respawns_through_the_verified_path_then_wakes(world):
    config = world.write_config([sim_agent()], supervisor={"auto_respawn": False, "wake_verify_s": 10.0})

    async def go():
        cp = Cockpit(config)
        try:
            r = await asyncio.to_thread(cp.queue.add, "tabs", "wake", "start the migration", time.time(),
                                        respawn_if_down=True)
            return await cp.until_done(r.id, timeout=30), cp.rpass.invocations
        finally:
            await cp.close()

    done, invoked = asyncio.run(go())
    assert done.state == "delivered" and invoked.get("respawn") == 1
    [spawned] = [r for r in Registry(world.state_dir / "registry.jsonl").read_all().rows if r["event"] == "spawned"]
    assert spawned["agent"] == "tabs" and spawned.get("by", "").startswith("reminder")
    assert done.pane == spawned["pane"]
    assert prompts(world.claude_dir) == ["start the migration"]


def test_an_agent_at_a_permission_prompt_is_never_typed_into(world):
    # The Enter of a wake would answer "Do you want to proceed?" with its default: Yes.
    config = world.write_config([sim_agent("asker", "--prompt-permission")])

    async def go():
        cp = Cockpit(config)
        try:
            await cp.tick_until(lambda _r: (t := cp.sup.sessions.truth("asker")) is not None and t.status == "waiting",
                                what="the permission prompt")
            r = await asyncio.to_thread(cp.queue.add, "asker", "wake", "1", time.time())
            await cp.tick_until(lambda _r: cp.queue.get(r.id).state == "waiting", what="waiting")
            return cp.queue.get(r.id)
        finally:
            await cp.close()

    r = asyncio.run(go())
    assert r.state == "waiting" and r.why.startswith("agent needs input (permission prompt)")
    assert not (world.work / "sim-output.txt").exists() and not events(world, "fired")


def test_a_firing_left_without_verdict_is_settled_by_the_next_leader(world):
    # A cockpit wrote "fired" and died before typing: the next leader reads the transcript, finds
    # nothing, records the miss and retries; the retry is delivered.
    config = world.write_config([sim_agent()], supervisor={"wake_verify_s": 1.0, "backoff_max_s": 0.2})

    async def go():
        cp = Cockpit(config)
        try:
            await cp.ready("tabs")
            queue = ReminderQueue(world.state_dir / "reminders.jsonl")
            r = queue.add("tabs", "wake", "orphaned reminder", time.time() - 1)
            assert queue.claim_fire(r.id, attempt=1, at=time.time(), by="dead-cockpit") is not None
            return await cp.until_done(r.id, timeout=20), cp.rpass.invocations
        finally:
            await cp.close()

    done, invoked = asyncio.run(go())
    assert invoked.get("settle") == 1
    assert done.state == "delivered" and done.attempts == 2
    [missed] = events(world, "missed")
    assert missed["attempt"] == 1 and "stopped before its verdict" in missed["evidence"]["settled"]
    assert prompts(world.claude_dir) == ["orphaned reminder"]


def test_the_watch_ignores_old_prompts_and_follows_the_text(tmp_path):
    # A transcript read for the first time after the firing: only records stamped after it count.
    path = tmp_path / "00000000-0000-0000-0000-000000000001.jsonl"

    def rec(text: str, ts: str) -> str:
        return json.dumps({"type": "user", "timestamp": ts, "isSidechain": False,
                           "message": {"role": "user", "content": text}}) + "\n"

    path.write_text(rec("ping", "2020-01-01T00:00:00Z"))
    target = WakeTarget("a", "claude-code", "%1", 1, False, transcripts=(str(path),))
    watch = WakeWatch(target, "ping")
    assert watch.check(time.time()).match is None  # old record: not a pickup
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now + 0.5)) + ".000Z"
    with open(path, "a") as fh:
        fh.write(rec("other", stamp) + rec("so: ping", stamp))
    seen = watch.check(now)
    assert seen.match is not None and seen.match[2] == "so: ping"
    assert [p[2] for p in seen.prompts] == ["other"]


def test_operator_schedule_and_cancel_are_journaled_and_refused_when_read_only(world):
    from cockpit.act.actions import ReadOnlyError

    config = world.write_config([sim_agent()], supervisor={"auto_respawn": False})

    async def go():
        cp, ro = Cockpit(config), Cockpit(config, read_only=True)
        try:
            r = await cp.rpass.schedule("tabs", "notice", "lunch", time.time() + 3600, by="tui")
            refused = []
            for attempt in (ro.rpass.schedule("tabs", "wake", "nope", time.time()), ro.rpass.cancel(r.id)):
                try:
                    await attempt
                except ReadOnlyError as exc:
                    refused.append(str(exc))
            cancelled = await cp.rpass.cancel(r.id[:6], by="tui")
            return r, cancelled, refused
        finally:
            await cp.close()
            await ro.close()

    r, cancelled, refused = asyncio.run(go())
    assert r.by == "tui" and cancelled.state == "cancelled" and len(refused) == 2
    assert [e["event"] for e in events(world)] == ["scheduled", "cancelled"]  # read-only wrote nothing
    rows = journal(world)
    assert [j["action"] for j in rows if j["kind"] == "action"] == ["remind", "cancel_reminder"]
    assert len([j for j in rows if j["kind"] == "refused"]) == 2
