"""How optimistic is the best validation score, given how many configurations were compared on it?

Four estimates, all in the metric's units (positive: the best score flatters the configuration):

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
* **order statistics** when runs across seeds were recorded (baseline or seed stability): the true
  scores are deconvolved at the seed noise, one standard deviation common to all, and each
  configuration's flattery is how far its score lies beyond its posterior mean of its true score,
  less that reading's own bias, simulated in worlds drawn from the fit (`_seed_noise`). A dominant
  best is barely flattered, many equal ones are by about ``noise * E[max of n]``, and a configuration
  chosen below the best has its own figure (`Optimism.of`). A noise read as the standard deviation
  of ``runs`` runs is unbiased by ``c4(runs)`` and read again from as many runs in those worlds;
  passed without ``runs`` it is taken as exact, and a noise that reads low then lets the best keep
  part of its luck (the deconvolution takes the rest of the scores' spread for real differences).
  The realised flattery of the best, in noise units (mean of 200-400 simulated studies; the figure
  the estimate replaced, ``min(noise * E[max of n], median - best)``, in brackets): 20, 40 and 100
  equal configurations 1.89, 2.13 and 2.52 against estimates of 1.77, 2.04 and 2.39 (1.66, 1.93,
  2.32), +- 0.02-0.04; with one configuration 3 noise ahead of the others 0.58, 0.73 and 1.20
  against 0.90, 1.24 and 1.57 (1.84, 2.12, 2.47), +- 0.05-0.09. The noise read on 5 runs and passed
  with ``runs=5``: 20 equal configurations 1.85 against 1.69 +- 0.04 (1.44), one 3 noise ahead 0.65
  against 1.32 +- 0.08 (1.71). So it still errs low for pure noise and high for a dominant best,
  each by less than before;
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

__all__ = ["Optimism", "chosen_flattery", "estimate_optimism", "expected_max_normal"]

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
        ranked: the compared scores, best first, when the method estimates each configuration's own flattery
            (order statistics); empty otherwise.
        flattery: how much each of ``ranked`` flatters its configuration (metric units, positive: flattered);
            ``flattery[0]`` is ``estimate``.
    """

    compared: int
    best: float
    estimate: float
    corrected: float
    method: str
    detail: str
    measured: bool = True
    ranked: tuple[float, ...] = ()
    flattery: tuple[float, ...] = ()

    def of(self, score: float) -> float | None:
        """How much the compared configuration that scored ``score`` (the nearest compared score) is flattered by
        having been compared, in metric units; ``None`` when the method estimates the best score's alone."""
        if not self.ranked:
            return None
        return self.flattery[int(np.argmin(np.abs(np.asarray(self.ranked) - score)))]

    def to_json(self) -> dict[str, Any]:
        return self.attribute().to_json()

    def attribute(self) -> OptimismAttr:
        """The study attribute ``optimism``."""
        known = math.isfinite(self.estimate)  # not when the noise is unknown: stored as null, never as NaN
        return OptimismAttr(compared=self.compared, best=self.best, estimate=self.estimate if known else None,
                            corrected=self.corrected if known else None, method=self.method,
                            detail=self.detail)  # fmt: skip


def chosen_flattery(optimism: Optimism | None, chosen: float, scores: Sequence[float], sign: float) -> float:
    """How much choosing among the compared configurations flatters ``chosen``, the chosen one's score (metric units,
    >= 0), when the noise behind ``optimism`` was measured (0 otherwise): its own flattery where the estimate gives
    each configuration's (seed noise, `Optimism.of`: the best or one chosen below it), else the optimism estimate,
    but never more than the chosen score's lead over the median of ``scores`` (the compared scores; ``sign`` the
    metric's, `Metric.sign`). A configuration chosen below the best was flattered less than the best, and a
    configuration of low noise that won among noisier ones is flattered by less than the best draw of the noisy ones
    would be, which the estimate averages over: the lead over the median bounds both.

    The holdout-gap check and the baseline margin both take back this amount, so the two never move one score back
    by different amounts."""
    if optimism is None or not optimism.measured:
        return 0.0
    own = optimism.of(chosen)
    if own is not None:
        return max(0.0, own)
    if not optimism.estimate > 0:  # NaN too: the noise is unknown
        return 0.0
    finite = [v for v in scores if math.isfinite(v)]
    lead = sign * (float(np.median(finite)) - chosen) if finite else 0.0
    return max(0.0, min(optimism.estimate, lead))


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


