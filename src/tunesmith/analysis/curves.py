"""Failure signatures read off each trial's learning curve.

A curve is the study's metric (or another reported metric) by step, turned into a loss
(lower is better) by that metric's own direction (`curve_metric_of`). Each finished trial gets one
signature, the first that applies in this order, or is too short to judge (see the end of the list):

- **diverged**: the trial ended as `TrialKind.DIVERGED`, or its curve or final metric holds
  a NaN or an infinity, or another watched metric was not finite at its last report or in its result (the
  study's objectives and guardrails, and any metric its trials report along their curves), or the loss ended far
  above where it started (it exploded), or it collapsed: after having
  been better than the study's typical start, it ended worse than that start by the study's whole gap
  (a bounded score back at chance, which can never rise "far above" its start), or a reported metric's
  magnitude grew a millionfold beyond its start and the study's typical value (the loss reported beside
  an accuracy that stays at chance), or a report of it (the first included) blew up: it lies far above what the
  other trials reported at the same step, above the study's typical start, and above the highest level any curve
  was otherwise seen at (a loss that blew up in its first epoch, to 14 where the others start near 1.7 and the
  slowest near chance, 2.3, and then sat at chance: the guide's "high LR -> loss divergence", which the rules above
  miss, since they compare a curve with its own first value or need a point below the typical start). Each of the
  three takes more than `SignatureThresholds.above_peers` times (`_Peers`): the upper one-sided 99% bound of the
  other trials' median at that step (with at least `_MIN_PEERS` of them, on the log scale), the typical start, and
  the highest of the other trials' first reports (those not themselves far above their peers') and of the medians
  of their later reports, and of the trial's own other reports. The last is what an untrained or slowly learning
  model shows: a slow learner sitting at chance while most trials learned fast in their first epoch lies far above
  their median, but not above its own other reports nor above the other slow trials' level, so it is not blown up
  (it may be underfitting). A trial with one report (ASHA stopped it at its first rung) that lies far above trials
  which all learned alike is not judged: one report cannot tell a blow-up from a trial that had not learned yet
  where no trial shows the untrained level (`_Peers`). A metric with a value at or below zero (a score read as a
  loss) is not judged this way.
  A trial the study failed as `TrialKind.NON_FINITE` is diverged when its curve shows it (else it is a **non_finite**
  failure, below).
  A NaN in any other metric of a result says nothing of training (an F1 of a class the model never predicts is
  undefined, and a healthy trial returns it): it is noted in the trial's detail as an undefined metric, and the trial
  is judged on its curve like any other.
- **overfitting**: the curve reached its minimum before the end, then climbed back steadily (a
  least-squares slope above zero by two standard errors) by a sizeable share of what it had gained.
- **unstable**: the curve rebounded by a large amount at least twice (large oscillation).
- **underfitting**: the curve ended far above the best value any trial had reached by the same step, having
  flattened out, or improving at a pace that would not bring it near the best in one more training of the same
  length (a learning rate far too low gains a little every step while it sits far below the rest), and further
  above the best of the other trials than seed luck explains (see below).
- **healthy**: none of the above, on a curve of at least `SignatureThresholds.min_points` reports.
- **too short to judge**: none of the above on a shorter curve (a trial that ASHA stopped at its first rung, with
  one report): the rebounds and climbs its shape would show are not there to see, so it is not called healthy and
  gets no signature; `judge_curves` says why (`CurveJudgements.too_short`), and `classify_curves` leaves it out.

Some trials fail in ways no curve shows; `judge_curves` names them apart (`CurveJudgements.failures`), as a `Failure`
with its kind and cause, so that the failure rules (`diagnose`) can blame a parameter for them. The kinds are the trial
kinds' own (`FailureKind` holds `TrialKind`'s words), as ``tunesmith trials --failed`` and a run's failure count say
them; "crash" is a dead process, never an exception:

- **exception**, **out_of_memory**, **crash**, **timeout**: the trial failed so (`TrialKind.EXCEPTION`,
  `TrialKind.OUT_OF_MEMORY`: it raised; `TrialKind.CRASH`: its process died; `TrialKind.TIMEOUT`: it ran past
  ``trial_timeout``), and its curve, if any, did not diverge first. Its cause is the exception's type as storage
  recorded it (the reason's ``exception: ValueError``, else the exception line of the stored traceback:
  ``MemoryError``), a crash's reason (``killed by SIGSEGV``), and none for a timeout (its kind says it). Such a trial
  is never too short to judge, nor healthy: its curve ends where it failed, not where training stopped.
- **non_finite**: the study failed the trial as `TrialKind.NON_FINITE` (an objective or guardrail NaN or infinite in
  its result) and its curve, if any, did not diverge first (a NaN or a blow-up in its reports); or a trial that
  reported nothing along the way returned a result with a watched metric other than the curve metric NaN or infinite.
  Its cause is that metric. A result says nothing of how training went: without a curve that shows it, nothing tells
  a blow-up from a broken measurement (a memory probe that returns NaN for one width), so it is not called diverged.

A complete trial whose final value of the curve metric is finite and that reported no curve of it is in neither
(`CurveJudgements.without_curve`): not a failure, and no evidence of a healthy shape, but a trial the failure rules
count among those that did not fail; without it, a study that reports no curves had no trial a rule could set the
failed ones against.

"Large" and "far" are measured against the study itself: the *gap* at step ``t`` is the
distance from the typical starting loss (the median of the first reported values) down to the
best loss reached by any trial at or before ``t``. The thresholds are fractions of that gap
(see `SignatureThresholds`), so the rules do not depend on the metric's units. A rise must also
stand out of the study's measurement noise: three standard errors of the difference of two points,
the noise being the median over the curves of a robust step-to-step spread (from second
differences; only curves of 4 points or more show one, so shorter ones are left out of the median).
Without that, 30 trials with one true curve scored on 500 examples each epoch drew
"unstable" or "overfitting" for 43% of them.

Underfitting compares a trial with the study's best, which is the luckiest of many draws: 30 trials of
one configuration whose final loss depends only on the seed drew "underfitting" for 13 of them. So the
trial's final value must also lie further above the best final value of the other trials (at its last step)
than the trials' seed noise puts a trial of the best configuration, at the one-sided level
`SignatureThresholds.level`: the chance that a trial sits that many noise standard deviations above the best
of ``m`` others when all are draws of one level. The seed noise is the spread between trials that their
parameters do not explain, read off the differences of final values between trials of nearest configurations
(every pair of identical configurations, seed re-runs among them, and otherwise each trial and its nearest
neighbour, numeric parameters by rank): the root mean square of the smallest three quarters, as a normal
standard deviation, without the judged trial's own pairs. That reading is itself noisy, so the chance is averaged
over how far it may be off, taken from seeded simulations of the same pairs under seed noise alone. Where no
parameter mattered, 0.35% of trials were then labelled (43% before); planted underfitting kept its labels. With
fewer than `_MIN_COMPARED` trials trained to the end the noise cannot be measured: the label then rests on the
gap alone and says so.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum

import numpy as np

from tunesmith._validate import integer, real
from tunesmith.analysis._common import as_metric, format_value
from tunesmith.errors import ConfigError
from tunesmith.objective import Guardrail, Metric, reads_as_loss, reads_as_score
from tunesmith.schedulers._noise import step_noise
from tunesmith.trial import TrialKind, TrialRecord, TrialState

__all__ = [
    "CurveDiagnosis",
    "CurveJudgements",
    "Failure",
    "FailureDiagnosis",
    "FailureKind",
    "Signature",
    "SignatureThresholds",
    "classify_curves",
    "curve_metric_of",
    "judge_curves",
    "signature_counts",
]


class Signature(Enum):
    """The failure signature of one trial's learning curve."""

    DIVERGED = "diverged"
    UNSTABLE = "unstable"
    OVERFITTING = "overfitting"
    UNDERFITTING = "underfitting"
    HEALTHY = "healthy"

    @property
    def is_failure(self) -> bool:
        return self is not Signature.HEALTHY


class FailureKind(Enum):
    """How a trial failed where its learning curve cannot show it (see the module docs), in the words of its
    `TrialKind`, which ``tunesmith trials --failed`` and a run's count of failures print."""

    EXCEPTION = TrialKind.EXCEPTION.value
    OUT_OF_MEMORY = TrialKind.OUT_OF_MEMORY.value
    CRASH = TrialKind.CRASH.value
    TIMEOUT = TrialKind.TIMEOUT.value
    NON_FINITE = TrialKind.NON_FINITE.value


@dataclass(frozen=True)
class Failure:
    """A way trials failed that no curve shows, with its cause: trials fail the same way when both are equal.

    Attributes:
        kind: the trial's kind of failure.
        cause: the exception's type (``MemoryError``), how the process ended (``killed by SIGSEGV``), the metric that
            was not finite (``mem_mb``); ``""`` for a timeout, which its kind says.
    """

    kind: FailureKind
    cause: str

    @property
    def value(self) -> str:
        """The failure in words, as a `Signature`'s value is: ``exception (ValueError)``, ``non_finite (mem_mb)``,
        ``timeout``."""
        return f"{self.kind.value} ({self.cause})" if self.cause else self.kind.value

    @property
    def is_failure(self) -> bool:
        return True


