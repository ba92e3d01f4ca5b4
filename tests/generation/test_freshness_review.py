"""Living posts, the editor's side: a post a re-read flagged is in the review queue as
"needs refresh" with its evidence, and the editor's answers (still correct, unpublish,
propose a refresh) are permission-checked and recorded on the verification."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from blog.models import Post
from generation import queues
from generation.models import GenerationRun, PostVerification, RunSpend, SourceCheck
from tests.factories import make_post, make_user
from tests.freshness_factories import flag_post

pytestmark = pytest.mark.django_db

OLD = "The cluster served 1,200 requests per second in the 2024 benchmark."
NEW = "The cluster now serves 950 requests per second after the 2026 revision."
SENTENCE = "The cluster served 1,200 requests per second [1]."
STORED = "Archived <b>passage</b> of the page & its figures."


def _flagged() -> tuple[Post, PostVerification]:
    post = make_post(
        "Serving throughput",
        body=f"Intro.\n\n## Figures\n\n{SENTENCE}\n\nMore [2].",
        sources=[
            {"number": 1, "title": "Bench page", "url": "https://bench.test/a"},
            {"number": 2, "title": "Old blog", "url": "https://old.test/b"},
        ],
    )
    post.sources.filter(number=2).update(passage=STORED)
    verification = flag_post(
        post,
        sources=[
            {
                "number": 1,
                "url": "https://bench.test/a",
                "verdict": SourceCheck.Verdict.PASSAGE_GONE,
                "http_status": 200,
                "new_text": NEW,
            },
            {
                "number": 2,
                "url": "https://old.test/b",
                "verdict": SourceCheck.Verdict.GONE,
                "http_status": 404,
            },
        ],
        claims=[{"source_number": 1, "sentence": SENTENCE, "old_passage": OLD, "new_passage": NEW}],
    )
    return post, verification


def _staff(*codenames: str):
    user = make_user(is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


def _review(post: Post) -> str:
    return reverse("admin:blog_post_review", args=[post.pk])


def test_a_flagged_post_is_in_the_queue_with_its_evidence_side_by_side(admin_client):
    post, _ = _flagged()
    make_post("Still fine")
    index = admin_client.get(reverse("admin:index")).content.decode()
    assert "1 post needs refresh" in index
    queue = admin_client.get(
        reverse("admin:blog_post_changelist"), {"freshness": "needs_refresh"}
    ).content.decode()
    assert "Serving throughput" in queue and "Still fine" not in queue
    assert '<span class="badge-needs-refresh">needs refresh</span>' in queue

    screen = admin_client.get(_review(post)).content.decode()
    assert "needs refresh" in screen and "The live post stays up until you answer." in screen
    # The failed claim: its sentence, the passage it cited, the page's text now.
    assert SENTENCE in screen and OLD in screen and NEW in screen
    # The dead source: its status and the passage we stored, escaped (web text).
    assert "Page gone: HTTP 404" in screen
    assert "Archived &lt;b&gt;passage&lt;/b&gt; of the page &amp; its figures." in screen
    assert "<b>passage</b>" not in screen
    for answer in ("refresh", "still_correct", "unpublish"):
        assert f'name="action" value="{answer}"' in screen
    assert Post.objects.get(pk=post.pk).status == Post.Status.PUBLISHED  # still live


def test_a_post_not_flagged_shows_no_refresh_panel_and_refuses_the_answers(admin_client):
    post = make_post("Fresh")
    assert "needs refresh" not in admin_client.get(_review(post)).content.decode()
    page = admin_client.post(_review(post), {"action": "still_correct"}, follow=True)
    assert "This post is not flagged as needing a refresh." in page.content.decode()


@pytest.mark.parametrize(
    ("codenames", "answer"),
    [
        (("view_post", "change_post", "publish_post", "add_generationrun"), "still_correct"),
        (("view_post", "change_post", "publish_post", "add_generationrun"), "refresh"),
        (("view_post", "change_post", "review_post"), "unpublish"),
        (("view_post", "change_post", "review_post"), "refresh"),
    ],
)
def test_answers_need_their_permissions(client, codenames, answer):
    """Without review_post no answer; unpublishing needs publish_post, and a refresh
    (LLM calls) the generate permission."""
    post, verification = _flagged()
    client.force_login(_staff(*codenames))
    assert client.post(_review(post), {"action": answer}).status_code == 403
    post.refresh_from_db()
    verification.refresh_from_db()
    assert post.needs_refresh and post.status == Post.Status.PUBLISHED
    assert verification.resolution == "" and queues.get_queue("content").count == 0


def test_a_non_staff_user_is_sent_to_the_login_page(client):
    post, _ = _flagged()
    client.force_login(make_user())
    response = client.post(_review(post), {"action": "still_correct"})
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert Post.objects.get(pk=post.pk).needs_refresh


def test_still_correct_clears_the_flag_and_keeps_the_post(client):
    post, verification = _flagged()
    reviewer = _staff("view_post", "change_post", "review_post")
    client.force_login(reviewer)
    page = client.post(_review(post), {"action": "still_correct"}, follow=True)
    assert "Marked still correct" in page.content.decode()
    after = Post.objects.get(pk=post.pk)
    assert not after.needs_refresh and after.body == post.body
    assert after.status == Post.Status.PUBLISHED and after.refreshed_at is None
    verification.refresh_from_db()
    assert verification.resolution == "still_correct" and verification.resolved_by == reviewer
    assert verification.resolved_at is not None


def test_unpublish_takes_the_post_off_the_site(client):
    post, verification = _flagged()
    reviewer = _staff("view_post", "change_post", "review_post", "publish_post")
    client.force_login(reviewer)
    page = client.post(_review(post), {"action": "unpublish"}, follow=True)
    assert "Unpublished: the post is a draft again" in page.content.decode()
    after = Post.objects.get(pk=post.pk)
    assert after.status == Post.Status.DRAFT and not after.needs_refresh
    verification.refresh_from_db()
    assert verification.resolution == "unpublished" and verification.resolved_by == reviewer
    client.logout()
    assert client.get(post.get_absolute_url()).status_code == 404


def test_a_refresh_is_refused_once_the_daily_budget_is_spent(admin_client, settings):
    post, verification = _flagged()
    settings.GENERATION_DAILY_BUDGET_USD = Decimal("0.50")
    run = GenerationRun.objects.create(author=post.author, topic="throughput")
    RunSpend.objects.create(run=run, day=timezone.localdate(), cost_usd=Decimal("0.75"), calls=3)
    page = admin_client.post(_review(post), {"action": "refresh"}, follow=True).content.decode()
    assert "has reached the daily budget $0.50 (GENERATION_DAILY_BUDGET_USD)" in page
    verification.refresh_from_db()
    assert verification.resolution == "" and queues.get_queue("content").count == 0
    assert Post.objects.get(pk=post.pk).needs_refresh


def test_a_refresh_needs_the_run_that_made_the_post(admin_client):
    post, verification = _flagged()  # written by hand: no run, no outline
    page = admin_client.post(_review(post), {"action": "refresh"}, follow=True).content.decode()
    assert "No generation run with an outline made this post" in page
    verification.refresh_from_db()
    assert verification.resolution == "" and queues.get_queue("content").count == 0


# --- Which sections a refresh rewrites ------------------------------------------------------


def _inputs(post: Post):
    from generation.execution.section_redo import RedoInputs
    from generation.pipeline.types import Outline, SectionPlan, Source

    sections = (
        SectionPlan("Figures", (), (11, 12)),  # run numbers 11, 12 are the post's 1, 2
        SectionPlan("History", (), (12, 13)),
        SectionPlan("Outlook", (), (12,)),
    )
    sources = {n: Source(n, f"S{n}", f"https://s{n}.test/", f"Old text {n}.") for n in (11, 12, 13)}
    return RedoInputs(
        post=post,
        outline=Outline("T", "A", sections),
        numbers={11: 1, 12: 2, 13: 3},
        sources=sources,
    )


def test_the_plan_rewrites_sections_with_a_failed_claim_or_a_gone_source():
    from generation.freshness.refresh import refresh_plan

    post = make_post(
        body=(
            "Intro [2].\n\n## Figures\n\nThe cluster served 1,200 requests per second [1]. "
            "Fine [3].\n\n## History\n\nOnce upon a time [3].\n\n## Outlook\n\nAhead [2]."
        )
    )
    verification = flag_post(
        post,
        sources=[
            {"number": 1, "url": "https://s11.test/", "verdict": "passage_gone", "new_text": NEW},
            {"number": 2, "url": "https://s12.test/", "verdict": "gone", "http_status": 410},
        ],
        claims=[{"source_number": 1, "sentence": SENTENCE, "old_passage": OLD}],
    )
    plan = refresh_plan(_inputs(post), verification)
    # Figures holds the failed claim; Outlook cites the gone [2] but has no source left;
    # History cites neither.
    assert plan.sections == (0,) and plan.skipped == ("Outlook",)
    assert 12 not in plan.sources  # the gone page is left out of what the writer gets
    assert plan.sources[11].text == NEW and plan.sources[13].text == "Old text 13."
    assert plan.fresh == (1,)


def test_the_plan_refuses_when_no_section_is_affected():
    from generation.freshness.flags import RefreshRefused
    from generation.freshness.refresh import refresh_plan

    post = make_post(body="Intro [3].\n\n## Figures\n\nFine [1].\n\n## History\n\nOld [1].")
    verification = flag_post(
        post, sources=[{"number": 3, "url": "https://s13.test/", "verdict": "gone"}]
    )
    with pytest.raises(RefreshRefused, match="Nothing to refresh: no section of the post"):
        refresh_plan(_inputs(post), verification)
