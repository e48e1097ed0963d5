"""Trials: the handle an objective sees (`Trial`) and the record storage keeps (`TrialRecord`)."""

from __future__ import annotations

import difflib
import json
import math
import numbers
import os
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from tunesmith import _report_rules as rules
from tunesmith._checkpoint_file import load_state, not_written, save_state
from tunesmith._report_rules import MAX_STEP, ReportRefused, StopFlag
from tunesmith._text import excerpt
from tunesmith._validate import integer
from tunesmith.decision import Decision
from tunesmith.errors import (
    MissingParameterError,
    OrphanedTrialError,
    ReadOnlyParamsError,
    TrialNotRunning,
    TunesmithError,
    not_running,
)
from tunesmith.objective import Metric
from tunesmith.space import JsonScalar, Param, Space
from tunesmith.space._define_by_run import AskedParams
from tunesmith.space._scalars import plain

__all__ = [
    "INVALIDATED", "MAX_STEP", "PAUSED_SPANS", "NotTheParamsError", "OptunaAttributeError", "OptunaHabitError",
    "OptunaReportError", "ReportRefused", "StopFlag", "StudyRef", "Trial", "TrialKind", "TrialParams", "TrialRecord",
    "TrialState", "best_record",
]  # fmt: skip

# The trial attribute `Study.invalidate` writes: the reason, for people; its presence is what code reads.
INVALIDATED = "invalidated"
# The trial attribute its resumptions write: ``[[paused_from, resumed_at], ...]`` (see `TrialRecord.paused`).
PAUSED_SPANS = "paused"


class TrialState(Enum):
    """Where a trial is in its life. Every state but RUNNING and PAUSED is final."""

    RUNNING = "running"
    PAUSED = "paused"
    COMPLETE = "complete"
    STOPPED = "stopped"
    FAILED = "failed"
    INFEASIBLE = "infeasible"

    @property
    def is_finished(self) -> bool:
        return self not in (TrialState.RUNNING, TrialState.PAUSED)


class TrialKind(Enum):
    """Why a trial stopped, failed or was infeasible: the typed cause code reads.

    The record's ``reason`` stays beside it as text for people; program logic reads the kind.
    COMPLETE, RUNNING and PAUSED trials have none.

    Stopped (STOPPED):
        SCHEDULER: the scheduler stopped it, or retired it unpromoted.
        DIVERGED: its primary metric went non-finite or grew past ``divergence_factor``.
        BUDGET: the wall-time, resource or trial budget ran out under it.
    Lost (FAILED; neither spends the trial budget):
        INTERRUPTED: its process is gone (on this host), or the study loop was interrupted.
        LOST_WORKER: its worker sent no heartbeat for ``grace`` seconds, or the Ray node under it died.
    Failed (FAILED):
        EXCEPTION: the objective raised.
        CRASH: the trial's process died (a signal, an exit code) without reporting.
        TIMEOUT: it ran past ``trial_timeout`` and was killed.
        OUT_OF_MEMORY: the objective raised `MemoryError` (e.g. under ``memory_limit``).
        NON_FINITE: the final primary metric is NaN or infinite.
        MISSING_METRIC: the result lacks the primary metric or a guardrail's metric.
        BAD_RESULT: the result could not be read (wrong type, not serialisable).
    Infeasible (INFEASIBLE):
        GUARDRAIL: a guardrail was breached.
        DECLARED: the objective raised `tunesmith.Infeasible`: the configuration cannot be run (no result; the
            curve it reported before stays). Never the objective's failure: fail-fast does not count it.
    """

    SCHEDULER = "scheduler"
    DIVERGED = "diverged"
    BUDGET = "budget"
    INTERRUPTED = "interrupted"
    LOST_WORKER = "lost_worker"
    EXCEPTION = "exception"
    CRASH = "crash"
    TIMEOUT = "timeout"
    OUT_OF_MEMORY = "out_of_memory"
    NON_FINITE = "non_finite"
    MISSING_METRIC = "missing_metric"
    BAD_RESULT = "bad_result"
    GUARDRAIL = "guardrail"
    DECLARED = "declared"

    @property
    def is_interruption(self) -> bool:
        """The trial's worker vanished under it: its configuration was never judged, so it is owed a rerun."""
        return self in (TrialKind.INTERRUPTED, TrialKind.LOST_WORKER)


