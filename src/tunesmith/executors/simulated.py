"""Replays trials against a simulated clock: scheduler behaviour in milliseconds, deterministically.

The objective is a generator: it yields ``(seconds, metrics)`` for each step, where ``seconds`` is
how long that step would take. ``workers`` trials run at once in simulated time; reports reach
the study in the order their steps would finish, and the study reads the simulated clock for
every timestamp (so wall-time budgets are simulated too).

Example:
    >>> def curve(trial):
    ...     for step in range(trial.step, 27):
    ...         yield 60.0, {"loss": trial.params["x"] / (step + 1)}
    >>> study.optimize(curve, executor=SimulatedExecutor(workers=4))
"""

from __future__ import annotations

import heapq
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tunesmith._validate import integer
from tunesmith.decision import Decision
from tunesmith.errors import ConfigError, Infeasible
from tunesmith.executors.base import Executor, Objective, ReportHandler, TrialJob, TrialOutcome, infeasible_outcome
from tunesmith.trial import Trial, TrialKind

__all__ = ["SimulatedExecutor"]


@dataclass
class _Run:
    trial: Trial
    steps: Iterator[tuple[float, dict[str, float]]]
    last: dict[str, float] = field(default_factory=dict)


class SimulatedExecutor(Executor):
    """Runs generator objectives on a simulated clock.

    Args:
        workers: trials in flight at once.
        start_time: the simulated UNIX time the run starts at (default: now).

    A paused trial resumes with ``trial.step`` at its pause and the generator yields on from there: it needs no
    checkpoint, where a real objective resumed in promote mode must load one (`study.CheckpointMissing`).
    """

    simulated = True

    def __init__(self, workers: int = 1, start_time: float | None = None) -> None:
        self.capacity = integer("workers", workers, minimum=1)
        self.now = time.time() if start_time is None else float(start_time)
        self._objective: Objective | None = None
        self._on_report: ReportHandler | None = None
        self._runs: dict[int, _Run] = {}
        self._events: list[tuple[float, int, int, dict[str, float]]] = []
        self._sequence = 0
        self._done: list[TrialOutcome] = []

    def clock(self) -> float:
        """The simulated time (the study reads it for every timestamp)."""
        return self.now

    def start(self, objective: Objective, on_report: ReportHandler) -> None:
        self._objective = objective
        self._on_report = on_report

    def submit(self, job: TrialJob) -> None:
        assert self._objective is not None and self._on_report is not None, "start() first"
        on_report = self._on_report
        trial = Trial(
            job.number,
            job.params,
            job.seed,
            lambda step, metrics: on_report(job.number, step, metrics),
            start_step=job.start_step,
            checkpoint_dir=Path(job.checkpoint_dir) if job.checkpoint_dir else None,
        )
        try:
            steps = iter(self._objective(trial))
        except TypeError:
            raise ConfigError(
                "a simulated objective must be a generator yielding (seconds, metrics) per step"
            ) from None
        except Exception as exc:  # noqa: BLE001 - the objective's own failure
            self._done.append(TrialOutcome(job.number, reason=f"exception: {type(exc).__name__}",
                                           kind=TrialKind.EXCEPTION, error=traceback.format_exc()))  # fmt: skip
            return
        run = _Run(trial, steps)
        self._runs[job.number] = run
        self._schedule(run)

    def _schedule(self, run: _Run) -> None:
        number = run.trial.number
        try:
            seconds, metrics = next(run.steps)
        except StopIteration as stop:
            self._runs.pop(number)
            result = stop.value if stop.value is not None else dict(run.last)
            self._done.append(TrialOutcome(number, result=result, decision=run.trial.decision))
            return
        except Infeasible as exc:  # the configuration cannot run: no failure of the objective
            self._runs.pop(number)
            self._done.append(infeasible_outcome(number, exc, run.trial.decision))
            return
        except Exception as exc:  # noqa: BLE001 - the objective's own failure
            self._runs.pop(number)
            self._done.append(TrialOutcome(number, reason=f"exception: {type(exc).__name__}", kind=TrialKind.EXCEPTION,
                                           error=traceback.format_exc(), decision=run.trial.decision))  # fmt: skip
            return
        if not seconds >= 0:
            raise ConfigError(f"a simulated step must take >= 0 seconds, got {seconds!r} (trial {number})")
        self._sequence += 1
        heapq.heappush(self._events, (self.now + float(seconds), self._sequence, number, dict(metrics)))

    def wait(self, timeout: float | None) -> list[TrialOutcome]:
        while not self._done and self._events:
            when, _, number, metrics = heapq.heappop(self._events)
            self.now = max(self.now, when)
            run = self._runs[number]
            run.last = metrics
            decision = run.trial.report(None, **metrics)
            if decision is Decision.CONTINUE:
                self._schedule(run)
            else:
                self._runs.pop(number)
                self._done.append(TrialOutcome(number, result=None, decision=decision))
        done, self._done = self._done, []
        return done

    def busy(self) -> int:
        return len(self._runs) + len(self._done)

    def shutdown(self, kill: bool = False) -> list[int]:
        left = list(self._runs)
        self._runs.clear()
        self._events.clear()
        return left

    def __repr__(self) -> str:
        return f"SimulatedExecutor(workers={self.capacity}, now={self.now:.0f})"
