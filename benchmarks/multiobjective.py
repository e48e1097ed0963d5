"""Multi-objective benchmark: tunesmith's samplers beside Optuna's on Pareto-front problems, by hypervolume.

Every method gets the same budget of trials on the same problems and seeds; a run is scored by the
hypervolume (`tunesmith.pareto.hypervolume`, i.e. moocore) of all its trials against one reference
point per problem, shared by every method. We report the mean and standard deviation over seeds, the
ratio to the best Optuna sampler's mean, and the sampler's mean time per suggestion (the time spent in
``ask``, which for Optuna includes the ``suggest_*`` calls that draw the parameters). Each budget is a
run of its own, so ``tunesmith-auto`` chooses its sampler for that budget, as a user's study would.

Problems: ZDT1, ZDT2, ZDT3 (6 parameters, 2 objectives), DTLZ2 (6 parameters, 3 objectives) and a real
accuracy-against-size task: a random forest on scikit-learn's bundled digits, minimising the 3-fold
cross-validated error and log10 of the forest's total node count (a deterministic proxy for prediction
latency and memory; every random seed is fixed, so each configuration always gets the same values).

Example:
    python -m benchmarks.multiobjective --seeds 1 --budgets 20          # a smoke run
    python -m benchmarks.multiobjective --seeds 5 --budgets 50,200      # the full table
    python -m benchmarks.multiobjective --problems zdt1 --methods tunesmith-auto,optuna-gp --jobs 2
"""

from __future__ import annotations

import os

# One thread per library pool: runs are compared side by side on a shared machine.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable, Mapping, Sequence  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from functools import cache  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

import tunesmith as ts  # noqa: E402
from tunesmith.pareto import hypervolume  # noqa: E402

__all__ = ["METHODS", "PROBLEMS", "MOProblem", "main", "run_method", "summarise", "to_markdown"]

Values = Callable[[Mapping[str, Any]], dict[str, float]]


@dataclass(frozen=True)
class MOProblem:
    """A space, objectives (all minimised) and the reference point every method is scored against."""

    name: str
    space: ts.Space
    objectives: tuple[str, ...]
    values: Values
    reference: tuple[float, ...]


# Synthetic problems ------------------------------------------------------------------------------------
_D = 6
UNIT_CUBE = ts.Space({f"x{i}": ts.Float(0.0, 1.0) for i in range(_D)})


def _x(p: Mapping[str, Any]) -> np.ndarray:
    return np.array([p[f"x{i}"] for i in range(_D)], dtype=float)


def _zdt(shape: Callable[[float, float], float]) -> Values:
    def values(p: Mapping[str, Any]) -> dict[str, float]:
        x = _x(p)
        g = 1.0 + 9.0 * float(np.mean(x[1:]))
        return {"f1": float(x[0]), "f2": g * shape(float(x[0]), g)}

    return values


def _zdt1(f1: float, g: float) -> float:
    return 1.0 - math.sqrt(f1 / g)


def _zdt2(f1: float, g: float) -> float:
    return 1.0 - (f1 / g) ** 2


def _zdt3(f1: float, g: float) -> float:
    return 1.0 - math.sqrt(f1 / g) - (f1 / g) * math.sin(10.0 * math.pi * f1)


def _dtlz2(p: Mapping[str, Any]) -> dict[str, float]:
    x = _x(p)
    radius = 1.0 + float(np.sum((x[2:] - 0.5) ** 2))
    a, b = 0.5 * math.pi * x[0], 0.5 * math.pi * x[1]
    return {
        "f1": radius * math.cos(a) * math.cos(b),
        "f2": radius * math.cos(a) * math.sin(b),
        "f3": radius * math.sin(a),
    }


# A real task: accuracy against model size ------------------------------------------------------------
FOREST_SPACE = ts.Space(
    {
        "n_estimators": ts.Int(2, 32, log=True),
        "max_depth": ts.Int(1, 16),
        "min_samples_leaf": ts.Int(1, 32, log=True),
        "max_features": ts.Float(0.02, 0.5),
    }
)


@cache
def _digits() -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import StratifiedKFold

    x, y = load_digits(return_X_y=True)
    folds = list(StratifiedKFold(n_splits=3, shuffle=True, random_state=0).split(x, y))
    return x, y, folds


