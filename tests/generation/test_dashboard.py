"""The django-rq dashboard: behind generation.manage_queues, and its job actions keep runs
true. Driven through django-rq's own views, with real workers, Redis and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.test import Client
from django_rq.queues import get_queues_list
from rq.job import Job

from blog.models import Post
from generation import queues
from generation.models import GenerationRun, RunStatus
from generation.queues import job_id_for
from generation.runs import service
from tests.workers import running_worker, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

CONTENT = [queue["name"] for queue in get_queues_list()].index("content")
PAGES = ("/django-rq/", f"/django-rq/queues/{CONTENT}/", "/admin/django_rq/dashboard/")


def _staff(django_user_model, name: str, *, manager: bool) -> Client:
    user = django_user_model.objects.create_user(
        username=name, password="unused-password-1", is_staff=True
    )
    if manager:
        user.user_permissions.add(Permission.objects.get(codename="manage_queues"))
    client = Client()
    client.force_login(user)
    return client


def _manager(django_user_model) -> Client:
    return _staff(django_user_model, "operator", manager=True)


def _status(run_id: int) -> str:
    return GenerationRun.objects.get(pk=run_id).status


def test_anonymous_users_are_sent_to_the_login_page(client):
    for page in PAGES:
        response = client.get(page)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], page


def test_staff_without_the_permission_are_refused_and_change_nothing(django_user_model, author):
    (run,) = service.enqueue_posts(count=1, topic="Redis", author=author)
    client = _staff(django_user_model, "clerk", manager=False)
    for page in PAGES:
        assert client.get(page).status_code == 403, page
    response = client.post(f"/django-rq/queues/{CONTENT}/{job_id_for(run.pk)}/delete/")
    assert response.status_code == 403
    assert client.post(f"/django-rq/queues/{CONTENT}/empty/").status_code == 403
    assert queues.get_queue().job_ids == [job_id_for(run.pk)]
    assert "/admin/django_rq/dashboard/" not in client.get("/admin/").content.decode()
    assert _status(run.pk) == RunStatus.QUEUED


def test_staff_with_the_permission_and_superusers_get_in(django_user_model, admin_client_):
    manager = _manager(django_user_model)
    for client in (manager, admin_client_):
        for page in PAGES:
            assert client.get(page).status_code == 200, page
        assert "/admin/django_rq/dashboard/" in client.get("/admin/").content.decode()


def test_deleting_a_waiting_job_cancels_its_run(django_user_model, author):
    first, second = service.enqueue_posts(count=2, topic="Redis", author=author)
    client = _manager(django_user_model)
    response = client.post(f"/django-rq/queues/{CONTENT}/{job_id_for(first.pk)}/delete/")
    assert response.status_code == 302
    assert _status(first.pk) == RunStatus.CANCELED
    assert _status(second.pk) == RunStatus.QUEUED
    assert queues.get_queue().job_ids == [job_id_for(second.pk)]


def test_emptying_a_queue_and_bulk_deleting_cancel_the_runs(django_user_model, author):
    runs = service.enqueue_posts(count=3, topic="Redis", author=author)
    client = _manager(django_user_model)
    client.post(
        f"/django-rq/queues/actions/{CONTENT}/",
        {"action": "delete", "job_ids": [job_id_for(runs[0].pk)]},
    )
    assert _status(runs[0].pk) == RunStatus.CANCELED
    client.post(f"/django-rq/queues/{CONTENT}/empty/")
    assert {_status(run.pk) for run in runs} == {RunStatus.CANCELED}
    assert queues.get_queue().count == 0


def test_deleting_a_retrying_runs_scheduled_job_cancels_it(django_user_model, author):
    (run,) = service.enqueue_posts(count=1, topic="Redis", author=author, delay=600)
    client = _manager(django_user_model)
    client.post(f"/django-rq/queues/{CONTENT}/{job_id_for(run.pk)}/delete/")
    assert _status(run.pk) == RunStatus.CANCELED


def _failed_at_sections(fast_env, author, standins) -> GenerationRun:
    """A run failed for good in the sections stage after one attempt (a refused API key)."""
    standins.llm.inject(kind="section", status=401, times=None)
    (run,) = service.enqueue_posts(count=1, topic="LLM optimization", author=author)
    registry = queues.get_queue().failed_job_registry
    with running_worker(fast_env):
        # The run is failed first, then RQ files the job: wait for both.
        wait_for(lambda: job_id_for(run.pk) in registry.get_job_ids(), timeout=60)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    standins.llm.clear_faults()
    return run


def _succeeded(run_id: int) -> GenerationRun | None:
    return GenerationRun.objects.filter(pk=run_id, status=RunStatus.SUCCEEDED).first()


@pytest.mark.workers
def test_dashboard_requeue_reruns_the_run_from_its_first_unfinished_stage(
    fast_env, author, standins, django_user_model
):
    run = _failed_at_sections(fast_env, author, standins)
    client = _manager(django_user_model)
    response = client.post(f"/django-rq/queues/{CONTENT}/{job_id_for(run.pk)}/requeue/")
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED and run.finished_at is None  # at once, not later
    assert (run.attempts, run.max_attempts, len(run.errors)) == (1, 2, 1)
    with running_worker(fast_env):
        run = wait_for(lambda: _succeeded(run.pk), timeout=60)
    assert run.attempts == 2
    assert [e["stage"] for e in run.errors] == ["sections"]  # history kept
    assert standins.llm.counts["outline"] == 1 and standins.llm.counts["topic_angle"] == 1
    assert Post.objects.get().pk == run.post_id
    assert job_id_for(run.pk) not in queues.get_queue().failed_job_registry.get_job_ids()


@pytest.mark.workers
def test_rq_requeue_from_the_command_line_reruns_the_run(fast_env, author, standins):
    run = _failed_at_sections(fast_env, author, standins)
    rq = os.path.join(os.path.dirname(sys.executable), "rq")
    subprocess.run(
        [rq, "requeue", "--queue", "content", "-u", settings.REDIS_URL, job_id_for(run.pk)],
        check=True,
        capture_output=True,
    )
    assert _status(run.pk) == RunStatus.FAILED  # RQ alone cannot tell the database
    connection = queues.get_queue().connection
    with running_worker(fast_env):
        run = wait_for(lambda: _succeeded(run.pk), timeout=60)
        # The run is saved before RQ files its job as finished: wait for both.
        wait_for(lambda: Job.fetch(job_id_for(run.pk), connection=connection).is_finished)
    assert (run.attempts, len(run.errors)) == (2, 1)
    assert standins.llm.counts["outline"] == 1
    assert Post.objects.count() == 1
