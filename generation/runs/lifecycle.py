"""The life of a run: every change of its status, in one place, along one table.

A run moves only along the pairs of `RULES`. Each transition is one function here, run
under a lock on the run's row (a conditional UPDATE for the claim, SELECT ... FOR UPDATE
for the rest), and a move the table does not allow raises IllegalTransition. Nothing
outside this module writes a run's `status` or its lease.

An execution holds its run through a lease (generation/runs/leases.py) that the claim takes
here; the transitions that end an attempt release it.

Some transitions race by nature (the worker and RQ's failure callback both notice a
dead attempt; an operator cancels a run as a worker claims it): those functions say
whether they moved the run and leave it alone when another transition got there first.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from config.redaction import redact
from generation.exceptions import GenerationError, IllegalTransition, RunNotClaimable
from generation.models import GenerationRun, RunStatus
from generation.runs.leases import Lease, lease_expiry

if TYPE_CHECKING:
    from blog.models import Post
    from generation.runs.request import GenerationRequest

logger = logging.getLogger(__name__)

NEW = ""  # no row yet (before creation) or none any more (after a discard)
QUEUED, RUNNING, RETRYING = RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.RETRYING
SUCCEEDED, FAILED, CANCELED = RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELED


class Transition(StrEnum):
    CREATE = "create"
    DISCARD = "discard"
    CLAIM = "claim"
    ATTEMPT_FAILED = "attempt_failed"
    ATTEMPT_LOST = "attempt_lost"
    RETRY_DECIDED = "retry_decided"
    SUCCEED = "succeed"
    CANCEL = "cancel"
    STOP = "stop"
    RETRY = "retry"
    RETRY_UNDONE = "retry_undone"
    REQUEUE = "requeue"
    BUDGET_WAIT = "budget_wait"


# The allowed (from, to) pairs of each transition: the whole state machine.
RULES: dict[Transition, frozenset[tuple[str, str]]] = {
    # enqueue_posts, generate_posts, schedules: the runs of a request.
    Transition.CREATE: frozenset({(NEW, QUEUED)}),
    # enqueue_posts when Redis refused the jobs: the runs are removed again.
    Transition.DISCARD: frozenset({(QUEUED, NEW)}),
    # An execution takes the run (a running one only once its lease expired).
    Transition.CLAIM: frozenset({(QUEUED, RUNNING), (RETRYING, RUNNING), (RUNNING, RUNNING)}),
    # The pipeline recorded its attempt's error (lease-checked).
    Transition.ATTEMPT_FAILED: frozenset({(RUNNING, RETRYING), (RUNNING, FAILED)}),
    # The execution died without a word: killed horse, dead worker (reaper), stop-job.
    Transition.ATTEMPT_LOST: frozenset({(RUNNING, RETRYING), (RUNNING, FAILED)}),
    # RQ's word after a failed attempt: retried at a time, or failed for good.
    Transition.RETRY_DECIDED: frozenset(
        {(RETRYING, RETRYING), (RETRYING, FAILED), (FAILED, FAILED), (FAILED, RETRYING)}
    ),
    # Publishing, in the post's own transaction (lease-checked).
    Transition.SUCCEED: frozenset({(RUNNING, SUCCEEDED)}),
    # An operator: the admin, queue_jobs --empty, the dashboard deleting its job.
    Transition.CANCEL: frozenset({(QUEUED, CANCELED), (RETRYING, CANCELED)}),
    # An operator stopped a running attempt (admin "Stop", queue_stop, RQ's stop-job).
    Transition.STOP: frozenset({(RUNNING, CANCELED)}),
    # An operator's retry (admin, queue_retry): a fresh set of attempts; a canceled run
    # (stopped mid-flight) resumes from its checkpoints the same way.
    Transition.RETRY: frozenset({(FAILED, QUEUED), (CANCELED, QUEUED)}),
    # That retry's jobs could not reach Redis: the runs are failed again.
    Transition.RETRY_UNDONE: frozenset({(QUEUED, FAILED)}),
    # RQ's own requeue of the failed job (dashboard, `rq requeue`): attempts count on.
    Transition.REQUEUE: frozenset({(FAILED, QUEUED)}),
    # Today's budget is spent: a waiting run keeps waiting, with the time it looks again.
    Transition.BUDGET_WAIT: frozenset({(QUEUED, QUEUED), (RETRYING, RETRYING)}),
}
ALLOWED: frozenset[tuple[str, str]] = frozenset().union(*RULES.values())
RELEASED = {"lease_token": "", "lease_expires_at": None}  # no execution holds the run


def check(transition: Transition, current: str, target: str) -> None:
    """Raise IllegalTransition unless `transition` may move a run from `current` to `target`."""
    if (current, target) not in RULES[transition]:
        raise IllegalTransition(
            f"A run cannot go from {current or 'nothing'} to {target or 'nothing'} by {transition}."
        )


def sources(transition: Transition) -> list[str]:
    """The statuses `transition` moves a run out of."""
    return sorted({current for current, _ in RULES[transition]})


def _move(run: GenerationRun, transition: Transition, target: str, **fields: Any) -> None:
    """Write the new status of a row the caller holds locked, once the table allows it."""
    check(transition, run.status, target)
    GenerationRun.objects.filter(pk=run.pk, status=run.status).update(status=target, **fields)
    for name, value in {"status": target, **fields}.items():
        setattr(run, name, value)


def _move_all(runs: list, transition: Transition, target: str, **fields: Any) -> None:
    """`_move` for many locked rows at once: one UPDATE."""
    for run in runs:
        check(transition, run.status, target)
    GenerationRun.objects.filter(pk__in=[run.pk for run in runs]).update(status=target, **fields)


def _locked(run_id: int) -> GenerationRun | None:
    return GenerationRun.objects.select_for_update().filter(pk=run_id).first()


def _locked_many(transition: Transition, run_ids: Iterable[int], *fields: str) -> list:
    return list(
        GenerationRun.objects.select_for_update()
        .filter(pk__in=list(run_ids), status__in=sources(transition))
        .only("pk", "status", *fields)
    )


# --- Creation ---------------------------------------------------------------------------


def runs_create(request: GenerationRequest) -> list[GenerationRun]:
    """Create the request's runs, queued, in one INSERT (one batch id groups them)."""
    check(Transition.CREATE, NEW, QUEUED)
    batch = uuid.uuid4().hex
    scheduled_for = timezone.now() + timedelta(seconds=request.delay) if request.delay else None
    runs = [
        GenerationRun(
            status=QUEUED,
            topic=request.topic,
            publish=request.publish,
            with_tags=request.with_tags,
            category_name=request.category,
            author_id=request.author_id,
            origin=request.origin,
            queue_name=request.queue,
            batch=batch,
            batch_index=index,
            batch_size=request.count,
            max_attempts=request.max_attempts,
            scheduled_for=scheduled_for,
            schedule_occurrence_id=request.occurrence_id,
            model=settings.GENERATION_MODEL,
            estimate_usd=request.estimate_usd,
        )
        for index in range(request.count)
    ]
    return GenerationRun.objects.bulk_create(runs)


