"""`SearchContext`: what samplers and schedulers may know about a study besides its history.

It lives in a module of its own because both protocols take it (and the study builds it): neither
the samplers nor the schedulers own it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tunesmith.budget import Budget
from tunesmith.errors import ConfigError
from tunesmith.objective import Guardrail, Metric

__all__ = ["SearchContext"]


@dataclass(frozen=True)
class SearchContext:
    """What a sampler or scheduler may know about the study besides its history.

    Attributes:
        metric: the metric the study optimises, and its direction (with several objectives: the
            first, the primary one).
        guardrails: the constraints a result must meet to be feasible.
        budget: the study's budget.
        workers: trials run at once.
        trial_cost: seconds per trial, when known or estimated.
        rungs: resource levels a multi-fidelity scheduler compares trials at (last: the full
            resource); model-based samplers fit on the highest level with enough observations
            (the BOHB idea).
        objectives: every objective of a multi-objective study in the order given (``metric`` is
            ``objectives[0]``); empty for a single-objective study. Samplers and schedulers detect
            several objectives by ``len(context.objectives) > 1`` and compare trials in losses space
            (``m.sign() * record.value(m.name)``; see `tunesmith.pareto`).
        predicted_finals: the scheduler ranks its rungs by each trial's predicted final value once the trials
            trained to the end predict it (``ASHA(predict_final=True)``): samplers then see a stopped trial at its
            prediction (`tunesmith.fidelity.rung_view`).
        reference: a multi-objective study's hypervolume reference point (given, or derived from its
            first trials and stored), in losses space, one value per objective; empty while there is
            none. The GP's hypervolume improvement counts volume only inside it, so the sampler
            pursues the hypervolume the study reports.
    """

    metric: Metric
    guardrails: tuple[Guardrail, ...] = ()
    budget: Budget = field(default_factory=Budget)
    workers: int = 1
    trial_cost: float | None = None
    rungs: tuple[float, ...] = ()
    objectives: tuple[Metric, ...] = ()
    reference: tuple[float, ...] = ()
    predicted_finals: bool = False

    def __post_init__(self) -> None:
        if self.objectives and self.objectives[0] != self.metric:
            raise ConfigError(
                f"SearchContext.metric must be objectives[0], got metric={self.metric!r} and "
                f"objectives[0]={self.objectives[0]!r}: pass metric=objectives[0]"
            )
