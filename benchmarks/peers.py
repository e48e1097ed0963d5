"""Methods under test: tunesmith's samplers and the peer tuners, each behind one function.

``run(method, problem, budget, seed, batch)`` returns the losses of the trials in order. With
``batch > 1`` each method is asked for ``batch`` suggestions before any is told, through its
ask/tell API (as ``batch`` parallel workers would ask), so the pending trials' handling is measured.
Peers are imported lazily; `available()` says which are installed (the ``bench`` extra installs all).
"""

from __future__ import annotations

import importlib.util
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

import tunesmith as ts
from benchmarks.problems import Problem
from tunesmith.space import Choice, Fixed, Float, Int, Param

__all__ = ["METHODS", "OURS", "PEERS", "available", "run"]

OURS = ["tunesmith-auto", "tunesmith-gp", "tunesmith-tpe", "tunesmith-sobol", "tunesmith-cmaes"]
PEERS = ["random", "optuna-tpe", "optuna-gp", "optuna-cmaes", "hyperopt-tpe", "skopt-gp"]
METHODS = OURS + PEERS
_NEEDS = {
    "optuna-tpe": "optuna",
    "optuna-gp": "optuna",
    "optuna-cmaes": "optuna",
    "hyperopt-tpe": "hyperopt",
    "skopt-gp": "skopt",
}


def available(method: str) -> bool:
    """Whether the package behind ``method`` is installed."""
    module = _NEEDS.get(method)
    return module is None or importlib.util.find_spec(module) is not None


def _rounds(budget: int, batch: int) -> list[int]:
    """How many suggestions each round asks for: ``batch`` each, the last one what the budget leaves."""
    return [min(batch, budget - start) for start in range(0, budget, batch)]


def _run_tunesmith(sampler: str, problem: Problem, budget: int, seed: int, batch: int = 1) -> list[float]:
    study = ts.Study(
        problem.space, metric="loss", sampler=sampler, budget=ts.Budget(trials=budget), storage="memory", seed=seed
    )
    losses = []
    for size in _rounds(budget, batch):
        trials = [study.ask() for _ in range(size)]
        for trial in trials:
            value = problem.loss(trial.params)
            study.tell(trial, value)
            losses.append(value)
    return losses


# Optuna -------------------------------------------------------------------------------------------
def optuna_value(trial: Any, name: str, param: Param) -> Any:
    if isinstance(param, Float):
        return trial.suggest_float(name, param.low, param.high, log=param.log)
    if isinstance(param, Int):
        if param.base is not None:
            lo, hi = round(math.log(param.low, param.base)), round(math.log(param.high, param.base))
            return int(param.base ** trial.suggest_int(f"{name}_exp", lo, hi))
        return trial.suggest_int(name, param.low, param.high, log=param.log)
    if isinstance(param, Choice):
        return trial.suggest_categorical(name, list(param.options))
    if isinstance(param, Fixed):
        return param.value
    raise TypeError(f"unsupported parameter {param!r}")


def _run_optuna(kind: str, problem: Problem, budget: int, seed: int, batch: int = 1) -> list[float]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "tpe":
            sampler: Any = optuna.samplers.TPESampler(seed=seed, multivariate=True)
        elif kind == "gp":
            sampler = optuna.samplers.GPSampler(seed=seed)
        elif kind == "cmaes":  # choices fall back to Optuna's independent (random) sampler
            sampler = optuna.samplers.CmaEsSampler(seed=seed, with_margin=True, warn_independent_sampling=False)
        else:
            sampler = optuna.samplers.RandomSampler(seed=seed)
        study = optuna.create_study(sampler=sampler)
        losses: list[float] = []

        def objective(trial: Any) -> float:
            params = {name: optuna_value(trial, name, param) for name, param in problem.space.items()}
            value = problem.loss(params)
            losses.append(value)
            return value

        if batch == 1:
            study.optimize(objective, n_trials=budget)
            return losses
        for size in _rounds(budget, batch):
            asked = [study.ask() for _ in range(size)]
            # Parameters are drawn at ask time for all of the batch, before any value is told.
            params = [
                {name: optuna_value(trial, name, param) for name, param in problem.space.items()} for trial in asked
            ]
            for trial, values in zip(asked, params, strict=True):
                value = problem.loss(values)
                losses.append(value)
                study.tell(trial, value)
    return losses