def _forest(p: Mapping[str, Any]) -> dict[str, float]:
    from sklearn.ensemble import RandomForestClassifier

    x, y, folds = _digits()
    errors, nodes = [], []
    for train, test in folds:
        model = RandomForestClassifier(
            n_estimators=int(p["n_estimators"]),
            max_depth=int(p["max_depth"]),
            min_samples_leaf=int(p["min_samples_leaf"]),
            max_features=float(p["max_features"]),
            random_state=0,
            n_jobs=1,
        ).fit(x[train], y[train])
        errors.append(1.0 - float(model.score(x[test], y[test])))
        nodes.append(sum(tree.tree_.node_count for tree in model.estimators_))
    return {"error": float(np.mean(errors)), "log10_nodes": math.log10(float(np.mean(nodes)))}


PROBLEMS: dict[str, MOProblem] = {
    "zdt1": MOProblem("zdt1", UNIT_CUBE, ("f1", "f2"), _zdt(_zdt1), (1.1, 1.1)),
    "zdt2": MOProblem("zdt2", UNIT_CUBE, ("f1", "f2"), _zdt(_zdt2), (1.1, 1.1)),
    "zdt3": MOProblem("zdt3", UNIT_CUBE, ("f1", "f2"), _zdt(_zdt3), (1.1, 1.1)),
    "dtlz2": MOProblem("dtlz2", UNIT_CUBE, ("f1", "f2", "f3"), _dtlz2, (1.1, 1.1, 1.1)),
    "forest-digits": MOProblem("forest-digits", FOREST_SPACE, ("error", "log10_nodes"), _forest, (0.5, 4.0)),
}

# "-ref": the study is told the reference point the run is scored against (``reference_point=``), as a
# user who knows which values matter would; Optuna's samplers take no reference point.
OURS = ["tunesmith-auto", "tunesmith-auto-ref", "tunesmith-gp", "tunesmith-tpe", "tunesmith-nsga2"]
PEERS = ["random", "optuna-gp", "optuna-tpe", "optuna-nsga2"]
METHODS = OURS + PEERS
DEFAULT = "tunesmith-auto"


@dataclass(frozen=True)
class Run:
    losses: np.ndarray  # (trials, objectives)
    seconds_per_suggestion: float


def _run_tunesmith(sampler: str, problem: MOProblem, budget: int, seed: int) -> Run:
    told = sampler.endswith("-ref")
    study = ts.Study(
        problem.space,
        metrics=[ts.Metric(name, "min") for name in problem.objectives],
        reference_point=dict(zip(problem.objectives, problem.reference, strict=True)) if told else None,
        sampler=sampler.removesuffix("-ref"),
        budget=ts.Budget(trials=budget),
        storage="memory",
        seed=seed,
    )
    rows, spent = [], 0.0
    for _ in range(budget):
        start = time.perf_counter()
        trial = study.ask()
        spent += time.perf_counter() - start
        values = problem.values(trial.params)
        study.tell(trial, values)
        rows.append([values[name] for name in problem.objectives])
    return Run(np.asarray(rows), spent / budget)


def _run_optuna(kind: str, problem: MOProblem, budget: int, seed: int) -> Run:
    import optuna

    from benchmarks.peers import optuna_value

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "gp":
            sampler: Any = optuna.samplers.GPSampler(seed=seed)
        elif kind == "tpe":
            sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True)
        elif kind == "nsga2":
            sampler = optuna.samplers.NSGAIISampler(seed=seed)
        else:
            sampler = optuna.samplers.RandomSampler(seed=seed)
        study = optuna.create_study(directions=["minimize"] * len(problem.objectives), sampler=sampler)
        rows, spent = [], 0.0
        for _ in range(budget):
            start = time.perf_counter()
            trial = study.ask()
            params = {name: optuna_value(trial, name, param) for name, param in problem.space.items()}
            spent += time.perf_counter() - start
            values = problem.values(params)
            study.tell(trial, [values[name] for name in problem.objectives])
            rows.append([values[name] for name in problem.objectives])
    return Run(np.asarray(rows), spent / budget)


def run_method(method: str, problem: MOProblem, budget: int, seed: int) -> Run:
    """The objective values of ``budget`` trials of ``method`` on ``problem`` with ``seed``, in trial order."""
    if method.startswith("tunesmith-"):
        return _run_tunesmith(method.removeprefix("tunesmith-"), problem, budget, seed)
    if method.startswith("optuna-") or method == "random":
        return _run_optuna(method.removeprefix("optuna-"), problem, budget, seed)
    raise KeyError(f"unknown method {method!r}: choose from {METHODS}")


def _job(args: tuple[str, str, int, int]) -> dict[str, Any]:
    method, problem_name, budget, seed = args
    problem = PROBLEMS[problem_name]
    run = run_method(method, problem, budget, seed)
    return {
        "method": method,
        "problem": problem_name,
        "budget": budget,
        "seed": seed,
        "hypervolume": hypervolume(run.losses, problem.reference),
        "seconds_per_suggestion": run.seconds_per_suggestion,
    }


