"""What every training-library callback shares: read the library's metrics, report one epoch or
boosting round to the trial, tell the library whether to stop, and refuse a run that would not count on
from the steps its trial has done."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from tunesmith.errors import ArgumentError, ConfigError, TunesmithError
from tunesmith.study import Study
from tunesmith.trial import Trial

__all__ = [
    "Extra", "ExtraMetrics", "MetricNotReported", "missing_monitor", "refuse_going_back", "report_and_decide",
    "report_without_monitor", "require_trial", "scalars",
]  # fmt: skip

Extra = Mapping[str, float] | Callable[[], Mapping[str, float]]
"""What a callback's ``extra=`` takes: metrics to add to every report, fixed, or read anew by a call at each one."""

# Counters a library logs beside its metrics: they are the step itself, never a metric to judge.
_COUNTERS = frozenset({"step", "epoch"})
# How much of a wrong argument's repr an error shows (a DataFrame passed as the trial would fill the screen).
_SHOWN_CHARS = 80


class MetricNotReported(TunesmithError, KeyError):
    """A callback's monitored metric is not among the metrics the training library produced.

    Also a `KeyError`, what a lookup of a missing name raises; the message names the metric, the
    ones the library did produce and how to fix the mismatch.
    """

    def __str__(self) -> str:  # KeyError quotes its argument; keep the message readable.
        return str(self.args[0]) if self.args else ""


def require_trial(value: object, callback: str) -> Trial:
    """``value`` when it is a `Trial`, checked where a callback is built: otherwise the first hook that reads it
    fails inside training with a bare ``AttributeError``.

    Args:
        value: what the callback was given as its first argument.
        callback: the callback, for the message ("XGBoost's TunesmithCallback").

    Raises:
        ArgumentError: ``value`` is not a `Trial` (also a `TypeError`).
    """
    if isinstance(value, Trial):
        return value
    shown = _shown(value)
    if isinstance(value, Study):
        fix = (
            "build the callback inside the objective, from the trial the study passes it "
            "(def objective(trial): ... TunesmithCallback(trial, monitor=...)), or from the trial study.ask() returns"
        )
    elif isinstance(value, str):
        fix = f"the trial comes first and the monitored metric by name: TunesmithCallback(trial, monitor={value!r})"
    else:
        fix = "pass the trial the objective receives: TunesmithCallback(trial, monitor=...)"
    raise ArgumentError(
        f"{callback} reports to a trial, so its first argument must be the objective's Trial, but got "
        f"{shown} ({type(value).__name__}): {fix}"
    )


def scalars(values: Mapping[str, Any]) -> dict[str, float]:
    """The entries of ``values`` that are single numbers (Python or NumPy numbers, one-element tensors),
    as floats; counters (``step``, ``epoch``) and anything else (strings, arrays, None) are left out."""
    found: dict[str, float] = {}
    for name, value in values.items():
        if name in _COUNTERS or isinstance(value, bool | str | bytes) or value is None:
            continue
        try:
            found[str(name)] = float(value)
        except (TypeError, ValueError, RuntimeError):  # arrays and tensors of more than one value
            continue
    return found


def report_and_decide(
    trial: Trial,
    step: int,
    metrics: Mapping[str, float],
    *,
    monitor: str,
    where: str,
    fix: str,
    complete: bool,
    extra: ExtraMetrics | None = None,
) -> bool:
    """Report ``metrics`` (with ``extra``'s) at ``step`` and return whether the training run must stop.

    A trial the study has already told to stop (or pause) is not reported to again: the run is
    asked to stop at once.

    Args:
        trial: the trial the training run belongs to.
        step: resource units done (epochs or boosting rounds so far).
        metrics: what the library produced at this step, as floats.
        monitor: the metric the callback watches; it must be among ``metrics``.
        where: the place the metrics came from, for the error ("Keras's logs at epoch 3").
        fix: how to make ``monitor`` appear, for the error.
        complete: whether ``monitor`` missing from ``metrics`` means the library will not log it in this trial or
            any other: ``metrics`` hold all the library logs at a step like this one (XGBoost and LightGBM evaluate
            every set at every round; the first epoch, or evaluation, that logged ``monitor``'s kind of metrics),
            and ``monitor`` was never among them. Not so where ``monitor`` came before and is missing now.
        extra: the callback's ``extra=``, added to the report.

    Raises:
        MetricNotReported: ``monitor`` is not among ``metrics``. When ``complete``, the name is missing from every
            trial's logs (a misspelt ``monitor=``): the trial is marked refused (`Trial.refuse`), fails even if the
            error is caught, and `Study.optimize` stops the run at once instead of after ``fail_fast`` trials.
        ConfigError: a name of ``extra`` is also one of ``metrics`` (see `ExtraMetrics.values`).
    """
    if trial.should_stop():
        return True
    if monitor not in metrics:
        error = missing_monitor(monitor, metrics, where=where, fix=fix)
        if complete:  # the same name is missing from every trial's logs: each would train a step, then fail
            trial.refuse(str(error))
        raise error
    trial.report(step, **metrics, **(extra.values(metrics, where=where) if extra is not None else {}))
    return trial.should_stop()


