"""Due times on a zone's wall clock: validation, presets, and DST (no database needed)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from generation import cron
from generation.exceptions import InvalidRequest

NEW_YORK = ZoneInfo("America/New_York")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "Cron expression is empty"),
        ("0 9 * *", "it needs 5 fields (minute hour day month weekday), got 4"),
        ("0 9 * * * 30", "it needs 5 fields"),
        ("61 9 * * *", "a field is out of range"),
        ("0 nine * * *", "a field is not understood"),
        ("0 9 31 2 *", "it never occurs"),
        ("R 9 * * *", "R and H fields are not allowed"),
        ("H 9 * * *", "R and H fields are not allowed"),
        ("@reboot", "Unknown cron macro '@reboot'"),
    ],
)
def test_invalid_cron_is_refused_in_one_line(expression, message):
    with pytest.raises(InvalidRequest) as caught:
        cron.cron_validate(expression)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("expression", "normalised"),
    [
        ("0  9 * *   *", "0 9 * * *"),
        ("0 6 * * MON", "0 6 * * MON"),
        ("0 9 * MAR THU", "0 9 * MAR THU"),  # day and month names are not R/H fields
        ("0 9 29 2 *", "0 9 29 2 *"),  # leap days do occur
        ("@DAILY", "@daily"),
    ],
)
def test_valid_cron_is_normalised(expression, normalised):
    assert cron.cron_validate(expression) == normalised


def test_unknown_zone_is_refused_and_iana_names_are_accepted():
    with pytest.raises(InvalidRequest, match="Unknown time zone 'Mars/Olympus'"):
        cron.zone_validate("Mars/Olympus")
    with pytest.raises(InvalidRequest, match="Unknown time zone"):
        cron.zone_validate("../../etc/passwd")
    assert cron.zone_validate("America/New_York") == NEW_YORK
    assert cron.zone_validate("UTC") == ZoneInfo("UTC")


def test_presets_round_trip_and_describe():
    assert cron.cron_daily(time(9, 0)) == "0 9 * * *"
    assert cron.cron_weekly(time(6, 0), 1) == "0 6 * * 1"
    assert cron.cron_preset("0 9 * * *") == ("daily", time(9, 0), None)
    assert cron.cron_preset("30 6 * * 7") == ("weekly", time(6, 30), 0)  # 7 is Sunday too
    assert cron.cron_preset("*/5 * * * *") is None
    assert cron.cron_describe("0 9 * * *") == "daily at 09:00"
    assert cron.cron_describe("0 6 * * 1") == "Mondays at 06:00"
    assert cron.cron_describe("0 9 1 * *") == "0 9 1 * *"


def test_nine_new_york_stays_nine_across_both_changes():
    march = list(islice(cron.occurrences_after("0 9 * * *", NEW_YORK, utc(2026, 3, 7)), 3))
    assert march == [utc(2026, 3, 7, 14), utc(2026, 3, 8, 13), utc(2026, 3, 9, 13)]
    november = list(islice(cron.occurrences_after("0 9 * * *", NEW_YORK, utc(2026, 10, 31)), 3))
    assert november == [utc(2026, 10, 31, 13), utc(2026, 11, 1, 14), utc(2026, 11, 2, 14)]


def test_skipped_local_time_runs_once_when_the_clock_jumps():
    # 2026-03-08 02:30 does not exist in New York: clocks go from 02:00 EST to 03:00 EDT.
    due = list(islice(cron.occurrences_after("30 2 * * *", NEW_YORK, utc(2026, 3, 7)), 3))
    assert due == [utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7, 0), utc(2026, 3, 9, 6, 30)]
    assert due[1].astimezone(NEW_YORK).strftime("%H:%M %Z") == "03:00 EDT"


def test_doubled_local_time_runs_once_at_its_first_instant():
    # 2026-11-01 01:30 happens twice in New York (EDT, then EST an hour later).
    due = list(islice(cron.occurrences_after("30 1 * * *", NEW_YORK, utc(2026, 10, 31)), 3))
    assert due == [utc(2026, 10, 31, 5, 30), utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]


def test_walking_back_from_inside_the_doubled_hour_finds_its_first_instance():
    # 06:40 UTC is 01:40 EST, the second 01:40 of the day; 01:30 EDT (05:30 UTC) came before.
    assert cron.occurrence_latest("30 1 * * *", NEW_YORK, utc(2026, 11, 1, 6, 40)) == utc(
        2026, 11, 1, 5, 30
    )
    assert cron.occurrence_latest("50 1 * * *", NEW_YORK, utc(2026, 11, 1, 6, 40)) == utc(
        2026, 11, 1, 5, 50
    )


def _brute_force(expression: str, zone: ZoneInfo, start: datetime, end: datetime) -> list:
    """Every wall-clock minute of the period that matches, as UTC instants, each once."""
    local = start.astimezone(zone).replace(tzinfo=None) - timedelta(hours=3)
    stop = end.astimezone(zone).replace(tzinfo=None) + timedelta(hours=3)
    instants = set()
    while local <= stop:
        if croniter.match(expression, local):
            instant = cron.local_to_utc(local, zone)
            if start < instant <= end:
                instants.add(instant)
        local += timedelta(minutes=1)
    return sorted(instants)


@pytest.mark.parametrize(
    "expression", ["*/15 * * * *", "0 * * * *", "30 2 * * *", "30 1 * * *", "45 1,2,3 * * *"]
)
@pytest.mark.parametrize("day", [utc(2026, 3, 8), utc(2026, 11, 1)])
def test_due_times_match_the_wall_clock_minute_by_minute(expression, day):
    start, end = day - timedelta(hours=12), day + timedelta(hours=24)
    expected = _brute_force(expression, NEW_YORK, start, end)
    forward = []
    for instant in cron.occurrences_after(expression, NEW_YORK, start):
        if instant > end:
            break
        forward.append(instant)
    backward = []
    for instant in cron.occurrences_until(expression, NEW_YORK, end):
        if instant <= start:
            break
        backward.append(instant)
    assert forward == expected
    assert backward == expected[::-1]
    assert len(set(forward)) == len(forward)
