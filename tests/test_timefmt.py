"""The one time module: one ISO formatter, one parser (naive = UTC, numbers accepted), one age."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from hypothesis import given, strategies as st

from cockpit import timefmt
from cockpit.lifecycle import event_from_row

NAIVE = "2025-01-02T03:04:05"
NAIVE_EPOCH = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc).timestamp()


@pytest.fixture
def tokyo(monkeypatch):
    """The machine's zone is nine hours off UTC: a naive string read as local would be nine hours off."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_a_naive_registry_timestamp_is_utc_for_the_lifecycle_not_the_local_zone(tokyo):
    event = event_from_row({"ts": NAIVE, "event": "spawned", "agent": "tabs", "spawn_id": "s1",
                            "pid": 10, "start": "1"})
    assert event is not None and event.at == NAIVE_EPOCH


def test_naive_z_and_offset_strings_name_the_same_instant(tokyo):
    assert timefmt.parse(NAIVE) == timefmt.parse(NAIVE + "Z") == timefmt.parse("2025-01-02T12:04:05+09:00") \
        == NAIVE_EPOCH


def test_numbers_are_seconds_or_milliseconds():
    assert timefmt.parse(NAIVE_EPOCH) == NAIVE_EPOCH
    assert timefmt.parse(int(NAIVE_EPOCH * 1000)) == NAIVE_EPOCH
    assert timefmt.parse(0) == 0.0


@pytest.mark.parametrize("value", [None, True, False, "", "yesterday", "2025-13-01T00:00:00", float("nan"),
                                   float("inf"), "9" * 41, [], {}])
def test_what_cannot_be_dated_is_none(value):
    assert timefmt.parse(value) is None


def test_iso_writes_utc_with_or_without_milliseconds(tokyo):
    assert timefmt.iso(NAIVE_EPOCH + 0.678) == "2025-01-02T03:04:05.678Z"
    assert timefmt.iso(NAIVE_EPOCH + 0.678, ms=False) == "2025-01-02T03:04:05Z"
    assert timefmt.iso(None) is None and timefmt.iso(float("nan")) is None and timefmt.iso(1e300) is None


def test_people_read_utc_clock_times_and_stamps(tokyo):
    assert timefmt.clock_time(NAIVE_EPOCH) == "03:04:05"
    assert timefmt.stamp(NAIVE_EPOCH) == "2025-01-02 03:04:05Z"
    assert timefmt.compact(NAIVE_EPOCH) == "20250102T030405Z"
    assert timefmt.local(NAIVE_EPOCH) == "2025-01-02 12:04:05"  # the operator's own zone, for their eyes only
    assert timefmt.clock_time(None) == timefmt.stamp(None) == "-"


@pytest.mark.parametrize("seconds,shown", [(None, "-"), (-5, "0s"), (0, "0s"), (59.9, "59s"), (60, "1m"),
                                           (3599, "59m"), (3600, "1h"), (86399, "23h"), (86400, "1d"),
                                           (float("nan"), "-")])
def test_age_says_how_long_in_whole_units(seconds, shown):
    assert timefmt.age(seconds) == shown


@given(st.floats(min_value=0, max_value=4e9, allow_nan=False))
def test_what_iso_writes_parse_reads_back(epoch):
    assert timefmt.parse(timefmt.iso(epoch)) == pytest.approx(epoch, abs=0.001)


@given(st.one_of(st.text(max_size=50), st.integers(), st.floats(), st.none(), st.booleans()))
def test_parse_never_raises(value):
    result = timefmt.parse(value)
    assert result is None or isinstance(result, float)


def test_a_remote_agents_row_says_how_old_its_last_report_is():
    """SPEC §9: an unreachable host's agents keep their last state, with its age (timefmt.age)."""
    from dataclasses import replace

    from cockpit.tui.fixture import AGENTS, AT
    from cockpit.tui.tabs.agents import agent_cells

    cells = agent_cells(replace(AGENTS[0], host="h1", last_seen_at=AT - 125), None, AT)
    assert any(cell.plain.endswith(" 2m") for cell in cells)
