"""The post admin's review screen and revision history: thin views over blog.services.

/admin/blog/post/<id>/review/     the post beside its evidence; approve, reject, edit; for
                                  a post a re-read flagged, the editor's three answers
/admin/blog/post/<id>/revisions/  every revision; a diff between any two; restore one
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from blog import review, services
from blog.markdown import post_body_html
from blog.models import Post, PostRevision

# Rewriting a section spends LLM calls, like asking for posts.
REDO_PERMISSION = "generation.add_generationrun"


def no_evidence(post: Post) -> dict[str, Any]:
    return {}


def no_section_redo(*, post: Post, index: int, editor_id: int) -> None:
    raise ValueError("Sections can be regenerated only for posts a generation run made.")


# A living post flagged "needs refresh" (its sources re-read, some claim or source no
# longer holding): propose a refresh, say it is still correct, or unpublish it.
REFRESH_ANSWERS = ("refresh", "still_correct", "unpublish")


def no_refresh_answer(*, post: Post, answer: str, editor: User) -> str:
    raise ValueError("Only a post whose sources were re-read can be answered.")


_TABLE_TAG = re.compile(r"<(?:table|td)\b[^>]*>")  # tags only: the text is escaped
_OBSOLETE_ATTRIBUTES = re.compile(r'\s(?:cellspacing|cellpadding|rules|nowrap)="[^"]*"')


def revisions_diff(older: PostRevision, newer: PostRevision) -> str:
    """An HTML table of the line differences (difflib escapes the text it shows)."""

    def lines(rev: PostRevision) -> list[str]:
        return [f"# {rev.title}", "", *rev.excerpt.splitlines(), "", *rev.body.splitlines()]

    table = difflib.HtmlDiff(wrapcolumn=70).make_table(
        lines(older),
        lines(newer),
        fromdesc=f"{older.get_origin_display()} · {older.created_at:%Y-%m-%d %H:%M:%S}",
        todesc=f"{newer.get_origin_display()} · {newer.created_at:%Y-%m-%d %H:%M:%S}",
        context=True,
        numlines=2,
    )
    # difflib still writes HTML 4 presentation attributes; review.css does their work.
    return _TABLE_TAG.sub(lambda tag: _OBSOLETE_ATTRIBUTES.sub("", tag.group()), table)


class ReviewViewsMixin:
    """Adds the review screen and revision views to PostAdmin; `review_evidence` gives the
    screen its evidence (the post admin plugs in the pipeline's)."""

    review_evidence: Callable[[Post], dict[str, Any]] = staticmethod(no_evidence)
    section_redo: Callable[..., None] = staticmethod(no_section_redo)
    refresh_answer: Callable[..., str] = staticmethod(no_refresh_answer)
    revision_accept: Callable[..., Post] = staticmethod(services.revision_accept)

    def review_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view  # type: ignore[attr-defined]
        return [
            path("<int:post_id>/review/", wrap(self.review_view), name="blog_post_review"),
            path("<int:post_id>/revisions/", wrap(self.revisions_view), name="blog_post_revisions"),
        ]

    def _post(self, request: HttpRequest, post_id: int) -> Post:
        if not self.has_view_permission(request):  # type: ignore[attr-defined]
            raise PermissionDenied
        return get_object_or_404(Post.objects.select_related("author", "reviewed_by"), pk=post_id)

    def review_view(self, request: HttpRequest, post_id: int) -> HttpResponse:
        post = self._post(request, post_id)
        if request.method == "POST":
            return self._review_action(request, post)
        evidence = dict(self.review_evidence(post))
        context = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "opts": Post._meta,
            "title": f"Review: {post.title}",
            "post": post,
            "body_html": evidence.pop("body_html", None) or post_body_html(post),
            "sources": list(post.sources.all()),
            "may_review": review.may_review(request.user),
            "may_publish": request.user.has_perm("blog.publish_post"),
            "may_edit": self.has_change_permission(request, post),  # type: ignore[attr-defined]
            "may_redo": request.user.has_perm(REDO_PERMISSION),
            "proposed": list(post.revisions.filter(proposed=True).select_related("author")),
            "current_revision": post.revisions.filter(proposed=False).first(),
            **evidence,
        }
        return TemplateResponse(request, "admin/blog/post/review.html", context)

    def _review_action(self, request: HttpRequest, post: Post) -> HttpResponse:
        action = request.POST.get("action", "")
        user = cast(User, request.user)  # staff views: never anonymous
        if action == "approve":
            if not (review.may_review(user) and user.has_perm("blog.publish_post")):
                raise PermissionDenied("Approving needs blog.review_post and blog.publish_post.")
            done = lambda: services.post_approve(post, reviewer=user)  # noqa: E731
            success = "Approved and published."
        elif action == "reject":
            if not review.may_review(user):
                raise PermissionDenied("Rejecting needs blog.review_post.")
            reason = request.POST.get("reason", "")
            done = lambda: services.post_reject(post, reviewer=user, reason=reason)  # noqa: E731
            success = "Rejected; the post is a draft again, with your reason."
        elif action in ("redo", "accept", "discard"):
            return self._revision_action(request, post, action)
        elif action in REFRESH_ANSWERS:
            return self._refresh_answer(request, post, action)
        elif action == "edit":
            if not self.has_change_permission(request, post):  # type: ignore[attr-defined]
                raise PermissionDenied
            post.body = request.POST.get("body", post.body)
            done = lambda: services.post_update(post, editor=user)  # noqa: E731
            success = "Saved; the previous body is kept as a revision."
        else:
            messages.error(request, f"Unknown action {action!r}.")
            return HttpResponseRedirect(request.path)
        try:
            done()
        except ValueError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, success)
        return HttpResponseRedirect(request.path)

    def _revision_action(self, request: HttpRequest, post: Post, action: str) -> HttpResponse:
        """Regenerate a section (proposes a revision); accept or discard a proposal."""
        if not self.has_change_permission(request, post):  # type: ignore[attr-defined]
            raise PermissionDenied
        try:
            if action == "redo":
                if not request.user.has_perm(REDO_PERMISSION):
                    raise PermissionDenied(
                        "Regenerating costs LLM calls: it needs " + REDO_PERMISSION
                    )
                index = int(request.POST.get("section", ""))
                self.section_redo(post=post, index=index, editor_id=request.user.pk)
                messages.success(
                    request,
                    "Queued: the rewritten section will appear below as a proposed revision.",
                )
            else:
                chosen = get_object_or_404(
                    PostRevision, post=post, pk=request.POST.get("revision"), proposed=True
                )
                if action == "accept":
                    self.revision_accept(chosen, editor=cast(User, request.user))
                    messages.success(request, "Accepted; the post now reads as proposed.")
                else:
                    chosen.delete()
                    messages.success(request, "Discarded the proposed revision.")
        except ValueError as error:  # a refusal in one line (SectionRedoError is one)
            messages.error(request, str(error))
        return HttpResponseRedirect(request.path)

    def _refresh_answer(self, request: HttpRequest, post: Post, answer: str) -> HttpResponse:
        """Answer a "needs refresh" flag: the hook does it and says what it did."""
        user = cast(User, request.user)
        if not review.may_review(user):
            raise PermissionDenied("Answering a refresh flag needs blog.review_post.")
        if answer == "unpublish" and not user.has_perm("blog.publish_post"):
            raise PermissionDenied("Unpublishing needs blog.publish_post.")
        if answer == "refresh" and not (
            self.has_change_permission(request, post)  # type: ignore[attr-defined]
            and user.has_perm(REDO_PERMISSION)
        ):
            raise PermissionDenied(
                "A refresh rewrites the post with LLM calls: it needs change_post and "
                + REDO_PERMISSION
            )
        try:
            said = self.refresh_answer(post=post, answer=answer, editor=user)
        except ValueError as error:  # a refusal in one line
            messages.error(request, str(error))
        else:
            messages.success(request, said)
        return HttpResponseRedirect(request.path)

    def revisions_view(self, request: HttpRequest, post_id: int) -> HttpResponse:
        post = self._post(request, post_id)
        revisions = list(post.revisions.select_related("author"))
        if request.method == "POST":
            if not self.has_change_permission(request, post):  # type: ignore[attr-defined]
                raise PermissionDenied
            chosen = get_object_or_404(PostRevision, post=post, pk=request.POST.get("restore"))
            services.revision_restore(chosen, editor=cast(User, request.user))
            messages.success(request, "Restored; that is now the newest revision.")
            return HttpResponseRedirect(reverse("admin:blog_post_revisions", args=[post.pk]))
        by_id = {str(rev.pk): rev for rev in revisions}
        older, newer = by_id.get(request.GET.get("a", "")), by_id.get(request.GET.get("b", ""))
        if older is None and newer is None and len(revisions) >= 2:
            newer, older = revisions[0], revisions[1]
        diff = revisions_diff(older, newer) if older and newer else ""
        context = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "opts": Post._meta,
            "title": f"Revisions: {post.title}",
            "post": post,
            "revisions": revisions,
            "older": older,
            "newer": newer,
            "diff": diff,
            "may_edit": self.has_change_permission(request, post),  # type: ignore[attr-defined]
        }
        return TemplateResponse(request, "admin/blog/post/revisions.html", context)
