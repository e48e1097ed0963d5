"""A per-example metric whose mean is NaN or infinite says which examples made it so: the failure said only
"error is nan", and a log(0) on one example of a hundred read like a loss that never worked."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.objective import non_finite_examples
from tunesmith.study import ObjectiveError

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def test_the_failure_names_the_examples_that_are_not_finite() -> None:
    def objective(trial: ts.Trial) -> dict[str, np.ndarray]:
        values = np.zeros(100)
        values[7] = np.nan
        return {"error": values}

    study = ts.Study(SPACE, metric="error", budget=ts.Budget(trials=5), storage="memory", seed=0)
    with pytest.raises(ObjectiveError):
        study.optimize(objective, progress=False)
    said = "error is nan: 1 of its 100 per-example values is NaN, at example 7 (counting from 0)"
    assert all(record.reason == said for record in study.trials), study.trials[0].reason


def test_a_seed_re_run_names_them_too() -> None:
    study = ts.Study(SPACE, metric="error", budget=ts.Budget(trials=2), storage="memory", seed=0)
    study.optimize(lambda trial: {"error": np.zeros(10)}, progress=False)

    def broken_on_reruns(trial: ts.Trial) -> dict[str, list[float]]:
        return {"error": [0.0, math.inf, 0.0, math.nan]}

    with pytest.raises(ObjectiveError, match=r"error is (nan|inf): 2 of its 4 per-example values are NaN or infinite, "
                                             r"at examples 1, 3"):  # fmt: skip
        ts.validate_top(study, broken_on_reruns, k=1, seeds=3, progress=False)


def test_only_per_example_values_are_read() -> None:
    assert non_finite_examples({"error": math.nan}, "error") is None  # one number: nothing to point at
    assert non_finite_examples({"error": [0.0, 1.0]}, "error") is None
    assert non_finite_examples(math.nan, "error") is None
    many = non_finite_examples({"loss": [math.nan] * 8}, "loss")
    assert many == "8 of its 8 per-example values are NaN, at examples 0, 1, 2, 3, 4 and 3 more (counting from 0)"
