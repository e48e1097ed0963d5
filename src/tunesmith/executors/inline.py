"""Runs each trial in the calling thread: simplest, debuggable, no isolation from crashes."""

from __future__ import annotations

import asyncio
import signal
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from types import FrameType
from typing import Any

from tunesmith import _trial_warnings as trial_warnings
from tunesmith._text import bounded_error, excerpt
from tunesmith.decision import Decision
from tunesmith.errors import Infeasible, StorageError, TrialNotRunning
from tunesmith.executors.base import (
    REFUSED_REPORT,
    TRAINED_TO,
    Executor,
    Objective,
    ReportHandler,
    StopStudy,
    TrialJob,
    TrialOutcome,
    infeasible_outcome,
)
from tunesmith.trial import Trial, TrialKind

__all__ = [
    "InlineExecutor",
    "asked_extra",
    "holding_interrupts",
    "noting_interrupts",
    "restore_held_handlers",
    "run_job",
]

# The signals whose Python handler may raise `KeyboardInterrupt` in the main thread: Ctrl-C's, and those a command
# turns into one (`tunesmith run` raises its `Terminated` on SIGTERM and SIGHUP).
_INTERRUPTING = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def run_job(
    objective: Objective, job: TrialJob, on_report: ReportHandler | None, *, parent_pid: int | None = None
) -> TrialOutcome:
    """`_run_job`, with the warnings the objective raised caught (`tunesmith._trial_warnings`: each kind shown once
    in a run) and put in the outcome's ``extra[KEY]`` for the study to record on the trial."""
    with trial_warnings.caught() as caught:
        outcome = _run_job(objective, job, on_report, parent_pid=parent_pid)
    if not caught:
        return outcome
    return replace(outcome, extra={**outcome.extra, trial_warnings.KEY: [w.to_json() for w in caught.warnings]})


def _run_job(
    objective: Objective, job: TrialJob, on_report: ReportHandler | None, *, parent_pid: int | None = None
) -> TrialOutcome:
    """Run one trial in this process; the objective's exceptions become a failed outcome, never escape, and its
    `Infeasible` the outcome of a configuration that cannot be run (`infeasible_outcome`: kind DECLARED).

    ``KeyboardInterrupt`` (the CLI's ``Terminated`` too) propagates: the user wants out. ``SystemExit`` from the
    objective (a training script's ``sys.exit`` or argparse) is its failure, with the traceback, as in a trial
    process: it must not end the study quietly with the objective's exit code. So is ``asyncio.CancelledError`` (a
    `BaseException` since Python 3.8: a task the objective awaited was cancelled), which ended the study recorded
    as an interrupt. Other `BaseException`s are signals meant to pass through ``except Exception`` (a test
    framework's skip, ``GeneratorExit``, a coroutine library's exit), and propagate as before. A `StorageError`
    raised while the objective reported (the study's storage failing, not the objective) propagates and stops the
    study, and so
    does the error a `StopStudy` raised by a report carries (an observer's hook failed).
    ``parent_pid`` (a trial process's driver) makes the `Trial` refuse checkpoint writes once that
    parent is gone. A report the `Trial` refused (`ReportRefused`: a step going back, a report after a stop)
    fails the trial, kind EXCEPTION, even when the objective caught the error and returned; the outcome's
    ``extra[REFUSED_REPORT]`` holds why, for the study to stop the run on. A failure's text keeps at most
    `tunesmith._text.ERROR_CHARS` characters (`bounded_error`: its head and tail): an exception raised with a
    20 MB message is not stored, nor sent over a trial process's pipe, whole. Once the objective returned (or
    raised), the `Trial` has ended (`Trial.end`): a handle it kept refuses later reports and ``suggest_*`` calls.
    A ``TrialPruned`` (Optuna's, or any class of that name) raised after the study answered STOP or PAUSE to the
    trial's last report ends the trial as returning would (the study records the stop, with its last reported
    metrics); raised without such an answer, it fails the trial with the rule and the fix (`trial.should_stop()`).
    """
    from pathlib import Path

    reporter = None if on_report is None else (lambda step, metrics: on_report(job.number, step, metrics))
    trial = Trial(
        job.number if job.shown_number is None else job.shown_number,
        job.params,
        job.seed,
        reporter,
        start_step=job.start_step,
        checkpoint_dir=Path(job.checkpoint_dir) if job.checkpoint_dir else None,
        parent_pid=parent_pid,
        space=job.space,
        learned=job.learned,
    )
    stopped: BaseException | None = None
    try:
        result = objective(trial)
    except StopStudy as stop:
        stopped = stop.error  # raised below, outside the handler: its own traceback, not "during handling of"
    except Infeasible as exc:
        if _storage_failure(exc):
            raise
        if trial.refused is None:  # a report it broke fails the trial even so, as below when it returned
            return infeasible_outcome(job.number, exc, trial.decision, asked_extra(trial))
        return _exception_outcome(job.number, exc, trial)
    except MemoryError:
        return TrialOutcome(
            job.number,
            reason="out of memory",
            kind=TrialKind.OUT_OF_MEMORY,
            error=bounded_error(traceback.format_exc()),
            decision=trial.decision,
            extra=asked_extra(trial),
        )
    except (Exception, SystemExit, asyncio.CancelledError) as exc:  # a user's error must not end the study
        if _storage_failure(exc):
            raise
        if not _is_trial_pruned(exc):
            return _exception_outcome(job.number, exc, trial)
        if trial.decision is Decision.CONTINUE:
            return _exception_outcome(job.number, exc, trial, note=_pruned_without_stop(trial), reason=_PRUNED_ALONE)
        result = None  # Optuna's way of ending on the study's own stop: recorded as if the objective returned
    finally:
        trial.end()  # its run is over: a handle the objective kept would report to a trial the study records now
    if stopped is not None:
        raise stopped
    if trial.refused is not None:  # the objective caught `ReportRefused` and went on: its result comes from past it
        return TrialOutcome(
            job.number,
            reason="exception: ReportRefused",
            kind=TrialKind.EXCEPTION,
            error=bounded_error(
                f"ReportRefused: {trial.refused} (the objective caught this error and returned a result)"
            ),
            decision=trial.decision,
            extra=asked_extra(trial),
        )
    return TrialOutcome(
        job.number, result=result, decision=trial.decision, ran_all_steps=trial.ran_all_steps, extra=asked_extra(trial)
    )


