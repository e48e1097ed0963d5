"""Pareto fronts and hypervolume over trial records, built on `moocore`.

Everything here works in *losses space*: each objective turned into a loss with ``metric.sign() * value``
(so lower is better in every column), which is how samplers, schedulers and the study compare trials
with several objectives. Non-dominated sorting, hypervolume and hypervolume contributions come from
`moocore` (exact algorithms); this module only chooses which records count and orients the numbers.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from tunesmith.attributes import ReferencePointAttr
from tunesmith.errors import ConfigError
from tunesmith.objective import Metric
from tunesmith.trial import TrialRecord, TrialState

# moocore is imported inside the functions that use it, so that `import tunesmith` does not load it.

__all__ = [
    "REFERENCE_MARGIN",
    "REFERENCE_TRIALS",
    "ReferencePointWarning",
    "crowding_distance",
    "derive_reference",
    "front_scores",
    "hypervolume",
    "hypervolume_contributions",
    "hypervolume_history",
    "loss_matrix",
    "losses_of",
    "nondominated_order",
    "nondominated_ranks",
    "pareto_front",
    "reference_losses",
    "study_reference",
    "warn_if_unbeaten",
]

# A derived reference point is the nadir of the first REFERENCE_TRIALS complete trials pushed out by
# REFERENCE_MARGIN of their range, so that the extremes of the front still add volume.
REFERENCE_TRIALS = 10
REFERENCE_MARGIN = 0.1


class ReferencePointWarning(UserWarning):
    """A reference point given with a study that no finished feasible trial beats on every objective."""


def losses_of(values: Mapping[str, float], objectives: Sequence[Metric]) -> list[float] | None:
    """One loss per objective (``sign * value``), or ``None`` when any value is missing or not finite."""
    out = []
    for metric in objectives:
        value = values.get(metric.name)
        if value is None or not math.isfinite(value):
            return None
        out.append(metric.sign() * float(value))
    return out


def loss_matrix(records: Iterable[TrialRecord], objectives: Sequence[Metric]) -> tuple[list[TrialRecord], np.ndarray]:
    """The records that can be compared on every objective and their ``(n, k)`` losses.

    Kept: COMPLETE (so feasible: a guardrail breach is INFEASIBLE), not invalidated, and every
    objective finite. Rows follow the records' order.
    """
    kept: list[TrialRecord] = []
    rows: list[list[float]] = []
    for record in records:
        if record.state is not TrialState.COMPLETE or record.invalidated is not None:
            continue
        losses = losses_of(record.metrics, objectives)
        if losses is not None:
            kept.append(record)
            rows.append(losses)
    return kept, np.asarray(rows, dtype=float).reshape(len(rows), len(objectives))


def nondominated_ranks(losses: np.ndarray) -> np.ndarray:
    """The non-dominated sorting rank of each row (0: the front; equal rows share a rank)."""
    losses = np.asarray(losses, dtype=float)
    if len(losses) == 0:
        return np.zeros(0, dtype=int)
    import moocore

    return np.asarray(moocore.pareto_rank(losses), dtype=int)


def pareto_front(records: Iterable[TrialRecord], objectives: Sequence[Metric]) -> list[TrialRecord]:
    """The non-dominated COMPLETE, feasible records, in trial order.

    Two trials with equal results are both on the front (neither dominates the other).
    """
    kept, losses = loss_matrix(records, objectives)
    ranks = nondominated_ranks(losses)
    return [record for record, rank in zip(kept, ranks, strict=True) if rank == 0]


def hypervolume(losses: np.ndarray, reference: Sequence[float] | np.ndarray) -> float:
    """The volume dominated by ``losses`` and bounded by ``reference`` (both in losses space).

    Points that do not dominate the reference add nothing; no points give 0.
    """
    losses = np.asarray(losses, dtype=float)
    ref = np.asarray(reference, dtype=float)
    if losses.ndim != 2 or ref.shape != (losses.shape[1],):
        raise ConfigError(
            f"the reference point must have one value per objective, got {ref.shape[0] if ref.ndim else 0} for "
            f"{losses.shape[1] if losses.ndim == 2 else 0} objectives: give every objective a reference value"
        )
    inside = losses[np.all(losses < ref, axis=1)]
    if len(inside) == 0:
        return 0.0
    import moocore

    return float(moocore.hypervolume(inside, ref=ref))


def hypervolume_contributions(losses: np.ndarray, reference: Sequence[float] | np.ndarray) -> np.ndarray:
    """Each row's exclusive hypervolume (0 for dominated rows and rows beyond the reference)."""
    losses = np.asarray(losses, dtype=float)
    ref = np.asarray(reference, dtype=float)
    out = np.zeros(len(losses))
    inside = np.all(losses < ref, axis=1) if len(losses) else np.zeros(0, dtype=bool)
    if inside.any():
        import moocore

        out[inside] = moocore.hv_contributions(losses[inside], ref=ref)
    return out


