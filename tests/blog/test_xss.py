"""Hostile Markdown never reaches a reader as live HTML, links or handlers."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from tests.factories import make_post

pytestmark = pytest.mark.django_db

SAFE_SCHEMES = {"http", "https", "mailto"}
FORBIDDEN_TAGS = {"script", "iframe", "object", "embed", "style", "form", "svg", "math", "base"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster"}

PAYLOADS = {
    "script tag": "<script>alert(1)</script>",
    "script mixed case": "<ScRiPt src=//evil.test/x.js></sCrIpT>",
    "javascript link": "[click](javascript:alert(1))",
    "javascript mixed case": "[click](JaVaScRiPt:alert(1))",
    "javascript tab obfuscated": "[click](jav&#x09;ascript:alert(1))",
    "javascript entity encoded": (
        "[click](&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;:alert(1))"
    ),
    "javascript newline": "[click](java\nscript:alert(1))",
    "javascript leading space": "[click]( javascript:alert(1))",
    "javascript angle destination": "[click](<javascript:alert(1)>)",
    "javascript reference link": "[click][x]\n\n[x]: javascript:alert(1)",
    "vbscript link": "[click](vbscript:msgbox(1))",
    "data html link": "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "image javascript": "![alt](javascript:alert(1))",
    "image data svg": "![alt](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "autolink javascript": "<javascript:alert(1)>",
    "img onerror": '<img src=x onerror="alert(1)">',
    "attribute breakout in title": '[x](https://ok.test "a\\" onmouseover=\\"alert(1))',
    "iframe": '<iframe src="javascript:alert(1)"></iframe>',
    "object embed": '<object data="x.swf"></object><embed src="x.swf">',
    "svg onload": "<svg onload=alert(1)><script>alert(1)</script></svg>",
    "style expression": "<style>body{background:expression(alert(1))}</style>",
    "inline style": '<p style="background:url(javascript:alert(1))">x</p>',
    "form action": '<form action="javascript:alert(1)"><button>go</button></form>',
    "html comment trick": "<!-- --><script>alert(1)</script><!-- -->",
    "table cell html": "| a |\n|---|\n| <img src=x onerror=alert(1)> |",
    "link text html": "[<img src=x onerror=alert(1)>](https://ok.test)",
}


class _Audit(HTMLParser):
    """Collects every tag and attribute the browser would build from the page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # The page's own JSON-LD is a data block: a browser never runs it.
        data_block = tag == "script" and dict(attrs) == {"type": "application/ld+json"}
        if tag in FORBIDDEN_TAGS and not data_block:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"{tag}[{name}]")
            if name == "style" and tag not in ("th", "td"):
                self.problems.append(f"{tag}[style]")
            if name in URL_ATTRIBUTES and not _is_safe_url(value or ""):
                self.problems.append(f"{tag}[{name}={value!r}]")


def _is_safe_url(url: str) -> bool:
    # Browsers ignore ASCII whitespace and control characters in a scheme, so do we.
    cleaned = re.sub(r"[\x00-\x20\x7f]", "", url).lower()
    scheme = re.match(r"^([a-z][a-z0-9+.-]*):", cleaned)
    return scheme is None or scheme.group(1) in SAFE_SCHEMES


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_hostile_markdown_is_neutralised_on_the_post_page(client, payload):
    post = make_post("Hostile post", body=f"Intro paragraph.\n\n{payload}\n\nOutro paragraph.")
    response = client.get(post.get_absolute_url())
    assert response.status_code == 200
    html = response.content.decode()
    assert "Intro paragraph." in html and "Outro paragraph." in html
    audit = _Audit()
    audit.feed(html)
    assert audit.problems == []
    lowered = html.lower().replace('<script type="application/ld+json">', "", 1)
    for piece in ("<script", "<iframe", "<svg", "<object", "<embed", "<style", "<form"):
        assert piece not in lowered
    assert not re.search(r"\son\w+\s*=", _tags_only(lowered))


def _tags_only(html: str) -> str:
    """The markup inside < >, so escaped payload text shown to the reader is not counted."""
    return " ".join(re.findall(r"<[^>]*>", html))


def test_sources_with_hostile_urls_are_not_linked(client):
    post = make_post(
        "Sourced",
        body="Claim [1] and [2].",
        sources=[
            {"number": 1, "title": "Evil", "url": "javascript:alert(1)"},
            {"number": 2, "title": "Good", "url": "https://example.org/a"},
        ],
    )
    html = client.get(post.get_absolute_url()).content.decode()
    audit = _Audit()
    audit.feed(html)
    assert audit.problems == []
    assert '<a href="https://example.org/a" rel="noopener nofollow">Good</a>' in html


def test_links_and_images_to_other_sites_are_not_rendered_on_the_post_page(client):
    post = make_post(
        "Linked",
        body=(
            "A claim [1]. ![pixel](https://tracker.invalid/p.gif?u=1) Get the "
            "[installer](https://downloads.invalid/setup.exe) or read [the source]"
            "(https://example.org/a) and [our archive](/archive/)."
        ),
        sources=[{"number": 1, "title": "Good", "url": "https://example.org/a"}],
    )
    html = client.get(post.get_absolute_url()).content.decode()
    article = html.split("<article", 1)[1].split("</article>", 1)[0]
    assert "tracker.invalid" not in html and "downloads.invalid" not in html
    assert "<img" not in article
    assert "Get the installer or read" in article
    assert '<a href="https://example.org/a" rel="noopener nofollow">the source</a>' in article
    assert '<a href="/archive/" rel="noopener nofollow">our archive</a>' in article


def test_json_ld_cannot_be_ended_by_a_hostile_title(client):
    post = make_post(
        "</script><script>alert(1)</script> & more",
        sources=[{"number": 1, "title": "</script><b>x", "url": "https://ok.test/a"}],
    )
    html = client.get(post.get_absolute_url()).content.decode()
    start = html.index('<script type="application/ld+json">')
    block = html[start : html.index("</script>", start)]
    assert "<" not in block[len('<script type="application/ld+json">') :]
    assert "\\u003C/script\\u003E" in block
