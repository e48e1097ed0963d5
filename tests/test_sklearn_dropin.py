"""`TunesmithSearchCV` as a drop-in for scikit-learn's searches: a fresh search per fit, the folds' noise kept,
multi-metric scoring callables, and refusals that name tunesmith's way for what other searches take."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.stats import loguniform, randint
from sklearn.datasets import load_breast_cancer, load_iris, load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import cross_validate, train_test_split
from sklearn.tree import DecisionTreeClassifier

import tunesmith as ts
from tunesmith.discipline.conventions import folds_of
from tunesmith.integrations.sklearn import TunesmithSearchCV

C_RANGE = {"C": loguniform(1e-2, 1e2)}


@pytest.fixture(scope="module")
def iris() -> tuple[np.ndarray, np.ndarray]:
    x, y = load_iris(return_X_y=True)
    return x, y


def search(storage: str, **options: Any) -> TunesmithSearchCV:
    return TunesmithSearchCV(LogisticRegression(max_iter=1000), C_RANGE, **{"n_iter": 2, "cv": 3, "random_state": 0,
                             "storage": storage, "study_name": "lr", **options})  # fmt: skip


def accuracy_and_f1(estimator: Any, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    predicted = estimator.predict(x)
    return {"acc": accuracy_score(y, predicted), "f1": f1_score(y, predicted, average="macro")}


def test_cross_validating_a_search_with_a_stored_study_name_refuses_the_fits_after_the_first(
    tmp_path: Path, iris: tuple[np.ndarray, np.ndarray]
) -> None:
    # Each outer fit reused the first fit's trials: configurations chosen on rows holding its own test rows.
    x, y = iris
    with pytest.raises(ts.ConfigError, match=r"study 'lr' in sqlite.* already holds 2 trials.*new study_name"):
        cross_validate(search(f"sqlite:///{tmp_path / 's.db'}"), x, y, cv=3, error_score="raise")


def test_a_second_fit_on_a_stored_study_name_runs_no_trial(tmp_path: Path, iris: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = iris
    storage = f"sqlite:///{tmp_path / 's.db'}"
    search(storage).fit(x, y)
    with pytest.raises(ts.ConfigError, match="pass resume=True"):
        search(storage).fit(x[::2], y[::2])
    assert len(ts.Study.load("lr", storage).trials) == 2


def test_resume_true_continues_the_stored_study_on_the_rows_it_was_scored_on(
    tmp_path: Path, iris: tuple[np.ndarray, np.ndarray]
) -> None:
    x, y = iris
    storage = f"sqlite:///{tmp_path / 's.db'}"
    first = search(storage).fit(x, y)
    again = search(storage, resume=True).fit(x, y)  # other rows are refused (tests/test_sklearn_search_honest.py)
    assert list(again.cv_results_["trial"]) == [0, 1]
    assert again.cv_results_["params"] == first.cv_results_["params"]


def test_a_resumed_study_refuses_another_scoring_naming_both(
    tmp_path: Path, iris: tuple[np.ndarray, np.ndarray]
) -> None:
    x, y = iris
    storage = f"sqlite:///{tmp_path / 's.db'}"
    search(storage, scoring="accuracy").fit(x, y)
    with pytest.raises(ts.ConfigError, match="scoring='accuracy' and this fit scores with scoring='f1_macro'"):
        search(storage, scoring="f1_macro", resume=True).fit(x, y)


def test_the_study_keeps_each_configurations_test_score_on_every_fold(iris: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = iris
    fitted = search("memory", n_iter=3, cv=4).fit(x, y)
    for row, record in enumerate(fitted.trials_):
        expected = [fitted.cv_results_[f"split{k}_test_score"][row] for k in range(4)]
        assert folds_of(record.metrics, "score") == pytest.approx(expected)


def test_the_holdout_gap_reads_the_validation_noise_from_the_search_folds(tmp_path: Path) -> None:
    # The verdict said "validation assumed alike" and told the user to return per-fold scores, which a
    # TunesmithSearchCV user cannot.
    x, y = load_breast_cancer(return_X_y=True)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    x_search, x_holdout, y_search, y_holdout = train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)
    storage = f"sqlite:///{tmp_path / 's.db'}"
    search(storage, n_iter=4, cv=5).fit(x_search, y_search)

    def holdout(params: dict[str, Any], seed: int) -> dict[str, Any]:
        model = LogisticRegression(C=params["C"], max_iter=1000).fit(x_search, y_search)
        return {"score": (model.predict(x_holdout) == y_holdout).astype(float)}

    verdict = ts.finalize(ts.Study.load("lr", storage), holdout, holdout="cancer-holdout")
    gap = verdict.check("holdout gap").detail
    assert "noise from validation 5 folds" in gap and "assumed alike" not in gap


def test_a_parameter_both_tuned_and_the_resource_is_refused_before_any_fit() -> None:
    x, y = load_wine(return_X_y=True)
    forest = TunesmithSearchCV(
        RandomForestClassifier(random_state=0), {"n_estimators": randint(5, 60), "max_depth": [2, 4]}, n_iter=3,
        cv=3, scheduler="asha", resource="n_estimators", min_resource=3, max_resource=27,
    )  # fmt: skip
    with pytest.raises(ts.ConfigError, match="Drop 'n_estimators' from param_distributions"):
        forest.fit(x, y)
    assert not hasattr(forest, "cv_results_")


def test_a_scoring_callable_of_several_metrics_stores_the_refit_metric(iris: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = iris
    fitted = search("memory", n_iter=3, scoring=accuracy_and_f1, refit="f1").fit(x, y)
    stored = [record.metrics["score"] for record in fitted.trials_]
    assert stored == pytest.approx(list(fitted.cv_results_["mean_test_f1"]))


def test_a_scoring_callable_of_several_metrics_without_refit_stores_its_first_metric(
    iris: tuple[np.ndarray, np.ndarray],
) -> None:
    x, y = iris
    fitted = search("memory", n_iter=3, scoring=accuracy_and_f1, refit=False).fit(x, y)
    stored = [record.metrics["score"] for record in fitted.trials_]
    assert stored == pytest.approx(list(fitted.cv_results_["mean_test_acc"]))


@pytest.mark.parametrize(
    ("argument", "equivalent"),
    [
        ({"factor": 2}, "instead of factor=, scheduler={'name': 'asha', 'eta': 2}"),
        ({"min_resources": "exhaust"}, "instead of min_resources=, min_resource="),
        ({"max_resources": 100}, "instead of max_resources=, max_resource="),
        ({"n_candidates": 20}, "instead of n_candidates=, n_iter="),
        ({"aggressive_elimination": True}, "instead of aggressive_elimination=, no switch"),
    ],
)
def test_an_argument_of_halving_random_search_is_refused_with_tunesmiths_equivalent(
    argument: dict[str, Any], equivalent: str
) -> None:
    with pytest.raises(ts.ConfigError, match=f"not HalvingRandomSearchCV's.*{equivalent}") as refused:
        TunesmithSearchCV(LogisticRegression(), C_RANGE, **argument)
    assert refused.value.args[0].count("instead of") == 1


def test_a_scheduler_table_fits_on_the_searchs_resource_range(iris: tuple[np.ndarray, np.ndarray]) -> None:
    # scheduler={"name": "asha", "eta": 3}, the equivalent of factor=3, fitted on ASHA's default range (1 to 81).
    x, y = iris
    fitted = search("memory", n_iter=4, scheduler={"name": "asha", "eta": 3}, resource="n_samples",
                    min_resource=20).fit(x, y)  # fmt: skip
    assert min(fitted.cv_results_["resource"]) == 20 and max(fitted.cv_results_["resource"]) == fitted.max_resource_


def test_a_space_of_one_configuration_is_fitted_once_with_scikit_learns_warning(
    iris: tuple[np.ndarray, np.ndarray],
) -> None:
    # Every parameter given one value: RandomizedSearchCV fits it once and warns; n_iter fits of it repeated one fit.
    x, y = iris
    with pytest.warns(UserWarning, match=r"The total space of parameters 1 is smaller than n_iter=5. Running 1 "):
        search = TunesmithSearchCV(DecisionTreeClassifier(random_state=0), {"max_depth": [3]}, n_iter=5, cv=3,
                                   random_state=0).fit(x, y)  # fmt: skip
    assert search.cv_results_["params"] == [{"max_depth": 3}]