def hypervolume_history(losses: np.ndarray, reference: Sequence[float] | np.ndarray) -> list[float]:
    """The hypervolume of the first i rows, for i = 1..n (the front's progress over trials)."""
    losses = np.asarray(losses, dtype=float)
    ref = np.asarray(reference, dtype=float)
    history: list[float] = []
    front = np.empty((0, len(ref)))
    for row in losses:
        front = np.vstack([front, row])
        front = front[nondominated_ranks(front) == 0]
        history.append(hypervolume(front, ref))
    return history


def derive_reference(losses: np.ndarray, margin: float = REFERENCE_MARGIN) -> np.ndarray:
    """The nadir (worst value per objective) of ``losses`` plus ``margin`` of each objective's range.

    An objective whose values are all equal is pushed out by ``margin`` of its magnitude (or by
    ``margin`` when it is 0), so the reference is always strictly beyond every row.
    """
    losses = np.asarray(losses, dtype=float)
    if losses.ndim != 2 or len(losses) == 0:
        raise ValueError("a reference point needs at least one complete trial with every objective")
    worst, best = losses.max(axis=0), losses.min(axis=0)
    spread = worst - best
    fallback = np.where(np.abs(worst) > 0, np.abs(worst), 1.0)
    return worst + margin * np.where(spread > 0, spread, fallback)


def reference_losses(reference: Mapping[str, float], objectives: Sequence[Metric]) -> np.ndarray:
    """A reference point given in the objectives' own units (``{"val_loss": 1.0, ...}``) in losses space.

    Raises:
        ConfigError: when an objective has no value or a value is not a finite number.
    """
    missing = [m.name for m in objectives if m.name not in reference]
    extra = sorted(set(reference) - {m.name for m in objectives})
    if missing or extra:
        raise ConfigError(
            f"reference_point must give one value per objective, got {dict(reference)!r} (missing {missing}, "
            f"unknown {extra}): pass e.g. {{{', '.join(repr(m.name) + ': ...' for m in objectives)}}}"
        )
    values = losses_of({k: float(v) for k, v in reference.items()}, objectives)
    if values is None:
        raise ConfigError(f"reference_point values must be finite numbers, got {dict(reference)!r}: pass numbers")
    return np.asarray(values, dtype=float)


def study_reference(
    records: Sequence[TrialRecord],
    objectives: Sequence[Metric],
    *,
    given: Mapping[str, float] | None = None,
    stored: ReferencePointAttr | None = None,
) -> ReferencePointAttr | None:
    """A multi-objective study's reference point: the stored one, else the given one, else derived from its
    first `REFERENCE_TRIALS` complete trials (by number); ``None`` while fewer have completed.

    A derived point is what the study stores once (`Study.reference_point`), so that it never moves. A stored
    point that was given, read for the hypervolume of ``records``, warns (`warn_if_unbeaten`) when no finished
    feasible trial among them beats it on every objective; the first read, which stores it when the first trial
    completes, does not, so that one trial beyond a bound the user set on purpose does not call the point wrong.
    """
    if stored is not None:
        if stored.source == "given":
            warn_if_unbeaten(stored, records, objectives)
        return stored
    if given is not None:
        return ReferencePointAttr(values={m.name: float(given[m.name]) for m in objectives}, source="given")
    kept, losses = loss_matrix(sorted(records, key=lambda r: r.number), objectives)
    if len(kept) < REFERENCE_TRIALS:
        return None
    point = derive_reference(losses[:REFERENCE_TRIALS])
    values = {m.name: float(m.sign() * v) for m, v in zip(objectives, point, strict=True)}
    return ReferencePointAttr(values=values, source="derived", trials=tuple(r.number for r in kept[:REFERENCE_TRIALS]))


