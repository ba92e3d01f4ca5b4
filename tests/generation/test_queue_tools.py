"""Queue tools: listing and emptying waiting jobs, watching the queues, default queues."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rq.worker import Worker

from generation import operations, queues, service
from generation.models import GenerationRun, RunStatus
from generation.queues import job_id_for
from tests.workers import ROOT, running_worker, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def command(name: str, *args: str) -> str:
    out = StringIO()
    call_command(name, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_queue_jobs_lists_waiting_jobs_with_their_runs(author):
    runs = service.enqueue_posts(count=2, topic="Redis queues", author=author)
    queues.get_queue("email").enqueue("os.getpid")
    listed = json.loads(command("queue_jobs", "--json"))
    assert [(j["queue"], j["run_id"], j["topic"]) for j in listed if j["queue"] == "content"] == [
        ("content", run.pk, "Redis queues") for run in runs
    ]
    (email,) = [j for j in listed if j["queue"] == "email"]
    assert email["run_id"] is None and email["waited_seconds"] >= 0
    assert len(json.loads(command("queue_jobs", "email", "--json"))) == 1
    assert "Redis queues" in command("queue_jobs", "content")


def test_emptying_a_queue_cancels_its_runs_and_deletes_other_jobs(author):
    runs = service.enqueue_posts(count=3, topic="Redis", author=author)
    queues.get_queue().enqueue("os.getpid")
    other = service.enqueue_posts(count=1, topic="Video", author=author, queue="video")
    out = command("queue_jobs", "--empty", "content", "--yes")
    assert out.strip() == "Emptied content: 3 run(s) canceled, 1 other job(s) deleted."
    assert {GenerationRun.objects.get(pk=r.pk).status for r in runs} == {RunStatus.CANCELED}
    assert queues.get_queue().count == 0
    assert GenerationRun.objects.get(pk=other[0].pk).status == RunStatus.QUEUED  # other queue


def test_emptying_says_what_delayed_jobs_it_left_and_takes_them_off_when_asked(author):
    waiting = service.enqueue_posts(count=1, topic="Redis", author=author)
    delayed = service.enqueue_posts(count=2, topic="Later", author=author, delay=3600)
    queues.get_queue().enqueue_in(timedelta(hours=1), "os.getpid")
    out = command("queue_jobs", "--empty", "content", "--yes")
    assert out.strip() == (
        "Emptied content: 1 run(s) canceled, 0 other job(s) deleted. Left 3 delayed/retrying "
        "job(s), which run when due; --with-delayed takes them off too."
    )
    assert GenerationRun.objects.get(pk=waiting[0].pk).status == RunStatus.CANCELED
    assert {GenerationRun.objects.get(pk=r.pk).status for r in delayed} == {RunStatus.QUEUED}

    out = command("queue_jobs", "--empty", "content", "--with-delayed", "--yes")
    assert out.strip() == (
        "Emptied content: 2 run(s) canceled, 1 other job(s) deleted. "
        "3 delayed/retrying job(s) taken off."
    )
    assert {GenerationRun.objects.get(pk=r.pk).status for r in delayed} == {RunStatus.CANCELED}
    assert queues.get_queue().scheduled_job_registry.count == 0


def test_emptying_refuses_unknown_queues_and_asks_first(author):
    service.enqueue_posts(count=1, topic="Redis", author=author)
    with pytest.raises(CommandError, match="Unknown queue 'nope'"):
        command("queue_jobs", "--empty", "nope", "--yes")
    with pytest.raises(CommandError, match="needs --yes"):
        command("queue_jobs", "--empty", "content")  # stdin is not a terminal here
    assert queues.get_queue().count == 1


def test_queue_status_watch_prints_a_block_per_refresh_until_interrupted(worker_env):
    watcher = subprocess.Popen(
        [sys.executable, "manage.py", "queue_status", "--watch", "0.5"],
        cwd=ROOT,
        env=worker_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    blocks = 0
    try:
        for line in watcher.stdout:
            blocks += line.startswith("--- ")
            if blocks == 3:
                break
    finally:
        watcher.send_signal(signal.SIGINT)
        watcher.wait(timeout=10)
    assert blocks == 3
    assert watcher.returncode == 0 and "Traceback" not in watcher.stderr.read()


def test_queue_status_watch_refuses_a_bad_interval():
    with pytest.raises(CommandError, match="--watch takes a number of seconds"):
        command("queue_status", "--watch", "soon")
    with pytest.raises(CommandError, match=r"at least 0\.5 seconds"):
        command("queue_status", "--watch", "0")


@pytest.mark.workers
def test_rqworker_without_queue_names_serves_all_queues_in_priority_order(worker_env):
    with running_worker(worker_env, queues=()):
        (worker,) = wait_for(lambda: Worker.all(connection=queues.get_queue().connection))
    assert worker.queue_names() == ["content", "video", "default", "email"]


def test_queue_retry_orphaned_requeues_waiting_runs_whose_job_redis_lost(author, redis_conn):
    old, _fresh = service.enqueue_posts(count=2, topic="Redis", author=author)
    canceled = service.enqueue_posts(count=1, topic="Redis", author=author)[0]
    operations.runs_cancel([canceled.pk])
    GenerationRun.objects.filter(pk__in=[old.pk, canceled.pk]).update(
        created_at=timezone.now() - timedelta(minutes=5)
    )
    redis_conn.flushdb()  # Redis came back without its data
    assert json.loads(command("queue_retry", "orphaned", "--json")) == {"requeued_runs": [old.pk]}
    assert queues.get_queue().job_ids == [
        job_id_for(old.pk)
    ]  # the fresh run may still be on its way
    assert GenerationRun.objects.get(pk=old.pk).status == RunStatus.QUEUED
    assert command("queue_retry", "orphaned").strip().startswith("0 waiting run(s)")
