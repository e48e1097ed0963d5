"""The sampling noise of one recorded score: what `noise_of` reads beside it.

An objective records a score's noise in its metrics: ``stderr:<name>`` (with ``count:<name>``) when it returns
per-example values, or ``fold:<i>:<name>`` when it returns per-fold ones. The verdict's checks and the report read
it here, so that each says the same of one score.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass

from tunesmith.objective import COUNT, STDERR, Metric, folds_of

__all__ = ["Noise", "metric_noise", "noise_of", "point_unit"]


@dataclass(frozen=True)
class Noise:
    """The standard error of one score, where it came from (``"200 examples"``, ``"5 folds"``) and, for a mean of
    per-example values, how many examples it averages (``None`` otherwise). ``floor`` is the part that more
    examples do not shrink: the seed-to-seed spread of one run, for a score read on one seed whose noise is
    that spread (0 for sampling noise). ``dof``: the degrees of freedom ``stderr`` was estimated with when it
    is read from a spread over a few values (n - 1 over n runs, k - 1 over k folds), so that a decision on it
    reads Student's t; ``None`` when it does not say (a mean of ``examples`` per-example values has
    ``examples - 1``)."""

    stderr: float
    source: str
    examples: int | None = None
    floor: float = 0.0
    dof: float | None = None


def noise_of(metrics: Mapping[str, float], name: str, scale: float = 1.0) -> Noise | None:
    """The sampling noise of ``metrics[name]``: per-example standard error, else the spread of its
    per-fold values over the square root of their count; ``None`` when the result carries neither. ``scale`` is
    the full range of a proportion's values (100 for a percentage: per-example values of 0 and 100), for a score
    whose examples all agree. A ``stderr:<name>`` of 0 the objective recorded itself (no ``count:<name>`` beside
    it: not read from per-example values) is an exact measurement, a parameter count say: noise 0 on infinite
    degrees of freedom, which decides, where it read as no noise recorded and no bound on it could ever hold."""
    stderr = metrics.get(f"{STDERR}{name}")
    if stderr is not None and math.isfinite(stderr):
        count = metrics.get(f"{COUNT}{name}")
        if stderr == 0 and not count:  # recorded so by the objective, not read from per-example values: exact
            return Noise(0.0, f"exact ({STDERR}{name} recorded as 0)", dof=math.inf)
        if stderr == 0:  # every example alike: a perfect (or nil) score still carries its sampling noise
            return _all_alike(metrics.get(name), count, scale)
        examples = int(count) if count and count >= 2 else None
        # Without a count the objective gave the standard error itself (a bootstrap's, say), no values behind it.
        return Noise(float(stderr), f"{int(count)} examples" if count else f"its recorded {STDERR}{name}", examples)
    folds = folds_of(metrics, name)
    if len(folds) >= 2:
        return Noise(statistics.stdev(folds) / math.sqrt(len(folds)), f"{len(folds)} folds", dof=len(folds) - 1)
    return None


def _all_alike(value: float | None, count: float | None, scale: float = 1.0) -> Noise | None:
    """The noise of a score whose examples all agree: for a proportion (every example right, or every one
    wrong, on a ``scale`` of 1 or 100) the standard error of the adjusted proportion (x + 1) / (n + 2), which a
    sample of n cannot rule out; for anything else unknown (``None``)."""
    if value is None or value / scale not in (0.0, 1.0) or not count or count < 1:
        return None
    n = float(count)
    adjusted = (n * float(value) / scale + 1.0) / (n + 2.0)
    return Noise(scale * math.sqrt(adjusted * (1.0 - adjusted) / n), f"{int(n)} examples, all alike",
                 int(n) if n >= 2 else None)  # fmt: skip


def point_unit(metric: Metric) -> float:
    """What one whole of ``metric`` is when its differences read in points (a point is a hundredth of it): its
    declared scale, else 1 (a score in [0, 1], a correlation in [-1, 1], R^2); the full range `noise_of` reads a
    proportion whose examples all agree on."""
    return 1.0 if metric.scale is None else metric.scale


def metric_noise(metrics: Mapping[str, float], metric: Metric) -> Noise | None:
    """`noise_of` ``metric``'s value in ``metrics``, read on its scale (`point_unit`): a percentage right on every
    example carries the noise the same fraction does."""
    return noise_of(metrics, metric.name, point_unit(metric))
