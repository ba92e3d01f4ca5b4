"""Generation runs and the research they gathered.

A `GenerationRun` row is the whole state of one post's generation: its parameters, its
status, the stage it reached, each finished stage's output (checkpoints), its attempts
and their errors, timings, tokens and cost. Redis only carries the run's id.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone as django_timezone

from generation.validators import validate_count, validate_cron, validate_zone


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    RETRYING = "retrying", "Retrying"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"


class Stage(models.TextChoices):
    TOPIC = "topic", "Topic"
    RESEARCH = "research", "Research"
    OUTLINE = "outline", "Outline"
    SECTIONS = "sections", "Sections"
    CITATIONS = "citations", "Citations"
    METADATA = "metadata", "Metadata"
    PUBLISH = "publish", "Publish"


STAGE_ORDER: list[str] = [stage.value for stage in Stage]
ACTIVE_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.RETRYING)


class Origin(models.TextChoices):
    COMMAND = "command", "Command (background)"
    SYNC = "sync", "Command (synchronous)"
    ADMIN = "admin", "Admin"
    SCHEDULE = "schedule", "Schedule"


class GenerationRun(models.Model):
    # Parameters, as asked for.
    topic = models.CharField(max_length=300, blank=True, help_text="Empty: choose one.")
    publish = models.BooleanField(default=False)
    with_tags = models.BooleanField(default=True)
    category_name = models.CharField(max_length=100, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="generation_runs"
    )
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.COMMAND)
    queue_name = models.CharField(max_length=50, default="content")
    batch = models.CharField(max_length=32, blank=True, db_index=True)
    batch_index = models.PositiveIntegerField(default=0)
    batch_size = models.PositiveIntegerField(default=1)
    schedule_occurrence = models.ForeignKey(
        "ScheduleOccurrence",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="runs",
        help_text="The schedule occurrence that asked for this run.",
    )

    # State.
    status = models.CharField(
        max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED, db_index=True
    )
    stage = models.CharField(max_length=10, choices=Stage.choices, blank=True)
    checkpoints = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=4)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    errors = models.JSONField(default=list, blank=True, help_text="One entry per failed attempt.")
    # Why a run waits or is held, in one line (the daily budget, its cost ceiling).
    status_note = models.CharField(max_length=300, blank=True)
    scheduled_for = models.DateTimeField(null=True, blank=True)

    # Who holds the run now: a token per execution, renewed by a heartbeat.
    lease_token = models.CharField(max_length=64, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    worker_name = models.CharField(max_length=200, blank=True)

    # Accounting.
    timings = models.JSONField(default=dict, blank=True, help_text="Seconds per stage.")
    usage_by_stage = models.JSONField(
        default=dict, blank=True, help_text="LLM calls, tokens and cost (USD) per stage."
    )
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    llm_calls = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=10, decimal_places=6, default=Decimal("0"))
    # What the post was expected to cost when it was queued, and with which writing model.
    model = models.CharField(max_length=100, blank=True)
    estimate_usd = models.DecimalField(max_digits=10, decimal_places=6, null=True, blank=True)
    citations_total = models.PositiveIntegerField(default=0)
    citations_verified = models.PositiveIntegerField(default=0)
    citations_removed = models.PositiveIntegerField(default=0)

    post = models.OneToOneField(
        "blog.Post",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="generation_run",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    attempt_started_at = models.DateTimeField(null=True, blank=True, help_text="This attempt's.")
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "lease_expires_at"])]
        permissions = [("manage_queues", "Can manage the job queues (/django-rq/)")]

    def __str__(self) -> str:
        return f"Run {self.pk}: {self.topic or '(topic to choose)'}"

    def get_absolute_url(self) -> str:
        return reverse("admin:generation_generationrun_change", args=[self.pk])

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class RunSpend(models.Model):
    """What one attempt of a run spent on LLM calls on one day (TIME_ZONE): the daily
    budget counts money on the day it was spent, not the day the run was asked for."""

    run = models.ForeignKey(
        GenerationRun, on_delete=models.CASCADE, null=True, blank=True, related_name="spends"
    )
    # A living post's re-verification spends too (when a claim needs the citation check
    # again): booked here, against the same daily budget, under no run.
    verification = models.ForeignKey(
        "PostVerification", on_delete=models.CASCADE, null=True, blank=True, related_name="spends"
    )
    attempt = models.PositiveSmallIntegerField(default=0)
    day = models.DateField(db_index=True)
    cost_usd = models.DecimalField(max_digits=10, decimal_places=6, default=Decimal("0"))
    calls = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-day", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(run__isnull=False) | models.Q(verification__isnull=False),
                name="run_spend_has_owner",
            )
        ]

    def __str__(self) -> str:
        owner = f"Run {self.run_id}" if self.run_id else f"Verification {self.verification_id}"
        return f"{owner}, attempt {self.attempt}, {self.day}: ${self.cost_usd}"


class ResearchSource(models.Model):
    """One page found while researching a run: kept, or refused with its reason."""

    class Status(models.TextChoices):
        KEPT = "kept", "Kept"
        DROPPED = "dropped", "Dropped"
        FAILED = "failed", "Failed"

    run = models.ForeignKey(GenerationRun, on_delete=models.CASCADE, related_name="sources")
    number = models.PositiveSmallIntegerField(null=True, blank=True, help_text="[n] in the run.")
    url = models.URLField(max_length=2000)
    title = models.CharField(max_length=300, blank=True)
    domain = models.CharField(max_length=255, blank=True)
    provider = models.CharField(max_length=30)
    published = models.CharField(max_length=40, blank=True)
    text = models.TextField(blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices)
    reason = models.CharField(max_length=300, blank=True)
    relevance = models.FloatField(default=0)
    cited = models.BooleanField(default=False)
    from_cache = models.CharField(
        max_length=12,
        blank=True,
        help_text='"hit": reused from the research cache; "revalidated": confirmed by a 304.',
    )

    class Meta:
        ordering = ["run", "number", "id"]

    def __str__(self) -> str:
        return self.title or self.url


class AlertState(models.Model):
    """The last known state of one health check, so an alert goes out once per change."""

    name = models.CharField(max_length=50, unique=True, help_text="The health check.")
    level = models.CharField(max_length=10, default="ok")
    summary = models.CharField(max_length=500, blank=True)
    changed_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name}: {self.level}"


class GenerationSchedule(models.Model):
    """A recurring request for posts, due by a cron expression on a zone's wall clock."""

    name = models.SlugField(max_length=100, unique=True, help_text="Used by schedule_* commands.")
    enabled = models.BooleanField(default=False, help_text="Nothing runs until enabled.")
    cron = models.CharField("cron expression", max_length=100, validators=[validate_cron])
    timezone = models.CharField(
        "time zone", max_length=64, default="UTC", validators=[validate_zone]
    )
    # The request, as the command and the button take it.
    count = models.PositiveSmallIntegerField(default=1, validators=[validate_count])
    publish = models.BooleanField(default=False)
    topic = models.CharField(max_length=300, blank=True, help_text="Empty: choose one.")
    category = models.CharField(max_length=100, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="generation_schedules",
        help_text="Empty: GENERATION_DEFAULT_AUTHOR.",
    )
    without_overlapping = models.BooleanField(
        default=True, help_text="Skip an occurrence while the previous one's runs are unfinished."
    )
    # Due times before this are not owed: it moves when the schedule is enabled or retimed.
    effective_from = models.DateTimeField(default=django_timezone.now)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("admin:generation_generationschedule_change", args=[self.pk])


