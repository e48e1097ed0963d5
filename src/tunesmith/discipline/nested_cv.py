"""Nested cross-validation for scikit-learn estimators: an unbiased estimate of a tuned model's score.

An outer K-fold loop holds out each fold in turn; a full tuning run (`TunesmithSearchCV`, with
its own inner cross-validation) sees only the outer training folds, and its refitted winner
is scored once on the held-out fold. The mean of the outer scores estimates how the whole
procedure -- tuning included -- generalises; the inner best scores show how optimistic the
tuning's own estimate is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from tunesmith.space import Param, Space

__all__ = ["NestedCVResult", "nested_cv"]


@dataclass(frozen=True)
class NestedCVResult:
    """What `nested_cv` found.

    Attributes:
        outer_scores: the tuned model's score on each outer test fold (the unbiased estimate).
        inner_best_scores: each tuning run's best cross-validated score (optimistic by selection).
        best_params: each outer fold's chosen configuration.
    """

    outer_scores: tuple[float, ...]
    inner_best_scores: tuple[float, ...]
    best_params: tuple[dict[str, Any], ...]

    @property
    def mean(self) -> float:
        return float(np.mean(self.outer_scores))

    @property
    def std(self) -> float:
        return float(np.std(self.outer_scores, ddof=1)) if len(self.outer_scores) > 1 else 0.0

    @property
    def optimism(self) -> float:
        """Mean inner best score minus mean outer score (scores are higher-is-better, as in scikit-learn)."""
        return float(np.mean(self.inner_best_scores)) - self.mean

    @property
    def optimism_stderr(self) -> float | None:
        """The standard error of `optimism`, from the folds' paired differences (inner best less outer score);
        ``None`` with one fold."""
        if len(self.outer_scores) < 2:
            return None
        differences = np.subtract(self.inner_best_scores, self.outer_scores)
        return float(np.std(differences, ddof=1) / np.sqrt(len(differences)))

    @property
    def optimistic(self) -> bool | None:
        """Whether the inner scores flatter beyond the folds' noise: a one-sided t-test of the folds' paired
        differences at 5% (k - 1 degrees of freedom for k folds); ``None`` with one fold or no spread."""
        error = self.optimism_stderr
        if error is None or error == 0.0:
            return None if error is None or self.optimism <= 0.0 else True
        return bool(self.optimism > float(stats.t.ppf(0.95, len(self.outer_scores) - 1)) * error)

    def summary(self) -> str:
        error = self.optimism_stderr
        if error is None:
            sure = "one fold: its noise is unknown"
        elif self.optimistic:
            sure = f"+- {error:.4f}, a standard error over the folds; beyond their noise (one-sided t-test, 5%)"
        else:
            sure = (f"+- {error:.4f}, a standard error over the folds: within the noise (one-sided t-test, 5%), "
                    "so the folds cannot tell whether the inner scores flatter; more outer folds would")  # fmt: skip
        return (
            f"nested CV over {len(self.outer_scores)} outer folds: {self.mean:.4f} +- {self.std:.4f} "
            f"(the inner tuning reported {np.mean(self.inner_best_scores):.4f}: optimistic by {self.optimism:+.4f} "
            f"{sure})"
        )


def nested_cv(
    estimator: Any,
    space: Space | Mapping[str, Param],
    X: Any,
    y: Any = None,
    *,
    outer: Any = 5,
    inner: Any = 3,
    n_trials: int = 20,
    scoring: Any = None,
    random_state: int | None = 0,
    n_jobs: int | None = None,
    **search_options: Any,
) -> NestedCVResult:
    """Estimate a tuned estimator's score with nested cross-validation.

    Args:
        estimator: the scikit-learn estimator to tune.
        space: its search space.
        X, y: the data.
        outer: outer folds (an int or a scikit-learn splitter; stratified for classifiers).
        inner: inner folds for each tuning run (as ``cv`` of `TunesmithSearchCV`).
        n_trials: configurations each tuning run evaluates.
        scoring: a scikit-learn scoring (default: the estimator's ``score``).
        random_state: seeds every tuning run (each outer fold gets its own derived seed).
        n_jobs: parallel fits inside each tuning run.
        **search_options: passed to `TunesmithSearchCV` (``sampler``, ``scheduler``, ``resource``, ...).
    """
    from sklearn.base import is_classifier
    from sklearn.metrics import check_scoring
    from sklearn.model_selection import check_cv

    from tunesmith.integrations.sklearn import TunesmithSearchCV

    splitter = check_cv(outer, y, classifier=is_classifier(estimator))
    outer_scores, inner_scores, chosen = [], [], []
    for fold, (train, test) in enumerate(splitter.split(X, y)):
        seed = None if random_state is None else int(np.random.SeedSequence([random_state, fold]).generate_state(1)[0])
        search = TunesmithSearchCV(
            estimator,
            space,
            n_trials=n_trials,
            scoring=scoring,
            cv=inner,
            random_state=seed,
            n_jobs=n_jobs,
            refit=True,
            **search_options,
        )
        search.fit(_rows(X, train), None if y is None else _rows(y, train))
        scorer = check_scoring(search.best_estimator_, scoring)
        outer_scores.append(
            float(scorer(search.best_estimator_, _rows(X, test), None if y is None else _rows(y, test)))
        )
        inner_scores.append(float(search.best_score_))
        chosen.append(dict(search.best_params_))
    return NestedCVResult(tuple(outer_scores), tuple(inner_scores), tuple(chosen))


def _rows(data: Any, index: np.ndarray) -> Any:
    """Rows ``index`` of an array, a DataFrame or a list."""
    if hasattr(data, "iloc"):
        return data.iloc[index]
    if hasattr(data, "shape"):
        return data[index]
    return [data[i] for i in index]
