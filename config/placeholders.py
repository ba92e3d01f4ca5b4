"""Placeholders left in a production environment: `deploy/production.env.example`'s
`replace-with-…` secret key and metrics token, its `change-me` database password.

Settings refuse to start with any of them when DEBUG is off (`manage.py check` excepted,
so that `check --deploy` can list every one), and the deploy check reports each.
"""

from __future__ import annotations

from typing import Any

from django.core.checks import Error

PLACEHOLDER_WORDS = ("replace-with", "change-me", "example")
PLACEHOLDER_PASSWORD = "change-me"  # noqa: S105 - the placeholder refused, not a password
METRICS_TOKEN_MIN_LENGTH = 32
GENERATE_HINT = "python -c 'import secrets; print(secrets.token_urlsafe(50))'"


def placeholder_problems(
    *, secret_key: str, metrics_token: str, database_password: str
) -> list[tuple[str, str]]:
    """(check id, one line) for each placeholder or too-weak value among the secrets."""
    problems = []
    secrets = (
        ("config.E001", "SECRET_KEY", secret_key),
        ("config.E002", "METRICS_TOKEN", metrics_token),
    )
    for check_id, name, value in secrets:
        word = next((w for w in PLACEHOLDER_WORDS if w in value.lower()), None)
        if word:
            problems.append(
                (
                    check_id,
                    f"{name} is a placeholder (it contains {word!r}): set a random value "
                    f"({GENERATE_HINT}).",
                )
            )
    if metrics_token and len(metrics_token) < METRICS_TOKEN_MIN_LENGTH:
        problems.append(
            (
                "config.E003",
                f"METRICS_TOKEN is {len(metrics_token)} characters: use at least "
                f"{METRICS_TOKEN_MIN_LENGTH} ({GENERATE_HINT}), or leave it empty to "
                "switch /metrics off.",
            )
        )
    if database_password == PLACEHOLDER_PASSWORD:
        problems.append(
            (
                "config.E004",
                "DATABASE_URL's password is the placeholder 'change-me': set the "
                "database user's real password.",
            )
        )
    return problems


def settings_problems(settings: Any) -> list[tuple[str, str]]:
    return placeholder_problems(
        secret_key=settings.SECRET_KEY,
        metrics_token=settings.METRICS_TOKEN,
        database_password=str(settings.DATABASES["default"].get("PASSWORD") or ""),
    )


def check_placeholders(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """The deploy check (`manage.py check --deploy`): one error for each placeholder."""
    from django.conf import settings

    return [Error(message, id=check_id) for check_id, message in settings_problems(settings)]