class OccurrenceOutcome(models.TextChoices):
    ENQUEUED = "enqueued", "Enqueued"
    SKIPPED_OVERLAP = "skipped_overlap", "Skipped: previous runs unfinished"
    SKIPPED_BUDGET = "skipped_budget", "Skipped: over budget"
    SKIPPED_PAUSED = "skipped_paused", "Skipped: paused"
    MISSED = "missed", "Missed"
    FAILED = "failed", "Failed"


class OccurrenceTrigger(models.TextChoices):
    SCHEDULER = "scheduler", "Scheduler"
    MANUAL = "manual", "Run now"


class ScheduleOccurrence(models.Model):
    """One due time of a schedule and what became of it; unique per (schedule, due time),
    so however many schedulers run, an occurrence is handled once."""

    schedule = models.ForeignKey(
        GenerationSchedule, on_delete=models.CASCADE, related_name="occurrences"
    )
    due_at = models.DateTimeField()
    trigger = models.CharField(
        max_length=10, choices=OccurrenceTrigger.choices, default=OccurrenceTrigger.SCHEDULER
    )
    outcome = models.CharField(max_length=20, choices=OccurrenceOutcome.choices)
    message = models.CharField(max_length=500, blank=True)
    recorded_at = models.DateTimeField(help_text="When the scheduler handled it.")

    class Meta:
        ordering = ["-due_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "due_at"], name="unique_schedule_occurrence_due_at"
            )
        ]

    def __str__(self) -> str:
        return f"{self.schedule_id} @ {self.due_at:%Y-%m-%d %H:%M} UTC: {self.outcome}"

    @property
    def late_seconds(self) -> float:
        return max((self.recorded_at - self.due_at).total_seconds(), 0.0)


