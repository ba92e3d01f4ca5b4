"""Published posts that cite pages of the stand-in web, for the living-post tests and bench.

A post is made through blog.services (no pipeline): each claim copies a sentence of a
stand-in page, as the page's text comes out of the real extraction, and each source keeps
the passage its claim cites (generation.pipeline.evidence.passages), as publishing does.
"""

from __future__ import annotations

import functools
from datetime import timedelta

from django.utils import timezone

from blog.models import Post
from generation.pipeline.evidence.citations import SourceIndex
from generation.pipeline.evidence.passages import cited_passages
from generation.research.extract import extract
from generation.research.fetch import FetchedPage
from standins.web import WebStandin, render_page
from tests.factories import make_post

THRESHOLD = 0.5


def page_text(web: WebStandin, slug: str) -> str:
    """The page's text as verification will extract it from the stand-in's HTML."""
    return _extracted(web.page_url(slug), render_page(web.pages[slug]).encode())


@functools.lru_cache(maxsize=256)
def _extracted(url: str, html: bytes) -> str:
    return extract(FetchedPage(url, "text/html", html, "utf-8")).text


def a_sentence(text: str, skip: int = 0) -> str:
    """A plain sentence of the text (8 words or more, one line, no markup) to copy as a
    claim."""
    plain = [
        s.text
        for s in SourceIndex(text).sentences
        if len(s.text.split()) >= 8
        and s.text.endswith(".")
        and not set(s.text) & set("[]#|`*\n")  # no markup, no heading glued to it
    ]
    return plain[skip % len(plain)]


def sourced_post(
    web: WebStandin, slugs: list[str], *, days_old: float = 40, author=None, title: str = ""
) -> Post:
    """A published post, `days_old` days old, with one claim citing each page of `slugs`."""
    texts = {number: page_text(web, slug) for number, slug in enumerate(slugs, start=1)}
    body = "\n\n".join(f"{a_sentence(text)[:-1]} [{number}]." for number, text in texts.items())
    passages = cited_passages(body, texts, threshold=THRESHOLD)
    sources = [
        {
            "number": number,
            "url": web.page_url(slug),
            "title": web.pages[slug].title,
            "passage": passages.get(number, ""),
        }
        for number, slug in enumerate(slugs, start=1)
    ]
    published = timezone.now() - timedelta(days=days_old)
    return make_post(
        title or f"Post on {', '.join(slugs)}",
        body=body,
        author=author,
        sources=sources,
        published_at=published,
    )
