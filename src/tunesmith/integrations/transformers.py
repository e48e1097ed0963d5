"""Hugging Face Transformers: `TunesmithCallback` reports every evaluation of a ``Trainer`` to a trial
and stops training when the study says so.

Importing this module needs the ``transformers`` extra (``pip install 'tunesmith[transformers]'``,
which brings ``accelerate``, as ``Trainer`` needs)::

    def objective(trial):
        args = TrainingArguments(output_dir, eval_strategy="epoch", num_train_epochs=10,
                                 learning_rate=trial.params["lr"])
        trainer = Trainer(model=model, args=args, train_dataset=train, eval_dataset=valid,
                          callbacks=[TunesmithCallback(trial, monitor="eval_loss")])
        trainer.train()
        return {"eval_loss": trainer.evaluate()["eval_loss"]}
"""

from __future__ import annotations

import math
import sys
from typing import Any

from tunesmith.errors import ConfigError, require

require("transformers", "transformers")  # raises MissingExtra naming the extra when Transformers is absent

import transformers  # noqa: E402

from tunesmith.integrations._callbacks import (  # noqa: E402
    Extra,
    ExtraMetrics,
    MetricNotReported,
    refuse_going_back,
    report_and_decide,
    report_without_monitor,
    require_trial,
    scalars,
)
from tunesmith.trial import MAX_STEP, Trial  # noqa: E402

__all__ = ["MetricNotReported", "TunesmithCallback"]

# How far from a whole number `state.epoch` may be and still count as it: the Trainer sums fractions of an epoch.
_EPOCH_TOLERANCE = 1e-6
_RESUME_FIX = (
    "continue from the checkpoint the trial saved, trainer.train(resume_from_checkpoint=<a checkpoint-N folder under "
    "trial.checkpoint_dir, or True with output_dir=trial.checkpoint_dir>), so that state.epoch and "
    "state.global_step start where it stopped"
)
_FIX = (
    "return it from compute_metrics (the Trainer adds the eval_ prefix, and eval_<name>_ for each dataset of an "
    "eval_dataset dict)"
)


# How far up the stack `_running_trainer` looks from a hook: the Trainer's training loop calls the callback handler,
# which calls each callback, so it is three frames above the hook; a few more allow for wrappers.
_FRAMES_UP = 6


def _running_trainer() -> transformers.Trainer | None:
    """The ``Trainer`` whose training calls the hook that calls this, or None when none is found.

    The Trainer hands callbacks neither itself nor its evaluation datasets, so this finds it up the stack: the
    frame of its own method, whose ``self`` it is."""
    frame = sys._getframe(1).f_back
    for _ in range(_FRAMES_UP):
        if frame is None:
            return None
        owner = frame.f_locals.get("self")
        if isinstance(owner, transformers.Trainer):
            return owner
        frame = frame.f_back
    return None


def _evaluations_per_round(trainer: transformers.Trainer | None) -> int | None:
    """How many times ``trainer`` calls ``on_evaluate`` in one evaluation round: once per dataset of a dict of
    ``eval_dataset``s, else once; None when that cannot be known (no Trainer found, no evaluation dataset)."""
    datasets = None if trainer is None else trainer.eval_dataset
    if datasets is None:
        return None
    return len(datasets) if isinstance(datasets, dict) else 1


def _strategy(args: Any) -> str:
    strategy = args.eval_strategy
    return str(getattr(strategy, "value", strategy))


def _whole_epochs(epoch: float | None) -> int:
    """The whole epochs done at ``state.epoch`` (None before any training): a resumed run's next evaluation by
    epoch comes at the end of the one after them."""
    return math.floor((epoch or 0.0) + _EPOCH_TOLERANCE)


def _epoch_step(epoch: float) -> int:
    """The step of an evaluation at ``state.epoch``: epochs done, a partial last one (``max_steps``, or
    ``num_train_epochs=2.5``) counting as the next, since it trained past the epoch reported before it."""
    nearest = round(epoch)
    return int(nearest) if abs(epoch - nearest) <= _EPOCH_TOLERANCE else math.ceil(epoch)


