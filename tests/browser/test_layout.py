"""The layout at a laptop's 1280 px and a phone's 390 px: no page scrolls sideways (the
home page, a post, the run list, a run; a living post's public page with a dead source,
its review screen with the "needs refresh" evidence, and its verification's history), and
the footer lines up with the content."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings

from generation.models import GenerationRun, ResearchSource, RunStatus, SourceCheck
from tests.browser.test_admin_generate import _log_in, editor  # noqa: F401 (fixture)
from tests.factories import make_category, make_post
from tests.freshness_factories import flag_post

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = (1280, 390)
LONG_TOPIC = "A long topic about Redis job queues, their retries, backoff and dead letters"
OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


@pytest.fixture
def site(editor):  # noqa: F811
    post = make_post(
        "Continuous batching and the KV cache: lessons from running it in production",
        author=editor,
        category=make_category("LLMs"),
        tags=["kv cache", "batching", "llm"],
        body="Serving a model well is mostly about memory [1].\n\n## Batching\n\n" + "Word " * 300,
        sources=[{"number": 1, "url": "https://example.com/" + "long-path/" * 12, "title": "A"}],
    )
    done = GenerationRun.objects.create(
        author=editor,
        topic=LONG_TOPIC,
        status=RunStatus.SUCCEEDED,
        post=post,
        cost_usd=Decimal("0.0123"),
        attempts=1,
    )
    failed = GenerationRun.objects.create(
        author=editor,
        topic="",
        status=RunStatus.FAILED,
        attempts=1,
        stage="research",
        errors=[{"attempt": 1, "stage": "research", "kind": "permanent", "error": "x " * 200}],
    )
    for n, status in enumerate(["dropped", "kept", "dropped", "kept"]):
        ResearchSource.objects.create(
            run=failed,
            number=n + 1 if status == "kept" else None,
            url=f"https://example.com/{n}/" + "segment/" * 20,
            title=f"Page {n} on queues",
            provider="searxng",
            status=status,
            reason="" if status == "kept" else "off-topic: 3% as relevant as the best source",
        )
    long_url = "https://example.org/" + "archive/" * 15 + "figures-2024"
    living = make_post(
        "Quantization in production: what the benchmarks said",
        author=editor,
        body="Int8 halves memory [1]. Latency fell by a third [2].\n\n## Figures\n\nMore [1].",
        sources=[
            {"number": 1, "url": long_url, "title": "An archived benchmark " * 4},
            {"number": 2, "url": "https://example.net/" + "x" * 120, "title": "Latency notes"},
        ],
    )
    living.sources.filter(number=1).update(passage="Int8 " + "halves memory; " * 40)
    verification = flag_post(
        living,
        sources=[
            {"number": 1, "url": long_url, "verdict": SourceCheck.Verdict.GONE, "http_status": 404},
            {
                "number": 2,
                "url": "https://example.net/" + "x" * 120,
                "verdict": SourceCheck.Verdict.PASSAGE_GONE,
                "http_status": 200,
                "new_text": "Latency_now_reads_differently_" * 20,
            },
        ],
        claims=[
            {
                "source_number": 2,
                "sentence": "Latency fell by a third [2].",
                "old_passage": "latency fell by a third " * 10,
                "new_passage": "Latency_now_reads_differently_" * 10,
                "reason": "the page no longer says so",
            }
        ],
    )
    return {
        "home": "/",
        "living": living.get_absolute_url(),
        "review": f"/admin/blog/post/{living.pk}/review/",
        "verification": f"/admin/generation/postverification/{verification.pk}/change/",
        "post": post.get_absolute_url(),
        "runs": "/admin/generation/generationrun/",
        "run": f"/admin/generation/generationrun/{failed.pk}/change/",
        "done": done,
    }


def shoot(page, name: str, width: int) -> None:
    page.screenshot(path=str(Path(settings.LOG_DIR) / f"layout-{name}-{width}.png"), full_page=True)


@pytest.mark.parametrize("width", WIDTHS)
def test_no_page_scrolls_sideways(live_server, page, editor, site, width):  # noqa: F811
    page.set_viewport_size({"width": width, "height": 900})
    _log_in(page, live_server, editor, "/admin/")
    page.wait_for_selector("#content")
    for name in ("home", "post", "runs", "run", "living", "review", "verification"):
        page.goto(live_server.url + site[name])
        shoot(page, name, width)
        assert page.evaluate(OVERFLOW) <= 0, f"{name} scrolls sideways at {width} px"


@pytest.mark.parametrize("width", WIDTHS)
def test_the_footer_lines_up_with_the_content(live_server, page, site, width):
    page.set_viewport_size({"width": width, "height": 900})
    for name in ("home", "post"):
        page.goto(live_server.url + site[name])
        content = page.locator("main h1").first.bounding_box()
        footer = page.locator(".site-footer p").first.bounding_box()
        assert abs(footer["x"] - content["x"]) <= 1, f"{name} at {width} px"


def test_the_run_list_fits_1280_px(live_server, page, editor, site):  # noqa: F811
    page.set_viewport_size({"width": 1280, "height": 900})
    _log_in(page, live_server, editor, site["runs"])
    page.wait_for_selector("#result_list")
    table = page.locator("#result_list").bounding_box()
    box = page.locator("#changelist .results").bounding_box()
    widths = page.evaluate(
        "Array.from(document.querySelectorAll('#result_list thead th'))"
        ".map(th => th.className + ':' + Math.round(th.getBoundingClientRect().width))"
    )
    assert table["x"] + table["width"] <= box["x"] + box["width"] + 1, f"cut off: {widths}"
    assert table["x"] + table["width"] <= 1280
    topic = page.locator("#result_list td.field-topic_label", has_text="dead letters")
    assert topic.inner_text() == LONG_TOPIC  # wrapped, not cut


def test_a_runs_sources_show_each_title_once_kept_first(live_server, page, editor, site):  # noqa: F811
    _log_in(page, live_server, editor, site["run"])
    page.wait_for_selector("#sources-group td.field-title")
    titles = page.locator("#sources-group td.field-title").all_inner_texts()
    assert titles == [f"Page {n} on queues" for n in (1, 3, 0, 2)]
    for title in titles:
        assert page.get_by_text(title, exact=True).locator("visible=true").count() == 1
