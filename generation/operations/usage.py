"""Token usage and estimated cost of LLM calls, collected per pipeline stage.

The ledger is shared by every LLM client of one run (one per stage, each on its own
event loop), so it guards its list with a thread lock rather than an asyncio one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

PER_MILLION = Decimal(1_000_000)
# Matches GenerationRun.cost_usd (decimal_places=6).
COST_QUANTUM = Decimal("0.000001")


@dataclass(frozen=True)
class CallUsage:
    stage: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: Decimal
    seconds: float
    priced: bool
    at: datetime = field(default_factory=lambda: datetime.now(UTC))  # when it was paid for


def estimate_cost(
    model: str, prompt_tokens: int, completion_tokens: int, prices: dict
) -> tuple[Decimal, bool]:
    """USD cost of one call from `prices` (model -> (USD per 1M prompt, per 1M completion)).

    A dated snapshot ("gpt-4o-mini-2024-07-18") uses its family's price; an unknown
    model costs 0 and reports priced=False so totals can say they are incomplete.
    """
    price = _price_for(model, prices)
    if price is None:
        return Decimal(0), False
    prompt_price, completion_price = (Decimal(str(p)) for p in price)
    cost = (prompt_tokens * prompt_price + completion_tokens * completion_price) / PER_MILLION
    return cost, True


def _price_for(model: str, prices: dict) -> tuple[float, float] | None:
    if model in prices:
        return prices[model]
    families = [name for name in prices if model.startswith(f"{name}-")]
    return prices[max(families, key=len)] if families else None


class UsageLedger:
    """Every call's usage, safe to add to from several threads and event loops."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[CallUsage] = []

    def add(self, usage: CallUsage) -> None:
        with self._lock:
            self._calls.append(usage)

    @property
    def calls(self) -> list[CallUsage]:
        with self._lock:
            return list(self._calls)

    def totals(self) -> dict:
        """prompt_tokens, completion_tokens, calls, cost_usd (Decimal), seconds, unpriced_calls."""
        return _summarise(self.calls)

    def by_stage(self) -> dict[str, dict]:
        """The same totals for each stage, in the order stages first appeared."""
        stages: dict[str, list[CallUsage]] = {}
        for call in self.calls:
            stages.setdefault(call.stage, []).append(call)
        return {stage: _summarise(calls) for stage, calls in stages.items()}


def _summarise(calls: list[CallUsage]) -> dict:
    return {
        "prompt_tokens": sum(c.prompt_tokens for c in calls),
        "completion_tokens": sum(c.completion_tokens for c in calls),
        "calls": len(calls),
        "cost_usd": sum((c.cost_usd for c in calls), Decimal(0)).quantize(COST_QUANTUM),
        "seconds": round(sum(c.seconds for c in calls), 3),
        "unpriced_calls": sum(1 for c in calls if not c.priced),
    }


def usage_by_stage_merged(before: dict, ledger: UsageLedger) -> dict:
    """A run's JSON record of usage per stage (calls, tokens, cost as a string), with this
    attempt's calls added to what earlier attempts spent."""
    merged = {stage: dict(values) for stage, values in before.items()}
    for stage, spent in ledger.by_stage().items():
        row = merged.setdefault(
            stage, {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost_usd": "0"}
        )
        row["calls"] += spent["calls"]
        row["prompt_tokens"] += spent["prompt_tokens"]
        row["completion_tokens"] += spent["completion_tokens"]
        row["cost_usd"] = str(Decimal(row["cost_usd"]) + spent["cost_usd"])
    return merged
