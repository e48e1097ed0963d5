"""TunesmithSearchCV end to end at its rungs: stratified subsamples for classifiers, a first rung too small
for every class refused, each survivor fitted once at the top, a search whose scorer always failed raising."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy.stats import loguniform
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC

import tunesmith as ts
from tunesmith.integrations.sklearn import TunesmithSearchCV
from tunesmith.study import ObjectiveError


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    x, y = load_digits(return_X_y=True)
    return x[::2] / 16, y[::2]


def test_a_probability_scorer_at_a_small_first_rung_scores_every_configuration(
    digits: tuple[np.ndarray, np.ndarray],
) -> None:
    # 30 random rows missed a class: every configuration scored NaN at the first rung and best_score_ was NaN
    x, y = digits
    search = TunesmithSearchCV(LogisticRegression(max_iter=300), {"C": loguniform(1e-2, 1e2)}, n_iter=3, cv=3,
                               random_state=0, scheduler="asha", resource="n_samples", min_resource=30,
                               scoring="neg_log_loss").fit(x, y)  # fmt: skip
    assert np.isfinite(search.best_score_) and ts.TrialState.FAILED not in {r.state for r in search.trials_}


def test_a_first_rung_too_small_for_every_class_is_refused_before_any_trial(
    digits: tuple[np.ndarray, np.ndarray],
) -> None:
    x, y = digits
    search = TunesmithSearchCV(LogisticRegression(), {"C": loguniform(1e-2, 1e2)}, n_iter=3, cv=3,
                               scheduler="asha", resource="n_samples", min_resource=6)  # fmt: skip
    with pytest.raises(ts.ConfigError, match=r"n_samples=6 gets 6 of the \d+ rows .* give min_resource >= 10"):
        search.fit(x, y)


def test_each_survivor_is_fitted_once_near_the_full_resource(digits: tuple[np.ndarray, np.ndarray]) -> None:
    # max_resource // 27 put ASHA's last rung at 99% of the rows: every survivor was fitted at 99%, then 100%
    x, y = digits
    search = TunesmithSearchCV(SVC(), {"C": loguniform(1e-2, 1e3), "gamma": loguniform(1e-4, 1e0)}, n_iter=6, cv=3,
                               random_state=0, scheduler="asha", resource="n_samples").fit(x, y)  # fmt: skip
    resources, trials = np.asarray(search.cv_results_["resource"]), np.asarray(search.cv_results_["trial"])
    assert max(resources) == search.max_resource_
    for trial in set(trials):
        assert np.sum(resources[trials == trial] * 1.5 > search.max_resource_) <= 1


def _nan_scorer(estimator: Any, x: Any, y: Any) -> float:
    return float("nan")


def test_a_search_whose_every_configuration_scored_nan_raises(digits: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = digits
    search = TunesmithSearchCV(LogisticRegression(), {"C": loguniform(1e-2, 1e2)}, n_iter=2, cv=2, random_state=0,
                               scoring=_nan_scorer)  # fmt: skip
    with pytest.raises(ObjectiveError, match=r"none of its 2 trials has a score"), pytest.warns(UserWarning):
        search.fit(x, y)
