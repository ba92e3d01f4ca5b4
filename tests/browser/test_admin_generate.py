"""The "Generate posts" button, in a real browser: log in, generate, see the runs."""

from __future__ import annotations

import re
from pathlib import Path

import django_rq
import pytest
from django.conf import settings

from generation.models import GenerationRun, Origin, RunStatus
from generation.queues import job_id_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "editor-password-1"


@pytest.fixture
def editor(django_user_model):
    return django_user_model.objects.create_superuser(
        username="editor", email="editor@example.com", password=PASSWORD
    )


def test_generate_posts_from_the_post_list(live_server, page, editor):
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/admin/login/?next=/admin/blog/post/")
    page.fill("#id_username", editor.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page).to_have_url(re.compile(r"/admin/blog/post/$"))

    page.get_by_role("link", name="Generate posts").click()
    expect(page.locator("h1")).to_have_text("Generate posts")
    page.fill("#id_count", "2")
    page.fill("#id_topic", "LLM optimization")
    page.screenshot(path=str(Path(settings.LOG_DIR) / "admin-generate-form.png"), full_page=True)
    page.get_by_role("button", name="Queue posts").click()

    expect(page).to_have_url(re.compile(r"/admin/generation/generationrun/$"))
    expect(page.locator(".messagelist .success")).to_contain_text("2 posts queued for generation")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first.locator(".field-topic_label")).to_have_text("LLM optimization")
    expect(rows.first.locator(".run-badge")).to_have_text("Queued")
    expect(page.locator("#run-live")).to_be_visible()  # polling: the runs are in flight

    screenshot = Path(settings.LOG_DIR) / "admin-generate.png"
    page.screenshot(path=str(screenshot), full_page=True)

    runs = list(GenerationRun.objects.order_by("pk"))
    assert [(r.topic, r.origin, r.status) for r in runs] == [
        ("LLM optimization", Origin.ADMIN, RunStatus.QUEUED)
    ] * 2
    assert sorted(django_rq.get_queue("content").job_ids) == sorted(job_id_for(r.pk) for r in runs)


def _log_in(page, live_server, user, next_url: str) -> None:
    page.goto(f"{live_server.url}/admin/login/?next={next_url}")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")


def test_run_list_updates_in_place_while_runs_are_in_flight(live_server, page, editor):
    from playwright.sync_api import expect

    run = GenerationRun.objects.create(author=editor, topic="Vector databases")
    _log_in(page, live_server, editor, "/admin/generation/generationrun/")
    badge = page.locator(f'.run-badge[data-run-id="{run.pk}"]')
    expect(badge).to_have_text("Queued")

    GenerationRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, stage="sections", attempts=2, cost_usd="0.0042"
    )
    expect(badge).to_have_text("Running")
    row = page.locator("#result_list tbody tr", has=badge)
    expect(row.locator(".field-run_stage")).to_have_text("Sections")
    expect(row.locator(".field-attempt")).to_have_text("2/4")
    expect(row.locator(".field-cost")).to_have_text("$0.0042")  # tokens: on the run's page

    GenerationRun.objects.filter(pk=run.pk).update(status=RunStatus.FAILED)
    expect(badge).to_have_text("Failed")
    expect(page.locator("#run-live")).to_have_text("All shown runs have finished.")
