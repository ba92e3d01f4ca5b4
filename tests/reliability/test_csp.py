"""Content-Security-Policy: on every page, no inline script; the admin still works.

The header is checked on public and admin pages; then a real Chromium loads the admin
pages (the run list with its live status, a run, "Generate posts", django-rq's dashboard
with its inline snippet) and the console must show no CSP violation, while a script
injected into a public page is refused.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client

from blog.models import Post
from generation.models import GenerationRun, RunStatus
from tests.browser.test_admin_generate import _log_in, editor  # noqa: F401 (fixture)
from tests.factories import make_post, make_user

REQUIRED = {
    "default-src": "'self'",
    "script-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
    "img-src": "'self' data:",
}
# Scripts a browser would run: not src= ones, not JSON data blocks (application/json,
# application/ld+json: the post page's Article data, never executed).
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/(?:ld\+)?json)[^>]*>", re.I)


def _policy(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    directives = (part.strip().split(None, 1) for part in header.split(";") if part.strip())
    return {d[0]: d[1] if len(d) > 1 else "" for d in directives}


@pytest.mark.django_db
def test_public_pages_send_a_strict_policy_and_no_inline_script(reliability_report):
    post = make_post(status=Post.Status.PUBLISHED)
    for url in ("/", post.get_absolute_url(), "/no-such-page/"):
        response = Client().get(url)
        policy = _policy(response)
        for directive, sources in REQUIRED.items():
            assert policy.get(directive, "").startswith(sources), (url, directive, policy)
        assert "unsafe-inline" not in policy["script-src"], url
        inline = INLINE_SCRIPT.findall(response.content.decode())
        reliability_report.row(
            "CSP",
            page=url,
            status=response.status_code,
            script_src=policy["script-src"],
            inline_scripts=len(inline),
        )
        assert not inline, url


@pytest.mark.django_db
def test_admin_pages_load_under_the_policy(admin_client, reliability_report):
    run = GenerationRun.objects.create(author=make_user(is_staff=True), topic="Redis")
    for url in (
        "/admin/",
        "/admin/generation/generationrun/",
        f"/admin/generation/generationrun/{run.pk}/change/",
        "/admin/generation/generate/",
        "/django-rq/",
        "/django-rq/queues/0/",
    ):
        response = admin_client.get(url)
        policy = _policy(response)
        reliability_report.row(
            "CSP",
            page=url,
            status=response.status_code,
            script_src=policy["script-src"],
            inline_scripts=len(INLINE_SCRIPT.findall(response.content.decode())),
        )
        assert response.status_code == 200, url
        assert "unsafe-inline" not in policy["script-src"], url


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_admin_works_in_a_browser_without_csp_violations(
    live_server,
    page,
    editor,  # noqa: F811
    reliability_report,
):
    from playwright.sync_api import expect

    messages: list[str] = []
    page.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
    run = GenerationRun.objects.create(author=editor, topic="Vector databases")
    _log_in(page, live_server, editor, "/admin/generation/generationrun/")
    badge = page.locator(f'.run-badge[data-run-id="{run.pk}"]')
    expect(badge).to_have_text("Queued")
    GenerationRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, stage="sections")
    expect(badge).to_have_text("Running")  # run_status.js still polls and updates
    pages = [
        f"/admin/generation/generationrun/{run.pk}/change/",
        "/admin/generation/generate/",
        "/admin/generation/generationschedule/add/",
        "/django-rq/",
        "/django-rq/queues/0/",
    ]
    for path in pages:
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("load")
    violations = [m for m in messages if "Content Security Policy" in m]
    reliability_report.row(
        "CSP",
        page="admin in Chromium (6 pages)",
        status="live status updated",
        script_src="",
        inline_scripts=f"{len(violations)} violations",
    )
    assert not violations, violations


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_script_injected_into_a_public_page_does_not_run(
    live_server,
    page,
    reliability_report,
):
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text))
    page.goto(f"{live_server.url}/")
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.__injected = 1'; document.body.appendChild(s); }"
    )
    ran = page.evaluate("() => window.__injected === 1")
    reported = any("Content Security Policy" in m for m in messages)
    reliability_report.row(
        "CSP",
        page="/ in Chromium (injected inline script)",
        status=200,
        script_src="",
        inline_scripts=f"ran: {ran}, violation reported: {reported}",
    )
    assert not ran and reported