@dataclass(frozen=True)
class TrialRecord:
    """Everything storage keeps about one trial; JSON-serialisable, never pickled.

    Attributes:
        number: position in the study, unique and gap-free from 0.
        params: the configuration.
        seed: the trial's seed, derived from the study seed and ``number``.
        state: see `TrialState`.
        metrics: final metrics (for STOPPED trials, the last reported values).
        intermediate: step -> metrics reported at that step (the learning curve).
        resource: resource units used (the largest step reported, or the length of a `Trial.steps` loop that ran to
            its end: `_outcome.trained_to_the_end`).
        started_at, finished_at, heartbeat_at: UNIX times.
        reason: a short reason for a non-COMPLETE state, for people ("exception: ValueError", ...).
        kind: why a trial stopped or failed, for code (see `TrialKind`); ``None`` for COMPLETE,
            RUNNING and PAUSED trials.
        error: the traceback or error text, when there is one.
        worker: ``host:pid`` of the process that ran the trial.
        attrs: free JSON attributes (sampler notes, retry counts, lineage).
    """

    number: int
    params: dict[str, Any]
    seed: int
    state: TrialState = TrialState.RUNNING
    metrics: dict[str, float] = field(default_factory=dict)
    intermediate: dict[int, dict[str, float]] = field(default_factory=dict)
    resource: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    heartbeat_at: float | None = None
    reason: str | None = None
    kind: TrialKind | None = None
    error: str | None = None
    worker: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        """One readable line: number, state (with its reason), parameters, final metrics, seed, resource and how many
        steps were reported; the curve, the traceback and the attributes stay in their fields (a 50-epoch trial's
        dataclass form ran to thousands of characters, printed by ``print(study.best)``)."""
        reason = self.brief_reason(60)
        state = self.state.value + (f" ({reason})" if reason else "")
        steps = sorted(self.intermediate)
        curve = "" if not steps else (
            f", {len(steps)} steps reported ({steps[0]} to {steps[-1]})" if len(steps) > 1 else f", step {steps[0]} "
            "reported")  # fmt: skip
        resource = f", resource={self.resource:g}" if self.resource else ""
        worker = "" if self.worker is None else f", worker={self.worker!r}"
        return (f"TrialRecord(#{self.number} {state}, params={self.params!r}, metrics={self.metrics!r}, "
                f"seed={self.seed}{resource}{curve}{worker})")

    def brief_reason(self, limit: int) -> str | None:
        """``reason``, or when it is longer than ``limit`` characters its head, the words before its first colon
        ("stop by pbt at step 5: ..."), at most ``limit`` characters with the marker: a listing's cell or a repr, where
        a scheduler's reason of several hundred characters made each row a paragraph (`reason` holds it whole)."""
        if self.reason is None or len(self.reason) <= limit:
            return self.reason
        head = self.reason.split(": ", 1)[0]
        return (head if len(head) <= limit - 5 else head[: limit - 8].rstrip() + "...") + ": ..."

    @property
    def duration(self) -> float | None:
        """Seconds it ran: from its start to its end, less the time it waited paused at a rung."""
        if self.started_at is None or self.finished_at is None:
            return None
        waited = sum(max(0.0, min(end, self.finished_at) - max(start, self.started_at)) for start, end in self.paused)
        return self.finished_at - self.started_at - waited

    @property
    def paused(self) -> list[tuple[float, float]]:
        """The spans it waited paused at a rung before a resumption (``attrs["paused"]``, written when it resumed):
        no running time, however long a study waited between two runs."""
        spans = self.attrs.get(PAUSED_SPANS)
        if not isinstance(spans, list):
            return []
        return [(float(a), float(b)) for a, b in (span for span in spans if isinstance(span, list) and len(span) == 2)]

    @property
    def invalidated(self) -> str | None:
        """Why `Study.invalidate` took this trial out of best, the samplers, schedulers and the
        discipline (``attrs["invalidated"]``); ``None`` for a valid trial."""
        reason = self.attrs.get(INVALIDATED)
        return reason if isinstance(reason, str) else None

    def value(self, metric: str) -> float | None:
        """The final value of ``metric`` (``None`` when absent or not finite)."""
        v = self.metrics.get(metric)
        return v if v is not None and math.isfinite(v) else None

    def curve(self, metric: str) -> list[tuple[int, float]]:
        """``(step, value)`` pairs of ``metric`` in step order."""
        return [(step, m[metric]) for step, m in sorted(self.intermediate.items()) if metric in m]

    def value_at(self, metric: str, step: int) -> float | None:
        """The value reported at ``step`` exactly (``None`` when not reported)."""
        reported = self.intermediate.get(step)
        return None if reported is None else reported.get(metric)

    def evolve(self, **changes: Any) -> TrialRecord:
        """A copy with ``changes`` applied, sharing the fields it does not change (as `dataclasses.replace` does).

        Built without ``__init__``: a multi-fidelity study's samplers copy every record at every ask (the rung view,
        `tunesmith.fidelity.rung_view`), and `dataclasses.replace` cost 8 µs a copy, a tenth of such a study's time.

        Raises:
            TypeError: a change names no field of the record.
        """
        unknown = changes.keys() - _RECORD_FIELDS
        if unknown:
            named = ", ".join(sorted(unknown))
            raise TypeError(f"TrialRecord has no field {named}: its fields are {', '.join(sorted(_RECORD_FIELDS))}")
        copy = object.__new__(type(self))
        vars(copy).update(vars(self), **changes)
        return copy

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "params": self.params,
            "seed": self.seed,
            "state": self.state.value,
            "metrics": self.metrics,
            "intermediate": {str(k): v for k, v in sorted(self.intermediate.items())},
            "resource": self.resource,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "heartbeat_at": self.heartbeat_at,
            "reason": self.reason,
            "kind": None if self.kind is None else self.kind.value,
            "error": self.error,
            "worker": self.worker,
            "attrs": self.attrs,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrialRecord:
        return cls(
            number=int(data["number"]),
            params=dict(data["params"]),
            seed=int(data["seed"]),
            state=TrialState(data["state"]),
            metrics={k: float(v) for k, v in data.get("metrics", {}).items()},
            intermediate={int(k): dict(v) for k, v in data.get("intermediate", {}).items()},
            resource=float(data.get("resource", 0.0)),
            started_at=data.get("started_at"),
            finished_at=data.get("finished_at"),
            heartbeat_at=data.get("heartbeat_at"),
            reason=data.get("reason"),
            kind=None if data.get("kind") is None else TrialKind(data["kind"]),
            error=data.get("error"),
            worker=data.get("worker"),
            attrs=dict(data.get("attrs", {})),
        )


