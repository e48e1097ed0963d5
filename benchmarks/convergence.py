"""``python -m benchmarks.convergence``: what stopping a search once it converged saves, and what it costs.

Each problem is searched twice from the same seed with tunesmith's default sampler: once to the whole trial budget
and once with ``Budget(until_converged=True)``, which stops once a Gaussian process's bound on what is left to find
(at 90%) falls below the noise of one measurement. One worker, so both runs draw the same trials until the second
stops. Beside it, Optuna's GP sampler run the same two ways, with and without its ``Terminator`` (the same
criterion, Makarova et al. 2022, given the same noise); each method's stop is set against its own whole run.

Problems:

* synthetic functions from `benchmarks.problems` (branin, hartmann6, mixed), each evaluation the function plus
  Gaussian noise of ``--noise`` times the spread of the function (its interquartile range over 512 random points), the
  noise reported as the trial's standard error; the truth is the function itself.
* ``svm-cancer``: an SVC on scikit-learn's breast-cancer data scored by 5-fold cross-validation, the objective
  returning its fold scores (``fold_metrics``), whose spread is the noise; the truth is the deterministic CV score.

With ``--calibration``, on the problems with a known optimum: how often the bound held, the true regret of the trial
that scored best against the bound at every tenth trial from 20 on (a bound at 90% should hold at 90% of checks or
more), and the median of their ratio (how conservative it is).

Printed per problem and method: trials run (median, and the fewest and most over seeds), the true loss of the
trial that scored best, at the stop and at the whole budget (means over seeds), and what the stop cost,
``(best at stop - best at the end) / noise`` seed by seed: its median and the share of seeds where it exceeds one
noise standard deviation.
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import tunesmith as ts
from benchmarks.problems import PROBLEMS
from tunesmith.study._convergence import MIN_TRIALS, assess

Truth = Callable[[Mapping[str, Any]], float]


@dataclass(frozen=True)
class Task:
    name: str
    space: ts.Space
    truth: Truth
    noise: float  # the standard error of one measurement
    objective: Callable[[ts.Trial, np.random.Generator], dict[str, Any]]


def _synthetic(name: str, fraction: float) -> Task:
    problem = PROBLEMS[name]
    rng = np.random.default_rng(0)
    values = [problem.loss(problem.space.decode(u)) for u in rng.random((512, len(problem.space.dimensions)))]
    q1, q3 = np.percentile(values, [25, 75])
    noise = fraction * float(q3 - q1)

    def objective(trial: ts.Trial, draws: np.random.Generator) -> dict[str, Any]:
        return {"loss": problem.loss(trial.params) + draws.normal(0.0, noise), "stderr:loss": noise}

    return Task(name, problem.space, problem.loss, noise, objective)


def _svm_cancer() -> Task:
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    x, y = load_breast_cancer(return_X_y=True)
    space = ts.Space({"C": ts.Float(1e-3, 1e3, log=True), "gamma": ts.Float(1e-5, 1.0, log=True)})

    def folds(params: Mapping[str, Any]) -> np.ndarray:
        model = make_pipeline(StandardScaler(), SVC(C=params["C"], gamma=params["gamma"]))
        return 1.0 - cross_val_score(model, x, y, cv=StratifiedKFold(5, shuffle=True, random_state=0))

    def objective(trial: ts.Trial, draws: np.random.Generator) -> dict[str, Any]:
        scores = folds(trial.params)
        return {"loss": float(np.mean(scores)), **ts.discipline.fold_metrics("loss", scores)}

    # The noise printed is a typical trial's fold standard error (each trial's own is what the check reads).
    typical = folds({"C": 10.0, "gamma": 0.01})
    return Task("svm-cancer", space, lambda p: float(np.mean(folds(p))), float(np.std(typical, ddof=1) / math.sqrt(5)),
                objective)  # fmt: skip


def _tasks(names: Sequence[str], fraction: float) -> list[Task]:
    return [_svm_cancer() if name == "svm-cancer" else _synthetic(name, fraction) for name in names]


@dataclass(frozen=True)
class Run:
    trials: int
    best_truth: float  # the true loss of the trial that scored best
    seconds: float


def _best_truth(task: Task, params: Sequence[Mapping[str, Any]], scores: Sequence[float]) -> float:
    return task.truth(params[int(np.argmin(scores))])


def _tunesmith(task: Task, seed: int, budget: int, until_converged: bool) -> Run:
    draws = np.random.default_rng([seed, 17])
    study = ts.Study(task.space, metric="loss", budget=ts.Budget(trials=budget, until_converged=until_converged),
                     storage="memory", seed=seed)  # fmt: skip
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.optimize(lambda trial: task.objective(trial, draws), progress=False)
    seconds = time.perf_counter() - started
    done = [r for r in study.trials if r.state is ts.TrialState.COMPLETE]
    return Run(len(done), _best_truth(task, [r.params for r in done], [r.value("loss") for r in done]), seconds)


def _optuna(task: Task, seed: int, budget: int, terminate: bool) -> Run:
    with warnings.catch_warnings():  # Optuna's terminator is experimental, and deprecated since 4.9
        warnings.simplefilter("ignore")
        return _optuna_run(task, seed, budget, terminate)


def _optuna_run(task: Task, seed: int, budget: int, terminate: bool) -> Run:
    import optuna
    from optuna.terminator import (
        CrossValidationErrorEvaluator,
        RegretBoundEvaluator,
        StaticErrorEvaluator,
        Terminator,
        TerminatorCallback,
        report_cross_validation_scores,
    )

    from benchmarks.peers import optuna_value

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    draws = np.random.default_rng([seed, 17])
    folds = task.name == "svm-cancer"
    error = CrossValidationErrorEvaluator() if folds else StaticErrorEvaluator(task.noise)
    terminator = Terminator(improvement_evaluator=RegretBoundEvaluator(seed=seed), error_evaluator=error)
    params: list[Mapping[str, Any]] = []
    scores: list[float] = []

    def objective(trial: Any) -> float:
        config = {name: optuna_value(trial, name, param) for name, param in task.space.items()}
        result = task.objective(_Fixed(config), draws)
        if folds:
            report_cross_validation_scores(trial, [v for k, v in result.items() if k.startswith("fold:")])
        params.append(config)
        scores.append(float(result["loss"]))
        return float(result["loss"])

    study = optuna.create_study(sampler=optuna.samplers.GPSampler(seed=seed), study_name=f"convergence-{seed}")
    started = time.perf_counter()
    study.optimize(objective, n_trials=budget, callbacks=[TerminatorCallback(terminator)] if terminate else [])
    return Run(len(scores), _best_truth(task, params, scores), time.perf_counter() - started)


class _Fixed:
    """What a task's objective reads of a trial (its parameters), for a peer's configuration."""

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.params = dict(params)


def _row(task: Task, method: str, stopped: Sequence[Run], full: Sequence[Run]) -> str:
    cost = np.array([(s.best_truth - f.best_truth) / task.noise for s, f in zip(stopped, full, strict=True)])
    trials = [s.trials for s in stopped]
    return (
        f"| {task.name} | {method} | {task.noise:.3g} | {np.median(trials):.0f} ({min(trials)}-{max(trials)}) "
        f"| {np.mean([s.best_truth for s in stopped]):.4g} | {np.mean([f.best_truth for f in full]):.4g} "
        f"| {np.median(cost):.2f} | {np.mean(cost > 1.0):.0%} | {np.mean([s.seconds for s in stopped]):.1f} |"
    )


def _calibration(task: Task, optimum: float, seeds: int, budget: int) -> str:
    """How often the bound held: the true regret of the trial that scored best, at every tenth trial from 20 on, set
    against the bound `assess` gave there (a bound at 90% should hold at 90% of checks or more)."""
    held = checks = 0
    ratios: list[float] = []
    for seed in range(seeds):
        draws = np.random.default_rng([seed, 17])
        study = ts.Study(task.space, metric="loss", budget=ts.Budget(trials=budget), storage="memory", seed=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            study.optimize(lambda trial, draws=draws: task.objective(trial, draws), progress=False)
        records = study.trials
        for n in range(MIN_TRIALS, budget + 1, 10):
            check = assess(task.space, records[:n], study.metric)
            assert check is not None and check.bound is not None
            best = min(records[:n], key=lambda r: r.metrics["loss"])
            regret = task.truth(best.params) - optimum
            checks += 1
            held += regret <= check.bound.bound
            ratios.append(regret / check.bound.bound if check.bound.bound > 0 else math.inf)
    return (f"| {task.name} | {held} of {checks} | {np.median(ratios):.2f} |")  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.convergence", description=__doc__.splitlines()[0])
    parser.add_argument("--problems", default="branin,hartmann6,mixed,svm-cancer")
    parser.add_argument("--methods", default="tunesmith,optuna-terminator")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--noise", type=float, default=0.02, help="noise sd as a share of the function's IQR")
    parser.add_argument("--calibration", action="store_true",
                        help="instead, how often the bound held on the problems with a known optimum")  # fmt: skip
    args = parser.parse_args(argv)
    if args.calibration:
        print(f"python -m benchmarks.convergence --calibration --problems {args.problems} --seeds {args.seeds} "
              f"--budget {args.budget} --noise {args.noise}")  # fmt: skip
        print("| problem | bound held (checks every 10 trials from 20) | median true regret / bound |")
        print("|---|---:|---:|")
        for name in args.problems.split(","):
            optimum = PROBLEMS[name].optimum if name in PROBLEMS else None
            if optimum is not None:
                print(_calibration(_synthetic(name, args.noise), optimum, args.seeds, args.budget), flush=True)
        return 0
    methods = args.methods.split(",")
    print(f"python -m benchmarks.convergence --problems {args.problems} --methods {args.methods} --seeds {args.seeds} "
          f"--budget {args.budget} --noise {args.noise}")  # fmt: skip
    print("| problem | method | noise | trials run (range) | best's true loss, stopped | at the whole budget "
          "| cost of stopping, in noise sds (median) | seeds costing > 1 sd | s/run |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for task in _tasks(args.problems.split(","), args.noise):
        seeds = range(args.seeds)
        full = [_tunesmith(task, seed, args.budget, until_converged=False) for seed in seeds]
        print(_row(task, "tunesmith, whole budget", full, full), flush=True)
        if "tunesmith" in methods:
            stopped = [_tunesmith(task, seed, args.budget, until_converged=True) for seed in seeds]
            print(_row(task, "tunesmith until_converged", stopped, full), flush=True)
        if "optuna-terminator" in methods:
            whole = [_optuna(task, seed, args.budget, terminate=False) for seed in seeds]
            print(_row(task, "Optuna GP, whole budget", whole, whole), flush=True)
            stopped = [_optuna(task, seed, args.budget, terminate=True) for seed in seeds]
            print(_row(task, "Optuna GP + Terminator", stopped, whole), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
