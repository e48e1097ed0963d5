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

import inspect
import re
from typing import Any

from tunesmith.errors import require

# raises MissingExtra naming the extra when Keras is absent, and the backend when Keras cannot import it
require("keras", "keras", when_broken=(
    "Keras 3 imports its backend when it is imported, TensorFlow unless KERAS_BACKEND names another: set "
    "KERAS_BACKEND=torch (pip install 'tunesmith[torch]') or jax before importing it, or install tensorflow"
))

import keras  # noqa: E402

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
from tunesmith.trial import Trial  # noqa: E402

__all__ = ["MetricNotReported", "TunesmithCallback"]


class TunesmithCallback(keras.callbacks.Callback):
    """Reports the epoch's logs (``loss``, ``val_loss``, ...) at the end of every epoch and sets
    ``model.stop_training`` when the trial is stopped (or paused: resuming is the objective's business).

    The step is the number of epochs done (``epoch + 1``, counting from ``initial_epoch``), so a
    scheduler's resource is epochs. Every scalar in the logs is reported, and ``monitor`` must be among them.
    An epoch that did not validate (``validation_freq`` > 1: no ``val_`` entry in its logs) is reported
    without a ``val_`` monitor, which comes with the next validation; a fit none of whose epochs will validate
    (no ``validation_data``, or a ``validation_freq`` that names none of its epochs) is refused at the end of
    its first epoch, whatever the scheduler. A resumed trial's fit counts on from the epochs it has done:
    ``model.fit(..., initial_epoch=trial.step)``, on the model it saved.

    Args:
        trial: the trial this fit belongs to.
        monitor: the metric that must be in the logs, usually the study's metric (``val_*`` metrics
            need ``validation_data`` or ``validation_split``).
        extra: metrics Keras does not log, added to every epoch's report: a mapping of names to numbers
            (``{"size": float(model.count_params())}``), or a callable with no argument that returns one, called at
            each report (a guardrail measured as training goes). A second objective of the study, or the metric a
            scheduler ranks by, reaches every step this way. Its names must differ from the logs'.

    Raises:
        ArgumentError: ``trial`` is not a `Trial` (the study, the monitor's name, None), or ``extra`` is neither a
            mapping nor a callable; also a `TypeError`.
        TrialNotRunning: at the start of a fit, when the trial has ended (told, or its objective returned).
        ConfigError: at the start of a fit whose first epoch is one the trial has reported already (a resumed
            trial, or a second fit, without ``initial_epoch=trial.step``). The trial is marked refused
            (`Trial.refuse`): it fails even if the error is caught, and `Study.optimize` stops the run.
            Also where the callback is built, when a name of ``extra`` is ``monitor``, and at a report, when one is
            also in the logs (the trial is marked refused).
        MetricNotReported: at the end of the first epoch that has ``monitor``'s kind of entries (any, or
            ``val_`` ones for a ``val_`` monitor) without it: such an epoch logs every metric of that kind, so the
            name is missing from every trial (a misspelt ``monitor=``), the trial is marked refused, and
            `Study.optimize` stops the run at once. For a ``val_`` monitor, also at the end of a fit's first
            epoch when no epoch of the fit will validate, or at the end of training when it never came in a
            fit whose arguments could not be read. Also (the run stops likewise) when the logs hold ``monitor``
            only numbered (``val_auc_1``): Keras numbers a metric built without ``name=`` when one of that name was
            built before in the process, so the name changes from trial to trial; the error says to name it or to
            call ``keras.backend.clear_session()``.

    A fit of a trial the study has stopped (a second phase of the objective, fine-tuning) trains no epoch: check
    ``trial.should_stop()`` between phases, since such a fit's history is empty.
    """

    def __init__(self, trial: Trial, monitor: str = "val_loss", *, extra: Extra | None = None) -> None:
        super().__init__()
        self.trial = require_trial(trial, "Keras's TunesmithCallback")
        self.monitor = monitor
        self.extra = ExtraMetrics(extra, trial=self.trial, monitor=monitor, callback="Keras's TunesmithCallback")
        self._seen = False
        self._last: dict[str, float] = {}
        self._first = True  # the next epoch is the first of a fit
        self._first_end = True  # the next epoch end is the first of a fit
        self._skipped = False  # this fit was skipped, its trial stopped: model._initial_epoch was set to its end

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        epochs = (self.params or {}).get("epochs")
        if isinstance(epochs, int) and epochs > 0:
            self.trial.plan(epochs)
        self._first = self._first_end = True
        self._skipped = False
        if self.trial.should_stop():  # a second fit of a trial the study stopped (a fine-tuning phase): none trains
            self.model.stop_training = True
            if isinstance(epochs, int) and hasattr(self.model, "_initial_epoch"):
                # Keras reads the first epoch from model._initial_epoch after on_train_begin (BackupAndRestore
                # resumes so): starting at the last, the fit trains nothing. Without it, it stops after a batch.
                self.model._initial_epoch, self._skipped = epochs, True

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        # Keras tells callbacks a fit's initial_epoch only through its first epoch, before anything is trained
        first, self._first = self._first, False
        if first:  # the objective's fit call would break the rule in every trial: the run stops
            refuse_going_back(self.trial, epoch, unit="epoch", counted_by="initial_epoch", fix=_RESUME_FIX)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        done = epoch + 1
        metrics = self._last = scalars(logs or {})
        validated = any(name.startswith("val_") for name in metrics)
        first, self._first_end = self._first_end, False
        where = f"Keras's logs at epoch {done}"
        if self.monitor.startswith("val_") and not validated:  # this epoch did not validate
            if first:  # whether a later one will is known now, not after the trial trained (or was stopped)
                self._refuse_a_fit_that_never_validates(done, metrics)
            if report_without_monitor(self.trial, done, metrics, where=where, extra=self.extra):
                self.model.stop_training = True
            return
        if self.monitor not in metrics:
            self._refuse_a_numbered_monitor(done, metrics)
        # The first epoch with monitor's kind of entries logs all of that kind: one missing then never comes.
        complete, self._seen = not self._seen, True
        stop = report_and_decide(
            self.trial, done, metrics, monitor=self.monitor, where=where, fix=_FIX, complete=complete,
            extra=self.extra,
        )  # fmt: skip
        if stop:
            self.model.stop_training = True

    def _refuse_a_numbered_monitor(self, done: int, metrics: dict[str, float]) -> None:
        """Raise `MetricNotReported` when ``monitor`` is in the logs only with a number after it (``val_auc_1``):
        Keras names a metric object built without ``name=`` after its class, numbered when one of that name was
        built before in the process (the previous trial's model), so the name changes from trial to trial and the
        objective's own reading of ``history`` breaks too. Every trial after the first would fail alike: the trial
        is marked refused and the run stops."""
        numbered = sorted(name for name in metrics if re.fullmatch(re.escape(self.monitor) + r"_\d+", name))
        if not numbered:
            return
        base = self.monitor.removeprefix("val_")
        error = MetricNotReported(
            f"the monitored metric must be among the metrics reported, but {self.monitor!r} is not in Keras's logs at "
            f"epoch {done}, which hold {', '.join(map(repr, numbered))}: Keras numbers a metric built without a name "
            f"when one of the same name was built before in this process (an earlier trial's model), so the name "
            f"changes from trial to trial; give the metric a fixed name where it is built (name={base!r}), or "
            "call keras.backend.clear_session() at the start of the objective"
        )
        self.trial.refuse(str(error))
        raise error

    def _refuse_a_fit_that_never_validates(self, done: int, metrics: dict[str, float]) -> None:
        """Raise `MetricNotReported` when no epoch from ``done`` to the fit's last will log a ``val_`` entry."""
        last = (self.params or {}).get("epochs")
        arguments = _fit_arguments(self.model)
        if arguments is None or not isinstance(last, int):  # unknown: on_train_end checks what came
            return
        validation_data, validation_freq = arguments
        epochs = f"epoch {done}" if last <= done else f"epochs {done} to {last}"
        if validation_data is None:
            why, fix = "fit was given no validation data", "pass validation_data= (or validation_split=) to fit"
        elif isinstance(validation_freq, int) and not any(e % validation_freq == 0 for e in range(done, last + 1)):
            why = f"validation_freq={validation_freq} validates none of its {epochs}"
            fix = "pass a validation_freq that validates one of them (1: every epoch)"
        elif isinstance(validation_freq, list) and not any(e in validation_freq for e in range(done, last + 1)):
            why = f"validation_freq={validation_freq!r} validates none of its {epochs}"
            fix = "pass a validation_freq that lists one of them"
        else:
            return
        available = ", ".join(repr(name) for name in sorted(metrics)) or "none"
        raise MetricNotReported(
            f"the monitored metric must be among the metrics reported, but {self.monitor!r} was in none of Keras's "
            f"logs so far (epoch {done}; available: {available}) and no epoch of this fit will log it, since {why}: "
            f"{fix}, or monitor= one of those"
        )

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self._skipped:  # the model's next fit starts where it is told again
            self.model._initial_epoch, self._skipped = None, False
            return
        if not self._seen and self.monitor.startswith("val_") and not self.trial.should_stop():
            available = ", ".join(repr(name) for name in sorted(self._last)) or "none"
            raise MetricNotReported(
                f"the monitored metric must be among the metrics reported, but {self.monitor!r} was in none of "
                f"Keras's logs, which never held a val_ entry (available: {available}): pass validation_data= "
                "(or validation_split=) to fit, or monitor= one of those"
            )


