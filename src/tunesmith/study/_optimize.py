"""The optimize loop: keep the executor full until a limit is reached, then tell every outcome."""

from __future__ import annotations

import contextlib
import functools
import inspect
import math
import os
import re
import time
import warnings
import weakref
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec

from tunesmith import _trial_warnings as trial_warnings
from tunesmith._caller import outside_stacklevel
from tunesmith._checkpoint_file import CheckpointWriteError
from tunesmith._progress import check_progress
from tunesmith._stable_name import as_called, stable_name
from tunesmith._text import ERROR_CHARS, bounded_error, excerpt
from tunesmith._validate import integer, memory_size, real
from tunesmith.budget import Budget, BudgetUsage
from tunesmith.decision import Decision
from tunesmith.errors import (
    BudgetExhausted,
    BudgetLimit,
    ConfigError,
    MissingParameterError,
    ReadOnlyParamsError,
    SearchConverged,
    SearchSpaceExhausted,
    StorageError,
    StorageLost,
    StorageUnavailable,
    StudyNotFound,
    TunesmithError,
)
from tunesmith.executors import Executor, TrialJob, TrialOutcome, make_executor
from tunesmith.executors.base import GPU_SHARE, GPUS, REFUSED_REPORT, TRAINED_TO
from tunesmith.executors.inline import holding_interrupts
from tunesmith.objective import Guardrail, Metric
from tunesmith.pareto import pareto_front
from tunesmith.samplers.grid import Grid, SparseGridWarning
from tunesmith.schedulers.pbt import RoundWatch
from tunesmith.space._define_by_run import ONE_DEFINITION, DefinitionError
from tunesmith.storage.base import count_budgeted
from tunesmith.study import _ask, _define_by_run, _multi
from tunesmith.study._convergence import unchecked_note
from tunesmith.study._known import queue_beyond_budget
from tunesmith.study._limits import (
    MIN_FULLY_TRAINED,
    AxisWatch,
    HoldoutSpentWarning,
    PausedTrialsWarning,
    PopulationWarning,
    ResourceAxisWarning,
    ShortTrainingWarning,
    UnspentResource,
    holdout_spent_note,
    none_trained_note,
    overrun_note,
    paused_note,
    population_note,
    short_training_note,
    spent_beyond_trials,
    trained_fully,
)
from tunesmith.study._observers import Observer, Observers
from tunesmith.study._outcome import ran_all_steps, trained_to_the_end
from tunesmith.study._recovery import Stopped, cut_short_by, naming_the_result, outcome_text
from tunesmith.study._search_progress import SearchProgress, command_arguments, listing_arguments, resume_hint
from tunesmith.study._validation_set import ExampleCountWarning, ExampleCountWatch, record_validation_set
from tunesmith.trial import NotTheParamsError, Trial, TrialKind, TrialRecord, TrialState, best_record

if TYPE_CHECKING:
    from tunesmith.study._study import Study

__all__ = [
    "STOPPED_BY_STUDY", "AllTrialsFailedWarning", "Callback", "NoFeasibleTrialWarning", "NotOptimizing", "Objective",
    "ObjectiveError", "StudyResult", "failed_some_note", "failure_text", "no_feasible_note", "no_result_traceback",
    "optimize", "request_stop",
]  # fmt: skip

Objective = Callable[[Trial], Any]
# ``callback(study, record)`` after each finished trial, or an `Observer` (hooks as trials start, report, end)
Callback = Callable[["Study", TrialRecord], None] | Observer


class ObjectiveError(TunesmithError, RuntimeError):
    """The objective is broken: the first trials all failed the same way and none worked, or every trial failed
    since something broke during the run; the study stopped instead of spending its budget on it. ``error`` holds
    the last traceback."""

    def __init__(self, message: str, error: str | None) -> None:
        super().__init__(message)
        self.error = error


# Failures that say the objective itself is broken when every configuration hits the same one.
_SYSTEMATIC = (TrialKind.EXCEPTION, TrialKind.BAD_RESULT, TrialKind.MISSING_METRIC)
# Of those, the ones no configuration causes: a result of the wrong type (a forgotten return is None) or without the
# study's metric is the objective's code whatever the parameters, so no region "refuses on purpose".
_CODE_ONLY = (TrialKind.BAD_RESULT, TrialKind.MISSING_METRIC)
# Running out of memory as the executors record it (kind OUT_OF_MEMORY: a `MemoryError`, Ray's `OutOfMemoryError`)
# and as frameworks raise it for a device's memory, under other types: torch's `OutOfMemoryError` ("CUDA out of
# memory"), a `RuntimeError("CUDA error: out of memory")`, TensorFlow's `ResourceExhaustedError` ("OOM when allocating
# tensor"), XLA's "RESOURCE_EXHAUSTED: Out of memory while trying to allocate".
_OUT_OF_MEMORY_TYPES = frozenset({"MemoryError", "OutOfMemoryError", "ResourceExhaustedError"})
_OUT_OF_MEMORY_SAID = re.compile(r"(?i:out of memory|resource[ _]exhausted)|\bOOM\b")


def _out_of_memory(record: TrialRecord) -> bool:
    """Whether ``record`` failed for want of memory: kind OUT_OF_MEMORY, or an exception whose type or exception line
    says so. That is a configuration's failure (a batch too large for the device), not the code's: it counts among the
    failures of any kind, never in a streak of identical code failures."""
    if record.state is not TrialState.FAILED or record.kind not in (TrialKind.OUT_OF_MEMORY, TrialKind.EXCEPTION):
        return False
    if record.kind is TrialKind.OUT_OF_MEMORY:
        return True
    line = _failure_line(record)
    raised = line.split(":", 1)[0].strip().rsplit(".", 1)[-1]
    return raised in _OUT_OF_MEMORY_TYPES or _OUT_OF_MEMORY_SAID.search(line) is not None


def _misused_the_params(record: TrialRecord) -> bool:
    """Whether ``record`` failed on reading a key ``trial.params`` does not hold (`MissingParameterError`) or on
    changing it (`ReadOnlyParamsError`): the objective's code, whatever the configuration, never a configuration that
    cannot run."""
    raised = _failure_line(record).split(":", 1)[0].strip().rsplit(".", 1)[-1]
    return raised in (MissingParameterError.__name__, ReadOnlyParamsError.__name__, NotTheParamsError.__name__)


def _worked(record: TrialRecord) -> bool:
    """Whether ``record`` shows the objective works: it gave a result (complete, infeasible, or stopped or paused at
    a rung). A trial stopped as diverged gave none, whether its metric was never finite (`_non_finite_from_start`)
    or blew up after some steps."""
    if record.state not in (TrialState.COMPLETE, TrialState.INFEASIBLE, TrialState.STOPPED, TrialState.PAUSED):
        return False
    return record.kind not in (TrialKind.DIVERGED, TrialKind.DECLARED)


def _declared(record: TrialRecord) -> bool:
    """Whether the objective raised `ts.Infeasible`: a configuration that cannot run, which says nothing of whether the
    objective works. Every fail-fast rule passes over it, as if the trial had not run."""
    return record.kind is TrialKind.DECLARED


@dataclass(frozen=True)
class _NonFinite:
    """A metric that was NaN or infinite from a trial's start: at its first report (``step``), or in the result
    it returned (``step`` is ``None``)."""

    metric: str
    value: float
    step: int | None

    def describe(self) -> str:
        if self.step is None:
            return f"{self.metric}={self.value} in the returned result"
        return f"{self.metric}={self.value} at the first report (step {self.step})"


def _non_finite_from_start(record: TrialRecord, metric: str | None) -> _NonFinite | None:
    """Where ``record``'s ``metric`` (``None``: any metric) was NaN or infinite from the start: a trial stopped as
    diverged at its first report of it, or one failed for returning it (kind NON_FINITE); else ``None``.

    A divergence after finite reports is training blowing up, which some configurations do; a metric never
    finite in any configuration is the objective's bug (a log(0), an uninitialised tensor)."""
    if record.state is TrialState.STOPPED and record.kind is TrialKind.DIVERGED:
        names = [metric] if metric is not None else sorted({key for values in record.intermediate.values()
                                                             for key in values})  # fmt: skip
        for name in names:
            curve = record.curve(name)
            if curve and not math.isfinite(curve[0][1]):
                return _NonFinite(name, curve[0][1], curve[0][0])
        return None
    if record.state is TrialState.FAILED and record.kind is TrialKind.NON_FINITE:
        for name in [*([metric] if metric is not None else []), *sorted(record.metrics)]:
            value = record.metrics.get(name)
            if value is not None and not math.isfinite(value):
                return _NonFinite(name, value, None)
    return None


def _diverged(record: TrialRecord) -> bool:
    return record.state is TrialState.STOPPED and record.kind is TrialKind.DIVERGED


def _failure_kind(record: TrialRecord, metric: str | None) -> str:
    """A failure's kind in words, for the count of kinds: its failure kind, or how it diverged."""
    if _diverged(record):
        from_start = _non_finite_from_start(record, metric) is not None
        return "diverged at the first report" if from_start else "diverged after some steps"
    if _out_of_memory(record):
        return TrialKind.OUT_OF_MEMORY.value
    return record.kind.value if record.kind is not None else "failed"


# Kinds whose stored text does not end with the cause: a crash's ends with what the fault handler wrote (after a
# segfault, the list of extension modules loaded), an out-of-memory's with Ray's advice. Their reason names it.
_REASON_SAYS = frozenset({TrialKind.CRASH, TrialKind.OUT_OF_MEMORY})
# Characters of each line of a failure's text quoted under a message (the text itself may hold a 50,000-character
# line: an exception raised with a huge message).
_LINE_CHARS = 1_000


def _failure_line(record: TrialRecord) -> str:
    """What a failure says, whole: the reason of a crash or an out-of-memory (``killed by SIGSEGV``), else the
    exception line of its traceback (`_exception_line`), else the reason. Failures are the same when these are."""
    if record.kind in _REASON_SAYS and record.reason:
        return record.reason
    return _exception_line(record.error or "") or record.reason or ""


# What changes from trial to trial inside the text of one failure: a quoted path (each trial's own file, a temporary
# directory) and a number (a shape's batch size, a trial's number, an object's address, an exit code).
_QUOTED_PATH = re.compile(r"""'[^'\n]*[/\\][^'\n]*'|"[^"\n]*[/\\][^"\n]*\"""")
_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|\d+")


def _same_way(record: TrialRecord) -> tuple[TrialKind | None, str]:
    """What failures that failed the same way share: the kind, and `_failure_line` with each quoted path and number
    read as a placeholder, so that ``shapes (16x100) and (50x10)`` and ``shapes (32x100) and (50x10)``, or a missing
    ``'cache/batch_5.npy'`` and ``'cache/batch_6.npy'``, are one failure. Messages quote the real text."""
    line = _QUOTED_PATH.sub("'<path>'", _failure_line(record))
    return record.kind, _NUMBER.sub("<n>", line)


def _failed_trial(record: TrialRecord) -> bool:
    """Whether ``record`` counts as a failure for fail-fast: FAILED of any kind but an interruption or a lost worker
    (the machinery's, not the objective's), or stopped as diverged (it gave no result). A trial that raised
    `ts.Infeasible` is INFEASIBLE, never FAILED."""
    if record.state is TrialState.FAILED:
        return not (record.kind is not None and record.kind.is_interruption)
    return _diverged(record)


# How `traceback.format_exc` lays a traceback out: a header, the frames (indented), then the exception line at the
# margin, the type and the message's first line, which may run on over more lines (a hint, notes). A chained
# exception's traceback follows one of the `_CHAINED` sentences; an exception group's lines sit in a margin.
_HEADER = "Traceback (most recent call last):"
_GROUP_HEADER = "  + Exception Group Traceback (most recent call last):"
_GROUP_MARGIN = "  | "
_CHAINED = frozenset({
    "The above exception was the direct cause of the following exception:",
    "During handling of the above exception, another exception occurred:",
})  # fmt: skip


