"""What generation/rq_private.py (the one module that touches RQ's private or undocumented
API) relies on in RQ, pinned.

RQ is pinned to the minor version these were written for (pyproject.toml). Each test
here fails if RQ changes a behaviour the project relies on: the worker methods it
overrides and the keywords it passes, how it stops before its first job, building and
pushing jobs by hand, a job's retries and repeats, the reaper's retry and fail, its
started registry's entries.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from redis import Redis
from rq import Callback, Queue, Worker
from rq.executions import Execution
from rq.job import Job, JobStatus

from generation import rq_private
from generation.execution import reaper, worker
from generation.execution.worker import GenerationWorker
from generation.rq_private import WorkerEdge
from tests.scratch_redis import ScratchRedis
from tests.workers import running_worker, wait_for

HOOKS = [
    name
    for name, member in vars(WorkerEdge).items()
    if (callable(member) or isinstance(member, property))
    and not name.startswith("__")
    and not name.startswith("on_")
]


@contextlib.contextmanager
def signal_handlers_kept() -> Iterator[None]:
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


@pytest.mark.parametrize("name", HOOKS)
def test_every_overridden_worker_hook_exists_in_rq_with_the_same_parameters(name):
    """An override RQ no longer calls, or calls with other arguments, would fail silently."""
    ours = getattr(WorkerEdge, name)
    rqs = getattr(Worker, name, None)
    assert rqs is not None, f"rq.Worker.{name} is gone"
    if isinstance(inspect.getattr_static(Worker, name), property):
        return
    params = list(inspect.signature(ours).parameters.values())[1:]
    if all(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
        return  # it hands RQ whatever RQ passes
    assert list(inspect.signature(ours).parameters) == list(inspect.signature(rqs).parameters)


def test_the_overrides_are_the_hooks_this_file_pins():
    assert set(HOOKS) == {
        "bootstrap",
        "register_birth",  # worker starts recorded (test_pause_stop: one start, one birth)
        "_shutdown",
        "check_for_suspension",
        "fork_work_horse",
        "main_work_horse",
        "handle_work_horse_killed",
        "handle_job_failure",
        "dequeue_timeout",
        "maintain_heartbeats",
        "run_maintenance_tasks",
    }


def test_our_worker_overrides_nothing_of_rqs_and_keeps_its_state_out_of_rqs_namespace(
    redis_conn,
):
    """Only the edge class overrides RQ; ours fills in `on_*` hooks RQ does not have, and
    keeps its own state under `ours`, never in an underscore attribute of RQ's object."""
    ours = set(vars(GenerationWorker)) - {"__init__", "__doc__", "__module__"}
    assert ours and all(name.startswith("on_") for name in ours)
    assert not any(hasattr(Worker, name) for name in ours)
    plain = set(vars(Worker(["content"], connection=redis_conn)))
    added = set(vars(GenerationWorker(["content"], connection=redis_conn))) - plain
    assert added == {"ours", "started_epoch"}


def test_the_worker_init_keywords_exist_and_reach_the_worker(redis_conn):
    params = inspect.signature(Worker.__init__).parameters
    assert all(name in params for name in rq_private.WORKER_INIT_KEYWORDS)
    ours = GenerationWorker(["content"], connection=redis_conn, maintenance_interval=7)
    assert ours.maintenance_interval == 7
    assert ours.job_monitoring_interval == 7


