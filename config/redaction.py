"""Secrets kept out of what people read: error reports, logs, errors stored on runs.

Two rules, applied to any text by `redact`:

- the password of any URL with credentials (`redis://:pw@host`, `postgres://u:pw@host`)
  becomes `***`, configured or not;
- every configured secret is masked by its VALUE, whatever its format (a key that does not
  start with `sk-`, a Redis password), and so is any run of 8 or more of its leading
  characters, because servers echo keys back truncated (`gsk_live_9f8e***5b4a`).

The configured secrets are the settings Django itself hides in error reports (names with
API, KEY, PASS, SECRET, SIGNATURE or TOKEN), the passwords inside URL-valued settings
(DATABASES, REDIS_URL, CACHES, RQ_QUEUES, EMAIL_URL) and the same names in the
environment. They are read once and read again whenever a setting changes.
"""

from __future__ import annotations

import html
import logging
import os
import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

MASK = "[redacted]"
URL_PASSWORD_MASK = "***"  # noqa: S105 - the mask, not a password
PREFIX_LENGTH = 8  # a leading run this long of a secret is masked too
MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words
# Django's own list without a bare "API", which would take in public API addresses.
SECRET_NAME = re.compile(r"KEY|PASS|SECRET|SIGNATURE|TOKEN", re.IGNORECASE)
NOT_SECRET_NAME = re.compile(r"KEY_PREFIX|KEY_FUNCTION|PASSWORD_(HASHERS|RESET)", re.IGNORECASE)
URL_NAME = re.compile(r"URL|LOCATION|DATABASES|CACHES|RQ_QUEUES", re.IGNORECASE)
_URL_CREDENTIALS = re.compile(r"(?P<head>\b[a-z][a-z0-9+.\-]*://[^\s/:@'\"<>]*:)[^\s@/'\"<>]+@")


def redact(text: str, *, extra: Iterable[str] = ()) -> str:
    """`text` with URL passwords and every configured secret (or its prefix) masked;
    `extra`: secrets known to the caller only (a client's own key)."""
    if not text:
        return text
    text = _URL_CREDENTIALS.sub(lambda m: f"{m['head']}{URL_PASSWORD_MASK}@", text)
    more = sorted((s for s in extra if len(s) >= MIN_SECRET_LENGTH), key=len, reverse=True)
    for secret in (*more, *_secrets()):
        text = _mask(text, secret)
    return text


def redact_value(value: Any) -> Any:
    """Strings redacted; containers redacted item by item; anything else unchanged."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(item) for item in value)
    return value


def _mask(text: str, secret: str) -> str:
    """Mask `secret` and any leading run of >= PREFIX_LENGTH of its characters that is
    not followed by a letter or digit (a truncated echo, not another word)."""
    head = secret[: min(PREFIX_LENGTH, len(secret))]
    if head not in text:
        return text
    parts, start, search = [], 0, 0
    while (found := text.find(head, search)) != -1:
        end = found + len(head)
        while end < len(text) and end - found < len(secret) and text[end] == secret[end - found]:
            end += 1
        whole = end - found == len(secret)
        if whole or end == len(text) or not text[end].isalnum():
            parts += [text[start:found], MASK]
            start = end
        search = end
    return "".join(parts) + text[start:]


@lru_cache(maxsize=1)
def _secrets() -> tuple[str, ...]:
    """The configured secrets (and their HTML-escaped forms), longest first."""
    found = set(_secret_values())
    found |= {html.escape(value) for value in found}
    usable = (value for value in found if len(value) >= MIN_SECRET_LENGTH)
    return tuple(sorted(usable, key=len, reverse=True))


def _secret_values() -> Iterator[str]:
    for name in dir(settings):
        if name.isupper():
            yield from _values_of(name, getattr(settings, name, None))
    for name, value in os.environ.items():
        yield from _values_of(name, value)


def _values_of(name: str, value: Any) -> Iterator[str]:
    if SECRET_NAME.search(name) and not NOT_SECRET_NAME.search(name):
        values = [value] if isinstance(value, str) else value
        if isinstance(values, list | tuple):
            # A URL (SEARXNG_URL-like values) gives its password, not itself.
            yield from (v for v in values if isinstance(v, str) and "://" not in v)
    if URL_NAME.search(name) or isinstance(value, dict | str):
        yield from _passwords_in(value)


def _passwords_in(value: Any) -> Iterator[str]:
    """Passwords of URLs (and PASSWORD entries) anywhere inside a setting's value."""
    if isinstance(value, str):
        if "://" in value:
            yield from _url_password(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str) and SECRET_NAME.search(str(key)):
                yield item
            else:
                yield from _passwords_in(item)
    elif isinstance(value, Iterable) and not isinstance(value, bytes):
        for item in value:
            yield from _passwords_in(item)


def _url_password(url: str) -> Iterator[str]:
    try:
        password = urlsplit(url).password
    except ValueError:
        return
    if password:
        yield password
        yield unquote(password)


@receiver(setting_changed)
def _forget_secrets(**kwargs: Any) -> None:
    _secrets.cache_clear()


# --- Where secrets could be shown --------------------------------------------------------


class RedactingFilter(logging.Filter):
    """On every handler: the message, its arguments and its traceback redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format string: keep what was asked
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
