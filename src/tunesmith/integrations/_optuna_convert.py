"""Optuna's data in tunesmith's terms: distributions as parameters, a study's spaces as one `Space`, trials as records.

Shared by the importer and `TunesmithSampler` (`tunesmith.integrations.optuna`). Needs the ``optuna`` extra.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tunesmith.errors import ConfigError, require
from tunesmith.space import Choice, Fixed, Float, Int, Param, Space
from tunesmith.trial import TrialKind, TrialRecord, TrialState

require("optuna", "optuna")  # MissingExtra, naming the extra, when Optuna is absent

from optuna.distributions import (  # noqa: E402 - after the check that names the extra
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import FrozenTrial  # noqa: E402
from optuna.trial import TrialState as OptunaState  # noqa: E402

__all__ = ["CONSTRAINT_PREFIX", "InferredSpace", "constraints_of", "infer_space", "param_of", "record_of"]

# Where Optuna keeps a trial's constraint values (``constraints_func`` of its samplers, ``Trial.set_constraint``): a
# system attribute ``constraints``, a list of floats, and, from Optuna 5, ``constraints:<name>`` per named value.
# Optuna counts a trial feasible when every value is <= 0.
_OPTUNA_CONSTRAINTS = "constraints"
# An imported constraint value is kept as the metric ``constraint_<index or name>``.
CONSTRAINT_PREFIX = "constraint_"

# What each Optuna state becomes when a trial is imported: a state, a kind (for code) and a reason (for people).
# A trial RUNNING or WAITING in Optuna is never evaluated here, so it is a FAILED interruption: it spends no
# trial budget and no sampler learns from it (a WAITING one is queued to run; see the importer).
IMPORTED_STATES: dict[OptunaState, tuple[TrialState, TrialKind | None, str | None]] = {
    OptunaState.COMPLETE: (TrialState.COMPLETE, None, None),
    OptunaState.PRUNED: (TrialState.STOPPED, TrialKind.SCHEDULER, "pruned (Optuna)"),
    OptunaState.FAIL: (TrialState.FAILED, TrialKind.EXCEPTION, "failed (Optuna)"),
    OptunaState.RUNNING: (TrialState.FAILED, TrialKind.INTERRUPTED, "running in Optuna when imported"),
    OptunaState.WAITING: (TrialState.FAILED, TrialKind.INTERRUPTED, "waiting in Optuna when imported"),
}


def param_of(name: str, distribution: BaseDistribution) -> Param:
    """The tunesmith parameter for one Optuna distribution (a single-valued one is `Fixed`).

    Raises:
        ConfigError: a distribution type tunesmith has no parameter for.
    """
    return _merged(name, [distribution])


def _merged(name: str, distributions: Sequence[BaseDistribution]) -> Param:
    """One parameter covering every distribution ``name`` had across trials (their union: the widest bounds,
    every category), so that every recorded value is a valid value of it."""
    kinds = {type(d).__name__ for d in distributions}
    if len(kinds) > 1:
        raise ConfigError(
            f"parameter {name!r} has distributions of different types across trials ({sorted(kinds)}): a tunesmith "
            "parameter has one type; import a study whose trials ask for it one way"
        )
    first = distributions[0]
    categorical = [d for d in distributions if isinstance(d, CategoricalDistribution)]
    if categorical:
        options = {json.dumps(choice): choice for d in categorical for choice in d.choices}  # first seen first
        values = list(options.values())
        return Fixed(values[0]) if len(values) == 1 else Choice(values)
    numeric = [d for d in distributions if isinstance(d, FloatDistribution | IntDistribution)]
    if numeric:
        logs = {bool(d.log) for d in numeric}
        if len(logs) > 1:
            raise ConfigError(
                f"parameter {name!r} is log-scaled in some trials and not in others: a tunesmith parameter has one "
                "scale; import a study whose trials ask for it one way"
            )
        low, high = min(d.low for d in numeric), max(d.high for d in numeric)
        if low == high:
            return Fixed(low)
        if isinstance(first, IntDistribution):
            # Each value lies on its own trial's grid, low + k * step: the gcd of the steps and offsets keeps all.
            int_step = math.gcd(*(int(d.step or 1) for d in numeric), *(int(d.low - low) for d in numeric))
            return Int(int(low), int(high), log=logs.pop(), step=int_step)
        steps = {d.step for d in numeric}
        step = steps.pop() if len(steps) == 1 else None
        if step is not None and any(not _on_grid(d.low - low, step) for d in numeric):
            step = None  # grids that do not line up: the union is the continuous range
        return Float(float(low), float(high), log=logs.pop(), step=step)
    raise ConfigError(
        f"parameter {name!r} has an Optuna distribution tunesmith cannot represent: {first!r}; tunesmith reads "
        "FloatDistribution, IntDistribution and CategoricalDistribution"
    )


def _on_grid(offset: float, step: float) -> bool:
    return abs(offset / step - round(offset / step)) < 1e-9


@dataclass(frozen=True)
class InferredSpace:
    """A study's parameters as one `Space`.

    Attributes:
        space: every parameter any trial asked for, with the union of its distributions.
        optional: parameters some trials lack for no reason the other parameters explain. They stay
            unconditional in ``space``: a trial without one is stored without it (its samplers, and a warm
            start from the imported study, read it as inactive there), and every new trial gets a value.
    """

    space: Space
    optional: tuple[str, ...] = ()


def infer_space(trials: Sequence[FrozenTrial]) -> InferredSpace:
    """The `Space` of Optuna's define-by-run trials.

    Each parameter's distributions across all trials become one parameter (their union). Which parameters a
    trial asks for is read from the COMPLETE trials (from all when none completed): a trial that failed or
    is still running may have stopped before asking for all of its own. A parameter every such trial asked
    for is unconditional. One asked in only some is conditional on a discrete parameter (categorical or
    integer) when that parameter's value tells exactly when it was asked: it is present in every trial where
    the child is, and the values it took then never occur in a trial without the child (``momentum`` asked
    only when ``optimizer == "sgd"`` becomes ``Float(..., when={"optimizer": ["sgd"]})``). Parents are looked
    for among parameters asked at least as often, so no condition forms a cycle. Any other parameter is
    `InferredSpace.optional`.

    Raises:
        ConfigError: no trial asked for any parameter, or one parameter asked in two incompatible ways.
    """
    asked = [t for t in trials if t.distributions]
    if not asked:
        raise ConfigError(
            "the Optuna study has no trial with parameters, so there is no search space to import: "
            "run at least one trial in Optuna first"
        )
    distributions: dict[str, list[BaseDistribution]] = {}
    for trial in asked:
        for name, distribution in trial.distributions.items():
            distributions.setdefault(name, []).append(distribution)
    params = {name: _merged(name, found) for name, found in distributions.items()}
    whole = [t for t in asked if t.state is OptunaState.COMPLETE] or asked
    present = {name: {i for i, t in enumerate(whole) if name in t.params} for name in params}
    # Most often asked first (first asked first among equals): a parent always comes before its children.
    order = sorted(params, key=lambda n: -len(present[n]))
    optional: list[str] = []
    for position, name in enumerate(order):
        if len(present[name]) == len(whole):
            continue
        when = _condition(name, order[:position], params, present, whole) if present[name] else None
        if when is None:
            optional.append(name)
        else:
            params[name] = Param.from_json({**params[name].to_json(), "when": when})
    return InferredSpace(Space(params), tuple(n for n in params if n in optional))


def _condition(
    name: str,
    candidates: Sequence[str],
    params: Mapping[str, Param],
    present: Mapping[str, set[int]],
    trials: Sequence[FrozenTrial],
) -> dict[str, list[Any]] | None:
    """``{parent: values}`` such that ``name`` was asked exactly when ``parent`` took one of ``values``.

    Of several such parents, the simplest explanation wins: a categorical before an integer (whose many
    values may split the trials by chance), then the fewest values.
    """
    with_child = present[name]
    found: list[tuple[bool, int, dict[str, list[Any]]]] = []
    for parent in candidates:
        if not isinstance(params[parent], Choice | Int) or not with_child <= present[parent]:
            continue
        taken = {json.dumps(trials[i].params[parent]): trials[i].params[parent] for i in with_child}
        without = {json.dumps(trials[i].params[parent]) for i in present[parent] - with_child}
        if without.isdisjoint(taken):
            found.append((not isinstance(params[parent], Choice), len(taken), {parent: list(taken.values())}))
    return min(found, key=lambda f: f[:2])[2] if found else None


def constraints_of(trial: FrozenTrial) -> dict[str, float]:
    """The constraint values Optuna recorded for ``trial``, by index (``"0"``, ``"1"``, ...) or name; empty when
    there are none (no constraints, or a ``constraints_func`` that raised)."""
    found: dict[str, float] = {}
    listed = trial.system_attrs.get(_OPTUNA_CONSTRAINTS)
    if isinstance(listed, list | tuple):
        found.update({str(i): float(v) for i, v in enumerate(listed)})
    prefix = f"{_OPTUNA_CONSTRAINTS}:"
    found.update({k[len(prefix) :]: float(v) for k, v in trial.system_attrs.items() if k.startswith(prefix)})
    return found


def _violated(constraints: Mapping[str, float]) -> str | None:
    """Why Optuna counts a trial with these constraint values infeasible (some value is not <= 0), else ``None``.

    Optuna's own rule, applied as it applies it, so that the feasible trials here are those Optuna ranks."""
    broken = [f"constraint {key} = {value:g} > 0" for key, value in constraints.items() if not value <= 0]
    if not broken:
        return None
    return f"Optuna constraint violated: {'; '.join(broken)} (Optuna counts a trial feasible when every value is <= 0)"