def test_a_built_job_is_pushed_now_or_scheduled_with_its_callbacks(redis_conn):
    queue = Queue("content", connection=redis_conn)
    build = {
        "args": (1,),
        "timeout": 60,
        "retry": rq_private.Retry(max=2, interval=[5, 10]),
        "description": "d",
        "result_ttl": 60,
        "failure_ttl": 60,
        "callbacks": ("os.getpid", "os.getcwd", "os.getppid"),
    }
    now, later = (rq_private.job_build(queue, "os.getpid", job_id=i, **build) for i in "ab")
    at = datetime.now(UTC) + timedelta(hours=1)
    with redis_conn.pipeline() as pipe:
        rq_private.job_push(queue, now, at=None, pipeline=pipe)
        rq_private.job_push(queue, later, at=at, pipeline=pipe)
        pipe.execute()
    assert queue.job_ids == ["a"]
    assert queue.scheduled_job_registry.get_job_ids() == ["b"]
    fetched = Job.fetch("a", connection=redis_conn)
    callbacks = (fetched.success_callback, fetched.failure_callback, fetched.stopped_callback)
    assert callbacks == (os.getpid, os.getcwd, os.getppid)  # RQ resolves them by dotted path
    assert rq_private.retries_left(fetched) == 2 and rq_private.will_retry(fetched)
    assert rq_private.retry_interval(fetched) == 5


def test_retries_stop_and_repeat_once_are_saved_with_the_job(redis_conn):
    queue = Queue("content", connection=redis_conn)
    job = queue.enqueue("os.getpid", retry=rq_private.Retry(max=3))
    rq_private.retries_stop(job)
    assert not rq_private.will_retry(job)
    rq_private.repeat_once_in(job, 42)
    job.save()
    again = Job.fetch(job.id, connection=redis_conn)
    assert (again.retries_left, again.repeats_left, again.repeat_intervals) == (0, 1, [42])


def test_the_reapers_retry_spends_one_retry_and_queues_the_job_again(redis_conn):
    queue = Queue("content", connection=redis_conn)
    job = queue.enqueue("os.getpid", retry=rq_private.Retry(max=3))
    queue.empty()
    with redis_conn.pipeline() as pipe:
        rq_private.job_retry_now(redis_conn, job, pipeline=pipe)
        pipe.execute()
    assert queue.job_ids == [job.id]
    assert Job.fetch(job.id, connection=redis_conn).retries_left == 2


def test_the_reapers_fail_puts_the_job_in_the_failed_registry(redis_conn):
    queue = Queue("content", connection=redis_conn)
    job = queue.enqueue("os.getpid", failure_ttl=600)
    queue.empty()
    with redis_conn.pipeline() as pipe:
        rq_private.job_fail(job, reason="Worker lost", pipeline=pipe)
        pipe.execute()
    assert job.get_status(refresh=True) == JobStatus.FAILED
    assert queue.failed_job_registry.get_job_ids() == [job.id]
    expires = redis_conn.zscore(queue.failed_job_registry.key, job.id)
    assert time.time() + 500 < expires <= time.time() + 600  # kept for the job's failure_ttl


def test_rqs_signal_handlers_are_its_warm_stop(redis_conn):
    """bootstrap installs them before RQ registers the worker: they must be RQ's own."""
    plain = Worker(["content"], connection=redis_conn)
    with signal_handlers_kept():
        plain._install_signal_handlers()
        assert signal.getsignal(signal.SIGTERM) == plain.request_stop
        assert signal.getsignal(signal.SIGINT) == plain.request_stop


def test_a_stop_before_the_work_loop_is_noted_not_raised(redis_conn):
    """RQ's warm stop goes through `_shutdown`, which raises when the worker is idle: before
    the loop that killed a starting worker. Ours notes the request instead."""
    plain = Worker(["content"], connection=redis_conn)
    ours = GenerationWorker(["content"], connection=redis_conn)
    with signal_handlers_kept():
        with pytest.raises(worker.StopRequested):
            plain.request_stop(signal.SIGTERM, None)
        ours.request_stop(signal.SIGTERM, None)
    assert ours._stop_requested and not ours.ours.in_work_loop


def test_rqs_work_loop_honours_a_stop_noted_before_it_starts(redis_conn):
    queue = Queue("content", connection=redis_conn)
    job = queue.enqueue("tests.jobs_for_tests.modules_loaded", [])
    plain = Worker([queue], connection=redis_conn)
    plain._stop_requested = True
    with signal_handlers_kept():
        plain.work(burst=True)
    assert job.get_status(refresh=True) == "queued"  # it never took the job


