"""Hostile text in every field a reader or an editor sees, opened in a real Chromium.

Every payload calls `__xss(n)` (or `alert(n)`) when it runs; the pages define no such
function, so the browser context defines one that records the hit. Beyond what ran, each
page's DOM is audited for what is armed: event-handler attributes, javascript:/data:/
vbscript: URLs, frames, objects, refreshes, scripts carrying a payload. CSP is bypassed in
the browser: the markup must be clean by itself, whatever header the site sends.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import timedelta

import feedparser
import httpx
import pytest
from django.utils import timezone

from blog.models import Category, Post
from generation.models import GenerationRun, ResearchSource
from tests.factories import make_category, make_post
from tests.reliability.xss_payloads import TEXT, URLS, numbered

pytestmark = pytest.mark.django_db(transaction=True)

PAYLOADS = numbered(TEXT, 1)
URL_PAYLOADS = numbered(URLS, len(PAYLOADS) + 1)
ALL_TEXT = "\n\n".join(PAYLOADS.values())

RECORDER = "window.__hits = []; window.__xss = n => window.__hits.push(n);"
SETTLE = "() => new Promise(resolve => setTimeout(resolve, 150))"
AUDIT = """() => {
  const found = [];
  const risky = new Set(['javascript:', 'vbscript:', 'data:']);
  const urlAttributes = new Set(['href', 'src', 'action', 'formaction', 'data', 'xlink:href',
                                 'poster', 'background', 'codebase', 'cite']);
  for (const el of document.querySelectorAll('*')) {
    const tag = el.tagName.toLowerCase();
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      if (name.startsWith('on')) found.push(`${tag}[${name}]`);
      if (name === 'srcdoc') found.push(`${tag}[srcdoc]`);
      if (name === 'style' && /expression|javascript|url\\(/i.test(attr.value)) {
        found.push(`${tag}[style=${attr.value}]`);
      }
      if (urlAttributes.has(name)) {
        let protocol = '';
        try { protocol = new URL(attr.value, document.baseURI).protocol; } catch (e) {}
        if (risky.has(protocol)) found.push(`${tag}[${name}=${attr.value}]`);
      }
    }
    if (['iframe', 'frame', 'object', 'embed', 'base'].includes(tag)) found.push(`<${tag}>`);
    if (tag === 'meta' && /refresh/i.test(el.getAttribute('http-equiv') || '')) {
      found.push('<meta refresh>');
    }
    // A JSON-LD block is data a browser never runs: it may quote a hostile title, as long
    // as it still parses whole (nothing broke out of it).
    const dataBlock = tag === 'script' && el.getAttribute('type') === 'application/ld+json';
    if (dataBlock) {
      try { JSON.parse(el.textContent); } catch (e) { found.push('<script ld+json> broken'); }
    } else if (['script', 'style'].includes(tag) && el.textContent.includes('__xss')) {
      found.push(`<${tag}>${el.textContent.slice(0, 60)}`);
    }
  }
  return found;
}"""


@dataclass
class Hostile:
    post: Post
    category: Category
    tag_slug: str
    run: GenerationRun


def _hostile_site() -> Hostile:
    """Every text payload as a post title, excerpt, category and tag (one post each), and
    one post carrying them all: body, excerpt, sources (URL payloads as addresses)."""
    from tests.factories import make_user

    author = make_user("mallory", first_name="Mal", last_name="Lory")
    start = timezone.now() - timedelta(hours=len(PAYLOADS) + 2)
    for n, payload in PAYLOADS.items():
        make_post(
            payload,
            excerpt=payload,
            body=f"Intro.\n\n{payload}",
            author=author,
            category=make_category(payload),
            tags=[payload],
            published_at=start + timedelta(hours=n),
        )
    category = make_category("Hostile <b>category</b> \"'", description=ALL_TEXT)
    urls = list(URL_PAYLOADS.values())
    post = make_post(
        PAYLOADS[7],  # </title><script>…
        body=f"Intro with a claim [1].\n\n{ALL_TEXT}\n\nOutro [2].",
        excerpt=ALL_TEXT,
        author=author,
        category=category,
        tags=list(PAYLOADS.values())[:8],
        sources=[
            {"number": n, "title": payload, "url": urls[n - 1] if n <= len(urls) else ""}
            for n, payload in PAYLOADS.items()
        ],
    )
    Post.objects.filter(pk=post.pk).update(meta_description=PAYLOADS[5][:160])
    run = GenerationRun.objects.create(
        author=author,
        topic=PAYLOADS[1],
        category_name=PAYLOADS[3][:100],
        post=post,
        errors=[{"attempt": 1, "stage": "research", "kind": "ProviderError", "error": ALL_TEXT}],
        checkpoints={"citations": _citation_report()},
        citations_total=len(PAYLOADS),
    )
    ResearchSource.objects.bulk_create(
        ResearchSource(
            run=run,
            number=n,
            url=urls[n - 1] if n <= len(urls) else f"https://example.org/{n}",
            title=payload,
            domain=payload[:255],
            provider="searxng",
            status=ResearchSource.Status.DROPPED,
            reason=payload,
        )
        for n, payload in PAYLOADS.items()
    )
    _flag_hostile(post, urls)
    tag_slug = post.tags.order_by("name").first().slug
    return Hostile(post=post, category=category, tag_slug=tag_slug, run=run)


def _flag_hostile(post: Post, urls: list[str]) -> None:
    """A re-read that flagged the post with web text everywhere: odd sources gone (their
    stored passage shown to readers), even ones moved to a URL payload, claims failed."""
    from generation.models import SourceCheck
    from tests.freshness_factories import flag_post

    numbers = list(PAYLOADS)
    for n, payload in PAYLOADS.items():
        post.sources.filter(number=n).update(passage=payload)
    flag_post(
        post,
        reason=ALL_TEXT,
        sources=[
            {
                "number": n,
                "url": urls[(n - 1) % len(urls)],
                "verdict": SourceCheck.Verdict.GONE if n % 2 else SourceCheck.Verdict.MOVED,
                "moved_to": "" if n % 2 else urls[(n - 1) % len(urls)],
                "detail": PAYLOADS[n][:300],
            }
            for n in numbers
        ],
        claims=[
            {
                "source_number": n,
                "sentence": p,
                "old_passage": p,
                "new_passage": p,
                "reason": p[:300],
            }
            for n, p in PAYLOADS.items()
        ],
    )


def _citation_report() -> dict:
    sentences = list(PAYLOADS.values())
    return {
        "verified": 0,
        "held": PAYLOADS[2],
        "revised": [{"before": s, "after": s} for s in sentences],
        "removed": [{"numbers": [1], "sentence": s, "reason": s} for s in sentences],
        "repeats": sentences,
    }


@dataclass
class Visit:
    executed: list
    armed: list[str]
    shown: int


class Browser:
    """One page in a context that records every `__xss(n)` call and every dialog."""

    def __init__(self, chromium, base_url: str, cookies: list[dict] = ()) -> None:
        self.context = chromium.new_context(bypass_csp=True, accept_downloads=True)
        self.context.set_default_timeout(15_000)
        self.context.add_init_script(RECORDER)
        if cookies:
            self.context.add_cookies(list(cookies))
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.page.on("dialog", self._dialog)
        self.base_url = base_url

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def visit(self, path: str) -> Visit:
        self.dialogs.clear()
        response = self.page.goto(f"{self.base_url}{path}")
        assert response is not None and response.status == 200, path
        self.page.evaluate(SETTLE)
        text = self.page.evaluate("() => document.documentElement.textContent")
        shown = sum(f"__xss({n})" in text or f"alert({n})" in text for n in PAYLOADS)
        hits = self.page.evaluate("() => window.__hits")
        return Visit(executed=hits + self.dialogs, armed=self.page.evaluate(AUDIT), shown=shown)

    def close(self) -> None:
        self.context.close()


def test_the_harness_sees_a_payload_that_runs(live_server, chromium):
    browser = Browser(chromium, live_server.url)
    try:
        visit = browser.visit("/")
        assert visit.executed == [] and visit.armed == []
        browser.page.evaluate(
            """() => document.body.insertAdjacentHTML('beforeend',
                 '<img src=x onerror=__xss(0)><img src=y onerror=alert(-1)>' +
                 '<a href=" jav&#x09;ascript:__xss(0)">x</a>')"""
        )
        browser.page.wait_for_function("() => window.__hits.length > 0")
        browser.page.evaluate(SETTLE)
        assert browser.page.evaluate("() => window.__hits") == [0]
        assert browser.dialogs == ["-1"]
        armed = browser.page.evaluate(AUDIT)
        assert armed[:2] == ["img[onerror]", "img[onerror]"]
        assert armed[2].startswith("a[href=")
    finally:
        browser.close()


def _surfaces(hostile: Hostile) -> dict[str, tuple[str, int]]:
    """Public page → (path, payloads placed on it)."""
    everything = len(PAYLOADS) + len(URL_PAYLOADS)
    return {
        "post page": (hostile.post.get_absolute_url(), everything),
        "home (list)": ("/", len(PAYLOADS)),
        "category page": (hostile.category.get_absolute_url(), len(PAYLOADS)),
        "tag page": (f"/tag/{hostile.tag_slug}/", len(PAYLOADS)),
        "feed in the browser": ("/feed/", len(PAYLOADS)),
    }


def _admin_surfaces(hostile: Hostile) -> dict[str, tuple[str, int]]:
    everything = len(PAYLOADS) + len(URL_PAYLOADS)
    return {
        "admin run detail": (
            f"/admin/generation/generationrun/{hostile.run.pk}/change/",
            everything,
        ),
        "admin run list": ("/admin/generation/generationrun/", 2),
        "admin post change": (f"/admin/blog/post/{hostile.post.pk}/change/", everything),
        "admin post list": ("/admin/blog/post/", len(PAYLOADS)),
        "admin review (needs refresh)": (
            f"/admin/blog/post/{hostile.post.pk}/review/",
            everything,
        ),
    }


def test_no_payload_runs_or_is_armed_on_any_surface(
    live_server, chromium, client, django_user_model, settings, reliability_report
):
    settings.POSTS_PER_PAGE = len(PAYLOADS) + 1  # every hostile post on the home page
    hostile = _hostile_site()
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-1")
    client.force_login(admin)
    cookie = {
        "name": settings.SESSION_COOKIE_NAME,
        "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "url": live_server.url,
    }
    failures: dict[str, Visit] = {}
    for cookies, surfaces in (([], _surfaces(hostile)), ([cookie], _admin_surfaces(hostile))):
        browser = Browser(chromium, live_server.url, cookies)
        try:
            for surface, (path, placed) in surfaces.items():
                visit = browser.visit(path)
                reliability_report.row(
                    "XSS",
                    surface=surface,
                    payloads=placed,
                    shown_as_text=visit.shown,
                    executed=len(visit.executed),
                    armed=len(visit.armed),
                )
                if visit.executed or visit.armed or not visit.shown:
                    failures[surface] = visit
        finally:
            browser.close()
    failures.update(_feed_read_by_feedparser(live_server, reliability_report))
    assert failures == {}


def _feed_read_by_feedparser(live_server, reliability_report) -> dict[str, Visit]:
    """A feed reader renders each description as HTML: it must hold text, never markup."""
    response = httpx.get(f"{live_server.url}/feed/")
    root = ET.fromstring(response.content)  # noqa: S314 - our own feed
    descriptions = [item.findtext("description") or "" for item in root.iter("item")]
    raw_markup = [d[:80] for d in descriptions if "<" in d or ">" in d]
    feed = feedparser.parse(response.content)
    summaries = [entry.summary for entry in feed.entries]
    live = [s[:80] for s in summaries if "<script" in s.lower() or ("onerror" in s and "<img" in s)]
    hostile = next(s for s in summaries if "__xss(1)" in s)
    shown = sum(f"__xss({n})" in hostile or f"alert({n})" in hostile for n in PAYLOADS)
    reliability_report.row(
        "XSS",
        surface="feed through feedparser",
        payloads=len(PAYLOADS),
        shown_as_text=shown,
        executed=0,
        armed=len(raw_markup) + len(live),
    )
    if raw_markup or live or feed.bozo or not shown:
        return {"feedparser": Visit(executed=[], armed=raw_markup + live, shown=shown)}
    return {}