def warn_if_unbeaten(
    reference: ReferencePointAttr, records: Sequence[TrialRecord], objectives: Sequence[Metric]
) -> None:
    """Warn (`ReferencePointWarning`) when finished feasible ``records`` exist but none is strictly better than
    ``reference`` on every objective: the hypervolume against it is 0 whatever the trials do, and the GP, which
    seeks volume inside it, has none to seek. The message does not depend on the trials, so Python's default
    filter shows it once for a given point however often the hypervolume is read."""
    _, losses = loss_matrix(records, objectives)
    if len(losses) == 0 or bool(np.any(np.all(losses < reference_losses(reference.values, objectives), axis=1))):
        return
    sides = "; ".join(f"{m.name} above their values, as it is minimised" if m.direction == "min"
                      else f"{m.name} below their values, as it is maximised" for m in objectives)  # fmt: skip
    warnings.warn(
        f"no finished feasible trial beats the reference_point given, {dict(reference.values)}, on every objective, "
        "so the hypervolume against it is 0 whatever the trials do and the search has no volume to seek: a "
        "reference point must be worse than the trials on every objective (the nadir, not the ideal point). A "
        f"study's reference point never moves, so create a new study with one worse than the trials ({sides}), or "
        f"without reference_point to derive it from the first {REFERENCE_TRIALS} trials",
        ReferencePointWarning,
        stacklevel=1,  # one location whatever path reads the point, so that the default filter shows it once
    )


def crowding_distance(losses: np.ndarray) -> np.ndarray:
    """NSGA-II's crowding distance of each row within ``losses`` (one front): larger is more isolated.

    The extremes of each objective get infinity; an objective with no range adds nothing.
    """
    losses = np.asarray(losses, dtype=float)
    n = len(losses)
    distance = np.zeros(n)
    if n <= 2:
        return np.full(n, math.inf)
    for column in losses.T:
        order = np.argsort(column, kind="stable")
        span = column[order[-1]] - column[order[0]]
        distance[order[0]] = distance[order[-1]] = math.inf
        if span > 0:
            distance[order[1:-1]] += (column[order[2:]] - column[order[:-2]]) / span
    return distance


def front_scores(losses: np.ndarray) -> np.ndarray:
    """A score for each row, lower is better, that ranks rows as `nondominated_order` does (by non-dominated front,
    then by crowding distance, the more isolated first) and is equal for rows nothing tells apart: the same front and
    the same crowding distance, which equal rows share (their crowding is read once per distinct row). The extremes
    of a front share an infinite crowding distance: each is the best on an objective, and no score orders them.

    A rung keeps every trial tied with the last one it keeps (`tunesmith.schedulers`); with trial numbers breaking
    these ties, of two extremes or of two identical results the newer trial was always stopped."""
    losses = np.asarray(losses, dtype=float)
    ranks = nondominated_ranks(losses)
    crowding = np.zeros(len(losses))
    for rank in np.unique(ranks):
        members = np.flatnonzero(ranks == rank)
        distinct, inverse = np.unique(losses[members], axis=0, return_inverse=True)
        crowding[members] = crowding_distance(distinct)[np.asarray(inverse).reshape(-1)]
    keys = sorted({(int(r), -float(c)) for r, c in zip(ranks, crowding, strict=True)})
    place = {key: float(i) for i, key in enumerate(keys)}
    return np.array([place[(int(r), -float(c))] for r, c in zip(ranks, crowding, strict=True)], dtype=float)


def nondominated_order(losses: np.ndarray) -> np.ndarray:
    """Row indices best first: by non-dominated rank, ties inside a front broken by crowding distance
    (more isolated first, as NSGA-II and MO-ASHA do), then by row index."""
    losses = np.asarray(losses, dtype=float)
    ranks = nondominated_ranks(losses)
    crowding = np.zeros(len(losses))
    for rank in np.unique(ranks):
        members = np.flatnonzero(ranks == rank)
        crowding[members] = crowding_distance(losses[members])
    return np.asarray(
        sorted(range(len(losses)), key=lambda i: (ranks[i], -crowding[i], i)),
        dtype=int,
    )
