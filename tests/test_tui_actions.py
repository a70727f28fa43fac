"""The operator's actions as one table: bindings, palette, read-only refusals all come from its rows."""

from __future__ import annotations

from textual.binding import Binding

from cockpit.tui.actions import ACTION_LIST, ACTIONS, Target, bindings
from cockpit.tui.app import CockpitApp, TuiSettings
from cockpit.tui.fixture import FixtureSupervisor, fixture_config
from cockpit.tui.tabs import TABS


def test_every_keyed_row_is_one_binding_with_its_id_label_and_tooltip():
    made = {b.id: b for b in bindings()}
    keyed = [a for a in ACTION_LIST if a.key is not None]
    assert list(made) == [a.id for a in keyed]  # footer order is table order
    for action in keyed:
        binding = made[action.id]
        assert isinstance(binding, Binding) and binding.key == action.key
        assert binding.description == action.label and binding.tooltip == action.tooltip
    assert [b.id for b in CockpitApp.BINDINGS] == list(made)


def test_each_tab_is_a_row_bound_to_its_key():
    for tab in TABS:
        row = ACTIONS[tab.binding_id()]
        assert row.key == tab.KEY and row.label == tab.LABEL


def test_a_read_only_cockpit_refuses_every_mutating_row_with_a_reason_and_no_other():
    app = CockpitApp(TuiSettings(fixture_config(), read_only=True), FixtureSupervisor(read_only=True))
    for action in ACTION_LIST:
        reason = app.why_not(action, Target(agent="tabs"))
        if action.mutating:
            assert reason is not None and "read-only" in reason and action.verb in reason
        else:
            assert reason is None or "read-only" not in reason


def test_every_palette_entry_formats_with_the_fields_of_what_it_repeats_over():
    fields = {"agent": {"name": "tabs"}, "wrapper": {"name": "w", "pid": 1, "state": "zombie"},
              "reminder": {"id": "r-1", "verb": "wake", "agent": "tabs", "text": "hi"}, "app": {}}
    for action in ACTION_LIST:
        for entry in action.palette:
            assert entry.over in fields
            entry.text.format(**fields[entry.over])
            entry.help.format(**fields[entry.over])
