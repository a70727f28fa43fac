"""[notify]: one message per transition, never per tick, never again after a restart (SPEC §10).

The plan is tested with plain data; the sending with a real HTTP receiver behind a json:// URL.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.act.notify import Notifier, _transitions_of, notify_test
from cockpit.config import ConfigError, parse_config
from cockpit.findings import Finding, Severity
from cockpit.judge.notify import RateWindow, apply, incident_key, plan_messages, transitions
from cockpit.registry import Journal
from tests.receiver import Receiver


def crit(kind: str, agent: str | None = "ghost", summary: str = "", subject: str | None = None) -> Finding:
    return Finding(kind=kind, severity=Severity.CRITICAL, agent=agent, summary=summary or f"{agent}: {kind}",
                   subject=subject)


def warn(kind: str, agent: str | None = "ghost") -> Finding:
    return Finding(kind=kind, severity=Severity.WARNING, agent=agent, summary=f"{agent}: {kind}")


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def trans(*args, **kwargs):
    return transitions(*args, **kwargs)[0]


def config(tmp_path: Path, *urls: str, restart_window_s: float = 300.0, **notify):
    return parse_config({"state": {"dir": str(tmp_path / "state")}, "supervisor": {"restart_window_s": restart_window_s},
                         "notify": {"urls": list(urls), **notify}})


# --- the plan (pure) -------------------------------------------------------------------------------


def test_a_crash_loop_flapping_between_starting_and_failures_is_one_transition() -> None:
    told: dict = {}
    clear: dict = {}
    seen = []
    ticks = [  # (findings, status of ghost): it even runs for a moment between two crashes
        ([crit("agent_down")], "down"), ([], "starting"), ([crit("spawn_failed")], "down"), ([], "starting"),
        ([], "running"), ([], "running"), ([crit("agent_down")], "down"), ([], "starting"),
        ([crit("respawn_exhausted")], "fatal"), ([crit("respawn_exhausted")], "fatal"),
    ]
    for now, (findings, status) in enumerate(ticks):
        changes, clear = transitions(findings, told, min_severity="critical", on_resolve=True,
                                     statuses={"ghost": status}, now=float(now), clear=clear, settle_s=60.0)
        told = apply(told, changes)
        seen.extend(changes)
    assert [(t.event, t.kind) for t in seen] == [("opened", "agent_down")]
    # up, but not for the restart window yet: the loop is not over
    changes, clear = transitions([], told, min_severity="critical", on_resolve=True, statuses={"ghost": "running"},
                                 now=100.0, clear=clear, settle_s=60.0)
    assert changes == [] and clear == {"lifecycle:ghost": 100.0}
    changes, clear = transitions([], told, min_severity="critical", on_resolve=True, statuses={"ghost": "running"},
                                 now=160.0, clear=clear, settle_s=60.0)
    assert [(t.event, t.send) for t in changes] == [("resolved", True)] and clear == {}


def test_below_min_severity_nothing_is_told_and_a_rise_past_it_is() -> None:
    told: dict = {}
    changes = trans([warn("agent_down")], told, min_severity="critical", on_resolve=False, statuses={})
    assert changes == []
    changes = trans([warn("canary_failed", None)], told, min_severity="warning", on_resolve=False, statuses={})
    told = apply(told, changes)
    assert [t.event for t in changes] == ["opened"]
    again = trans([crit("canary_failed", None)], told, min_severity="warning", on_resolve=False, statuses={})
    assert [(t.event, t.severity) for t in again] == [("escalated", "critical")]


def test_a_resolution_without_on_resolve_is_recorded_but_not_sent() -> None:
    told = apply({}, trans([crit("stale_route", "docs")], {}, min_severity="critical", on_resolve=False,
                                 statuses={}))
    changes = trans([], told, min_severity="critical", on_resolve=False, statuses={"docs": "running"})
    assert [(t.event, t.send) for t in changes] == [("resolved", False)]
    assert apply(told, changes) == {}


def test_distinct_subjects_are_distinct_incidents_but_lifecycle_kinds_share_one() -> None:
    assert incident_key(crit("canary_failed", None, subject="a")) != incident_key(crit("canary_failed", None, subject="b"))
    assert incident_key(crit("agent_down")) == incident_key(crit("respawn_exhausted"))


def test_a_burst_past_the_budget_is_one_digest_and_a_spent_minute_waits() -> None:
    window = RateWindow(max_per_minute=3)
    burst = trans([crit("agent_down", f"a{i}") for i in range(5)], {}, min_severity="critical",
                        on_resolve=False, statuses={})
    messages, waiting = plan_messages(burst, window, now=100.0)
    assert len(messages) == 1 and waiting == []
    assert "digest: 5 changes (5 critical)" in messages[0].title and messages[0].body.count("\n") == 4
    two = trans([crit("agent_down", "b1"), crit("agent_down", "b2")], {}, min_severity="critical",
                      on_resolve=False, statuses={})
    messages, waiting = plan_messages(two, window, now=110.0)
    assert [m.title.split("] ")[1] for m in messages] == ["CRITICAL agent_down b1", "CRITICAL agent_down b2"]
    late = trans([crit("agent_down", "c1")], {}, min_severity="critical", on_resolve=False, statuses={})
    messages, waiting = plan_messages(late, window, now=120.0)
    assert messages == [] and len(waiting) == 1  # 3 sent in this minute: it waits, folded, never dropped
    messages, waiting = plan_messages(waiting, window, now=161.0)
    assert len(messages) == 1 and waiting == []


# --- the sender, with a real receiver -------------------------------------------------------------


def test_one_message_per_transition_never_per_tick_and_none_after_a_restart(tmp_path: Path, receiver) -> None:
    cfg = config(tmp_path, receiver.url, on_resolve=True, restart_window_s=0.05)

    async def run_ticks(ticks: list[list[Finding]], status: str) -> None:
        notifier = Notifier(cfg, Journal(cfg.state.journal))
        for findings in ticks:
            await notifier.after_report(findings, {"ghost": status}, leader=True, read_only=False)
            await asyncio.sleep(0.03)
        await notifier.close()

    asyncio.run(run_ticks([[crit("respawn_exhausted")]] * 5, "fatal"))
    assert len(receiver.messages) == 1
    msg = receiver.messages[0]
    assert msg["type"] == "failure" and "respawn_exhausted ghost" in msg["title"] and msg["message"] == "ghost: respawn_exhausted"
    asyncio.run(run_ticks([[crit("respawn_exhausted")]] * 3, "fatal"))  # a restarted cockpit
    assert len(receiver.messages) == 1
    asyncio.run(run_ticks([[]] * 4, "running"))  # up for the restart window: resolved (told: on_resolve)
    assert [m["type"] for m in receiver.messages] == ["failure", "success"]
    rows = [r for r in Journal(cfg.state.journal).read_all().rows if r["kind"] == "notify"]
    assert [r["result"] for r in rows] == ["sent", "sent"]
    assert rows[0]["evidence"]["channels"] == [{"url": rows[0]["evidence"]["channels"][0]["url"], "ok": True,
                                                "error": None}]


def test_none_while_read_only_or_a_follower(tmp_path: Path, receiver) -> None:
    cfg = config(tmp_path, receiver.url)

    async def run() -> Notifier:
        notifier = Notifier(cfg, Journal(cfg.state.journal))
        await notifier.after_report([crit("agent_down")], {}, leader=False, read_only=True)
        await notifier.after_report([crit("agent_down")], {}, leader=True, read_only=True)
        await notifier.after_report([crit("agent_down")], {}, leader=False, read_only=False)
        await notifier.close()
        return notifier

    asyncio.run(run())
    assert receiver.messages == [] and not cfg.state.journal.exists()


def test_a_new_leader_reads_back_what_the_old_one_told(tmp_path: Path, receiver) -> None:
    cfg = config(tmp_path, receiver.url)

    async def run() -> None:
        old, new = Notifier(cfg, Journal(cfg.state.journal)), Notifier(cfg, Journal(cfg.state.journal))
        await new.after_report([crit("stale_route", "docs")], {}, leader=False, read_only=False)  # following
        await old.after_report([crit("stale_route", "docs")], {}, leader=True, read_only=False)
        await old.close()  # the old leader goes away
        await new.after_report([crit("stale_route", "docs")], {}, leader=True, read_only=False)
        await new.close()

    asyncio.run(run())
    assert len(receiver.messages) == 1


def test_a_burst_reaches_the_receiver_as_one_digest(tmp_path: Path, receiver) -> None:
    cfg = config(tmp_path, receiver.url, max_per_minute=2)

    async def run() -> None:
        notifier = Notifier(cfg, Journal(cfg.state.journal))
        burst = [crit("agent_down", f"agent{i}") for i in range(6)]
        await notifier.after_report(burst, {}, leader=True, read_only=False)
        await notifier.after_report(burst, {}, leader=True, read_only=False)
        await notifier.close()

    asyncio.run(run())
    assert len(receiver.messages) == 1
    digest = receiver.messages[0]
    assert "digest: 6 changes" in digest["title"]
    assert all(f"agent_down agent{i}" in digest["message"] for i in range(6))


def test_a_failing_channel_is_a_finding_never_a_stall(tmp_path: Path, receiver) -> None:
    dead = Receiver()
    dead_url = dead.url
    dead.close()  # nothing listens there any more: connection refused
    slow = Receiver(delay_s=3.0)
    cfg = config(tmp_path, dead_url, slow.url, receiver.url, timeout_s=0.5)

    async def run() -> tuple[float, Notifier]:
        notifier = Notifier(cfg, Journal(cfg.state.journal))
        started = time.monotonic()
        await notifier.after_report([crit("agent_down")], {}, leader=True, read_only=False)
        planned = time.monotonic() - started
        await notifier.flush(10.0)
        await notifier.close()
        return planned, notifier

    try:
        planned, notifier = asyncio.run(run())
    finally:
        slow.close()
    assert planned < 0.2  # the tick never waits for a channel
    failed = {f.evidence["url"].split("/")[2] for f in notifier.findings()}
    assert failed == {dead_url.split("/")[2], slow.url.split("/")[2]}
    assert all(f.kind == "notify_failed" and f.severity is Severity.WARNING for f in notifier.findings())
    assert len(receiver.messages) == 1  # the healthy channel got it
    row = next(r for r in Journal(cfg.state.journal).read_all().rows if r["kind"] == "notify")
    assert row["result"] == "partial"


def test_notify_test_says_which_urls_answered(tmp_path: Path, receiver) -> None:
    refusing = Receiver(status=500)
    try:
        results = notify_test(config(tmp_path, receiver.url, refusing.url, timeout_s=2))
    finally:
        refusing.close()
    assert [r.ok for r in results] == [True, False]
    assert len(receiver.messages) == 1 and "test" in receiver.messages[0]["title"]
    assert results[1].error


def test_an_url_apprise_does_not_know_is_one_config_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        Notifier(config(tmp_path, "nosuchservice://x"), Journal(tmp_path / "j.jsonl"))
    assert "notify.urls[0]" in str(info.value)


def test_journal_rows_of_other_shapes_are_skipped_on_read_back(tmp_path: Path, receiver) -> None:
    cfg = config(tmp_path, receiver.url)
    journal = Journal(cfg.state.journal)
    for evidence in (None, [], {"transitions": "x"}, {"transitions": [1, {"key": 3}, {"event": "opened"}]}):
        journal.record("notify", summary="odd", evidence=evidence)
    notifier = Notifier(cfg, journal)
    notifier.read_back()
    assert notifier.told == {}


def test_the_notify_test_command_prints_each_url_and_exits_by_the_answers(tmp_path: Path, receiver, capsys) -> None:
    from cockpit.cli import main

    refusing = Receiver(status=500)
    path = tmp_path / "cockpit.toml"
    try:
        path.write_text(f'[state]\ndir = "{tmp_path / "state"}"\n[notify]\nurls = ["{receiver.url}", "{refusing.url}"]\n'
                        'timeout_s = 2\n')
        assert main(["--config", str(path), "notify-test"]) == 1
        out = capsys.readouterr().out.splitlines()
        assert out[0].startswith("ok      json://127.0.0.1:") and out[1].startswith("FAILED  json://127.0.0.1:")
        path.write_text(f'[state]\ndir = "{tmp_path / "state"}"\n[notify]\nurls = ["{receiver.url}"]\n')
        assert main(["--config", str(path), "notify-test", "--json"]) == 0
        path.write_text(f'[state]\ndir = "{tmp_path / "state"}"\n')
        assert main(["--config", str(path), "notify-test"]) == 2
        assert "notify.urls" in capsys.readouterr().err
    finally:
        refusing.close()


_json = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8)),
                     lambda inner: st.one_of(st.lists(inner, max_size=3),
                                             st.dictionaries(st.sampled_from(
                                                 ["key", "event", "kind", "severity", "agent", "summary", "send",
                                                  "transitions"]), inner, max_size=6)), max_leaves=8)


@settings(max_examples=100, deadline=None)
@given(st.one_of(_json, st.fixed_dictionaries({"transitions": st.lists(_json, max_size=4)})))
def test_any_journal_evidence_reads_back_without_raising(evidence) -> None:
    done = list(_transitions_of(evidence))
    told = apply({}, done)
    assert all(isinstance(k, str) for k in told)


def test_urls_take_secrets_from_the_environment_and_an_unset_one_is_one_line(tmp_path: Path) -> None:
    data = {"notify": {"urls": ["tgram://$TG_TOKEN/$TG_CHAT"]}}
    cfg = parse_config(data, env={"HOME": str(tmp_path), "TG_TOKEN": "123:abc", "TG_CHAT": "42"})
    assert cfg.notify.urls == ("tgram://123:abc/42",)
    with pytest.raises(ConfigError) as info:
        parse_config(data, env={"HOME": str(tmp_path)})
    assert "notify.urls[0]" in str(info.value) and "$TG_TOKEN" in str(info.value)
