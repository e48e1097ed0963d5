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

from tunesmith.integrations._callbacks import MetricNotReported, report_and_decide, scalars  # noqa: E402
from tunesmith.trial import Trial  # noqa: E402

__all__ = ["MetricNotReported", "TunesmithCallback"]


class TunesmithCallback(keras.callbacks.Callback):
    """Reports the epoch's logs (``loss``, ``val_loss``, ...) at the end of every epoch and sets
    ``model.stop_training`` when the trial is stopped (or paused: resuming is the objective's business).

    The step is the number of epochs done (``epoch + 1``, counting from ``initial_epoch``), so a
    scheduler's resource is epochs. Every scalar in the logs is reported, and ``monitor`` must be among them.

    Args:
        trial: the trial this fit belongs to.
        monitor: the metric that must be in the logs, usually the study's metric (``val_*`` metrics
            need ``validation_data`` or ``validation_split``).

    Raises:
        MetricNotReported: at the end of the first epoch, when ``monitor`` is not in the logs.
    """

    def __init__(self, trial: Trial, monitor: str = "val_loss") -> None:
        super().__init__()
        self.trial = trial
        self.monitor = monitor

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        epochs = (self.params or {}).get("epochs")
        if isinstance(epochs, int) and epochs > 0:
            self.trial.plan(epochs)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        done = epoch + 1
        stop = report_and_decide(
            self.trial, done, scalars(logs or {}), monitor=self.monitor, where=f"Keras's logs at epoch {done}",
            fix="compile the model with that metric (and pass validation_data= to fit for a val_ metric)",
        )  # fmt: skip
        if stop:
            self.model.stop_training = True