def record_of(
    trial: FrozenTrial, metric: str | Sequence[str], *, seed: int = 0, step_offset: int = 0, live: bool = False
) -> TrialRecord:
    """One Optuna trial as a tunesmith record (number, parameters, state, value, curve, attributes, times).

    The value is the metric ``metric`` (with several objectives, a name per objective, in Optuna's order);
    each intermediate value is reported at ``step + step_offset`` (tunesmith's steps count resource units
    done, from 1). ``live`` keeps a RUNNING trial RUNNING (what `TunesmithSampler` sees: a pending point);
    otherwise states map as `IMPORTED_STATES` says. A COMPLETE trial with a non-finite value is FAILED of
    kind NON_FINITE, as tunesmith records one. Optuna's constraint values (`constraints_of`) become the metrics
    ``constraint_0``, ... (``constraint_<name>`` for a named one); a COMPLETE trial that violates one (a value
    above 0) is INFEASIBLE of kind GUARDRAIL, as tunesmith records a breached guardrail, its reason naming each
    violated constraint and its value.

    Raises:
        ConfigError: an objective named as a constraint's metric is (``constraint_0``, ...).
    """
    if live and trial.state is OptunaState.RUNNING:
        state, kind, reason = TrialState.RUNNING, None, None
    else:
        state, kind, reason = IMPORTED_STATES[trial.state]
    names = [metric] if isinstance(metric, str) else list(metric)
    metric = names[0]
    metrics: dict[str, float] = {}
    if trial.values is not None:  # a PRUNED trial's value is its last intermediate value
        metrics.update({name: float(value) for name, value in zip(names, trial.values, strict=False)})
        broken = next((name for name in names if name in metrics and not math.isfinite(metrics[name])), None)
        if state is TrialState.COMPLETE and broken is not None:
            state, kind, reason = TrialState.FAILED, TrialKind.NON_FINITE, f"{broken} is {metrics[broken]} (Optuna)"
    curve = {int(step) + step_offset: {metric: float(v)} for step, v in sorted(trial.intermediate_values.items())}
    if state is TrialState.STOPPED and not metrics and curve:
        metrics = dict(curve[max(curve)])
    constraints = constraints_of(trial)
    clash = sorted({f"{CONSTRAINT_PREFIX}{key}" for key in constraints} & set(names))
    if clash:
        raise ConfigError(
            f"objective names and Optuna constraint metrics must differ, but {clash} names both an objective and a "
            f"constraint of trial {trial.number}: rename the objectives in Optuna (study.set_metric_names)"
        )
    metrics.update({f"{CONSTRAINT_PREFIX}{key}": value for key, value in constraints.items()})
    violated = _violated(constraints)
    if state is TrialState.COMPLETE and violated is not None:
        state, kind, reason = TrialState.INFEASIBLE, TrialKind.GUARDRAIL, violated
    started = trial.datetime_start.timestamp() if trial.datetime_start is not None else None
    finished = trial.datetime_complete.timestamp() if trial.datetime_complete is not None else None
    if state.is_finished and finished is None:
        finished = started  # never seen ending (RUNNING or WAITING in Optuna): no running time is claimed
    error = trial.system_attrs.get("fail_reason")
    attrs: dict[str, Any] = {"optuna": {"number": trial.number, "state": trial.state.name}}
    if trial.user_attrs:
        attrs["user_attrs"] = dict(trial.user_attrs)
    return TrialRecord(
        number=trial.number,
        params=dict(trial.params),
        seed=seed,
        state=state,
        metrics=metrics,
        intermediate=curve,
        resource=float(max(curve)) if curve else 0.0,
        started_at=started,
        finished_at=finished if state.is_finished else None,
        reason=reason,
        kind=kind,
        error=error if isinstance(error, str) else None,
        attrs=attrs,
    )
