"""The GP sampler with several objectives: one GP per objective and expected hypervolume improvement.

Expected hypervolume improvement (EHVI) is computed exactly, in log space, with analytic gradients:
the region the current front does not dominate (bounded by a reference point) is cut into boxes,
and the hypervolume a point ``y`` adds is ``sum over boxes of prod_j max(0, u_j - max(l_j, y_j))``.
The objectives' GPs are independent, so the expectation of each product is the product of
one-dimensional expectations, ``E[max(0, u - max(l, Y))] = s * (h((u - mu) / s) - h((l - mu) / s))``
with ``h(z) = z Phi(z) + phi(z)``, the function behind expected improvement. With more than three
objectives the boxes grow too many, and a ParEGO step is taken instead: the losses are scalarised by
an augmented Chebyshev function with a random weight drawn from the rng, and the single-objective GP
maximises log-EI on that.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from tunesmith.pareto import hypervolume_contributions, nondominated_order, nondominated_ranks
from tunesmith.samplers._gp_model import GPModel, OutputTransform, add_log_feasibility, fit_hyper, log_h
from tunesmith.samplers._history import Observations, categorical_dims
from tunesmith.samplers._objectives import ObjectiveObservations
from tunesmith.samplers._tried import Tried
from tunesmith.space import Space

if TYPE_CHECKING:  # the GP sampler imports this module; the type is only needed for annotations
    from tunesmith.samplers.gp import GP

__all__ = ["EHVI_MAX_OBJECTIVES", "ExpectedHypervolumeImprovement", "non_dominated_boxes", "propose_multiobjective"]

EHVI_MAX_OBJECTIVES = 3
_LOG_INV_SQRT_2PI = -0.5 * math.log(2.0 * math.pi)
# The study's reference point (given, or derived from its first trials) bounds the volume that counts;
# before it exists, the observed nadir pushed out by this share of each objective's range does.
_REFERENCE_MARGIN = 0.1
# Points of the front the boxes are cut from, at most: three objectives give O(m^2) boxes, and the
# candidates x boxes arrays dominate a suggestion's time past ~40 points.
_MAX_FRONT = {2: 400, 3: 40}
_CHUNK_CELLS = 400_000  # candidates x boxes x objectives evaluated at once
_PAREGO_RHO = 0.05  # the augmentation that makes the Chebyshev scalarisation's optimum Pareto optimal
PRIOR_MEAN = 2.0  # as the single-objective GP: far from the data, two standard deviations worse


def non_dominated_boxes(front: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boxes ``(lower, upper)`` that partition the region below ``reference`` not dominated by ``front``.

    The first ``k - 1`` axes are cut at every front coordinate; in each cell of that grid, the last
    axis runs from ``-inf`` up to the lowest last coordinate among the points that dominate the
    cell (or the reference). Neighbouring cells with the same top along the second-to-last axis
    are merged. Lower bounds may be ``-inf``; upper bounds are finite.
    """
    front = np.asarray(front, dtype=float)
    k = len(reference)
    front = front[np.all(front < reference, axis=1)]
    cuts = [np.concatenate([[-np.inf], np.unique(front[:, j]), [reference[j]]]) for j in range(k - 1)]
    grids = np.meshgrid(*[c[:-1] for c in cuts], indexing="ij")
    tops = np.meshgrid(*[c[1:] for c in cuts], indexing="ij")
    low = np.stack([g.ravel() for g in grids], axis=1)
    high = np.stack([g.ravel() for g in tops], axis=1)
    if len(front):
        dominates = np.all(front[None, :, : k - 1] <= low[:, None, :], axis=2)
        last = np.min(np.where(dominates, front[None, :, k - 1], reference[k - 1]), axis=1)
    else:
        last = np.full(len(low), reference[k - 1])
    if k > 2:
        # Merge runs along the (k-2)th axis: same cell elsewhere and the same top.
        shape = tuple(len(c) - 1 for c in cuts)
        last_grid = last.reshape(shape)
        low_grid, high_grid = low.reshape(*shape, k - 1), high.reshape(*shape, k - 1)
        starts = np.ones(shape, dtype=bool)
        starts[..., 1:] = last_grid[..., 1:] != last_grid[..., :-1]
        run_id = np.cumsum(starts.ravel()) - 1
        keep = starts.ravel()
        ends = np.zeros(int(keep.sum()), dtype=int)
        np.maximum.at(ends, run_id, np.arange(len(run_id)))
        low = low_grid.reshape(-1, k - 1)[keep]
        high = high_grid.reshape(-1, k - 1)[keep].copy()
        high[:, k - 2] = high_grid.reshape(-1, k - 1)[ends, k - 2]
        last = last_grid.ravel()[keep]
    lower = np.hstack([low, np.full((len(low), 1), -np.inf)])
    upper = np.hstack([high, last[:, None]])
    useful = np.all(upper > lower, axis=1)
    return lower[useful], upper[useful]


