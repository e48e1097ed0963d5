"""Failure signatures read off each trial's learning curve.

A curve is the study's metric (or another reported metric) by step, turned into a loss
(lower is better) by the metric's direction. Each finished trial gets one signature, the first
that applies in this order:

- **diverged**: the trial ended as `TrialKind.DIVERGED`, or its curve or final metric holds
  a NaN or an infinity, or the loss ended far above where it started (it exploded).
- **overfitting**: the curve reached its minimum before the end, then climbed back steadily (a
  least-squares slope above zero by two standard errors) by a sizeable share of what it had gained.
- **unstable**: the curve rebounded by a large amount at least twice (large oscillation).
- **underfitting**: the curve flattened out while still far above the best value any trial
  had reached by the same step.
- **healthy**: none of the above.

"Large" and "far" are measured against the study itself: the *gap* at step ``t`` is the
distance from the typical starting loss (the median of the first reported values) down to the
best loss reached by any trial at or before ``t``. The thresholds are fractions of that gap
(see `SignatureThresholds`), so the rules do not depend on the metric's units. A rise must also
stand out of the study's measurement noise: three standard errors of the difference of two points,
the noise being the median over the curves of a robust step-to-step spread (from second
differences). Without that, 30 trials with one true curve scored on 500 examples each epoch drew
"unstable" or "overfitting" for 43% of them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

import numpy as np

from tunesmith._validate import integer, real
from tunesmith.analysis._common import as_metric, format_value
from tunesmith.objective import Metric
from tunesmith.schedulers._noise import step_noise
from tunesmith.trial import TrialKind, TrialRecord, TrialState

__all__ = ["CurveDiagnosis", "Signature", "SignatureThresholds", "classify_curves", "signature_counts"]


class Signature(Enum):
    """The failure signature of one trial's learning curve."""

    DIVERGED = "diverged"
    UNSTABLE = "unstable"
    OVERFITTING = "overfitting"
    UNDERFITTING = "underfitting"
    HEALTHY = "healthy"

    @property
    def is_failure(self) -> bool:
        return self is not Signature.HEALTHY


@dataclass(frozen=True)
class SignatureThresholds:
    """How far a curve must go to earn a signature; every fraction is of the study's gap (see module docs).

    Attributes:
        explode: diverged when the final loss exceeds the first by this fraction of
            ``max(|first|, gap)`` (1.0: the loss doubled).
        rebound: a rise of at least this fraction of the gap counts as a rebound; two or more
            rebounds make a curve unstable.
        overfit_rise: overfitting when the loss climbs back from its minimum by this fraction of
            what it had gained from its start to that minimum (and by at least ``rebound / 2`` of the gap).
        underfit_gap: underfitting when more than this fraction of the gap is still open at the
            last step.
        plateau: and the last third of the curve closed less than this fraction of the gap.
        min_points: curves with fewer finite points are judged only for divergence.
    """

    explode: float = 1.0
    rebound: float = 0.25
    overfit_rise: float = 0.2
    underfit_gap: float = 0.5
    plateau: float = 0.2
    min_points: int = 3

    def __post_init__(self) -> None:
        for name in ("explode", "rebound", "overfit_rise", "underfit_gap", "plateau"):
            real(name, getattr(self, name), exclusive_minimum=0, finite=False)
        integer("min_points", self.min_points, minimum=2)


@dataclass(frozen=True)
class CurveDiagnosis:
    """The signature of one trial and the evidence for it, in words."""

    number: int
    signature: Signature
    detail: str


