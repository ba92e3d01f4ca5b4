"""Root URLs: the public blog, the admin, the RQ dashboard and the generation endpoints."""

from django.contrib import admin
from django.urls import include, path

from generation import dashboard, endpoints

urlpatterns = [
    path("healthz", endpoints.healthz, name="healthz"),
    path("readyz", endpoints.readyz, name="readyz"),
    path("metrics", endpoints.metrics_view, name="metrics"),
    path("admin/generation/", include("generation.urls")),
    path("admin/", admin.site.urls),
    # django-rq's views, each behind the generation.manage_queues permission.
    path("django-rq/", include((dashboard.urlpatterns(), "django_rq"))),
    path("", include("blog.urls")),
]