_RECORD_FIELDS = frozenset(f.name for f in fields(TrialRecord))


def best_record(records: Iterable[TrialRecord], metric: Metric) -> TrialRecord | None:
    """The best COMPLETE trial with a finite ``metric`` (the earliest on ties); STOPPED, FAILED,
    INFEASIBLE and invalidated trials never qualify."""
    best: TrialRecord | None = None
    best_value: float | None = None
    for record in records:
        value = record.value(metric.name)
        if record.state is not TrialState.COMPLETE or value is None or record.invalidated is not None:
            continue
        if best_value is None or metric.better(value, best_value):
            best, best_value = record, value
    return best


Reporter = Callable[[int, dict[str, float]], Decision]


class OptunaHabitError(TunesmithError):
    """An Optuna call made on a tunesmith `Trial`; the message names the tunesmith call that does the same."""


class OptunaAttributeError(OptunaHabitError, AttributeError):
    """An Optuna attribute a `Trial` does not have (``should_prune``, ``set_user_attr``, ``user_attrs``)."""


class NotTheParamsError(TunesmithError, TypeError):
    """The objective read the `Trial` it receives as its parameters (``trial["lr"]``, an objective written as
    ``def objective(params)``): the parameters are ``trial.params``. A `TypeError`, as Python raises for an object
    that is not subscriptable, with the fix in its message."""


class OptunaReportError(OptunaHabitError, TypeError):
    """``trial.report(value, step)``, Optuna's order, where a `Trial` takes the step and then metrics by name."""


_USER_ATTRS_FIX = (
    "tunesmith keeps no per-trial user attributes: return the numbers to keep as extra entries of the result "
    "dict (return {'loss': loss, 'epochs': 12}: every entry is stored with the trial's metrics), and put what "
    "describes the whole study in study.set_attr(key, value); an imported Optuna study keeps its trials' user "
    "attributes in study.trials[i].attrs['user_attrs']"
)
# Optuna's `Trial` attributes that a tunesmith `Trial` lacks, with what to write instead.
# What an objective written for a dict of parameters calls on the trial it is handed instead.
_MAPPING_METHODS = frozenset({"get", "keys", "items", "values"})
_PARAMS_FIX = "the objective receives a ts.Trial, whose parameters are trial.params (def objective(trial): ...)"

_OPTUNA_ATTRIBUTES = {
    "should_prune": (
        "trial.should_prune() is Optuna's; a tunesmith trial asks trial.should_stop(), true once the study's "
        "scheduler answered STOP or PAUSE to the last report: end with `if trial.should_stop(): return` (the "
        "study records the trial STOPPED; no TrialPruned to raise), or loop over trial.steps(n), which ends by itself"
    ),
    "set_user_attr": f"trial.set_user_attr(key, value) is Optuna's; {_USER_ATTRS_FIX}",
    "user_attrs": f"trial.user_attrs is Optuna's; {_USER_ATTRS_FIX}",
}