def classify_curves(
    records: Iterable[TrialRecord],
    metric: Metric | str,
    *,
    curve_metric: str | None = None,
    thresholds: SignatureThresholds | None = None,
) -> dict[int, CurveDiagnosis]:
    """The signature of every finished trial that has a curve (or a non-finite result).

    Args:
        records: the study's trials; running, paused and invalidated ones are skipped.
        metric: the study's metric; its direction orients the curves.
        curve_metric: the reported metric to read curves from (default: ``metric``'s name).
        thresholds: the rules' thresholds.

    Returns:
        Trial number -> diagnosis. Finished trials with no curve and a finite (or no) result,
        such as crashes before the first report, are left out.
    """
    metric_ = as_metric(metric)
    name = curve_metric or metric_.name
    rules = thresholds or SignatureThresholds()
    sign = metric_.sign()
    curves: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    finished = [r for r in records if r.state.is_finished and r.invalidated is None]
    for record in finished:
        points = record.curve(name)
        if points:
            steps = np.array([s for s, _ in points], dtype=float)
            values = sign * np.array([v for _, v in points], dtype=float)
            curves[record.number] = (steps, values)
    reference = _Reference.of(curves.values())
    out: dict[int, CurveDiagnosis] = {}
    shaped: list[tuple[int, tuple[np.ndarray, np.ndarray]]] = []
    # Cut short by the scheduler or the budget: the curve ends where training was stopped, not where it levelled.
    truncated = {r.number for r in finished if r.state is TrialState.STOPPED and r.kind in _CUT_SHORT}
    for record in finished:
        curve = curves.get(record.number)
        final = record.metrics.get(name)
        diverged = _divergence(record, curve, final, name, reference, rules)
        if diverged is not None:
            out[record.number] = CurveDiagnosis(record.number, Signature.DIVERGED, diverged)
        elif curve is not None:
            shaped.append((record.number, curve))
    # The step-to-step noise typical of the study's curves (the median over them): a rise no larger than
    # that is measurement noise, not a rebound, in a study whose every curve is that noisy.
    noise = float(np.median([_noise(c[1]) for _, c in shaped])) if shaped else 0.0
    for number, curve in shaped:
        signature, detail = _shape(curve, reference, rules, name, sign, noise, number in truncated)
        out[number] = CurveDiagnosis(number, signature, detail)
    return dict(sorted(out.items()))


@dataclass(frozen=True)
class _Reference:
    """What a curve is compared with: the typical start and the best loss reached by each step."""

    start: float
    steps: np.ndarray
    best_by_step: np.ndarray

    @classmethod
    def of(cls, curves: Iterable[tuple[np.ndarray, np.ndarray]]) -> _Reference:
        firsts: list[float] = []
        all_steps: list[np.ndarray] = []
        all_values: list[np.ndarray] = []
        for steps, values in curves:
            finite = np.isfinite(values)
            if finite.any():
                firsts.append(float(values[finite][0]))
                all_steps.append(steps[finite])
                all_values.append(values[finite])
        if not firsts:
            return cls(math.nan, np.zeros(0), np.zeros(0))
        steps = np.concatenate(all_steps)
        values = np.concatenate(all_values)
        order = np.argsort(steps, kind="stable")
        return cls(float(np.median(firsts)), steps[order], np.minimum.accumulate(values[order]))

    def best_at(self, step: float) -> float:
        index = int(np.searchsorted(self.steps, step, side="right")) - 1
        return float(self.best_by_step[index]) if index >= 0 else math.nan

    def gap_at(self, step: float) -> float:
        """Typical start minus the best loss by ``step`` (``NaN`` when not positive)."""
        gap = self.start - self.best_at(step)
        return gap if gap > 0 else math.nan


def _divergence(
    record: TrialRecord,
    curve: tuple[np.ndarray, np.ndarray] | None,
    final: float | None,
    name: str,
    reference: _Reference,
    rules: SignatureThresholds,
) -> str | None:
    if record.kind is TrialKind.DIVERGED:
        return record.error or f"stopped as diverged ({name} not finite)"
    if curve is not None:
        steps, values = curve
        bad = ~np.isfinite(values)
        if bad.any():
            index = int(np.argmax(bad))
            return f"{name} is {values[index] if not np.isnan(values[index]) else 'nan'} at step {int(steps[index])}"
    if final is not None and not math.isfinite(final):
        return f"final {name} is {final}"
    if curve is not None and len(curve[1]) >= 2:
        values = curve[1]
        gap = reference.gap_at(float(curve[0][-1]))
        scale = max(abs(float(values[0])), gap if math.isfinite(gap) else 0.0, 1e-12)
        if values[-1] - values[0] > rules.explode * scale:
            return f"{name} exploded from {format_value(float(values[0]))} to {format_value(float(values[-1]))}"
    return None


