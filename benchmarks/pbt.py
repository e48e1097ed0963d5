"""``python -m benchmarks.pbt``: Population Based Training, PBT's random exploration against PB2's model.

Four members train at once on the simulated clock (`SimulatedExecutor`, one step a time unit), for a resource budget
of ``--budget`` full trainings; the study's ``best`` at the end (the trial that reported the lowest final loss among
those trained to the end) is what a user would take, and the table gives its true loss. Methods, each from the same
seed, so each starts from the same four random configurations:

* ``fifo``: those configurations trained to the end, one population after another (random search);
* ``pbt``: `tunesmith.PBT` (random perturbation x0.8 or x1.2, or a draw from the prior with probability 0.25);
* ``pb2``: `tunesmith.PB2` (the replacement's hyperparameters chosen by a GP over (step, hyperparameters)).

Problems:

* ``moving-lr``: a loss that falls each step by a share that peaks at a learning rate moving from 0.1 at the first
  step to 0.001 at the last (100 steps), with 2% multiplicative noise on what is reported; the truth is the loss
  without the noise. No fixed learning rate trains well throughout: a schedule does.
* ``moving-lr-momentum``: the same with a second parameter, ``m`` in [0, 0.99], whose effect (a Gaussian factor of
  width 0.3 around 0.8) does not move.
* ``mlp-digits``: a PyTorch MLP (64 wide) trained epoch by epoch with SGD on scikit-learn's digits (30 epochs),
  ``lr``, ``momentum`` and ``weight_decay`` tuned; the metric is the validation cross-entropy, the truth the
  cross-entropy on a held-out test split; a continuation carries the weights and momentum buffers over.

Printed per problem and method: the median and mean over seeds of the best's true loss, the trials the study ran,
and seconds per run; then, per problem, PB2 against PBT seed by seed (lower, higher, tied within 1%) with a two-sided
sign test.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

import tunesmith as ts
from benchmarks.multifidelity_problems import train_epoch
from tunesmith.executors import SimulatedExecutor

Objective = Callable[[ts.Trial], Iterator[tuple[float, dict[str, float]]]]
_WORKERS = 4


@dataclass(frozen=True)
class Problem:
    name: str
    space: ts.Space
    steps: int
    interval: int
    objective: Objective


def _moving_lr(with_momentum: bool) -> Objective:
    def objective(trial: ts.Trial) -> Iterator[tuple[float, dict[str, float]]]:
        state = trial.load_checkpoint() if trial.resumed else None
        loss = 1.0 if state is None else float(state["loss"])
        rng = np.random.default_rng(trial.seed * 1_000 + trial.step)
        for step in range(trial.step, 100):
            best = -1.0 - 2.0 * step / 100
            rate = 0.08 * math.exp(-((math.log10(trial.params["lr"]) - best) ** 2) / (2 * 0.4**2))
            if with_momentum:
                rate *= math.exp(-((trial.params["m"] - 0.8) ** 2) / (2 * 0.3**2))
            loss *= 1.0 - rate
            trial.save_checkpoint({"loss": loss})
            yield 1.0, {"loss": loss * (1.0 + 0.02 * rng.standard_normal()), "true": loss}

    return objective


@lru_cache(maxsize=1)
def _digits() -> tuple[Any, ...]:
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    x, y = load_digits(return_X_y=True)
    x_tr, x_rest, y_tr, y_rest = train_test_split(x, y, test_size=0.4, stratify=y, random_state=0)
    x_val, x_te, y_val, y_te = train_test_split(x_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=0)
    scaler = StandardScaler().fit(x_tr)
    as_x = lambda a: torch.tensor(scaler.transform(a), dtype=torch.float32)  # noqa: E731
    return as_x(x_tr), torch.tensor(y_tr), as_x(x_val), torch.tensor(y_val), as_x(x_te), torch.tensor(y_te)


def _mlp(trial: ts.Trial) -> Iterator[tuple[float, dict[str, float]]]:
    import torch

    torch.set_num_threads(1)
    x_tr, y_tr, x_val, y_val, x_te, y_te = _digits()
    generator = torch.Generator().manual_seed(trial.seed * 1_000 + trial.step)
    model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
    for layer in (model[0], model[2]):
        bound = 1.0 / math.sqrt(layer.in_features)
        with torch.no_grad():
            layer.weight.uniform_(-bound, bound, generator=generator)
            layer.bias.uniform_(-bound, bound, generator=generator)
    p = trial.params
    optimizer = torch.optim.SGD(model.parameters(), lr=p["lr"], momentum=p["momentum"], weight_decay=p["weight_decay"])
    state = trial.load_checkpoint() if trial.resumed else None
    if state is not None:  # the donor's weights and momentum buffers, trained on with this trial's parameters
        with torch.no_grad():
            for i, weights in enumerate(model.parameters()):
                weights.copy_(torch.from_numpy(np.asarray(state[f"w{i}"])))
                optimizer.state[weights]["momentum_buffer"] = torch.from_numpy(np.asarray(state[f"m{i}"])).clone()
    loss_fn = torch.nn.CrossEntropyLoss()
    for _ in range(trial.step, 30):
        train_epoch(model, optimizer, x_tr, y_tr, generator, batch_size=64)
        saved: dict[str, Any] = {}
        for i, weights in enumerate(model.parameters()):
            saved[f"w{i}"] = weights.detach().numpy().copy()
            buffer = optimizer.state[weights].get("momentum_buffer")
            saved[f"m{i}"] = np.zeros_like(saved[f"w{i}"]) if buffer is None else buffer.numpy().copy()
        trial.save_checkpoint(saved)
        with torch.no_grad():
            val, test = float(loss_fn(model(x_val), y_val)), float(loss_fn(model(x_te), y_te))
        yield 1.0, {"loss": val if math.isfinite(val) else 1e3, "true": test if math.isfinite(test) else 1e3}


PROBLEMS: dict[str, Problem] = {
    "moving-lr": Problem("moving-lr", ts.Space({"lr": ts.Float(1e-4, 1.0, log=True)}), 100, 5, _moving_lr(False)),
    "moving-lr-momentum": Problem(
        "moving-lr-momentum",
        ts.Space({"lr": ts.Float(1e-4, 1.0, log=True), "m": ts.Float(0.0, 0.99)}),
        100,
        5,
        _moving_lr(True),
    ),
    "mlp-digits": Problem(
        "mlp-digits",
        ts.Space(
            {
                "lr": ts.Float(1e-3, 1.0, log=True),
                "momentum": ts.Float(0.0, 0.99),
                "weight_decay": ts.Float(1e-6, 1e-1, log=True),
            }
        ),
        30,
        3,
        _mlp,
    ),
}

METHODS: dict[str, Callable[[int], ts.Scheduler | None]] = {
    "fifo": lambda interval: None,
    "pbt": lambda interval: ts.PBT(perturbation_interval=interval),
    "pb2": lambda interval: ts.PB2(perturbation_interval=interval),
}


@dataclass(frozen=True)
class Run:
    truth: float  # the best's true loss (NaN: no trial trained to the end)
    trials: int
    seconds: float


def run(problem: Problem, method: str, seed: int, budget: float) -> Run:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a budget spent before any trial ended says so: the table shows NaN
        study = ts.Study(problem.space, metric="loss", scheduler=METHODS[method](problem.interval), storage="memory",
                         seed=seed, sampler="random", budget=ts.Budget(resource=budget * problem.steps * _WORKERS),
                         checkpoint_dir=folder, keep_checkpoints=2 * _WORKERS)  # fmt: skip
        study.optimize(problem.objective, progress=False, executor=SimulatedExecutor(workers=_WORKERS, start_time=0))
    best = study.best
    truth = best.value("true") if best is not None else None
    return Run(math.nan if truth is None else truth, len(study.trials), time.perf_counter() - started)


def _sign_test(lower: int, higher: int) -> float:
    """Two-sided p-value of ``lower`` against ``higher`` under a fair coin (ties left out)."""
    n = lower + higher
    if n == 0:
        return 1.0
    k = min(lower, higher)
    return min(1.0, 2.0 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pbt", description=__doc__.splitlines()[0])
    parser.add_argument("--problems", default=",".join(PROBLEMS))
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=float, default=2.5, help="resource, in full trainings of the population")
    args = parser.parse_args(argv)
    methods = args.methods.split(",")
    print(f"python -m benchmarks.pbt --problems {args.problems} --methods {args.methods} --seeds {args.seeds} "
          f"--budget {args.budget:g}")  # fmt: skip
    print("| problem | method | best's true loss, median | mean | trials (median) | s/run |")
    print("|---|---|---:|---:|---:|---:|")
    versus: list[str] = []
    for name in args.problems.split(","):
        problem = PROBLEMS[name]
        runs = {m: [run(problem, m, seed, args.budget) for seed in range(args.seeds)] for m in methods}
        for method, done in runs.items():
            truths = np.array([r.truth for r in done])
            print(f"| {name} | {method} | {np.nanmedian(truths):.4g} | {np.nanmean(truths):.4g} "
                  f"| {np.median([r.trials for r in done]):g} | {np.mean([r.seconds for r in done]):.1f} |",
                  flush=True)  # fmt: skip
        if "pb2" in runs and "pbt" in runs:
            pairs = [(a.truth, b.truth) for a, b in zip(runs["pb2"], runs["pbt"], strict=True)]
            lower = sum(a < b * 0.99 for a, b in pairs)
            higher = sum(a > b * 1.01 for a, b in pairs)
            versus.append(f"| {name} | {lower} / {higher} / {len(pairs) - lower - higher} "
                          f"| {_sign_test(lower, higher):.2g} |")  # fmt: skip
    if versus:
        print("\n| problem | PB2 against PBT, seed by seed: lower / higher / tied within 1% | sign test p |")
        print("|---|---|---:|")
        print("\n".join(versus))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
