"""The run list in a real browser at 1280 px: Post and Cost on screen, daily table live."""

from __future__ import annotations

from decimal import Decimal

import pytest

from generation.models import GenerationRun, RunStatus
from tests.browser.test_admin_generate import _log_in, editor  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_post_and_cost_columns_fit_a_1280_px_screen(live_server, page, editor):  # noqa: F811
    from blog.models import Post

    post = Post.objects.create(
        title="A rather long post title that goes on and on about queues",
        slug="long",
        body="x",
        author=editor,
    )
    GenerationRun.objects.create(
        author=editor,
        topic="A long topic about Redis job queues and their retries",
        status=RunStatus.SUCCEEDED,
        post=post,
        cost_usd=Decimal("0.0123"),
    )
    page.set_viewport_size({"width": 1280, "height": 800})
    _log_in(page, live_server, editor, "/admin/generation/generationrun/")
    page.wait_for_selector("#result_list td.field-cost")
    visible = page.evaluate(
        "document.querySelector('#changelist .results').getBoundingClientRect().right"
    )
    for column in ("post_links", "cost"):
        cell = page.locator(f"#result_list td.field-{column}").first
        box = cell.bounding_box()
        assert box["x"] + box["width"] <= visible, f"{column} is cut off at 1280 px"
    assert page.locator("td.field-cost").first.inner_text() == "$0.0123"


def test_the_daily_table_follows_the_runs(live_server, page, editor):  # noqa: F811
    from playwright.sync_api import expect

    run = GenerationRun.objects.create(author=editor, topic="Redis", status=RunStatus.RUNNING)
    _log_in(page, live_server, editor, "/admin/generation/generationrun/")
    tokens = page.locator("#usage-by-day tbody tr").first.locator("td").nth(2)
    expect(tokens).to_have_text("0")
    GenerationRun.objects.filter(pk=run.pk).update(
        status=RunStatus.SUCCEEDED, prompt_tokens=7000, completion_tokens=466
    )
    expect(tokens).to_have_text("7,466")