def test_the_reaper_forgets_a_dead_execution_in_the_started_registry(redis_conn):
    queue = Queue("content", connection=redis_conn)
    job, other = queue.enqueue("os.getpid"), queue.enqueue("os.getpid")
    registry = queue.started_job_registry
    with redis_conn.pipeline() as pipe:
        executions = [Execution.create(j, ttl=60, pipeline=pipe) for j in (job, other)]
        for execution in executions:
            registry.add_execution(execution, pipe, ttl=60)
        pipe.execute()
    assert (job.id, executions[0].id) in registry.get_job_and_execution_ids(cleanup=False)

    reaper.forget_execution(redis_conn, job)

    assert registry.get_job_ids(cleanup=False) == [other.id]


@pytest.mark.workers
@pytest.mark.django_db(transaction=True)
def test_the_worker_loads_the_pipeline_before_it_forks(worker_env, redis_conn):
    names = ["openai", "trafilatura", "generation.execution.jobs", "generation.pipeline.runner"]
    job = Queue("content", connection=redis_conn).enqueue(
        "tests.jobs_for_tests.modules_loaded", names
    )
    with running_worker(worker_env):
        wait_for(lambda: job.get_status(refresh=True) == "finished", timeout=60)
    assert job.return_value() == names


def test_the_worker_and_its_queues_wait_out_a_redis_outage(settings):
    """GenerationWorker relies on RQ doing all its Redis work through the worker's and the
    queues' connections (the horse and RQ's scheduler inherit them): they carry the patient
    retry policy, a fresh one per worker."""
    ours = GenerationWorker(["content", "default"], connection=Redis.from_url(settings.REDIS_URL))
    retry = ours.connection.get_retry()
    assert retry._retries * worker.REDIS_BACKOFF_CAP >= 60
    assert all(queue.connection.get_retry() is retry for queue in ours.queues)


def test_a_patient_connection_waits_for_a_restarted_redis():
    """redis-py retries a refused (re)connect only with OSError among the retried errors."""
    scratch = ScratchRedis().start()
    connection = Redis.from_url(scratch.url)
    connection.set_retry(worker.patient_retry())
    restart = threading.Timer(1.5, scratch.start)
    try:
        assert connection.ping()
        scratch.stop()
        restart.start()
        started = time.monotonic()
        assert connection.set("key", "after the restart")
        assert time.monotonic() - started >= 1
    finally:
        restart.join()
        scratch.stop()


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("generation.jobs.generate_post", "generation.execution.jobs.generate_post"),
        ("generation.jobs.on_success", "generation.execution.jobs.on_success"),
        ("generation.jobs.on_failure", "generation.execution.jobs.on_failure"),
        ("generation.jobs.on_stopped", "generation.execution.jobs.on_stopped"),
        ("generation.jobs.schedules_tick", "generation.scheduling.periodic.schedules_tick"),
        ("generation.jobs.health_check", "generation.scheduling.periodic.health_check"),
        (
            "generation.notifications.send_admins_mail",
            "generation.operations.notifications.send_admins_mail",
        ),
        (
            "generation.notifications.send_post_ready_mail",
            "generation.operations.notifications.send_post_ready_mail",
        ),
    ],
)
def test_jobs_already_in_redis_still_find_their_function_by_its_old_path(redis_conn, old, new):
    """Jobs and callbacks made before the regrouping name the old dotted paths; RQ resolves
    them (the shims generation/jobs.py, generation/notifications.py) to the same function."""
    job = Job.create(old, args=(1,), connection=redis_conn, on_failure=Callback(old))
    assert job.func is Job.create(new, connection=redis_conn).func
    assert job.failure_callback is job.func
