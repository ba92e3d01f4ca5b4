"""The RQ worker used by `manage.py rqworker`: stock RQ plus crash safety and restarts.

What stock RQ lacks, and what this adds:

- The pipeline (the `openai` SDK, trafilatura, the stages) is imported once, when the
  worker starts, so every work-horse it forks starts with it loaded: no job pays the
  import, and no other process (web, commands) loads it at all.
- Every process the worker forks (its work-horses, RQ's scheduler process) dies with it
  (PR_SET_PDEATHSIG, set by a fork hook): a SIGKILLed worker never leaves an orphan horse
  writing a post that another worker will write again, nor a scheduler holding its lock.
- A reaper, run every GENERATION_REAPER_INTERVAL seconds as part of the workers'
  maintenance (one at a time, under a Redis lock), finds runs whose lease expired (their
  worker and horse died together) and queues them again at once on any live worker,
  counting the attempt; stock RQ notices only after the job's heartbeat expires and its
  600 s maintenance interval comes round.
- A horse killed on its own (out of memory) has its run's error recorded with the signal.
- `queue_pause` (RQ's suspend) holds the workers of `content` and `video`; the email
  worker (email, default) goes on sending alerts and running the schedules' tick.
- `request_restart` (queue_restart): every worker stops after its current job. A
  pub/sub shutdown reaches live workers at once; a restart time stored in Redis also stops,
  at their next job boundary, workers that missed the message (starting up, reconnecting).
- The worker closes its database connections before it forks a horse, so the two
  processes never share one PostgreSQL socket (the reaper uses the ORM in the worker).
- Redis going away (a restart, a failover) is waited out, not fatal: every Redis command
  of the worker, its horses and its scheduler is retried with capped backoff for up to
  REDIS_PATIENCE_SECONDS (redis-py's own `Retry`). Stock RQ retries only its dequeue; an
  outage during a job killed the worker (its heartbeat raised) and, with it, the horse.
  Once Redis is back the horse records its result as usual, so no job is lost; after the
  patience runs out the worker exits and supervisor starts a fresh one.
"""

from __future__ import annotations

import ctypes
import importlib
import logging
import os
import signal
from typing import Any, cast

from django.conf import settings
from django.db import close_old_connections, connections
from redis import Redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry
from rq.command import send_shutdown_command
from rq.exceptions import StopRequested
from rq.job import Job
from rq.worker import Worker

from config.redaction import redact
from generation import rq_private
from generation.execution import reaper
from generation.operations import worker_births
from generation.rq_private import WorkerEdge

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
# queue_pause (RQ's suspend) holds the workers of these queues. A worker serving neither (the
# email worker: email, default) keeps going, so alerts, mails and the schedules' tick
# (which records "skipped: paused") are not paused with the posts.
PAUSED_QUEUES = frozenset({"content", "video"})
RESTART_KEY = "drb:workers:restart"
# What a job imports on first use, imported by the worker before it forks any horse.
PRELOAD = ("generation.execution.jobs", "generation.pipeline.runner")
# How long the worker waits out a Redis outage, retrying at most every REDIS_BACKOFF_CAP s
# (when Redis refuses connections; an address that does not answer at all also costs the
# connect timeout per try).
REDIS_PATIENCE_SECONDS = 300
REDIS_BACKOFF_CAP = 1.0


def patient_retry() -> Retry:
    """A redis-py retry policy that outlasts a Redis restart (connection refused, dropped).

    The socket's own errors are listed too: redis-py retries a (re)connect with this policy
    but, by default, gives up on the first refused connection."""
    return Retry(
        ExponentialBackoff(cap=REDIS_BACKOFF_CAP, base=0.05),
        retries=int(REDIS_PATIENCE_SECONDS / REDIS_BACKOFF_CAP),
        supported_errors=(RedisConnectionError, RedisTimeoutError, OSError),
    )


def request_restart(connection: Redis) -> list[str]:
    """Ask every live worker for a warm shutdown: idle ones stop now, busy ones after
    their current job; supervisor then starts fresh ones. Returns the workers' names."""
    connection.set(RESTART_KEY, repr(_redis_clock(connection)))
    names = [worker.name for worker in Worker.all(connection=connection)]
    for name in names:
        send_shutdown_command(connection, name)
    return names


def _redis_clock(connection: Redis) -> float:
    """Redis's own clock, shared by every host (theirs may disagree)."""
    seconds, micros = cast(tuple[int, int], connection.time())  # redis-py types it sync-or-async
    return seconds + micros / 1_000_000


