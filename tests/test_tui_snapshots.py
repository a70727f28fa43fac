"""Snapshot tests of the TUI over the deterministic fixture world (no tmux, no processes, frozen clock).

Each test renders one of ``cockpit.tui.screenshots.SCENES``, the same scenes the README
screenshots are made from. Update the baselines with ``pytest --snapshot-update`` after
checking the report's diff.
"""

from __future__ import annotations

from cockpit.tui.screenshots import scene


def compare(snap_compare, name: str) -> bool:
    item = scene(name)
    return snap_compare(item.app(), terminal_size=item.size, run_before=item.prepare)


def test_main_screen_shows_fleet_preview_and_journal_at_120x40(snap_compare):
    """Header health, the agents table with worst findings, the selected pane, the journal with evidence."""
    assert compare(snap_compare, "main")


def test_help_lists_every_key_as_bound(snap_compare):
    assert compare(snap_compare, "help")


def test_respawn_confirm_names_the_agent_and_the_exact_command(snap_compare):
    assert compare(snap_compare, "confirm-respawn")


def test_read_only_dims_respawn_and_explains_instead_of_acting(snap_compare):
    assert compare(snap_compare, "read-only")


def test_narrow_80x24_layout_hides_the_preview_without_overflow(snap_compare):
    assert compare(snap_compare, "narrow-80x24")


def test_sessions_tab_puts_each_agents_record_next_to_its_disk_truth_with_the_evidence(snap_compare):
    """Seed #3: record id and last turn | disk id, source and last turn; stale, unknown and ambiguous marked."""
    assert compare(snap_compare, "sessions")


def test_repoint_confirm_shows_record_and_disk_with_their_last_turns(snap_compare):
    assert compare(snap_compare, "confirm-repoint")


def test_zombies_tab_lists_every_wrapper_and_the_selected_ones_tree_and_result_line(snap_compare):
    """Seed #9: running, finished, zombie (after its result, or orphaned) and reaped wrappers."""
    assert compare(snap_compare, "zombies")


def test_reap_confirm_names_the_wrapper_its_pid_and_its_result(snap_compare):
    assert compare(snap_compare, "confirm-reap")


def test_blocks_tab_shows_blocks_newest_first_and_the_selected_blocks_stack(snap_compare):
    """Seed #7: culprit and stack on select; the loop-lag sparkline in the header."""
    assert compare(snap_compare, "blocks")


def test_reminders_tab_shows_each_reminders_delivery_state_and_the_selected_ones_evidence(snap_compare):
    """Seed #6: delivered with its latency, missed after its retries with what the agent showed, waiting and why."""
    assert compare(snap_compare, "reminders")


def test_reminder_form_shows_an_invalid_duration_inline(snap_compare):
    """n opens the form; a bad duration is named under the fields, never a traceback."""
    assert compare(snap_compare, "reminder-form")



def test_agent_detail_shows_each_finding_with_its_evidence_the_cli_and_the_fleets_canary(snap_compare):
    """d: reviewer's fold with both turns quoted, its CLI and the promotion it came from, the failing canary."""
    assert compare(snap_compare, "agent-detail")


def test_conversation_view_shows_prompts_tool_calls_and_markdown_replies(snap_compare):
    """c (SPEC §11): the selected agent's last turns, newest at the bottom, the unreadable lines counted."""
    assert compare(snap_compare, "conversation")
