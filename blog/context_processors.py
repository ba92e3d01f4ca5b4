"""Template context shared by every page."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from blog.selectors import category_list_with_counts


def site(request: HttpRequest) -> dict[str, Any]:
    # The queryset is lazy: only pages that draw the category nav run its one query.
    return {
        "SITE_NAME": settings.SITE_NAME,
        "SITE_DESCRIPTION": settings.SITE_DESCRIPTION,
        "nav_categories": category_list_with_counts(),
    }