@dataclass(frozen=True)
class FailureDiagnosis:
    """How one trial failed where its curve cannot show it, and the evidence, in words."""

    number: int
    failure: Failure
    detail: str


@dataclass(frozen=True)
class SignatureThresholds:
    """How far a curve must go to earn a signature; every fraction is of the study's gap (see module docs).

    Attributes:
        explode: diverged when the final loss exceeds the first by this fraction of
            ``max(|first|, gap)`` (1.0: the loss doubled), or when, after being better than the study's typical
            start, it ended worse than that start by this fraction of the gap (a collapse).
        rebound: a rise of at least this fraction of the gap counts as a rebound; two or more
            rebounds make a curve unstable.
        overfit_rise: overfitting when the loss climbs back from its minimum by this fraction of
            what it had gained from its start to that minimum (and by at least ``rebound / 2`` of the gap).
        underfit_gap: underfitting when more than this fraction of the gap is still open at the
            last step.
        plateau: and the last third of the curve closed less than this fraction of the gap, or too little to
            close what is still open (all but ``underfit_gap``) at that pace in one more training of its length.
        level: and seed luck alone leaves a trial of the best configuration that far above the best of the
            others with at most this probability (one-sided): the share of such trials called underfitting.
        min_points: curves with fewer finite points are judged only for divergence and underfitting; one that is
            neither is too short to judge (`CurveJudgements.too_short`), not healthy: its shape cannot show a rebound
            or a climb.
        above_peers: diverged when a report lies more than this many times above the upper confidence bound of the
            typical value the other trials reported at that step, the study's typical start, and the highest level
            a curve was otherwise seen at, where an untrained or slowly learning model sits (a loss that blew up at
            its first report: 14 where the others start near 1.7 and the slowest near 2.3; see `_Peers`).
    """

    explode: float = 1.0
    rebound: float = 0.25
    overfit_rise: float = 0.2
    underfit_gap: float = 0.5
    plateau: float = 0.2
    level: float = 0.01
    min_points: int = 3
    above_peers: float = 4.0

    def __post_init__(self) -> None:
        for name in ("explode", "rebound", "overfit_rise", "underfit_gap", "plateau"):
            real(name, getattr(self, name), exclusive_minimum=0, finite=False)
        real("level", self.level, exclusive_minimum=0, exclusive_maximum=1, context="SignatureThresholds",
             fix="pass the chance of calling a trial of the best configuration underfitting, e.g. 0.01")  # fmt: skip
        integer("min_points", self.min_points, minimum=2)
        real("above_peers", self.above_peers, exclusive_minimum=1, context="SignatureThresholds",
             fix="pass how many times above its peers' typical value a report has blown up, e.g. 4")  # fmt: skip


@dataclass(frozen=True)
class CurveDiagnosis:
    """The signature of one trial and the evidence for it, in words.

    Attributes:
        number: the trial.
        signature: its signature.
        detail: the evidence, with values as the trial reported them.
        p_value: for a trial that levelled off far above the best, the chance that seed luck alone leaves a trial
            of the best configuration that far above the best of the others; ``None`` where not tested (another
            signature, or too few trials to measure the seed noise).
    """

    number: int
    signature: Signature
    detail: str
    p_value: float | None = None


def curve_metric_of(
    metric: Metric | str,
    curve_metric: Metric | str | None = None,
    declared: Iterable[Metric | Guardrail] = (),
) -> Metric:
    """The metric learning curves are read from, with its own direction.

    Args:
        metric: the study's metric.
        curve_metric: the reported metric to read curves from: a `Metric` (its direction is used), a name, or
            ``None`` for ``metric``.
        declared: the study's other objectives and its guardrails; a name among them takes their direction (a
            guardrail's ``<``/``<=`` says lower is better, ``>``/``>=`` higher).

    Returns:
        The curve metric.

    Raises:
        ConfigError: when a name is none of the declared metrics (its direction is unknown: a loss read as a
            score makes every healthy curve "underfitting"), or a `Metric` contradicts a declared objective.
    """
    metric_ = as_metric(metric)
    objectives = [metric_, *(d for d in declared if isinstance(d, Metric))]
    if curve_metric is None:
        return metric_
    if isinstance(curve_metric, Metric):
        for objective in objectives:
            if objective.name == curve_metric.name and objective.direction != curve_metric.direction:
                raise ConfigError(
                    f"curve_metric must have the direction the study declares for it, but got "
                    f"curve_metric=ts.Metric({curve_metric.name!r}, {curve_metric.direction!r}) where the study has "
                    f"ts.Metric({objective.name!r}, {objective.direction!r}): pass the name alone, or that direction"
                )
        return curve_metric
    for objective in objectives:
        if objective.name == curve_metric:
            return objective
    for guardrail in (d for d in declared if isinstance(d, Guardrail)):
        if guardrail.metric == curve_metric:
            return Metric(curve_metric, "min" if guardrail.op in ("<", "<=") else "max")
    guess = "min" if reads_as_loss(curve_metric) else "max" if reads_as_score(curve_metric) else "min"
    other = "max" if guess == "min" else "min"
    raise ConfigError(
        f"a curve metric's direction must be its own, declared by the study or by the caller, but got "
        f"curve_metric={curve_metric!r}, which is not among the study's declared metrics and guardrails "
        f"({', '.join(repr(m.name) for m in objectives)}): pass curve_metric=ts.Metric({curve_metric!r}, {guess!r}) "
        f"(or {other!r} if {'higher' if other == 'max' else 'lower'} is better)"
    )


@dataclass(frozen=True)
class CurveJudgements:
    """What the finished trials' curves say (`judge_curves`).

    Attributes:
        signatures: trial number -> diagnosis, for every trial its curve could judge.
        too_short: trial number -> why not, for every trial whose curve is too short to judge: fewer than
            `SignatureThresholds.min_points` reports, and neither diverged nor underfitting (not healthy either: its
            shape cannot show a rebound or a climb).
        failures: trial number -> how it failed, for every trial that failed in a way no curve shows (see the module
            docs): it raised, its process died, it timed out, or its result was not finite.
        without_curve: the complete trials whose final value of the curve metric is finite and which reported no
            curve of it: not failed, though nothing shows the shape of their training.
    """

    signatures: dict[int, CurveDiagnosis]
    too_short: dict[int, str]
    failures: dict[int, FailureDiagnosis] = field(default_factory=dict)
    without_curve: tuple[int, ...] = ()


def classify_curves(
    records: Iterable[TrialRecord],
    metric: Metric | str,
    *,
    curve_metric: Metric | str | None = None,
    declared: Iterable[Metric | Guardrail] = (),
    thresholds: SignatureThresholds | None = None,
) -> dict[int, CurveDiagnosis]:
    """The signature of every finished trial that has a curve (or a non-finite value of a watched metric) long
    enough to judge: `judge_curves`'s ``signatures``, which leave out the curves too short to judge.

    Args:
        records: the study's trials; running, paused and invalidated ones are skipped.
        metric: the study's metric.
        curve_metric: the reported metric to read curves from (see `judge_curves`).
        declared: the study's other objectives and guardrails (see `judge_curves`).
        thresholds: the rules' thresholds.

    Returns:
        Trial number -> diagnosis. Finished trials with no curve and no non-finite watched metric are left out, and
        so are those whose curve is too short to judge and those that failed so (`CurveJudgements.failures`).

    Raises:
        ConfigError: when ``curve_metric`` names a metric whose direction nothing declares.
    """
    judged = judge_curves(records, metric, curve_metric=curve_metric, declared=declared, thresholds=thresholds)
    return judged.signatures


