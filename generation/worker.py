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

from django.conf import settings
from django.db import close_old_connections, connections
from redis import Redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry
from rq.command import send_shutdown_command
from rq.exceptions import StopRequested
from rq.worker import Worker

from config.redaction import redact
from generation import reaper, worker_births

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
# queue_pause (RQ's suspend) holds the workers of these queues. A worker serving neither (the
# email worker: email, default) keeps going, so alerts, mails and the schedules' tick
# (which records "skipped: paused") are not paused with the posts.
PAUSED_QUEUES = frozenset({"content", "video"})
RESTART_KEY = "drb:workers:restart"
# What a job imports on first use, imported by the worker before it forks any horse.
PRELOAD = ("generation.jobs", "generation.pipeline.runner")
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
    seconds, micros = connection.time()
    return seconds + micros / 1_000_000


def restart_requested_since(connection: Redis, started: float) -> bool:
    """True when queue_restart ran after a worker that started at `started` (epoch)."""
    value = connection.get(RESTART_KEY)
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


class GenerationWorker(Worker):
    def __init__(self, *args, **kwargs) -> None:
        interval = max(1, int(settings.GENERATION_REAPER_INTERVAL))
        kwargs.setdefault("maintenance_interval", interval)
        kwargs.setdefault("job_monitoring_interval", min(30, interval))
        super().__init__(*args, **kwargs)
        wait_out_redis_outages(self)
        self.started_epoch = _redis_clock(self.connection)
        self._in_work_loop = False

    def bootstrap(self, *args, **kwargs) -> None:
        # Stock RQ registers the worker (and subscribes to commands) before it installs its
        # signal handlers, so a queue_restart or SIGTERM in that window killed it with a
        # KeyboardInterrupt (exit 1). Install them first; `_shutdown` notes early requests.
        self._install_signal_handlers()
        _children_die_with_this_process()
        preload()
        super().bootstrap(*args, **kwargs)

    def register_birth(self) -> None:
        super().register_birth()
        try:  # a crash loop shows as many births under one name (queue_health: worker_churn)
            worker_births.birth_record(self.connection, self.name)
        except Exception:  # bookkeeping must never stop a worker from starting
            logger.exception("Worker birth not recorded")

    def _shutdown(self) -> None:
        if not self._in_work_loop:
            self._stop_requested = True  # the work loop checks it before its first dequeue
            return
        super()._shutdown()

    def check_for_suspension(self, burst: bool) -> None:
        # Called before every dequeue: the job boundary where a missed restart is noticed.
        self._in_work_loop = True
        if restart_requested_since(self.connection, self.started_epoch):
            self.log.info("Worker %s: restart requested (queue_restart); stopping", self.name)
            raise StopRequested()
        if PAUSED_QUEUES.isdisjoint(self.queue_names()):
            return
        super().check_for_suspension(burst)

    def fork_work_horse(self, job, queue) -> None:
        # A forked horse must not inherit (and then share) the worker's open DB sockets.
        connections.close_all()
        self._worker_pid = os.getpid()
        super().fork_work_horse(job, queue)

    def main_work_horse(self, job, queue) -> None:
        # The worker died between fork() and the fork hook's prctl(): the horse was already
        # re-parented (to init or a container's subreaper, hence no test for pid 1) and
        # must not run.
        if os.getppid() != self._worker_pid:
            os._exit(1)
        super().main_work_horse(job, queue)

    def handle_job_failure(
        self, job, queue, started_job_registry=None, exc_string: str = "", execution=None
    ) -> None:
        """The traceback RQ keeps with the failed job (shown on the dashboard) is redacted
        like every log line: no configured secret, no URL password."""
        super().handle_job_failure(
            job, queue, started_job_registry, exc_string=redact(exc_string), execution=execution
        )

    def handle_work_horse_killed(self, job, retpid, ret_val, rusage) -> None:
        """The horse died without reporting (OOM killer, kill -9): record it on the run."""
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)
        sig = os.WTERMSIG(ret_val) if ret_val and os.WIFSIGNALED(ret_val) else None
        reason = f"work-horse killed by signal {sig}" if sig else f"work-horse exited ({ret_val})"
        reaper.record_lost_attempt(job, reason=reason, will_retry=job.should_retry)

    @property
    def dequeue_timeout(self) -> int:
        # Wake from BLPOP at least once per reaper interval so idle workers reap too.
        return max(1, min(super().dequeue_timeout, int(settings.GENERATION_REAPER_INTERVAL)))

    def maintain_heartbeats(self, job, execution) -> None:
        # Called every job_monitoring_interval while a horse works: busy workers reap too.
        super().maintain_heartbeats(job, execution)
        if self.should_run_maintenance_tasks:
            self.run_maintenance_tasks()

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()
        try:
            close_old_connections()  # a connection the database dropped would fail every pass
            reaper.reap(self.connection)
        except StopRequested:  # a warm shutdown arrived meanwhile: let the work loop stop
            raise
        except Exception:  # the reaper must never take the worker down with it
            logger.exception("Reaper failed; it will try again next interval")
