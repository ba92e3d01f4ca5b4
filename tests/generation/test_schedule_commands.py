"""schedule_list, schedule_run, schedule_enable, schedule_disable: thin doors, one-line errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import django_rq
import pytest
from django.core.management import CommandError, call_command

from generation.models import GenerationRun, GenerationSchedule, Origin
from generation.queues import job_id_for
from generation.scheduling import service as scheduling
from tests.factories import make_schedule

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("seeded_schedules")]

NEW_YORK = ZoneInfo("America/New_York")


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def refused(*args: str) -> str:
    with pytest.raises(CommandError) as caught:
        run(*args)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_schedule_list_json_shows_next_in_zone_and_utc_and_the_last_outcome(author, settings):
    settings.GENERATION_DEFAULT_AUTHOR = author.username
    run("schedule_enable", "daily-blog-posts")
    daily = GenerationSchedule.objects.get(name="daily-blog-posts")
    daily.occurrences.create(
        due_at=datetime(2026, 3, 9, 13, tzinfo=UTC),
        outcome="skipped_overlap",
        message="Skipped: runs #7 of an earlier occurrence are still queued, running or retrying.",
        recorded_at=datetime(2026, 3, 9, 13, 0, 20, tzinfo=UTC),
    )
    before = datetime.now(UTC)
    rows = {row["name"]: row for row in json.loads(run("schedule_list", "--json"))}

    assert set(rows) == {"daily-blog-posts", "weekly-blog-posts"}
    row = rows["daily-blog-posts"]
    assert (row["cron"], row["description"], row["timezone"]) == (
        "0 9 * * *",
        "daily at 09:00",
        "America/New_York",
    )
    assert (row["enabled"], row["count"], row["publish"]) == (True, 2, True)
    next_utc = datetime.fromisoformat(row["next_utc"])
    assert before < next_utc <= before + timedelta(days=1)
    assert next_utc.astimezone(NEW_YORK).strftime("%H:%M") == "09:00"
    assert row["next_local"] == next_utc.astimezone(NEW_YORK).strftime("%Y-%m-%d 09:00 %Z")
    assert row["last_local"] == "2026-03-09 09:00 EDT"
    assert row["last_utc"] == "2026-03-09T13:00:00+00:00"
    assert row["last_outcome"] == "skipped_overlap"
    assert row["last_message"].startswith("Skipped: runs #7")
    weekly = rows["weekly-blog-posts"]
    assert weekly["enabled"] is False and weekly["next_utc"] is None
    assert weekly["description"] == "Mondays at 06:00" and weekly["last_outcome"] == ""


def test_schedule_list_table_has_every_column(author):
    make_schedule("every-weekday", cron="0 7 * * 1-5", timezone="Europe/Paris", author=author)
    table = run("schedule_list")
    for heading in ("Name", "Expression", "Zone", "Next (local)", "Next (UTC)", "Last run",
                    "Outcome", "Enabled"):  # fmt: skip
        assert heading in table
    rows = {cells[0]: cells for cells in map(_cells, table.splitlines()) if len(cells) == 8}
    _, expression, zone, next_local, next_utc, last, outcome, enabled = rows["every-weekday"]
    assert (expression, zone, enabled) == ("0 7 * * 1-5", "Europe/Paris", "yes")
    assert next_local.endswith(("07:00 CET", "07:00 CEST"))
    assert next_utc.endswith((" 06:00 UTC", " 05:00 UTC"))
    assert (last, outcome) == ("—", "—")
    daily = rows["daily-blog-posts"]
    assert daily[1] == "0 9 * * * (daily at 09:00)" and daily[-1] == "no"


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("│").split("│")] if "│" in line else []


def test_schedule_run_queues_one_occurrence_now_through_the_service(
    author, django_capture_on_commit_callbacks
):
    schedule = make_schedule("now", author=author, count=2, publish=True, enabled=False)
    with django_capture_on_commit_callbacks(execute=True):
        output = run("schedule_run", "now")
    occurrence = schedule.occurrences.get()
    runs = list(occurrence.runs.order_by("pk"))
    assert output.strip() == f"Schedule 'now': 2 run(s) queued: #{runs[0].pk}..#{runs[1].pk}."
    assert occurrence.trigger == "manual" and occurrence.outcome == "enqueued"
    assert {(r.origin, r.publish) for r in runs} == {(Origin.SCHEDULE, True)}
    assert sorted(django_rq.get_queue("content").job_ids) == sorted(job_id_for(r.pk) for r in runs)

    # Its runs are unfinished: the overlap rule refuses a second one, and says why.
    message = refused("schedule_run", "now")
    assert message == (
        f"Schedule 'now': Skipped: runs #{runs[0].pk}, #{runs[1].pk} of an earlier occurrence "
        "are still queued, running or retrying."
    )
    assert GenerationRun.objects.count() == 2


def test_enable_checks_the_schedule_and_disable_turns_it_off(author, settings):
    settings.GENERATION_DEFAULT_AUTHOR = ""
    assert refused("schedule_enable", "daily-blog-posts") == (
        "Schedule 'daily-blog-posts': no author: choose one, or set GENERATION_DEFAULT_AUTHOR."
    )
    settings.GENERATION_DEFAULT_AUTHOR = author.username
    assert run("schedule_enable", "daily-blog-posts").strip() == (
        "Schedule 'daily-blog-posts' is now enabled."
    )
    assert run("schedule_enable", "daily-blog-posts").strip() == (
        "Schedule 'daily-blog-posts' was already enabled."
    )
    assert GenerationSchedule.objects.get(name="daily-blog-posts").enabled
    assert run("schedule_disable", "daily-blog-posts").strip() == (
        "Schedule 'daily-blog-posts' is now disabled."
    )
    assert not GenerationSchedule.objects.get(name="daily-blog-posts").enabled


@pytest.mark.parametrize("command", ["schedule_run", "schedule_enable", "schedule_disable"])
def test_unknown_name_is_refused_naming_the_known_ones(command):
    assert refused(command, "nightly") == (
        "No schedule named 'nightly' (known: daily-blog-posts, weekly-blog-posts)."
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("cron", "0 25 * * *", "Invalid cron expression '0 25 * * *': a field is out of range."),
        ("timezone", "Mars/Olympus", "Unknown time zone 'Mars/Olympus'"),
        ("count", 500, "Count must be between 1 and 100 (GENERATION_MAX_BATCH), got 500."),
        ("count", 0, "Count must be between 1 and 100 (GENERATION_MAX_BATCH), got 0."),
    ],
)
def test_a_schedule_stored_with_bad_values_is_refused_by_the_commands(
    author, field, value, message
):
    schedule = make_schedule("broken", author=author, enabled=False)
    GenerationSchedule.objects.filter(pk=schedule.pk).update(**{field: value})  # past the form
    for command in ("schedule_run", "schedule_enable"):
        assert message in refused(command, "broken")
        assert refused(command, "broken").startswith("Schedule 'broken': ")
    assert not schedule.occurrences.exists() and not GenerationRun.objects.exists()
    if field != "count":
        row = next(r for r in json.loads(run("schedule_list", "--json")) if r["name"] == "broken")
        assert message in row["problem"]


def test_schedule_list_shows_the_last_run_and_its_outcome_after_a_tick(
    author, django_capture_on_commit_callbacks
):
    schedule = make_schedule(
        "ticked", author=author, effective_from=datetime(2026, 1, 1, tzinfo=UTC)
    )
    with django_capture_on_commit_callbacks(execute=True):
        scheduling.schedules_tick(now=datetime(2026, 1, 1, 9, 0, 40, tzinfo=UTC))
    row = next(r for r in json.loads(run("schedule_list", "--json")) if r["name"] == "ticked")
    assert (row["last_local"], row["last_outcome"]) == ("2026-01-01 09:00 UTC", "enqueued")
    assert row["last_message"] == f"1 run(s) queued: #{schedule.occurrences.get().runs.get().pk}."
