"""Seeing a multi-fidelity history at one resource level (the BOHB idea).

Under early stopping, most trials end STOPPED at a low rung: their final metric was measured
with less training than a COMPLETE trial's, so mixing the two misleads any model of the
history. `rung_view` picks the highest rung that enough trials reached and presents every such
trial with its value at that rung, as a finished observation; samplers fit on it and the
importance analysis reads it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from tunesmith.objective import Metric
from tunesmith.trial import TrialKind, TrialRecord, TrialState

__all__ = ["rung_view", "value_at"]


def value_at(record: TrialRecord, metric: str, level: float) -> float | None:
    """The last value of ``metric`` reported at or before ``level``, if the trial reached ``level``."""
    if record.resource < level:
        return None
    value = None
    for step, reported in sorted(record.intermediate.items()):
        if step > level:
            break
        if metric in reported:
            value = reported[metric]
    return value if value is not None and math.isfinite(value) else None


def rung_view(
    history: Sequence[TrialRecord],
    metric: Metric,
    rungs: Sequence[float],
    min_observations: int,
    *,
    stopped_as_worst: bool = False,
) -> tuple[float | None, list[TrialRecord]]:
    """The highest rung that at least ``min_observations`` trials reached, and the history seen there.

    Trials that reached the rung appear COMPLETE (INFEASIBLE stays INFEASIBLE) with the metric's
    value at the rung; RUNNING and PAUSED trials below it stay pending; FAILED and diverged
    trials stay as they are (samplers learn to avoid them); trials stopped below the rung are
    left out, or with ``stopped_as_worst`` (what samplers ask for) kept as COMPLETE behind the worst
    value seen at the rung, by as much as they trailed the best trial at the rung where they
    stopped: they lost there, their order among themselves is kept, and a model that forgot them
    would propose their region again and again. Returns ``(None, history)``
    when no rung has enough observations, or when the highest such rung is the full resource (the
    history is then already right).
    """
    if not rungs:
        return None, list(history)
    for level in sorted(rungs, reverse=True):
        reached = [r for r in history if value_at(r, metric.name, level) is not None]
        if len(reached) < min_observations:
            continue
        if level == max(rungs):
            return None, list(history)
        ids = {r.number for r in reached}
        worst = max(metric.sign() * (value_at(r, metric.name, level) or 0.0) for r in reached)
        view: list[TrialRecord] = []
        for record in history:
            if record.number in ids:
                state = TrialState.INFEASIBLE if record.state is TrialState.INFEASIBLE else TrialState.COMPLETE
                value = value_at(record, metric.name, level)
                view.append(
                    record.evolve(state=state, metrics={**record.metrics, metric.name: value}, reason=None, kind=None)
                )
            elif not record.state.is_finished or record.state is TrialState.FAILED or record.kind is TrialKind.DIVERGED:
                view.append(record)
            elif stopped_as_worst and record.state is TrialState.STOPPED:
                loss = worst + _behind_best(record, history, metric, rungs)
                view.append(record.evolve(state=TrialState.COMPLETE, metrics={**record.metrics,
                                          metric.name: metric.sign() * loss}, reason=None, kind=None))  # fmt: skip
        return level, view
    return None, list(history)


def _behind_best(record: TrialRecord, history: Sequence[TrialRecord], metric: Metric, rungs: Sequence[float]) -> float:
    """How far (in loss) a stopped trial trailed the best trial at the highest rung it reached (0 when unknown)."""
    reached = [level for level in rungs if level <= record.resource]
    if not reached:
        return 0.0
    level = max(reached)
    own = value_at(record, metric.name, level)
    if own is None:
        return 0.0
    values = [v for r in history if (v := value_at(r, metric.name, level)) is not None]
    return max(0.0, metric.sign() * own - min(metric.sign() * v for v in values))
