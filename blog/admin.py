"""The post and category admin; bulk actions go through blog.services.

The blog knows nothing of generation: generation adds its "Generate ..." actions to these
admins itself, and fills in the review screen's evidence and section-redo hooks
(`generation.admin.actions.blog_admins_extend`)."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.db import models
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import URLPattern, reverse
from django.utils.html import format_html

from blog import permissions, review, services
from blog.models import Category, Post, PostSource
from blog.review_admin import ReviewViewsMixin


class HoldReasonFilter(admin.SimpleListFilter):
    title = "hold reason"
    parameter_name = "hold"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(key, label) for key, label, _ in review.HOLD_KINDS]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Post]) -> QuerySet[Post]:
        for key, _, query in review.HOLD_KINDS:
            if self.value() == key:
                return queryset.filter(query)
        return queryset


FRESHNESS_FIELDS = ("last_verified_at", "needs_refresh", "refresh_reason", "refreshed_at")


class FreshnessFilter(admin.SimpleListFilter):
    """Living posts: those a re-read of their sources flagged, and those refreshed."""

    title = "freshness"
    parameter_name = "freshness"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("needs_refresh", "Needs refresh"), ("refreshed", "Refreshed")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Post]) -> QuerySet[Post]:
        if self.value() == "needs_refresh":
            return queryset.filter(needs_refresh=True)
        if self.value() == "refreshed":
            return queryset.filter(refreshed_at__isnull=False)
        return queryset


class PostSourceInline(admin.TabularInline):
    model = PostSource
    extra = 0
    fields = ("number", "title", "url", "domain")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(Post)
class PostAdmin(ReviewViewsMixin, admin.ModelAdmin):
    list_display = ("title", "status", "review_link", "category", "author", "published_at")
    list_filter = ("status", HoldReasonFilter, FreshnessFilter, "category", "tags", "author")
    list_select_related = ("category", "author")
    search_fields = ("title", "body", "excerpt")
    prepopulated_fields = {"slug": ("title",)}
    date_hierarchy = "published_at"
    readonly_fields = ("reading_time", "created_at", "updated_at")
    autocomplete_fields = ("category",)
    raw_id_fields = ("author",)
    inlines = (PostSourceInline,)
    actions = ("publish_selected", "unpublish_selected")
    fieldsets = (
        (None, {"fields": ("title", "slug", "status", "published_at", "author", "category")}),
        ("Content", {"fields": ("excerpt", "body", "tags")}),
        ("SEO", {"fields": ("meta_description",)}),
        ("Review", {"fields": ("hold_reason", "rejected_reason", "reviewed_by", "reviewed_at")}),
        ("Freshness", {"fields": FRESHNESS_FIELDS}),
        ("Info", {"fields": ("reading_time", "created_at", "updated_at")}),
    )

    def save_model(self, request: HttpRequest, obj: Post, form: Any, change: bool) -> None:
        if not change and not permissions.may_choose_author(request.user):
            obj.author = cast(User, request.user)  # the author field is read-only for them
        services.post_update(obj, editor=cast(User, request.user))

    @admin.display(description="Review")
    def review_link(self, obj: Post) -> str:
        url = reverse("admin:blog_post_review", args=[obj.pk])
        label = f"Review: {obj.hold_reason}" if obj.in_review and obj.hold_reason else "Review"
        if obj.needs_refresh:  # the live post stays up; the badge sends an editor to it
            return format_html(
                '<a href="{}">{}</a> <span class="badge-needs-refresh">needs refresh</span>',
                url,
                label,
            )
        return format_html('<a href="{}">{}</a>', url, label)

    def get_urls(self) -> list[URLPattern]:
        return self.review_urls() + super().get_urls()

    def get_readonly_fields(
        self, request: HttpRequest, obj: Post | None = None
    ) -> list[str] | tuple[str, ...]:
        # Whether readers see a post is the publish permission's, not the editor's; whose
        # name it carries is choose_author's (the same rule as the generate doors).
        fields = tuple(super().get_readonly_fields(request, obj))
        fields += ("hold_reason", "rejected_reason", "reviewed_by", "reviewed_at")
        fields += FRESHNESS_FIELDS  # the re-reads write them, and the editor's answers
        if not permissions.may_publish(request.user):
            fields += ("status", "published_at")
        if not permissions.may_choose_author(request.user):
            fields += ("author",)
        return fields

    def has_publish_permission(self, request: HttpRequest) -> bool:
        return self.has_change_permission(request) and permissions.may_publish(request.user)

    @admin.action(description="Publish selected posts", permissions=["publish"])
    def publish_selected(self, request: HttpRequest, queryset: QuerySet[Post]) -> None:
        count = services.posts_publish(queryset)
        self.message_user(request, f"Published {count} post(s).", messages.SUCCESS)

    @admin.action(description="Unpublish selected posts (back to draft)", permissions=["publish"])
    def unpublish_selected(self, request: HttpRequest, queryset: QuerySet[Post]) -> None:
        count = services.posts_unpublish(queryset)
        self.message_user(request, f"Unpublished {count} post(s).", messages.SUCCESS)


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "post_count")
    search_fields = ("name",)
    prepopulated_fields = {"slug": ("name",)}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Category]:
        return super().get_queryset(request).annotate(post_count=Count("posts"))

    @admin.display(description="Posts", ordering="post_count")
    def post_count(self, obj: Category) -> int:
        return obj.post_count  # type: ignore[attr-defined]  # get_queryset's annotation: the stubs cannot carry it
