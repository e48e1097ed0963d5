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
worker and a resumed study reach the same decisions. The features (`_Features`: which parameters, log scales, the
choices' values, the fill of a missing value) are learned from the trained trials alone, so a model is a function of
them, and it is memoised by them (`_model`): every rung decision, and every sampler's look at the history
(`tunesmith.fidelity.rung_view`, which sees a stopped trial at its prediction), asks again while they stay the same.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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
    trained = []
    for loss, record in scored:
        final = value_at(record, metric, full)
        if final is not None:
            trained.append((loss, sign * final, record))
    if len(trained) < 4:  # two rows per coefficient even with no parameter: the intercept and the rung loss
        return None
    model = _model(trained)
    if model is None:
        return None
    return [float(v) for v in model.predict([loss for loss, _ in scored], [record for _, record in scored])]


@dataclass(frozen=True, eq=False)
class _Model:
    """A ridge fit of the final loss on the loss at the rung and the parameters (`_Features`), standardised by the
    trained trials' mean and spread, that passed the permutation test."""

    features: _Features
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray

    def predict(self, losses: Sequence[float], records: Sequence[TrialRecord]) -> np.ndarray:
        rows = np.column_stack([np.asarray(losses, dtype=float), self.features.of(records)])
        return np.column_stack([np.ones(len(rows)), (rows - self.mean) / self.scale]) @ self.weights


# The models fitted lately, by what they were fitted on: every rung decision, and every sampler's look at the
# history (`tunesmith.fidelity.rung_view`), asks again while the trained trials stay the same. A model is a
# function of them alone, so a hit returns what a fit would.
_MODELS: dict[tuple[Any, ...], _Model | None] = {}
_MODELS_HELD = 256
_MODELS_LOCK = threading.Lock()


def _model(trained: Sequence[tuple[float, float, TrialRecord]]) -> _Model | None:
    """The model fitted on ``trained`` (``(loss at the rung, final loss, record)``), or ``None`` when there are
    too few of them for its coefficients or it does not earn its use (`_fit`); memoised."""
    key = tuple(sorted((loss, final, tuple(sorted((k, repr(v)) for k, v in record.params.items())))
                       for loss, final, record in trained))  # fmt: skip
    with _MODELS_LOCK:
        if key in _MODELS:
            return _MODELS[key]
    model = _fit(trained)
    with _MODELS_LOCK:
        if len(_MODELS) >= _MODELS_HELD:
            _MODELS.clear()
        _MODELS[key] = model
    return model


def _fit(trained: Sequence[tuple[float, float, TrialRecord]]) -> _Model | None:
    features = _Features.learn([record for _, _, record in trained])
    rows = np.column_stack([np.array([loss for loss, _, _ in trained], dtype=float),
                            features.of([record for _, _, record in trained])])  # fmt: skip
    if len(rows) < 2 * (rows.shape[1] + 1):
        return None
    y = np.array([final for _, final, _ in trained], dtype=float)
    # A canonical order, so the permutations deal the same rows whatever the order of ``trained``.
    order = np.lexsort(np.column_stack([rows, y]).T)
    x, y = rows[order], y[order]
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    a = np.column_stack([np.ones(len(x)), (x - mean) / scale])
    loo, weights = _ridge_loo(a[np.newaxis], y)
    raw = _rank_correlation(x[:, 0], y)
    gain = float(_rank_correlations(loo, y)[0]) - raw
    if gain <= 0 or _chance_of_gain(a, y, raw, gain) > LEVEL:
        return None
    return _Model(features, mean, scale, weights[0])


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


@dataclass(frozen=True)
class _Column:
    """One parameter's share of the features: a number (read on a log scale or not, a missing value filled in) or
    a choice's values after its first (their repr) one-hot, and with ``indicator`` a column marking it missing."""

    name: str
    log: bool = False
    fill: float = 0.0
    levels: tuple[str, ...] | None = None  # a choice's; None for a number
    indicator: bool = False

    def columns(self, records: Sequence[TrialRecord]) -> list[np.ndarray]:
        values = [r.params.get(self.name) for r in records]
        if self.levels is None:
            column = np.array([_number(v) for v in values])
            if self.log:
                with np.errstate(divide="ignore", invalid="ignore"):
                    column = np.log(column)
            out = [np.where(np.isfinite(column), column, self.fill)]
        else:
            shown = [None if v is None else repr(v) for v in values]
            out = [np.array([float(v == level) for v in shown]) for level in self.levels]
        if self.indicator:
            out.append(np.array([float(v is None) for v in values]))
        return out


@dataclass(frozen=True)
class _Features:
    """How a trial's parameters become the model's features, learned from the trained trials, parameter by
    parameter in name order: numbers (on a log scale when drawn on one, see `_log_scaled`), choices one-hot against
    their first value; a missing value (a conditional parameter) is the trained trials' mean, plus an indicator
    column. A trial with a value the trained trials never had (another choice) reads as the first; a name they never
    had is not read."""

    parameters: tuple[_Column, ...]

    @classmethod
    def learn(cls, records: Sequence[TrialRecord]) -> _Features:
        parameters: list[_Column] = []
        for key in sorted({k for r in records for k in r.params}):
            values = [r.params.get(key) for r in records]
            present = [v for v in values if v is not None]
            missing = len(present) < len(values)
            if all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
                column = np.array([float(v) for v in present])
                finite = column[np.isfinite(column)]
                log = _log_scaled(finite)
                read = np.log(finite) if log else finite
                fill = float(read.mean()) if len(read) else 0.0
                parameters.append(_Column(key, log=log, fill=fill, indicator=missing))
            else:
                levels = tuple(sorted({repr(v) for v in present})[1:])  # the first value is the baseline
                parameters.append(_Column(key, levels=levels, indicator=missing))
        return cls(tuple(parameters))

    def of(self, records: Sequence[TrialRecord]) -> np.ndarray:
        """The feature rows of ``records``, one per record."""
        columns = [column for parameter in self.parameters for column in parameter.columns(records)]
        return np.column_stack(columns) if columns else np.empty((len(records), 0))


def _number(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return math.nan


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
