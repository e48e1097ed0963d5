"""A metric's direction that contradicts its name is caught when the study is created: a maximised loss warns as a
minimised score does, and the built-in scores of XGBoost, LightGBM and Hugging Face's evaluate read as scores.
A new user's LightGBM study maximised valid_0-binary_logloss and crowned a log loss of 0.641 over 0.222; an XGBoost
study given the bare name validation-aucpr minimised it and picked 0.985 over 0.994; neither said a word."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

import tunesmith as ts
from tunesmith.objective import MetricDirectionWarning
from tunesmith.trial import Trial, TrialState

SPACE = ts.Space({"learning_rate": ts.Float(0.05, 0.3, log=True)})
ROUNDS = 3


def breast_cancer_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    features, labels = load_breast_cancer(return_X_y=True)
    return features[::2], labels[::2], features[1::2], labels[1::2]


def lightgbm_objective(trial: Trial) -> dict[str, float]:
    lightgbm = pytest.importorskip("lightgbm", reason="the lightgbm extra is part of the test install (make test)")
    from tunesmith.integrations.lightgbm import tunesmith_callback

    train_x, train_y, valid_x, valid_y = breast_cancer_split()
    train_set = lightgbm.Dataset(train_x, train_y)
    valid_set = lightgbm.Dataset(valid_x, valid_y, reference=train_set)
    params = {"objective": "binary", "metric": "binary_logloss", "verbose": -1, "num_threads": 1, **trial.params}
    booster = lightgbm.train(params, train_set, num_boost_round=ROUNDS, valid_sets=[valid_set],
                             callbacks=[tunesmith_callback(trial, "valid_0-binary_logloss")])  # fmt: skip
    return {"valid_0-binary_logloss": booster.best_score["valid_0"]["binary_logloss"]}


def xgboost_objective(trial: Trial) -> dict[str, float]:
    xgboost = pytest.importorskip("xgboost", reason="the xgboost extra is part of the test install (make test)")
    from tunesmith.integrations.xgboost import TunesmithCallback

    train_x, train_y, valid_x, valid_y = breast_cancer_split()
    params = {"objective": "binary:logistic", "eval_metric": "aucpr", "eta": trial.params["learning_rate"],
              "tree_method": "hist", "nthread": 1}  # fmt: skip
    valid = xgboost.DMatrix(valid_x, label=valid_y)
    booster = xgboost.train(params, xgboost.DMatrix(train_x, label=train_y), ROUNDS, evals=[(valid, "validation")],
                            verbose_eval=False, callbacks=[TunesmithCallback(trial, "validation-aucpr")])  # fmt: skip
    return {"validation-aucpr": float(booster.eval(valid).split(":")[-1])}


def test_a_maximised_lightgbm_log_loss_warns_with_the_fix_when_the_study_is_created() -> None:
    with pytest.warns(MetricDirectionWarning, match=r"metric 'valid_0-binary_logloss' reads like a loss where "
                      r"lower is better, but the study maximises it: pass ts.Metric\('valid_0-binary_logloss', "
                      r"'min'\)"):  # fmt: skip
        study = ts.Study(SPACE, metric=ts.Metric("valid_0-binary_logloss", "max"), storage="memory", seed=0)
    study.optimize(lightgbm_objective, n_trials=1)  # the name warned about is the one LightGBM's callback reports
    assert [record.state for record in study.trials] == [TrialState.COMPLETE]


def test_a_bare_xgboost_aucpr_name_is_refused_rather_than_minimised() -> None:
    with pytest.raises(ts.ConfigError, match=r"metric 'validation-aucpr' reads like a score where higher is better, "
                       r"but a bare name is minimised: pass ts.Metric\('validation-aucpr', 'max'\)"):  # fmt: skip
        ts.Study(SPACE, metric="validation-aucpr", storage="memory")


def test_a_minimised_xgboost_aucpr_warns_with_the_fix_when_the_study_is_created() -> None:
    with pytest.warns(MetricDirectionWarning, match=r"metric 'validation-aucpr' reads like a score .* but the study "
                      r"minimises it: pass ts.Metric\('validation-aucpr', 'max'\)"):  # fmt: skip
        study = ts.Study(SPACE, metric=ts.Metric("validation-aucpr", "min"), storage="memory", seed=0)
    study.optimize(xgboost_objective, n_trials=1)  # the name warned about is the one XGBoost's callback reports
    assert [record.state for record in study.trials] == [TrialState.COMPLETE]


@pytest.mark.parametrize(
    "name",
    ["valid_0-l2", "valid_0-l1", "valid_0-multi_error", "validation-rmsle", "validation-mape", "validation-mlogloss",
     "validation-error@0.7", "validation-poisson-nloglik", "validation-gamma-deviance", "val_loss", "rmse", "mae",
     "mse", "brier_score", "negative_log_likelihood"],
)  # fmt: skip
def test_a_maximised_loss_or_error_warns_as_a_minimised_score_does(name: str) -> None:
    with pytest.warns(MetricDirectionWarning, match=rf"reads like a loss .* pass ts.Metric\('{name}', 'min'\)"):
        ts.Study(SPACE, metric=ts.Metric(name, "max"), storage="memory")


def test_a_maximised_loss_among_several_objectives_warns() -> None:
    with pytest.warns(MetricDirectionWarning, match=r"metric 'valid_0-l2' reads like a loss"):
        ts.Study(SPACE, metrics=[ts.Metric("valid_0-auc", "max"), ts.Metric("valid_0-l2", "max")], storage="memory")


@pytest.mark.parametrize(
    "name", ["validation-pre@5", "valid_0-pre", "eval_pearson", "eval_spearmanr", "exact_match", "eval_ExactMatch",
             "HasAns_exact"],
)  # fmt: skip
def test_built_in_scores_of_boosting_and_evaluation_libraries_warn_when_minimised(name: str) -> None:
    with pytest.warns(MetricDirectionWarning, match=rf"metric '{name}' reads like a score .* but the study minimises"):
        ts.Study(SPACE, metric=ts.Metric(name), storage="memory")


@pytest.mark.parametrize(
    "name", ["neg_log_loss", "neg_root_mean_squared_error", "d2_log_loss_score", "true_negative_rate", "tokens_per_ms",
             "valid_0-auc", "validation-aucpr"],
)  # fmt: skip
def test_negated_losses_and_rates_named_with_a_unit_are_maximised_without_a_warning(name: str) -> None:
    """A loss word made a score (neg_, d2_) and a unit or qualifier alone (ms, negative) say nothing against 'max'."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", MetricDirectionWarning)
        assert ts.Study(SPACE, metric=ts.Metric(name, "max"), storage="memory").metric.direction == "max"
