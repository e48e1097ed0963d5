"""Median stopping: stop a trial that is worse than the median of its peers at the same step."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tunesmith._validate import integer
from tunesmith.context import SearchContext
from tunesmith.decision import Decision
from tunesmith.schedulers.base import Scheduler
from tunesmith.trial import TrialRecord

__all__ = ["MedianStop"]


def best_so_far(record: TrialRecord, metric: str, sign: float, step: int) -> float | None:
    """The best loss (``sign * value``) ``record`` reported up to ``step``."""
    values = [sign * m[metric] for s, m in record.intermediate.items() if s <= step and metric in m]
    finite = [v for v in values if math.isfinite(v)]
    return min(finite) if finite else None


class MedianStop(Scheduler):
    """Stops a trial whose best value so far is worse than the median of the others' at the same step.

    Args:
        warmup_steps: never stop before this step (early curves are noisy).
        min_trials: peers that must have reached the step before a trial can be stopped.
    """

    name = "median"

    def __init__(self, warmup_steps: int = 5, min_trials: int = 5) -> None:
        self.warmup_steps = integer("warmup_steps", warmup_steps, minimum=0)
        self.min_trials = integer("min_trials", min_trials, minimum=0)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "warmup_steps": self.warmup_steps, "min_trials": self.min_trials}

    def first_decision(self) -> tuple[float, str]:
        """``warmup_steps`` (step 1 without a warm-up): no trial is stopped before it."""
        return float(max(1, self.warmup_steps)), "warmup_steps"

    def decide(self, trial: TrialRecord, history: Sequence[TrialRecord], context: SearchContext) -> Decision:
        if not trial.intermediate:
            return Decision.CONTINUE
        step = max(trial.intermediate)
        if step < self.warmup_steps:
            return Decision.CONTINUE
        sign, name = context.metric.sign(), context.metric.name
        mine = best_so_far(trial, name, sign, step)
        if mine is None:
            return Decision.CONTINUE
        peers = [
            value
            for record in history
            if record.number != trial.number and record.resource >= step
            if (value := best_so_far(record, name, sign, step)) is not None
        ]
        if len(peers) < max(1, self.min_trials):
            return Decision.CONTINUE
        return Decision.STOP if mine > float(np.median(peers)) else Decision.CONTINUE
