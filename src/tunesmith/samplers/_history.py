"""What model-based samplers read from a history: encoded points, losses, feasibility, pending points.

Internal helpers shared by `Sobol`, `TPE` and `GP`. Nothing here draws randomness, so the
samplers stay pure functions of (space, history, rng, context).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TypeVar, cast

import numpy as np

from tunesmith.context import SearchContext
from tunesmith.fidelity import ViewMemo, rung_view
from tunesmith.space import Choice, Space
from tunesmith.trial import TrialKind, TrialRecord, TrialState

KeyT = TypeVar("KeyT", bound=Hashable)

__all__ = ["EncodingCache", "Observations", "categorical_dims", "observe", "snap"]


class EncodingCache:
    """Memoises `Space.encode`, and each configuration's key (`tunesmith.samplers._tried`), per finished record.

    Finished records are immutable, and storage hands out the same objects on every call,
    so the cache is keyed by identity (checked, so a recycled ``id`` never returns a stale
    row). An encoded point depends on the parameters alone, so it is keyed by the ``params`` object, which the
    copies a multi-fidelity view makes of a record (`tunesmith.fidelity.rung_view`, on every ask) share with it.
    Memoisation never changes a result, only its cost: at thousands of trials,
    re-encoding the whole history on every ask would dominate the sampler's time.
    """

    def __init__(self, max_size: int = 100_000) -> None:
        self._rows: dict[int, tuple[dict[str, object], Space, np.ndarray]] = {}
        self._keys: dict[int, tuple[TrialRecord, Space, Hashable]] = {}
        self._max_size = max_size
        # The observations of the longest finished prefix of the last history seen.
        self.prefix: list[TrialRecord] = []
        self.prefix_key: tuple[int, str, float] | None = None
        self.prefix_obs: Observations | None = None
        self.prefix_space: Space | None = None  # held so that id(space) in the key cannot be reused
        self.view = ViewMemo(max_size)  # the multi-fidelity view's reading of each record (`rung_view`)

    def encode(self, space: Space, record: TrialRecord) -> np.ndarray:
        """The encoded point of ``record`` in ``space`` (``NaN`` for inactive dimensions)."""
        hit = self._rows.get(id(record.params))
        if hit is not None and hit[0] is record.params and hit[1] is space:
            return hit[2]
        row = space.encode(record.params, recorded=True)
        if record.state.is_finished:
            if len(self._rows) >= self._max_size:
                self._rows.clear()
            self._rows[id(record.params)] = (record.params, space, row)
        return row

    def key(self, space: Space, record: TrialRecord, make: Callable[[], KeyT]) -> KeyT:
        """``make()``, the key of ``record``'s configuration in ``space`` (`tunesmith.samplers._tried`), memoised."""
        hit = self._keys.get(id(record))
        if hit is not None and hit[0] is record and hit[1] is space:
            return cast(KeyT, hit[2])
        key = make()
        if record.state.is_finished:
            if len(self._keys) >= self._max_size:
                self._keys.clear()
            self._keys[id(record)] = (record, space, key)
        return key


class Split:
    """What every split of a history answers from its ``x``, ``failed_x`` and ``feasible``."""

    x: np.ndarray
    failed_x: np.ndarray
    feasible: np.ndarray

    @property
    def n_finished(self) -> int:
        """Trials that taught something: with a result or failed."""
        return len(self.x) + len(self.failed_x)

    @property
    def has_infeasible(self) -> bool:
        return bool(len(self.failed_x) or not np.all(self.feasible))


@dataclass(frozen=True)
class Observations(Split):
    """A history split into what each model needs.

    Attributes:
        x: encoded points with a loss, shape ``(n, d)``; ``NaN`` marks inactive dimensions.
        loss: ``metric.sign() * value`` of each row of ``x`` (lower is better).
        feasible: whether each row of ``x`` satisfied the guardrails (INFEASIBLE rows keep their loss).
        failed_x: encoded points of trials that failed or diverged without a usable loss.
        pending_x: encoded points of RUNNING and PAUSED trials (no result yet).
        used_x: every encoded point of the history, in trial order.
    """

    x: np.ndarray
    loss: np.ndarray
    feasible: np.ndarray
    failed_x: np.ndarray
    pending_x: np.ndarray
    used_x: np.ndarray