# A line at the margin that starts with an exception's (qualified) type and a colon: how a text that is no Python
# traceback (a Ray task error: its first line names the task and its process, which differ from trial to trial)
# still ends with the exception raised.
_NAMES_EXCEPTION = re.compile(r"[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Refused|Warning)\b[^\s(]*: ")


def _exception_line(text: str) -> str | None:
    """The exception line of traceback ``text``: the first line of the last exception's block, the one that starts
    with its type (``ValueError: shapes (3,4) and (5,6) not aligned``, not a hint the message puts on a later line);
    the first line of a text that is no traceback (``ReportRefused: ...``); ``None`` for a blank text.

    A traceback quoted inside a message (a child process's) is part of that message: only the text's first traceback
    and those a chaining sentence introduces count. Line breaks inside the line other than ``\n`` (a progress line's
    ``\r``) read as spaces, so that the line keeps what it says and cannot overwrite itself on a terminal."""
    found: str | None = None
    margin: str | None = None  # after a header, until its exception line: the margin of the traceback's lines
    chained = True  # whether a header here starts a traceback (the first, or one after a chaining sentence)
    for line in text.replace("\r\n", "\n").split("\n"):
        if margin is not None:
            body = line[len(margin) :] if line.startswith(margin) else ""
            if body and not body[0].isspace():  # past the frames, which are indented
                found, margin = body, None
        elif chained and line in (_HEADER, _GROUP_HEADER):
            margin, chained = ("" if line == _HEADER else _GROUP_MARGIN), False
        elif line in _CHAINED:
            chained = True
    if found is None:  # no traceback laid out as Python lays it: the last line that names an exception, else the first
        lines = [line for line in text.splitlines() if line.strip()]
        found = next((line for line in reversed(lines) if _NAMES_EXCEPTION.match(line)), lines[0] if lines else None)
    return None if found is None else " ".join(found.splitlines()).strip()


# How the exception line of a trial's traceback starts when a `Trial.suggest_*` definition no value can satisfy
# failed it and the objective let the error through (the traceback is what crosses a trial process's pipe).
_DEFINITION_ERROR = f"{DefinitionError.__module__}.{DefinitionError.__qualname__}: "


# What `AskedParams` says of a name one trial asks for twice with different definitions (a conflict, not a definition
# no value can satisfy).
_TWICE_IN_A_TRIAL = "is asked for twice in one trial with different definitions"


def _definition_error(record: TrialRecord) -> str | None:
    """What a trial failed by a `DefinitionError` says (the call and the rule it breaks), else ``None``. A
    `SpaceError` the objective raises itself, for one configuration, is no definition error."""
    if record.state is not TrialState.FAILED or record.kind is not TrialKind.EXCEPTION:
        return None
    line = _failure_line(record)
    return line[len(_DEFINITION_ERROR) :] if line.startswith(_DEFINITION_ERROR) else None


# How the exception line of a trial's traceback starts when `Trial.save_checkpoint` (or `Trial.checkpoint_dir`)
# could not write to the study's checkpoint folder and the objective let the error through.
_CHECKPOINT_NOT_WRITTEN = f"{CheckpointWriteError.__module__}.{CheckpointWriteError.__qualname__}: "
# Fail-fast's advice for trials that all failed so (after the error itself, which names the folder and the fix).
_CHECKPOINT_ADVICE = (
    "The study's checkpoint folder is at fault, not the objective nor a configuration (ts.Infeasible would not "
    "help): the study stopped instead of spending its budget. Fix the folder as the error says and run again (the "
    "failures stay recorded, with their tracebacks; `tunesmith retry STUDY` re-queues them), or pass fail_fast=None "
    "(in a config file: fail_fast = false) to keep going."
)


def _checkpoints_not_written(records: Sequence[TrialRecord]) -> bool:
    """Whether every one of ``records`` failed because its checkpoint could not be written (`CheckpointWriteError`:
    a folder under a regular file, no permission, a full disk), which no configuration causes or avoids."""
    return bool(records) and all(
        r.state is TrialState.FAILED and r.kind is TrialKind.EXCEPTION
        and _failure_line(r).startswith(_CHECKPOINT_NOT_WRITTEN) for r in records
    )  # fmt: skip


def failure_text(record: TrialRecord) -> str:
    """A failure in one line for people: `_failure_line`, at most `_LINE_CHARS` characters (plus a marker saying how
    many were cut): enough for an error that states its rule, value and fix (tunesmith's own are a few hundred
    characters), bounded against a message of megabytes."""
    return excerpt(_failure_line(record), _LINE_CHARS)


def _stored_text(record: TrialRecord) -> str:
    """A failure's traceback (else its reason) as quoted under a message: each line and the whole bounded, so an
    exception raised with a huge message (or a record stored before failures were bounded) prints a few lines."""
    text = record.error or record.reason or ""
    return bounded_error("\n".join(excerpt(line, _LINE_CHARS) for line in text.splitlines()), ERROR_CHARS)


