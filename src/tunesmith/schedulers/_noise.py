"""The step-to-step noise of learning curves, for schedulers that compare trials on noisy reports.

A curve's noise is a robust standard deviation from its second differences: a smooth trend barely moves
them, and each is the sum of three noisy points (variance ``6 sigma**2``). The study's noise is the median
over its curves, so one erratic curve does not set it. `tunesmith.analysis.curves` reads curve signatures
with the same `step_noise` (it lives in the core, which may not import the analysis layer).

Second differences assume independent steps. A member's loss often wanders instead (SGD's does: each step
moves the weights a little from where the last left them), and the mean of a few such reports is far noisier
than they say: `window_noise` measures the noise of a window's mean allowing for that correlation (PBT), and
`report_noise` that of a single report, which wanders as far as the noise does (MedianStop).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from tunesmith.trial import TrialRecord

__all__ = [
    "ReportNoise",
    "WindowNoise",
    "losses",
    "one_sided",
    "report_noise",
    "step_noise",
    "study_noise",
    "window_noise",
]

# Median absolute deviation of a standard normal: MAD / 0.6745 estimates its standard deviation.
_MAD_TO_SD = 0.6745


def losses(record: TrialRecord, metric: str, sign: float, up_to: float = math.inf) -> list[float]:
    """The finite values of ``metric`` that ``record`` reported at steps up to ``up_to``, in step order, as losses
    (``sign * value``: lower is better)."""
    values = (record.intermediate[s].get(metric) for s in sorted(record.intermediate) if s <= up_to)
    return [sign * v for v in values if v is not None and math.isfinite(v)]


def step_noise(values: Sequence[float] | np.ndarray) -> float | None:
    """A curve's step-to-step noise (a standard deviation) from its second differences; ``None`` for fewer than
    4 points."""
    if len(values) < 4:
        return None
    return float(np.median(np.abs(np.diff(np.asarray(values, dtype=float), 2)))) / _MAD_TO_SD / math.sqrt(6.0)


def study_noise(curves: Iterable[Sequence[float]]) -> float:
    """The median of the curves' step-to-step noise (0 when no curve has 4 points: nothing to measure it on)."""
    noises = [n for curve in curves if (n := step_noise(curve)) is not None]
    return float(np.median(noises)) if noises else 0.0


def one_sided(level: float) -> float:
    """The standard normal quantile a one-sided test at ``level`` must exceed (2.33 at 0.01)."""
    return NormalDist().inv_cdf(1.0 - level)


# The noise of a window's mean when a member's reports are correlated (`window_noise`).
# The largest lag-1 correlation allowed for: a correlation time of about 10 reports. Slower wandering cannot be told
# from a real difference in a few rounds' reports, so it is taken for one.
RHO_MAX = 0.9
# Where the calibration is drawn: finest where the window mean's variance grows fastest.
_RHOS = (0.0, 0.2, 0.4, 0.6, 0.7, 0.8, 0.9)
_FINE = np.linspace(0.0, RHO_MAX, 91)  # where the expected residual sums are tabulated, to invert them
_RHO_CONFIDENCE = 0.05  # one-sided: the correlation allowed for is the upper bound at this level
_DRAWS = 2000
MIN_REPORTS = 3  # per member: how far the noise wanders shows from 3 (2 give a single scatter), a line's too


@dataclass(frozen=True)
class WindowNoise:
    """The noise of the difference between two members' means over their last ``window`` reports (`window_noise`)."""

    stderr: float  # the standard error of that difference
    bar: float  # the gap, in ``stderr``, that noise alone exceeds with chance ``level`` between the ranks asked
    sd: float  # a report's noise about its member's trend (a standard deviation)
    rho: float  # the lag-1 correlation of the reports allowed for: the upper bound the residuals leave
    reports: int  # the reports per member it was measured on
    members: int  # the members it was measured on
    trend: bool  # whether ``stderr`` is the one less each member's own linear trend (a real difference in pace)


