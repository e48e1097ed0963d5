"""Judging a finished trial: its final state, metrics and why, and divergence of a running one."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tunesmith.budget import Budget
from tunesmith.context import SearchContext
from tunesmith.decision import Decision
from tunesmith.objective import Guardrail, Metric, MissingMetric, keys_of, non_finite_examples, normalise_result
from tunesmith.schedulers import Scheduler
from tunesmith.schedulers.base import NOTHING_LEFT_TO_TRAIN
from tunesmith.schedulers.successive_halving import crossed_level, ranked_by
from tunesmith.study._limits import spent_beyond_trials
from tunesmith.trial import TrialKind, TrialRecord, TrialState

if TYPE_CHECKING:
    from tunesmith.study._study import Study

__all__ = [
    "DivergenceReference", "Outcome", "StopNote", "decide_at_report", "divergence", "divergence_reference", "judge",
    "never_compared", "ran_all_steps", "trained_to_the_end", "unranked",
]  # fmt: skip


@dataclass(frozen=True)
class StopNote:
    """Why the study stopped or paused a running trial: a kind for code and a sentence for people."""

    kind: TrialKind | None
    text: str


@dataclass(frozen=True)
class Outcome:
    """How a trial ends: what `Study.tell` writes to storage.

    Attributes:
        state: the final state.
        metrics: the final metrics; a stopped or paused trial's reported ones are its last report, whatever the
            objective returned after the stop.
        reason: a short cause for people (``None`` for a COMPLETE trial).
        error: the longer text: a traceback, or the divergence detail.
        kind: the cause for code (``None`` for COMPLETE and PAUSED trials).
    """

    state: TrialState
    metrics: dict[str, float] = field(default_factory=dict)
    reason: str | None = None
    error: str | None = None
    kind: TrialKind | None = None


def judge(
    record: TrialRecord,
    result: Any,
    *,
    metric: Metric,
    guardrails: Sequence[Guardrail],
    decision: Decision,
    note: StopNote | None,
    error: str | None = None,
    reason: str | None = None,
    kind: TrialKind | None = None,
    objectives: Sequence[Metric] = (),
) -> Outcome:
    """The outcome of trial ``record`` given what its objective returned (or the error that ended it). A PBT
    continuation that reported no step of its own trained nothing: STOPPED, whatever it returned (`_trained_nothing`).

    Args:
        record: the trial as stored (its intermediate reports supply metrics a stopped trial lacks).
        result: the objective's return value.
        metric: the study's primary metric.
        guardrails: the study's guardrails (applied to finished results only).
        decision: the last decision the trial received.
        note: why the study stopped or paused it.
        error, reason, kind: a failure's text, short cause and kind (an exception when not given); kind
            `TrialKind.DECLARED` (the objective raised `tunesmith.Infeasible`) records it INFEASIBLE without metrics.
        objectives: every objective of a multi-objective study: a finished result lacking one fails as a
            missing metric (a non-finite one as non-finite), as the primary metric does.
    """
    last_reported = record.intermediate[max(record.intermediate)] if record.intermediate else {}
    if kind is TrialKind.DECLARED:
        # The objective raised `Infeasible`: no result. Its curve stays with the trial, but no reported value becomes
        # a final metric, which every reader of an INFEASIBLE trial's metrics takes for a finished evaluation.
        return Outcome(TrialState.INFEASIBLE, {}, reason or "infeasible", error, kind)
    if error is not None or reason is not None or kind is not None:
        return Outcome(TrialState.FAILED, dict(last_reported), reason or "error", error, kind or TrialKind.EXCEPTION)
    if (idle := _trained_nothing(record)) is not None:
        return idle
    stopped = decision is not Decision.CONTINUE
    if result is None and stopped:
        metrics = dict(last_reported)
    else:
        try:
            metrics = normalise_result(result, metric, objectives=objectives)
        except MissingMetric as exc:
            return Outcome(TrialState.FAILED, dict(last_reported), f"missing metric: {exc}",
                           kind=TrialKind.MISSING_METRIC)  # fmt: skip
        except ValueError as exc:
            return Outcome(TrialState.FAILED, dict(last_reported), f"bad result: {exc}", kind=TrialKind.BAD_RESULT)
        if stopped:
            # A trial cut short is recorded with its last report, the value its rung judged and its curve ends on:
            # what it returned after the stop (a library's best score, an evaluation of its best checkpoint) would
            # contradict the curve and, read by samplers before a rung fills, pull the search toward what was cut.
            # Metrics it returned and never reported stay.
            metrics = {**metrics, **last_reported}
    value = metrics.get(metric.name)
    stop_kind = note.kind if note is not None and note.kind is not None else TrialKind.SCHEDULER
    stop_text = note.text if note is not None else None
    if stop_kind is TrialKind.MISSING_METRIC:  # its reports never carried what the scheduler ranks by
        return Outcome(TrialState.FAILED, metrics, "reports lack the metric", stop_text, TrialKind.MISSING_METRIC)
    if stop_kind is TrialKind.DIVERGED:
        return Outcome(TrialState.STOPPED, metrics, "diverged", stop_text, TrialKind.DIVERGED)
    if value is None or not math.isfinite(value):
        if stopped:
            return Outcome(TrialState.STOPPED, metrics, stop_text or "stopped", kind=stop_kind)
        missing = TrialKind.MISSING_METRIC if value is None else TrialKind.NON_FINITE
        where = None if value is None else non_finite_examples(result, metric.name)
        said = f"{metric.name} is {value}" + ("" if where is None else f": {where}")
        return Outcome(TrialState.FAILED, metrics, said, kind=missing)
    # A stopped or paused trial was judged on partial training: guardrails apply to finished results.
    if decision is Decision.PAUSE:
        return Outcome(TrialState.PAUSED, metrics, stop_text)
    if decision is Decision.STOP:
        return Outcome(TrialState.STOPPED, metrics, stop_text or "stopped", kind=stop_kind)
    for objective in objectives[1:]:
        other = metrics.get(objective.name)
        if other is None:
            names = ", ".join(repr(m.name) for m in objectives)
            keys = keys_of(metrics, objective.name, taken=[m.name for m in objectives])
            return Outcome(TrialState.FAILED, metrics, f"the result has no {objective.name!r} (the study's objectives "
                           f"are {names}); {keys}", kind=TrialKind.MISSING_METRIC)  # fmt: skip
        if not math.isfinite(other):
            return Outcome(TrialState.FAILED, metrics, f"{objective.name} is {other}", kind=TrialKind.NON_FINITE)
    for guardrail in guardrails:
        observed = metrics.get(guardrail.metric)
        if observed is None:
            keys = keys_of(metrics, guardrail.metric, taken=[m.name for m in objectives or [metric]])
            return Outcome(
                TrialState.FAILED,
                metrics,
                f"guardrail metric {guardrail.metric!r} missing from the result: the objective must return it beside "
                f"the metric, as every guardrail is judged on each finished trial; {keys}",
                kind=TrialKind.MISSING_METRIC,
            )
        if not math.isfinite(observed):  # a broken measurement, not a breach: it fails as a non-finite objective does
            return Outcome(
                TrialState.FAILED,
                metrics,
                f"guardrail metric {guardrail.metric!r} is {observed}, a broken measurement rather than a breach of "
                f"{guardrail.describe()}: return a finite value (for a measurement cut short, one beyond the bound)",
                kind=TrialKind.NON_FINITE,
            )
        if not guardrail.holds(observed):
            return Outcome(
                TrialState.INFEASIBLE,
                metrics,
                f"guardrail breached: {guardrail.describe()} (got {guardrail.value_text(observed)})",
                kind=TrialKind.GUARDRAIL,
            )
    return Outcome(TrialState.COMPLETE, metrics)


def _trained_nothing(record: TrialRecord) -> Outcome | None:
    """The outcome of a PBT continuation (attribute ``parent``) that reported no step past its ``start_step``, or
    ``None`` for any other trial.

    Before any trial finished, PBT cannot tell a donor that reported its last step from one in mid-training, so it
    may continue one with nothing left to train: the continuation's `steps` loop is empty and what its objective
    returns scores the donor's training under the continuation's hyperparameters, which never trained. Recorded
    COMPLETE, that score would be credited to them (it could be the best trial); it is recorded STOPPED by the
    scheduler instead, without metrics.
    """
    parent = record.attrs.get("parent")
    start = int(record.attrs.get("start_step", 0))
    if not isinstance(parent, int) or start <= 0 or any(step > start for step in record.intermediate):
        return None
    return Outcome(
        TrialState.STOPPED,
        {},
        f"{NOTHING_LEFT_TO_TRAIN}: it continued #{parent} from step {start} and reported no step after it (training "
        f"ends at step {start}, which #{parent} had trained)",
        f"what the objective returned scores #{parent}'s training to step {start}, not these hyperparameters, which "
        "trained no step: it is not recorded as this trial's metrics",
        TrialKind.SCHEDULER,
    )


def divergence(
    record: TrialRecord, metric: Metric, factor: float | None, history: Sequence[TrialRecord] = ()
) -> str | None:
    """Why a loss (minimised metric) counts as diverged: it grew past ``factor`` times where the trial's training
    started, its first report (`divergence_reference`). ``history`` holds the trials ``record`` continues, if any.
    """
    if factor is None or metric.direction != "min":
        return None
    curve = record.curve(metric.name)
    reference = divergence_reference(record, metric, history)
    # A trial's own first report cannot tell it grew; a continuation's can, against its lineage's start.
    if not curve or reference is None or (reference.trial == record.number and len(curve) < 2):
        return None
    step, last = curve[-1]
    if reference.value > 0 and last > factor * reference.value:
        return (
            f"diverged: {metric.name} grew from {reference.value:g} ({reference.describe(record.number)}) to "
            f"{last:g} (step {step}), more than divergence_factor={factor:g} times"
        )
    return None


@dataclass(frozen=True)
class DivergenceReference:
    """Where a trial's training started, which divergence is measured from: the first report of ``trial``.

    Attributes:
        trial: the trial that made the report: the judged trial itself, or its lineage's root.
        step: the report's step.
        value: the metric's value there.
    """

    trial: int
    step: int
    value: float

    def describe(self, judged: int) -> str:
        """The reference for people, as seen from trial ``judged``."""
        if self.trial == judged:
            return f"its first report, step {self.step}"
        return f"step {self.step} of trial {self.trial}, where its lineage's training started"


def divergence_reference(
    record: TrialRecord, metric: Metric, history: Sequence[TrialRecord]
) -> DivergenceReference | None:
    """Where ``record``'s training started: its own first report of ``metric``, unless it continues another
    trial's training (a PBT continuation: attributes ``lineage``, ``parent``), whose first report is of a model
    already trained; then the first report of its lineage's root, the trial whose training it carries on.

    A trial resumed after a pause (ASHA's promotions) keeps its own reports from before the pause, so its own
    first report is where it started. A continuation whose root is not in ``history`` (or never reported the
    metric) has no reference: the root's start is unknown, and any later first report would make a noise
    bump in a trained loss look like a blow-up.
    """
    root = _lineage_root(record, history)
    if root is None:
        return None
    curve = root.curve(metric.name)
    if not curve:
        return None
    step, value = curve[0]
    return DivergenceReference(root.number, step, value)


def _lineage_root(record: TrialRecord, history: Sequence[TrialRecord]) -> TrialRecord | None:
    """The trial whose training ``record`` carries on (``record`` itself for a trial that started from scratch),
    or ``None`` when a link of its lineage is not in ``history``."""
    if _earliest_ancestor(record) is None:
        return record  # most trials: no pass over the history at every report
    by_number = {r.number: r for r in history}
    current, seen = record, {record.number}
    while (ancestor := _earliest_ancestor(current)) is not None:
        found = by_number.get(ancestor)
        if found is None or found.number in seen:
            return None
        current = found
        seen.add(found.number)
    return current


def _earliest_ancestor(record: TrialRecord) -> int | None:
    """The first trial of ``record``'s recorded lineage (PBT writes the whole lineage, root first, and the
    parent), or ``None`` for a trial that started from scratch."""
    lineage = record.attrs.get("lineage")
    if isinstance(lineage, list) and lineage and isinstance(lineage[0], int):
        return lineage[0]
    parent = record.attrs.get("parent")
    return parent if isinstance(parent, int) else None


def decide_at_report(
    record: TrialRecord,
    history: Sequence[TrialRecord],
    step: int,
    values: dict[str, float],
    *,
    now: float,
    metric: Metric,
    budget: Budget,
    scheduler: Scheduler,
    context: SearchContext,
    divergence_factor: float | None,
) -> tuple[Decision, StopNote | None]:
    """What a running trial is told after reporting ``values`` at ``step``, and why when it is not
    CONTINUE: divergence first, then the wall-time and resource limits, then the scheduler.

    ``history`` holds at least ``record`` (the trial with this report stored); the whole study when
    the scheduler reads history or the budget has a wall-time or resource limit. Divergence reads a
    continuation's lineage in it (`divergence_reference`): PBT, the one scheduler that makes continuations,
    reads history, so its studies supply the whole study.
    """
    value = values.get(metric.name)
    if value is not None and not math.isfinite(value):
        return Decision.STOP, StopNote(TrialKind.DIVERGED, f"diverged: {metric.name}={value} at step {step}")
    diverged = divergence(record, metric, divergence_factor, history)
    if diverged:
        return Decision.STOP, StopNote(TrialKind.DIVERGED, diverged)
    spent = spent_beyond_trials(budget, history, now, step_for=record.number, scheduler=scheduler)
    if spent is not None:
        return Decision.STOP, StopNote(TrialKind.BUDGET, spent.message)
    # An invalidated trial never sets the bar at a rung (`Study.invalidate`).
    judged = [r for r in history if r is record or r.invalidated is None]
    # A report of other metrics (train_loss, with val_loss to come in a second call at the same step, or at an epoch
    # that does not validate) decides nothing: the scheduler ranked it by the step before's value.
    carried = record.intermediate.get(step, {})
    ranks = all(name in carried for name in ranked_by(context))
    decision = scheduler.decide(record, judged, context) if ranks else Decision.CONTINUE
    blind = unranked(record, scheduler, context)
    if blind is not None:
        return Decision.STOP, StopNote(TrialKind.MISSING_METRIC, blind)
    if decision is not Decision.CONTINUE:
        why = scheduler.explain(record, judged, context)
        text = f"{decision.value} by {scheduler.name} at step {step}" + (f": {why}" if why else "")
        return decision, StopNote(TrialKind.SCHEDULER, text)
    return decision, None


def unranked(record: TrialRecord, scheduler: Scheduler, context: SearchContext) -> str | None:
    """Why ``scheduler`` cannot rank ``record`` at its rungs, judged at the report that crossed the last rung below
    the full resource (whatever it carries): a rung decides, stops or pauses, at the first report of its metric at
    or past it, so a trial whose reports up to there never carried the metric was compared by no rung.

    Returns the sentence for the trial's error (the same for every trial that makes the mistake, so that
    the study's fail-fast sees one failure repeated), or ``None`` when the metric was reported in time.
    """
    levels = sorted(scheduler.rungs())[:-1]  # the last entry is the full resource, where nothing is compared
    if not levels:
        return None
    if record.resource < levels[-1]:
        return None  # before the last rung: nothing to judge yet (and no sort of the reports on every step)
    deciding = levels[-1]
    if crossed_level(record, [deciding]) is None:
        return None
    names = [m.name for m in (context.objectives or (context.metric,))]
    # The rung reads a trial at its first report at or past the rung (`value_at_rung`): one that reports every
    # 8 steps is ranked at rung 3 by its step-8 value, so the reports up to that one are what it carries.
    crossing = min(step for step in record.intermediate if step >= deciding)
    carried = {key for step, values in record.intermediate.items() if step <= crossing for key in values}
    missing = [name for name in names if name not in carried]
    first = min(record.intermediate)
    if not missing and first <= levels[-1]:
        return None
    what = " and ".join(repr(name) for name in missing)
    outcome = "could never be promoted from its rung" if scheduler.pauses else "could not be stopped early"
    if first > levels[-1]:  # every rung reads the same first report: they compare nothing
        full = scheduler.rungs()[-1]
        return (
            f"{scheduler.name} compares trials at its rungs ({', '.join(f'{lv:g}' for lv in levels)}, full "
            f"resource {full:g}), but the trial's first report came at step {first:g}, past every rung, so no "
            f"rung could compare it and it {outcome}: its steps count other units than the scheduler's resource "
            "(optimizer steps against epochs, say); report in the scheduler's units (trial.report(epoch + 1, ...)) "
            "or give max_resource and min_resource in the units reported"
        )
    return (
        f"{scheduler.name} ranks trials by {what} at its rungs ({', '.join(f'{lv:g}' for lv in levels)}), but the "
        f"reports up to step {crossing:g} carry {f'only {sorted(carried)}' if carried else 'no metric'}: no rung "
        f"could compare the trial, so it {outcome}. Report {what} at every step (trial.report({missing[0]}=...)), "
        f"or move the first rung (min_resource) to a step where it is reported{_callback_fix(missing, carried)}"
    )


def _callback_fix(missing: list[str], carried: set[str]) -> str:
    """The fix for an objective whose reports come from a training-library callback, which reports what the library
    logs under the library's own names: the study's metric named after one of them (empty when the reports carried
    nothing)."""
    if not carried:
        return ""
    names = ", ".join(repr(k) for k in sorted(carried)[:5])
    return (
        f"; a training-library callback (tunesmith.integrations) reports what the library logs under the library's "
        f"own names ({names}; its monitor= names the one it must find, usually the study's metric): name the study's "
        f"metric after the one {missing[0]!r} stands for (metric={sorted(carried)[0]!r}, say), or, for a value the "
        f"library does not log (a model's size), add it to every report with the callback's extra= "
        f"(extra={{{missing[0]!r}: ...}}, or a function returning that)"
    )


def never_compared(record: TrialRecord, scheduler: Scheduler, context: SearchContext) -> str | None:
    """Why ``scheduler`` could never have compared ``record``, a trial that ran to its end: it reported steps,
    but none of its reports carried what the scheduler ranks by.

    Judged at the end, the one point where it is certain for a scheduler without rungs: median stopping and
    PBT read whatever value came last, so a metric reported every few steps serves them, and only a trial
    whose reports never carried it was out of their reach the whole time. A rung scheduler needs every
    objective (`unranked` judges it earlier, at its deciding rung); median stopping and PBT read the primary
    metric. A trial that reported nothing is `tunesmith.study._limits.AxisWatch`'s (its objective may not
    train in steps at all).

    Returns the sentence for the trial's error (the same for every trial that makes the mistake), or ``None``.
    """
    if not scheduler.reads_history or not record.intermediate:
        return None
    objectives = context.objectives or (context.metric,)
    names = [m.name for m in objectives] if scheduler.rungs() else [context.metric.name]
    carried = {key for values in record.intermediate.values() for key in values}
    missing = [name for name in names if name not in carried]
    if not missing:
        return None
    what = " and ".join(repr(name) for name in missing)
    return (
        f"{scheduler.name} compares trials by {what} as they report, but the trial's reports carry only "
        f"{sorted(carried)}: it could never be compared, so it could not be stopped early. Report {what} with its "
        f"steps (trial.report({missing[0]}=...)), or use scheduler='fifo' to train every trial to the end"
        f"{_callback_fix(missing, carried)}"
    )


def trained_to_the_end(study: Study, number: int, steps: object) -> None:
    """Record that trial ``number``'s `Trial.steps` loop ran to its end, ``steps`` steps (``None``: it did not, or
    had no loop), as its resource when its reports stopped short of it: a loop over 27 epochs that reported every
    fifth was recorded at step 25, so the resource budget counted 25 where 27 were trained, and the end-of-run check
    said no trial reached max_resource=27 and advised 25."""
    if not isinstance(steps, int) or isinstance(steps, bool):
        return
    record = study.storage.get_trial(study._info.id, number)
    if record.state is TrialState.RUNNING and steps > record.resource:
        study.storage.update_trial(study._info.id, number, resource=float(steps))


def trained_fully_when_spent(record: TrialRecord, scheduler: Scheduler, note: StopNote | None) -> bool:
    """Whether the budget's stop of ``record`` (``note``) came at a report at the rung scheduler's full resource:
    the trial had trained fully, and the stop (its next report would not fit) cut nothing short, as for
    `ran_all_steps`. Recorded STOPPED, it was not counted trained fully, and four workers that each trained a
    trial to the end as a resource budget ran out ended the study with no best."""
    levels = scheduler.rungs()
    return (
        note is not None and note.kind is TrialKind.BUDGET and bool(levels)
        and record.resource >= levels[-1] * (1.0 - 1e-9)
    )  # fmt: skip


def ran_all_steps(decisions: dict[int, Decision], notes: dict[int, StopNote], number: int) -> None:
    """A trial that reported every step it planned is finished: a STOP answered at its last report
    (a budget running out) cut nothing short, so its decision goes back to CONTINUE. A divergence still counts."""
    note = notes.get(number)
    if decisions.get(number) is Decision.STOP and (note is None or note.kind is not TrialKind.DIVERGED):
        decisions[number] = Decision.CONTINUE
        notes.pop(number, None)
