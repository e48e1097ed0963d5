"""The optimism of plain-float results: the noise is what the parameters do not explain, or unknown."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.discipline import estimate_optimism
from tunesmith.discipline.optimism import expected_max_normal

ACC = ts.Metric("acc", "max")


def _records(params: list[dict[str, Any]], scores: np.ndarray) -> list[ts.TrialRecord]:
    return [
        ts.TrialRecord(i, p, i, ts.TrialState.COMPLETE, metrics={"acc": float(s)})
        for i, (p, s) in enumerate(zip(params, scores, strict=True))
    ]


def _observed(truth: np.ndarray, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Scores drawn around ``truth``, and the true optimism of the best of them."""
    scores = truth + rng.normal(0.0, noise, len(truth))
    best = int(np.argmax(scores))
    return scores, float(scores[best] - truth[best])


def test_a_smooth_signal_with_small_noise_is_not_read_as_noise() -> None:
    rng = np.random.default_rng(0)
    x = rng.random(200)
    scores, real = _observed(0.80 + 0.15 * x, 0.002, rng)
    found = estimate_optimism(_records([{"x": float(v)} for v in x], scores), ACC)
    assert found is not None and found.method == "residual noise" and not found.measured
    assert abs(found.estimate - real) < 0.002  # within one noise width; the better half's spread said about 0.06


def test_equal_configurations_are_flattered_by_the_expected_maximum_of_their_noise() -> None:
    rng = np.random.default_rng(1)
    found = []
    for _ in range(6):
        x = rng.random((100, 2))
        scores, _real = _observed(np.full(100, 0.80), 0.01, rng)
        optimism = estimate_optimism(_records([{"a": float(a), "b": float(b)} for a, b in x], scores), ACC)
        assert optimism is not None
        found.append(optimism.estimate)
    assert float(np.mean(found)) == pytest.approx(0.01 * expected_max_normal(100), rel=0.15)


def test_a_categorical_effect_shared_by_many_configurations_is_read_as_a_real_difference() -> None:
    rng = np.random.default_rng(2)
    x = rng.random((150, 2))
    kind = rng.integers(0, 3, 150)
    scores, real = _observed(0.80 + 0.05 * x[:, 0] + 0.03 * kind, 0.005, rng)
    params = [{"a": float(a), "b": float(b), "kind": f"k{k}"} for (a, b), k in zip(x, kind, strict=True)]
    found = estimate_optimism(_records(params, scores), ACC)
    assert found is not None and abs(found.estimate - real) < 0.003


def test_the_branches_of_a_conditional_space_are_fitted_apart() -> None:
    rng = np.random.default_rng(3)
    params, truth = [], []
    for _ in range(150):
        lr = float(10 ** rng.uniform(-5, -1))
        if rng.random() < 0.5:
            momentum = float(rng.uniform(0.0, 0.99))
            params.append({"optimizer": "sgd", "lr": lr, "momentum": momentum})
            truth.append(0.85 - 0.01 * (math.log10(lr) + 2) ** 2 + 0.03 * momentum)
        else:
            params.append({"optimizer": "adam", "lr": lr})
            truth.append(0.87 - 0.01 * (math.log10(lr) + 3.5) ** 2)
    scores, real = _observed(np.array(truth), 0.005, rng)
    found = estimate_optimism(_records(params, scores), ACC)
    assert found is not None and abs(found.estimate - real) < 0.003


def test_a_parameter_drawn_log_uniformly_is_read_on_its_log_scale() -> None:
    # Smooth in log(lr); on a linear axis most trials crowd near 0, where the score changes fastest.
    rng = np.random.default_rng(4)
    lr = 10 ** rng.uniform(-6, 0, 120)
    scores, real = _observed(0.90 - 0.02 * (np.log10(lr) + 3) ** 2, 0.005, rng)
    found = estimate_optimism(_records([{"lr": float(v)} for v in lr], scores), ACC)
    assert found is not None and abs(found.estimate - real) < 0.003


