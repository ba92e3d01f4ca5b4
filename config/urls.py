"""Root URLs: the public blog, the admin, the RQ dashboard and the generation endpoints."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/generation/", include("generation.urls")),
    path("admin/", admin.site.urls),
    path("django-rq/", include("django_rq.urls")),
    path("", include("blog.urls")),
]
