"""Generation's admin-side endpoints, mounted at /admin/generation/ before the admin."""

from django.urls import path

from generation import views

app_name = "generation"
urlpatterns = [
    path("generate/", views.generate_posts, name="generate"),
    path("runs/status.json", views.runs_status, name="runs_status"),
    path("overview/", views.overview_page, name="overview"),
    path("overview/pause/", views.pause_toggle, name="pause"),
]
