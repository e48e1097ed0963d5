"""Samplers: decide the next configuration from the history alone."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tunesmith._registry import Registry
from tunesmith.samplers.auto import Auto
from tunesmith.samplers.base import Sampler, SearchContext
from tunesmith.samplers.cmaes import CMAES
from tunesmith.samplers.gp import GP
from tunesmith.samplers.grid import Grid, SparseGridWarning
from tunesmith.samplers.nsga2 import NSGA2
from tunesmith.samplers.qmc import Sobol
from tunesmith.samplers.random import Random
from tunesmith.samplers.tpe import TPE

__all__ = [
    "CMAES",
    "GP",
    "NSGA2",
    "SAMPLERS",
    "TPE",
    "Auto",
    "Grid",
    "Random",
    "Sampler",
    "SearchContext",
    "Sobol",
    "SparseGridWarning",
    "make_sampler",
]

SAMPLERS: Registry[Sampler] = Registry(
    "sampler",
    Sampler,
    {
        "auto": Auto,
        "random": Random,
        "grid": Grid,
        "sobol": Sobol,
        "tpe": TPE,
        "gp": GP,
        "cmaes": CMAES,
        "nsga2": NSGA2,
    },
    default=Auto,
)


def make_sampler(spec: str | Mapping[str, Any] | Sampler | None) -> Sampler:
    """A sampler from an instance, ``None`` (`Auto`), a name (``"tpe"``) or a table (``{"name": "grid", "points": 3}``).

    Raises:
        ConfigError: an unknown name (the message lists the known ones), or options the sampler refuses.
    """
    return SAMPLERS.build(spec)
