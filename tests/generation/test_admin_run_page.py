"""A run's page reads plainly: a permanent failure says it will not be retried, read-only
fields carry no form help, and kept sources come first (each title shown once: the
browser test tests/browser/test_layout.py, as the admin's row caption is hidden by CSS)."""

from __future__ import annotations

import re

import pytest

from generation.models import GenerationRun, ResearchSource, RunStatus

pytestmark = pytest.mark.django_db

RUNS_URL = "/admin/generation/generationrun/"


def _failed_for_good(author) -> GenerationRun:
    return GenerationRun.objects.create(
        author=author,
        topic="",
        status=RunStatus.FAILED,
        stage="research",
        attempts=1,
        errors=[{"attempt": 1, "stage": "research", "kind": "permanent", "error": "Not enough"}],
    )


def test_a_permanent_failure_reads_as_one_attempt_without_retry(admin_client_, admin_user):
    run = _failed_for_good(admin_user)
    retried = GenerationRun.objects.create(
        author=admin_user, status=RunStatus.FAILED, attempts=4, errors=[{"kind": "error"}]
    )
    page = admin_client_.get(f"{RUNS_URL}{run.pk}/change/").content.decode()
    assert '<div class="readonly">1 (permanent failure, no retry)</div>' in page
    listing = admin_client_.get(RUNS_URL).content.decode()
    assert '<td class="field-attempt">1 (permanent failure, no retry)</td>' in listing
    assert '<td class="field-attempt">4/4</td>' in listing  # spent its retries
    assert retried.pk


def test_read_only_fields_show_no_form_help(admin_client_, admin_user):
    run = _failed_for_good(admin_user)
    page = admin_client_.get(f"{RUNS_URL}{run.pk}/change/").content.decode()
    for help_text in ("Empty: choose one.", "[n] in the run.", "One entry per failed attempt."):
        assert help_text not in page


def test_kept_sources_come_first(admin_client_, admin_user):
    run = _failed_for_good(admin_user)
    for n, status in enumerate(["dropped", "failed", "kept", "dropped", "kept"]):
        ResearchSource.objects.create(
            run=run,
            number=n if status == "kept" else None,
            url=f"https://example.com/{n}",
            title=f"Source title {n}",
            provider="searxng",
            status=status,
        )
    page = admin_client_.get(f"{RUNS_URL}{run.pk}/change/").content.decode()
    titles = re.findall(r'<td class="field-title">\s*<p>([^<]*)</p>', page)
    assert titles == [f"Source title {n}" for n in (2, 4, 0, 1, 3)]
