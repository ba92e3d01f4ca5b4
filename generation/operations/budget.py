"""The daily spend budget (GENERATION_DAILY_BUDGET_USD): reads, and the gate new runs pass.

A run's estimated cost counts on the day it was requested (TIME_ZONE), the same rule the
run list's daily table and the overview use, so every figure agrees. Once today's spend
reaches the budget, the command and the admin button refuse new runs, queued runs wait
(see `generation.execution.jobs`), and schedules skip their occurrences through
`budget_allows_runs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from generation.exceptions import BudgetExceeded
from generation.models import GenerationRun

# How long a queued run waits before it looks at the budget again.
RECHECK_SECONDS = 600


@dataclass(frozen=True)
class BudgetState:
    limit: Decimal | None
    spent: Decimal

    @property
    def exceeded(self) -> bool:
        return self.limit is not None and self.spent >= self.limit

    def message(self) -> str:
        return (
            f"Today's estimated spend ${self.spent:.4f} has reached the daily budget "
            f"${self.limit:.2f} (GENERATION_DAILY_BUDGET_USD): no new runs until tomorrow; "
            "raise the budget to go on today."
        )


def day_start(day=None) -> datetime:
    """Midnight of `day` (today by default) in TIME_ZONE, as an aware datetime."""
    day = day or timezone.localdate()
    return timezone.make_aware(datetime.combine(day, time.min))


def spend_today() -> Decimal:
    total = GenerationRun.objects.filter(created_at__gte=day_start()).aggregate(
        total=Sum("cost_usd")
    )["total"]
    return total or Decimal(0)


def budget_state() -> BudgetState:
    limit = settings.GENERATION_DAILY_BUDGET_USD
    return BudgetState(limit=limit, spent=spend_today() if limit is not None else Decimal(0))


def budget_allows_runs() -> bool:
    """False once today's budget is spent: what schedules ask before each occurrence."""
    return not budget_state().exceeded


def budget_require() -> None:
    """Raise BudgetExceeded, with a one-line message, when no new run may start today."""
    state = budget_state()
    if state.exceeded:
        raise BudgetExceeded(state.message())


def next_budget_check() -> datetime:
    """When a waiting run looks again: in RECHECK_SECONDS, or at midnight if sooner."""
    tomorrow = day_start(timezone.localdate() + timedelta(days=1))
    return min(timezone.now() + timedelta(seconds=RECHECK_SECONDS), tomorrow)
