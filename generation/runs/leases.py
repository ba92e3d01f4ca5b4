"""The lease an execution holds on its run: a token and an expiry on the run's row.

`generation.runs.lifecycle.run_claim` takes it (a claim is a transition); this module renews it
from a heartbeat thread and guards every write the execution makes, so a stale execution
(a work-horse whose worker died, a copy started twice) can never overwrite the run. The
status, the lease itself and the post are written by the lifecycle's transitions only.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from generation.exceptions import IllegalTransition, RunNotClaimable
from generation.models import GenerationRun, RunStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Lease:
    run_id: int
    token: str


def lease_expiry() -> datetime:
    """When a lease taken or renewed now runs out."""
    return timezone.now() + timedelta(seconds=settings.GENERATION_LEASE_SECONDS)


def lease_renew(lease: Lease) -> bool:
    """Push the lease's expiry forward; False when the lease was lost."""
    return bool(
        GenerationRun.objects.filter(
            pk=lease.run_id, lease_token=lease.token, status=RunStatus.RUNNING
        ).update(lease_expires_at=lease_expiry())
    )


LEASE_FIELDS = frozenset({"status", "lease_token", "lease_expires_at", "post", "post_id"})


def run_update(lease: Lease, *, strict: bool = True, **fields: Any) -> bool:
    """Write an execution's progress (stage, checkpoints, usage) while it holds the run.

    A lost lease raises RunNotClaimable, or, with strict=False, writes nothing and
    returns False. Status, lease and post are written by the transitions only.
    """
    if LEASE_FIELDS & set(fields):
        raise IllegalTransition(f"run_update cannot write {sorted(LEASE_FIELDS & set(fields))}.")
    updated = GenerationRun.objects.filter(
        pk=lease.run_id, lease_token=lease.token, status=RunStatus.RUNNING
    ).update(**fields)
    if not updated and strict:
        raise RunNotClaimable(f"Run {lease.run_id} was taken over or canceled; stopping.")
    return bool(updated)


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
