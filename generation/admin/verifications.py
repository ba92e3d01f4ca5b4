"""Living posts in the admin: a read-only history of re-verifications (what each source
and each claim came to, what it cost), and the post list's action "Re-read the sources of
the selected posts", which queues one now whatever the posts' due time.

Verifications are written only by the engine (generation.freshness); the admin shows
them. The action needs `generation.add_postverification` (re-reading may call the
judge, which spends).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from generation.admin.runs import ReadOnly, web_link
from generation.freshness import service
from generation.models import ClaimCheck, PostVerification, SourceCheck
from generation.runs.refusals import refused
from generation.runs.selectors import cost_label

REVERIFY_PERMISSION = "generation.add_postverification"
PREVIEW = 300  # characters of a page's new text shown in the list of sources


class SourceCheckInline(ReadOnly, admin.TabularInline):
    model = SourceCheck
    verbose_name_plural = "sources read again"
    fields = (
        "number",
        "url_link",
        "verdict",
        "http_status",
        "moved_to",
        "from_cache",
        "detail",
        "new_text_start",
    )
    readonly_fields = fields
    extra = 0
    classes = ("verification-inline",)

    @admin.display(description="URL")
    def url_link(self, check: SourceCheck) -> SafeString | str:
        return web_link(check.url)

    @admin.display(description="Text now (start)")
    def new_text_start(self, check: SourceCheck) -> str:
        return check.new_text[:PREVIEW]


class ClaimCheckInline(ReadOnly, admin.TabularInline):
    model = ClaimCheck
    verbose_name_plural = "claims checked again"
    fields = ("source_number", "sentence", "old_passage", "new_passage", "backed", "reason")
    readonly_fields = fields
    extra = 0
    classes = ("verification-inline",)


@admin.register(PostVerification)
class PostVerificationAdmin(ReadOnly, admin.ModelAdmin):
    list_display = (
        "id",
        "post_link",
        "status",
        "outcome",
        "trigger",
        "queued_at",
        "finished_at",
        "sources",
        "requests",
        "cost",
    )
    list_display_links = ("id",)
    list_filter = ("status", "outcome", "trigger", "resolution")
    search_fields = ("post__title",)
    list_select_related = ("post",)
    date_hierarchy = "queued_at"
    inlines = (SourceCheckInline, ClaimCheckInline)

    class Media:
        css = {"all": ("admin-extra/runs.css",)}

    fieldsets = (
        (None, {"fields": ("post_link", "status", "outcome", "trigger", "summary", "error")}),
        ("When", {"fields": ("queued_at", "started_at", "finished_at")}),
        ("Sources", {"fields": ("sources", "requests")}),
        ("Claims", {"fields": (("claims_checked", "claims_failed"),)}),
        ("Usage", {"fields": ("llm_calls", ("prompt_tokens", "completion_tokens"), "cost")}),
        ("Editor's answer", {"fields": ("resolution", "resolved_by", "resolved_at")}),
    )
    readonly_fields = flatten_fieldsets(fieldsets)

    @admin.display(description="Post", ordering="post__title")
    def post_link(self, verification: PostVerification) -> SafeString:
        url = reverse("admin:blog_post_review", args=[verification.post_id])
        return format_html('<a href="{}">{}</a>', url, verification.post.title)

    @admin.display(description="Sources")
    def sources(self, verification: PostVerification) -> str:
        counts = (
            (verification.sources_unchanged, "unchanged"),
            (verification.sources_changed, "changed"),
            (verification.sources_passage_gone, "passage gone"),
            (verification.sources_gone, "gone"),
            (verification.sources_moved, "moved"),
        )
        return ", ".join(f"{n} {label}" for n, label in counts if n) or "—"

    @admin.display(description="Requests")
    def requests(self, verification: PostVerification) -> str:
        return (
            f"{verification.fetches} sent, {verification.not_modified} answered 304, "
            f"{verification.cache_hits} from the cache"
        )

    @admin.display(description="Cost", ordering="cost_usd")
    def cost(self, verification: PostVerification) -> str:
        return cost_label(verification.cost_usd)


def has_reverify_permission(modeladmin: admin.ModelAdmin, request: HttpRequest) -> bool:
    return bool(request.user.has_perm(REVERIFY_PERMISSION))


@admin.action(description="Re-read the sources of the selected posts", permissions=["reverify"])
def reverify_sources(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet
) -> None:
    ids = list(queryset.values_list("pk", flat=True))

    def say(message: str) -> None:
        modeladmin.message_user(request, message, messages.ERROR)

    with refused(say) as refusal:
        queued = service.queue_posts(ids)
    if not refusal:
        level = messages.SUCCESS if queued.verifications else messages.WARNING
        modeladmin.message_user(request, queued.message(), level)