def _fit_arguments(model: keras.Model) -> tuple[object, object] | None:
    """The ``validation_data`` and ``validation_freq`` of the ``fit`` of ``model`` that is running, or None when
    no such call is on the stack (a training loop that calls the callbacks itself).

    Keras passes neither to callbacks (``params`` holds ``epochs``, ``steps`` and ``verbose``), so they are read
    from the local variables of its ``fit``, where ``validation_data`` is already the slice that
    ``validation_split`` made. Every backend's ``fit`` names them so; callbacks run in its thread.
    """
    frame = inspect.currentframe()
    try:
        while frame is not None:
            if frame.f_code.co_name == "fit" and frame.f_locals.get("self") is model:
                names = frame.f_locals
                if "validation_data" in names and "validation_freq" in names:
                    return names["validation_data"], names["validation_freq"]
            frame = frame.f_back
        return None
    finally:
        del frame  # a frame held in a local would keep the whole stack alive


_FIX = (
    "compile the model with that metric (and pass validation_data= to fit for a val_ metric; with validation_freq, "
    "it is checked at the epochs that validate)"
)
_RESUME_FIX = (
    "pass model.fit(..., initial_epoch=trial.step), and when trial.resumed load the model it saved "
    "(keras.saving.load_model) instead of building a new one"
)
