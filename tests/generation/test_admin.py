"""The admin's "Generate posts" form: through the one door, guarded, CSRF-protected."""

from __future__ import annotations

import socket

import django_rq
import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from rq.registry import ScheduledJobRegistry

from generation.models import GenerationRun, Origin, RunStatus

GENERATE_URL = "/admin/generation/generate/"
RUNS_URL = "/admin/generation/generationrun/"
POSTS_URL = "/admin/blog/post/"

pytestmark = pytest.mark.django_db


def _staff(django_user_model, username: str, *perms: str):
    user = django_user_model.objects.create_user(
        username=username, password="staff-password-1", is_staff=True
    )
    for codename in perms:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    return user


def _form(**overrides) -> dict:
    """The form as a browser posts it; the author defaults to the first staff user."""
    from django.contrib.auth import get_user_model

    first_staff = get_user_model().objects.filter(is_staff=True).order_by("pk").first()
    data = {
        "count": "2",
        "topic": "LLM optimization",
        "category": "",
        "author": str(first_staff.pk) if first_staff else "",
        "delay": "0",
        "tags": "on",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def _content_job_ids() -> list[str]:
    return django_rq.get_queue("content").job_ids


def test_button_shows_on_post_and_run_lists(admin_client_):
    for url in (POSTS_URL, RUNS_URL):
        page = admin_client_.get(url).content.decode()
        assert f'href="{GENERATE_URL}"' in page, url
        assert "Generate posts" in page


def test_button_hidden_from_staff_without_permission(django_user_model):
    user = _staff(django_user_model, "viewer", "view_post", "view_generationrun")
    client = Client()
    client.force_login(user)
    for url in (POSTS_URL, RUNS_URL):
        response = client.get(url)
        assert response.status_code == 200
        assert GENERATE_URL not in response.content.decode()


def test_form_renders_inside_the_admin(admin_client_, admin_user, django_user_model):
    django_user_model.objects.create_user(username="reader", password="reader-password-1")
    response = admin_client_.get(GENERATE_URL)
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="site-name"' in page  # the admin's header: rendered in the admin look
    assert "csrfmiddlewaretoken" in page
    for name in ("count", "topic", "category", "author", "publish", "delay", "tags"):
        assert f'name="{name}"' in page
    assert f'<option value="{admin_user.pk}" selected>editor</option>' in page
    assert "reader" not in page  # only staff can be authors


def test_submit_queues_runs_through_the_service(
    admin_client_, admin_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(
            GENERATE_URL,
            _form(count="3", category="Performance", publish="on", tags=None),
            follow=True,
        )
    assert response.redirect_chain[-1][0] == RUNS_URL
    assert "3 posts queued for generation" in response.content.decode()
    runs = list(GenerationRun.objects.order_by("pk"))
    assert len(runs) == 3
    for run in runs:
        assert (run.origin, run.status, run.topic) == (
            Origin.ADMIN,
            RunStatus.QUEUED,
            "LLM optimization",
        )
        assert (run.category_name, run.publish, run.with_tags) == ("Performance", True, False)
        assert run.author_id == admin_user.pk
    assert sorted(_content_job_ids()) == sorted(f"generation-run-{run.pk}" for run in runs)


def test_single_post_message_is_singular(admin_client_, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(GENERATE_URL, _form(count="1"), follow=True)
    assert "1 post queued for generation" in response.content.decode()


def test_delay_schedules_the_jobs(admin_client_, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        admin_client_.post(GENERATE_URL, _form(count="2", delay="120"))
    queue = django_rq.get_queue("content")
    assert queue.job_ids == []
    scheduled = ScheduledJobRegistry(queue=queue).get_job_ids()
    assert sorted(scheduled) == sorted(
        f"generation-run-{pk}" for pk in GenerationRun.objects.values_list("pk", flat=True)
    )


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"count": "0"}, "Count must be between 1 and 100."),
        ({"count": "101"}, "Count must be between 1 and 100."),
        ({"count": "two"}, "Count must be a whole number."),
        ({"delay": "-5"}, "Delay must be zero or more seconds."),
        ({"topic": "x" * 301}, "Ensure this value has at most 300 characters"),
    ],
)
def test_invalid_input_is_refused_and_nothing_queued(admin_client_, overrides, error):
    response = admin_client_.post(GENERATE_URL, _form(**overrides))
    assert response.status_code == 200
    assert error in response.content.decode()
    assert GenerationRun.objects.count() == 0
    assert _content_job_ids() == []


def test_author_must_be_active_staff(admin_client_, django_user_model):
    reader = django_user_model.objects.create_user(username="reader", password="pw-reader-12")
    response = admin_client_.post(GENERATE_URL, _form(author=str(reader.pk)))
    assert "Select a valid choice" in response.content.decode()
    assert GenerationRun.objects.count() == 0


def test_staff_without_permission_is_forbidden(django_user_model):
    client = Client()
    client.force_login(_staff(django_user_model, "viewer", "view_generationrun"))
    assert client.get(GENERATE_URL).status_code == 403
    assert client.post(GENERATE_URL, _form()).status_code == 403
    assert GenerationRun.objects.count() == 0


def test_staff_with_add_permission_may_generate(
    django_user_model, django_capture_on_commit_callbacks
):
    user = _staff(django_user_model, "operator", "add_generationrun", "view_generationrun")
    client = Client()
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(GENERATE_URL, _form(author=str(user.pk)))
    assert response.status_code == 302
    assert GenerationRun.objects.filter(author=user).count() == 2


def test_anonymous_and_non_staff_go_to_the_login_page(django_user_model):
    member = django_user_model.objects.create_user(username="member", password="pw-member-12")
    logged_in = Client()
    logged_in.force_login(member)
    for client in (Client(), logged_in):
        response = client.post(GENERATE_URL, _form())
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))
    assert GenerationRun.objects.count() == 0


def test_post_without_csrf_token_is_rejected(admin_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    response = client.post(GENERATE_URL, _form())
    assert response.status_code == 403
    assert GenerationRun.objects.count() == 0
    assert _content_job_ids() == []


def test_unreachable_redis_is_reported_and_nothing_written(admin_client_, settings):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dead = f"redis://127.0.0.1:{port}/15"
    settings.REDIS_URL = dead
    settings.RQ_QUEUES = {name: {"URL": dead} for name in settings.RQ_QUEUE_NAMES}
    response = admin_client_.post(GENERATE_URL, _form())
    page = response.content.decode()
    assert response.status_code == 200
    assert f"Redis is unreachable at redis://127.0.0.1:{port}/15" in page
    assert "nothing was queued" in page
    assert GenerationRun.objects.count() == 0
