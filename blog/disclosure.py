"""What readers are told about how a post was made: the disclosure line and JSON-LD."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.utils.dateformat import format as date_format
from django.utils.safestring import SafeString, mark_safe

from blog.models import Post, PostSource

# The characters that could end the <script> element or open markup, as JSON escapes.
_SCRIPT_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


def _name(user: Any) -> str:
    return user.get_full_name() or user.get_username()


def disclosure(post: Post, *, source_count: int) -> str:
    """ "Researched and drafted with AI from N sources; reviewed by NAME on DATE" (or "not
    reviewed"), for a generated post; "" for one written by hand."""
    if not post.generated:
        return ""
    sources = f"{source_count} source{'' if source_count == 1 else 's'}"
    if post.reviewed_by_id and post.reviewed_at:
        review = (
            f"reviewed by {_name(post.reviewed_by)} on {date_format(post.reviewed_at, 'j F Y')}"
        )
    else:
        review = "not reviewed"
    return f"Researched and drafted with AI from {sources}; {review}."


def article_data(post: Post, *, url: str, sources: Sequence[PostSource]) -> dict[str, Any]:
    """schema.org `Article` for the post, with its sources as `citation`."""
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Article",
        "headline": post.title[:110],
        "url": url,
        "mainEntityOfPage": url,
        # An accepted refresh dates the post's content (a re-read that found nothing
        # wrong does not); otherwise the last save.
        "dateModified": post.refreshed_at or post.updated_at,
        "author": {"@type": "Person", "name": _name(post.author)},
        "citation": [
            {"@type": "CreativeWork", "name": source.title, "url": source.url}
            for source in sources
            if source.url.startswith(("http://", "https://"))
        ],
    }
    if post.published_at:
        data["datePublished"] = post.published_at
    if description := (post.meta_description or post.excerpt):
        data["description"] = description[:300]
    if post.generated:
        data["creativeWorkStatus"] = "Reviewed" if post.reviewed_at else "Published"
    return data


def json_ld(data: dict[str, Any]) -> SafeString:
    """A `<script type="application/ld+json">` block: data, never run, so the CSP's
    script-src does not apply; `<`, `>` and `&` are escaped so the text cannot end it."""
    text = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False).translate(_SCRIPT_ESCAPES)
    return mark_safe(f'<script type="application/ld+json">{text}</script>')  # noqa: S308