def summarise(runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per (problem, budget): each method's mean and std hypervolume, ratio to the best Optuna sampler, time."""
    cells: dict[str, dict[str, Any]] = {}
    for run in runs:
        key = f"{run['problem']}@{run['budget']}"
        cell = cells.setdefault(key, {"problem": run["problem"], "budget": run["budget"], "methods": {}})
        entry = cell["methods"].setdefault(run["method"], {"hypervolumes": [], "seconds": []})
        entry["hypervolumes"].append(run["hypervolume"])
        entry["seconds"].append(run["seconds_per_suggestion"])
    for cell in cells.values():
        for entry in cell["methods"].values():
            entry["mean"] = float(np.mean(entry["hypervolumes"]))
            entry["std"] = float(np.std(entry["hypervolumes"]))
            entry["seconds_per_suggestion"] = float(np.mean(entry["seconds"]))
        peers = {m: e["mean"] for m, e in cell["methods"].items() if m.startswith("optuna-")}
        best_peer = max(peers, key=lambda m: peers[m]) if peers else None
        cell["best_optuna"] = best_peer
        for entry in cell["methods"].values():
            top = cell["methods"][best_peer]["mean"] if best_peer else float("nan")
            entry["ratio"] = entry["mean"] / top if top > 0 else float("nan")
    return cells


def _verdict(cells: Mapping[str, Any], ours_name: str = DEFAULT) -> list[str]:
    wins, total, faster, timed = 0, 0, 0, 0
    for cell in cells.values():
        ours, peer = cell["methods"].get(ours_name), cell["best_optuna"]
        if ours is None or peer is None:
            continue
        total += 1
        wins += ours["mean"] >= cell["methods"][peer]["mean"]
        gp = cell["methods"].get("optuna-gp")
        if gp is not None:
            timed += 1
            faster += ours["seconds_per_suggestion"] < gp["seconds_per_suggestion"]
    lines = []
    if total:
        lines.append(f"{ours_name} >= the best Optuna sampler in mean hypervolume: {wins} of {total} (problem, budget)")
    if timed:
        lines.append(f"{ours_name} faster per suggestion than optuna-gp: {faster} of {timed}")
    return lines


def to_markdown(cells: Mapping[str, Any], seeds: int) -> str:
    """One table: a row per (problem, budget, method)."""
    lines = [
        f"Hypervolume at equal budgets ({seeds} seed(s); mean ± std; ratio: to the best Optuna sampler's mean)",
        "",
        "| problem | budget | method | hypervolume | ratio | ms / suggestion |",
        "|---|---|---|---|---|---|",
    ]
    for cell in sorted(cells.values(), key=lambda c: (c["problem"], c["budget"])):
        for method in METHODS:
            entry = cell["methods"].get(method)
            if entry is None:
                continue
            best = " (best Optuna)" if method == cell["best_optuna"] else ""
            lines.append(
                f"| {cell['problem']} | {cell['budget']} | {method}{best} | {entry['mean']:.4f} ± {entry['std']:.4f} "
                f"| {entry['ratio']:.3f} | {1000 * entry['seconds_per_suggestion']:.1f} |"
            )
    return "\n".join([*lines, "", *_verdict(cells), *_verdict(cells, f"{DEFAULT}-ref")])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.multiobjective", description=__doc__.split("\n")[0])
    parser.add_argument("--problems", default=",".join(PROBLEMS), help=f"of {', '.join(PROBLEMS)}")
    parser.add_argument("--methods", default=",".join(METHODS), help=f"of {', '.join(METHODS)}")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budgets", default="50,200", help="trials per run, comma-separated")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once (processes)")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args(argv)
    problems = args.problems.split(",")
    unknown = [p for p in problems if p not in PROBLEMS] + [m for m in args.methods.split(",") if m not in METHODS]
    if unknown:
        parser.error(f"unknown problems or methods {unknown}: choose from {list(PROBLEMS)} and {METHODS}")
    methods = args.methods.split(",")
    budgets = [int(b) for b in args.budgets.split(",")]
    jobs = [(m, p, b, s) for p in problems for b in budgets for m in methods for s in range(args.seeds)]
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            runs = list(pool.map(_job, jobs))
    else:
        runs = [_job(job) for job in jobs]
    cells = summarise(runs)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "multiobjective.json").write_text(json.dumps({"runs": runs, "cells": cells}, indent=2))
    table = to_markdown(cells, args.seeds)
    (out / "multiobjective.md").write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
