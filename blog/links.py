"""Which links and images a post body may hold, and stripping the rest from Markdown.

A post body links only to its own sources (as citations) and to pages of this site. A
model that read a page asking it to "add this download link" or a tracking pixel would
otherwise publish them. The generation pipeline strips foreign links from the Markdown
before saving (turning a link to one of the post's sources into its citation marker);
the renderer (blog/markdown.py) drops them again from the parsed tokens when rendering.

Code is left alone: fenced and indented code blocks and inline code spans are text, not
links, and stay exactly as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings
from markdown_it import MarkdownIt

_BLOCKS = MarkdownIt("commonmark")
# A run of N backticks, then the shortest text up to the next run of exactly N backticks.
CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)
_PLACEHOLDER = re.compile("\ue000(\\d+)\ue001")
_DEFINITION = re.compile(
    r"^ {0,3}\[([^\]\n]+)\]:[ \t]*(<[^<>\n]*>|\S+)"
    r"(?:[ \t]+(?:\"[^\"\n]*\"|'[^'\n]*'|\([^()\n]*\)))?[ \t]*$",
    re.M,
)
_TEXT = r"((?:[^\[\]\n]|\[[^\[\]\n]*\])*)"
_INLINE = re.compile(
    r"(!?)\[" + _TEXT + r"\]\(\s*(<[^<>\n]*>|(?:[^\s()]|\([^\s()]*\))*)"
    r"(?:\s+(?:\"[^\"\n]*\"|'[^'\n]*'|\([^()\n]*\)))?\s*\)"
)
_REFERENCE = re.compile(r"(!?)\[" + _TEXT + r"\](?:\[([^\[\]\n]*)\])?(?![(:])")
_AUTOLINK = re.compile(r"<([A-Za-z][A-Za-z0-9+.\-]{1,31}:[^\s<>]*|[^\s<>@\\]+@[^\s<>@\\]+)>")
_RAW_TAG = re.compile(r"</?(?:a|img|image|iframe|embed|object|source|video|audio)\b[^<>]*>", re.I)
# Elements whose content is code or a page of its own: removed with what they hold.
_RAW_BLOCK = re.compile(
    r"<(script|style|iframe|object|svg|math|template|noscript|textarea|select|form)\b"
    r"[^<>]*>.*?<\s*/\s*\1\s*>",
    re.I | re.S,
)
# Any other tag of an HTML element (not `List<String>`: only names HTML has), and comments.
_HTML_TAG = re.compile(
    r"<!--.*?-->|</?(?:a|abbr|applet|area|article|aside|audio|b|base|basefont|bdi|"
    r"bdo|big|blink|blockquote|body|br|button|canvas|caption|center|cite|code|col|"
    r"colgroup|data|datalist|dd|del|details|dfn|dialog|dir|div|dl|dt|em|embed|fieldset|"
    r"figcaption|figure|font|footer|form|frame|frameset|h[1-6]|head|header|hr|html|i|"
    r"iframe|img|image|input|ins|kbd|label|legend|li|link|main|map|mark|marquee|math|"
    r"menu|meta|meter|nav|noscript|object|ol|optgroup|option|output|p|param|picture|pre|"
    r"progress|q|s|samp|script|section|select|slot|small|source|span|strike|strong|style|"
    r"sub|summary|sup|svg|table|tbody|td|template|textarea|tfoot|th|thead|time|title|tr|"
    r"track|tt|u|ul|var|video|wbr)\b[^<>]*>",
    re.I | re.S,
)
# A bare address in prose (Markdown links and autolinks are settled before this runs).
_BARE_URL = re.compile(r"(?<![\w(<\[/\"'=])(?:https?://|www\.)[^\s<>()\[\]\"']+", re.I)
_GAP = re.compile(r"(?<=\S)[ \t]{2,}(?=\S)")  # left where a link was taken out
_LOOKS_LIKE_URL = re.compile(r"^\s*(?:[a-z][a-z0-9+.\-]*:|www\.|//)", re.I)


def http_url(value: object) -> str:
    """The URL if it is http(s) with a host, else "": a stored `javascript:` (or `data:`,
    `vbscript:`…) URL from the web is never made a link, on the site or in the admin."""
    url = str(value or "").strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return url if parts.scheme.lower() in ("http", "https") and parts.netloc else ""


def normalize_url(url: str) -> str:
    """The form two addresses of one page share (scheme and host case, port, slash, #)."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    netloc = host if port in (None, default) else f"{host}:{port}"
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme.lower()}://{netloc}{parts.path.rstrip('/')}{query}"


