"""Background generation with real RQ worker processes against real Redis and PostgreSQL."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.db import transaction
from rq.job import Job

from blog.models import Post
from generation import queues
from generation.models import GenerationRun, RunStatus
from generation.queues import job_id_for
from generation.runs import service
from tests.workers import start_worker, stop, wait_for

pytestmark = [pytest.mark.workers, pytest.mark.django_db(transaction=True)]


def run_of(run_id: int) -> GenerationRun:
    return GenerationRun.objects.get(pk=run_id)


def finished(run_id: int) -> GenerationRun | None:
    run = run_of(run_id)
    return run if run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED) else None


def test_queued_run_is_generated_by_a_worker(fast_env, shared_worker, author):
    (run,) = service.enqueue_posts(count=1, topic="Redis and job queues", author=author)
    assert Job.fetch(job_id_for(run.pk), connection=queues.get_queue().connection).args == (run.pk,)
    run = wait_for(lambda: finished(run.pk), timeout=60)
    assert run.status == RunStatus.SUCCEEDED, run.errors
    assert run.attempts == 1 and run.worker_name
    assert Post.objects.get().pk == run.post_id


def test_delay_is_honoured(fast_env, shared_worker, author):
    queued_at = time.monotonic()
    (run,) = service.enqueue_posts(count=1, topic="Python async I/O", author=author, delay=3)
    # Held in RQ's scheduled registry until its time, not on the queue.
    assert job_id_for(run.pk) in queues.get_queue().scheduled_job_registry.get_job_ids()
    assert job_id_for(run.pk) not in queues.get_queue().job_ids
    run = wait_for(lambda: finished(run.pk), timeout=60)
    started = run.started_at
    assert run.status == RunStatus.SUCCEEDED
    assert time.monotonic() - queued_at >= 3
    assert started >= run.scheduled_for
    # The due time is read when the request is built, just before the row is written (a
    # few ms under load): it is 3 s ahead of the row, less those ms.
    assert timedelta(seconds=2.9) < run.scheduled_for - run.created_at <= timedelta(seconds=3)


def test_retry_schedule_gives_four_attempts_then_failed(fast_env, shared_worker, author, standins):
    standins.llm.inject(kind="section", status=503, times=None)
    (run,) = service.enqueue_posts(count=1, topic="LLM optimization", author=author)
    registry = queues.get_queue().failed_job_registry
    run = wait_for(lambda: finished(run.pk), timeout=90)
    # The horse fails the run in its failure callback, just before RQ files the job.
    wait_for(lambda: job_id_for(run.pk) in registry.get_job_ids(), timeout=10)
    assert run.status == RunStatus.FAILED
    assert run.attempts == 4
    assert [e["attempt"] for e in run.errors] == [1, 2, 3, 4]
    assert all(e["stage"] == "sections" for e in run.errors)
    # Earlier stages ran once: retries resumed at the sections stage.
    assert standins.llm.counts["outline"] == 1 and standins.llm.counts["topic_angle"] == 1
    assert Post.objects.count() == 0


def test_permanent_error_fails_at_once_without_retries(fast_env, shared_worker, author, standins):
    standins.llm.inject(kind="topic_angle", status=401, times=None)
    (run,) = service.enqueue_posts(count=1, topic="LLM optimization", author=author)
    run = wait_for(lambda: finished(run.pk), timeout=60)
    assert run.status == RunStatus.FAILED
    assert run.attempts == 1 and len(run.errors) == 1
    assert run.errors[0]["kind"] == "permanent"


def test_a_succeeded_run_enqueued_again_is_a_no_op(fast_env, shared_worker, author, standins):
    (run,) = service.enqueue_posts(count=1, topic="LLM optimization", author=author)
    wait_for(lambda: finished(run.pk), timeout=60)
    calls = standins.llm.total
    queues.push_runs([run.pk], queue_name="content")
    connection = queues.get_queue().connection
    wait_for(lambda: Job.fetch(job_id_for(run.pk), connection=connection).is_finished)
    assert Post.objects.count() == 1
    assert standins.llm.total == calls


def test_rolled_back_transaction_leaves_no_job(author):
    with pytest.raises(RuntimeError), transaction.atomic():
        service.enqueue_posts(count=2, topic="Redis", author=author)
        raise RuntimeError("the request failed after queueing")
    assert GenerationRun.objects.count() == 0
    assert queues.get_queue().count == 0


def test_max_time_stops_an_idle_worker(fast_env):
    process = start_worker(fast_env, "--max-time", "2")
    try:
        assert process.wait(timeout=20) == 0
    finally:
        stop(process)


def test_queue_dashboard_is_for_staff_only(client, django_user_model):
    assert client.get("/django-rq/").status_code == 302  # to the admin login
    user = django_user_model.objects.create_user(username="reader", password="pw-12345678")
    client.force_login(user)
    assert client.get("/django-rq/").status_code == 302
