"""The RQ worker used by `manage.py rqworker`: stock RQ plus crash safety and restarts.

What stock RQ lacks, and what this adds:

- The work-horse dies with its worker (PR_SET_PDEATHSIG): a SIGKILLed worker never
  leaves an orphan horse writing a post that another worker will write again.
- A reaper, run every GENERATION_REAPER_INTERVAL seconds as part of the workers'
  maintenance (one at a time, under a Redis lock), finds runs whose lease expired (their
  worker and horse died together) and queues them again at once on any live worker,
  counting the attempt; stock RQ notices only after the job's heartbeat expires and its
  600 s maintenance interval comes round.
- A horse killed on its own (out of memory) has its run's error recorded with the signal.
- `request_restart` (queue_restart): every worker stops after its current job.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal

from django.conf import settings
from redis import Redis
from rq.command import send_shutdown_command
from rq.worker import Worker

from generation import reaper

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1


def request_restart(connection: Redis) -> list[str]:
    """Ask every live worker for a warm shutdown: idle ones stop now, busy ones after
    their current job; supervisor then starts fresh ones. Returns the workers' names."""
    names = [worker.name for worker in Worker.all(connection=connection)]
    for name in names:
        send_shutdown_command(connection, name)
    return names


def _die_with_parent() -> None:
    """Linux: have the kernel SIGKILL this process when its parent (the worker) dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the run lease still guards duplicates
        logger.warning("PR_SET_PDEATHSIG unavailable; relying on the run lease alone")


class GenerationWorker(Worker):
    def __init__(self, *args, **kwargs) -> None:
        interval = max(1, int(settings.GENERATION_REAPER_INTERVAL))
        kwargs.setdefault("maintenance_interval", interval)
        kwargs.setdefault("job_monitoring_interval", min(30, interval))
        super().__init__(*args, **kwargs)

    def main_work_horse(self, job, queue) -> None:
        _die_with_parent()
        if os.getppid() == 1:  # the worker died between fork() and prctl()
            os._exit(1)
        super().main_work_horse(job, queue)

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
            reaper.reap_expired_runs(self.connection)
        except Exception:  # the reaper must never take the worker down with it
            logger.exception("Reaper failed; it will try again next interval")
