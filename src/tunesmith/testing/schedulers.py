"""The scheduler conformance suite: every `Scheduler` must pass each check."""

from __future__ import annotations

import math
from collections.abc import Callable

from tunesmith.context import SearchContext
from tunesmith.decision import Decision
from tunesmith.objective import Metric
from tunesmith.schedulers.base import Scheduler
from tunesmith.trial import TrialRecord, TrialState

__all__ = ["SCHEDULER_CHECKS", "check_scheduler", "synthetic_history"]

MakeScheduler = Callable[[], Scheduler]
CONTEXT = SearchContext(metric=Metric("loss", "min"))


def synthetic_history(trials: int = 12, steps: int = 9, running_from: int = 8) -> list[TrialRecord]:
    """Learning curves ``loss = (1 + q) / sqrt(step)`` with quality ``q`` varying by trial.

    Trials numbered below ``running_from`` are finished; the rest are RUNNING at various steps.
    """
    records = []
    for number in range(trials):
        quality = ((number * 7) % trials) / trials
        last = steps if number < running_from else 1 + number % steps
        curve = {step: {"loss": (1.0 + quality) / math.sqrt(step)} for step in range(1, last + 1)}
        state = TrialState.COMPLETE if number < running_from else TrialState.RUNNING
        records.append(
            TrialRecord(
                number=number,
                params={"x": quality},
                seed=number,
                state=state,
                metrics=curve[last] if state is TrialState.COMPLETE else {},
                intermediate=curve,
                resource=float(last),
                started_at=float(number),
            )
        )
    return records


def check_returns_decisions(make: MakeScheduler) -> None:
    scheduler = make()
    history = synthetic_history()
    for record in history:
        if record.state is TrialState.RUNNING:
            decision = scheduler.decide(record, history, CONTEXT)
            assert isinstance(decision, Decision), f"decide must return a Decision, got {decision!r}"


def check_deterministic(make: MakeScheduler) -> None:
    history = synthetic_history()
    running = [r for r in history if r.state is TrialState.RUNNING]
    first = [make().decide(r, history, CONTEXT) for r in running]
    second = [make().decide(r, history, CONTEXT) for r in running]
    assert first == second, "the same history must give the same decisions"


def check_does_not_mutate_history(make: MakeScheduler) -> None:
    history = synthetic_history()
    snapshot = [r.to_json() for r in history]
    scheduler = make()
    for record in history:
        if record.state is TrialState.RUNNING:
            scheduler.decide(record, history, CONTEXT)
    assert [r.to_json() for r in history] == snapshot


def check_first_trial_is_not_stopped(make: MakeScheduler) -> None:
    record = TrialRecord(number=0, params={"x": 0.5}, seed=0, intermediate={1: {"loss": 1.0}}, resource=1.0)
    assert make().decide(record, [record], CONTEXT) is not Decision.STOP, "a lone first trial has no peers to lose to"


def check_pauses_only_when_declared(make: MakeScheduler) -> None:
    scheduler = make()
    history = synthetic_history()
    decisions = {scheduler.decide(r, history, CONTEXT) for r in history if r.state is TrialState.RUNNING}
    if not scheduler.pauses:
        assert Decision.PAUSE not in decisions, "a scheduler that pauses must set pauses = True"


def check_describe_is_json(make: MakeScheduler) -> None:
    import json

    described = make().describe()
    assert isinstance(described, dict) and "name" in described
    json.dumps(described)


SCHEDULER_CHECKS: list[Callable[[MakeScheduler], None]] = [
    check_returns_decisions,
    check_deterministic,
    check_does_not_mutate_history,
    check_first_trial_is_not_stopped,
    check_pauses_only_when_declared,
    check_describe_is_json,
]


def check_scheduler(make: MakeScheduler) -> None:
    """Run every check; raises `AssertionError` on the first failure."""
    for check in SCHEDULER_CHECKS:
        check(make)
