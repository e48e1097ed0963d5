"""The budget: which trials spend it, and which limit ran out."""

from __future__ import annotations

import pytest

from tunesmith.budget import Budget, BudgetUsage, counts_toward_budget
from tunesmith.errors import BudgetExhausted
from tunesmith.trial import TrialKind, TrialRecord, TrialState


def _failed(kind: TrialKind | None, reason: str | None = None) -> TrialRecord:
    return TrialRecord(number=0, params={}, seed=0, state=TrialState.FAILED, reason=reason, kind=kind)


@pytest.mark.parametrize("kind", [TrialKind.INTERRUPTED, TrialKind.LOST_WORKER])
def test_a_trial_lost_with_its_worker_does_not_spend_the_trial_budget(kind: TrialKind) -> None:
    assert not counts_toward_budget(_failed(kind))


@pytest.mark.parametrize("kind", [k for k in TrialKind if not k.is_interruption])
def test_every_other_failure_spends_the_trial_budget(kind: TrialKind) -> None:
    assert counts_toward_budget(_failed(kind))


def test_the_budget_reads_the_kind_never_the_reason() -> None:
    assert counts_toward_budget(_failed(None, reason="interrupted")), "a reason alone is text for people"
    assert not counts_toward_budget(_failed(TrialKind.LOST_WORKER, reason="anything at all"))


def test_only_a_failed_trial_can_be_an_interruption() -> None:
    stopped = TrialRecord(number=0, params={}, seed=0, state=TrialState.STOPPED, kind=TrialKind.INTERRUPTED)
    assert counts_toward_budget(stopped)


def test_usage_counts_trials_without_the_lost_ones() -> None:
    records = [_failed(TrialKind.EXCEPTION), _failed(TrialKind.LOST_WORKER), _failed(TrialKind.INTERRUPTED)]
    assert Budget.usage(records, now=0.0).trials == 1


@pytest.mark.parametrize(
    ("usage", "limit", "sentence"),
    [
        (BudgetUsage(trials=3, resource=100.0, elapsed=100.0), "trials", "trial budget spent (3/3)"),
        (BudgetUsage(trials=2, resource=100.0, elapsed=60.0), "wall_time", "wall-time budget spent (60s/60s)"),
        (BudgetUsage(trials=2, resource=10.0, elapsed=1.0), "resource", "resource budget spent (10/10)"),
        (BudgetUsage(trials=2, resource=9.0, elapsed=59.0), None, None),
    ],
)
def test_the_first_limit_reached_is_named_and_described(
    usage: BudgetUsage, limit: str | None, sentence: str | None
) -> None:
    budget = Budget(trials=3, wall_time=60, resource=10)
    assert budget.exhausted_limit(usage) == limit
    assert budget.exhausted_by(usage) == sentence


def test_budget_exhausted_carries_the_limit() -> None:
    error = BudgetExhausted("wall-time budget spent (60s/60s)", limit="wall_time")
    assert error.limit == "wall_time" and str(error) == "wall-time budget spent (60s/60s)"
    assert BudgetExhausted("trial budget spent (3/3)").limit == "trials"