def _site_netloc() -> str:
    return normalize_url(settings.SITE_URL).split("://", 1)[1].split("/", 1)[0]


def is_site_url(url: str) -> bool:
    """A page of this site: a relative path or fragment, or an address on SITE_URL's host."""
    url = url.strip()
    if "\\" in url or any(ord(c) < 32 for c in url):
        return False  # browsers read "/\\evil.test" as another host
    parts = urlsplit(url)
    if not parts.scheme and not parts.netloc:
        return not url.startswith("//")
    if parts.scheme.lower() not in ("http", "https"):
        return False
    return normalize_url(url).split("://", 1)[1].split("/", 1)[0] == _site_netloc()


@dataclass
class LinkPolicy:
    """The addresses one post body may link to: this site, and its own sources."""

    source_urls: dict[str, int] = field(default_factory=dict)  # normalized URL -> number

    @classmethod
    def for_sources(cls, sources: Iterable[tuple[int, str]]) -> LinkPolicy:
        return cls({normalize_url(url): number for number, url in sources if url})

    def source_number(self, url: str) -> int | None:
        return self.source_urls.get(normalize_url(url)) if url.strip() else None

    def allows(self, url: str) -> bool:
        return is_site_url(url) or self.source_number(url) is not None


# --- Code-aware editing -------------------------------------------------------------------


def code_lines(text: str) -> set[int]:
    """Indexes of the lines that belong to fenced or indented code blocks."""
    lines: set[int] = set()
    for token in _BLOCKS.parse(text):
        if token.type in ("fence", "code_block") and token.map:
            lines.update(range(*token.map))
    return lines


def mask_code(text: str, spans: list[str]) -> str:
    """Replace inline code spans by placeholders (appended to `spans`), so that nothing
    inside code is read as a link, a citation or a sentence end."""

    def hide(match: re.Match) -> str:
        spans.append(match.group(0))
        return f"\ue000{len(spans) - 1}\ue001"

    return CODE_SPAN.sub(hide, text)


def unmask_code(text: str, spans: list[str]) -> str:
    return _PLACEHOLDER.sub(lambda m: spans[int(m.group(1))], text)


def map_prose(text: str, edit: Callable[[str], str]) -> str:
    """Apply `edit` to the prose of a Markdown text: code blocks and code spans untouched."""
    lines = text.split("\n")
    skip = code_lines(text)
    out: list[str] = []
    block: list[str] = []

    def flush() -> None:
        if block:
            spans: list[str] = []
            out.extend(unmask_code(edit(mask_code("\n".join(block), spans)), spans).split("\n"))
            block.clear()

    for index, line in enumerate(lines):
        if index in skip:
            flush()
            out.append(line)
        else:
            block.append(line)
    flush()
    return "\n".join(out)


# --- Stripping --------------------------------------------------------------------------


