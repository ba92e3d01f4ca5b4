"""What a post is expected to cost, before it is queued.

The median cost of the last finished runs of the same writing model, or, before there are
any, a formula: (GENERATION_SECTIONS + 1) LLM rounds of PROMPT_TOKENS_PER_ROUND prompt and
COMPLETION_TOKENS_PER_ROUND completion tokens, at the model's GENERATION_PRICES. Each run
records its estimate beside its actual cost; the overview shows how far off they were.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from statistics import median
from typing import Any

from django.conf import settings
from django.utils import timezone

from generation.models import GenerationRun, RunStatus
from generation.operations.usage import COST_QUANTUM, estimate_cost

RECENT_RUNS = 20
# One round per section plus one for the topic, research queries, outline, framing and
# metadata together; each round quotes a few thousand words of sources.
PROMPT_TOKENS_PER_ROUND = 10_000
COMPLETION_TOKENS_PER_ROUND = 2_000


@dataclass(frozen=True)
class Estimate:
    usd: Decimal
    basis: str

    def describe(self, count: int = 1) -> str:
        total = "" if count == 1 else f", ~${self.usd * count:.4f} for {count}"
        return f"~${self.usd:.4f} a post{total} ({self.basis})"


def post_estimate(model: str = "") -> Estimate:
    """One post's expected cost with `model` (default GENERATION_MODEL)."""
    model = model or settings.GENERATION_MODEL
    recent = GenerationRun.objects.filter(model=model, status=RunStatus.SUCCEEDED, cost_usd__gt=0)
    costs = list(recent.order_by("-finished_at").values_list("cost_usd", flat=True)[:RECENT_RUNS])
    if costs:
        usd = Decimal(median(costs)).quantize(COST_QUANTUM)
        return Estimate(usd, f"median of the last {len(costs)} finished runs of {model}")
    rounds = settings.GENERATION_SECTIONS + 1
    usd, priced = estimate_cost(
        model,
        rounds * PROMPT_TOKENS_PER_ROUND,
        rounds * COMPLETION_TOKENS_PER_ROUND,
        settings.GENERATION_PRICES,
    )
    basis = f"formula: {rounds} rounds of ~{PROMPT_TOKENS_PER_ROUND:,}+"
    basis += f"{COMPLETION_TOKENS_PER_ROUND:,} tokens at {model}'s price"
    if not priced:
        basis += f"; {model} has no price in GENERATION_PRICES"
    return Estimate(usd.quantize(COST_QUANTUM), basis)


def estimate_accuracy(*, days: int = 30) -> dict[str, Any] | None:
    """Estimated against actual cost of the runs finished in the last `days` days: totals
    and the median error (actual over estimate, as a signed percentage). None: no runs."""
    since = timezone.now() - timedelta(days=days)
    rows = list(
        GenerationRun.objects.filter(
            status=RunStatus.SUCCEEDED, finished_at__gte=since, estimate_usd__gt=0
        ).values_list("estimate_usd", "cost_usd")
    )
    pairs = [(estimate or Decimal(0), actual or Decimal(0)) for estimate, actual in rows]
    if not pairs:
        return None
    errors = [float((actual - estimate) / estimate) * 100 for estimate, actual in pairs]
    return {
        "runs": len(pairs),
        "estimated": sum((e for e, _ in pairs), Decimal(0)),
        "actual": sum((a for _, a in pairs), Decimal(0)),
        "median_error_percent": round(median(errors), 1),
    }
