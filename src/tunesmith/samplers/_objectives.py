"""What samplers read from a history with several objectives: encoded points and one loss per objective.

Internal helpers shared by the multi-objective `TPE`, `GP` and `NSGA2`. A study has several
objectives when ``len(context.objectives) > 1``; every objective is turned into a loss
(``metric.sign() * value``, lower is better), as `tunesmith.pareto` does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tunesmith.context import SearchContext
from tunesmith.pareto import hypervolume_contributions, nondominated_ranks
from tunesmith.samplers._history import EncodingCache, Split
from tunesmith.space import Space
from tunesmith.trial import TrialKind, TrialRecord, TrialState

__all__ = ["ObjectiveObservations", "is_multiobjective", "observe_objectives", "rank_best_first"]


def is_multiobjective(context: SearchContext) -> bool:
    """Whether the study optimises several objectives (the samplers' switch)."""
    return len(context.objectives) > 1


@dataclass(frozen=True)
class ObjectiveObservations(Split):
    """A history split for a multi-objective model.

    Attributes:
        x: encoded points with every objective finite, shape ``(n, d)``; ``NaN`` marks inactive dimensions.
        losses: one loss per objective for each row of ``x``, shape ``(n, k)`` (lower is better).
        feasible: whether each row satisfied the guardrails (INFEASIBLE rows keep their losses).
        failed_x: encoded points of trials that failed, diverged or miss an objective.
        pending_x: encoded points of RUNNING and PAUSED trials.
        used_x: every encoded point of the history, in trial order.
        numbers: the trial number of each row of ``x``.
    """

    x: np.ndarray
    losses: np.ndarray
    feasible: np.ndarray
    failed_x: np.ndarray
    pending_x: np.ndarray
    used_x: np.ndarray
    numbers: np.ndarray


def observe_objectives(
    space: Space, history: Sequence[TrialRecord], context: SearchContext, cache: EncodingCache | None = None
) -> ObjectiveObservations:
    """Split ``history`` as `tunesmith.samplers._history.observe` does, with every objective's loss.

    A trial is an observation when every objective has a finite value; a finished trial missing
    one is a failure. Trials lost to a dead worker are ignored. Multi-fidelity rungs are not used:
    the objectives are compared as each trial last reported them.
    """
    d = len(space.dimensions)
    k = len(context.objectives)
    xs: list[np.ndarray] = []
    losses: list[list[float]] = []
    feasible: list[bool] = []
    numbers: list[int] = []
    failed: list[np.ndarray] = []
    pending: list[np.ndarray] = []
    used: list[np.ndarray] = []
    for record in history:
        row = cache.encode(space, record) if cache is not None else space.encode(record.params, recorded=True)
        used.append(row)
        state = record.state
        if state in (TrialState.RUNNING, TrialState.PAUSED):
            pending.append(row)
            continue
        if state is TrialState.FAILED and record.kind is not None and record.kind.is_interruption:
            continue
        values = [record.value(m.name) for m in context.objectives]
        diverged = state is TrialState.STOPPED and record.kind is TrialKind.DIVERGED
        if state is TrialState.FAILED or diverged or any(v is None or not math.isfinite(v) for v in values):
            failed.append(row)
            continue
        xs.append(row)
        losses.append([m.sign() * float(v) for m, v in zip(context.objectives, values, strict=True) if v is not None])
        feasible.append(state is not TrialState.INFEASIBLE)
        numbers.append(record.number)

    def stack(rows: list[np.ndarray]) -> np.ndarray:
        return np.array(rows, dtype=float).reshape(len(rows), d)

    return ObjectiveObservations(
        x=stack(xs),
        losses=np.asarray(losses, dtype=float).reshape(len(losses), k),
        feasible=np.asarray(feasible, dtype=bool),
        failed_x=stack(failed),
        pending_x=stack(pending),
        used_x=stack(used),
        numbers=np.asarray(numbers, dtype=int),
    )


def _greedy_hypervolume_subset(losses: np.ndarray, size: int) -> np.ndarray:
    """Indices of ``size`` mutually non-dominated rows chosen greedily to maximise their hypervolume.

    Each step adds the row whose exclusive contribution to the chosen set is largest (the greedy
    answer to the hypervolume subset selection problem, within a factor ``1 - 1/e`` of the best).
    The reference point is the rows' nadir pushed out by a tenth of their range, so the extremes count.
    """
    worst, best = losses.max(axis=0), losses.min(axis=0)
    reference = worst + 0.1 * np.where(worst > best, worst - best, np.maximum(np.abs(worst), 1.0))
    chosen: list[int] = []
    left = list(range(len(losses)))
    while len(chosen) < size:
        gains = []
        for i in left:
            rows = losses[[*chosen, i]]
            gains.append(hypervolume_contributions(rows, reference)[-1])
        pick = left[int(np.argmax(gains))]
        chosen.append(pick)
        left.remove(pick)
    return np.asarray(chosen, dtype=int)


def rank_best_first(losses: np.ndarray, count: int) -> np.ndarray:
    """The ``count`` best rows, as MOTPE picks its good group.

    Whole non-dominated fronts are taken while they fit; the front that does not fit is cut by
    greedy hypervolume subset selection, so the rows kept are the ones that spread the front most.
    """
    count = min(count, len(losses))
    if count <= 0:
        return np.zeros(0, dtype=int)
    ranks = nondominated_ranks(losses)
    order = np.argsort(ranks, kind="stable")
    taken = order[: int(np.sum(ranks < ranks[order[count - 1]]))]
    if len(taken) == count:
        return taken
    cut = np.flatnonzero(ranks == ranks[order[count - 1]])
    return np.concatenate([taken, cut[_greedy_hypervolume_subset(losses[cut], count - len(taken))]])
