"""Admin-side views of generation: the "Generate posts" form and the runs' live status.

Both are thin: the form hands its input to `service.enqueue_posts`, the status endpoint
reads through `selectors.runs_status`.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from redis.exceptions import RedisError

from generation.admin import permissions
from generation.admin.forms import GeneratePostsForm
from generation.models import GenerationRun, Origin
from generation.operations import overview, pause
from generation.runs import selectors
from generation.runs.refusals import refused
from generation.runs.service import enqueue_posts

VIEW_PERMISSION = "generation.view_generationrun"
QUEUES_PERMISSION = "generation.manage_queues"
SHOWN_RUNS = 10  # runs linked in the "queued" message; the list below shows them all


def queued_message(runs: list[GenerationRun], *, linked: bool) -> SafeString:
    """What was queued, each run linked to its page; on the run list, run_status.js adds
    each post's link here once it is written (in review unless Publish was ticked and it
    passed every check)."""
    count = len(runs)
    text = format_html("{} post{} queued for generation", count, "" if count == 1 else "s")
    if not linked:
        return text
    each = format_html_join(
        ", ",
        '<a href="{}">run {}</a><span class="run-post" data-run-post="{}"></span>',
        (
            (reverse("admin:generation_generationrun_change", args=[r.pk]), r.pk, r.pk)
            for r in runs[:SHOWN_RUNS]
        ),
    )
    if count > SHOWN_RUNS:
        each = format_html("{} and {} more (in the list below)", each, count - SHOWN_RUNS)
    lands = (
        "published if it passes every check, else in review"
        if runs and runs[0].publish
        else "in review, awaiting an editor"
    )
    return format_html(
        "{}: {}. Each post is linked here once written ({}; Blog: Posts lists them all, "
        "the admin index counts those awaiting review).",
        text,
        each,
        lands,
    )


def _generate_posts(request: HttpRequest) -> HttpResponse:
    if denied := permissions.generate_refusal(request.user):
        raise PermissionDenied(denied)
    form = GeneratePostsForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        with refused(lambda message: form.add_error(None, message)) as refusal:
            runs = enqueue_posts(
                count=data["count"],
                topic=data["topic"],
                category=data["category"],
                author=data["author"],
                publish=data["publish"],
                delay=data["delay"],
                tags=data["tags"],
                origin=Origin.ADMIN,
            )
        if not refusal:
            linked = request.user.has_perm(VIEW_PERMISSION)
            messages.success(request, queued_message(runs, linked=linked))
            estimate = (runs[0].estimate_usd or 0) * len(runs)
            messages.info(request, f"Estimated cost of these posts: ${estimate:.4f}.")
            if linked:
                return redirect("admin:generation_generationrun_changelist")
            return redirect("admin:index")
    context = {
        **admin.site.each_context(request),
        "title": "Generate posts",
        "opts": GenerationRun._meta,
        "form": form,
    }
    return TemplateResponse(request, "admin/generation/generationrun/generate.html", context)


# The admin's own gate: staff only (others go to the login page), CSRF-protected, never cached.
generate_posts = admin.site.admin_view(_generate_posts)


def _overview_page(request: HttpRequest) -> HttpResponse:
    """Runs, success, stage times, spend, queues and health at a glance."""
    if not request.user.has_perm(VIEW_PERMISSION):
        raise PermissionDenied("You may not view generation runs.")
    context = {
        **admin.site.each_context(request),
        "title": "Generation overview",
        "opts": GenerationRun._meta,
        **overview.overview(),
        "may_pause": request.user.has_perm(QUEUES_PERMISSION),
    }
    return TemplateResponse(request, "admin/generation/overview.html", context)


overview_page = admin.site.admin_view(_overview_page)


@require_POST
def _pause_toggle(request: HttpRequest) -> HttpResponse:
    """The overview's Pause / Resume buttons: RQ's suspend and resume (generation.pause)."""
    if not request.user.has_perm(QUEUES_PERMISSION):
        raise PermissionDenied("Pausing generation needs the generation.manage_queues permission.")
    try:
        if request.POST.get("action") == "resume":
            pause.generation_resume()
            messages.success(request, "Resumed: workers take jobs again.")
        else:
            reason = request.POST.get("reason", "").strip()
            pause.generation_pause(reason=reason, by=request.user.get_username())
            messages.warning(
                request, "Paused: each worker finishes its current job and takes no new one."
            )
    except (RedisError, OSError) as exc:
        messages.error(request, f"Redis is unreachable ({exc}); nothing changed.")
    return redirect("generation:overview")


pause_toggle = admin.site.admin_view(_pause_toggle)


def _parse_ids(raw: str) -> list[int]:
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    if not all(part.isdigit() for part in parts):
        raise ValueError("ids must be comma-separated run ids, e.g. ids=1,2,3.")
    if len(parts) > selectors.STATUS_IDS_MAX:
        raise ValueError(f"At most {selectors.STATUS_IDS_MAX} ids per request.")
    return [int(part) for part in parts]


@never_cache
@require_GET
def runs_status(request: HttpRequest) -> JsonResponse:
    """Status of the runs in `?ids=1,2,3`, for the admin list's live refresh. Staff only."""
    user = request.user
    if not (user.is_active and user.is_staff and user.has_perm(VIEW_PERMISSION)):
        return JsonResponse({"error": "Staff with permission to view runs only."}, status=403)
    try:
        ids = _parse_ids(request.GET.get("ids", ""))
    except ValueError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    rows = selectors.runs_status(ids)
    return JsonResponse(
        {
            "runs": rows,
            "active": any(row["active"] for row in rows),
            # The list's daily table changes with the runs: it is refreshed with them.
            "usage_by_day": selectors.usage_by_day(),
        }
    )
