"""The review loop, walked by an editor in a real browser: queue two posts, open the
review queue, follow a citation to its passage, regenerate a section, accept it, see the
diff, approve, and read the public page's disclosure."""

from __future__ import annotations

import re

import pytest

from blog.models import Post
from generation.models import GenerationRun, RunStatus
from tests.workers import FAST, running_worker, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.workers, pytest.mark.django_db(transaction=True)]

PASSWORD = "editor-password-1"


@pytest.fixture
def editor(django_user_model):
    return django_user_model.objects.create_superuser(
        username="editor", email="editor@example.com", password=PASSWORD
    )


def _axe_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page).response
    return [
        f"{v['id']}: {[(n['target'], n['failureSummary'][-160:]) for n in v['nodes']][:3]}"
        for v in results["violations"]
    ]


def test_an_editor_walks_the_review_loop(live_server, page, editor, worker_env):
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/admin/login/?next=/admin/blog/post/")
    page.fill("#id_username", editor.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.get_by_role("link", name="Generate posts").click()
    page.fill("#id_count", "2")
    page.fill("#id_topic", "LLM optimization")
    page.get_by_role("button", name="Queue posts").click()
    expect(page.locator(".messagelist .success")).to_contain_text("2 posts queued for generation")

    with running_worker({**worker_env, **FAST}):
        wait_for(
            lambda: GenerationRun.objects.filter(status=RunStatus.SUCCEEDED).count() == 2,
            timeout=120,
        )
        page.goto(f"{live_server.url}/admin/")
        page.get_by_role("link", name="2 posts awaiting review").click()
        rows = page.locator("#result_list tbody tr")
        expect(rows).to_have_count(2)
        rows.first.locator("a", has_text="Review").click()
        expect(page).to_have_url(re.compile(r"/admin/blog/post/\d+/review/$"))
        post = Post.objects.get(pk=int(re.search(r"/post/(\d+)/review/", page.url).group(1)))

        # Keyboard: focus the first citation in the post and press Enter.
        citation = page.locator(".review-body a.claim-link").first
        citation.focus()
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"#claim-1$"))
        passage = page.locator("#claim-1")
        expect(passage).to_be_visible()
        expect(passage.locator("mark").first).to_be_visible()
        expect(page.locator("#claim-2")).to_be_hidden()
        assert _axe_violations(page) == []

        page.select_option("#redo-section", index=1)
        page.get_by_role("button", name="Regenerate this section").click()
        expect(page.locator(".messagelist .success")).to_contain_text("Queued")
        wait_for(lambda: post.revisions.filter(proposed=True).exists(), timeout=60)

    page.reload()
    page.get_by_role("link", name="See the differences").click()
    expect(page.locator("table.diff")).to_be_visible()
    page.go_back()
    page.get_by_role("button", name="Accept").click()
    expect(page.locator(".messagelist .success")).to_contain_text("Accepted")
    page.get_by_role("link", name="Revisions and differences").click()
    expect(page.locator(".revision-compare tbody tr").first).to_contain_text("Section redo")
    page.get_by_role("button", name="Show the differences").click()
    expect(page.locator("table.diff")).to_be_visible()

    page.goto(f"{live_server.url}/admin/blog/post/{post.pk}/review/")
    page.get_by_role("button", name="Approve and publish").click()
    expect(page.locator(".messagelist .success")).to_contain_text("Approved and published")
    post.refresh_from_db()
    assert post.status == Post.Status.PUBLISHED and post.reviewed_by == editor

    page.goto(f"{live_server.url}{post.get_absolute_url()}")
    expect(page.locator(".disclosure")).to_contain_text(
        f"Researched and drafted with AI from {post.sources.count()} sources; reviewed by editor on"
    )