# Hyperopt -----------------------------------------------------------------------------------------
def _run_hyperopt(problem: Problem, budget: int, seed: int, batch: int = 1) -> list[float]:
    import hyperopt
    from hyperopt import hp

    space: dict[str, Any] = {}
    decoders: dict[str, Callable[[Any], Any]] = {}
    for name, param in problem.space.items():
        if isinstance(param, Float):
            space[name] = (
                hp.loguniform(name, math.log(param.low), math.log(param.high))
                if param.log
                else hp.uniform(name, param.low, param.high)
            )
            decoders[name] = float
        elif isinstance(param, Int):
            values = param.values()
            if values is not None and param.base is not None:
                space[name] = hp.choice(name, values)
                decoders[name] = int
            elif param.log:
                space[name] = hp.qloguniform(name, math.log(param.low - 0.5), math.log(param.high + 0.5), 1)
                decoders[name] = lambda v, p=param: int(min(p.high, max(p.low, round(v))))
            else:
                space[name] = hp.quniform(name, param.low - 0.5, param.high + 0.5, 1)
                decoders[name] = lambda v, p=param: int(min(p.high, max(p.low, round(v))))
        elif isinstance(param, Choice):
            space[name] = hp.choice(name, list(param.options))
            decoders[name] = lambda v: v
    losses: list[float] = []

    def objective(raw: dict[str, Any]) -> float:
        params = {name: decoders[name](raw[name]) for name in raw}
        value = problem.loss(params)
        losses.append(value)
        return value

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hyperopt.fmin(
            objective,
            space,
            algo=hyperopt.tpe.suggest,
            max_evals=budget,
            rstate=np.random.default_rng(seed),
            show_progressbar=False,
            max_queue_len=batch,  # suggestions drawn together, before any of them is evaluated
        )
    return losses


# scikit-optimize ------------------------------------------------------------------------------------
def _run_skopt(problem: Problem, budget: int, seed: int, batch: int = 1) -> list[float]:
    from skopt import Optimizer, gp_minimize
    from skopt.space import Categorical, Integer, Real

    dims: list[Any] = []
    names = list(problem.space.dimensions)
    decode: list[Callable[[Any], Any]] = []
    for name in names:
        param = problem.space[name]
        if isinstance(param, Float):
            dims.append(Real(param.low, param.high, prior="log-uniform" if param.log else "uniform", name=name))
            decode.append(float)
        elif isinstance(param, Int):
            if param.base is not None:
                lo, hi = round(math.log(param.low, param.base)), round(math.log(param.high, param.base))
                dims.append(Integer(lo, hi, name=name))
                decode.append(lambda k, b=param.base: int(b ** int(k)))
            else:
                dims.append(Integer(param.low, param.high, prior="log-uniform" if param.log else "uniform", name=name))
                decode.append(int)
        elif isinstance(param, Choice):
            dims.append(Categorical(list(param.options), name=name))
            decode.append(lambda v: v)
    losses: list[float] = []

    def objective(values: list[Any]) -> float:
        params = {n: f(v) for n, f, v in zip(names, decode, values, strict=True)}
        value = problem.loss(params)
        losses.append(value)
        return value

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if batch == 1:
            gp_minimize(objective, dims, n_calls=budget, n_initial_points=min(10, budget), random_state=seed)
            return losses
        # Batches through the ask/tell API: skopt fills the pending points with a constant liar.
        optimizer = Optimizer(dims, base_estimator="GP", n_initial_points=min(10, budget), random_state=seed)
        for size in _rounds(budget, batch):
            points = optimizer.ask(n_points=size)
            optimizer.tell(points, [objective(point) for point in points])
    return losses


def run(method: str, problem: Problem, budget: int, seed: int, batch: int = 1) -> list[float]:
    """The losses of ``budget`` trials of ``method`` on ``problem`` with ``seed``, in trial order.

    ``batch`` suggestions are asked before any of them is told (1: one at a time).
    """
    if method.startswith("tunesmith-"):
        return _run_tunesmith(method.removeprefix("tunesmith-"), problem, budget, seed, batch)
    if method == "random":
        return _run_tunesmith("random", problem, budget, seed, batch)
    if method == "optuna-tpe":
        return _run_optuna("tpe", problem, budget, seed, batch)
    if method == "optuna-gp":
        return _run_optuna("gp", problem, budget, seed, batch)
    if method == "optuna-cmaes":
        return _run_optuna("cmaes", problem, budget, seed, batch)
    if method == "hyperopt-tpe":
        return _run_hyperopt(problem, budget, seed, batch)
    if method == "skopt-gp":
        return _run_skopt(problem, budget, seed, batch)
    raise KeyError(f"unknown method {method!r}: choose from {METHODS}")