class _SystematicFailure:
    """Watches finished trials: ``limit`` failures in a row of the same kind and text (numbers and quoted paths
    aside: `_same_way`), before any trial worked, mean a bug in the objective (after trials worked, see
    `_broke_after_working`); so do `_every_failed` failures of any kind (crashes, NaN results, out of memory,
    timeouts, which one configuration may cause but not every one), before any worked, and a run that ends with
    failures and nothing that worked, in it or before it.

    A trial stopped as diverged is no trial that worked (it gave no result) and counts among the failures of any
    kind: at its first report of ``metric`` (the primary metric; ``None``: any), NaN or infinite there, a loss never
    finite in any configuration is a bug (a log(0), an uninitialised tensor); after some steps, a space that
    diverges everywhere (a learning-rate range above what the model takes). Divergence counts toward
    `_every_failed`, not the ``limit`` of identical failures: its text is the same whatever the cause, and if a
    region holding a fraction p of the space diverged, the first n trials drawn independently would all fall in it
    with probability p**n: 12% for three in half the space, 0.1% for ten (Sobol's first points, which split every
    axis, and samplers that avoid diverged regions do better). A run that ends with nothing that worked raises for
    divergence only from ``limit`` diverged trials in it: one or two cannot tell a broken space from an unlucky
    region.

    The study's earlier trials count: a broken objective run a trial or two at a time (a smoke test with
    ``--trials 1``) stops at the same failure as one run of the whole budget. A trial failed by a ``suggest_*``
    definition no value can satisfy stops the run at once (`_undefinable`), as a refused report does (`refused`)."""

    def __init__(
        self, limit: int | None, history: Sequence[TrialRecord], metric: str | None = None, where: str = ""
    ) -> None:
        self.limit = limit
        self.metric = metric
        self.where = where  # the study's name and storage as `tunesmith trials` takes them (`listing_arguments`)
        self.worked = any(_worked(r) for r in history)
        self.streak: list[TrialRecord] = []
        self.failures: list[TrialRecord] = []  # every failure before any trial worked, earlier runs' too
        self.failed_here = 0
        self.counted_here = 0  # this run's trials among the failures
        self.diverged_here = 0  # this run's trials stopped as diverged, before any worked
        self.lost = 0  # trials of this run lost with their worker, in a row
        self.broke: list[TrialRecord] = []  # this run's latest failures in a row (`_failed_trial`), after one worked
        self.same: list[TrialRecord] = []  # the end of ``broke`` that failed the same way, ``same_way``
        self.same_way: tuple[TrialKind | None, str] | None = None
        # Every finished trial, every failure, and each failure's `_same_way`: what a streak's rate is judged against.
        self.finished = 0
        self.failed = 0
        self.texts: Counter[tuple[TrialKind | None, str]] = Counter()
        self.seen = {r.number for r in history if r.state.is_finished}  # the finished trials read, of any worker
        for record in history:
            self._tally(record)
        if not self.worked:
            for record in sorted(history, key=lambda r: r.number):
                if record.state.is_finished:
                    self._count(record)

    @property
    def reads_others(self) -> bool:
        """Whether `see_others` has anything to judge: fail-fast is on and no trial of the study worked yet."""
        return self.limit is not None and not self.worked

    def see_others(self, history: Sequence[TrialRecord]) -> None:
        """Read the trials other workers of the study finished since the last look (``history``: the study's trials;
        this run's own are read by `see` as they end), as the study's earlier trials are read: before any trial worked,
        their failures count towards the same limits, so three workers of a broken objective stop after its first
        failures between them, where each ran ``limit`` of its own (nine) and a worker joining later ran more."""
        if self.limit is None:
            return
        fresh = sorted((r for r in history if r.state.is_finished and r.number not in self.seen),
                       key=lambda r: r.number)  # fmt: skip
        counted = False
        for record in fresh:
            self.seen.add(record.number)
            self._tally(record)
            if self.worked or _worked(record):
                self.worked = True
                continue
            counted = self._count(record) or counted
        if self.worked or not fresh:
            return
        if counted and len(self.failures) >= _every_failed(self.limit):
            raise self._nothing_worked(self._first_failed())
        if len(self.streak) >= self.limit and self.streak[-1] in fresh:
            self._raise_streak(self.streak[-1])

    def see(self, record: TrialRecord) -> None:
        if self.limit is None:
            return
        self.seen.add(record.number)
        self._undefinable(record)
        self._lost_in_a_row(record)
        self._tally(record)
        if self.worked:
            self._broke_after_working(record)
            return
        if _worked(record):
            self.worked = True
            return
        self.failed_here += self._failed(record)
        self.diverged_here += record.kind is TrialKind.DIVERGED and record.state is TrialState.STOPPED
        counted = self._count(record)
        self.counted_here += counted
        if counted and len(self.failures) >= _every_failed(self.limit):
            raise self._nothing_worked(self._first_failed())
        if self.streak and self.streak[-1] is record and len(self.streak) >= self.limit:
            self._raise_streak(record)

    def _raise_streak(self, record: TrialRecord) -> None:
        """Stop the run: the streak of identical failures ending with ``record`` reached the limit."""
        numbers = ", ".join(f"#{n}" for n in sorted(r.number for r in self.streak))  # other workers' come in later
        if _checkpoints_not_written(self.streak):
            raise ObjectiveError(
                f"the first {len(self.streak)} trials ({numbers}) failed the same way and none worked: "
                f"{failure_text(self.streak[0])}. {_CHECKPOINT_ADVICE}\nThe last traceback:\n"
                f"{_stored_text(record)}",
                record.error,
            )
        raise ObjectiveError(
            f"the first {len(self.streak)} trials ({numbers}) failed the same way and none worked: "
            f"{failure_text(self.streak[0])}{_the_last(self.streak)}. The study stopped instead of spending its "
            "budget on a broken objective; fix it and run again (the failures stay recorded, with their "
            "tracebacks), or pass fail_fast=None (in a config file: fail_fast = false) to keep going.\n"
            f"{self._on_purpose()}The last traceback:\n{_stored_text(record)}",
            record.error,
        )

    def _on_purpose(self) -> str:
        """How to tell a streak of identical failures in different configurations that raise on purpose from a bug,
        and what to do then, as a line of the message (empty when the streak tried one configuration only)."""
        configurations = len({repr(sorted(r.params.items())) for r in self.streak})
        if configurations < 2 or self.streak[0].kind in _CODE_ONLY or _misused_the_params(self.streak[0]):
            return ""  # a result without the study's metric, or of the wrong type, is the objective's code
        return (
            f"These trials tried {configurations} different configurations ({_tried_ranges(self.streak)}). If only "
            "some configurations raise this on purpose (too large for the machine, a combination the model refuses), "
            f"the objective may be sound: {len(self.streak)} draws in a row land in a region holding three quarters "
            f"of the space {0.75 ** len(self.streak):.0%} of the time. Then leave that region out of the space, or "
            "catch the error and raise ts.Infeasible(reason) instead (the trial is recorded INFEASIBLE, the samplers "
            "learn to avoid it, and fail-fast does not count it), or pass a larger fail_fast.\n"
        )

    def refused(self, record: TrialRecord, why: str | None) -> None:
        """A trial that broke the report rules (`tunesmith.trial.ReportRefused`: a step going back, a report after
        a stop) stops the run at once, whatever worked before: the objective's loop breaks them in every trial."""
        if why is None or self.limit is None:
            return
        raise ObjectiveError(
            f"trial {record.number} broke the report rules and is recorded {record.state.value.upper()}: "
            f"{excerpt(why, _LINE_CHARS)}. "
            "The objective would break them in every trial, so the study stopped; fix it and run again (the trial "
            "stays recorded, with its traceback), or pass fail_fast=None (in a config file: fail_fast = false) to "
            f"keep going.\nThe traceback:\n{_stored_text(record)}",
            record.error,
        )

    def _undefinable(self, record: TrialRecord) -> None:
        """A trial failed by a `Trial.suggest_*` definition no value can satisfy (`DefinitionError`: ``low >= high``,
        ``log=True`` with ``low <= 0``), by one that conflicts with the study's, or by two calls of its own that ask
        for one name with different definitions, stops the run at once, whatever worked before: a parameter keeps one
        definition for the whole study, so every trial that asks for it would fail the same way."""
        said = _definition_error(record)
        if said is None:
            return
        # A definition other than the study's, or than the trial's first call, may be satisfiable ([0, 2] where the
        # study has [0, 1]): calling it unsatisfiable would send the user looking for a mistake in the bounds that is
        # not there.
        if ONE_DEFINITION in said:
            what = "a parameter with a definition that conflicts with the study's"
        elif _TWICE_IN_A_TRIAL in said:
            what = "a parameter twice, with definitions that conflict with each other"
        else:
            what = "a parameter with a definition no value can satisfy"
        raise ObjectiveError(
            f"trial {record.number} asked for {what}: "
            f"{excerpt(said, _LINE_CHARS)}. A parameter keeps one definition for the whole study, so every trial "
            "that asks for it would fail the same way and the study stopped; fix the call in the objective and run "
            "again (the trial stays recorded, with its traceback), or pass fail_fast=None (in a config file: "
            f"fail_fast = false) to keep going.\nThe traceback:\n{_stored_text(record)}",
            record.error,
        )

    def _lost_in_a_row(self, record: TrialRecord) -> None:
        """Trials lost with their worker spend no budget (the machinery failed, not the configuration), so a
        cluster or a trial environment that loses every trial would run for ever: `_every_failed` in a row stop
        the run, whatever worked before."""
        if record.kind is not TrialKind.LOST_WORKER:
            self.lost = 0
            return
        self.lost += 1
        if self.limit is not None and self.lost >= _every_failed(self.limit):
            raise ObjectiveError(
                f"the last {self.lost} trials of this run all lost their worker (the last: {failure_text(record)}): "
                "a lost trial spends no budget, so a cluster or trial environment that loses every trial would run "
                "for ever. Check the workers and their nodes (their logs, memory, the network between them), "
                "then run again; the lost trials stay recorded and are retried when retries allow.\n"
                f"The last failure:\n{_stored_text(record)}",
                record.error,
            )

    def _tally(self, record: TrialRecord) -> None:
        interrupted = record.kind is not None and record.kind.is_interruption
        if not record.state.is_finished or interrupted or _declared(record):
            return
        self.finished += 1
        if _failed_trial(record):
            self.failed += 1
            self.texts[_same_way(record)] += 1

    def _broke_after_working(self, record: TrialRecord) -> None:
        """After trials worked, failures in a row at the end mean something broke during the run (a data file or a
        service gone, a full disk, a crashing driver, a code path most configurations take) when they cluster
        there: were the failures spread at random over every finished trial, the chance that the last ``k`` would
        all be among them is below `_BROKE_LEVEL` (a permutation test, exact whatever the rate of failure). A
        region of the space that fails on purpose (a configuration too large for the device, a combination the model
        refuses) fails at a steady rate, earlier trials included, and samplers that learn from failures avoid it.

        Two streaks are judged, each from `_every_failed` failures: the failures in a row of any kind
        (`_failed_trial`: a crash, a NaN result, a timeout, out of memory count as an exception does), against every
        failure; and those in a row that failed the same way (`_same_way`), against that failure's occurrences,
        which decides sooner when a region failing another way on purpose runs beside the break. Each needs trials
        that worked before it: three, then thirty-eight failures; five, then fourteen; ten, then ten.

        A trial stopped as diverged counts as a failure: it gave no result, and a break that turns the loss NaN
        (a corrupt data shard, a broken loss) makes every later trial diverge at its first report when the objective
        reports steps, where an objective that only returns fails NON_FINITE; a region that diverges at a steady rate
        is let go by the test, as any other is."""
        if (record.kind is not None and record.kind.is_interruption) or _declared(record):
            return  # an interrupted or lost trial, or one that cannot run, says nothing of the objective
        if not _failed_trial(record):
            self.broke, self.same = [], []
            return
        way = _same_way(record)
        if self.same and self.same_way != way:
            self.same = []
        self.broke.append(record)
        self.same.append(record)
        self.same_way = way
        if self.limit is None or len(self.broke) < _every_failed(self.limit):
            return
        for streak, failures in ((self.same, self.texts[way]), (self.broke, self.failed)):
            if len(streak) < _every_failed(self.limit):
                continue
            # Were the failures spread over the trials at random, the chance that the last ``len(streak)`` hold them.
            chance = math.prod((failures - i) / (self.finished - i) for i in range(len(streak)))
            if chance < _BROKE_LEVEL:
                raise self._broke(streak, failures, chance, same_way=streak is not self.broke)

    def _broke(self, streak: list[TrialRecord], failures: int, chance: float, *, same_way: bool) -> ObjectiveError:
        """The error for a streak of failures after trials worked: the trials, what failed (the kinds, the first and
        last failures' text), the chance behind the decision and the fix."""
        last, k, total = streak[-1], len(streak), self.finished
        kinds = ", ".join(f"{n} {kind}" for kind, n in Counter(_failure_kind(r, self.metric) for r in streak).items())
        if same_way:
            what = (
                f"failed the same way after earlier trials worked: {failure_text(streak[0])} ({kinds}"
                f"{_the_last(streak)}; it failed {failures - k} of the {total - k} trials before them: were its "
                f"{failures} failures spread at random over all {total} trials, the last {k} would hold them all with "
                f"a chance of {chance:.1g})"
            )
        else:
            what = (
                f"all failed after earlier trials worked ({kinds}; the first: {failure_text(streak[0])}; the last: "
                f"{failure_text(last)}; {failures - k} of the {total - k} trials before them failed: were the "
                f"{failures} failures spread at random over all {total} trials, the last {k} would hold them all "
                f"with a chance of {chance:.1g})"
            )
        if _checkpoints_not_written(streak):
            return ObjectiveError(
                f"the last {k} trials ({_numbers(streak)}) failed after earlier trials worked: "
                f"{failure_text(streak[0])}. {_CHECKPOINT_ADVICE}\nThe last failure:\n{_stored_text(last)}",
                last.error,
            )
        return ObjectiveError(
            f"the last {k} trials ({_numbers(streak)}) {what}. Something broke during the run (a data file or a "
            "service gone, a full disk, a crashing driver) or a code path most configurations take is broken; "
            "configurations that fail on purpose fail at a steady rate, not all at once. The study stopped instead of "
            "spending the rest of its budget on it. Fix it and run again (the failures stay recorded, with their "
            "tracebacks; `tunesmith retry STUDY` re-queues them), or pass fail_fast=None (in a config file: "
            f"fail_fast = false) to keep going.\nThe last failure:\n{_stored_text(last)}",
            last.error,
        )

    @staticmethod
    def _failed(record: TrialRecord) -> bool:
        return record.state is TrialState.FAILED and not (record.kind is not None and record.kind.is_interruption)

    def _count(self, record: TrialRecord) -> bool:
        """Add a finished trial that did not work to the failures and the streak of identical ones; whether it
        counts among the failures."""
        if _declared(record) or (record.state is TrialState.FAILED and record.kind is not None
                                 and record.kind.is_interruption):  # fmt: skip
            return False  # an interrupted trial, or one that cannot run, says nothing of the objective
        counted = _failed_trial(record)
        if counted:
            self.failures.append(record)
        if record.state is not TrialState.FAILED or record.kind not in _SYSTEMATIC or _out_of_memory(record):
            self.streak = []
            return counted
        if self.streak and _same_way(self.streak[-1]) != _same_way(record):
            self.streak = []
        self.streak.append(record)
        return counted

    def _first_failed(self) -> str:
        """The rule `_every_failed` failures broke, in the words that fit them."""
        n = len(self.failures)
        diverged = sum(r.state is not TrialState.FAILED for r in self.failures)
        from_start = sum(_non_finite_from_start(r, self.metric) is not None for r in self.failures)
        configurations = len({repr(sorted(r.params.items())) for r in self.failures})
        if not diverged:
            return f"the first {n} trials all failed and none worked"
        if from_start == n:
            return (f"the first report of the first {n} trials in a row, across {configurations} different "
                    "configurations, was NaN or infinite, and none worked")  # fmt: skip
        if diverged == n:
            return (f"the first {n} trials in a row, across {configurations} different configurations, diverged, "
                    "and none worked")  # fmt: skip
        return f"the first {n} trials all failed or diverged, and none worked"

    def at_end(self) -> None:
        """At the end of a run that raised nothing: failures in this run, or at least ``limit`` diverged trials, and
        no trial that worked, in the run or before it, is a broken objective or space too, however few trials the
        budget allowed."""
        if self.limit is None or self.worked:
            return
        if self.failed_here or self.diverged_here >= self.limit:
            here = f"all {self.counted_here} trials of this run " + (
                "diverged" if not self.failed_here else
                "failed" if self.counted_here == self.failed_here else "failed or diverged")  # fmt: skip
            earlier = len(self.failures) - self.counted_here
            raise self._nothing_worked(f"{here} and none worked" if not earlier else
                                       f"{here}, as did {earlier} before it, and none worked")  # fmt: skip

    def _nothing_worked(self, what: str) -> ObjectiveError:
        kinds = Counter(_failure_kind(r, self.metric) for r in self.failures)
        counts = ", ".join(f"{n} {kind}" for kind, n in kinds.most_common())
        last = self.failures[-1]
        diverged = all(_diverged(r) for r in self.failures)
        # A few divergences say less than a few identical crashes: a region may diverge (see the class's note).
        few = None if self.limit is None else _every_failed(self.limit) if diverged else self.limit
        if _checkpoints_not_written(self.failures):
            return ObjectiveError(
                f"{what}: {failure_text(self.failures[0])}. {_CHECKPOINT_ADVICE}\nThe last failure:\n"
                f"{_stored_text(last)}",
                last.error,
            )
        if few is not None and len(self.failures) < few and not all(r.kind in _CODE_ONLY for r in self.failures):
            listed = (f"{self._listing('--state stopped')} lists them with the step where each diverged" if diverged
                      else f"{self._listing('--failed')} lists them with their tracebacks")  # fmt: skip
            why = (f"The study has no result. With {len(self.failures)} {'diverged' if diverged else 'failed'}, the "
                   f"configurations tried may be to blame rather than the objective; {listed}: fix what they show and "
                   "run again, run more trials, or pass fail_fast=None (in a config file: fail_fast = false) to keep "
                   "going.")  # fmt: skip
        elif all(_non_finite_from_start(r, self.metric) is not None for r in self.failures):
            why = self._never_finite()
        elif diverged:
            why = (f"Every configuration tried diverged (these trials covered {_tried_ranges(self.failures)}), so the "
                   "space is too aggressive for the model: a learning rate range above what it trains at, no warmup, "
                   "no gradient clipping. The study stopped instead of spending its budget; lower the upper bounds "
                   "(`tunesmith lr-find` measures where the loss blows up) and run again, or pass fail_fast=None (in a "
                   "config file: fail_fast = false) to keep going.")  # fmt: skip
        elif all(_out_of_memory(r) for r in self.failures):
            tried = _tried_ranges(self.failures)
            why = (f"Every configuration tried ran out of memory (these trials covered {tried}), so the space asks for "
                   "more memory than the machine has everywhere, or the objective holds on to memory between trials. "
                   "The study stopped instead of spending its budget; lower the bounds of the parameters that set "
                   "memory use (batch size, model or sequence size), or give the trials more memory, and run again; or "
                   "pass fail_fast=None (in a config file: fail_fast = false) to keep going.")  # fmt: skip
        elif all(r.kind in _CODE_ONLY for r in self.failures):
            why = ("The study has no result, and no configuration causes this: the objective's code returns the "
                   "wrong thing (a forgotten return gives None; a dict needs the study's metric). The study stopped "
                   f"instead of spending its budget. {self._listing('--failed')} lists them; fix the objective and "
                   "run again.")  # fmt: skip
        else:
            why = ("Every configuration tried failed, so the objective or the space is broken (a learning rate range "
                   "that always diverges, a model that never fits in memory, a time limit no trial meets); the study "
                   f"stopped instead of spending its budget. {self._listing('--failed')} lists them; fix it and run "
                   "again, or pass fail_fast=None (in a config file: fail_fast = false) to keep going.")  # fmt: skip
        return ObjectiveError(
            f"{what} ({counts}; the last: {failure_text(last)}). {why}\nThe last failure:\n{_stored_text(last)}",
            last.error,
        )

    def _listing(self, flag: str) -> str:
        """The command that lists the trials ``flag`` selects, naming this study and its storage; a study in memory
        is gone with its process, so it is pointed at ``study.trials``."""
        if not self.where:
            return f"`study.trials` (the study is in memory, which no command reads) with {flag}'s trials"
        return f"`tunesmith trials {self.where} {flag}`"

    def _never_finite(self) -> str:
        """Why failures that were all NaN or infinite from the start stopped the study: which trials, metric and
        step, the configurations they covered, and what to fix."""
        found: dict[str, list[TrialRecord]] = {}
        measured: set[str] = set()
        for record in self.failures:
            finding = _non_finite_from_start(record, self.metric)
            if finding is not None:
                found.setdefault(finding.describe(), []).append(record)
                measured.add(finding.metric)
        values = "; ".join(f"trials {_numbers(records)}: {what}" for what, records in found.items())
        tried = _tried_ranges(self.failures)
        if self.metric is not None and self.metric not in measured:  # a guardrail's or another objective's metric
            return (
                f"In {values}. A metric that is NaN or infinite in every configuration tried, while {self.metric} is "
                "finite, is a broken measurement (a timing of an empty batch, a division by zero), not a result: "
                f"check how the objective measures {', '.join(sorted(measured))} (run it on one configuration and "
                "print it) and return a finite value (for a measurement cut short, one beyond the guardrail's bound). "
                "The study stopped instead of spending its budget; fix it and run again, or pass fail_fast=None (in a "
                "config file: fail_fast = false) to keep going."
            )
        return (
            f"In {values}. A loss that is NaN or infinite from the start in every configuration tried is a bug in the "
            "objective (a log(0), a division by zero, an uninitialised tensor), not a divergence: training that "
            "diverges does so after some steps, and in some configurations only. The study stopped instead of "
            "spending its budget: check the objective's loss at step 1 (run it on one configuration and print it); "
            f"if the whole search space diverges at once, narrow it (these trials covered {tried}); or pass "
            "fail_fast=None (in a config file: fail_fast = false) to keep going."
        )