def judge_curves(
    records: Iterable[TrialRecord],
    metric: Metric | str,
    *,
    curve_metric: Metric | str | None = None,
    declared: Iterable[Metric | Guardrail] = (),
    thresholds: SignatureThresholds | None = None,
) -> CurveJudgements:
    """The signature of every finished trial that has a curve (or a non-finite value of a watched metric), and why
    each curve too short to judge is not judged.

    Args:
        records: the study's trials; running, paused and invalidated ones are skipped.
        metric: the study's metric.
        curve_metric: the reported metric to read curves from, oriented by its own direction (`curve_metric_of`):
            ``None`` for ``metric``, a name the study declares (``metric``, ``declared``), or a `Metric`.
        declared: the study's other objectives and guardrails, which give a curve metric named by them its
            direction; a non-finite value of any of them in a result marks the trial diverged (see module docs).
        thresholds: the rules' thresholds.

    Returns:
        The signatures, the curves too short to judge, the failures no curve shows (an exception, a dead process, a
        timeout, a result not finite), and the complete trials without a curve.

    Raises:
        ConfigError: when ``curve_metric`` names a metric whose direction nothing declares.
    """
    read = curve_metric_of(metric, curve_metric, declared)
    name = read.name
    rules = thresholds or SignatureThresholds()
    sign = read.sign()
    curves: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    finished = [r for r in records if r.state.is_finished and r.invalidated is None]
    for record in finished:
        points = record.curve(name)
        if points:
            steps = np.array([s for s, _ in points], dtype=float)
            values = sign * np.array([v for _, v in points], dtype=float)
            curves[record.number] = (steps, values)
    reference = _Reference.of(curves.values())
    peers = _Peers.of(curves, reference.start, rules.above_peers, {r.number: r for r in finished})
    out: dict[int, CurveDiagnosis] = {}
    too_short: dict[int, str] = {}
    shaped: list[tuple[TrialRecord, tuple[np.ndarray, np.ndarray]]] = []
    # Cut short by the scheduler or the budget: the curve ends where training was stopped, not where it levelled.
    truncated = {r.number for r in finished if r.state is TrialState.STOPPED and r.kind in _CUT_SHORT}
    # A collapse must stand out of the step-to-step noise of the curves' finite points (the median over the curves
    # long enough to show it: a curve of fewer than 4 points has none to read, and counted as noiseless it pulled the
    # median to 0 where rungs stopped most trials early, so any dip of a subsample's fit read as a collapse).
    noises = {number: step_noise(values[np.isfinite(values)]) for number, (_, values) in curves.items()}
    every_noise = _median_noise(noises.values())
    reported = {record.number: _reported(record) for record in finished}
    typical = _typical_magnitudes(reported.values())
    watched = _watched(finished, as_metric(metric), read, declared)
    undefined: dict[int, str] = {}
    failures: dict[int, FailureDiagnosis] = {}
    without_curve: list[int] = []
    for record in finished:
        number = record.number
        curve = curves.get(number)
        final = record.metrics.get(name)
        blown = _blown_up(reported[number], typical)
        # A result the study failed as not finite is that failure, unless the curve showed training blow up first.
        in_result = record.state is TrialState.FAILED and record.kind is TrialKind.NON_FINITE
        diverged = _divergence(
            record, curve, final, name, sign, reference, rules, every_noise, blown, watched, peers, result=not in_result
        )
        note = _undefined(record, watched)
        if note is not None:
            undefined[number] = note
        not_finite = None if diverged is None else _not_finite_unreported(record, name, watched)
        if in_result and diverged is None:
            not_finite = _not_finite_result(record, name, watched, curve)
        if not_finite is not None:
            failures[number] = FailureDiagnosis(number, Failure(FailureKind.NON_FINITE, not_finite[0]), not_finite[1])
        elif diverged is not None:
            out[number] = CurveDiagnosis(number, Signature.DIVERGED, diverged)
        elif record.state is TrialState.FAILED and record.kind in _FAILED_SO:
            kind = _FAILED_SO[record.kind]
            failure = Failure(kind, _failure_cause(record))
            failures[number] = FailureDiagnosis(number, failure, _failed_before(record, curve))
        elif curve is not None:
            shaped.append((record, curve))
        elif record.state is TrialState.COMPLETE and final is not None and math.isfinite(final):
            without_curve.append(number)
    # The step-to-step noise typical of the study's curves (the median over them): a rise no larger than
    # that is measurement noise, not a rebound, in a study whose every curve is that noisy.
    noise = _median_noise(noises[r.number] for r, _ in shaped)
    seeds = _SeedNoise.of([(r, c) for r, c in shaped if r.number not in truncated and len(c[1]) >= 2])
    for record, curve in shaped:
        number = record.number
        found = _shape(number, curve, reference, rules, name, sign, noise, seeds, number in truncated)
        if len(curve[1]) < rules.min_points and found.signature is not Signature.UNDERFITTING:
            too_short[number] = _short(number, name, curve, peers, rules, _Shown(sign))
        else:
            out[number] = found
    for number, note in undefined.items():
        if number in out:
            found = out[number]
            out[number] = CurveDiagnosis(number, found.signature, f"{found.detail}; {note}", found.p_value)
        elif number in too_short:
            too_short[number] = f"{too_short[number]}; {note}"
        elif number in failures:
            failed = failures[number]
            failures[number] = FailureDiagnosis(number, failed.failure, f"{failed.detail}; {note}")
    return CurveJudgements(
        dict(sorted(out.items())), dict(sorted(too_short.items())), dict(sorted(failures.items())), tuple(without_curve)
    )


# Failures of the trial's own run, which a configuration can cause (a batch too large for the device, a depth past
# the time limit), by their kind; an interrupted or lost trial's worker vanished under it, and a missing metric or
# unreadable result is the objective's code whatever the parameters.
_FAILED_SO = {
    TrialKind.EXCEPTION: FailureKind.EXCEPTION,
    TrialKind.OUT_OF_MEMORY: FailureKind.OUT_OF_MEMORY,
    TrialKind.CRASH: FailureKind.CRASH,
    TrialKind.TIMEOUT: FailureKind.TIMEOUT,
}

# The line of a traceback that names the exception raised: its type at the start of an unindented line.
_EXCEPTION_LINE = re.compile(r"([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Refused))(?::|$)")


def _failure_cause(record: TrialRecord) -> str:
    """What a failed trial failed of, as storage recorded it: the exception's type (the reason's ``exception:
    ValueError``, else the exception line of the stored traceback, the last such: ``MemoryError: CUDA out of
    memory``), else the reason (``killed by SIGSEGV``); nothing for a timeout, whose kind says it all (its reason is
    ``timed out``, and its limit is the study's)."""
    if record.kind is TrialKind.TIMEOUT:
        return ""
    reason = record.reason or ""
    if record.kind in (TrialKind.EXCEPTION, TrialKind.OUT_OF_MEMORY):
        named = reason.removeprefix("exception: ").split(" ", 1)[0] if reason.startswith("exception: ") else ""
        if not named:
            found = [m.group(1) for line in (record.error or "").splitlines() if (m := _EXCEPTION_LINE.match(line))]
            named = found[-1] if found else ""
        if named:
            return named.rsplit(".", 1)[-1]  # torch.OutOfMemoryError and OutOfMemoryError are one type to a reader
    if reason:
        return reason.splitlines()[0]
    return record.kind.value if record.kind is not None else "failed"


def _failed_before(record: TrialRecord, curve: tuple[np.ndarray, np.ndarray] | None) -> str:
    """Why a trial that failed (raised, died, timed out) is not judged on its curve, in words."""
    how = (record.reason or (record.kind.value if record.kind is not None else "failed")).splitlines()[0]
    if curve is None:
        return f"failed before any report ({how})"
    return f"failed after {len(curve[1])} reports, the last at step {int(curve[0][-1])} ({how}): its curve ends there"


def _not_finite_result(
    record: TrialRecord, name: str, watched: frozenset[str], curve: tuple[np.ndarray, np.ndarray] | None
) -> tuple[str, str]:
    """The metric not finite in the result of a trial the study failed as `TrialKind.NON_FINITE` whose curve did not
    diverge, with the evidence: ``name`` when it is the one, else the first watched one (`_watched`), else the first
    not finite; the reason when the result holds none (a record stored without its metrics)."""
    bad = [(key, value) for key, value in sorted(record.metrics.items())
           if isinstance(value, float) and not math.isfinite(value)]  # fmt: skip
    ranked = sorted(bad, key=lambda item: (item[0] != name, item[0] not in watched))
    if not ranked:
        return name, f"failed as not finite: {record.reason or 'an objective or guardrail is not finite'}"
    key, value = ranked[0]
    if curve is None:
        along = "and the trial reported nothing along the way: no curve tells a blow-up in training from a broken "
        along += f"measurement of {key} (not called diverged)"
    else:
        along = (f"after {len(curve[1])} finite reports of {name}, the last at step {int(curve[0][-1])}, which show "
                 "no blow-up (not called diverged)")  # fmt: skip
    return key, f"{key} is {_stored(value)} in its result {along}"


def _not_finite_unreported(record: TrialRecord, name: str, watched: frozenset[str]) -> tuple[str, str] | None:
    """The metric other than ``name`` that is not finite in the result of a trial that reported nothing along the
    way, with why that is no divergence; ``None`` when the trial reported, was stopped as diverged, or has ``name``
    itself not finite (then it diverged). Only a watched metric counts (`_watched`), or any of a trial the study
    failed as not finite (it was judged on one of the study's objectives or guardrails)."""
    if record.intermediate or record.kind is TrialKind.DIVERGED:
        return None
    final = record.metrics.get(name)
    if final is not None and not math.isfinite(final):
        return None
    for key, value in sorted(record.metrics.items()):
        named = key in watched or record.kind is TrialKind.NON_FINITE
        if key != name and named and isinstance(value, float) and not math.isfinite(value):
            return key, (
                f"{key} is {_stored(value)} in its result and the trial reported nothing along the way: no curve "
                f"tells a blow-up in training from a broken measurement of {key} (not called diverged)"
            )
    return None


