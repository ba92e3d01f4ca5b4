"""Admin actions that ask for posts from a selection: "Generate posts in the selected
categories" and "Generate follow-up posts". Both show an intermediate page (count,
publish), are allowed only to users who may generate posts (and publish only to those who
may publish), and call generation.runs.selection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from blog.admin import CategoryAdmin, PostAdmin
from generation.admin import freshness, permissions, section_redo, verifications
from generation.admin.forms import GenerateForSelectionForm
from generation.models import GenerationRun
from generation.runs import selection
from generation.runs.refusals import refused

VIEW_RUNS_PERMISSION = "generation.view_generationrun"
TEMPLATE = "admin/generation/generate_for_selection.html"

Enqueue = Callable[..., list[GenerationRun]]


def has_generate_permission(modeladmin: admin.ModelAdmin, request: HttpRequest) -> bool:
    """`permissions=["generate"]` on an action: only users who may generate posts see it."""
    return permissions.may_generate(request.user)


@admin.action(description="Generate posts in the selected categories", permissions=["generate"])
def generate_in_categories(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet
) -> HttpResponse | None:
    return _generate_for_selection(
        modeladmin,
        request,
        queryset,
        title="Generate posts in the selected categories",
        describe=lambda c: (c.name, f"on “{selection.category_topic(c)}”"),
        enqueue=lambda items, **kw: selection.posts_enqueue_in_categories(categories=items, **kw),
    )


@admin.action(description="Generate follow-up posts", permissions=["generate"])
def generate_followups(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet
) -> HttpResponse | None:
    return _generate_for_selection(
        modeladmin,
        request,
        queryset.select_related("category").prefetch_related("tags"),
        title="Generate follow-up posts",
        describe=lambda p: (p.title, f"on “{selection.followup_topic(p)}”"),
        enqueue=lambda items, **kw: selection.posts_enqueue_followups(posts=items, **kw),
    )


def blog_admins_extend() -> None:
    """Add the generate actions to the blog's post and category admins, and the review
    screen's hooks to the post admin (the blog itself knows nothing of generation).
    Called once, when generation's admin loads."""
    admin_class: Any  # the stubs declare `actions` per instance; it is set on the class here
    for admin_class, action in (
        (PostAdmin, generate_followups),
        (CategoryAdmin, generate_in_categories),
    ):
        admin_class.has_generate_permission = has_generate_permission
        if action not in (admin_class.actions or ()):
            admin_class.actions = (*(admin_class.actions or ()), action)
    admin_class = PostAdmin  # living posts: re-read the sources of the chosen posts now
    admin_class.has_reverify_permission = verifications.has_reverify_permission
    if verifications.reverify_sources not in (admin_class.actions or ()):
        admin_class.actions = (*(admin_class.actions or ()), verifications.reverify_sources)
    # The review screen's evidence (each cited sentence beside its passage) and its
    # "Regenerate section" button come from the runs that made the posts; a living post's
    # "needs refresh" evidence, answers and refresh accept from generation.freshness.
    PostAdmin.review_evidence = staticmethod(freshness.review_evidence)
    PostAdmin.section_redo = staticmethod(section_redo.section_redo_enqueue)
    PostAdmin.refresh_answer = staticmethod(freshness.refresh_answer)
    PostAdmin.revision_accept = staticmethod(freshness.revision_accept)


def _generate_for_selection(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    *,
    title: str,
    describe: Callable[[Any], tuple[str, str]],
    enqueue: Enqueue,
) -> HttpResponse | None:
    if denied := permissions.generate_refusal(request.user):
        raise PermissionDenied(denied)
    items = list(queryset)
    form = GenerateForSelectionForm(
        request.POST if "_generate" in request.POST else None, user=request.user
    )
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        with refused(lambda message: form.add_error(None, message)) as refusal:
            runs = enqueue(items, count=data["count"], publish=data["publish"], author=request.user)
        if not refusal:
            return _done(modeladmin, request, runs=len(runs), items=len(items))
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "opts": modeladmin.model._meta,
        "form": form,
        "items": [(item.pk, *describe(item)) for item in items],
        "action": request.POST.get("action", ""),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, TEMPLATE, context)


def _done(
    modeladmin: admin.ModelAdmin, request: HttpRequest, *, runs: int, items: int
) -> HttpResponse | None:
    each = f" ({runs // items} for each of {items})" if items > 1 else ""
    modeladmin.message_user(
        request,
        f"{runs} post{'' if runs == 1 else 's'} queued for generation{each}.",
        messages.SUCCESS,
    )
    if request.user.has_perm(VIEW_RUNS_PERMISSION):
        return redirect("admin:generation_generationrun_changelist")
    return None  # back to the list the action was taken from
