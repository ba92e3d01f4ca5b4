"""Health checks: is generation working, and if not, what is wrong (reads only).

Twelve checks (and the daily budget when one is set), each an OK / WARNING / CRITICAL
verdict with a one-line summary; `queue_health`, the alert job and the overview page all
show these. A check that needs Redis while Redis is down is UNKNOWN rather than failed:
the `redis` check already says what is wrong, and an alert goes out once, not six times.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Any, cast

from django.conf import settings
from django.db import connection as db_connection
from django.utils import timezone
from redis import Redis
from redis.exceptions import RedisError
from rq.job import Job
from rq.scheduler import RQScheduler
from rq_scheduler import Scheduler

from blog.selectors import posts_due_for_verification
from generation import queues, ratelimit
from generation.models import GenerationRun, RunStatus
from generation.operations import budget, monitoring, pause, worker_births

# rq-scheduler keeps one hash per running instance, expiring unless renewed every interval.
SCHEDULER_KEYS = Scheduler.redis_scheduler_namespace_prefix + "*"
STUCK_GRACE_SECONDS = 60
VERIFICATION_LAG_DAYS = 7  # living posts: re-verification this far behind is a warning


class Level(IntEnum):
    """Nagios's levels, which are also queue_health's exit codes."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class CheckResult:
    name: str
    level: Level
    summary: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "level": self.level.label, "summary": self.summary}


def _redis() -> Redis:
    return queues.get_queue("default").connection


def check_redis() -> CheckResult:
    try:
        _redis().ping()
    except (RedisError, OSError) as exc:
        return CheckResult(
            "redis", Level.CRITICAL, f"unreachable at {queues.redis_url_display()}: {exc}"
        )
    return CheckResult("redis", Level.OK, f"answers at {queues.redis_url_display()}")


def check_queue_depth() -> CheckResult:
    limit = settings.QUEUE_DEPTH_ALERT
    depths = {name: queues.get_queue(name).count for name in settings.RQ_QUEUE_NAMES}
    deep = [name for name, depth in depths.items() if depth > limit]
    listing = ", ".join(f"{name} {depth}" for name, depth in depths.items())
    if deep:
        return CheckResult("queue_depth", Level.WARNING, f"{listing} waiting: over {limit}")
    return CheckResult("queue_depth", Level.OK, f"{listing} waiting (alert over {limit})")


def failures_last_hour() -> int:
    since = timezone.now() - timedelta(hours=1)
    return GenerationRun.objects.filter(status=RunStatus.FAILED, finished_at__gte=since).count()


def check_failures() -> CheckResult:
    limit, count = settings.FAILED_JOBS_ALERT, failures_last_hour()
    level = Level.WARNING if count >= limit else Level.OK
    return CheckResult(
        "failures", level, f"{count} run(s) failed in the last hour (alert at {limit})"
    )


def check_workers() -> CheckResult:
    live = [w for w in monitoring.workers_list() if w.alive and "content" in w.queues]
    if not live:
        return CheckResult("workers", Level.CRITICAL, "no live worker listens on content")
    return CheckResult("workers", Level.OK, f"{len(live)} live worker(s) on content")


def check_local_worker() -> CheckResult:
    """A live worker runs on this host: a container's or a supervisor host's own probe."""
    host = socket.gethostname()
    here = [w for w in monitoring.workers_list() if w.alive and w.hostname == host]
    if not here:
        return CheckResult("local_worker", Level.CRITICAL, f"no live worker on {host}")
    names = ", ".join(",".join(w.queues) for w in here)
    return CheckResult("local_worker", Level.OK, f"{len(here)} live worker(s) on {host} ({names})")


def check_scheduler() -> CheckResult:
    """rq-scheduler (`manage.py rqscheduler`) renews its key every interval; a clean stop
    marks it dead, a crash lets it expire."""
    redis = _redis()
    alive = [
        key for key in redis.scan_iter(SCHEDULER_KEYS, count=100) if not redis.hexists(key, "death")
    ]
    if not alive:
        return CheckResult(
            "scheduler", Level.WARNING, "rqscheduler is not running: no schedules or alerts"
        )
    return CheckResult("scheduler", Level.OK, "rqscheduler is alive")


def check_paused() -> CheckResult:
    """queue_pause (RQ's suspend) holds the content and video workers: say so, it is easy
    to forget."""
    state = pause.pause_state(_redis())
    if state is not None:
        return CheckResult("paused", Level.WARNING, state.summary())
    return CheckResult("paused", Level.OK, "not paused: workers take jobs")