def _log_h(z: np.ndarray) -> np.ndarray:
    out = np.full(z.shape, -np.inf)
    finite = np.isfinite(z)
    out[finite] = log_h(z[finite])[0]
    return out


class ExpectedHypervolumeImprovement:
    """``log EHVI`` of independent GPs over a box decomposition, with gradients in the continuous inputs."""

    def __init__(
        self,
        models: list[GPModel],
        lower: np.ndarray,
        upper: np.ndarray,
        feasibility: GPModel | None,
        cont: np.ndarray,
        sizes: np.ndarray,
    ) -> None:
        self.models = models
        self.lower = lower
        self.upper = upper
        self.feasibility = feasibility
        self.cont = cont
        self.option_counts = sizes[~cont]

    def __call__(self, x: np.ndarray, grad: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        xc = x[:, self.cont]
        xk = np.floor(np.clip(x[:, ~self.cont], 0.0, 1.0 - 1e-12) * self.option_counts)
        predictions = [m.predict(xc, xk, grad) for m in self.models]
        mu = np.stack([p[0] for p in predictions], axis=1)
        sd = np.sqrt(np.stack([p[1] for p in predictions], axis=1))
        rows = max(1, _CHUNK_CELLS // max(1, self.lower.size))
        value = np.empty(len(x))
        d_mu = np.empty_like(mu)
        d_sd = np.empty_like(sd)
        for start in range(0, len(x), rows):
            part = slice(start, start + rows)
            value[part], d_mu[part], d_sd[part] = self._log_ehvi(mu[part], sd[part], grad)
        gradient = None
        if grad:
            gradient = np.zeros((len(x), int(self.cont.sum())))
            for j, (_, _, dmu, dvar) in enumerate(predictions):
                assert dmu is not None and dvar is not None
                gradient += d_mu[:, j, None] * dmu + d_sd[:, j, None] * dvar / (2.0 * sd[:, j, None])
        if self.feasibility is not None:
            value, gradient = add_log_feasibility(self.feasibility, xc, xk, value, gradient)
        return value, gradient

    def _log_ehvi(self, mu: np.ndarray, sd: np.ndarray, grad: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per candidate: log EHVI and its derivatives in each objective's mean and standard deviation."""
        from scipy.special import log_ndtr  # imported on first use: keeps `import tunesmith` light

        s = sd[:, None, :]
        zu = (self.upper[None] - mu[:, None, :]) / s
        zl = (self.lower[None] - mu[:, None, :]) / s
        log_hu = _log_h(zu)
        log_hl = _log_h(zl)
        # log(h(zu) - h(zl)) = log h(zu) + log(1 - r), r = h(zl) / h(zu) in [0, 1).
        r = np.exp(log_hl - log_hu)
        one_minus_r = np.maximum(-np.expm1(log_hl - log_hu), 1e-300)
        log_terms = np.log(s) + log_hu + np.log(one_minus_r)
        log_boxes = log_terms.sum(axis=2)
        top = np.max(log_boxes, axis=1, keepdims=True)
        top = np.where(np.isfinite(top), top, 0.0)
        weights = np.exp(log_boxes - top)
        total = weights.sum(axis=1)
        value = np.log(np.maximum(total, 1e-300)) + top[:, 0]
        if not grad:
            return value, np.zeros_like(mu), np.zeros_like(sd)
        weights = weights / np.maximum(total, 1e-300)[:, None]
        with np.errstate(over="ignore", invalid="ignore"):
            # d t / d mu = -(Phi(zu) - Phi(zl)), d t / d s = phi(zu) - phi(zl), each over t = s h(zu) (1 - r).
            cdf = np.exp(log_ndtr(zu) - log_hu) - np.exp(log_ndtr(zl) - log_hu)
            pdf = np.exp(-0.5 * zu * zu + _LOG_INV_SQRT_2PI - log_hu) - np.exp(
                -0.5 * np.where(np.isfinite(zl), zl, 0.0) ** 2 + _LOG_INV_SQRT_2PI - log_hu
            ) * np.isfinite(zl)
            scale = s * np.where(r < 1.0, one_minus_r, 1e-300)
            d_mu = np.nan_to_num(-(weights[:, :, None] * cdf / scale).sum(axis=1))
            d_sd = np.nan_to_num((weights[:, :, None] * pdf / scale).sum(axis=1))
        return value, d_mu, d_sd


def _parego(losses: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Augmented Chebyshev scalarisation of normalised losses with a random weight (ParEGO)."""
    low, high = losses.min(axis=0), losses.max(axis=0)
    normed = (losses - low) / np.where(high > low, high - low, 1.0)
    weight = rng.dirichlet(np.ones(losses.shape[1]))
    weighted = normed * weight
    return np.asarray(weighted.max(axis=1) + _PAREGO_RHO * weighted.sum(axis=1))


def propose_multiobjective(
    gp: GP,
    space: Space,
    obs: ObjectiveObservations,
    rng: np.random.Generator,
    reference: Sequence[float] = (),
    tried: Tried | None = None,
) -> np.ndarray:
    """The encoded point maximising EHVI (at most three objectives), else a ParEGO step.

    ``reference`` (losses space) is the study's reference point (``context.reference``): only volume inside
    it counts. Without one, the observed nadir plus `_REFERENCE_MARGIN` of each objective's range bounds it.
    """
    k = obs.losses.shape[1]
    if k > EHVI_MAX_OBJECTIVES:
        scalar = Observations(obs.x, _parego(obs.losses, rng), obs.feasible, obs.failed_x, obs.pending_x, obs.used_x)
        return gp.propose(space, scalar, rng, tried)
    cat, sizes = categorical_dims(space)
    cont = ~cat
    keep = np.arange(len(obs.x))
    if len(keep) > gp.max_points:
        order = nondominated_order(obs.losses)
        half = gp.max_points // 2
        rest = order[half:]
        keep = np.sort(np.concatenate([order[:half], rest[np.linspace(0, len(rest) - 1, half).astype(int)]]))
    x = np.where(np.isnan(obs.x[keep]), 0.5, obs.x[keep])
    codes = gp._codes(x, cat, sizes)
    transforms = [OutputTransform(obs.losses[keep, j]) for j in range(k)]
    ys = np.stack([t(obs.losses[keep, j]) for j, t in enumerate(transforms)], axis=1)
    feasible = obs.feasible[keep]
    pending = np.where(np.isnan(obs.pending_x), 0.5, obs.pending_x)
    pending_codes = gp._codes(pending, cat, sizes)
    models: list[GPModel] = []
    believed = np.empty((len(pending), k))
    hyper = None
    for j in range(k):
        fit = gp._fit_subset(ys[:, j])
        hyper = fit_hyper(x[fit][:, cont], codes[fit], ys[fit, j])
        model = GPModel(x[:, cont], codes, ys[:, j], hyper, mean=PRIOR_MEAN)
        if len(pending):
            # Kriging believer: the running trials return the model's prediction, and join the front.
            model, believed[:, j] = model.believe(ys[:, j], pending[:, cont], pending_codes)
        models.append(model)
    assert hyper is not None
    known = ys[feasible] if feasible.any() else np.empty((0, k))
    front = np.vstack([known, believed])
    front = front[nondominated_ranks(front) == 0] if len(front) else front
    if len(reference):
        point = np.array([float(t(np.array([r]))[0]) for t, r in zip(transforms, reference, strict=True)])
    else:
        worst, best = ys.max(axis=0), ys.min(axis=0)
        point = worst + _REFERENCE_MARGIN * np.where(worst > best, worst - best, 1.0)
    if len(front) > _MAX_FRONT[k]:
        # The boxes are cut from the points that hold the most volume on their own (an approximation).
        front = front[np.argsort(-hypervolume_contributions(front, point), kind="stable")[: _MAX_FRONT[k]]]
    lower, upper = non_dominated_boxes(front, point)
    feasibility = gp._feasibility(obs, hyper, cat, sizes) if obs.has_infeasible else None
    acq = ExpectedHypervolumeImprovement(models, lower, upper, feasibility, cont, sizes)
    ranks = nondominated_ranks(ys[feasible] if feasible.any() else ys)
    candidates = x[feasible] if feasible.any() else x
    top = candidates[ranks == 0]
    incumbent = top[int(rng.integers(len(top)))]
    return gp.maximise(space, acq, top, incumbent, obs.used_x, rng, tried)
