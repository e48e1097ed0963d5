"""Training-library callbacks used the wrong way: built from something other than a trial, copied with their
estimator, listed after a callback that ends training, or trained twice on one trial. Each misuse is refused
before training with the rule and the fix, or handled so that storage holds what the library trained."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import Any

import pytest

import tunesmith as ts
from tests.test_integrations_callbacks import SKIP_REASON, breast_cancer
from tunesmith.decision import Decision
from tunesmith.errors import ArgumentError, ConfigError, TrialNotRunning
from tunesmith.study import ObjectiveError
from tunesmith.trial import Trial

# Keras reads its backend once, at its first import: PyTorch's, as no TensorFlow is installed.
os.environ["KERAS_BACKEND"] = "torch"

XGB_PARAMS = {"objective": "binary:logistic", "eval_metric": "logloss", "max_depth": 2, "nthread": 1}


def recording_trial(steps: list[int]) -> Trial:
    """A trial whose reports go to ``steps`` and that the study always lets go on."""

    def reporter(step: int, values: dict[str, float]) -> Decision:
        steps.append(step)
        return Decision.CONTINUE

    return Trial(0, {}, 0, reporter=reporter)


def xgboost_train(trial: Trial, rounds: int = 3, callbacks: list[Any] | None = None, log: dict[str, Any] | None = None
                  ) -> Any:  # fmt: skip
    xgboost = pytest.importorskip("xgboost", reason=SKIP_REASON)
    from tunesmith.integrations.xgboost import TunesmithCallback

    x, y, xv, yv = breast_cancer()
    return xgboost.train(
        XGB_PARAMS, xgboost.DMatrix(x, label=y), rounds, evals=[(xgboost.DMatrix(xv, label=yv), "valid")],
        verbose_eval=False, evals_result=log,
        callbacks=[*(callbacks or []), TunesmithCallback(trial, monitor="valid-logloss")],
    )  # fmt: skip


def lightgbm_train(trial: Trial, rounds: int = 3) -> None:
    lightgbm = pytest.importorskip("lightgbm", reason=SKIP_REASON)
    from tunesmith.integrations.lightgbm import tunesmith_callback

    x, y, xv, yv = breast_cancer()
    train = lightgbm.Dataset(x, label=y)
    lightgbm.train(
        {"objective": "binary", "verbose": -1, "num_threads": 1}, train, rounds,
        valid_sets=[lightgbm.Dataset(xv, label=yv, reference=train)],
        callbacks=[tunesmith_callback(trial, monitor="valid_0-binary_logloss")],
    )  # fmt: skip


# A Trial is a handle, not a value --------------------------------------------------------------------------------


def test_scikit_learn_s_clone_of_an_estimator_keeps_its_callback_reporting_to_the_trial_itself() -> None:
    xgboost = pytest.importorskip("xgboost", reason=SKIP_REASON)
    from sklearn.base import clone

    from tunesmith.integrations.xgboost import TunesmithCallback

    trial = recording_trial([])
    estimator = xgboost.XGBClassifier(callbacks=[TunesmithCallback(trial, monitor="validation_0-logloss")])
    (copied,) = clone(estimator).get_params()["callbacks"]
    assert copied.trial is trial


def test_cross_validating_an_xgboost_estimator_with_the_callback_fails_the_trial_and_stops_the_study() -> None:
    xgboost = pytest.importorskip("xgboost", reason=SKIP_REASON)
    from sklearn.exceptions import FitFailedWarning
    from sklearn.model_selection import cross_val_score

    from tunesmith.integrations.xgboost import TunesmithCallback

    x, y, xv, yv = breast_cancer()
    refused: list[str | None] = []

    def objective(trial: Trial) -> dict[str, float]:
        callback = TunesmithCallback(trial, monitor="validation_0-logloss")
        model = xgboost.XGBClassifier(
            n_estimators=3, n_jobs=1, max_depth=2, eval_metric="logloss", callbacks=[callback]
        )
        with pytest.warns(FitFailedWarning):  # scikit-learn scores a failed fold NaN and goes on
            scores = cross_val_score(model, x, y, cv=2, params={"eval_set": [(xv, yv)], "verbose": False})
        refused.append(trial.refused)
        return {"validation_0-logloss": 1 - float(scores[0])}

    study = ts.Study(metric="validation_0-logloss", budget=ts.Budget(trials=2), storage="memory", seed=0)
    with pytest.raises(ObjectiveError, match="a trial reports one learning curve"):
        study.optimize(objective)
    assert refused[0] is not None and "use xgboost.cv" in refused[0]


# XGBoost's callbacks after one that ends training ----------------------------------------------------------------


def test_the_round_an_earlier_xgboost_early_stopping_ended_training_on_is_reported() -> None:
    xgboost = pytest.importorskip("xgboost", reason=SKIP_REASON)
    steps: list[int] = []
    log: dict[str, Any] = {}
    booster = xgboost_train(
        recording_trial(steps), rounds=200, log=log, callbacks=[xgboost.callback.EarlyStopping(rounds=2)]
    )
    assert booster.num_boosted_rounds() < 200  # early stopping ended it
    assert steps == list(range(1, len(log["valid"]["logloss"]) + 1))


# A second training of one trial ----------------------------------------------------------------------------------


def test_a_second_xgboost_training_of_a_trial_is_told_to_report_one_curve_before_it_trains() -> None:
    steps: list[int] = []
    trial = recording_trial(steps)
    xgboost_train(trial)
    with pytest.raises(ConfigError, match=r"a trial reports one learning curve.*use xgboost\.cv.*on one fold"):
        xgboost_train(trial)
    assert steps == [1, 2, 3]
    assert trial.refused is not None


def test_a_second_lightgbm_training_of_a_trial_is_told_to_report_one_curve() -> None:
    steps: list[int] = []
    trial = recording_trial(steps)
    lightgbm_train(trial)
    with pytest.raises(ConfigError, match=r"a trial reports one learning curve.*use lightgbm\.cv.*on one fold"):
        lightgbm_train(trial)
    assert steps == [1, 2, 3]


def test_training_a_trial_the_study_was_told_raises_trial_not_running_before_it_trains() -> None:
    study = ts.Study(metric="valid-logloss", storage="memory", seed=0)
    trial = study.ask()
    xgboost_train(trial)
    study.tell(trial, {"valid-logloss": 0.1})
    with pytest.raises(TrialNotRunning, match=r"trial #0 is complete, not running"):
        xgboost_train(trial)
    assert [step for step, _ in study.trials[0].curve("valid-logloss")] == [1, 2, 3]


# The callback's first argument -----------------------------------------------------------------------------------


def _callback_factories() -> dict[str, Callable[[Any], object]]:
    """Each library's callback, built from a first argument, by the extra that brings it."""

    def build(module: str, name: str) -> Callable[[Any], object]:
        def make(first: Any) -> object:
            return getattr(importlib.import_module(f"tunesmith.integrations.{module}"), name)(first, monitor="m")

        return make

    return {
        "xgboost": build("xgboost", "TunesmithCallback"),
        "lightgbm": build("lightgbm", "tunesmith_callback"),
        "keras": build("keras", "TunesmithCallback"),
        "transformers": build("transformers", "TunesmithCallback"),
        "lightning": build("lightning", "TunesmithCallback"),
    }


