"""Whether a search has converged: ``Budget(until_converged=True)``.

A search is worth going on while it may still find a configuration measurably better than its best. The bound of
`tunesmith.samplers._gp_regret` says how much better one can be at most (90% under a Gaussian process fitted to the
better half of the trials); the trials' own standard errors say how precisely a score measures the performance it
estimates. Once the bound is below that noise, a better configuration would score better by less than the error of
a score: the search could only go on to tune the validation data, so it stops (Makarova et al., 2022, "Automatic
termination for hyperparameter optimization", whose criterion this is). The model fits its own noise, as theirs
does: on one validation set the configurations' errors are shared, so scores vary less between neighbours than a
score's standard error.

The noise is the median, over the trials the model was fitted on, of each one's standard error: ``stderr:<metric>``
(an objective that returns per-example values) or its folds' standard deviation over the square root of their
number (``fold:<i>:<metric>``, `tunesmith.discipline.fold_metrics`). A metric with neither is never judged
converged: the study runs to its other limits and `optimize` says why (`unchecked_note`).

The first time the check stops a search, the study records it (`tunesmith.attributes.ConvergenceAttr`); every later
`Study.ask` on any worker reads that record and stops, so all of them agree and `tunesmith status` says when and why.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tunesmith.attributes import ConvergenceAttr, read_attr
from tunesmith.budget import Budget
from tunesmith.objective import ANNOTATIONS, COUNT, STDERR, Metric, folds_of
from tunesmith.samplers._gp_regret import MIN_FITTED, RegretBound, fitted_rows, regret_bound
from tunesmith.space import Space
from tunesmith.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from tunesmith.study._study import Study

__all__ = [
    "MIN_TRIALS", "Convergence", "ConvergenceWatch", "assess", "recorded_text", "room_text", "stopped_text",
    "trial_noise", "unchecked_note",
]  # fmt: skip

# No search is judged before this many complete trials: the model of the better half needs them (`MIN_FITTED`).
MIN_TRIALS = MIN_FITTED


def trial_noise(record: TrialRecord, metric: Metric) -> float | None:
    """The standard error of ``record``'s ``metric``: the stored one, else its folds' (``None``: neither), as the
    verdict reads it (`discipline.gap.noise_of`)."""
    stored = record.metrics.get(f"{STDERR}{metric.name}")
    count = record.metrics.get(f"{COUNT}{metric.name}")
    value = record.metrics.get(metric.name)
    scale = 1.0 if metric.scale is None else metric.scale
    if stored == 0 and count is not None and count >= 1 and value is not None and value / scale in (0.0, 1.0):
        # every example right (or every one wrong): a share's noise is not 0, as `best` and the verdict read it
        # (`discipline.gap`), from the share with one success and one failure added, on the metric's scale
        share = (count * value / scale + 1.0) / (count + 2.0)
        return scale * math.sqrt(share * (1.0 - share) / count)
    if stored is not None and math.isfinite(stored) and stored >= 0:
        return float(stored)
    folds = folds_of(record.metrics, metric.name)
    if len(folds) < 2 or not all(math.isfinite(v) for v in folds):
        return None
    return float(np.std(folds, ddof=1) / math.sqrt(len(folds)))


@dataclass(frozen=True)
class Convergence:
    """One check: ``trials`` complete trials read, the ``bound`` on what is left to find and the ``noise`` of one
    measurement (both ``None`` when the noise is not measured), and the best trial's number."""

    trials: int
    bound: RegretBound | None
    noise: float | None
    best: int

    @property
    def converged(self) -> bool:
        return self.noise is not None and self.bound is not None and self.bound.bound < self.noise

    def record(self, at: float) -> ConvergenceAttr:
        assert self.noise is not None and self.bound is not None
        return ConvergenceAttr(trials=self.trials, bound=self.bound.bound, noise=self.noise, best=self.best, at=at)


def stopped_text(attr: ConvergenceAttr, metric: Metric) -> str:
    """Why the search stopped, from the record: `SearchConverged`'s message, `tunesmith status`' line."""
    return (
        f"the search converged after {attr.trials} complete trials: at most {attr.bound:.3g} of {metric.name} better "
        f"than the best (#{attr.best}) is left to find in the space (a Gaussian process's bound at 90%), below the "
        f"noise of one measurement (standard error {attr.noise:.3g}), so further trials could not be told apart from "
        "it by their scores"
    )


