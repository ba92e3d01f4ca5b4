"""Django's error reports (mails to ADMINS, the debug page) with secrets masked by value.

Django's own filter hides settings whose NAME looks secret; a password inside REDIS_URL,
CACHES, RQ_QUEUES or DATABASES, a key in the environment shown in request META, or one in
a traceback's local variable would still show. Here every value passes through
`config.redaction.redact`, and so does the finished report, HTML and text.
"""

from __future__ import annotations

from pprint import pformat
from typing import Any

from django.utils.safestring import SafeString, mark_safe
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

from config.redaction import redact, redact_value


class _Shown:
    """A traceback variable as the report will print it, secrets masked."""

    def __init__(self, value: Any) -> None:
        try:
            self._text = redact(pformat(value))
        except Exception as exc:  # a broken __repr__ must not break the report
            self._text = f"Error in formatting: {type(exc).__name__}"

    def __repr__(self) -> str:
        return self._text


class RedactingExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's filter, plus secrets masked by value in settings (CACHES, RQ_QUEUES,
    REDIS_URL, DATABASES…), request META and the traceback's local variables."""

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        cleansed = super().cleanse_setting(key, value)
        return redact(cleansed) if isinstance(cleansed, str) else cleansed

    def get_safe_request_meta(self, request: Any) -> dict[str, Any]:
        return {
            key: redact_value(value)
            for key, value in super().get_safe_request_meta(request).items()
        }

    def cleanse_special_types(self, request: Any, value: Any) -> Any:
        value = super().cleanse_special_types(request, value)
        if isinstance(value, str):
            return redact(value)
        if isinstance(value, int | float | bool | type(None)):
            return value
        return _Shown(value)


class RedactingExceptionReporter(ExceptionReporter):
    """The report itself, HTML and text, redacted once more as a whole."""

    def get_traceback_html(self) -> SafeString:
        return mark_safe(redact(str(super().get_traceback_html())))  # noqa: S308 - Django's own report, redacted

    def get_traceback_text(self) -> SafeString:
        return mark_safe(redact(str(super().get_traceback_text())))  # noqa: S308 - Django's own report, redacted