def missing_monitor(monitor: str, metrics: Mapping[str, float], *, where: str, fix: str) -> MetricNotReported:
    """The error for ``monitor`` missing from ``metrics`` (found at ``where``); ``fix`` says how to add it."""
    available = ", ".join(repr(name) for name in sorted(metrics)) or "none"
    return MetricNotReported(
        f"the monitored metric must be among the metrics reported, but {monitor!r} is not in {where} "
        f"(available: {available}): pass monitor= one of those, or {fix}"
    )


def report_without_monitor(
    trial: Trial, step: int, metrics: Mapping[str, float], *, where: str, extra: ExtraMetrics | None = None
) -> bool:
    """Report ``metrics`` of a step that could not measure the monitored metric (an epoch that did not
    validate): what there is, without it, which comes at a later step, with ``extra``'s metrics (read at ``where``).
    Returns whether the run must stop."""
    if trial.should_stop():
        return True
    added = extra.values(metrics, where=where) if extra is not None else {}
    if metrics or added:
        trial.report(step, **metrics, **added)
    return trial.should_stop()


class ExtraMetrics:
    """A callback's ``extra=``: metrics the training library does not log (a second objective such as the model's
    size, a guardrail measured every round), added to each of the callback's reports, so that a study with several
    metrics, or a scheduler that ranks by one of them, hears them at every step.

    A mapping is reported as it is at every step; a callable is called at each report (with no argument) for the
    mapping to add then. Its names must differ from the library's metrics, so that neither value hides the other.

    Args:
        extra: the mapping, the callable, or None (nothing to add).
        trial: the callback's trial, marked refused (`Trial.refuse`) by an ``extra`` that every trial would get
            wrong the same way, so that `Study.optimize` stops the run at once.
        monitor: the callback's monitored metric, which no name of ``extra`` may be.
        callback: the callback, for the messages ("XGBoost's TunesmithCallback").

    Raises:
        ArgumentError: ``extra`` is neither a mapping, a callable nor None (also a `TypeError`).
        ConfigError: a name of a mapping ``extra`` is ``monitor``, or not a string, or its value is not a number.
    """

    def __init__(self, extra: Extra | None, *, trial: Trial, monitor: str, callback: str) -> None:
        self.trial = trial
        self.monitor = monitor
        self.callback = callback
        self._fixed: dict[str, float] = {}
        self._read: Callable[[], Mapping[str, float]] | None = None
        if isinstance(extra, Mapping):
            self._fixed = self._checked(extra, "extra=")
        elif callable(extra):
            self._read = extra
        elif extra is not None:
            self._refuse(
                f"{callback}'s extra= adds metrics to every report, so it must be a mapping of names to numbers or a "
                f"callable with no argument that returns one, but got {_shown(extra)} ({type(extra).__name__}): pass "
                "extra={'size': n_parameters}, or extra=lambda: {'size': ...} for a value read at each report",
                ArgumentError,
            )

    def values(self, logged: Mapping[str, float], *, where: str) -> dict[str, float]:
        """The metrics to add to a report of ``logged`` (the library's metrics, read at ``where``): the mapping,
        or what the callable returns now.

        Raises:
            ConfigError: a name is one of ``logged`` or ``monitor``, or not a string; the callable returned no
                mapping (these mark the trial refused: every trial would do the same); a value is not a number.
        """
        if self._read is None:
            added = self._fixed
        else:
            returned = self._read()
            if not isinstance(returned, Mapping):
                self._refuse(
                    f"{self.callback}'s extra= callable must return a mapping of names to numbers, but it returned "
                    f"{_shown(returned)} ({type(returned).__name__}) at {where}: return a dict, e.g. "
                    "lambda: {'size': float(n_parameters)}",
                    ConfigError,
                )
            added = self._checked(returned, "what extra= returned")
        clashes = sorted(set(added) & set(logged))
        if clashes:
            self._refuse(
                f"{self.callback}'s extra= adds metrics the library does not log, so its names must differ from the "
                f"library's, but extra= gives {clashes[0]!r}, which {where} also has: rename that entry of extra= "
                "(or drop it, to report the library's value)",
                ConfigError,
            )
        return dict(added)

    def _checked(self, extra: Mapping[Any, Any], what: str) -> dict[str, float]:
        """``extra``'s entries as floats, each name a string other than ``monitor``."""
        found: dict[str, float] = {}
        for name, value in extra.items():
            if not isinstance(name, str):
                self._refuse(
                    f"{self.callback}'s extra= names each metric it adds with a string, but {what} has the key "
                    f"{_shown(name)} ({type(name).__name__}): use the metric's name, e.g. {{'size': ...}}",
                    ConfigError,
                )
            if name == self.monitor:
                self._refuse(
                    f"{self.callback}'s extra= adds metrics the library does not log, so its names must differ from "
                    f"the monitored metric's, but {what} has {name!r}, which is also monitor={self.monitor!r} (the "
                    f"library's value is reported under that name): rename the entry {name!r} of extra= or drop it",
                    ConfigError,
                )
            try:
                if isinstance(value, bool | str | bytes) or value is None:
                    raise TypeError
                found[name] = float(value)
            except (TypeError, ValueError, RuntimeError):  # a value that changes from trial to trial: not refused
                raise ConfigError(
                    f"{self.callback}'s extra= adds metrics to a report, which takes numbers, but {what} has "
                    f"{name}={_shown(value)} ({type(value).__name__}): give its value as a number, e.g. "
                    f"{{{name!r}: float(...)}}"
                ) from None
        return found

    def _refuse(self, why: str, error: type[ConfigError]) -> NoReturn:
        """Mark the trial refused and raise ``error``: the objective builds its callback the same way in every trial."""
        self.trial.refuse(why)
        raise error(why)


