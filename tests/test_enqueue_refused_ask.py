"""A define-by-run trial whose ask refuses an enqueued value (outside the range it asks for) fails with that value
named, records no value that never ran, and is not said to have left the enqueued names unused: it warned that the
objective "never asked for" lr, the very name whose ask refused it, and kept opt='rmsprop' among the params of a
trial that asked for opt with two other choices."""

from __future__ import annotations

import warnings

import pytest

import tunesmith as ts
from tunesmith.study._known import EnqueuedParameterUnusedWarning
from tunesmith.trial import TrialState


def objective(trial: ts.Trial) -> dict[str, float]:
    optimizer = trial.suggest_categorical("opt", ["adam", "sgd"])
    lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    momentum = trial.suggest_float("momentum", 0.0, 0.99) if optimizer == "sgd" else 0.0
    return {"loss": (lr - 0.01) ** 2 + 0.01 * momentum}


def test_an_ask_that_refuses_its_enqueued_value_fails_the_trial_without_calling_the_names_unused() -> None:
    study = ts.Study(metric="loss", storage="memory", budget=ts.Budget(trials=1), seed=0)
    study.enqueue({"opt": "adam", "lr": 0.5, "momentum": 0.9})
    with warnings.catch_warnings():
        warnings.simplefilter("error", EnqueuedParameterUnusedWarning)
        study.optimize(objective, fail_fast=None)
    (trial,) = study.trials
    assert trial.state is TrialState.FAILED
    assert "trial 0 was given lr=0.5 by study.enqueue, which suggest_float('lr', 0.0001, 0.1, log=True) cannot " \
        "take" in (trial.error or "")
    assert trial.params == {"opt": "adam"}  # the value that ran; lr's never did, nor momentum's


def test_a_refused_choice_is_not_kept_among_the_params() -> None:
    # Enqueued before any trial asked for opt, so enqueue could not check it against the choices.
    study = ts.Study(metric="loss", storage="memory", budget=ts.Budget(trials=2), seed=0)
    study.enqueue({"opt": "adam", "lr": 0.01})
    study.enqueue({"opt": "rmsprop", "lr": 0.01})
    study.optimize(objective, fail_fast=None)
    refused = study.trials[1]
    assert refused.state is TrialState.FAILED and "was given opt='rmsprop' by study.enqueue" in (refused.error or "")
    assert refused.params == {}, refused.params  # opt's ask refused it, and lr was never asked for


def test_a_name_the_objective_never_asks_for_is_still_said_unused() -> None:
    study = ts.Study(metric="loss", storage="memory", budget=ts.Budget(trials=1), seed=0)
    study.enqueue({"opt": "adam", "lr": 0.01, "momentum": 0.9})  # adam asks for no momentum
    with pytest.warns(EnqueuedParameterUnusedWarning, match="giving momentum=0.9, which the space lacks"):
        study.optimize(objective)
    assert study.trials[0].params == {"opt": "adam", "lr": 0.01}
