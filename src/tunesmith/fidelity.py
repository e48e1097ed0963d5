"""Seeing a multi-fidelity history at one resource level (the BOHB idea).

Under early stopping, most trials end STOPPED at a low rung: their final metric was measured
with less training than a COMPLETE trial's, so mixing the two misleads any model of the
history. `rung_view` picks the highest rung that enough trials reached and presents every such
trial with its value at that rung, as a finished observation; samplers fit on it and the
importance analysis reads it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, TypeVar, cast

from tunesmith.objective import Metric
from tunesmith.trial import TrialKind, TrialRecord, TrialState

__all__ = ["ViewMemo", "is_rung_peer", "reported_at", "rung_view", "value_at"]

T = TypeVar("T")


def value_at(record: TrialRecord, metric: str, level: float) -> float | None:
    """The last value of ``metric`` reported at or before ``level``, if the trial reached ``level`` and it is finite."""
    value = reported_at(record, metric, level)
    return value if value is not None and math.isfinite(value) else None


def reported_at(record: TrialRecord, metric: str, level: float) -> float | None:
    """The last value of ``metric`` reported at or before ``level``, finite or not, if the trial reached ``level``."""
    if record.resource < level:
        return None
    value = None
    for step, reported in sorted(record.intermediate.items()):
        if step > level:
            break
        if metric in reported:
            value = reported[metric]
    return value


class ViewMemo:
    """Memoises what `rung_view` reads of each finished record on every ask: its losses at the rungs, and its copy
    seen at one value.

    A sampler asks for the view at every suggestion, and the view read every record's curve and copied every record
    that reached its rung each time: the square of the history's length, a third of a multi-fidelity study's time.
    Finished records are immutable and storage hands out the same objects on every call, so entries are keyed by
    identity (checked, and the record held, so a recycled ``id`` never returns a stale entry); a record still running
    is read afresh. Memoisation never changes a view, only its cost; a copy is reused only while it is seen at the
    same value, so the same record keeps the same copy from ask to ask (which the samplers' own memo, keyed by
    record, then serves too: `tunesmith.samplers._history.EncodingCache`).
    """

    def __init__(self, max_size: int = 100_000) -> None:
        self._losses: dict[int, tuple[TrialRecord, Hashable, Any]] = {}
        self._copies: dict[int, tuple[TrialRecord, Hashable, Any]] = {}
        self._max_size = max_size

    def losses(self, record: TrialRecord, metric: str, sign: float, levels: Sequence[float]) -> list[float | None]:
        """`_losses_at`'s answer for ``record``, memoised once it has finished."""
        key = (metric, sign, tuple(levels))
        return self._kept(self._losses, record, key, lambda: _losses_at(record, metric, sign, levels))

    def seen(self, record: TrialRecord, metric: str, value: float, state: TrialState) -> TrialRecord:
        """``record`` as a view shows it: finished in ``state`` with ``value`` as its final ``metric``, no reason and
        no kind; the same copy as last time while the value is."""
        return self._kept(self._copies, record, (metric, value, state), lambda: _seen_at(record, metric, value, state))

    def _kept(self, table: dict[int, tuple[TrialRecord, Hashable, Any]], record: TrialRecord, key: Hashable,
              make: Callable[[], T]) -> T:  # fmt: skip
        """``make()`` as ``table`` keeps it for ``record`` under ``key``; kept only once the record has finished."""
        hit = table.get(id(record))
        if hit is not None and hit[0] is record and hit[1] == key:
            return cast(T, hit[2])
        made = make()
        if record.state.is_finished:
            if len(table) >= self._max_size:
                table.clear()
            table[id(record)] = (record, key, made)
        return made


def _seen_at(record: TrialRecord, metric: str, value: float, state: TrialState) -> TrialRecord:
    return record.evolve(state=state, metrics={**record.metrics, metric: value}, reason=None, kind=None)