def _exception_outcome(
    number: int, exc: BaseException, trial: Trial, *, note: str | None = None, reason: str | None = None
) -> TrialOutcome:
    """The failed outcome of a trial whose objective raised ``exc`` (or called ``sys.exit``): kind EXCEPTION.
    ``note`` follows the traceback (what the rule broken is and its fix); ``reason`` replaces the usual one."""
    exited = f"the objective called sys.exit({excerpt(repr(exc.code))})" if isinstance(exc, SystemExit) else None
    text = "".join(traceback.format_exception(exc)) + ("" if note is None else f"\n{note}\n")
    return TrialOutcome(
        number,
        reason=reason or exited or f"exception: {type(exc).__name__}",
        kind=TrialKind.EXCEPTION,
        error=bounded_error(text),
        decision=trial.decision,
        extra=asked_extra(trial),
    )


# The reason of a trial whose objective raised `TrialPruned` when the study had not told it to stop.
_PRUNED_ALONE = "exception: TrialPruned raised without a stop from the study"


def _is_trial_pruned(exc: BaseException) -> bool:
    """Whether ``exc`` is a ``TrialPruned``: Optuna's, or another library's of that name (matched by class name up
    the MRO, so Optuna need not be installed, nor imported here)."""
    return any(cls.__name__ == "TrialPruned" for cls in type(exc).__mro__)


def _pruned_without_stop(trial: Trial) -> str:
    """Why a ``TrialPruned`` the study did not ask for fails the trial, and the fix."""
    return (
        f"TrialPruned was raised at step {trial.step} of trial #{trial.number}, but the study had not told the trial "
        "to stop: in tunesmith the study's scheduler decides stops, and an objective that prunes itself is recorded "
        "FAILED. Report with trial.report(step, loss=value), then end on the study's stop with "
        "`if trial.should_stop(): return` (or loop over trial.steps(n)); for a configuration that cannot run, "
        "raise ts.Infeasible(reason)"
    )


@contextmanager
def noting_interrupts() -> Iterator[list[KeyboardInterrupt]]:
    """Within the block, the list yielded holds every `KeyboardInterrupt` a signal's handler raised, whether or not
    the code it interrupted caught it (a training loop that saves its state on Ctrl-C, then returns).

    Each of SIGINT, SIGTERM and SIGHUP whose handler is a Python function (Ctrl-C's default, the CLI's) runs
    through a wrapper while the block runs. A later signal that the handler lets pass (the CLI's raises on the first
    SIGTERM only, since ``timeout`` sends two) raises that signal's first interrupt again when its handler raised
    one before: the code it lands in kept running after the first, so the second stops it at once. Ctrl-C's
    default raises every time anyway. The former handlers come back afterwards, unless the block set its own.
    Outside the main thread, which alone runs signal handlers, nothing is noted.
    """
    noted: list[KeyboardInterrupt] = []
    if threading.current_thread() is not threading.main_thread():
        yield noted
        return
    raised: dict[int, KeyboardInterrupt] = {}

    def noting(handler: Callable[[int, FrameType | None], Any]) -> Callable[[int, FrameType | None], Any]:
        def on_signal(signum: int, frame: FrameType | None) -> Any:
            try:
                answer = handler(signum, frame)
            except KeyboardInterrupt as exc:
                noted.append(exc)
                raised.setdefault(signum, exc)
                raise
            if signum in raised:
                raise raised[signum]
            return answer

        return on_signal

    wrappers = {number: noting(handler) for number in _INTERRUPTING if callable(handler := signal.getsignal(number))}
    former = {number: signal.signal(number, wrapper) for number, wrapper in wrappers.items()}
    try:
        yield noted
    finally:
        for number, handler in former.items():
            if signal.getsignal(number) is wrappers[number]:  # a handler the objective set stays, as without us
                signal.signal(number, handler)


