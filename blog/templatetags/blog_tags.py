"""Template helpers for the public pages."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.template.context import Context
from django.utils import timezone

from blog import links

register = template.Library()


@register.filter
def http_url(value: str) -> str:
    """The URL if it is http(s), else "" — so a stored `javascript:` URL is never a link."""
    return links.http_url(value)


@register.filter
def iso_datetime(value: datetime | None) -> str:
    """ISO 8601 in the site's time zone, to the second: what `<time datetime>` accepts
    (Django's `date:"c"` adds microseconds, which the HTML standard refuses)."""
    if not value:
        return ""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return value.replace(microsecond=0).isoformat()


@register.simple_tag(takes_context=True)
def page_url(context: Context, number: int) -> str:
    """The current URL with `page` set to `number` (page 1 drops the parameter)."""
    params = context["request"].GET.copy()
    params.pop("page", None)
    if number > 1:
        params["page"] = number
    query = params.urlencode()
    return f"?{query}" if query else "."


@register.simple_tag(takes_context=True)
def canonical_url(context: Context) -> str:
    """This page's absolute URL, keeping only a `page` parameter beyond the first page."""
    request = context["request"]
    url = request.build_absolute_uri(request.path)
    page = request.GET.get("page", "")
    return f"{url}?page={page}" if page.isdigit() and int(page) > 1 else url


@register.simple_tag
def posts_awaiting_review_count() -> int:
    """How many posts are in review (the admin index's notice)."""
    from blog.selectors import posts_awaiting_review

    return posts_awaiting_review().count()


@register.simple_tag
def posts_needing_refresh_count() -> int:
    """How many posts a re-read of their sources flagged (the admin index's notice)."""
    from blog.models import Post

    return Post.objects.filter(needs_refresh=True).count()
