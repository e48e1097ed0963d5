"""Median stopping: stop a trial that is worse than the median of its peers at the same step by more than the
noise in the curves explains."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunesmith._validate import integer, real
from tunesmith.context import SearchContext
from tunesmith.decision import Decision
from tunesmith.schedulers._noise import losses, one_sided, study_noise
from tunesmith.schedulers.base import Scheduler
from tunesmith.trial import TrialRecord

__all__ = ["MedianStop"]


def best_so_far(record: TrialRecord, metric: str, sign: float, step: int) -> float | None:
    """The best loss (``sign * value``) ``record`` reported up to ``step``."""
    values = losses(record, metric, sign, up_to=step)
    return min(values) if values else None


@dataclass(frozen=True)
class _Gap:
    """How far a trial's best so far trails the median of its peers' at one step, against the noise."""

    step: int
    mine: float
    median: float
    peers: int
    noise: float  # the study's step-to-step noise (a standard deviation)
    stderr: float  # of ``mine - median`` under that noise

    @property
    def behind(self) -> float:
        return self.mine - self.median

    def beyond(self, z: float) -> bool:
        return self.behind > z * self.stderr


class MedianStop(Scheduler):
    """Stops a trial whose best value so far is worse than the median of the others' at the same step by more
    than the noise explains.

    The noise is the study's step-to-step noise, measured robustly on the curves being compared (the median
    over them of a spread from second differences). A trial is stopped when its best so far trails the
    peers' median by more than ``z`` standard errors of that difference, ``z`` the one-sided normal quantile
    at ``level``: the best so far of a curve varies by about one noise standard deviation, the median of ``n``
    peers' by ``1.25 / sqrt(n)`` of one. On noiseless curves any shortfall stops the trial.

    Args:
        warmup_steps: never stop before this step (early curves are noisy).
        min_trials: peers that must have reached the step before a trial can be stopped.
        level: the chance, at one decision, of stopping a trial no worse than the median peer (one-sided;
            default 0.01). A trial is judged at every step after the warm-up, so a smaller level keeps
            configurations that only look worse for a few noisy reports.
    """

    name = "median"

    def __init__(self, warmup_steps: int = 5, min_trials: int = 5, level: float = 0.01) -> None:
        self.warmup_steps = integer("warmup_steps", warmup_steps, minimum=0)
        self.min_trials = integer("min_trials", min_trials, minimum=0)
        self.level = real("level", level, exclusive_minimum=0, exclusive_maximum=0.5, fix="pass e.g. level=0.01")

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "warmup_steps": self.warmup_steps, "min_trials": self.min_trials,
                "level": self.level}  # fmt: skip

    def first_decision(self) -> tuple[float, str]:
        """``warmup_steps`` (step 1 without a warm-up): no trial is stopped before it."""
        return float(max(1, self.warmup_steps)), "warmup_steps"

    def decide(self, trial: TrialRecord, history: Sequence[TrialRecord], context: SearchContext) -> Decision:
        gap = self._gap(trial, history, context)
        return Decision.STOP if gap is not None and gap.beyond(one_sided(self.level)) else Decision.CONTINUE

    def explain(self, trial: TrialRecord, history: Sequence[TrialRecord], context: SearchContext) -> str | None:
        gap = self._gap(trial, history, context)
        if gap is None:
            return None
        name, z = context.metric.name, one_sided(self.level)
        shown = gap.stderr if gap.stderr > 0 else math.nan
        beyond = (
            f"{gap.behind / shown:.1f} standard errors ({gap.stderr:.3g}, from the step-to-step noise {gap.noise:.3g}) "
            f"where {z:.2f} stops (one-sided {self.level:g})"
            if gap.stderr > 0
            else "the curves show no step-to-step noise"
        )
        return (
            f"best {name} so far trails the median of {gap.peers} peers at step {gap.step} by {gap.behind:.3g}: "
            f"{beyond}"
        )

    def _gap(self, trial: TrialRecord, history: Sequence[TrialRecord], context: SearchContext) -> _Gap | None:
        """The comparison at the trial's latest step, or ``None`` when it is not judged there."""
        if not trial.intermediate:
            return None
        step = max(trial.intermediate)
        if step < self.warmup_steps:
            return None
        sign, name = context.metric.sign(), context.metric.name
        mine = losses(trial, name, sign, up_to=step)
        if not mine:
            return None
        peers = [
            curve
            for record in history
            if record.number != trial.number and record.resource >= step
            if (curve := losses(record, name, sign, up_to=step))
        ]
        if len(peers) < max(1, self.min_trials):
            return None
        noise = study_noise([mine, *peers])
        # The best so far varies by about one noise sd; the median of n such values by sqrt(pi / 2n) of one.
        stderr = noise * math.sqrt(1.0 + math.pi / (2.0 * len(peers)))
        median = float(np.median([min(curve) for curve in peers]))
        return _Gap(step, min(mine), median, len(peers), noise, stderr)
