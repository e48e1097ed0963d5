"""Multi-fidelity benchmark: early stopping against random search at full budget, and against Optuna's pruners.

Every method gets the same total resource (training steps summed over all trials) on the same
problems and seeds. For each, we report the configurations it evaluated, the best final loss it
reached (a trial counts only once it has trained to ``max_resource``), and the resource it had
spent when it first matched random search's final best.

Problems: synthetic learning curves with known final values (including late bloomers, whose
loss falls slowly but ends lowest), and real ones (scikit-learn's SGDClassifier trained epoch by
epoch on the bundled digits and breast-cancer data). Trials run one at a time on the simulated
clock, so resource accounting is exact and the runs are reproducible.

Example:
    python -m benchmarks.multifidelity --quick
    python -m benchmarks.multifidelity --seeds 5 --out benchmarks/results
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

import tunesmith as ts

__all__ = ["PROBLEMS", "main", "run_method"]

Curve = Callable[[dict[str, Any], int, int], Iterator[float]]  # (params, seed, start_step) -> losses


@dataclass(frozen=True)
class CurveProblem:
    name: str
    space: ts.Space
    curve: Curve
    max_resource: int


# Synthetic curves -------------------------------------------------------------------------------------


def _synthetic_final(p: dict[str, Any]) -> float:
    x, y, z = p["x"], p["y"], p["z"]
    return 0.1 + (x - 0.7) ** 2 + 0.5 * (y - 0.3) ** 2 + 0.2 * math.sin(6 * z) ** 2


def _synthetic(p: dict[str, Any], seed: int, start: int, late_bloomers: bool, max_resource: int) -> Iterator[float]:
    final = _synthetic_final(p)
    # The speed of convergence: late bloomers (high x) start slowly; they are also the best at the end.
    rate = 0.5 + 2.0 * (1.0 - p["x"]) if late_bloomers else 1.5
    rng = np.random.default_rng(seed)
    for step in range(start + 1, max_resource + 1):
        progress = (step / max_resource) ** (1.0 / rate)
        yield final + (1.0 - progress) * (1.0 + 0.5 * p["y"]) + 0.005 * rng.standard_normal()


SYNTHETIC_SPACE = ts.Space({"x": ts.Float(0.0, 1.0), "y": ts.Float(0.0, 1.0), "z": ts.Float(0.0, 1.0)})


# Real curves: SGDClassifier epoch by epoch ------------------------------------------------------------------

SGD_SPACE = ts.Space(
    {
        "alpha": ts.Float(1e-6, 1e-1, log=True),
        "eta0": ts.Float(1e-4, 1.0, log=True),
        "loss": ts.Choice(["log_loss", "hinge", "modified_huber"]),
        "penalty": ts.Choice(["l2", "l1", "elasticnet"]),
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
    def curve(p: dict[str, Any], seed: int, start: int) -> Iterator[float]:
        from sklearn.linear_model import SGDClassifier

        x_tr, y_tr, x_val, y_val, classes = _dataset(dataset)
        model = SGDClassifier(alpha=p["alpha"], eta0=p["eta0"], loss=p["loss"], penalty=p["penalty"],
                              learning_rate="invscaling", random_state=seed % 2**31)  # fmt: skip
        rng = np.random.default_rng(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(start):  # replay to the resume point (a real run would load a checkpoint)
                model.partial_fit(x_tr[rng.permutation(len(x_tr))], y_tr, classes=classes)
            for _ in range(start, 81):
                order = rng.permutation(len(x_tr))
                model.partial_fit(x_tr[order], y_tr[order], classes=classes)
                yield float(1.0 - model.score(x_val, y_val))

    return curve


PROBLEMS: dict[str, CurveProblem] = {
    "curves": CurveProblem(
        "curves", SYNTHETIC_SPACE, lambda p, s, start: _synthetic(p, s, start, False, 81), 81
    ),
    "late-bloomers": CurveProblem(
        "late-bloomers", SYNTHETIC_SPACE, lambda p, s, start: _synthetic(p, s, start, True, 81), 81
    ),
    "sgd-digits": CurveProblem("sgd-digits", SGD_SPACE, _sgd("digits"), 81),
    "sgd-cancer": CurveProblem("sgd-cancer", SGD_SPACE, _sgd("cancer"), 81),
}

METHODS = ["random", "asha", "asha-promote", "hyperband", "asha-tpe", "optuna-sha", "optuna-hyperband"]


# Running a method --------------------------------------------------------------------------------------------


@dataclass
class Trace:
    """What a run did, in the order it spent resource: (cumulative resource, final loss or None) per trial."""

    events: list[tuple[float, float | None]]
    configurations: int


def _scheduler(method: str, max_resource: int) -> ts.Scheduler | None:
    if method in ("asha", "asha-tpe"):
        return ts.ASHA(min_resource=1, max_resource=max_resource, eta=3)
    if method == "asha-promote":
        return ts.ASHA(min_resource=1, max_resource=max_resource, eta=3, mode="promote")
    if method == "hyperband":
        return ts.Hyperband(min_resource=1, max_resource=max_resource, eta=3)
    return None


def _run_tunesmith(method: str, problem: CurveProblem, resource: int, seed: int) -> Trace:
    def objective(trial: ts.Trial) -> Iterator[tuple[float, dict[str, float]]]:
        for loss in problem.curve(trial.params, trial.seed, trial.step):
            yield 1.0, {"loss": loss}

    study = ts.Study(
        problem.space,
        metric="loss",
        sampler="tpe" if method == "asha-tpe" else "random",
        scheduler=_scheduler(method, problem.max_resource),
        budget=ts.Budget(resource=resource),
        storage="memory",
        seed=seed,
        divergence_factor=None,
    )
    study.optimize(objective, executor=ts.SimulatedExecutor(workers=1))
    # One worker and one simulated second per step: the resource spent when a trial ended is the
    # simulated time elapsed since the first trial started (paused trials resume later).
    records = study.trials
    start = min(r.started_at or 0.0 for r in records)
    events: list[tuple[float, float | None]] = []
    for record in sorted(records, key=lambda r: (r.finished_at or math.inf, r.number)):
        done = record.state is ts.TrialState.COMPLETE and record.resource >= problem.max_resource
        events.append(((record.finished_at or start) - start, record.value("loss") if done else None))
    return Trace(events, len(records))


def _run_optuna(method: str, problem: CurveProblem, resource: int, seed: int) -> Trace:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner: optuna.pruners.BasePruner
    if method == "optuna-sha":
        pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    else:
        pruner = optuna.pruners.HyperbandPruner(min_resource=1, max_resource=problem.max_resource,
                                                reduction_factor=3)  # fmt: skip
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed), pruner=pruner)
    events: list[tuple[float, float | None]] = []
    spent = [0.0]

    def objective(trial: optuna.Trial) -> float:
        params: dict[str, Any] = {}
        for name, param in problem.space.items():
            if isinstance(param, ts.Float):
                params[name] = trial.suggest_float(name, param.low, param.high, log=param.log)
            elif isinstance(param, ts.Choice):
                params[name] = trial.suggest_categorical(name, list(param.options))
        loss = math.inf
        steps = 0
        for step, loss in enumerate(problem.curve(params, seed * 100_003 + trial.number, 0), start=1):
            steps = step
            if spent[0] + steps > resource:
                steps -= 1
                break
            trial.report(loss, step)
            if trial.should_prune():
                spent[0] += steps
                events.append((spent[0], None))
                raise optuna.TrialPruned()
        spent[0] += steps
        events.append((spent[0], loss if steps >= problem.max_resource else None))
        return loss

    while spent[0] < resource:
        study.optimize(objective, n_trials=1)
    return Trace(events, len(study.trials))


def run_method(method: str, problem: CurveProblem, resource: int, seed: int) -> Trace:
    if method.startswith("optuna"):
        return _run_optuna(method, problem, resource, seed)
    return _run_tunesmith(method, problem, resource, seed)


def _reach(trace: Trace, target: float) -> float | None:
    """Resource spent when a fully trained trial first matched ``target`` (``None``: never)."""
    for spent, loss in trace.events:
        if loss is not None and loss <= target + 1e-12:
            return spent
    return None


def _best(trace: Trace) -> float:
    finals = [loss for _, loss in trace.events if loss is not None]
    return min(finals) if finals else math.inf


# The run -----------------------------------------------------------------------------------------------------


def evaluate(problems: Sequence[str], methods: Sequence[str], seeds: int, random_configs: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name in problems:
        problem = PROBLEMS[name]
        resource = random_configs * problem.max_resource
        rows: dict[str, dict[str, list[float]]] = {m: {"configs": [], "best": [], "reach": [], "sec": []}
                                                   for m in methods}  # fmt: skip
        for seed in range(seeds):
            baseline = run_method("random", problem, resource, seed)
            target = _best(baseline)
            for method in methods:
                start = time.perf_counter()
                trace = baseline if method == "random" else run_method(method, problem, resource, seed)
                reach = _reach(trace, target)
                rows[method]["configs"].append(trace.configurations)
                rows[method]["best"].append(_best(trace))
                rows[method]["reach"].append(math.nan if reach is None else reach / resource)
                rows[method]["sec"].append(time.perf_counter() - start)
        results[name] = {
            "resource": resource,
            "methods": {
                m: {
                    "configurations": float(np.mean(v["configs"])),
                    "configs_vs_random": float(np.mean(v["configs"]) / np.mean(rows["random"]["configs"])),
                    "best_final": float(np.mean(v["best"])),
                    "reach_fraction_median": float(np.nanmedian(v["reach"])) if not np.all(np.isnan(v["reach"]))
                    else math.nan,
                    "reached_in": int(np.sum(~np.isnan(v["reach"]))),
                    "seconds": float(np.mean(v["sec"])),
                }
                for m, v in rows.items()
            },
        }
    return results


def to_markdown(results: dict[str, Any], seeds: int) -> str:
    lines = [
        f"Same total resource per problem (random search's {next(iter(results.values()))['resource'] // 81} "
        f"configurations x 81 steps), {seeds} seeds. *reach* = resource spent (fraction of the total) when a fully "
        "trained trial first matched random search's final best (median over the seeds that got there).",
        "",
        "| problem | method | configurations | x random | best final loss | reach | reached |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for problem, data in results.items():
        for method, row in data["methods"].items():
            reach = "-" if math.isnan(row["reach_fraction_median"]) else f"{row['reach_fraction_median']:.3f}"
            lines.append(
                f"| {problem} | {method} | {row['configurations']:.0f} | {row['configs_vs_random']:.1f} | "
                f"{row['best_final']:.4f} | {reach} | {row['reached_in']}/{seeds} |"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.multifidelity", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="two problems, two seeds, tunesmith methods only")
    parser.add_argument("--problems", default=",".join(PROBLEMS))
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--random-configs", type=int, default=30, help="configurations random search trains fully")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args(argv)
    problems = args.problems.split(",")
    methods = args.methods.split(",")
    if args.quick:
        problems, methods, args.seeds, args.random_configs = ["curves", "sgd-cancer"], METHODS[:5], 2, 10
    try:
        import optuna  # noqa: F401
    except ImportError:
        methods = [m for m in methods if not m.startswith("optuna")]
        print("optuna is not installed (pip install 'tunesmith[bench]'): its pruners are left out")
    results = evaluate(problems, methods, args.seeds, args.random_configs)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "multifidelity.json").write_text(json.dumps(results, indent=2))
    table = to_markdown(results, args.seeds)
    (out / "multifidelity.md").write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
