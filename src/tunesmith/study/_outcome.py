"""Judging a finished trial: its final state, metrics and why, and divergence of a running one."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tunesmith.decision import Decision
from tunesmith.objective import Guardrail, Metric, normalise_result
from tunesmith.trial import TrialRecord, TrialState

__all__ = ["Outcome", "divergence", "judge"]


@dataclass(frozen=True)
class Outcome:
    """How a trial ends: what `Study.tell` writes to storage.

    Attributes:
        state: the final state.
        metrics: the final metrics (the last reported ones when the objective returned nothing).
        reason: a short cause for people (``None`` for a COMPLETE trial).
        error: the longer text: a traceback, or the divergence detail.
    """

    state: TrialState
    metrics: dict[str, float] = field(default_factory=dict)
    reason: str | None = None
    error: str | None = None


def judge(
    record: TrialRecord,
    result: Any,
    *,
    metric: Metric,
    guardrails: Sequence[Guardrail],
    decision: Decision,
    note: str | None,
    error: str | None = None,
    reason: str | None = None,
) -> Outcome:
    """The outcome of trial ``record`` given what its objective returned (or the error that ended it).

    Args:
        record: the trial as stored (its intermediate reports supply metrics a stopped trial lacks).
        result: the objective's return value.
        metric: the study's primary metric.
        guardrails: the study's guardrails (applied to finished results only).
        decision: the last decision the trial received.
        note: why the study stopped or paused it (``"diverged: ..."`` for divergence).
        error, reason: a failure's text and short cause.
    """
    last_reported = record.intermediate[max(record.intermediate)] if record.intermediate else {}
    if error is not None or reason is not None:
        return Outcome(TrialState.FAILED, dict(last_reported), reason or "error", error)
    stopped = decision is not Decision.CONTINUE
    if result is None and stopped:
        metrics = dict(last_reported)
    else:
        try:
            metrics = normalise_result(result, metric)
        except ValueError as exc:
            return Outcome(TrialState.FAILED, dict(last_reported), f"bad result: {exc}")
    value = metrics.get(metric.name)
    if note and note.startswith("diverged"):
        return Outcome(TrialState.STOPPED, metrics, "diverged", note)
    if value is None or not math.isfinite(value):
        if stopped:
            return Outcome(TrialState.STOPPED, metrics, note or "stopped")
        return Outcome(TrialState.FAILED, metrics, f"{metric.name} is {value}")
    # A stopped or paused trial was judged on partial training: guardrails apply to finished results.
    if decision is Decision.PAUSE:
        return Outcome(TrialState.PAUSED, metrics, note)
    if decision is Decision.STOP:
        return Outcome(TrialState.STOPPED, metrics, note or "stopped")
    for guardrail in guardrails:
        observed = metrics.get(guardrail.metric)
        if observed is None:
            return Outcome(TrialState.FAILED, metrics, f"guardrail metric {guardrail.metric!r} missing from the result")
        if not guardrail.holds(observed):
            return Outcome(
                TrialState.INFEASIBLE, metrics, f"guardrail breached: {guardrail.describe()} (got {observed:g})"
            )
    return Outcome(TrialState.COMPLETE, metrics)


def divergence(record: TrialRecord, metric: Metric, factor: float | None) -> str | None:
    """Why a loss (minimised metric) counts as diverged: it grew past ``factor`` times its first value."""
    if factor is None or metric.direction != "min":
        return None
    curve = record.curve(metric.name)
    if len(curve) < 2:
        return None
    first_step, first = curve[0]
    step, last = curve[-1]
    if first > 0 and last > factor * first:
        return (
            f"diverged: {metric.name} grew from {first:g} (step {first_step}) to {last:g} (step {step}), "
            f"more than {factor:g}x"
        )
    return None
