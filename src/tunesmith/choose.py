"""Rules for choosing one configuration from a multi-objective study's Pareto front (`Study.choose`).

A rule is a frozen value a user can state and the study records (``to_json``):

* `best` ``("val_loss", bounds={"latency_ms": ("<=", 20)})``: the best value of one objective among the front's
  trials that meet every bound on the others;
* `knee` ``()``: the knee of the front. Each objective is scaled to [0, 1] over the front (0: the front's best);
  the knee is the point farthest, on the side of the ideal point, from the line (with three or more objectives,
  the hyperplane) through the front's extremes (each objective's best trial). When the extremes do not span
  such a plane (e.g. one trial is best on two objectives), it is the point nearest the ideal point instead.
  When the trials record standard errors (``stderr:<objective>``, from per-example values), the farthest point
  must lie beyond the noise in its distance from that plane (one-sided, 5% over the front's points, Bonferroni);
  a front whose knee is within the noise is said to have none, and the point nearest the ideal point is chosen;
* `weights` ``({"val_loss": 0.7, "latency_ms": 0.3})``: the smallest weighted sum of the objectives scaled to
  [0, 1] over the front (weights of objectives left out are 0).

Example:
    >>> import tunesmith as ts
    >>> study.choose(ts.choose.best("val_loss", bounds={"latency_ms": ("<=", 20)}))
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from tunesmith.errors import ConfigError
from tunesmith.objective import STDERR, Guardrail, Metric
from tunesmith.pareto import loss_matrix
from tunesmith.trial import TrialRecord

# scipy.stats is imported inside the functions that use it: at the top it would add about a second to
# `import tunesmith` and to every CLI command.

__all__ = ["Best", "Knee", "Rule", "Weights", "best", "from_json", "knee", "neighbours", "weights"]


class Rule(Protocol):
    """What every rule provides: ``pick`` (the chosen trial of a non-empty front and why, in words) and its JSON."""

    def pick(self, front: Sequence[TrialRecord], objectives: Sequence[Metric]) -> tuple[TrialRecord, str]: ...

    def to_json(self) -> dict[str, Any]: ...


def _scaled(front: Sequence[TrialRecord], objectives: Sequence[Metric]) -> np.ndarray:
    """The front's losses, each objective scaled to [0, 1] over the front (0: its best; no range: 0)."""
    _, losses = loss_matrix(front, objectives)
    return np.asarray((losses - losses.min(axis=0)) / _spans(losses))


def _spans(losses: np.ndarray) -> np.ndarray:
    low, high = losses.min(axis=0), losses.max(axis=0)
    return np.asarray(np.where(high > low, high - low, 1.0))


def _scaled_errors(front: Sequence[TrialRecord], objectives: Sequence[Metric]) -> np.ndarray | None:
    """Each trial's recorded standard errors (``stderr:<objective>``) on the scale of `_scaled`; ``None`` when a
    value of the front lacks one (its noise is unknown, and so is the knee's: a missing one read as 0 claimed
    knees "beyond the noise" on a straight front) or none is above 0."""
    recorded = [[r.metrics.get(f"{STDERR}{m.name}") for m in objectives] for r in front]
    if any(e is None or not math.isfinite(e) for row in recorded for e in row):
        return None
    errors = np.asarray(recorded, dtype=float)
    if not np.any(errors > 0):
        return None
    _, losses = loss_matrix(front, objectives)
    return np.asarray(errors / _spans(losses))


def _unrecorded(front: Sequence[TrialRecord], objectives: Sequence[Metric]) -> list[str]:
    """The objectives for which a trial of the front records no standard error."""
    return [m.name for m in objectives if any(not math.isfinite(r.metrics.get(f"{STDERR}{m.name}", math.nan))
                                              for r in front)]  # fmt: skip


def _objective(name: str, objectives: Sequence[Metric], what: str) -> Metric:
    for metric in objectives:
        if metric.name == name:
            return metric
    raise ConfigError(
        f"{what} must name one of the study's objectives {[m.name for m in objectives]}, got {name!r}: "
        "use one of those names"
    )


