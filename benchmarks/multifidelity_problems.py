"""The multi-fidelity benchmark's problems: learning curves, synthetic and real, one loss per step.

A problem's ``curve(params, seed)`` yields the validation loss after each step (epoch) of one
training run. `CurveCache` computes each configuration's curve once, step by step, and keeps the
run alive, so a trial that goes on after a rung (or resumes after a pause, or is re-evaluated at
a higher fidelity) continues where it stopped, as from a checkpoint.

Problems:

* ``curves``: smooth synthetic curves whose final value is a known function of (x, y, z);
* ``late-bloomers``: the same final values, but the best configurations (high x) converge slowly,
  so they trail at the early rungs;
* ``divergence``: the same, with a learning-rate-like x whose best values sit just below a
  threshold past which training diverges, early or late (late ones look best at the low rungs);
* ``sgd-digits``, ``sgd-cancer``: scikit-learn's SGDClassifier trained epoch by epoch
  (validation error);
* ``mlp-digits``: a small PyTorch MLP trained epoch by epoch with SGD and momentum on digits
  (validation error).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

import tunesmith as ts

__all__ = ["MAX_RESOURCE", "PROBLEMS", "CurveCache", "CurveProblem"]

MAX_RESOURCE = 81  # steps of a full training run: 1, 3, 9, 27 below it for eta = 3

Curve = Callable[[dict[str, Any], int], Iterator[float]]  # (params, seed) -> the loss after each step


@dataclass(frozen=True)
class CurveProblem:
    name: str
    space: ts.Space
    curve: Curve
    max_resource: int = MAX_RESOURCE


class CurveCache:
    """Each configuration's curve, computed once and continued where it stopped (a checkpoint)."""

    def __init__(self, problem: CurveProblem) -> None:
        self.problem = problem
        self._runs: dict[Hashable, tuple[list[float], Iterator[float]]] = {}

    def loss(self, key: Hashable, params: dict[str, Any], seed: int, step: int) -> float:
        """The loss after ``step`` steps (1-based) of the run ``key`` (params and seed as at its start)."""
        run = self._runs.get(key)
        if run is None:
            run = self._runs[key] = ([], self.problem.curve(params, seed))
        values, steps = run
        while len(values) < step:
            values.append(next(steps))
        return values[step - 1]


# Synthetic curves -------------------------------------------------------------------------------------

SYNTHETIC_SPACE = ts.Space({"x": ts.Float(0.0, 1.0), "y": ts.Float(0.0, 1.0), "z": ts.Float(0.0, 1.0)})


def _synthetic_final(p: dict[str, Any]) -> float:
    x, y, z = p["x"], p["y"], p["z"]
    return 0.1 + (x - 0.7) ** 2 + 0.5 * (y - 0.3) ** 2 + 0.2 * math.sin(6 * z) ** 2


def _synthetic(late_bloomers: bool) -> Curve:
    def curve(p: dict[str, Any], seed: int) -> Iterator[float]:
        final = _synthetic_final(p)
        # The speed of convergence: late bloomers (high x) start slowly; they are also the best at the end.
        rate = 0.5 + 2.0 * (1.0 - p["x"]) if late_bloomers else 1.5
        rng = np.random.default_rng(seed)
        for step in range(1, MAX_RESOURCE + 1):
            progress = (step / MAX_RESOURCE) ** (1.0 / rate)
            yield final + (1.0 - progress) * (1.0 + 0.5 * p["y"]) + 0.005 * rng.standard_normal()

    return curve


def _diverging(p: dict[str, Any], seed: int) -> Iterator[float]:
    """Fast convergence that grows with x, until x passes 0.75 + 0.1 y: training then blows up at a step
    that comes the earlier the further past the threshold (just past it: only near the end)."""
    final = _synthetic_final(p)
    past = p["x"] - (0.75 + 0.1 * p["y"])
    blow_up = math.inf if past <= 0 else max(2.0, MAX_RESOURCE * (1.0 - 4.0 * past))
    rate = 0.8 + 2.0 * p["x"]
    rng = np.random.default_rng(seed)
    loss = 0.0
    for step in range(1, MAX_RESOURCE + 1):
        if step < blow_up:
            progress = (step / MAX_RESOURCE) ** (1.0 / rate)
            loss = final + (1.0 - progress) * (1.0 + 0.5 * p["y"]) + 0.005 * rng.standard_normal()
        else:
            loss = min(1e3, loss * 1.6)  # exploding, capped so that every tuner can rank it
        yield loss


# Real curves: SGDClassifier and a PyTorch MLP, epoch by epoch -------------------------------------------

