"""The worst-slice check's advice for a metric computed on the whole set (an RMSE), whose per-example values do not
average to it: each slice's score with a bootstrap standard error beside it, never "per-example values"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import tunesmith as ts
from tunesmith.discipline import slice_metrics

SPACE = ts.Space({"config": ts.Choice(["only"])})
RMSE = ts.Metric("val_rmse", "min")


def squared_errors(seed: int, n: int, spread: float) -> np.ndarray:
    return (np.random.default_rng(seed).normal(0.0, spread, n)) ** 2


def rmse(values: np.ndarray) -> float:
    return float(np.sqrt(values.mean()))


def bootstrap_stderr(values: np.ndarray) -> float:
    """The standard deviation of the RMSE over the examples resampled with replacement."""
    rng = np.random.default_rng(0)
    return float(np.std([rmse(rng.choice(values, len(values))) for _ in range(300)], ddof=1))


def searched(objective: Callable[[ts.Trial], dict[str, Any]]) -> ts.Study:
    study = ts.Study(SPACE, metric=RMSE, sampler="grid", budget=ts.Budget(trials=1), storage="memory", seed=3)
    study.optimize(objective)
    return study


def searched_once(trial: ts.Trial) -> dict[str, Any]:
    return {"val_rmse": rmse(squared_errors(trial.seed, 400, 1.0))}


DAY, NIGHT = squared_errors(1, 300, 1.0), squared_errors(2, 300, 1.5)  # night's RMSE 50% above day's


def holdout_with(slices: dict[str, float]) -> Callable[[dict[str, Any], int], dict[str, float]]:
    return lambda params, seed: {"holdout_rmse": rmse(np.concatenate([DAY, NIGHT])), **slices}


def test_rmse_slices_without_noise_on_the_holdout_are_not_told_to_give_per_example_values() -> None:
    slices = slice_metrics("holdout_rmse", {"day": rmse(DAY), "night": rmse(NIGHT)})
    worst = ts.finalize(searched(searched_once), holdout_with(slices)).check("worst slice")
    assert not worst.decided
    assert "return per-example values" not in worst.detail and "one value per example" not in worst.detail
    assert "val_rmse is computed on the whole set, not averaged over its examples" in worst.detail


def test_rmse_slices_without_noise_on_the_holdout_are_told_to_give_a_bootstrap_standard_error_beside_each() -> None:
    slices = slice_metrics("holdout_rmse", {"day": rmse(DAY), "night": rmse(NIGHT)})
    worst = ts.finalize(searched(searched_once), holdout_with(slices)).check("worst slice")
    assert "a bootstrap standard error as 'stderr:slice:night:holdout_rmse' beside the score" in worst.detail


def test_rmse_slices_given_as_the_advice_says_are_decided() -> None:
    slices = {**slice_metrics("holdout_rmse", {"day": rmse(DAY), "night": rmse(NIGHT)}),
              "stderr:slice:day:holdout_rmse": bootstrap_stderr(DAY),
              "stderr:slice:night:holdout_rmse": bootstrap_stderr(NIGHT)}  # fmt: skip
    worst = ts.finalize(searched(searched_once), holdout_with(slices)).check("worst slice")
    assert worst.decided and not worst.passed


def test_rmse_slices_of_re_runs_without_their_examples_noise_are_told_to_give_a_bootstrap_standard_error() -> None:
    def objective(trial: ts.Trial) -> dict[str, Any]:
        day, night = squared_errors(trial.seed, 300, 1.0), squared_errors(trial.seed + 1, 300, 1.5)
        return {"val_rmse": rmse(np.concatenate([day, night])),
                **slice_metrics("val_rmse", {"day": rmse(day), "night": rmse(night)})}  # fmt: skip

    study = searched(objective)
    ts.validate_top(study, objective, k=1, seeds=3)
    worst = ts.finalize(study, lambda params, seed: {"holdout_rmse": 1.2}).check("worst slice")
    assert "return per-example values" not in worst.detail
    assert "a bootstrap standard error as 'stderr:slice:night:val_rmse' beside the score" in worst.detail


def test_accuracy_slices_without_noise_are_still_told_to_give_per_example_values() -> None:
    study = ts.Study(SPACE, metric=ts.Metric("acc", "max"), sampler="grid", budget=ts.Budget(trials=1),
                     storage="memory", seed=3)  # fmt: skip
    study.optimize(lambda trial: {"acc": (np.arange(200) < 180).astype(float)})
    slices = slice_metrics("holdout_acc", {"day": 0.9, "night": 0.45})
    worst = ts.finalize(study, lambda params, seed: {"holdout_acc": 0.7, **slices}).check("worst slice")
    assert "return per-example values from the holdout evaluation" in worst.detail
