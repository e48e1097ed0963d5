"""The shared argument checks: each message carries the rule, the value received and the fix."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from tunesmith._validate import duration, integer, real
from tunesmith.errors import ConfigError, SpaceError, TunesmithError

# integer -----------------------------------------------------------------------------------------


def test_a_refused_integer_names_the_rule_the_value_and_the_fix() -> None:
    with pytest.raises(ConfigError) as info:
        integer("n_trials", 0, minimum=1)
    assert str(info.value) == "n_trials must be a positive integer, got n_trials=0: pass n_trials=1 or more"


@pytest.mark.parametrize(
    ("bounds", "value", "message"),
    [
        ({"minimum": 0}, -1, "k must be a non-negative integer, got k=-1: pass k=0 or more"),
        ({"minimum": 5}, 3, "k must be an integer >= 5, got k=3: pass k=5 or more"),
        ({"maximum": 9}, 10, "k must be an integer <= 9, got k=10: pass k=9 or less"),
        ({"minimum": 1, "maximum": 4}, 7, "k must be an integer in [1, 4], got k=7: pass k from 1 to 4"),
    ],
)
def test_the_integer_rule_follows_its_bounds(bounds: dict[str, int], value: int, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        integer("k", value, **bounds)  # type: ignore[call-overload]


def test_a_valid_integer_is_returned() -> None:
    assert integer("workers", 4, minimum=1) == 4
    assert integer("workers", 4, minimum=1, maximum=4) == 4


@pytest.mark.parametrize("value", [True, False, 2.0, "3", None])
def test_an_integer_refuses_bools_floats_strings_and_none(value: object) -> None:
    fix = f"pass an int, not {type(value).__name__}"
    with pytest.raises(ConfigError, match=rf"got workers={re.escape(repr(value))}: {fix}"):
        integer("workers", value, minimum=0)


def test_an_integer_may_be_none_when_allowed_and_says_so_when_refused() -> None:
    assert integer("seed", None, minimum=0, allow_none=True) is None
    with pytest.raises(ConfigError, match=r"seed must be a non-negative integer or None, got seed=-1"):
        integer("seed", -1, minimum=0, allow_none=True)


def test_numpy_integers_are_accepted_only_when_asked_and_come_back_as_int() -> None:
    with pytest.raises(ConfigError, match="pass an int, not int64"):
        integer("total_steps", np.int64(10), minimum=1)
    out = integer("total_steps", np.int64(10), minimum=1, numpy=True)
    assert out == 10 and type(out) is int
    with pytest.raises(ConfigError):
        integer("total_steps", np.bool_(True), minimum=0, numpy=True)


# real --------------------------------------------------------------------------------------------


def test_a_refused_number_names_the_rule_the_value_and_the_fix() -> None:
    with pytest.raises(ConfigError) as info:
        real("eta", 0.5, exclusive_minimum=1, fix="use 3")
    assert str(info.value) == "eta must be a finite number > 1, got eta=0.5: use 3"


@pytest.mark.parametrize(
    ("bounds", "value", "message"),
    [
        ({}, math.inf, "x must be a finite number, got x=inf: pass a finite value"),
        ({"minimum": 0}, -0.5, "x must be a finite number >= 0, got x=-0.5: pass a finite value >= 0"),
        ({"exclusive_maximum": 2}, 2, "x must be a finite number < 2, got x=2: pass a finite value < 2"),
        ({"maximum": 2}, 3, "x must be a finite number <= 2, got x=3: pass a finite value <= 2"),
        ({"minimum": 0, "exclusive_maximum": 1}, 1, "x must be a number in [0, 1), got x=1: pass a value in [0, 1)"),
        ({"exclusive_minimum": 0, "maximum": 1}, 0, "x must be a number in (0, 1], got x=0: pass a value in (0, 1]"),
    ],
)
def test_the_number_rule_follows_its_bounds(bounds: dict[str, float], value: float, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        real("x", value, **bounds)  # type: ignore[call-overload]


def test_a_valid_number_is_returned_as_a_float() -> None:
    out = real("lr", 1, exclusive_minimum=0)
    assert out == 1.0 and type(out) is float
    assert real("p", 1.0, minimum=0, maximum=1) == 1.0


@pytest.mark.parametrize("value", [True, False])
def test_a_number_refuses_bools(value: bool) -> None:
    with pytest.raises(ConfigError, match=rf"got lr={value}: pass a float, not bool"):
        real("lr", value)


def test_a_number_refuses_strings_and_none_unless_none_is_allowed() -> None:
    with pytest.raises(ConfigError, match="pass a float, not str"):
        real("lr", "0.1")
    with pytest.raises(ConfigError, match="pass a float, not NoneType"):
        real("lr", None)
    assert real("lr", None, allow_none=True) is None
    with pytest.raises(ConfigError, match=r"lr must be a finite number > 0 or None, got lr=0"):
        real("lr", 0, exclusive_minimum=0, allow_none=True)


def test_nan_is_refused_even_when_infinities_are_allowed() -> None:
    assert real("prior_weight", math.inf, exclusive_minimum=0, finite=False) == math.inf
    with pytest.raises(ConfigError, match=r"prior_weight must be a number > 0, got prior_weight=nan"):
        real("prior_weight", math.nan, exclusive_minimum=0, finite=False)
    with pytest.raises(ConfigError, match=r"bound must be a number, got bound=nan"):
        real("bound", math.nan, finite=False)


def test_numpy_scalars_are_accepted_only_when_asked() -> None:
    with pytest.raises(ConfigError, match="pass a float, not float32"):
        real("lr", np.float32(0.5))
    assert real("lr", np.float32(0.5), numpy=True) == 0.5
    assert real("lr", np.int64(2), numpy=True) == 2.0


def test_an_int_too_large_for_a_float_counts_as_infinite() -> None:
    with pytest.raises(ConfigError, match="must be a finite number"):
        real("x", 10**400)
    assert real("x", 10**400, finite=False) == math.inf


def test_two_bounds_on_one_side_are_a_programming_error() -> None:
    with pytest.raises(TypeError, match="minimum or exclusive_minimum"):
        real("x", 1.0, minimum=0, exclusive_minimum=0)
    with pytest.raises(TypeError, match="maximum or exclusive_maximum"):
        real("x", 1.0, maximum=2, exclusive_maximum=2)


# duration ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, -1.0, math.inf, math.nan, True, "60"])
def test_a_duration_must_be_positive_and_finite(value: object) -> None:
    rule = "trial_cost must be a positive number of seconds"
    with pytest.raises(ConfigError, match=rf"{rule}, got trial_cost=.*: pass e\.g\. trial_cost=60"):
        duration("trial_cost", value)


def test_a_duration_is_returned_as_float_and_may_be_none_when_allowed() -> None:
    assert duration("grace", 90) == 90.0
    assert duration("grace", None, allow_none=True) is None
    with pytest.raises(ConfigError, match="or None"):
        duration("grace", 0, allow_none=True)


# Shared options ----------------------------------------------------------------------------------


def test_the_context_leads_the_message_and_the_fix_replaces_the_default() -> None:
    with pytest.raises(ConfigError) as info:
        integer("num_steps", 3, minimum=5, context="range_test", fix="use 100")
    assert str(info.value) == "range_test: num_steps must be an integer >= 5, got num_steps=3: use 100"


@pytest.mark.parametrize("error", [SpaceError, TunesmithError])
def test_each_check_raises_the_class_its_site_asks_for(error: type[Exception]) -> None:
    with pytest.raises(error):
        integer("points", 1, minimum=2, error=error)
    with pytest.raises(error):
        real("low", math.inf, error=error)
    with pytest.raises(error):
        duration("grace", 0, error=error)


def test_the_default_class_is_a_config_error_that_callers_may_catch_as_value_error() -> None:
    with pytest.raises(ValueError):
        integer("workers", 0, minimum=1)
