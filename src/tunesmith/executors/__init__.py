"""Executors: run objectives and carry reports back; they hold no tuning logic.

``RayExecutor`` is imported on first use (``from tunesmith.executors import RayExecutor``), so that importing
tunesmith never loads the Ray executor's module; Ray itself is imported when the executor starts.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tunesmith._registry import Registry
from tunesmith._text import counted
from tunesmith.errors import ConfigError
from tunesmith.executors.base import Executor, TrialJob, TrialOutcome
from tunesmith.executors.inline import InlineExecutor
from tunesmith.executors.processes import ProcessExecutor
from tunesmith.executors.simulated import SimulatedExecutor

if TYPE_CHECKING:  # imported on first use, by __getattr__
    from tunesmith.executors.ray import RayExecutor

__all__ = [
    "EXECUTORS",
    "Executor",
    "InlineExecutor",
    "ProcessExecutor",
    "RayExecutor",
    "SimulatedExecutor",
    "TrialJob",
    "TrialOutcome",
    "make_executor",
]


def __getattr__(name: str) -> Any:
    if name == "RayExecutor":
        from tunesmith.executors.ray import RayExecutor

        return RayExecutor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _inline(workers: int = 1, **limits: Any) -> Executor:
    given = sorted(name for name, value in limits.items() if value is not None)
    if given:  # a trial running in this very thread cannot be stopped or capped from outside
        raise ConfigError(
            f"the inline executor cannot enforce {' and '.join(given)}: it runs the objective in the study's own "
            "thread; use executor='processes' (workers=1 is fine), which runs each trial in a child process"
        )
    if workers != 1:
        raise ConfigError(
            f"the inline executor runs one trial at a time, got workers={workers}: "
            "use executor='processes' for parallel trials"
        )
    return InlineExecutor()


def _ray(
    workers: int = 2, *, memory_limit: int | None = None, gpus_per_trial: float | None = None, **options: Any
) -> Executor:
    from tunesmith.executors.ray import RayExecutor

    if memory_limit is not None:
        raise ConfigError(
            "memory_limit is enforced by executor='processes' only: with Ray, give each trial what it needs "
            "through RayExecutor(resources=...) or the cluster's memory settings"
        )
    if gpus_per_trial is not None:  # the processes executor's name for it: Ray's own is num_gpus
        raise ConfigError(
            f"gpus_per_trial is the processes executor's, got gpus_per_trial={gpus_per_trial!r} with executor "
            f"'ray': Ray's is num_gpus, {{name = \"ray\", num_gpus = {gpus_per_trial!r}}} (RayExecutor(num_gpus=...))"
        )
    return RayExecutor(workers, **options)


EXECUTORS: Registry[Executor] = Registry(
    "executor",
    Executor,
    {"inline": _inline, "processes": ProcessExecutor, "ray": _ray, "simulated": SimulatedExecutor},
)


def make_executor(spec: str | Mapping[str, Any] | Executor, workers: int | None = None, **options: Any) -> Executor:
    """An executor from a name (``"inline"``, ``"processes"``, ``"ray"``, ``"simulated"``), a table or an instance.

    Args:
        spec: the executor, its name, or a table of its name and options (``{"name": "ray", "num_gpus": 0.5}``,
            ``{"name": "processes", "gpus_per_trial": 1}``).
        workers: trials at once (the inline executor runs exactly one); not given, 1 for a name, and what an
            instance was built to run, which a count given beside it must match (either would be dropped silently).
        **options: the executor's options (``memory_limit``, ``trial_timeout``...).

    Raises:
        ConfigError: an unknown name (the message lists the known ones), or options the executor refuses.
    """
    if isinstance(spec, Executor):
        return _as_built(spec, workers, options)
    return EXECUTORS.build(spec, workers=1 if workers is None else workers, **options)


_UNSET = object()  # an option the executor has no attribute for: never equal to a value given


def _as_built(executor: Executor, workers: int | None, options: Mapping[str, Any]) -> Executor:
    """``executor`` itself, refused when ``workers`` (given: an explicit 1 too) or an option given beside it asks for
    what it was not built with: an instance runs as its constructor set it, so the option would be dropped and a
    trial meant to stop after ``trial_timeout`` would run on unnoticed."""
    name = type(executor).__name__
    try:
        takes = inspect.signature(type(executor)).parameters
    except (TypeError, ValueError):  # a constructor Python cannot describe: name no option as its own
        takes = inspect.Signature().parameters
    given: list[str] = []
    fixes: list[str] = []
    for option, value in sorted(options.items()):
        if value is None or getattr(executor, option, _UNSET) == value:  # not given, or already what it runs with
            continue
        given.append(f"{option}={value!r}")
        if option in takes:
            fixes.append(f"set {option} on {name}({option}=...)")
        elif option in inspect.signature(ProcessExecutor).parameters:
            elsewhere = (
                f", or give each trial what it needs through {name}(resources=...)" if "resources" in takes else ""
            )
            fixes.append(
                f"{name} cannot enforce {option}: use ProcessExecutor({option}=...), which runs each trial in a "
                f"child process{elsewhere}"
            )
        else:
            fixes.append(f"{name} takes no {option}: drop it")
    running = counted(executor.capacity, "trial")
    if workers is not None and workers != executor.capacity:
        given.append(f"workers={workers}")
        if "workers" in takes:
            fixes.append(f"set workers on {name}(workers={workers})")
        else:
            fixes.append(f"{name} runs {running} at once: use ProcessExecutor(workers={workers})")
    if given:
        raise ConfigError(
            f"options given beside an executor instance are not passed to it, and it was not built with them: got "
            f"{', '.join(given)} with {name} (running {running} at once); {'; '.join(fixes)}, "
            "and pass only executor=... to optimize"
        )
    return executor