def observe(
    space: Space, history: Sequence[TrialRecord], context: SearchContext, cache: EncodingCache | None = None
) -> Observations:
    """Split ``history`` into losses, failures and pending points, in encoded form.

    COMPLETE trials and STOPPED trials with a finite metric are observations; STOPPED trials
    that diverged and FAILED trials are failures (trials lost to a dead worker are ignored: the
    configuration was never evaluated); INFEASIBLE trials are observations marked infeasible, or
    failures when they carry no finite metric; RUNNING and PAUSED trials are pending.

    Under a multi-fidelity scheduler (``context.rungs``), the history is first seen at the highest
    rung that enough trials reached (`tunesmith.fidelity.rung_view`), so the model compares values
    measured after the same amount of training (the BOHB idea); trials stopped below that rung count
    as at least as bad as the worst trial there, so their region is not proposed again and again.
    """
    if context.rungs:
        level, view = rung_view(
            history,
            context.metric,
            context.rungs,
            max(6, len(space.dimensions) + 2),
            stopped_as_worst=True,
            running_pending=True,
            predicted=context.predicted_finals,
            memo=None if cache is None else cache.view,
        )
        if level is not None:
            return _observe(space, view, context, cache)
    key = (id(space), context.metric.name, context.metric.sign())
    start = 0
    base: Observations | None = None
    if cache is not None and cache.prefix_key == key and cache.prefix_obs is not None:
        limit = min(len(cache.prefix), len(history))
        while start < limit and history[start] is cache.prefix[start]:
            start += 1
        if start == len(cache.prefix):
            base = cache.prefix_obs
        else:
            start = 0
    finished = start
    while finished < len(history) and history[finished].state.is_finished:
        finished += 1
    head = _observe(space, history[start:finished], context, cache)
    if base is not None:
        head = _concat(base, head)
    if cache is not None and (base is None or finished > start):
        cache.prefix = list(history[:finished])
        cache.prefix_key = key
        cache.prefix_obs = head
        cache.prefix_space = space
    if finished == len(history):
        return head
    return _concat(head, _observe(space, history[finished:], context, cache))


def _concat(a: Observations, b: Observations) -> Observations:
    return Observations(
        x=np.vstack([a.x, b.x]),
        loss=np.concatenate([a.loss, b.loss]),
        feasible=np.concatenate([a.feasible, b.feasible]),
        failed_x=np.vstack([a.failed_x, b.failed_x]),
        pending_x=np.vstack([a.pending_x, b.pending_x]),
        used_x=np.vstack([a.used_x, b.used_x]),
    )


def _observe(
    space: Space, history: Sequence[TrialRecord], context: SearchContext, cache: EncodingCache | None
) -> Observations:
    d = len(space.dimensions)
    sign = context.metric.sign()
    name = context.metric.name
    xs: list[np.ndarray] = []
    losses: list[float] = []
    feasible: list[bool] = []
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
        value = record.value(name)
        diverged = state is TrialState.STOPPED and record.kind is TrialKind.DIVERGED
        if state is TrialState.FAILED or diverged or value is None or not math.isfinite(value):
            failed.append(row)
            continue
        xs.append(row)
        losses.append(sign * value)
        feasible.append(state is not TrialState.INFEASIBLE)

    def stack(rows: list[np.ndarray]) -> np.ndarray:
        return np.array(rows, dtype=float).reshape(len(rows), d)

    return Observations(
        x=stack(xs),
        loss=np.asarray(losses, dtype=float),
        feasible=np.asarray(feasible, dtype=bool),
        failed_x=stack(failed),
        pending_x=stack(pending),
        used_x=stack(used),
    )


def categorical_dims(space: Space) -> tuple[np.ndarray, np.ndarray]:
    """A mask of the categorical dimensions and each dimension's number of values (``inf`` for floats)."""
    params = [space[n] for n in space.dimensions]
    mask = np.array([isinstance(p, Choice) for p in params], dtype=bool)
    sizes = np.array([p.cardinality() for p in params], dtype=float)
    return mask, sizes


def snap(space: Space, u: np.ndarray) -> np.ndarray:
    """Round a point of the cube to what it decodes to (bin centres, inactive dimensions ``NaN``)."""
    return space.encode(space.decode(np.clip(u, 0.0, 1.0)))