def _shape(
    curve: tuple[np.ndarray, np.ndarray],
    reference: _Reference,
    rules: SignatureThresholds,
    name: str,
    sign: float,
    noise: float,
    truncated: bool = False,
) -> tuple[Signature, str]:
    steps, values = curve
    last_step = float(steps[-1])
    gap = reference.gap_at(last_step)
    if not math.isfinite(gap):
        return Signature.HEALTHY, "no study-wide gap to compare with"
    shown = _Shown(sign)
    # A rise between two of the curve's own points must also stand out of its step-to-step noise: the
    # difference of two noisy points, taken between a low and a high the noise may have made.
    noise_rise = _NOISE_CUT * math.sqrt(2.0) * noise
    if len(values) >= rules.min_points:
        # A steady climb from the curve's low is overfitting even where noise splits it into several rises.
        low = int(np.argmin(values))
        gained = float(values[0] - values[low])
        climbed = float(values[-1] - values[low])
        steady = _climbs(steps[low:], values[low:])
        if (
            0 < low < len(values) - 1
            and gained > 0
            and steady
            and climbed >= rules.overfit_rise * gained
            and climbed >= max(rules.rebound / 2 * gap, noise_rise)
        ):
            return Signature.OVERFITTING, (
                f"{name} best at step {int(steps[low])} ({shown(values[low])}), "
                f"then worse to {shown(values[-1])} at step {int(last_step)}{_beyond(climbed, noise_rise, ', ')}"
            )
        rises = _rises(values)
        rebounds = [r for r in rises if r >= max(rules.rebound * gap, noise_rise)]
        if len(rebounds) >= 2:
            return Signature.UNSTABLE, (
                f"{len(rebounds)} rebounds of {name}, the largest {format_value(max(rebounds))} "
                f"({max(rebounds) / gap:.0%} of the study's gap{_beyond(max(rebounds), noise_rise)})"
            )
    best = reference.best_at(last_step)
    open_share = float(values[-1] - best) / gap
    third = steps >= steps[0] + (last_step - steps[0]) * 2 / 3
    closed_late = float(values[third][0] - values[-1]) / gap if third.any() else 0.0
    if (
        len(values) >= 2
        and not truncated
        and open_share > rules.underfit_gap
        and float(values[-1] - best) > noise_rise
        and closed_late < rules.plateau
    ):
        return Signature.UNDERFITTING, (
            f"{name} levelled off at {shown(values[-1])} by step {int(last_step)}, "
            f"{open_share:.0%} of the gap above the best by then ({shown(best)})"
        )
    return Signature.HEALTHY, f"{name} reached {shown(values[-1])} at step {int(last_step)}"


# A trial stopped for these reasons was cut short: its curve cannot show that it levelled off (underfitting).
_CUT_SHORT = (TrialKind.SCHEDULER, TrialKind.BUDGET)

# How many standard errors of the difference of two points a rise must exceed to be more than the curve's noise.
_NOISE_CUT = 3.0


def _noise(values: np.ndarray) -> float:
    """The step-to-step noise of a curve: a robust standard deviation from its second differences (which a smooth
    trend barely moves; each is the sum of three noisy points, variance 6 sigma^2); 0 for fewer than 4 points."""
    return step_noise(values) or 0.0


def _climbs(steps: np.ndarray, values: np.ndarray) -> bool:
    """Whether a curve climbs steadily over these points (from its low on): a least-squares slope above zero by
    two of its standard errors, so that noise around a flat end or swings up and down are not a climb, and a
    climb that noise breaks into several rises still is."""
    if len(values) < 3:
        return False
    slope, intercept = np.polyfit(steps, values, 1)
    residual = values - (slope * steps + intercept)
    spread = float(np.sum((steps - steps.mean()) ** 2))
    error = math.sqrt(float(np.sum(residual**2)) / (len(values) - 2) / spread) if spread > 0 else math.inf
    return bool(slope > 0 and slope >= 2.0 * error)


def _beyond(rise: float, noise_rise: float, lead: str = "; ") -> str:
    """How far ``rise`` stands out of the curve's noise, in words (empty when the curve shows none)."""
    if noise_rise <= 0:
        return ""
    return f"{lead}{rise / (noise_rise / _NOISE_CUT):.1f} times the study's step-to-step noise of a difference"


class _Shown:
    """Shows a loss-oriented value in the metric's own sign."""

    def __init__(self, sign: float) -> None:
        self.sign = sign

    def __call__(self, value: float) -> str:
        return format_value(float(self.sign * value))


def _rises(values: np.ndarray) -> list[float]:
    """The size of every run of rising values (a rebound from a local low to the next local high)."""
    rises: list[float] = []
    current = 0.0
    for delta in np.diff(values):
        if delta > 0:
            current += float(delta)
        elif current > 0:
            rises.append(current)
            current = 0.0
    if current > 0:
        rises.append(current)
    return rises


def signature_counts(diagnoses: Mapping[int, CurveDiagnosis]) -> dict[Signature, int]:
    """How many trials have each signature (every signature present, zero when absent)."""
    counts = dict.fromkeys(Signature, 0)
    for diagnosis in diagnoses.values():
        counts[diagnosis.signature] += 1
    return counts