def _the_last(records: Sequence[TrialRecord]) -> str:
    """``; the last: TEXT`` when the last of a streak of failures said it otherwise than the first (the numbers and
    paths `_same_way` reads past), else nothing: a message quotes what the failures said, as they said it."""
    first, last = failure_text(records[0]), failure_text(records[-1])
    return "" if first == last else f"; the last: {last}"


def _numbers(records: Sequence[TrialRecord]) -> str:
    """Trial numbers for people, runs of consecutive ones shortened: ``#0-#9, #12``."""
    runs: list[list[int]] = []
    for number in sorted(r.number for r in records):
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return ", ".join(f"#{run[0]}" if len(run) == 1 else f"#{run[0]}-#{run[-1]}" for run in runs)


def _tried_ranges(records: Sequence[TrialRecord]) -> str:
    """What ``records``' configurations covered, parameter by parameter: ``lr 0.0001 to 0.09, opt in {adam, sgd}``."""
    values: dict[str, list[Any]] = {}
    for record in records:
        for name, value in record.params.items():
            values.setdefault(name, []).append(value)
    ranges = []
    for name, seen in sorted(values.items()):
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in seen):
            low, high = (str(v) if isinstance(v, int) else f"{v:.3g}" for v in (min(seen), max(seen)))
            ranges.append(f"{name} {low}" if low == high else f"{name} {low} to {high}")
        else:
            distinct = sorted({str(v) for v in seen})
            ranges.append(f"{name} {distinct[0]}" if len(distinct) == 1 else f"{name} in {{{', '.join(distinct)}}}")
    return ", ".join(ranges) or "no parameters"


# How unlikely a streak of identical code failures after trials worked must be, at the rate the earlier trials
# failed that way, to stop the study (`_SystematicFailure._broke_after_working`).
_BROKE_LEVEL = 1e-4


def _every_failed(limit: int) -> int:
    """How many failures of any kind in a row, with none that worked, stop a study: more than the ``limit``
    of identical code failures, since a space may hold many configurations that diverge or crash."""
    return max(10, 3 * limit)


@dataclass(frozen=True)
class StudyResult:
    """What `Study.optimize` returns: how the run went and what the study holds after it.

    With one objective, ``best`` is the best trial (``None`` while no trial has completed), and ``front`` and
    ``chosen`` are ``None``. With several objectives there is no single best: reading ``best`` raises
    `ConfigError` as `Study.best` does, ``front`` holds the Pareto front (`Study.pareto_front`: the
    non-dominated feasible trials, in trial order; empty while none has completed with every objective), and
    ``chosen`` the trial `Study.choose` recorded,
    while that choice stands (`Study.chosen`).
    """

    _best: TrialRecord | None
    trials_run: int
    states: dict[str, int]
    stop_reason: str
    elapsed: float
    usage: BudgetUsage | None = None
    failures: list[TrialRecord] = field(default_factory=list)
    notes: tuple[str, ...] = ()
    no_result: str | None = None  # the note of ``notes`` that says the spent budget left no result, warned as well
    space_used_up: bool = False  # the sampler had no untried configuration left: no later run can go on
    converged: bool = False  # the budget's until_converged ended it (`SearchConverged`): no later run goes on
    front: tuple[TrialRecord, ...] | None = None
    chosen: TrialRecord | None = None
    _no_single_best: str | None = field(default=None, repr=False)  # why, with several objectives

    def __repr__(self) -> str:
        """One readable line: what the run did, why it stopped, and the best trial (or the front) by number and
        values; the records themselves are in their fields (the dataclass form printed every one of them, curves
        and all)."""
        if self._no_single_best is not None:
            front = ", ".join(f"#{r.number}" for r in self.front or ())
            result = f"front=[{front}]" + ("" if self.chosen is None else f", chosen=#{self.chosen.number}")
        elif self._best is None:
            result = "best=None"
        else:
            result = f"best=#{self._best.number} {self._best.metrics!r} {self._best.params!r}"
        more = "".join(f", {name}={len(items)}" for name, items in (("failures", self.failures), ("notes", self.notes))
                       if items)  # fmt: skip
        return (f"StudyResult(trials_run={self.trials_run}, states={self.states!r}, stop_reason={self.stop_reason!r}, "
                f"elapsed={self.elapsed:.1f}s, {result}{more})")

    @property
    def best(self) -> TrialRecord | None:
        """The best trial (``None`` while none has completed); refused with several objectives, as `Study.best`."""
        if self._no_single_best is not None:
            raise ConfigError(self._no_single_best)
        return self._best


class NoFeasibleTrialWarning(UserWarning):
    """`Study.optimize` returned with the study's budget spent and no feasible trial: every trial that finished with
    results is INFEASIBLE (declared so by the objective, or breaking a guardrail), or every trial that finished
    failed or is INFEASIBLE with failures among them (`AllTrialsFailedWarning`), so the study has no result. Not an
    error: the trials are data, and stay stored. `StudyResult.notes` holds the same text."""


class AllTrialsFailedWarning(NoFeasibleTrialWarning):
    """The `NoFeasibleTrialWarning` of a run whose finished trials all failed, or failed but for INFEASIBLE ones (the
    note says both, the more numerous first): one with ``fail_fast=None``, which lets it spend its budget (fail-fast on
    raises `ObjectiveError` at the end of a run whose trials all failed), or one that started no trial. To have it
    raise instead: ``warnings.simplefilter("error", AllTrialsFailedWarning)``."""


def no_feasible_note(
    records: Sequence[TrialRecord],
    metric: Metric,
    objectives: Sequence[Metric],
    guardrails: Sequence[Guardrail],
    where: str | None = None,
) -> str | None:
    """Why ``records`` hold no result: every trial that finished with results is INFEASIBLE, or every trial that
    finished failed (`_all_failed_note`), or some failed and the rest are INFEASIBLE (both said, the more numerous
    first: the likelier cause). Those the objective declared infeasible (`tunesmith.Infeasible`) are counted with the
    first one's reason; otherwise each guardrail broken is named with how many trials broke it and the value nearest
    its bound. ``None`` when a trial is feasible (the best with one objective, the Pareto front with several), or none
    finished INFEASIBLE or failed. Invalidated trials do not count. The wording is `tunesmith run`'s, which exits 1
    with it.

    ``where`` (`listing_arguments`: ``NAME --storage URL``; ``""`` for a study in memory; ``None``: not known, as in
    the report's views) makes the commands that read and re-queue failures exact; `no_result_traceback` quotes the
    traceback of the failure the note names."""
    valid = [r for r in records if r.invalidated is None]
    feasible = pareto_front(valid, objectives) if len(objectives) > 1 else best_record(valid, metric)
    infeasible = [r for r in valid if r.state is TrialState.INFEASIBLE]
    if feasible:
        return None
    invalidated = _invalidated_results(records, metric)
    if invalidated:
        return invalidated_note(invalidated, where)
    if not infeasible:
        return _all_failed_note(valid, metric, where)
    why = _infeasible_note(infeasible, guardrails)
    failed = _no_result_failures(valid)
    if not failed:
        return f"no feasible trial: {why}"
    total, n_failed, n_infeasible = len(failed) + len(infeasible), len(failed), len(infeasible)
    gave = sum(_worked(r) for r in infeasible)  # a guardrail's breach is a result: the objective ran there
    said = f"{_kinds(failed, metric)}{_failures_said(failed, where, gave)}"
    failures = ("failure" if n_failed == 1 else "failures", said)
    refused = ("infeasible trial" if n_infeasible == 1 else "infeasible trials", why)
    # The more numerous first, as the likelier cause; on a tie the failures, which no change of space explains away.
    first, then = (refused, failures) if n_infeasible > n_failed else (failures, refused)
    order = ("as the more numerous and so the likelier cause" if n_failed != n_infeasible
             else "as many as the infeasible trials, so either may be the cause")  # fmt: skip
    return (f"no feasible trial: of the {total} trials that finished, {n_failed} failed and {n_infeasible} "
            f"{'is' if n_infeasible == 1 else 'are'} INFEASIBLE, so none gave a feasible result. The {first[0]} "
            f"first, {order}: {first[1]}. Then the {then[0]}: {then[1]}")  # fmt: skip


