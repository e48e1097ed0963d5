"""What `TunesmithSearchCV` is given, read as given: its two names for the trial budget, and the parameters of
``fit`` (``sample_weight``) that a resumed study must have been scored with."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import tunesmith as ts
from tunesmith.integrations.sklearn import TunesmithSearchCV


@pytest.fixture(scope="module")
def iris() -> tuple[np.ndarray, np.ndarray]:
    x, y = load_iris(return_X_y=True)
    return x, y


def search(**options: Any) -> TunesmithSearchCV:
    return TunesmithSearchCV(LogisticRegression(max_iter=1000), {"C": [0.01, 1.0, 10.0]},
                             **{"cv": 3, "random_state": 0, **options})  # fmt: skip


def test_the_default_n_iter_is_scikit_learns_10_and_leaves_n_trials_the_budget_through_clone_and_pickle() -> None:
    default = search()
    assert default.get_params()["n_iter"] == 10 and default._budget() == 10
    for copy in (clone(search(n_trials=2)), pickle.loads(pickle.dumps(search(n_trials=2)))):
        assert copy._budget() == 2


def test_n_iter_beside_another_n_trials_is_refused_naming_both_values_and_the_fix(
    iris: tuple[np.ndarray, np.ndarray],
) -> None:
    refused = r"got n_iter=20 and n_trials=3: pass only n_iter .* n_iter=20 or n_iter=3"
    with pytest.raises(ts.ConfigError, match=refused):
        search(n_iter=20, n_trials=3).fit(*iris)


def test_resuming_with_another_sample_weight_is_refused_naming_both(
    tmp_path: Path, iris: tuple[np.ndarray, np.ndarray]
) -> None:
    x, y = iris
    storage = f"sqlite:///{tmp_path / 's.db'}"
    search(n_iter=2, storage=storage, study_name="lr").fit(x, y, sample_weight=np.ones(len(y)))
    heavy_last_class = np.where(y == 2, 5.0, 1.0)
    refused = (
        r"fitted with sample_weight of shape \(150,\) #\w+, and this fit passes sample_weight of shape \(150,\) #\w+"
        r".*the same sample_weight"
    )
    with pytest.raises(ts.ConfigError, match=refused):
        search(n_iter=2, storage=storage, study_name="lr", resume=True).fit(x, y, sample_weight=heavy_last_class)
    assert len(ts.Study.load("lr", storage).trials) == 2


def test_resuming_with_sample_weight_a_study_fitted_without_is_refused(
    tmp_path: Path, iris: tuple[np.ndarray, np.ndarray]
) -> None:
    x, y = iris
    storage = f"sqlite:///{tmp_path / 's.db'}"
    search(n_iter=2, storage=storage, study_name="lr").fit(x, y)
    with pytest.raises(ts.ConfigError, match=r"fitted with no fit parameters, and this fit passes sample_weight"):
        search(n_iter=2, storage=storage, study_name="lr", resume=True).fit(x, y, sample_weight=np.ones(len(y)))


def test_a_study_stored_before_fit_parameters_were_recorded_resumes_and_records_them_from_then_on(
    tmp_path: Path, iris: tuple[np.ndarray, np.ndarray]
) -> None:
    x, y = iris
    storage = f"sqlite:///{tmp_path / 's.db'}"
    search(n_iter=2, storage=storage, study_name="lr").fit(x, y)
    study = ts.Study.load("lr", storage)
    stored = dict(study.attrs["sklearn_scoring"])
    stored.pop("fit_params", None)  # as tunesmith stored it before it recorded them
    study.set_attr("sklearn_scoring", stored)
    search(n_iter=2, storage=storage, study_name="lr", resume=True).fit(x, y, sample_weight=np.ones(len(y)))
    study = ts.Study.load("lr", storage)
    assert len(study.trials) == 2
    assert study.attrs["sklearn_scoring"]["fit_params"].startswith("sample_weight of shape (150,) #")