def room_text(check: Convergence, metric: Metric) -> str | None:
    """What is left to find, for `tunesmith status` and a run's summary whatever the budget (``None`` when the
    check could not be made: the noise is not measured)."""
    if check.bound is None or check.noise is None:
        return None
    bound, noise = check.bound.bound, check.noise
    head = (
        f"left to find: at most {bound:.3g} of {metric.name} better than the best (#{check.best}) in the space (a "
        f"Gaussian process's bound at 90%, {check.trials} complete trials)"
    )
    if bound < noise:
        return (
            f"{head}, below the standard error of a score ({noise:.3g}): the search has converged, and further trials "
            "could not be told apart from the best by their scores (ts.Budget(until_converged=True) stops there)"
        )
    if noise <= 0:  # scores recorded exact (a standard error of 0): no bound lies within their noise
        return f"{head}; the scores were recorded without noise, so no bound is within it: more trials may find better"
    return f"{head}, {bound / noise:.1f} times the standard error of a score ({noise:.3g}): more trials may find better"


def recorded_text(attrs: Mapping[str, Any], budget: Budget, metric: Metric) -> str | None:
    """When and why ``until_converged`` ended the search, from the study's record (``None``: it did not), as
    `tunesmith status`, the HTML report and the dashboard all say it; once `extend_budget(until_converged=False)`
    turned the stop off, that the search goes on past it."""
    converged = read_attr(attrs, ConvergenceAttr)
    if converged is None:
        return None
    said = stopped_text(converged, metric)
    return said if budget.until_converged else f"{said}; until_converged was turned off since, and the search goes on"


def _complete(records: Sequence[TrialRecord], metric: Metric) -> list[TrialRecord]:
    return [
        r
        for r in records
        if r.state is TrialState.COMPLETE
        and r.invalidated is None
        and (value := r.metrics.get(metric.name)) is not None
        and math.isfinite(value)
    ]


def _noise(complete: Sequence[TrialRecord], loss: np.ndarray, metric: Metric) -> tuple[float | None, int, int]:
    """The median standard error of the trials the model is fitted on (`fitted_rows`), how many of them measured
    one, and how many there are; the median is ``None`` unless half of them at least did (a standard error
    measured on a few would speak for the others)."""
    rows = fitted_rows(loss)
    noises = [n for i in rows if (n := trial_noise(complete[i], metric)) is not None]
    median = float(np.median(noises)) if 2 * len(noises) >= len(rows) else None
    return median, len(noises), len(rows)


def _losses(complete: Sequence[TrialRecord], metric: Metric) -> np.ndarray:
    return metric.sign() * np.array([r.metrics[metric.name] for r in complete])


def assess(space: Space, records: Sequence[TrialRecord], metric: Metric) -> Convergence | None:
    """The check on ``records``' valid COMPLETE trials (under early stopping, those trained to the end); ``None``
    before `MIN_TRIALS` of them. The bound is computed only when the noise is measured. The model's random search
    of the space is seeded by the trials' count, so the same trials give the same answer in any process."""
    complete = _complete(records, metric)
    if len(complete) < MIN_TRIALS or not space.dimensions:
        return None
    loss = _losses(complete, metric)
    noise, _, _ = _noise(complete, loss, metric)
    if noise is None:
        return Convergence(trials=len(complete), bound=None, noise=None, best=complete[int(np.argmin(loss))].number)
    points = np.array([space.encode(r.params) for r in complete])
    bound = regret_bound(space, points, loss, seed=len(complete))
    return Convergence(trials=len(complete), bound=bound, noise=noise, best=complete[int(np.argmin(loss))].number)


def _unread(records: Sequence[TrialRecord], metric: Metric) -> tuple[int, tuple[int, int] | None] | None:
    """Why `assess` reads no bound on ``records``: the complete trials' count, with ``None`` when they are fewer than
    `MIN_TRIALS`, else how many of the best trials measured a standard error of how many were read (too few carry
    one); ``None`` when the bound can be read."""
    complete = _complete(records, metric)
    if len(complete) < MIN_TRIALS:
        return len(complete), None
    noise, measured, fitted = _noise(complete, _losses(complete, metric), metric)
    return None if noise is not None else (len(complete), (measured, fitted))


