"""How optimistic is the best validation score, given how many configurations were compared on it?

Two estimates, both in the metric's units (positive: the best score flatters the configuration):

* **bootstrap bias correction** when trials report per-fold results (``fold:<i>:<metric>`` keys,
  see `tunesmith.discipline.conventions`): folds are resampled with replacement; on each
  resample the configuration best on the in-bag folds is scored on the out-of-bag folds; the
  mean out-of-bag score is the corrected estimate of the selected configuration, and its
  distance to the apparent best is the optimism;
* **per-example noise** when every trial reports per-example results (``stderr:<metric>``): each
  configuration's score is redrawn around its mean with its own standard error, the best draw is
  picked, and the optimism is how far it beats its own mean, on average (a dominant configuration
  is barely flattered; many similar ones are); when the scores spread less than their standard errors
  (configurations scored on the same examples share most of their noise, which flatters none), the
  errors are first scaled down to the spread;
* **order statistics** when runs across seeds were recorded (baseline or seed stability): the best
  of ``n`` noisy scores exceeds its true value by about ``noise * E[max of n standard normals]``,
  ``noise`` being the seed noise; the estimate never exceeds the distance from the best score to
  the median one;
* **residual noise** otherwise (plain floats): a Gaussian process fitted to the scores over the
  parameters (`_smoothed`) takes as noise what the parameters do not explain, and the optimism is
  how far the best score lies beyond the fit's posterior mean of its true score, with the posterior
  standard deviation for its interval. When the trials cannot tell noise from real differences (too
  few, categorical values no two configurations share, or a score that changes as fast as the trials
  are spaced), the noise is unknown and no optimism is estimated (``estimate`` is NaN).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunesmith.attributes import OptimismAttr
from tunesmith.discipline.conventions import folds_of
from tunesmith.objective import STDERR, Metric
from tunesmith.trial import TrialRecord, TrialState

__all__ = ["Optimism", "estimate_optimism", "expected_max_normal"]

_COMPARED = (TrialState.COMPLETE, TrialState.INFEASIBLE)


@dataclass(frozen=True)
class Optimism:
    """The optimism of the best validation score.

    Attributes:
        compared: configurations compared on the same validation data.
        best: the best validation score.
        estimate: how much better it looks than it is (metric units, >= 0 means optimistic); NaN when the noise
            is unknown (``detail`` says why and what would measure it).
        corrected: ``best`` moved back by ``estimate``.
        method: ``"bootstrap"``, ``"per-example noise"``, ``"order statistics"`` or ``"residual noise"``.
        detail: the figures behind it, in words.
        measured: whether the noise behind it was measured (folds, per-example errors, seed noise) rather than
            inferred from how the trial scores depart from a fit over their parameters; only a measured estimate
            corrects a score a check decides on.
    """

    compared: int
    best: float
    estimate: float
    corrected: float
    method: str
    detail: str
    measured: bool = True

    def to_json(self) -> dict[str, Any]:
        return self.attribute().to_json()

    def attribute(self) -> OptimismAttr:
        """The study attribute ``optimism``."""
        known = math.isfinite(self.estimate)  # not when the noise is unknown: stored as null, never as NaN
        return OptimismAttr(compared=self.compared, best=self.best, estimate=self.estimate if known else None,
                            corrected=self.corrected if known else None, method=self.method,
                            detail=self.detail)  # fmt: skip


def expected_max_normal(n: int) -> float:
    """E[max of n iid standard normals] (Blom's approximation; 0 for n = 1)."""
    from scipy.stats import norm

    if n <= 1:
        return 0.0
    return float(norm.ppf((n - 0.375) / (n + 0.25)))


def _bootstrap(losses: np.ndarray, rng: np.random.Generator, rounds: int) -> float | None:
    """Mean out-of-bag loss of the in-bag winner, over bootstrap resamples of the folds."""
    folds = losses.shape[1]
    outcomes = []
    for _ in range(rounds):
        bag = rng.integers(0, folds, folds)
        out = np.setdiff1d(np.arange(folds), bag)
        if out.size == 0:
            continue
        chosen = int(np.argmin(losses[:, bag].mean(axis=1)))
        outcomes.append(float(losses[chosen, out].mean()))
    return float(np.mean(outcomes)) if outcomes else None


def _selected(compared: Sequence[TrialRecord], best: float, estimate: float, sign: float, method: str, detail: str,
              measured: bool = True) -> Optimism:  # fmt: skip
    """An estimate of how much the best of ``compared`` (``best``) flatters itself."""
    return Optimism(compared=len(compared), best=best, estimate=estimate, corrected=best + sign * estimate,
                    method=method, detail=detail, measured=measured)  # fmt: skip


def _per_example(
    compared: Sequence[TrialRecord], metric: Metric, losses: np.ndarray, rounds: int, seed: int
) -> Optimism | None:
    """Selection bias simulated from each score's own standard error (per-example results).

    An observed score is its configuration's true score plus noise of its standard error, so the observed
    scores spread more than the true ones. The distribution of true scores is estimated by deconvolution
    (`_deconvolved`), and each configuration's true score has a posterior given its observed one. Each
    round draws every true score from its posterior and an observed score around it, picks the best
    observed draw, and records how much it flatters its true score; the estimate is the average.
    Configurations of nearly equal quality share one posterior lump, and the best of many draws flatters by
    about ``se * E[max of n]``; one clearly best configuration keeps a lump of its own and barely flatters.
    (Redrawing around the observed scores instead would count their noise as real differences and
    under-correct: by about a third for 200 near-equal configurations in ``benchmarks.discipline``.)
    """
    errors = np.array([r.metrics.get(f"{STDERR}{metric.name}", math.nan) for r in compared], dtype=float)
    if not np.all(np.isfinite(errors)):
        return None
    typical = float(np.median(errors))
    errors, shared = _shared_noise(losses, errors)
    prior, posterior = _deconvolved(losses, errors)
    rng = np.random.default_rng(seed)
    cumulative = np.cumsum(posterior, axis=1)
    uniform = rng.random((rounds, len(losses)))
    true = np.empty((rounds, len(losses)))
    for i in range(len(losses)):
        picks = np.minimum(np.searchsorted(cumulative[i], uniform[:, i]), len(prior) - 1)
        true[:, i] = prior[picks]
    draws = true + errors * rng.standard_normal((rounds, len(losses)))
    chosen = draws.argmin(axis=1)
    rows = np.arange(rounds)
    estimate = float(np.mean(true[rows, chosen] - draws[rows, chosen]))
    sign = metric.sign()
    best = sign * float(losses.min())
    return _selected(compared, best, estimate, sign, "per-example noise", (
        f"{len(compared)} configurations, their true scores deconvolved from their per-example standard errors "
        f"(median {typical:.3g}{shared}) and redrawn {rounds} times: the best draw flatters its true "
        f"score by {estimate:.3g} on average"
    ))  # fmt: skip


def _shared_noise(losses: np.ndarray, errors: np.ndarray) -> tuple[np.ndarray, str]:
    """The errors of what differs between configurations, and what was done to them, in words.

    Configurations scored on the same examples share most of their noise, which moves them all alike and so
    flatters none: their scores then spread less than their standard errors say, which true differences
    could never cause. When the spread is below the errors' at 5% (a chi-square test), the errors are scaled
    down to the spread, the most the configuration-specific noise can be; otherwise they are kept."""
    from scipy.stats import chi2

    n = len(losses)
    squared = float(np.mean(errors**2))
    if n < 3 or squared == 0.0:
        return errors, ""
    variance = float(np.var(losses, ddof=1))
    if (n - 1) * variance / squared >= float(chi2.ppf(0.05, n - 1)):
        return errors, ""
    factor = math.sqrt(variance / squared)
    return errors * factor, (
        f"; the scores spread less than that, as they do when configurations share validation examples, so "
        f"scaled by {factor:.2f} to their spread"
    )


GRID = 100  # support points of the deconvolved distribution of true scores
EM_ROUNDS = 300


def _deconvolved(losses: np.ndarray, errors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distribution of the configurations' true scores, as the nonparametric maximum likelihood estimate
    on a grid (EM), and each configuration's posterior over that grid given its observed score and error.

    No shape is assumed: near-equal configurations come out as one tight lump (every score shrunk toward
    it), one clearly best configuration as a lump of its own (left where it is)."""
    from scipy.stats import norm

    support = np.linspace(float(losses.min()), float(losses.max()), GRID)
    # A score without noise (every example right: a standard error of 0) is located to the grid's spacing.
    widths = np.maximum(errors, max(float(support[1] - support[0]), 1e-12))[:, None]
    likelihood = norm.pdf((losses[:, None] - support[None, :]) / widths) / widths
    weights = np.full(GRID, 1.0 / GRID)
    for _ in range(EM_ROUNDS):
        joint = likelihood * weights
        posterior = joint / np.maximum(joint.sum(axis=1, keepdims=True), 1e-300)
        weights = posterior.mean(axis=0)
    joint = likelihood * weights
    return support, joint / np.maximum(joint.sum(axis=1, keepdims=True), 1e-300)


NOISE_SAMPLE = 300  # configurations the fit reads at most (the best among them): its cost grows with their cube
MIN_SHARED = 10  # configurations sharing their categorical values with another, to tell noise from real differences
# The shortest lengthscale the fit may use, in median nearest-neighbour distances: a signal that changes faster
# than the trials are spaced cannot be told from noise, and is counted as noise.
_RESOLUTION = 2.0
_AT_FLOOR = math.log(1.05)  # a lengthscale within 5% of its floor stopped there
_MEAN_VARIANCE = 1.0  # prior variance of the constant mean, in units of the scores' variance
_SQRT5 = math.sqrt(5.0)


@dataclass(frozen=True)
class _Smoothed:
    """The best score as a Gaussian process fitted to the trials' scores over their parameters sees it.

    Attributes:
        optimism: how far the best score lies beyond the fit's posterior mean of its true score (metric units,
            positive: flattered).
        optimism_sd: the posterior standard deviation of that true score.
        noise: the scores' noise standard deviation: what the parameters leave unexplained.
        noise_low, noise_high: its 90% interval (chi-square on ``residual`` degrees of freedom).
        residual: degrees of freedom the fit leaves to the noise.
        fitted: configurations the fit read (the best and a sample of the others beyond `NOISE_SAMPLE`).
        dims: encoded parameters.
    """

    optimism: float
    optimism_sd: float
    noise: float
    noise_low: float
    noise_high: float
    residual: float
    fitted: int
    dims: int


def _unit(values: np.ndarray) -> np.ndarray:
    """Numeric values scaled to [0, 1] on the scale, linear or logarithmic, on which they spread most evenly.

    Samplers draw a parameter evenly on its own scale, which records do not carry (a learning rate drawn
    log-uniformly is uneven on a linear axis and even on a logarithmic one)."""
    scales = [values, np.log(values)] if np.all(values > 0) else [values]
    even = (np.arange(len(values)) + 0.5) / len(values)
    best, unevenness = values, math.inf
    for scaled in scales:
        unit = (scaled - scaled.min()) / (scaled.max() - scaled.min())
        distance = float(np.max(np.abs(np.sort(unit) - even)))  # Kolmogorov-Smirnov, against uniform
        if distance < unevenness:
            best, unevenness = unit, distance
    return best


def _encoded(params: Sequence[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The configurations as continuous coordinates in [0, 1] and categorical codes, read from their values,
    and the names of the continuous parameters.

    The study's `Space` is not at hand (only records are): a numeric parameter is scaled by `_unit`; strings,
    booleans, ``None`` and mixed values are categories. A parameter absent from some configurations (another
    branch's) sits at 0.5 where absent, and whether it is present is a category, so that configurations of
    different branches are never neighbours.
    """
    n = len(params)
    continuous: list[np.ndarray] = []
    categorical: list[np.ndarray] = []
    names: list[str] = []
    for name in sorted({name for p in params for name in p}):
        present = np.array([name in p for p in params])
        values = [p[name] for p in params if name in p]
        if all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values):
            if len(set(values)) > 1:
                column = np.full(n, 0.5)
                column[present] = _unit(np.array(values, dtype=float))
                continuous.append(column)
                names.append(name)
            if not present.all():
                categorical.append(present.astype(float))
            continue
        codes: dict[str, int] = {}
        column = np.array([codes.setdefault(repr(p[name]) if name in p else "", len(codes)) for p in params], float)
        if len(codes) > 1:
            categorical.append(column)
    return (np.column_stack(continuous) if continuous else np.zeros((n, 0)),
            np.column_stack(categorical) if categorical else np.zeros((n, 0)), names)  # fmt: skip


