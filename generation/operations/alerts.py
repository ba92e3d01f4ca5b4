"""Alerts: one mail to ADMINS (and one ALERT_WEBHOOK_URL post) each time a health check
changes state, never a storm.

The last state of every check is a row (`AlertState`). Each evaluation locks those rows,
compares, stores the new states and queues one mail per check that changed (turned bad,
got worse, or recovered) through the `email` queue. Checks that could not run (UNKNOWN,
e.g. while Redis is down) keep their last state. Two evaluators at once (the periodic job
and a cron `queue_health --alert`) serialize on the row locks: still one mail per change.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from generation.models import AlertState
from generation.operations import health, notifications
from generation.operations.health import CheckResult, Level

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Change:
    name: str
    before: Level
    after: Level
    summary: str

    @property
    def recovered(self) -> bool:
        return self.after == Level.OK

    def subject(self) -> str:
        state = "RECOVERED" if self.recovered else self.after.name
        return f"{state}: {self.name} — {self.summary}"[:200]

    def webhook(self) -> dict[str, str]:
        return {
            "check": self.name,
            "before": self.before.label,
            "after": self.after.label,
            "subject": self.subject(),
            "summary": self.summary,
        }

    def body(self) -> str:
        return (
            f"Health check '{self.name}' went from {self.before.label} to {self.after.label}.\n\n"
            f"{self.summary}\n\n"
            f"Run `manage.py queue_health` for every check, or see {settings.SITE_URL}"
            "/admin/generation/overview/.\n"
        )


def alerts_evaluate(results: list[CheckResult] | None = None) -> list[Change]:
    """Compare the checks (all of them by default) with their last state; mail each change."""
    results = [r for r in (results or health.run_checks()) if r.level != Level.UNKNOWN]
    names = [result.name for result in results]
    AlertState.objects.bulk_create([AlertState(name=name) for name in names], ignore_conflicts=True)
    with transaction.atomic():
        states = AlertState.objects.select_for_update().in_bulk(names, field_name="name")
        applied = [_apply(states[result.name], result) for result in results]
        changes = [change for change in applied if change is not None]
        for change in changes:
            notifications.admins_mail_enqueue(change.subject(), change.body())
            notifications.alert_webhook_enqueue(change.webhook())
    for change in changes:
        logger.warning("Alert: %s", change.subject())
    return changes


def _apply(state: AlertState, result: CheckResult) -> Change | None:
    before = Level[state.level.upper()]
    if before == result.level:
        if state.summary != result.summary[:500]:
            state.summary = result.summary[:500]
            state.save(update_fields=["summary", "updated_at"])
        return None
    state.level, state.summary = result.level.label, result.summary[:500]
    state.save()
    AlertState.objects.filter(pk=state.pk).update(changed_at=state.updated_at)
    return Change(result.name, before, result.level, result.summary)


def alert_budget() -> list[Change]:
    """Evaluate only the budget check (at the moment a run is refused for it)."""
    if settings.GENERATION_DAILY_BUDGET_USD is None:
        return []
    return alerts_evaluate([health.check_budget()])
