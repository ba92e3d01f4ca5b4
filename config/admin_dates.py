"""Admin list filters on parts of dates (`?created_at__year=…`, the date hierarchy's
links): a value Python's dates cannot hold is refused with a message, not a 500.

Django checks such lookups only when the list's query is compiled, after its own guard
for bad filters has passed, so `?published_at__year=99999999999` raised OverflowError or
ValueError. This middleware looks first, for every admin list, Django's own included.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import NoReverseMatch, reverse

# The date parts a lookup can name, and the values each can take.
DATE_PARTS = {
    "year": (1, 9999),
    "iso_year": (1, 9999),
    "month": (1, 12),
    "day": (1, 31),
    "week": (1, 53),
    "week_day": (1, 7),
    "iso_week_day": (1, 7),
    "quarter": (1, 4),
    "hour": (0, 23),
    "minute": (0, 59),
    "second": (0, 59),
}


def date_part_refusal(key: str, value: str) -> str | None:
    """Why `key=value` cannot filter a list (one line), or None when it can."""
    part = next((p for p in reversed(key.split("__")) if p in DATE_PARTS), None)
    if part is None:
        return None
    low, high = DATE_PARTS[part]
    for item in value.split(",") if key.endswith("__in") else [value]:
        text = item.strip()
        if not text.lstrip("-").isdigit() or not low <= int(text) <= high:
            shown = text if len(text) <= 20 else text[:20] + "…"
            return f"Filter {key}={shown!r} ignored: not a {part} between {low} and {high}."
    return None


def _admin_root() -> str:
    try:
        return reverse("admin:index")
    except NoReverseMatch:  # a URLconf without the admin: nothing to guard
        return "\0"


class AdminDateQueryMiddleware:
    """On admin pages, drop date-part filters out of range, saying so, and show the rest."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "GET" and request.path.startswith(_admin_root()):
            refusals = {
                key: reason
                for key, values in request.GET.lists()
                for value in values
                if (reason := date_part_refusal(key, value))
            }
            if refusals:
                for reason in dict.fromkeys(refusals.values()):
                    messages.error(request, reason)
                kept = [(k, v) for k, vs in request.GET.lists() if k not in refusals for v in vs]
                query = f"?{urlencode(kept)}" if kept else ""
                return HttpResponseRedirect(f"{request.path}{query}")
        return self.get_response(request)
