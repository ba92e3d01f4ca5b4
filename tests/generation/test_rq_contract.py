"""What generation/worker.py and generation/reaper.py rely on in RQ, pinned.

RQ is pinned to the minor version these were written for (pyproject.toml). Each test
here fails if RQ changes a behaviour the project relies on: the worker's hooks it
overrides, how it stops before its first job, its started registry's entries.
"""

from __future__ import annotations

import contextlib
import inspect
import signal
import threading
import time
from collections.abc import Iterator

import pytest
from redis import Redis
from rq import Queue, Worker
from rq.executions import Execution

from generation import reaper, worker
from generation.worker import GenerationWorker
from tests.scratch_redis import ScratchRedis
from tests.workers import running_worker, wait_for

HOOKS = [
    name
    for name, member in vars(GenerationWorker).items()
    if (callable(member) or isinstance(member, property)) and not name.startswith("__")
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
    ours = getattr(GenerationWorker, name)
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
    assert ours._stop_requested


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
    names = ["openai", "trafilatura", "generation.jobs", "generation.pipeline.runner"]
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
