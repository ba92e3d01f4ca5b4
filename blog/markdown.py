"""Markdown to safe HTML: markdown-it-py renders, nh3 sanitizes, Django's cache remembers.

Post bodies come from an LLM that read untrusted web pages, so the body is treated as
hostile: raw HTML is escaped by the parser, links and images to anywhere but this site
and the post's own sources are dropped from the parsed tokens (blog/links.py), and
whatever HTML the parser produces is then cleaned against an explicit allow-list.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

import nh3
from django.core.cache import cache
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

from blog.links import LinkPolicy

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
CACHE_VERSION = "v2"  # bump when rendering changes, to drop every cached body

# Only a bracketed number in a citation's place is a citation: not an index (`items[1]`),
# an assignment (`interval=[60]`) or a link (`[1](…)`). The pipeline reads drafts with
# the same pattern (generation/pipeline/evidence/claims.py), so what it checked is what links.
CITATION_MARKER = re.compile(r"(?<![\w=\\\[{])\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\](?![\w(])(?!\s*=)")

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
    for match in CITATION_MARKER.finditer(text):
        if "," in match.group(1) or int(match.group(1)) not in numbers:
            continue
        number = int(match.group(1))
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


def _drop_foreign_links(state: StateCore) -> None:
    """Core rule: links and images outside the post's policy lose their link (links keep
    their text; images and autolinks go entirely)."""
    policy: LinkPolicy = state.env.get("link_policy") or LinkPolicy()
    for block in state.tokens:
        if block.type == "inline" and block.children:
            block.children = _allowed_children(block.children, policy)


def _allowed_children(children: list[Token], policy: LinkPolicy) -> list[Token]:
    kept: list[Token] = []
    opened: list[tuple[bool, bool]] = []  # per open link: (dropped, an autolink)
    for token in children:
        if token.type == "link_open":
            dropped = not policy.allows(str(token.attrGet("href") or ""))
            opened.append((dropped, token.markup == "autolink"))
            if not dropped:
                kept.append(token)
        elif token.type == "link_close":
            dropped, _ = opened.pop() if opened else (False, False)
            if not dropped:
                kept.append(token)
        elif token.type == "image" and not policy.allows(str(token.attrGet("src") or "")):
            continue
        elif not any(dropped and autolink for dropped, autolink in opened):
            kept.append(token)
    return kept


def _build_parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
    md.core.ruler.push("drop_foreign_links", _drop_foreign_links)
    md.core.ruler.push("link_citations", _link_citations)
    return md


_md = _build_parser()


def render_markdown(
    text: str, source_numbers: set[int] | None = None, *, source_urls: Iterable[str] = ()
) -> str:
    """Render Markdown to sanitized HTML; `[n]` becomes a link when n is in source_numbers.

    Links and images survive only when they point at this site or at one of
    `source_urls` (the post's own sources).
    """
    policy = LinkPolicy.for_sources((0, url) for url in source_urls)
    env = {"source_numbers": set(source_numbers or ()), "link_policy": policy}
    return sanitize_html(_md.render(text or "", env))


def sanitize_html(html: str) -> str:
    """Clean HTML against the allow-list: the second wall behind the escaping parser."""
    return _cleaner.clean(html)


def post_body_html(post: Post) -> str:
    """The post's rendered body, cached by post id, last edit and the source numbers.

    Reads `post.sources.all()`, so prefetch sources to keep this query-free.
    """
    sources = sorted((source.number, source.url) for source in post.sources.all())
    numbers = {number for number, _ in sources}
    digest = hashlib.sha1(repr(sources).encode()).hexdigest()[:12]  # noqa: S324 - a cache key
    stamp = post.updated_at.timestamp() if post.updated_at else 0
    key = f"blog:post-html:{CACHE_VERSION}:{post.pk}:{stamp}:{digest}"
    html = cache.get(key)
    if html is None:
        html = render_markdown(post.body, numbers, source_urls=[url for _, url in sources])
        cache.set(key, html, CACHE_TIMEOUT)
    return html
