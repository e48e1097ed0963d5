"""A study's constructor arguments, checked once: every rule with the value received and the fix."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tunesmith._text import excerpt
from tunesmith._validate import integer, real
from tunesmith.budget import Budget
from tunesmith.errors import ConfigError
from tunesmith.objective import Guardrail, Metric, metric_named
from tunesmith.pareto import reference_losses
from tunesmith.samplers import CMAES, Sampler
from tunesmith.schedulers import PBT, AutoScheduler, MedianStop, Scheduler
from tunesmith.space import Space

__all__ = [
    "DEFAULT_GRACE",
    "DEFAULT_HEARTBEAT_INTERVAL",
    "Settings",
    "check_grace",
    "check_objectives",
    "check_search_objectives",
]

DEFAULT_HEARTBEAT_INTERVAL = 10.0
DEFAULT_GRACE = 300.0


@dataclass(frozen=True)
class Settings:
    """The checked arguments of `Study`. The ``given_*`` fields keep what the caller passed (``None``
    when omitted), so that reopening a stored study can tell a contradiction from an omission;
    ``guardrails`` and ``budget`` are what a new study is created with; ``space`` is ``None`` when the
    caller gave none (define-by-run, or the stored space of a study reopened). ``objectives`` holds every
    objective of a multi-objective study (``metric`` is the first), and is empty for a single-objective one."""

    space: Space | None
    metric: Metric
    guardrails: tuple[Guardrail, ...]
    budget: Budget
    divergence_factor: float | None
    trial_cost: float | None
    keep_checkpoints: int
    given_seed: int | None
    given_retries: int | None
    given_interval: float | None
    given_grace: float | None
    given_guardrails: tuple[Guardrail, ...] | None = None
    given_budget: Budget | None = None
    objectives: tuple[Metric, ...] = ()
    given_reference: dict[str, float] | None = None

    @property
    def heartbeat_interval(self) -> float:
        return DEFAULT_HEARTBEAT_INTERVAL if self.given_interval is None else self.given_interval

    @property
    def grace(self) -> float:
        return DEFAULT_GRACE if self.given_grace is None else self.given_grace

    @classmethod
    def check(
        cls,
        *,
        space: Any,
        metric: Any,
        metrics: Sequence[Any] | None = None,
        reference_point: Mapping[str, Any] | None = None,
        guardrails: Sequence[Any] | None,
        budget: Any,
        seed: Any,
        heartbeat_interval: Any,
        grace: Any,
        retries: Any,
        keep_checkpoints: Any,
        divergence_factor: Any,
        trial_cost: Any,
    ) -> Settings:
        """Check every argument; raise `ConfigError` naming the rule, the value and the fix."""
        if space is not None and not isinstance(space, Space):
            raise ConfigError(_not_a_space(space))
        checked_metric, objectives = check_objectives(metric, metrics)
        given_reference = _check_reference(reference_point, objectives)
        if guardrails is not None and not isinstance(guardrails, Sequence):
            raise ConfigError(f"guardrails must be a list of ts.Guardrail, got {guardrails!r}: wrap it in a list")
        given_guardrails = None if guardrails is None else tuple(guardrails)
        for guardrail in given_guardrails or ():
            if not isinstance(guardrail, Guardrail):
                raise ConfigError(f"guardrails must be ts.Guardrail objects, got {guardrail!r}")
        checked_budget = budget or Budget()
        if not isinstance(checked_budget, Budget):
            raise ConfigError(f"budget must be a ts.Budget, got {budget!r}")
        if checked_budget.until_converged and objectives:
            raise ConfigError(
                f"until_converged reads one metric, got a study with {len(objectives)} objectives "
                f"({', '.join(m.name for m in objectives)}): a front has no single best to converge on; drop "
                "until_converged, or tune one objective with the others as guardrails"
            )
        if divergence_factor is not None and not (
            isinstance(divergence_factor, int | float) and divergence_factor > 1 and math.isfinite(divergence_factor)
        ):
            raise ConfigError(
                f"divergence_factor must be > 1 or None, got {divergence_factor!r}: use 10 to stop a loss that "
                "grows tenfold over its first value, or None to disable"
            )
        settings = cls(
            space=space,
            metric=checked_metric,
            guardrails=given_guardrails or (),
            budget=checked_budget,
            given_guardrails=given_guardrails,
            given_budget=None if budget is None else checked_budget,
            objectives=objectives,
            given_reference=given_reference,
            divergence_factor=divergence_factor,
            trial_cost=real("trial_cost", trial_cost, exclusive_minimum=0, allow_none=True),
            keep_checkpoints=integer("keep_checkpoints", keep_checkpoints, minimum=0),
            given_seed=integer("seed", seed, minimum=0, allow_none=True),
            given_retries=integer("retries", retries, minimum=0, allow_none=True),
            given_interval=real(
                "heartbeat_interval", heartbeat_interval, exclusive_minimum=0, allow_none=True,
                fix="pass the seconds between heartbeats, e.g. 10",
            ),
            given_grace=real(
                "grace", grace, exclusive_minimum=0, allow_none=True,
                fix="pass the seconds of silence after which a trial counts as lost, e.g. 300",
            ),
        )  # fmt: skip
        check_grace(settings.heartbeat_interval, settings.grace)
        return settings


def _not_a_space(space: Any) -> str:
    """Why ``space``, given where `Study` takes its search space (its first argument), is refused, and the fix."""
    rule = "the first argument of ts.Study is the search space, a ts.Space or None"
    if isinstance(space, str | Metric):  # the Optuna habit of naming the metric first: ts.Study("loss")
        given = excerpt(repr(space) if isinstance(space, str) else f"ts.{space!r}")
        return (
            f"{rule}, got {given} ({type(space).__name__}): the metric goes in metric=, e.g. "
            f"ts.Study(space, metric={given}), "
            f"or ts.Study(metric={given}) to ask for parameters in the objective (trial.suggest_float...)"
        )
    fix = "wrap the dict in ts.Space" if isinstance(space, Mapping) else "pass ts.Space({'x': ts.Float(0, 1), ...})"
    return (
        f"{rule}, got {type(space).__name__} {excerpt(repr(space))}: {fix}, or pass none and ask for parameters in "
        "the objective (trial.suggest_float...)"
    )


def _metric(value: Any, what: str) -> Metric:
    checked = metric_named(value) if isinstance(value, str) else value
    if not isinstance(checked, Metric):
        raise ConfigError(f"{what} must be a name or ts.Metric, got {value!r}: pass e.g. ts.Metric('val_loss', 'min')")
    return checked


def check_objectives(metric: Any, metrics: Sequence[Any] | None) -> tuple[Metric, tuple[Metric, ...]]:
    """The primary metric and every objective (empty for one objective) from ``metric=`` or ``metrics=``.

    ``metric`` ``None`` means the default, ``"value"``; one entry in ``metrics`` is a single-objective study.
    """
    if metrics is None:
        return _metric("value" if metric is None else metric, "metric"), ()
    if metric is not None:
        raise ConfigError(
            f"pass either metric= or metrics=, got metric={metric!r} and metrics={metrics!r}: use metrics=[...] "
            "for several objectives and metric= for one"
        )
    if isinstance(metrics, str | Metric) or not isinstance(metrics, Sequence) or not metrics:
        raise ConfigError(
            f"metrics must be a non-empty list of ts.Metric, got metrics={metrics!r}: pass e.g. "
            "[ts.Metric('val_loss', 'min'), ts.Metric('latency_ms', 'min')]"
        )
    objectives = tuple(_metric(m, "each of metrics") for m in metrics)
    names = [m.name for m in objectives]
    if len(set(names)) != len(names):
        raise ConfigError(f"metrics must have distinct names, got {names}: give each objective once")
    return objectives[0], objectives if len(objectives) > 1 else ()


def check_search_objectives(sampler: Sampler, scheduler: Scheduler, objectives: tuple[Metric, ...]) -> None:
    """Refuse, on a study of several ``objectives``, a sampler or scheduler that ranks trials by the first alone.

    CMA-ES, median stopping and PBT read one metric: given several objectives they would optimise the first and
    drop the others without a word, so the study is refused before anything is stored.

    Raises:
        ConfigError: naming the rule, the study's objectives and the samplers or schedulers that take them all.
    """
    if len(objectives) < 2:
        return
    study = f"got a study with {len(objectives)} objectives ({', '.join(m.name for m in objectives)})"
    if isinstance(sampler, CMAES):
        raise ConfigError(
            f"sampler 'cmaes' optimises one objective (it ranks trials by the first alone), {study}: use "
            "sampler='auto' (it picks the GP, TPE or NSGA-II for several objectives), 'gp', 'tpe' or 'nsga2', "
            "or metric= for one objective"
        )
    chosen = scheduler.chosen if isinstance(scheduler, AutoScheduler) else scheduler
    if isinstance(chosen, MedianStop | PBT):
        what = f"scheduler {chosen.name!r}" if chosen is scheduler else f"scheduler 'auto' (here {chosen.name!r})"
        acts = "stops and replaces" if isinstance(chosen, PBT) else "stops"
        raise ConfigError(
            f"{what} {acts} trials by one objective (the first alone), {study}: use scheduler='asha', "
            "'hyperband' or 'successive_halving' (they rank trials by non-dominated sorting of every objective), "
            "None (every trial runs to its end), or metric= for one objective"
        )


def _check_reference(reference: Mapping[str, Any] | None, objectives: tuple[Metric, ...]) -> dict[str, float] | None:
    if reference is None:
        return None
    if not objectives:
        raise ConfigError(
            f"reference_point is for several objectives (the hypervolume's bound), got reference_point={reference!r} "
            "with one metric: pass metrics=[...] or drop reference_point"
        )
    if not isinstance(reference, Mapping):
        raise ConfigError(f"reference_point must be a dict of objective -> value, got {reference!r}")
    reference_losses(reference, objectives)  # checks the names and the values
    return {m.name: float(reference[m.name]) for m in objectives}


def check_grace(interval: float, grace: float) -> None:
    """Refuse a grace period a live worker's heartbeats could not keep within."""
    if grace <= interval:
        raise ConfigError(
            f"grace must exceed heartbeat_interval, got grace={grace!r} <= heartbeat_interval={interval!r}: "
            "a live worker would be taken for lost; use grace of several intervals"
        )
