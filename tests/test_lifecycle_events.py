"""SPEC §8: a crash after a healthy run is respawned at once; backoff from the second crash in the
window; the restart budget is unchanged (pure lifecycle, no clock but the events')."""

from __future__ import annotations

from cockpit.lifecycle import (AgentState, Exited, Lifecycle, RestartPolicy, SpawnFailed, SpawnStarted,
                               SpawnVerified, transition)

POLICY = RestartPolicy(max_restarts=3, restart_window_s=60.0, backoff_max_s=30.0)


def _running(at: float, lc: Lifecycle | None = None) -> Lifecycle:
    lc = transition(lc or Lifecycle(), SpawnStarted(at, by="auto"), POLICY)
    return transition(lc, SpawnVerified(at + 1.0), POLICY)


def test_a_crash_after_a_healthy_run_is_due_at_once() -> None:
    lc = transition(_running(0.0), Exited(10.0, status=137), POLICY)
    assert lc.state is AgentState.BACKOFF and lc.next_attempt_at == 10.0 and lc.due(10.0)


def test_the_second_crash_in_the_window_waits_its_backoff() -> None:
    lc = transition(_running(0.0), Exited(10.0, status=137), POLICY)
    lc = transition(_running(10.0, lc), Exited(20.0, status=137), POLICY)
    assert lc.state is AgentState.BACKOFF and lc.next_attempt_at == 21.0 and not lc.due(20.5)
    # outside the window the first crash is forgotten: at once again
    lc = transition(_running(100.0, lc), Exited(130.0, status=137), POLICY)
    assert lc.next_attempt_at == 130.0


def test_a_spawn_that_fails_verification_is_never_at_once() -> None:
    lc = transition(Lifecycle(), SpawnStarted(0.0, by="start"), POLICY)
    lc = transition(lc, SpawnFailed(0.5, check="process_alive"), POLICY)
    assert lc.state is AgentState.BACKOFF and lc.next_attempt_at == 1.5


def test_the_budget_is_unchanged_by_the_immediate_respawn() -> None:
    lc = Lifecycle()
    for i in range(4):
        lc = transition(_running(i * 5.0, lc), Exited(i * 5.0 + 3.0, status=1), POLICY)
    assert lc.state is AgentState.FATAL and lc.alert_due and len(lc.failures) == 4


def test_an_announced_exit_whose_status_tmux_has_not_shown_yet_is_an_ending_not_a_crash() -> None:
    """SessionEnd came first (the operator typed /exit); the pane's status is not known yet: under
    on-failure the agent is down, not respawned; an unannounced exit of unknown status still is."""
    announced = transition(_running(0.0), Exited(10.0, status=None, expected=True), POLICY)
    assert announced.state is AgentState.DOWN and announced.next_attempt_at is None
    unannounced = transition(_running(0.0), Exited(10.0, status=None), POLICY)
    assert unannounced.state is AgentState.BACKOFF
    # a status that says it failed is a failure, announced or not
    failed = transition(_running(0.0), Exited(10.0, status=3, expected=True), POLICY)
    assert failed.state is AgentState.BACKOFF
    always = transition(_running(0.0), Exited(10.0, status=None, expected=True),
                        RestartPolicy(restart="always", max_restarts=3, restart_window_s=60.0, backoff_max_s=30.0))
    assert always.state is AgentState.BACKOFF
