"""The daily spend budget (GENERATION_DAILY_BUDGET_USD): reads, and the gate runs pass.

Money counts on the day it is spent: each attempt books its LLM calls' estimated cost on
the days the calls were made (TIME_ZONE, `RunSpend`), so a run asked for yesterday and
delayed to today spends today's budget. Once today's spend reaches the budget, the command
and the admin button refuse new runs, and every run meets the gate again when it starts
executing (`generation.execution.jobs`: queued, delayed, scheduled, retried or requeued from the
dashboard): it waits, queued, until tomorrow or until the budget is raised. Schedules skip
their occurrences through `budget_allows_runs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from generation.exceptions import BudgetExceeded
from generation.models import RunSpend

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


def day_start(day: date | None = None) -> datetime:
    """Midnight of `day` (today by default) in TIME_ZONE, as an aware datetime."""
    day = day or timezone.localdate()
    return timezone.make_aware(datetime.combine(day, time.min))


def spend_between(first: date, last: date) -> Decimal:
    """Estimated USD spent on LLM calls from day `first` to day `last`, both included."""
    spends = RunSpend.objects.filter(day__gte=first, day__lte=last)
    return spends.aggregate(total=Sum("cost_usd"))["total"] or Decimal(0)


def spend_today() -> Decimal:
    today = timezone.localdate()
    return spend_between(today, today)


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


def wait_note(until: datetime) -> str:
    """What a run waiting for the budget says in its status."""
    state = budget_state()
    local = timezone.localtime(until)
    return (
        f"Waiting for the daily budget: ${state.spent:.4f} of ${state.limit or 0:.2f} "
        f"(GENERATION_DAILY_BUDGET_USD) spent today; looks again at {local:%Y-%m-%d %H:%M}, "
        "or raise the budget."
    )