class PostVerification(models.Model):
    """One re-reading of a published post's cited sources (a living post's check): what
    each source and each re-checked claim came to, what it cost, and the verdict."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Outcome(models.TextChoices):
        PENDING = "", "Pending"
        CLEAN = "clean", "Still holds"
        FLAGGED = "flagged", "Needs refresh"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        COMMAND = "command", "Command"
        EDITOR = "editor", "Editor"

    post = models.ForeignKey("blog.Post", on_delete=models.CASCADE, related_name="verifications")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default="", blank=True)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.SCHEDULE)
    queued_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True, db_index=True)
    summary = models.CharField(max_length=300, blank=True)
    error = models.TextField(blank=True)
    # What re-reading the sources took: requests sent, 304s, pages the cache answered.
    fetches = models.PositiveIntegerField(default=0)
    not_modified = models.PositiveIntegerField(default=0, help_text="304 answers.")
    cache_hits = models.PositiveIntegerField(default=0)
    # How the sources came out (SourceCheck.Verdict) and the claims checked again.
    sources_unchanged = models.PositiveIntegerField(default=0)
    sources_changed = models.PositiveIntegerField(default=0, help_text="Changed, passages intact.")
    sources_passage_gone = models.PositiveIntegerField(default=0)
    sources_gone = models.PositiveIntegerField(default=0)
    sources_moved = models.PositiveIntegerField(default=0)
    claims_checked = models.PositiveIntegerField(default=0)
    claims_failed = models.PositiveIntegerField(default=0)
    # The LLM spend, when a claim needed the citation check again (also in RunSpend).
    llm_calls = models.PositiveIntegerField(default=0)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=10, decimal_places=6, default=Decimal("0"))
    # An editor's answer to a flag: a refresh proposed, the post marked still correct, or
    # the post unpublished.
    resolution = models.CharField(max_length=20, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="resolved_verifications",
    )

    class Meta:
        ordering = ["-queued_at", "-id"]
        indexes = [models.Index(fields=["post", "-queued_at"])]

    def __str__(self) -> str:
        return f"Verification {self.pk} of post {self.post_id}: {self.status} {self.outcome}"


class SourceCheck(models.Model):
    """What one cited source of a post came to when it was read again."""

    class Verdict(models.TextChoices):
        UNCHANGED = "unchanged", "Unchanged"  # a 304, or the same text
        CHANGED = "changed", "Changed, cited passages intact"
        PASSAGE_GONE = "passage_gone", "Cited passage gone"
        GONE = "gone", "Page gone"  # 404/410, DNS failure, refused
        MOVED = "moved", "Moved"  # a permanent redirect
        SKIPPED = "skipped", "Not read"  # robots.txt, the SSRF guard, a timeout: no verdict

    verification = models.ForeignKey(
        PostVerification, on_delete=models.CASCADE, related_name="source_checks"
    )
    number = models.PositiveSmallIntegerField(help_text="[n] in the post.")
    url = models.URLField(max_length=2000)
    verdict = models.CharField(max_length=12, choices=Verdict.choices)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    moved_to = models.URLField(max_length=2000, blank=True)
    from_cache = models.CharField(max_length=12, blank=True)
    old_hash = models.CharField(max_length=64, blank=True)
    new_hash = models.CharField(max_length=64, blank=True)
    new_text = models.TextField(blank=True, help_text="The page's text now (for a refresh).")
    detail = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["verification", "number"]

    def __str__(self) -> str:
        return f"[{self.number}] {self.verdict}"


class ClaimCheck(models.Model):
    """One cited sentence of a post checked again against its source's new text."""

    verification = models.ForeignKey(
        PostVerification, on_delete=models.CASCADE, related_name="claim_checks"
    )
    source_number = models.PositiveSmallIntegerField(help_text="[n] in the post.")
    sentence = models.TextField()
    old_passage = models.TextField(blank=True)
    new_passage = models.TextField(blank=True)
    backed = models.BooleanField()
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["verification", "source_number", "id"]

    def __str__(self) -> str:
        return f"[{self.source_number}] {'backed' if self.backed else 'not backed'}"
