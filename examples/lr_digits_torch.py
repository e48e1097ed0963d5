"""Learning-rate toolkit, end to end: range test -> bounds -> a tuned warmup + cosine schedule -> a verdict.

A small PyTorch MLP on scikit-learn's bundled digits (no download):

1. ``ts.lr.range_test_torch`` ramps the rate from 1e-5 to 10 over 100 SGD steps and finds where
   the loss starts to diverge; the model and optimizer are restored afterwards.
2. ``result.bounds()`` turns the curve into a log-scale search range for the peak rate.
3. A study tunes a warmup + cosine schedule (peak rate, warmup fraction) and the weight decay, with ASHA
   cutting poor trials early. Its budget is a resource budget, epochs over all trials: ASHA keeps starting
   configurations until they are spent, so that enough train to the full epochs to tell a winner from noise
   (a budget of 24 trials trained 2-4 fully, and the study warned with ``ShortTrainingWarning``).
4. ``ts.validate_top`` re-runs the top configurations and the range test's own suggestion (the baseline) on
   fresh seeds and picks the winner; ``ts.finalize`` scores it once on a holdout the study never saw and
   returns the verdict, each check judged on the noise of per-example results.

Run it:   python examples/lr_digits_torch.py [--resource 400] [--epochs 12] [--seeds 5] [--plot lr_range.html]
Quick:    python examples/lr_digits_torch.py --quick       (or LR_EXAMPLE_QUICK=1; used by the tests)
CLI:      tunesmith lr-find examples/lr_digits.toml         (uses `lr_probe` below)
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import tunesmith as ts
from tunesmith.attributes import HoldoutAttr, read_attr

BATCH_SIZE = 64
HIDDEN = 128
EPOCHS = 12
# Epochs over all trials. ASHA (1 to 12 epochs, eta 3) trains 5 or more configurations to the end in 9 runs of 10
# on about 370; 24 trials trained 2-4, too few to tell a winner from noise.
RESOURCE = 400
SPLIT_SEED = 7

Tensors = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


@lru_cache(maxsize=1)
def data() -> Tensors:
    """Train / validation / holdout splits (60 / 20 / 20), standardised with the training statistics."""
    x, y = load_digits(return_X_y=True)
    x_train, x_rest, y_train, y_rest = train_test_split(x, y, test_size=0.4, random_state=SPLIT_SEED, stratify=y)
    x_val, x_hold, y_val, y_hold = train_test_split(
        x_rest, y_rest, test_size=0.5, random_state=SPLIT_SEED, stratify=y_rest
    )
    mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-6

    def as_tensors(features: np.ndarray, labels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.tensor((features - mean) / std, dtype=torch.float32), torch.tensor(labels, dtype=torch.long)

    return (*as_tensors(x_train, y_train), *as_tensors(x_val, y_val), *as_tensors(x_hold, y_hold))


class Batches:
    """Shuffled mini-batches of the training split; each pass reshuffles with a seeded generator."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int) -> None:
        self.x, self.y, self.batch_size = x, y, batch_size
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return (len(self.x) + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(len(self.x), generator=self.generator)
        for start in range(0, len(self.x), self.batch_size):
            index = order[start : start + self.batch_size]
            yield self.x[index], self.y[index]


def make_model(seed: int, hidden: int = HIDDEN) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(64, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10))


def make_optimizer(model: torch.nn.Module, lr: float, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay)


def score(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Each example's cross-entropy and whether it is classified right: per-example values carry their noise."""
    model.eval()
    with torch.no_grad():
        logits = model(x)
        losses = torch.nn.functional.cross_entropy(logits, y, reduction="none").numpy()
        correct = (logits.argmax(dim=1) == y).numpy()
    model.train()
    return losses, correct


def find_lr(num_steps: int = 100, seed: int = 0) -> ts.lr.RangeTestResult:
    """Step 1: the LR range test on a fresh model."""
    x_train, y_train, *_ = data()
    model = make_model(seed)
    optimizer = make_optimizer(model, lr=0.01)
    loader = Batches(x_train, y_train, BATCH_SIZE, seed)
    return ts.lr.range_test_torch(
        model, optimizer, torch.nn.functional.cross_entropy, loader, min_lr=1e-5, max_lr=10.0, num_steps=num_steps
    )


def make_space(bounds: ts.Float, epochs: int) -> ts.Space:
    """Step 2: the peak rate from the range test, warmup + cosine around it, and the weight decay."""
    total_steps = epochs * len(Batches(data()[0], data()[1], BATCH_SIZE, 0))
    return ts.Space(
        {
            **ts.lr.schedule_params(total_steps, kinds=["warmup_cosine"], peak_lr=bounds, warmup=(0.0, 0.2)),
            "weight_decay": ts.Float(1e-6, 1e-2, log=True),
        }
    )


def train(params: dict[str, Any], seed: int, epochs: int) -> Iterator[torch.nn.Module]:
    """Train with the configuration's schedule, yielding the model after every epoch."""
    x_train, y_train, *_ = data()
    loader = Batches(x_train, y_train, BATCH_SIZE, seed)
    schedule = ts.lr.schedule_from_params(params, total_steps=epochs * len(loader))
    model = make_model(seed)
    optimizer = make_optimizer(model, schedule(0), params["weight_decay"])
    scheduler = schedule.torch(optimizer)
    for _epoch in range(epochs):
        for inputs, targets in loader:
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(inputs), targets).backward()
            optimizer.step()
            scheduler.step()
        yield model


