"""The worst-slice check's noise: per-example slice values through `slice_metrics`, and what it says without them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.discipline import slice_metrics
from tunesmith.objective import summarise, without_digests

SPACE = ts.Space({"config": ts.Choice(["only"])})


def correct(right: int, n: int) -> np.ndarray:
    """Per-example results: ``right`` of ``n`` examples right."""
    return (np.arange(n) < right).astype(float)


def searched(objective: Any) -> ts.Study:
    study = ts.Study(SPACE, metric=ts.Metric("acc", "max"), sampler="grid", budget=ts.Budget(trials=1),
                     storage="memory", seed=3)  # fmt: skip
    study.optimize(objective)
    return study


def returning(result: dict[str, Any]) -> Callable[[dict[str, Any], int], dict[str, Any]]:
    """A holdout evaluation that returns ``result`` (per-example values and all)."""
    return lambda params, seed: result


def flipped(values: np.ndarray, seed: int, share: float = 0.02) -> np.ndarray:
    """``values`` with a ``share`` of them flipped by the seed: a re-trained model on the same examples."""
    flips = np.random.default_rng(seed).random(len(values)) < share
    return np.where(flips, 1.0 - values, values)


def test_slice_metrics_keeps_per_example_values_as_mean_count_and_standard_error() -> None:
    night = np.array([1.0, 0.0, 1.0, 1.0])
    result = slice_metrics("acc", {"night": night, "day": [1.0, 1.0, 0.0]})
    expected = {**summarise("slice:night:acc", night), **summarise("slice:day:acc", [1.0, 1.0, 0.0])}
    # Without the fingerprints: the objective returns this dict, and an objective may not return digest: keys.
    assert result == without_digests(expected) and len(expected) == len(result) + 2
    assert result["slice:night:acc"] == 0.75 and result["count:slice:night:acc"] == 4


def test_slice_metrics_refuses_text_with_the_rule_the_value_and_the_fix() -> None:
    with pytest.raises(ValueError, match=r"slice 'night' must be a number .* got '0\.5' \(str\): pass one value per"):
        slice_metrics("acc", {"night": "0.5"})  # type: ignore[dict-item]


def test_a_collapse_given_per_example_through_slice_metrics_on_the_holdout_fails_the_verdict() -> None:
    study = searched(lambda trial: {"acc": correct(180, 200)})
    verdict = ts.finalize(study, returning({"holdout_acc": correct(270, 400), **slice_metrics(
        "holdout_acc", {"day": correct(180, 200), "night": correct(90, 200)})}))  # fmt: skip
    worst = verdict.check("worst slice")
    assert not worst.passed and worst.decided and "slice 'night' holdout_acc 0.45" in worst.detail


def test_holdout_slices_given_as_means_beyond_the_limit_are_undecided_and_the_detail_names_them_and_the_fix() -> None:
    study = searched(lambda trial: {"acc": correct(180, 200)})
    verdict = ts.finalize(study, returning({"holdout_acc": correct(270, 400), **slice_metrics(
        "holdout_acc", {"day": 0.9, "night": 0.45})}))  # fmt: skip
    worst = verdict.check("worst slice")
    assert worst.passed and worst.checked and not worst.decided and "beyond the limit, but" in worst.detail
    assert "slices 'day', 'night' as a mean only" in worst.detail
    assert "ts.discipline.slice_metrics('holdout_acc', {'night': <one value per example" in worst.detail


def test_re_run_slices_given_as_means_are_undecided_since_the_seeds_spread_leaves_out_the_examples_noise() -> None:
    base = {"big": correct(270, 300), "small": correct(8, 12)}  # 11.7 points below the average, on every seed

    def objective(trial: ts.Trial) -> dict[str, Any]:
        per = {name: flipped(values, trial.seed) for name, values in base.items()}
        means = {name: float(values.mean()) for name, values in per.items()}
        return {"acc": np.concatenate(list(per.values())), **slice_metrics("acc", means)}

    study = searched(objective)
    ts.validate_top(study, objective, k=1, seeds=5)
    worst = ts.finalize(study, returning({"holdout_acc": correct(90, 100)})).check("worst slice")
    assert worst.passed and not worst.decided
    assert "across 5 seeds is the seeds' noise, and without per-example values the sampling noise" in worst.detail


def test_a_small_slice_below_the_average_by_its_own_examples_noise_is_not_a_collapse_across_seeds() -> None:
    base = {"big": correct(270, 300), "small": correct(8, 12)}  # 11.7 points below the average: 4 of 12 wrong

    def objective(trial: ts.Trial) -> dict[str, Any]:
        per = {name: flipped(values, trial.seed) for name, values in base.items()}
        return {"acc": np.concatenate(list(per.values())), **slice_metrics("acc", per)}

    study = searched(objective)
    ts.validate_top(study, objective, k=1, seeds=5)
    worst = ts.finalize(study, returning({"holdout_acc": correct(90, 100)})).check("worst slice")
    assert worst.checked and worst.passed and not worst.decided and "beyond the limit but within noise" in worst.detail


def test_a_collapse_across_seeds_with_per_example_slices_fails_the_verdict() -> None:
    base = {"old": correct(180, 200), "new": correct(90, 200)}

    def objective(trial: ts.Trial) -> dict[str, Any]:
        per = {name: flipped(values, trial.seed) for name, values in base.items()}
        return {"acc": np.concatenate(list(per.values())), **slice_metrics("acc", per)}

    study = searched(objective)
    ts.validate_top(study, objective, k=1, seeds=3)
    worst = ts.finalize(study, returning({"holdout_acc": correct(90, 100)})).check("worst slice")
    assert not worst.passed and "slice 'new'" in worst.detail and "validation, across seeds" in worst.detail


def test_shifted_data_without_its_noise_says_which_side_lacks_per_example_values() -> None:
    study = searched(lambda trial: {"acc": correct(180, 200)})
    verdict = ts.finalize(study, returning({"holdout_acc": correct(360, 400), "shifted:holdout_acc": 0.5}))
    shifted = verdict.check("shifted data")
    assert shifted.passed and not shifted.decided
    assert "the shifted set gave one number without per-example values" in shifted.detail
    assert "the holdout" not in shifted.detail.split("beyond the limit, but ")[1]


def test_a_drop_within_the_limit_of_unknown_noise_passes_undecided_and_says_what_would_decide() -> None:
    study = searched(lambda trial: {"acc": correct(180, 200)})
    verdict = ts.finalize(study, returning({"holdout_acc": correct(360, 400), **slice_metrics(
        "holdout_acc", {"day": 0.91, "night": 0.89})}))  # fmt: skip
    worst = verdict.check("worst slice")
    assert worst.passed and worst.checked and not worst.decided and not worst.leans
    assert "within the limit on the point, but the holdout result gives slices 'day', 'night'" in worst.detail
    assert "ts.discipline.slice_metrics('holdout_acc'" in worst.detail


def test_a_slice_drop_within_the_limit_of_unknown_noise_is_listed_undecided_in_the_headline() -> None:
    study = searched(lambda trial: {"acc": correct(180, 200)})
    verdict = ts.finalize(study, returning({"holdout_acc": correct(360, 400), **slice_metrics(
        "holdout_acc", {"day": 0.91, "night": 0.89})}))  # fmt: skip
    assert verdict.ready and "worst slice" in verdict.headline.split("undecided: ")[1].split(";")[0], verdict.headline


def test_a_shifted_drop_within_the_limit_of_unknown_noise_is_undecided_naming_the_side_that_gave_one_number() -> None:
    study = searched(lambda trial: {"acc": correct(180, 200)})
    verdict = ts.finalize(study, returning({"holdout_acc": correct(360, 400), "shifted:holdout_acc": 0.89}))
    shifted = verdict.check("shifted data")
    assert shifted.passed and not shifted.decided and not shifted.leans, shifted.detail
    unknown = "within the limit on the point, but the shifted set gave one number without per-example values"
    assert unknown in shifted.detail


def test_a_slice_drop_beyond_the_limit_but_not_shown_above_zero_does_not_lean() -> None:
    """6 of 10 right on the night slice against 9 of 10 by day: 15 points below the slices' average, beyond the
    10-point limit, but its bounds reach below zero, so no drop is shown at all: undecided, and the winner is not
    held back on which side of the limit the estimate fell."""
    study = searched(lambda trial: {"acc": correct(180, 200)})
    day, night = correct(9, 10), correct(6, 10)
    verdict = ts.finalize(study, returning({"holdout_acc": np.concatenate([day, night]), **slice_metrics(
        "holdout_acc", {"day": day, "night": night})}))  # fmt: skip
    worst = verdict.check("worst slice")
    assert worst.passed and not worst.decided and not worst.leans, worst.detail
    assert "beyond the limit but within noise of it" in worst.detail
    assert "and no drop at all is shown (it is within noise of 0)" in worst.detail


def test_a_slice_measured_on_one_re_run_is_named_in_the_singular() -> None:
    from tunesmith.discipline._drops import _slice_noise_unknown
    from tunesmith.discipline._reruns import SeedRun

    runs = [SeedRun(0, 0, "complete", {"acc": 0.9, "slice:night:acc": 0.8}), SeedRun(0, 1, "complete", {"acc": 0.9})]
    one = _slice_noise_unknown(["night"], "night", "acc", ts.Metric("acc", "max"), runs, on_holdout=False)
    assert one.startswith("slice 'night' was measured on 1 re-run: its spread across seeds is unknown"), one
    two = _slice_noise_unknown(["day", "night"], "day", "acc", ts.Metric("acc", "max"), runs[1:], on_holdout=False)
    assert two.startswith("slices 'day', 'night' were measured on no re-run:"), two  # "slice(s) ... re-run(s)"
    held = _slice_noise_unknown(["night"], "night", "acc", ts.Metric("acc", "max"), runs, on_holdout=True)
    assert held.startswith("the holdout result gives slice 'night' as a mean only: without per-example values its "
                           "noise is unknown"), held
    runs = [SeedRun(0, seed, "complete", {"auc": 0.9, "slice:day:auc": 0.8, "slice:night:auc": 0.7}) for seed in (0, 1)]
    whole = _slice_noise_unknown(["day", "night"], "day", "auc", ts.Metric("auc", "max"), runs, on_holdout=False)
    assert whole.startswith("the re-runs give slices 'day', 'night' as one number each: their spread across 2 "
                            "seeds is the seeds' noise"), whole