def _short(
    number: int,
    name: str,
    curve: tuple[np.ndarray, np.ndarray],
    peers: _Peers,
    rules: SignatureThresholds,
    shown: _Shown,
) -> str:
    """Why a curve too short to read its shape from is not judged, and what it was checked against."""
    steps = [int(step) for step in curve[0].tolist()]
    reports = "1 report" if len(steps) == 1 else f"{len(steps)} reports"
    at = ", ".join(str(step) for step in steps)
    compared = [step for step in steps if peers.enough_at(float(step))]
    # Only a report far above the others' yet near a level a curve was seen at, or one that one report cannot judge,
    # gets here (else it blew up).
    far = peers.far_reports(number, curve)
    undecided = next((words for found in far if (words := found.not_judged(shown)) is not None), None)
    near = next((found.level for found in far if found.level is not None), None)
    if undecided is not None:
        checked = f"{undecided}; not levelled off far above the best (not underfitting)"
    elif near is not None:
        checked = (
            f"its report lies far above the other trials' at its step but within {rules.above_peers:g} times the "
            f"highest level a curve was otherwise seen at ({near.words(shown)}), where an untrained or slowly "
            "learning model sits (not diverged); "
            "not levelled off far above the best (not underfitting)"
        )
    elif compared:
        checked = (
            f"not far above the other trials' reports at step {', '.join(str(step) for step in compared)} "
            "(not diverged) nor levelled off far above the best (not underfitting)"
        )
    else:
        checked = (
            f"too few other trials reported at step {at} to compare it with (it takes {_MIN_PEERS}, every value "
            "above zero); not levelled off far above the best (not underfitting)"
        )
    return (
        f"too short to judge: {reports} of {name} (at step {at}), fewer than the {rules.min_points} a curve's shape "
        f"is read from; {checked}"
    )


def _watched(
    finished: Sequence[TrialRecord], metric: Metric, read: Metric, declared: Iterable[Metric | Guardrail]
) -> frozenset[str]:
    """The metrics whose non-finite value says training blew up: the study's objectives and guardrails, the curve
    metric, and every metric the trials reported along their curves (a loss beside an accuracy). Any other metric in a
    result may be undefined on a healthy model (an F1 of a class it never predicts)."""
    names = {metric.name, read.name}
    names.update(d.name if isinstance(d, Metric) else d.metric for d in declared)
    names.update(key for record in finished for values in record.intermediate.values() for key in values)
    return frozenset(names)


@dataclass(frozen=True)
class _Reference:
    """What a curve is compared with: the typical start and the best loss reached by each step."""

    start: float
    steps: np.ndarray
    best_by_step: np.ndarray

    @classmethod
    def of(cls, curves: Iterable[tuple[np.ndarray, np.ndarray]]) -> _Reference:
        firsts: list[float] = []
        all_steps: list[np.ndarray] = []
        all_values: list[np.ndarray] = []
        for steps, values in curves:
            finite = np.isfinite(values)
            if finite.any():
                firsts.append(float(values[finite][0]))
                all_steps.append(steps[finite])
                all_values.append(values[finite])
        if not firsts:
            return cls(math.nan, np.zeros(0), np.zeros(0))
        steps = np.concatenate(all_steps)
        values = np.concatenate(all_values)
        order = np.argsort(steps, kind="stable")
        return cls(float(np.median(firsts)), steps[order], np.minimum.accumulate(values[order]))

    def best_at(self, step: float) -> float:
        index = int(np.searchsorted(self.steps, step, side="right")) - 1
        return float(self.best_by_step[index]) if index >= 0 else math.nan

    def gap_at(self, step: float) -> float:
        """Typical start minus the best loss by ``step`` (``NaN`` when not positive)."""
        gap = self.start - self.best_at(step)
        return gap if gap > 0 else math.nan


@dataclass(frozen=True)
class _FarAbove:
    """One report far above what the other trials reported at its step (`_Peers.far_above`)."""

    step: float
    value: float
    typical: float  # the other trials' median there
    bound: float  # the upper one-sided bound of that median
    peers: int

    def words(self, name: str, shown: _Shown, start: float, ratio: float) -> str:
        return (
            f"{name} reached {shown(self.value)} at step {int(self.step)}, {self.value / self.typical:.1f} times the "
            f"typical {shown(self.typical)} of the {self.peers} other trials at that step (over {ratio:g} times its "
            f"upper 99% bound {shown(self.bound)}) and {self.value / start:.1f} times the study's typical "
            f"start ({shown(start)})"
        )


@dataclass(frozen=True)
class _Level:
    """The highest level a curve was seen at other than the report judged (`_Peers.level_for`): where an untrained or
    slowly learning model sits, which a blow-up lies far above."""

    value: float
    witness: int | None  # the other trial that showed it; ``None``: the judged trial's own other reports

    def words(self, shown: _Shown) -> str:
        whose = "its own other reports" if self.witness is None else f"trial {self.witness}"
        return f"{shown(self.value)}, seen in {whose}"


@dataclass(frozen=True)
class _BlowUp:
    """A report far above its peers' (`_FarAbove`), set against the highest level a curve was otherwise seen at."""

    far: _FarAbove
    level: _Level | None  # ``None``: no other level was seen to compare it with
    # Set when one report cannot say it blew up: the trial's only report, over ``ratio`` times a level that only
    # trials which all learned alike were seen at (`_Peers.far_reports`).
    alike: _Undecided | None = None

    def blew_up(self, ratio: float) -> bool:
        return self.level is None or (self.alike is None and self.far.value > ratio * self.level.value)

    def not_judged(self, shown: _Shown) -> str | None:
        """Why one report cannot say whether it blew up; ``None`` where it can."""
        return None if self.alike is None else self.alike.words(self.far, shown)

    def words(self, name: str, shown: _Shown, start: float, ratio: float) -> str:
        said = self.far.words(name, shown, start, ratio)
        if self.level is None:
            return f"{said}: it blew up"
        return (
            f"{said}, and {self.far.value / self.level.value:.1f} times the highest level a curve was otherwise seen "
            f"at ({self.level.words(shown)}), where an untrained or slowly learning model sits: it blew up"
        )


@dataclass(frozen=True)
class _Undecided:
    """A trial's only report over `SignatureThresholds.above_peers` times the highest level a curve was otherwise seen
    at, where the trials that showed that level learned alike (`_Paces`): a blow-up, or a trial that had not learned
    yet among trials that all learned fast, which one report cannot tell apart."""

    level: _Level
    paces: _Paces

    def words(self, far: _FarAbove, shown: _Shown) -> str:
        return (
            f"its one report lies far above the other trials' at step {int(far.step)}, "
            f"{far.value / self.level.value:.1f} times the highest level a curve was otherwise seen at "
            f"({self.level.words(shown)}), but {self.paces.words(self.level.value)}: none of them shows where an "
            "untrained or slowly learning model sits, so one report cannot tell a blow-up from a trial that had not "
            "learned yet (not judged: one report; a second report of it, or another trial seen near its level, would "
            "decide it)"
        )


@dataclass(frozen=True)
class _Paces:
    """Whether the trials that reported at one step, other than those far above their peers', learned at paces apart
    (`_Peers.paces_at`): their highest level must lie above the lowest of their reports there by more than alike trials'
    reports spread at their seed noise."""

    lowest: float  # the lowest of their reports at the step
    noise: float  # the seed noise of one report on the log scale, off nearest configurations' pairs (inf: no pair)
    trials: int
    reach: float  # how far alike trials' highest report lies above their lowest, on the log scale (`_ALIKE_LEVEL`)

    def apart(self, level: float) -> bool:
        return math.log(level / self.lowest) > self.reach

    def words(self, level: float) -> str:
        widest = f"{math.exp(self.reach):.2f} times" if self.reach < _LARGEST_LOG else "any spread"
        return (
            f"the {self.trials} trials not far above their peers there learned alike: that level is "
            f"{level / self.lowest:.2f} times the lowest of their reports, within the {widest} that their seed noise "
            f"(sd {self.noise:.3g} on the log scale) lets alike trials spread at {1 - _ALIKE_LEVEL:.0%}"
        )


