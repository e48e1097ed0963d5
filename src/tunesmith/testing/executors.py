"""The executor conformance suite: every `Executor` must pass each check.

The checks describe trials once, executor-neutrally, as *scripts*: generator functions of the
trial that yield ``(seconds, metrics)`` per step and return the result, which is exactly what
`SimulatedExecutor` runs. An *adapter* turns a script into the objective an executor takes:
`generator_objective` (the script itself) for the simulated executor, `plain_objective` (a
function that reports each step and returns the result) for every other.

Example:
    >>> from functools import partial
    >>> from tunesmith.executors import ProcessExecutor
    >>> from tunesmith.testing.executors import check_executor, plain_objective
    >>> check_executor(ProcessExecutor, partial(plain_objective, real_time=True))
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Mapping
from typing import Any

from tunesmith.decision import Decision
from tunesmith.executors.base import Executor, Objective, TrialJob, TrialOutcome
from tunesmith.trial import Trial

__all__ = [
    "EXECUTOR_CHECKS",
    "Script",
    "check_executor",
    "generator_objective",
    "plain_objective",
    "scripted_trial",
]

MakeExecutor = Callable[[], Executor]
#: A trial written once for every executor: yields ``(seconds, metrics)`` per step, returns the result.
Script = Callable[[Trial], Generator[tuple[float, dict[str, float]], None, Any]]
#: Turns a script into the objective one executor runs.
Adapter = Callable[[Script], Objective]
#: (trial number, step) -> the decision the stand-in study answers that report with (else CONTINUE).
Decisions = Mapping[tuple[int, int], Decision]

#: Seconds a check waits for every outcome before it fails.
PATIENCE = 60.0


def scripted_trial(trial: Trial) -> Generator[tuple[float, dict[str, float]], None, Any]:
    """The trial every check runs, steered by its parameters.

    Parameters (all optional): ``x`` (the loss scale, default 0.5), ``steps`` (the last step,
    default 0: no report), ``seconds`` (the length of each step), ``fail_after`` (raise
    `ValueError` once this many steps are reported in this run).

    It reports ``{"loss": x / step, "x": x}`` at each step after ``trial.step`` and returns
    ``{"loss": x, "number": trial.number, "seed": trial.seed}``.
    """
    x = float(trial.params.get("x", 0.5))
    fail_after = trial.params.get("fail_after")
    for done, step in enumerate(range(trial.step + 1, int(trial.params.get("steps", 0)) + 1)):
        if fail_after is not None and done >= fail_after:
            raise ValueError(f"trial {trial.number} failed on purpose after {done} steps")
        yield float(trial.params.get("seconds", 0.0)), {"loss": x / step, "x": x}
    if fail_after is not None:
        raise ValueError(f"trial {trial.number} failed on purpose at its end")
    return {"loss": x, "number": trial.number, "seed": trial.seed}


def generator_objective(script: Script) -> Objective:
    """The adapter for `SimulatedExecutor`: the script is already the objective it runs."""
    return script


def plain_objective(script: Script, *, real_time: bool = False) -> Objective:
    """The adapter for executors that run plain objectives: report each step, return the result.

    Args:
        script: the trial to run.
        real_time: sleep for each step's ``seconds`` (so a long step keeps the trial in flight);
            otherwise steps take no time. Leave it off for an executor that runs a trial within
            `Executor.submit`, which would block for that long.
    """

    def objective(trial: Trial) -> Any:
        steps = script(trial)
        last: dict[str, float] = {}
        while True:
            try:
                seconds, metrics = next(steps)
            except StopIteration as stop:
                return stop.value if stop.value is not None else last
            if real_time:
                time.sleep(seconds)
            last = dict(metrics)
            if trial.report(None, **metrics) is not Decision.CONTINUE:
                return last  # the study said stop (or pause): the trial ends here

    return objective


class _Study:
    """Stands in for the study: records every report and answers with a decision."""

    def __init__(self, executor: Executor, decide: Decisions | None = None) -> None:
        self.executor = executor
        self.decide = dict(decide or {})
        self.reports: list[tuple[int, int, dict[str, float]]] = []
        self.clock: list[float] = []

    def on_report(self, number: int, step: int, metrics: dict[str, float]) -> Decision:
        self.reports.append((number, step, dict(metrics)))
        self.clock.append(self.executor.clock())
        return self.decide.get((number, step), Decision.CONTINUE)

    def steps_of(self, number: int) -> list[int]:
        return [step for n, step, _ in self.reports if n == number]


def _job(number: int, **params: Any) -> TrialJob:
    return TrialJob(number=number, params=params, seed=1000 + number)


def _started(make: MakeExecutor, adapt: Adapter, decide: Decisions | None = None) -> tuple[Executor, _Study]:
    """A fresh executor started on the scripted trial, and the stand-in study it reports to."""
    executor = make()
    study = _Study(executor, decide)
    executor.start(adapt(scripted_trial), study.on_report)
    return executor, study


def _collect(executor: Executor) -> list[TrialOutcome]:
    """Wait until the executor has returned every outcome (`busy` is 0)."""
    outcomes: list[TrialOutcome] = []
    deadline = time.monotonic() + PATIENCE
    while executor.busy() > 0:
        assert time.monotonic() < deadline, f"{type(executor).__name__} returned no outcome within {PATIENCE:g}s"
        outcomes.extend(executor.wait(1.0))
    return outcomes


def _run(
    make: MakeExecutor, adapt: Adapter, job: TrialJob, decide: Decisions | None = None
) -> tuple[TrialOutcome, _Study]:
    """Run one trial to its end on a fresh executor; its outcome and what the study saw."""
    executor, study = _started(make, adapt, decide)
    try:
        executor.submit(job)
        outcomes = _collect(executor)
    except AssertionError:
        raise
    except Exception as exc:
        raise AssertionError(f"an executor must never raise for a trial, got {type(exc).__name__}: {exc}") from exc
    finally:
        executor.shutdown(kill=True)
    assert [o.number for o in outcomes] == [job.number], f"one outcome for trial {job.number}, got {outcomes!r}"
    return outcomes[0], study


# The checks ------------------------------------------------------------------------------------
def check_a_result_comes_back(make: MakeExecutor, adapt: Adapter) -> None:
    outcome, _ = _run(make, adapt, _job(3, x=0.25, steps=2))
    assert not outcome.failed, f"a trial that returns must not fail, got {outcome.reason}: {outcome.error}"
    assert outcome.result == {"loss": 0.25, "number": 3, "seed": 1003}, outcome.result
    assert outcome.decision is Decision.CONTINUE


def check_an_exception_becomes_a_failed_outcome(make: MakeExecutor, adapt: Adapter) -> None:
    for reported in (0, 2):
        outcome, study = _run(make, adapt, _job(0, steps=3, fail_after=reported))
        assert outcome.failed and outcome.reason, "an exception must become a failed outcome with a reason"
        assert outcome.result is None
        error = outcome.error or ""
        assert "Traceback" in error and "failed on purpose" in error, f"the traceback must be kept, got {error!r}"
        assert study.steps_of(0) == list(range(1, reported + 1)), "reports before the exception still arrive"


def check_reports_reach_on_report(make: MakeExecutor, adapt: Adapter) -> None:
    _, study = _run(make, adapt, _job(5, x=0.5, steps=3))
    assert study.reports == [(5, 1, {"loss": 0.5, "x": 0.5}), (5, 2, {"loss": 0.25, "x": 0.5}),
                             (5, 3, {"loss": 0.5 / 3, "x": 0.5})], study.reports  # fmt: skip


def check_a_job_resumes_at_its_start_step(make: MakeExecutor, adapt: Adapter) -> None:
    job = TrialJob(number=1, params={"steps": 5}, seed=7, start_step=3)
    _, study = _run(make, adapt, job)
    assert study.steps_of(1) == [4, 5], f"a trial starting at step 3 reports from step 4, got {study.steps_of(1)}"


def _check_decision_ends_the_trial(make: MakeExecutor, adapt: Adapter, decision: Decision) -> None:
    outcome, study = _run(make, adapt, _job(2, steps=6), decide={(2, 2): decision})
    assert study.steps_of(2) == [1, 2], f"no report may follow {decision.name}, got steps {study.steps_of(2)}"
    assert not outcome.failed, f"a trial told to {decision.value} has not failed, got {outcome.reason}"
    assert outcome.decision is decision, f"the outcome must carry the last decision, got {outcome.decision}"


def check_stop_ends_the_trial(make: MakeExecutor, adapt: Adapter) -> None:
    _check_decision_ends_the_trial(make, adapt, Decision.STOP)


def check_pause_ends_the_trial(make: MakeExecutor, adapt: Adapter) -> None:
    _check_decision_ends_the_trial(make, adapt, Decision.PAUSE)


def check_busy_counts_trials_until_their_outcome_is_returned(make: MakeExecutor, adapt: Adapter) -> None:
    executor, _ = _started(make, adapt)
    try:
        capacity = executor.capacity
        assert isinstance(capacity, int) and not isinstance(capacity, bool) and capacity >= 1, capacity
        assert executor.busy() == 0
        submitted = min(capacity, 3)
        for number in range(submitted):
            executor.submit(_job(number, steps=1))
        assert executor.busy() == submitted, f"busy() is {executor.busy()} right after {submitted} submits"
        outcomes = _collect(executor)
        assert executor.busy() == 0
    finally:
        executor.shutdown(kill=True)
    assert sorted(o.number for o in outcomes) == list(range(submitted)), "each outcome is returned exactly once"


def check_parallel_trials_keep_their_own_reports_and_results(make: MakeExecutor, adapt: Adapter) -> None:
    executor, study = _started(make, adapt)
    xs = {number: (number + 1) / 10 for number in range(min(executor.capacity, 3))}
    try:
        for number, x in xs.items():
            executor.submit(_job(number, x=x, steps=3))
        outcomes = _collect(executor)
    finally:
        executor.shutdown(kill=True)
    for number, step, metrics in study.reports:
        assert metrics == {"loss": xs[number] / step, "x": xs[number]}, (number, step, metrics)
    assert {o.number: o.result["loss"] for o in outcomes} == xs


def check_clock_never_goes_back(make: MakeExecutor, adapt: Adapter) -> None:
    executor, study = _started(make, adapt)
    try:
        first = executor.clock()
        assert isinstance(first, float), f"clock() must return seconds as a float, got {first!r}"
        for number in range(min(executor.capacity, 2)):
            executor.submit(_job(number, steps=3, seconds=0.01))
        _collect(executor)
        last = executor.clock()
    finally:
        executor.shutdown(kill=True)
    readings = [first, *study.clock, last]
    assert readings == sorted(readings), f"clock() went back: {readings}"


def check_shutdown_when_idle_leaves_nothing_unfinished(make: MakeExecutor, adapt: Adapter) -> None:
    executor, _ = _started(make, adapt)
    try:
        executor.submit(_job(0, steps=1))
        _collect(executor)
    except BaseException:
        executor.shutdown(kill=True)
        raise
    assert executor.shutdown() == [], "every trial's outcome was returned: nothing is unfinished"


def check_shutdown_with_kill_names_each_unfinished_trial(make: MakeExecutor, adapt: Adapter) -> None:
    executor, _ = _started(make, adapt)
    submitted = set(range(min(executor.capacity, 2)))
    for number in submitted:
        executor.submit(_job(number, steps=2, seconds=600.0))  # in flight for ten minutes where time is real
    finished = {o.number for o in executor.wait(0.0)}
    began = time.monotonic()
    left = executor.shutdown(kill=True)
    assert time.monotonic() - began < 30, "shutdown(kill=True) must not wait for running trials"
    assert set(left) | finished == submitted and not set(left) & finished, (
        f"submitted {sorted(submitted)}: each must be either returned by wait ({sorted(finished)}) "
        f"or named by shutdown ({sorted(left)})"
    )


EXECUTOR_CHECKS: list[Callable[[MakeExecutor, Adapter], None]] = [
    check_a_result_comes_back,
    check_an_exception_becomes_a_failed_outcome,
    check_reports_reach_on_report,
    check_a_job_resumes_at_its_start_step,
    check_stop_ends_the_trial,
    check_pause_ends_the_trial,
    check_busy_counts_trials_until_their_outcome_is_returned,
    check_parallel_trials_keep_their_own_reports_and_results,
    check_clock_never_goes_back,
    check_shutdown_when_idle_leaves_nothing_unfinished,
    check_shutdown_with_kill_names_each_unfinished_trial,
]


def check_executor(make: MakeExecutor, adapt: Adapter = plain_objective) -> None:
    """Run every check; raises `AssertionError` on the first failure.

    Args:
        make: builds a fresh executor (each check starts and shuts down its own).
        adapt: turns the checks' scripts into the executor's objectives (`plain_objective`, or
            `generator_objective` for `SimulatedExecutor`).
    """
    for check in EXECUTOR_CHECKS:
        check(make, adapt)
