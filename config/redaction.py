"""Secrets kept out of what people read: error reports, logs, errors stored on runs.

`redact` masks, in this order:

1. every configured secret by its VALUE, whatever its format (a key that does not start
   with `sk-`, a Redis password with an `@` in it), in each form it is written in: as is,
   URL-encoded (upper- or lower-case hex, `+` for space), with `+` read as a space, and
   HTML-escaped. A leading run of 8 or more of its characters counts too (servers echo
   keys back truncated, `gsk_live_9f8e***5b4a`): once such a prefix matches and the text
   goes on with anything but a letter or digit, the rest of that token is masked as well;
2. what is left of a secret cut in two: 8 of its characters from any of its first 8
   positions, starting a token (the second half of a secret split before its 8th
   character), and, in a log record (`RedactingFilter`), a record that ends with 4 or
   more of a secret's first characters or starts with the rest of one;
3. base64 tokens (Basic auth among them) that decode to text holding a secret;
4. the password of any URL with credentials (`redis://:pw@host`, `postgres://u:pw@host`,
   `REDIS://…` too), configured or not, up to the LAST `@` before the host (redis-py
   accepts an unencoded `@` in a password).

The configured secrets are the settings Django itself hides in error reports (names with
API, KEY, PASS, SECRET, SIGNATURE or TOKEN), the passwords inside URL-valued settings
(DATABASES, REDIS_URL, CACHES, RQ_QUEUES, EMAIL_URL) and the same names in the
environment. They are read once and read again whenever a setting changes.
"""

from __future__ import annotations

import base64
import binascii
import html
import logging
import os
import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any
from urllib.parse import quote, quote_plus, unquote, urlsplit

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

MASK = "[redacted]"
URL_PASSWORD_MASK = "***"  # noqa: S105 - the mask, not a password
PREFIX_LENGTH = 8  # a leading run this long of a secret is masked too
EDGE_PREFIX_LENGTH = 4  # ... this long when it ends a log record (cut in two)
MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words
# Django's own list without a bare "API", which would take in public API addresses.
SECRET_NAME = re.compile(r"KEY|PASS|SECRET|SIGNATURE|TOKEN", re.IGNORECASE)
NOT_SECRET_NAME = re.compile(r"KEY_PREFIX|KEY_FUNCTION|PASSWORD_(HASHERS|RESET)", re.IGNORECASE)
URL_NAME = re.compile(r"URL|LOCATION|DATABASES|CACHES|RQ_QUEUES", re.IGNORECASE)
# Credentials run to the last "@" before the host ends them (greedy, then back to "@").
_URL_CREDENTIALS = re.compile(
    r"(?P<head>\b[a-z][a-z0-9+.\-]*://[^\s/:@'\"<>]*:)[^\s/'\"<>]*@", re.IGNORECASE
)
# What ends a token: a masked prefix takes everything up to one of these.
TOKEN_END = frozenset(" \t\r\n\"'<>,;&()[]{}|@/\\`")
# What ends a word at either end of a log record (a "key=" or "key:" before it too).
WORD_END = TOKEN_END | {"=", ":"}
_BASE64 = re.compile(r"(?<![A-Za-z0-9+/_=-])[A-Za-z0-9+/_-]{8,}={0,2}")


def redact(text: str, *, extra: Iterable[str] = (), record: bool = False) -> str:
    """`text` with every configured secret (its forms, prefixes, halves) and URL passwords
    masked; `extra`: secrets known to the caller only (a client's own key); `record`:
    `text` is one log record, whose ends may hold a secret cut in two."""
    if not text:
        return text
    more = tuple(sorted((s for s in extra if len(s) >= MIN_SECRET_LENGTH), key=len, reverse=True))
    secrets = (*more, *_secrets())
    forms = (*_forms(more), *_all_forms())
    for form in forms:  # whole forms first, so no form's prefix cuts another form short
        text = text.replace(form, MASK)
    for form in forms:
        text = _mask(text, form)
    for secret in secrets:
        text = _mask_tails(text, secret)
    text = _BASE64.sub(lambda m: MASK if _holds_secret(m.group(), secrets) else m.group(), text)
    if record:
        text = _mask_edges(text, secrets)
    return _URL_CREDENTIALS.sub(lambda m: f"{m['head']}{URL_PASSWORD_MASK}@", text)


