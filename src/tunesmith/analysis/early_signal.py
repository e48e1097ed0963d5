"""Whether the values early in training ranked the final ones: the assumption early stopping rests on.

ASHA and Hyperband stop a trial at a rung for its value there, which is sound only where that value ranks the trials
as their final values do; the guide warns that early stopping "needs meaningful early signal; can kill
late-bloomers". `early_signal` measures it on the study's own trials: at each rung (each resource level the scheduler
compares trials at, or, without one, levels a factor of 3 apart below the common final step), Spearman's rank
correlation between the trials' values at the rung and their final values, over the trials trained to the end and
those the divergence check stopped after the rung, which count as ending worst (as a rung ranks them): a trial that
looked best early and then blew up is the early signal misleading, not a trial to leave out.

How sure it is: each correlation has a 95% interval (Fisher's z with Bonett and Wright's standard error for Spearman,
``sqrt((1 + rho**2 / 2) / (n - 3))``), widened for the number of rungs read (Bonferroni), so that a study where the
values at no rung say anything of the end has some rung called either way in at most 5% of studies: simulated, 1000
studies of 3 rungs with 8, 10, 20 and 30 trained trials each, 3.2%, 3.9%, 4.4% and 3.6%
(`tests/test_early_signal.py` builds the same studies). A rung is said to *predict* when the interval lies above
zero, to *mislead* when it lies below (a better value there went with a worse end), and otherwise the trials cannot
tell, with about how many trained trials would at the correlation seen. Fewer than `MIN_TRAINED` trained trials are
not read.

It is read only where the trials were trained to the end whatever their early values (`FIFO`: a pilot study, or a
search without early stopping). Under a scheduler that stops trials, those trained to the end are the ones the rungs
kept, and keeping a trial for its values at later rungs, which track its end, bends how its early values relate to
its end among the kept (Berkson's bias): on the multi-fidelity benchmark's curves the values at resource 1 ranked the
end at rho +0.91 over 40 random configurations trained to the end, and at rho -0.56 over the 30 that the default ASHA
trained to the end (the `curves` problem of `benchmarks.multifidelity_problems`, seed 0). There the reading says so
and how to read the signal instead.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from tunesmith.analysis._common import as_metric, valid_records
from tunesmith.fidelity import is_rung_peer, value_at
from tunesmith.objective import Metric
from tunesmith.schedulers.auto import AutoScheduler
from tunesmith.schedulers.base import Scheduler
from tunesmith.schedulers.successive_halving import value_at_rung
from tunesmith.trial import TrialKind, TrialRecord, TrialState

__all__ = ["MIN_TRAINED", "EarlySignal", "RungSignal", "early_signal"]

# Trained trials a rung's correlation needs. Below, the interval does not hold its level: with 5 or 6 trials, a perfect
# or near-perfect rank agreement alone passed for decided at some rung in 5.4% and 5.7% of 1000 studies of 3 rungs whose
# values say nothing of the end (the rank correlation takes few values, and the normal approximation is too kind to
# its extremes).
MIN_TRAINED = 8
LEVEL = 0.05  # two-sided, shared among the rungs read
ETA = 3.0  # the factor between the levels read when the study has no rungs of its own

Reading = Literal["predicts", "misleads", "undecided", "tied", "too few"]


@dataclass(frozen=True)
class RungSignal:
    """What one rung's values said of the final ones.

    Attributes:
        level: the rung's resource.
        reached: the trials that reached it (stopped there or went on).
        trained: those trained to the full resource or that diverged after it (the divergence check stopped them:
            they count as ending worst), over which ``rho`` is read.
        rho: Spearman's rank correlation between the value at the rung and the final value (``None``: fewer than
            `MIN_TRAINED` trained trials, or one side all equal).
        low, high: its interval (see the module's docstring); ``None`` with ``rho``.
        reading: ``"predicts"``, ``"misleads"``, ``"undecided"``, ``"tied"`` (the values at the rung, or the final
            values, all equal: no order to compare), or ``"too few"`` trained trials to read.
        needed: the trained trials that would decide at the correlation seen, when undecided (``None``: a
            correlation of zero, which no count decides).
        diverged: how many of ``trained`` diverged after the rung.
    """

    level: float
    reached: int
    trained: int
    rho: float | None
    low: float | None
    high: float | None
    reading: Reading
    needed: int | None = None
    diverged: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class EarlySignal:
    """The early signal of a study's trials, rung by rung (`early_signal`).

    Attributes:
        metric: the metric read.
        full: the full resource: a trial trained to it is trained to the end.
        rungs: one `RungSignal` per level below ``full``, lowest first (none when ``kept_by`` is set).
        kept_by: the scheduler that chose which trials trained to the end by their values so far (its name), so
            that the signal is not read from them; ``None`` when none was kept from the end for its values.
    """

    metric: str
    full: float
    rungs: tuple[RungSignal, ...]
    kept_by: str | None = None

    @property
    def confidence(self) -> float:
        """The coverage of each interval: 95% shared among the rungs read (Bonferroni)."""
        return 1.0 - LEVEL / max(_read(r.trained for r in self.rungs), 1)

    def lines(self) -> list[str]:
        """The reading in sentences: one per rung that was read, then where a rung scheduler could start."""
        if self.kept_by is not None:
            return [
                f"early signal: not read from this study: {self.kept_by} trained to the end only the trials it did not "
                "stop, and choosing trials by their values so far bends how those values relate to the end among the "
                "chosen, even reversing it; train some configurations to the end without early stopping "
                "(scheduler='fifo') and their curves tell whether early values predict the end, and from which resource"
            ]
        read = [r for r in self.rungs if r.reading != "too few"]
        if not read:
            most = max((r.trained for r in self.rungs), default=0)
            return [
                f"early signal: at most {most} trials trained to the end (resource {self.full:g}) with a value at a "
                f"rung; {MIN_TRAINED} are needed to read whether the values at the rungs rank the final {self.metric}"
            ]
        out = [self._head()]
        out += [self._rung_line(r) for r in read]
        out += self._advice(read)
        return out

    def _head(self) -> str:
        shared = _read(r.trained for r in self.rungs)
        among = f" (95% shared among the {shared} resources read)" if shared > 1 else ""
        return (
            f"early signal: how the values at each resource rank the final {self.metric} of the trials trained to the "
            f"end (resource {self.full:g}), Spearman's rho with its {self.confidence:.1%} interval{among}"
        )

    def _rung_line(self, rung: RungSignal) -> str:
        if rung.rho is None or rung.low is None or rung.high is None:
            return (f"resource {rung.level:g}: the {rung.trained} trained trials' values there, or their final values, "
                    "are all equal: no order to compare")  # fmt: skip
        blown = f", {rung.diverged} of them diverged after it (counted as ending worst)" if rung.diverged else ""
        figures = f"rho = {rung.rho:+.2f} ({rung.low:+.2f} to {rung.high:+.2f}) over {rung.trained} trials{blown}"
        said = {
            "predicts": "predicts the end",
            "misleads": "misleads: a better value there went with a worse end",
            "undecided": "cannot tell yet"
            + (
                f" (about {rung.needed} trained trials would decide at this rho)"
                if rung.needed is not None
                else " (no sign either way)"
            ),
        }[rung.reading]
        return f"resource {rung.level:g}: {figures}: {said}"

    def start(self) -> RungSignal | None:
        """The lowest level from which every level read predicts the end (``None``: the top level read does not)."""
        start = None
        for rung in reversed([r for r in self.rungs if r.reading != "too few"]):
            if rung.reading != "predicts":
                break
            start = rung
        return start

    def stated(self) -> tuple[bool | None, float | None]:
        """What a plan may take from the reading (`tunesmith.discipline.Fidelity`'s ``early_signal`` and
        ``min_resource``): ``(True, level)`` when the values predict the end from ``level`` on (`start`),
        ``(False, None)`` when some level misleads and none predicts, else ``(None, None)``: unsure (not read, or not
        decided from any level on), for which a plan hedges."""
        start = self.start()
        if start is not None:
            return True, start.level
        readings = {r.reading for r in self.rungs}
        if "misleads" in readings and "predicts" not in readings:
            return False, None
        return None, None

    def _advice(self, read: Sequence[RungSignal]) -> list[str]:
        """Where a rung scheduler could start (`start`), and which levels mislead."""
        start = self.start()
        misleading = [r.level for r in read if r.reading == "misleads"]
        out = []
        if misleading:
            levels = ", ".join(f"{level:g}" for level in misleading)
            out.append(f"at resource {levels} a better value went with a worse end: rungs there would stop the trials "
                       "that end best")  # fmt: skip
        if start is not None:
            out.append(
                f"from resource {start.level:g} on the values predict the end: a rung scheduler (ASHA, Hyperband) may "
                f"start its rungs there (min_resource={start.level:g}); the weaker rho, the more trials it stops that "
                "would have ended well"
            )
        return out

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "confidence": self.confidence, "rungs": [r.to_json() for r in self.rungs]}


def early_signal(
    records: Iterable[TrialRecord], metric: Metric | str, scheduler: Scheduler | None = None
) -> EarlySignal | None:
    """How well the values at each resource ranked the final values of the trials trained to the end.

    Args:
        records: the study's trials (invalidated, failed and declared-infeasible ones are left out, as a rung leaves
            them out: `tunesmith.fidelity.is_rung_peer`; one the divergence check stopped after a rung ended worst).
        metric: the metric read.
        scheduler: the study's (``None``: not known). Its rungs (`Scheduler.rungs()`) are the levels read; without
            rungs, levels a factor of 3 apart from the first step reported, below the step most complete trials
            reported last. Once it stopped a trial (kind SCHEDULER) or paused one at a rung, the trials trained to
            the end are those it chose by their early values, and the signal is not read (see the module's
            docstring); a trial the budget cut short chose nothing.

    Returns:
        The reading, or ``None`` when the trials have no levels to read (no rungs and no curves of ``metric``).
    """
    metric = as_metric(metric)
    valid = valid_records(records)  # read once: ``records`` may be a one-pass iterable
    peers = [r for r in valid if is_rung_peer(r)]
    rungs = scheduler.rungs() if scheduler is not None else ()
    levels = _levels(peers, metric.name, rungs)
    if levels is None:
        return None
    *below, full = levels
    if any(_held_back(r) for r in peers):
        return EarlySignal(metric.name, full, (), kept_by=_name_of(scheduler))
    from scipy.stats import norm

    diverged = [r for r in valid if r.kind is TrialKind.DIVERGED]
    sign = metric.sign()
    # Each trained trial's final loss, read once for every rung.
    finals = {r.number: sign * final for r in peers if (final := value_at(r, metric.name, full)) is not None}
    found = [(level, *_reading(peers, diverged, finals, metric.name, level, sign)) for level in below]
    quantile = float(norm.ppf(1.0 - LEVEL / (2 * max(_read(len(pairs) for _, _, pairs, _ in found), 1))))
    rungs_read = tuple(_judged(level, reached, pairs, blown, quantile) for level, reached, pairs, blown in found)
    return EarlySignal(metric.name, full, rungs_read)


def _read(trained: Iterable[int]) -> int:
    """How many rungs are read (and share the 95%): those with `MIN_TRAINED` trained trials or more."""
    return sum(1 for count in trained if count >= MIN_TRAINED)


def _held_back(record: TrialRecord) -> bool:
    """Whether a scheduler kept ``record`` from the end for its values so far: stopped it, or paused it at a rung."""
    stopped = record.state is TrialState.STOPPED and record.kind is TrialKind.SCHEDULER
    return stopped or record.state is TrialState.PAUSED


def _name_of(scheduler: Scheduler | None) -> str:
    if scheduler is None:
        return "the scheduler"
    return (scheduler.chosen if isinstance(scheduler, AutoScheduler) else scheduler).name


def _levels(peers: Sequence[TrialRecord], name: str, rungs: Sequence[float]) -> list[float] | None:
    """The levels to read with the full resource last, or ``None`` when there are none below it."""
    if len(rungs) >= 2:
        return [float(level) for level in rungs]
    if rungs:
        return None
    lasts = Counter(
        max(step for step, reported in r.intermediate.items() if name in reported)
        for r in peers
        if r.state is TrialState.COMPLETE and any(name in reported for reported in r.intermediate.values())
    )
    if not lasts:
        return None
    full = float(max(lasts.items(), key=lambda item: (item[1], item[0]))[0])
    steps = [step for r in peers for step, reported in r.intermediate.items() if name in reported and step > 0]
    levels, level = [], float(min(steps, default=full))
    while level < full - 1e-9:
        levels.append(level)
        level *= ETA
    return [*levels, full] if levels else None


def _reading(peers: Sequence[TrialRecord], diverged: Sequence[TrialRecord], finals: Mapping[int, float], name: str,
             level: float, sign: float) -> tuple[int, np.ndarray, int]:  # fmt: skip
    """The rung's count of trials that reached it; the (loss at the rung, final loss) pairs of those trained to the
    end (``finals``, by trial number) and of those that ``diverged`` after it, whose final loss is infinite: they ended
    worst, however good they looked at the rung (a rung ranks them last too); and how many of the pairs are theirs."""
    reached, pairs, blown = 0, [], 0
    for record in peers:
        at_rung = value_at_rung(record, name, level)
        if at_rung is None:
            continue
        reached += 1
        if (final := finals.get(record.number)) is not None:
            pairs.append((sign * at_rung, final))
    for record in diverged:
        at_rung = value_at_rung(record, name, level)
        if at_rung is not None:  # else it blew up before the rung: the rung never saw it
            reached += 1
            blown += 1
            pairs.append((sign * at_rung, math.inf))
    return reached, np.asarray(pairs, dtype=float).reshape(-1, 2), blown


def _judged(level: float, reached: int, pairs: np.ndarray, diverged: int, quantile: float) -> RungSignal:
    trained = len(pairs)
    if trained < MIN_TRAINED:
        return RungSignal(level, reached, trained, None, None, None, "too few", diverged=diverged)
    from scipy.stats import spearmanr

    # One side all equal (every trial diverged, say): no order to compare.
    if len(np.unique(pairs[:, 0])) < 2 or len(np.unique(pairs[:, 1])) < 2:
        return RungSignal(level, reached, trained, None, None, None, "tied", diverged=diverged)
    rho = float(spearmanr(pairs[:, 0], pairs[:, 1])[0])
    clipped = min(max(rho, -0.9999), 0.9999)
    se = math.sqrt((1.0 + clipped**2 / 2.0) / (trained - 3))
    z = math.atanh(clipped)
    low, high = math.tanh(z - quantile * se), math.tanh(z + quantile * se)
    if low > 0:
        return RungSignal(level, reached, trained, rho, low, high, "predicts", diverged=diverged)
    if high < 0:
        return RungSignal(level, reached, trained, rho, low, high, "misleads", diverged=diverged)
    needed = None if abs(z) < 1e-12 else math.ceil(3 + (1.0 + clipped**2 / 2.0) * (quantile / abs(z)) ** 2)
    return RungSignal(level, reached, trained, rho, low, high, "undecided", needed, diverged)