def rung_view(
    history: Sequence[TrialRecord],
    metric: Metric,
    rungs: Sequence[float],
    min_observations: int,
    *,
    stopped_as_worst: bool = False,
    running_pending: bool = False,
    predicted: bool = False,
    memo: ViewMemo | None = None,
) -> tuple[float | None, list[TrialRecord]]:
    """The highest rung that at least ``min_observations`` trials reached, and the history seen there.

    Trials that reached the rung appear COMPLETE (INFEASIBLE stays INFEASIBLE) with the metric's
    value at the rung; RUNNING and PAUSED trials below it stay pending; FAILED, diverged and declared
    infeasible (`ts.Infeasible`) trials stay as they are (samplers learn to avoid them); trials stopped below the
    rung are left out, or with ``stopped_as_worst`` (what samplers ask for) kept as COMPLETE behind the worst
    value seen at the rung, by as much as they trailed the best trial at the rung where they
    stopped: they lost there, their order among themselves is kept, and a model that forgot them
    would propose their region again and again. At the full resource, trials trained to the end keep
    their own values; with ``predicted`` (a scheduler that ranks its rungs by predicted final values) a stopped
    trial is seen at its predicted final value instead, where the trials trained to the end predict it at a rung
    it reached (`_predicted_finals`), so a sampler learns from every trial the prediction reads, not only from the
    few trained to the end. With ``running_pending`` (what samplers ask for) a RUNNING trial stays pending
    whatever rungs it passed: it may yet diverge, and with several workers a late diverger that still
    looks best at a rung would draw the search to its region before it blows up. Returns
    ``(None, history)`` when no rung has enough observations, or when the highest such rung is the
    full resource and ``stopped_as_worst`` is off (the history is then already right). ``memo`` (a sampler's, kept
    from ask to ask) makes the same view cheaper.
    """
    if not rungs:
        return None, list(history)
    name, sign = metric.name, metric.sign()
    levels = sorted(rungs)
    # A trial that diverged later stays a failure, however good it looked at a rung.
    losses_at = _losses_at if memo is None else memo.losses
    seen_at = _seen_at if memo is None else memo.seen
    at = {r.number: losses_at(r, name, sign, levels) for r in history
          if r.kind is not TrialKind.DIVERGED and not (running_pending and r.state is TrialState.RUNNING)}  # fmt: skip
    best = [min((x for v in at.values() if (x := v[i]) is not None), default=None) for i in range(len(levels))]
    for index in range(len(levels) - 1, -1, -1):
        level = levels[index]
        reached = {n: loss for n, v in at.items() if (loss := v[index]) is not None}
        if len(reached) < min_observations:
            continue
        full = index == len(levels) - 1
        if full and not stopped_as_worst:
            return None, list(history)
        worst = max(reached.values())
        predictions = _predicted_finals(history, at, levels, name, sign) if full and predicted else {}
        view: list[TrialRecord] = []
        for record in history:
            loss = reached.get(record.number)
            if loss is not None and full:
                view.append(record)  # trained to the end: its own final values
            elif loss is not None:
                state = TrialState.INFEASIBLE if record.state is TrialState.INFEASIBLE else TrialState.COMPLETE
                view.append(seen_at(record, name, sign * loss, state))
            elif (not record.state.is_finished or record.state is TrialState.FAILED
                  or record.kind in (TrialKind.DIVERGED, TrialKind.DECLARED)):  # fmt: skip
                view.append(record)  # a trial that could not run keeps no metric: a point to avoid
            elif stopped_as_worst and record.state is TrialState.STOPPED:
                seen = predictions.get(record.number)
                if seen is None:
                    seen = worst + _behind_best(at[record.number], best)
                view.append(seen_at(record, name, sign * seen, TrialState.COMPLETE))
        return level, view
    return None, list(history)


