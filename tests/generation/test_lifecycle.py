"""The run state machine: the table, each transition on a real row, and no other writer."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import transaction
from django.utils import timezone

from generation.exceptions import IllegalTransition, LLMError, RunNotClaimable
from generation.models import GenerationRun, RunStatus
from generation.pipeline.checkpoints import kept_for_retry
from generation.runs import leases, lifecycle
from generation.runs.leases import Lease
from generation.runs.lifecycle import NEW, RULES, Transition
from tests.factories import make_post

pytestmark = pytest.mark.django_db

STATUSES = [status.value for status in RunStatus]
ROOT = Path(__file__).resolve().parents[2]


def make_run(author, status: str, **fields) -> GenerationRun:
    # Test data: a row in the state under test, written directly.
    return GenerationRun.objects.create(author=author, status=status, **fields)


def status_of(run: GenerationRun) -> str:
    return GenerationRun.objects.values_list("status", flat=True).get(pk=run.pk)


@pytest.mark.parametrize("transition", list(Transition))
def test_every_pair_outside_the_table_raises(transition):
    illegal = [
        (current, target)
        for current in [NEW, *STATUSES]
        for target in [NEW, *STATUSES]
        if (current, target) not in RULES[transition]
    ]
    assert len(illegal) == 49 - len(RULES[transition])
    for current, target in illegal:
        with pytest.raises(IllegalTransition):
            lifecycle.check(transition, current, target)
    for current, target in RULES[transition]:
        lifecycle.check(transition, current, target)  # the allowed ones pass


def test_finished_runs_never_move_again():
    assert not [pair for pair in lifecycle.ALLOWED if pair[0] == RunStatus.SUCCEEDED]
    # A canceled run (stopped mid-flight, or canceled waiting) leaves only by an operator's retry.
    leaving_canceled = {t for t, pairs in RULES.items() for pair in pairs if pair[0] == "canceled"}
    assert leaving_canceled == {Transition.RETRY}
    assert ("running", "canceled") in RULES[Transition.STOP]
    # A failed run leaves only by a retry, a requeue, or RQ's own retry decision.
    leaving_failed = {t for t, pairs in RULES.items() for pair in pairs if pair[0] == "failed"}
    assert leaving_failed == {Transition.RETRY, Transition.REQUEUE, Transition.RETRY_DECIDED}


# --- Each transition refuses the statuses it does not start from --------------------------


def others(transition: Transition) -> list[str]:
    return [status for status in STATUSES if status not in lifecycle.sources(transition)]


@pytest.mark.parametrize("status", [*others(Transition.CLAIM), "running"])
def test_claim_refuses_finished_runs_and_live_leases(author, status):
    later = timezone.now() + timedelta(minutes=5)
    run = make_run(author, status, lease_token="other", lease_expires_at=later)
    with pytest.raises(RunNotClaimable):  # an IllegalTransition
        lifecycle.run_claim(run.pk)
    assert status_of(run) == status and GenerationRun.objects.get(pk=run.pk).attempts == 0


@pytest.mark.parametrize("status", others(Transition.SUCCEED))
def test_success_refuses_a_run_that_is_not_running(author, status):
    run = make_run(author, status, lease_token="token")
    with pytest.raises(RunNotClaimable), transaction.atomic():
        lifecycle.run_succeeded(Lease(run.pk, "token"), post=make_post(author=author))
    assert status_of(run) == status and not GenerationRun.objects.get(pk=run.pk).post_id


@pytest.mark.parametrize("status", others(Transition.ATTEMPT_FAILED))
def test_an_error_is_not_recorded_on_a_run_that_is_not_running(author, status):
    run = make_run(author, status, lease_token="token")
    assert lifecycle.run_record_error(Lease(run.pk, "token"), LLMError("x")) is False
    assert status_of(run) == status and GenerationRun.objects.get(pk=run.pk).errors == []


@pytest.mark.parametrize("status", others(Transition.ATTEMPT_LOST))
def test_a_lost_attempt_is_recorded_once_and_only_on_a_running_run(author, status):
    run = make_run(author, status)
    assert lifecycle.run_attempt_lost(run.pk, reason="gone", will_retry=True) is None
    assert status_of(run) == status


@pytest.mark.parametrize("status", others(Transition.RETRY_DECIDED))
def test_rqs_retry_decision_only_settles_a_failed_attempt(author, status):
    run = make_run(author, status)
    assert lifecycle.run_retry_decided(run.pk, retry_at=None) is False
    assert status_of(run) == status


@pytest.mark.parametrize(
    ("transition", "action"),
    [
        (Transition.CANCEL, lambda ids: len(lifecycle.runs_cancel(ids))),
        (Transition.RETRY, lambda ids: len(lifecycle.runs_retry(ids, kept=kept_for_retry))),
        (Transition.RETRY_UNDONE, lifecycle.runs_retry_undone),
        (Transition.DISCARD, lifecycle.runs_discard),
    ],
)
def test_operator_actions_leave_runs_outside_their_statuses_alone(author, transition, action):
    runs = [make_run(author, status) for status in others(transition)]
    assert action([run.pk for run in runs]) == 0
    assert [status_of(run) for run in runs] == others(transition)


@pytest.mark.parametrize("status", others(Transition.REQUEUE))
def test_rqs_requeue_only_requeues_a_failed_run(author, status):
    run = make_run(author, status)
    assert lifecycle.run_requeued_by_rq(run.pk, retries_left=2) is False
    assert status_of(run) == status


@pytest.mark.parametrize("status", others(Transition.BUDGET_WAIT))
def test_only_a_waiting_run_waits_for_the_budget(author, status):
    run = make_run(author, status)
    assert lifecycle.run_wait_for_budget(run.pk, until=timezone.now()) is False
    assert status_of(run) == status and GenerationRun.objects.get(pk=run.pk).next_retry_at is None


def test_progress_writes_cannot_change_the_status_or_the_lease(author):
    run = make_run(author, RunStatus.QUEUED)
    lease = lifecycle.run_claim(run.pk)
    for field in ("status", "lease_token", "post"):
        with pytest.raises(IllegalTransition):
            leases.run_update(lease, **{field: None})
    leases.run_update(lease, stage="topic")
    assert GenerationRun.objects.get(pk=run.pk).stage == "topic"


# --- The legal moves ----------------------------------------------------------------------


def test_an_attempts_error_retries_until_the_attempts_are_spent(author):
    run = make_run(author, RunStatus.QUEUED, max_attempts=2)
    assert lifecycle.run_record_error(lifecycle.run_claim(run.pk), LLMError("first"))
    run.refresh_from_db()
    assert (run.status, run.lease_token, run.finished_at) == (RunStatus.RETRYING, "", None)
    assert lifecycle.run_record_error(lifecycle.run_claim(run.pk), LLMError("second"))
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and run.finished_at is not None
    assert [e["error"] for e in run.errors] == ["LLMError: first", "LLMError: second"]


def test_a_stale_execution_records_nothing(author):
    run = make_run(author, RunStatus.QUEUED)
    stale = lifecycle.run_claim(run.pk)
    GenerationRun.objects.filter(pk=run.pk).update(lease_expires_at=timezone.now())
    lifecycle.run_claim(run.pk)  # another execution takes over the expired lease
    assert lifecycle.run_record_error(stale, LLMError("late")) is False
    assert status_of(run) == RunStatus.RUNNING and not GenerationRun.objects.get(pk=run.pk).errors


def test_rq_has_the_last_word_on_a_failed_attempt(author):
    run = make_run(author, RunStatus.QUEUED, max_attempts=1)
    lifecycle.run_record_error(lifecycle.run_claim(run.pk), LLMError("boom"))
    at = timezone.now() + timedelta(minutes=1)
    assert lifecycle.run_retry_decided(run.pk, retry_at=at)  # RQ still holds a retry
    run.refresh_from_db()
    assert (run.status, run.next_retry_at, run.finished_at) == (RunStatus.RETRYING, at, None)
    assert lifecycle.run_retry_decided(run.pk, retry_at=None)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and run.finished_at and run.next_retry_at is None


def test_operator_retry_and_requeue(author):
    failed = make_run(author, RunStatus.FAILED, attempts=4, max_attempts=4)
    assert [run.pk for run in lifecycle.runs_retry([failed.pk], kept=kept_for_retry)] == [failed.pk]
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == (RunStatus.QUEUED, 0)
    assert lifecycle.runs_retry_undone([failed.pk]) == 1
    assert status_of(failed) == RunStatus.FAILED
    GenerationRun.objects.filter(pk=failed.pk).update(attempts=4)
    assert lifecycle.run_requeued_by_rq(failed.pk, retries_left=1)
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.max_attempts) == (RunStatus.QUEUED, 4, 6)


# --- No other module writes a run's status ------------------------------------------------

WRITING_CALLS = {"update", "create", "bulk_update", "update_or_create", "get_or_create"}


def status_writes(tree: ast.AST) -> list[int]:
    """Lines that give a run a status: `run.status = ...`, `.update(status=RunStatus.X)`,
    `GenerationRun(status=...)`, `{"status": RunStatus.X}`. Other things have statuses too
    (a verification, an HTTP error): a write counts when its target or value is a run's."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and target.attr == "status":
                    owner = ast.unparse(target.value).lower()
                    value = ast.unparse(node.value) if node.value else ""
                    if "run" in owner or "RunStatus" in value:
                        lines.append(node.lineno)
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            receiver = ast.unparse(func.value) if isinstance(func, ast.Attribute) else ""
            status = [k.value for k in node.keywords if k.arg == "status"]
            if status and (
                name == "GenerationRun"
                or (
                    name in WRITING_CALLS
                    and ("GenerationRun" in receiver or "RunStatus" in ast.unparse(status[0]))
                )
            ):
                lines.append(node.lineno)
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                named = isinstance(key, ast.Constant) and key.value == "status"
                if named and "RunStatus" in ast.unparse(value):
                    lines.append(node.lineno)
    return sorted(lines)


def test_no_module_but_the_lifecycle_writes_a_runs_status():
    writers = []
    for path in sorted((ROOT / "generation").rglob("*.py")):
        if path.name == "lifecycle.py" or "migrations" in path.parts:
            continue
        for number in status_writes(ast.parse(path.read_text())):
            writers.append(f"{path.relative_to(ROOT)}:{number}")
    assert writers == []


def test_the_status_check_finds_the_writes_it_looks_for():
    old_ways = """
run.status = RunStatus.FAILED
GenerationRun.objects.filter(pk=1).update(
    next_retry_at=None,
    status=RunStatus.QUEUED,
)
GenerationRun(status="queued")
fields = {"status": RunStatus.RETRYING}
GenerationRun.objects.filter(status=RunStatus.FAILED).count()
self.status = status
PostVerification.objects.filter(pk=1).update(status=PostVerification.Status.FAILED)
GenerationRun.objects.filter(pk=2).update(status=status)
"""
    assert status_writes(ast.parse(old_ways)) == [2, 3, 7, 8, 12]
