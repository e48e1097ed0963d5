"""How much a search could still gain, by a Gaussian process: the regret bound of Makarova et al. (2022).

A GP is fitted to the best trials' losses (minimised: ``metric.sign() * value``), standardised but not warped,
so the bound comes out in the metric's own units. With the confidence width ``beta`` of GP-UCB (Srinivas et
al., 2010, scaled down by five as both papers do in practice), the true loss of the best trial found so far is
at most ``min(UCB)`` over the trials, and no configuration in the space does better than ``min(LCB)`` over the
space; their difference bounds what the rest of the search can still find (`RegretBound.bound`). When it is
below the noise of measuring one configuration, more trials cannot tell a better one from the best found
(`tunesmith.study._convergence`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from tunesmith.samplers._gp_model import GPModel, fit_hyper
from tunesmith.samplers._gp_search import DiscreteAxes, local_search
from tunesmith.samplers._history import categorical_dims
from tunesmith.samplers.gp import GP, _Acquisition
from tunesmith.space import Space

__all__ = ["MIN_FITTED", "RegretBound", "fitted_rows", "regret_bound"]

# The GP is fitted on the better half of the trials, and on at least this many of them (Makarova et al. and
# Optuna's terminator alike): the bound is about the region of the best, and the worst trials, far from it,
# would set the model's scale.
MIN_FITTED = 20
_MAX_FITTED = 128  # the marginal likelihood costs O(n^3): a bound at trial 1,000 fits on its best 128
_POOL = 2048  # random points the lower bound over the space is searched from, before local searches
_STARTS = 8
_DELTA = 0.1  # the bound holds with probability 1 - delta under the model


@dataclass(frozen=True)
class RegretBound:
    """What `regret_bound` found, in the metric's units.

    Attributes:
        bound: at most this much better than the best trial's true value is left to find in the space.
        best_upper: the best trial's true loss is at most this (the smallest UCB over the fitted trials).
        space_lower: no configuration's true loss is below this (the smallest LCB over the space).
        fitted: how many trials the GP was fitted on (`fitted_rows`).
        beta: the squared width of the confidence bounds, in the model's standard deviations.
    """

    bound: float
    best_upper: float
    space_lower: float
    fitted: int
    beta: float


def _beta(dimensions: int, n: int) -> float:
    """GP-UCB's ``2 log(d n^2 pi^2 / (6 delta))`` over five (Srinivas et al.'s experiments; Makarova et al.)."""
    return 2.0 * math.log(max(1, dimensions) * n**2 * math.pi**2 / (6.0 * _DELTA)) / 5.0


def fitted_rows(loss: np.ndarray) -> np.ndarray:
    """The rows of ``loss`` the model is fitted on, best first: the better half, at least `MIN_FITTED` and at most
    `_MAX_FITTED` rows; when the better half ties (a count of right answers often does), the best `_MAX_FITTED` of
    all rows, since values that do not vary cannot scale a model."""
    n = len(loss)
    order = np.argsort(loss, kind="stable")
    rows = order[: min(n, max(MIN_FITTED, n // 2), _MAX_FITTED)]
    if float(np.ptp(loss[rows])) == 0.0:
        rows = order[: min(n, _MAX_FITTED)]
    return rows


def regret_bound(space: Space, points: np.ndarray, loss: np.ndarray, seed: int = 0) -> RegretBound:
    """The regret bound of the trials at encoded ``points`` (``NaN`` where inactive) with losses ``loss``.

    Args:
        space: the study's space (which dimensions are categorical, which discrete).
        points: encoded configurations, one row per trial, shape ``(n, d)``; ``n >= 2``.
        loss: each row's loss, lower better, finite.
        seed: seeds the random pool the space is searched from, so the same trials give the same bound.
    """
    fitted = fitted_rows(loss)
    x = np.where(np.isnan(points[fitted]), 0.5, points[fitted])
    y_raw = loss[fitted]
    scale = float(np.std(y_raw))
    centre = float(np.mean(y_raw))
    best = float(y_raw[0])
    if scale <= 0.0 or not math.isfinite(scale):
        return RegretBound(0.0, best, best, len(fitted), 0.0)
    y = (y_raw - centre) / scale
    cat, sizes = categorical_dims(space)
    cont = ~cat
    codes = GP._codes(x, cat, sizes)
    beta = _beta(x.shape[1], len(fitted))
    with threadpool_limits(1, user_api="blas"):
        hyper = fit_hyper(x[:, cont], codes, y)
        model = GPModel(x[:, cont], codes, y, hyper)
        # The best trial's true loss is at most the least upper bound over the fitted trials.
        mu, var, _, _ = model.predict(x[:, cont], codes)
        best_upper = float(np.min(mu + math.sqrt(beta) * np.sqrt(var)))
        lower = _Acquisition(model, 0.0, "ucb", beta, None, cont, sizes)  # -LCB: maximised where LCB is least
        rng = np.random.default_rng(seed)
        axes = DiscreteAxes.of(space)
        pool = axes.snap(np.vstack([rng.random((_POOL, x.shape[1])), x]))
        values, _ = lower(pool)
        starts = pool[np.argsort(-values, kind="stable")[:_STARTS]]
        searched, _ = lower(local_search(lower, starts, axes))
        space_lower = -float(max(np.max(values), np.max(searched)))
    bound = max(0.0, best_upper - space_lower) * scale
    return RegretBound(bound=bound, best_upper=centre + best_upper * scale, space_lower=centre + space_lower * scale,
                       fitted=len(fitted), beta=beta)  # fmt: skip
