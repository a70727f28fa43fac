"""The reminder queue (seed #6): events on disk, state as their fold, fired exactly once.

Pure parts (parsing, the fold, the judges) with plain data; the queue against a real file and
real processes; restarts and two cockpits against simulated agents on a private tmux server.
Tests of the wiring into ``Report`` and ``cockpit remind``/``reminders`` at the end.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

from cockpit.findings import Severity
from cockpit.registry import Journal
from cockpit.judge.reminders import missed_wake, overdue_grace_s, reminder_findings, reminder_overdue
from cockpit.reminders import (
    MAX_TEXT_BYTES,
    Reminder,
    ReminderError,
    ReminderQueue,
    due_from_args,
    fold,
    parse_at,
    parse_duration,
    retry_delay_s,
)
from tests.test_deliver import Cockpit, events, prompts, sim_agent

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z


# --- parsing ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, seconds", [
    ("45s", 45), ("10m", 600), ("1h30m", 5400), ("2d", 172800), ("1d2h3m4s", 93784), ("0s", 0), ("90M", 5400),
])
def test_durations_parse(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "10", "m", "1.5h", "10 m", "30m1h", "-5m", "1w", "1h1h", "400d"])
def test_a_bad_duration_is_one_line_naming_in_and_the_format(text):
    with pytest.raises(ReminderError) as err:
        parse_duration(text)
    message = str(err.value)
    assert message.startswith("--in: expected a duration like 45s, 10m, 1h30m or 2d") and "\n" not in message


def test_times_parse_as_iso_8601_naive_is_local():
    local = datetime(2027, 1, 15, 10, 0).astimezone()  # what an operator means by 10:00
    assert parse_at("2027-01-15T10:00", now=NOW) == local.timestamp()
    assert parse_at("2027-01-15 10:00:30", now=NOW) == local.timestamp() + 30
    assert parse_at("2027-01-15T10:00Z", now=NOW) == datetime(2027, 1, 15, 10, tzinfo=timezone.utc).timestamp()
    plus_one = timezone(timedelta(hours=1))
    assert parse_at("2027-01-15T10:00+01:00", now=NOW) == datetime(2027, 1, 15, 10, tzinfo=plus_one).timestamp()


@pytest.mark.parametrize("text", ["tomorrow", "10:00", "2027-13-01T10:00", "2027-01-15T25:00", ""])
def test_a_bad_time_is_one_line_naming_at_and_the_format(text):
    with pytest.raises(ReminderError) as err:
        parse_at(text, now=NOW)
    assert str(err.value).startswith("--at: expected an ISO-8601 time like 2026-11-24T10:00")


def test_a_time_in_the_past_is_refused():
    with pytest.raises(ReminderError, match=r"^--at: '2020-01-01T10:00' is in the past"):
        parse_at("2020-01-01T10:00", now=NOW)


def test_exactly_one_of_in_and_at():
    assert due_from_args(in_="10m", at=None, now=NOW) == NOW + 600
    for in_, at in ((None, None), ("10m", "2027-01-15T10:00")):
        with pytest.raises(ReminderError, match="exactly one of --in DURATION or --at TIME"):
            due_from_args(in_=in_, at=at, now=NOW)


def test_bad_text_is_refused_and_nothing_is_written(tmp_path):
    queue = ReminderQueue(tmp_path / "state" / "reminders.jsonl")
    for text, why in (("", "printable"), ("  \n\t", "printable"), ("a\x00b", "NUL"),
                      ("x" * (MAX_TEXT_BYTES + 1), "at most")):
        with pytest.raises(ReminderError, match=why):
            queue.add("tabs", "wake", text, NOW)
    with pytest.raises(ReminderError, match="wake or notice"):
        queue.add("tabs", "shout", "hi", NOW)
    assert not queue.path.exists()


# --- the fold -----------------------------------------------------------------------------------


def test_state_is_derived_from_events_and_the_file_is_append_only(tmp_path):
    queue = ReminderQueue(tmp_path / "state" / "reminders.jsonl", clock=lambda: NOW)
    r = queue.add("tabs", "wake", "check CI", NOW + 60, now=NOW)
    assert (r.state, r.attempts, r.next_at, r.created_at) == ("scheduled", 0, NOW + 60, NOW)
    assert queue.claim_fire(r.id, attempt=1, at=NOW + 30, by="a") is None  # not due yet
    fired = queue.claim_fire(r.id, attempt=1, at=NOW + 90, by="a", fields={"pane": "%3"})
    assert (fired.state, fired.attempts, fired.late_by_s, fired.pane) == ("fired", 1, 30.0, "%3")
    missed = queue.record_missed(r.id, attempt=1, at=NOW + 100, evidence={"typed": "check CI"},
                                 retry_at=NOW + 102)
    # a miss with retries left goes back to scheduled, in the same write
    assert (missed.state, missed.next_at, missed.missed_at) == ("scheduled", NOW + 102, NOW + 100)
    assert queue.claim_fire(r.id, attempt=1, at=NOW + 103, by="a") is None  # attempt 1 is history
    queue.claim_fire(r.id, attempt=2, at=NOW + 103, by="a")
    done = queue.record_delivered(r.id, attempt=2, at=NOW + 104.5, latency_s=1.5, via="transcript",
                                  evidence={"record": "x"})
    assert (done.state, done.attempts, done.latency_s, done.via, done.late_by_s) == \
        ("delivered", 2, 1.5, "transcript", 30.0)
    rows = queue.store.read_all().rows
    assert [row["event"] for row in rows] == ["scheduled", "fired", "missed", "retried", "fired", "delivered"]
    assert fold(rows)[r.id] == done  # a pure fold of the events IS the state
    # another reader (another cockpit) derives the same state from the same file
    assert ReminderQueue(queue.path).get(r.id) == done


def test_cancel_by_id_or_prefix_and_a_finished_one_cannot_be(tmp_path):
    queue = ReminderQueue(tmp_path / "reminders.jsonl")
    a = queue.add("tabs", "notice", "one", NOW, now=NOW, rid="r-aaaa1111")
    b = queue.add("tabs", "notice", "two", NOW, now=NOW, rid="r-aaaa2222")
    with pytest.raises(ReminderError, match="ambiguous"):
        queue.get("r-aaaa")
    assert queue.cancel("r-aaaa1", now=NOW + 1).state == "cancelled"
    with pytest.raises(ReminderError, match=f"reminder {a.id} is already cancelled"):
        queue.cancel(a.id)
    queue.claim_fire(b.id, attempt=1, at=NOW + 2, by="x")
    queue.record_delivered(b.id, attempt=1, at=NOW + 2, latency_s=0, via="journal", evidence={})
    with pytest.raises(ReminderError, match="already delivered"):
        queue.cancel(b.id)
    with pytest.raises(ReminderError, match="no reminder 'r-nope'"):
        queue.cancel("r-nope")
    assert queue.claim_fire(a.id, attempt=1, at=NOW + 5, by="x") is None  # a cancelled reminder never fires


def test_a_cancel_during_a_wake_keeps_the_verdict_but_stops_the_retries():
    r = Reminder("r-1", "tabs", "wake", "t", NOW, NOW, next_at=NOW)
    rows = [{"event": "fired", "id": "r-1", "attempt": 1, "at": NOW},
            {"event": "cancelled", "id": "r-1", "at": NOW + 1},
            {"event": "missed", "id": "r-1", "attempt": 1, "at": NOW + 2},
            {"event": "retried", "id": "r-1", "attempt": 2, "at": NOW + 2, "next_at": NOW + 4}]
    assert fold(rows, {"r-1": r})["r-1"].state == "cancelled"
    delivered = fold(rows[:2] + [{"event": "delivered", "id": "r-1", "attempt": 1, "at": NOW + 2}], {"r-1": r})
    assert delivered["r-1"].state == "delivered"  # the agent did see it: the truth wins


def test_torn_and_hostile_lines_are_counted_never_fatal(tmp_path):
    queue = ReminderQueue(tmp_path / "reminders.jsonl")
    r = queue.add("tabs", "wake", "ok", NOW, now=NOW)
    with open(queue.path, "ab") as fh:
        fh.write(b'{"event": "fired", "id": "r-\xff\n[1,2]\n{"event":"scheduled","id":"r-x","verb":"yell"}\n'
                 b'{"event":"fired","id":"' + r.id.encode() + b'","attempt":"many","at":"soon"}\n{"torn')
    state = queue.refresh()
    # two lines that are not rows, and two rows with a field of the wrong type (verb "yell", attempt "many")
    assert set(state) == {r.id} and queue.bad_lines == 4
    assert sum(n for reason, n in queue.bad.counts.items() if "field ignored" in reason) == 2
    assert state[r.id] == r  # valid JSON that is not an event we write never moves a reminder
    assert queue.add("tabs", "notice", "after the torn line", NOW, now=NOW).state == "scheduled"


def test_state_files_are_private(tmp_path):
    queue = ReminderQueue(tmp_path / "state" / "reminders.jsonl")
    queue.add("tabs", "notice", "hi", NOW, now=NOW)
    assert stat.S_IMODE(queue.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(queue.path.parent.stat().st_mode) == 0o700


def test_prune_drops_only_long_finished_reminders(tmp_path):
    queue = ReminderQueue(tmp_path / "reminders.jsonl")
    old = queue.add("tabs", "notice", "old", NOW, now=NOW)
    queue.claim_fire(old.id, attempt=1, at=NOW, by="x")
    queue.record_delivered(old.id, attempt=1, at=NOW, latency_s=0, via="journal", evidence={})
    pending = queue.add("tabs", "wake", "still due", NOW, now=NOW)
    assert queue.prune(NOW + 10 * 86400, 7 * 86400) == 3
    assert set(queue.refresh()) == {pending.id}


def test_retry_backoff_doubles_and_is_capped():
    assert [retry_delay_s(n, 30.0) for n in (1, 2, 3, 4, 5)] == [2.0, 4.0, 8.0, 16.0, 30.0]
    assert retry_delay_s(3, 0.2) == 0.2


_RACE = """
import sys, time
from cockpit.reminders import ReminderQueue
q = ReminderQueue(sys.argv[1])
deadline = float(sys.argv[3])
while time.time() < deadline:
    pass