LIBRARY_MODULES = {
    "xgboost": "xgboost", "lightgbm": "lightgbm", "keras": "keras", "transformers": "transformers",
    "lightning": "lightning.pytorch",
}  # fmt: skip


@pytest.mark.parametrize("library", sorted(LIBRARY_MODULES))
@pytest.mark.parametrize(
    ("given", "fix"),
    [
        ("study", r"build the callback inside the objective"),
        ("valid-logloss", r"the trial comes first and the monitored metric by name: .*monitor='valid-logloss'"),
        (None, r"pass the trial the objective receives"),
    ],
)
def test_a_callback_built_from_something_other_than_a_trial_is_refused_with_the_fix(
    library: str, given: str | None, fix: str
) -> None:
    pytest.importorskip(LIBRARY_MODULES[library], reason=SKIP_REASON)
    first = ts.Study(metric="m", storage="memory", seed=0) if given == "study" else given
    with pytest.raises(ArgumentError, match=rf"first argument must be the objective's Trial, but got .*: {fix}"):
        _callback_factories()[library](first)


# The study's metric and the names the library logs ---------------------------------------------------------------


def test_a_study_metric_the_callback_never_reports_is_told_to_take_the_library_s_name() -> None:
    """XGBoost logs 'valid-logloss'; the study ranks by 'val_loss': the fix named only trial.report(val_loss=...),
    which a callback user never calls."""
    pytest.importorskip("xgboost", reason=SKIP_REASON)

    def objective(trial: Trial) -> dict[str, float]:
        xgboost_train(trial, rounds=9)
        return {"val_loss": 0.1}

    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="val_loss", scheduler=ts.ASHA(1, 9, 3),
                     budget=ts.Budget(trials=6), storage="memory", seed=0)  # fmt: skip
    with pytest.raises(ObjectiveError) as raised:
        study.optimize(objective)
    text = " ".join(str(raised.value).split())
    assert "reports what the library logs under the library's own names ('valid-logloss'" in text, text
    assert "metric='valid-logloss'" in text, text