def test_categorical_values_no_two_configurations_share_leave_the_noise_unknown() -> None:
    rng = np.random.default_rng(5)
    scores = 0.8 + rng.normal(0.0, 0.01, 40)
    found = estimate_optimism(_records([{"model": f"m{i}", "width": 64} for i in range(40)], scores), ACC)
    assert found is not None and math.isnan(found.estimate) and math.isnan(found.corrected)
    assert "noise is unknown: 0 of 40 configurations share their categorical values" in found.detail


def test_too_few_configurations_leave_the_noise_unknown() -> None:
    found = estimate_optimism(_records([{"x": i / 5} for i in range(6)], np.linspace(0.7, 0.8, 6)), ACC)
    assert found is not None and math.isnan(found.estimate)
    assert "6 configurations are too few" in found.detail


def test_a_score_as_rough_as_the_trials_spacing_leaves_the_noise_unknown() -> None:
    rng = np.random.default_rng(6)
    x = rng.random((200, 3))
    scores, _real = _observed(0.8 + 0.02 * np.sin(15 * x).sum(axis=1), 0.005, rng)
    params = [{"a": float(a), "b": float(b), "c": float(c)} for a, b, c in x]
    found = estimate_optimism(_records(params, scores), ACC)
    assert found is not None and math.isnan(found.estimate)
    assert "changes as fast as the trials are spaced along" in found.detail


def test_many_trials_are_fitted_on_a_sample_that_keeps_the_best() -> None:
    rng = np.random.default_rng(7)
    x = rng.random(1000)
    scores, real = _observed(0.80 + 0.02 * x, 0.01, rng)
    found = estimate_optimism(_records([{"x": float(v)} for v in x], scores), ACC)
    assert found is not None and "on the best and 299 others" in found.detail
    assert abs(found.estimate - real) < 0.15 * real


def test_finalize_records_an_unknown_optimism_without_a_number(tmp_path: Path) -> None:
    space = ts.Space({"model": ts.Choice([f"m{i}" for i in range(8)])})
    study = ts.Study(space, metric=ACC, sampler="grid", budget=ts.Budget(trials=8),
                     storage=f"sqlite:///{tmp_path / 'plain.db'}", seed=0)  # fmt: skip
    study.optimize(lambda trial: {"acc": 0.8 + 0.01 * int(trial.params["model"][1:])})
    verdict = ts.finalize(study, lambda params, seed: {"holdout_acc": 0.8})
    check = verdict.check("optimism")
    assert check is not None and "noise is unknown" in check.detail and "optimistic by" not in check.detail
    assert study.attrs["optimism"].get("estimate") is None  # no number is stored, never NaN


# With the seed noise measured: each configuration's own flattery (order statistics) ----------------------------
def _seed_noise_errors(truth: np.ndarray, studies: int, seed: int, rank: int = 0) -> np.ndarray:
    """Over ``studies`` draws of scores around ``truth`` with seed noise 0.01 given exactly: the flattery
    estimated for the configuration ranked ``rank`` (0: the best) less the flattery it realised."""
    rng = np.random.default_rng(seed)
    errors = []
    for _ in range(studies):
        scores = truth + rng.normal(0.0, 0.01, len(truth))
        chosen = int(np.argsort(-scores)[rank])
        found = estimate_optimism(_records([{"x": i / len(truth)} for i in range(len(truth))], scores), ACC,
                                  noise=0.01)  # fmt: skip
        assert found is not None and found.method == "order statistics"
        own = found.estimate if rank == 0 else found.of(float(scores[chosen]))
        assert own is not None
        errors.append(own - float(scores[chosen] - truth[chosen]))
    return np.array(errors)


def _within_noise_of_zero(errors: np.ndarray) -> bool:
    """Whether the 95% interval of the errors' mean holds 0."""
    return bool(abs(float(errors.mean())) <= 1.96 * float(errors.std(ddof=1)) / math.sqrt(len(errors)))


@pytest.mark.slow  # a calibration over many simulated studies
def test_the_best_of_equal_configurations_is_taken_back_its_realised_flattery_on_average() -> None:
    """20 equally good configurations: the capped estimate, min(noise * E[max of 20], median - best), fell short of
    the realised flattery by 0.16-0.23 noise on average (100 studies, on each of three seeds)."""
    assert _within_noise_of_zero(_seed_noise_errors(np.full(20, 0.80), studies=80, seed=0))


