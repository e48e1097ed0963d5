"""Schedulers: decide after each report whether a trial continues, stops or pauses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tunesmith.decision import Decision
from tunesmith.errors import ConfigError
from tunesmith.schedulers.auto import AutoScheduler
from tunesmith.schedulers.base import Continuation, Promotion, Scheduler
from tunesmith.schedulers.fifo import FIFO
from tunesmith.schedulers.median import MedianStop
from tunesmith.schedulers.pbt import PBT
from tunesmith.schedulers.successive_halving import ASHA, Hyperband, SuccessiveHalving

__all__ = [
    "ASHA",
    "FIFO",
    "AutoScheduler",
    "PBT",
    "SCHEDULERS",
    "Continuation",
    "Decision",
    "Hyperband",
    "MedianStop",
    "Promotion",
    "Scheduler",
    "SuccessiveHalving",
    "make_scheduler",
]

SCHEDULERS: dict[str, type[Scheduler]] = {
    "fifo": FIFO,
    "asha": ASHA,
    "successive_halving": SuccessiveHalving,
    "hyperband": Hyperband,
    "median": MedianStop,
    "pbt": PBT,
    "auto": AutoScheduler,
}


def make_scheduler(spec: str | Mapping[str, Any] | Scheduler | None) -> Scheduler:
    """A scheduler from an instance, ``None`` (FIFO), a name or a table with ``name``."""
    if spec is None:
        return FIFO()
    if isinstance(spec, Scheduler):
        return spec
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, Mapping) or "name" not in spec:
        raise ConfigError(f"scheduler must be a name or a table with 'name', got {spec!r}")
    options = dict(spec)
    name = str(options.pop("name")).lower()
    if name not in SCHEDULERS:
        raise ConfigError(f"unknown scheduler {name!r}: choose one of {sorted(SCHEDULERS)}")
    try:
        return SCHEDULERS[name](**options)
    except TypeError as exc:
        raise ConfigError(f"invalid options for scheduler {name!r}: {exc}") from None
