"""Fixtures shared by the generation tests."""

from __future__ import annotations

import importlib

import pytest
from django.test import Client

from tests.workers import FAST


@pytest.fixture
def seeded_schedules(db) -> None:
    """The two schedules migration 0003 seeds, as a fresh install has them. A transactional
    test empties every table when it ends; pytest-django runs those after the others in one
    process, but an xdist worker may have run one already, so put the seeds back if gone."""
    from django.apps import apps

    seed = importlib.import_module("generation.migrations.0003_seed_blog_post_schedules").seed
    seed(apps, None)


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser(
        username="editor", email="editor@example.com", password="editor-password-1"
    )


@pytest.fixture
def admin_client_(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.fixture
def fast_env(worker_env, settings) -> dict[str, str]:
    """Environment for worker subprocesses with fast retries, leases and reaping."""
    settings.GENERATION_RETRY_INTERVALS = [1, 1, 1]
    return {**worker_env, **FAST}
