"""Every admin changelist, walked with hostile query strings: a clear answer, never a 500.

Huge and negative years, months and days on every date field (the date hierarchy's
among them), ids that are not numbers or overflow, unknown lookups, bad orderings and
pages, and very long strings. Django answers most with its "?e=1" redirect; the date
hierarchy's years are refused with a message (`config.admin_dates`).
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.db import models
from django.test import Client

from tests.factories import make_user

pytestmark = pytest.mark.django_db

HUGE = "99999999999"
LONG = "x" * 5000


def _hostile_queries(model_admin: admin.ModelAdmin) -> list[str]:
    queries = [
        "id__exact=abc",
        "id__exact=" + "9" * 30,
        "pk__in=1,x",
        "nope__bar=1",
        "o=99",
        "o=abc.-x",
        "p=" + HUGE,
        "p=-1",
        "q=" + LONG,
        "q=%00",
        LONG + "=1",
    ]
    for field in model_admin.model._meta.get_fields():
        if isinstance(field, models.DateField | models.DateTimeField):
            for part, value in (("year", HUGE), ("year", "-1"), ("month", "13"), ("day", HUGE)):
                queries.append(f"{field.name}__{part}={value}")
            queries.append(f"{field.name}__gte=not-a-date")
    return queries


def test_every_changelist_answers_hostile_query_strings_without_a_500(reliability_report):
    client = Client(raise_request_exception=False)
    client.force_login(make_user(is_staff=True, is_superuser=True))
    failures = []
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        url = f"/admin/{opts.app_label}/{opts.model_name}/"
        queries = _hostile_queries(model_admin)
        statuses = {}
        for query in queries:
            response = client.get(f"{url}?{query}")
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response.status_code >= 500:
                failures.append((url, query[:80], response.status_code))
        reliability_report.row(
            "Admin changelists, hostile query strings",
            changelist=url,
            queries=len(queries),
            answers=", ".join(f"{code}: {n}" for code, n in sorted(statuses.items())),
        )
    assert not failures, failures


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("/admin/generation/generationrun/", "created_at__year"),
        ("/admin/blog/post/", "published_at__year"),
    ],
)
def test_an_out_of_range_year_is_refused_with_a_message(url, key):
    client = Client(raise_request_exception=False)
    client.force_login(make_user(is_staff=True, is_superuser=True))
    response = client.get(f"{url}?{key}={HUGE}&o=1")
    assert response.status_code == 302 and response["Location"] == f"{url}?o=1"
    page = client.get(response["Location"]).content.decode()
    assert f"Filter {key}=&#x27;{HUGE}&#x27; ignored: not a year between 1 and 9999." in page
