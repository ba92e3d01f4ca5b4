"""The first click's result is findable: the "queued" message links each run, and the
run list's live status fills in each post's link (draft or published) once written."""

from __future__ import annotations

import json

import pytest

from generation.models import GenerationRun
from tests.factories import make_post
from tests.generation.test_admin import GENERATE_URL, _form

pytestmark = pytest.mark.django_db


def test_the_queued_message_links_each_run(admin_client_, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(GENERATE_URL, _form(count="2"), follow=True)
    page = response.content.decode()
    runs = list(GenerationRun.objects.order_by("pk"))
    message = page[page.index('class="success"') :].split("</li>")[0]
    assert message.count("queued for generation") == 1
    for run in runs:
        assert (
            f'<a href="/admin/generation/generationrun/{run.pk}/change/">run {run.pk}</a>'
            in message
        )
        assert f'data-run-post="{run.pk}"' in message
    assert "in review, awaiting an editor" in message  # the form's Publish box was unticked


def test_the_live_status_says_where_the_post_went(admin_client_, admin_user):
    draft = make_post("A draft post", author=admin_user, status="draft")
    run = GenerationRun.objects.create(author=admin_user, status="succeeded", post=draft)
    data = json.loads(
        admin_client_.get("/admin/generation/runs/status.json", {"ids": run.pk}).content
    )
    (row,) = data["runs"]
    assert row["post_state"] == "draft"
    assert row["post_admin_url"] == f"/admin/blog/post/{draft.pk}/change/"