@dataclass(frozen=True)
class _Fit:
    """A Gaussian process fitted to standardised scores (`_gp_fit`).

    Attributes:
        noise: the noise variance, in units of the scores' variance.
        inverse: ``K^-1``, ``K`` being the covariance of the scores.
        weights: ``K^-1 scores``; the posterior mean at a fitted point is its score less ``noise * weights``.
        rough: the continuous parameters along which a signal at least as large as the noise changes as fast as
            the trials are spaced (its lengthscale at the floor): there, noise cannot be told from real
            differences.
    """

    noise: float
    inverse: np.ndarray
    weights: np.ndarray
    rough: list[int]


def _gp_fit(continuous: np.ndarray, categorical: np.ndarray, scores: np.ndarray) -> _Fit:
    """A Gaussian process fitted to standardised ``scores`` over the encoded parameters.

    A Matérn-5/2 kernel with a lengthscale per parameter (categorical ones on a 0/1 distance), a constant mean
    and white noise, fitted by maximum marginal likelihood without priors: the sampler's `fit_hyper` pulls the
    noise towards small values and caps it at half the scores' variance, right for proposing points and wrong
    here, where noise may be all there is. Continuous lengthscales stop at a multiple of the trials' spacing
    (`_RESOLUTION`), else a wiggly signal through every point would explain the noise away; one that stops
    there on a parameter that carries signal makes the fit `_Fit.rough`.
    """
    from scipy.linalg import LinAlgError, cho_factor, cho_solve
    from scipy.optimize import minimize
    from scipy.spatial import cKDTree

    n, dc = continuous.shape
    d = dc + categorical.shape[1]
    parts = [(continuous[:, j, None] - continuous[None, :, j]) ** 2 for j in range(dc)]
    parts += [(categorical[:, j, None] != categorical[None, :, j]).astype(float) for j in range(d - dc)]
    squared = np.stack(parts).reshape(d, n * n) if parts else np.zeros((0, n * n))
    spacing = float(np.median(cKDTree(continuous).query(continuous, 2)[0][:, 1])) if dc else 0.0
    shortest = math.log(max(_RESOLUTION * spacing, 1e-3))
    identity = np.eye(n)

    def covariance(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r2 = (np.exp(-2.0 * theta[:d]) @ squared).reshape(n, n)
        r = np.sqrt(r2)
        decay = math.exp(theta[d]) * np.exp(-_SQRT5 * r)
        signal = (1.0 + _SQRT5 * r + (5.0 / 3.0) * r2) * decay
        slope = (5.0 / 3.0) * (1.0 + _SQRT5 * r) * decay  # -2 d signal / d r2
        return signal + _MEAN_VARIANCE + math.exp(theta[d + 1]) * identity, signal, slope

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        k, signal, slope = covariance(theta)
        try:
            factor = cho_factor(k, lower=True, check_finite=False)
        except LinAlgError:
            return 1e10, np.zeros_like(theta)
        alpha = cho_solve(factor, scores, check_finite=False)
        w = cho_solve(factor, identity, check_finite=False) - np.outer(alpha, alpha)  # d nll / d K = w / 2
        grad = np.empty_like(theta)
        grad[:d] = 0.5 * (squared @ (w * slope).ravel()) * np.exp(-2.0 * theta[:d])
        grad[d] = 0.5 * float(np.sum(w * signal))
        grad[d + 1] = 0.5 * math.exp(theta[d + 1]) * float(np.trace(w))
        return 0.5 * float(scores @ alpha) + float(np.sum(np.log(np.diag(factor[0])))), grad

    bounds = [(shortest, math.log(100.0))] * dc + [(math.log(0.3), math.log(100.0))] * (d - dc)
    bounds += [(math.log(1e-6), math.log(10.0)), (math.log(1e-8), math.log(2.0))]
    low, high = np.array(bounds).T
    # Two starts, one in each mode the likelihood often has: mostly signal, and mostly noise.
    best, theta = math.inf, np.array([])
    for length, signal, noise in ((math.log(0.3), 0.0, math.log(0.05)), (math.log(3.0), math.log(0.1), math.log(0.8))):
        start = np.clip(np.concatenate([np.full(d, length), [signal, noise]]), low, high)
        result = minimize(objective, start, jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": 100})
        if np.all(np.isfinite(result.x)) and float(result.fun) < best:
            best, theta = float(result.fun), result.x
    factor = cho_factor(covariance(theta)[0], lower=True, check_finite=False)
    carries = theta[d] >= theta[d + 1]  # a signal as large as the noise: their split is arbitrary at the floor
    rough = [j for j in range(dc) if carries and theta[j] <= shortest + _AT_FLOOR]
    return _Fit(noise=math.exp(theta[d + 1]), inverse=cho_solve(factor, identity, check_finite=False),
                weights=cho_solve(factor, scores, check_finite=False), rough=rough)  # fmt: skip


def _smoothed(compared: Sequence[TrialRecord], losses: np.ndarray, seed: int) -> _Smoothed | str:
    """The best score against a smooth fit of the scores over the parameters, or why none tells (in words).

    Telling noise from real differences needs configurations that are alike: a categorical value no other
    configuration shares could explain its score entirely, so at least `MIN_SHARED` configurations must
    share their categorical values (and branch) with another."""
    from scipy.stats import chi2

    n = len(compared)
    if n < MIN_SHARED:
        return f"{n} configurations are too few to tell noise from real differences (at least {MIN_SHARED} needed)"
    continuous, categorical, names = _encoded([r.params for r in compared])
    _, cell, counts = np.unique(categorical, axis=0, return_inverse=True, return_counts=True)
    shared = int(np.sum(counts[cell.ravel()] >= 2))
    if shared < MIN_SHARED:
        return (f"{shared} of {n} configurations share their categorical values with another, too few to tell "
                f"noise from the categories' effects (at least {MIN_SHARED} needed)")  # fmt: skip
    dims = continuous.shape[1] + categorical.shape[1]
    winner = int(np.argmin(losses))
    rows = np.arange(n)
    if n > NOISE_SAMPLE:
        others = np.random.default_rng(seed).choice(np.delete(rows, winner), NOISE_SAMPLE - 1, replace=False)
        rows = np.sort(np.append(others, winner))
    spread = float(np.std(losses[rows]))
    if spread == 0.0:
        return _Smoothed(0.0, 0.0, 0.0, 0.0, 0.0, float(len(rows) - 1), len(rows), dims)
    scores = (losses[rows] - float(np.mean(losses[rows]))) / spread
    fit = _gp_fit(continuous[rows], categorical[rows], scores)
    if fit.rough:
        return (f"the score changes as fast as the trials are spaced along {', '.join(names[j] for j in fit.rough)}, "
                f"where real differences look like noise")  # fmt: skip
    noise = fit.noise
    residual = noise * float(np.trace(fit.inverse))
    if residual < 2.0:
        return (f"a smooth fit over the parameters leaves {residual:.1f} degrees of freedom of the scores "
                f"unexplained, too few to measure their noise")  # fmt: skip
    at = int(np.searchsorted(rows, winner))
    sigma = math.sqrt(noise) * spread
    return _Smoothed(
        optimism=-noise * float(fit.weights[at]) * spread,
        optimism_sd=math.sqrt(max(noise - noise**2 * float(fit.inverse[at, at]), 0.0)) * spread,
        noise=sigma,
        noise_low=sigma * math.sqrt(residual / float(chi2.ppf(0.95, residual))),
        noise_high=sigma * math.sqrt(residual / float(chi2.ppf(0.05, residual))),
        residual=residual,
        fitted=len(rows),
        dims=dims,
    )


def _residual_noise(compared: Sequence[TrialRecord], losses: np.ndarray, sign: float, seed: int) -> Optimism:
    """The optimism of plain scores from the noise their parameters leave unexplained; NaN when it is unknown."""
    best = sign * float(losses.min())
    n = len(compared)
    fit = _smoothed(compared, losses, seed)
    if isinstance(fit, str):
        return _selected(compared, best, math.nan, sign, "residual noise", (
            f"best of {n} scores on one validation set; their noise is unknown: {fit}, so no optimism is "
            f"estimated: re-run the best configurations on other seeds (ts.validate_top) or return per-example "
            f"values or per-fold scores from the objective"
        ), measured=False)  # fmt: skip
    sampled = f", on the best and {fit.fitted - 1} others" if fit.fitted < n else ""
    parameters = "parameter" if fit.dims == 1 else f"{fit.dims} parameters"
    from scipy.stats import norm

    z90 = float(norm.ppf(0.95))
    low, high = fit.optimism - z90 * fit.optimism_sd, fit.optimism + z90 * fit.optimism_sd
    return _selected(compared, best, fit.optimism, sign, "residual noise", (
        f"best of {n} scores on one validation set; a smooth fit of the score over the {parameters} "
        f"(a Gaussian process{sampled}) leaves noise {fit.noise:.3g} unexplained (90% interval {fit.noise_low:.3g} "
        f"to {fit.noise_high:.3g}, {fit.residual:.0f} degrees of freedom) and puts the best configuration's true "
        f"score {fit.optimism:.3g} short of its score (90% interval {low:.3g} to {high:.3g}). Real differences "
        f"finer than twice the trials' spacing count as noise, so it errs high"
    ), measured=False)  # fmt: skip


def estimate_optimism(
    records: Sequence[TrialRecord],
    metric: Metric,
    *,
    noise: float | None = None,
    rounds: int = 2000,
    seed: int = 0,
) -> Optimism | None:
    """Estimate the optimism of the best validation score among ``records`` (``None`` with fewer than 2).

    Args:
        records: the study's trials; COMPLETE and INFEASIBLE ones with a finite metric were compared.
        metric: the study's metric.
        noise: the metric's seed noise (standard deviation across seeds), when measured.
        rounds: bootstrap resamples.
        seed: the bootstrap's seed, and the sample's that the residual-noise fit reads beyond `NOISE_SAMPLE`
            configurations.
    """
    compared = [r for r in records if r.state in _COMPARED and r.value(metric.name) is not None]
    if len(compared) < 2:
        return None
    sign = metric.sign()
    losses = np.array([sign * (r.value(metric.name) or 0.0) for r in compared])
    best_loss = float(losses.min())
    best = sign * best_loss
    folded = [(r, folds_of(r.metrics, metric.name)) for r in compared]
    sizes = {len(f) for _, f in folded if len(f) >= 2}
    if sizes:
        size = max(sizes, key=lambda s: sum(len(f) == s for _, f in folded))
        matrix = np.array([[sign * v for v in f] for _, f in folded if len(f) == size])
        if matrix.shape[0] >= 2:
            corrected_loss = _bootstrap(matrix, np.random.default_rng(seed), rounds)
            if corrected_loss is not None:
                apparent = float(matrix.mean(axis=1).min())
                estimate = corrected_loss - apparent
                return Optimism(
                    compared=len(compared),
                    best=sign * apparent,
                    estimate=estimate,
                    corrected=sign * corrected_loss,
                    method="bootstrap",
                    detail=(
                        f"bootstrap bias correction over {size} folds of {matrix.shape[0]} configurations: "
                        f"the selected configuration scores {sign * corrected_loss:.4g} out of bag, not "
                        f"{sign * apparent:.4g}"
                    ),
                )
    per_example = _per_example(compared, metric, losses, rounds, seed)
    if per_example is not None:
        return per_example
    if noise is None or not math.isfinite(noise) or noise <= 0:
        return _residual_noise(compared, losses, sign, seed)
    ordered = np.sort(losses)
    sigma = float(noise)
    cap = float(np.median(ordered)) - best_loss
    estimate = min(sigma * expected_max_normal(len(compared)), cap)
    return _selected(compared, best, estimate, sign, "order statistics", (
        f"best of {len(compared)} scores on one validation set, seed noise {sigma:.3g}: "
        f"optimistic by about {estimate:.3g} (expected maximum of {len(compared)} noise draws, "
        f"at most the distance to the median score)"
    ))  # fmt: skip