def _losses_at(record: TrialRecord, metric: str, sign: float, levels: Sequence[float]) -> list[float | None]:
    """``sign`` times the value a rung at each of the ascending ``levels`` reads ``record`` by, in one pass.

    That is the rung's own reading (`schedulers.successive_halving.value_at_rung`): the last value of ``metric``
    at or before the trial's first report at or past the level, so a trial evaluated every 8 steps is seen at
    rung 3 with its step-8 value, as the scheduler ranked it there. A trial that trained past a level without
    reporting at or after it (it ended, or paused, between two evaluations) is seen with its last value before
    the level, as it always was."""
    out: list[float | None] = []
    steps = sorted(record.intermediate.items())
    position = 0
    value: float | None = None
    for level in levels:
        while position < len(steps) and steps[position][0] < level:
            value = steps[position][1].get(metric, value)
            position += 1
        if position < len(steps):  # the first report at or past the level: the rung's reading
            value = steps[position][1].get(metric, value)  # left in place: it may cross the next level too
            reached = True
        else:
            reached = record.resource >= level
        usable = reached and value is not None and math.isfinite(value)
        out.append(sign * value if usable and value is not None else None)
    return out


def is_rung_peer(record: TrialRecord) -> bool:
    """Whether ``record`` holds a place at the rungs it reached, as a rung's ranking reads it
    (`tunesmith.schedulers.successive_halving`) and the view's prediction with it (`_predicted_finals`): not once it
    ended FAILED (whatever the kind: an exception, a crash, a timeout, an interruption) or diverged (a rung still
    counts it, last), since it can never use a promotion, and a live trial stopped below it would lose to a trial
    that will never finish; nor once the objective declared it infeasible (`tunesmith.Infeasible`, kind DECLARED),
    for the same reason. STOPPED (cut by a scheduler), COMPLETE, RUNNING and PAUSED trials stay peers. A failed
    trial that is retried runs again as a new trial from scratch, which takes its place at each rung it reaches, so
    the configuration counts once."""
    return record.state is not TrialState.FAILED and record.kind not in (TrialKind.DIVERGED, TrialKind.DECLARED)


def _predicted_finals(history: Sequence[TrialRecord], at: Mapping[int, Sequence[float | None]],
                      levels: Sequence[float], name: str, sign: float) -> dict[int, float]:  # fmt: skip
    """The predicted final loss of each STOPPED trial of ``history``, by trial number: the prediction a rung's ranking
    makes (`tunesmith.schedulers._final_model.predicted_finals`: a ridge regression on the loss at the rung and the
    hyperparameters, learned from the trials trained to the end, used only when it ranks them better than the rung's
    own value by more than chance), at the highest rung below the full resource (the last of ``levels``) the trial
    reached where the prediction is used. A trial no rung predicts is left out. ``at``: each trial's loss at each
    level (`_losses_at`), for the trials that may be seen."""
    from tunesmith.schedulers._final_model import predicted_finals  # it imports this module

    records = {record.number: record for record in history if record.number in at}
    waiting = {n for n, record in records.items() if record.state is TrialState.STOPPED}
    out: dict[int, float] = {}
    for index in range(len(levels) - 2, -1, -1):
        if not any(at[n][index] is not None for n in waiting):
            continue
        # The rung's peers, as its ranking reads them (a trial that failed or was declared infeasible keeps no place).
        scored = [(loss, records[n]) for n, losses in at.items()
                  if (loss := losses[index]) is not None and is_rung_peer(records[n])]  # fmt: skip
        predictions = predicted_finals(scored, name, sign, levels[-1])
        if predictions is None:
            continue
        for prediction, (_, record) in zip(predictions, scored, strict=True):
            if record.number in waiting:
                out[record.number] = prediction
                waiting.discard(record.number)
    return out


def _behind_best(own: Sequence[float | None], best: Sequence[float | None]) -> float:
    """How far (in loss) a stopped trial trailed the best trial at the highest rung it reached (0 when unknown)."""
    for mine, top in zip(reversed(own), reversed(best), strict=True):
        if mine is not None and top is not None:
            return max(0.0, mine - top)
    return 0.0
