"""The baseline margin of a multi-objective study: does the baseline dominate the choice beyond noise?

A choice made on a trade-off (a knee, the best latency within an error bound) gives up some of one objective for
another, so beating the baseline on the first objective is no test of it: the baseline, often the accurate but slow
end of the front, may be better on error and far worse on latency. The question is the front's own: whether the
baseline dominates the choice beyond noise, by the rule of `_front.dominance` (beyond the noise on every objective,
one-sided at `DOMINANCE_LEVEL` on each: an intersection-union test).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from statistics import NormalDist
from typing import TYPE_CHECKING

from tunesmith._noise import metric_noise
from tunesmith.attributes import BaselineAttr, SeedCandidateAttr, SeedStabilityAttr, read_attr
from tunesmith.discipline._front import DOMINANCE_LEVEL
from tunesmith.discipline._reruns import BASELINE_NUMBER, SeedRun, across_runs, completed
from tunesmith.discipline.gap import Noise, point_unit
from tunesmith.discipline.verdict import Check
from tunesmith.objective import Metric
from tunesmith.trial import TrialRecord

if TYPE_CHECKING:
    from tunesmith.study import Study

__all__ = ["front_margin"]

# The one-sided level at which the choice is shown better than the baseline on an objective, shared (Bonferroni)
# among the objectives: better beyond noise on any one of them shows the baseline does not dominate it.
_LEVEL = 0.05


class Edge(Enum):
    """How the choice stands against the baseline on one objective."""

    BETTER = "better beyond noise"  # the choice is better beyond the noise
    WORSE = "worse beyond noise"  # the baseline is better beyond the noise (or level, where the noise is exactly 0)
    WITHIN = "within noise"
    UNKNOWN = "noise unknown"  # neither side records its noise


@dataclass(frozen=True)
class Reading:
    """The choice against the baseline on ``metric``: ``gain`` (positive: the choice is better), the bars it must
    clear to be better (``better_bar``, at the shared level) or worse (``worse_bar``, at the full level) beyond
    noise, and ``how`` the noise was read."""

    metric: Metric
    value: float
    baseline: float
    gain: float
    better_bar: float | None
    worse_bar: float | None
    how: str

    @property
    def edge(self) -> Edge:
        if self.better_bar is None or self.worse_bar is None:
            return Edge.UNKNOWN
        if self.gain > self.better_bar and self.gain > 0:
            return Edge.BETTER
        if -self.gain > self.worse_bar if self.worse_bar > 0 else self.gain <= 0:
            return Edge.WORSE
        return Edge.WITHIN

    def words(self) -> str:
        relation = "better" if self.gain > 0 else "worse" if self.gain < 0 else "no better"
        bars = ("" if self.better_bar is None or self.worse_bar is None
                else f"; beyond noise above {self.better_bar:.3g} better or {self.worse_bar:.3g} worse")  # fmt: skip
        return (f"{self.metric.name} {self.value:.4g} vs baseline {self.baseline:.4g}: {relation} by "
                f"{abs(self.gain):.3g}, {self.edge.value} ({self.how}{bars})")  # fmt: skip


def front_margin(study: Study, record: TrialRecord, entry: SeedCandidateAttr | None, baseline: BaselineAttr) -> Check:
    """The baseline margin of a multi-objective study's choice ``record`` (its re-runs: ``entry``).

    Each objective is read as the single-objective margin reads its metric: paired seed by seed when the choice's
    re-runs and the baseline's share two seeds or more (Student's t on the differences, and the choice's own
    per-example noise, which pairing does not remove), else the two means with their standard errors combined.
    The choice passes when it is better than the baseline beyond noise on some objective (at 5% shared among the
    objectives), so that the baseline does not dominate it; it fails when the baseline is better beyond noise on
    every objective (`_front.dominance`'s rule); otherwise it is undecided, and fails for want of evidence, since
    the burden of proof lies on the choice.
    """
    stability = read_attr(study.attrs, SeedStabilityAttr)
    confirmed = entry is not None and entry.confirm_values is not None
    runs = () if stability is None else (stability.confirm_runs if confirmed else stability.runs) or ()
    chosen = completed(runs, record.number if entry is not None else None)
    base = completed(baseline.runs, BASELINE_NUMBER)
    name = "baseline margin"
    lacking = [m.name for m in study.objectives if not any(m.name in run.metrics for run in base)]
    if lacking:
        return Check(name, False, (
            f"the baseline's runs did not return {', '.join(lacking)}, so the choice cannot be compared with it on "
            f"every objective: return every objective ({', '.join(m.name for m in study.objectives)}) from the "
            "objective and run ts.evaluate_baseline(study, objective) again"), decided=False)  # fmt: skip
    readings = [_reading(m, record, chosen, base, len(study.objectives)) for m in study.objectives]
    detail = "; ".join(r.words() for r in readings)
    edges = [r.edge for r in readings]
    better = [r.metric.name for r in readings if r.edge is Edge.BETTER]
    if better:
        return Check(name, True, f"the baseline does not dominate the choice: the choice is better beyond noise on "
                     f"{', '.join(better)}; {detail}")  # fmt: skip
    if all(e is Edge.WORSE for e in edges):
        return Check(name, False, f"the baseline dominates the choice beyond noise on every objective: the choice "
                     f"does not beat the baseline; {detail}")  # fmt: skip
    if all(e is Edge.UNKNOWN for e in edges) and any(r.gain > 0 for r in readings):
        return Check(name, True, (
            f"no noise is known on any objective, so whether the baseline dominates the choice cannot be told: "
            f"run ts.validate_top(study, objective), which runs the baseline on the same seeds, or return "
            f"per-example values for the objectives; {detail}"), checked=False)  # fmt: skip
    open_ = [r.metric.name for r in readings if r.edge in (Edge.WITHIN, Edge.UNKNOWN)]
    return Check(name, False, (
        f"undecided: the choice is better beyond noise on no objective, and the baseline is not better beyond noise "
        f"on {', '.join(open_)}, so the evidence cannot tell whether the baseline dominates it: more seeds for both "
        f"(ts.validate_top(study, objective, seeds=...)) or more validation examples would decide; {detail}"),
        decided=False)  # fmt: skip


def _reading(metric: Metric, record: TrialRecord, chosen: Sequence[SeedRun], base: Sequence[SeedRun],
             objectives: int) -> Reading:  # fmt: skip
    """The choice against the baseline on ``metric``: paired over the seeds both ran when two or more, else
    unpaired (the choice's re-run mean, or its search result, against the baseline's mean)."""
    level = _LEVEL / max(objectives, 1)
    sampling = metric_noise(record.metrics, metric)
    pairs = _by_seed(chosen, metric.name), _by_seed(base, metric.name)
    seeds = [s for s in pairs[0] if s in pairs[1]]
    if len(seeds) >= 2:
        return _paired(metric, [pairs[0][s] for s in seeds], [pairs[1][s] for s in seeds], sampling, level)
    base_read = across_runs(base, metric.name, point_unit(metric))
    if base_read is None:  # `front_margin` refuses a baseline without every objective before reading one
        raise AssertionError(f"no baseline run returned {metric.name}")
    base_mean, base_noise, base_seeds = base_read
    own = across_runs(chosen, metric.name, point_unit(metric))
    if own is not None:
        value, noise, how = own[0], own[1], f"unpaired: the choice's {own[2]} re-runs, the baseline's {base_seeds}"
    else:
        value = float(record.metrics[metric.name])
        # One run's seed noise, read from the baseline's spread, as the single-objective margin reads it.
        spread = base_noise.stderr * math.sqrt(base_seeds) if base_noise is not None and base_seeds > 1 else None
        parts = [e for e in (spread, sampling.stderr if sampling is not None else None) if e is not None]
        noise = Noise(math.hypot(*parts), "one run") if parts else None
        how = f"unpaired: the search's one run, which the choice may favour, against the baseline's {base_seeds} seeds"
    errors = [n.stderr for n in (noise, base_noise) if n is not None]
    gain = metric.sign() * (base_mean - value)
    if not errors:
        return Reading(metric, value, base_mean, gain, None, None, how)
    error = math.hypot(*errors)
    normal = NormalDist()
    return Reading(metric, value, base_mean, gain, normal.inv_cdf(1.0 - level) * error,
                   normal.inv_cdf(1.0 - DOMINANCE_LEVEL) * error, how)  # fmt: skip


def _paired(metric: Metric, chosen: Sequence[float], base: Sequence[float], sampling: Noise | None,
            level: float) -> Reading:  # fmt: skip
    """The paired reading over ``len(chosen)`` seeds: the differences' Student's t bar, or the choice's sampling
    noise (`Noise`, per-example or per-fold) when larger, since every seed scores the same examples."""
    from scipy.stats import t as student

    n = len(chosen)
    differences = [metric.sign() * (b - c) for c, b in zip(chosen, base, strict=True)]
    error = statistics.stdev(differences) / math.sqrt(n)
    own = 0.0 if sampling is None else sampling.stderr
    normal = NormalDist()

    def bar(at: float) -> float:
        return max(float(student.ppf(1.0 - at, n - 1)) * error, normal.inv_cdf(1.0 - at) * own)

    how = f"paired over {n} seeds" + ("" if sampling is None else f", the choice's sampling noise {sampling.source}")
    return Reading(metric, statistics.fmean(chosen), statistics.fmean(base), statistics.fmean(differences),
                   bar(level), bar(DOMINANCE_LEVEL), how)  # fmt: skip


def _by_seed(runs: Sequence[SeedRun], name: str) -> Mapping[int, float]:
    return {run.seed: float(run.metrics[name]) for run in runs if name in run.metrics}
