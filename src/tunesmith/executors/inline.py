"""Runs each trial in the calling thread: simplest, debuggable, no isolation from crashes."""

from __future__ import annotations

import traceback
from typing import Any

from tunesmith._text import bounded_error, excerpt
from tunesmith.decision import Decision
from tunesmith.errors import StorageError, TrialNotRunning
from tunesmith.executors.base import (
    REFUSED_REPORT,
    Executor,
    Objective,
    ReportHandler,
    StopStudy,
    TrialJob,
    TrialOutcome,
)
from tunesmith.trial import Trial, TrialKind

__all__ = ["InlineExecutor", "asked_extra", "run_job"]


def run_job(
    objective: Objective, job: TrialJob, on_report: ReportHandler | None, *, parent_pid: int | None = None
) -> TrialOutcome:
    """Run one trial in this process; the objective's exceptions become a failed outcome, never escape.

    ``KeyboardInterrupt`` propagates: the user wants out. ``SystemExit`` from the objective (a training
    script's ``sys.exit`` or argparse) is its failure, with the traceback, as in a trial process: it
    must not end the study quietly with the objective's exit code. A `StorageError` raised while the
    objective reported (the study's storage failing, not the objective) propagates and stops the study, and so
    does the error a `StopStudy` raised by a report carries (an observer's hook failed).
    ``parent_pid`` (a trial process's driver) makes the `Trial` refuse checkpoint writes once that
    parent is gone. A report the `Trial` refused (`ReportRefused`: a step going back, a report after a stop)
    fails the trial, kind EXCEPTION, even when the objective caught the error and returned; the outcome's
    ``extra[REFUSED_REPORT]`` holds why, for the study to stop the run on. A failure's text keeps at most
    `tunesmith._text.ERROR_CHARS` characters (`bounded_error`: its head and tail): an exception raised with a
    20 MB message is not stored, nor sent over a trial process's pipe, whole.
    """
    from pathlib import Path

    reporter = None if on_report is None else (lambda step, metrics: on_report(job.number, step, metrics))
    trial = Trial(
        job.number,
        job.params,
        job.seed,
        reporter,
        start_step=job.start_step,
        checkpoint_dir=Path(job.checkpoint_dir) if job.checkpoint_dir else None,
        parent_pid=parent_pid,
        space=job.space,
    )
    stopped: BaseException | None = None
    try:
        result = objective(trial)
    except StopStudy as stop:
        stopped = stop.error  # raised below, outside the handler: its own traceback, not "during handling of"
    except MemoryError:
        return TrialOutcome(
            job.number,
            reason="out of memory",
            kind=TrialKind.OUT_OF_MEMORY,
            error=bounded_error(traceback.format_exc()),
            decision=trial.decision,
            extra=asked_extra(trial),
        )
    except (Exception, SystemExit) as exc:  # a user's error (or sys.exit) must not end the study
        if _storage_failure(exc):
            raise
        exited = f"the objective called sys.exit({excerpt(repr(exc.code))})" if isinstance(exc, SystemExit) else None
        return TrialOutcome(
            job.number,
            reason=exited or f"exception: {type(exc).__name__}",
            kind=TrialKind.EXCEPTION,
            error=bounded_error(traceback.format_exc()),
            decision=trial.decision,
            extra=asked_extra(trial),
        )
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
        assert self._objective is not None, "start() first"
        self._done.append(run_job(self._objective, job, self._answer))

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
