"""Root URLs: the public blog, the admin, the RQ dashboard and the generation endpoints.

Every app's URLs are included by name: the project's URLconf imports no app module.
"""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("generation.operations.endpoints")),  # /healthz, /readyz, /metrics
    path("admin/generation/", include("generation.admin.urls")),
    path("admin/", admin.site.urls),
    # django-rq's views, each behind the generation.manage_queues permission.
    path("django-rq/", include(("generation.admin.dashboard", "django_rq"))),
    path("", include("blog.urls")),
]
