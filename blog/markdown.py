"""Markdown to safe HTML: markdown-it-py renders, nh3 sanitizes, Django's cache remembers.

Post bodies come from an LLM that read untrusted web pages, so the body is treated as
hostile: raw HTML is escaped by the parser, and whatever HTML the parser produces is
then cleaned against an explicit allow-list before it reaches a reader.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

import nh3
from django.core.cache import cache
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

if TYPE_CHECKING:
    from blog.models import Post

ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "s", "del",
    "code", "pre", "blockquote", "ul", "ol", "li", "a", "img", "sup",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    # Table alignment is the only style markdown-it emits; filtered to text-align below.
    "th": {"style"},
    "td": {"style"},
}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}
CACHE_TIMEOUT = 7 * 24 * 3600  # keys change with every edit, so stale HTML is never served
CACHE_VERSION = "v1"  # bump when rendering changes, to drop every cached body

CITATION_RE = re.compile(r"\[(\d{1,4})\]")

_cleaner = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    attributes=ALLOWED_ATTRIBUTES,
    allowed_classes={"sup": {"cite"}},
    url_schemes=ALLOWED_URL_SCHEMES,
    link_rel="noopener nofollow",
    filter_style_properties={"text-align"},
    strip_comments=True,
)


def _citation_tokens(text: str, numbers: set[int]) -> list[Token] | None:
    """Split one text run into text and citation-link tokens; None when nothing to link."""
    parts: list[Token] = []
    last = 0
    for match in CITATION_RE.finditer(text):
        number = int(match.group(1))
        if number not in numbers:
            continue
        if match.start() > last:
            parts.append(_text_token(text[last : match.start()]))
        html = Token("html_inline", "", 0)
        html.content = f'<sup class="cite"><a href="#source-{number}">[{number}]</a></sup>'
        parts.append(html)
        last = match.end()
    if not parts:
        return None
    if last < len(text):
        parts.append(_text_token(text[last:]))
    return parts


def _text_token(content: str) -> Token:
    token = Token("text", "", 0)
    token.content = content
    return token


def _link_citations(state: StateCore) -> None:
    """Core rule: turn `[n]` in plain text into a link to source n, outside links and code."""
    numbers: set[int] = state.env.get("source_numbers") or set()
    if not numbers:
        return
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        children: list[Token] = []
        link_depth = 0
        for token in block.children:
            link_depth += {"link_open": 1, "link_close": -1}.get(token.type, 0)
            replaced = None
            if token.type == "text" and link_depth == 0:
                replaced = _citation_tokens(token.content, numbers)
            children.extend(replaced or [token])
        block.children = children


def _build_parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
    md.core.ruler.push("link_citations", _link_citations)
    return md


_md = _build_parser()


def render_markdown(text: str, source_numbers: set[int] | None = None) -> str:
    """Render Markdown to sanitized HTML; `[n]` becomes a link when n is in source_numbers."""
    html = _md.render(text or "", {"source_numbers": set(source_numbers or ())})
    return sanitize_html(html)


def sanitize_html(html: str) -> str:
    """Clean HTML against the allow-list: the second wall behind the escaping parser."""
    return _cleaner.clean(html)


def post_body_html(post: Post) -> str:
    """The post's rendered body, cached by post id, last edit and the source numbers.

    Reads `post.sources.all()`, so prefetch sources to keep this query-free.
    """
    numbers = {source.number for source in post.sources.all()}
    digest = hashlib.sha1(  # noqa: S324 - a cache key, not security
        ",".join(map(str, sorted(numbers))).encode()
    ).hexdigest()[:12]
    stamp = post.updated_at.timestamp() if post.updated_at else 0
    key = f"blog:post-html:{CACHE_VERSION}:{post.pk}:{stamp}:{digest}"
    html = cache.get(key)
    if html is None:
        html = render_markdown(post.body, numbers)
        cache.set(key, html, CACHE_TIMEOUT)
    return html
