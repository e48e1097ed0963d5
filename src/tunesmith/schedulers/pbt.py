"""Population Based Training: the bottom of the population continues from the top, perturbed.

At every ``perturbation_interval`` steps, a member in the bottom ``quantile`` of the population
(the trials training now, ranked by their latest values) is stopped (exploited). The next trial
the study starts is its replacement: a `Continuation` of a member from the top ``quantile``,
whose checkpoint files the study copies into the new trial's directory and whose
hyperparameters are perturbed or resampled (explored).
The replacement records its parent, the trial it replaces and its whole lineage.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tunesmith._validate import integer
from tunesmith.context import SearchContext
from tunesmith.decision import Decision
from tunesmith.errors import ConfigError
from tunesmith.schedulers.base import Continuation, Scheduler
from tunesmith.space import Choice, Fixed, Float, Int, Space
from tunesmith.trial import TrialKind, TrialRecord, TrialState

__all__ = ["PBT"]


def _latest(record: TrialRecord, metric: str) -> float | None:
    """The last finite value of ``metric`` the trial reported."""
    for step in sorted(record.intermediate, reverse=True):
        value = record.intermediate[step].get(metric)
        if value is not None:
            return value if math.isfinite(value) else None
    return None


class PBT(Scheduler):
    """Population Based Training.

    Budget a PBT study by resource or wall time: each exploit starts a new trial.

    Args:
        perturbation_interval: steps between exploit/explore rounds.
        quantile: the fraction at the bottom that is replaced, and at the top that donates.
        resample_probability: chance that a parameter is redrawn from its prior instead of perturbed.
        perturb_factors: multipliers applied to a numeric parameter (one drawn at random).
        min_population: members that must have reached a round before anyone is exploited.
    """

    name = "pbt"

    def __init__(
        self,
        perturbation_interval: int = 4,
        quantile: float = 0.25,
        resample_probability: float = 0.25,
        perturb_factors: Sequence[float] = (0.8, 1.2),
        min_population: int = 4,
    ) -> None:
        integer("perturbation_interval", perturbation_interval, minimum=1)
        if not 0 < quantile <= 0.5:
            raise ConfigError(f"quantile must be in (0, 0.5], got quantile={quantile!r}: use 0.25")
        if not 0 <= resample_probability <= 1:
            raise ConfigError(f"resample_probability must be in [0, 1], got {resample_probability!r}")
        if not perturb_factors or any(f <= 0 for f in perturb_factors):
            raise ConfigError(f"perturb_factors must be positive numbers, got {list(perturb_factors)!r}")
        if min_population < 2:
            raise ConfigError(f"min_population must be >= 2, got {min_population!r}")
        self.perturbation_interval = perturbation_interval
        self.quantile = quantile
        self.resample_probability = resample_probability
        self.perturb_factors = tuple(float(f) for f in perturb_factors)
        self.min_population = min_population

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "perturbation_interval": self.perturbation_interval,
            "quantile": self.quantile,
            "resample_probability": self.resample_probability,
            "perturb_factors": list(self.perturb_factors),
            "min_population": self.min_population,
        }

    def first_decision(self) -> tuple[float, str]:
        """The first exploit round: ``perturbation_interval``."""
        return float(self.perturbation_interval), "perturbation_interval"

    def min_concurrent(self) -> int:
        """``min_population``: the population is the trials training now, and none is exploited with fewer."""
        return self.min_population

    def _ranked(self, members: Sequence[TrialRecord], context: SearchContext) -> list[TrialRecord]:
        """Members best first, by their latest value (ties broken by trial number)."""
        sign, name = context.metric.sign(), context.metric.name
        scored = [(sign * v, r.number, r) for r in members if (v := _latest(r, name)) is not None]
        return [r for _, _, r in sorted(scored, key=lambda item: (item[0], item[1]))]

    def _cut(self, size: int) -> int:
        return max(1, math.floor(size * self.quantile))

    def decide(self, trial: TrialRecord, history: Sequence[TrialRecord], context: SearchContext) -> Decision:
        steps = sorted(trial.intermediate)
        if not steps:
            return Decision.CONTINUE
        latest = steps[-1]
        previous = steps[-2] if len(steps) > 1 else int(trial.attrs.get("start_step", 0))
        if latest // self.perturbation_interval == previous // self.perturbation_interval:
            return Decision.CONTINUE
        # The population is the trials training now, each judged by its latest value (as they
        # report in turn, peers may be a step behind or ahead).
        alive = [r for r in history if r.state is TrialState.RUNNING or r.number == trial.number]
        ranked = self._ranked(alive, context)
        if len(ranked) < self.min_population or trial not in ranked:
            return Decision.CONTINUE
        bottom = ranked[-self._cut(len(ranked)) :]
        return Decision.STOP if trial in bottom else Decision.CONTINUE

    def propose(
        self, space: Space, history: Sequence[TrialRecord], rng: np.random.Generator, context: SearchContext
    ) -> Continuation | None:
        replaced = {r.attrs.get("replaces") for r in history}
        victims = [
            r
            for r in history
            if r.state is TrialState.STOPPED and r.kind is TrialKind.SCHEDULER and r.number not in replaced
        ]
        if not victims:
            return None
        victim = victims[0]
        # Donors are the top of the members still training: a finished one has no steps to hand on.
        ranked = self._ranked([r for r in history if r.state is TrialState.RUNNING], context)
        donors = ranked[: self._cut(len(ranked) + 1)]
        if not donors:
            return None
        donor = donors[int(rng.integers(len(donors)))]
        params, changes = self._explore(space, donor.params, rng)
        lineage = [*donor.attrs.get("lineage", []), donor.number]
        return Continuation(
            params=params,
            parent=donor.number,
            start_step=int(donor.resource),
            attrs={"replaces": victim.number, "lineage": lineage, "explored": changes},
        )

    def _explore(self, space: Space, params: dict[str, Any], rng: np.random.Generator) -> tuple[dict[str, Any], dict]:
        """Perturb numeric parameters by a random factor, or resample any parameter from its prior."""
        out: dict[str, Any] = {}
        changes: dict[str, str] = {}
        for name, param in space.items():
            if not space.is_active(name, out):
                continue
            current = params.get(name)
            resample = rng.random() < self.resample_probability
            factor = self.perturb_factors[int(rng.integers(len(self.perturb_factors)))]
            if isinstance(param, Fixed):
                value: Any = param.value
            elif current is None or resample or isinstance(param, Choice):
                value = param.sample(rng) if (current is None or resample) else current
                if value != current:
                    changes[name] = "resampled"
            elif isinstance(param, Float | Int):
                value = self._perturb(param, current, factor)
                if value != current:
                    changes[name] = _change(param, current, value, factor)
            else:  # pragma: no cover - every Param kind is handled above
                value = current
            out[name] = value
        return space.validate(out), changes

    @staticmethod
    def _perturb(param: Float | Int, value: float, factor: float) -> Any:
        # Multiply positive values; move a linear range through zero by a share of its width instead.
        multiplicative = param.log or param.low > 0
        target = value * factor if multiplicative else value + (factor - 1.0) * (param.high - param.low)
        target = min(param.high, max(param.low, target))
        if isinstance(param, Int):
            return param.decode(param.encode(max(param.low, round(target))))
        return param.decode(param.encode(target))  # snaps to the step grid, if any


def _change(param: Float | Int, before: float, after: float, factor: float) -> str:
    """How a perturbation moved a value, as it moved it: ``x0.8`` when multiplied (and not stopped by a bound),
    else the move itself (``+0.2 of the range``, ``-1``, ``to the bound 1``)."""
    if after in (param.low, param.high) and (before * factor if param.log or param.low > 0 else None) != after:
        return f"to the bound {after:g}"
    if param.log or param.low > 0:
        return f"x{factor:g}" if math.isclose(after, before * factor, rel_tol=1e-9) else f"{before:g} -> {after:g}"
    return f"{after - before:+g}"
