"""Stepped parameters: every grid value equally likely, ranges that are whole numbers of steps, clean
values, and an encoding whose bins the samplers read back as the same values."""

from __future__ import annotations

import collections
import math
from pathlib import Path

import numpy as np
import pytest

import tunesmith as ts
from tunesmith import Float, Int, Space, SpaceError


def test_a_stepped_float_draws_every_grid_value_equally_often() -> None:
    """Rounding low + u * (high - low) to the step gave the two end values half-width bins (0.127 and 0.121)."""
    param = Float(0.0, 1.0, step=0.25)
    rng = np.random.default_rng(0)
    draws = 40_000
    counts = collections.Counter(param.sample(rng) for _ in range(draws))
    assert sorted(counts) == [0.0, 0.25, 0.5, 0.75, 1.0]
    # One share's standard error is sqrt(0.2 * 0.8 / 40000) = 0.002: allow six of them, the old ends sat 36 away.
    assert all(abs(count / draws - 0.2) < 0.012 for count in counts.values()), counts


def test_sobol_spreads_a_stepped_float_evenly_over_its_values() -> None:
    """512 Sobol trials gave the end values 64 each and the inner ones 128."""
    space = Space({"s": Float(0.0, 1.0, step=0.25), "x": Float(0.0, 1.0)})
    study = ts.Study(space, metric="loss", sampler="sobol", budget=ts.Budget(trials=512), storage="memory", seed=0)
    study.optimize(lambda trial: 0.0)
    counts = collections.Counter(r.params["s"] for r in study.trials)
    assert sorted(counts) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert all(abs(count - 512 / 5) <= 3 for count in counts.values()), counts  # a scrambled net's strata


def test_a_float_range_that_is_not_whole_steps_is_refused_with_the_highs_and_steps_that_fit() -> None:
    """Float(0, 1, step=0.3) was accepted and never drew 1.0 (its top value was 0.8999999999999999)."""
    with pytest.raises(SpaceError) as info:
        Float(0.0, 1.0, step=0.3)
    message = str(info.value)
    assert "high - low must be a whole number of steps" in message
    assert "low=0.0, high=1.0, step=0.3" in message
    assert "use high=0.9 or high=1.2, or a step that divides 1.0 such as step=0.25" in message


def test_an_int_range_that_is_not_whole_steps_is_refused_with_the_highs_and_steps_that_fit() -> None:
    """Int(0, 10, step=3) was accepted and never drew 10."""
    with pytest.raises(SpaceError) as info:
        Int(0, 10, step=3)
    message = str(info.value)
    assert "high - low must be a whole number of steps" in message and "low=0, high=10, step=3" in message
    assert "use high=9 or high=12, or a step that divides 10 such as step=2" in message


def test_a_config_file_parameter_that_is_not_whole_steps_is_refused_by_name() -> None:
    with pytest.raises(SpaceError, match=r"parameter 'g': high - low must be a whole number of steps.*high=0\.9"):
        Space.from_json({"g": {"type": "float", "low": 0.0, "high": 1.0, "step": 0.3}})


@pytest.mark.parametrize(
    ("low", "high", "step", "values"),
    [
        (0.0, 1.0, 0.1, [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]),
        (0.0, 0.9, 0.3, [0.0, 0.3, 0.6, 0.9]),  # the top value was 0.8999999999999999
        (0.1, 0.7, 0.2, [0.1, 0.3, 0.5, 0.7]),  # 0.6 / 0.2 is 2.9999999999999996 in float64: still whole steps
        (0.05, 0.95, 0.1, [0.05, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95]),
        (-0.3, 0.3, 0.1, [-0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3]),
    ],
)
def test_grid_values_are_the_decimals_the_bounds_and_step_spell(
    low: float, high: float, step: float, values: list[float]
) -> None:
    param = Float(low, high, step=step)
    assert param.grid_values(points=len(values)) == values
    n = len(values)
    assert [param.decode((k + 0.5) / n) for k in range(n)] == values


def test_every_grid_value_encodes_to_the_centre_of_the_bin_it_is_drawn_from() -> None:
    param = Float(0.0, 1.0, step=0.1)
    n = 11
    for k, value in enumerate(param.grid_values(points=n)):
        assert param.encode(value) == pytest.approx((k + 0.5) / n)
        assert param.decode(param.encode(value)) == value
    for u in np.linspace(0.0, 1.0, 1001):
        again = param.encode(param.decode(u))
        assert math.floor(again * n) == min(n - 1, math.floor(u * n)), u


def test_a_value_computed_by_hand_validates_and_encodes_as_its_grid_value() -> None:
    """A trial stored before values were clean (3 * 0.1 = 0.30000000000000004) is read as the value 0.3."""
    param = Float(0.0, 1.0, step=0.1)
    assert param.contains(3 * 0.1) and not param.contains(0.31)
    assert param.encode(3 * 0.1) == param.encode(0.3) == pytest.approx(3.5 / 11)


def test_a_study_stored_with_a_step_that_does_not_divide_its_range_reopens_with_the_values_it_drew(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 0.9, step=0.3), "n": ts.Int(0, 9, step=3)}), metric="loss",
                     storage=url, name="old", seed=0)  # fmt: skip
    spec = dict(study.info.spec)  # as an older version wrote it, before such ranges were refused
    spec["space"] = {**spec["space"], "x": {**spec["space"]["x"], "high": 1.0},
                     "n": {**spec["space"]["n"], "high": 10}}  # fmt: skip
    study.storage.update_study_spec(study.info.id, spec)
    reopened = ts.Study.load("old", storage=url)
    assert reopened.space["x"].high == 0.9 and reopened.space["n"].high == 9