def strip_links(markdown: str, *, policy: LinkPolicy) -> tuple[str, int]:
    """Remove every link and image the policy does not allow; returns (text, how many).

    A link to one of the post's sources becomes its text and citation marker, a foreign
    link its text; foreign images, autolinks and raw HTML tags go entirely (scripts,
    styles and frames with their content).
    """
    removed = 0

    def decide(image: bool, text: str, url: str) -> str | None:
        """None keeps the link as it is; a string replaces it."""
        nonlocal removed
        url = url.strip().removeprefix("<").removesuffix(">")
        if is_site_url(url):
            return None
        removed += 1
        number = policy.source_number(url)
        if image:
            return ""
        text = "" if _LOOKS_LIKE_URL.match(text) else text.strip()
        return f"{text} [{number}]".strip() if number is not None else text

    definitions: dict[str, str] = {}

    def define(match: re.Match) -> str:
        definitions.setdefault(_label(match.group(1)), match.group(2))
        return "\0"

    def edit(prose: str) -> str:
        prose = _rewrite_inline(prose, decide)
        prose = _rewrite_references(prose, definitions, decide)
        prose = _AUTOLINK.sub(lambda m: _or(_autolink(m.group(1), decide), m.group(0)), prose)
        prose = _BARE_URL.sub(lambda m: _or(_bare(m.group(0), decide), m.group(0)), prose)
        prose = _RAW_TAG.sub("", prose)
        # A body is Markdown: raw HTML in it was copied from a page, never written for us.
        prose = _HTML_TAG.sub("", _RAW_BLOCK.sub("", prose))
        return prose

    def tidy(prose: str) -> str:
        edited = edit(prose)
        if edited == prose:
            return prose
        # Where a link or image was taken out: no doubled space, no space before a full
        # stop, and no new leading spaces (four of them would turn a line into code).
        lines = zip(prose.split("\n"), edited.split("\n"), strict=True)
        return "\n".join(new if new == old else _tidy_line(old, new) for old, new in lines)

    # Definitions first, all of them: a reference may come before its definition.
    defined = map_prose(markdown, lambda prose: _DEFINITION.sub(define, prose))
    if definitions:
        lines = [line for line in defined.split("\n") if line != "\0"]
        markdown = "\n".join(lines).rstrip() + ("\n" if markdown.endswith("\n") else "")
    return map_prose(markdown, tidy), removed


Decide = Callable[[bool, str, str], "str | None"]


def _bare(url: str, decide: Decide) -> str | None:
    """A bare address: kept when allowed, its source's marker, or gone (a full stop or
    comma after it is the sentence's, not the address's)."""
    core = url.rstrip(".,;:!?")
    replaced = decide(False, "", core if "://" in core else f"http://{core}")
    return None if replaced is None else replaced + url[len(core) :]


def _tidy_line(old: str, new: str) -> str:
    indent = old[: len(old) - len(old.lstrip())]
    body = _GAP.sub(" ", new.strip())
    return indent + re.sub(r"(?<=\S)[ \t]+(?=[.,;:!?](?:\s|$))", "", body)


def _or(replacement: str | None, original: str) -> str:
    return original if replacement is None else replacement


def _autolink(url: str, decide: Decide) -> str | None:
    if ":" not in url:  # an e-mail address, never a page of this site
        url = f"mailto:{url}"
    return decide(True, "", url)


def _label(text: str) -> str:
    return " ".join(text.lower().split())


def _rewrite_inline(prose: str, decide: Decide) -> str:
    kept: list[str] = []

    def rewrite(match: re.Match) -> str:
        replacement = decide(bool(match.group(1)), match.group(2), match.group(3))
        if replacement is None:  # allowed: hide it so the next pass does not see it again
            kept.append(match.group(0))
            return f"\ue002{len(kept) - 1}\ue003"
        return replacement

    # Innermost first: an image inside a link's text is settled before the link itself.
    for _ in range(20):
        rewritten = _INLINE.sub(rewrite, prose)
        if rewritten == prose:
            break
        prose = rewritten
    return re.sub("\ue002(\\d+)\ue003", lambda m: kept[int(m.group(1))], prose)


def _rewrite_references(prose: str, definitions: dict[str, str], decide: Decide) -> str:
    """Resolve reference links against the (removed) definitions; allowed ones become
    inline links. A bare `[3]` stays: it is a citation marker, not a reference."""

    def resolve(match: re.Match) -> str:
        image, text, label = bool(match.group(1)), match.group(2), match.group(3)
        key = _label(label or text)
        if key not in definitions or (label is None and key.replace(",", "").isdigit()):
            return match.group(0)
        url = definitions[key]
        replacement = decide(image, text, url)
        if replacement is None:
            return f"{'!' if image else ''}[{text}]({url})"
        return replacement

    return _REFERENCE.sub(resolve, prose) if definitions else prose