# The handlers a hold replaced, while the outermost hold lasts: a trial process forked meanwhile sets them again.
_HELD: dict[int, Any] = {}


@contextmanager
def holding_interrupts(*, replay: bool = False) -> Iterator[list[int]]:
    """Within the block, SIGINT, SIGTERM and SIGHUP raise nothing: each is noted (the list yielded holds their
    numbers) and the former handlers come back afterwards; with ``replay``, the first one noted is then handed to its
    handler (Ctrl-C's raises `KeyboardInterrupt` there, after the block).

    Without ``replay``, for the block that ends a run an interruption stopped: killing its trial processes (stopped
    with SIGSTOP, then killed) and recording them FAILED (interrupted), bounded work that a second Ctrl-C, or
    ``timeout -s INT``'s second signal, cut in two: the run hung waiting on a stopped trial process, or left trials
    RUNNING and said none was. With ``replay``, around forking a trial process: a signal whose handler ran inside
    the fork's hooks (logging's lock release after the fork) left that lock held, and the next log line hung the run.
    A process forked within the block sets the former handlers again (`restore_held_handlers`). Outside the main
    thread, which alone runs signal handlers, nothing changes."""
    noted: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield noted
        return

    def note(signum: int, _frame: FrameType | None) -> None:
        noted.append(signum)

    former = {number: signal.signal(number, note) for number in _INTERRUPTING}
    outermost = not _HELD
    if outermost:
        _HELD.update(former)
    try:
        yield noted
    finally:
        if outermost:
            _HELD.clear()
        for number, handler in former.items():
            # A handler not set from Python (None) cannot be set again: the default stands in for it.
            signal.signal(number, signal.SIG_DFL if handler is None else handler)
    if replay and noted and callable(handler := former[noted[0]]):
        handler(noted[0], None)


def restore_held_handlers() -> None:
    """In a process forked while `holding_interrupts` held them, set the signal handlers it replaced again."""
    for number, handler in list(_HELD.items()):
        signal.signal(number, signal.SIG_DFL if handler is None else handler)


def _storage_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is, or was raised while handling or from, a `StorageError`: the study's storage failed
    under the objective (in `Trial.report`), which is no fault of the configuration tried."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, StorageError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def asked_extra(trial: Trial) -> dict[str, Any]:
    """An outcome's ``extra``: what the objective asked for by name, when it asked, and why a report was refused,
    when one was (see `TrialOutcome`)."""
    asked = trial.defined_by_run()
    extra: dict[str, Any] = {} if asked is None else {"defined_by_run": asked}
    if trial.refused is not None:
        extra[REFUSED_REPORT] = trial.refused
    if trial.trained_to is not None:
        extra[TRAINED_TO] = trial.trained_to
    return extra


class InlineExecutor(Executor):
    """One trial at a time, in the study's own thread."""

    capacity = 1

    def __init__(self) -> None:
        self._objective: Objective | None = None
        self._on_report: ReportHandler | None = None
        self._done: list[TrialOutcome] = []

    def start(self, objective: Objective, on_report: ReportHandler) -> None:
        self._objective = objective
        self._on_report = on_report

    def submit(self, job: TrialJob) -> None:
        """Run the trial to its end. An interrupt (Ctrl-C; SIGTERM or SIGHUP under `tunesmith run`) delivered while
        the objective ran is raised here even when the objective caught it and returned, or failed: its outcome
        comes from a cut-short run, so the study records the trial interrupted and stops, as for an interrupt that
        reached it."""
        assert self._objective is not None, "start() first"
        with noting_interrupts() as noted:
            outcome = run_job(self._objective, job, self._answer)
        if noted:
            raise noted[0]
        self._done.append(outcome)

    def _answer(self, number: int, step: int, metrics: dict[str, float]) -> Decision:
        """The study's decision, STOP for a trial another process finished (as `decide_report` answers a trial
        process): a further report is then refused in the trial, as after any STOP."""
        assert self._on_report is not None
        try:
            return self._on_report(number, step, metrics)
        except TrialNotRunning:
            return Decision.STOP

    def wait(self, timeout: float | None) -> list[TrialOutcome]:
        done, self._done = self._done, []
        return done

    def busy(self) -> int:
        return len(self._done)

    def shutdown(self, kill: bool = False) -> list[int]:
        return []
