"""Executors: run objectives and carry reports back; they hold no tuning logic."""

from __future__ import annotations

from typing import Any

from tunesmith.errors import ConfigError
from tunesmith.executors.base import Executor, TrialJob, TrialOutcome
from tunesmith.executors.inline import InlineExecutor
from tunesmith.executors.processes import ProcessExecutor
from tunesmith.executors.simulated import SimulatedExecutor

__all__ = [
    "Executor",
    "InlineExecutor",
    "ProcessExecutor",
    "SimulatedExecutor",
    "TrialJob",
    "TrialOutcome",
    "make_executor",
]


def make_executor(spec: str | Executor, workers: int = 1, **options: Any) -> Executor:
    """An executor from a name (``"inline"``, ``"processes"``) or an instance."""
    if isinstance(spec, Executor):
        return spec
    if spec == "inline":
        if workers != 1:
            raise ConfigError(
                f"the inline executor runs one trial at a time, got workers={workers}: "
                "use executor='processes' for parallel trials"
            )
        return InlineExecutor()
    if spec == "processes":
        return ProcessExecutor(workers, **options)
    if spec == "ray":
        from tunesmith.executors.ray import RayExecutor

        if options.get("memory_limit") is not None:
            raise ConfigError(
                "memory_limit is enforced by executor='processes' only: with Ray, give each trial what it needs "
                "through RayExecutor(resources=...) or the cluster's memory settings"
            )
        return RayExecutor(workers, trial_timeout=options.get("trial_timeout"))
    raise ConfigError(f"executor must be 'inline', 'processes' or 'ray', got {spec!r}")
