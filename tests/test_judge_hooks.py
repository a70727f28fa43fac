"""SPEC §8, pure: hook events folded into an agent's hook state; agent_error and hooks_silent."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from cockpit.findings import Severity
from cockpit.hook import event_row
from cockpit.judge.hooks import HookState, agent_error, fold_events, hook_activity, hooks_silent


def ev(name: str, at: float, **fields) -> dict:
    return event_row({"hook_event_name": name, **fields}, "tabs", now=at)


def test_a_turn_goes_working_needs_input_idle_through_hooks() -> None:
    state = fold_events(HookState(), [ev("SessionStart", 100, session_id="s1", transcript_path="/t/s1.jsonl",
                                         source="startup")])
    assert (state.session_id, state.transcript_path, state.activity) == ("s1", "/t/s1.jsonl", "idle")
    state = fold_events(state, [ev("UserPromptSubmit", 101, prompt="fix the tests")])
    assert hook_activity(state, since=99) == "working" and state.prompts[-1] == (101.0, "fix the tests")
    state = fold_events(state, [ev("Notification", 102, notification_type="idle_prompt")])
    assert state.activity == "working"  # an idle reminder is not a question
    state = fold_events(state, [ev("Notification", 103, notification_type="permission_prompt")])
    assert state.activity == "needs_input"
    state = fold_events(state, [ev("Stop", 104)])
    assert state.activity == "idle" and state.events == 5
    assert hook_activity(state, since=200) is None  # a respawn since: its own hooks will say


def test_clear_binds_the_new_session_and_remembers_the_old() -> None:
    state = fold_events(HookState(), [ev("SessionStart", 1, session_id="s1", source="startup"),
                                      ev("SessionEnd", 2, reason="clear"),
                                      ev("SessionStart", 2.1, session_id="s2", source="clear")])
    assert state.session_id == "s2" and state.previous_sessions == ("s1",) and state.session_source == "clear"
    assert state.ended is None  # the session that ended was replaced in the same process


def test_session_end_marks_the_exit_expected_with_its_reason() -> None:
    state = fold_events(HookState(), [ev("SessionStart", 1, session_id="s1"), ev("SessionEnd", 5, reason="logout")])
    assert state.ended is not None and state.ended["reason"] == "logout"


def test_stop_failure_is_an_agent_error_critical_for_auth_warning_for_rate_limits() -> None:
    auth = fold_events(HookState(), [ev("StopFailure", 5, error="authentication_failed", error_details="bad key")])
    finding = agent_error("tabs", auth, since=1)
    assert finding is not None and finding.severity is Severity.CRITICAL and "bad key" in finding.summary
    limited = fold_events(HookState(), [ev("StopFailure", 5, error="rate_limit")])
    assert agent_error("tabs", limited, since=1).severity is Severity.WARNING
    assert agent_error("tabs", fold_events(limited, [ev("UserPromptSubmit", 6, prompt="again")]), since=1) is None
    assert agent_error("tabs", limited, since=10) is None  # an error of the process before a respawn


def test_subagents_are_counted_while_they_run() -> None:
    state = fold_events(HookState(), [ev("SubagentStart", 1, agent_id="a"), ev("SubagentStart", 2, agent_id="b"),
                                      ev("SubagentStop", 3, agent_id="a")])
    assert state.subagents == ("b",)


def test_hooks_silent_only_after_spawn_verify_s_without_a_session_start() -> None:
    kw = dict(spawned_with_hooks=True, spawn_at=100.0, verify_s=2.0)
    assert hooks_silent("tabs", None, now=101.0, **kw) is None
    found = hooks_silent("tabs", None, now=103.0, **kw)
    assert found is not None and found.severity is Severity.INFO and found.kind == "hooks_silent"
    spoke = fold_events(HookState(), [ev("SessionStart", 100.5, session_id="s")])
    assert hooks_silent("tabs", spoke, now=103.0, **kw) is None
    assert hooks_silent("tabs", None, now=103.0, spawned_with_hooks=False, spawn_at=100.0, verify_s=2.0) is None


rows = st.lists(st.dictionaries(st.sampled_from(["ts", "event", "session_id", "prompt", "error", "agent_id",
                                                 "notification_type", "reason"]),
                                st.none() | st.integers() | st.text(max_size=20) | st.lists(st.integers(), max_size=2)),
                max_size=20)


@settings(max_examples=60, deadline=None)
@given(rows)
def test_any_rows_fold_without_raising(raw) -> None:
    state = fold_events(HookState(), raw)
    assert state.events <= len(raw)
    agent_error("tabs", state, since=None)
    hook_activity(state, since=None)
