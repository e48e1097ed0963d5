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

from tunesmith.errors import TunesmithError, require

require("lightning.pytorch", "lightning")  # raises MissingExtra naming the extra when Lightning is absent

import lightning.pytorch as pl  # noqa: E402
from lightning.pytorch.callbacks import Checkpoint  # noqa: E402
from lightning.pytorch.utilities.model_helpers import is_overridden  # noqa: E402

from tunesmith.integrations._callbacks import (  # noqa: E402
    Extra,
    ExtraMetrics,
    MetricNotReported,
    missing_monitor,
    refuse_going_back,
    report_and_decide,
    report_without_monitor,
    require_trial,
    scalars,
)
from tunesmith.trial import Trial  # noqa: E402

__all__ = ["MetricNotReported", "TrainingWentOn", "TunesmithCallback"]


class TrainingWentOn(TunesmithError, RuntimeError):
    """The library trained on after the callback passed the study's stop on (Lightning's ``min_epochs``)."""


class TunesmithCallback(pl.Callback):
    """Reports ``trainer.callback_metrics`` at the end of every training epoch and sets ``trainer.should_stop``
    when the trial is stopped (or paused: resuming is the objective's business, from its own checkpoint).

    The end of the training epoch is the one point where every metric is the epoch's own: Lightning
    validates before it, and aggregates the epoch's training metrics (``on_epoch=True``) only there, so
    at the end of a validation they still hold the previous epoch's. The report is read after the
    LightningModule's own ``on_train_epoch_end`` (where torchmetrics are usually computed and logged), in the
    pass Lightning keeps for checkpoint callbacks, before the next epoch starts. In an epoch that did not validate
    (``check_val_every_n_epoch`` > 1) the validation metrics are an earlier epoch's: they are left out,
    and so is the report when ``monitor`` is one of them. The step is the epoch's number counted from 1
    (``current_epoch + 1``), so a scheduler's resource is epochs. Every scalar metric is reported, and
    ``monitor`` must be among them. A resumed trial continues from the checkpoint it saved,
    ``trainer.fit(model, ..., ckpt_path=...)``, so that ``trainer.current_epoch`` starts at ``trial.step``.

    Args:
        trial: the trial this fit belongs to.
        monitor: the metric that must be logged (``self.log(monitor, ...)``), usually the study's metric.
        extra: metrics the LightningModule does not log, added to every epoch's report: a mapping of names to
            numbers (``{"size": float(sum(p.numel() for p in model.parameters()))}``), or a callable with no argument
            that returns one, called at each report (a guardrail measured as training goes). A second objective of
            the study, or the metric a scheduler ranks by, reaches every step this way. Its names must differ from
            the logged metrics'.

    Raises:
        ArgumentError: ``trial`` is not a `Trial` (the study, the monitor's name, None), or ``extra`` is neither a
            mapping nor a callable; also a `TypeError`.
        ConfigError: at the start of training (``on_train_start``, once Lightning has restored the checkpoint),
            when ``trainer.current_epoch`` is below the epochs the trial has done (a resumed trial, or a second
            fit of it, without ``ckpt_path=``). The trial is marked refused (`Trial.refuse`): it fails even if
            the error is caught, and `Study.optimize` stops the run. Also where the callback is built, when a name
            of ``extra`` is ``monitor``, and at a report, when one is also a logged metric's (the trial is marked
            refused).
        MetricNotReported: at the end of an epoch that validated (or of any epoch, in a fit without
            validation), when ``monitor`` was not logged: at the first such epoch, which has every metric the
            module logs, the name is missing from every trial (a misspelt ``monitor=``), so the trial is marked
            refused and `Study.optimize` stops the run at once. And at the end of the first epoch, when ``monitor`` was
            not logged and the Trainer's settings leave no epoch of the fit to validate (no validation loader,
            ``limit_val_batches=0``, or a ``check_val_every_n_epoch`` beyond ``max_epochs``) although the
            LightningModule has a ``validation_step``.
        TrainingWentOn: at the end of an epoch Lightning trained after the stop was passed on
            (``Trainer(min_epochs=...)`` outranks ``should_stop``): the trial fails, saying so.
    """

    def __init__(self, trial: Trial, monitor: str = "val_loss", *, extra: Extra | None = None) -> None:
        super().__init__()
        self.trial = require_trial(trial, "Lightning's TunesmithCallback")
        self.monitor = monitor
        self.extra = ExtraMetrics(extra, trial=self.trial, monitor=monitor, callback="Lightning's TunesmithCallback")
        self._judged = False  # whether an epoch was reported with all its metrics (validated, or none to validate)
        self._before: dict[str, float] = {}
        self._from_validation: set[str] = set()  # the metrics validation logs
        self._validated_in: int | None = None  # the last epoch that validated
        self._stopped_at: int | None = None  # the epoch at whose end the study's stop was passed on

    # Reads the epoch's metrics after the LightningModule's on_train_epoch_end; in the trainer's callbacks during a fit
    _after_the_module: _AfterTheModule | None = None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        # Lightning calls a callback's on_train_epoch_end before the module's own, except for checkpoint and
        # early-stopping callbacks. Being a Checkpoint would cost the Trainer its default ModelCheckpoint and clash
        # with enable_checkpointing=False (both settled in Trainer()), so a Checkpoint joins only for the fit.
        if stage != "fit":
            return
        if self._after_the_module is None:
            self._after_the_module = _AfterTheModule(self)
        if self._after_the_module not in trainer.callbacks:  # a new list: Lightning may be iterating the old one
            trainer.callbacks = [*trainer.callbacks, self._after_the_module]

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._leave(trainer)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self._leave(trainer)

    def _leave(self, trainer: pl.Trainer) -> None:
        """Take the helper out, so that trainer.checkpoint_callback after the fit is the user's again."""
        trainer.callbacks = [callback for callback in trainer.callbacks if callback is not self._after_the_module]

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # A fit starts afresh: a trainer.validate() before it, or an earlier fit, neither validated nor stopped any
        # of its epochs (a validation before the fit read as its first epoch's, and that epoch was refused).
        self._validated_in = self._stopped_at = None
        if trainer.max_epochs is not None and trainer.max_epochs > 0:
            self.trial.plan(trainer.max_epochs)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # not on_fit_start: Lightning restores the epoch from ckpt_path after it, before this
        refuse_going_back(self.trial, trainer.current_epoch, unit="epoch", counted_by="trainer.current_epoch", fix=_FIX)
        if self.trial.should_stop():  # a second fit of a trial the study stopped (a fine-tuning phase): none trains
            self._stop(trainer, trainer.current_epoch)

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._before = scalars(trainer.callback_metrics)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        after = scalars(trainer.callback_metrics)
        self._from_validation |= {name for name, value in after.items() if self._before.get(name) != value}
        self._validated_in = trainer.current_epoch

    def _report_epoch(self, trainer: pl.Trainer) -> None:
        """Report the epoch that just ended: called by `_AfterTheModule`, after the module's on_train_epoch_end."""
        epoch = trainer.current_epoch + 1
        if self._stopped_at is not None:  # Lightning trained on after the stop: its min_epochs/min_steps outrank it
            raise TrainingWentOn(
                f"Lightning trained epoch {epoch} after tunesmith asked it to stop at epoch {self._stopped_at}: "
                f"Trainer(min_epochs={trainer.min_epochs}, min_steps={trainer.min_steps}) outranks "
                "trainer.should_stop, so early stopping saves nothing and the trial's result would come from an "
                "epoch the study never judged; drop min_epochs and min_steps, or keep them within the first rung"
            )
        metrics = scalars(trainer.callback_metrics)
        validates = bool(trainer.enable_validation)
        validated = self._validated_in == trainer.current_epoch
        if validates and not validated:
            metrics = {k: v for k, v in metrics.items() if k not in self._from_validation}  # an earlier epoch's
        if self.monitor not in metrics and self._validated_in is None:
            self._refuse_a_fit_that_never_validates(trainer, epoch, metrics)
        stage = "training epoch and its validation" if validates and validated else "training epoch"
        where = f"trainer.callback_metrics at the end of the {stage} {epoch}"
        if validates and not validated and self.monitor not in metrics:  # it comes with the next validation
            if report_without_monitor(self.trial, epoch, metrics, where=where, extra=self.extra):
                self._stop(trainer, epoch)
            return
        # The first epoch with all its metrics has every name the module logs: one missing then never comes.
        complete, self._judged = not self._judged, True
        stop = report_and_decide(
            self.trial, epoch, metrics, monitor=self.monitor, where=where,
            fix=f"log it in the LightningModule with self.log({self.monitor!r}, value)",
            complete=complete, extra=self.extra,
        )  # fmt: skip
        if stop:
            self._stop(trainer, epoch)

    def _refuse_a_fit_that_never_validates(self, trainer: pl.Trainer, epoch: int, metrics: dict[str, float]) -> None:
        """Raise `MetricNotReported` when the module has a ``validation_step`` that no epoch from ``epoch`` to the
        fit's last will run: ``monitor`` cannot be one of the epoch's training metrics (it is not among them), and
        the validation metrics will never come."""
        if trainer.sanity_checking or not is_overridden("validation_step", trainer.lightning_module):
            return
        last = trainer.max_epochs
        every = trainer.check_val_every_n_epoch
        epochs = f"epoch {epoch}" if last is not None and last <= epoch else f"epochs {epoch} to {last}"
        if not trainer.limit_val_batches:
            why = f"Trainer(limit_val_batches={trainer.limit_val_batches!r}) runs none of the validation batches"
            fix = "drop limit_val_batches=0 (or set it above 0)"
        elif not trainer.enable_validation:
            why = "fit was given no validation loader"
            fix = "give fit a validation loader, trainer.fit(model, train_loader, val_loader), or a datamodule with one"
        elif (
            isinstance(every, int) and isinstance(last, int) and last > 0
            and not any(e % every == 0 for e in range(epoch, last + 1))
        ):  # fmt: skip
            why = f"Trainer(check_val_every_n_epoch={every}) validates none of its {epochs} (max_epochs={last})"
            fix = "pass a check_val_every_n_epoch that validates one of them (1: every epoch)"
        else:
            return
        raise missing_monitor(
            self.monitor, metrics,
            where=(
                f"trainer.callback_metrics at the end of the training epoch {epoch}, and no epoch of this fit will "
                f"log it, since {why}"
            ),
            fix=fix,
        )  # fmt: skip

    def _stop(self, trainer: pl.Trainer, epoch: int) -> None:
        trainer.should_stop = True
        self._stopped_at = epoch


class _AfterTheModule(Checkpoint):
    """Runs its `TunesmithCallback`'s end-of-epoch report where Lightning calls the on_train_epoch_end of Checkpoint
    callbacks: after the LightningModule's own, so that what the module logs there is the ending epoch's. It saves
    nothing."""

    def __init__(self, owner: TunesmithCallback) -> None:
        super().__init__()
        self.owner = owner

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.owner._report_epoch(trainer)


_FIX = (
    "continue from the checkpoint the trial saved, trainer.fit(model, ..., ckpt_path=<trainer.save_checkpoint's file "
    "under trial.checkpoint_dir>), so that trainer.current_epoch starts at trial.step"
)
