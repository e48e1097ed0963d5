"""Rules for choosing one configuration from a multi-objective study's Pareto front (`Study.choose`).

A rule is a frozen value a user can state and the study records (``to_json``):

* `best` ``("val_loss", bounds={"latency_ms": ("<=", 20)})``: the best value of one objective among the front's
  trials that meet every bound on the others;
* `knee` ``()``: the knee of the front. Each objective is scaled to [0, 1] over the front (0: the front's best);
  the knee is the point farthest, on the side of the ideal point, from the line (with three or more objectives,
  the hyperplane) through the front's extremes (each objective's best trial). When the extremes do not span
  such a plane (e.g. one trial is best on two objectives), it is the point nearest the ideal point instead.
  When the trials record their noise (``stderr:<objective>`` from per-example values, or per-fold values, read as
  the verdict reads them: `tunesmith._noise.noise_of`; a ``stderr:`` of 0 the objective recorded itself is exact),
  the farthest point must lie beyond the noise in its distance from that plane (one-sided, 5% over the front's
  points, Bonferroni); a front whose knee is within the noise is said to have none, and the point nearest the ideal
  point is chosen;
* `weights` ``({"val_loss": 0.7, "latency_ms": 0.3})``: the smallest weighted sum of the objectives scaled to
  [0, 1] over the front (weights of objectives left out are 0).

Every rule's reason names the trials whose score by the rule lies within the recorded noise of the pick's (at the
knee's level, `Pick.tied`; on exact values, those level with it): points picked among them by luck, or by number.

A rule's `judge` gives its `Pick`: the trial, the reason, and how far behind it each other trial the rule ranked
lies in standard errors of the recorded noise; the verdict re-applies a recorded rule with it to the current front.

Example:
    >>> import tunesmith as ts
    >>> study.choose(ts.choose.best("val_loss", bounds={"latency_ms": ("<=", 20)}))
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from statistics import NormalDist
from typing import Any, Protocol

import numpy as np

from tunesmith._noise import metric_noise
from tunesmith._numbers import format_value
from tunesmith.errors import ConfigError
from tunesmith.objective import Guardrail, Metric
from tunesmith.pareto import loss_matrix
from tunesmith.trial import TrialRecord

# scipy.stats is imported inside the functions that use it: at the top it would add about a second to
# `import tunesmith` and to every CLI command.

__all__ = ["Best", "Knee", "Pick", "Rule", "Weights", "best", "from_json", "knee", "neighbours", "weights"]


class Rule(Protocol):
    """What every rule provides: ``pick`` (the chosen trial of a non-empty front and why, in words) and its JSON."""

    def pick(self, front: Sequence[TrialRecord], objectives: Sequence[Metric]) -> tuple[TrialRecord, str]: ...

    def to_json(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Pick:
    """A rule's pick from a front, with how far the recorded noise leaves it open (`Best.judge`, `Knee.judge`,
    `Weights.judge`).

    Attributes:
        chosen: the trial the rule picks.
        why: why, in words (what `Study.choose` records).
        tied: the other trials the rule ranked whose score by the rule lies within the recorded noise of the chosen
            one's (`_within_noise_of`, at the knee's level shared among the ranked trials); empty when none does or
            the noise is unknown.
        behind: each other trial the rule ranked, as (number, how many standard errors of the difference its score
            lies behind the chosen one's); empty when the noise is unknown.
        cut: the standard errors a trial must lie behind to be behind beyond the noise; ``None`` when the noise of
            what the rule reads is not recorded (`unrecorded`), so that nothing can be said within or beyond it.
        unrecorded: the objectives the rule reads for which a ranked trial records no standard error.
        exact: every value the rule read is exact (a recorded standard error of 0): a trial is behind by any margin
            and tied only when level.
    """

    chosen: TrialRecord
    why: str
    tied: tuple[TrialRecord, ...] = ()
    behind: tuple[tuple[int, float], ...] = ()
    cut: float | None = None
    unrecorded: tuple[str, ...] = ()
    exact: bool = False

    def standing(self, number: int) -> float | None:
        """How many standard errors trial ``number``'s score lies behind the chosen one's (0 for the chosen trial;
        ``None`` when the noise is unknown or the rule did not rank it)."""
        if self.cut is None:
            return None
        if number == self.chosen.number:
            return 0.0
        return next((gap for n, gap in self.behind if n == number), None)


def _scaled(front: Sequence[TrialRecord], objectives: Sequence[Metric]) -> np.ndarray:
    """The front's losses, each objective scaled to [0, 1] over the front (0: its best; no range: 0)."""
    _, losses = loss_matrix(front, objectives)
    return np.asarray((losses - losses.min(axis=0)) / _spans(losses))


def _spans(losses: np.ndarray) -> np.ndarray:
    low, high = losses.min(axis=0), losses.max(axis=0)
    return np.asarray(np.where(high > low, high - low, 1.0))


def _stderr(record: TrialRecord, metric: Metric) -> float | None:
    """``record``'s standard error of ``metric`` as the verdict reads it (`noise_of`: per-example or per-fold
    values, 0 for an exact value the objective recorded so); ``None`` when its noise is unknown."""
    noise = metric_noise(record.metrics, metric)
    return None if noise is None else noise.stderr


def _scaled_errors(front: Sequence[TrialRecord], objectives: Sequence[Metric]) -> np.ndarray | None:
    """Each trial's standard errors (`_stderr`) on the scale of `_scaled`; ``None`` when a value of the front lacks
    one (its noise is unknown, and so is the knee's: a missing one read as 0 claimed knees "beyond the noise" on a
    straight front)."""
    recorded = [[_stderr(r, m) for m in objectives] for r in front]
    if any(e is None for row in recorded for e in row):
        return None
    _, losses = loss_matrix(front, objectives)
    return np.asarray(np.asarray(recorded, dtype=float) / _spans(losses))


def _unrecorded(front: Sequence[TrialRecord], objectives: Sequence[Metric]) -> list[str]:
    """The objectives for which a trial of the front records no noise (`_stderr`)."""
    return [m.name for m in objectives if any(_stderr(r, m) is None for r in front)]


def _objective(name: str, objectives: Sequence[Metric], what: str) -> Metric:
    for metric in objectives:
        if metric.name == name:
            return metric
    raise ConfigError(
        f"{what} must name one of the study's objectives {[m.name for m in objectives]}, got {name!r}: "
        "use one of those names"
    )


def _describe(record: TrialRecord, objectives: Sequence[Metric], bounds: Sequence[Guardrail] = ()) -> str:
    """``record``'s objectives, each printed on its side of the ``bounds`` on it (10.00001 beside ``<= 10``)."""
    shown = {m.name: format_value(record.metrics[m.name], bounds=[b.bound for b in bounds if b.metric == m.name],
                                  digits=4) for m in objectives}  # fmt: skip
    return ", ".join(f"{name} {text}" for name, text in shown.items())


@dataclass(frozen=True)
class Best:
    """The best ``metric`` among the front's trials meeting every bound (see `best`)."""

    metric: str
    bounds: tuple[Guardrail, ...] = ()

    def pick(self, front: Sequence[TrialRecord], objectives: Sequence[Metric]) -> tuple[TrialRecord, str]:
        picked = self.judge(front, objectives)
        return picked.chosen, picked.why

    def judge(self, front: Sequence[TrialRecord], objectives: Sequence[Metric]) -> Pick:
        """The `Pick`: ranked on ``metric`` among the trials meeting every bound, each read on its value."""
        metric = _objective(self.metric, objectives, "choose.best's metric")
        for bound in self.bounds:
            _objective(bound.metric, objectives, "a bound of choose.best")
        allowed = [r for r in front if all(b.holds(r.metrics[b.metric]) for b in self.bounds)]
        if not allowed:
            raise ConfigError(f"{self.unmet(front, objectives)}: loosen the bounds, or run more trials")
        best = min(range(len(allowed)), key=lambda i: (metric.sign() * allowed[i].metrics[metric.name],
                                                       allowed[i].number))  # fmt: skip
        where = f" under {self._bounds_text()}" if self.bounds else ""
        notes = [note for bound in self.bounds
                 if (note := _bound_noise(bound, allowed[best], _objective(bound.metric, objectives, "")))]
        why = "; ".join([f"best {metric.name}{where} among {len(allowed)} of the front's {len(front)} trials", *notes])
        scores = np.asarray([metric.sign() * r.metrics[metric.name] for r in allowed])
        picked = _ranked(allowed, best, scores, _stderrs(allowed, metric), why, _unrecorded(allowed, [metric]))
        if len(allowed) == 1:
            return picked
        return replace(picked, why=f"{why}; {_ties_said(picked, objectives, metric.name)}")

    def unmet(self, front: Sequence[TrialRecord], objectives: Sequence[Metric]) -> str:
        """That no trial of the non-empty ``front`` meets the bounds, with the one closest to meeting them (the
        least summed distance outside them) and its objectives; the fix is the caller's to give."""
        closest = min(front, key=lambda r: sum(_excess(b, r.metrics[b.metric]) for b in self.bounds))
        return (f"no trial on the Pareto front meets {self._bounds_text()} (closest: #{closest.number} with "
                f"{_describe(closest, objectives, self.bounds)})")  # fmt: skip

    def _bounds_text(self) -> str:
        return " and ".join(b.describe() for b in self.bounds)

    def describe(self) -> str:
        """The call that states this rule."""
        bounds = ", ".join(f"{b.metric!r}: ({b.op!r}, {b.bound_text()})" for b in self.bounds)
        return f"ts.choose.best({self.metric!r}{f', bounds={{{bounds}}}' if bounds else ''})"

    def to_json(self) -> dict[str, Any]:
        return {"rule": "best", "metric": self.metric, "bounds": [b.to_json() for b in self.bounds]}


# A bound is met beyond the noise when the value lies inside it by more than this many standard errors: the
# one-sided 5% point, as a guardrail is read (`tunesmith.discipline.guardrails.read_guardrail`).
_BOUND_CUT = NormalDist().inv_cdf(0.95)


def _bound_noise(bound: Guardrail, chosen: TrialRecord, metric: Metric) -> str:
    """What the reason says of ``bound`` on the ``chosen`` trial's value of ``metric``: met only within its noise
    (`_stderr`: its true value may break the bound, as choose.best reads bounds on the values), of unknown noise, or
    nothing (met beyond the noise, or exact)."""
    value, noise = chosen.metrics[bound.metric], metric_noise(chosen.metrics, metric)
    shown = bound.value_text(value, 4)  # on the side of the bound it lies on
    if noise is None:
        return (f"{bound.describe()} is read on #{chosen.number}'s value {shown}, of no recorded noise: "
                f"whether its true value meets the bound is unknown (per-example values of {bound.metric} would "
                "tell)")  # fmt: skip
    if noise.stderr == 0:
        return ""  # a stderr of 0 the objective recorded itself (not per-example values all alike): exact
    inside = abs(value - float(bound.bound)) / noise.stderr
    if inside > _BOUND_CUT:
        return ""
    return (f"{bound.describe()} is met only within noise by #{chosen.number} ({shown} +- {noise.stderr:.2g} on "
            f"{noise.source}: "
            f"{inside:.1f} standard errors inside the bound, beyond the noise needs more than {_BOUND_CUT:.2f}), "
            "so its true value may break it; more examples per evaluation would tell, and the verdict reads the "
            "bound on the re-runs of ts.validate_top")  # fmt: skip


def _stderrs(records: Sequence[TrialRecord], metric: Metric) -> np.ndarray | None:
    """Each record's standard error of ``metric`` (`_stderr`); ``None`` when one's noise is unknown."""
    recorded = [_stderr(r, metric) for r in records]
    return None if any(e is None for e in recorded) else np.asarray(recorded, dtype=float)


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
        picked = self.judge(front, objectives)
        return picked.chosen, picked.why

    def judge(self, front: Sequence[TrialRecord], objectives: Sequence[Metric]) -> Pick:
        """The `Pick`: ranked on the score the knee picks by (the distance from the line through the extremes, or
        to the ideal point), each score's noise read from the trials' along it."""
        scaled, errors = _scaled(front, objectives), _scaled_errors(front, objectives)
        extremes_of = [int(np.lexsort((scaled.sum(axis=1), scaled[:, j]))[0]) for j in range(scaled.shape[1])]
        extremes = scaled[extremes_of]
        normal = plane = _plane_normal(extremes)  # plane: the normal the scores are distances along, if any
        if normal is None:
            scores = np.linalg.norm(scaled, axis=1)  # nearest the ideal point
            how = "nearest the ideal point of the scaled front (its extremes span no plane)"
        else:
            scores = -(1.0 - scaled @ normal) / np.linalg.norm(normal)  # farther on the ideal's side: better
            how = "farthest from the line through the front's extremes, on the scaled front"
            farthest = int(np.argmin(scores))
            within = _within_noise(errors, normal, float(-scores[farthest]), farthest, extremes_of)
            if float(-scores.min()) <= _NO_KNEE:  # every point on the line: the farthest is a tie, not a knee
                scores, plane = np.linalg.norm(scaled, axis=1), None
                how = ("the front has no knee (every point lies on the line through its extremes), so the point "
                       "nearest the ideal point of the scaled front")  # fmt: skip
            elif within is None:
                lacking = _unrecorded(front, objectives)
                on = f" for {', '.join(lacking)}" if lacking and len(lacking) < len(objectives) else ""
                how += f" (no standard errors recorded{on}: whether this knee is beyond noise is unknown)"
            else:
                rejected = _knee_rejected(front, objectives, scaled, errors, extremes_of, farthest, within)
                if rejected is None:
                    distance, cut = within
                    how += (" (off the line on values of no noise: their standard errors are recorded as 0)"
                            if math.isinf(distance) else
                            f" ({distance:.1f} standard errors from the line, beyond its noise: more than {cut:.1f})")
                else:
                    scores, plane = np.linalg.norm(scaled, axis=1), None
                    how = (f"the front has no knee beyond its noise ({rejected}), so the point nearest the ideal point "
                           "of the scaled front; more examples per evaluation would tell")  # fmt: skip
        order = sorted(range(len(front)), key=lambda i: (round(float(scores[i]), 12), front[i].number))
        spread = None
        if errors is not None:
            spread = _radial(scaled, errors) if plane is None else _along(errors, plane)
        picked = _ranked(front, order[0], scores, spread, f"knee point: {how}", _unrecorded(front, objectives))
        if not picked.tied:
            return picked  # the reason said the noise: unknown, or the knee beyond it
        score = "its distance from the line" if plane is not None else "its distance to the ideal point"
        return replace(picked, why=f"{picked.why}; {_ties_said(picked, objectives, score)}")

    def describe(self) -> str:
        """The call that states this rule."""
        return "ts.choose.knee()"

    def to_json(self) -> dict[str, Any]:
        return {"rule": "knee"}


def _noise_cut(points: int) -> float:
    """How many standard errors a score must lie behind the best of ``points`` to be behind beyond the noise: the
    one-sided `_KNEE_LEVEL` point shared among them (Bonferroni), as the best of many noisy scores is flattered."""
    from scipy.stats import norm

    return float(norm.ppf(1.0 - _KNEE_LEVEL / max(points, 1)))


def _within_noise_of(scores: np.ndarray, errors: np.ndarray, best: int, cut: float) -> np.ndarray:
    """Which points' ``scores`` (lower is better; ``errors`` their standard errors) lie within the noise of point
    ``best``'s: behind it by at most ``cut`` standard errors of the difference (theirs and its combined)."""
    return np.asarray(scores <= scores[best] + cut * np.sqrt(errors**2 + errors[best] ** 2))


def _behind(scores: np.ndarray, errors: np.ndarray, best: int) -> np.ndarray:
    """How many standard errors of the difference each point's score lies behind point ``best``'s (a difference of
    no noise: 0 when level or ahead, infinitely many when behind)."""
    gap, error = scores - scores[best], np.sqrt(errors**2 + errors[best] ** 2)
    return np.asarray(np.divide(gap, error, out=np.where(gap > 0, np.inf, 0.0), where=error > 0))


def _ranked(records: Sequence[TrialRecord], best: int, scores: np.ndarray, errors: np.ndarray | None, why: str,
            unrecorded: Sequence[str]) -> Pick:  # fmt: skip
    """The `Pick` of ``records[best]`` among ``records`` ranked by ``scores`` (lower is better) of standard errors
    ``errors`` (``None``: not recorded for ``unrecorded``)."""
    if errors is None:
        return Pick(records[best], why, unrecorded=tuple(unrecorded))
    cut = _noise_cut(len(records))
    within, gaps = _within_noise_of(scores, errors, best, cut), _behind(scores, errors, best)
    others = [i for i in range(len(records)) if i != best]
    return Pick(records[best], why, tied=tuple(records[i] for i in others if within[i]),
                behind=tuple((records[i].number, float(gaps[i])) for i in others), cut=cut,
                exact=not np.any(errors > 0))  # fmt: skip


def _ties_said(picked: Pick, objectives: Sequence[Metric], score: str) -> str:
    """What a reason says of the trials within the noise of ``picked``'s on ``score``: points picked among them by
    luck, none, or that the noise to tell is not recorded."""
    if picked.cut is None:
        lacking = f" for {', '.join(picked.unrecorded)}" if picked.unrecorded else ""
        return f"no standard errors recorded{lacking}: which trials lie within noise of it on {score} is unknown"
    if picked.exact:
        if not picked.tied:
            return f"no other trial of the front is level with it on {score} (values of no noise)"
        return (f"level with it on {score}, on values of no noise: {_named(picked.tied, objectives)}; the rule takes "
                f"the earliest trial of those level, #{picked.chosen.number}")  # fmt: skip
    if not picked.tied:
        return f"no other trial of the front lies within noise of it on {score}"
    return (f"within noise of it on {score} (at 5% over the {len(picked.behind) + 1} trials ranked): "
            f"{_named(picked.tied, objectives)}; "
            f"which of these and #{picked.chosen.number} is truly best on it this evidence cannot tell, more examples "
            "per evaluation would tell them apart")  # fmt: skip


def _named(tied: Sequence[TrialRecord], objectives: Sequence[Metric]) -> str:
    """The trials ``tied``, each with its objectives, the first five of them."""
    more = f" and {len(tied) - 5} more" if len(tied) > 5 else ""
    return ", ".join(f"#{r.number} ({_describe(r, objectives)})" for r in tied[:5]) + more


def _rival_extremes(scaled: np.ndarray, errors: np.ndarray, extremes: Sequence[int]) -> list[tuple[int, ...]]:
    """Other sets of extremes the noise allows: for each objective, the points within the noise of its best (at
    the front's family-wise level, as the knee itself: the best of many noisy points is flattered), the four
    least behind on the others kept. A point that noise alone put ahead on one objective, far behind on the others,
    would otherwise tilt the line and make a knee of the true extreme beside it."""
    cut = _noise_cut(len(scaled))
    options = []
    for j, best in enumerate(extremes):
        tied = np.flatnonzero(_within_noise_of(scaled[:, j], errors[:, j], best, cut))
        options.append([int(i) for i in tied[np.argsort(scaled[tied].sum(axis=1), kind="stable")][:4]])
    return [combo for combo in itertools.product(*options) if list(combo) != list(extremes)]


def _knee_rejected(
    front: Sequence[TrialRecord],
    objectives: Sequence[Metric],
    scaled: np.ndarray,
    errors: np.ndarray | None,
    extremes: Sequence[int],
    farthest: int,
    within: tuple[float, float],
) -> str | None:
    """Why point ``farthest`` is no knee beyond the noise, in the figures of the line that rejects it: the line
    through the front's extremes (``within``: its distance and cut, `_within_noise`), else the first line through
    other extremes the noise allows (`_rival_extremes`); ``None`` when it is a knee beyond the noise from each.

    The main line's figures alone read as a contradiction when a rival line rejected the knee ("3.4 standard errors
    from it, a knee needs more than 2.5", and no knee), so the rejecting line's own figures are given."""
    distance, cut = within
    said = f"the point farthest from the line through its extremes, #{front[farthest].number}, lies "
    if distance <= cut:
        return f"{said}{distance:.1f} standard errors from it, within its noise: a knee needs more than {cut:.1f}"
    if errors is None:
        return None  # no noise to draw other extremes from
    if math.isinf(distance):
        said += "off it on values of no noise, but"
    else:
        said += f"{distance:.1f} standard errors from it, more than the {cut:.1f} a knee needs, but"
    for rival in _rival_extremes(scaled, errors, extremes):
        if farthest in rival:
            name = objectives[rival.index(farthest)].name
            return (f"{said} its {name} lies within the noise of the front's best {name}: it is an extreme the noise "
                    "allows, not a knee")  # fmt: skip
        normal = _plane_normal(scaled[list(rival)])
        if normal is None:
            continue
        away = float((1.0 - scaled[farthest] @ normal) / np.linalg.norm(normal))
        beside = _within_noise(errors, normal, away, farthest, rival)
        if beside is None or beside[0] > beside[1]:
            continue
        through = " and ".join(f"#{front[i].number}" for i in rival)
        if math.isinf(beside[0]):
            where = "on its far side from the ideal point"
        elif beside[0] < 0:
            where = f"on its far side from the ideal point, {-beside[0]:.1f} standard errors from it"
        else:
            where = (f"only {beside[0]:.1f} standard errors from it, within its noise: a knee needs more than "
                     f"{beside[1]:.1f}")  # fmt: skip
        return f"{said} the line through {through}, extremes the noise allows as well, has it {where}"
    return None


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
    level of `_KNEE_LEVEL` / n, as the largest of n noisy distances is the one picked. Where that error is 0 (the
    values are exact), a distance off the plane is infinitely many standard errors."""
    if errors is None:
        return None
    from scipy.stats import norm

    along = _along(errors, normal)
    error = math.hypot(float(along[farthest]), max(float(along[i]) for i in extremes))
    cut = float(norm.ppf(1.0 - _KNEE_LEVEL / len(errors)))
    if error == 0.0:
        return (math.copysign(math.inf, distance) if distance else 0.0), cut
    return distance / error, cut


def _along(errors: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """Each point's standard error along ``normal``: that of its distance from a plane of that normal."""
    unit = normal / np.linalg.norm(normal)
    return np.asarray(np.sqrt((errors * unit) ** 2 @ np.ones(len(unit))))


def _radial(scaled: np.ndarray, errors: np.ndarray) -> np.ndarray:
    """Each point's standard error of its distance to the ideal point, to first order (along the direction to it);
    at the ideal point itself, where every direction leads away, the largest of its errors."""
    norms = np.linalg.norm(scaled, axis=1)
    direction = np.divide(scaled, norms[:, None], out=np.zeros_like(scaled), where=norms[:, None] > 0)
    return np.asarray(np.where(norms > 0, np.sqrt(((errors * direction) ** 2).sum(axis=1)), errors.max(axis=1)))


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
        picked = self.judge(front, objectives)
        return picked.chosen, picked.why

    def judge(self, front: Sequence[TrialRecord], objectives: Sequence[Metric]) -> Pick:
        """The `Pick`: ranked on the weighted sum, each sum's noise read from the weighted objectives'; the reason
        names the trials within that noise of the pick (`_within_noise_of`, as the knee reads its extremes)."""
        given = dict(self.weights)
        for name in given:
            _objective(name, objectives, "a weight of choose.weights")
        vector = np.asarray([given.get(m.name, 0.0) for m in objectives])
        scores = _scaled(front, objectives) @ vector
        best = min(range(len(front)), key=lambda i: (round(float(scores[i]), 12), front[i].number))
        text = ", ".join(f"{name} {weight:g}" for name, weight in self.weights)
        why = f"smallest weighted sum ({text}) of the objectives scaled to [0, 1] over the front"
        weighted = [m for m, weight in zip(objectives, vector, strict=True) if weight > 0]
        # A sum reads only its weighted objectives: one left out may lack its noise without clouding the sum's.
        errors = _scaled_errors(front, weighted)
        spread = None if errors is None else np.sqrt((errors * vector[vector > 0]) ** 2 @ np.ones(len(weighted)))
        picked = _ranked(front, best, scores, spread, why, _unrecorded(front, weighted))
        if len(front) == 1:
            return picked
        return replace(picked, why=f"{why}; {_ties_said(picked, objectives, 'that sum')}")

    def describe(self) -> str:
        """The call that states this rule."""
        return f"ts.choose.weights({dict(self.weights)!r})"

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


def from_json(data: Mapping[str, Any]) -> Best | Knee | Weights:
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
