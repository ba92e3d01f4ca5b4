"""Public pages: thin views over blog.selectors, rendered with templates/blog/*."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import get_object_or_404, render
from django.templatetags.static import static
from django.urls import reverse
from django.views.generic import ListView
from taggit.models import Tag

from blog import disclosure, selectors
from blog.markdown import post_body_html
from blog.models import Category, Post


class PostListView(ListView):
    """The home page: published posts, newest first."""

    template_name = "blog/post_list.html"
    context_object_name = "posts"

    def get_paginate_by(self, queryset: QuerySet[Post]) -> int:
        # Read per request so the setting can change without re-importing views.
        return settings.POSTS_PER_PAGE

    def get_queryset(self) -> QuerySet[Post]:
        return selectors.post_list_published()


class CategoryPostListView(PostListView):
    """Published posts in one category."""

    def get_queryset(self) -> QuerySet[Post]:
        self.category = get_object_or_404(Category, slug=self.kwargs["slug"])
        return selectors.posts_in_category(self.category)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(
            category=self.category, active_category=self.category.slug, **kwargs
        )


class TagPostListView(PostListView):
    """Published posts with one tag."""

    def get_queryset(self) -> QuerySet[Post]:
        self.tag = get_object_or_404(Tag, slug=self.kwargs["slug"])
        return selectors.posts_with_tag(self.tag)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(tag=self.tag, **kwargs)


def post_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """One post; staff may preview drafts, everyone else gets 404 for them."""
    post = selectors.post_get_for_view(slug, request.user)
    sources = list(post.sources.all())
    url = request.build_absolute_uri(post.get_absolute_url())  # as the canonical link
    context = {
        "post": post,
        "body_html": post_body_html(post),
        "sources": sources,
        "disclosure": disclosure.disclosure(post, source_count=len(sources)),
        "json_ld": disclosure.json_ld(disclosure.article_data(post, url=url, sources=sources)),
        "tags": list(post.tags.all()),
        "is_preview": not selectors.post_is_public(post),
        "active_category": post.category.slug if post.category else "",
    }
    return render(request, "blog/post_detail.html", context)


def robots_txt(request: HttpRequest) -> HttpResponse:
    """Crawl everything public; keep robots out of the admin and the queue dashboard."""
    sitemap_url = request.build_absolute_uri(reverse("blog:sitemap"))
    lines = [
        "User-agent: *",
        "Allow: /",
        "Disallow: /admin/",
        "Disallow: /django-rq/",
        "",
        f"Sitemap: {sitemap_url}",
        "",
    ]
    return HttpResponse("\n".join(lines), content_type="text/plain; charset=utf-8")


def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """Browsers and crawlers ask for /favicon.ico whatever the page links: send them to the
    static icon, served with the other static files."""
    return HttpResponsePermanentRedirect(static("favicon.ico"))
