"""The blog's content: categories, posts and the sources a post cites."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from taggit.managers import TaggableManager


class Category(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=120, unique=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("blog:category", args=[self.slug])


class Post(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_REVIEW = "review", "In review"
        PUBLISHED = "published", "Published"

    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220, unique=True)
    excerpt = models.TextField(blank=True)
    body = models.TextField(help_text="Markdown. Rendered and sanitized on the page.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    published_at = models.DateTimeField(null=True, blank=True, db_index=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="posts"
    )
    category = models.ForeignKey(
        Category, on_delete=models.SET_NULL, null=True, blank=True, related_name="posts"
    )
    tags = TaggableManager(blank=True)
    meta_description = models.CharField(max_length=160, blank=True)
    reading_time = models.PositiveSmallIntegerField(default=1, help_text="Minutes.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Editorial review: why the pipeline held the post, who looked at it and what they said.
    hold_reason = models.TextField(blank=True, help_text="Why the post awaits review.")
    rejected_reason = models.TextField(blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reviewed_posts",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    generated = models.BooleanField(
        default=False, help_text="Researched and drafted by the pipeline (readers are told)."
    )
    # Living posts: when its sources were last re-read, whether what they say now asks for
    # a refresh (the live post stays up meanwhile), and when an accepted refresh changed it.
    last_verified_at = models.DateTimeField(
        null=True, blank=True, db_index=True, help_text="When its sources were last re-read."
    )
    needs_refresh = models.BooleanField(
        default=False, db_index=True, help_text="A re-read found a claim or source no longer holds."
    )
    refresh_reason = models.TextField(blank=True, help_text="What the last re-read found.")
    refreshed_at = models.DateTimeField(
        null=True, blank=True, help_text="When an accepted refresh last changed it (dateModified)."
    )

    class Meta:
        ordering = ["-published_at", "-created_at"]
        indexes = [models.Index(fields=["status", "-published_at"])]
        # Beyond editing: putting a post in front of readers, and writing (or having
        # posts generated) under someone else's name.
        permissions = [
            ("publish_post", "Can publish and unpublish posts"),
            ("choose_author", "Can choose another author for posts"),
            ("review_post", "Can approve and reject posts in review"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("blog:post_detail", args=[self.slug])

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED

    @property
    def in_review(self) -> bool:
        return self.status == self.Status.IN_REVIEW


class PostSource(models.Model):
    """One entry of a post's "Sources" list: the number its citations `[n]` use."""

    class Availability(models.TextChoices):
        UNCHECKED = "", "Not re-read yet"
        AVAILABLE = "available", "Available"  # unchanged, or changed with its passage intact
        CHANGED = "changed", "Cited passage gone"
        GONE = "gone", "No longer available"
        MOVED = "moved", "Moved"

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="sources")
    number = models.PositiveSmallIntegerField()
    title = models.CharField(max_length=300)
    url = models.URLField(max_length=2000)
    domain = models.CharField(max_length=255, blank=True)
    fetched_at = models.DateTimeField(null=True, blank=True, help_text="When it was read.")
    # What the post quoted from it (kept for readers once the page is gone), and what the
    # last re-read found.
    passage = models.TextField(blank=True, help_text="The text the post cited, as fetched.")
    availability = models.CharField(
        max_length=12, choices=Availability.choices, default=Availability.UNCHECKED, blank=True
    )
    checked_at = models.DateTimeField(null=True, blank=True, help_text="When it was last re-read.")
    moved_to = models.URLField(
        max_length=2000, blank=True, help_text="Where a permanent redirect led."
    )

    class Meta:
        ordering = ["post", "number"]
        constraints = [
            models.UniqueConstraint(fields=["post", "number"], name="unique_source_number")
        ]

    def __str__(self) -> str:
        return f"[{self.number}] {self.title}"


class PostRevision(models.Model):
    """One saved state of a post's title, excerpt and body, and where it came from.

    Our own small model rather than django-reversion or django-simple-history: neither is
    in the dependency lock, and we need an origin and a note on each revision (a section
    redo is a *proposed* revision until an editor accepts it).
    """

    class Origin(models.TextChoices):
        PIPELINE = "pipeline", "Pipeline"
        EDITOR = "editor", "Editor"
        SECTION_REDO = "section_redo", "Section redo"
        REFRESH = "refresh", "Refresh"

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="revisions")
    title = models.CharField(max_length=200)
    excerpt = models.TextField(blank=True)
    body = models.TextField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="post_revisions",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    origin = models.CharField(max_length=12, choices=Origin.choices)
    note = models.CharField(max_length=300, blank=True)
    # A section redo's result waits here, off the post, until an editor accepts it.
    proposed = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        when = f"{self.created_at:%Y-%m-%d %H:%M}" if self.created_at else "now"
        return f"{self.get_origin_display()} revision of post {self.post_id} at {when}"
