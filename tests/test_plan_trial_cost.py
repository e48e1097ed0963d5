"""`ts.plan(trial_cost=...)` reads a duration string as `Budget`'s ``wall_time`` does."""

from __future__ import annotations

import pytest

import tunesmith as ts
from tunesmith.errors import ConfigError

SPACE = ts.Space({"lr": ts.Float(1e-5, 1e-1, log=True), "layers": ts.Int(1, 4)})


def test_a_duration_string_trial_cost_plans_as_its_seconds() -> None:
    budget = ts.Budget(wall_time="10h")
    in_words = ts.plan(SPACE, budget, trial_cost="1h30m", workers=2)
    in_seconds = ts.plan(SPACE, budget, trial_cost=5400, workers=2)
    assert in_words.full_trials == in_seconds.full_trials == pytest.approx(10 * 2 / 1.5)
    assert in_words == in_seconds


def test_a_trial_cost_string_that_is_no_duration_is_refused_naming_trial_cost() -> None:
    with pytest.raises(ConfigError, match=r"trial_cost must be seconds or a duration .* got trial_cost='1 hour'"):
        ts.plan(SPACE, 10, trial_cost="1 hour")
