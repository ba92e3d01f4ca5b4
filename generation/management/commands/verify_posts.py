"""Living posts: list the posts due for re-verification, queue them, or verify one now."""

from __future__ import annotations

import argparse
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from generation.freshness import service
from generation.models import PostVerification
from generation.runs.refusals import command_error, refused


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} must be at least 1")
    return number


class Command(BaseCommand):
    help = (
        "Re-verify published posts' sources (living posts). No option: queue the due batch "
        "(VERIFY_BATCH, oldest first) on `content`. --due: list the due posts, queue nothing. "
        "--post ID: verify that post now, in this process, and print what it found."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--post", type=positive_int, metavar="ID", help="Verify this post now.")
        which.add_argument("--due", action="store_true", help="List the due posts only.")
        parser.add_argument("--json", action="store_true", help="Machine-readable output.")

    def handle(self, *args: Any, **options: Any) -> None:
        as_json = options["json"]
        with refused(command_error):
            if options["post"]:
                self._verify(options["post"], as_json)
            elif options["due"]:
                self._due(as_json)
            else:
                self._queue(as_json)

    def _due(self, as_json: bool) -> None:
        due = service.due_list()
        if as_json:
            self.stdout.write(json.dumps({"due": [post.as_dict() for post in due]}))
            return
        if not due:
            self.stdout.write("No published post is due for re-verification.")
        for post in due:
            when = f"{post.due_from:%Y-%m-%d}"
            self.stdout.write(f"{post.id:>6}  {when}  {post.days:6.1f} days  {post.title}")

    def _queue(self, as_json: bool) -> None:
        queued = service.queue_due()
        if as_json:
            rows = [{"verification": v.pk, "post": v.post_id} for v in queued]
            self.stdout.write(json.dumps({"queued": rows}))
            return
        if not queued:
            self.stdout.write("No published post is due for re-verification: nothing queued.")
            return
        posts = ", ".join(str(v.post_id) for v in queued)
        self.stdout.write(f"Queued {len(queued)} verification(s) on content: posts {posts}.")

    def _verify(self, post_id: int, as_json: bool) -> None:
        verification = service.verify_post_now(post_id)
        checks = list(verification.source_checks.all())
        claims = list(verification.claim_checks.all())
        if as_json:
            self.stdout.write(json.dumps(_as_dict(verification, checks, claims)))
            return
        verdict = verification.get_outcome_display() or verification.summary
        self.stdout.write(f"Post {post_id} ({verification.post.title}): {verdict}")
        self.stdout.write(f"  {verification.summary}")
        if verification.post.needs_refresh:
            self.stdout.write(f"  needs refresh: {verification.post.refresh_reason}")
        for check in checks:
            status = f" HTTP {check.http_status}" if check.http_status else ""
            self.stdout.write(
                f"  [{check.number}] {check.verdict}{status} {check.url} {check.detail}"
            )
        for claim in claims:
            verdict = "backed" if claim.backed else f"NOT backed: {claim.reason}"
            self.stdout.write(f"    [{claim.source_number}] {claim.sentence[:120]} — {verdict}")
        self.stdout.write(
            f"  fetches {verification.fetches}, 304s {verification.not_modified}, cache hits "
            f"{verification.cache_hits}, LLM calls {verification.llm_calls}, "
            f"${verification.cost_usd:.6f}"
        )


def _as_dict(verification: PostVerification, checks: list, claims: list) -> dict[str, Any]:
    fields = [
        "status",
        "outcome",
        "summary",
        "fetches",
        "not_modified",
        "cache_hits",
        "claims_checked",
        "claims_failed",
        "llm_calls",
    ]
    return {
        "verification": verification.pk,
        "post": verification.post_id,
        **{name: getattr(verification, name) for name in fields},
        "cost_usd": str(verification.cost_usd),
        "needs_refresh": verification.post.needs_refresh,
        "refresh_reason": verification.post.refresh_reason,
        "sources": [
            {
                "number": c.number,
                "url": c.url,
                "verdict": c.verdict,
                "http_status": c.http_status,
                "moved_to": c.moved_to,
                "from_cache": c.from_cache,
                "detail": c.detail,
            }
            for c in checks
        ],
        "claims": [
            {
                "source": c.source_number,
                "sentence": c.sentence,
                "backed": c.backed,
                "reason": c.reason,
                "old_passage": c.old_passage,
                "new_passage": c.new_passage,
            }
            for c in claims
        ],
    }