def _optuna_report(value: object, step: int) -> str:
    """The message for ``trial.report(value, step)``, Optuna's argument order."""
    return (
        f"trial.report({value!r}, {step!r}) passes a value and then a step, Optuna's order; a tunesmith trial takes "
        f"the step first, counted from 1 (an Optuna loop's step + 1), and names each metric: "
        f"trial.report({step + 1}, loss={value!r}) with the study's metric name for loss, or trial.report(loss="
        f"{value!r}) for one step after the last report"
    )


def _refuse_positional(first: object, rest: tuple[object, ...]) -> None:
    """Raise for `Trial.report` given positional arguments after the step: `OptunaReportError` for Optuna's
    ``report(value, step)``, a `TypeError` naming the signature otherwise."""
    second = rest[0]
    a_value = isinstance(first, numbers.Real) and not isinstance(first, numbers.Integral)
    if len(rest) == 1 and a_value and isinstance(second, numbers.Integral) and not isinstance(second, bool):
        raise OptunaReportError(_optuna_report(first, int(second)))
    given = ", ".join(repr(a) for a in (first, *rest))
    raise TypeError(
        f"trial.report() takes one positional argument, the step, and metrics by name, but got {1 + len(rest)} "
        f"positional arguments ({given}): write trial.report(step, loss=value), or trial.report(loss=value)"
    )


@dataclass(frozen=True)
class StudyRef:
    """The study that handed a trial out: its name and its id in storage, what `Study.tell` checks a `Trial`
    against (its number names another trial in any other study)."""

    name: str
    id: int


class TrialParams(dict[str, Any]):
    """A trial's configuration, a dict whose missing key raises `MissingParameterError` (a `KeyError`) that says
    why: a parameter its condition switches off in this trial, one defined by run that this trial has not asked
    for yet, or a name the trial has no parameter of (a typo), with the fix. A bare ``KeyError: 'y'`` sent people
    to the traceback, and fail-fast suggested that some configurations might raise it on purpose (it no longer
    does for this error). It pickles and copies as a plain dict.

    It is read-only to the objective: setting, deleting or popping a key raises `ReadOnlyParamsError`. It is the
    configuration the study records, and a change ran values the records did not hold; in a study defined by run
    the change was recorded instead of what the trial asked for (``params.pop("x")`` lost ``x`` from the trial's
    record, and a sampler fitted values its trials never drew). The trial's own answers to ``suggest_*`` are
    stored past the refusal (`tunesmith.space._define_by_run.AskedParams`)."""

    def __init__(self, values: Mapping[str, Any], space: Space | None, learned: Collection[str]) -> None:
        super().__init__(values)
        self._space = space
        self._learned = frozenset(learned)

    def __reduce__(self) -> tuple[Any, ...]:
        return dict, (dict(self),)

    def __missing__(self, name: str) -> Any:
        raise MissingParameterError(self._why_missing(name))

    def _refuse(self, change: str) -> NoReturn:
        raise ReadOnlyParamsError(
            f"{change} changes trial.params, which is read-only: it is the configuration the study records for this "
            "trial, and a change would run values the records do not hold. Copy it first and change the copy "
            "(params = dict(trial.params)); to try other values, put them in the space or enqueue them "
            "(study.enqueue)"
        )

    def __setitem__(self, name: str, value: Any) -> None:
        self._refuse(f"trial.params[{name!r}] = {value!r}")

    def __delitem__(self, name: str) -> None:
        self._refuse(f"del trial.params[{name!r}]")

    def __ior__(self, other: Any) -> NoReturn:  # type: ignore[misc]
        self._refuse("trial.params |= ...")

    def pop(self, name: str, *default: Any) -> Any:
        self._refuse(f"trial.params.pop({name!r})")

    def popitem(self) -> tuple[str, Any]:
        self._refuse("trial.params.popitem()")

    def clear(self) -> None:
        self._refuse("trial.params.clear()")

    def setdefault(self, name: str, default: Any = None) -> Any:
        if name in self:
            return self[name]
        self._refuse(f"trial.params.setdefault({name!r}, {default!r})")

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._refuse("trial.params.update(...)")

    def _why_missing(self, name: object) -> str:
        space = self._space
        names = [] if space is None else list(space)
        if space is not None and name in names and not space.is_active(str(name), self):
            conditions = space[str(name)].conditions
            parent = next((parent for parent, allowed in conditions.items()
                           if parent not in self or not space.is_active(parent, self)
                           or json.dumps(plain(self[parent])) not in {json.dumps(v) for v in allowed}),
                          next(iter(conditions)))  # fmt: skip
            here = f"= {self[parent]!r}" if parent in self else "is not set"
            return (f"{name!r} is not active in this trial: it is set only when {parent} is one of "
                    f"{[*conditions[parent]]!r}, and here {parent} {here}; read it with trial.params.get({name!r}, "
                    "default), or only where its condition holds")  # fmt: skip
        if name in self._learned:
            return (f"{name!r} is a parameter defined by run that this trial has not asked for yet: ask for it with "
                    f"trial.suggest_float/suggest_int/suggest_categorical({name!r}, ...) before reading "
                    "trial.params")  # fmt: skip
        known = sorted({*self, *self._learned, *names})
        close = difflib.get_close_matches(str(name), known, n=1)
        guess = f" Did you mean {close[0]!r}?" if close else ""
        listed = ", ".join(known) if known else "none"
        return (f"{name!r} is not a parameter of this trial (its parameters: {listed}).{guess} Declare it in the "
                f"space, or ask for it by run with trial.suggest_float({name!r}, low, high) (or suggest_int, "
                "suggest_categorical)")  # fmt: skip