def _invalidated_results(records: Sequence[TrialRecord], metric: Metric) -> list[TrialRecord]:
    """The invalidated trials of ``records`` that completed with a finite ``metric``: the results there would be."""
    return [
        r for r in records
        if r.invalidated is not None and r.state is TrialState.COMPLETE and math.isfinite(r.metrics.get(metric.name,
                                                                                                        math.nan))
    ]  # fmt: skip


def invalidated_note(invalidated: Sequence[TrialRecord], where: str | None) -> str:
    """Why there is no result when every trial with one was invalidated: which, why, and how to count one again
    (``where``: `listing_arguments`, ``""`` for a study in memory). It said "no trial has completed" beside
    "2 complete", and `tunesmith best` "no COMPLETE trial yet"."""
    named = ", ".join(f"#{r.number} ({r.invalidated})" for r in invalidated[:5])
    more = f" and {len(invalidated) - 5} more" if len(invalidated) > 5 else ""
    n = len(invalidated)
    undo = "study.revalidate(N)" if where == "" else f"tunesmith revalidate {where or 'STUDY'} N"
    return (f"no result that counts: every trial that completed with one is invalidated ({n}: {named}{more}); "
            f"{undo} counts one again once its reason no longer holds, else run more trials")


def _infeasible_note(infeasible: Sequence[TrialRecord], guardrails: Sequence[Guardrail]) -> str:
    """Why the INFEASIBLE trials ``infeasible`` are so, for `no_feasible_note`: how many the objective declared so,
    with the first one's reason, else each guardrail broken with how many broke it and the value nearest its bound;
    with the fix."""
    declared = [r for r in infeasible if r.kind is TrialKind.DECLARED]
    if declared:  # the objective said these cannot run: no guardrail to relax
        first = declared[0]
        guarded = len(infeasible) - len(declared)
        also = f" ({guarded} more broke a guardrail)" if guarded else ""
        return (f"the objective declared {len(declared)} of the {len(infeasible)} trials that finished infeasible "
                f"(ts.Infeasible){also}, the first, trial #{first.number}, with {first.reason or 'no reason'!r}: "
                "change the space toward configurations the objective can run, or check the condition it raises "
                "ts.Infeasible on")  # fmt: skip
    broken = []
    for guardrail in guardrails:
        breaches = [(r.metrics[guardrail.metric], r.number) for r in infeasible
                    if guardrail.metric in r.metrics and not guardrail.holds(r.metrics[guardrail.metric])]  # fmt: skip
        if not breaches:
            continue
        said = f"{guardrail.describe()} broken by {len(breaches)} of {len(infeasible)}"
        finite = [b for b in breaches if math.isfinite(b[0])]
        if finite:
            ceiling = guardrail.op in ("<=", "<")
            value, number = min(finite, key=lambda b: (b[0] if ceiling else -b[0], b[1]))
            said += f", the nearest to it {guardrail.metric} = {guardrail.value_text(value)} (trial #{number})"
        broken.append(said)
    which = "; ".join(broken) or "each trial's reason says which guardrail it broke"
    return (
        f"a trial must meet every guardrail, and all {len(infeasible)} trials that finished with results are "
        f"INFEASIBLE: {which}. Relax the bound, or change the space toward configurations that meet it"
    )


def _no_result_failures(records: Sequence[TrialRecord]) -> list[TrialRecord]:
    """The failures among ``records`` (`_failed_trial`: FAILED, or stopped as diverged) when none gave a result but
    INFEASIBLE ones (`_worked`) and none is running; else ``[]``. Interrupted trials and trials lost with their worker
    count on neither side: they say nothing of the objective."""
    if any(r.state is TrialState.RUNNING or (_worked(r) and r.state is not TrialState.INFEASIBLE) for r in records):
        return []
    return [r for r in records if _failed_trial(r)]


def _all_failed_note(records: Sequence[TrialRecord], metric: Metric, where: str | None) -> str | None:
    """`no_feasible_note` when every trial that finished failed: how many, of which kinds, the most common failure
    (`_same_way`: numbers and quoted paths aside) with the trials it failed, where their tracebacks are, and the fix:
    the objective's code when one failure is every trial's, else what the tracebacks show; then re-queue them."""
    failed = _no_result_failures(records)
    if not failed or any(r.state is TrialState.INFEASIBLE for r in records):
        return None
    trials = "the trial that finished" if len(failed) == 1 else f"all {len(failed)} trials that finished"
    return (f"no feasible trial: {trials} failed and none gave a result ({_kinds(failed, metric)})"
            f"{_failures_said(failed, where)}")  # fmt: skip


def _kinds(failed: Sequence[TrialRecord], metric: Metric) -> str:
    """How many of ``failed`` failed of each kind, the most common first: ``4 exception, 1 timeout``."""
    kinds = Counter(_failure_kind(r, metric.name) for r in failed)
    return ", ".join(f"{count} {kind}" for kind, count in kinds.most_common())


def _failures_said(failed: Sequence[TrialRecord], where: str | None, gave: int = 0) -> str:
    """What `no_feasible_note` says of ``failed`` after their count, from ``; ``: the most common failure with its
    trials, where its traceback is read, the fix, and how to re-queue them. ``gave``: how many other trials gave a
    result (INFEASIBLE ones that broke a guardrail), which shows that the objective runs in some configurations."""
    groups = _failures_by_way(failed)
    common = max(groups, key=len)  # the earliest of equally common ones
    first = common[0]
    n = len(failed)
    shown = "traceback" if _has_traceback(first) else "failure"  # a timeout's or a NaN's is its reason
    if len(groups) == 1:
        whose = _whose(failed) if not gave else _ran_elsewhere(failed, gave)
        said = f"{'it failed' if n == 1 else 'every one failed the same way'}: {failure_text(first)}{whose}"
    else:
        said = (f"{len(groups)} different failures, the most common in {len(common)} of {n} ({_numbers(common)}): "
                f"{failure_text(first)}")  # fmt: skip
    if where is None:
        read = (f"`tunesmith show STUDY {first.number}` prints trial #{first.number}'s {shown}, `tunesmith trials "
                "STUDY --failed` lists every failure")  # fmt: skip
    elif not where:
        field_ = "error" if first.error else "reason"
        read = f"Trial #{first.number}'s {shown} is its `{field_}` in `study.trials` (the study is in memory)"
    else:
        read = (f"`tunesmith show {where} {first.number}` prints trial #{first.number}'s {shown}, `tunesmith "
                f"trials {where} --failed` lists every failure")  # fmt: skip
    fix = _fix(first, shown, several=len(groups) > 1)
    return f"; {said}. {read}. {fix}, then {_requeue(failed, where)} and run again"


def _fix(first: TrialRecord, shown: str, *, several: bool) -> str:
    """What to do about the most common failure ``first`` before re-queueing: a timeout needs more time or a faster
    trial (no traceback shows where it was); anything else, what its ``shown`` (traceback, or failure) shows."""
    if first.kind is TrialKind.TIMEOUT:
        fix = ("Raise trial_timeout (a config's trial_timeout, or study.optimize(trial_timeout=...)), or make the "
               "trial faster (fewer steps, a smaller model or data sample)")  # fmt: skip
    else:
        fix = f"Fix what the {shown}{'s show' if several else ' shows'}"
    if several:
        fix += (" (where a part of the space always fails, leave it out of the space or raise ts.Infeasible there, "
                "which the samplers learn to avoid)")  # fmt: skip
    return fix


def _has_traceback(record: TrialRecord) -> bool:
    """Whether ``record`` stored a Python traceback: an exception's, not the reason of a trial killed from outside
    (``killed after trial_timeout=1.0s``) or a result's (``loss is nan``), which no heading may call one."""
    text = record.error or ""
    return _HEADER in text or _GROUP_HEADER.strip() in text


def _ran_elsewhere(failed: Sequence[TrialRecord], gave: int) -> str:
    """`_whose` when ``gave`` other trials gave a result: the objective runs in some configurations, so one failure
    shared by every trial in ``failed`` is no proof of broken code (a result of the wrong type or without the metric
    still is)."""
    if failed[0].kind in _CODE_ONLY:
        return ", which is the objective's code whatever the configuration"
    configurations = len({repr(sorted(r.params.items())) for r in failed})
    return (
        f", in {configurations} configuration{'s' * (configurations != 1)}, while {gave} other "
        f"trial{'s' * (gave != 1)} gave a result: the objective runs in some configurations"
    )


def _failures_by_way(failed: Sequence[TrialRecord]) -> list[list[TrialRecord]]:
    """``failed`` grouped by how each failed (`_same_way`), each group in trial order, the groups in the order of
    their first trial."""
    groups: dict[tuple[TrialKind | None, str], list[TrialRecord]] = {}
    for record in sorted(failed, key=lambda r: r.number):
        groups.setdefault(_same_way(record), []).append(record)
    return list(groups.values())


def no_result_traceback(records: Sequence[TrialRecord]) -> str | None:
    """The stored traceback of the failure `no_feasible_note` names when no trial gave a feasible result and some
    failed: the first of the most common failure, headed by its number and bounded as fail-fast quotes one
    (`_stored_text`). Else the text it stored, under a heading that does not call it a traceback, when that says more
    than the note's quote of it (a crash's fault-handler output); ``None`` when no trial failed so, that trial diverged
    (it has no traceback), or all it stored is what the note quotes (a timeout's ``killed after trial_timeout=1s``)."""
    failed = _no_result_failures([r for r in records if r.invalidated is None])
    if not failed:
        return None
    first = max(_failures_by_way(failed), key=len)[0]
    if first.state is not TrialState.FAILED:
        return None
    if _has_traceback(first):
        return f"Trial #{first.number}'s traceback:\n{_stored_text(first)}"
    stored = _stored_text(first)
    if stored.strip() in ("", failure_text(first)):
        return None
    return f"Trial #{first.number}'s failure, as stored:\n{stored}"


# How unlikely it must be that a part of the space that fails on purpose holds every configuration that failed the
# same way before a message blames the objective's code (`_whose`).
_BLAME_LEVEL = 0.05
# The share of the space such a part is taken to hold: a generous one, as fail-fast's `_on_purpose` reads it.
_FAILING_SHARE = 0.75


