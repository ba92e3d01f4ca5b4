"""The run admin: live list and its status endpoint, retry and cancel, the run's history."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import django_rq
import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone
from rq.job import Job, JobStatus
from rq.registry import CanceledJobRegistry, FailedJobRegistry, ScheduledJobRegistry

from blog.models import Post
from generation import queues
from generation.models import GenerationRun, ResearchSource, RunStatus
from generation.queues import job_id_for

RUNS_URL = "/admin/generation/generationrun/"
STATUS_URL = "/admin/generation/runs/status.json"

pytestmark = pytest.mark.django_db


def _run(author, **fields) -> GenerationRun:
    fields.setdefault("topic", "LLM optimization")
    return GenerationRun.objects.create(author=author, **fields)


def _post(author, title: str = "Making LLMs fast") -> Post:
    return Post.objects.create(
        title=title,
        slug="making-llms-fast",
        body="Body [1].",
        author=author,
        status=Post.Status.PUBLISHED,
        published_at=timezone.now(),
    )


def _finished_run(author) -> GenerationRun:
    start = timezone.now() - timedelta(seconds=95)
    return _run(
        author,
        status=RunStatus.SUCCEEDED,
        stage="publish",
        attempts=2,
        max_attempts=4,
        started_at=start,
        finished_at=start + timedelta(seconds=83),
        prompt_tokens=12_000,
        completion_tokens=3_456,
        cost_usd=Decimal("0.012345"),
        citations_total=9,
        citations_verified=8,
        citations_removed=1,
        post=_post(author),
    )


def _action(client: Client, action: str, runs: list[GenerationRun]):
    return client.post(
        RUNS_URL,
        {"action": action, "_selected_action": [str(run.pk) for run in runs]},
        follow=True,
    )


def test_list_shows_status_attempt_cost_and_post_links(admin_client_, admin_user):
    run = _finished_run(admin_user)
    page = admin_client_.get(RUNS_URL).content.decode()
    assert f'class="run-badge run-badge--succeeded" data-run-id="{run.pk}"' in page
    assert '<td class="field-attempt">2/4</td>' in page
    assert '<td class="field-cost">$0.0123</td>' in page
    # Seven columns fit 1280 px; the rest is on the run's page.
    for column in ("duration", "tokens", "citations", "origin", "created_at"):
        assert f'class="field-{column}' not in page
    detail = admin_client_.get(f"{RUNS_URL}{run.pk}/change/").content.decode()
    assert '<div class="readonly">1m 23s</div>' in detail
    assert '<div class="readonly">15,456</div>' in detail
    assert '<div class="readonly">8/9</div>' in detail
    assert f'href="/admin/blog/post/{run.post_id}/change/">Making LLMs fast</a>' in page
    assert 'href="/posts/making-llms-fast/"' in page
    assert 'href="/django-rq/"' in page  # the queue dashboard, from the run list
    assert 'data-status-url="/admin/generation/runs/status.json"' in page
    assert "admin-extra/run_status.js" in page


def test_list_filters_and_search(admin_client_, admin_user):
    _run(admin_user, topic="Vector databases", status=RunStatus.FAILED)
    _run(admin_user, topic="Rust async", status=RunStatus.QUEUED)
    page = admin_client_.get(RUNS_URL, {"status__exact": "failed"}).content.decode()
    assert "Vector databases" in page and "Rust async" not in page
    page = admin_client_.get(RUNS_URL, {"q": "rust"}).content.decode()
    assert "Rust async" in page and "Vector databases" not in page


def test_status_endpoint_reports_each_run(admin_client_, admin_user):
    done = _finished_run(admin_user)
    running = _run(
        admin_user,
        status=RunStatus.RUNNING,
        stage="sections",
        attempts=1,
        started_at=timezone.now() - timedelta(seconds=5),
    )
    response = admin_client_.get(STATUS_URL, {"ids": f"{done.pk},{running.pk},999999"})
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    data = json.loads(response.content)
    assert data["active"] is True
    rows = {row["id"]: row for row in data["runs"]}
    assert set(rows) == {done.pk, running.pk}
    assert {
        "status": "succeeded",
        "active": False,
        "stage": "publish",
        "attempt": "2/4",
        "duration": "1m 23s",
        "duration_seconds": 83.0,
        "tokens": 15_456,
        "cost": "$0.0123",
        "cost_usd": "0.012345",
        "citations": "8/9",
        "post_url": "/posts/making-llms-fast/",
        "post_admin_url": f"/admin/blog/post/{done.post_id}/change/",
    }.items() <= rows[done.pk].items()
    assert rows[running.pk]["status"] == "running"
    assert rows[running.pk]["stage_label"] == "Sections"
    assert rows[running.pk]["attempt"] == "1/4"
    assert rows[running.pk]["duration_seconds"] >= 5
    assert rows[running.pk]["post_url"] == ""


def test_status_endpoint_says_when_nothing_is_active(admin_client_, admin_user):
    run = _finished_run(admin_user)
    data = json.loads(admin_client_.get(STATUS_URL, {"ids": str(run.pk)}).content)
    assert data["active"] is False


def test_status_endpoint_is_staff_only(django_user_model):
    member = django_user_model.objects.create_user(username="member", password="pw-member-12")
    staff = django_user_model.objects.create_user(
        username="staff", password="pw-staff-1234", is_staff=True
    )
    for user in (None, member, staff):  # staff without the view permission too
        client = Client()
        if user:
            client.force_login(user)
        response = client.get(STATUS_URL, {"ids": "1"})
        assert response.status_code == 403
        assert "error" in json.loads(response.content)
    staff.user_permissions.add(Permission.objects.get(codename="view_generationrun"))
    client = Client()
    client.force_login(staff)
    assert client.get(STATUS_URL, {"ids": "1"}).status_code == 200


def test_status_endpoint_refuses_bad_ids(admin_client_):
    response = admin_client_.get(STATUS_URL, {"ids": "1,abc"})
    assert response.status_code == 400
    assert json.loads(response.content)["error"].startswith("ids must be comma-separated")


def test_retry_requeues_failed_runs_from_their_checkpoint(
    admin_client_, admin_user, django_capture_on_commit_callbacks
):
    failed = _run(
        admin_user,
        status=RunStatus.FAILED,
        stage="outline",
        attempts=4,
        checkpoints={"topic": {"topic": "LLM optimization"}},
        errors=[{"attempt": 4, "stage": "outline", "error": "LLMError: boom", "kind": "error"}],
        finished_at=timezone.now(),
    )
    done = _finished_run(admin_user)
    # The failed run's old job sits in the failed registry: it is replaced, not duplicated.
    queue = django_rq.get_queue("content")
    old = queues.build_job(queue, failed.pk)
    old.save()
    old.set_status(JobStatus.FAILED)
    FailedJobRegistry(queue=queue).add(old, ttl=600)
    with django_capture_on_commit_callbacks(execute=True):
        response = _action(admin_client_, "retry_failed", [failed, done])
    assert (
        "1 failed run queued again. 1 skipped: not failed or canceled." in response.content.decode()
    )
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.stage) == (RunStatus.QUEUED, 0, "outline")
    assert failed.checkpoints == {"topic": {"topic": "LLM optimization"}}
    assert len(failed.errors) == 1  # the history stays
    assert queue.job_ids == [f"generation-run-{failed.pk}"]
    assert FailedJobRegistry(queue=queue).get_job_ids() == []
    done.refresh_from_db()
    assert done.status == RunStatus.SUCCEEDED


def test_cancel_withdraws_waiting_jobs_and_skips_running_runs(admin_client_, admin_user):
    queued = _run(admin_user)
    retrying = _run(admin_user, status=RunStatus.RETRYING, attempts=1)
    running = _run(admin_user, status=RunStatus.RUNNING, attempts=1)
    queues.push_runs([queued.pk], queue_name="content")
    queues.push_runs([retrying.pk], queue_name="content", at=timezone.now() + timedelta(hours=1))
    response = _action(admin_client_, "cancel_queued", [queued, retrying, running])
    page = response.content.decode()
    assert "2 runs canceled. 1 skipped: only queued or retrying runs can be canceled" in page
    statuses = dict(GenerationRun.objects.values_list("pk", "status"))
    assert statuses == {
        queued.pk: RunStatus.CANCELED,
        retrying.pk: RunStatus.CANCELED,
        running.pk: RunStatus.RUNNING,
    }
    queue = django_rq.get_queue("content")
    assert queue.job_ids == []
    assert ScheduledJobRegistry(queue=queue).get_job_ids() == []
    assert sorted(CanceledJobRegistry(queue=queue).get_job_ids()) == sorted(
        [job_id_for(queued.pk), job_id_for(retrying.pk)]
    )
    job = Job.fetch(job_id_for(queued.pk), connection=queue.connection)
    assert job.get_status() == JobStatus.CANCELED


def test_retry_with_redis_unreachable_leaves_runs_failed(admin_client_, admin_user, settings):
    failed = _run(admin_user, status=RunStatus.FAILED, attempts=4)
    dead = "redis://127.0.0.1:9/15"  # the discard port: nothing listens there
    settings.REDIS_URL = dead
    settings.RQ_QUEUES = {name: {"URL": dead} for name in settings.RQ_QUEUE_NAMES}
    response = _action(admin_client_, "retry_failed", [failed])
    assert "Redis is unreachable at redis://127.0.0.1:9/15" in response.content.decode()
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == (RunStatus.FAILED, 4)


def test_actions_need_the_change_permission(django_user_model, admin_user):
    viewer = django_user_model.objects.create_user(
        username="viewer", password="pw-viewer-12", is_staff=True
    )
    viewer.user_permissions.add(Permission.objects.get(codename="view_generationrun"))
    client = Client()
    client.force_login(viewer)
    page = client.get(RUNS_URL).content.decode()
    assert "retry_failed" not in page and "cancel_queued" not in page


def test_change_view_shows_the_runs_history(admin_client_, admin_user):
    run = _finished_run(admin_user)
    run.timings = {"research": 12.5, "outline": 3.25, "sections": 40.0}
    run.usage_by_stage = {
        "sections": {
            "calls": 7,
            "prompt_tokens": 9000,
            "completion_tokens": 3000,
            "cost_usd": "0.0100",
        }
    }
    run.errors = [
        {
            "attempt": 1,
            "stage": "sections",
            "error": "LLMError: the endpoint timed out",
            "kind": "error",
            "at": "2025-01-02T03:04:05+00:00",
        }
    ]
    run.checkpoints = {
        "citations": {  # the report's fields, as pipeline/checkpoints.py writes them
            "claims": 9,
            "verified": 8,
            "removed": [
                {"number": 4, "sentence": "LLMs never hallucinate.", "reason": "not supported"}
            ],
        }
    }
    run.save()
    ResearchSource.objects.create(
        run=run,
        number=1,
        url="https://example.org/kv-cache",
        title="KV caching explained",
        domain="example.org",
        provider="searxng",
        status=ResearchSource.Status.KEPT,
        cited=True,
    )
    ResearchSource.objects.create(
        run=run,
        url="https://spam.example/",
        title="Spam",
        domain="spam.example",
        provider="searxng",
        status=ResearchSource.Status.DROPPED,
        reason="too short",
    )
    response = admin_client_.get(f"{RUNS_URL}{run.pk}/change/")
    page = response.content.decode()
    assert response.status_code == 200
    for text in (
        "<td>Research</td><td>12.50</td><td>—</td>",
        "<td>Sections</td><td>40.00</td><td>7</td><td>12,000</td><td>$0.0100</td>",
        "<th>Total</th><th>55.75</th>",
        "LLMError: the endpoint timed out",
        "2025-01-02T03:04:05+00:00",
        "KV caching explained",
        'href="https://example.org/kv-cache"',
        "too short",
        "9 claims checked: 8 verified against their passages,",
        "LLMs never hallucinate.",
        "not supported",
        "15,456",
        "$0.0123",
    ):
        assert text in page, text
    assert 'name="_save"' not in page  # runs are not hand-edited


def test_change_view_shows_the_citation_report_with_both_verdicts(admin_client_, admin_user):
    run = _finished_run(admin_user)
    run.citations_total, run.citations_verified, run.citations_removed = 5, 4, 1
    run.checkpoints = {
        "citations": {
            "claims": 5,
            "verified": 3,
            "figures": 7,
            "links_removed": 2,
            "revised": [
                {"before": "Redis is 73% faster [1].", "after": "Redis is fast [1].", "number": 1}
            ],
            "removed": [
                {
                    "sentence": "Teams report 41% <b>lower</b> latency.",
                    "reason": "states a figure without a citation; repair failed",
                    "numbers": [],
                    "score": 0.1,
                }
            ],
            "repeats": ["Measure first."],
            "judge": {
                "checked": 4,
                "supported": 3,
                "verdicts": [
                    {
                        "sentence": "RQ retries seven times.",
                        "number": 2,
                        "lexical": 0.83,
                        "judge": False,
                        "reason": "the passage says three",
                    }
                ],
            },
            "held": "1 of 5 claims (20%) were removed, more than GENERATION_MAX_REMOVED_SHARE=0.1",
        }
    }
    run.save()
    page = admin_client_.get(f"{RUNS_URL}{run.pk}/change/").content.decode()
    text = " ".join(page.split())
    for piece in (
        "5 claims checked: 3 verified against their passages, 1 revised, 1 removed; "
        "7 figures checked.",
        "2 links or images stripped. 1 repeated sentence removed.",
        "Held for review: 1 of 5 claims (20%) were removed, more than "
        "GENERATION_MAX_REMOVED_SHARE=0.1.",
        "Judge (fast model): 3 of 4 claims supported.",
        "<td>Redis is 73% faster [1].</td><td>Redis is fast [1].</td>",
        "Teams report 41% &lt;b&gt;lower&lt;/b&gt; latency.",
        "<li>Measure first.</li>",
        "<td>RQ retries seven times.</td><td>[2]</td><td>0.83</td><td>not supported</td>"
        "<td>the passage says three</td>",
    ):
        assert piece in text, piece


def test_change_view_refuses_edits(admin_client_, admin_user):
    run = _run(admin_user)
    response = admin_client_.post(f"{RUNS_URL}{run.pk}/change/", {"topic": "changed"})
    assert response.status_code == 403
    run.refresh_from_db()
    assert run.topic == "LLM optimization"


def test_rq_dashboard_is_linked_from_the_admin_index(admin_client_):
    page = admin_client_.get("/admin/").content.decode()
    assert "/admin/django_rq/dashboard/" in page
    assert admin_client_.get("/django-rq/").status_code == 200


@pytest.mark.parametrize(
    ("demo", "base_url", "shown"),
    [
        ("1", "http://127.0.0.1:41234/v1", True),
        ("1", "http://localhost:8080/v1", True),
        ("", "http://127.0.0.1:41234/v1", False),
        ("1", "https://api.openai.com/v1", False),
    ],
)
def test_demo_banner(admin_client_, settings, demo, base_url, shown):
    settings.DRB_DEMO = demo == "1"
    settings.OPENAI_BASE_URL = base_url
    page = admin_client_.get("/admin/").content.decode()
    banner = "Offline demo: posts are written by the bundled stand-in LLM from a bundled corpus"
    assert (banner in page) is shown


def test_run_list_shows_tokens_and_cost_per_day(admin_client_, admin_user):
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    today = _run(admin_user, prompt_tokens=1000, completion_tokens=500, cost_usd=Decimal("0.25"))
    _run(admin_user, prompt_tokens=10, completion_tokens=5, cost_usd=Decimal("0.50"))
    old = _run(admin_user, prompt_tokens=7, completion_tokens=3, cost_usd=Decimal("1.00"))
    GenerationRun.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))

    from generation.runs.selectors import usage_by_day

    rows = usage_by_day()
    assert [(r["runs"], r["tokens"], r["cost_usd"]) for r in rows] == [
        (2, 1515, "0.750000"),
        (1, 10, "1.000000"),
    ]
    assert rows[0]["day"] == timezone.localdate(today.created_at).isoformat()
    page = admin_client_.get(RUNS_URL).content.decode()
    assert "Last 7 days" in page and "1,515" in page


def test_change_view_links_only_http_research_sources(admin_client_, admin_user):
    run = _run(admin_user)
    for number, url in enumerate(
        ("javascript:alert(1)", "jav\tascript:alert(2)", "https://ok.test/a")
    ):
        ResearchSource.objects.create(
            run=run, number=number + 1, url=url, provider="searxng", status="dropped"
        )
    html = admin_client_.get(f"{RUNS_URL}{run.pk}/change/").content.decode()
    assert 'href="javascript' not in html and 'href="jav\tascript' not in html
    assert "javascript:alert(1)" in html  # shown as text
    assert '<a href="https://ok.test/a" rel="noopener noreferrer nofollow"' in html
