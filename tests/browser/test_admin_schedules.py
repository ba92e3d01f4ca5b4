"""The schedule form in a real browser: presets show their fields, a save shows the next
occurrence in the schedule's zone and in UTC."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

from generation.models import GenerationSchedule

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "editor-password-1"


@pytest.fixture
def editor(django_user_model):
    return django_user_model.objects.create_superuser(
        username="editor", email="editor@example.com", password=PASSWORD
    )


def test_presets_show_their_fields_and_a_saved_schedule_shows_its_next_run(
    live_server, page, editor
):
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/admin/login/?next=/admin/generation/generationschedule/add/")
    page.fill("#id_username", editor.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("h1")).to_have_text("Add generation schedule")

    expect(page.locator("#id_at")).to_be_visible()  # Daily: a time, no day, no expression
    expect(page.locator("#id_weekday")).to_be_hidden()
    expect(page.locator("#id_cron")).to_be_hidden()
    page.select_option("#id_frequency", "custom")
    expect(page.locator("#id_cron")).to_be_visible()
    expect(page.locator("#id_at")).to_be_hidden()
    page.select_option("#id_frequency", "weekly")
    expect(page.locator("#id_weekday")).to_be_visible()

    page.fill("#id_name", "monday-digest")
    page.fill("#id_at", "06:00")
    page.select_option("#id_weekday", "1")
    page.fill("#id_timezone", "America/New_York")
    page.fill("#id_count", "5")
    page.check("#id_publish")
    page.select_option("#id_author", str(editor.pk))
    page.screenshot(path=str(Path(settings.LOG_DIR) / "admin-schedule-form.png"), full_page=True)
    page.get_by_role("button", name="Save and continue editing").click()

    expect(page.locator(".messagelist .success")).to_contain_text("was added successfully")
    next_run = page.locator(".field-next_occurrence .readonly")
    expect(next_run).to_contain_text(re.compile(r"06:00 E[SD]T"))
    expect(next_run).to_contain_text(re.compile(r"(10|11):00 UTC"))
    page.screenshot(path=str(Path(settings.LOG_DIR) / "admin-schedule.png"), full_page=True)

    page.goto(f"{live_server.url}/admin/generation/generationschedule/")
    row = page.locator("#result_list tbody tr", has_text="monday-digest")
    expect(row.locator(".field-timing")).to_have_text("Mondays at 06:00")
    expect(row.locator(".field-request_label")).to_have_text("5 posts, published")
    page.screenshot(path=str(Path(settings.LOG_DIR) / "admin-schedules.png"), full_page=True)
    schedule = GenerationSchedule.objects.get(name="monday-digest")
    assert (schedule.cron, schedule.count, schedule.publish) == ("0 6 * * 1", 5, True)