def test_a_configuration_far_ahead_of_equal_ones_is_flattered_by_its_own_noise_not_by_the_best_of_20() -> None:
    """One configuration 6 noise ahead of 19 equal ones wins on its own merit: noise * E[max of 20] overstated its
    flattery by 1.9 noise."""
    truth = np.full(20, 0.80)
    truth[0] = 0.86
    assert _within_noise_of_zero(_seed_noise_errors(truth, studies=40, seed=0))


@pytest.mark.slow  # ten simulated studies, each deconvolved in 400 worlds
def test_scores_spread_over_many_times_their_noise_are_read_at_their_noise_not_the_grid_s() -> None:
    """20 configurations over a quadratic bowl, their scores spread over 1,000 times the seed noise (0.0046, read
    on 5 runs): the deconvolution grid's spacing (a hundredth of the range, 14 noise) stood in for the noise, and
    the best read an optimism of 6.3 noise on average (15 at most) against a realised flattery of 0.3, which the
    holdout gap took back from a real 10% overfit as selection luck."""
    from tunesmith.discipline.optimism import _seed_noise

    noise, errors = 0.0046, []
    for seed in range(10):
        rng = np.random.default_rng(seed)
        truth = 1.0 + (rng.uniform(-1.5, 1.5, 20) - 1.0) ** 2
        losses = truth + rng.normal(0.0, noise, 20)
        read = noise * math.sqrt(rng.chisquare(4) / 4)
        best = int(np.argmin(losses))
        estimate = _seed_noise([], losses, 1.0, read, 5, 0).estimate
        errors.append(estimate - (truth[best] - losses[best]))
    assert abs(float(np.mean(errors))) < noise, np.array(errors) / noise


def test_a_configuration_chosen_below_the_best_is_read_its_own_flattery() -> None:
    """Two configurations 6 noise ahead of 18 equal ones: the runner-up, as a seed-stability winner below the best
    can be, is barely flattered; its lead over the median score (6 noise) says nothing of that."""
    truth = np.full(20, 0.80)
    truth[:2] = 0.86
    assert _within_noise_of_zero(_seed_noise_errors(truth, studies=40, seed=1, rank=1))


def test_the_holdout_takes_back_the_chosen_configurations_own_flattery() -> None:
    """The runner-up of two configurations far ahead: its lead over the median held the best's estimate back
    nowhere, and the holdout gap took back the flattery of the best of 20 draws from a configuration that had
    none."""
    from tunesmith.discipline.holdout import _selection

    truth = np.full(20, 0.80)
    truth[:2] = 0.86
    scores = truth + np.random.default_rng(3).normal(0.0, 0.01, 20)
    study = ts.Study(ts.Space({"i": ts.Int(0, 19)}), metric=ACC, sampler="grid", budget=ts.Budget(trials=20),
                     storage="memory", seed=0)  # fmt: skip
    study.optimize(lambda trial: {"acc": float(scores[trial.params["i"]])})
    found = estimate_optimism(study.trials, ACC, noise=0.01)
    runner_up = float(np.sort(scores)[-2])
    assert found is not None and (own := found.of(runner_up)) is not None
    assert _selection(study, runner_up, found) == pytest.approx(max(0.0, own))
    assert _selection(study, runner_up, found) < 0.5 * 0.01 * expected_max_normal(20)


def test_a_seed_noise_read_on_few_runs_says_how_many_and_is_unbiased_by_c4() -> None:
    scores = 0.80 + np.random.default_rng(4).normal(0.0, 0.01, 20)
    found = estimate_optimism(_records([{"x": i / 20} for i in range(20)], scores), ACC, noise=0.01, runs=5)
    assert found is not None
    assert "seed noise 0.01 (the standard deviation of 5 runs; 0.0106 once unbiased by c4(5) = 0.940" in found.detail


def test_a_seed_noise_read_on_fewer_than_two_runs_is_refused() -> None:
    scores = 0.80 + np.random.default_rng(5).normal(0.0, 0.01, 20)
    with pytest.raises(ValueError, match=r"runs must be at least 2 .* got runs=1: pass the number of runs"):
        estimate_optimism(_records([{"x": i / 20} for i in range(20)], scores), ACC, noise=0.01, runs=1)
