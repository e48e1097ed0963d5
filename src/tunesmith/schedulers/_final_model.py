"""Ranking trials at a rung by a prediction of their final value, learned from trials trained to the end.

A value after a few steps is a biased forecast of the final one: a high learning rate converges fast
and ends worse, a slow starter ends best. Ranked by the raw value at a rung, successive halving stops
the slow starters, and a model-based sampler fitted on what survived learns the same bias. Every trial
trained to the end shows how its value at the rung relates to its final one, so once enough have,
`predicted_finals` fits a ridge regression of the final loss on the loss at the rung and the
hyperparameters, and the rung ranks every trial by its prediction instead.

The model is used only when it earns it: with at least two rows per coefficient, and when its
leave-one-out predictions rank the trials trained to the end (Spearman) better than their raw values
at the rung do, by `MIN_GAIN`. Otherwise (few trials, or a rung that already ranks well) the raw value
decides, as before. Everything is a function of the history, so every worker and a resumed study
reach the same decisions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from tunesmith.fidelity import value_at
from tunesmith.trial import TrialRecord

__all__ = ["MIN_GAIN", "predicted_finals"]

MIN_GAIN = 0.05  # leave-one-out rank correlation the model must add over the raw value at the rung
RIDGE = 1e-3  # per row, on standardised features: keeps the fit defined when features are collinear
LOG_SPAN = 100.0  # a positive parameter spanning this ratio, drawn on a log scale, is read on one (a learning rate)


def predicted_finals(scored: Sequence[tuple[float, TrialRecord]], metric: str, sign: float,
                     full: float) -> list[float] | None:  # fmt: skip
    """Each trial's predicted final loss, in the order of ``scored`` (``(loss at the rung, record)``
    pairs), or ``None`` when the model has too few trials trained to ``full`` or does not rank them
    better than the rung does."""
    finals = [value_at(record, metric, full) for _, record in scored]
    known = np.array([f is not None for f in finals], dtype=bool)
    if known.sum() < 4:  # two rows per coefficient even with no parameter: the intercept and the rung loss
        return None
    features = _features([record for _, record in scored])
    rows = np.column_stack([np.array([loss for loss, _ in scored], dtype=float), features])
    if known.sum() < 2 * (rows.shape[1] + 1):
        return None
    x, y = rows[known], sign * np.array([f for f in finals if f is not None], dtype=float)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0

    def design(z: np.ndarray) -> np.ndarray:
        return np.column_stack([np.ones(len(z)), (z - mean) / scale])

    a = design(x)
    penalty = RIDGE * len(y) * np.eye(a.shape[1])
    penalty[0, 0] = 0.0  # the intercept is not shrunk
    inverse = np.linalg.inv(a.T @ a + penalty)
    weights = inverse @ a.T @ y
    leverage = np.einsum("ij,jk,ik->i", a, inverse, a)
    loo = y - (y - a @ weights) / np.maximum(1.0 - leverage, 1e-9)
    if _rank_correlation(loo, y) < _rank_correlation(x[:, 0], y) + MIN_GAIN:
        return None
    return [float(v) for v in design(rows) @ weights]


def _features(records: Sequence[TrialRecord]) -> np.ndarray:
    """Numeric parameters (log scale when drawn on one, see `_log_scaled`), choices one-hot; a missing value (a
    conditional parameter) is the column's mean, plus an indicator column."""
    columns: list[np.ndarray] = []
    for key in sorted({k for r in records for k in r.params}):
        values = [r.params.get(key) for r in records]
        present = [v for v in values if v is not None]
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in present)
        if numeric:
            column = np.array([math.nan if v is None else float(v) for v in values])
            finite = column[np.isfinite(column)]
            if _log_scaled(finite):
                column = np.log(column)
            fill = float(np.nanmean(column)) if np.isfinite(column).any() else 0.0
            columns.append(np.where(np.isfinite(column), column, fill))
        else:
            for level in sorted({repr(v) for v in present})[1:]:  # one value is the baseline
                columns.append(np.array([float(v is not None and repr(v) == level) for v in values]))
        if len(present) < len(values):
            columns.append(np.array([float(v is None) for v in values]))
    return np.column_stack(columns) if columns else np.empty((len(records), 0))


def _log_scaled(values: np.ndarray) -> bool:
    """Whether positive values spanning `LOG_SPAN` or more were drawn on a log scale: a quarter or more of
    them below the geometric middle of their range (a uniform draw puts few there)."""
    if not len(values) or values.min() <= 0 or values.max() < LOG_SPAN * values.min():
        return False
    middle = math.sqrt(float(values.min()) * float(values.max()))
    return bool(np.mean(values < middle) >= 0.25)


def _rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation, tied values sharing their average rank (0 when either side is constant).

    Error rates on a fixed validation set tie often; breaking ties by position would rank two tied trials
    in the same order on both sides and credit the raw rung value with agreement it does not have.
    """
    from scipy.stats import rankdata

    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(np.corrcoef(rankdata(a), rankdata(b))[0, 1])
