"""What every training-library callback shares: read the library's metrics, report one epoch or
boosting round to the trial, tell the library whether to stop, and refuse a run that would not count on
from the steps its trial has done."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tunesmith.errors import ConfigError, TunesmithError
from tunesmith.trial import Trial

__all__ = [
    "MetricNotReported", "missing_monitor", "refuse_going_back", "report_and_decide", "report_without_monitor",
    "scalars",
]  # fmt: skip

# Counters a library logs beside its metrics: they are the step itself, never a metric to judge.
_COUNTERS = frozenset({"step", "epoch"})


class MetricNotReported(TunesmithError, KeyError):
    """A callback's monitored metric is not among the metrics the training library produced.

    Also a `KeyError`, what a lookup of a missing name raises; the message names the metric, the
    ones the library did produce and how to fix the mismatch.
    """

    def __str__(self) -> str:  # KeyError quotes its argument; keep the message readable.
        return str(self.args[0]) if self.args else ""


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
    trial: Trial, step: int, metrics: Mapping[str, float], *, monitor: str, where: str, fix: str
) -> bool:
    """Report ``metrics`` at ``step`` and return whether the training run must stop.

    A trial the study has already told to stop (or pause) is not reported to again: the run is
    asked to stop at once.

    Args:
        trial: the trial the training run belongs to.
        step: resource units done (epochs or boosting rounds so far).
        metrics: what the library produced at this step, as floats.
        monitor: the metric the callback watches; it must be among ``metrics``.
        where: the place the metrics came from, for the error ("Keras's logs at epoch 3").
        fix: how to make ``monitor`` appear, for the error.

    Raises:
        MetricNotReported: ``monitor`` is not among ``metrics``.
    """
    if trial.should_stop():
        return True
    if monitor not in metrics:
        raise missing_monitor(monitor, metrics, where=where, fix=fix)
    trial.report(step, **metrics)
    return trial.should_stop()


def missing_monitor(monitor: str, metrics: Mapping[str, float], *, where: str, fix: str) -> MetricNotReported:
    """The error for ``monitor`` missing from ``metrics`` (found at ``where``); ``fix`` says how to add it."""
    available = ", ".join(repr(name) for name in sorted(metrics)) or "none"
    return MetricNotReported(
        f"the monitored metric must be among the metrics reported, but {monitor!r} is not in {where} "
        f"(available: {available}): pass monitor= one of those, or {fix}"
    )


def report_without_monitor(trial: Trial, step: int, metrics: Mapping[str, float]) -> bool:
    """Report ``metrics`` of a step that could not measure the monitored metric (an epoch that did not
    validate): what there is, without it, which comes at a later step. Returns whether the run must stop."""
    if metrics and not trial.should_stop():
        trial.report(step, **metrics)
    return trial.should_stop()


def refuse_going_back(trial: Trial, done: int, *, unit: str, counted_by: str, fix: str) -> None:
    """Refuse, before it trains, a training run that starts below the steps its trial has done.

    The run's first report is a step after ``done``, so when ``done`` is below ``trial.step`` (a resumed trial
    that starts over instead of continuing its checkpoint, or a second run of the same trial) that report
    would be refused, but only after a whole epoch or boosting round was trained. The trial is marked refused
    (`Trial.refuse`): it fails even if the error is caught, and `Study.optimize` stops the run, since the
    objective would start over in every resumed trial. A trial already told to stop is left to the stop.

    Args:
        trial: the trial the run belongs to.
        done: the steps the run starts from (the rounds of the booster it continues, the epochs of the
            checkpoint it resumes), in the callback's step units.
        unit: what a step counts, singular ("round", "epoch", "optimizer step").
        counted_by: where ``done`` was read, for the message ("trainer.current_epoch").
        fix: how to continue with the library, for the message.

    Raises:
        ConfigError: ``done`` is below ``trial.step``.
    """
    if done >= trial.step or trial.should_stop():
        return
    resumed = trial.resumed and trial.step == trial.start_step
    before = f"resumed after {unit} {trial.step}" if resumed else f"reported {unit}s up to {trial.step}"
    why = (
        f"a training run must count on from the {unit}s its trial has done, but trial {trial.number} {before} and "
        f"this run starts at {unit} {done + 1} ({counted_by}={done}), so its reports would go back over {unit}s "
        f"the scheduler judged: {fix}"
    )
    trial.refuse(why)
    raise ConfigError(why)
