"""The verification job on `content`: its only argument is the verification id.

Idempotent: a re-delivered job finds its verification done (or running elsewhere) and
does nothing; an attempt whose worker died is taken over once stale. Its status is honest:
running while it reads, then done (clean or flagged), or failed with the error.
"""

from __future__ import annotations

import logging
from datetime import datetime

from blog.models import Post
from generation.freshness import record
from generation.freshness.engine import verify_plan
from generation.freshness.plan import plan_for
from generation.models import PostVerification
from generation.operations import budget

logger = logging.getLogger(__name__)

NOT_PUBLISHED = "not checked: the post is no longer published"


def verify_post_job(verification_id: int) -> str:
    """Job: verify the post of this verification; returns its summary."""
    started = record.verification_claim(verification_id)
    if started is None:
        return "already handled"
    try:
        verification = verification_run(verification_id, started)
    except record.TakenOver:
        return "taken over by another attempt"
    except Exception as exc:
        logger.exception("Verification %s failed", verification_id)
        record.verification_fail(verification_id, started, f"{type(exc).__name__}: {exc}")
        raise
    return verification.summary


def verification_run(verification_id: int, started: datetime) -> PostVerification:
    """Read the post's sources again, check what needs it, write the findings."""
    verification = PostVerification.objects.select_related("post").get(pk=verification_id)
    post = verification.post
    if post.status != Post.Status.PUBLISHED:
        return record.verification_skip(verification_id, started, NOT_PUBLISHED)
    plan = plan_for(post)
    findings = verify_plan(plan, budget_spent=budget.budget_state().exceeded)
    record.spend_record(verification_id, findings)
    return record.verification_finish(verification_id, started, plan, findings)
