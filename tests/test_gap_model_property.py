"""A further objective that the holdout gives exactly as the search's run did, while the first objective's holdout
score differs, is a property of the trained model (its size), not of the data it is scored on: the holdout-gap check
says there is no gap to judge, instead of reading the re-runs' seed-to-seed spread of that size as a gap and asking
for per-example holdout values of a model's size."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tunesmith as ts

EXAMPLES = 400


def size(params: dict[str, Any], seed: int) -> float:
    """A model's node count: set by its width and, a little, by its seed, never by the data."""
    return float(100 * params["width"] + seed % 17)


def objective(trial: ts.Trial) -> dict[str, Any]:
    rng = np.random.default_rng(trial.seed)
    rate = 0.3 - 0.02 * trial.params["width"]
    return {"error": (rng.random(EXAMPLES) < rate).astype(float), "size": size(trial.params, trial.seed)}


def evaluate(params: dict[str, Any], seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed + 1)  # other examples than validation's
    rate = 0.3 - 0.02 * params["width"]
    return {"error": (rng.random(EXAMPLES) < rate).astype(float), "size": size(params, seed)}


def exact(function: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """``function`` with the size recorded exact, as the multi-objective guide says a parameter count may be."""

    def recorded(*args: Any) -> dict[str, Any]:
        return {**function(*args), "stderr:size": 0.0}

    return recorded


@pytest.mark.parametrize("recorded", [False, True], ids=["plain", "recorded-exact"])
def test_a_model_size_unchanged_by_the_holdout_data_has_no_gap_to_judge(recorded: bool) -> None:
    run, score = (exact(objective), exact(evaluate)) if recorded else (objective, evaluate)
    study = ts.Study(ts.Space({"width": ts.Int(1, 10)}), metrics=[ts.Metric("error"), ts.Metric("size")],
                     budget=ts.Budget(trials=12), sampler="random", storage="memory", name="sizes", seed=0)  # fmt: skip
    study.optimize(run)
    study.choose(ts.choose.knee())
    ts.validate_top(study, run, seeds=3)
    verdict = ts.finalize(study, score, holdout="other-examples")
    gap = next(c for c in verdict.checks if c.name == "holdout gap")
    assert "a property of the trained model, not of the data it is scored on, so there is no gap to judge" in (
        gap.detail), gap.detail  # fmt: skip
    assert "holdout_size" not in gap.detail and "size undecided" not in gap.detail, gap.detail
