"""`TunesmithSearchCV` stores what its scores are: independent folds only, one set of splits for every
configuration, one dataset per study, and the trial that ``best_params_`` is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.stats import loguniform
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, RepeatedStratifiedKFold, ShuffleSplit, StratifiedKFold

import tunesmith as ts
from tunesmith.discipline.conventions import folds_of
from tunesmith.integrations.sklearn import TunesmithSearchCV

C_RANGE = {"C": loguniform(1e-2, 1e2)}


@pytest.fixture(scope="module")
def iris() -> tuple[np.ndarray, np.ndarray]:
    x, y = load_iris(return_X_y=True)
    return x, y


def search(**options: Any) -> TunesmithSearchCV:
    return TunesmithSearchCV(LogisticRegression(max_iter=1000), C_RANGE,
                             **{"n_iter": 2, "cv": 3, "random_state": 0, **options})  # fmt: skip


class TestRowsSum(ClassifierMixin, BaseEstimator):
    """Scores a test fold by the sum of its row ids (column 0): equal scores mean the same test rows."""

    __test__ = False

    def __init__(self, C: float = 1.0) -> None:
        self.C = C

    def fit(self, x: np.ndarray, y: np.ndarray) -> TestRowsSum:
        self.classes_ = np.unique(y)
        return self

    def score(self, x: np.ndarray, y: np.ndarray) -> float:
        return float(x[:, 0].sum())


def test_a_repeated_kfold_stores_the_folds_of_its_first_repeat_only(iris: tuple[np.ndarray, np.ndarray]) -> None:
    # Its 2 x 3 splits were stored as 6 independent folds, the noise of the mean score read as stdev / sqrt(6).
    x, y = iris
    fitted = search(cv=RepeatedStratifiedKFold(n_splits=3, n_repeats=2, random_state=0)).fit(x, y)
    for row, record in enumerate(fitted.trials_):
        first_repeat = [fitted.cv_results_[f"split{k}_test_score"][row] for k in range(3)]
        assert folds_of(record.metrics, "score") == pytest.approx(first_repeat)
        assert record.value("score") == pytest.approx(fitted.cv_results_["mean_test_score"][row])


def test_a_shuffle_split_whose_test_sets_overlap_stores_no_folds(iris: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = iris
    fitted = search(cv=ShuffleSplit(n_splits=4, test_size=0.3, random_state=0)).fit(x, y)
    assert all(folds_of(record.metrics, "score") == [] for record in fitted.trials_)


def test_every_configuration_is_scored_on_the_same_splits_of_a_cv_that_shuffles_without_a_seed() -> None:
    x = np.c_[np.arange(100), np.zeros(100)]
    y = np.arange(100) % 2
    fitted = TunesmithSearchCV(TestRowsSum(), C_RANGE, n_iter=5, cv=StratifiedKFold(5, shuffle=True),
                               random_state=0, refit=False).fit(x, y)  # fmt: skip
    assert len(set(fitted.cv_results_["split0_test_score"])) == 1


def test_resuming_a_study_on_other_data_is_refused_naming_a_new_study_name(
    tmp_path: Path, iris: tuple[np.ndarray, np.ndarray]
) -> None:
    x, y = iris
    storage = f"sqlite:///{tmp_path / 's.db'}"
    search(storage=storage, study_name="lr").fit(x, y)
    with pytest.raises(ts.ConfigError, match=r"this fit's data are X of shape \(75, 4\).*pass a new study_name"):
        search(storage=storage, study_name="lr", resume=True).fit(x[::2], y[::2])
    assert len(ts.Study.load("lr", storage).trials) == 2


def test_resuming_a_study_with_a_cv_that_splits_differently_is_refused_naming_a_fixed_random_state(
    tmp_path: Path, iris: tuple[np.ndarray, np.ndarray]
) -> None:
    x, y = iris
    storage = f"sqlite:///{tmp_path / 's.db'}"
    search(storage=storage, study_name="lr", cv=KFold(3, shuffle=True, random_state=0)).fit(x, y)
    with pytest.raises(ts.ConfigError, match=r"other cross-validation splits.*a fixed random_state"):
        search(storage=storage, study_name="lr", cv=KFold(3, shuffle=True, random_state=1), resume=True).fit(x, y)


def test_resuming_a_study_with_another_estimator_or_other_fixed_settings_is_refused(
    tmp_path: Path, iris: tuple[np.ndarray, np.ndarray]
) -> None:
    """A LogisticRegression study resumed with SVC kept a LogisticRegression score as its best, ranked beside SVC's
    as one 'score'; so did one resumed with another max_iter. Settings that only change how it runs (warm_start), the
    tuned ones and an estimator equal in every setting resume."""
    from sklearn.svm import SVC

    x, y = iris
    storage = f"sqlite:///{tmp_path / 's.db'}"
    search(storage=storage, study_name="lr").fit(x, y)
    with pytest.raises(ts.ConfigError, match=r"another estimator's \(LogisticRegression\), and this fit's is SVC"):
        TunesmithSearchCV(SVC(), C_RANGE, n_iter=2, cv=3, random_state=0, storage=storage, study_name="lr",
                          resume=True).fit(x, y)  # fmt: skip
    with pytest.raises(ts.ConfigError, match=r"LogisticRegression's with other settings than this fit's"):
        TunesmithSearchCV(LogisticRegression(max_iter=50), C_RANGE, n_iter=2, cv=3, random_state=0, storage=storage,
                          study_name="lr", resume=True).fit(x, y)  # fmt: skip
    assert len(ts.Study.load("lr", storage).trials) == 2
    ts.Study.load("lr", storage).extend_budget(trials=4)
    same = LogisticRegression(max_iter=1000, warm_start=True, C=5.0)  # C is tuned: its own value is no setting
    TunesmithSearchCV(same, C_RANGE, n_iter=4, cv=3, random_state=0, storage=storage, study_name="lr",
                      resume=True).fit(x, y)  # fmt: skip
    assert len(ts.Study.load("lr", storage).trials) == 4


def test_the_study_records_the_trial_a_refit_callable_chose_beside_its_own_best(
    tmp_path: Path, iris: tuple[np.ndarray, np.ndarray]
) -> None:
    def smallest_c(results: dict[str, Any]) -> int:
        return int(np.argmin([p["C"] for p in results["params"]]))

    x, y = iris
    storage = f"sqlite:///{tmp_path / 's.db'}"
    fitted = TunesmithSearchCV(LogisticRegression(max_iter=1000), {"C": [0.01, 1.0, 10.0]}, n_iter=3, cv=3,
                               random_state=0, refit=smallest_c, storage=storage, study_name="lr")  # fmt: skip
    fitted.fit(x, y)
    study = ts.Study.load("lr", storage)
    chosen = int(fitted.cv_results_["trial"][fitted.best_index_])
    assert study.best is not None and study.best.number != chosen
    assert study.attrs["sklearn_scoring"]["best_params_trial"] == chosen
