"""Schedules as search dimensions: tune a schedule's kind, peak rate, warmup and cycle length.

`schedule_params` contributes the parameters to a `Space`; `schedule_from_params` turns a trial's
parameters back into a schedule. Together they let a study tune "warmup + cosine with peak 3e-3
and 6% warmup" as one configuration:

    >>> import tunesmith as ts
    >>> space = ts.Space({
    ...     **ts.lr.schedule_params(1000, kinds=["warmup_cosine", "one_cycle"], peak_lr=(1e-4, 1e-1)),
    ...     "weight_decay": ts.Float(1e-5, 1e-1, log=True),
    ... })
    >>> params = space.sample(np.random.default_rng(0))
    >>> schedule = ts.lr.schedule_from_params(params, total_steps=1000)

Kinds and what the parameters mean for each (``peak`` is ``peak_lr``, ``floor`` is
``peak * min_lr_ratio``):

===================  =====================================================================
``constant``         ``Constant(peak)``
``cosine``           ``CosineAnnealing(peak, total_steps, min_lr=floor)``
``warmup_cosine``    ``WarmupCosine(peak, total_steps, warmup, min_lr=floor)``
``warmup_linear``    ``WarmupLinear(peak, total_steps, warmup, min_lr=floor)``
``one_cycle``        ``OneCycle(peak, total_steps)`` (PyTorch's defaults)
``cyclical``         ``Cyclical(peak / 10, peak, step_size_up=cycle_steps // 2)`` (triangular)
``cyclical_cosine``  ``Cyclical(peak / 10, peak, step_size_up=cycle_steps // 2, shape="cosine")``
``cosine_restarts``  ``CosineWarmRestarts(peak, cycle_steps, min_lr=floor)``
===================  =====================================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tunesmith._validate import integer, real
from tunesmith.errors import ConfigError
from tunesmith.lr.schedules import (
    Constant,
    CosineAnnealing,
    CosineWarmRestarts,
    Cyclical,
    CyclicalShape,
    OneCycle,
    Schedule,
    WarmupCosine,
    WarmupLinear,
)
from tunesmith.space import Choice, Fixed, Float, Int, Param

__all__ = ["SEARCHABLE_KINDS", "schedule_from_params", "schedule_params"]

SEARCHABLE_KINDS: tuple[str, ...] = (
    "constant",
    "cosine",
    "warmup_cosine",
    "warmup_linear",
    "one_cycle",
    "cyclical",
    "cyclical_cosine",
    "cosine_restarts",
)
_WITH_WARMUP = ("warmup_cosine", "warmup_linear")
_WITH_CYCLE = ("cyclical", "cyclical_cosine", "cosine_restarts")
CYCLICAL_DIV = 10.0


def _names(prefix: str) -> dict[str, str]:
    return {key: f"{prefix}{key}" for key in ("schedule", "peak_lr", "warmup", "cycle_steps", "min_lr_ratio")}


def _check_total(total_steps: object) -> int:
    fix = "pass the optimiser steps in one run, e.g. epochs * len(train_loader)"
    return integer("total_steps", total_steps, minimum=1, numpy=True, fix=fix)


def _range(name: str, value: object, example: str) -> tuple[float, float]:
    if (
        not isinstance(value, tuple | list)
        or len(value) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        raise ConfigError(f"{name} must be a (low, high) pair, got {name}={value!r}: pass e.g. {name}={example}")
    return float(value[0]), float(value[1])


def schedule_params(
    total_steps: int,
    kinds: Sequence[str] = ("warmup_cosine", "one_cycle", "cosine"),
    *,
    peak_lr: tuple[float, float] | Float = (1e-4, 1e-1),
    warmup: tuple[float, float] = (0.0, 0.2),
    cycle_steps: tuple[int, int] | None = None,
    min_lr_ratio: float = 0.0,
    prefix: str = "",
) -> dict[str, Param]:
    """The parameters of a schedule search, to merge into a `Space`.

    Args:
        total_steps: optimiser steps in one training run (bounds the cycle length).
        kinds: the schedule kinds to choose among (see the module table). One kind is recorded
            as a `Fixed` parameter; several make a `Choice`.
        peak_lr: the peak-rate range, searched on a log scale; or a `Float`, such as the one
            ``range_test(...).bounds()`` returns.
        warmup: the range of the warmup fraction (only for the warmup kinds).
        cycle_steps: the range of the cycle length in steps (only for ``cyclical`` and
            ``cosine_restarts``); default from ``total_steps // 20`` to ``total_steps // 2``.
        min_lr_ratio: the floor the decays end at, as a fraction of the peak (recorded as `Fixed`).
        prefix: put before every name, to search two schedules in one space (avoid ``"lr_"``:
            names containing ``lr`` are checked against learning-rate bounds).

    Returns:
        ``{"schedule", "peak_lr", "warmup", "cycle_steps", "min_lr_ratio"}`` (prefixed), with
        ``warmup`` and ``cycle_steps`` active only for the kinds that use them.
    """
    total = _check_total(total_steps)
    if isinstance(kinds, str) or not isinstance(kinds, Sequence) or not kinds:
        raise ConfigError(
            f"kinds must be a non-empty list of schedule kinds, got kinds={kinds!r}: pass e.g. ['warmup_cosine']"
        )
    unknown = [k for k in kinds if k not in SEARCHABLE_KINDS]
    if unknown or len(set(kinds)) != len(kinds):
        raise ConfigError(
            f"kinds must be distinct names among {list(SEARCHABLE_KINDS)}, got kinds={list(kinds)!r}: "
            "drop the unknown or repeated names"
        )
    names = _names(prefix)
    if isinstance(peak_lr, Float):
        if not peak_lr.log:
            raise ConfigError(
                f"peak_lr must be searched on a log scale, got {peak_lr!r}: pass Float(low, high, log=True)"
            )
        peak = peak_lr
    else:
        low, high = _range("peak_lr", peak_lr, "(1e-4, 1e-1)")
        if not 0 < low < high:
            raise ConfigError(f"peak_lr needs 0 < low < high, got peak_lr={peak_lr!r}: pass e.g. (1e-4, 1e-1)")
        peak = Float(low, high, log=True)
    real("min_lr_ratio", min_lr_ratio, minimum=0, exclusive_maximum=1, fix="pass e.g. 0.01")
    params: dict[str, Param] = {
        names["schedule"]: Fixed(kinds[0]) if len(kinds) == 1 else Choice(list(kinds)),
        names["peak_lr"]: peak,
    }
    warm_kinds = [k for k in kinds if k in _WITH_WARMUP]
    if warm_kinds:
        low, high = _range("warmup", warmup, "(0.0, 0.2)")
        if not 0 <= low < high < 1:
            raise ConfigError(f"warmup needs 0 <= low < high < 1 (fractions of the run), got warmup={warmup!r}")
        params[names["warmup"]] = Float(low, high, when={names["schedule"]: warm_kinds})
    cycle_kinds = [k for k in kinds if k in _WITH_CYCLE]
    if cycle_kinds:
        if cycle_steps is None:
            low_c, high_c = max(2, total // 20), total // 2
        else:
            low_f, high_f = _range("cycle_steps", cycle_steps, "(100, 1000)")
            low_c, high_c = int(low_f), int(high_f)
        if not 2 <= low_c < high_c:
            raise ConfigError(
                f"cycle_steps needs 2 <= low < high, got ({low_c}, {high_c}) for total_steps={total}: "
                "pass cycle_steps=(low, high) or a longer run"
            )
        params[names["cycle_steps"]] = Int(low_c, high_c, log=True, when={names["schedule"]: cycle_kinds})
    params[names["min_lr_ratio"]] = Fixed(float(min_lr_ratio))
    _check_runnable(params, total, prefix)
    return params


def _check_runnable(params: Mapping[str, Param], total: int, prefix: str) -> None:
    """Refuse a space one of whose kinds cannot run ``total`` steps at an end of its ranges: built at the longest
    warmup and at each end of the cycle, as `schedule_from_params` builds a trial's. Accepted, it failed trial after
    trial (``one_cycle`` over 3 steps: every one of 200; a warmup up to 0.99 of 10 steps: 5 of 200), with a fix
    naming ``pct_start``, which this space does not take."""
    names = _names(prefix)
    kinds, peak, floor = params[names["schedule"]], params[names["peak_lr"]], params[names["min_lr_ratio"]]
    offered = kinds.options if isinstance(kinds, Choice) else (kinds.value,) if isinstance(kinds, Fixed) else ()
    highest = peak.high if isinstance(peak, Float) else None
    ratio = floor.value if isinstance(floor, Fixed) else 0.0
    for kind in offered:
        ends: list[dict[str, Any]] = [{}]
        warmup = params.get(names["warmup"])
        if isinstance(warmup, Float) and kind in _WITH_WARMUP:
            ends = [{names["warmup"]: warmup.low}, {names["warmup"]: warmup.high}]
        cycle = params.get(names["cycle_steps"])
        if isinstance(cycle, Int) and kind in _WITH_CYCLE:
            ends = [{names["cycle_steps"]: cycle.low}, {names["cycle_steps"]: cycle.high}]
        for end in ends:
            trial = {names["schedule"]: kind, names["peak_lr"]: highest, names["min_lr_ratio"]: ratio, **end}
            try:
                schedule_from_params(trial, total, prefix=prefix)
            except ConfigError as exc:
                at = ", ".join(f"{name}={value!r}" for name, value in end.items())
                raise ConfigError(
                    f"schedule_params offers {kind!r}{f' at {at}' if at else ''}, which cannot run total_steps={total} "
                    f"({exc}): narrow that range so that every value fits {total} steps, give a longer run, or leave "
                    f"{kind!r} out of kinds"
                ) from None


def schedule_from_params(params: Mapping[str, Any], total_steps: int, *, prefix: str = "") -> Schedule:
    """Build the schedule a trial's parameters describe (the parameters of `schedule_params`).

    Args:
        params: ``trial.params`` (other parameters are ignored).
        total_steps: optimiser steps in this run; may differ from the value given to
            `schedule_params`, e.g. at a lower fidelity.
        prefix: the prefix given to `schedule_params`.

    Raises:
        ConfigError: a parameter the kind needs is missing, or the kind is unknown.
    """
    total = _check_total(total_steps)
    names = _names(prefix)

    def get(key: str) -> Any:
        if names[key] not in params:
            raise ConfigError(
                f"parameter {names[key]!r} is missing from {sorted(params)}: build the space with "
                f"schedule_params(..., prefix={prefix!r}) and pass trial.params"
            )
        return params[names[key]]

    kind = get("schedule")
    peak = float(get("peak_lr"))
    floor = peak * float(params.get(names["min_lr_ratio"], 0.0))
    if kind == "constant":
        return Constant(peak)
    if kind == "cosine":
        return CosineAnnealing(peak, total, min_lr=floor)
    if kind == "warmup_cosine":
        return WarmupCosine(peak, total, warmup=float(get("warmup")), min_lr=floor)
    if kind == "warmup_linear":
        return WarmupLinear(peak, total, warmup=float(get("warmup")), min_lr=floor)
    if kind == "one_cycle":
        return OneCycle(peak, total)
    if kind in ("cyclical", "cyclical_cosine"):
        step_up = max(1, int(get("cycle_steps")) // 2)
        shape: CyclicalShape = "cosine" if kind == "cyclical_cosine" else "triangle"
        return Cyclical(peak / CYCLICAL_DIV, peak, step_size_up=step_up, shape=shape)
    if kind == "cosine_restarts":
        return CosineWarmRestarts(peak, int(get("cycle_steps")), min_lr=floor)
    raise ConfigError(
        f"{names['schedule']}={kind!r} is not a searchable schedule kind: use one of {list(SEARCHABLE_KINDS)}"
    )