def _whose(failed: Sequence[TrialRecord]) -> str:
    """What one failure shared by every trial in ``failed`` says of its cause, as the end of a clause: a result of
    the wrong type or without the metric is the code's whatever the configuration; an exception raised in several
    configurations is the code's when a part of the space holding three quarters of it would hold them all with a
    chance under `_BLAME_LEVEL` (independent draws; a sampler that spreads its points makes it smaller), else
    undecided, with how many configurations would decide; else nothing (one configuration, or a kind a configuration
    may cause: a timeout, a crash, out of memory, a NaN)."""
    first = failed[0]
    if first.kind in _CODE_ONLY:
        return ", which is the objective's code whatever the configuration"
    configurations = len({repr(sorted(r.params.items())) for r in failed})
    if first.kind is not TrialKind.EXCEPTION or _out_of_memory(first) or configurations < 2:
        return ""
    chance = _FAILING_SHARE**configurations
    said = (f", in {configurations} different configurations (a part of the space holding three quarters of it would "
            f"hold them all {chance:.0%} of the time)")  # fmt: skip
    if chance < _BLAME_LEVEL:
        return f"{said}, so the objective's code, its data or its environment is the likely cause, not a configuration"
    needed = math.floor(math.log(_BLAME_LEVEL) / math.log(_FAILING_SHARE)) + 1
    return (f"{said}: too few to tell a broken objective from a part of the space that fails ({needed} configurations "
            f"failing so would put that chance under {_BLAME_LEVEL:.0%}; one configuration known to work that fails "
            "so decides it)")  # fmt: skip


# The failures `failed_some_note` names one by one, the most common first; the rest it counts.
_FAILURES_NAMED = 2


def failed_some_note(records: Sequence[TrialRecord], where: str | None) -> str | None:
    """What to say of the trials that failed in a study that has results: how many of the finished trials, the
    commonest failures (`_same_way`) with their trials, where the tracebacks are and how to re-queue them after a fix
    (``where``: as `no_feasible_note` takes it); ``None`` when none failed, a retry re-ran each, or nothing gave a
    result (then `no_feasible_note` says why).

    A run whose objective raised in 5 of its 12 trials (a guardrail metric missing where x <= 0.3, the region of the
    best losses) ended with exit code 0 and a heading that said "5 failed" and nothing of why, while the best it
    printed came from the region the failures left. Interruptions and lost workers are the machinery's, not the
    objective's: not counted."""
    valid = [r for r in records if r.invalidated is None]
    retried = {r.attrs["retry_of"] for r in valid if "retry_of" in r.attrs}
    failed = [r for r in valid if r.state is TrialState.FAILED and _failed_trial(r) and r.number not in retried]
    if not failed or not any(_worked(r) for r in valid):
        return None
    finished = sum(1 for r in valid if r.state.is_finished)
    groups = sorted(_failures_by_way(failed), key=len, reverse=True)  # stable: the earliest first among equals
    named = "; ".join(f"{len(g)} x {failure_text(g[0])} ({_numbers(g)})" for g in groups[:_FAILURES_NAMED])
    others = sum(len(g) for g in groups[_FAILURES_NAMED:])
    more = f"; {others} more, failing {len(groups) - _FAILURES_NAMED} other ways" if others else ""
    if where == "":
        read = "each one's traceback or reason is its `error` or `reason` in `study.trials`"
    else:
        read = f"`tunesmith trials {where or 'STUDY'} --failed` lists them with their reasons and tracebacks"
    return (f"{len(failed)} of the {finished} finished trials failed and gave no result: {named}{more}. {read}; "
            f"fix the objective, then {_requeue(failed, where)}")


def _requeue(failed: Sequence[TrialRecord], where: str | None) -> str:
    """How to re-queue ``failed`` after a fix (`Study.retry_failed`, `tunesmith retry`), in ``where``'s words
    (`no_feasible_note`). A retry re-queues the code's failures unless told the kinds: beyond those, every kind
    present is named. A diverged trial is no FAILED one, which no retry runs: then more trials are the way on."""
    from tunesmith.study._retry import CODE_FAILURES, FAILED_KINDS

    present = {r.kind for r in failed if r.state is TrialState.FAILED}
    if not present:
        return "run more trials"
    kinds = [] if present <= set(CODE_FAILURES) else [kind for kind in FAILED_KINDS if kind in present]
    spends = "a retry spends the budget in the failure's place"
    them = "it" if len(failed) == 1 else "them"
    if where == "":
        asked = "" if not kinds else f"kinds=({''.join(f'TrialKind.{kind.name}, ' for kind in kinds).rstrip(' ')})"
        return f"re-queue {them} with study.retry_failed({asked}) ({spends})"
    flags = "".join(f" --kind {kind.value}" for kind in kinds)
    return f"re-queue {them} with `tunesmith retry {where or 'STUDY'}{flags}` ({spends})"


def _budget_left(study: Study, records: Sequence[TrialRecord], usage: BudgetUsage, now: float) -> bool:
    """Whether the study's own budget leaves trials for a later run, by the rule `Study.ask` follows: no limit of it
    is spent. An unbounded budget leaves none to wait for (the call's ``n_trials`` or ``timeout`` was the search),
    as `tunesmith run` reads it."""
    budget = study.budget
    if budget.is_unbounded() or budget.exhausted_limit(usage) is not None:
        return False
    return spent_beyond_trials(budget, records, now, scheduler=study.scheduler) is None


# `StudyResult.stop_reason` when a callback, an observer or the objective called `Study.stop`.
STOPPED_BY_STUDY = "stopped by study.stop()"


class NotOptimizing(TunesmithError, RuntimeError):
    """`Study.stop` was called where no `optimize` of that study runs: outside one, or in a trial's own process,
    which cannot reach the loop in the driver."""


@dataclass
class _StopSwitch:
    """A running `optimize` call's switch: `Study.stop` sets ``requested``, and the loop starts no new trial.
    ``pid`` is the driver's process: a trial process forked from it holds a copy of the switch, whose pid says that
    it is not the driver (as a trial's ``parent_pid`` tells it that it runs in a child)."""

    pid: int = field(default_factory=os.getpid)
    requested: bool = False


# The switch of each study whose `optimize` runs in this process, for as long as it runs.
_switches: weakref.WeakKeyDictionary[Study, _StopSwitch] = weakref.WeakKeyDictionary()
_P = ParamSpec("_P")


def _stoppable(loop: Callable[Concatenate[Study, _P], StudyResult]) -> Callable[Concatenate[Study, _P], StudyResult]:
    """``loop`` with a stop switch for its study from its first line to its last (the observers' last hook
    included), so that `Study.stop` reaches it wherever it is called during the run."""

    @functools.wraps(loop)
    def run(study: Study, /, *args: _P.args, **kwargs: _P.kwargs) -> StudyResult:
        outer = _switches.get(study)  # an optimize called from inside another one's callback
        _switches[study] = _StopSwitch()
        try:
            return loop(study, *args, **kwargs)
        finally:
            if outer is None:
                _switches.pop(study, None)
            else:
                _switches[study] = outer

    return run


def request_stop(study: Study) -> None:
    """`Study.stop`'s body (see there): set the switch of the `optimize` running on ``study`` in this process."""
    switch = _switches.get(study)
    if switch is None:
        raise NotOptimizing(
            f"study.stop() stops a running study.optimize, but study {study.name!r} is not optimizing: call it from a "
            "callback, an observer hook or the objective while optimize runs (to run fewer trials, pass n_trials= or "
            "timeout= to optimize)"
        )
    if switch.pid != os.getpid():
        raise NotOptimizing(
            f"study.stop() must be called in the process that runs study.optimize (pid {switch.pid}), got a call from "
            f"process {os.getpid()}: a trial's own process (with workers > 1 each trial runs in a child process) "
            "cannot reach the loop that starts trials. Call it from a callback or an observer hook, which run in the "
            "driver, and let the objective report or return what the callback decides on"
        )
    switch.requested = True


