"""Turning a fetched body into title, main text and date (trafilatura for HTML)."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

import trafilatura

from generation.research.fetch import HTML_TYPES, FetchedPage

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)


@dataclass(frozen=True)
class Extracted:
    title: str
    text: str
    published: str


def extract(page: FetchedPage) -> Extracted:
    """Main text without navigation and boilerplate. Blocking: run it in a thread."""
    if page.content_type in HTML_TYPES:
        # A charset the server declared is checked against the bytes (a wrong one falls
        # back to UTF-8, then Windows-1252); without one, trafilatura reads <meta charset>.
        body = decode_text(page.body, page.encoding) if page.encoding else page.body
        return _from_html(body, page.url)
    return from_plain(decode_text(page.body, page.encoding))


def decode_text(body: bytes, declared: str | None) -> str:
    """Text in the declared charset when it is known and fits the bytes, else UTF-8 when
    it fits, else Windows-1252: a server may name any charset, or the wrong one. A byte
    order mark outranks them all."""
    for bom, charset in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(charset, errors="replace")
    for name in (declared, "utf-8"):
        if not name:
            continue
        try:
            return body.decode(codecs.lookup(name).name)
        except (LookupError, UnicodeDecodeError):
            continue
    return body.decode("cp1252", errors="replace")


def _from_html(body: bytes | str, url: str) -> Extracted:
    document = trafilatura.bare_extraction(
        body, url=url, with_metadata=True, include_comments=False, include_tables=True
    )
    if document is None:
        return Extracted("", "", "")
    assert not isinstance(document, dict)  # as_dict is off: a Document
    return Extracted(document.title or "", document.text or "", document.date or "")


_WARM_UP_PAGE = (
    "<html><head><title>Warm-up</title></head><body><article><h1>Warm-up</h1>"
    "<p>A short page, extracted once so the next one is not the first.</p></article></body></html>"
)


def warm_up() -> None:
    """Extract one small page. trafilatura's first extraction in a process spends about
    0.5 s setting itself up (its date and fallback extractors load lazily); a worker does
    it once before forking, so no job's first page pays it and looks like a straggler."""
    _from_html(_WARM_UP_PAGE, "https://warm-up.invalid/")


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
