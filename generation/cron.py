"""Cron expressions in an IANA time zone: validation and due times, right across DST.

Due times are computed on the zone's wall clock (09:00 New York stays 09:00 New York
whatever the UTC offset) and turned into UTC instants one by one:

- a local time that occurs twice (the hour repeated when clocks go back) runs once, at its
  first occurrence;
- a local time that does not exist (the hour skipped when clocks go forward) runs once, at
  the instant the clock jumps (02:30 on the spring-forward day runs at 03:00 daylight time),
  like Vixie cron; several skipped times collapse into that one instant.

Pure functions, no ORM: the scheduler, the admin and the commands share them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import croniter
from croniter.croniter import CroniterError

from generation.exceptions import InvalidRequest

MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
# croniter's R (random) and H (hashed) fields differ between processes: every scheduler
# must compute the same due times, so they are refused. Words (THU, MAR) are fine.
_NONDETERMINISTIC = re.compile(r"\b[RH]\b", re.IGNORECASE)
# The widest DST shift in tzdata is 2 hours (Troll, Antarctica): a margin above it.
_SHIFT_MARGIN = timedelta(hours=3)
# Leap-day schedules (0 9 29 2 *) match once in 4 years, sometimes 8 (2096 -> 2104).
_MAX_YEARS_BETWEEN = 9
WEEKDAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_PRESET = re.compile(r"^(\d{1,2}) (\d{1,2}) \* \* (\*|[0-7])$")


def cron_validate(expression: str) -> str:
    """The expression with its spaces normalised, or InvalidRequest saying what is wrong."""
    text = " ".join((expression or "").split())
    if not text:
        raise InvalidRequest("Cron expression is empty: five fields, e.g. '0 9 * * *'.")
    if text.startswith("@"):
        if text.lower() not in MACROS:
            raise InvalidRequest(f"Unknown cron macro {text!r}: one of {', '.join(MACROS)}.")
        return text.lower()
    fields = text.split(" ")
    if len(fields) != 5:
        raise InvalidRequest(
            f"Invalid cron expression {text!r}: it needs 5 fields (minute hour day month "
            f"weekday), got {len(fields)}."
        )
    if _NONDETERMINISTIC.search(text):
        raise InvalidRequest(f"Invalid cron expression {text!r}: R and H fields are not allowed.")
    try:
        croniter(text, datetime(2000, 1, 1), max_years_between_matches=_MAX_YEARS_BETWEEN).get_next(
            datetime
        )
    except CroniterError as exc:
        reason = "it never occurs" if "find next date" in str(exc) else _croniter_reason(exc)
        raise InvalidRequest(f"Invalid cron expression {text!r}: {reason}.") from None
    return text


def _croniter_reason(exc: Exception) -> str:
    return "a field is out of range" if "out of range" in str(exc) else "a field is not understood"


def zone_validate(name: str) -> ZoneInfo:
    """The IANA zone called `name`, or InvalidRequest naming it."""
    name = (name or "").strip()
    if name not in _zone_names():
        raise InvalidRequest(
            f"Unknown time zone {name!r}: use an IANA name such as America/New_York or UTC."
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidRequest(f"Unknown time zone {name!r}.") from None


@functools.cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones() | {"UTC"})


def local_to_utc(naive: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant a wall-clock time stands for: doubled times their first instant,
    skipped times the instant the clock jumps over them."""
    instant = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == naive:
        return instant
    # In a gap fold=0 reads the time with the offset before the jump (later in UTC) and
    # fold=1 with the one after (earlier): the jump lies between the two.
    return _jump_between(naive.replace(tzinfo=zone, fold=1).astimezone(UTC), instant, zone)


def _jump_between(early: datetime, late: datetime, zone: ZoneInfo) -> datetime:
    low, high = int(early.timestamp()), int(late.timestamp())
    before = _offset_at(low, zone)
    while high - low > 1:
        middle = (low + high) // 2
        if _offset_at(middle, zone) == before:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


def _offset_at(timestamp: int, zone: ZoneInfo) -> timedelta | None:
    return datetime.fromtimestamp(timestamp, zone).utcoffset()


def _naive_local(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def occurrences_after(expression: str, zone: ZoneInfo, after: datetime) -> Iterator[datetime]:
    """Due instants (UTC, ascending, each once) strictly after `after`."""
    start = _naive_local(after, zone) - _SHIFT_MARGIN
    walk = croniter(expression, start, max_years_between_matches=_MAX_YEARS_BETWEEN)
    last = after
    while True:
        try:
            instant = local_to_utc(walk.get_next(datetime), zone)
        except CroniterError:
            return
        if instant > last:
            last = instant
            yield instant


def occurrences_until(expression: str, zone: ZoneInfo, until: datetime) -> Iterator[datetime]:
    """Due instants (UTC, descending, each once) at or before `until`."""
    start = _naive_local(until, zone) + _SHIFT_MARGIN
    walk = croniter(expression, start, max_years_between_matches=_MAX_YEARS_BETWEEN)
    last: datetime | None = None
    while True:
        try:
            instant = local_to_utc(walk.get_prev(datetime), zone)
        except CroniterError:
            return
        if instant <= until and (last is None or instant < last):
            last = instant
            yield instant


def occurrence_next(expression: str, zone: ZoneInfo, after: datetime) -> datetime | None:
    return next(occurrences_after(expression, zone, after), None)


def occurrence_latest(expression: str, zone: ZoneInfo, until: datetime) -> datetime | None:
    return next(occurrences_until(expression, zone, until), None)


# --- Presets: the admin form's "daily at" / "weekly on" ---------------------------------------


def cron_daily(at: time) -> str:
    return f"{at.minute} {at.hour} * * *"


def cron_weekly(at: time, weekday: int) -> str:
    """`weekday` in cron numbering: 0 Sunday .. 6 Saturday."""
    return f"{at.minute} {at.hour} * * {weekday}"


def cron_preset(expression: str) -> tuple[str, time, int | None] | None:
    """("daily", 09:00, None) or ("weekly", 06:00, 1) when the expression is one of the
    presets, else None."""
    match = _PRESET.match(" ".join((expression or "").split()))
    if not match:
        return None
    minute, hour, weekday = int(match[1]), int(match[2]), match[3]
    if minute > 59 or hour > 23:
        return None
    if weekday == "*":
        return ("daily", time(hour, minute), None)
    return ("weekly", time(hour, minute), int(weekday) % 7)


def cron_describe(expression: str) -> str:
    """'daily at 09:00', 'Mondays at 06:00', else the expression itself."""
    preset = cron_preset(expression)
    if preset is None:
        return expression
    kind, at, weekday = preset
    if kind == "daily":
        return f"daily at {at:%H:%M}"
    assert weekday is not None  # a weekly preset has its day
    return f"{WEEKDAYS[weekday]}s at {at:%H:%M}"
