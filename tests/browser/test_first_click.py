"""The first "Generate posts" click: the message links the run, and the post (a draft, as
the form's Publish box is unticked) as soon as it is written."""

from __future__ import annotations

import pytest

from generation.models import GenerationRun, RunStatus
from tests.browser.test_admin_generate import _log_in, editor  # noqa: F401 (fixture)
from tests.factories import make_post

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_message_links_the_run_then_its_post(live_server, page, editor):  # noqa: F811
    from playwright.sync_api import expect

    _log_in(page, live_server, editor, "/admin/generation/generate/")
    page.fill("#id_topic", "Redis and job queues")
    page.get_by_role("button", name="Queue posts").click()
    message = page.locator(".messagelist .success")
    run = GenerationRun.objects.get()
    expect(message.get_by_role("link", name=f"run {run.pk}")).to_be_visible()

    title = "Redis and job queues: a first look"
    post = make_post(title, author=editor, status="draft")
    GenerationRun.objects.filter(pk=run.pk).update(status=RunStatus.SUCCEEDED, post=post)
    expect(message).to_contain_text(f"run {run.pk}: post {title} (draft)")
    link = message.get_by_role("link", name=title)
    expect(link).to_have_attribute("href", f"/admin/blog/post/{post.pk}/change/")