def _describe(record: TrialRecord, objectives: Sequence[Metric]) -> str:
    return ", ".join(f"{m.name} {record.metrics[m.name]:.4g}" for m in objectives)


@dataclass(frozen=True)
class Best:
    """The best ``metric`` among the front's trials meeting every bound (see `best`)."""

    metric: str
    bounds: tuple[Guardrail, ...] = ()

    def pick(self, front: Sequence[TrialRecord], objectives: Sequence[Metric]) -> tuple[TrialRecord, str]:
        metric = _objective(self.metric, objectives, "choose.best's metric")
        for bound in self.bounds:
            _objective(bound.metric, objectives, "a bound of choose.best")
        allowed = [r for r in front if all(b.holds(r.metrics[b.metric]) for b in self.bounds)]
        if not allowed:
            closest = min(front, key=lambda r: sum(_excess(b, r.metrics[b.metric]) for b in self.bounds))
            raise ConfigError(
                f"no trial on the Pareto front meets {self._bounds_text()} (closest: #{closest.number} with "
                f"{_describe(closest, objectives)}): loosen the bounds, or run more trials"
            )
        chosen = min(allowed, key=lambda r: (metric.sign() * r.metrics[metric.name], r.number))
        where = f" under {self._bounds_text()}" if self.bounds else ""
        return chosen, f"best {metric.name}{where} among {len(allowed)} of the front's {len(front)} trials"

    def _bounds_text(self) -> str:
        return " and ".join(b.describe() for b in self.bounds)

    def to_json(self) -> dict[str, Any]:
        return {"rule": "best", "metric": self.metric, "bounds": [b.to_json() for b in self.bounds]}


def _excess(bound: Guardrail, value: float) -> float:
    """How far ``value`` is outside ``bound`` (0 inside)."""
    return 0.0 if bound.holds(value) else abs(value - float(bound.bound))


# How far below the line through the extremes (on the front scaled to [0, 1]) a point must lie to be a knee.
_NO_KNEE = 1e-9
# A knee must lie beyond the noise in its distance from that line at this family-wise level over the front.
_KNEE_LEVEL = 0.05


@dataclass(frozen=True)
class Knee:
    """The knee of the front (see the module's docstring for the rule)."""

    def pick(self, front: Sequence[TrialRecord], objectives: Sequence[Metric]) -> tuple[TrialRecord, str]:
        scaled, errors = _scaled(front, objectives), _scaled_errors(front, objectives)
        extremes_of = [int(np.lexsort((scaled.sum(axis=1), scaled[:, j]))[0]) for j in range(scaled.shape[1])]
        extremes = scaled[extremes_of]
        normal = _plane_normal(extremes)
        if normal is None:
            scores = np.linalg.norm(scaled, axis=1)  # nearest the ideal point
            how = "nearest the ideal point of the scaled front (its extremes span no plane)"
        else:
            scores = -(1.0 - scaled @ normal) / np.linalg.norm(normal)  # farther on the ideal's side: better
            how = "farthest from the line through the front's extremes, on the scaled front"
            farthest = int(np.argmin(scores))
            within = _within_noise(errors, normal, float(-scores[farthest]), farthest, extremes_of)
            if float(-scores.min()) <= _NO_KNEE:  # every point on the line: the farthest is a tie, not a knee
                scores = np.linalg.norm(scaled, axis=1)
                how = ("the front has no knee (every point lies on the line through its extremes), so the point "
                       "nearest the ideal point of the scaled front")  # fmt: skip
            elif within is None:
                lacking = _unrecorded(front, objectives)
                on = f" for {', '.join(lacking)}" if lacking and len(lacking) < len(objectives) else ""
                how += f" (no standard errors recorded{on}: whether this knee is beyond noise is unknown)"
            elif within[0] <= within[1] or (errors is not None and not _knee_survives(scaled, errors, extremes_of,
                                                                                      farthest)):  # fmt: skip
                scores = np.linalg.norm(scaled, axis=1)
                how = (f"the front has no knee beyond its noise (the point farthest from the line through its "
                       f"extremes lies {within[0]:.1f} standard errors from it, a knee needs more than "
                       f"{within[1]:.1f}, from that line or from one through other extremes the noise allows), so "
                       "the point nearest the ideal point of the scaled front; more examples per evaluation would "
                       "tell")  # fmt: skip
            else:
                how += f" ({within[0]:.1f} standard errors from the line, beyond its noise: more than {within[1]:.1f})"
        order = sorted(range(len(front)), key=lambda i: (round(float(scores[i]), 12), front[i].number))
        return front[order[0]], f"knee point: {how}"

    def to_json(self) -> dict[str, Any]:
        return {"rule": "knee"}