def make_objective(epochs: int) -> Callable[[ts.Trial], dict[str, Any]]:
    """Step 3: train with the trial's schedule, reporting the validation loss after every epoch."""

    def objective(trial: ts.Trial) -> dict[str, Any]:
        _, _, x_val, y_val, _, _ = data()
        epochs_trained = train(trial.params, trial.seed, epochs)
        losses, correct = score(make_model(trial.seed), x_val, y_val)  # if stopped before its first epoch
        for _epoch in trial.steps(epochs):
            losses, correct = score(next(epochs_trained), x_val, y_val)
            trial.report(val_loss=float(losses.mean()), val_accuracy=float(correct.mean()))
        return {"val_loss": losses, "val_accuracy": correct}

    return objective


def make_holdout(epochs: int) -> Callable[[dict[str, Any], int], dict[str, Any]]:
    """Step 4's ``evaluate``: train the configuration to the end, then score the holdout, example by example."""

    def evaluate(params: dict[str, Any], seed: int) -> dict[str, Any]:
        *_, x_hold, y_hold = data()
        *_, model = train(params, seed, epochs)
        losses, correct = score(model, x_hold, y_hold)
        return {"holdout_loss": losses, "holdout_accuracy": correct}

    return evaluate


objective = make_objective(EPOCHS)  # for a config file: objective = "lr_digits_torch:objective"


def lr_probe(params: dict[str, Any]) -> Callable[[float], float]:
    """For ``tunesmith lr-find``: one SGD step on a fresh model at the given rate, returning the loss.

    ``params["seed"]`` (``lr-find --seed N``, else the config's seed) seeds the model and the batches, so that a
    run on another seed checks the suggested range, which one run reads from its own noise alone.
    """
    x_train, y_train, *_ = data()
    seed = int(params.get("seed", 0))
    model = make_model(seed)
    optimizer = make_optimizer(model, lr=0.01, weight_decay=float(params.get("weight_decay", 0.0)))
    batches: Iterator[tuple[torch.Tensor, torch.Tensor]] = iter(())
    loader = Batches(x_train, y_train, BATCH_SIZE, seed)

    def step(lr: float) -> float:
        nonlocal batches
        batch = next(batches, None)
        if batch is None:
            batches = iter(loader)
            batch = next(batches)
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(batch[0]), batch[1])
        loss.backward()
        optimizer.step()
        return float(loss.item())

    return step


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resource", type=float, default=RESOURCE, help="epochs over all trials of the study")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="the epochs of a fully trained configuration")
    parser.add_argument("--seeds", type=int, default=5, help="fresh seeds for each top configuration's re-runs")
    parser.add_argument("--plot", default=None, help="write the range-test plot to this HTML file")
    parser.add_argument("--quick", action="store_true", help="a small study of a few epochs (smoke test)")
    args = parser.parse_args(argv)
    if args.quick or os.environ.get("LR_EXAMPLE_QUICK") == "1":
        # Scaled down with the epochs: ASHA from 1 to 3 epochs on 36 still trains 5 or more fully.
        args.resource, args.epochs, args.seeds = 36, 3, 3
    return args


def range_test_baseline(suggested_lr: float) -> dict[str, Any]:
    """What the range test alone would train: its suggested rate, no warmup, a common weight decay."""
    return {"schedule": "warmup_cosine", "peak_lr": suggested_lr, "warmup": 0.0, "min_lr_ratio": 0.0,
            "weight_decay": 1e-4}  # fmt: skip


def make_study(space: ts.Space, args: argparse.Namespace, baseline: dict[str, Any] | None = None) -> ts.Study:
    return ts.Study(
        space,
        metric=ts.Metric("val_loss", "min"),
        sampler="auto",
        scheduler=ts.ASHA(min_resource=1, max_resource=args.epochs, eta=3),
        budget=ts.Budget(resource=args.resource),
        storage="memory",
        name="lr-digits",
        seed=0,
        baseline=baseline,
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    torch.set_num_threads(1)  # the model is tiny: threads cost more than they give
    started = time.monotonic()

    result = find_lr()
    print(f"range test: {len(result.lrs)} steps ({result.stop_reason})")
    for name, lr in result.suggestions.items():
        print(f"  {name:<10} {lr:.3g}")
    if args.plot:
        result.plot(title="LR range test: MLP on digits").write_html(args.plot, include_plotlyjs=True)
        print(f"  plot written to {args.plot}")
    bounds = result.bounds()
    print(f"peak_lr searched in [{bounds.low:.3g}, {bounds.high:.3g}] (log scale)")

    study = make_study(make_space(bounds, args.epochs), args, range_test_baseline(result.suggested_lr))
    objective = make_objective(args.epochs)
    outcome = study.optimize(objective)
    if outcome.best is None:
        raise SystemExit(f"no trial completed: {outcome.states}")
    print(f"study: {outcome.trials_run} trials ({outcome.states}) on {args.resource:g} epochs, ASHA")

    # Step 4: the search's best won on one seed and one validation set; re-run the top, then open the holdout.
    report = ts.validate_top(study, objective, k=3, seeds=args.seeds)
    print(report.summary())
    verdict = ts.finalize(study, make_holdout(args.epochs), holdout="digits-holdout")
    print(verdict.summary())
    holdout = read_attr(study.attrs, HoldoutAttr)
    assert holdout is not None and holdout.params is not None  # finalize records the scores and what it judged
    elapsed = time.monotonic() - started
    print(f"wall time {elapsed:.1f}s")
    return {
        "suggested_lr": result.suggested_lr,
        "bounds": (bounds.low, bounds.high),
        "best": dict(holdout.params),  # the configuration the verdict judged
        "verdict": verdict,
        "holdout": holdout.scores,
        "elapsed": elapsed,
    }


if __name__ == "__main__":
    main()
