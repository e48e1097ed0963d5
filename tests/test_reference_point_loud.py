"""A reference point given with a study that no finished feasible trial beats on every objective (the ideal point
given for the nadir) warns, once, naming the rule, the value given and the fix, instead of a silent hypervolume
of 0."""

from __future__ import annotations

import warnings

import pytest

import tunesmith as ts
from tunesmith.pareto import ReferencePointWarning
from tunesmith.report._data import ReportData


def ideal_point_study() -> ts.Study:
    """acc is maximised, so a reference of acc = 1.0 (and latency 0) can never be beaten (repro_7)."""
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metrics=[ts.Metric("acc", "max"), ts.Metric("latency_ms")],
                     reference_point={"acc": 1.0, "latency_ms": 0.0}, sampler="random", storage="memory", seed=0,
                     budget=ts.Budget(trials=6))  # fmt: skip
    study.optimize(lambda t: {"acc": 0.5 + 0.4 * t.params["x"], "latency_ms": 5 + 20 * t.params["x"]}, progress=False)
    return study


def test_a_reference_point_no_trial_beats_warns_with_the_rule_the_value_given_and_the_fix() -> None:
    study = ideal_point_study()
    with pytest.warns(ReferencePointWarning) as caught:
        assert study.hypervolume() == 0.0
    message = str(caught[0].message)
    assert "a reference point must be worse than the trials on every objective (the nadir" in message
    assert "{'acc': 1.0, 'latency_ms': 0.0}" in message
    assert "create a new study with one worse than the trials (acc below their values, as it is maximised" in message
    assert "or without reference_point to derive it from the first 10 trials" in message


def test_the_warning_is_shown_once_however_often_the_hypervolume_is_read() -> None:
    study = ideal_point_study()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        study.hypervolume()
        study.hypervolume_history()
        ReportData.from_study(study).hypervolume_line()
    assert [type(w.message) for w in caught] == [ReferencePointWarning]