SGD_SPACE = ts.Space(
    {
        "alpha": ts.Float(1e-6, 1e-1, log=True),
        "eta0": ts.Float(1e-4, 1.0, log=True),
        "loss": ts.Choice(["log_loss", "hinge", "modified_huber"]),
        "penalty": ts.Choice(["l2", "l1", "elasticnet"]),
    }
)

MLP_SPACE = ts.Space(
    {
        "lr": ts.Float(1e-4, 1.0, log=True),
        "width": ts.Int(8, 128, log=True),
        "weight_decay": ts.Float(1e-6, 1e-1, log=True),
        "momentum": ts.Float(0.0, 0.99),
    }
)


@lru_cache(maxsize=2)
def _dataset(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_breast_cancer, load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    x, y = load_digits(return_X_y=True) if name == "digits" else load_breast_cancer(return_X_y=True)
    x_tr, x_val, y_tr, y_val = train_test_split(x, y, test_size=0.3, stratify=y, random_state=0)
    scaler = StandardScaler().fit(x_tr)
    return scaler.transform(x_tr), y_tr, scaler.transform(x_val), y_val, np.unique(y)


def _sgd(dataset: str) -> Curve:
    def curve(p: dict[str, Any], seed: int) -> Iterator[float]:
        from sklearn.linear_model import SGDClassifier

        x_tr, y_tr, x_val, y_val, classes = _dataset(dataset)
        model = SGDClassifier(alpha=p["alpha"], eta0=p["eta0"], loss=p["loss"], penalty=p["penalty"],
                              learning_rate="invscaling", random_state=seed % 2**31)  # fmt: skip
        rng = np.random.default_rng(seed)
        for _ in range(MAX_RESOURCE):
            order = rng.permutation(len(x_tr))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.partial_fit(x_tr[order], y_tr[order], classes=classes)
            yield float(1.0 - model.score(x_val, y_val))

    return curve


def train_epoch(model: Any, optimizer: Any, inputs: Any, targets: Any, generator: Any, batch_size: int) -> None:
    """One epoch of ``optimizer`` on ``model`` over ``inputs`` in a random order, minimising the cross-entropy."""
    import torch

    loss_fn = torch.nn.CrossEntropyLoss()
    order = torch.randperm(len(inputs), generator=generator)
    for start in range(0, len(inputs), batch_size):
        batch = order[start : start + batch_size]
        optimizer.zero_grad()
        loss_fn(model(inputs[batch]), targets[batch]).backward()
        optimizer.step()


def _mlp(p: dict[str, Any], seed: int) -> Iterator[float]:
    import torch

    torch.set_num_threads(1)
    x_tr, y_tr, x_val, y_val, _ = _dataset("digits")
    inputs, targets = torch.tensor(x_tr, dtype=torch.float32), torch.tensor(y_tr)
    val_inputs, val_targets = torch.tensor(x_val, dtype=torch.float32), torch.tensor(y_val)
    generator = torch.Generator().manual_seed(seed % 2**63)
    width = int(p["width"])
    layers = [torch.nn.Linear(64, width), torch.nn.ReLU(), torch.nn.Linear(width, 10)]
    for layer in layers:
        if isinstance(layer, torch.nn.Linear):
            bound = 1.0 / math.sqrt(layer.in_features)
            with torch.no_grad():
                layer.weight.uniform_(-bound, bound, generator=generator)
                layer.bias.uniform_(-bound, bound, generator=generator)
    model = torch.nn.Sequential(*layers)
    optimizer = torch.optim.SGD(model.parameters(), lr=p["lr"], momentum=p["momentum"],
                                weight_decay=p["weight_decay"])  # fmt: skip
    for _ in range(MAX_RESOURCE):
        train_epoch(model, optimizer, inputs, targets, generator, batch_size=128)
        with torch.no_grad():
            predicted = model(val_inputs).argmax(dim=1)
        yield float((predicted != val_targets).float().mean())  # a diverged run predicts one class: ~0.9


PROBLEMS: dict[str, CurveProblem] = {
    "curves": CurveProblem("curves", SYNTHETIC_SPACE, _synthetic(late_bloomers=False)),
    "late-bloomers": CurveProblem("late-bloomers", SYNTHETIC_SPACE, _synthetic(late_bloomers=True)),
    "divergence": CurveProblem("divergence", SYNTHETIC_SPACE, _diverging),
    "sgd-digits": CurveProblem("sgd-digits", SGD_SPACE, _sgd("digits")),
    "mlp-digits": CurveProblem("mlp-digits", MLP_SPACE, _mlp),
    "sgd-cancer": CurveProblem("sgd-cancer", SGD_SPACE, _sgd("cancer")),
}
