"""XGBoost: `TunesmithCallback` reports every boosting round to a trial and stops training when the
study says so.

Importing this module needs the ``xgboost`` extra (``pip install 'tunesmith[xgboost]'``)::

    def objective(trial):
        callback = TunesmithCallback(trial, monitor="validation-logloss")
        booster = xgb.train(params(trial), dtrain, num_boost_round=200,
                            evals=[(dvalid, "validation")], callbacks=[callback])
        return {"validation-logloss": float(booster.eval(dvalid).split(":")[-1])}

With the scikit-learn API, ``XGBClassifier(callbacks=[callback]).fit(X, y, eval_set=[(X_val, y_val)])``
names the evaluation sets ``validation_0``, ``validation_1``, ...
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tunesmith.errors import require

require("xgboost", "xgboost")  # raises MissingExtra naming the extra when XGBoost is absent

import xgboost  # noqa: E402

from tunesmith.integrations._callbacks import MetricNotReported, report_and_decide  # noqa: E402
from tunesmith.trial import Trial  # noqa: E402

__all__ = ["MetricNotReported", "TunesmithCallback"]


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


class TunesmithCallback(xgboost.callback.TrainingCallback):
    """Reports every evaluation after each boosting round and stops training (``after_iteration``
    returns True) when the trial is stopped (or paused: resuming is the objective's business).

    The step is the number of boosting rounds done (counting rounds of a model training continues
    from), so a scheduler's resource is rounds. Metrics are named ``<data set>-<metric>`` as in the
    training log, and ``monitor`` must be among them.

    Args:
        trial: the trial this training belongs to.
        monitor: the evaluation that must be reported, e.g. ``"validation_0-logloss"`` (the
            scikit-learn API's first ``eval_set``) or ``"<name>-<eval_metric>"`` for ``evals=[(d, name)]``.

    Raises:
        MetricNotReported: after the first round, when ``monitor`` was not evaluated.
    """

    def __init__(self, trial: Trial, monitor: str) -> None:
        super().__init__()
        self.trial = trial
        self.monitor = monitor

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        rounds = epoch + 1
        return report_and_decide(
            self.trial, rounds, round_metrics(evals_log), monitor=self.monitor,
            where=f"XGBoost's evaluations after round {rounds}",
            fix="evaluate it: pass evals=[(dvalid, name)] to xgboost.train (eval_set= to fit) and set eval_metric",
        )  # fmt: skip
