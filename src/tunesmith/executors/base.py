"""The executor protocol: run objectives, carry their reports and results back. No tuning logic."""

from __future__ import annotations

import time
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tunesmith._text import bounded_error, excerpt
from tunesmith.decision import Decision
from tunesmith.errors import Infeasible, TrialNotRunning
from tunesmith.space import Space
from tunesmith.trial import TrialKind

__all__ = [
    "GPUS", "GPU_SHARE", "REFUSED_REPORT", "TRAINED_TO", "Executor", "ReportHandler", "StopStudy", "TrialJob",
    "TrialOutcome", "decide_report", "gpus_held", "infeasible_outcome",
]  # fmt: skip

# (trial number, step, metrics) -> the study's decision for that trial.
ReportHandler = Callable[[int, int, dict[str, float]], Decision]
# `TrialOutcome.extra`'s key for why the trial's `Trial` refused a report (`tunesmith.trial.ReportRefused`).
REFUSED_REPORT = "refused_report"
# Its key for the last step a `Trial.steps` loop trained when it ran to its end (`Trial.trained_to`).
TRAINED_TO = "trained_to"
# Its key, and the trial attribute's, for the GPUs the trial's process held (`ProcessExecutor(gpus_per_trial=...)`, a
# Ray task's).
GPUS = "gpus"
# ... and for the share of each that it held, where trials shared a GPU (Ray's fractional ``num_gpus``); absent: whole.
GPU_SHARE = "gpu_share"


def gpus_held(gpus: Sequence[str], share: float | None) -> dict[str, Any]:
    """A trial's GPUs as its outcome's ``extra`` (and `Executor.devices`) carry them: `GPUS`, and `GPU_SHARE` where it
    held a ``share`` of each below one (trials sharing a GPU); empty for a trial that held none."""
    if not gpus:
        return {}
    return {GPUS: list(gpus), **({GPU_SHARE: float(share)} if share is not None and 0.0 < share < 1.0 else {})}


class StopStudy(BaseException):
    """What a report handler raises to stop the study at once for a fault that is not the trial's (an observer's
    hook failed): ``error``, the fault itself, is raised in its place where it leaves the executor.

    It is a `BaseException`, so no ``except Exception`` on its way, in the objective (the report is made in its
    call stack when the trial runs inline) or in an executor, turns it into the trial's failure.
    """

    def __init__(self, error: BaseException) -> None:
        super().__init__(error)
        self.error = error


def decide_report(handler: ReportHandler, number: int, step: int, metrics: dict[str, float]) -> Decision:
    """The study's decision on a report from a trial this executor still runs: STOP when the study no longer has
    the trial running (another process finished it, e.g. as lost), so its training ends instead of the driver.
    A `StopStudy` raises its ``error``."""
    try:
        return handler(number, step, metrics)
    except TrialNotRunning:
        return Decision.STOP
    except StopStudy as stop:
        error = stop.error
    raise error  # outside the handler: the error's own traceback, not "during handling of StopStudy"


Objective = Callable[..., Any]


@dataclass(frozen=True)
class TrialJob:
    """One trial to run: what the objective's `Trial` handle is built from.

    ``space`` is the study's space when the trial was handed out, for an objective that asks for its
    parameters by name (`Trial.suggest_float`...); ``None`` runs ``params`` as a fixed configuration. ``learned``
    names the parameters of ``params`` the objective sees only once it asks for them (`Trial`'s ``learned``).
    ``number`` names the job to the executor, unique among those it runs at once; ``shown_number``, when given, is
    the number the objective's `Trial` carries instead (re-runs of one configuration on several seeds at once each
    show the configuration's trial number: `tunesmith.discipline._reruns.run_many`).
    """

    number: int
    params: dict[str, Any]
    seed: int
    start_step: int = 0
    checkpoint_dir: str | None = None
    space: Space | None = None
    shown_number: int | None = None
    learned: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrialOutcome:
    """How a trial's run ended: the objective's return value, or why it produced none.

    Attributes:
        result: what the objective returned (``None`` when it failed).
        reason: for a failure, a short cause for people ("exception: ValueError", "killed by SIGSEGV").
        kind: for a failure, the same cause for code (`TrialKind.EXCEPTION`, `TrialKind.CRASH`, ...);
            an executor sets both ``reason`` and ``kind`` for every failure. `TrialKind.DECLARED` marks a trial whose
            objective raised `Infeasible` (`infeasible_outcome`): no result, and no failure of the objective.
        error: the traceback or detail text.
        decision: the last decision the trial received (so a stop is told apart from a finish).
        ran_all_steps: the trial reported the last step its ``steps(n)`` planned (see `Trial.ran_all_steps`).
        extra: ``{"defined_by_run": ...}`` when the objective asked for parameters by name
            (`Trial.defined_by_run`, success or failure alike), for the study to record; ``REFUSED_REPORT``:
            why the trial refused a report (`Trial.refused`), a failure of the objective that stops the run.
    """

    number: int
    result: Any = None
    reason: str | None = None
    error: str | None = None
    decision: Decision = Decision.CONTINUE
    extra: dict[str, Any] = field(default_factory=dict)
    ran_all_steps: bool = False
    kind: TrialKind | None = None

    @property
    def failed(self) -> bool:
        return self.kind is not None or self.reason is not None


