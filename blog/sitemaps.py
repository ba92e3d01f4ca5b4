"""sitemap.xml: the home page, every published post and every category with posts."""

from __future__ import annotations

from datetime import datetime

from django.contrib.sitemaps import Sitemap
from django.db.models import QuerySet
from django.urls import reverse

from blog import selectors
from blog.models import Category, Post


class HomeSitemap(Sitemap):
    changefreq = "daily"
    priority = 1.0

    def items(self) -> list[str]:
        return ["blog:home"]

    def location(self, item: str) -> str:
        return reverse(item)


class PostSitemap(Sitemap):
    changefreq = "weekly"
    priority = 0.8

    def items(self) -> QuerySet[Post]:
        # Only what the sitemap prints: no tags or authors needed here.
        return (
            selectors.post_list_published()
            .select_related(None)
            .prefetch_related(None)
            .only("slug", "updated_at")
        )

    def lastmod(self, item: Post) -> datetime:
        return item.updated_at


class CategorySitemap(Sitemap):
    changefreq = "weekly"
    priority = 0.5

    def items(self) -> QuerySet[Category]:
        return selectors.category_list_with_counts()

    def location(self, item: Category) -> str:
        return item.get_absolute_url()


SITEMAPS = {"home": HomeSitemap, "posts": PostSitemap, "categories": CategorySitemap}
