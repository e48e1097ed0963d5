"""The discipline on scikit-learn searches: what user code receives, and what nested_cv accepts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.svm import SVC

import tunesmith as ts
from tunesmith.discipline.holdout import HoldoutEvaluationFailed, HoldoutOpened
from tunesmith.errors import ConfigError
from tunesmith.integrations.sklearn import TunesmithSearchCV

X, Y = load_breast_cancer(return_X_y=True)
X_SEARCH, Y_SEARCH, X_HOLDOUT, Y_HOLDOUT = X[:200], Y[:200], X[200:300], Y[200:300]
PIPE = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=300))])


def _swap_the_step_search(tmp_path: Path) -> ts.Study:
    """A search over a list of dicts whose options are estimators, stored in SQLite and loaded back."""
    storage = f"sqlite:///{tmp_path / 'search.db'}"
    dists = [
        {"scale": [StandardScaler(), MinMaxScaler()], "clf": [LogisticRegression(max_iter=300)],
         "clf__C": ts.Float(1e-2, 1e2, log=True)},
        {"clf": [SVC()], "clf__C": ts.Float(1e-2, 1e2, log=True)},
    ]  # fmt: skip
    TunesmithSearchCV(PIPE, dists, n_iter=4, cv=3, random_state=0, storage=storage, study_name="swap").fit(
        X_SEARCH, Y_SEARCH
    )
    return ts.Study.load("swap", storage=storage)


def test_finalize_hands_evaluate_the_estimators_parameters_of_a_search_over_a_list_of_dicts(tmp_path: Path) -> None:
    study = _swap_the_step_search(tmp_path)
    received: list[dict[str, Any]] = []

    def evaluate(params: dict[str, Any], seed: int) -> dict[str, Any]:
        received.append(params)
        model = clone(PIPE).set_params(**params).fit(X_SEARCH, Y_SEARCH)
        return {"holdout_score": model.predict(X_HOLDOUT) == Y_HOLDOUT}

    ts.finalize(study, evaluate, holdout="breast-cancer-holdout")
    assert not any("@" in name for name in received[0])
    assert all(not isinstance(value, str) for value in received[0].values())


def test_finalize_judges_the_configuration_a_refit_callable_handed_back(tmp_path: Path) -> None:
    """A refit callable (the one-standard-error rule) hands back a configuration below the top score as
    best_params_ and best_estimator_: finalize opened the holdout on the top score's, a model the user does not
    ship, and said nothing."""
    storage = f"sqlite:///{tmp_path / 'pick.db'}"

    def smallest_c(results: dict[str, Any]) -> int:
        return int(np.argmin([p["clf__C"] for p in results["params"]]))

    search = TunesmithSearchCV(PIPE, {"clf__C": ts.Float(1e-2, 1e2, log=True)}, n_iter=5, cv=3, random_state=0,
                               refit=smallest_c, storage=storage, study_name="pick")  # fmt: skip
    search.fit(X_SEARCH, Y_SEARCH)
    study = ts.Study.load("pick", storage=storage)
    shipped = int(search.cv_results_["trial"][search.best_index_])
    best = study.best
    assert best is not None and shipped != best.number
    received: list[dict[str, Any]] = []

    def evaluate(params: dict[str, Any], seed: int) -> dict[str, Any]:
        received.append(params)
        model = clone(PIPE).set_params(**params).fit(X_SEARCH, Y_SEARCH)
        return {"holdout_score": model.predict(X_HOLDOUT) == Y_HOLDOUT}

    verdict = ts.finalize(study, evaluate, holdout="breast-cancer-holdout")
    assert received == [search.best_params_]
    assert f"best_params_, the refit's pick over the top score's #{best.number}, trial #{shipped}" in verdict.summary()


def test_class_weight_dicts_keyed_by_class_label_reach_finalize_as_given(tmp_path: Path) -> None:
    """``class_weight={0: 1, 1: 10}``, scikit-learn's form keyed by class label, could not be stored (JSON keys are
    strings), and finalize refused every trial that chose one, after the search was paid for."""
    storage = f"sqlite:///{tmp_path / 'cw.db'}"
    weights = [{0: 1, 1: 5}, {0: 1, 1: 10}]
    search = TunesmithSearchCV(PIPE, {"clf__class_weight": weights}, n_iter=2, cv=3, random_state=0,
                               storage=storage, study_name="cw")  # fmt: skip
    search.fit(X_SEARCH, Y_SEARCH)
    received: list[dict[str, Any]] = []

    def evaluate(params: dict[str, Any], seed: int) -> dict[str, Any]:
        received.append(params)
        model = clone(PIPE).set_params(**params).fit(X_SEARCH, Y_SEARCH)
        return {"holdout_score": model.predict(X_HOLDOUT) == Y_HOLDOUT}

    ts.finalize(ts.Study.load("cw", storage=storage), evaluate, holdout="breast-cancer-holdout")
    assert received == [search.best_params_] and received[0]["clf__class_weight"] in weights


def test_an_option_storage_cannot_rebuild_is_said_at_the_fit() -> None:
    """A step defined inside a function has no importable name to rebuild it from: finalize refused the trials that
    chose it, and the fit said nothing."""
    from tunesmith.integrations._sklearn_space import OptionNotStoredWarning

    class LocalScaler(StandardScaler):
        pass

    search = TunesmithSearchCV(PIPE, {"scale": [StandardScaler(), LocalScaler()]}, n_iter=2, cv=3, random_state=0)
    with pytest.warns(OptionNotStoredWarning, match=r"the options scale=LocalScaler\(\) cannot be stored"):
        search.fit(X_SEARCH, Y_SEARCH)


def test_an_evaluate_that_raises_keeps_the_holdout_locked_and_says_how_to_open_it_again(tmp_path: Path) -> None:
    study = _swap_the_step_search(tmp_path)

    def evaluate(params: dict[str, Any], seed: int) -> dict[str, Any]:
        raise ValueError("the holdout file is missing")

    with pytest.raises(HoldoutEvaluationFailed, match=r"was opened for trial #\d+.*stays locked.*force=True"):
        ts.finalize(study, evaluate, holdout="breast-cancer-holdout")
    with pytest.raises(HoldoutOpened):
        ts.finalize(study, evaluate, holdout="breast-cancer-holdout")


def test_internal_names_without_a_recorded_translation_are_refused_before_the_holdout_opens() -> None:
    space = ts.Space({"@distributions": ts.Choice([0, 1]), "C@1": ts.Float(1e-2, 1e2, log=True)})
    study = ts.Study(space, metric=ts.Metric("score", "max"), budget=ts.Budget(trials=3), seed=0)
    study.optimize(lambda trial: {"score": 0.5}, progress=False)

    def evaluate(params: dict[str, Any], seed: int) -> dict[str, Any]:
        return {"holdout_score": 0.5}

    with pytest.raises(ConfigError, match="the holdout was not opened"):
        ts.finalize(study, evaluate, holdout="h")
    assert "holdout_log" not in study.attrs


def test_validate_top_hands_the_objective_the_estimators_parameters(tmp_path: Path) -> None:
    study = _swap_the_step_search(tmp_path)
    received: list[dict[str, Any]] = []

    def objective(trial: ts.Trial) -> dict[str, float]:
        received.append(dict(trial.params))
        model = clone(PIPE).set_params(**trial.params).fit(X_SEARCH, Y_SEARCH)
        return {"score": float(np.mean(model.predict(X_HOLDOUT) == Y_HOLDOUT))}

    ts.validate_top(study, objective, k=1, seeds=2, progress=False)
    assert received and not any("@" in name for params in received for name in params)


def test_nested_cv_takes_n_iter_as_the_budget_of_each_search(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'nested.db'}"
    result = ts.discipline.nested_cv(PIPE, {"clf__C": ts.Float(1e-2, 1e2, log=True)}, X_SEARCH, Y_SEARCH,
                                     outer=2, inner=2, n_iter=3, storage=storage)  # fmt: skip
    assert [len(ts.Study.load(name, storage=storage).trials) for name in result.study_names] == [3, 3]


def test_nested_cv_refuses_refit_since_it_refits_each_winner_itself() -> None:
    with pytest.raises(ConfigError, match=r"refits each outer fold's winner itself.*refit='acc'.*drop refit"):
        ts.discipline.nested_cv(PIPE, {"clf__C": ts.Float(1e-2, 1e2, log=True)}, X_SEARCH, Y_SEARCH,
                                outer=2, inner=2, n_trials=2, refit="acc")  # fmt: skip


def test_nested_cv_refuses_a_multi_metric_scoring_naming_a_single_scorer() -> None:
    with pytest.raises(ConfigError, match=r"multi-metric scoring=.*pass a single scorer, e.g. scoring='accuracy'"):
        ts.discipline.nested_cv(PIPE, {"clf__C": ts.Float(1e-2, 1e2, log=True)}, X_SEARCH, Y_SEARCH,
                                outer=2, inner=2, n_trials=2, scoring={"acc": "accuracy", "ll": "neg_log_loss"})


def test_a_baseline_is_declared_with_the_estimator_objects_the_search_chose_among(tmp_path: Path) -> None:
    """``declare_baseline({"scale": StandardScaler(), ...})`` raised JSON's TypeError: only the label the space
    chooses the object by was taken, which nothing documents. The object is stored by its label, and the baseline's
    objective is handed the object again."""
    storage = f"sqlite:///{tmp_path / 'b.db'}"
    space = {"scale": [StandardScaler(), MinMaxScaler()], "clf__C": ts.Float(1e-2, 1e2, log=True)}
    TunesmithSearchCV(PIPE, space, n_iter=2, cv=3, random_state=0, storage=storage, study_name="b").fit(
        X_SEARCH, Y_SEARCH
    )
    study = ts.Study.load("b", storage=storage)
    with pytest.raises(ConfigError, match=r"baseline parameter scale=.*cannot be stored.*'StandardScaler\(\)'"):
        study.declare_baseline({"scale": object(), "clf__C": 1.0}, seeds=2)
    study.declare_baseline({"scale": StandardScaler(), "clf__C": 1.0}, seeds=2)
    handed: list[dict[str, Any]] = []

    def objective(trial: ts.Trial) -> float:
        handed.append(dict(trial.params))
        model = clone(PIPE).set_params(**trial.params).fit(X_SEARCH, Y_SEARCH)
        return float(model.score(X_HOLDOUT, Y_HOLDOUT))

    ts.evaluate_baseline(study, objective)
    assert all(isinstance(params["scale"], StandardScaler) for params in handed) and len(handed) == 2


def test_a_share_scoring_is_read_in_points_and_a_stored_study_keeps_its_metric(tmp_path: Path) -> None:
    """The metric was always ``score`` without a scale: the verdict read an accuracy gap of 0.034 as +3.4% of the
    score, and a score near 0 asked for a scale no argument gives. A share scoring (a classifier's accuracy, AUC,
    F1, ...) now has a scale of 1; others none; a study stored before resumes with the metric it has."""
    from sklearn.linear_model import Ridge

    storage = f"sqlite:///{tmp_path / 'm.db'}"
    space = {"clf__C": ts.Float(1e-2, 1e2, log=True)}
    for name, options in [("acc", {}), ("auc", {"scoring": "roc_auc_ovr"}), ("loss", {"scoring": "neg_log_loss"})]:
        TunesmithSearchCV(PIPE, space, n_iter=1, cv=3, random_state=0, storage=storage, study_name=name,
                          **options).fit(X_SEARCH, Y_SEARCH)  # fmt: skip
    TunesmithSearchCV(Ridge(), {"alpha": ts.Float(1e-2, 1e2, log=True)}, n_iter=1, cv=3, random_state=0,
                      storage=storage, study_name="r2").fit(X_SEARCH, Y_SEARCH)  # fmt: skip
    scales = {name: ts.Study.load(name, storage).metric.scale for name in ("acc", "auc", "loss", "r2")}
    assert scales == {"acc": 1.0, "auc": 1.0, "loss": None, "r2": None}

    ts.Study(ts.Space({"clf__C": ts.Float(1e-2, 1e2, log=True)}), metric=ts.Metric("score", "max"), storage=storage,
             name="old", budget=ts.Budget(trials=2), seed=0)  # fmt: skip
    TunesmithSearchCV(PIPE, space, n_iter=2, cv=3, random_state=0, storage=storage, study_name="old",
                      resume=True).fit(X_SEARCH, Y_SEARCH)  # fmt: skip
    assert ts.Study.load("old", storage).metric == ts.Metric("score", "max")