@_stoppable
def optimize(
    study: Study,
    objective: Objective,
    *,
    n_trials: int | None,
    workers: int | None,
    executor: str | Mapping[str, Any] | Executor,
    timeout: float | None,
    callbacks: Sequence[Callback],
    memory_limit: int | str | None,
    trial_timeout: float | None,
    fail_fast: int | None = 3,
    progress: bool | None = None,
) -> StudyResult:
    """`Study.optimize`'s body (see there for the arguments)."""
    switch = _switches[study]  # set by `_stoppable` for this run
    if not callable(objective):
        raise ConfigError(
            f"objective must be a function of a trial, got {type(objective).__name__} {objective!r}: pass the "
            "function itself, study.optimize(objective), not what calling it returned"
        )
    refuse_unrunnable(objective)
    integer("workers", workers, minimum=1, allow_none=True, fix="pass workers=1, or the trials to run at once")
    if (named := stable_name(objective)) is not None:  # the set it scores on, unless one was named
        record_validation_set(study, named, "objective")
    # Not given: one trial at a time, or as many as an executor instance was built to run (`make_executor` refuses
    # a count given beside an instance built for another).
    count = 1 if workers is None else workers
    if n_trials is None and study.budget.is_unbounded() and timeout is None:
        named = command_arguments(study.name, study.storage.url)
        raise ConfigError(
            f"study {study.name!r} has no budget and no n_trials, so nothing would end the run: give it a trial "
            f"budget: from a config, `tunesmith extend {named} --trials N` (a study gains a limit before its "
            "first trial), or `tunesmith run CONFIG --trials N` for this run only; in Python, "
            "budget=ts.Budget(trials=N) for a new study, study.extend_budget(trials=N), or n_trials=N"
        )
    integer("n_trials", n_trials, minimum=1, allow_none=True)
    memory_limit = memory_size("memory_limit", memory_limit, allow_none=True)
    real("timeout", timeout, exclusive_minimum=0, allow_none=True, fix="pass the seconds to search, e.g. timeout=3600")
    check_progress(progress)
    observers = Observers(callbacks)
    history = study.trials  # read once: what worked before and what completed before this call
    systematic = _SystematicFailure(
        integer("fail_fast", fail_fast, minimum=1, allow_none=True, fix="pass 3, or None to never stop on failures"),
        history,
        metric=study.metric.name,
        where=listing_arguments(study.name, study.storage.url),
    )
    spent = holdout_spent_note(study.attrs)  # said once a trial starts: a run that starts none changes nothing
    fully = trained_fully(study.budget, study.scheduler)
    forecast = fully[1] if fully is not None and fully[0] < MIN_FULLY_TRAINED else None
    if forecast:
        warnings.warn(forecast, ShortTrainingWarning, stacklevel=outside_stacklevel())
    if isinstance(study.sampler, Grid) and (sparse := study.sampler.coverage_note(study.space, study.budget.trials)):
        warnings.warn(sparse, SparseGridWarning, stacklevel=outside_stacklevel())
    options: dict[str, Any] = {}
    if memory_limit is not None:
        options["memory_limit"] = memory_limit
    if trial_timeout is not None:
        options["trial_timeout"] = trial_timeout
    notes: list[str] = []
    if executor == "inline" and (count > 1 or options):
        executor = "processes"
        why = f"{count} workers" if count > 1 else " and ".join(sorted(options))
        notes.append(f"trials ran in child processes (executor='processes'): {why} need a process per trial")
    runner = make_executor(executor, workers if isinstance(executor, Executor) else count, **options)
    study._workers = runner.capacity
    trial_warnings.forget_shown()  # each kind of the objective's warnings is shown once a run
    if lonely := population_note(study.scheduler, runner.capacity):
        warnings.warn(lonely, PopulationWarning, stacklevel=outside_stacklevel())
        notes.append(lonely)
    study._clock = runner.clock  # a simulated executor brings its own clock
    study._simulated = runner.simulated  # and curves that resume at any step without a checkpoint
    rounds = RoundWatch(study.scheduler, study.context)
    report = observers.reporter(study)

    def reported(number: int, step: int, metrics: dict[str, float]) -> Decision:
        decision = report(number, step, metrics)
        rounds.see(number, step, lambda: study.trials)
        return decision

    runner.start(objective, reported)
    started_at = time.monotonic()
    started = 0
    known = {r.number for r in history}  # a trial asked for again (a paused one resumed) is not a new start
    stop_reason = ""
    space_used_up = False
    converged = False
    ended_by: BudgetLimit | None = None  # the study's limit that ended the run (not a call limit such as n_trials)
    study._ensure_beater()
    study.reap_lost_trials()
    finished: list[TrialRecord] = []
    pending: set[int] = set()  # submitted, not told: an inline trial cut short is in no executor's list
    loop_began = study._clock()
    axis = AxisWatch(study.scheduler, history)
    examples = ExampleCountWatch(study.metric, history)
    unspent = UnspentResource(
        study.budget,
        history,
        run_limited=n_trials is not None or timeout is not None,
        fail_fast_on=systematic.limit is not None,  # with fail-fast on, failures get its message
        where=systematic.where,
    )
    meter = SearchProgress(study, n_trials=n_trials, timeout=timeout, show=progress, workers=runner.capacity)
    error: BaseException | None = None
    held: list[TrialOutcome] = []  # outcomes the executor returned that are not recorded yet
    telling: int | None = None  # the trial whose outcome is being recorded
    try:
        observers.notify("on_optimize_start", study)
        while True:
            meter.tick()
            while not stop_reason and runner.busy() < runner.capacity:
                if switch.requested:
                    stop_reason = STOPPED_BY_STUDY
                    break
                if n_trials is not None and started >= n_trials and not _last_promotions_due(study, runner.busy() > 0):
                    stop_reason = f"n_trials={n_trials} started"
                    break
                if timeout is not None and time.monotonic() - started_at >= timeout:
                    stop_reason = f"timeout of {timeout:g}s reached"
                    break
                try:
                    trial = study.ask()
                except BudgetExhausted as exc:
                    if exc.limit == "trials" and study.scheduler.pauses and runner.busy() > 0:
                        break  # no new trial, but a trial that pauses later may still be promoted
                    stop_reason, ended_by = str(exc), exc.limit
                    break
                except SearchSpaceExhausted as exc:
                    stop_reason, space_used_up = str(exc), True
                    break
                except SearchConverged as exc:
                    stop_reason, converged = str(exc), True
                    break
                if trial.number not in known:
                    started += 1
                    known.add(trial.number)
                pending.add(trial.number)  # before the warning: a warning raised as an error records it interrupted
                if spent is not None:
                    warnings.warn(spent, HoldoutSpentWarning, stacklevel=outside_stacklevel())
                    notes.insert(0, spent)
                    spent = None  # once a run
                observers.trial_start(study, trial)
                runner.submit(
                    TrialJob(
                        trial.number,
                        trial.proposed,
                        trial.seed,
                        start_step=trial.start_step,
                        checkpoint_dir=str(study.trial_checkpoint_dir(trial.number)),
                        space=study.space,  # for an objective that asks for parameters by name
                        learned=trial.learned,
                    )
                )
                # From its start, so that a compute budget counts the running trial's time times its GPUs.
                if gpus := runner.devices(trial.number):
                    _record_gpus(study, trial.number, gpus.get(GPUS), gpus.get(GPU_SHARE))
            if runner.busy() == 0:
                break
            held = runner.wait(timeout=1.0)
            while held:
                outcome, telling = held[0], held[0].number
                with naming_the_result(outcome.number, outcome.result, outcome.reason if outcome.failed else None):
                    record = _finish(study, outcome)
                del held[0]
                telling = None
                pending.discard(record.number)
                finished.append(record)
                meter.finished(record)
                observers.notify("on_trial_end", study, record)
                systematic.refused(record, outcome.extra.get(REFUSED_REPORT))  # raises ObjectiveError
                systematic.see(record)  # raises ObjectiveError: the objective is broken, not the configurations
                if systematic.reads_others:  # other workers' failures count too, until a trial worked
                    systematic.see_others(study.trials)
                unspent.see(record)  # raises ConfigError: trials that report no step never end a resource budget
                if off_axis := axis.see(record):
                    warnings.warn(off_axis, ResourceAxisWarning, stacklevel=outside_stacklevel())
                    notes.append(off_axis)
                if other_set := examples.see(record):
                    warnings.warn(other_set, ExampleCountWarning, stacklevel=outside_stacklevel())
                    notes.append(other_set)
    except BaseException as exc:
        error = exc
        # Interruptions are held while it records the stop: a second Ctrl-C cut it in two, between stopping a trial
        # process (SIGSTOP) and killing it, and the run hung waiting on it; or between the trials' records, and the
        # run left them RUNNING while its summary said none was. The run is stopping already.
        with holding_interrupts():
            stopped = _stop(study, runner, exc, held, telling, pending, loop_began, observers)
        with contextlib.suppress(Exception):
            observers.notify("on_optimize_end", study, None)
        stopped.attach(exc)
        if isinstance(exc, KeyboardInterrupt):
            exc.add_note(resume_hint(study) if stopped.all_recorded else _interrupted_note(study, stopped))
            raise
        if stopped == Stopped(stopped.reason):
            raise  # no trial was running
        if isinstance(exc, StudyNotFound):  # deleted under the run (`tunesmith delete --force`): nothing is kept
            exc.add_note(
                f"As the study stopped: study {study.name!r} is no longer in {study.storage.url or 'its storage'}, "
                "deleted while its trials ran (tunesmith delete --force, ts.delete_study(force=True)), so nothing this "
                "run did is recorded: run it again under a new study to keep its results"
            )
            raise
        if isinstance(exc, StorageUnavailable | StorageLost):
            # One message: what could not be stored, why, and what storage holds of every trial the loop ran.
            told = type(exc)(f"{exc}. As the study stopped: {stopped.describe(named=telling)}")
            stopped.attach(told)
            raise told from exc
        if not stopped.all_recorded:
            exc.add_note(f"As the study stopped: {stopped.describe()}")
        raise
    finally:
        runner.shutdown()
        meter.close(error)
        ended = study._clock()  # read before the reset: a simulated run ends at its simulated time
        study._clock = time.time
        study._simulated = False
    systematic.at_end()  # raises ObjectiveError: nothing worked in a run that failed again and again
    records = study.trials
    if ended_by == "trials" and study.budget.trials is not None:
        # What other workers still run, read now: at the ask that found the budget spent, a trial another worker
        # ran was named as still running, and the line said so after it ended while this run's own trials finished.
        places = study.budget.trials
        stop_reason = f"trial budget spent ({places}/{places}){study._others_running()}"
    spent_now = None
    if ended_by not in (None, "trials"):
        spent_now = spent_beyond_trials(study.budget, records, ended, scheduler=study.scheduler)
    if study.scheduler.pauses and spent_now is not None:
        # The run ended on its spent wall-time or resource budget, whose last `ask` retired the paused trials; one
        # told PAUSE before whose objective returned after it (a teardown, a slow worker) was left PAUSED for good,
        # its time uncounted once its heartbeat stopped. It ends where it paused, as those did. (A run stopped or
        # timed out leaves them to the next call, which the user may give an extended budget first.)
        _ask.retire_paused(study, records, f"{spent_now.message} while it waited at its rung for a promotion")
        records = study.trials
    states: dict[str, int] = {}
    for record in records:
        states[record.state.value] = states.get(record.state.value, 0) + 1
    finished_any = bool(states.get(TrialState.COMPLETE.value))
    beyond = spent_beyond_trials(study.budget, records, ended, scheduler=study.scheduler)  # the next call's first ask
    if waiting := paused_note(records, finished_any=finished_any, budget=study.budget, spent=beyond):
        warnings.warn(waiting, PausedTrialsWarning, stacklevel=outside_stacklevel())
        notes.append(waiting)
    if untrained := none_trained_note(records, study.scheduler, study.budget):
        warnings.warn(untrained, ShortTrainingWarning, stacklevel=outside_stacklevel())
        notes.append(untrained)
    elif (  # unless the forecast said it already: once is enough
        ended_by is not None
        and forecast is None
        and (short := short_training_note(records, study.scheduler, study.budget, ended_by))
    ):
        warnings.warn(short, ShortTrainingWarning, stacklevel=outside_stacklevel())
        notes.append(short)
    if not lonely and (uncompared := rounds.note()):  # with too few workers, `population_note` said why
        warnings.warn(uncompared, PopulationWarning, stacklevel=outside_stacklevel())
        notes.append(uncompared)
    usage = Budget.usage(records, ended)
    if ended_by in ("wall_time", "compute"):
        # The limit was found spent when a trial was asked for; the trials running then ran on, and their time
        # counts: the reason gives the time the run spent, as `status` and the overrun note give it. One ended short
        # of the limit, where too little was left to train a new trial to the end, gives that rule's reason, read
        # at the end as the next run's first ask would read it.
        if not study.budget.exhausted_limit(usage) and spent_now is not None and spent_now.limit == ended_by:
            stop_reason = spent_now.message
        else:
            stop_reason = study.budget.spent_sentence(ended_by, usage)
    if overrun := overrun_note(study.budget, usage.elapsed, finished):
        notes.append(overrun)
    if blocked := queue_beyond_budget(study, records):
        notes.append(blocked)  # enqueued configurations the spent budget never ran
    if untold := _untold_note(study, records):
        notes.append(untold)
    listing = listing_arguments(study.name, study.storage.url)
    if warned := trial_warnings.warned_note(finished, len({r.number for r in finished}), listing):
        notes.append(warned)
    no_result: str | None = None
    if study.budget.until_converged and not converged and (
        unjudged := unchecked_note(records, study.metric)
    ):
        notes.append(unjudged)
    if (space_used_up or converged or not _budget_left(study, records, usage, ended)) and (
        nothing := no_feasible_note(records, study.metric, study.objectives, study.guardrails, systematic.where)
    ):
        # Said, not raised: the trials are data, and a caller may read them; last, as what the run came to. With
        # fail-fast on, a run whose own trials all failed raised in `at_end`: every trial failed here when the caller
        # asked the run to go on (fail_fast=None), or the run started none.
        nothing = f"the budget is spent and study {study.name!r} has no result: {nothing}; the trials are kept"
        failed = _no_result_failures([r for r in records if r.invalidated is None])
        # At the caller's line, which Python's default filter shows once.
        category = AllTrialsFailedWarning if failed else NoFeasibleTrialWarning
        warnings.warn(nothing, category, stacklevel=outside_stacklevel())
        notes.append(nothing)
        no_result = nothing
    several = len(study.objectives) > 1  # no single best: the front, and the choice if one stands
    result = StudyResult(
        _best=None if several else study.best_of(records),
        trials_run=len({record.number for record in finished}),  # a trial paused and resumed ran once
        states=states,
        stop_reason=stop_reason or "done",
        elapsed=time.monotonic() - started_at,
        usage=usage,
        notes=tuple(notes),
        no_result=no_result,
        failures=[r for r in finished if r.state is TrialState.FAILED],
        space_used_up=space_used_up,
        converged=converged,
        front=tuple(pareto_front(records, study.objectives)) if several else None,
        chosen=study.chosen if several else None,
        _no_single_best=_multi.no_single_best(study),
    )
    observers.notify("on_optimize_end", study, result)
    return result


def _last_promotions_due(study: Study, running: bool) -> bool:
    """Whether trials wait PAUSED at their rungs, or may pause there (this run's are ``running``), while the
    study's budget is spent. Then the run goes on past ``n_trials``, which counts new trials: its next `Study.ask`
    starts none but makes the final promotions (a spent trial budget) or ends the paused trials where they paused (a
    spent wall-time or resource budget), as in a run that the budget ends. Stopping instead left them to the next
    call, which could do nothing but finish what this one left."""
    if not study.scheduler.pauses:
        return False
    records = study.trials
    if not running and not any(r.state is TrialState.PAUSED for r in records):
        return False
    trials = study.budget.trials
    if trials is not None and count_budgeted(records) >= trials:
        return True
    return spent_beyond_trials(study.budget, records, study._clock(), scheduler=study.scheduler) is not None


