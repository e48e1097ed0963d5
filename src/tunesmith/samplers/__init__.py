"""Samplers: decide the next configuration from the history alone."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tunesmith.errors import ConfigError
from tunesmith.samplers.auto import Auto
from tunesmith.samplers.base import Sampler, SearchContext
from tunesmith.samplers.gp import GP
from tunesmith.samplers.grid import Grid
from tunesmith.samplers.qmc import Sobol
from tunesmith.samplers.random import Random
from tunesmith.samplers.tpe import TPE

__all__ = ["GP", "SAMPLERS", "TPE", "Auto", "Grid", "Random", "Sampler", "SearchContext", "Sobol", "make_sampler"]

SAMPLERS: dict[str, type[Sampler]] = {
    "auto": Auto,
    "random": Random,
    "grid": Grid,
    "sobol": Sobol,
    "tpe": TPE,
    "gp": GP,
}


def make_sampler(spec: str | Mapping[str, Any] | Sampler | None) -> Sampler:
    """A sampler from an instance, a name (``"tpe"``) or a table (``{"name": "grid", "points": 3}``)."""
    if spec is None:
        return Auto()
    if isinstance(spec, Sampler):
        return spec
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, Mapping) or "name" not in spec:
        raise ConfigError(f"sampler must be a name or a table with 'name', got {spec!r}")
    options = dict(spec)
    name = str(options.pop("name")).lower()
    if name not in SAMPLERS:
        raise ConfigError(f"unknown sampler {name!r}: choose one of {sorted(SAMPLERS)}")
    try:
        return SAMPLERS[name](**options)
    except TypeError as exc:
        raise ConfigError(f"invalid options for sampler {name!r}: {exc}") from None
