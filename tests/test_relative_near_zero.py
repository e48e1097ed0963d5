"""A score near zero is not read relative to itself: R^2 and correlations read in points by their names, and any
other metric whose relative figure divides by a value near zero (within noise of it, or compared values of both
signs) leaves the check undecided and names the scale to declare; a loss far from zero still reads relative."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

import tunesmith as ts
from tunesmith.discipline.gap import near_zero, scored_in_points

SPACE = ts.Space({"x": ts.Float(0, 1)})


def _exactly(mean: float, sd: float, n: int, seed: int) -> npt.NDArray[np.float64]:
    """``n`` per-example values of exactly this mean and standard deviation, so that where a mean lies against
    its noise does not depend on the draw."""
    draws = np.random.default_rng(seed).normal(0.0, 1.0, n)
    return mean + sd * (draws - draws.mean()) / draws.std(ddof=1)


def _rerun_and_finalize(metric: ts.Metric, score: Any, holdout: Any, holdout_name: str) -> ts.Verdict:
    """A study of ``metric`` scored by ``score(params, seed)``, its top two re-run on 10 seeds, finalized on
    ``holdout(params, seed)``."""
    study = ts.Study(SPACE, metric=metric, budget=ts.Budget(trials=8), storage="memory", seed=0)
    study.optimize(lambda trial: {metric.name: score(trial.params, trial.seed)})
    ts.validate_top(study, lambda trial: {metric.name: score(trial.params, trial.seed)}, k=2, seeds=10)
    return ts.finalize(study, lambda params, seed: {holdout_name: holdout(params, seed)}, holdout=holdout_name)


@pytest.fixture(scope="module")
def r2_near_zero() -> ts.Verdict:
    """The user's study: an R^2 of about 0.03-0.04 with a seed noise of 0.004, declared without a scale."""

    def r2(params: dict[str, Any], seed: int) -> float:
        return 0.03 + 0.01 * params["x"] + float(np.random.default_rng(seed).normal(0, 0.004))

    def holdout_r2(params: dict[str, Any], seed: int) -> float:
        return 0.03 + 0.01 * params["x"] + float(np.random.default_rng(seed + 1).normal(0, 0.004))

    return _rerun_and_finalize(ts.Metric("val_r2", "max"), r2, holdout_r2, "holdout_r2")


def test_an_r2_near_zero_passes_seed_stability_read_in_points(r2_near_zero: ts.Verdict) -> None:
    check = r2_near_zero.check("seed stability")
    assert check.status == "ok", check.detail  # read relative to its mean, 0.036, the spread was 11.7%: FAILED


def test_an_r2_near_zero_passes_the_holdout_gap_read_in_points(r2_near_zero: ts.Verdict) -> None:
    check = r2_near_zero.check("holdout gap")
    # Within the limit, and undecided only for the holdout's one number of unknown noise.
    assert check.passed and not check.leans and "gap -1.3 points" in check.detail, check.detail  # relative: FAILED


def test_correlations_kappa_and_mcc_with_values_of_both_signs_read_in_points() -> None:
    names = ["pearson", "val_pearsonr", "spearmanr", "val_corr", "corrcoef", "kendall_tau", "cohen_kappa", "qwk",
             "mcc", "matthews_corrcoef"]  # fmt: skip
    assert [n for n in names if not scored_in_points(ts.Metric(n, "max"), [-0.4, 0.1, 0.95])] == []
    assert [n for n in names if scored_in_points(ts.Metric(n, "max"), [-0.4, 1.5])] == []  # beyond [-1, 1]


def test_an_r2_holdout_below_zero_is_judged_in_points_not_refused_for_its_scale() -> None:
    def r2(params: dict[str, Any], seed: int) -> float:
        return 0.02 + float(np.random.default_rng(seed).normal(0, 0.004))

    verdict = _rerun_and_finalize(ts.Metric("r2_score", "max"), r2, lambda params, seed: -0.05, "holdout_r2_score")
    gap = verdict.check("holdout gap")
    # 7 points below validation, beyond the limit: not shown ready (the holdout's one number has no noise of its own).
    assert "points" in gap.detail and gap.leans, gap.detail


def test_a_seed_spread_around_a_mean_near_zero_is_undecided_and_names_the_scale_to_declare() -> None:
    def score(params: dict[str, Any], seed: int) -> float:  # runs of the winner on both sides of zero
        return 0.001 * params["x"] + float(np.random.default_rng(seed).normal(0, 0.01))

    verdict = _rerun_and_finalize(ts.Metric("val_score", "max"), score, score, "holdout_score")
    check = verdict.check("seed stability")
    assert check.status == "undecided" and check.leans and not verdict.ready, check.detail
    assert "val_score is read relative to its mean" in check.detail and "near zero" in check.detail
    assert "ts.Metric('val_score', 'max', scale=...)" in check.detail


