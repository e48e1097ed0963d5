"""Keras 3: `TunesmithCallback` reports every epoch to a trial and stops ``fit`` when the study says so.

Importing this module needs the ``keras`` extra (``pip install 'tunesmith[keras]'``) and a Keras
backend (TensorFlow, JAX or PyTorch; set ``KERAS_BACKEND`` before Keras is first imported)::

    def objective(trial):
        model = build_model(trial.params["units"])
        model.fit(x, y, validation_data=(x_val, y_val), epochs=20,
                  callbacks=[TunesmithCallback(trial, monitor="val_loss")])
        return {"val_loss": model.evaluate(x_val, y_val, verbose=0)}
"""

from __future__ import annotations

from typing import Any

from tunesmith.errors import require

require("keras", "keras")  # raises MissingExtra naming the extra when Keras is absent

import keras  # noqa: E402

from tunesmith.integrations._callbacks import (  # noqa: E402
    MetricNotReported,
    refuse_going_back,
    report_and_decide,
    report_without_monitor,
    scalars,
)
from tunesmith.trial import Trial  # noqa: E402

__all__ = ["MetricNotReported", "TunesmithCallback"]


class TunesmithCallback(keras.callbacks.Callback):
    """Reports the epoch's logs (``loss``, ``val_loss``, ...) at the end of every epoch and sets
    ``model.stop_training`` when the trial is stopped (or paused: resuming is the objective's business).

    The step is the number of epochs done (``epoch + 1``, counting from ``initial_epoch``), so a
    scheduler's resource is epochs. Every scalar in the logs is reported, and ``monitor`` must be among them.
    An epoch that did not validate (``validation_freq`` > 1: no ``val_`` entry in its logs) is reported
    without a ``val_`` monitor, which comes with the next validation. A resumed trial's fit counts on from
    the epochs it has done: ``model.fit(..., initial_epoch=trial.step)``, on the model it saved.

    Args:
        trial: the trial this fit belongs to.
        monitor: the metric that must be in the logs, usually the study's metric (``val_*`` metrics
            need ``validation_data`` or ``validation_split``).

    Raises:
        ConfigError: at the start of a fit whose first epoch is one the trial has reported already (a resumed
            trial, or a second fit, without ``initial_epoch=trial.step``). The trial is marked refused
            (`Trial.refuse`): it fails even if the error is caught, and `Study.optimize` stops the run.
        MetricNotReported: at the end of the first epoch that has ``monitor``'s kind of entries (any, or
            ``val_`` ones for a ``val_`` monitor) without it, or at the end of training when a ``val_``
            monitor never came.
    """

    def __init__(self, trial: Trial, monitor: str = "val_loss") -> None:
        super().__init__()
        self.trial = trial
        self.monitor = monitor
        self._seen = False
        self._last: dict[str, float] = {}
        self._first = True  # the next epoch is the first of a fit

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        epochs = (self.params or {}).get("epochs")
        if isinstance(epochs, int) and epochs > 0:
            self.trial.plan(epochs)
        self._first = True

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        # Keras tells callbacks a fit's initial_epoch only through its first epoch, before anything is trained
        first, self._first = self._first, False
        if first:  # the objective's fit call would break the rule in every trial: the run stops
            refuse_going_back(self.trial, epoch, unit="epoch", counted_by="initial_epoch", fix=_RESUME_FIX)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        done = epoch + 1
        metrics = self._last = scalars(logs or {})
        validated = any(name.startswith("val_") for name in metrics)
        if self.monitor.startswith("val_") and not validated:  # this epoch did not validate (validation_freq)
            if report_without_monitor(self.trial, done, metrics):
                self.model.stop_training = True
            return
        self._seen = True
        stop = report_and_decide(
            self.trial, done, metrics, monitor=self.monitor, where=f"Keras's logs at epoch {done}", fix=_FIX,
        )  # fmt: skip
        if stop:
            self.model.stop_training = True

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if not self._seen and self.monitor.startswith("val_") and not self.trial.should_stop():
            available = ", ".join(repr(name) for name in sorted(self._last)) or "none"
            raise MetricNotReported(
                f"the monitored metric must be among the metrics reported, but {self.monitor!r} was in none of "
                f"Keras's logs, which never held a val_ entry (available: {available}): pass validation_data= "
                "(or validation_split=) to fit, or monitor= one of those"
            )


_FIX = (
    "compile the model with that metric (and pass validation_data= to fit for a val_ metric; with validation_freq, "
    "it is checked at the epochs that validate)"
)
_RESUME_FIX = (
    "pass model.fit(..., initial_epoch=trial.step), and when trial.resumed load the model it saved "
    "(keras.saving.load_model) instead of building a new one"
)
