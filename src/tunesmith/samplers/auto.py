"""``sampler="auto"``: pick a search method from the space and the budget, and say why."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tunesmith.samplers.base import Sampler, SearchContext
from tunesmith.samplers.grid import Grid
from tunesmith.samplers.random import Random
from tunesmith.space import Space
from tunesmith.trial import TrialRecord

__all__ = ["Auto"]

GRID_MAX_PARAMS = 3
GRID_MAX_VALUES = 5


class Auto(Sampler):
    """Follows the guide's method table.

    * Grid for tiny spaces: at most 3 varying parameters with at most 5 values each.
    * Random search otherwise: the guide's default first strategy.
    """

    name = "auto"

    def choose(self, space: Space, context: SearchContext) -> tuple[Sampler, str]:
        """The sampler to use and the reason, in words."""
        dims = [space[n] for n in space.dimensions]
        if 0 < len(dims) <= GRID_MAX_PARAMS and all(p.cardinality() <= GRID_MAX_VALUES for p in dims):
            size = space.grid_size()
            return Grid(), (
                f"grid: {len(dims)} parameter(s) with at most {GRID_MAX_VALUES} values each "
                f"({size} configurations) - a tiny space is covered exhaustively"
            )
        return Random(), (
            f"random: {len(dims)} parameters - random search covers each important dimension "
            "with every trial (the default first strategy)"
        )

    def suggest(
        self, space: Space, history: Sequence[TrialRecord], rng: np.random.Generator, context: SearchContext
    ) -> dict[str, Any]:
        sampler, _ = self.choose(space, context)
        return sampler.suggest(space, history, rng, context)
