"""Ranking trials at a rung by a prediction of their final value, learned from trials trained to the end.

A value after a few steps is a biased forecast of the final one: a high learning rate converges fast
and ends worse, a slow starter ends best. Ranked by the raw value at a rung, successive halving stops
the slow starters, and a model-based sampler fitted on what survived learns the same bias. Every trial
trained to the end shows how its value at the rung relates to its final one, so once enough have,
`predicted_finals` fits a ridge regression of the final loss on the loss at the rung and the
hyperparameters, and the rung ranks every trial by its prediction instead.

The model is used only when it earns it: with at least two rows per coefficient, and when its
leave-one-out predictions rank the trials trained to the end (Spearman) better than their raw values
at the rung do, by more than chance gives at `LEVEL` (one-sided). Chance is what the gain reaches when
the parameters say nothing of the final value beyond the rung value: each trained trial keeps its rung
and final value, and the parameter rows are dealt among them in `PERMUTATIONS` fixed orders (a
permutation test; exact when the parameters are independent of both values, and within its level,
1.5% to 4.3% of rungs, in simulations where they set the rung value). A fixed margin of 0.05 Spearman
used to stand in for the test: with 6 trained trials and an irrelevant parameter, noise made the margin
at about 11% of rungs (below), and the model then reordered about 2 of the 6 trials promoted.

Measured on 2000 rungs each (`tests/test_final_model_gate.py` builds the same ones): 6, 20 or 60 trials
trained to the end and 14 stopped at the rung, the rung value uniform on [0.2, 0.6], one parameter x
uniform on [0, 1], final = rung value - 0.1 + shift * (x - 0.5) + noise of sd 0.1; the share of rungs
where the model engaged at 6 / 20 / 60 trained trials, with the margin, then with the test:

- shift 0 (x irrelevant, the null): 11.3% / 2.0% / 0.0%, then 3.2% / 4.2% / 2.9%;
- shift 0.4 (the model truly helps): 46% / 91% / 100%, then 25% / 95% / 100%;
- shift 0.1 (it helps a little): 15% / 8% / 4%, then 5% / 16% / 42%: a small gain that many trials
  establish now counts, and one that six trials cannot tell from noise does not.

A rung decision that runs the test takes about 0.9 / 1.2 / 1.9 ms at 6 / 20 / 60 trained trials (the
margin: 0.5 / 0.5 / 0.6 ms); a gain of zero or less skips it. Otherwise (few trials, or a rung that
already ranks well) the raw value decides, as before. Everything is a function of the history (the
permutations are drawn from a fixed seed, over the trained trials in a canonical order), so every
worker and a resumed study reach the same decisions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from tunesmith.fidelity import value_at
from tunesmith.trial import TrialRecord

__all__ = ["LEVEL", "PERMUTATIONS", "predicted_finals"]

LEVEL = 0.05  # one-sided: how often the model may engage on a gain that chance alone made
PERMUTATIONS = 199  # dealings of the parameter rows; with the observed one, LEVEL * 200 = 10 may reach its gain
SEED = 0  # the permutations are drawn once from it, so a decision is reproducible
RIDGE = 1e-3  # per row, on standardised features: keeps the fit defined when features are collinear
LOG_SPAN = 100.0  # a positive parameter spanning this ratio, drawn on a log scale, is read on one (a learning rate)


def predicted_finals(scored: Sequence[tuple[float, TrialRecord]], metric: str, sign: float,
                     full: float) -> list[float] | None:  # fmt: skip
    """Each trial's predicted final loss, in the order of ``scored`` (``(loss at the rung, record)``
    pairs), or ``None`` when the model has too few trials trained to ``full`` or does not rank them
    better than the rung does by more than chance (see the module's docstring)."""
    finals = [value_at(record, metric, full) for _, record in scored]
    known = np.array([f is not None for f in finals], dtype=bool)
    if known.sum() < 4:  # two rows per coefficient even with no parameter: the intercept and the rung loss
        return None
    features = _features([record for _, record in scored])
    rows = np.column_stack([np.array([loss for loss, _ in scored], dtype=float), features])
    if known.sum() < 2 * (rows.shape[1] + 1):
        return None
    x, y = rows[known], sign * np.array([f for f in finals if f is not None], dtype=float)
    # A canonical order, so the permutations deal the same rows whatever the order of ``scored``.
    order = np.lexsort(np.column_stack([x, y]).T)
    x, y = x[order], y[order]
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0

    def design(z: np.ndarray) -> np.ndarray:
        return np.column_stack([np.ones(len(z)), (z - mean) / scale])

    a = design(x)
    loo, weights = _ridge_loo(a[np.newaxis], y)
    raw = _rank_correlation(x[:, 0], y)
    gain = float(_rank_correlations(loo, y)[0]) - raw
    if gain <= 0 or _chance_of_gain(a, y, raw, gain) > LEVEL:
        return None
    return [float(v) for v in design(rows) @ weights[0]]


def _ridge_loo(designs: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The leave-one-out predictions of ``y`` and the weights of a ridge fit on each of ``designs`` (shape: designs,
    rows, columns; the first column the intercept, which is not shrunk)."""
    penalty = RIDGE * len(y) * np.eye(designs.shape[2])
    penalty[0, 0] = 0.0
    transposed = designs.transpose(0, 2, 1)
    inverse = np.linalg.inv(transposed @ designs + penalty)
    weights = (inverse @ (transposed @ y)[..., np.newaxis])[..., 0]
    fitted = (designs @ weights[..., np.newaxis])[..., 0]
    leverage = np.sum((designs @ inverse) * designs, axis=2)
    return y - (y - fitted) / np.maximum(1.0 - leverage, 1e-9), weights


def _chance_of_gain(a: np.ndarray, y: np.ndarray, raw: float, gain: float) -> float:
    """The one-sided p-value of ``gain``, the model's leave-one-out rank correlation with ``y`` less the rung value's
    (``raw``), under the hypothesis that the parameters say nothing of the final value beyond the rung value.

    The hypothesis makes the parameter rows of the design ``a`` (its columns after the intercept and the rung value)
    exchangeable among the trained trials, each trial keeping its rung and final value: the gain is recomputed with
    the rows dealt in `PERMUTATIONS` orders drawn from `SEED`, and the p-value counts the observed order among them.
    """
    orders = np.argsort(np.random.default_rng(SEED).random((PERMUTATIONS, len(y))), axis=1)
    designs = np.repeat(a[np.newaxis], PERMUTATIONS, axis=0)
    designs[:, :, 2:] = a[orders, 2:]
    loo, _ = _ridge_loo(designs, y)
    # Rank correlations tie often, and a batch of another size may round the same value differently: a tie counts.
    reached = int(np.sum(_rank_correlations(loo, y) - raw >= gain - 1e-9))
    return (1 + reached) / (1 + PERMUTATIONS)


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


def _rank_correlations(predictions: np.ndarray, y: np.ndarray) -> np.ndarray:
    """`_rank_correlation` of each row of ``predictions`` with ``y``."""
    from scipy.stats import rankdata

    ranks = rankdata(predictions, axis=1)
    ranks -= ranks.mean(axis=1, keepdims=True)
    target = rankdata(y) - (len(y) + 1) / 2
    spread = np.sqrt(np.sum(ranks**2, axis=1) * np.sum(target**2))
    return np.divide(ranks @ target, spread, out=np.zeros(len(ranks)), where=spread > 0)