def infeasible_outcome(
    number: int, exc: Infeasible, decision: Decision, extra: dict[str, Any] | None = None
) -> TrialOutcome:
    """The outcome of a trial whose objective raised `Infeasible`: kind `TrialKind.DECLARED` (the study records it
    INFEASIBLE), the reason its message, the traceback its error. Built where the exception was caught, in the trial's
    own process: only plain values cross a pipe or Ray, so an exception class the workers cannot import (a subclass
    the user defined in a script) never has to."""
    said = str(exc).strip() or type(exc).__name__
    return TrialOutcome(
        number,
        reason=f"infeasible: {excerpt(' '.join(said.split()))}",
        kind=TrialKind.DECLARED,
        error=bounded_error("".join(traceback.format_exception(exc))),
        decision=decision,
        extra=dict(extra or {}),
    )


class Executor(ABC):
    """Runs trials and reports their outcomes.

    Subclasses implement `start`, `submit`, `wait`, `busy` and `shutdown`; they may override
    `clock` (a simulated executor brings its own time). An executor is driven from one thread
    (the study's loop); ``on_report`` is only ever called from inside `submit` or `wait`, on that
    thread. It never raises for a failure of the objective: every failure becomes a `TrialOutcome`
    with a ``reason`` and a ``kind``. `tunesmith.testing.executors` checks these promises.
    """

    #: Trials the executor runs at once; the caller keeps ``busy() <= capacity``.
    capacity: int = 1
    #: Whether the objectives it runs are simulated curves that compute each step from ``trial.step``
    #: (`SimulatedExecutor`): a paused trial's state is then its step, and it resumes without a checkpoint.
    simulated: bool = False

    def clock(self) -> float:
        """The time, in UNIX seconds, the study stamps everything with: the wall clock by default.

        A reading is never earlier than the one before (only a system clock set back breaks
        that for the default).
        """
        return time.time()

    @abstractmethod
    def start(self, objective: Objective, on_report: ReportHandler) -> None:
        """Prepare to run ``objective``; reports go to ``on_report``."""

    @abstractmethod
    def submit(self, job: TrialJob) -> None:
        """Start a trial; the caller keeps ``busy() < capacity``."""

    @abstractmethod
    def wait(self, timeout: float | None) -> list[TrialOutcome]:
        """Block until at least one trial has ended (or ``timeout`` passes); return those outcomes."""

    @abstractmethod
    def busy(self) -> int:
        """Trials submitted whose outcome has not been returned by `wait` yet."""

    @abstractmethod
    def shutdown(self, kill: bool = False) -> list[int]:
        """Release resources; with ``kill`` also end running trials. Returns the numbers left unfinished."""

    def devices(self, number: int) -> dict[str, Any]:
        """The GPUs running trial ``number`` holds, as its outcome's ``extra`` carries them at its end (`GPUS`, and
        `GPU_SHARE` where trials share one), for the study to record from its start: a compute budget counts a
        running trial's time times them (`tunesmith.budget.devices_held`). Empty (the default) where the executor
        hands out no GPUs, or knows them only once the trial ran (Ray)."""
        return {}
