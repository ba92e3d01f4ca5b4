"""Small typed parsers for settings values that django-environ has no cast for."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from email.utils import parseaddr

from django.core.exceptions import ImproperlyConfigured


def parse_admins(raw: str, *, variable: str) -> list[tuple[str, str]]:
    """`"Ann <ann@example.com>, bob@example.com"` -> [("Ann", "ann@…"), ("bob", "bob@…")]."""
    admins = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        name, address = parseaddr(item)
        if "@" not in address:
            raise ImproperlyConfigured(f"Environment variable {variable}: {item!r} has no email.")
        admins.append((name or address.split("@")[0], address))
    return admins


def parse_int_list(raw: str, *, variable: str) -> list[int]:
    """`"60,300,900"` -> [60, 300, 900]; every value must be a whole number >= 0."""
    try:
        values = [int(part) for part in raw.split(",") if part.strip()]
    except ValueError as exc:
        raise ImproperlyConfigured(f"Environment variable {variable}: {exc}") from exc
    if any(value < 0 for value in values):
        raise ImproperlyConfigured(f"Environment variable {variable}: values must be >= 0.")
    return values


def parse_prices(raw: str, *, variable: str) -> dict[str, tuple[float, float]]:
    """`"gpt-4o-mini=0.15:0.60"` -> {"gpt-4o-mini": (0.15, 0.60)} (USD per 1M tokens)."""
    prices: dict[str, tuple[float, float]] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        try:
            model, pair = item.split("=", 1)
            prompt, completion = pair.split(":", 1)
            prices[model.strip()] = (float(prompt), float(completion))
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"Environment variable {variable}: {item!r} is not model=input:output"
            ) from exc
    return prices


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def parse_bool(raw: str, *, variable: str) -> bool:
    """`"true"`/`"false"` (also 1/0, yes/no, on/off); anything else names the variable."""
    value = raw.strip().lower()
    if value not in _TRUE | _FALSE:
        raise ImproperlyConfigured(
            f"Environment variable {variable} is invalid: {raw!r} is not true or false."
        )
    return value in _TRUE


def parse_budget(raw: str, *, variable: str) -> Decimal | None:
    """`""` -> None (no limit); `"5"` or `"2.50"` -> Decimal (USD, at least 0)."""
    if not raw.strip():
        return None
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise ImproperlyConfigured(
            f"Environment variable {variable}: {raw!r} is not an amount in USD, like 5 or 2.50."
        ) from None
    if not value.is_finite() or value < 0:
        raise ImproperlyConfigured(f"Environment variable {variable} must be 0 or more.")
    return value


def parse_sentinels(raw: str, *, variable: str) -> list[tuple[str, int]]:
    """`"10.0.0.1:26379, 10.0.0.2:26379"` -> [("10.0.0.1", 26379), ("10.0.0.2", 26379)]."""
    sentinels = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ImproperlyConfigured(
                f"Environment variable {variable}: {item!r} is not host:port (e.g. 10.0.0.1:26379)."
            )
        sentinels.append((host.strip("[]"), int(port)))
    return sentinels


def parse_webhook_url(raw: str, *, variable: str) -> str:
    """An alert webhook's URL: https, or http only to a loopback address; empty = none."""
    from ipaddress import ip_address
    from urllib.parse import urlsplit

    url = raw.strip()
    if not url:
        return ""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme == "https" and host:
        return url
    if parts.scheme == "http" and loopback:
        return url
    raise ImproperlyConfigured(
        f"Environment variable {variable} must be an https:// URL (http:// only to a "
        f"loopback address such as 127.0.0.1); got scheme {parts.scheme or 'none'!r} "
        f"for host {host or 'none'!r}."
    )


def parse_rate_limits(raw: str, *, variable: str) -> dict[str, int]:
    """`"gpt-4.1=500, *=3000"` -> {"gpt-4.1": 500, "*": 3000}; a bare number is every
    model's (`"500"` -> {"*": 500}); empty = no limit. Limits are whole numbers >= 1."""
    limits: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        model, equals, number = item.rpartition("=")
        try:
            value = int(number)
        except ValueError:
            value = 0
        if value < 1 or (equals and not model.strip()):
            raise ImproperlyConfigured(
                f"Environment variable {variable}: {item!r} is not model=limit "
                "(a whole number >= 1, e.g. gpt-4.1=500, or *=500 for every model)"
            )
        limits[model.strip() or "*"] = value
    return limits
