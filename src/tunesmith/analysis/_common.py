"""Helpers shared by the analysis modules: the data a study's records give them."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from tunesmith.errors import TunesmithError
from tunesmith.objective import Metric, metric_named
from tunesmith.trial import TrialRecord, TrialState

__all__ = [
    "FINAL_STATES",
    "NotEnoughTrials",
    "as_metric",
    "finished_values",
    "format_value",
    "round_sig",
    "valid_records",
]

# Trials whose final metric is a full evaluation of their configuration: COMPLETE ones, and
# INFEASIBLE ones (evaluated in full, then rejected by a guardrail).
FINAL_STATES: frozenset[TrialState] = frozenset({TrialState.COMPLETE, TrialState.INFEASIBLE})


class NotEnoughTrials(TunesmithError, ValueError):
    """An analysis needs more finished trials (or more varied results) than the study has."""


def as_metric(metric: Metric | str) -> Metric:
    """A `Metric` from a metric or a name (a bare name means minimise)."""
    return metric_named(metric) if isinstance(metric, str) else metric


def valid_records(records: Iterable[TrialRecord]) -> list[TrialRecord]:
    """``records`` without the trials `Study.invalidate` took out of the search: what an analysis may
    learn from or judge (an invalidated trial stays listed, marked, wherever trials are listed)."""
    return [r for r in records if r.invalidated is None]


def finished_values(
    records: Iterable[TrialRecord], metric: Metric, states: frozenset[TrialState] = FINAL_STATES
) -> tuple[list[TrialRecord], np.ndarray]:
    """The valid records in ``states`` with a finite ``metric`` and their values, in record order."""
    kept: list[TrialRecord] = []
    values: list[float] = []
    for record in records:
        if record.state not in states or record.invalidated is not None:
            continue
        value = record.value(metric.name)
        if value is not None:
            kept.append(record)
            values.append(value)
    return kept, np.asarray(values, dtype=float)


def round_sig(value: float, digits: int) -> float:
    """``value`` rounded to ``digits`` significant digits."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


def format_value(value: object, *, bounds: Iterable[float] = (), digits: int = 3) -> str:
    """A short human form of a value: ``0.04``, ``3e-05``, ``256``, ``adam``.

    ``bounds``: limits the value is judged against (a guardrail's bound on its metric). A float then gets digits
    beyond the usual three until the figure printed compares with every bound as the value does: ``0.099996``
    under ``latency < 0.1`` prints ``0.099996``, never ``0.1``, the figure of a trial that breached it.
    ``digits``: the fewest significant digits (a table's `telling_digits`).
    """
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number, limits = float(value), [float(bound) for bound in bounds]
        for shown in range(digits, _ROUND_TRIP_DIGITS):
            text = f"{number:.{shown}g}"
            if all(_side(float(text), bound) == _side(number, bound) for bound in limits):
                return text
        return f"{number:.{_ROUND_TRIP_DIGITS}g}"  # reads back as the value itself, so it compares as the value does
    return str(value)


# Significant digits that print every float so that it reads back exactly.
_ROUND_TRIP_DIGITS = 17
# The most significant digits a table gives its values to tell them apart (`telling_digits`).
_TELLING_DIGITS = 8


def telling_digits(values: Iterable[object]) -> int:
    """The fewest significant digits, from three, at which the distinct floats of ``values`` print distinctly (at
    most `_TELLING_DIGITS`): a ranking of 1.0039, 1.0029 and 1.0010 printed "1" three times, and read as a tie."""
    numbers = {float(v) for v in values if isinstance(v, float | np.floating) and math.isfinite(float(v))}
    for digits in range(3, _TELLING_DIGITS):
        if len({f"{v:.{digits}g}" for v in numbers}) == len(numbers):
            return digits
    return _TELLING_DIGITS


def _side(value: float, bound: float) -> int:
    """-1, 0 or 1: ``value`` below, at or above ``bound`` (0 for NaN, which compares with nothing)."""
    return (value > bound) - (value < bound)
