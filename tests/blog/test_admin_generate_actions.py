"""The "generate" admin actions on categories and posts: an intermediate page (count,
publish), only for users who may generate posts, through generation's service."""

from __future__ import annotations

import html
import socket

import django_rq
import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from generation.models import GenerationRun, Origin
from generation.queues import job_id_for
from tests.factories import make_category, make_post, make_user

pytestmark = pytest.mark.django_db

CATEGORIES_URL = "/admin/blog/category/"
POSTS_URL = "/admin/blog/post/"
RUNS_URL = "/admin/generation/generationrun/"
TEMPLATE = "admin/generation/generate_for_selection.html"


def staff_client(*codenames: str) -> tuple[Client, object]:
    user = make_user("staffer", is_staff=True)
    for codename in codenames:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client = Client()
    client.force_login(user)
    return client, user


def action(name: str, objects, **extra) -> dict:
    return {"action": name, "_selected_action": [o.pk for o in objects], **extra}


def text(response) -> str:
    return html.unescape(response.content.decode())


def test_categories_action_asks_count_and_publish_then_queues_posts_in_each(
    admin_client, admin_user, django_capture_on_commit_callbacks
):
    redis, python = make_category("Redis queues"), make_category("Python async")
    make_category("Untouched")
    page = admin_client.post(CATEGORIES_URL, action("generate_in_categories", [redis, python]))
    assert page.status_code == 200
    assert TEMPLATE in [t.name for t in page.templates]
    assert "Generate posts in the selected categories" in text(page)
    assert "<strong>Redis queues</strong> — on “Redis queues”" in text(page)
    assert 'name="count"' in text(page) and 'name="publish"' in text(page)
    assert not GenerationRun.objects.exists()  # nothing until confirmed

    confirm = action("generate_in_categories", [redis, python], count="2", publish="on")
    with django_capture_on_commit_callbacks(execute=True):
        done = admin_client.post(CATEGORIES_URL, {**confirm, "_generate": "1"}, follow=True)
    assert done.redirect_chain[-1][0] == RUNS_URL
    assert "4 posts queued for generation (2 for each of 2)." in text(done)
    runs = GenerationRun.objects.order_by("pk")
    assert [(r.category_name, r.topic) for r in runs] == [  # in the list's order, by name
        ("Python async", "Python async"),
        ("Python async", "Python async"),
        ("Redis queues", "Redis queues"),
        ("Redis queues", "Redis queues"),
    ]
    assert {(r.origin, r.publish, r.author_id) for r in runs} == {
        (Origin.ADMIN, True, admin_user.pk)
    }
    assert sorted(django_rq.get_queue("content").job_ids) == sorted(job_id_for(r.pk) for r in runs)


def test_posts_action_queues_follow_ups_with_a_topic_from_each_post(
    admin_client, django_capture_on_commit_callbacks
):
    category = make_category("Databases")
    vacuum = make_post("Why VACUUM matters", category=category, tags=["PostgreSQL", "MVCC"])
    plain = make_post("Notes on queues")
    page = admin_client.post(POSTS_URL, action("generate_followups", [vacuum, plain]))
    assert 'on “Follow-up to "Why VACUUM matters", going further into MVCC, PostgreSQL”' in text(
        page
    )
    confirm = action("generate_followups", [vacuum, plain], count="1", _generate="1")
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(POSTS_URL, confirm)
    runs = {r.topic: r for r in GenerationRun.objects.all()}
    assert set(runs) == {
        'Follow-up to "Why VACUUM matters", going further into MVCC, PostgreSQL',
        'Follow-up to "Notes on queues"',
    }
    followup = runs['Follow-up to "Why VACUUM matters", going further into MVCC, PostgreSQL']
    assert followup.category_name == "Databases" and not followup.publish
    assert runs['Follow-up to "Notes on queues"'].category_name == ""
    assert len(django_rq.get_queue("content").job_ids) == 2


@pytest.mark.parametrize(
    ("count", "message"),
    [
        ("0", "Count must be between 1 and 100 (GENERATION_MAX_BATCH), got 0."),
        ("abc", "Count must be a whole number."),
        ("60", "That is 120 posts (60 for each of 2 selected); at most 100 (GENERATION_MAX_BATCH)"),
    ],
)
def test_bad_count_is_refused_in_one_line_and_nothing_is_queued(admin_client, count, message):
    categories = [make_category(), make_category()]
    confirm = action("generate_in_categories", categories, count=count, _generate="1")
    response = admin_client.post(CATEGORIES_URL, confirm)
    assert response.status_code == 200
    assert message in text(response)
    assert not GenerationRun.objects.exists()
    assert django_rq.get_queue("content").job_ids == []


def test_unreachable_redis_is_reported_and_nothing_written(admin_client, settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
    settings.RQ_QUEUES = {n: {"URL": settings.REDIS_URL} for n in settings.RQ_QUEUES}
    post = make_post("A post")
    response = admin_client.post(
        POSTS_URL, action("generate_followups", [post], count="1", _generate="1")
    )
    assert f"Redis is unreachable at redis://127.0.0.1:{port}/0" in text(response)
    assert "nothing was queued" in text(response)
    assert not GenerationRun.objects.exists()


@pytest.mark.parametrize(
    ("url", "name", "make", "perms"),
    [
        (CATEGORIES_URL, "generate_in_categories", make_category, ("view_category",)),
        (POSTS_URL, "generate_followups", make_post, ("view_post", "change_post")),
    ],
)
def test_actions_are_hidden_and_refused_without_permission_to_generate(url, name, make, perms):
    client, _ = staff_client(*perms)
    item = make()
    listing = client.get(url)
    assert listing.status_code == 200
    assert f'value="{name}"' not in listing.content.decode()
    response = client.post(url, action(name, [item], count="1", _generate="1"), follow=True)
    assert TEMPLATE not in [t.name for t in response.templates]  # no intermediate page
    assert not GenerationRun.objects.exists()
    assert django_rq.get_queue("content").job_ids == []


def test_actions_are_offered_to_staff_who_may_generate(django_capture_on_commit_callbacks):
    client, user = staff_client("view_post", "add_generationrun")
    post = make_post("Queues in practice")
    assert 'value="generate_followups"' in client.get(POSTS_URL).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            POSTS_URL, action("generate_followups", [post], count="1", _generate="1")
        )
    # Without permission to view runs, back to the post list with the message.
    assert response.status_code == 302 and response["Location"] == POSTS_URL
    assert GenerationRun.objects.get().author == user