def window_noise(curves: np.ndarray, window: int, ranked: int, position: int, donor: int, level: float) -> WindowNoise:
    """The standard error of the difference between two members' means over their last ``window`` reports, and
    the bar that difference must clear at ``level``: the members are ranked ``position`` and ``donor`` (0 the best)
    of the ``ranked`` members a mean over the window ranks, and the noise is measured on ``curves``, the losses
    (``members x reports``, `MIN_REPORTS` at least, at the same consecutive steps ending at the window's last or
    before it) of the members that share them.

    The members' shared shape is their median at each step, once each member's level is taken out (a median of the
    losses themselves jumps from member to member where curves cross). Each member's residual about it, less its own
    level, is fitted by an AR(1) process: the trimmed means over the members of the residuals' lag-1
    autocorrelation and sum of squares are matched to their exact expectations, which allow for the level taken out.
    The variance of a mean of ``window`` reports follows, ``sd**2 / window * (1 + 2 * sum((1 - h / window) *
    rho**h))``, at the upper one-sided 95% bound on ``rho`` rather than at its estimate: from a few reports the
    estimate is low when the correlation is high, just when the standard error would then be too small. The same is
    done less each member's own linear trend too: members whose pace differs (learning rates) leave trends that
    would read as wandering noise. The smaller of the two standard errors is taken.

    The bar is the ``1 - level`` quantile of the same statistic (the gap over that standard error, all of it
    measured again, the smaller of the two taken) among ``ranked`` identical members with AR(1) noise: the extremes
    of a population trail each other by more than a pair does, a standard error read off a few reports has heavy
    tails, and taking the smaller of two is paid for here. It is the largest over the correlations up to the lower
    of the two bounds: ``level`` where the correlation is known, at most ``level`` + 10% (what the bounds may miss)
    where it is not, and in simulation about ``level`` (`PBT`'s table). When a member's window is all it reported,
    its level takes the evidence on how far its noise wanders, and the bound stays high. The quantiles are drawn once
    per shape from a fixed seed (`_calibration`), so decisions stay a pure function of the history.
    """
    members, reports = curves.shape
    calibration = _calibration(ranked, members, reports, window, position, donor, level)
    centred = _centred(curves)
    fits: list[tuple[float, bool, float, float]] = []  # (variance of a mean, trend taken out, rho allowed, spread)
    for trend, bounds in calibration.bounds.items():
        rho_hat, spread = _fit(centred, trend)
        allowed = float(_bound(rho_hat, bounds))
        fits.append((float(_variance(spread, allowed, reports, window, trend)), trend, allowed, float(spread)))
    best = min(fits)
    # The bar at every correlation up to the lower of the bounds (both hold it with 95%), the grid point at or
    # above it included.
    top = int(np.searchsorted(_RHOS, min(fit[2] for fit in fits) - 1e-12))
    bar = float(np.max(calibration.bars[: top + 1]))
    _, expected, _ = _design(reports, best[1])
    sd = math.sqrt(max(best[3] / float(np.interp(best[2], _FINE, expected)), 0.0))
    return WindowNoise(math.sqrt(2.0 * best[0]), bar, sd, best[2], reports, members, best[1])


# The populations `report_noise`'s bar is drawn for: a population between two is drawn as the smaller (more members
# measure the noise better, so a bar drawn for fewer holds for them, a little high), so a few drawings serve all.
_REPORT_MEMBERS = (3, 4, 6, 8, 12)


@dataclass(frozen=True)
class ReportNoise:
    """The noise of one member's report against the median of the others' at the same step (`report_noise`)."""

    sd: float  # a report's noise about its member's level (and trend): the standard deviation of one report
    bar: float  # the gap, in `stderr`, that noise alone exceeds with chance ``level``
    rho: float  # the lag-1 correlation of the reports allowed for: the upper bound the residuals leave
    reports: int  # the reports per member it was measured on
    members: int  # the members it was measured on
    trend: bool  # whether ``sd`` is the one less each member's own linear trend (a real difference in pace)

    def stderr(self, peers: int) -> float:
        """The standard error of a member's report less the median of ``peers`` others': one report's noise, and the
        median's, ``sqrt(pi / 2 peers)`` of it."""
        return self.sd * math.sqrt(1.0 + math.pi / (2.0 * peers))


def report_noise(curves: np.ndarray, level: float) -> ReportNoise:
    """The noise of one report, and the bar a member's latest report less the median of the others' must clear in
    `ReportNoise.stderr` at ``level``, measured on ``curves``: the losses (``members x reports``, 3 members and
    `MIN_REPORTS` reports at least, at the same consecutive steps) of the member judged and of peers that share them.

    A report's noise is what moves it from its member's expected curve, the wandering part too: when reports are
    correlated, a member's level over a few of them is mostly noise that the step-to-step scatter does not show.
    It is fitted as in `window_noise` (an AR(1) process about the members' shared shape, less each member's level,
    and less its linear trend too, the smaller taken) and read at the upper one-sided 95% bound on the lag-1
    correlation: the variance of a single report is ``sd**2``, however far it wanders.

    The bar is the ``1 - level`` quantile of the same statistic (one member's last report less the median of the
    others', over the standard error all measured again) among identical members with AR(1) noise, the largest over
    the correlations up to the lower of the two bounds: a standard error read off a few reports has heavy tails,
    and taking the smaller of two is paid for here. It is drawn for the members of `_REPORT_MEMBERS` at or below
    ``members``, once per shape from a fixed seed, so decisions stay a pure function of the history.
    """
    members, reports = curves.shape
    drawn = max(m for m in _REPORT_MEMBERS if m <= max(members, _REPORT_MEMBERS[0]))
    calibration = _report_calibration(drawn, reports, level)
    centred = _centred(curves)
    fits: list[tuple[float, bool, float]] = []  # (variance of a report, trend taken out, rho allowed)
    for trend, bounds in calibration.bounds.items():
        rho_hat, spread = _fit(centred, trend)
        allowed = float(_bound(rho_hat, bounds))
        fits.append((float(_variance(spread, allowed, reports, 1, trend)), trend, allowed))
    best = min(fits)
    top = int(np.searchsorted(_RHOS, min(fit[2] for fit in fits) - 1e-12))
    bar = float(np.max(calibration.bars[: top + 1]))
    return ReportNoise(math.sqrt(max(best[0], 0.0)), bar, best[2], reports, members, best[1])


