"""The demo study: scikit-learn's MLPClassifier on the bundled digits data.

The space follows the guide's hierarchy: learning rate (log scale), batch size (powers of
two), L2 strength ``alpha``, depth and width, then Adam's beta1/beta2 near their defaults.
Epochs through ``partial_fit`` are the resource axis; validation accuracy is the metric, returned per
example so the verdict knows its noise. A final holdout, split off before tuning and never passed to
the objective, is scored once at the end.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from tunesmith.budget import Budget
from tunesmith.objective import Guardrail, Metric
from tunesmith.schedulers import ASHA
from tunesmith.space import Float, Int, Space
from tunesmith.trial import Trial

__all__ = ["EPOCHS", "Splits", "evaluate_holdout", "make_scheduler", "make_space", "objective", "splits"]

EPOCHS = 12
HOLDOUT_SEED = 20261127


@dataclass(frozen=True)
class Splits:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_holdout: np.ndarray
    y_holdout: np.ndarray


@lru_cache(maxsize=1)
def splits() -> Splits:
    """Train / validation / locked holdout (60 / 20 / 20, stratified, fixed seed)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    x_rest, x_hold, y_rest, y_hold = train_test_split(x, y, test_size=0.2, stratify=y, random_state=HOLDOUT_SEED)
    x_tr, x_val, y_tr, y_val = train_test_split(x_rest, y_rest, test_size=0.25, stratify=y_rest, random_state=0)
    return Splits(x_tr, y_tr, x_val, y_val, x_hold, y_hold)


def make_space() -> Space:
    return Space(
        {
            "learning_rate": Float(1e-5, 1e-1, log=True),
            "batch_size": Int(16, 256, base=2),
            "alpha": Float(1e-5, 1e-1, log=True),
            "depth": Int(1, 3),
            "width": Int(32, 256, base=2),
            "beta_1": Float(0.8, 0.99),
            "beta_2": Float(0.99, 0.9999),
        }
    )


# Accuracy per validation example: its gap to the holdout reads in points, with a noise the verdict can
# measure (log loss per example is heavy-tailed, and its relative gap flipped the verdict from seed to seed).
METRIC = Metric("val_accuracy", "max")
GUARDRAILS = [Guardrail("predict_ms", "<=", 50.0)]


def default_budget(trials: int = 60) -> Budget:
    return Budget(trials=trials, wall_time="4m")


def make_scheduler() -> ASHA:
    """Asynchronous successive halving over epochs: rungs at 2 and 6 of 12 epochs, keep the top third, so
    60 trials train about 7 configurations to the full 12 epochs (with a rung at 1 epoch, only 2)."""
    return ASHA(min_resource=2, max_resource=EPOCHS, eta=3)


def _build(params: dict[str, Any], seed: int) -> Any:
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(
        hidden_layer_sizes=(int(params["width"]),) * int(params["depth"]),
        learning_rate_init=float(params["learning_rate"]),
        batch_size=int(params["batch_size"]),
        alpha=float(params["alpha"]),
        beta_1=float(params["beta_1"]),
        beta_2=float(params["beta_2"]),
        random_state=seed % (2**31),
    )


def _per_example(model: Any, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Each example's log loss and whether it was classified correctly (``None`` once the net diverged)."""
    proba = model.predict_proba(x)
    if not np.all(np.isfinite(proba)):
        return None
    eps = np.finfo(proba.dtype).eps
    losses = -np.log(np.clip(proba[np.arange(len(y)), y], eps, 1.0))
    return losses, (proba.argmax(axis=1) == y).astype(float)


def _scores(model: Any, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    per_example = _per_example(model, x, y)
    if per_example is None:
        return float("nan"), 0.0
    losses, correct = per_example
    return float(losses.mean()), float(correct.mean())


def _train(model: Any, data: Splits, epochs: int, trial: Trial | None = None) -> tuple[float, float]:
    loss, accuracy = float("nan"), 0.0
    steps = trial.steps(epochs) if trial is not None else iter(range(epochs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # overflow warnings of a diverging net are the signal, not noise
        for _ in steps:
            model.partial_fit(data.x_train, data.y_train, classes=np.arange(10))
            loss, accuracy = _scores(model, data.x_val, data.y_val)
            if trial is not None:
                trial.report(val_loss=loss, val_accuracy=accuracy)
    return loss, accuracy


def _latency_ms(model: Any, x: np.ndarray, repeats: int = 5) -> float:
    batch = x[:64]
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict(batch)
        timings.append((time.perf_counter() - start) * 1000.0)
    return float(np.median(timings))


def objective(trial: Trial) -> dict[str, Any]:
    """Train for up to `EPOCHS` epochs, reporting validation log loss after each; the final loss and
    accuracy are returned per validation example, so the verdict knows their sampling noise."""
    data = splits()
    model = _build(trial.params, trial.seed)
    loss, accuracy = _train(model, data, EPOCHS, trial)
    per_example = _per_example(model, data.x_val, data.y_val)
    result: dict[str, Any] = {"val_loss": loss, "val_accuracy": accuracy}
    if per_example is not None:
        result["val_loss"], result["val_accuracy"] = per_example
    return {**result, "predict_ms": _latency_ms(model, data.x_val)}


def evaluate_holdout(params: dict[str, Any], seed: int) -> dict[str, Any]:
    """Retrain the chosen configuration exactly as in tuning and score it once on the locked holdout,
    per example."""
    data = splits()
    model = _build(params, seed)
    val_loss, val_accuracy = _train(model, data, EPOCHS)
    per_example = _per_example(model, data.x_holdout, data.y_holdout)
    if per_example is None:
        return {"val_loss": val_loss, "val_accuracy": val_accuracy, "holdout_loss": float("nan"),
                "holdout_accuracy": 0.0}  # fmt: skip
    losses, correct = per_example
    return {"val_loss": val_loss, "val_accuracy": val_accuracy, "holdout_loss": losses, "holdout_accuracy": correct}


if __name__ == "__main__":  # `python -m tunesmith.demo` did nothing and exited 0; the CLI is a layer above
    import sys

    sys.exit(
        "tunesmith.demo holds the demo's data, space and objective, and runs nothing itself: run the demo with "
        "`tunesmith demo` (or `python -m tunesmith.cli demo`); `tunesmith demo --help` lists its options"
    )
