"""Polarity is part of support: a claim that says the opposite of its source is refused.

Each pair below is (affirmative, reversed). Each is tested in both directions: the source
says one, the claim the other. Copying either one word for word stays supported, a
source's own negation included. Every source also holds unrelated negations ("not",
"nothing") in the sentences around, which must not flip anything.
"""

from __future__ import annotations

import asyncio

import pytest

from generation.llm import LLMClient
from generation.pipeline import prompts
from generation.pipeline.citations import Claim, SourceIndex
from generation.pipeline.polarity import reversals
from generation.pipeline.types import CitationReport, Source
from generation.pipeline.verify import Piece, verify_post
from standins.writer import WriterResponder
from tests import standins_llm_fixtures

llm_standin = standins_llm_fixtures.llm_standin

BEFORE = "Deployments are not automatic in this setup. Operators review each change by hand."
AFTER = "Nothing else in the configuration is set by default. The guide covers the rest."

PAIRS = {
    "not": ("Retries are enabled by default.", "Retries are not enabled by default."),
    "n't": ("The scheduler retries failed jobs.", "The scheduler doesn't retry failed jobs."),
    "no": ("The cache has a size limit.", "The cache has no size limit."),
    "never": ("The cache is flushed on restart.", "The cache is never flushed on restart."),
    "none": (
        "All of the queued jobs were lost in the outage.",
        "None of the queued jobs were lost in the outage.",
    ),
    "nothing": (
        "Everything in the queue is lost on restart.",
        "Nothing in the queue is lost on restart.",
    ),
    "without": (
        "The worker runs with a lock on the queue.",
        "The worker runs without a lock on the queue.",
    ),
    "no longer": (
        "The service supports legacy clients.",
        "The service no longer supports legacy clients.",
    ),
    "neither/nor": (
        "Both Redis and PostgreSQL are required for the demo.",
        "Neither Redis nor PostgreSQL is required for the demo.",
    ),
    "increased/decreased": (
        "The queue length increased after the release.",
        "The queue length decreased after the release.",
    ),
    "increases/decreases": (
        "The queue length increases under load.",
        "The queue length decreases under load.",
    ),
    "increasing/decreasing": (
        "The team is increasing the pool size.",
        "The team is decreasing the pool size.",
    ),
    "rose/fell": ("Prices rose sharply in May.", "Prices fell sharply in May."),
    "higher/lower": ("Latency is higher on cold starts.", "Latency is lower on cold starts."),
    "more/less": (
        "The new version uses more memory than the old one.",
        "The new version uses less memory than the old one.",
    ),
    "before/after": (
        "Migrations run before the workers start.",
        "Migrations run after the workers start.",
    ),
}


def check(claim: str, *, source: str) -> tuple[bool, str]:
    support = SourceIndex(f"{BEFORE} {source} {AFTER}").check(
        Claim.of(claim), number=1, threshold=0.5
    )
    return support.ok, support.reason


@pytest.mark.parametrize("case", PAIRS)
def test_a_claim_reversing_an_affirmative_source_is_not_supported(case):
    affirmative, reversed_ = PAIRS[case]
    ok, reason = check(reversed_, source=affirmative)
    assert not ok
    assert reason.startswith("says the opposite of the cited passage")


@pytest.mark.parametrize("case", PAIRS)
def test_a_claim_dropping_the_sources_negation_or_direction_is_not_supported(case):
    affirmative, reversed_ = PAIRS[case]
    ok, reason = check(affirmative, source=reversed_)
    assert not ok
    assert reason.startswith("says the opposite of the cited passage")


@pytest.mark.parametrize("case", PAIRS)
def test_a_claim_copying_its_source_negation_and_all_stays_supported(case):
    for sentence in PAIRS[case]:
        assert check(sentence, source=sentence) == (True, "")


def test_the_reason_names_what_was_reversed():
    affirmative, negated = PAIRS["not"]
    _, reason = check(negated, source=affirmative)
    assert "'not' added" in reason
    _, reason = check("Prices rose sharply in May.", source="Prices fell sharply in May.")
    assert "'rose' for 'fell'" in reason
    _, reason = check("The cache has a size limit.", source="The cache has no size limit.")
    assert "'no' dropped" in reason


@pytest.mark.parametrize(
    ("claim", "source"),
    [
        # a negation written another way
        ("Retries aren't enabled by default.", "Retries are not enabled by default."),
        ("The job cannot be retried twice.", "The job can't be retried twice."),
        ("The cache is not ever flushed on restart.", "The cache is never flushed on restart."),
        # two negations added cancel
        ("It is not true that the cache is not flushed.", "The cache is flushed."),
    ],
)
def test_negations_that_cancel_or_restate_one_another_stay_supported(claim, source):
    assert check(claim, source=source) == (True, "")


def test_a_negation_in_a_clause_the_claim_leaves_out_changes_nothing():
    source = "The worker is fast on small queues, but it is not suited to large batches."
    assert check("The worker is fast on small queues.", source=source) == (True, "")
    ok, reason = check("The worker is fast on small queues, but it is suited to large batches.",
                       source=source)  # fmt: skip
    assert not ok and "'not' dropped" in reason