def overdue_scheduled() -> dict[str, int]:
    """Per queue, delayed or retrying jobs due more than SCHEDULED_OVERDUE_S ago while no
    worker runs RQ's scheduler for that queue (its lock is gone): nothing will move them."""
    redis = _redis()
    due_before = time.time() - settings.SCHEDULED_OVERDUE_S
    overdue: dict[str, int] = {}
    for name in settings.RQ_QUEUE_NAMES:
        if redis.exists(RQScheduler.get_locking_key(name)):
            continue  # a --with-scheduler worker serves this queue
        key = queues.get_queue(name).scheduled_job_registry.key
        if count := cast(int, redis.zcount(key, "-inf", due_before)):
            overdue[name] = count
    return overdue


def check_scheduled() -> CheckResult:
    limit = settings.SCHEDULED_OVERDUE_S
    overdue = overdue_scheduled()
    if overdue:
        listing = ", ".join(f"{name} {count}" for name, count in overdue.items())
        return CheckResult(
            "scheduled",
            Level.WARNING,
            f"delayed/retrying jobs overdue by more than {limit}s ({listing}) and no worker "
            "runs --with-scheduler for them",
        )
    return CheckResult("scheduled", Level.OK, f"no delayed job overdue by more than {limit}s")


def check_worker_churn() -> CheckResult:
    """A worker restarting more than WORKER_RESTARTS_ALERT times an hour, or one that
    restarted and is gone (supervisor gave up on it), while the others hide it."""
    limit = settings.WORKER_RESTARTS_ALERT
    restarts = sorted(worker_births.restarts_last_hour(_redis()).values(), key=str)
    churning = [r for r in restarts if r.count > limit]
    gone = [r for r in restarts if r.gone and r.count <= limit]
    problems = []
    if churning:
        listing = ", ".join(f"{r.identity} {r.count}x" for r in churning)
        problems.append(f"worker(s) restarted more than {limit} times in the last hour: {listing}")
    if gone:
        listing = ", ".join(f"{r.identity} ({r.count}x)" for r in gone)
        problems.append(f"restarted and now gone (supervisor FATAL?): {listing}")
    if problems:
        return CheckResult("worker_churn", Level.WARNING, "; ".join(problems))
    return CheckResult(
        "worker_churn", Level.OK, f"no worker restarted more than {limit} times in an hour"
    )


def stuck_runs() -> list[int]:
    """Runs `running` for longer than the job timeout allows one attempt."""
    limit = timezone.now() - timedelta(
        seconds=settings.GENERATION_JOB_TIMEOUT + STUCK_GRACE_SECONDS
    )
    return list(
        GenerationRun.objects.filter(
            status=RunStatus.RUNNING, attempt_started_at__lt=limit
        ).values_list("pk", flat=True)[:20]
    )


def check_stuck_runs() -> CheckResult:
    stuck = stuck_runs()
    if stuck:
        ids = ", ".join(str(pk) for pk in stuck)
        return CheckResult(
            "stuck_runs", Level.WARNING, f"run(s) {ids} running past the job timeout"
        )
    return CheckResult("stuck_runs", Level.OK, "no run is running past the job timeout")


def oldest_waiting_seconds() -> dict[str, float]:
    """Per queue, how long its oldest waiting job has waited (0 when empty)."""
    now = datetime.now(UTC)
    ages = {}
    for name in settings.RQ_QUEUE_NAMES:
        queue = queues.get_queue(name)
        ages[name] = 0.0
        for job_id in queue.get_job_ids(0, 1):
            job = Job.fetch(job_id, connection=queue.connection)
            if job.enqueued_at:
                enqueued = job.enqueued_at.replace(tzinfo=job.enqueued_at.tzinfo or UTC)
                ages[name] = max((now - enqueued).total_seconds(), 0.0)
    return ages


def check_queue_wait() -> CheckResult:
    limit = settings.QUEUE_WAIT_ALERT_S
    ages = oldest_waiting_seconds()
    name, age = max(ages.items(), key=lambda item: item[1])
    if age >= limit:
        return CheckResult(
            "queue_wait",
            Level.WARNING,
            f"oldest job on {name} has waited {age:.0f}s (alert at {limit}s)",
        )
    return CheckResult("queue_wait", Level.OK, f"oldest waiting job {age:.0f}s (alert at {limit}s)")


def check_budget() -> CheckResult:
    state = budget.budget_state()
    if state.limit is None:
        return CheckResult("budget", Level.OK, "no daily budget set (GENERATION_DAILY_BUDGET_USD)")
    if state.exceeded:
        return CheckResult("budget", Level.WARNING, state.message())
    return CheckResult("budget", Level.OK, f"${state.spent:.4f} of ${state.limit:.2f} spent today")


