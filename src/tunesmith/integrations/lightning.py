"""PyTorch Lightning: `TunesmithCallback` reports every epoch to a trial and stops the fit when the
study says so.

Importing this module needs the ``lightning`` extra (``pip install 'tunesmith[lightning]'``)::

    def objective(trial):
        model = LitModel(lr=trial.params["lr"])
        trainer = L.Trainer(max_epochs=20, callbacks=[TunesmithCallback(trial, monitor="val_loss")])
        trainer.fit(model, train_loader, val_loader)
        return {"val_loss": float(trainer.callback_metrics["val_loss"])}
"""

from __future__ import annotations

from typing import Any

from tunesmith.errors import require

require("lightning.pytorch", "lightning")  # raises MissingExtra naming the extra when Lightning is absent

import lightning.pytorch as pl  # noqa: E402

from tunesmith.integrations._callbacks import MetricNotReported, report_and_decide, scalars  # noqa: E402
from tunesmith.trial import Trial  # noqa: E402

__all__ = ["MetricNotReported", "TunesmithCallback"]


class TunesmithCallback(pl.Callback):
    """Reports ``trainer.callback_metrics`` once per epoch and sets ``trainer.should_stop`` when the
    trial is stopped (or paused: resuming is the objective's business, from its own checkpoint).

    When the fit validates, each validation is reported (the sanity check is not; a validation in
    the middle of an epoch, with ``val_check_interval < 1``, counts for that epoch); without
    validation, the end of each training epoch is. The step is the epoch's number counted from 1
    (``current_epoch + 1``), so a scheduler's resource is epochs. Every scalar metric is reported, and
    ``monitor`` must be among them.

    Args:
        trial: the trial this fit belongs to.
        monitor: the metric that must be logged (``self.log(monitor, ...)``), usually the study's metric.

    Raises:
        MetricNotReported: at the first report, when ``monitor`` was not logged.
    """

    def __init__(self, trial: Trial, monitor: str = "val_loss") -> None:
        super().__init__()
        self.trial = trial
        self.monitor = monitor

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.max_epochs is not None and trainer.max_epochs > 0:
            self.trial.plan(trainer.max_epochs)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._report(trainer, "validation")

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.enable_validation:
            self._report(trainer, "training epoch")

    def _report(self, trainer: Any, stage: str) -> None:
        epoch = trainer.current_epoch + 1
        stop = report_and_decide(
            self.trial, epoch, scalars(trainer.callback_metrics), monitor=self.monitor,
            where=f"trainer.callback_metrics after the {stage} of epoch {epoch}",
            fix=f"log it in the LightningModule with self.log({self.monitor!r}, value)",
        )  # fmt: skip
        if stop:
            trainer.should_stop = True
