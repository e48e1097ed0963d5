"""An Optuna study whose define-by-run objective asks for some parameters on some branches only, imported and used
as a warm start: every trial comes in, a parameter it never asked for inactive there, as with tunesmith's own
conditional parameters (``when=``); a result that does not fit the space is still refused, counted, with why."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

import tunesmith as ts
from tunesmith.study import WarmStartWarning
from tunesmith.trial import TrialState

optuna = pytest.importorskip("optuna")
optuna.logging.set_verbosity(optuna.logging.CRITICAL)

from tunesmith.integrations.optuna import ImportResult, import_study  # noqa: E402 - needs optuna

_TRIALS = 16
# The space a user writes for the classifier objective, its branches declared with when=.
_DECLARED = {
    "classifier": ts.Choice(["svm", "tree"]),
    "C": ts.Float(1e-3, 1e3, log=True, when={"classifier": "svm"}),
    "max_depth": ts.Int(1, 10, when={"classifier": "tree"}),
}


def _classifier(trial: Any) -> float:
    """``C`` asked only for the SVM, ``max_depth`` only for the tree."""
    if trial.suggest_categorical("classifier", ["svm", "tree"]) == "svm":
        return abs(trial.suggest_float("C", 1e-3, 1e3, log=True) - 1.0)
    return trial.suggest_int("max_depth", 1, 10) / 10


def _threshold(trial: Any) -> float:
    """``y`` asked only when ``x > 0.5``: a condition on a float, which no ``when=`` can state."""
    x = trial.suggest_float("x", 0.0, 1.0)
    return x + (trial.suggest_float("y", 0.0, 1.0) if x > 0.5 else 0.0)


def _optuna_study(objective: Any) -> Any:
    study = optuna.create_study(study_name="legacy", storage=optuna.storages.InMemoryStorage(),
                                sampler=optuna.samplers.RandomSampler(seed=0))  # fmt: skip
    study.optimize(objective, n_trials=_TRIALS)
    return study


def _imported(optuna_study: Any) -> ImportResult:
    return import_study(optuna_study._storage, optuna_study.study_name, storage="memory")


def _warm_started(space: ts.Space | dict[str, Any], source: ts.Study) -> ts.Study:
    return ts.Study(ts.Space(space), metric="value", storage="memory", name="next", warm_start=source)


def _points(study: ts.Study) -> list[dict[str, Any]]:
    return [point["params"] for point in study.attrs["warm_start"]["points"]]


def _with_stray_tree_trial(optuna_study: Any) -> Any:
    """The classifier study with one tree trial that also recorded ``C`` (added by hand): no parameter's value now
    tells when ``C`` is asked, so the import keeps it unconditional (optional)."""
    distributions = {"classifier": optuna.distributions.CategoricalDistribution(["svm", "tree"]),
                     "C": optuna.distributions.FloatDistribution(1e-3, 1e3, log=True),
                     "max_depth": optuna.distributions.IntDistribution(1, 10)}  # fmt: skip
    optuna_study.add_trial(optuna.trial.create_trial(
        params={"classifier": "tree", "C": 1.0, "max_depth": 3}, distributions=distributions, value=0.3,
    ))  # fmt: skip
    return optuna_study


def test_every_trial_of_a_branching_optuna_objective_is_imported_with_only_the_parameters_it_asked_for() -> None:
    optuna_study = _optuna_study(_classifier)
    imported = _imported(optuna_study).study
    assert [(t.number, t.state, t.params) for t in imported.trials] == [
        (t.number, TrialState.COMPLETE, t.params) for t in optuna_study.trials
    ]


def test_the_inferred_space_declares_the_branches_as_when_conditions() -> None:
    space = _imported(_optuna_study(_classifier)).study.space
    assert space == ts.Space(_DECLARED)


def test_a_warm_start_from_the_imported_study_under_its_inferred_space_keeps_every_trial() -> None:
    optuna_study = _optuna_study(_classifier)
    imported = _imported(optuna_study).study
    with warnings.catch_warnings():
        warnings.simplefilter("error", WarmStartWarning)
        study = _warm_started(imported.space, imported)
    assert _points(study) == [t.params for t in optuna_study.trials]


def test_a_warm_start_from_the_imported_study_under_a_declared_space_with_when_keeps_every_trial() -> None:
    optuna_study = _optuna_study(_classifier)
    with warnings.catch_warnings():
        warnings.simplefilter("error", WarmStartWarning)
        study = _warm_started(_DECLARED, _imported(optuna_study).study)
    assert _points(study) == [t.params for t in optuna_study.trials]


def test_a_parameter_asked_on_a_branch_no_other_parameter_explains_is_imported_optional() -> None:
    result = _imported(_optuna_study(_threshold))
    assert result.optional == ("y",)


def test_a_warm_start_keeps_the_trials_that_never_asked_for_an_optional_parameter_with_it_inactive() -> None:
    optuna_study = _optuna_study(_threshold)
    imported = _imported(optuna_study).study
    with warnings.catch_warnings():
        warnings.simplefilter("error", WarmStartWarning)
        study = _warm_started(imported.space, imported)
    lacking = [t.params for t in optuna_study.trials if "y" not in t.params]
    assert lacking  # the study does take the branch without y
    assert _points(study) == [t.params for t in optuna_study.trials]


def test_a_study_warm_started_with_an_optional_parameter_inactive_in_some_points_runs_its_trials() -> None:
    imported = _imported(_optuna_study(_threshold)).study
    study = ts.Study(imported.space, metric="value", storage="memory", sampler="tpe", seed=0, warm_start=imported)
    study.optimize(lambda trial: trial.params["x"] + trial.params["y"], n_trials=3)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3


def test_a_stray_trial_that_makes_a_branch_parameter_optional_leaves_the_other_branch_in_the_warm_start() -> None:
    optuna_study = _with_stray_tree_trial(_optuna_study(_classifier))
    result = _imported(optuna_study)
    assert result.optional == ("C",)
    with warnings.catch_warnings():
        warnings.simplefilter("error", WarmStartWarning)
        study = _warm_started(result.study.space, result.study)
    assert _points(study) == [t.params for t in optuna_study.trials]


def test_under_a_declared_space_the_stray_trial_giving_a_switched_off_parameter_is_dropped_and_counted() -> None:
    optuna_study = _with_stray_tree_trial(_optuna_study(_classifier))
    said = "1 of 17 results dropped .*1 lacking a parameter the space makes active or giving one it switches off"
    with pytest.warns(WarmStartWarning, match=said):
        study = _warm_started(_DECLARED, _imported(optuna_study).study)
    assert _points(study) == [t.params for t in optuna_study.trials[:-1]]


def test_results_outside_the_declared_range_are_still_dropped_and_counted() -> None:
    optuna_study = _optuna_study(_classifier)
    narrow = {**_DECLARED, "C": ts.Float(0.1, 10.0, log=True, when={"classifier": "svm"})}
    outside = sum(not 0.1 <= t.params.get("C", 1.0) <= 10.0 for t in optuna_study.trials)
    assert outside  # some SVM trials ran outside the narrower range
    said = f"{outside} of {_TRIALS} results dropped \\({outside} outside the space's bounds"
    with pytest.warns(WarmStartWarning, match=said):
        study = _warm_started(narrow, _imported(optuna_study).study)
    assert len(_points(study)) == _TRIALS - outside


def test_a_parameter_the_declared_space_lacks_is_still_refused_by_name() -> None:
    without_tree = {"classifier": ts.Choice(["svm", "tree"]), "C": _DECLARED["C"]}
    with pytest.raises(ts.SpaceError, match=r"\['max_depth'\] are not parameters of this study's space"):
        _warm_started(without_tree, _imported(_optuna_study(_classifier)).study)


def test_a_branch_the_source_space_switched_off_is_still_refused_where_the_new_space_makes_it_active() -> None:
    imported = _imported(_optuna_study(_classifier)).study
    tree_trials = sum(t.params["classifier"] == "tree" for t in imported.trials)
    unconditional = {**_DECLARED, "C": ts.Float(1e-3, 1e3, log=True)}
    said = f"{tree_trials} of {_TRIALS} results dropped \\(0 outside the space's bounds, {tree_trials} lacking"
    with pytest.warns(WarmStartWarning, match=said):
        _warm_started(unconditional, imported)