def redact_value(value: Any) -> Any:
    """Strings redacted; containers redacted item by item; anything else unchanged."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(item) for item in value)
    return value


def _mask(text: str, secret: str, *, boundary: bool = False) -> str:
    """Mask `secret`, and any leading run of >= PREFIX_LENGTH of its characters that the
    text does not go on with a letter or digit (a truncated echo, not another word), to
    the end of its token. `boundary`: only where a token starts."""
    head = secret[: min(PREFIX_LENGTH, len(secret))]
    if head not in text:
        return text
    parts, start, search = [], 0, 0
    while (found := text.find(head, search)) != -1:
        end = found + len(head)
        while end < len(text) and end - found < len(secret) and text[end] == secret[end - found]:
            end += 1
        whole = end - found == len(secret)
        at_start = not boundary or found == 0 or not text[found - 1].isalnum()
        if at_start and (whole or end == len(text) or not text[end].isalnum()):
            while end < len(text) and text[end] not in TOKEN_END:
                end += 1
            parts += [text[start:found], MASK]
            start = end
        search = end
    return "".join(parts) + text[start:]


def _mask_tails(text: str, secret: str) -> str:
    """The second half of a secret cut before its PREFIX_LENGTH-th character: its next
    PREFIX_LENGTH characters (at least MIN_SECRET_LENGTH) where a token starts."""
    for cut in range(1, PREFIX_LENGTH):
        tail = secret[cut:]
        if len(tail[:PREFIX_LENGTH]) >= MIN_SECRET_LENGTH:
            text = _mask(text, tail, boundary=True)
    return text


def _mask_edges(text: str, secrets: Iterable[str]) -> str:
    """A log record ending with a secret's first EDGE_PREFIX_LENGTH+ characters, or
    starting with the rest of one cut before its PREFIX_LENGTH-th: the other half is in
    the next (or the previous) record."""
    for secret in secrets:
        start, end = _last_word(text)
        word = text[start:end]
        if len(word) >= EDGE_PREFIX_LENGTH and secret.startswith(word):
            text = text[:start] + MASK + text[end:]
        start, end = _first_word(text)
        word, cut = text[start:end], len(secret) - (end - start)
        if len(word) >= EDGE_PREFIX_LENGTH and 0 < cut < PREFIX_LENGTH and secret.endswith(word):
            text = text[:start] + MASK + text[end:]
    return text


def _last_word(text: str) -> tuple[int, int]:
    end = len(text.rstrip())
    start = end
    while start > 0 and text[start - 1] not in WORD_END:
        start -= 1
    return start, end


def _first_word(text: str) -> tuple[int, int]:
    start = len(text) - len(text.lstrip())
    end = start
    while end < len(text) and text[end] not in WORD_END:
        end += 1
    return start, end


def _holds_secret(token: str, secrets: Iterable[str]) -> bool:
    """Whether base64 `token` (standard or URL-safe, padded or not) decodes to text that
    holds a secret or its first PREFIX_LENGTH characters."""
    body = token.rstrip("=").replace("-", "+").replace("_", "/")
    body = body[: len(body) - 1] if len(body) % 4 == 1 else body
    try:
        decoded = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    text = decoded.decode("utf-8", "ignore")
    return any(secret[:PREFIX_LENGTH] in text for secret in secrets)


def _forms(secrets: Iterable[str]) -> tuple[str, ...]:
    """Each secret as it may be written: as is, URL-encoded (either hex case, `+` for a
    space), with its `+` read as a space, HTML-escaped; longest first."""
    found = set()
    for value in secrets:
        encoded = {quote(value, safe=""), quote(value), quote_plus(value)}
        encoded |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), e) for e in encoded}
        found |= {value, value.replace("+", " "), *encoded}
        found |= {html.escape(value), html.escape(value, quote=False)}
    usable = (value for value in found if len(value) >= MIN_SECRET_LENGTH)
    return tuple(sorted(usable, key=len, reverse=True))


@lru_cache(maxsize=1)
def _all_forms() -> tuple[str, ...]:
    return _forms(_secrets())


@lru_cache(maxsize=1)
def _secrets() -> tuple[str, ...]:
    """The configured secrets, longest first."""
    usable = (value for value in set(_secret_values()) if len(value) >= MIN_SECRET_LENGTH)
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
    _all_forms.cache_clear()


# --- Where secrets could be shown --------------------------------------------------------


class RedactingFilter(logging.Filter):
    """On every handler: the message, its arguments and its traceback redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format string: keep what was asked
            message = str(record.msg)
        record.msg, record.args = redact(message, record=True), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