@functools.lru_cache(maxsize=512)
def _report_calibration(members: int, reports: int, level: float) -> _Calibration:
    """`report_noise`'s quantiles for a shape, from `_DRAWS` populations of ``members`` identical members with AR(1)
    noise at each of `_RHOS` (the same normal draws for each): the first member's last report against the median of
    the others'."""
    normals = np.random.default_rng(0).standard_normal((_DRAWS, members, reports))
    series = [_ar1(normals, rho) for rho in _RHOS]
    centred = [_centred(s) for s in series]
    trends = (False, True)
    fits = {trend: [_fit(c, trend) for c in centred] for trend in trends}
    bounds = _bounds(fits)
    with_median = math.sqrt(1.0 + math.pi / (2.0 * (members - 1)))  # `ReportNoise.stderr` over ``sd``
    bars = []
    for at, s in enumerate(series):
        variances = []
        for trend in trends:
            rho_hat, squares = fits[trend][at]
            variances.append(_variance(squares, _bound(rho_hat, bounds[trend]), reports, 1, trend))
        stderr = np.sqrt(np.min(variances, axis=0)) * with_median
        gap = s[:, 0, -1] - np.median(s[:, 1:, -1], axis=-1)
        bars.append(float(np.quantile(gap / np.maximum(stderr, 1e-300), 1.0 - level)))
    return _Calibration(bounds, np.asarray(bars))


@dataclass(frozen=True)
class _Calibration:
    bounds: dict[bool, np.ndarray]  # by trend taken out: at each of `_RHOS`, a low quantile of the estimated rho
    bars: np.ndarray  # at each of `_RHOS`, the ``1 - level`` quantile of the gap in standard errors


@functools.lru_cache(maxsize=64)
def _calibration(
    ranked: int, members: int, reports: int, window: int, position: int, donor: int, level: float
) -> _Calibration:
    """`window_noise`'s quantiles for a shape, from `_DRAWS` populations of ``ranked`` identical members with AR(1)
    noise at each of `_RHOS` (the same normal draws for each, so the quantiles move smoothly with the
    correlation): the gap is between the members ranked ``position`` and ``donor``, the noise measured on the first
    ``members``."""
    # The ranking window may reach past the reports measured (peers behind): both end together here.
    normals = np.random.default_rng(0).standard_normal((_DRAWS, ranked, max(reports, window)))
    series = [_ar1(normals, rho) for rho in _RHOS]
    centred = [_centred(s[:, :members, -reports:]) for s in series]
    trends = (False, True)
    fits = {trend: [_fit(c, trend) for c in centred] for trend in trends}
    bounds = _bounds(fits)
    bars = []
    for at, s in enumerate(series):
        variances = []
        for trend in trends:
            rho_hat, spread = fits[trend][at]
            variances.append(_variance(spread, _bound(rho_hat, bounds[trend]), reports, window, trend))
        stderr = np.sqrt(2.0 * np.min(variances, axis=0))
        means = np.sort(s[:, :, -window:].mean(axis=-1), axis=-1)
        gap = means[:, position] - means[:, donor]
        bars.append(float(np.quantile(gap / np.maximum(stderr, 1e-300), 1.0 - level)))
    return _Calibration(bounds, np.asarray(bars))


def _bounds(fits: dict[bool, list[tuple[np.ndarray, np.ndarray]]]) -> dict[bool, np.ndarray]:
    """By trend taken out, at each of `_RHOS`: the `_RHO_CONFIDENCE` quantile of the estimated correlation drawn there,
    never falling as the correlation rises (so that `_bound` can invert it)."""
    return {
        trend: np.maximum.accumulate([float(np.quantile(rho_hat, _RHO_CONFIDENCE)) for rho_hat, _ in at])
        for trend, at in fits.items()
    }


def _ar1(normals: np.ndarray, rho: float) -> np.ndarray:
    """Unit-variance AR(1) series along the last axis, from standard normals."""
    out = normals.copy()
    for step in range(1, out.shape[-1]):
        out[..., step] = rho * out[..., step - 1] + math.sqrt(1.0 - rho * rho) * normals[..., step]
    return out