@transaction.atomic
def runs_discard(run_ids: Iterable[int]) -> int:
    """Delete queued runs whose jobs never reached Redis; returns how many."""
    runs = _locked_many(Transition.DISCARD, run_ids)
    for run in runs:
        check(Transition.DISCARD, run.status, NEW)  # a row is deleted, not moved
    return GenerationRun.objects.filter(pk__in=[run.pk for run in runs]).delete()[0]


# --- An execution: claim, its error, its end --------------------------------------------


def error_entry(*, attempt: int, stage: str, error: BaseException | str, kind: str) -> dict:
    """One failed attempt for the run's history; secrets (even echoed truncated) masked."""
    message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    entry = {
        "attempt": attempt,
        "stage": stage,
        "error": redact(message)[:2000],
        "kind": kind,
        "at": timezone.now().isoformat(),
    }
    restart = getattr(error, "restart_stage", None)
    if restart:
        entry["restart"] = restart  # an operator's retry starts again from this stage
    return entry


def run_claim(run_id: int, *, worker_name: str = "") -> Lease:
    """Take the run for this execution, or raise RunNotClaimable saying why not.

    Claimable: queued, retrying, or running with an expired lease (its holder died).
    Each claim is one attempt. One conditional UPDATE, so two executions never both win.
    """
    now = timezone.now()
    token = uuid.uuid4().hex
    waiting = [status for status in sources(Transition.CLAIM) if status != RUNNING]
    claimed = (
        GenerationRun.objects.filter(pk=run_id)
        .filter(Q(status__in=waiting) | Q(status=RUNNING, lease_expires_at__lt=now))
        .update(
            status=RUNNING,
            lease_token=token,
            lease_expires_at=lease_expiry(),
            worker_name=worker_name[:200],
            attempts=F("attempts") + 1,
            started_at=Coalesce(F("started_at"), now),
            attempt_started_at=now,
            next_retry_at=None,
            finished_at=None,
            status_note="",
        )
    )
    if claimed:
        return Lease(run_id=run_id, token=token)
    status = GenerationRun.objects.filter(pk=run_id).values_list("status", flat=True).first()
    if status is None:
        raise RunNotClaimable(f"Run {run_id} does not exist.")
    raise RunNotClaimable(f"Run {run_id} is {status} and held elsewhere or finished.")


