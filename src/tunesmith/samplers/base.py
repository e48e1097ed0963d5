"""The sampler protocol: a pure function from (space, history, rng, context) to a configuration."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from tunesmith._validate import checked_arguments
from tunesmith.context import SearchContext
from tunesmith.space import Space
from tunesmith.trial import TrialRecord

__all__ = ["Sampler", "SearchContext"]  # SearchContext is re-exported from tunesmith.context


class Sampler(ABC):
    """Proposes the next configuration.

    Subclasses implement `suggest`, which must:

    * return a configuration valid for ``space`` (``space.validate(params)`` passes);
    * depend only on its arguments and the sampler's constructor settings, drawing all
      randomness from ``rng`` -- the same history and rng state give the same answer;
    * treat ``history`` as read-only; it holds every trial of the study, RUNNING ones
      included, so parallel workers can avoid piling onto one point;
    * raise `SearchSpaceExhausted` when a finite sampler has nothing left to propose.

    Samplers hold no reference to a study or storage and are safe to share between studies. Every
    subclass's constructor answers a misspelt argument with the closest name it takes
    (`tunesmith._validate.checked_arguments`).
    """

    name: str = "sampler"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        checked_arguments()(cls)

    @abstractmethod
    def suggest(
        self,
        space: Space,
        history: Sequence[TrialRecord],
        rng: np.random.Generator,
        context: SearchContext,
    ) -> dict[str, Any]:
        """The next configuration to evaluate."""

    def describe(self) -> dict[str, Any]:
        """The sampler's name and settings, recorded with the study."""
        return {"name": self.name}

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in self.describe().items() if k != "name")
        return f"{type(self).__name__}({settings})"