def _rival_extremes(scaled: np.ndarray, errors: np.ndarray, extremes: Sequence[int]) -> list[tuple[int, ...]]:
    """Other sets of extremes the noise allows: for each objective, the points within the noise of its best (at
    the front's family-wise level, as the knee itself: the best of many noisy points is flattered), the four
    least behind on the others kept. A point that noise alone put ahead on one objective, far behind on the others,
    would otherwise tilt the line and make a knee of the true extreme beside it."""
    from scipy.stats import norm

    z = float(norm.ppf(1.0 - _KNEE_LEVEL / len(scaled)))
    options = []
    for j, best in enumerate(extremes):
        margin = z * np.sqrt(errors[:, j] ** 2 + errors[best, j] ** 2)
        tied = np.flatnonzero(scaled[:, j] <= scaled[best, j] + margin)
        options.append([int(i) for i in tied[np.argsort(scaled[tied].sum(axis=1), kind="stable")][:4]])
    return [combo for combo in itertools.product(*options) if list(combo) != list(extremes)]


def _knee_survives(scaled: np.ndarray, errors: np.ndarray, extremes: Sequence[int], farthest: int) -> bool:
    """Whether the knee stays beyond the noise from the line through every set of extremes the noise allows."""
    for rival in _rival_extremes(scaled, errors, extremes):
        if farthest in rival:
            return False  # the knee is itself an extreme the noise allows
        normal = _plane_normal(scaled[list(rival)])
        if normal is None:
            continue
        distance = float((1.0 - scaled[farthest] @ normal) / np.linalg.norm(normal))
        within = _within_noise(errors, normal, distance, farthest, rival)
        if within is not None and within[0] <= within[1]:
            return False
    return True


def _within_noise(
    errors: np.ndarray | None,
    normal: np.ndarray,
    distance: float,
    farthest: int,
    extremes: Sequence[int],
) -> tuple[float, float] | None:
    """The farthest point's ``distance`` from the plane through the extremes in standard errors of the recorded
    noise (``errors``: each point's, scaled as the front, `_scaled_errors`), and the number of standard errors a
    knee must exceed; ``None`` when no standard error is recorded for these points.

    The distance's standard error combines the point's errors and the largest of the extremes' (the plane
    moves with them) along the plane's normal; the farthest of n points is judged at a one-sided Bonferroni
    level of `_KNEE_LEVEL` / n, as the largest of n noisy distances is the one picked."""
    if errors is None:
        return None
    from scipy.stats import norm

    unit = normal / np.linalg.norm(normal)
    along = np.sqrt((errors * unit) ** 2 @ np.ones(len(unit)))  # each point's error along the normal
    error = math.hypot(float(along[farthest]), max(float(along[i]) for i in extremes))
    cut = float(norm.ppf(1.0 - _KNEE_LEVEL / len(errors)))
    return None if error == 0.0 else (distance / error, cut)


def _plane_normal(extremes: np.ndarray) -> np.ndarray | None:
    """``n`` with ``n . e = 1`` for every extreme ``e``, or ``None`` when they span no such plane."""
    if np.linalg.matrix_rank(extremes) < len(extremes):
        return None
    normal = np.linalg.solve(extremes, np.ones(len(extremes)))
    return normal if np.all(np.isfinite(normal)) else None