def refuse_unrunnable(objective: Objective, caller: str = "study.optimize") -> None:
    """Refuse, before the first trial, an objective no executor can run: no function at all, a coroutine function
    (``async def``, or an object whose ``__call__`` is one), whose call makes a coroutine nothing awaits, and one that
    cannot be called with the trial as its one positional argument (``def objective(params, data)``), which fails
    every trial. ``caller``: what runs it, as the message names it (``validate_top`` and ``evaluate_baseline`` run
    it too, where a failed run is recorded and fails the verdict until the runs are made again).

    The signature read is the callable's own (a ``functools.partial``'s what is left to pass, a callable object's
    ``__call__``'s, a decorator's wrapper's rather than the function it wraps, since the wrapper is what is called);
    one that cannot be read (some builtins) is not refused.
    """
    if not callable(objective):
        raise ConfigError(
            f"objective must be a function of a trial, got {type(objective).__name__} {excerpt(repr(objective))}: "
            f"pass the function itself to {caller}, not what calling it returned"
        )
    inner = objective.func if isinstance(objective, functools.partial) else objective
    name = getattr(inner, "__qualname__", None) or type(inner).__name__
    call = type(objective).__call__  # a callable object's method (a function's type has a plain slot wrapper)
    if any(inspect.iscoroutinefunction(f) or inspect.isasyncgenfunction(f) for f in (objective, call)):
        raise ConfigError(
            f"objective {name} is a coroutine function (async def): {caller} calls objective(trial) and "
            "records what it returns, which would be a coroutine that never runs. Make the objective a plain def "
            "and run the async code inside it: def objective(trial): return asyncio.run(async_objective(trial))"
        )
    try:
        signature = inspect.signature(objective, follow_wrapped=False)
    except (TypeError, ValueError):  # no signature to read: leave it to the trials
        return
    try:
        signature.bind(None)  # what every executor passes: the trial, positionally
    except TypeError as exc:
        shown = as_called(signature)
        each = "trial" if caller == "study.optimize" else "run"
        raise ConfigError(
            f"objective {name}{shown} cannot be called with the trial alone ({exc}): {caller} calls "
            f"objective(trial), with one positional argument, in every {each}. Define it as def objective(trial) and "
            f"read the configuration from trial.params (or trial.suggest_float(...)); pass other inputs with "
            f"functools.partial({name}, data=data) or a closure"
        ) from None


def _untold_note(study: Study, records: Sequence[TrialRecord]) -> str | None:
    """What `StudyResult.notes` says of the trials this `Study` object handed out with `Study.ask` and never told,
    still RUNNING as the run ends: each holds a place of the trial budget with no result (the run may have ended
    "trial budget spent (4/4)" after 3 results), and nothing learns from it."""
    untold = [r for r in records if r.state is TrialState.RUNNING and r.number in study._running]
    if not untold:
        return None
    first, one = untold[0].number, len(untold) == 1
    budget = "" if study.budget.trials is None else f" of the trial budget ({study.budget.trials} trials)"
    return (
        f"{'trial' if one else 'trials'} {_numbers(untold)}, handed out by study.ask() on this Study object, "
        f"{'was' if one else 'were'} never told: {'it stays' if one else 'they stay'} RUNNING and "
        f"{'holds a place' if one else 'hold places'}{budget} with no result that the sampler or best can use. "
        f"Tell {'it' if one else 'each'} its result (study.tell({first}, value)), or give it up without one "
        f"(study.tell({first}, reason='abandoned', kind=ts.TrialKind.INTERRUPTED): an interrupted trial spends no "
        "budget, so a later run uses its place)"
    )


def _stop(
    study: Study,
    runner: Executor,
    exc: BaseException,
    held: Sequence[TrialOutcome],
    telling: int | None,
    pending: set[int],
    since: float,
    observers: Observers,
) -> Stopped:
    """Record what the loop leaves as ``exc`` stops it, and say what storage holds of it (`Stopped`).

    The running trials are ended. Outcomes the executor returned and the loop did not record (``held``; after a
    storage failure, also those that came in while it waited for its storage) are stored as they are, except
    ``telling``'s, whose recording ``exc`` broke off: running it again could record another state. Every other
    trial is recorded FAILED of kind INTERRUPTED with the reason `cut_short_by` gives, a finished one with its
    outcome in the error. Storage is tried once for each (`without_waiting`): the loop has waited for it already,
    or was told to stop; after its first failure it is not tried again, and what is left stays RUNNING.
    """
    from tunesmith.storage._engine import without_waiting  # imported on first use: keeps `import tunesmith` light

    if isinstance(exc, StorageError):
        held = [*held, *_collected(runner)]
    outcomes = {o.number: o for o in held}
    cut_short = pending.union(runner.shutdown(kill=True))
    reason, said = cut_short_by(exc)  # a storage failure is not an interruption, nor told as one
    stored: list[int] = []
    interrupted: list[int] = []
    running: list[int] = []
    unstored: list[tuple[int, str]] = []
    answers = True  # whether storage answered every write so far
    with without_waiting():
        if isinstance(exc, KeyboardInterrupt):
            with contextlib.suppress(Exception):
                cut_short |= _started_here(study, since)  # Ctrl-C may land between creating a trial and running it
        for outcome in held:
            if outcome.number == telling or not answers:
                continue
            try:
                record = _finish(study, outcome)
            except StorageError:
                answers = False
                continue
            except Exception:  # noqa: BLE001 - recorded cut short below, with the outcome in its error
                continue
            stored.append(outcome.number)
            cut_short.discard(outcome.number)
            with contextlib.suppress(Exception):
                observers.notify("on_trial_end", study, record)
        for number in sorted(cut_short | (outcomes.keys() - set(stored))):
            if number == telling and answers and _recorded_finished(study, number):
                stored.append(number)  # the recording ``exc`` broke off had committed: storage holds its outcome
                continue
            ended = outcomes.get(number)
            text = None if ended is None else outcome_text(number, ended.result, _failure(ended))
            if text is not None:
                unstored.append((number, text))
            if not answers:
                running.append(number)
                continue
            error = said if text is None or text in said else f"{said}; it had finished: {text} was not stored"
            try:
                told = study.tell(number, reason=reason, error=error, kind=TrialKind.INTERRUPTED)
            except StorageError:
                answers = False
                running.append(number)
                continue
            except Exception:  # noqa: BLE001 - the loop is stopping for ``exc``; this one must not hide it
                running.append(number)
                continue
            interrupted.append(number)
            with contextlib.suppress(Exception):
                observers.notify("on_trial_end", study, told)
    return Stopped(reason, tuple(stored), tuple(interrupted), tuple(running), tuple(unstored))


def _recorded_finished(study: Study, number: int) -> bool:
    """Whether storage holds trial ``number`` finished: its recording, broken off by the exception that stops the
    loop, had committed. Told again, it was discarded (``ResultDiscardedWarning``) while the run's last message said
    it was "recorded FAILED (interrupted)" and its result "not stored", and storage held it COMPLETE. A storage that
    does not answer leaves it to be recorded cut short, as before."""
    try:
        return study.storage.get_trial(study._info.id, number).state.is_finished
    except Exception:  # noqa: BLE001 - the loop is stopping for another exception; this read must not hide it
        return False


def _failure(outcome: TrialOutcome) -> str | None:
    return outcome.reason if outcome.failed else None


def _collected(runner: Executor) -> list[TrialOutcome]:
    """The outcomes of trials that ended while the loop waited for its storage, taken from the executor without
    waiting for more; a report the storage cannot answer ends the taking."""
    from tunesmith.storage._engine import without_waiting  # imported on first use: keeps `import tunesmith` light

    taken: list[TrialOutcome] = []
    with without_waiting(), contextlib.suppress(Exception):
        while runner.busy() and (more := runner.wait(timeout=0)):
            taken.extend(more)
    return taken


def _interrupted_note(study: Study, stopped: Stopped) -> str:
    """What Ctrl-C left when storage did not hold all of it (`resume_hint` says it when it does)."""
    url = study.storage.url
    return (
        f"interrupted: {stopped.describe()}; the other trials of study {study.name!r} are kept in {url}; resume "
        f"with ts.Study.load({study.name!r}, storage={url!r}).optimize(objective)"
        + ("" if "***" not in url else " (put the password back into the storage URL)")
    )


def _started_here(study: Study, since: float) -> set[int]:
    """RUNNING trials this process started since ``since``: after Ctrl-C, none of them runs any more."""
    return {
        r.number
        for r in study.trials
        if r.state is TrialState.RUNNING and r.worker == study._worker and (r.started_at or 0.0) >= since
    }


def _record_gpus(study: Study, number: int, gpus: object, share: object = None) -> None:
    """Keep the GPUs trial ``number``'s process held (`ProcessExecutor(gpus_per_trial=...)`, a Ray task's) in its
    ``attrs["gpus"]``, after those of its earlier runs (a paused trial resumed on other GPUs), and the ``share`` of
    each it held where Ray shared a GPU among trials in ``attrs["gpu_share"]``: nothing for a trial that held none."""
    if not isinstance(gpus, list) or not gpus:
        return
    record = study.storage.get_trial(study._info.id, number)
    if record.state.is_finished:
        return  # a finished record never changes (reaped as lost meanwhile)
    held = [str(gpu) for gpu in record.attrs.get(GPUS) or ()]
    held += [gpu for gpu in map(str, gpus) if gpu not in held]
    attrs: dict[str, Any] = {GPUS: held, **({GPU_SHARE: share} if isinstance(share, float) else {})}
    if any(record.attrs.get(key) != value for key, value in attrs.items()):  # at its end, what its start recorded
        study.storage.update_trial(study._info.id, number, attrs=attrs)


def record_warnings(study: Study, number: int, found: object) -> None:
    """Keep the warnings trial ``number``'s objective raised (`tunesmith._trial_warnings`) in its
    ``attrs["warnings"]``, added to those of its earlier runs (a paused trial resumed), and note their kinds as shown
    (a trial process showed them)."""
    if not isinstance(found, list) or not found:
        return
    caught = trial_warnings.recorded({trial_warnings.KEY: found})
    trial_warnings.mark_shown(caught)
    record = study.storage.get_trial(study._info.id, number)
    if record.state.is_finished:
        return  # a finished record never changes (reaped as lost meanwhile)
    kept = trial_warnings.merged(trial_warnings.recorded(record.attrs), caught)
    study.storage.update_trial(study._info.id, number, attrs={trial_warnings.KEY: [w.to_json() for w in kept]})


def _finish(study: Study, outcome: TrialOutcome) -> TrialRecord:
    if outcome.decision is not Decision.CONTINUE and study._decisions.get(outcome.number) is Decision.CONTINUE:
        study._decisions[outcome.number] = outcome.decision
    conflict = _define_by_run.record(study, outcome.number, outcome.extra.get("defined_by_run"))
    _record_gpus(study, outcome.number, outcome.extra.get(GPUS), outcome.extra.get(GPU_SHARE))
    record_warnings(study, outcome.number, outcome.extra.get(trial_warnings.KEY))
    if conflict and not outcome.failed:
        return study.tell(outcome.number, reason=_define_by_run.CONFLICT, error=conflict, kind=TrialKind.EXCEPTION)
    if outcome.failed:
        # Every executor's text is bounded as stored: a crash's fault-handler dump, a simulated or Ray traceback.
        error = None if outcome.error is None else bounded_error(outcome.error)
        return study.tell(outcome.number, reason=outcome.reason, error=error, kind=outcome.kind)
    if outcome.ran_all_steps:
        ran_all_steps(study._decisions, study._stop_notes, outcome.number)
        trained_to_the_end(study, outcome.number, outcome.extra.get(TRAINED_TO))
    return study.tell(outcome.number, outcome.result)