def test_a_gap_relative_to_a_validation_score_within_noise_of_zero_is_undecided() -> None:
    validation = _exactly(0.001, 0.05, 2000, seed=1)  # standard error 0.0011: 0.001 is within noise of zero
    holdout = _exactly(0.02, 0.05, 2000, seed=2)  # both means positive: only the noise says "near zero"
    study = ts.Study(SPACE, metric=ts.Metric("val_score", "max"), budget=ts.Budget(trials=3), storage="memory",
                     seed=0)  # fmt: skip
    study.optimize(lambda trial: {"val_score": validation})
    gap = ts.finalize(study, lambda params, seed: {"holdout_score": holdout}).check("holdout gap")
    assert gap.status == "undecided", gap.detail  # relative: -1900% +- 160%, "better beyond noise": FAILED
    assert "relative to its validation score, 0.001, near zero (its 95% interval" in gap.detail


def test_a_shifted_drop_from_a_holdout_score_near_zero_is_undecided() -> None:
    validation = _exactly(0.01, 0.05, 2000, seed=1)
    study = ts.Study(SPACE, metric=ts.Metric("val_score", "max"), budget=ts.Budget(trials=3), storage="memory",
                     seed=0)  # fmt: skip
    study.optimize(lambda trial: {"val_score": validation})
    verdict = ts.finalize(study, lambda params, seed: {"holdout_score": _exactly(0.001, 0.05, 2000, seed=2)},
                          shifted=lambda params, seed: {"holdout_score": _exactly(-0.02, 0.05, 2000, seed=3)})
    shifted = verdict.check("shifted data")
    assert shifted.status == "undecided" and shifted.leans, shifted.detail  # relative: a drop of 2100%, FAILED
    assert "relative to its holdout score, 0.001, near zero (the scores compared lie on both sides" in shifted.detail


def _log_losses(seed: int, n: int, confident_mistakes: int) -> npt.NDArray[np.float64]:
    """Per-example log losses: small on most examples, 6 nats on a few confident mistakes (a heavy tail)."""
    losses = np.random.default_rng(seed).exponential(0.05, n)
    losses[:confident_mistakes] = 6.0
    return losses


def test_a_log_loss_reference_whose_interval_reaches_zero_is_too_noisy_and_says_how_many_examples_would_do() -> None:
    study = ts.Study(SPACE, metric=ts.Metric("val_log_loss", "min"), budget=ts.Budget(trials=3), storage="memory",
                     seed=0)  # fmt: skip
    study.optimize(lambda trial: {"val_log_loss": _log_losses(trial.seed, 200, 4)})
    big, small = _log_losses(1, 100, 2), _log_losses(2, 20, 1)  # slice average 0.26, its interval -0.05 to 0.56

    def evaluate(params: dict[str, Any], seed: int) -> dict[str, Any]:
        slices = ts.discipline.slice_metrics("holdout_log_loss", {"big": big, "small": small})
        return {"holdout_log_loss": np.concatenate([big, small]), **slices}

    worst = ts.finalize(study, evaluate).check("worst slice")
    assert worst.status == "undecided" and "reaches zero" in worst.detail, worst.detail
    assert "too noisy to read a relative figure from" in worst.detail and "scale=" not in worst.detail
    assert re.search(r"about \d+ examples rather than 120 would bring its interval clear of zero", worst.detail)


def test_a_loss_whose_interval_reaches_zero_without_a_count_says_how_much_more_data_would_do() -> None:
    why = near_zero(ts.Metric("val_rmse", "min"), 0.2, 0.15, (0.2, 0.3), "mean")
    assert "too noisy" in why and "about 2.2x the examples its noise was read from (or the seeds" in why
    assert "scale" not in why


def test_a_loss_near_one_still_reads_relative_and_fails_a_seed_spread_beyond_the_limit() -> None:
    def loss(params: dict[str, Any], seed: int) -> float:
        return 1.0 + 0.01 * params["x"] + float(np.random.default_rng(seed).normal(0, 0.1))

    verdict = _rerun_and_finalize(ts.Metric("val_loss", "min"), loss, loss, "holdout_loss")
    check = verdict.check("seed stability")
    assert check.status == "FAILED" and "results depend on the seed" in check.detail, check.detail
    assert "near zero" not in check.detail and "points" not in verdict.check("holdout gap").detail
