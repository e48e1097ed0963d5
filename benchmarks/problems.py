"""Benchmark problems: synthetic test functions and scikit-learn tuning tasks on bundled datasets.

Every problem is a tunesmith `Space` and a loss to minimise; peers get the same space through
the converters in `benchmarks.peers`. The scikit-learn tasks use datasets shipped with
scikit-learn (no downloads) and a fixed cross-validation split, so each loss is deterministic.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from tunesmith.space import Choice, Float, Int, Space

__all__ = ["PROBLEMS", "Problem", "get_problems"]

Loss = Callable[[Mapping[str, Any]], float]


@dataclass(frozen=True)
class Problem:
    """A named search space and a loss; ``optimum`` is the known minimum where there is one."""

    name: str
    space: Space
    loss: Loss
    optimum: float | None = None
    kind: str = "synthetic"


def _branin(p: Mapping[str, Any]) -> float:
    x1, x2 = p["x1"], p["x2"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return float((x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10)


_H6_A = np.array(
    [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def _hartmann6(p: Mapping[str, Any]) -> float:
    x = np.array([p[f"x{i}"] for i in range(6)])
    return float(-np.sum(_H6_ALPHA * np.exp(-np.sum(_H6_A * (x - _H6_P) ** 2, axis=1))))


def _ackley(p: Mapping[str, Any]) -> float:
    x = np.array([p[f"x{i}"] for i in range(5)])
    d = len(x)
    return float(
        -20 * math.exp(-0.2 * math.sqrt(np.sum(x**2) / d)) - math.exp(np.sum(np.cos(2 * math.pi * x)) / d) + 20 + math.e
    )


def _rosenbrock(p: Mapping[str, Any]) -> float:
    x = np.array([p[f"x{i}"] for i in range(4)])
    return float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))


def _mixed(p: Mapping[str, Any]) -> float:
    # A training-like response: log learning rate, power-of-two batch, depth, and an optimiser choice.
    lr = math.log10(p["lr"])
    loss = (lr + 2.5) ** 2 / 2 + 0.15 * (math.log2(p["batch"]) - 7) ** 2 + 0.08 * (p["layers"] - 4) ** 2
    loss += {"adam": 0.0, "sgd": 0.6, "rmsprop": 0.3, "adagrad": 1.0}[p["optimizer"]]
    loss += 0.5 * (p["dropout"] - 0.25) ** 2 + 0.2 * math.sin(3 * lr) ** 2
    return float(loss)


@cache
def _data(name: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets

    loaders = {
        "breast_cancer": datasets.load_breast_cancer,
        "wine": datasets.load_wine,
        "diabetes": datasets.load_diabetes,
        "digits": datasets.load_digits,
    }
    x, y = loaders[name](return_X_y=True)
    return np.asarray(x), np.asarray(y)


def _cv_loss(model: Any, dataset: str, scoring: str) -> float:
    from sklearn.model_selection import KFold, cross_val_score

    x, y = _data(dataset)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = cross_val_score(model, x, y, cv=KFold(3, shuffle=True, random_state=0), scoring=scoring)
    return float(-np.mean(scores))


def _svm_cancer(p: Mapping[str, Any]) -> float:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    model = make_pipeline(StandardScaler(), SVC(C=p["C"], gamma=p["gamma"]))
    return _cv_loss(model, "breast_cancer", "accuracy") + 1.0  # 1 - accuracy


def _rf_wine(p: Mapping[str, Any]) -> float:
    from sklearn.ensemble import RandomForestClassifier

    model = RandomForestClassifier(
        n_estimators=p["n_estimators"],
        max_depth=p["max_depth"],
        min_samples_leaf=p["min_samples_leaf"],
        max_features=p["max_features"],
        criterion=p["criterion"],
        random_state=0,
        n_jobs=1,
    )
    return _cv_loss(model, "wine", "neg_log_loss")


def _hgb_diabetes(p: Mapping[str, Any]) -> float:
    from sklearn.ensemble import HistGradientBoostingRegressor

    model = HistGradientBoostingRegressor(
        learning_rate=p["learning_rate"],
        max_leaf_nodes=p["max_leaf_nodes"],
        min_samples_leaf=p["min_samples_leaf"],
        l2_regularization=p["l2_regularization"],
        max_iter=50,
        random_state=0,
    )
    return _cv_loss(model, "diabetes", "neg_root_mean_squared_error")


def _logreg_digits(p: Mapping[str, Any]) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(C=p["C"], tol=p["tol"], max_iter=60))
    return _cv_loss(model, "digits", "neg_log_loss")


def _tree_space() -> Space:
    # Integer-heavy, as trees are tuned in practice: three wide integer ranges, a fraction and a choice.
    return Space(
        {
            "max_depth": Int(1, 30),
            "min_samples_split": Int(2, 50),
            "min_samples_leaf": Int(1, 50),
            "max_features": Float(0.1, 1.0),
            "criterion": Choice(["a", "b"]),
        }
    )


def _tree_digits(p: Mapping[str, Any]) -> float:
    from sklearn.tree import DecisionTreeClassifier

    model = DecisionTreeClassifier(
        max_depth=p["max_depth"],
        min_samples_split=p["min_samples_split"],
        min_samples_leaf=p["min_samples_leaf"],
        max_features=p["max_features"],
        criterion="gini" if p["criterion"] == "a" else "entropy",
        random_state=0,
    )
    return _cv_loss(model, "digits", "accuracy") + 1.0  # 1 - accuracy


def _tree_diabetes(p: Mapping[str, Any]) -> float:
    from sklearn.tree import DecisionTreeRegressor

    model = DecisionTreeRegressor(
        max_depth=p["max_depth"],
        min_samples_split=p["min_samples_split"],
        min_samples_leaf=p["min_samples_leaf"],
        max_features=p["max_features"],
        criterion="squared_error" if p["criterion"] == "a" else "absolute_error",
        random_state=0,
    )
    return _cv_loss(model, "diabetes", "neg_root_mean_squared_error")


def _problems() -> dict[str, Problem]:
    return {
        "branin": Problem(
            "branin", Space({"x1": Float(-5.0, 10.0), "x2": Float(0.0, 15.0)}), _branin, optimum=0.397887
        ),
        "hartmann6": Problem(
            "hartmann6", Space({f"x{i}": Float(0.0, 1.0) for i in range(6)}), _hartmann6, optimum=-3.32237
        ),
        "ackley5": Problem("ackley5", Space({f"x{i}": Float(-32.768, 32.768) for i in range(5)}), _ackley, optimum=0.0),
        "rosenbrock4": Problem(
            "rosenbrock4", Space({f"x{i}": Float(-5.0, 10.0) for i in range(4)}), _rosenbrock, optimum=0.0
        ),
        "mixed": Problem(
            "mixed",
            Space(
                {
                    "lr": Float(1e-5, 1e-1, log=True),
                    "batch": Int(16, 1024, base=2),
                    "layers": Int(1, 8),
                    "optimizer": Choice(["adam", "sgd", "rmsprop", "adagrad"]),
                    "dropout": Float(0.0, 0.6),
                }
            ),
            _mixed,
        ),
        "svm_cancer": Problem(
            "svm_cancer",
            Space({"C": Float(1e-3, 1e3, log=True), "gamma": Float(1e-5, 1.0, log=True)}),
            _svm_cancer,
            kind="sklearn",
        ),
        "rf_wine": Problem(
            "rf_wine",
            Space(
                {
                    "n_estimators": Int(5, 60),
                    "max_depth": Int(1, 12),
                    "min_samples_leaf": Int(1, 10),
                    "max_features": Float(0.1, 1.0),
                    "criterion": Choice(["gini", "entropy"]),
                }
            ),
            _rf_wine,
            kind="sklearn",
        ),
        "hgb_diabetes": Problem(
            "hgb_diabetes",
            Space(
                {
                    "learning_rate": Float(1e-3, 0.5, log=True),
                    "max_leaf_nodes": Int(4, 64, log=True),
                    "min_samples_leaf": Int(2, 60, log=True),
                    "l2_regularization": Float(1e-4, 10.0, log=True),
                }
            ),
            _hgb_diabetes,
            kind="sklearn",
        ),
        "logreg_digits": Problem(
            "logreg_digits",
            Space({"C": Float(1e-4, 1e2, log=True), "tol": Float(1e-5, 1e-1, log=True)}),
            _logreg_digits,
            kind="sklearn",
        ),
        "tree_digits": Problem("tree_digits", _tree_space(), _tree_digits, kind="sklearn"),
        "tree_diabetes": Problem("tree_diabetes", _tree_space(), _tree_diabetes, kind="sklearn"),
    }


PROBLEMS: dict[str, Problem] = _problems()


def get_problems(names: list[str] | None = None) -> list[Problem]:
    """The named problems (all by default); raises `KeyError` naming the known ones."""
    if not names:
        return list(PROBLEMS.values())
    unknown = [n for n in names if n not in PROBLEMS]
    if unknown:
        raise KeyError(f"unknown problems {unknown}: choose from {sorted(PROBLEMS)}")
    return [PROBLEMS[n] for n in names]