def _shown(value: object) -> str:
    """``value``'s repr, cut short (a DataFrame would fill the screen)."""
    shown = repr(value)
    return shown if len(shown) <= _SHOWN_CHARS else f"{shown[:_SHOWN_CHARS]}..."


def refuse_going_back(trial: Trial, done: int, *, unit: str, counted_by: str, fix: str, cv: str | None = None) -> None:
    """Refuse, before it trains, a training run that starts below the steps its trial has done, or that belongs
    to a trial that has ended.

    The run's first report is a step after ``done``, so when ``done`` is below ``trial.step`` that report would
    be refused, but only after a whole epoch or boosting round was trained. A resumed trial whose run starts below
    the step it resumed from is told to continue its checkpoint (``fix``); any other run is a second training of
    the trial (a k-fold loop with the callback on every fold, a refit), told to report one curve. The trial is marked
    refused (`Trial.refuse`): it fails even if the error is caught, and `Study.optimize` stops the run, since the
    objective would do the same in every trial. A trial already told to stop is left to the stop.

    Args:
        trial: the trial the run belongs to.
        done: the steps the run starts from (the rounds of the booster it continues, the epochs of the
            checkpoint it resumes), in the callback's step units.
        unit: what a step counts, singular ("round", "epoch", "optimizer step").
        counted_by: where ``done`` was read, for the message ("trainer.current_epoch").
        fix: how to continue with the library, for the message.
        cv: the library's cross-validation function ("xgboost.cv"), for the message to a trial trained twice.

    Raises:
        TrialNotRunning: the trial has ended (told, or its objective returned): nothing the run reports would be
            stored. The trial's own error, as its `Trial.report` would raise after the first step was trained.
        ConfigError: ``done`` is below ``trial.step``.
    """
    # Trial has no public view of its end; this is the check its `report` makes first, before any training.
    trial._refuse_if_ended(f"a training run's report at {unit} {done + 1}", report=True)
    if done >= trial.step or trial.should_stop():
        return
    if done < trial.start_step:  # a resumed trial that starts over instead of continuing its checkpoint
        why = (
            f"a training run must count on from the {unit}s its trial has done, but trial {trial.number} resumed "
            f"after {unit} {trial.start_step} and this run starts at {unit} {done + 1} ({counted_by}={done}), so its "
            f"reports would go back over {unit}s the scheduler judged: {fix}"
        )
    else:
        folds = f"use {cv} and report its mean over the folds, or " if cv else ""
        why = (
            f"a trial reports one learning curve, but trial {trial.number} reported {unit}s up to {trial.step} and "
            f"this run trains it again from {unit} {done + 1} ({counted_by}={done}), a second training of the same "
            f"trial (a k-fold loop with the callback on every fold, or a refit), whose reports would go back over "
            f"{unit}s the scheduler judged: report one curve per trial: {folds}put the callback on one fold's "
            "training only and return the folds' mean as the trial's result"
        )
    trial.refuse(why)
    raise ConfigError(why)