print("won" if q.claim_fire(sys.argv[2], attempt=1, at=time.time(), by=str(__import__('os').getpid())) else "lost")
"""


def test_eight_processes_racing_to_fire_fire_once(tmp_path):
    queue = ReminderQueue(tmp_path / "reminders.jsonl")
    r = queue.add("tabs", "wake", "once", time.time() - 1)
    start = time.time() + 1.5
    procs = [subprocess.Popen([sys.executable, "-c", _RACE, str(queue.path), r.id, str(start)],
                              stdout=subprocess.PIPE, text=True, cwd=os.getcwd()) for _ in range(8)]
    results = [p.communicate(timeout=30)[0].strip() for p in procs]
    assert sorted(results) == ["lost"] * 7 + ["won"]
    assert len([row for row in queue.store.read_all().rows if row["event"] == "fired"]) == 1


# --- the judges (pure) --------------------------------------------------------------------------


def _r(**kw) -> Reminder:
    base = dict(id="r-1", agent="tabs", verb="wake", text="check the build", due_at=NOW, created_at=NOW - 60,
                next_at=NOW)
    base.update(kw)
    return Reminder(**base)


def test_a_due_reminder_nobody_fired_is_overdue_after_a_grace():
    assert reminder_overdue(_r(), now=NOW + 4, grace_s=5, verify_s=30) is None
    late = reminder_overdue(_r(), now=NOW + 60, grace_s=5, verify_s=30)
    assert late.kind == "reminder_overdue" and late.severity is Severity.WARNING and late.subject == "r-1"
    assert "no leader cockpit fired it" in late.summary and late.evidence["overdue_s"] == 60
    down = reminder_overdue(_r(state="waiting", why="agent down"), now=NOW + 60, grace_s=5, verify_s=30)
    assert down.summary.endswith(": agent down") and down.action == "respawn"
    stuck = reminder_overdue(_r(state="fired", fired_at=NOW, attempts=1), now=NOW + 40, grace_s=5, verify_s=30)
    assert stuck is not None and "no verdict" in stuck.summary
    assert reminder_overdue(_r(state="delivered"), now=NOW + 999, grace_s=5, verify_s=30) is None
    assert overdue_grace_s(0.2) == 5.0 and overdue_grace_s(10) == 30.0


def test_missed_wake_warns_while_retrying_and_is_critical_after_the_last_retry():
    retrying = missed_wake(_r(attempts=1, missed_at=NOW + 30, next_at=NOW + 32, evidence={"pane": "%1"}),
                           now=NOW + 31, max_attempts=3)
    assert retrying.severity is Severity.WARNING and "attempt 1 of 3" in retrying.summary
    assert retrying.evidence["pane"] == "%1"
    final = missed_wake(_r(state="missed", attempts=3, missed_at=NOW + 90), now=NOW + 91, max_attempts=3)
    assert final.severity is Severity.CRITICAL and "3 attempts" in final.summary and final.key == retrying.key
    assert missed_wake(_r(state="missed", attempts=3, missed_at=NOW), now=NOW + 2 * 86400) is None
    assert missed_wake(_r(state="delivered", missed_at=NOW), now=NOW) is None
    assert missed_wake(_r(verb="notice", state="missed", missed_at=NOW), now=NOW) is None
    kinds = [f.kind for f in reminder_findings([_r(state="missed", attempts=3, missed_at=NOW), _r(id="r-2")],
                                               now=NOW + 60, grace_s=5, verify_s=30)]
    assert sorted(kinds) == ["missed_wake", "reminder_overdue"]


# --- restarts and two cockpits (simulated agents, private tmux) -------------------------------


def test_a_reminder_due_while_no_cockpit_ran_fires_once_late_on_restart(world):
    config = world.write_config([sim_agent()], supervisor={"wake_verify_s": 10.0})
    queue = ReminderQueue(config.state.reminders)
    r = queue.add("tabs", "wake", "you slept through this", time.time() + 0.3)
    time.sleep(1.0)  # no supervisor runs: the due time passes
    [overdue] = reminder_findings(queue.reminders(), now=time.time() + 10, grace_s=5, verify_s=10)
    assert overdue.kind == "reminder_overdue" and overdue.subject == r.id

    async def run_cockpit(ticks: int = 0):
        cp = Cockpit(config)
        try:
            if ticks:
                for _ in range(ticks):
                    await cp.tick()
                    await asyncio.sleep(0.1)
                await cp.rpass.idle(timeout=15)
                return cp.queue.get(r.id)
            return await cp.until_done(r.id, timeout=30)
        finally:
            await cp.close()

    done = asyncio.run(run_cockpit())
    assert done.state == "delivered" and done.late_by_s is not None and done.late_by_s > 0.5
    again = asyncio.run(run_cockpit(ticks=10))  # the next cockpit's start: nothing fires twice
    assert again == done
    assert len(events(world, "fired")) == 1 and prompts(world.claude_dir) == ["you slept through this"]


def test_two_cockpits_on_one_fleet_fire_once(world):
    config = world.write_config([sim_agent()], supervisor={"wake_verify_s": 10.0})

    async def go():
        first, second = Cockpit(config, actor="cockpit-1"), Cockpit(config, actor="cockpit-2")
        try:
            await first.ready("tabs")
            await second.tick()
            assert first.sup.leader and not second.sup.leader
            r = await asyncio.to_thread(first.queue.add, "tabs", "wake", "only once, please", time.time())
            deadline = time.monotonic() + 20
            while not first.queue.get(r.id).done and time.monotonic() < deadline:
                await asyncio.gather(first.tick(), second.tick())
                await asyncio.sleep(0.1)
            for _ in range(5):
                await asyncio.gather(first.tick(), second.tick())
            # the follower sees the same state from the same file
            return first.queue.get(r.id), second.queue.get(r.id), second.rpass.invocations
        finally:
            await first.close()
            await second.close()

    mine, theirs, follower = asyncio.run(go())
    assert mine.state == "delivered" and mine == theirs
    assert follower.get("wake", 0) == 0
    assert len(events(world, "fired")) == 1 and prompts(world.claude_dir) == ["only once, please"]


# --- the wiring (Report, cockpit remind/reminders) ------------------------------------------------




def test_the_report_carries_reminders_and_their_findings(world):
    config = world.write_config([sim_agent()], supervisor={"auto_respawn": False})
    queue = ReminderQueue(config.state.reminders)
    r = queue.add("tabs", "wake", "late one", time.time() - 60)

    from cockpit.supervisor import check_once

    report = asyncio.run(check_once(config))  # read-only: reports, never fires
    data = report.to_json()
    [shown] = [x for x in data["reminders"] if x["id"] == r.id]
    assert shown["state"] == "scheduled" and shown["text"] == "late one"
    assert any(f["kind"] == "reminder_overdue" for f in data["findings"])
    assert not events(world, "fired")


def test_cli_remind_list_and_cancel(world, capsys):
    from cockpit.cli import main

    world.write_config([sim_agent()])
    cfg = ["--config", str(world.config_path)]
    assert main(["remind", "tabs", "--in", "10m", "--wake", "check", "the", "build", *cfg]) == 0
    line = capsys.readouterr().out
    assert "wake" in line and "tabs" in line
    assert main(["reminders", "--json", *cfg]) == 0
    [r] = json.loads(capsys.readouterr().out)
    assert (r["agent"], r["verb"], r["text"], r["state"]) == ("tabs", "wake", "check the build", "scheduled")
    assert main(["reminders", "cancel", r["id"], *cfg]) == 0
    capsys.readouterr()
    assert main(["reminders", "--json", *cfg]) == 0
    assert json.loads(capsys.readouterr().out)[0]["state"] == "cancelled"
    # bad input: one line naming the argument, exit 2, nothing written
    before = (world.state_dir / "reminders.jsonl").read_bytes()
    for argv in (["remind", "tabs", "--in", "soon", "--wake", "x"],
                 ["remind", "tabs", "--at", "tomorrow", "--notice", "x"],
                 ["remind", "ghost", "--in", "1m", "--wake", "x"],
                 ["remind", "tabs", "--in", "1m", "--notice", "--respawn-if-down", "x"]):
        assert main([*argv, *cfg]) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err and "\n" not in err and "Traceback" not in err
    assert main(["--read-only", "remind", "tabs", "--in", "1m", "--wake", "x", *cfg]) == 2
    assert "read-only" in capsys.readouterr().err
    assert (world.state_dir / "reminders.jsonl").read_bytes() == before
    rows = Journal(world.state_dir / "journal.jsonl").read_all().rows
    assert [j["action"] for j in rows if j["kind"] == "action"] == ["remind", "cancel_reminder"]
