"""The schedule admin: edit schedules (saved through generation.scheduling.service), see their next
and last occurrences in their zone and in UTC, and the runs each occurrence created."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from generation import cron
from generation.admin import permissions
from generation.admin.forms import ScheduleForm
from generation.models import (
    GenerationRun,
    GenerationSchedule,
    OccurrenceOutcome,
    ScheduleOccurrence,
)
from generation.runs.refusals import refused
from generation.runs.selectors import duration_label
from generation.scheduling import selectors
from generation.scheduling import service as scheduling

EMPTY = "—"
HISTORY_ROWS = 50


@admin.register(GenerationSchedule)
class GenerationScheduleAdmin(admin.ModelAdmin):
    form = ScheduleForm
    list_display = (
        "name",
        "enabled",
        "timing",
        "timezone",
        "request_label",
        "next_occurrence",
        "last_occurrence",
        "without_overlapping",
    )
    list_filter = ("enabled",)
    search_fields = ("name", "topic", "category")
    actions = ("enable_selected", "disable_selected", "run_now")
    fieldsets = (
        (None, {"fields": ("name", "enabled")}),
        (
            "When",
            {"fields": ("frequency", ("at", "weekday"), "cron", "timezone", "next_occurrence")},
        ),
        ("Request", {"fields": ("count", "publish", "topic", "category", "author")}),
        ("Rules", {"fields": ("without_overlapping",)}),
        ("History", {"fields": ("last_occurrence", "occurrence_history")}),
    )
    readonly_fields = ("next_occurrence", "last_occurrence", "occurrence_history")
    view_on_site = False

    class Media:
        css = {"all": ("admin-extra/runs.css",)}
        js = ("admin-extra/schedule_form.js",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[GenerationSchedule]:
        return selectors.schedules_with_last_occurrence()

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:  # nothing has happened yet to a new schedule
            return self.fieldsets[:-1]
        return self.fieldsets

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        # The form refuses publishing or another author to a user without the right.
        return type(form.__name__, (form,), {"user": request.user})

    def save_model(
        self, request: HttpRequest, obj: GenerationSchedule, form: Any, change: bool
    ) -> None:
        scheduling.schedule_save(schedule=obj)

    def has_run_permission(self, request: HttpRequest) -> bool:
        return permissions.may_generate(request.user)

    # --- Columns ---------------------------------------------------------------------------

    @admin.display(description="When", ordering="cron")
    def timing(self, schedule: GenerationSchedule) -> str:
        return cron.cron_describe(schedule.cron)

    @admin.display(description="Request")
    def request_label(self, schedule: GenerationSchedule) -> str:
        posts = f"{schedule.count} post{'' if schedule.count == 1 else 's'}"
        state = "published" if schedule.publish else "drafts"
        topic = f" on “{schedule.topic}”" if schedule.topic else ""
        return f"{posts}, {state}{topic}"

    @admin.display(description="Next occurrence")
    def next_occurrence(self, schedule: GenerationSchedule) -> SafeString | str:
        if schedule.pk is None:
            return EMPTY
        if problem := selectors.schedule_problem(schedule):
            return problem
        due = selectors.schedule_next_due(schedule, now=timezone.now())
        if due is None:
            return EMPTY
        suffix = "" if schedule.enabled else " (disabled)"
        return _both_times(due, schedule.timezone, suffix=suffix)

    @admin.display(description="Last occurrence")
    def last_occurrence(self, schedule: GenerationSchedule) -> SafeString | str:
        due = getattr(schedule, "last_due_at", None)
        if due is None:
            return EMPTY
        return format_html(
            '{} <span class="occurrence-outcome occurrence-outcome--{}" title="{}">{}</span>',
            _both_times(due, schedule.timezone),
            getattr(schedule, "last_outcome", ""),  # annotations of get_queryset()
            getattr(schedule, "last_message", None) or "",
            _outcome_label(getattr(schedule, "last_outcome", "")),
        )

    @admin.display(description="Occurrences (latest first)")
    def occurrence_history(self, schedule: GenerationSchedule) -> SafeString | str:
        occurrences = list(selectors.occurrences_of(schedule.pk, limit=HISTORY_ROWS))
        if not occurrences:
            return "No occurrence yet."
        rows = format_html_join("", "<tr>{}</tr>", ((_history_cells(o),) for o in occurrences))
        return format_html(
            '<table class="run-table"><thead><tr><th>Due ({})</th><th>Due (UTC)</th>'
            "<th>Trigger</th><th>Outcome</th><th>Late</th><th>Runs</th><th>Details</th>"
            "</tr></thead><tbody>{}</tbody></table>",
            schedule.timezone,
            rows,
        )

    # --- Actions ---------------------------------------------------------------------------

    @admin.action(description="Enable selected schedules", permissions=["change"])
    def enable_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_enabled(request, queryset, enabled=True)

    @admin.action(description="Disable selected schedules", permissions=["change"])
    def disable_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_enabled(request, queryset, enabled=False)

    def _set_enabled(self, request: HttpRequest, queryset: QuerySet, *, enabled: bool) -> None:
        changed = 0
        for schedule_id, name, publish, author_id in queryset.values_list(
            "pk", "name", "publish", "author_id"
        ):
            if enabled and (why := _refusal(request, publish, author_id)):
                self.message_user(request, f"{name}: not enabled. {why}", messages.ERROR)
                continue
            with refused(partial(self.message_user, request, level=messages.ERROR)):
                changed += scheduling.schedule_set_enabled(
                    schedule_id=schedule_id, enabled=enabled
                )[1]
        state = "enabled" if enabled else "disabled"
        self.message_user(request, f"{changed} schedule(s) {state}.", messages.SUCCESS)

    @admin.action(description="Run selected schedules now", permissions=["run"])
    def run_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        for schedule in queryset:
            if why := _refusal(request, schedule.publish, schedule.author_id):
                self.message_user(request, f"{schedule.name}: not run. {why}", messages.ERROR)
                continue
            with refused(partial(self.message_user, request, level=messages.ERROR)) as refusal:
                occurrence = scheduling.schedule_run_now(schedule_id=schedule.pk)
            if refusal:
                continue
            level = messages.SUCCESS if occurrence.outcome == "enqueued" else messages.WARNING
            self.message_user(request, f"{schedule.name}: {occurrence.message}", level)


def _refusal(request: HttpRequest, publish: bool, author_id: int | None) -> str | None:
    return permissions.request_refusal(request.user, publish=publish, author_id=author_id)


def _both_times(instant: datetime, zone_name: str, *, suffix: str = "") -> SafeString:
    return format_html(
        '{}<br><span class="quiet">{}</span>{}',
        selectors.time_in_zone(instant, zone_name),
        selectors.time_utc(instant),
        suffix,
    )


def _outcome_label(outcome: str) -> str:
    return dict(OccurrenceOutcome.choices).get(outcome, outcome)


def _history_cells(occurrence: ScheduleOccurrence) -> SafeString:
    zone = occurrence.schedule.timezone
    return format_html(
        "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
        selectors.time_in_zone(occurrence.due_at, zone),
        selectors.time_utc(occurrence.due_at),
        occurrence.get_trigger_display(),
        occurrence.get_outcome_display(),
        duration_label(occurrence.late_seconds),
        _run_links(occurrence),
        occurrence.message,
    )


def _run_links(occurrence: ScheduleOccurrence) -> SafeString | str:
    runs: list[GenerationRun] = list(occurrence.runs.all())
    if not runs:
        return EMPTY
    links = format_html_join(
        ", ",
        '<a href="{}">#{}</a> <span class="run-badge run-badge--{}">{}</span>',
        (
            (_run_url(run), run.pk, run.status, run.get_status_display())
            for run in sorted(runs, key=lambda run: run.pk)
        ),
    )
    listing = reverse("admin:generation_generationrun_changelist")
    return format_html(
        '{} (<a href="{}?schedule_occurrence__id__exact={}">list</a>)',
        links,
        listing,
        occurrence.pk,
    )


def _run_url(run: GenerationRun) -> str:
    return reverse("admin:generation_generationrun_change", args=[run.pk])
