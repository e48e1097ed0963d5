"""XGBoost: `TunesmithCallback` reports every boosting round to a trial and stops training when the
study says so.

Importing this module needs the ``xgboost`` extra (``pip install 'tunesmith[xgboost]'``)::

    def objective(trial):
        callback = TunesmithCallback(trial, monitor="validation-logloss")
        booster = xgb.train(params(trial), dtrain, num_boost_round=200,
                            evals=[(dvalid, "validation")], callbacks=[callback])
        return {"validation-logloss": float(booster.eval(dvalid).split(":")[-1])}

With the scikit-learn API, ``XGBClassifier(callbacks=[callback]).fit(X, y, eval_set=[(X_val, y_val)])``
names the evaluation sets ``validation_0``, ``validation_1``, ...; ``xgboost.cv`` names them ``train``
and ``test``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

from tunesmith.errors import require

require("xgboost", "xgboost")  # raises MissingExtra naming the extra when XGBoost is absent

import xgboost  # noqa: E402
import xgboost.training  # noqa: E402

from tunesmith.integrations._callbacks import (  # noqa: E402
    MetricNotReported,
    refuse_going_back,
    report_and_decide,
)
from tunesmith.trial import Trial  # noqa: E402

__all__ = ["MetricNotReported", "TunesmithCallback"]

# How far up the stack `planned_rounds` looks for xgboost.train or xgboost.cv: their CallbackContainer
# calls before_training, so they are two frames above it.
_FRAMES_UP = 4


def round_metrics(evals_log: Mapping[str, Mapping[str, Sequence[Any]]]) -> dict[str, float]:
    """The latest value of every evaluation, named ``<data set>-<metric>`` (``validation_0-logloss``);
    for ``xgboost.cv`` the mean over the folds."""
    found: dict[str, float] = {}
    for data, metrics in evals_log.items():
        for metric, history in metrics.items():
            if history:
                latest = history[-1]
                found[f"{data}-{metric}"] = float(latest[0] if isinstance(latest, tuple) else latest)
    return found


def planned_rounds() -> int | None:
    """The ``num_boost_round`` of the ``xgboost.train`` or ``xgboost.cv`` call running this callback
    (the scikit-learn API passes its ``n_estimators`` to ``xgboost.train``), or None outside them.

    XGBoost tells callbacks nothing of the rounds planned (LightGBM's ``env.end_iteration``), so this
    reads the argument from the training function's frame."""
    frame = sys._getframe(1)
    for _ in range(_FRAMES_UP):
        if frame.f_back is None:
            return None
        frame = frame.f_back
        code = frame.f_code
        if code.co_filename == xgboost.training.__file__ and code.co_name in {"train", "cv"}:
            rounds = frame.f_locals.get("num_boost_round")
            return rounds if isinstance(rounds, int) else None
    return None


class TunesmithCallback(xgboost.callback.TrainingCallback):
    """Reports every evaluation after each boosting round and stops training when the trial is stopped
    (or paused: resuming is the objective's business, e.g. ``xgboost.train(..., xgb_model=checkpoint)``).

    The step is the number of boosting rounds done (counting rounds of a model training continues
    from), so a scheduler's resource is rounds. Metrics are named ``<data set>-<metric>`` as in the
    training log, and ``monitor`` must be among them. A resumed trial continues the booster it saved,
    ``xgboost.train(..., xgb_model=booster)``, so that its rounds count on from ``trial.step``.

    A stopped run ends as if ``num_boost_round`` (``n_estimators``) had been the rounds it trained:
    the other callbacks see its last round too (XGBoost's ``EarlyStopping`` counts it in
    ``best_iteration``), ``xgboost.cv`` returns a row for every round, and the booster keeps them all.

    Args:
        trial: the trial this training belongs to.
        monitor: the evaluation that must be reported, e.g. ``"validation_0-logloss"`` (the
            scikit-learn API's first ``eval_set``) or ``"<name>-<eval_metric>"`` for ``evals=[(d, name)]``.

    Raises:
        ConfigError: before the first round, when the booster starts below the rounds the trial has done
            (a resumed trial, or a second training of it, without ``xgb_model=``). The trial is marked
            refused (`Trial.refuse`): it fails even if the error is caught, and `Study.optimize` stops the run.
        MetricNotReported: after the first round, when ``monitor`` was not evaluated.
    """

    def __init__(self, trial: Trial, monitor: str) -> None:
        super().__init__()
        self.trial = trial
        self.monitor = monitor
        self.starting_round = 0  # rounds of the model training continues from, as in EarlyStopping
        self._stop = False

    def before_training(self, model: Any) -> Any:
        self.starting_round = model.num_boosted_rounds()
        refuse_going_back(self.trial, self.starting_round, unit="round", counted_by="num_boosted_rounds()", fix=_FIX)
        self._stop = False
        rounds = planned_rounds()
        if rounds is not None and self.starting_round + rounds > 0:
            self.trial.plan(self.starting_round + rounds)
        return model

    def before_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        # The stop comes here, before the next round, rather than from after_iteration: XGBoost stops
        # calling after_iteration on the first callback that returns True, so EarlyStopping would miss
        # the last round, and a stop from after_iteration makes xgboost.cv cut its results at a
        # best_iteration only EarlyStopping sets.
        return self._stop

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        rounds = self.starting_round + epoch + 1
        self._stop = report_and_decide(
            self.trial, rounds, round_metrics(evals_log), monitor=self.monitor,
            where=f"XGBoost's evaluations after round {rounds}",
            fix="evaluate it: pass evals=[(dvalid, name)] to xgboost.train (eval_set= to fit) and set eval_metric",
        )  # fmt: skip
        return False


_FIX = (
    "continue the booster the trial saved, xgboost.train(..., xgb_model=<that booster, or its file under "
    "trial.checkpoint_dir>) (fit(..., xgb_model=...) in the scikit-learn API), with num_boost_round the rounds "
    "still to train; xgboost.cv cannot continue a booster, so resume with xgboost.train"
)
