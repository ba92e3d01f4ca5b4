"""Every admin door that makes runs refuses with a message, never a 500: here with today's
budget spent (BudgetExceeded), on each admin action and the "Generate posts" page."""

from __future__ import annotations

import html
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from generation.models import GenerationRun, RunSpend, RunStatus, ScheduleOccurrence
from generation.runs.refusals import refused
from tests.factories import make_category, make_post, make_schedule
from tests.generation.test_admin import GENERATE_URL, _form

pytestmark = pytest.mark.django_db

REFUSAL = "has reached the daily budget $0.50 (GENERATION_DAILY_BUDGET_USD)"


@pytest.fixture
def spent(settings, author) -> GenerationRun:
    """A budget of $0.50 and a run that spent $0.60 today: the only run there is."""
    settings.GENERATION_DAILY_BUDGET_USD = Decimal("0.50")
    run = GenerationRun.objects.create(
        author=author, topic="Redis", status=RunStatus.SUCCEEDED, cost_usd=Decimal("0.6")
    )
    RunSpend.objects.create(
        run=run, attempt=1, day=timezone.localdate(), cost_usd=Decimal("0.6"), calls=1
    )
    return run


def text(response) -> str:
    return html.unescape(response.content.decode())


def confirm(client: Client, url: str, name: str, objects) -> str:
    """Post an action's intermediate page, confirmed, and return what the user sees."""
    data = {"action": name, "_selected_action": [o.pk for o in objects], "count": "2"}
    response = client.post(url, {**data, "_generate": "1"}, follow=True)
    assert response.status_code == 200
    return text(response)


@pytest.mark.parametrize(
    ("url", "name", "make"),
    [
        ("/admin/blog/category/", "generate_in_categories", lambda: make_category("Redis")),
        ("/admin/blog/post/", "generate_followups", lambda: make_post("Why VACUUM matters")),
    ],
)
def test_the_generate_actions_show_the_budget_refusal_and_make_nothing(
    spent, admin_client_, url, name, make
):
    page = confirm(admin_client_, url, name, [make()])
    assert REFUSAL in page
    assert 'name="count"' in page  # the same intermediate page, with the refusal on it
    assert list(GenerationRun.objects.all()) == [spent]


def test_the_generate_posts_page_shows_the_budget_refusal(spent, admin_client_):
    response = admin_client_.post(GENERATE_URL, _form())
    assert response.status_code == 200 and REFUSAL in text(response)
    assert list(GenerationRun.objects.all()) == [spent]


def test_run_now_on_a_schedule_shows_the_budget_refusal(spent, admin_client_, admin_user):
    schedule = make_schedule("daily", author=admin_user)
    data = {"action": "run_now", "_selected_action": [schedule.pk]}
    page = text(admin_client_.post("/admin/generation/generationschedule/", data, follow=True))
    assert f"Daily: Today's estimated spend $0.6000 {REFUSAL}" in page
    assert list(GenerationRun.objects.all()) == [spent]
    assert ScheduleOccurrence.objects.get().outcome == "skipped_budget"


def test_retrying_a_failed_run_with_the_budget_spent_queues_it_to_wait(
    spent, admin_client_, author, django_capture_on_commit_callbacks
):
    """A retry is no new run: it goes back to the queue, where it waits for the budget
    (its job checks before an attempt); the action answers with a message, not a 500."""
    failed = GenerationRun.objects.create(author=author, topic="Redis", status=RunStatus.FAILED)
    data = {"action": "retry_failed", "_selected_action": [failed.pk]}
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post("/admin/generation/generationrun/", data, follow=True)
    assert response.status_code == 200
    assert "1 failed run queued again." in text(response)


def test_the_refusal_helper_hands_on_the_line_and_lets_bugs_through():
    from generation.exceptions import BudgetExceeded, QueueUnavailable

    said: list[str] = []
    with refused(said.append) as refusal:
        raise BudgetExceeded("Today's budget is spent.")
    assert refusal and refusal.message == "Today's budget is spent." and said == [refusal.message]
    with refused(said.append) as refusal:
        pass
    assert not refusal
    with pytest.raises(ZeroDivisionError), refused(said.append):
        1 / 0  # noqa: B018
    with refused(said.append):
        raise QueueUnavailable("Redis is unreachable.")
    assert said[-1] == "Redis is unreachable."
