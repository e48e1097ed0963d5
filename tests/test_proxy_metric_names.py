"""The proxy-overfitting check watches the calibration metrics a search reports by the words of their names, and the
metrics `finalize(..., watch=)` names, each with its direction; a watched name no trial reported is refused before the
holdout opens."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.attributes import HoldoutLogAttr

AUC = ts.Metric("auc", "max")
X = ts.Space({"x": ts.Float(0.0, 1.0)})


def traded_off(name: str, slope: float = 0.1) -> ts.Study:
    """40 random trials: AUC rises from 0.80 to 0.90 over x while ``name`` moves by ``slope`` (noise 0.005 each)."""

    def objective(trial: ts.Trial) -> dict[str, float]:
        noise = np.random.default_rng(trial.seed).normal(0.0, 0.005, 2)
        x = trial.params["x"]
        return {"auc": 0.8 + 0.1 * x + noise[0], name: 0.5 + slope * x + noise[1]}

    study = ts.Study(X, metric=AUC, budget=ts.Budget(trials=40), storage="memory", seed=3, sampler="random")
    study.optimize(objective, progress=False)
    return study


def proxy(study: ts.Study, **finalize: Any) -> ts.discipline.Check:
    verdict = ts.finalize(study, lambda params, seed: {"holdout_auc": 0.8 + 0.1 * params["x"]}, **finalize)
    return verdict.check("proxy overfitting")


@pytest.mark.parametrize("name", ["val_ece", "calibration_error", "ECE", "holdout_log_loss", "valNLL"])
def test_a_trade_off_on_a_metric_whose_words_say_calibration_fails_the_check(name: str) -> None:
    check = proxy(traded_off(name))
    assert not check.passed and check.decided
    assert check.detail.startswith(f"across the best 10 trials, {name} gets worse as auc improves")


def test_a_calibration_metric_whose_name_reads_as_a_score_worsens_as_it_falls() -> None:
    check = proxy(traded_off("neg_log_loss", slope=-0.1))  # scikit-learn's negated log loss: higher is better
    assert not check.passed and "neg_log_loss gets worse as auc improves" in check.detail


@pytest.mark.parametrize("name", ["val_loss", "entropy", "train_log_loss", "precision"])
def test_a_metric_whose_words_do_not_say_calibration_is_not_watched(name: str) -> None:
    check = proxy(traded_off(name))
    assert check.passed and not check.checked
    assert check.detail.startswith("nothing to compare: no guardrail or calibration metric")


def test_the_primary_metric_is_not_watched_against_itself_for_a_name_that_says_calibration() -> None:
    study = ts.Study(X, metric=ts.Metric("log_loss", "min"), budget=ts.Budget(trials=20), storage="memory", seed=0,
                     sampler="random")  # fmt: skip
    study.optimize(lambda trial: {"log_loss": 0.5 - 0.1 * trial.params["x"]}, progress=False)
    verdict = ts.finalize(study, lambda params, seed: {"holdout_log_loss": 0.45})
    assert not verdict.check("proxy overfitting").checked


def test_a_calibration_metric_that_is_another_objective_is_the_front_not_a_proxy() -> None:
    def objective(trial: ts.Trial) -> dict[str, float]:
        return {"auc": 0.8 + 0.1 * trial.params["x"], "ece": 0.02 + 0.1 * trial.params["x"]}

    study = ts.Study(X, metrics=[AUC, ts.Metric("ece", "min")], budget=ts.Budget(trials=30), storage="memory", seed=0)
    study.optimize(objective, progress=False)
    study.choose(ts.choose.knee())
    check = ts.finalize(study, lambda params, seed: {"holdout_auc": 0.85}).check("proxy overfitting")
    assert check.passed and not check.checked


def test_a_trade_off_on_a_watched_name_fails_the_check() -> None:
    check = proxy(traded_off("my_metric"), watch=["my_metric"])  # a bare name is minimised: rising is worse
    assert not check.passed and check.detail.startswith("across the best 10 trials, my_metric gets worse as auc")


def test_a_watched_metric_worsens_in_the_direction_it_is_given() -> None:
    check = proxy(traded_off("coverage", slope=-0.1), watch=[ts.Metric("coverage", "max")])
    assert not check.passed and "coverage gets worse as auc improves" in check.detail


def test_a_watched_name_no_trial_reported_is_refused_before_the_holdout_opens() -> None:
    study = traded_off("my_metric")
    with pytest.raises(ts.ConfigError, match=r"got 'my_metrc', which no finished trial reported: did you mean "
                                             r"'my_metric'\?"):  # fmt: skip
        proxy(study, watch=["my_metrc"])
    assert HoldoutLogAttr.KEY not in study.attrs  # no opening recorded: the next finalize needs no force
    assert not proxy(study, watch=["my_metric"]).passed


def test_a_watched_name_that_reads_like_a_score_is_refused_rather_than_minimised() -> None:
    with pytest.raises(ts.ConfigError, match=r"'coverage_score' reads like a score .* watch=\[ts\.Metric\("
                                             r"'coverage_score', 'max'\)\]"):  # fmt: skip
        proxy(traded_off("coverage_score"), watch=["coverage_score"])
