"""The run admin: a live list of generation runs and a read-only history of each one.

Runs are never edited by hand; the only ways to change one are the two actions (retry
failed, cancel waiting), which go through `generation.runs.service`.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.contrib import admin, messages
from django.db.models import Case, F, IntegerField, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from blog.links import http_url
from generation.admin import dashboard, permissions
from generation.execution.operator import runs_cancel, runs_retry, runs_stop
from generation.models import STAGE_ORDER, GenerationRun, ResearchSource, Stage
from generation.pipeline import checkpoints
from generation.runs import selectors
from generation.runs.refusals import refused

EMPTY = "—"
CHANGE_PERMISSION = "generation.change_generationrun"
VIEW_PERMISSION = "generation.view_generationrun"
STAGE_LABELS = dict(Stage.choices)


class ReadonlyWithoutHelp:
    """Read-only fields show their value, not the help a form gives for entering one
    ("Empty: choose one." under a topic nobody can edit)."""

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        kwargs.setdefault("help_texts", self._no_help(request, obj))
        return super().get_form(request, obj, change=change, **kwargs)  # type: ignore[misc]

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        kwargs.setdefault("help_texts", self._no_help(request, obj))
        return super().get_formset(request, obj, **kwargs)  # type: ignore[misc]

    def _no_help(self, request: HttpRequest, obj: Any) -> dict[str, str]:
        fields = self.get_readonly_fields(request, obj)  # type: ignore[attr-defined]
        return {name: "" for name in fields if isinstance(name, str)}


class ReadOnly(ReadonlyWithoutHelp):
    """History, shown and never added, edited or deleted by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def web_link(url: str) -> SafeString | str:
    """An address that came from the web: a link only when it is http(s), else plain
    text (escaped by the admin)."""
    href = http_url(url)
    if not href:
        return url
    return format_html(
        '<a href="{}" rel="noopener noreferrer nofollow" target="_blank">{}</a>', href, url
    )