def test_a_negation_in_a_neighbouring_sentence_does_not_flip_the_claim():
    source = "Snapshots are taken every hour. Replicas are not used for writes."
    assert check("Snapshots are taken every hour.", source=source) == (True, "")
    ok, _ = check("Snapshots are not taken every hour.", source=source)
    assert not ok


def test_a_reversed_claim_is_judged_against_the_sentence_it_copies_in_any_window():
    # The claim shares its remaining words with another window too: the window holding
    # the sentence it reverses is the one that decides, and the passage it cites.
    source = (
        "Jobs are stored in Redis and run in worker processes. Each job has an identifier. "
        "Workers report their state. Jobs can be enqueued to run later with enqueue_in."
    )
    support = SourceIndex(source).check(
        Claim.of("Jobs can be enqueued to run earlier with enqueue_in."), number=1, threshold=0.5
    )
    assert not support.ok and "'earlier' for 'later'" in support.reason
    assert "run later with enqueue_in" in support.passage


@pytest.mark.parametrize(
    ("claim", "copied", "expected"),
    [
        ("X is not Y.", "X is Y.", ["'not' added"]),
        ("X isn't Y.", "X is not Y.", []),
        ("X no longer supports Y.", "X supports Y.", ["'no' added"]),
        ("Neither A nor B is used.", "A and B are used.", ["'neither' added"]),
        ("A is not used, nor is B.", "A is used, and so is B.", ["'not' added"]),
        ("Sales increased by 5%.", "Sales decreased by 5%.", ["'increased' for 'decreased'"]),
        ("X is fast.", "X is fast, but it is not cheap.", []),
    ],
)
def test_reversals_align_the_claim_with_the_sentence_it_copies(claim, copied, expected):
    assert reversals(claim, copied) == expected


# --- Through the stage: the repair gets the reason; an honest negation is kept -----------

SOURCES = {
    1: Source(
        1,
        "Job retries",
        "https://rq.example/retries",
        "RQ does not retry a failed job by default. A Retry object sets how many times a job "
        "is retried. Failed jobs are kept in the failed job registry.",
    ),
}


class RecordingWriter(WriterResponder):
    """The stand-in writer, keeping the repair requests it was sent and the judge's
    instructions."""

    def __init__(self) -> None:
        super().__init__()
        self.repairs: list[str] = []
        self.systems: list[str] = []

    def _citation_repair(self, user: str) -> dict:
        self.repairs.append(user)
        return super()._citation_repair(user)

    def respond(self, request: dict) -> str:
        if self.classify(request) == "citation_judge":
            self.systems.append(request["messages"][0]["content"])
        return super().respond(request)


def verify(text: str, *, judge: bool = False) -> tuple[str, CitationReport]:
    async def main() -> tuple[dict[str, str], CitationReport]:
        async with LLMClient.from_settings() as llm:
            return await verify_post(
                llm, pieces=[Piece("section:0", text)], sources=SOURCES, threshold=0.5, judge=judge
            )

    texts, report = asyncio.run(main())
    return texts["section:0"], report


@pytest.mark.parametrize("llm_standin", [RecordingWriter()], indirect=True)
def test_a_claim_that_copies_its_sources_negation_is_kept_without_a_repair(llm_standin):
    text, report = verify("RQ does not retry a failed job by default [1].")
    assert text == "RQ does not retry a failed job by default [1]."
    assert (report.verified, report.removed, report.revised) == (1, [], [])
    assert llm_standin.total == 0


@pytest.mark.parametrize("llm_standin", [RecordingWriter()], indirect=True)
def test_a_reversed_claim_goes_to_the_repair_with_its_reason_and_comes_back_upright(
    llm_standin,
):
    text, report = verify("RQ retries a failed job by default [1].")
    assert text == "RQ does not retry a failed job by default [1]."
    assert report.revised[0]["before"] == "RQ retries a failed job by default [1]."
    (request,) = llm_standin.responder.repairs
    assert "Problem: says the opposite of the cited passage ('not' dropped)" in request


@pytest.mark.parametrize("llm_standin", [RecordingWriter()], indirect=True)
def test_the_judge_is_told_to_check_polarity(llm_standin):
    text, report = verify("RQ does not retry a failed job by default [1].", judge=True)
    assert text == "RQ does not retry a failed job by default [1]."
    assert report.judge["checked"] == 1
    (system,) = llm_standin.responder.systems
    assert system.startswith(prompts.JUDGE_SYSTEM) and "same polarity" in system
    assert "negates" in system and "increased for decreased" in system


def test_a_claim_joining_two_sentences_keeps_the_second_ones_negation():
    source = "Redis keeps its data set in memory. It does not write the data to disk by default."
    claim = "Redis keeps its data set in memory and does not write the data to disk by default."
    assert check(claim, source=source) == (True, "")
    affirmative = "Redis keeps its data set in memory. It writes the data to disk by default."
    ok, reason = check(claim, source=affirmative)
    assert not ok and "'not' added" in reason
