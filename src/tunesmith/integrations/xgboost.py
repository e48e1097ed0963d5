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
    Extra,
    ExtraMetrics,
    MetricNotReported,
    refuse_going_back,
    report_and_decide,
    require_trial,
)
from tunesmith.trial import Trial  # noqa: E402

__all__ = ["MetricNotReported", "TunesmithCallback"]

# How far up the stack `planned_rounds` looks for xgboost.train or xgboost.cv: their CallbackContainer
# calls before_training, so they are two frames above it.
_FRAMES_UP = 4


def round_metrics(evals_log: Mapping[str, Mapping[str, Sequence[Any]]], index: int = -1) -> dict[str, float]:
    """The value of every evaluation at the run's round ``index`` (0-based; by default the latest), named
    ``<data set>-<metric>`` (``validation_0-logloss``); for ``xgboost.cv`` the mean over the folds."""
    found: dict[str, float] = {}
    for data, metrics in evals_log.items():
        for metric, history in metrics.items():
            if -len(history) <= index < len(history):
                value = history[index]
                found[f"{data}-{metric}"] = float(value[0] if isinstance(value, tuple) else value)
    return found


def rounds_logged(evals_log: Mapping[str, Mapping[str, Sequence[Any]]]) -> int:
    """How many rounds of this run ``evals_log`` holds evaluations of."""
    return max((len(history) for metrics in evals_log.values() for history in metrics.values()), default=0)


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
    A round on which a callback listed before this one ended training (``EarlyStopping``: XGBoost then calls
    no later callback's ``after_iteration``) is reported in ``after_training``.

    Args:
        trial: the trial this training belongs to.
        monitor: the evaluation that must be reported, e.g. ``"validation_0-logloss"`` (the
            scikit-learn API's first ``eval_set``) or ``"<name>-<eval_metric>"`` for ``evals=[(d, name)]``.
        extra: metrics XGBoost does not evaluate, added to every round's report: a mapping of names to numbers
            (``{"size": float(params["max_depth"])}``), or a callable with no argument that returns one, called at
            each report (a guardrail measured as training goes). A second objective of the study, or the metric a
            scheduler ranks by, reaches every step this way. Its names must differ from the evaluations'.

    Raises:
        ArgumentError: ``trial`` is not a `Trial` (the study, the monitor's name, None), or ``extra`` is neither a
            mapping nor a callable; also a `TypeError`.
        ConfigError: before the first round, when the booster starts below the rounds the trial has done: a
            resumed trial without ``xgb_model=``, or a second training of the trial (a k-fold loop with the
            callback on every fold: use ``xgboost.cv``, or the callback on one fold). The trial is marked
            refused (`Trial.refuse`): it fails even if the error is caught, and `Study.optimize` stops the run.
            Also where the callback is built, when a name of ``extra`` is ``monitor``, and at a report, when one is
            also an evaluation's (the trial is marked refused).
        TrialNotRunning: before the first round, when the trial has ended (told, or its objective returned).
        MetricNotReported: after the first round, when ``monitor`` was not evaluated. XGBoost evaluates every set
            at every round, so a name missing then is missing from every trial (a misspelt ``monitor=``): the trial
            is marked refused, and `Study.optimize` stops the run at once.
    """

    def __init__(self, trial: Trial, monitor: str, *, extra: Extra | None = None) -> None:
        super().__init__()
        self.trial = require_trial(trial, "XGBoost's TunesmithCallback")
        self.monitor = monitor
        self.extra = ExtraMetrics(extra, trial=self.trial, monitor=monitor, callback="XGBoost's TunesmithCallback")
        self.starting_round = 0  # rounds of the model training continues from, as in EarlyStopping
        self._stop = False
        self._reported = 0  # the rounds of this run reported
        self._evals_log: Any = None  # XGBoost's history of this run's evaluations, filled in place every round

    def before_training(self, model: Any) -> Any:
        self.starting_round = model.num_boosted_rounds()
        refuse_going_back(
            self.trial, self.starting_round, unit="round", counted_by="num_boosted_rounds()", fix=_FIX, cv="xgboost.cv"
        )
        self._stop = self.trial.should_stop()  # a second training of a trial the study stopped: no round
        self._reported = 0
        self._evals_log = None
        rounds = planned_rounds()
        if rounds is not None and self.starting_round + rounds > 0:
            self.trial.plan(self.starting_round + rounds)
        return model

    def before_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        # The stop comes here, before the next round, rather than from after_iteration: XGBoost stops
        # calling after_iteration on the first callback that returns True, so EarlyStopping would miss
        # the last round, and a stop from after_iteration makes xgboost.cv cut its results at a
        # best_iteration only EarlyStopping sets.
        self._evals_log = evals_log
        return self._stop

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        self._report(epoch, round_metrics(evals_log))
        return False

    def after_training(self, model: Any) -> Any:
        # A callback before this one that ended training (EarlyStopping) kept XGBoost from calling this one's
        # after_iteration for the last round, which the booster holds and evals_log logged: report it now.
        if self._evals_log is not None and not self._stop:
            for index in range(self._reported, rounds_logged(self._evals_log)):
                self._report(index, round_metrics(self._evals_log, index))
                if self._stop:
                    break
        return model

    def _report(self, index: int, metrics: dict[str, float]) -> None:
        """Report ``metrics``, this run's round ``index`` (0-based), and keep whether training must stop."""
        rounds = self.starting_round + index + 1
        self._stop = report_and_decide(
            self.trial, rounds, metrics, monitor=self.monitor,
            where=f"XGBoost's evaluations after round {rounds}",
            fix="evaluate it: pass evals=[(dvalid, name)] to xgboost.train (eval_set= to fit) and set eval_metric",
            complete=True, extra=self.extra,  # XGBoost evaluates every set and metric at every round
        )  # fmt: skip
        self._reported = index + 1


_FIX = (
    "continue the booster the trial saved, xgboost.train(..., xgb_model=<that booster, or its file under "
    "trial.checkpoint_dir>) (fit(..., xgb_model=...) in the scikit-learn API), with num_boost_round the rounds "
    "still to train; xgboost.cv cannot continue a booster, so resume with xgboost.train"
)