class ResearchSourceInline(ReadOnly, admin.TabularInline):
    """A run's sources, kept ones first, each title once (runs.css hides the inline's
    own row caption, which repeated the title)."""

    model = ResearchSource
    verbose_name_plural = "sources"
    fields = (
        "cited_as",
        "title",
        "url_link",
        "domain",
        "provider",
        "status",
        "reason",
        "from_cache",
        "cited",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[ResearchSource]:
        kept_first = Case(
            When(status=ResearchSource.Status.KEPT, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
        return (
            super()
            .get_queryset(request)
            .order_by(kept_first, F("number").asc(nulls_last=True), "id")
        )

    @admin.display(description="Number")
    def cited_as(self, source: ResearchSource) -> str:
        # A method, not the field: an inline's column header shows the model's help text.
        return f"[{source.number}]" if source.number else EMPTY

    @admin.display(description="URL")
    def url_link(self, source: ResearchSource) -> SafeString | str:
        return web_link(source.url)

    # The sources are part of the run's history: whoever may view the run sees them.
    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(VIEW_PERMISSION)


@admin.register(GenerationRun)
class GenerationRunAdmin(ReadonlyWithoutHelp, admin.ModelAdmin):
    # What a 1280 px screen holds beside the admin's sidebars, titles wrapped (runs.css);
    # tokens, duration, claims backed, origin and times are on the run's own page.
    list_display = ("id", "run_status", "run_stage", "attempt", "topic_label", "post_links", "cost")
    list_display_links = ("id",)
    list_filter = ("status", "stage", "origin")
    search_fields = ("topic",)
    list_select_related = ("post", "author")
    list_per_page = 50
    date_hierarchy = "created_at"
    actions = ("retry_failed", "cancel_queued", "stop_running")
    view_on_site = False
    inlines = (ResearchSourceInline,)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # Costs are visible per day too, not only per run.
        extra_context = {**(extra_context or {}), "usage_by_day": selectors.usage_by_day()}
        return super().changelist_view(request, extra_context=extra_context)

    fieldsets = (
        (
            "Parameters",
            {
                "fields": (
                    "topic",
                    "category_name",
                    "author",
                    ("publish", "with_tags"),
                    ("origin", "queue_name"),
                    "batch_label",
                    "scheduled_for",
                    "schedule_link",
                )
            },
        ),
        (
            "State",
            {
                "fields": (
                    ("run_status", "run_stage", "attempt"),
                    "next_retry_at",
                    "worker_name",
                    ("created_at", "started_at", "finished_at"),
                    "duration",
                    "citations",
                    "post_links",
                )
            },
        ),
        ("Timings per stage", {"fields": ("timings_table",)}),
        ("Errors, one per failed attempt", {"fields": ("errors_table",)}),
        (
            "Usage",
            {"fields": (("prompt_tokens", "completion_tokens", "tokens"), "llm_calls", "cost")},
        ),
        ("Citation report", {"fields": ("citation_report",)}),
    )
    readonly_fields = (
        "topic",
        "category_name",
        "author",
        "publish",
        "with_tags",
        "origin",
        "queue_name",
        "batch_label",
        "scheduled_for",
        "schedule_link",
        "run_status",
        "run_stage",
        "attempt",
        "next_retry_at",
        "worker_name",
        "created_at",
        "started_at",
        "finished_at",
        "duration",
        "citations",
        "post_links",
        "timings_table",
        "errors_table",
        "prompt_tokens",
        "completion_tokens",
        "tokens",
        "llm_calls",
        "cost",
        "citation_report",
    )

    class Media:
        css = {"all": ("admin-extra/runs.css",)}
        js = ("admin-extra/run_status.js",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[GenerationRun]:
        return selectors.run_list_admin()

    # Runs are created by "Generate posts" and changed only by the actions.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(CHANGE_PERMISSION)

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(CHANGE_PERMISSION)

    # --- Columns ---------------------------------------------------------------------------

    @admin.display(description="Status", ordering="status")
    def run_status(self, run: GenerationRun) -> SafeString:
        title = f"Next try at {run.next_retry_at:%Y-%m-%d %H:%M:%S}" if run.next_retry_at else ""
        return format_html(
            '<span class="run-badge run-badge--{}" data-run-id="{}" data-run-active="{}" '
            'title="{}">{}</span>{}',
            run.status,
            run.pk,
            "1" if selectors.run_is_active(run) else "0",
            run.status_note or title,
            run.get_status_display(),
            format_html('<br><span class="quiet">{}</span>', run.status_note)
            if run.status_note
            else "",
        )

    @admin.display(description="Stage", ordering="stage")
    def run_stage(self, run: GenerationRun) -> str:
        return run.get_stage_display() if run.stage else EMPTY

    @admin.display(description="Attempt")
    def attempt(self, run: GenerationRun) -> str:
        return selectors.run_attempt_label(run)

    @admin.display(description="Topic", ordering="topic")
    def topic_label(self, run: GenerationRun) -> str:
        return run.topic or "(writer's choice)"

    @admin.display(description="Duration")
    def duration(self, run: GenerationRun) -> str:
        return selectors.duration_label(selectors.run_duration_seconds(run))

    @admin.display(description="Tokens")
    def tokens(self, run: GenerationRun) -> str:
        return f"{run.total_tokens:,}"

    @admin.display(description="Cost", ordering="cost_usd")
    def cost(self, run: GenerationRun) -> str:
        if run.estimate_usd is None:
            return selectors.cost_label(run.cost_usd)
        estimate = selectors.cost_label(run.estimate_usd)
        return f"{selectors.cost_label(run.cost_usd)} (est. {estimate})"

    @admin.display(description="Claims backed")
    def citations(self, run: GenerationRun) -> str:
        return f"{run.citations_verified}/{run.citations_total}"

    @admin.display(description="Post")
    def post_links(self, run: GenerationRun) -> SafeString | str:
        links = selectors.run_post_links(run)
        if not links["post_admin_url"]:
            return EMPTY
        public = (
            format_html(' · <a href="{}" target="_blank">view</a>', links["post_url"])
            if links["post_url"]
            else ""
        )
        return format_html(
            '<a href="{}">{}</a>{}', links["post_admin_url"], links["post_title"], public
        )

    @admin.display(description="Batch")
    def batch_label(self, run: GenerationRun) -> str:
        if not run.batch:
            return EMPTY
        return f"post {run.batch_index + 1} of {run.batch_size} (batch {run.batch[:8]})"

    @admin.display(description="Schedule")
    def schedule_link(self, run: GenerationRun) -> SafeString | str:
        occurrence = run.schedule_occurrence
        if occurrence is None:
            return EMPTY
        return format_html(
            '<a href="{}">{}</a>, occurrence due {} UTC',
            occurrence.schedule.get_absolute_url(),
            occurrence.schedule.name,
            f"{occurrence.due_at:%Y-%m-%d %H:%M}",
        )

    # --- Detail ----------------------------------------------------------------------------

    @admin.display(description="Timings")
    def timings_table(self, run: GenerationRun) -> SafeString | str:
        timings, usage = run.timings or {}, run.usage_by_stage or {}
        if not timings:
            return "No stage has finished yet."
        known = set(timings) | set(usage)
        order = [s for s in STAGE_ORDER if s in known] + sorted(known - set(STAGE_ORDER))
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (STAGE_LABELS.get(s, s), _seconds(timings.get(s, EMPTY)), *_usage_cells(usage, s))
                for s in order
            ),
        )
        total = sum(float(v) for v in timings.values() if isinstance(v, int | float))
        return format_html(
            '<table class="run-table"><thead><tr><th>Stage</th><th>Seconds</th>'
            "<th>LLM calls</th><th>Tokens</th><th>Cost</th></tr></thead>"
            "<tbody>{}</tbody><tfoot><tr><th>Total</th><th>{}</th><th>{}</th><th>{}</th>"
            "<th>{}</th></tr></tfoot></table>",
            rows,
            _seconds(total),
            run.llm_calls,
            f"{run.total_tokens:,}",
            selectors.cost_label(run.cost_usd),
        )

    @admin.display(description="Errors")
    def errors_table(self, run: GenerationRun) -> SafeString | str:
        if not run.errors:
            return "No attempt has failed."
        rows = format_html_join(
            "",
            '<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="run-error">{}</td></tr>',
            (
                tuple(e.get(key, "") for key in ("attempt", "stage", "kind", "at", "error"))
                for e in run.errors
                if isinstance(e, dict)
            ),
        )
        return format_html(
            '<table class="run-table"><thead><tr><th>Attempt</th><th>Stage</th><th>Kind</th>'
            "<th>At</th><th>Error</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    @admin.display(description="Report")
    def citation_report(self, run: GenerationRun) -> SafeString:
        report = checkpoints.citation_report(run.checkpoints)
        return render_to_string(
            "admin/generation/generationrun/citation_report.html",
            {
                "report": report or {},
                "claims": run.citations_total,
                "verified": report.verified if report else run.citations_verified,
                "revised": report.revised if report else [],
                "removed": [r for r in report.removed if isinstance(r, dict)] if report else [],
            },
        )

    # --- Actions ---------------------------------------------------------------------------

    @admin.action(description="Retry failed or stopped runs", permissions=["retry"])
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[GenerationRun]) -> None:
        # A retry runs the request again as it was made (its author stays): the user must
        # be allowed to make that request themselves (generate, publish, that author).
        ids: list[int] = []
        refusals: dict[str, int] = {}
        for run_id, publish, author_id in queryset.values_list("pk", "publish", "author_id"):
            reason = permissions.request_refusal(request.user, publish=publish, author_id=author_id)
            if reason:
                refusals[reason] = refusals.get(reason, 0) + 1
            else:
                ids.append(run_id)
        for message, count in refusals.items():
            self.message_user(request, f"{count} run(s) not retried. {message}", messages.ERROR)
        if not ids:
            return
        with refused(partial(self.message_user, request, level=messages.ERROR)) as refusal:
            retried = runs_retry(ids)
        if refusal:
            return
        message = f"{retried} failed run{_s(retried)} queued again."
        if skipped := len(ids) - retried:
            message += f" {skipped} skipped: not failed or canceled."
        self.message_user(request, message, messages.SUCCESS if retried else messages.WARNING)

    @admin.action(description="Cancel queued runs", permissions=["cancel"])
    def cancel_queued(self, request: HttpRequest, queryset: QuerySet[GenerationRun]) -> None:
        result = runs_cancel(queryset.values_list("pk", flat=True))
        message = f"{result.canceled} run{_s(result.canceled)} canceled."
        if result.skipped:
            message += (
                f" {result.skipped} skipped: only queued or retrying runs can be canceled "
                "(running ones finish their attempt)."
            )
        if not result.jobs_removed:
            message += " Redis was unreachable, so their jobs stay queued and will do nothing."
        self.message_user(
            request, message, messages.SUCCESS if result.canceled else messages.WARNING
        )

    @admin.action(description="Stop running runs", permissions=["cancel"])
    def stop_running(self, request: HttpRequest, queryset: QuerySet[GenerationRun]) -> None:
        result = runs_stop(queryset.values_list("pk", flat=True), by=request.user.get_username())
        count = len(result.stopped)
        message = (
            f"{count} run{_s(count)} stopped and canceled; "
            '"Retry" resumes from the last finished stage.'
        )
        if result.skipped:
            message += f" {result.skipped} skipped: not running (Cancel is for queued runs)."
        if not result.jobs_stopped:
            message += " Redis was unreachable: their workers stop at the next write."
        self.message_user(request, message, messages.SUCCESS if count else messages.WARNING)


dashboard.register_admin(admin.site)


def _usage_cells(usage: dict, stage: str) -> tuple[str, str, str]:
    """LLM calls, tokens and cost a stage spent (a dash when it made no call)."""
    row = usage.get(stage)
    if not isinstance(row, dict):
        return EMPTY, EMPTY, EMPTY
    tokens = row.get("prompt_tokens", 0) + row.get("completion_tokens", 0)
    return str(row.get("calls", 0)), f"{tokens:,}", selectors.cost_label(row.get("cost_usd", 0))


def _seconds(value: object) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) else str(value)


def _s(count: int) -> str:
    return "" if count == 1 else "s"
