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
* **order statistics** otherwise: the best of ``n`` noisy scores exceeds its true value by about
  ``noise * E[max of n standard normals]``. ``noise`` is the seed noise when runs across seeds
  were recorded (baseline or seed stability), else the spread of the better half of the trial
  scores (a rough, usually generous stand-in); the estimate never exceeds the distance from the
  best score to the median one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

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
        estimate: how much better it looks than it is (metric units, >= 0 means optimistic).
        corrected: ``best`` moved back by ``estimate``.
        method: ``"bootstrap"``, ``"per-example noise"`` or ``"order statistics"``.
        detail: the figures behind it, in words.
        measured: whether the noise behind it was measured (folds, per-example errors, seed noise) rather than
            stood in for by the spread of the trial scores; only a measured estimate corrects a score a check
            decides on.
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
        return OptimismAttr(compared=self.compared, best=self.best, estimate=self.estimate,
                            corrected=self.corrected, method=self.method, detail=self.detail)  # fmt: skip


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
    n = len(losses)
    squared = float(np.mean(errors**2))
    if n < 3 or squared == 0.0:
        return errors, ""
    variance = float(np.var(losses, ddof=1))
    if (n - 1) * variance / squared >= float(stats.chi2.ppf(0.05, n - 1)):
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
        seed: the bootstrap's seed.
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
    ordered = np.sort(losses)
    measured = noise is not None and math.isfinite(noise) and noise > 0
    if noise is not None and measured:
        sigma, source = float(noise), "seed noise"
    else:
        half = ordered[: max(2, len(ordered) // 2)]
        sigma, source = float(np.std(half, ddof=1)), "spread of the better half of the trial scores"
    cap = float(np.median(ordered)) - best_loss
    estimate = min(sigma * expected_max_normal(len(compared)), cap)
    return _selected(compared, best, estimate, sign, "order statistics", (
        f"best of {len(compared)} scores on one validation set, {source} {sigma:.3g}: "
        f"optimistic by about {estimate:.3g} (expected maximum of {len(compared)} noise draws, "
        f"at most the distance to the median score)"
    ), measured)  # fmt: skip