@dataclass(frozen=True)
class Weights:
    """The smallest weighted sum of the scaled objectives (see `weights`)."""

    weights: tuple[tuple[str, float], ...]

    def pick(self, front: Sequence[TrialRecord], objectives: Sequence[Metric]) -> tuple[TrialRecord, str]:
        given = dict(self.weights)
        for name in given:
            _objective(name, objectives, "a weight of choose.weights")
        vector = np.asarray([given.get(m.name, 0.0) for m in objectives])
        scores = _scaled(front, objectives) @ vector
        best = min(range(len(front)), key=lambda i: (round(float(scores[i]), 12), front[i].number))
        text = ", ".join(f"{name} {weight:g}" for name, weight in self.weights)
        return front[best], f"smallest weighted sum ({text}) of the objectives scaled to [0, 1] over the front"

    def to_json(self) -> dict[str, Any]:
        return {"rule": "weights", "weights": dict(self.weights)}


def best(metric: str, bounds: Mapping[str, tuple[str, float]] | None = None) -> Best:
    """The best ``metric`` among the front's trials that meet ``bounds`` (name -> ``(op, bound)``, op one of
    ``<=``, ``<``, ``>=``, ``>``), e.g. ``best("val_loss", bounds={"latency_ms": ("<=", 20)})``."""
    if not isinstance(metric, str) or not metric:
        raise ConfigError(f"choose.best needs an objective's name, got {metric!r}: pass e.g. 'val_loss'")
    checked = []
    for name, bound in (bounds or {}).items():
        if not (isinstance(bound, Sequence) and not isinstance(bound, str) and len(bound) == 2):
            raise ConfigError(
                f"a bound of choose.best must be (op, value), got {name}={bound!r}: pass e.g. {{{name!r}: ('<=', 20)}}"
            )
        checked.append(Guardrail(name, bound[0], bound[1]))  # checks the op and the value
    return Best(metric, tuple(checked))


def knee() -> Knee:
    """The knee point of the front (see the module's docstring for the rule)."""
    return Knee()


def weights(values: Mapping[str, float]) -> Weights:
    """The smallest weighted sum of the objectives scaled to [0, 1] over the front; weights are >= 0,
    not all 0, e.g. ``weights({"val_loss": 0.7, "latency_ms": 0.3})``."""
    if not isinstance(values, Mapping) or not values:
        raise ConfigError(
            f"choose.weights needs a dict of objective -> weight, got {values!r}: pass e.g. {{'loss': 1}}"
        )
    checked: list[tuple[str, float]] = []
    for name, weight in values.items():
        ok = isinstance(weight, int | float) and not isinstance(weight, bool) and math.isfinite(weight) and weight >= 0
        if not ok:
            raise ConfigError(f"weights must be finite numbers >= 0, got {name}={weight!r}: pass e.g. {name}=0.5")
        checked.append((str(name), float(weight)))
    if not any(w > 0 for _, w in checked):
        raise ConfigError(f"at least one weight must be > 0, got {dict(values)!r}: give the objective you care about 1")
    return Weights(tuple(checked))


def from_json(data: Mapping[str, Any]) -> Rule:
    """The rule a `ChoiceAttr` recorded (``to_json`` of `Best`, `Knee` or `Weights`)."""
    kind = data.get("rule")
    if kind == "best":
        bounds = {b["metric"]: (b["op"], b["bound"]) for b in data.get("bounds", [])}
        return best(str(data["metric"]), bounds)
    if kind == "knee":
        return knee()
    if kind == "weights":
        return weights(dict(data["weights"]))
    raise ConfigError(f"a recorded choice rule must be 'best', 'knee' or 'weights', got {kind!r}: choose again")


def neighbours(front: Sequence[TrialRecord], chosen: TrialRecord, primary: Metric) -> list[TrialRecord]:
    """The trials next to ``chosen`` on the front ordered by the primary objective (one on each side when there)."""
    ordered = sorted(front, key=lambda r: (primary.sign() * r.metrics[primary.name], r.number))
    at = next(i for i, r in enumerate(ordered) if r.number == chosen.number)
    return [ordered[i] for i in (at - 1, at + 1) if 0 <= i < len(ordered)]
