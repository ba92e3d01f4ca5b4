"""Fixtures shared by the generation tests."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.workers import FAST


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
