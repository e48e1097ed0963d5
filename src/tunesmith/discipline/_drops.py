"""The verdict's checks for a drop: the worst slice against the slices' average, and shifted data against
the holdout, each decided beyond the practical limit *and* beyond the noise of the two scores (as the
holdout gap is). Bounded scores (accuracy, an error rate) read in points, other metrics relative to the
reference; a drop whose noise is unknown is not checked, and says what to return."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tunesmith.discipline._reruns import SeedRun, across_runs
from tunesmith.discipline.conventions import SLICE, slices_of
from tunesmith.discipline.gap import Z_ONE_SIDED_95, Noise, more_data, noise_of, scored_in_points
from tunesmith.discipline.verdict import Check
from tunesmith.objective import Metric

__all__ = ["shifted_check", "slice_check"]

_LEVEL = 0.05  # one-sided, shared among the slices when the worst of several is judged


@dataclass(frozen=True)
class _Side:
    value: float
    noise: Noise | None


def _drop(metric: Metric, name: str, reference: _Side, worse: _Side, threshold: float, points: bool, z: float,
          compared: str, correlated: float = 0.0) -> Check:  # fmt: skip
    """``worse`` against ``reference``: fails beyond ``threshold`` and beyond ``z`` standard errors of the
    difference (``correlated``: the share of ``worse``'s variance inside ``reference``, for a slice in its
    own average)."""
    scale = 1.0 if points else max(abs(reference.value), 1e-12)
    drop = metric.sign() * (worse.value - reference.value) / scale
    show = (lambda v: f"{v * 100:+.1f} points") if points else (lambda v: f"{v:+.1%}")
    limit = f"limit {show(threshold).lstrip('+')}"
    if reference.noise is None or worse.noise is None:
        # A side's noise is not taken for the other's: a shifted set of 10 examples is far noisier than a
        # holdout of 2,000, and assuming them alike failed 26% of pure-noise comparisons.
        unknown = " and ".join(side for side, known in (("the reference", reference), ("the compared score", worse))
                               if known.noise is None)  # fmt: skip
        return Check(name, True, (
            f"{compared}: {show(drop)} ({limit}), but the noise of {unknown} is unknown, so it cannot be told from "
            "sampling noise: return per-example values (one value per example of each slice, of the holdout and of "
            "the shifted set)"), checked=False)  # fmt: skip
    ref_se, worse_se = reference.noise.stderr, worse.noise.stderr
    variance = (1.0 - correlated) ** 2 * worse_se**2 + ref_se**2 - (correlated**2) * worse_se**2
    stderr = math.sqrt(max(variance, 0.0)) / scale
    flagged = drop > threshold and drop > z * stderr
    if flagged:
        outcome = "beyond the limit and beyond noise"
    elif drop > threshold:
        more = more_data(drop / stderr, "the examples", z) if stderr > 0 else "more examples would decide"
        outcome = f"beyond the limit but within noise: not evidence of a drop, nor of its absence; {more}"
    else:
        outcome = "within the limit"
    spread = show(stderr).lstrip("+")
    detail = f"{compared}: {show(drop)} +- {spread} ({limit}; a drop beyond {z:.2f} standard errors): {outcome}"
    return Check(name, not flagged, detail, decided=flagged or drop <= threshold)


def slice_check(
    metric: Metric,
    scores: Mapping[str, float],
    key: str,
    runs: Sequence[SeedRun],
    slices_seen: Mapping[str, float] | None,
    threshold: float,
) -> tuple[Check, dict[str, float]]:
    """The worst slice against the average of the slices, on the holdout (``slice:<name>:<key>``), else on the
    winner's re-runs (``slices_seen``: their means; ``runs``: the runs, whose spread across seeds is the noise).
    The worst of ``k`` slices is picked, so the test is one-sided at 5% over ``k`` (Bonferroni)."""
    name = "worst slice"
    slices, where = slices_of(scores, [key, metric.name]), "holdout"
    of = next((m for m in (key, metric.name) if any(k.startswith(SLICE) and k.endswith(f":{m}") for k in scores)), key)
    noises: dict[str, Noise | None] = {s: noise_of(scores, f"{SLICE}{s}:{of}") for s in slices}
    if not slices and slices_seen:
        slices, where = dict(slices_seen), "validation, across seeds"
        noises = {s: _across_seeds(runs, s, metric.name) for s in slices}
    if len(slices) < 2:
        return Check(name, True, "no per-slice metrics reported (slice:<name>:<metric> keys)", checked=False), {}
    k = len(slices)
    average = sum(slices.values()) / k
    worst = max(slices, key=lambda s: metric.sign() * slices[s])
    average_noise = worst_noise = None
    if all(n is not None for n in noises.values()):  # one slice's noise is never taken for another's
        errors = {s: n.stderr for s, n in noises.items() if n is not None}
        average_noise = Noise(math.sqrt(sum(e**2 for e in errors.values())) / k, "the slices")
        worst_noise = Noise(errors[worst], "its examples")
    from scipy.stats import norm

    z = float(norm.ppf(1.0 - _LEVEL / k))
    points = scored_in_points(metric, list(slices.values()))
    compared = f"slice {worst!r} {metric.name} {slices[worst]:.4g} vs slice average {average:.4g} ({where})"
    check = _drop(metric, name, _Side(average, average_noise), _Side(slices[worst], worst_noise), threshold, points,
                  z, compared, correlated=1.0 / k)  # fmt: skip
    if not check.passed:
        check = Check(name, False, check.detail + " - wins on average but collapses on a slice")
    return check, slices


def _across_seeds(runs: Sequence[SeedRun], slice_name: str, metric: str) -> Noise | None:
    """A slice's noise in the re-runs: its spread across seeds over the square root of their number, with the
    runs' per-example standard error when they carry one (the same examples in every run)."""
    measured = across_runs(runs, f"{SLICE}{slice_name}:{metric}")
    return None if measured is None or measured[2] < 2 else measured[1]


def shifted_check(metric: Metric, holdout: float, holdout_noise: Noise | None, shifted: float | None,
                  shifted_noise: Noise | None, threshold: float) -> Check:  # fmt: skip
    """The shifted or time-split score against the holdout score."""
    name = "shifted data"
    if shifted is None:
        return Check(name, True, "no shifted or time-split test set given", checked=False)
    points = scored_in_points(metric, [holdout, shifted])
    compared = f"shifted {metric.name} {shifted:.4g} vs holdout {holdout:.4g}"
    return _drop(metric, name, _Side(holdout, holdout_noise), _Side(shifted, shifted_noise), threshold, points,
                 Z_ONE_SIDED_95, compared)  # fmt: skip