@transaction.atomic
def run_record_error(lease: Lease, error: BaseException) -> bool:
    """Store an attempt's error on the run and release the lease.

    The run becomes `retrying` while attempts remain and the error is not permanent,
    `failed` otherwise; RQ's callback then settles the retry time (`run_retry_decided`).
    False, writing nothing, when another execution holds the run now: its record wins.
    """
    run = _locked(lease.run_id)
    if run is None or run.lease_token != lease.token or run.status != RUNNING:
        return False
    permanent = isinstance(error, GenerationError) and error.permanent
    failed = permanent or run.attempts >= run.max_attempts
    kind = "permanent" if permanent else "error"
    _move(
        run,
        Transition.ATTEMPT_FAILED,
        FAILED if failed else RETRYING,
        errors=[
            *run.errors,
            error_entry(attempt=run.attempts, stage=run.stage, error=error, kind=kind),
        ],
        **RELEASED,
        finished_at=timezone.now() if failed else None,
        # A held run (its cost ceiling) says why in its status.
        status_note=str(error)[:300] if getattr(error, "held", False) else "",
    )
    return True


@transaction.atomic
def run_attempt_lost(
    run_id: int, *, reason: str, will_retry: bool, retry_at: datetime | None = None
) -> GenerationRun | None:
    """Record that a running run's execution died (`reason`); the run is retrying (at
    `retry_at`, None: now) or failed. None when it no longer runs: already recorded."""
    run = _locked(run_id)
    if run is None or run.status != RUNNING:
        return None
    _move(
        run,
        Transition.ATTEMPT_LOST,
        RETRYING if will_retry else FAILED,
        errors=[
            *run.errors,
            error_entry(attempt=run.attempts, stage=run.stage, error=reason, kind="crash"),
        ],
        next_retry_at=retry_at if will_retry else None,
        finished_at=None if will_retry else timezone.now(),
        **RELEASED,
    )
    return run


@transaction.atomic
def run_retry_decided(run_id: int, *, retry_at: datetime | None) -> bool:
    """RQ's decision on a failed attempt wins: retrying at `retry_at`, or failed for good
    (None). False when the run is not between attempts (it was not a recorded failure)."""
    run = _locked(run_id)
    if run is None or run.status not in sources(Transition.RETRY_DECIDED):
        return False
    failed_at = run.finished_at or timezone.now()
    _move(
        run,
        Transition.RETRY_DECIDED,
        RETRYING if retry_at else FAILED,
        next_retry_at=retry_at,
        finished_at=None if retry_at else failed_at,
    )
    return True


def run_hold(lease: Lease) -> GenerationRun:
    """Lock the run for the caller's transaction while this execution still holds it and
    it has no post; RunNotClaimable otherwise (a stale or duplicate execution)."""
    if not transaction.get_connection().in_atomic_block:
        raise IllegalTransition("run_hold needs the caller's transaction.")
    run = _locked(lease.run_id)
    if run is None or run.lease_token != lease.token or run.status != RUNNING or run.post_id:
        raise RunNotClaimable(
            f"Run {lease.run_id} is no longer held by this execution; not publishing."
        )
    return run


def run_succeeded(lease: Lease, *, post: Post, **fields: Any) -> None:
    """The run made `post`: succeeded, lease released. In the post's own transaction."""
    run = run_hold(lease)
    _move(
        run,
        Transition.SUCCEED,
        SUCCEEDED,
        post=post,
        finished_at=timezone.now(),
        next_retry_at=None,
        **RELEASED,
        **fields,
    )


# --- Operators ----------------------------------------------------------------------------


