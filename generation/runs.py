"""The life of a run: claim it, keep the claim alive, record how each attempt ended.

A run is held by one execution at a time through a lease: a random token plus an expiry
time on the row, taken with a conditional UPDATE and renewed by a heartbeat thread. Every
write an execution makes checks the token, so a stale execution (a work-horse whose worker
died, a copy started twice) can never overwrite the run or publish a second post.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from generation.exceptions import GenerationError, RunNotClaimable
from generation.models import STAGE_ORDER, GenerationRun, RunStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Lease:
    run_id: int
    token: str


def _lease_expiry() -> datetime:
    return timezone.now() + timedelta(seconds=settings.GENERATION_LEASE_SECONDS)


def run_claim(run_id: int, *, worker_name: str = "") -> Lease:
    """Take the run for this execution, or raise RunNotClaimable saying why not.

    Claimable: queued, retrying, or running with an expired lease (its holder died).
    Each claim is one attempt.
    """
    now = timezone.now()
    token = uuid.uuid4().hex
    claimed = (
        GenerationRun.objects.filter(pk=run_id)
        .filter(
            Q(status__in=[RunStatus.QUEUED, RunStatus.RETRYING])
            | Q(status=RunStatus.RUNNING, lease_expires_at__lt=now)
        )
        .update(
            status=RunStatus.RUNNING,
            lease_token=token,
            lease_expires_at=_lease_expiry(),
            worker_name=worker_name[:200],
            attempts=F("attempts") + 1,
            started_at=Coalesce(F("started_at"), now),
            attempt_started_at=now,
            next_retry_at=None,
            finished_at=None,
        )
    )
    if claimed:
        return Lease(run_id=run_id, token=token)
    status = GenerationRun.objects.filter(pk=run_id).values_list("status", flat=True).first()
    if status is None:
        raise RunNotClaimable(f"Run {run_id} does not exist.")
    raise RunNotClaimable(f"Run {run_id} is {status} and held elsewhere or finished.")


def lease_renew(lease: Lease) -> bool:
    """Push the lease's expiry forward; False when the lease was lost."""
    return bool(
        GenerationRun.objects.filter(
            pk=lease.run_id, lease_token=lease.token, status=RunStatus.RUNNING
        ).update(lease_expires_at=_lease_expiry())
    )


def run_update(lease: Lease, **fields: Any) -> None:
    """Write fields to the run only while this execution still holds it."""
    updated = GenerationRun.objects.filter(
        pk=lease.run_id, lease_token=lease.token, status=RunStatus.RUNNING
    ).update(**fields)
    if not updated:
        raise RunNotClaimable(f"Run {lease.run_id} was taken over or canceled; stopping.")


def error_entry(*, attempt: int, stage: str, error: BaseException | str, kind: str) -> dict:
    message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    entry = {
        "attempt": attempt,
        "stage": stage,
        "error": message[:2000],
        "kind": kind,
        "at": timezone.now().isoformat(),
    }
    restart = getattr(error, "restart_stage", None)
    if restart:
        entry["restart"] = restart  # an operator's retry starts again from this stage
    return entry


def checkpoints_for_retry(checkpoints: dict, errors: list[dict]) -> dict:
    """The checkpoints an operator's retry resumes from: all of them, unless the last
    error asked to redo a stage, in which case that stage and every later one go."""
    restart = errors[-1].get("restart") if errors else None
    if restart not in STAGE_ORDER:
        return checkpoints
    redo = set(STAGE_ORDER[STAGE_ORDER.index(restart) :])
    return {key: value for key, value in checkpoints.items() if key.split("_")[0] not in redo}


def run_record_error(lease: Lease, error: BaseException) -> GenerationRun:
    """Store an attempt's error on the run and release the lease.

    The run becomes `retrying` while attempts remain and the error is not permanent,
    `failed` otherwise. The queue's callbacks refine `next_retry_at` afterwards.
    """
    run = GenerationRun.objects.get(pk=lease.run_id)
    if run.lease_token != lease.token:
        return run  # another execution owns the run now; its record wins
    permanent = isinstance(error, GenerationError) and error.permanent
    run.errors = [
        *run.errors,
        error_entry(
            attempt=run.attempts,
            stage=run.stage,
            error=error,
            kind="permanent" if permanent else "error",
        ),
    ]
    run.status = (
        RunStatus.FAILED if permanent or run.attempts >= run.max_attempts else RunStatus.RETRYING
    )
    run.lease_token = ""
    run.lease_expires_at = None
    if run.status == RunStatus.FAILED:
        run.finished_at = timezone.now()
    run.save(update_fields=["errors", "status", "lease_token", "lease_expires_at", "finished_at"])
    return run


class Heartbeat:
    """Renew a lease from a background thread while the pipeline works.

    Runs its own database connection (threads do not share Django connections) and
    closes it when stopped.
    """

    def __init__(self, lease: Lease, *, interval: float | None = None) -> None:
        self.lease = lease
        self.interval = interval or settings.GENERATION_HEARTBEAT_SECONDS
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="run-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _beat(self) -> None:
        from django.db import connection

        try:
            while not self._stop.wait(self.interval):
                if not lease_renew(self.lease):
                    logger.warning("Run %s: lease lost; this execution stops.", self.lease.run_id)
                    self.lost.set()
                    return
        finally:
            connection.close()
