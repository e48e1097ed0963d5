"""Nested cross-validation for any objective: a PyTorch net, an XGBoost booster, anything trained on rows.

`nested_cv` tunes a scikit-learn estimator; this is the same procedure for a training function. The outer loop
holds out each fold of the rows in turn; a whole study tunes ``objective(trial, train)`` on the outer training
rows only (the objective validates inside them, on an inner split or inner folds of its own), and
``evaluate(params, seed, train, test)`` trains the study's winner on those rows and scores it once on the held-out
fold. The mean of the outer scores estimates the whole procedure, tuning included.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunesmith._stable_name import callable_with
from tunesmith.attributes import NestedFoldAttr, write_attr
from tunesmith.budget import Budget
from tunesmith.discipline.nested_cv import NestedCVResult, _check_groups, _fold_study_names, _group_folds
from tunesmith.errors import ConfigError
from tunesmith.objective import Metric
from tunesmith.space import Param, Space
from tunesmith.study import ObjectiveError, Study
from tunesmith.trial import Trial

__all__ = ["nested_cv_objective"]

_DEFAULT_TRIALS = 20  # trials each fold's study runs when neither n_trials nor budget is given
# Study.optimize's own options: the rest of **options goes to each fold's Study.
_OPTIMIZE_OPTIONS = frozenset({"workers", "executor", "timeout", "callbacks", "memory_limit", "trial_timeout",
                               "fail_fast", "progress"})  # fmt: skip

FoldObjective = Callable[[Trial, np.ndarray], Any]
FoldEvaluate = Callable[[dict[str, Any], int, np.ndarray, np.ndarray], Any]


@dataclass(frozen=True)
class _OnRows:
    """``objective(trial, train)`` as the one-argument objective a study calls: picklable when ``objective`` is, so
    process workers run it too."""

    objective: FoldObjective
    train: np.ndarray

    def __call__(self, trial: Trial) -> Any:
        return self.objective(trial, self.train)


def nested_cv_objective(
    objective: FoldObjective,
    evaluate: FoldEvaluate,
    space: Space | Mapping[str, Param] | None = None,
    *,
    rows: int,
    metric: Metric | str,
    y: Any = None,
    groups: Any = None,
    outer: Any = 5,
    n_trials: int | None = None,
    seed: int | None = 0,
    storage: Any = "memory",
    study_name: str | None = None,
    **options: Any,
) -> NestedCVResult:
    """Estimate a tuned training procedure's score with nested cross-validation.

    Example:
        >>> def objective(trial, train):            # tunes on the outer training rows only
        ...     inner_train, val = train[: len(train) * 3 // 4], train[len(train) * 3 // 4:]
        ...     return fit_and_score(trial.params, trial.seed, inner_train, val)
        >>> def evaluate(params, seed, train, test):  # the winner, trained on them all, scored on the outer fold
        ...     return fit_and_score(params, seed, train, test)
        >>> result = nested_cv_objective(objective, evaluate, space, rows=len(X), metric="val_loss")  # doctest: +SKIP

    Args:
        objective: ``objective(trial, train) -> float | dict``: a study's objective given the outer training rows
            (an array of row indices); it validates on rows it splits from ``train`` (an inner holdout, or inner
            folds), never on others.
        evaluate: ``evaluate(params, seed, train, test) -> float | dict``: trains the configuration ``params`` on
            the outer training rows with ``seed`` (the winning trial's) and returns the metric on the outer test
            rows, a float or a dict holding it under the metric's name.
        space: the search space, or ``None`` when the objective asks for its parameters (define-by-run).
        rows: how many rows the data has; the folds are arrays of indices into them.
        metric: the metric the studies optimise and ``evaluate`` returns (``"loss"``: minimised, or a `Metric`).
        y: labels of the rows, to stratify the outer folds of a classification task (a fold count only).
        groups: the group of each row (a patient, a user); a fold count then makes group folds, so no group is on
            both sides of an outer split. Inner splits are the objective's: keep groups whole there too.
        outer: outer folds: a count (``KFold``, ``StratifiedKFold`` with class labels ``y``, group folds with
            ``groups``; none shuffles: pass ``KFold(5, shuffle=True, random_state=0)`` for rows in an order) or a
            scikit-learn splitter.
        n_trials: trials each fold's study runs (default 20); or ``budget=ts.Budget(...)`` among ``options``.
        seed: seeds every fold's study (fold k gets its own derived seed); ``None`` for fresh seeds.
        storage: where the fold studies are stored (default ``"memory"``).
        study_name: fold k tunes in the study ``"<study_name>-outer<k>"`` (from 1), or
            ``"nested-cv-<8 random hex digits>-outer<k>"`` without one; a stored fold is never resumed.
        **options: `Study.optimize`'s options (``workers``, ``executor``, ``fail_fast``, ...) and the rest
            `Study`'s (``sampler``, ``scheduler``, ``budget``, ``guardrails``, ...).

    Returns:
        `NestedCVResult` in the metric's own direction: ``optimism`` is positive when the inner best flatters.

    Raises:
        ConfigError: an objective or ``evaluate`` that cannot take its arguments, ``rows`` not a positive count,
            ``y`` or ``groups`` without one value per row, splitters and groups that do not match, several
            objectives, ``n_trials`` beside a ``budget``, or a fold's study name ``storage`` already holds;
            raised before any trial.
        ObjectiveError: a fold's study ended without a completed trial, or ``evaluate`` returned no finite value of
            the metric. What ``objective`` or ``evaluate`` raise propagates, with a note naming the fold.
    """
    from sklearn.model_selection import check_cv
    from sklearn.utils.multiclass import type_of_target

    count = _rows_count(rows)
    callable_with(objective, "objective", "objective(trial, train)", 2)
    callable_with(evaluate, "evaluate", "evaluate(params, seed, train, test)", 4)
    chosen = metric if isinstance(metric, Metric) else Metric(metric) if isinstance(metric, str) else None
    if chosen is None:
        raise ConfigError(f"metric must be a name or a ts.Metric, got {metric!r}: pass e.g. metric='val_loss'")
    for name, labels in (("y", y), ("groups", groups)):
        if labels is not None and len(labels) != count:
            raise ConfigError(
                f"{name} must hold one value per row, got {len(labels)} for rows={count}: pass the {name} of each "
                "row, in the order of the row indices the folds hold"
            )
    budget = _fold_budget(n_trials, options)
    if "metrics" in options:
        raise ConfigError(
            "nested_cv_objective scores each fold's winner on one metric, got metrics=: pass metric= (run it once "
            "per metric to estimate several)"
        )
    optimize = {key: options.pop(key) for key in list(options) if key in _OPTIMIZE_OPTIONS}
    classes = y is not None and type_of_target(y) in ("binary", "multiclass")
    splitter = check_cv(_group_folds(outer, y, classes, groups), y, classifier=classes)
    _check_groups(np.empty((count, 0)), groups, outer=splitter, inner=None)
    searched = space if space is None or isinstance(space, Space) else Space(dict(space))
    placeholder = np.zeros((count, 1))
    names = _fold_study_names(study_name, storage, splitter.get_n_splits(placeholder, y, groups))
    outer_scores, inner_scores, params = [], [], []
    for fold, (train, test) in enumerate(splitter.split(placeholder, y, groups)):
        fold_seed = None if seed is None else int(np.random.SeedSequence([seed, fold]).generate_state(1)[0])
        study = Study(searched, metric=chosen, budget=budget, storage=storage, name=names[fold], seed=fold_seed,
                      **options)  # fmt: skip
        try:
            study.optimize(_OnRows(objective, np.asarray(train)), **optimize)
        except BaseException as exc:
            exc.add_note(f"nested_cv_objective: raised by outer fold {fold + 1}'s search (study {names[fold]!r})")
            raise
        best = study.best
        inner = None if best is None else best.value(chosen.name)
        if best is None or inner is None:
            raise ObjectiveError(
                f"outer fold {fold + 1}'s study {names[fold]!r} ended with no completed trial, so it has no "
                f"winner to score on the fold: see why with tunesmith trials {names[fold]} --failed (with a "
                "storage= that keeps it), fix the objective or raise the trial budget",
                None,
            )
        try:
            result = evaluate(dict(best.params), best.seed, np.asarray(train), np.asarray(test))
        except BaseException as exc:
            exc.add_note(f"nested_cv_objective: raised by evaluate on outer fold {fold + 1} (trial #{best.number}'s "
                         f"parameters {dict(best.params)})")  # fmt: skip
            raise
        outer_scores.append(_score(result, chosen, fold + 1))
        inner_scores.append(float(inner))
        params.append(dict(best.params))
        write_attr(study, NestedFoldAttr(fold=fold + 1, folds=len(names), outer_score=outer_scores[-1],
                                         inner_best=inner_scores[-1], metric=chosen.name,
                                         maximize=chosen.direction == "max", trial=best.number, train_rows=len(train),
                                         test_rows=len(test), at=time.time()))  # fmt: skip
    return NestedCVResult(tuple(outer_scores), tuple(inner_scores), tuple(params), tuple(names),
                          maximize=chosen.direction == "max", metric=chosen.name)  # fmt: skip


def _rows_count(rows: Any) -> int:
    if isinstance(rows, bool) or not isinstance(rows, numbers.Integral) or rows < 2:
        raise ConfigError(
            f"rows must be the number of rows in the data (an int of at least 2), got rows={rows!r}: pass "
            "rows=len(X); the folds are arrays of indices into them"
        )
    return int(rows)


def _fold_budget(n_trials: int | None, options: dict[str, Any]) -> Budget:
    budget = options.pop("budget", None)
    if budget is not None and n_trials is not None:
        raise ConfigError(
            f"pass either n_trials or budget, got n_trials={n_trials!r} and budget={budget!r}: each fold's study "
            "spends one of them"
        )
    if budget is not None:
        return budget
    if isinstance(n_trials, bool) or not isinstance(n_trials, numbers.Integral | None) or (n_trials or 1) < 1:
        raise ConfigError(f"n_trials must be a positive int, got n_trials={n_trials!r}: pass e.g. n_trials=20")
    return Budget(trials=_DEFAULT_TRIALS if n_trials is None else int(n_trials))


def _score(result: Any, metric: Metric, fold: int) -> float:
    """The metric's value in what ``evaluate`` returned on outer fold ``fold``."""
    value = result.get(metric.name) if isinstance(result, Mapping) else result
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value)):
        return float(value)
    given = f"{sorted(result)} without {metric.name!r}" if isinstance(result, Mapping) and metric.name not in result \
        else repr(value)  # fmt: skip
    raise ObjectiveError(
        f"evaluate must return a finite {metric.name} (a number, or a dict holding it), got {given} on outer fold "
        f"{fold}: return the winner's {metric.name} on the fold's test rows",
        None,
    )
