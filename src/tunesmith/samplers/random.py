"""Random search: independent draws from each parameter's prior."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tunesmith.context import SearchContext
from tunesmith.samplers.base import Sampler
from tunesmith.space import Space
from tunesmith.trial import TrialRecord

__all__ = ["Random"]


class Random(Sampler):
    """Samples every parameter from its prior, ignoring history: the guide's default first strategy."""

    name = "random"

    def suggest(
        self, space: Space, history: Sequence[TrialRecord], rng: np.random.Generator, context: SearchContext
    ) -> dict[str, Any]:
        return space.sample(rng)
