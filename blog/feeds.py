"""The RSS feed of the latest published posts."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.db.models import Count, QuerySet
from django.urls import reverse
from django.utils.html import escape, format_html

from blog import disclosure, selectors
from blog.models import Post

FEED_SIZE = 20


class LatestPostsFeed(Feed):
    """The 20 newest published posts; each item's description is its excerpt, as HTML text."""

    def title(self) -> str:
        return settings.SITE_NAME

    def description(self) -> str:
        return settings.SITE_DESCRIPTION

    def link(self) -> str:
        return reverse("blog:home")

    def items(self) -> QuerySet[Post]:
        posts = selectors.post_list_published().select_related("reviewed_by")
        return posts.annotate(source_count=Count("sources"))[:FEED_SIZE]

    def item_title(self, item: Post) -> str:
        return item.title

    def item_description(self, item: Post) -> str:
        # RSS readers render a description as HTML; the excerpt is plain text (written by
        # an LLM that read the web), so it is escaped into HTML text, never markup.
        text = escape(item.excerpt or item.meta_description)
        # items() annotates source_count (the stubs cannot see an annotation).
        told = disclosure.disclosure(item, source_count=getattr(item, "source_count", 0))
        return format_html("{}<p><em>{}</em></p>", text, told) if told else text

    def item_pubdate(self, item: Post) -> datetime | None:
        return item.published_at

    def item_updateddate(self, item: Post) -> datetime:
        return item.updated_at

    def item_author_name(self, item: Post) -> str:
        return item.author.get_full_name() or item.author.get_username()

    def item_categories(self, item: Post) -> list[str]:
        names = [tag.name for tag in item.tags.all()]
        return [item.category.name, *names] if item.category else names