@functools.lru_cache(maxsize=128)
def _design(reports: int, trend: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The matrix that leaves a member's residual about its own level (and trend), and the expected sum of squares
    and lag-1 sum of products of that residual for unit-variance AR(1) noise, at each correlation of `_FINE`."""
    centred = np.arange(reports, dtype=float) - (reports - 1) / 2
    x = np.column_stack([np.ones(reports), centred] if trend else [np.ones(reports)])
    residual = np.eye(reports) - x @ np.linalg.pinv(x)
    powers = _FINE[:, None] ** np.arange(reports)
    expected = []
    for lag in (0, 1):
        # E[e' B e] = sum_ij B_ij rho^|i-j|: B's diagonals weighted by powers of rho.
        b = residual @ np.eye(reports, k=lag) @ residual
        b = (b + b.T) / 2.0
        diagonals = np.array([np.trace(b, offset=h) * (1.0 if h == 0 else 2.0) for h in range(reports)])
        expected.append(powers @ diagonals)
    return residual, expected[0], expected[1]


def _centred(curves: np.ndarray) -> np.ndarray:
    """Each member's losses less their mean, about the members' median of those at each step: the shared shape of
    the curves, whatever their levels (a median of the losses themselves jumps from member to member where curves
    cross)."""
    curves = curves - curves.mean(axis=-1, keepdims=True)
    return curves - _median_of_members(curves)


def _median_of_members(curves: np.ndarray) -> np.ndarray:
    """``np.median(curves, axis=-2, keepdims=True)`` to the bit, for finite losses: sorting along the members is an
    order of magnitude faster than the partition ``np.median`` runs there, and the calibrations take thousands."""
    members = curves.shape[-2]
    ordered = np.sort(curves, axis=-2)
    middle = ordered[..., members // 2 : members // 2 + 1, :]
    return middle if members % 2 else (ordered[..., members // 2 - 1 : members // 2, :] + middle) / 2.0


def _trimmed(values: np.ndarray) -> np.ndarray:
    """The mean over members (the last axis) without the highest and lowest sixth (the highest and lowest one of 3
    to 5): a member far off the others (a diverging one, one whose curve has another shape) does not set the
    noise."""
    members = values.shape[-1]
    cut = 1 if 3 <= members < 6 else members // 6
    return np.sort(values, axis=-1)[..., cut : members - cut].mean(axis=-1)


def _fit(centred: np.ndarray, trend: bool) -> tuple[np.ndarray, np.ndarray]:
    """From the members' `_centred` losses less each one's own level (and trend): the lag-1 correlation of their
    noise (0 to `RHO_MAX`), the trimmed mean of the members' lag-1 autocorrelations matched to its expectation, and
    the trimmed mean of their sums of squares."""
    residual, expected_squares, expected_products = _design(centred.shape[-1], trend)
    r = centred @ residual
    squares = np.sum(r * r, axis=-1)
    products = np.sum(r[..., 1:] * r[..., :-1], axis=-1)
    ratio = _trimmed(np.divide(products, squares, out=np.zeros_like(products), where=squares > 0))
    expected = expected_products / expected_squares
    if expected[-1] - expected[0] < 1e-9:  # 3 reports less a line leave one residual, the same at any correlation
        return np.zeros_like(ratio), _trimmed(squares)
    return np.interp(ratio, expected, _FINE), _trimmed(squares)


def _bound(rho_hat: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """The largest correlation (between grid points, linearly) whose `_RHO_CONFIDENCE` quantile of the estimate is
    at most ``rho_hat``: the upper confidence bound."""
    rhos = np.asarray(_RHOS)
    below = np.clip(np.searchsorted(bounds, rho_hat, side="right") - 1, 0, len(rhos) - 1)
    upper = np.minimum(below + 1, len(rhos) - 1)
    width = bounds[upper] - bounds[below]
    share = np.clip(np.divide(rho_hat - bounds[below], width, out=np.zeros_like(width), where=width > 0), 0, 1)
    return np.where(below == len(rhos) - 1, rhos[-1], rhos[below] + share * (rhos[upper] - rhos[below]))


def _variance(spread: np.ndarray, rho: np.ndarray | float, reports: int, window: int, trend: bool) -> np.ndarray:
    """The variance of a mean of ``window`` consecutive reports of AR(1) noise at ``rho`` whose residuals' expected
    sum of squares is ``spread``."""
    _, expected, _ = _design(reports, trend)
    lags = np.arange(1, window)
    rho = np.asarray(rho, dtype=float)
    inflation = 1.0 + 2.0 * np.sum((1.0 - lags / window) * rho[..., None] ** lags, axis=-1)
    return spread / np.interp(rho, _FINE, expected) * inflation / window