@dataclass(frozen=True)
class _Peers:
    """The finite values the trials reported at each step, sorted, and the level each trial's curve was seen at: what
    one trial's report there is judged against.

    A report is compared with the other trials' values at its own step, on the log scale: their median and its upper
    one-sided 99% bound (`_PEER_BOUND_Z` standard errors, a median's being `_MEDIAN_SE` times a mean's, from their
    robust standard deviation). It is far above them when it exceeds that bound more than ``ratio`` times, and the
    study's typical start too, with `_MIN_PEERS` other trials at least.

    Far above the other trials' median is not yet a blow-up: where most trials learn fast, a slow learner sits at
    the untrained level (chance) far above them, and so does its whole curve. The report must also lie over ``ratio``
    times the highest level a curve was otherwise seen at (`level_for`): each other trial's first report (unless it
    is itself far above its peers') and the median of its later reports, and the median of the judged trial's own
    other reports. A slow trial then sits within ``ratio`` of its own other reports, and of any other slow
    trial's; a loss that blew up to 15 and fell back to chance (2.3) lies far above both, and above the first reports
    of the slowest trials that did not blow up. The highest of those levels is their sample maximum: the noisier the
    trials, the higher it reads, so seed and measurement noise between trials is not read as a blow-up.

    That highest level stands for where an untrained model sits only when some trial was seen learning slower than
    the rest. A trial whose only report lies over ``ratio`` times above it is not judged (one report) when the trials
    not far above their peers at that step all learned alike (`paces_at`): the level lies above the lowest of their
    reports there by no more than alike trials spread at their seed noise, read off nearest configurations' pairs,
    with `_ALIKE_LEVEL` the chance of wider. Under ASHA, with every trial fast before its first rung, a trial stopped
    there at chance (2.4 where the others reached 0.55) lies 4.2 times above the highest of them (0.57), the other
    slow trials' reports being far above their peers too, and a blow-up to 10 lies as far above the slowest learners
    of a study whose trials learn at every pace up to chance (2.3): the ratio cannot tell them apart, the spread of
    the others can. A second report of the trial, or another trial seen near its level (a first rung of two steps
    or more, or one slow trial going on past it), would decide it. What it still cannot tell apart: a one-report
    trial at chance among fast learners that differ in pace beyond their noise yet all learned to below a quarter of
    chance is called blown up; and a loss that blew up before its first report and stayed there is not (it reads as
    a trial that did not learn).

    In seeded studies of 40 trials (200 per setting, log-normal noise of sd 0.02, 0.1 or 0.3 both between reports
    and between seeds, FIFO or ASHA-like with 23 trials of one report), no trial of 48,000 of one configuration, nor
    of 48,000 whose configurations differ in pace, was called diverged this way (4 and 54 against the median alone,
    with a spread condition). Where 4, 6 or 8 of 40 trials sat at chance (2.4) among fast learners all alike at 0.55
    (100 studies each, noise as above, ASHA-like: the 23 worst first reports stop at step 1 and 11 more at step 3),
    it called none of 1,800 slow curves diverged this way under FIFO, at every noise (94% against the median alone);
    under ASHA, where they had one report, 29 of 1,800 (1.6%, in 7 of 300 studies) with noise of sd 0.02 and none
    with 0.1 or 0.3, where the level alone called 65%, 0.2% and 0.1% (6 of 360 and none of 360 where the fast
    learners reached 0.4 or 0.3, 100% before); they are not judged instead. Where the fast learners' first reports
    fell with lr from 0.55 to 0.3, it still called 97% of 900 diverged at sd 0.02 (3.7% at 0.1, 15% before). It found
    a first report blown up to about 15 (15 times e^N(0, 0.07); chance 2.3, a typical first report 1.7, lr drawn
    log-uniform from 1e-4 to 3, 100 studies) in 446 of 446 trials under FIFO and 419 of 443 under ASHA, and one
    blown up to about 10 (4.3 times chance) in 34% and 39%, as before this check; among fast learners all alike at
    0.55 it leaves a one-report blow-up to 15 not judged (0.7% of 900 diverged, 100% before), and among fast learners
    of paces apart at sd 0.1, 34% (100% before).
    """

    at_step: dict[float, np.ndarray]
    # At each step where a report can be judged, the lowest the other trials' median can be (leaving out one value
    # lowers it to this one at most): a report within ``ratio`` of it is not far above them.
    lowest_median: dict[float, float]
    start: float  # the study's typical start: a report within ``ratio`` of it is not far above the others
    ratio: float  # `SignatureThresholds.above_peers`
    # Each step's finite reports by trial, and the trials' records: where their configurations lie (`paces_at`).
    reported: dict[float, dict[int, float]] = field(default_factory=dict)
    records: Mapping[int, TrialRecord] = field(default_factory=dict)
    # The two highest levels a trial's curve was seen at, with the trial's number: the highest of another trial.
    top_levels: tuple[tuple[float, int], ...] = ()
    paces: dict[float, _Paces] = field(default_factory=dict)  # `paces_at`, read once a step

    @classmethod
    def of(
        cls,
        curves: Mapping[int, tuple[np.ndarray, np.ndarray]],
        start: float,
        ratio: float,
        records: Mapping[int, TrialRecord],
    ) -> _Peers:
        reported: dict[float, dict[int, float]] = {}
        for number, (steps, values) in curves.items():
            for step, value in zip(steps.tolist(), values.tolist(), strict=True):
                if math.isfinite(value):
                    reported.setdefault(step, {})[number] = value
        at_step = {step: np.sort(np.array(list(values.values()))) for step, values in reported.items()}
        # A log scale needs every value above zero; a score read as a loss is below zero, and cannot blow up anyway.
        lowest = {
            step: float(values[max(0, (len(values) - 1) // 2 - 1)])
            for step, values in at_step.items()
            if len(values) - 1 >= _MIN_PEERS and values[0] > 0
        }
        peers = cls(at_step, lowest, start, ratio, reported, records)
        levels = [(level, number) for number, curve in curves.items() if (level := peers._seen_at(curve)) is not None]
        return replace(peers, top_levels=tuple(sorted(levels, reverse=True)[:2]))

    def _seen_at(self, curve: tuple[np.ndarray, np.ndarray]) -> float | None:
        """The level a trial's curve was seen at: its first finite report, unless that lies far above the other
        trials' (a blow-up, or a slow learner whose later reports show its level), and the median of its later ones."""
        steps, values = curve
        finite = np.isfinite(values)
        if not finite.any():
            return None
        first_step, first = float(steps[finite][0]), float(values[finite][0])
        later = values[finite][1:]
        seen = [float(np.median(later))] if later.size else []
        if self.far_above(first_step, first) is None:
            seen.append(first)
        return max(seen) if seen else None

    def enough_at(self, step: float) -> bool:
        """Whether enough other trials reported at ``step`` to judge a report there, every value above zero."""
        return step in self.lowest_median

    def far_above(self, step: float, value: float) -> _FarAbove | None:
        """``value``, a finite report of one trial at ``step`` (one of those stored), when it lies far above the other
        trials' values there (see the class) and over ``ratio`` times the study's typical start; else ``None``."""
        lowest = self.lowest_median.get(step)
        if lowest is None or not self.start > 0 or value <= self.ratio * max(self.start, lowest):
            return None
        values = self.at_step[step]
        own = int(np.searchsorted(values, value))
        if own == len(values) or values[own] != value:
            return None
        others = np.log(np.delete(values, own))
        middle = float(np.median(others))
        spread = _MAD_TO_SD * float(np.median(np.abs(others - middle)))
        bound = middle + _PEER_BOUND_Z * _MEDIAN_SE * spread / math.sqrt(len(others))
        if math.log(value) - bound <= math.log(self.ratio):
            return None
        return _FarAbove(step, value, math.exp(middle), math.exp(bound), len(others))

    def level_for(self, number: int, rest: np.ndarray) -> _Level | None:
        """The highest level a curve was seen at other than one report of trial ``number``, whose other reports are
        ``rest``: the highest of another trial's, or the median of the finite ``rest`` (before the report too: a
        slow learner's last report sits where its earlier ones did); ``None`` when there is neither."""
        other = next(((level, n) for level, n in self.top_levels if n != number), None)
        rest = rest[np.isfinite(rest)]
        own = float(np.median(rest)) if rest.size else None
        if own is not None and (other is None or own >= other[0]):
            return _Level(own, None)
        return None if other is None else _Level(other[0], other[1])

    def far_reports(self, number: int, curve: tuple[np.ndarray, np.ndarray]) -> list[_BlowUp]:
        """Every report of trial ``number``'s ``curve`` far above the other trials' at its step, with the level it is
        set against (`_BlowUp.blew_up` says whether it blew up): not judged when it is the trial's only report and
        lies over ``ratio`` times a level that only trials which learned alike were seen at (`paces_at`)."""
        steps, values = curve
        out: list[_BlowUp] = []
        for index, (step, value) in enumerate(zip(steps.tolist(), values.tolist(), strict=True)):
            far = self.far_above(step, value) if math.isfinite(value) else None
            if far is None:
                continue
            rest = np.delete(values, index)
            level = self.level_for(number, rest)
            alike = None
            if (
                level is not None
                and level.witness is not None
                and not np.isfinite(rest).any()
                and value > self.ratio * level.value
                and not (paces := self.paces_at(step)).apart(level.value)
            ):
                alike = _Undecided(level, paces)
            out.append(_BlowUp(far, level, alike))
        return out

    def paces_at(self, step: float) -> _Paces:
        """How the trials that reported at ``step``, other than those far above their peers' there, spread: their
        lowest report, and how far apart alike trials' reports lie at their seed noise, read off the differences
        between trials of nearest configurations as `_SeedNoise` reads it (the root mean square of the smallest
        three quarters, on the log scale)."""
        if step not in self.paces:
            reported = self.reported[step]
            kept = [number for number, value in reported.items() if self.far_above(step, value) is None]
            logs = np.log(np.array([reported[number] for number in kept]))
            points = _configurations([self.records[number] for number in kept], [0.0] * len(kept))
            pairs = _nearest_pairs(points) if len(kept) >= 2 else np.zeros((0, 2), dtype=int)
            noise = _trimmed_spread(np.sort(np.abs(logs[pairs[:, 0]] - logs[pairs[:, 1]]))) if len(pairs) else math.inf
            # Alike draws spread more than 2z sd only if their highest or their lowest lies more than z from their
            # mean: z gives each of those half the chance `_ALIKE_LEVEL` among this many trials.
            from scipy import stats  # imported here: 0.8 s that every CLI command paid on start

            z = float(stats.norm.ppf((1.0 - _ALIKE_LEVEL / 2.0) ** (1.0 / len(kept))))
            self.paces[step] = _Paces(float(np.exp(logs.min())), noise, len(kept), 2.0 * z * noise)
        return self.paces[step]


def _beyond_peers(
    number: int, name: str, curve: tuple[np.ndarray, np.ndarray], peers: _Peers, shown: _Shown
) -> str | None:
    """Why a report of ``curve`` (the first that does) says it blew up: it lies far above the other trials' at its
    step, over `SignatureThresholds.above_peers` times the study's typical start, and as many times above the highest
    level a curve was otherwise seen at (`_Peers`)."""
    for found in peers.far_reports(number, curve):
        if found.blew_up(peers.ratio):
            return found.words(name, shown, peers.start, peers.ratio)
    return None


def _divergence(
    record: TrialRecord,
    curve: tuple[np.ndarray, np.ndarray] | None,
    final: float | None,
    name: str,
    sign: float,
    reference: _Reference,
    rules: SignatureThresholds,
    noise: float,
    blown: str | None,
    watched: frozenset[str],
    peers: _Peers,
    *,
    result: bool = True,
) -> str | None:
    """Why ``record`` diverged (see the module docs), else ``None``. ``result``: whether a value not finite in its
    result counts; off, only what its reports show does (a trial the study failed as not finite is that failure unless
    its curve diverged first)."""
    if record.kind is TrialKind.DIVERGED:
        return record.error or f"stopped as diverged ({name} not finite)"
    if curve is not None:
        steps, values = curve
        bad = ~np.isfinite(values)
        if bad.any():
            index = int(np.argmax(bad))
            return f"{name} is {_stored(sign * values[index])} at step {int(steps[index])}"
    if result and final is not None and not math.isfinite(final):
        return f"final {name} is {_stored(final)}"
    broken = _broken_elsewhere(record, name, watched, result=result)
    if broken is not None:
        return broken
    if result and record.kind is TrialKind.NON_FINITE:
        # The study failed it for a non-finite objective or guardrail, which this reading may not have been given.
        return f"failed as not finite: {record.reason or 'an objective or guardrail is not finite'}"
    if curve is None:
        return blown
    shown = _Shown(sign)
    # A loss that blew up at its first report and then sat at chance never rises above that report, nor falls
    # below the study's start: only the other trials' reports at the same steps show it.
    far = _beyond_peers(record.number, name, curve, peers, shown)
    if len(curve[1]) < 2:
        return far or blown
    steps, values = curve
    gap = reference.gap_at(float(steps[-1]))
    scale = max(abs(float(values[0])), gap if math.isfinite(gap) else 0.0, 1e-12)
    if values[-1] - values[0] > rules.explode * scale:
        return f"{name} exploded from {shown(values[0])} to {shown(values[-1])}"
    # A bounded score cannot rise "far above" its start: a blown-up classifier falls back to chance instead. An
    # overfitting one can end below the study's typical start too, but not below it by the whole gap.
    best = int(np.argmin(values[:-1]))
    fell = float(values[-1] - values[best])
    sank = float(values[-1]) - reference.start
    beyond_noise = _NOISE_CUT * math.sqrt(2.0) * noise
    if (
        math.isfinite(gap)
        and values[best] < reference.start
        and fell > beyond_noise
        and sank >= max(rules.explode * gap, beyond_noise)
    ):
        return (
            f"{name} collapsed from {shown(values[best])} at step {int(steps[best])} to {shown(values[-1])} at step "
            f"{int(steps[-1])}, {sank / gap:.1f} times the study's gap worse than its typical start "
            f"({shown(reference.start)})"
        )
    return far or blown


@dataclass(frozen=True)
class _Reported:
    """What one metric a trial reported did: its first finite report, its largest in magnitude, and its last."""

    first_step: int
    first: float
    peak_step: int
    peak: float
    last: float


def _reported(record: TrialRecord) -> dict[str, _Reported]:
    """Every metric ``record`` reported with a finite value, summed up (`_Reported`)."""
    seen: dict[str, list[float]] = {}  # first step, first value, peak step, peak value, last value
    for step in sorted(record.intermediate):
        for key, value in record.intermediate[step].items():
            if not math.isfinite(value):
                continue
            found = seen.get(key)
            if found is None:
                seen[key] = [step, value, step, value, value]
                continue
            if abs(value) > abs(found[3]):
                found[2], found[3] = step, value
            found[4] = value
    return {key: _Reported(int(f[0]), f[1], int(f[2]), f[3], f[4]) for key, f in seen.items()}


def _blown_up(reported: Mapping[str, _Reported], typical: Mapping[str, float]) -> str | None:
    """Why a trial's reported metrics say its weights blew up: one's magnitude grew more than `_BLOW_UP` times beyond
    both its first report and the study's typical last report of it (a score such as accuracy cannot show that; the
    loss reported beside it can)."""
    for key, metric in sorted(reported.items()):
        base = max(abs(metric.first), typical.get(key, 0.0))
        if base > 0 and abs(metric.peak) > _BLOW_UP * base:
            return (
                f"{key} blew up from {format_value(metric.first)} at step {metric.first_step} to "
                f"{format_value(metric.peak)} at step {metric.peak_step}, over {_BLOW_UP:.0e} times its start and the "
                f"study's typical {format_value(typical.get(key, math.nan))}"
            )
    return None


def _typical_magnitudes(trials: Iterable[Mapping[str, _Reported]]) -> dict[str, float]:
    """Every reported metric's typical size at the end of training: the median over the trials of the magnitude of
    its last finite report."""
    lasts: dict[str, list[float]] = {}
    for reported in trials:
        for key, metric in reported.items():
            lasts.setdefault(key, []).append(abs(metric.last))
    return {key: float(np.median(values)) for key, values in lasts.items()}


def _broken_elsewhere(record: TrialRecord, name: str, watched: frozenset[str], *, result: bool = True) -> str | None:
    """Why another watched metric (`_watched`) says ``record`` blew up: not finite at its last report or (with
    ``result``) in its result (a value that was not finite only for a while, such as a gradient norm under loss
    scaling, is left alone)."""
    last = record.intermediate[max(record.intermediate)] if record.intermediate else {}
    places = (("at its last report", last), ("in its result", record.metrics))
    for where, reported in places if result else places[:1]:
        for key, value in sorted(reported.items()):
            if key != name and key in watched and isinstance(value, float) and not math.isfinite(value):
                return f"{key} is {_stored(value)} {where} (training blew up, whatever {name} shows)"
    return None


def _undefined(record: TrialRecord, watched: frozenset[str]) -> str | None:
    """A note on the metrics of ``record``'s result that are not finite but not watched (`_watched`): undefined
    values, not a sign that training blew up; ``None`` when there are none, or when the study failed the trial as not
    finite (then one of them is an objective or guardrail it was judged on)."""
    if record.kind is TrialKind.NON_FINITE:
        return None
    found = [(k, v) for k, v in sorted(record.metrics.items()) if k not in watched and isinstance(v, float)]
    values = ", ".join(f"{k}={_stored(v)}" for k, v in found if not math.isfinite(v))
    if not values:
        return None
    return (
        f"undefined metric in its result ({values}): neither an objective or guardrail of the study nor reported along "
        "the curve, so not read as divergence"
    )


def _stored(value: float) -> str:
    """A non-finite value as storage holds it: ``inf``, ``-inf`` or ``nan``."""
    return "nan" if math.isnan(value) else str(float(value))


def _shape(
    number: int,
    curve: tuple[np.ndarray, np.ndarray],
    reference: _Reference,
    rules: SignatureThresholds,
    name: str,
    sign: float,
    noise: float,
    seeds: _SeedNoise,
    truncated: bool = False,
) -> CurveDiagnosis:
    steps, values = curve
    last_step = float(steps[-1])
    gap = reference.gap_at(last_step)
    if not math.isfinite(gap):
        return CurveDiagnosis(number, Signature.HEALTHY, "no study-wide gap to compare with")
    shown = _Shown(sign)
    # A rise between two of the curve's own points must also stand out of its step-to-step noise: the
    # difference of two noisy points, taken between a low and a high the noise may have made.
    noise_rise = _NOISE_CUT * math.sqrt(2.0) * noise
    if len(values) >= rules.min_points:
        # A steady climb from the curve's low is overfitting even where noise splits it into several rises.
        low = int(np.argmin(values))
        gained = float(values[0] - values[low])
        climbed = float(values[-1] - values[low])
        steady = _climbs(steps[low:], values[low:])
        if (
            0 < low < len(values) - 1
            and gained > 0
            and steady
            and climbed >= rules.overfit_rise * gained
            and climbed >= max(rules.rebound / 2 * gap, noise_rise)
        ):
            return CurveDiagnosis(number, Signature.OVERFITTING, (
                f"{name} best at step {int(steps[low])} ({shown(values[low])}), "
                f"then worse to {shown(values[-1])} at step {int(last_step)}{_beyond(climbed, noise_rise, ', ')}"
            ))  # fmt: skip
        rises = _rises(values)
        rebounds = [r for r in rises if r >= max(rules.rebound * gap, noise_rise)]
        if len(rebounds) >= 2:
            return CurveDiagnosis(number, Signature.UNSTABLE, (
                f"{len(rebounds)} rebounds of {name}, the largest {format_value(max(rebounds))} "
                f"({max(rebounds) / gap:.0%} of the study's gap{_beyond(max(rebounds), noise_rise)})"
            ))  # fmt: skip
    best = reference.best_at(last_step)
    open_share = float(values[-1] - best) / gap
    third = steps >= steps[0] + (last_step - steps[0]) * 2 / 3
    closed_late = float(values[third][0] - values[-1]) / gap if third.any() else 0.0
    reached = f"{name} reached {shown(values[-1])} at step {int(last_step)}"
    # Still improving is healthy while the last third's pace would bring it within `underfit_gap` of the best in one
    # more training of the same length (three more thirds): a learning rate far too low gains a little at every step
    # while it sits far below the rest (digits at 0.07 -> 0.2 accuracy in 12 epochs, where the others reach 0.98).
    catching_up = closed_late >= rules.plateau and 3.0 * closed_late >= open_share - rules.underfit_gap
    if (
        len(values) < 2
        or truncated
        or open_share <= rules.underfit_gap
        or float(values[-1] - best) <= noise_rise
        or catching_up
    ):
        return CurveDiagnosis(number, Signature.HEALTHY, reached)
    far = f"{open_share:.0%} of the gap above the best by then ({shown(best)})"
    if closed_late >= rules.plateau:  # improving, too slowly to catch up: the curve never levelled off
        trainings = (open_share - rules.underfit_gap) / (3.0 * closed_late)
        far = (f"{far}, still improving but at a pace that needs about {trainings:.0f} more trainings of this length "
               f"to come within {rules.underfit_gap:.0%} of the gap of it (a learning rate too low, or too few steps)")
    levelled = "levelled off" if closed_late < rules.plateau else "was still far off"
    standing = seeds.standing(number, last_step, float(values[-1]))
    if standing is None:
        unchecked = (
            f"which {len(seeds.curves)} trials trained to the end are too few to measure (it takes {_MIN_COMPARED})"
            if not seeds.measured
            else "with no other trial trained to the end by then"
        )
        return CurveDiagnosis(number, Signature.UNDERFITTING, (
            f"{name} {levelled} at {shown(values[-1])} by step {int(last_step)}, {far}; not checked against the "
            f"trials' seed noise, {unchecked}"
        ))  # fmt: skip
    chance = standing.words(shown, rules.level)
    if standing.p_value <= rules.level:
        return CurveDiagnosis(number, Signature.UNDERFITTING, (
            f"{name} {levelled} at {shown(values[-1])} by step {int(last_step)}, {far}; {chance}"
        ), standing.p_value)  # fmt: skip
    return CurveDiagnosis(number, Signature.HEALTHY, f"{reached}, {far}, but {chance}", standing.p_value)


# A trial stopped for these reasons was cut short: its curve cannot show that it levelled off (underfitting).
_CUT_SHORT = (TrialKind.SCHEDULER, TrialKind.BUDGET)

# How many standard errors of the difference of two points a rise must exceed to be more than the curve's noise.
_NOISE_CUT = 3.0

# How many times a metric's magnitude must grow beyond its start and the study's typical value to have blown up.
_BLOW_UP = 1e6

# The fewest other trials that must have reported at a step for a report there to be judged against theirs
# (`_Peers`): fewer give a median and a spread that are themselves mostly noise.
_MIN_PEERS = 8

# A report far above its peers exceeds the upper one-sided 99% bound of their median (in standard errors).
_PEER_BOUND_Z = 2.326

# The chance that alike trials' reports at one step spread wider than `_Paces` allows (two-sided: their highest and
# their lowest), so that their highest would be read as a slower learner's level.
_ALIKE_LEVEL = 0.01

# Beyond this, e to the power overflows a float: a spread so wide allows any ratio.
_LARGEST_LOG = 700.0

# A median's standard error over a mean's, for normal draws: sqrt(pi / 2).
_MEDIAN_SE = math.sqrt(math.pi / 2.0)

# The median absolute deviation of normal draws times this is their standard deviation.
_MAD_TO_SD = 1.4826

# The fewest trials trained to the end whose final values measure the seed noise between trials: fewer give a
# handful of differences, and a spread read off them is itself mostly noise.
_MIN_COMPARED = 8

# The share of the pairs' differences the seed noise is read off (the smallest), and the root mean square of that
# share for draws of sd 1: the difference of two draws is normal with sd sqrt(2), and the smallest 75% of its
# absolute values lie below 1.1503 sqrt(2), where a truncated normal's mean square is 1 - 2 q phi(q) / 0.75.
_KEPT_PAIRS = 0.75
_KEPT_TO_SD = math.sqrt(2.0 * (1.0 - 2.0 * 1.1503 * math.exp(-(1.1503**2) / 2) / math.sqrt(2 * math.pi) / 0.75))

# Beyond this many trials of one configuration, each is paired with the next rather than with all of them.
_ALL_PAIRS_UP_TO = 60

# Where the chance of standing above the best of m others is integrated (the trial's own standard normal draw), and
# the distances (in standard deviations) it is tabulated at.
_GRID = np.linspace(-9.0, 9.0, 1801)
_DISTANCES = np.linspace(0.0, 15.0, 601)

# Simulated studies of seed noise alone that say how far the measured spread may be off: as many as fit a budget of
# draws, within these bounds, from a fixed seed so that every reading of a study agrees.
_DRAWS = 2000
_MIN_DRAWS = 200
_DRAW_CELLS = 1_000_000
_DRAW_SEED = 20_240_046


@dataclass(frozen=True)
class _Standing:
    """Where one trial's final value stands against the best final value of the other trials."""

    others: int
    best: float
    distance: float  # the trial's final value minus ``best``
    sd: float
    pairs: int
    p_value: float

    def words(self, shown: _Shown, level: float) -> str:
        p = "< 0.001" if self.p_value < 0.001 else f"= {self.p_value:.2g}"
        verdict = "beyond" if self.p_value <= level else "within"
        return (
            f"{format_value(self.distance)} above the best of {self.others} other trials ({shown(self.best)}), "
            f"{verdict} their seed noise at the {level:g} level (p {p}; seed noise sd {format_value(self.sd)}, "
            f"from {self.pairs} pairs of trials of nearest configurations)"
        )


@dataclass(frozen=True)
class _SeedNoise:
    """The spread of trials' final values that their configurations do not explain, and those values by step.

    Attributes:
        curves: (steps, values) of each trial compared (trained to the end, not diverged).
        positions: each compared trial's number -> its position in ``curves``.
        pairs: rows of two positions: trials of nearest configurations (empty: too few trials to measure).
        ordered: the absolute difference of each pair's final values, smallest first.
        rank: each pair's place in ``ordered``.
        ratios: what the measured spread is over its true value under seed noise alone, once per simulated study
            (the same pairs, seeded draws): how far the measurement itself may be off.
        by_step: at a step, the compared trials' values (each one's last at or before it), how many have one, and
            the positions of the two smallest; filled as steps are asked.
    """

    curves: list[tuple[np.ndarray, np.ndarray]]
    positions: dict[int, int]
    pairs: np.ndarray
    ordered: np.ndarray
    rank: np.ndarray
    ratios: np.ndarray
    by_step: dict[float, tuple[np.ndarray, int, list[int]]]

    @property
    def measured(self) -> bool:
        return len(self.pairs) > 0

    @classmethod
    def of(cls, compared: Sequence[tuple[TrialRecord, tuple[np.ndarray, np.ndarray]]]) -> _SeedNoise:
        curves = [curve for _, curve in compared]
        positions = {record.number: i for i, (record, _) in enumerate(compared)}
        if len(compared) < _MIN_COMPARED:
            none = np.zeros(0, dtype=int)
            return cls(curves, positions, none.reshape(0, 2), np.zeros(0), none, np.ones(1), {})
        finals = np.array([curve[1][-1] for curve in curves])
        points = _configurations([record for record, _ in compared], [float(c[0][-1]) for c in curves])
        pairs = _nearest_pairs(points)
        differences = np.abs(finals[pairs[:, 0]] - finals[pairs[:, 1]])
        order = np.argsort(differences, kind="stable")
        rank = np.empty(len(order), dtype=int)
        rank[order] = np.arange(len(order))
        # The spread read off a few dozen differences is itself noisy: a p-value that took it for the truth (read
        # as a median) called 2.4% of the trials of one configuration underfitting at the 1% level. Each simulated
        # study leaves one trial out, in turn, as `standing` leaves out the trial it judges.
        draws = max(_MIN_DRAWS, min(_DRAWS, _DRAW_CELLS // max(len(finals), len(pairs))))
        simulated = np.random.default_rng(_DRAW_SEED).standard_normal((draws, len(finals)))
        left_out = np.arange(draws) % len(finals)
        skipped = (pairs[None, :, 0] == left_out[:, None]) | (pairs[None, :, 1] == left_out[:, None])
        ratios = _pair_spread(np.abs(simulated[:, pairs[:, 0]] - simulated[:, pairs[:, 1]]), skipped)
        return cls(curves, positions, pairs, differences[order], rank, ratios, {})

    def standing(self, number: int, step: float, value: float) -> _Standing | None:
        """How far ``value``, trial ``number``'s final value at ``step``, lies above the best of the other compared
        trials' values at that step, and how often seed luck alone puts a trial of the best configuration that far
        up, the spread measured without the trial's own pairs; ``None`` when the noise was not measured or no
        other trial reported by then."""
        if not self.measured:
            return None
        at_step, reported, smallest = self._at_step(step)
        own = self.positions.get(number, -1)
        mine = own >= 0 and math.isfinite(at_step[own])
        others = reported - int(mine)
        if others == 0:
            return None
        best = float(at_step[smallest[1] if smallest[0] == own else smallest[0]])
        distance = value - best
        touching = (self.pairs[:, 0] == own) | (self.pairs[:, 1] == own)
        kept = np.delete(self.ordered, self.rank[touching]) if not touching.all() else self.ordered
        sd = _trimmed_spread(kept)
        if sd <= 0:  # trials that all ended alike where their configurations match: no seed noise to allow for
            p_value = 0.0 if distance > 0 else 1.0
        else:
            # Averaged over how far the measured spread may be from the true one: P(X - min Y >= distance / sd).
            p_value = float(np.mean(_above_the_best(distance / sd * self.ratios, others)))
        return _Standing(others, best, distance, sd, len(kept), p_value)

    def _at_step(self, step: float) -> tuple[np.ndarray, int, list[int]]:
        if step not in self.by_step:
            indices = [int(np.searchsorted(steps, step, side="right")) - 1 for steps, _ in self.curves]
            values = np.array(
                [values[i] if i >= 0 else math.nan for i, (_, values) in zip(indices, self.curves, strict=True)]
            )
            finite = np.flatnonzero(np.isfinite(values))
            smallest = [int(i) for i in finite[np.argsort(values[finite], kind="stable")[:2]]] + [-1, -1]
            self.by_step[step] = (values, len(finite), smallest[:2])
        return self.by_step[step]


def _pair_spread(differences: np.ndarray, skipped: np.ndarray | None = None) -> np.ndarray:
    """For each row of absolute differences between pairs of trials, the seed noise `_trimmed_spread` reads off them,
    leaving out those ``skipped`` marks in that row (none when it would leave none)."""
    if skipped is not None:
        skipped = skipped & ~skipped.all(axis=1, keepdims=True)
        differences = np.where(skipped, np.inf, differences)
    ordered = np.sort(differences, axis=1)
    return np.array([_trimmed_spread(row[np.isfinite(row)]) for row in ordered])


def _trimmed_spread(ordered: np.ndarray) -> float:
    """The normal standard deviation read off absolute differences between pairs of trials, smallest first: the root
    mean square of the smallest `_KEPT_PAIRS` of them, so that a pair across a real effect or with an outlying trial
    weighs nothing while the rest count in full (a median of 25 pairs wasted two thirds of them)."""
    kept = ordered[: max(1, int(_KEPT_PAIRS * len(ordered)))]
    return math.sqrt(float(np.mean(kept**2))) / _KEPT_TO_SD


def _above_the_best(distance: np.ndarray, others: int) -> np.ndarray:
    """For each ``distance`` (in standard deviations), the chance that a standard normal draw lies at least that
    far above the smallest of ``others`` more: ``P(X - min(Y_1..Y_m) >= distance)``."""
    table = _above_the_best_table(others)
    return np.interp(distance, _DISTANCES, table, right=float(table[-1]))


@functools.lru_cache(maxsize=64)
def _above_the_best_table(others: int) -> np.ndarray:
    """`_above_the_best` at each of `_DISTANCES`: for the trial's own draw x, P(min Y >= x - d) = Phi(d - x)^m,
    integrated over x; the tail as -expm1 keeps small chances exact."""
    from scipy import stats

    log_below = stats.norm.logcdf(_DISTANCES[:, None] - _GRID[None, :])
    tail = -np.expm1(others * log_below)
    chances = np.trapezoid(stats.norm.pdf(_GRID)[None, :] * tail, _GRID, axis=1)
    return np.clip(chances, 0.0, 1.0)


def _configurations(records: Sequence[TrialRecord], last_steps: Sequence[float]) -> np.ndarray:
    """Each trial's configuration as a point, near where alike: every numeric parameter (and the last step
    trained) by its rank among the trials from 0 to 1, equal values sharing one; any other value one-hot, so two
    values are 1 apart; a parameter's absence a coordinate of its own."""
    names = sorted({name for record in records for name in record.params})
    columns: list[np.ndarray] = [_ranks([float(s) for s in last_steps])]
    for name in names:
        present = [name in record.params for record in records]
        values = [record.params.get(name) for record in records]
        columns.append(np.array([0.0 if p else 1.0 for p in present]))
        shown = [v for v, p in zip(values, present, strict=True) if p]
        numbers = [float(v) for v in shown if isinstance(v, int | float) and not isinstance(v, bool)]
        if len(numbers) == len(shown):
            ranks = iter(_ranks(numbers))
            columns.append(np.array([next(ranks) if p else 0.0 for p in present]))
            continue
        keys = [json.dumps(v, sort_keys=True, default=str) if p else None for v, p in zip(values, present, strict=True)]
        for key in sorted({k for k in keys if k is not None}):
            columns.append(np.array([math.sqrt(0.5) if k == key else 0.0 for k in keys]))
    return np.column_stack(columns)


def _ranks(values: Sequence[float]) -> np.ndarray:
    """Ranks scaled to [0, 1] (ties share their average rank; 0 for every value when there is one)."""
    if len(values) < 2:
        return np.zeros(len(values))
    from scipy import stats

    return (stats.rankdata(values, method="average") - 1.0) / (len(values) - 1.0)


def _nearest_pairs(points: np.ndarray) -> np.ndarray:
    """Pairs of rows whose configurations are nearest, as rows of two indices: the trials of each configuration run
    more than once paired among themselves, and every other trial with the trials of the nearest configuration."""
    unique, inverse = np.unique(points, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(inverse, kind="stable")
    groups = np.split(order, np.flatnonzero(np.diff(inverse[order])) + 1)
    nearest = np.zeros(len(unique), dtype=int)
    if len(unique) >= 2:
        from scipy.spatial import cKDTree

        _, found = cKDTree(unique).query(unique, k=2)
        nearest = np.where(found[:, 0] == np.arange(len(unique)), found[:, 1], found[:, 0])
    pairs: set[tuple[int, int]] = set()
    for g, members in enumerate(groups):
        if len(members) > _ALL_PAIRS_UP_TO:
            pairs.update((int(a), int(b)) for a, b in itertools.pairwise(members))
        elif len(members) >= 2:
            pairs.update((int(a), int(b)) for a, b in itertools.combinations(members, 2))
        elif len(unique) >= 2:
            trial = int(members[0])
            pairs.update((min(trial, int(o)), max(trial, int(o))) for o in groups[int(nearest[g])])
    return np.array(sorted(pairs), dtype=int).reshape(-1, 2)


def _median_noise(noises: Iterable[float | None]) -> float:
    """The median of the curves' step-to-step noise (`step_noise`: a robust standard deviation from second
    differences, which a smooth trend barely moves), over the curves with enough points to show it; 0 when none
    has."""
    known = [noise for noise in noises if noise is not None]
    return float(np.median(known)) if known else 0.0


def _climbs(steps: np.ndarray, values: np.ndarray) -> bool:
    """Whether a curve climbs steadily over these points (from its low on): a least-squares slope above zero by
    two of its standard errors, so that noise around a flat end or swings up and down are not a climb, and a
    climb that noise breaks into several rises still is."""
    if len(values) < 3:
        return False
    slope, intercept = np.polyfit(steps, values, 1)
    residual = values - (slope * steps + intercept)
    spread = float(np.sum((steps - steps.mean()) ** 2))
    error = math.sqrt(float(np.sum(residual**2)) / (len(values) - 2) / spread) if spread > 0 else math.inf
    return bool(slope > 0 and slope >= 2.0 * error)


def _beyond(rise: float, noise_rise: float, lead: str = "; ") -> str:
    """How far ``rise`` stands out of the curve's noise, in words (empty when the curve shows none)."""
    if noise_rise <= 0:
        return ""
    return f"{lead}{rise / (noise_rise / _NOISE_CUT):.1f} times the study's step-to-step noise of a difference"


class _Shown:
    """Shows a loss-oriented value in the metric's own sign."""

    def __init__(self, sign: float) -> None:
        self.sign = sign

    def __call__(self, value: float) -> str:
        return format_value(float(self.sign * value))


def _rises(values: np.ndarray) -> list[float]:
    """The size of every run of rising values (a rebound from a local low to the next local high)."""
    rises: list[float] = []
    current = 0.0
    for delta in np.diff(values):
        if delta > 0:
            current += float(delta)
        elif current > 0:
            rises.append(current)
            current = 0.0
    if current > 0:
        rises.append(current)
    return rises


def signature_counts(diagnoses: Mapping[int, CurveDiagnosis]) -> dict[Signature, int]:
    """How many trials have each signature (every signature present, zero when absent)."""
    counts = dict.fromkeys(Signature, 0)
    for diagnosis in diagnoses.values():
        counts[diagnosis.signature] += 1
    return counts
