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
