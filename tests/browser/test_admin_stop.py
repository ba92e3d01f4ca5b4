"""Stopping a running generation from the admin, in a real browser, on a real worker: the
run ends canceled with its checkpoints, and "Retry" resumes without redoing finished stages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

from generation import service
from generation.models import GenerationRun, RunStatus
from tests.workers import FAST, running_worker, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.workers, pytest.mark.django_db(transaction=True)]

PASSWORD = "editor-password-1"
FINISHED_BEFORE_SECTIONS = ("topic_angle", "search_queries", "outline")


@pytest.fixture
def editor(django_user_model):
    return django_user_model.objects.create_superuser(
        username="editor", email="editor@example.com", password=PASSWORD
    )


def _run_action(page, run_id: int, action: str) -> None:
    page.check(f'input.action-select[value="{run_id}"]')
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")


@pytest.mark.llm_options(latency=0.3)
def test_stop_a_running_generation_from_the_admin_then_retry_resumes(
    live_server, page, editor, worker_env, standins
):
    from playwright.sync_api import expect

    (run,) = service.enqueue_posts(count=1, topic="LLM optimization", author=editor)
    standins.llm.inject(kind="section", delay=30, times=None)  # slow sections: mid-flight
    with running_worker({**worker_env, **FAST}):
        wait_for(
            lambda: GenerationRun.objects.filter(pk=run.pk, stage="sections").exists(), timeout=60
        )
        page.goto(f"{live_server.url}/admin/login/?next=/admin/generation/generationrun/")
        page.fill("#id_username", editor.username)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        expect(page).to_have_url(re.compile(r"/admin/generation/generationrun/$"))
        badge = page.locator(f'.run-badge[data-run-id="{run.pk}"]')
        expect(badge).to_have_text("Running")

        before = standins.llm.counts
        _run_action(page, run.pk, "stop_running")
        expect(page.locator(".messagelist .success")).to_contain_text("1 run stopped and canceled")
        expect(badge).to_have_text("Canceled")
        page.screenshot(path=str(Path(settings.LOG_DIR) / "admin-stop.png"), full_page=True)
        run.refresh_from_db()
        assert run.status == RunStatus.CANCELED
        assert {"topic", "research", "outline"} <= set(run.checkpoints)

        standins.llm.clear_faults()
        _run_action(page, run.pk, "retry_failed")
        expect(page.locator(".messagelist .success")).to_contain_text("queued again")
        expect(badge).to_have_text("Succeeded", timeout=90_000)
    after = standins.llm.counts
    for kind in FINISHED_BEFORE_SECTIONS:
        assert after[kind] == before[kind] >= 1, kind  # not asked again
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and run.post_id
    assert [e["kind"] for e in run.errors] == ["stopped"]


def test_pause_and_resume_from_the_overview(live_server, page, editor):
    from playwright.sync_api import expect

    from generation import health

    page.goto(f"{live_server.url}/admin/login/?next=/admin/generation/overview/")
    page.fill("#id_username", editor.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.fill("#pause-reason", "provider incident")
    page.get_by_role("button", name="Pause generation").click()
    expect(page.locator(".messagelist .warning")).to_contain_text("Paused")
    expect(page.locator("#overview-pause")).to_contain_text("provider incident")
    expect(page.locator("#overview-health")).to_contain_text("generation is paused")
    assert "by editor: provider incident" in health.check_paused().summary

    page.get_by_role("button", name="Resume generation").click()
    expect(page.locator(".messagelist .success")).to_contain_text("Resumed")
    expect(page.locator("#overview-pause")).to_contain_text("Running: workers take jobs.")
    assert health.check_paused().level == health.Level.OK
