"""The wall-time and resource limits, checked before each new trial and each reported step."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tunesmith.budget import Budget
from tunesmith.errors import BudgetLimit
from tunesmith.trial import TrialRecord, TrialState

__all__ = ["Spent", "spent_beyond_trials"]


@dataclass(frozen=True)
class Spent:
    """A limit that is spent: which one, and a sentence for people."""

    limit: BudgetLimit
    message: str


def spent_beyond_trials(
    budget: Budget, history: Sequence[TrialRecord], now: float, step_for: int | None = None
) -> Spent | None:
    """The wall-time or resource limit if it is spent, else ``None`` (storage enforces the trial limit).

    The resource budget is kept exact: one more step (of trial ``step_for``, or of a new trial)
    is allowed only if it still fits after the step every other running trial may already be
    taking.
    """
    if budget.wall_time is None and budget.resource is None:
        return None  # nothing to add up: this is on every ask and report
    usage = Budget.usage(history, now)
    no_trials = Budget(wall_time=budget.wall_time, resource=budget.resource)
    limit = no_trials.exhausted_limit(usage)
    if limit is not None:
        return Spent(limit, no_trials.exhausted_by(usage) or limit)
    if budget.resource is None:
        return None
    in_flight = sum(1 for r in history if r.state is TrialState.RUNNING and r.number != step_for)
    if usage.resource + in_flight + 1 > budget.resource:
        return Spent(
            "resource",
            f"resource budget spent ({usage.resource:g} used, {in_flight} steps in flight, of {budget.resource:g})",
        )
    return None
