"""The schedule admin: presets, validation in one line, times in the zone and UTC, history."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from generation.models import GenerationRun, GenerationSchedule
from generation.scheduling import service as scheduling
from tests.factories import make_schedule

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/generation/generationschedule/add/"
LIST_URL = "/admin/generation/generationschedule/"


def change_url(schedule) -> str:
    return f"/admin/generation/generationschedule/{schedule.pk}/change/"


def form(**overrides) -> dict:
    data = {
        "name": "morning-posts",
        "enabled": "on",
        "frequency": "daily",
        "at": "09:00",
        "weekday": "1",
        "cron": "",
        "timezone": "America/New_York",
        "count": "2",
        "publish": "on",
        "topic": "",
        "category": "",
        "author": "",
        "without_overlapping": "on",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def errors_of(response) -> str:
    errors = response.context["adminform"].form.errors.values()
    return " ".join(message for field in errors for message in field)


def test_daily_preset_saves_the_cron_expression(admin_client_, admin_user):
    before = timezone.now()
    response = admin_client_.post(ADD_URL, form(author=str(admin_user.pk)))
    assert response.status_code == 302, errors_of(response)
    schedule = GenerationSchedule.objects.get(name="morning-posts")
    assert (schedule.cron, schedule.timezone, schedule.count) == (
        "0 9 * * *",
        "America/New_York",
        2,
    )
    assert schedule.enabled and schedule.publish and schedule.without_overlapping
    assert schedule.effective_from >= before  # nothing owed from before it existed


def test_weekly_preset_and_custom_expression(admin_client_, admin_user):
    author = str(admin_user.pk)
    weekly = form(name="weekly", frequency="weekly", at="06:30", weekday="1", author=author)
    custom = form(name="custom", frequency="custom", cron="0  9 * * 1-5", author=author)
    assert admin_client_.post(ADD_URL, weekly).status_code == 302
    assert admin_client_.post(ADD_URL, custom).status_code == 302
    assert GenerationSchedule.objects.get(name="weekly").cron == "30 6 * * 1"
    assert GenerationSchedule.objects.get(name="custom").cron == "0 9 * * 1-5"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"frequency": "custom", "cron": "0 25 * * *"}, "a field is out of range"),
        ({"frequency": "custom", "cron": "0 9 * *"}, "it needs 5 fields"),
        ({"frequency": "custom", "cron": ""}, "Cron expression is empty"),
        ({"timezone": "Mars/Olympus"}, "Unknown time zone 'Mars/Olympus'"),
        ({"count": "0"}, "Count must be between 1 and 100 (GENERATION_MAX_BATCH), got 0."),
        ({"count": "101"}, "Count must be between 1 and 100 (GENERATION_MAX_BATCH), got 101."),
        ({"count": "-3"}, "Count must be between 1 and 100"),
        ({"at": ""}, "Give the time of day for a daily schedule."),
    ],
)
def test_bad_input_is_refused_in_one_line(admin_client_, admin_user, overrides, message):
    response = admin_client_.post(ADD_URL, form(author=str(admin_user.pk), **overrides))
    assert response.status_code == 200
    assert message in html.unescape(response.content.decode())
    assert message in errors_of(response)
    assert not GenerationSchedule.objects.filter(name="morning-posts").exists()


def test_no_author_and_no_default_author_is_refused(admin_client_, settings):
    settings.GENERATION_DEFAULT_AUTHOR = ""
    response = admin_client_.post(ADD_URL, form())
    assert "Choose an author: GENERATION_DEFAULT_AUTHOR is not set." in errors_of(response)
    settings.GENERATION_DEFAULT_AUTHOR = "editor"
    assert admin_client_.post(ADD_URL, form()).status_code == 302


@pytest.mark.usefixtures("seeded_schedules")
def test_seeded_schedules_are_listed_disabled_with_next_times_in_zone_and_utc(admin_client_):
    page = admin_client_.get(LIST_URL).content.decode()
    assert "daily-blog-posts" in page and "weekly-blog-posts" in page
    assert "daily at 09:00" in page and "Mondays at 06:00" in page
    assert "2 posts, published" in page and "5 posts, published" in page
    assert "UTC</span> (disabled)" in page
    daily = GenerationSchedule.objects.get(name="daily-blog-posts")
    detail = admin_client_.get(change_url(daily)).content.decode()
    assert '<option value="daily" selected>' in detail
    assert " EST" in detail or " EDT" in detail
    assert " UTC" in detail


def test_history_links_each_occurrence_to_its_runs(
    admin_client_, author, django_capture_on_commit_callbacks
):
    schedule = make_schedule(
        author=author, count=2, effective_from=datetime(2026, 1, 1, tzinfo=UTC)
    )
    with django_capture_on_commit_callbacks(execute=True):
        scheduling.schedules_tick(now=datetime(2026, 1, 1, 9, 5, tzinfo=UTC))
    occurrence = schedule.occurrences.get()
    runs = sorted(occurrence.runs.values_list("pk", flat=True))
    page = admin_client_.get(change_url(schedule)).content.decode()
    for run_id in runs:
        assert f'href="/admin/generation/generationrun/{run_id}/change/"' in page
    listing = f"/admin/generation/generationrun/?schedule_occurrence__id__exact={occurrence.pk}"
    assert f'href="{listing}"' in page
    assert "2026-01-01 09:00 UTC" in page and "Enqueued" in page and "5m 00s" in page
    filtered = admin_client_.get(listing)
    assert filtered.status_code == 200
    assert {r.pk for r in filtered.context["cl"].result_list} == set(runs)
    run_page = admin_client_.get(f"/admin/generation/generationrun/{runs[0]}/change/")
    assert f'href="{change_url(schedule)}"' in run_page.content.decode()


def test_retiming_in_the_admin_owes_nothing_from_before(admin_client_, admin_user):
    schedule = make_schedule(author=admin_user, effective_from=timezone.now() - timedelta(days=3))
    old_anchor = schedule.effective_from
    edit = form(name=schedule.name, frequency="daily", at="07:15", author=str(admin_user.pk))
    admin_client_.post(change_url(schedule), edit)
    schedule.refresh_from_db()
    assert schedule.cron == "15 7 * * *" and schedule.effective_from > old_anchor
    # Changing only the request keeps the anchor.
    anchor = schedule.effective_from
    admin_client_.post(change_url(schedule), {**edit, "count": "3"})
    schedule.refresh_from_db()
    assert schedule.count == 3 and schedule.effective_from == anchor


def test_enable_disable_and_run_now_actions(
    admin_client_, author, django_capture_on_commit_callbacks
):
    schedule = make_schedule(author=author, enabled=False, count=2)
    admin_client_.post(LIST_URL, {"action": "enable_selected", "_selected_action": [schedule.pk]})
    schedule.refresh_from_db()
    assert schedule.enabled
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(
            LIST_URL, {"action": "run_now", "_selected_action": [schedule.pk]}, follow=True
        )
    occurrence = schedule.occurrences.get()
    assert occurrence.trigger == "manual" and occurrence.runs.count() == 2
    assert f"{schedule.name}: 2 run(s) queued" in response.content.decode().lower()
    admin_client_.post(LIST_URL, {"action": "disable_selected", "_selected_action": [schedule.pk]})
    schedule.refresh_from_db()
    assert not schedule.enabled


def test_staff_who_may_only_view_cannot_edit_or_run(django_user_model, author):
    schedule = make_schedule(author=author, enabled=False)
    viewer = django_user_model.objects.create_user(
        username="viewer", password="viewer-password-1", is_staff=True
    )
    viewer.user_permissions.add(Permission.objects.get(codename="view_generationschedule"))
    client = Client()
    client.force_login(viewer)
    page = client.get(LIST_URL).content.decode()
    assert schedule.name in page
    assert "run_now" not in page and "enable_selected" not in page
    client.post(LIST_URL, {"action": "run_now", "_selected_action": [schedule.pk]})
    client.post(LIST_URL, {"action": "enable_selected", "_selected_action": [schedule.pk]})
    schedule.refresh_from_db()
    assert not schedule.enabled and not schedule.occurrences.exists()
    assert client.post(change_url(schedule), form(name=schedule.name)).status_code == 403
    assert not GenerationRun.objects.exists()