@transaction.atomic
def runs_cancel(run_ids: Iterable[int]) -> list[GenerationRun]:
    """Cancel the queued and retrying runs among `run_ids`; returns them (pk, queue_name).
    Running and finished runs are left as they are (a running one finishes its attempt)."""
    runs = _locked_many(Transition.CANCEL, run_ids, "queue_name")
    _move_all(runs, Transition.CANCEL, CANCELED, next_retry_at=None, finished_at=timezone.now())
    return runs


@transaction.atomic
def runs_stop(run_ids: Iterable[int], *, reason: str) -> list[GenerationRun]:
    """Cancel the running runs among `run_ids`: their lease is released (so the execution
    can write nothing more, a post least of all) and their checkpoints stay for a retry.
    Returns them (pk, queue_name); the caller stops their jobs in RQ."""
    runs = _locked_many(Transition.STOP, run_ids, "queue_name", "errors", "attempts", "stage")
    now = timezone.now()
    for run in runs:
        entry = error_entry(attempt=run.attempts, stage=run.stage, error=reason, kind="stopped")
        _move(
            run,
            Transition.STOP,
            CANCELED,
            errors=[*run.errors, entry],
            next_retry_at=None,
            finished_at=now,
            **RELEASED,
        )
    return runs


def restart_stage(errors: list[dict]) -> str | None:
    """The stage the last error asked a retry to redo (None: resume where it stopped)."""
    return errors[-1].get("restart") if errors else None


# What a retry keeps of a run's checkpoints, given the stage to redo: the pipeline's
# reader (`generation.pipeline.checkpoints.kept_for_retry`), handed in by the caller, so
# this module knows nothing of the checkpoints' shape.
CheckpointsKept = Callable[[dict, str | None], dict]


@transaction.atomic
def runs_retry(run_ids: Iterable[int], *, kept: CheckpointsKept) -> list[GenerationRun]:
    """Queue the failed (or stopped) runs among `run_ids` again with a fresh set of attempts,
    from their last checkpoint (or earlier, when their last error asked to redo a stage);
    their error history stays. Returns them (pk, queue_name); the caller pushes their jobs."""
    runs = _locked_many(Transition.RETRY, run_ids, "queue_name", "checkpoints", "errors")
    for run in runs:
        kept_checkpoints = kept(run.checkpoints, restart_stage(run.errors))
        if kept_checkpoints != run.checkpoints:
            GenerationRun.objects.filter(pk=run.pk).update(checkpoints=kept_checkpoints)
    _move_all(
        runs,
        Transition.RETRY,
        QUEUED,
        attempts=0,
        next_retry_at=None,
        finished_at=None,
        status_note="",
        **RELEASED,
    )
    return runs


@transaction.atomic
def runs_retry_undone(run_ids: Iterable[int]) -> int:
    """The retried runs' jobs never reached Redis: the still-queued ones are failed again."""
    runs = _locked_many(Transition.RETRY_UNDONE, run_ids)
    _move_all(runs, Transition.RETRY_UNDONE, FAILED, finished_at=timezone.now())
    return len(runs)


@transaction.atomic
def run_requeued_by_rq(run_id: int, *, retries_left: int = 0) -> bool:
    """A failed run whose own RQ job an operator requeued (django-rq dashboard, `rq requeue`).

    The run is `queued` again from its last checkpoint. Unlike `runs_retry` its attempts
    keep counting and its error history stays as it is: it is allowed one more attempt,
    plus whatever retries RQ still holds for the job. False when the run was not failed.
    """
    run = _locked(run_id)
    if run is None or run.status not in sources(Transition.REQUEUE):
        return False
    _move(
        run,
        Transition.REQUEUE,
        QUEUED,
        max_attempts=run.attempts + 1 + max(retries_left, 0),
        finished_at=None,
        next_retry_at=None,
        **RELEASED,
    )
    logger.info("Run %s: its failed job was requeued in RQ; queued again", run_id)
    return True


@transaction.atomic
def run_wait_for_budget(run_id: int, *, until: datetime, note: str = "") -> bool:
    """A waiting run held back by the daily budget: it stays queued (or retrying), no
    attempt counted, and shows when it looks again (and `note`, why). False if it no
    longer waits."""
    run = _locked(run_id)
    if run is None or run.status not in sources(Transition.BUDGET_WAIT):
        return False
    _move(run, Transition.BUDGET_WAIT, run.status, next_retry_at=until, status_note=note[:300])
    logger.info("Run %s waits for the daily budget until %s", run_id, until.isoformat())
    return True
