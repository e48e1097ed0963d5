"""Helpers shared by the analysis modules: the data a study's records give them."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from tunesmith._numbers import format_value, telling_digits
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
    "telling_digits",
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
