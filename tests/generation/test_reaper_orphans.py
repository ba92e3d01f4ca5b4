"""Runs committed without their job (a process killed between the runs' commit and the
push of their jobs, Redis that lost its data) are found and queued again by the reaper."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rq.registry import ScheduledJobRegistry

from blog.models import Post
from generation import queues
from generation.execution import reaper
from generation.models import GenerationRun, Origin, RunStatus
from generation.runs import lifecycle, service
from tests.generation.test_jobs import finished
from tests.workers import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def committed_without_jobs(author, *, count: int = 1, age: int = 300, **options):
    """Runs as a killed enqueue leaves them: committed, no job pushed, `age` seconds old."""
    request = service.request_build(count=count, author=author, **options)
    runs = lifecycle.runs_create(request)
    GenerationRun.objects.filter(pk__in=[run.pk for run in runs]).update(
        created_at=timezone.now() - timedelta(seconds=age)
    )
    return runs


@pytest.mark.workers
def test_a_worker_queues_again_a_run_whose_job_never_reached_redis(
    fast_env, shared_worker, author, standins
):
    (run,) = committed_without_jobs(author, topic="LLM optimization")
    run = wait_for(lambda: finished(run.pk), timeout=60)
    assert run.status == RunStatus.SUCCEEDED and run.attempts == 1
    assert Post.objects.count() == 1


def test_only_old_waiting_runs_without_a_job_are_queued_again(author):
    (lost,) = committed_without_jobs(author, topic="lost")
    (young,) = committed_without_jobs(author, topic="young", age=5)  # its job may be coming
    (pushed,) = service.enqueue_posts(count=1, topic="pushed", author=author)
    GenerationRun.objects.filter(pk=pushed.pk).update(created_at=lost.created_at)
    (sync,) = committed_without_jobs(author, topic="sync", origin=Origin.SYNC)

    assert reaper.reap_orphaned_runs() == [lost.pk]
    assert sorted(queues.get_queue().job_ids) == sorted(
        [queues.job_id_for(lost.pk), queues.job_id_for(pushed.pk)]
    )
    assert reaper.reap_orphaned_runs() == []  # found once
    # The synchronous command runs its own runs one after another: no worker takes them.
    assert GenerationRun.objects.get(pk=sync.pk).status == RunStatus.QUEUED
    assert young.pk not in reaper.reap_orphaned_runs()


def test_a_delayed_run_queued_again_keeps_its_start_time(author):
    (delayed,) = committed_without_jobs(author, topic="later", delay=3600)
    assert reaper.reap_orphaned_runs() == [delayed.pk]
    queue = queues.get_queue()
    registry = ScheduledJobRegistry(queue=queue)
    assert queue.job_ids == [] and registry.get_job_ids() == [queues.job_id_for(delayed.pk)]
    start = registry.get_scheduled_time(queues.job_id_for(delayed.pk))
    assert start >= delayed.scheduled_for.replace(microsecond=0)
