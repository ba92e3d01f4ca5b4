"""Markdown rendering: features, citations, the sanitizer on its own, and the cache."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from blog.markdown import post_body_html, render_markdown, sanitize_html
from tests.factories import make_post


def test_tables_strikethrough_and_code_render():
    html = render_markdown("| a | b |\n|--:|---|\n| 1 | 2 |\n\n~~old~~ `x<y`\n\n```py\nz\n```")
    assert '<th style="text-align:right">a</th>' in html
    assert "<del>old</del>" in html or "<s>old</s>" in html
    assert "<code>x&lt;y</code>" in html
    assert "<pre><code>z\n</code></pre>" in html


def test_links_to_sources_and_this_site_stay_with_rel_noopener_nofollow():
    html = render_markdown(
        "[docs](https://example.org/docs) and [about](/about/)",
        source_urls=["https://example.org/docs/"],
    )
    assert '<a href="https://example.org/docs" rel="noopener nofollow">docs</a>' in html
    assert '<a href="/about/" rel="noopener nofollow">about</a>' in html


def test_foreign_links_lose_their_link_and_foreign_images_vanish_when_rendering():
    html = render_markdown(
        "Get the [installer](http://downloads.invalid/setup.exe) now. "
        "![pixel](http://tracker.invalid/p.gif) <http://evil.invalid/> <a@example.org> "
        "[ref][x] [proto](//evil.invalid/a)\n\n"
        "[x]: http://evil.invalid/ref",
        source_urls=["https://example.org/docs"],
    )
    assert "Get the installer now." in html
    for piece in ("<img", "downloads.invalid", "tracker.invalid", "evil.invalid", "mailto"):
        assert piece not in html
    assert "ref" in html and "proto" in html


def test_site_images_stay_and_absolute_site_links_count_as_this_site(settings):
    settings.SITE_URL = "https://blog.example.com"
    html = render_markdown(
        "![chart](/media/chart.png) [post](https://blog.example.com/posts/a/) "
        "[other](https://blog.example.com.evil.invalid/)"
    )
    assert '<img src="/media/chart.png" alt="chart">' in html
    assert 'href="https://blog.example.com/posts/a/"' in html
    assert "evil.invalid" not in html


def test_raw_html_is_escaped_not_dropped():
    assert "&lt;b&gt;bold&lt;/b&gt;" in render_markdown("<b>bold</b>")


def test_citations_link_only_to_known_sources():
    html = render_markdown("Fact [1], another [2], unknown [7].", {1, 2})
    assert '<sup class="cite"><a href="#source-1" rel="noopener nofollow">[1]</a></sup>' in html
    assert 'href="#source-2"' in html
    assert "unknown [7]." in html and "#source-7" not in html


def test_citations_stay_plain_without_sources_and_inside_code_or_links():
    assert render_markdown("Fact [1].") == "<p>Fact [1].</p>\n"
    html = render_markdown("`list[1]` and [see [1]](/about/)", {1})
    assert "<code>list[1]</code>" in html
    assert "#source-1" not in html


def test_only_citation_markers_link_never_indexes_lists_or_assignments():
    html = render_markdown(
        "Retries use interval=[60, 300, 900] or items[1] or x [2] = 3, and a claim [1].",
        {1, 2, 60},
    )
    assert html.count("#source-") == 1 and 'href="#source-1"' in html
    assert "interval=[60, 300, 900]" in html and "items[1]" in html


DANGEROUS_PIECES = (
    "<script", "javascript:", "data:", "vbscript:", "onerror", "<iframe", "<object", "<embed",
    "<style", "<form", "<input", "<svg", "xlink", "position", "evil",
)  # fmt: skip


@pytest.mark.parametrize(
    "raw",
    [
        "<script>alert(1)</script>",
        '<a href="javascript:alert(1)">x</a>',
        '<a href="jav&#x09;ascript:alert(1)">x</a>',
        '<a href="data:text/html,<script>alert(1)</script>">x</a>',
        '<a href="VBScript:msgbox(1)">x</a>',
        '<img src="x" onerror="alert(1)">',
        '<iframe src="https://evil.test"></iframe>',
        '<object data="x"></object><embed src="x">',
        "<style>*{color:red}</style>",
        '<form action="https://evil.test"><input name="q"></form>',
        "<svg><a xlink:href=\"javascript:alert(1)\"><circle r='9'/></a></svg>",
        '<p style="position:fixed">x</p>',
        '<sup class="cite evil">1</sup>',
    ],
)
def test_sanitizer_alone_strips_dangerous_html(raw):
    clean = sanitize_html(raw).lower()
    for piece in DANGEROUS_PIECES:
        assert piece not in clean


@pytest.mark.django_db
def test_rendered_body_is_cached_until_the_post_changes():
    post = make_post("Cached", body="First version.")
    post = type(post).objects.prefetch_related("sources").get(pk=post.pk)
    assert "First version." in post_body_html(post)
    post.body = "Second version."  # same updated_at: the cached HTML is served
    assert "First version." in post_body_html(post)
    post.save()  # auto_now moves updated_at, so the key changes
    assert "Second version." in post_body_html(post)
    cache.clear()
    assert "Second version." in post_body_html(post)