def _no_noise(metric: Metric, measured: int, fitted: int, records: Sequence[TrialRecord]) -> str:
    """That ``metric`` carries no standard error, and how to give it one."""
    said = (
        f"{metric.name} carries no standard error ({measured} of the {fitted} best trials measured one): return "
        "per-example values (an array, one value per validation example) or per-fold scores "
        f"(**ts.discipline.fold_metrics('{metric.name}', scores) beside the mean)"
    )
    twin = _per_example_twin(_complete(records, metric), metric)
    if twin is None:
        return said
    return (f"{said}; {twin!r} holds per-example values whose mean is {metric.name} in every trial: return them as "
            f"{metric.name} itself ({{'{metric.name}': values}}), since only the metric's own are read as its noise")


def _per_example_twin(complete: Sequence[TrialRecord], metric: Metric) -> str | None:
    """Another key of ``complete``'s results that holds per-example values (a standard error beside it) whose mean is
    ``metric``'s value in every trial: the objective returned the metric as a float and its per-example values
    under another name (``{"acc": 0.9, "acc_per_example": hits}``); ``None`` when there is none."""
    if not complete:
        return None
    first = complete[0].metrics
    for key in first:
        if key == metric.name or key.startswith(ANNOTATIONS) or f"{STDERR}{key}" not in first:
            continue
        if all(f"{STDERR}{key}" in r.metrics and isinstance(r.metrics.get(key), float | int)
               and math.isclose(r.metrics[key], r.metrics[metric.name], rel_tol=1e-9, abs_tol=1e-12)
               for r in complete):  # fmt: skip
            return key
    return None


def room_unread(records: Sequence[TrialRecord], metric: Metric) -> str | None:
    """Why what is left to find cannot be said (`room_text`) on ``records``: too few complete trials, or scores
    without a standard error, with what would let it be read; ``None`` when it can be, or before any trial
    completed. `tunesmith status` said nothing at all, where the quick start promises it says what is left."""
    unread = _unread(records, metric)
    if unread is None or unread[0] == 0:
        return None
    count, noise = unread
    if noise is None:
        trials = f"{count} complete trial{'s' * (count != 1)}"
        return f"left to find: not read yet, {trials} of the {MIN_TRIALS} the bound needs"
    return f"left to find: not read, since {_no_noise(metric, *noise, records)}"


def unchecked_note(records: Sequence[TrialRecord], metric: Metric) -> str | None:
    """What `optimize` says when ``until_converged`` could not judge the search: too few trials, or no noise."""
    unread = _unread(records, metric)
    if unread is None:
        return None
    count, noise = unread
    if noise is None:
        return (f"until_converged: not judged, {count} complete trials of the {MIN_TRIALS} the check needs before it "
                "reads the search")  # fmt: skip
    return (f"until_converged: never judged converged, since {_no_noise(metric, *noise, records)}, or the search "
            "runs to its other limits")  # fmt: skip


class ConvergenceWatch:
    """A study's convergence check, run at most once per set of complete trials (each worker keeps its own)."""

    def __init__(self) -> None:
        self._seen: tuple[int, ...] | None = None
        self._last: Convergence | None = None

    def converged(self, study: Study, records: Sequence[TrialRecord]) -> ConvergenceAttr | None:
        """The study's convergence record, once it has converged: the stored one, else the check on ``records``,
        recorded when it says converged (``None``: not converged, or not judged)."""
        stored = read_attr(study.attrs, ConvergenceAttr)
        if stored is not None:
            return stored
        key = tuple(r.number for r in _complete(records, study.metric))
        if key != self._seen:
            self._seen, self._last = key, assess(study.space, records, study.metric)
        if self._last is None or not self._last.converged:
            return None
        reached = self._last.record(study._clock()).to_json()
        # The first worker's record stands: another that converged a trial later keeps it, so all of them agree.
        kept = study.storage.update_study_attr(study.info.id, ConvergenceAttr.KEY, lambda stored: stored or reached)
        return ConvergenceAttr.from_json(kept)
