"""A curve metric is read in its own direction, never in the study metric's.

``diagnose(curve_metric="val_mse")`` on a study maximising ``val_acc`` read the loss as a score: every healthy trial was
"underfitting", "the best by then" was the worst MSE in the study, and a stored +inf was printed as -inf.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.analysis import Signature, classify_curves, diagnose
from tunesmith.errors import ConfigError
from tunesmith.trial import TrialRecord, TrialState

STEPS = np.arange(1, 16)
SPACE = ts.Space({"lr": ts.Float(1e-4, 1.0, log=True)})
STUDY_METRIC = ts.Metric("val_acc", "max")


def _record(number: int, lr: float, **curves: list[float]) -> TrialRecord:
    intermediate = {int(s): {name: float(values[i]) for name, values in curves.items()} for i, s in enumerate(STEPS)}
    final = {name: float(values[-1]) for name, values in curves.items()}
    return TrialRecord(number, {"lr": lr}, number, TrialState.COMPLETE, final, intermediate)


def _trials() -> list[TrialRecord]:
    """Twelve classifiers whose MSE falls and accuracy rises as they learn, at levels set by the seed alone."""
    rng = np.random.default_rng(0)
    records = []
    for number in range(12):
        floor = 0.05 + 0.01 * rng.random()
        mse = floor + 0.1 * np.exp(-STEPS / 3) + rng.normal(0, 0.001, len(STEPS))
        acc = 0.93 - 0.5 * np.exp(-STEPS / 3) + rng.normal(0, 0.003, len(STEPS))
        records.append(_record(number, float(10 ** rng.uniform(-3, -2)), val_acc=list(acc), val_mse=list(mse)))
    return records


def test_a_curve_metric_named_by_a_guardrail_is_read_in_the_guardrails_direction() -> None:
    guardrail = ts.Guardrail("val_mse", "<=", 1.0)
    found = diagnose(_trials(), SPACE, STUDY_METRIC, curve_metric="val_mse", guardrails=[guardrail])
    details = [d.detail for d in found.curves.values()]
    assert all(d.signature is Signature.HEALTHY for d in found.curves.values()), details


def test_a_curve_metric_among_the_studys_objectives_takes_that_objectives_direction() -> None:
    declared = [ts.Metric("val_mse", "min")]
    found = classify_curves(_trials(), STUDY_METRIC, curve_metric="val_mse", declared=declared)
    assert all(d.signature is Signature.HEALTHY for d in found.values()), [d.detail for d in found.values()]


def test_a_curve_metric_given_as_a_metric_is_read_in_the_direction_it_gives() -> None:
    found = classify_curves(_trials(), STUDY_METRIC, curve_metric=ts.Metric("val_mse", "min"))
    assert len(found) == 12
    assert all(d.signature is Signature.HEALTHY for d in found.values()), [d.detail for d in found.values()]
    assert all(d.detail.startswith("val_mse reached 0.0") for d in found.values())  # its own values, not negated


def test_a_curve_metric_whose_direction_nothing_declares_is_refused_with_the_rule_the_value_and_the_fix() -> None:
    with pytest.raises(ConfigError) as refused:
        diagnose(_trials(), SPACE, STUDY_METRIC, curve_metric="val_mse")
    message = str(refused.value)
    assert "a curve metric's direction must be its own" in message
    assert "curve_metric='val_mse'" in message and "('val_acc')" in message
    assert "pass curve_metric=ts.Metric('val_mse', 'min')" in message


def test_a_curve_metric_that_contradicts_the_declared_direction_is_refused() -> None:
    contradiction = r"ts.Metric\('val_acc', 'min'\) where the study has ts.Metric\('val_acc', 'max'\)"
    with pytest.raises(ConfigError, match=contradiction):
        classify_curves(_trials(), STUDY_METRIC, curve_metric=ts.Metric("val_acc", "min"))


def test_a_non_finite_value_of_a_maximised_metric_is_printed_as_stored() -> None:
    records = _trials()
    overflowed = [v for _, v in records[0].curve("val_acc")[:3]] + [math.inf] * (len(STEPS) - 3)
    records[0] = _record(0, 0.001, val_acc=overflowed, val_mse=[v for _, v in records[0].curve("val_mse")])
    found = classify_curves(records, STUDY_METRIC)
    assert found[0].signature is Signature.DIVERGED
    assert found[0].detail == "val_acc is inf at step 4", found[0].detail