class TunesmithCallback(transformers.TrainerCallback):
    """Reports the metrics of every evaluation (``eval_loss``, ``eval_accuracy``, ...) and sets
    ``control.should_training_stop`` when the trial is stopped (or paused: resuming is the objective's
    business, e.g. ``trainer.train(resume_from_checkpoint=...)``).

    The step follows the evaluation cadence: epochs begun with ``eval_strategy="epoch"`` (a partial last
    epoch, under ``max_steps`` or a fractional ``num_train_epochs``, is the next step), optimizer steps done
    (``state.global_step``) with ``eval_strategy="steps"``; a scheduler's resource is in the same unit. Every
    scalar metric is reported, and ``monitor`` must be among them. Only the evaluations of a
    ``trainer.train()`` run are: a ``trainer.evaluate()`` before or after it (of the final model, or on a test
    set) is no step of the training and is not reported. A resumed trial continues from the checkpoint it
    saved, ``trainer.train(resume_from_checkpoint=...)``, so that its steps count on from ``trial.step``.

    With a dict of evaluation datasets (``eval_dataset={"a": ..., "b": ...}``) the Trainer evaluates each in
    turn, ``on_evaluate`` once per dataset (metrics ``eval_a_loss``, ``eval_b_loss``, ...), and sends no event
    when the round is over. The callback gathers a round's metrics until every dataset of the Trainer's
    ``eval_dataset`` has been evaluated and reports them together, at the round's step: the study decides on
    the whole round, before the Trainer trains on, and a trial it stops there keeps every dataset's metrics.
    (Were the Trainer not found, the round would be reported once ``monitor``'s dataset is in, and the datasets
    after it would join the step unless the study stopped the trial there.)

    Args:
        trial: the trial this training belongs to.
        monitor: the metric that must be reported, usually the study's metric (``Trainer`` prefixes
            evaluation metrics with ``eval_``, and those of a dataset named ``a`` with ``eval_a_``).
        extra: metrics the evaluation does not return, added to every evaluation round's report: a mapping of
            names to numbers (``{"size": float(model.num_parameters())}``), or a callable with no argument that
            returns one, called at each report (a guardrail measured as training goes). A second objective of the
            study, or the metric a scheduler ranks by, reaches every step this way. Its names must differ from the
            evaluation's metrics.

    Raises:
        ArgumentError: ``trial`` is not a `Trial` (the study, the monitor's name, None), or ``extra`` is neither a
            mapping nor a callable; also a `TypeError`.
        TrialNotRunning: at the start of training, when the trial has ended (told, or its objective returned).
        ConfigError: at the start of training, when ``eval_strategy`` is ``"no"`` (nothing to report), or when
            training starts below the steps the trial has done (whole epochs of ``state.epoch``, or
            ``state.global_step``; a resumed trial, or a second training of it, without
            ``resume_from_checkpoint=``): then the trial is marked refused (`Trial.refuse`), fails even if the
            error is caught, and `Study.optimize` stops the run. Also where the callback is built, when a name of
            ``extra`` is ``monitor``, and at a report, when one is also an evaluation metric's (the trial is marked
            refused).
        MetricNotReported: at the end of the first evaluation round, when ``monitor`` was in none of its metrics.
            When every dataset of the round was evaluated, the name is missing from every trial (a misspelt
            ``monitor=``): the trial is marked refused, and `Study.optimize` stops the run at once.
    """

    def __init__(self, trial: Trial, monitor: str = "eval_loss", *, extra: Extra | None = None) -> None:
        self.trial = require_trial(trial, "Hugging Face's TunesmithCallback")
        self.monitor = monitor
        self.extra = ExtraMetrics(extra, trial=self.trial, monitor=monitor, callback="Hugging Face's TunesmithCallback")
        self._judged = False  # whether a whole evaluation round was reported
        self._training = False  # between on_train_begin and on_train_end: evaluations are steps
        self._unit = "epoch"  # what a step counts: "epoch", or "step" with eval_strategy="steps"
        self._per_round: int | None = None  # evaluations in a round: the Trainer's eval datasets (None: unknown)
        self._round: int | None = None  # the step of the evaluation round under way
        self._evaluated = 0  # the evaluations of the round so far
        self._gathered: dict[str, float] = {}  # their metrics, until the round is reported
        self._reported = False  # whether the round was reported

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if _strategy(args) == "no":
            raise ConfigError(
                "TunesmithCallback reports at each evaluation, so the Trainer must evaluate during training, "
                "but eval_strategy='no': pass eval_strategy='epoch' (or 'steps' with eval_steps=) to "
                "TrainingArguments, and an eval_dataset to the Trainer"
            )
        self._unit = "epoch" if _strategy(args) == "epoch" else "step"
        if self._unit == "epoch":
            done, unit, counted_by = _whole_epochs(state.epoch), "epoch", "int(state.epoch)"
        else:
            done, unit, counted_by = int(state.global_step), "optimizer step", "state.global_step"
        refuse_going_back(self.trial, done, unit=unit, counted_by=counted_by, fix=_RESUME_FIX)
        # the Trainer's own count, a partial last epoch included (sys.maxsize for a dataset of unknown length)
        planned = int(state.num_train_epochs or 0) if self._unit == "epoch" else int(state.max_steps or 0)
        if 0 < planned <= MAX_STEP:
            self.trial.plan(planned)
        self._per_round = _evaluations_per_round(_running_trainer())
        self._training = True
        if self.trial.should_stop():  # a second training of a trial the study stopped: the Trainer ends after a step
            control.should_training_stop = True

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._end_round(control)
        self._training = False

    def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._end_round(control)

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._end_round(control)

    def on_evaluate(
        self, args: Any, state: Any, control: Any, metrics: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        # trainer.evaluate() outside trainer.train() (first, or after it on a test set) is no step: its
        # value would overwrite the last evaluation of training and contradict the curve.
        if not self._training or not state.global_step:
            return
        step = _epoch_step(state.epoch) if self._unit == "epoch" else int(state.global_step)
        if step != self._round:
            self._end_round(control)
            self._round = step
        values = scalars(metrics or {})
        self._evaluated += 1
        if self._reported:  # reported at monitor's dataset (the Trainer was not found): a later one joins the step
            stop = report_without_monitor(self.trial, step, values, where=self._where(step))  # extra's are in
        else:
            self._gathered.update(values)
            if not self._round_complete():  # more datasets of the round to come
                return
            stop = self._report_round(step)
        if stop:
            control.should_training_stop = True

    def _round_complete(self) -> bool:
        """Whether every dataset of the round under way has been evaluated; when the round's datasets are unknown,
        whether ``monitor``'s has, so that the study decides at once."""
        if self._per_round is None:
            return self.monitor in self._gathered
        return self._evaluated >= self._per_round

    def _report_round(self, step: int) -> bool:
        """Report the metrics gathered at ``step``; returns whether training must stop."""
        self._reported = True
        # The first round with every dataset evaluated has all the names the evaluation returns (with the datasets
        # unknown, the round is reported once over): one missing then never comes.
        whole = self._per_round is None or self._evaluated >= self._per_round
        complete, self._judged = whole and not self._judged, self._judged or whole
        return report_and_decide(self.trial, step, self._gathered, monitor=self.monitor, where=self._where(step),
                                 fix=_FIX, complete=complete, extra=self.extra)  # fmt: skip

    def _end_round(self, control: Any) -> None:
        """Close the evaluation round under way. A round the Trainer ended short of its datasets is reported now;
        one whose metrics never held ``monitor`` is an error."""
        try:
            if self._round is not None and not self._reported and self._report_round(self._round):
                control.should_training_stop = True
        finally:
            self._round, self._evaluated, self._gathered, self._reported = None, 0, {}, False

    def _where(self, step: int) -> str:
        return f"the Trainer's evaluation metrics at {self._unit} {step}"
