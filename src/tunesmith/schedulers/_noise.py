"""The step-to-step noise of learning curves, for schedulers that compare trials on noisy reports.

A curve's noise is a robust standard deviation from its second differences: a smooth trend barely moves
them, and each is the sum of three noisy points (variance ``6 sigma**2``). The study's noise is the median
over its curves, so one erratic curve does not set it. `tunesmith.analysis.curves` reads curve signatures
with the same `step_noise` (it lives in the core, which may not import the analysis layer).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from statistics import NormalDist

import numpy as np

from tunesmith.trial import TrialRecord

__all__ = ["losses", "one_sided", "step_noise", "study_noise"]

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
