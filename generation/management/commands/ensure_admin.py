"""Create a first superuser when the site has none (used by `make run`)."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the superuser 'admin' if no superuser exists; print its password once."

    def handle(self, *args: Any, **options: Any) -> None:
        users = get_user_model().objects
        if users.filter(is_superuser=True).exists():
            return
        password = settings.ADMIN_PASSWORD or secrets.token_urlsafe(12)
        users.create_superuser(username="admin", email="admin@localhost", password=password)
        shown = "from ADMIN_PASSWORD" if settings.ADMIN_PASSWORD else password
        self.stdout.write(
            f"Created superuser 'admin' with password: {shown} (change it in /admin/)"
        )
