"""A baseline whose names are not the space's is refused before it is recorded or run.

`Study(baseline={"x": 0.5, "yy": 0.3})` over a space of x and y was recorded as given: the objective then ran the
baseline without y (or failed every run on a KeyError), and the verdict's baseline margin named a configuration
that never ran.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import tunesmith as ts
from tunesmith.attributes import BaselineAttr, read_attr

SPACE = ts.Space({"x": ts.Float(0.0, 1.0), "y": ts.Float(0.0, 1.0)})


def _objective(trial: ts.Trial) -> dict[str, float]:
    return {"score": trial.params["x"] + 0.01 * (trial.seed % 7) + 0.1 * trial.params.get("dropout", 0.0)}


def _study(path: Path, baseline: dict[str, float] | None = None) -> ts.Study:
    return ts.Study(
        SPACE, metric=ts.Metric("score", "max"), storage=f"sqlite:///{path / 'b.db'}", name="b", seed=0,
        budget=ts.Budget(trials=4), baseline=baseline,
    )  # fmt: skip


def test_a_misspelt_baseline_name_is_refused_naming_the_parameter_it_resembles(tmp_path: Path) -> None:
    with pytest.raises(ts.SpaceError, match=r"baseline: 'yy' is not a parameter of the space, got yy=0\.3: did you mean 'y'\? the space has x, y"):  # noqa: E501
        _study(tmp_path, {"x": 0.5, "yy": 0.3})
    study = _study(tmp_path)
    assert read_attr(study.attrs, BaselineAttr) is None  # nothing recorded


def test_a_baseline_outside_the_searched_range_is_taken(tmp_path: Path) -> None:
    study = _study(tmp_path, {"x": 2.0, "y": 0.0})  # the model's default may lie outside the range searched
    recorded = read_attr(study.attrs, BaselineAttr)
    assert recorded is not None and recorded.params == {"x": 2.0, "y": 0.0}


def test_a_name_no_trial_asked_for_is_refused_before_the_baseline_runs_once_the_trials_read_only_the_space(
    tmp_path: Path,
) -> None:
    """Before any trial, the objective might ask for ``dropout`` by name; once the search's trials asked for none,
    no run reads it, and the declared baseline is refused before a run is spent."""
    study = _study(tmp_path, {"x": 0.5, "y": 0.5, "dropout": 0.2})
    study.optimize(_objective)
    with pytest.raises(ts.SpaceError, match=r"the baseline declared with the study .* 'dropout' is not a parameter of the space.*no baseline run would read it"):  # noqa: E501
        ts.validate_top(study, _objective, k=2, seeds=2)
    recorded = read_attr(study.attrs, BaselineAttr)
    assert recorded is not None and not recorded.runs  # nothing ran
    with pytest.raises(ts.SpaceError, match=r"evaluate_baseline's params: 'dropout' is not a parameter"):
        ts.evaluate_baseline(study, _objective, params={"x": 0.5, "y": 0.5, "dropout": 0.2}, seeds=2)
    study.declare_baseline({"x": 0.5, "y": 0.5})  # replaces the one not run
    assert ts.validate_top(study, _objective, k=2, seeds=2).baseline is not None


def test_a_define_by_run_study_takes_a_baseline_name_its_trials_will_ask_for(tmp_path: Path) -> None:
    def by_name(trial: ts.Trial) -> dict[str, float]:
        return {"score": trial.suggest_float("lr", 1e-4, 1.0, log=True)}

    study = ts.Study(metric=ts.Metric("score", "max"), storage=f"sqlite:///{tmp_path / 'd.db'}", name="d",
                     budget=ts.Budget(trials=3), baseline={"lr": 0.01})  # fmt: skip
    study.optimize(by_name)
    with pytest.raises(ts.SpaceError, match="did you mean 'lr'"):
        study.declare_baseline({"lrr": 0.01})


def test_a_scikit_learn_search_takes_a_baseline_in_its_estimators_terms(tmp_path: Path) -> None:
    """A list of dicts keeps ``kernel`` apart per dict (``kernel@0``, ``kernel@1``); the baseline names the
    estimator's ``kernel``, which the search's objective hands to ``set_params``."""
    from scipy.stats import loguniform
    from sklearn.datasets import load_iris
    from sklearn.svm import SVC

    from tunesmith.integrations._sklearn_space import EstimatorParamsAttr
    from tunesmith.study._known import SKLEARN_PARAMS

    assert EstimatorParamsAttr.KEY == SKLEARN_PARAMS
    x, y = load_iris(return_X_y=True)
    distributions = [{"kernel": ["linear"], "C": loguniform(1e-2, 1e2)},
                     {"kernel": ["rbf"], "C": loguniform(1e-2, 1e2), "gamma": loguniform(1e-3, 1.0)}]  # fmt: skip
    url = f"sqlite:///{tmp_path / 'svc.db'}"
    search = ts.TunesmithSearchCV(SVC(), distributions, n_iter=4, storage=url, study_name="svc", random_state=0)
    search.fit(x, y)
    study = ts.Study.load("svc", storage=url)
    assert "kernel" not in study.space
    baseline = ts.evaluate_baseline(study, search.seed_objective(x, y), params={"kernel": "rbf", "C": 1.0}, seeds=2)
    assert baseline.mean > 0.9
