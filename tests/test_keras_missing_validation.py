"""Keras with a ``val_`` monitor and a fit none of whose epochs will validate (no ``validation_data``, or a
``validation_freq`` that names none of its epochs): refused at the end of the fit's first epoch with the fix
for Keras, whatever the scheduler."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_digits

import tunesmith as ts
from tunesmith.decision import Decision
from tunesmith.integrations._callbacks import MetricNotReported
from tunesmith.trial import Trial, TrialKind, TrialState

# Keras reads its backend once, at its first import: PyTorch's, as no TensorFlow is installed.
os.environ["KERAS_BACKEND"] = "torch"

SKIP_REASON = "the training-library extras are part of the test install (make test)"
EPOCHS = 4


def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x, y = load_digits(return_X_y=True)
    x = (x[:360] / 16.0).astype(np.float32)
    y = y[:360].astype(np.int64)
    return x[:240], y[:240], x[240:], y[240:]


def fit(trial: Trial, started: list[int], **fit_arguments: Any) -> tuple[dict[str, list[float]], float]:
    """Fit a small classifier for `EPOCHS` epochs with ``TunesmithCallback(trial, monitor="val_loss")``, the
    epochs that start appended to ``started``; returns the fit's history and the loss on held-out data."""
    keras = pytest.importorskip("keras", reason=SKIP_REASON)
    from tunesmith.integrations.keras import TunesmithCallback

    keras.utils.set_random_seed(trial.seed % 2**31)
    x, y, x_held_out, y_held_out = digits()
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(trial.params.get("lr", 0.05)), loss="sparse_categorical_crossentropy")
    counter = keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: started.append(epoch))
    history = model.fit(
        x, y, epochs=EPOCHS, batch_size=60, verbose=0, callbacks=[counter, TunesmithCallback(trial, "val_loss")],
        **fit_arguments,
    )  # fmt: skip
    return history.history, float(model.evaluate(x_held_out, y_held_out, verbose=0))


def recording_trial() -> tuple[Trial, dict[int, dict[str, float]]]:
    """A trial that records what it is reported and always continues."""
    reports: dict[int, dict[str, float]] = {}

    def reporter(step: int, values: dict[str, float]) -> Decision:
        reports[step] = values
        return Decision.CONTINUE

    return Trial(0, {}, 0, reporter=reporter), reports


def test_a_fit_without_validation_data_is_told_to_pass_it_at_the_end_of_its_first_epoch() -> None:
    trial, reports = recording_trial()
    started: list[int] = []
    with pytest.raises(
        MetricNotReported,
        match=r"'val_loss' was in none of Keras's logs so far \(epoch 1; available: 'loss'\).* no validation data: "
        r"pass validation_data= \(or validation_split=\) to fit",
    ):
        fit(trial, started)
    assert started == [0]  # not after every epoch had trained
    assert reports == {}


@pytest.mark.parametrize(
    ("validation_freq", "named"),
    [(EPOCHS + 1, r"validation_freq=5 validates none of its epochs 1 to 4"),
     ([EPOCHS + 2], r"validation_freq=\[6\] validates none of its epochs 1 to 4")],
    ids=["every N-th epoch, N past the last", "a list of epochs past the last"],
)  # fmt: skip
def test_a_validation_freq_that_validates_none_of_the_fit_s_epochs_is_named_at_the_end_of_its_first_epoch(
    validation_freq: int | list[int], named: str
) -> None:
    trial, reports = recording_trial()
    started: list[int] = []
    with pytest.raises(MetricNotReported, match=rf"'val_loss' was in none of .*{named}: pass a validation_freq that"):
        fit(trial, started, validation_split=0.25, validation_freq=validation_freq)
    assert started == [0]
    assert reports == {}


def forgetting_validation_data(returned: str) -> Callable[[Trial], dict[str, float]]:
    """The objective of keras-transformers.md with ``validation_data`` forgotten. It returns the last
    ``val_loss`` of the fit's history (a KeyError), or one measured on held-out data (a valid value)."""

    def objective(trial: Trial) -> dict[str, float]:
        history, held_out_loss = fit(trial, [])
        return {"val_loss": history["val_loss"][-1] if returned == "from the history" else held_out_loss}

    return objective


@pytest.mark.parametrize("returned", ["from the history", "measured on held-out data"])
def test_under_asha_a_fit_without_validation_data_fails_its_trial_with_the_keras_fix(returned: str) -> None:
    study = ts.Study(
        ts.Space({"lr": ts.Float(0.01, 0.1, log=True)}), metric="val_loss", scheduler=ts.ASHA(1, EPOCHS, 2),
        storage="memory", seed=0,
    )  # fmt: skip
    study.optimize(forgetting_validation_data(returned), n_trials=1, fail_fast=None, progress=False)
    (record,) = study.trials
    assert (record.state, record.kind) == (TrialState.FAILED, TrialKind.EXCEPTION)
    assert "MetricNotReported" in (record.error or "")
    assert "pass validation_data= (or validation_split=) to fit" in (record.error or "")
    assert record.intermediate == {}  # refused at its first epoch, before the scheduler judged a step
