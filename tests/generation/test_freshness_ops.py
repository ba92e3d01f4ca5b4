"""Living posts for operators: the tick's choice of due posts, `verify_posts`, the
verification health check, /metrics counters and the overview's weekly figures."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from blog.models import Post
from generation import queues
from generation.freshness import service
from generation.models import PostVerification
from generation.operations import health, overview
from generation.operations.health import Level
from tests.factories import make_post, make_user
from tests.generation.freshness_posts import sourced_post

TOKEN = "metrics-secret-token-1"


def cited_post(days_old: float, *, verified_days_ago: float | None = None, author=None) -> Post:
    """A published post with one source (never fetched by these tests)."""
    now = timezone.now()
    post = make_post(
        body="A claim [1].",
        author=author,
        sources=[{"number": 1, "url": "https://example.org/a", "passage": "A claim."}],
        published_at=now - timedelta(days=days_old),
    )
    if verified_days_ago is not None:
        Post.objects.filter(pk=post.pk).update(
            last_verified_at=now - timedelta(days=verified_days_ago)
        )
    return post


@pytest.mark.django_db
def test_the_tick_queues_the_oldest_due_posts_up_to_the_batch_skipping_queued_ones(settings):
    settings.VERIFY_BATCH = 2
    author = make_user()
    oldest = cited_post(100, author=author)
    verified_long_ago = cited_post(200, verified_days_ago=60, author=author)
    recent = cited_post(40, author=author)
    already = cited_post(300, author=author)
    PostVerification.objects.create(post=already)  # queued earlier, its job still waiting
    cited_post(10, author=author)  # not due
    cited_post(20, verified_days_ago=5, author=author)  # verified recently
    make_post(published_at=timezone.now() - timedelta(days=90), author=author)  # no sources
    draft = cited_post(90, author=author)
    Post.objects.filter(pk=draft.pk).update(status=Post.Status.DRAFT)

    first = service.verification_tick()

    assert [v.post_id for v in first] == [oldest.pk, verified_long_ago.pk]
    jobs = queues.get_queue("content").get_jobs()
    assert [job.args for job in jobs] == [(v.pk,) for v in first]
    assert {job.func_name for job in jobs} == {"generation.freshness.job.verify_post_job"}
    assert all(v.status == "queued" and v.trigger == "schedule" for v in first)

    second = service.verification_tick()  # the first two are still queued
    assert [v.post_id for v in second] == [recent.pk]
    assert service.verification_tick() == []
    assert PostVerification.objects.filter(post=already).count() == 1


@pytest.mark.django_db
def test_a_verification_whose_job_was_lost_is_failed_and_its_post_queued_again(settings):
    post = cited_post(100)
    lost = PostVerification.objects.create(post=post)
    PostVerification.objects.filter(pk=lost.pk).update(queued_at=timezone.now() - timedelta(days=2))

    (again,) = service.verification_tick()

    lost.refresh_from_db()
    assert (lost.status, lost.error) == ("failed", "its job never ran")
    assert again.post_id == post.pk and again.pk != lost.pk


@pytest.mark.django_db
def test_verify_posts_due_lists_without_queueing_and_json_is_machine_readable(capsys):
    post = cited_post(45)

    call_command("verify_posts", "--due")
    line = capsys.readouterr().out.rstrip("\n")
    assert line.startswith(f"{post.pk:>6}  ") and "45.0 days" in line and post.title in line

    call_command("verify_posts", "--due", "--json")
    (row,) = json.loads(capsys.readouterr().out)["due"]
    assert row["id"] == post.pk and row["days"] == pytest.approx(45, abs=0.1)
    assert not PostVerification.objects.exists() and queues.get_queue("content").count == 0


@pytest.mark.django_db
def test_verify_posts_without_options_queues_the_due_batch(capsys):
    post = cited_post(45)
    call_command("verify_posts", "--json")
    (row,) = json.loads(capsys.readouterr().out)["queued"]
    verification = PostVerification.objects.get()
    assert row == {"verification": verification.pk, "post": post.pk}
    assert verification.trigger == "command" and queues.get_queue("content").count == 1
    call_command("verify_posts")
    assert "nothing queued" in capsys.readouterr().out


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--post", "0"], "'0' must be at least 1"),
        (["--post", "abc"], "'abc' is not a whole number"),
        (["--post", "1", "--due"], "not allowed with argument"),
    ],
)
def test_verify_posts_refuses_bad_numbers_in_one_line(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("verify_posts", *args)


@pytest.mark.django_db
def test_verify_posts_refuses_unknown_unpublished_and_sourceless_posts():
    with pytest.raises(CommandError, match=r"^No post with id 999999\.$"):
        call_command("verify_posts", "--post", "999999")
    draft = cited_post(50)
    Post.objects.filter(pk=draft.pk).update(status=Post.Status.DRAFT)
    with pytest.raises(CommandError, match=f"Post {draft.pk} is not published"):
        call_command("verify_posts", "--post", str(draft.pk))
    bare = make_post()
    with pytest.raises(CommandError, match=f"Post {bare.pk} lists no sources"):
        call_command("verify_posts", "--post", str(bare.pk))
    queued = cited_post(50)
    waiting = PostVerification.objects.create(post=queued)
    with pytest.raises(CommandError, match=f"already has verification {waiting.pk} queued"):
        call_command("verify_posts", "--post", str(queued.pk))
    assert PostVerification.objects.count() == 1


@pytest.mark.django_db
def test_verify_posts_post_verifies_now_and_prints_what_it_found(web_standin, capsys):
    slugs = sorted(web_standin.pages)[:2]
    post = sourced_post(web_standin, slugs)
    web_standin.gone[slugs[1]] = 404

    call_command("verify_posts", "--post", str(post.pk))
    out = capsys.readouterr().out
    assert f"Post {post.pk} ({post.title}): Needs refresh" in out
    assert f"[1] unchanged HTTP 200 {web_standin.page_url(slugs[0])}" in out
    assert f"[2] gone HTTP 404 {web_standin.page_url(slugs[1])}" in out
    assert "needs refresh: source(s) gone: [2] (HTTP 404)" in out

    Post.objects.filter(pk=post.pk).update(needs_refresh=False)
    call_command("verify_posts", "--post", str(post.pk), "--json")
    found = json.loads(capsys.readouterr().out)
    assert found["outcome"] == "flagged" and found["needs_refresh"] is True
    assert [s["verdict"] for s in found["sources"]] == ["unchanged", "gone"]
    assert found["llm_calls"] == 0 and found["cost_usd"] == "0.000000"


@pytest.mark.django_db
def test_queue_health_warns_when_verification_is_more_than_a_week_behind(settings):
    settings.VERIFY_AFTER_DAYS = 30
    cited_post(36)  # due 6 days ago
    assert health.check_verification().level == Level.OK
    cited_post(38)  # due 8 days ago
    result = health.check_verification()
    assert result.level == Level.WARNING
    assert result.summary.startswith("2 post(s) due; the oldest was due 8 day(s) ago")
    with pytest.raises(SystemExit) as exit_:
        call_command("queue_health", "--only", "verification")
    assert exit_.value.code == 1


@pytest.mark.django_db(transaction=True)  # counted after the commit
def test_metrics_count_verifications_flags_dead_sources_and_304s(web_standin, settings, client):
    settings.METRICS_TOKEN = TOKEN
    settings.VERIFY_CACHE_MAX_AGE_S = 0
    slugs = sorted(web_standin.pages)[:3]
    post = sourced_post(web_standin, slugs)
    service.verify_post_now(post.pk)  # fills the cache: the next read can be a 304
    web_standin.gone[slugs[0]] = 410
    service.verify_post_now(post.pk)

    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    samples = {
        sample.name: sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }
    assert samples["drb_posts_verified_total"] == 2
    assert samples["drb_posts_flagged_total"] == 1
    assert samples["drb_sources_dead_total"] == 1
    assert samples["drb_sources_not_modified_total"] == 2


@pytest.mark.django_db
def test_the_overview_shows_posts_verified_flagged_and_refreshed_per_week(admin_client_):
    now = timezone.now()
    author = make_user()
    posts = [cited_post(60, author=author) for _ in range(3)]
    for post, outcome in zip(posts, ["clean", "flagged", "flagged"], strict=True):
        PostVerification.objects.create(post=post, status="done", outcome=outcome, finished_at=now)
    PostVerification.objects.create(post=posts[0], status="failed", finished_at=now)
    Post.objects.filter(pk=posts[1].pk).update(refreshed_at=now)
    old = now - timedelta(weeks=3)
    PostVerification.objects.create(post=posts[2], status="done", outcome="clean", finished_at=old)

    weeks = overview.verification_weeks()

    assert len(weeks) == 8 and weeks[0].week == timezone.localdate() - timedelta(
        days=timezone.localdate().weekday()
    )
    assert (weeks[0].verified, weeks[0].flagged, weeks[0].refreshed) == (3, 2, 1)
    assert (weeks[3].verified, weeks[3].flagged) == (1, 0)
    page = admin_client_.get("/admin/generation/overview/").content.decode()
    assert 'id="overview-verification"' in page
    assert f"<td>{weeks[0].week:%a} " in page and "<td>3</td><td>2</td><td>1</td>" in page
