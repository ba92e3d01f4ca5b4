"""Model-field validators for schedules: the rules of generation.cron and of a request's
count, as Django ValidationErrors, so the admin form shows the same one-line message as
the commands and the scheduler."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError

from generation import cron
from generation.exceptions import InvalidRequest


def validate_cron(value: str) -> None:
    try:
        cron.cron_validate(value)
    except InvalidRequest as exc:
        raise ValidationError(str(exc), code="invalid_cron") from None


def validate_zone(value: str) -> None:
    try:
        cron.zone_validate(value)
    except InvalidRequest as exc:
        raise ValidationError(str(exc), code="invalid_zone") from None


MAX_DELAY_SECONDS = 30 * 24 * 3600  # a request waits at most 30 days


def validate_delay(value: float) -> None:
    """0..MAX_DELAY_SECONDS: a larger delay is a typo (and overflows a datetime)."""
    if not 0 <= value <= MAX_DELAY_SECONDS:
        raise ValidationError(
            f"Delay must be between 0 and {MAX_DELAY_SECONDS} seconds (30 days), got {value}.",
            code="invalid_delay",
        )


def validate_count(value: int) -> None:
    """1..GENERATION_MAX_BATCH, read when validating (the limit is a setting)."""
    limit = settings.GENERATION_MAX_BATCH
    if not 1 <= value <= limit:
        raise ValidationError(
            f"Count must be between 1 and {limit} (GENERATION_MAX_BATCH), got {value}.",
            code="invalid_count",
        )
