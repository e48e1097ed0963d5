"""`TunesmithSearchCV.seed_objective` gives the discipline's seed re-runs an objective for a search's study: the
estimator with the trial's parameters and its ``random_state`` set to the trial's seed, scored on the search's
splits, as the search stored its scores.

The search fits the estimator as given, its own ``random_state`` included, so a search's study had no objective
that reads the seed, and `tunesmith status` advised ``ts.validate_top(study, objective, k=...)`` to its users.
"""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import KFold
from sklearn.tree import DecisionTreeClassifier

import tunesmith as ts
from tunesmith.errors import ConfigError
from tunesmith.report.terminal import summary

X, y = load_breast_cancer(return_X_y=True)
SPACE = {"max_depth": ts.Int(2, 12), "max_features": ts.Float(0.2, 1.0)}


def searched(storage: str, cv: object = 4) -> ts.TunesmithSearchCV:
    search = ts.TunesmithSearchCV(DecisionTreeClassifier(random_state=0), SPACE, n_iter=8, cv=cv, random_state=0,
                                  storage=storage, study_name="trees")  # fmt: skip
    return search.fit(X, y)


def test_the_re_runs_read_the_seed_on_the_search_splits(tmp_path: object) -> None:
    storage = f"sqlite:///{tmp_path}/cv.db"
    search = searched(storage)
    objective = search.seed_objective(X, y)
    study = ts.Study.load("trees", storage=storage)
    report = ts.validate_top(study, objective, k=2, seeds=3, confirm=0)
    best = report.candidates[0]
    assert best.trial == study.best.number
    values = [run.metrics["score"] for run in best.runs]
    # Trees on a share of the features differ from seed to seed, and each run keeps the search's four folds.
    assert len(set(values)) > 1, values
    assert all(sorted(k for k in run.metrics if k.startswith("fold:")) == [f"fold:{i}:score" for i in range(4)]
               for run in best.runs)  # fmt: skip
    # With the search's own random_state, the objective gives the search's score exactly.
    trial = ts.Trial(0, {**study.best.params, "random_state": 0}, seed=0)
    assert objective(trial)["score"] == pytest.approx(study.best.value("score"), abs=1e-12)


def test_other_splits_are_refused(tmp_path: object) -> None:
    search = searched(f"sqlite:///{tmp_path}/cv.db", cv=KFold(4, shuffle=True))
    with pytest.raises(ConfigError, match="re-runs on other data, splits or fit parameters"):
        search.seed_objective(X, y)
    with pytest.raises(ConfigError, match="seed_objective needs a fitted search"):
        ts.TunesmithSearchCV(DecisionTreeClassifier(), SPACE).seed_objective(X, y)


def test_status_names_the_objective_a_search_study_has(tmp_path: object) -> None:
    storage = f"sqlite:///{tmp_path}/cv.db"
    searched(storage)
    out = io.StringIO()
    summary(ts.Study.load("trees", storage=storage), console=Console(file=out, width=400), analyses=False)
    text = " ".join(out.getvalue().split())
    # Five of the eight trees lie within two standard errors of the best over the folds.
    assert "#5, #4, #7, #1, #2 lie within two standard errors" in text, text
    assert "ts.validate_top(study, search.seed_objective(X, y), k=7) re-runs them across seeds" in text
    assert "ts.validate_top(study, objective" not in text
