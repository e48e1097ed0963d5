"""Narrowing advice on a stepped Float names a bound on the parameter's step grid. With ``drop = Float(0, 0.48,
step=0.04)`` failing at 0.28 and above, the advice was "narrow drop to at most 0.26", a range ``ts.Float`` refuses
(high - low must be a whole number of steps): the bound was rounded outward as for a continuous range."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.analysis import Diagnosis, diagnose
from tunesmith.trial import TrialKind, TrialRecord, TrialState

STEPS = np.arange(1, 11)
LOSS = ts.Metric("val_loss", "min")


def _record(number: int, value: float, diverges: bool) -> TrialRecord:
    """A trial of ``drop=value``: a healthy curve a little higher the higher ``value``, or one that turns NaN."""
    noise = np.random.default_rng(number).normal(0.0, 0.01, len(STEPS))
    curve = [float(v) for v in 0.3 + 1.0 / STEPS + noise + 0.2 * value]
    if diverges:
        curve = [*curve[:3], math.nan]
    return TrialRecord(
        number=number,
        params={"drop": value},
        seed=number,
        state=TrialState.STOPPED if diverges else TrialState.COMPLETE,
        kind=TrialKind.DIVERGED if diverges else None,
        metrics={"val_loss": curve[-1]},
        # A diverged curve ends at its NaN, where the study stopped it.
        intermediate={int(step): {"val_loss": v} for step, v in zip(STEPS, curve, strict=False)},
    )


def _grid(param: ts.Float) -> list[float]:
    return [float(v) for v in param.grid_values(int(param.cardinality()))]


def _study(grid: list[float], fails: Callable[[float], bool], repeats: int = 3) -> list[TrialRecord]:
    """``repeats`` trials at every value of ``grid``; those where ``fails`` holds diverge."""
    return [_record(len(grid) * r + i, v, fails(v)) for r in range(repeats) for i, v in enumerate(grid)]


def _narrowing(result: Diagnosis) -> tuple[str, float]:
    found = [s.text for s in result.suggestions if s.text.startswith("narrow drop to at ")]
    assert len(found) == 1, result.lines()
    side, bound = found[0].removeprefix("narrow drop to at ").split(" ")
    return side, float(bound)


def test_narrowing_a_stepped_float_from_above_advises_a_range_the_space_accepts() -> None:
    drop = ts.Float(0.0, 0.48, step=0.04)
    grid = _grid(drop)
    records = _study(grid, lambda v: v >= 0.27)
    side, bound = _narrowing(diagnose(records, ts.Space({"drop": drop}), LOSS))
    assert side == "most"
    narrowed = ts.Float(drop.low, bound, step=drop.step)  # raises SpaceError for a bound off the grid
    assert narrowed.high == max(v for v in grid if v < 0.27)  # every value that trained is kept


def test_narrowing_a_stepped_float_from_below_advises_a_range_the_space_accepts() -> None:
    drop = ts.Float(0.05, 0.85, step=0.08)
    grid = _grid(drop)
    records = _study(grid, lambda v: v <= 0.3)
    side, bound = _narrowing(diagnose(records, ts.Space({"drop": drop}), LOSS))
    assert side == "least"
    narrowed = ts.Float(bound, drop.high, step=drop.step)  # raises SpaceError for a bound off the grid
    assert narrowed.low == min(v for v in grid if v > 0.3)


@pytest.mark.timeout(30)
def test_narrowing_a_wide_int_range_names_its_bound_without_listing_the_range() -> None:
    """``Int(1, 10**15)``: the bound is found by bisection of the values; listing them (Int(1, 2e7) took 0.8 s and
    530 MB) would never end here."""
    wide = ts.Int(1, 10**15)
    values = [int(v) for v in np.geomspace(1, 10**15, 36)]
    records = [replace(_record(i, 0.0, v > 10**12), params={"n": v}) for i, v in enumerate(values)]
    found = [s.text for s in diagnose(records, ts.Space({"n": wide}), LOSS).suggestions if "narrow n" in s.text]
    kept = max(v for v in values if v <= 10**12)
    assert len(found) == 1 and found[0].startswith("narrow n to at most "), found
    bound = int(found[0].rsplit(" ", 1)[1])
    assert kept <= bound < min(v for v in values if v > 10**12)
