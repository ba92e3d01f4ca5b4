"""The django-rq dashboard behind a permission, keeping runs true when it changes jobs.

django-rq only asks for `is_staff`. Every one of its views, at /django-rq/ and inside the
admin (/admin/django_rq/dashboard/), is wrapped here: anonymous users go to the login
page, staff without `generation.manage_queues` get 403 (superusers have every permission).
Its token-authenticated API views (stats.json, metrics) still accept RQ_API_TOKEN.

A POST through the dashboard (requeue, delete, empty a queue, bulk actions) is bracketed
by a snapshot of the generation jobs and `jobsync.runs_sync_with_jobs` afterwards, so a
requeued failed job queues its run again and a deleted waiting job cancels its run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import admin
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, reverse
from django_rq import models as rq_models
from django_rq.admin import QueueAdmin
from django_rq.urls import get_admin_urlpatterns, get_api_urlpatterns
from redis.exceptions import RedisError

from generation import queues
from generation.execution import jobsync

logger = logging.getLogger(__name__)

PERMISSION = "generation.manage_queues"
View = Callable[..., HttpResponse]


def may_manage_queues(user: User | AnonymousUser) -> bool:
    return bool(user.is_active and user.is_staff and user.has_perm(PERMISSION))


def queue_manager_required(view: View) -> View:
    """Login for the anonymous, 403 for staff without the permission; POSTs keep runs true."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not (request.user.is_active and request.user.is_staff):
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        if not may_manage_queues(request.user):
            raise PermissionDenied("Managing the queues needs the manage_queues permission.")
        if request.method != "POST":
            return view(request, *args, **kwargs)
        return _with_runs_synced(view, request, *args, **kwargs)

    return wrapped


def _with_runs_synced(view: View, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    connection = queues.get_queue("default").connection
    before = jobsync.jobs_snapshot(connection)
    response = view(request, *args, **kwargs)
    try:
        changed = jobsync.runs_sync_with_jobs(connection, before)
    except RedisError:
        logger.exception("Runs could not be synced with the dashboard's job changes")
    else:
        if changed["requeued"] or changed["canceled"]:
            logger.info("Dashboard action by %s: runs %s", request.user, changed)
    return response


def token_or_queue_manager(view: View) -> View:
    """django-rq's API views: a bearer token (checked by the view) or the permission."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if user.is_authenticated and not may_manage_queues(user):
            raise PermissionDenied("Managing the queues needs the manage_queues permission.")
        if not user.is_authenticated and not request.headers.get("Authorization"):
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        return view(request, *args, **kwargs)

    return wrapped


def _wrapped_api(patterns: list[URLPattern]) -> list[URLPattern]:
    for pattern in patterns:
        pattern.callback = token_or_queue_manager(pattern.callback)
    return patterns


def guarded_urlpatterns() -> list[URLPattern]:
    """django-rq's URLs, every view behind the permission (namespace `django_rq`)."""
    return _wrapped_api(get_api_urlpatterns()) + get_admin_urlpatterns(
        view_wrapper=queue_manager_required
    )


class GuardedQueueAdmin(QueueAdmin):
    """django-rq's admin entry, shown to and usable by queue managers only."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return may_manage_queues(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return may_manage_queues(request.user)

    def get_urls(self) -> list[URLPattern]:
        guarded = []
        for pattern in super().get_urls():
            if pattern.name and pattern.name.startswith("django_rq_"):
                api = pattern.name in ("django_rq_home_json", "django_rq_metrics")
                wrap = token_or_queue_manager if api else queue_manager_required
                pattern.callback = wrap(pattern.callback)
            guarded.append(pattern)
        return guarded

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return queue_manager_required(super().changelist_view)(request, extra_context)


def register_admin(site: admin.AdminSite) -> None:
    """Put the guarded dashboard in the admin (RQ_SHOW_ADMIN_LINK is off for django-rq's)."""
    if not site.is_registered(rq_models.Dashboard):
        site.register(rq_models.Dashboard, GuardedQueueAdmin)


# The URLconf the project includes at /django-rq/ (namespace `django_rq`).
urlpatterns = guarded_urlpatterns()
