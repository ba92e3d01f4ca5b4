"""Public blog URLs (namespace "blog")."""

from django.contrib.sitemaps.views import sitemap
from django.urls import path

from blog import views
from blog.feeds import LatestPostsFeed
from blog.sitemaps import SITEMAPS

app_name = "blog"
urlpatterns = [
    path("", views.PostListView.as_view(), name="home"),
    path("posts/<slug:slug>/", views.post_detail, name="post_detail"),
    path("category/<slug:slug>/", views.CategoryPostListView.as_view(), name="category"),
    # taggit keeps letters beyond ASCII in a slug ("café", "日本語"): <slug:> would refuse them.
    path("tag/<str:slug>/", views.TagPostListView.as_view(), name="tag"),
    path("feed/", LatestPostsFeed(), name="feed"),
    path("sitemap.xml", sitemap, {"sitemaps": SITEMAPS}, name="sitemap"),
    path("robots.txt", views.robots_txt, name="robots"),
    path("favicon.ico", views.favicon, name="favicon"),
]
