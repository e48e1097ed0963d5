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
from typing import Any

from tunesmith.errors import ConfigError, require

require("transformers", "transformers")  # raises MissingExtra naming the extra when Transformers is absent

import transformers  # noqa: E402

from tunesmith.integrations._callbacks import (  # noqa: E402
    MetricNotReported,
    missing_monitor,
    report_and_decide,
    report_without_monitor,
    scalars,
)
from tunesmith.trial import MAX_STEP, Trial  # noqa: E402

__all__ = ["MetricNotReported", "TunesmithCallback"]

# How far from a whole number `state.epoch` may be and still count as it: the Trainer sums fractions of an epoch.
_EPOCH_TOLERANCE = 1e-6
_FIX = (
    "return it from compute_metrics (the Trainer adds the eval_ prefix, and eval_<name>_ for each dataset of an "
    "eval_dataset dict)"
)


def _strategy(args: Any) -> str:
    strategy = args.eval_strategy
    return str(getattr(strategy, "value", strategy))


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
    set) is no step of the training and is not reported.

    With a dict of evaluation datasets (``eval_dataset={"a": ..., "b": ...}``) the Trainer evaluates each in
    turn, ``on_evaluate`` once per dataset (metrics ``eval_a_loss``, ``eval_b_loss``, ...), and sends no event
    when the round is over. The callback gathers a round's metrics until ``monitor``'s dataset has been
    evaluated and reports them at once, so the study decides as soon as it can; the datasets evaluated after
    it join the same step, unless the study stopped the trial there. ``monitor`` missing from a whole round
    is found when training goes on (the next step or epoch begins) or ends.

    Args:
        trial: the trial this training belongs to.
        monitor: the metric that must be reported, usually the study's metric (``Trainer`` prefixes
            evaluation metrics with ``eval_``, and those of a dataset named ``a`` with ``eval_a_``).

    Raises:
        ConfigError: at the start of training, when ``eval_strategy`` is ``"no"`` (nothing to report).
        MetricNotReported: after the first evaluation round, when ``monitor`` was in none of its metrics.
    """

    def __init__(self, trial: Trial, monitor: str = "eval_loss") -> None:
        self.trial = trial
        self.monitor = monitor
        self._training = False  # between on_train_begin and on_train_end: evaluations are steps
        self._unit = "epoch"  # what a step counts: "epoch", or "step" with eval_strategy="steps"
        self._round: int | None = None  # the step of the evaluation round under way
        self._gathered: dict[str, float] = {}  # its metrics so far, while monitor has not come
        self._reported = False  # whether the round was reported (monitor came)

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if _strategy(args) == "no":
            raise ConfigError(
                "TunesmithCallback reports at each evaluation, so the Trainer must evaluate during training, "
                "but eval_strategy='no': pass eval_strategy='epoch' (or 'steps' with eval_steps=) to "
                "TrainingArguments, and an eval_dataset to the Trainer"
            )
        self._unit = "epoch" if _strategy(args) == "epoch" else "step"
        # the Trainer's own count, a partial last epoch included (sys.maxsize for a dataset of unknown length)
        planned = int(state.num_train_epochs or 0) if self._unit == "epoch" else int(state.max_steps or 0)
        if 0 < planned <= MAX_STEP:
            self.trial.plan(planned)
        self._training = True

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._end_round()
        self._training = False

    def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._end_round()

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._end_round()

    def on_evaluate(
        self, args: Any, state: Any, control: Any, metrics: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        # trainer.evaluate() outside trainer.train() (first, or after it on a test set) is no step: its
        # value would overwrite the last evaluation of training and contradict the curve.
        if not self._training or not state.global_step:
            return
        step = _epoch_step(state.epoch) if self._unit == "epoch" else int(state.global_step)
        if step != self._round:
            self._end_round()
            self._round = step
        values = scalars(metrics or {})
        if self._reported:  # a dataset evaluated after monitor's: its metrics join the step
            stop = report_without_monitor(self.trial, step, values)
        else:
            self._gathered.update(values)
            if self.monitor not in self._gathered:  # its dataset comes later in the round, or never
                return
            stop = report_and_decide(self.trial, step, self._gathered, monitor=self.monitor, where=self._where(step),
                                     fix=_FIX)  # fmt: skip
            self._reported = True
        if stop:
            control.should_training_stop = True

    def _end_round(self) -> None:
        """Close the evaluation round under way: one whose metrics never held ``monitor`` is an error."""
        gathered, step, reported = self._gathered, self._round, self._reported
        self._round, self._gathered, self._reported = None, {}, False
        if step is not None and not reported and not self.trial.should_stop():
            raise missing_monitor(self.monitor, gathered, where=self._where(step), fix=_FIX)

    def _where(self, step: int) -> str:
        return f"the Trainer's evaluation metrics at {self._unit} {step}"