class Trial:
    """The handle an objective receives.

    Example:
        >>> def objective(trial):
        ...     for epoch in trial.steps(50):      # stops early when the scheduler says so
        ...         loss = train_one_epoch(trial.params["lr"])
        ...         trial.report(val_loss=loss)    # step = epochs done
        ...     return {"val_loss": loss}

    Define-by-run: an objective may ask for its parameters as it goes, with `suggest_float`,
    `suggest_int` and `suggest_categorical` (a conditional parameter is one asked for inside an ``if``).
    ``space`` is what the study knew when it handed the trial out: a parameter it knows returns the
    trial's value, a new one is drawn from its prior with the trial's seed (the study learns it when the
    trial is told). Without ``space`` the trial re-runs a fixed configuration (the discipline's seed
    re-runs, a baseline): asking for a parameter it lacks raises `SpaceError` instead of drawing one.
    ``learned`` names the parameters of ``params`` the study learned from trials that asked for them: ``params``
    holds one only once this trial's objective asks for it, so a branch that never asks (``momentum`` in an adam
    trial) never sees a value for it (`proposed` holds the whole proposal).

        >>> def objective(trial):                   # ts.Study() with no space learns it from these
        ...     lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
        ...     if trial.suggest_categorical("optimizer", ["adam", "sgd"]) == "sgd":
        ...         momentum = trial.suggest_float("momentum", 0.8, 0.99)   # only sgd trials have it

    ``parent_pid`` is set by an executor that runs the trial in a child process: the pid of the
    process that records it. Once the trial's process has another parent (the driver died and it
    was re-parented), it is an orphan whose trial a later run may already have recorded, and
    `checkpoint_dir` and `save_checkpoint` raise `OrphanedTrialError` instead of writing.

    ``study`` is the study that handed the trial out (`Study.ask`), which alone may be told its result; ``None``
    for a trial an executor or a re-run built, told by number. Once the trial has ended (`end`), `report` and the
    ``suggest_*`` calls raise `TrialNotRunning`: nothing would store them.
    """

    def __init__(
        self,
        number: int,
        params: Mapping[str, Any],
        seed: int,
        reporter: Reporter | None = None,
        *,
        start_step: int = 0,
        checkpoint_dir: Path | None = None,
        parent_pid: int | None = None,
        space: Space | None = None,
        study: StudyRef | None = None,
        learned: Collection[str] = (),
    ) -> None:
        self.number = number
        self.study = study
        self.params: dict[str, Any] = TrialParams(
            {name: value for name, value in params.items() if name not in learned}, space, learned
        )
        self.seed = seed
        offered = {name: params[name] for name in learned if name in params}
        self._asked = AskedParams(number, self.params, seed, space, offered)
        self.start_step = start_step
        self._checkpoint_dir = checkpoint_dir
        self._parent_pid = parent_pid
        self._reporter = reporter
        self._step = start_step
        self._decision = Decision.CONTINUE
        self._planned: int | None = None
        self._looped: bool | None = None  # whether the last `steps` loop ran to its end (None: no loop yet)
        self._training: int | None = None  # inside a `steps` loop: the steps done once this iteration's is done
        self._refused: str | None = None
        self._reported_at_step: set[str] = set()  # the metrics this run reported at its last step
        self._ended = False
        self._recorded: TrialState | None = None  # the state `Study.tell` recorded, once it told this handle

    def __repr__(self) -> str:
        return f"Trial(number={self.number}, params={self.params}, seed={self.seed})"

    # A Trial is the handle on one stored trial, not a value: a copy would take reports, refusals and the study's
    # decisions that never reach the trial the study records. scikit-learn's clone (cross_val_score, GridSearchCV)
    # deep-copies an estimator's callbacks and with them their trial, so a copy is the trial itself. Pickling is
    # not affected: executors send a `TrialJob` to a trial's process, which builds its own handle.
    def __copy__(self) -> Trial:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Trial:
        return self

    def suggest_float(
        self, name: str, low: float, high: float, *, log: bool = False, step: float | None = None
    ) -> float:
        """The float parameter ``name`` in ``[low, high]`` (log-uniform with ``log=True``, multiples of
        ``step`` from ``low`` with a step): the trial's value, or a draw from that prior for a new parameter.

        Raises:
            SpaceError: the study defines ``name`` otherwise (the message shows both definitions), or the
                trial re-runs a fixed configuration without it.
            TrialNotRunning: the trial has ended (see `end`).
        """
        self._refuse_if_ended(f"suggest_float({name!r})")
        return float(self._asked.suggest_float(name, low, high, log=log, step=step))

    def suggest_int(self, name: str, low: int, high: int, *, log: bool = False, step: int = 1) -> int:
        """The integer parameter ``name`` in ``[low, high]``; see `suggest_float`."""
        self._refuse_if_ended(f"suggest_int({name!r})")
        return int(self._asked.suggest_int(name, low, high, log=log, step=step))

    def suggest_categorical(self, name: str, choices: Sequence[JsonScalar]) -> Any:
        """The categorical parameter ``name``, one of ``choices`` (JSON scalars); see `suggest_float`."""
        self._refuse_if_ended(f"suggest_categorical({name!r})")
        return self._asked.suggest_categorical(name, choices)

    def end(self, recorded: TrialState | None = None) -> None:
        """Mark the trial ended: from now on `report` and the ``suggest_*`` calls raise `TrialNotRunning`, since
        nothing would store them (a step that goes back is still refused with `ReportRefused`, the trial's own rule).

        `Study.tell` calls it with the state it ``recorded``; an executor calls it without one once the objective
        returned, so a handle kept past its run (in a list, a closure) cannot report to, or draw parameters for, a
        trial already recorded.
        """
        self._ended = True
        self._recorded = recorded

    def _refuse_if_ended(self, call: str, *, report: bool = False) -> None:
        """Raise `TrialNotRunning` for ``call`` (a `report` when ``report``) once the trial has ended."""
        if not self._ended:
            return
        if self._recorded is not None and report:
            raise TrialNotRunning(not_running(self.number, self._recorded.value))  # what storage says after a tell
        if self._recorded is not None:
            raise TrialNotRunning(
                f"trial #{self.number} is {self._recorded.value}, not running: {call} would give a value stored "
                "nowhere, since study.tell recorded the trial's parameters already; ask for every parameter before "
                "study.tell, and for a new configuration ask the study for a new trial (study.ask())"
            )
        raise TrialNotRunning(
            f"trial #{self.number} is not running: its objective returned and the study recorded the trial, so "
            f"{call} would be stored nowhere. A Trial serves the one run of the objective it was passed to: report "
            f"and call suggest_* inside that run, and read the recorded trial from study.trials (a handle kept after "
            "the objective returned, in a list or a closure, cannot add to it; a new evaluation is a new trial)"
        )

    @property
    def proposed(self) -> dict[str, Any]:
        """The configuration the study proposed: `params` and the values of learned parameters (ones trials asked
        for by name) the objective has not asked for, which `params` holds only once it asks."""
        return {**self.params, **self._asked.offered}

    @property
    def learned(self) -> tuple[str, ...]:
        """The learned parameters of `proposed` not yet asked for (see `proposed`)."""
        return tuple(self._asked.offered)

    @property
    def asked(self) -> dict[str, Param]:
        """The definitions this trial asked for by name, in the order asked."""
        return dict(self._asked.definitions)

    def defined_by_run(self) -> dict[str, Any] | None:
        """What flows back to the study when the objective asked for parameters by name (JSON: the trial's
        ``params``, the ``definitions`` asked for and the names whose enqueued value an ask ``refused``); ``None``
        when it asked for none."""
        return self._asked.to_json() if self._asked.definitions or self._asked.refused else None

    @property
    def checkpoint_dir(self) -> Path:
        """This trial's own directory for checkpoints (any files, any format), created on first use.

        A trial resumed after a pause, or started by PBT from another trial's state, finds the
        files it (or its parent) left here.

        Raises:
            OrphanedTrialError: the trial's process outlived the driver that records it.
            CheckpointWriteError: the folder cannot be created (a path under a regular file, no permission, a full
                disk): an `OSError` and a `TunesmithError` naming the folder and the fix.
        """
        self._refuse_if_orphaned()
        if self._checkpoint_dir is None:
            raise TunesmithError(
                "this trial has no checkpoint directory: create the study with checkpoint_dir=... "
                "or run it through Study.ask/optimize"
            )
        try:
            self._checkpoint_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise not_written(self._checkpoint_dir, exc) from None
        return self._checkpoint_dir

    @property
    def resumed(self) -> bool:
        """Whether the trial starts from a checkpoint (after a pause, or as a PBT continuation)."""
        return self.start_step > 0

    def save_checkpoint(self, state: Mapping[str, Any], *, step: int | None = None) -> Path:
        """Save plain state: JSON values with string keys, and numpy arrays (kept exactly in an ``.npz``).

        The step is stored alongside, so a continuation given these files starts where they stand: ``step``, the
        steps of training the state holds, when given; else the last step reported, or inside a `steps` loop the
        step its iteration trains, whether saved before or after its report. A loop of its own that saves before
        it reports (train, save, ``report(step=n)``) passes ``step=n``: else the state is stamped with the step
        reported before, and a promotion refuses to resume it (`CheckpointMissing`). Writes are atomic: the arrays
        go to a file of their own first and the state that names them replaces the old one in one rename, so a
        crash mid-save leaves the previous checkpoint intact, arrays and all.

        Raises:
            TunesmithError: a value JSON cannot hold, or a key that is not a string (``{1: 2}`` loads as ``{"1": 2}``).
            OrphanedTrialError: the trial's process outlived the driver that records it.
            CheckpointWriteError: the folder cannot be created or written (a full disk, no permission); the
                previous checkpoint stands and nothing of this one is left.
        """
        given = integer("step", step, minimum=0, allow_none=True, context="save_checkpoint", error=TunesmithError)
        directory = self.checkpoint_dir
        # Inside a `steps` loop the state is that of the step this iteration trains, whether it is saved before
        # its report or after: a continuation or a resume starts from the step its files hold.
        save_state(directory, max(self._step, self._training or 0) if given is None else given, state)
        return directory

    def _refuse_if_orphaned(self) -> None:
        if self._parent_pid is not None and os.getppid() != self._parent_pid:
            raise OrphanedTrialError(
                f"trial {self.number} may not write checkpoints: its process outlived the study's driver "
                f"(parent pid {os.getppid()}, expected {self._parent_pid}), so a later run may already have "
                "recorded this trial; this process should exit"
            )

    def load_checkpoint(self) -> dict[str, Any] | None:
        """The state last saved with `save_checkpoint` (by this trial or the one it continues), or ``None``.

        Raises:
            TunesmithError: the checkpoint's files were damaged or changed outside `save_checkpoint`.
        """
        return None if self._checkpoint_dir is None else load_state(self._checkpoint_dir)

    @property
    def step(self) -> int:
        """Resource units done so far (the step of the last report)."""
        return self._step

    @property
    def decision(self) -> Decision:
        """The last decision received from the study."""
        return self._decision

    def plan(self, n: int) -> None:
        """Declare that the trial trains for ``n`` steps in all, for objectives that report without
        `steps` (the training-library callbacks call it with the library's epoch or round count): a stop
        the study answers at step ``n`` (a budget running out) then cuts nothing short, and the trial is
        recorded finished, as with `steps`."""
        self._planned = integer("n", n, minimum=1, context="plan(n)", error=TunesmithError)

    def steps(self, n: int) -> Iterator[int]:
        """Yield 0-based steps up to ``n``, resuming after the last reported step.

        The iteration ends early once the study decides this trial should stop or pause.
        """
        integer("n", n, minimum=1, context="steps(n)", error=TunesmithError)
        self._planned = n
        self._looped = False
        try:
            for step in range(self._step, n):
                if self.should_stop():
                    return
                self._training = step + 1
                yield step
        finally:
            self._training = None
        self._looped = True  # every planned step ran: the loop ended by itself, not on a stop

    if not TYPE_CHECKING:  # hidden from type checkers, which would otherwise accept any attribute name

        def __getattr__(self, name: str) -> Any:
            """Only for an attribute not found: Optuna's ``should_prune``, ``set_user_attr`` and ``user_attrs``
            raise `OptunaAttributeError` with the tunesmith equivalent; any other name Python's usual error."""
            fix = _OPTUNA_ATTRIBUTES.get(name)
            if fix is not None:
                raise OptunaAttributeError(fix)
            if name in _MAPPING_METHODS:  # def objective(params): params.get("lr") on the trial it is handed
                raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}: {_PARAMS_FIX}",
                                     name=name, obj=self)  # fmt: skip
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}", name=name, obj=self)

        def __getitem__(self, key: object) -> Any:
            """``trial["lr"]``: refused with the fix, the parameters being ``trial.params``."""
            raise NotTheParamsError(f"{type(self).__name__!r} object is not subscriptable: {_PARAMS_FIX}, e.g. "
                                    f"trial.params[{excerpt(repr(key), 40)}]")  # fmt: skip

    def report(self, step: int | None = None, *optuna_order: object, **metrics: float) -> Decision:
        """Record intermediate metrics at ``step``: by default the steps done, inside a `steps` loop (a loop that
        reports every third epoch spends three steps a report, as the budget and the rungs count them), else one
        step after the last report.

        Steps must increase: after the last one reported (the same step again only with metrics not reported at
        it yet, which join it), and for a resumed trial after ``start_step``. Once the
        study answered STOP or PAUSE, the trial reports nothing more but metrics that join the step it was told
        at (logged after the one the scheduler ranks by); the decision stands. Returns the study's decision;
        `should_stop` turns true on STOP or PAUSE.

        Raises:
            ReportRefused: a step at or below the last one, or a report after a STOP or PAUSE (nothing is
                recorded; run through `Study.optimize`, the trial is recorded FAILED and the run stops).
            TrialNotRunning: the trial has ended (see `end`): nothing is recorded and the step stays.
            OptunaReportError: ``report(value, step)``, Optuna's order (``optuna_order`` catches the step): the
                message gives the tunesmith call. Any other second positional argument raises `TypeError`.
        """
        if optuna_order:
            _refuse_positional(step, optuna_order)
        if not metrics:
            raise TunesmithError("report() needs at least one metric, e.g. trial.report(val_loss=0.3)")
        counted = step is None and self._training is not None  # the steps the `steps` loop has done
        if step is None:
            step = self._training if self._training is not None else self._step + 1
        else:
            step = rules.report_step(step)
        values = {str(k): rules.report_value(str(k), v) for k, v in metrics.items()}
        again = set(values) & self._reported_at_step
        # Metrics not reported yet at the very step the study stopped or paused the trial join that step: logging
        # them (a learning rate after the loss) trains nothing more, and the decision stands.
        joins_its_last_step = step == self._step and not again
        if self._decision is not Decision.CONTINUE and not joins_its_last_step:
            refused: str | None = rules.after_stop(self.number, self._decision, self._step, step)
        elif counted and step == self._step and again:
            refused = rules.twice_in_a_step(self.number, step, again)
        else:
            refused = rules.out_of_order(self.number, step, self._step, self.start_step, again=again)
        # Once the trial ended, a step going back still breaks its own rule; a report after a stop is one after its end.
        if refused is None or self._decision is not Decision.CONTINUE:
            self._refuse_if_ended(f"report({', '.join(f'{k}=...' for k in values)}) at step {step}", report=True)
        if refused is not None:
            self._refused = self._refused or refused
            raise ReportRefused(refused)
        if self._reporter is not None:
            told = self._reporter(step, values)
            self._decision = told if self._decision is Decision.CONTINUE else self._decision
        self._reported_at_step = set(values) | (self._reported_at_step if step == self._step else set())
        self._step = step  # once recorded: a report the study raised for (not running any more) recorded nothing
        return self._decision

    @property
    def refused(self) -> str | None:
        """`ReportRefused`'s message for the first refused report, or ``None`` (it fails the trial even if caught)."""
        return self._refused

    def refuse(self, why: str) -> None:
        """Record that the objective breaks the report rules before it reports: for a training-library callback
        that sees, before training, that its reports would go back over steps done (a resumed Keras fit without
        ``initial_epoch=trial.step``), and raises its own error with ``why`` (the rule, the values and the fix).

        The trial then fails as after a refused report, even if that error is caught, and `Study.optimize` stops
        the run with ``why``, since every trial would break the rule again. Only the first refusal is kept.
        """
        self._refused = self._refused or why

    @property
    def trained_to(self) -> int | None:
        """The last step the trial trained when its `steps` loop ran to its end (its ``n``), ``None`` otherwise: an
        objective that reports every fifth of 27 epochs last reported step 25, yet trained 27, which the study
        records as the trial's resource when it is told."""
        return self._planned if self._looped else None

    @property
    def ran_all_steps(self) -> bool:
        """Whether the trial trained to the end: the `steps` loop ran its last step (whatever the report steps
        counted, epochs or optimizer steps), or, with `plan`, the last report reached the planned step. A stop
        the study answered at that last report (a budget running out) then cut nothing short."""
        if self._looped is not None:
            return self._looped
        return self._planned is not None and self._step >= self._planned

    @property
    def should_stop(self) -> StopFlag:
        """Whether the study has told this trial to stop (or pause) at its last report: ``trial.should_stop()``,
        as documented; ``if trial.should_stop:`` (the call forgotten, Optuna's ``should_prune`` habit) reads
        the same, where a bound method would always be true and stop every trial after its first report."""
        return StopFlag(self._decision is not Decision.CONTINUE)
