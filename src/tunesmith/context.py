"""`SearchContext`: what samplers and schedulers may know about a study besides its history.

It lives in a module of its own because both protocols take it (and the study builds it): neither
the samplers nor the schedulers own it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tunesmith.budget import Budget
from tunesmith.objective import Guardrail, Metric

__all__ = ["SearchContext"]


@dataclass(frozen=True)
class SearchContext:
    """What a sampler or scheduler may know about the study besides its history.

    Attributes:
        metric: the metric the study optimises, and its direction.
        guardrails: the constraints a result must meet to be feasible.
        budget: the study's budget.
        workers: trials run at once.
        trial_cost: seconds per trial, when known or estimated.
        rungs: resource levels a multi-fidelity scheduler compares trials at (last: the full
            resource); model-based samplers fit on the highest level with enough observations
            (the BOHB idea).
    """

    metric: Metric
    guardrails: tuple[Guardrail, ...] = ()
    budget: Budget = field(default_factory=Budget)
    workers: int = 1
    trial_cost: float | None = None
    rungs: tuple[float, ...] = ()
