"""``sampler="auto"``: pick a search method from the space, the budget and the trial cost, and say why."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tunesmith.context import SearchContext
from tunesmith.samplers.base import Sampler
from tunesmith.samplers.gp import GP
from tunesmith.samplers.grid import Grid
from tunesmith.samplers.tpe import TPE
from tunesmith.space import Choice, Space
from tunesmith.trial import TrialRecord

__all__ = ["Auto"]

GRID_MAX_PARAMS = 3
GRID_MAX_VALUES = 5
GP_MAX_DIMS = 12  # past this a GP's lengthscales are hard to learn from a few dozen trials
GP_MAX_TRIALS = 300  # past this the GP's cubic cost outgrows its gain; TPE stays in milliseconds
CHEAP_TRIAL_SECONDS = 1.0  # when a trial is this cheap, the GP's own time would dominate


class Auto(Sampler):
    """Follows the guide's method table.

    * Grid for tiny spaces: at most 3 varying parameters with at most 5 values each.
    * Otherwise a quasi-random (Sobol) start, then a model:

      - GP for low-dimensional searches (at most 12 parameters, not mostly categorical) whose
        trials are expensive or of unknown cost, while the budget is at most 300 trials; the
        search moves on to TPE once 300 trials have finished, to keep each suggestion cheap;
      - TPE for large or mostly categorical spaces, large budgets and cheap trials.
    """

    name = "auto"

    def __init__(self) -> None:
        self._gp = GP()
        self._tpe = TPE()

    def choose(self, space: Space, context: SearchContext) -> tuple[Sampler, str]:
        """The sampler to use and the reason, in words."""
        dims = [space[n] for n in space.dimensions]
        d = len(dims)
        if 0 < d <= GRID_MAX_PARAMS and all(p.cardinality() <= GRID_MAX_VALUES for p in dims):
            size = space.grid_size()
            return Grid(), (
                f"grid: {d} parameter(s) with at most {GRID_MAX_VALUES} values each "
                f"({size} configurations) - a tiny space is covered exhaustively"
            )
        n_cat = sum(isinstance(p, Choice) for p in dims)
        trials = context.budget.trials
        cost = context.trial_cost
        if d > GP_MAX_DIMS:
            return self._tpe, (
                f"tpe: {d} parameters (more than {GP_MAX_DIMS}) - after {self._tpe.startup_trials(space)} Sobol "
                "trials, TPE scales to large spaces at milliseconds per suggestion"
            )
        if n_cat * 2 > d:
            return self._tpe, (
                f"tpe: {n_cat} of {d} parameters are categorical - after {self._tpe.startup_trials(space)} Sobol "
                "trials, TPE models categories directly"
            )
        if trials is not None and trials > GP_MAX_TRIALS:
            return self._tpe, (
                f"tpe: a budget of {trials} trials (more than {GP_MAX_TRIALS}) - after "
                f"{self._tpe.startup_trials(space)} Sobol trials, TPE stays cheap per suggestion at this scale"
            )
        if cost is not None and cost < CHEAP_TRIAL_SECONDS:
            return self._tpe, (
                f"tpe: trials take about {cost:.2g}s - too cheap for a GP's per-suggestion cost; "
                f"{self._tpe.startup_trials(space)} Sobol trials first"
            )
        budget = "an unbounded budget" if trials is None else f"a budget of {trials} trials"
        return self._gp, (
            f"gp: {d} parameters and {budget} - after {self._gp.startup_trials(space)} Sobol trials, "
            "Gaussian-process BO is the most sample-efficient for expensive low-dimensional searches"
            + (f" (TPE takes over after {GP_MAX_TRIALS} trials)" if trials is None else "")
        )

    def suggest(
        self, space: Space, history: Sequence[TrialRecord], rng: np.random.Generator, context: SearchContext
    ) -> dict[str, Any]:
        sampler, _ = self.choose(space, context)
        if sampler is self._gp and len(history) >= GP_MAX_TRIALS:
            sampler = self._tpe
        return sampler.suggest(space, history, rng, context)