def restart_requested_since(connection: Redis, started: float) -> bool:
    """True when queue_restart ran after a worker that started at `started` (epoch)."""
    value = cast(bytes | None, connection.get(RESTART_KEY))
    return value is not None and float(value) > started


def _die_with_parent() -> None:
    """Linux: have the kernel SIGKILL this process when its parent (the worker) dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the run lease still guards duplicates
        logger.warning("PR_SET_PDEATHSIG unavailable; relying on the run lease alone")


def preload() -> None:
    """Import the job entry point and the whole pipeline in this (the worker) process, and
    warm the page extractor, so that every work-horse forked from it starts warm."""
    for name in PRELOAD:
        importlib.import_module(name)
    from generation.research import extract

    extract.warm_up()


def wait_out_redis_outages(worker: Worker) -> None:
    """Give the worker's and its queues' connections the patient retry. Set on the pools
    themselves: RQ's scheduler process and every forked horse build or inherit theirs from
    the same connection kwargs."""
    for connection in [worker.connection, *(queue.connection for queue in worker.queues)]:
        connection.set_retry(patient_retry())


_fork_hook_installed = False


def _children_die_with_this_process() -> None:
    """Every child this process forks from now on (work-horses, RQ's scheduler process)
    gets PR_SET_PDEATHSIG: an orphan would run a job, or hold the scheduler lock, after
    its worker was killed."""
    global _fork_hook_installed
    if not _fork_hook_installed:
        os.register_at_fork(after_in_child=_die_with_parent)
        _fork_hook_installed = True


class GenerationWorker(WorkerEdge):
    """The project's worker. RQ's methods are overridden in `generation.rq_private`
    (`WorkerEdge`); this class fills in its `on_*` hooks."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        interval = max(1, int(settings.GENERATION_REAPER_INTERVAL))
        kwargs.setdefault("maintenance_interval", interval)
        super().__init__(*args, **kwargs)
        wait_out_redis_outages(self)
        self.started_epoch = _redis_clock(self.connection)

    def on_bootstrap(self) -> None:
        _children_die_with_this_process()
        preload()

    def on_birth(self) -> None:
        try:  # a crash loop shows as many births under one name (queue_health: worker_churn)
            worker_births.birth_record(self.connection, self.name)
        except Exception:  # bookkeeping must never stop a worker from starting
            logger.exception("Worker birth not recorded")

    def on_job_boundary(self) -> None:
        # Where a restart missed as a message (starting up, reconnecting) is noticed.
        if restart_requested_since(self.connection, self.started_epoch):
            self.log.info("Worker %s: restart requested (queue_restart); stopping", self.name)
            raise StopRequested()

    def on_suspension_applies(self) -> bool:
        # queue_pause holds only the workers of PAUSED_QUEUES (see there).
        return not PAUSED_QUEUES.isdisjoint(self.queue_names())

    def on_fork(self) -> None:
        # A forked horse must not inherit (and then share) the worker's open DB sockets.
        connections.close_all()

    def on_horse_start(self) -> None:
        # The worker died between fork() and the fork hook's prctl(): the horse was already
        # re-parented (to init or a container's subreaper, hence no test for pid 1) and
        # must not run.
        if os.getppid() != self.ours.parent_pid:
            os._exit(1)

    def on_failure_text(self, exc_string: str) -> str:
        """The traceback RQ keeps with the failed job (shown on the dashboard) is redacted
        like every log line: no configured secret, no URL password."""
        return redact(exc_string)

    def on_horse_killed(self, job: Job, ret_val: int) -> None:
        """The horse died without reporting (OOM killer, kill -9): record it on the run."""
        sig = os.WTERMSIG(ret_val) if ret_val and os.WIFSIGNALED(ret_val) else None
        reason = f"work-horse killed by signal {sig}" if sig else f"work-horse exited ({ret_val})"
        reaper.record_lost_attempt(job, reason=reason, will_retry=rq_private.will_retry(job))

    def on_dequeue_timeout_cap(self) -> int:
        # Wake from BLPOP at least once per reaper interval so idle workers reap too.
        return int(settings.GENERATION_REAPER_INTERVAL)

    def on_maintenance(self) -> None:
        try:
            close_old_connections()  # a connection the database dropped would fail every pass
            reaper.reap(self.connection)
        except StopRequested:  # a warm shutdown arrived meanwhile: let the work loop stop
            raise
        except Exception:  # the reaper must never take the worker down with it
            logger.exception("Reaper failed; it will try again next interval")
