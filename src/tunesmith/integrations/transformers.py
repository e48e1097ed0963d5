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

from typing import Any

from tunesmith.errors import ConfigError, require

require("transformers", "transformers")  # raises MissingExtra naming the extra when Transformers is absent

import transformers  # noqa: E402

from tunesmith.integrations._callbacks import MetricNotReported, report_and_decide, scalars  # noqa: E402
from tunesmith.trial import Trial  # noqa: E402

__all__ = ["MetricNotReported", "TunesmithCallback"]


def _strategy(args: Any) -> str:
    strategy = args.eval_strategy
    return str(getattr(strategy, "value", strategy))


class TunesmithCallback(transformers.TrainerCallback):
    """Reports the metrics of every evaluation (``eval_loss``, ``eval_accuracy``, ...) and sets
    ``control.should_training_stop`` when the trial is stopped (or paused: resuming is the objective's
    business, e.g. ``trainer.train(resume_from_checkpoint=...)``).

    The step follows the evaluation cadence: epochs done with ``eval_strategy="epoch"``, optimizer
    steps done (``state.global_step``) with ``eval_strategy="steps"``; a scheduler's resource is in
    the same unit. Every scalar metric is reported, and ``monitor`` must be among them. Only the
    evaluations of a ``trainer.train()`` run are: a ``trainer.evaluate()`` before or after it (of the
    final model, or on a test set) is no step of the training and is not reported.

    Args:
        trial: the trial this training belongs to.
        monitor: the metric that must be reported, usually the study's metric (``Trainer`` prefixes
            evaluation metrics with ``eval_``).

    Raises:
        ConfigError: at the start of training, when ``eval_strategy`` is ``"no"`` (nothing to report).
        MetricNotReported: at the first evaluation, when ``monitor`` is not among its metrics.
    """

    def __init__(self, trial: Trial, monitor: str = "eval_loss") -> None:
        self.trial = trial
        self.monitor = monitor
        self._training = False  # between on_train_begin and on_train_end: evaluations are steps

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if _strategy(args) == "no":
            raise ConfigError(
                "TunesmithCallback reports at each evaluation, so the Trainer must evaluate during training, "
                "but eval_strategy='no': pass eval_strategy='epoch' (or 'steps' with eval_steps=) to "
                "TrainingArguments, and an eval_dataset to the Trainer"
            )
        if _strategy(args) == "epoch" and args.max_steps <= 0 and float(args.num_train_epochs).is_integer():
            self.trial.plan(int(args.num_train_epochs))
        elif _strategy(args) == "steps" and state.max_steps > 0:
            self.trial.plan(int(state.max_steps))
        self._training = True

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._training = False

    def on_evaluate(
        self, args: Any, state: Any, control: Any, metrics: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        # trainer.evaluate() outside trainer.train() (first, or after it on a test set) is no step: its
        # value would overwrite the last evaluation of training and contradict the curve.
        if not self._training or not state.global_step:
            return
        by_epoch = _strategy(args) == "epoch"
        step = round(state.epoch) if by_epoch else int(state.global_step)
        unit = "epoch" if by_epoch else "step"
        stop = report_and_decide(
            self.trial, step, scalars(metrics or {}), monitor=self.monitor,
            where=f"the Trainer's evaluation metrics at {unit} {step}",
            fix="return it from compute_metrics (the Trainer adds the eval_ prefix)",
        )  # fmt: skip
        if stop:
            control.should_training_stop = True
