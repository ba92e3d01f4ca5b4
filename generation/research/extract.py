"""Turning a fetched body into title, main text and date (trafilatura for HTML)."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

import trafilatura

from generation.research.fetch import HTML_TYPES, FetchedPage

_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)


@dataclass(frozen=True)
class Extracted:
    title: str
    text: str
    published: str


def extract(page: FetchedPage) -> Extracted:
    """Main text without navigation and boilerplate. Blocking: run it in a thread."""
    if page.content_type in HTML_TYPES:
        return _from_html(page.body, page.url)
    return from_plain(page.body.decode(_codec(page.encoding), errors="replace"))


def _codec(declared: str | None) -> str:
    """The declared charset when Python knows it; else UTF-8 (a server may name anything)."""
    try:
        return codecs.lookup(declared or "utf-8").name
    except LookupError:
        return "utf-8"


def _from_html(body: bytes, url: str) -> Extracted:
    document = trafilatura.bare_extraction(
        body, url=url, with_metadata=True, include_comments=False, include_tables=True
    )
    if document is None:
        return Extracted("", "", "")
    return Extracted(document.title or "", document.text or "", document.date or "")


def from_plain(text: str) -> Extracted:
    """Plain text or Markdown, with optional front matter (title:, date:)."""
    meta, body = split_front_matter(text)
    title = meta.get("title", "")
    if not title:
        first = next((line for line in body.splitlines() if line.strip()), "")
        title = first.lstrip("#").strip()[:200]
    return Extracted(title, body.strip(), meta.get("date", ""))


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """`key: value` lines between leading `---` fences, and the rest of the text."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    meta = {}
    for line in match.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep:
            meta[key.strip().lower()] = value.strip().strip("\"'")
    return meta, text[match.end() :]