def check_verification() -> CheckResult:
    """Living posts: is re-verification keeping up? The oldest due post's due time (its
    last check or publication plus VERIFY_AFTER_DAYS) more than a week ago: a warning."""
    after = timedelta(days=settings.VERIFY_AFTER_DAYS)
    now = timezone.now()
    due = posts_due_for_verification(now - after)
    oldest = due.first()
    if oldest is None:
        return CheckResult("verification", Level.OK, "no published post is due for re-verification")
    behind = now - ((oldest.last_verified_at or oldest.published_at or now) + after)
    count = due.count()
    summary = f"{count} post(s) due; the oldest was due {behind.days} day(s) ago"
    if behind > timedelta(days=VERIFICATION_LAG_DAYS):
        advice = " (more than a week behind: is the scheduler running? raise VERIFY_BATCH?)"
        return CheckResult("verification", Level.WARNING, summary + advice)
    return CheckResult("verification", Level.OK, summary)


def check_llm_rate() -> CheckResult:
    """Calls that spend most of their time waiting for the LLM rate limit: the limit, not
    the number of workers, sets the pace."""
    limit = settings.LLM_RATE_WAIT_WARN_SHARE
    rows = [row for row in ratelimit.report_from_settings(_redis()) if row.recent]
    if not rows:
        return CheckResult("llm_rate", Level.OK, "no LLM calls in the last 10 minutes")
    worst = max(rows, key=lambda row: row.wait_share)
    summary = (
        f"{worst.model} calls spent {worst.wait_share:.0%} of their time waiting for the "
        f"rate limit in the last 10 minutes (warn over {limit:.0%})"
    )
    if worst.wait_share > limit:
        advice = "; more workers would not help: raise LLM_RPM/LLM_TPM with the provider"
        return CheckResult("llm_rate", Level.WARNING, summary + advice)
    return CheckResult("llm_rate", Level.OK, summary)


REDIS_CHECKS: list[Callable[[], CheckResult]] = [
    check_queue_depth,
    check_workers,
    check_scheduler,
    check_queue_wait,
    check_llm_rate,
    check_paused,
    check_scheduled,
    check_worker_churn,
]
DATABASE_CHECKS: list[Callable[[], CheckResult]] = [
    check_failures,
    check_stuck_runs,
    check_verification,
]
NAMES = [
    "redis",
    "queue_depth",
    "failures",
    "workers",
    "scheduler",
    "stuck_runs",
    "queue_wait",
    "llm_rate",
    "paused",
    "scheduled",
    "worker_churn",
    "verification",
]


def run_checks(only: list[str] | None = None) -> list[CheckResult]:
    """Every check, in NAMES order (then the budget when one is set); or those in `only`
    (which may also name `local_worker`)."""
    if only:
        return [_one(name) for name in only]
    redis = check_redis()
    results = {redis.name: redis}
    for check in REDIS_CHECKS:
        result = _guarded(check) if redis.level == Level.OK else None
        name = check.__name__.removeprefix("check_")
        results[name] = result or CheckResult(name, Level.UNKNOWN, "not checked: Redis is down")
    for check in DATABASE_CHECKS:
        result = check()
        results[result.name] = result
    ordered = [results[name] for name in NAMES]
    if settings.GENERATION_DAILY_BUDGET_USD is not None:
        ordered.append(check_budget())
    return ordered


def _guarded(check: Callable[[], CheckResult]) -> CheckResult | None:
    """Redis may go away between the ping and the check: then the check is UNKNOWN."""
    try:
        return check()
    except (RedisError, OSError):
        return None


def overall(results: list[CheckResult]) -> Level:
    """The worst known level (UNKNOWN only when nothing else is known)."""
    known = [result.level for result in results if result.level != Level.UNKNOWN]
    return max(known, default=Level.UNKNOWN)


READINESS_WARNINGS: list[Callable[[], CheckResult]] = [
    check_paused,
    check_scheduled,
    check_worker_churn,
]


def readiness_warnings() -> list[CheckResult]:
    """The stalls /readyz mentions without failing: a pause, overdue delayed jobs, a worker
    in a crash loop (the web can still serve; a load balancer must not pull it)."""
    results = [_guarded(check) for check in READINESS_WARNINGS]
    return [result for result in results if result and result.level != Level.OK]


def readiness() -> dict[str, str]:
    """What /readyz needs: do the database and Redis answer? name → "ok" or the error."""
    status = {}
    try:
        with db_connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        status["database"] = "ok"
    except Exception as exc:  # any database failure means "not ready", whatever its class
        status["database"] = f"error: {type(exc).__name__}"
    try:
        _redis().ping()
        status["redis"] = "ok"
    except (RedisError, OSError) as exc:
        status["redis"] = f"error: {type(exc).__name__}"
    return status


def _one(name: str) -> CheckResult:
    check = globals().get(f"check_{name}")
    if check is None:
        raise ValueError(f"Unknown check {name!r}: one of {', '.join(CHOICES)}.")
    if name == "redis":
        return check()
    return _guarded(check) or CheckResult(name, Level.CRITICAL, "Redis is unreachable")


CHOICES = [*NAMES, "budget", "local_worker"]
