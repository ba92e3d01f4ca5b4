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


def test_links_get_rel_noopener_nofollow():
    html = render_markdown("[site](https://example.org) and <mailto:a@example.org>")
    assert '<a href="https://example.org" rel="noopener nofollow">site</a>' in html
    assert 'href="mailto:a@example.org"' in html


def test_raw_html_is_escaped_not_dropped():
    assert "&lt;b&gt;bold&lt;/b&gt;" in render_markdown("<b>bold</b>")


def test_citations_link_only_to_known_sources():
    html = render_markdown("Fact [1], another [2], unknown [7].", {1, 2})
    assert '<sup class="cite"><a href="#source-1" rel="noopener nofollow">[1]</a></sup>' in html
    assert 'href="#source-2"' in html
    assert "unknown [7]." in html and "#source-7" not in html


def test_citations_stay_plain_without_sources_and_inside_code_or_links():
    assert render_markdown("Fact [1].") == "<p>Fact [1].</p>\n"
    html = render_markdown("`list[1]` and [see [1]](https://example.org)", {1})
    assert "<code>list[1]</code>" in html
    assert "#source-1" not in html


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
