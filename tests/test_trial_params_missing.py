"""A missing key of ``trial.params`` says why it is missing and what to do: a parameter its condition switches off
in this trial, one defined by run that the trial has not asked for yet, or a name the trial has no parameter of.

Before, an objective that read ``trial.params["y"]`` from a space of ``x`` stopped the run with a bare
``KeyError: 'y'``, and fail-fast's note suggested that some configurations might raise it on purpose.
"""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import pytest

import tunesmith as ts
from tunesmith.study import ObjectiveError

SVC = ts.Space({
    "kernel": ts.Choice(["rbf", "linear"]),
    "gamma": ts.Float(1e-4, 1.0, log=True, when={"kernel": "rbf"}),
    "C": ts.Float(0.1, 10.0),
})  # fmt: skip


def missing(trial: ts.Trial, name: str) -> str:
    with pytest.raises(KeyError) as caught:
        trial.params[name]
    return str(caught.value.args[0])


def test_a_typo_names_the_parameters_and_the_closest() -> None:
    said: list[str] = []

    def objective(trial: ts.Trial) -> float:
        said.append(missing(trial, "gama"))
        return float(trial.params["C"])

    study = ts.Study(SVC, metric="loss", budget=ts.Budget(trials=1), storage="memory", seed=0, sampler="random")
    study.optimize(objective)
    assert said[0].startswith("'gama' is not a parameter of this trial (its parameters: C, gamma, kernel). Did you "
                              "mean 'gamma'? Declare it in the space, or ask for it by run"), said  # fmt: skip


def test_a_parameter_its_condition_switches_off_says_which_condition() -> None:
    said: dict[str, str] = {}

    def objective(trial: ts.Trial) -> float:
        if trial.params["kernel"] == "linear":
            said["linear"] = missing(trial, "gamma")
        return float(trial.params["C"])

    study = ts.Study(SVC, metric="loss", budget=ts.Budget(trials=8), storage="memory", seed=0, sampler="random")
    study.optimize(objective)
    assert said["linear"] == (
        "'gamma' is not active in this trial: it is set only when kernel is one of ['rbf'], and here kernel = "
        "'linear'; read it with trial.params.get('gamma', default), or only where its condition holds"
    )


def test_a_parameter_defined_by_run_and_not_asked_for_yet_says_to_ask() -> None:
    said: list[str] = []

    def objective(trial: ts.Trial) -> float:
        if trial.number == 2:
            said.append(missing(trial, "lr"))
        return trial.suggest_float("lr", 1e-4, 1.0, log=True)

    study = ts.Study(metric="loss", budget=ts.Budget(trials=3), storage="memory", seed=0)
    study.optimize(objective)
    assert said == ["'lr' is a parameter defined by run that this trial has not asked for yet: ask for it with "
                    "trial.suggest_float/suggest_int/suggest_categorical('lr', ...) before reading trial.params"]


def test_a_broken_objective_stops_with_the_message() -> None:
    def objective(trial: ts.Trial) -> float:
        return float(trial.params["y"] ** 2)

    space = ts.Space({"x": ts.Float(-3.0, 3.0)})
    study = ts.Study(space, metric="loss", budget=ts.Budget(trials=10), storage="memory", seed=0)
    with pytest.raises(ObjectiveError, match=r"MissingParameterError: 'y' is not a parameter of this trial \(its "
                       r"parameters: x\)") as caught:  # fmt: skip
        study.optimize(objective)
    # A name the trial has none of is the code's error in every configuration, never one that cannot run.
    assert "raise this on purpose" not in str(caught.value)


def test_the_params_are_a_dict_to_everything_else() -> None:
    kept: list[Any] = []

    def objective(trial: ts.Trial) -> float:
        params = trial.params
        kept.extend([pickle.loads(pickle.dumps(params)), copy.deepcopy(params), json.loads(json.dumps(params))])
        assert params.get("gamma", "scale") is not None and dict(params) == params
        return float(params["C"])

    study = ts.Study(SVC, metric="loss", budget=ts.Budget(trials=1), storage="memory", seed=0, sampler="random")
    study.optimize(objective)
    assert all(type(value) is dict and value == study.trials[0].params for value in kept)
