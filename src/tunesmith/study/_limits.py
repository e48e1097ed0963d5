"""The wall-time and resource limits, checked before each new trial and each reported step."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from tunesmith.budget import Budget
from tunesmith.errors import BudgetLimit
from tunesmith.schedulers import Scheduler
from tunesmith.trial import TrialRecord, TrialState

__all__ = ["MIN_FULLY_TRAINED", "ShortTrainingWarning", "Spent", "spent_beyond_trials", "trained_fully"]

# Fewer configurations trained to the full resource cannot tell a winner from noise.
MIN_FULLY_TRAINED = 5


class ShortTrainingWarning(UserWarning):
    """The budget trains too few configurations to the full resource under early stopping."""


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


def trained_fully(budget: Budget, scheduler: Scheduler) -> tuple[float, str] | None:
    """How many configurations a trial budget trains to the full resource under ``scheduler``, and a
    sentence saying so (``None`` without a trial limit or when the scheduler's share is unknown)."""
    share = scheduler.full_resource_share()
    if budget.trials is None or share is None or share >= 1.0:
        return None
    count = budget.trials * share
    sentence = (
        f"{scheduler.name} trains about {count:.3g} of {budget.trials} configurations to the full resource "
        f"({share:.1%} go through every rung)"
    )
    if count < MIN_FULLY_TRAINED:
        sentence += (
            f": fewer than {MIN_FULLY_TRAINED} cannot tell a winner from noise; give a resource budget "
            f"(ts.Budget(resource=...), which keeps starting configurations until the compute is spent), a "
            f"smaller eta, or at least {math.ceil(MIN_FULLY_TRAINED / share)} trials"
        )
    return count, sentence
