"""Warm shutdowns of real worker processes: the current job always finishes, no new one starts.

queue_restart, SIGTERM (supervisor's stop) and --max-time all end a busy worker only after
its job; the jobs here are test-only sleeps that report to Redis when they start and end.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from io import StringIO

import pytest
from django.core.management import call_command
from rq.command import send_stop_job_command
from rq.job import Job

from generation import queues, service
from generation.models import GenerationRun, RunStatus
from generation.queues import job_id_for
from generation.worker import RESTART_KEY
from tests.workers import start_worker, stop, wait_for

pytestmark = [pytest.mark.workers, pytest.mark.django_db(transaction=True)]

SLEEP = "tests.jobs_for_tests.sleep_and_report"
EVENTS = "test:events"


def events(redis_conn) -> list[str]:
    return [entry.decode().split(":")[0] for entry in redis_conn.lrange(EVENTS, 0, -1)]


def busy_worker(
    env: dict[str, str], redis_conn, *args: str, job_seconds: float = 2
) -> tuple[subprocess.Popen, Job]:
    """A worker running a `job_seconds` job, with a second job waiting behind it."""
    queue = queues.get_queue("content")
    queue.enqueue(SLEEP, job_seconds, EVENTS)
    second = queue.enqueue(SLEEP, 0, "test:second")
    worker = start_worker(env, *args)
    wait_for(lambda: events(redis_conn) == ["start"], timeout=20)
    return worker, second


def assert_stopped_after_the_job(worker: subprocess.Popen, second: Job, redis_conn) -> None:
    time.sleep(0.5)
    assert worker.poll() is None, "the worker stopped in the middle of its job"
    assert worker.wait(timeout=15) == 0
    assert events(redis_conn) == ["start", "end"]
    assert second.get_status() == "queued" and not redis_conn.exists("test:second")


def test_queue_restart_lets_a_busy_worker_finish_its_job_then_stop(worker_env, redis_conn):
    worker, second = busy_worker(worker_env, redis_conn)
    try:
        call_command("queue_restart", stdout=StringIO())
        assert_stopped_after_the_job(worker, second, redis_conn)
    finally:
        stop(worker)


def test_sigterm_lets_the_current_job_finish_and_starts_no_new_one(worker_env, redis_conn):
    worker, second = busy_worker(worker_env, redis_conn)
    try:
        os.kill(worker.pid, signal.SIGTERM)
        assert_stopped_after_the_job(worker, second, redis_conn)
    finally:
        stop(worker)


def test_max_time_stops_a_busy_worker_after_its_job(worker_env, redis_conn):
    # --max-time counts from the command's start, which includes preloading the pipeline
    # (1-2 s on a loaded machine): the job must still be running when it fires.
    worker, second = busy_worker(worker_env, redis_conn, "--max-time", "4", job_seconds=6)
    try:
        assert_stopped_after_the_job(worker, second, redis_conn)
    finally:
        stop(worker)


def test_a_worker_started_after_a_restart_keeps_working(worker_env, redis_conn):
    call_command("queue_restart", stdout=StringIO())
    worker = start_worker(worker_env)
    try:
        queues.get_queue("content").enqueue(SLEEP, 0, EVENTS)
        wait_for(lambda: events(redis_conn) == ["start", "end"], timeout=20)
        time.sleep(0.5)
        assert worker.poll() is None
    finally:
        stop(worker)


def test_a_restart_that_the_worker_missed_stops_it_at_the_next_job(worker_env, redis_conn):
    """The pub/sub message is lost on a worker that is not listening; the stored restart
    time still stops it before it takes another job."""
    worker, second = busy_worker(worker_env, redis_conn)
    try:
        # What queue_restart stores, without the pub/sub message: as if the worker missed it.
        connection = queues.get_queue().connection
        seconds, micros = connection.time()
        connection.set(RESTART_KEY, repr(seconds + micros / 1_000_000))
        assert_stopped_after_the_job(worker, second, redis_conn)
    finally:
        stop(worker)


@pytest.mark.llm_options(latency=0.4)
def test_stopping_a_generation_job_in_rq_cancels_its_run_once_without_retries(worker_env, author):
    """django-rq's "Stop job" (and `rq stop-job`) is RQ's send_stop_job_command: the run
    ends canceled, its checkpoints kept, and nothing runs it again."""
    (run,) = service.enqueue_posts(count=1, topic="LLM optimization", author=author)
    worker = start_worker({**worker_env, "GENERATION_RETRY_INTERVALS": "1,1,1"})
    connection = queues.get_queue().connection
    try:
        wait_for(
            lambda: GenerationRun.objects.filter(
                pk=run.pk, status=RunStatus.RUNNING, checkpoints__has_key="topic"
            ).exists(),
            timeout=20,
        )
        send_stop_job_command(connection, job_id_for(run.pk))
        run = wait_for(
            lambda: GenerationRun.objects.filter(pk=run.pk, status=RunStatus.CANCELED).first(),
            timeout=20,
        )
        # The stop callback cancels the run just before RQ files the job: poll for RQ's side.
        registry = queues.get_queue().failed_job_registry
        wait_for(lambda: job_id_for(run.pk) in registry.get_job_ids(cleanup=False), timeout=10)
        assert Job.fetch(job_id_for(run.pk), connection=connection).get_status() == "stopped"
        time.sleep(2)  # longer than a retry interval: nothing runs it again
    finally:
        stop(worker)
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELED and run.attempts == 1 and run.finished_at
    assert run.lease_token == "" and "topic" in run.checkpoints
    assert [(e["attempt"], e["kind"], e["error"]) for e in run.errors] == [
        (1, "stopped", "stopped by an operator (RQ stop-job)")
    ]