GRID = 100  # support points of the deconvolved distribution of true scores, evenly spaced over the scores' range
EM_ROUNDS = 300
# Where those points lie further apart than half a score's noise (scores spread over many times their noise), each
# of the best LOCAL_CONFIGS scores gets LOCAL_POINTS more, half its noise apart, within 3 noise of it: a grid
# coarser than the noise read each score's noise as the spacing, and the posterior spread so wide that the best of
# 20 configurations (seed noise 0.0046, scores over 0 to 6) read an optimism of 0.071, 15 times its noise, where
# its realised flattery was near 0, and the holdout-gap check took a real 10% overfit back as selection luck.
LOCAL_POINTS = 13
LOCAL_CONFIGS = 20


def _deconvolved(losses: np.ndarray, errors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distribution of the configurations' true scores, as the nonparametric maximum likelihood estimate
    on a grid (EM), and each configuration's posterior over that grid given its observed score and error.

    No shape is assumed: near-equal configurations come out as one tight lump (every score shrunk toward
    it), one clearly best configuration as a lump of its own (left where it is). ``losses`` and ``errors`` of
    shape ``(..., n)`` are deconvolved row by row (a grid ``(..., GRID)``, posteriors ``(..., n, GRID)``)."""
    errors = np.broadcast_to(errors, losses.shape)
    support = np.linspace(losses.min(axis=-1), losses.max(axis=-1), GRID, axis=-1)
    spacing = np.maximum(support[..., 1] - support[..., 0], 1e-12)
    resolved = np.ones(losses.shape, dtype=bool)
    noisy = errors > 0
    if np.any(noisy & (errors < 2.0 * spacing[..., None])):
        # Points half a score's noise apart around each of the best scores, so that its likelihood is read at its
        # own noise (`LOCAL_POINTS`); the points stay inside the scores' range, where the estimate's mass lies.
        near = np.argsort(losses, axis=-1, kind="stable")[..., :LOCAL_CONFIGS]
        resolved = np.zeros(losses.shape, dtype=bool)
        np.put_along_axis(resolved, near, True, axis=-1)
        centres, scales = np.take_along_axis(losses, near, -1), np.take_along_axis(errors, near, -1)
        offsets = np.linspace(-3.0, 3.0, LOCAL_POINTS)
        local = (centres[..., :, None] + scales[..., :, None] * offsets).reshape(*losses.shape[:-1], -1)
        low, high = losses.min(axis=-1, keepdims=True), losses.max(axis=-1, keepdims=True)
        support = np.sort(np.concatenate([support, np.clip(local, low, high)], axis=-1), axis=-1)
    # A score without noise (every example right: a standard error of 0), or one no local points resolve, is
    # located to the even grid's spacing.
    widths = np.where(resolved & noisy, errors, np.maximum(errors, spacing[..., None]))[..., None]
    standard = (losses[..., :, None] - support[..., None, :]) / widths
    likelihood = np.exp(-0.5 * standard * standard) / (math.sqrt(2.0 * math.pi) * widths)  # the normal density
    # EM is blind to a factor on one configuration's likelihoods (its density takes the same factor, and its share of
    # each point does not), so each row is scaled to a largest value of 1 and the rounds, which read the likelihoods
    # 600 times, run as products of single-precision matrices: twice as fast as einsum in double precision. The
    # optimism of finalize after seed re-runs (400 worlds of 20 configurations) took 0.47 s, now 0.14 s; posterior
    # means move by about 1e-7 of the scores' range, far inside the estimate's own error. The posteriors are formed
    # in double precision.
    scaled = (likelihood / np.maximum(likelihood.max(axis=-1, keepdims=True), 1e-300)).astype(np.float32)
    weights = np.full(support.shape, 1.0 / support.shape[-1], dtype=np.float32)
    share = np.float32(1.0 / losses.shape[-1])
    for _ in range(EM_ROUNDS):  # the mean posterior, as products: the posteriors themselves are not formed
        density = np.maximum((scaled @ weights[..., None])[..., 0], np.float32(1e-30))
        weights = weights * (np.reciprocal(density)[..., None, :] @ scaled)[..., 0, :] * share
    joint = likelihood * weights.astype(np.float64)[..., None, :]
    return support, joint / np.maximum(joint.sum(axis=-1, keepdims=True), 1e-300)


def c4(runs: int) -> float:
    """E[s] / sigma for the sample standard deviation ``s`` of ``runs`` normal draws (``s / c4`` is unbiased)."""
    from scipy.special import gammaln

    return math.sqrt(2.0 / (runs - 1)) * math.exp(float(gammaln(runs / 2.0) - gammaln((runs - 1) / 2.0)))


# Worlds `_seed_noise` simulates its own bias in, at most; fewer beyond WORLD_BUDGET configurations * worlds, for
# the deconvolution's cost grows with both (400 worlds of 20 configurations: about 0.05 s; 10 of 5,000: 0.2 s).
# The bias they read errs by about 0.7 noise / sqrt(worlds): 0.035 noise at 400 (0.07 at 100 misread 300 studies
# of 20 equal configurations by 6% when they all drew the same worlds).
WORLDS = 400
MIN_WORLDS = 10
WORLD_BUDGET = 40_000
_WORLD_BATCH = 20_000  # configurations * worlds deconvolved at once, to hold the memory to about 100 MB


def _posterior_flattery(losses: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """How far each configuration's posterior mean of its true loss lies above its observed loss (positive:
    flattered), the true losses deconvolved at noise ``sigma`` (one per row of ``losses``), ranked best first."""
    support, posterior = _deconvolved(losses, np.broadcast_to(sigma[..., None], losses.shape))
    flattery = np.einsum("...ng,...g->...n", posterior, support) - losses
    return np.take_along_axis(flattery, np.argsort(losses, axis=-1, kind="stable"), axis=-1)


def _seed_noise(compared: Sequence[TrialRecord], losses: np.ndarray, sign: float, noise: float, runs: int | None,
                seed: int) -> Optimism:  # fmt: skip
    """Each configuration's flattery from the seed noise, one common standard deviation (order statistics).

    The true scores are deconvolved at that noise (`_deconvolved`), and each configuration's flattery is how far
    its posterior mean of its true score lies behind its observed score: whichever configuration is chosen, the
    best or one below it, that is what its score is expected to give back (Tweedie's formula, which a selection
    on the observed scores does not bias when the distribution of true scores is known). It is not known but
    estimated from the same scores, which understates the flattery of pure noise (the estimate spreads where
    the scores happen to spread more than the noise, and lets the best keep part of its luck) and overstates it
    for one clearly best configuration; and a noise read as the spread of a few runs is itself noisy. So the
    reading is repeated in worlds drawn from the fit (true scores from their posteriors, scores around them, the
    noise read again from as many runs), and its mean error there, at each rank, is taken off.

    Over 400 simulated studies of 20 equal configurations, sigma exact, the best was flattered by 1.94 +- 0.03
    sigma; the posterior mean alone read 1.57, the flattery of the best draw simulated as `_per_example` reads
    it 1.71; with one configuration 3 sigma ahead, 0.58 +- 0.05 against 0.97 and 1.01: neither reading is
    unbiased, so the error is simulated and taken off. What remains (the module docstring has the figures):
    low by about 6% for pure noise with sigma exact, 9% with sigma read on 5 runs; high by 0.3-0.5 sigma for a
    best 3 sigma ahead (0.7 with sigma read on 5 runs), on the side that passes the holdout gap. A configuration
    chosen below the best reads slightly lower than its realised flattery: the runner-up of 20 equal
    configurations 1.35 against 1.43 +- 0.02 sigma, of 19 equal ones behind a dominant best 1.35 against 1.58 +-
    0.04. Passed without ``runs``, a noise that is the spread of a few runs is taken as exact: one that reads low
    then takes the rest of the scores' spread for real differences, and the estimate falls short.
    """
    n = len(losses)
    sigma = noise / c4(runs) if runs is not None else noise
    rng = np.random.default_rng(seed)
    support, posterior = _deconvolved(losses, np.full(n, sigma))
    observed = np.take_along_axis(posterior @ support - losses, np.argsort(losses, kind="stable"), axis=-1)
    worlds = max(MIN_WORLDS, min(WORLDS, WORLD_BUDGET // n))
    cumulative = np.cumsum(posterior, axis=1)
    errors = np.empty((worlds, n))
    for start in range(0, worlds, max(1, _WORLD_BATCH // n)):
        size = min(max(1, _WORLD_BATCH // n), worlds - start)
        picks = np.array([np.searchsorted(row, u) for row, u in zip(cumulative, rng.random((n, size)), strict=True)])
        true = support[np.minimum(picks, len(support) - 1)].T
        scores = true + sigma * rng.standard_normal((size, n))
        read = np.full(size, sigma)
        if runs is not None:  # the noise read again from as many runs, and unbiased as it was
            read = sigma * np.sqrt(rng.chisquare(runs - 1, size) / (runs - 1)) / c4(runs)
        order = np.argsort(scores, axis=1, kind="stable")
        realised = np.take_along_axis(true - scores, order, axis=1)
        errors[start : start + size] = _posterior_flattery(scores, read) - realised
    bias = errors.mean(axis=0)
    flattery = observed - bias
    uncertainty = float(errors[:, 0].std(ddof=1)) / math.sqrt(worlds)
    estimate = float(flattery[0])
    ranked = tuple(float(sign * v) for v in np.sort(losses, kind="stable"))
    read_as = "" if runs is None else (
        f" (the standard deviation of {runs} runs; {sigma:.3g} once unbiased by c4({runs}) = {c4(runs):.3f}, the "
        f"worlds below reading it again from {runs} runs)")  # fmt: skip
    result = _selected(compared, sign * float(losses.min()), estimate, sign, "order statistics", (
        f"best of {n} scores on one validation set, seed noise {noise:.3g}{read_as}: the true scores deconvolved "
        f"at that noise put the best score {float(observed[0]):.3g} beyond its posterior mean of its true score, a "
        f"reading that errs by {float(bias[0]):+.3g} +- {uncertainty:.2g} on average in {worlds} worlds drawn from "
        f"the fit: optimistic by about {estimate:.3g}"
    ))  # fmt: skip
    return Optimism(compared=result.compared, best=result.best, estimate=result.estimate, corrected=result.corrected,
                    method=result.method, detail=result.detail, ranked=ranked,
                    flattery=tuple(float(v) for v in flattery))  # fmt: skip


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
    runs: int | None = None,
    rounds: int = 2000,
    seed: int = 0,
) -> Optimism | None:
    """Estimate the optimism of the best validation score among ``records`` (``None`` with fewer than 2).

    Args:
        records: the study's trials; COMPLETE and INFEASIBLE ones with a finite metric were compared.
        metric: the study's metric.
        noise: the metric's seed noise (standard deviation across seeds), when measured.
        runs: how many runs ``noise`` is the sample standard deviation of (``None``: ``noise`` is taken as
            exact); it is then unbiased by ``c4(runs)``, and the worlds `_seed_noise` simulates its own bias in
            read it again from as many runs.
        rounds: bootstrap resamples.
        seed: the seed of the bootstrap, of the worlds `_seed_noise` draws, and of the sample the residual-noise
            fit reads beyond `NOISE_SAMPLE` configurations.

    Raises:
        ValueError: when ``runs`` is given and below 2.
    """
    if runs is not None and runs < 2:
        raise ValueError(f"runs must be at least 2 (a standard deviation needs two runs), got runs={runs}: "
                         f"pass the number of runs the seed noise was read on, or None when it is exact")  # fmt: skip
    compared = [r for r in records if r.state in _COMPARED and r.value(metric.name) is not None]
    if len(compared) < 2:
        return None
    sign = metric.sign()
    losses = np.array([sign * (r.value(metric.name) or 0.0) for r in compared])
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
    return _seed_noise(compared, losses, sign, float(noise), runs, seed)
