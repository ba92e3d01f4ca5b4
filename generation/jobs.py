"""Old dotted paths of RQ jobs and callbacks (before 2026-12: `generation.jobs.*`).

Jobs already in Redis name their function and callbacks by dotted path; these keep them
working after the move to `generation.execution.jobs` and `generation.scheduling.periodic`.
Delete this module once no job made before the move can remain: every failed job older
than its failure TTL (30 days) and every queued or scheduled one has run, i.e. when
`manage.py queue_jobs --json` and `queue_failed` show no job whose function starts with
`generation.jobs.` (rq-scheduler's periodic jobs are registered again at each start).
"""

from generation.execution.jobs import generate_post, on_failure, on_stopped, on_success
from generation.scheduling.periodic import health_check, schedules_tick

__all__ = [
    "generate_post",
    "health_check",
    "on_failure",
    "on_stopped",
    "on_success",
    "schedules_tick",
]
