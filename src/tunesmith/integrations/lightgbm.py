"""LightGBM: `tunesmith_callback` reports every boosting round to a trial and stops training when the
study says so.

Importing this module needs the ``lightgbm`` extra (``pip install 'tunesmith[lightgbm]'``)::

    def objective(trial):
        booster = lgb.train(params(trial), train_set, num_boost_round=200, valid_sets=[valid_set],
                            callbacks=[tunesmith_callback(trial, monitor="valid_0-binary_logloss")])
        return {"valid_0-binary_logloss": booster.best_score["valid_0"]["binary_logloss"]}
"""

from __future__ import annotations

from typing import Any

from tunesmith.errors import require

require("lightgbm", "lightgbm")  # raises MissingExtra naming the extra when LightGBM is absent

import lightgbm  # noqa: E402

from tunesmith.integrations._callbacks import (  # noqa: E402
    Extra,
    ExtraMetrics,
    MetricNotReported,
    refuse_going_back,
    report_and_decide,
    require_trial,
)
from tunesmith.trial import Trial  # noqa: E402

__all__ = ["MetricNotReported", "tunesmith_callback"]


class _TunesmithCallback:
    """The callable `tunesmith_callback` returns (LightGBM calls it after every round)."""

    # LightGBM runs callbacks in ``order``: after record_evaluation (20), so the round that stops
    # the run is recorded, and before early_stopping (30), so that round is reported.
    ORDER = 25

    def __init__(self, trial: Trial, monitor: str, *, extra: Extra | None = None) -> None:
        self.trial = require_trial(trial, "LightGBM's tunesmith_callback")
        self.monitor = monitor
        self.extra = ExtraMetrics(extra, trial=self.trial, monitor=monitor, callback="LightGBM's tunesmith_callback")
        self.order = self.ORDER  # an instance attribute: LightGBM sets one on callbacks that lack it
        self.before_iteration = False

    def __call__(self, env: Any) -> None:
        if env.iteration == env.begin_iteration:  # the first round of this training, not reported yet
            # LightGBM calls a callback before every round (without evaluations) or after it, never before training
            # alone: after the first round is the earliest this callback can see where the training started.
            refuse_going_back(
                self.trial, env.begin_iteration, unit="round", counted_by="begin_iteration", fix=_FIX, cv="lightgbm.cv"
            )
        rounds = env.iteration + 1
        if env.end_iteration > 0:
            self.trial.plan(env.end_iteration)
        # (data set, metric, value, higher is better[, std over cv folds]): a tuple, or a named one from 4.7 on
        results = env.evaluation_result_list or []
        metrics = {f"{result[0]}-{result[1]}": float(result[2]) for result in results}
        stop = report_and_decide(
            self.trial, rounds, metrics, monitor=self.monitor, where=f"LightGBM's evaluations after round {rounds}",
            fix="evaluate it: pass valid_sets= (eval_set= to fit) and set the metric parameter",
            complete=True, extra=self.extra,  # LightGBM evaluates every set and metric at every round
        )  # fmt: skip
        if stop:
            raise lightgbm.callback.EarlyStopException(env.iteration, results)


def tunesmith_callback(trial: Trial, monitor: str, *, extra: Extra | None = None) -> _TunesmithCallback:
    """A LightGBM callback that reports every evaluation after each boosting round and stops training
    (by raising LightGBM's ``EarlyStopException``) when the trial is stopped (or paused: resuming is
    the objective's business).

    The step is the number of boosting rounds done (counting rounds of an ``init_model`` training continues
    from), so a scheduler's resource is rounds. Metrics are named ``<data set>-<metric>``
    (``valid_0-binary_logloss``; ``lightgbm.cv`` names its set ``valid``), and ``monitor`` must be among
    them. A stopped booster keeps every round it trained (``best_iteration`` is the last one). A resumed
    trial continues the booster it saved, ``lightgbm.train(..., init_model=booster)``, so that its rounds
    count on from ``trial.step``.

    Args:
        trial: the trial this training belongs to.
        monitor: the evaluation that must be reported, e.g. ``"valid_0-binary_logloss"`` (the first of
            ``valid_sets``, unless ``valid_names=`` names it) or ``"valid_0-l2"``.
        extra: metrics LightGBM does not evaluate, added to every round's report: a mapping of names to numbers
            (``{"size": float(params["num_leaves"])}``), or a callable with no argument that returns one, called at
            each report (a guardrail measured as training goes). A second objective of the study, or the metric a
            scheduler ranks by, reaches every step this way. Its names must differ from the evaluations'.

    Raises:
        ArgumentError: ``trial`` is not a `Trial` (the study, the monitor's name, None), or ``extra`` is neither a
            mapping nor a callable; also a `TypeError`.
        TrialNotRunning: after the first round, before it is reported, when the trial has ended (told, or its
            objective returned).
        ConfigError: after the first round, before it is reported, when the training started below the
            rounds the trial has done: a resumed trial without ``init_model=``, or a second training of the trial
            (a k-fold loop with the callback on every fold: use ``lightgbm.cv``, or the callback on one fold).
            LightGBM calls callbacks either before each round, without its evaluations, or after it, so this
            one sees the start only there. The trial is marked refused (`Trial.refuse`): it fails even if the
            error is caught, and `Study.optimize` stops the run. Also where the callback is built, when a name of
            ``extra`` is ``monitor``, and at a report, when one is also an evaluation's (the trial is marked refused).
        MetricNotReported: after the first round, when ``monitor`` was not evaluated. LightGBM evaluates every set
            at every round, so a name missing then is missing from every trial (a misspelt ``monitor=``): the trial
            is marked refused, and `Study.optimize` stops the run at once.
    """
    return _TunesmithCallback(trial, monitor, extra=extra)


_FIX = (
    "continue the booster the trial saved, lightgbm.train(..., init_model=<that booster, or its file under "
    "trial.checkpoint_dir>) (fit(..., init_model=...) in the scikit-learn API), with num_boost_round the rounds "
    "still to train; lightgbm.cv counts rounds from 1 even with init_model, so resume with lightgbm.train"
)
