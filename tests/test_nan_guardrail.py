"""A guardrail metric that is NaN or infinite is a broken measurement, not a breach: the trial fails as non-finite,
as one with a non-finite objective does, and fail-fast counts it, instead of recording every trial INFEASIBLE and
spending the whole budget in silence."""

from __future__ import annotations

import math

import pytest

import tunesmith as ts
from tunesmith.study import ObjectiveError
from tunesmith.trial import TrialRecord

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})
LATENCY = ts.Guardrail("latency_ms", "<=", 20.0)


def _study(trials: int) -> ts.Study:
    return ts.Study(SPACE, metric="loss", guardrails=[LATENCY], storage="memory", seed=0,
                    budget=ts.Budget(trials=trials))  # fmt: skip


def _one_trial(latency: float) -> TrialRecord:
    study = _study(trials=1)
    study.optimize(lambda trial: {"loss": trial.params["x"], "latency_ms": latency}, fail_fast=None)
    (record,) = study.trials
    return record


def test_a_nan_guardrail_metric_fails_the_trial_as_non_finite_not_infeasible() -> None:
    record = _one_trial(math.nan)
    assert (record.state, record.kind) == (ts.TrialState.FAILED, ts.TrialKind.NON_FINITE)
    assert record.reason is not None and "'latency_ms' is nan" in record.reason


def test_an_infinite_guardrail_metric_fails_the_trial_as_an_infinite_objective_does() -> None:
    record = _one_trial(math.inf)
    assert (record.state, record.kind) == (ts.TrialState.FAILED, ts.TrialKind.NON_FINITE)
    assert record.reason is not None and "'latency_ms' is inf" in record.reason


def test_a_guardrail_metric_nan_in_every_trial_stops_the_study_at_the_tenth() -> None:
    study = _study(trials=25)
    with pytest.raises(ObjectiveError, match=r"In trials #0-#9: latency_ms=nan in the returned result"):
        study.optimize(lambda trial: {"loss": trial.params["x"], "latency_ms": math.nan})
    assert len(study.trials) == 10


def test_the_stop_for_a_guardrail_metric_never_finite_names_the_measurement_not_the_loss() -> None:
    study = _study(trials=25)
    with pytest.raises(ObjectiveError) as caught:
        study.optimize(lambda trial: {"loss": trial.params["x"], "latency_ms": math.nan})
    message = str(caught.value)
    assert "check how the objective measures latency_ms" in message
    assert "loss at step 1" not in message


def test_a_nan_guardrail_metric_in_a_seed_re_run_fails_the_run_not_infeasible() -> None:
    study = _study(trials=2)
    study.optimize(lambda trial: {"loss": trial.params["x"], "latency_ms": 5.0})
    report = ts.validate_top(study, lambda trial: {"loss": trial.params["x"], "latency_ms": math.nan}, k=1, seeds=2)
    runs = study.attrs["seed_stability"]["runs"]
    assert runs and {run["state"] for run in runs} == {"failed"}, runs
    assert "latency_ms is nan" in runs[0]["reason"]
    assert report is not None


def test_a_guardrail_metric_missing_from_the_result_is_said_with_what_the_result_has_and_the_fix() -> None:
    study = _study(trials=1)
    study.optimize(lambda trial: {"loss": trial.params["x"], "latency": 12.0}, fail_fast=None)
    (record,) = study.trials
    assert (record.state, record.kind) == (ts.TrialState.FAILED, ts.TrialKind.MISSING_METRIC)
    assert record.reason == ("guardrail metric 'latency_ms' missing from the result: the objective must return it "
                             "beside the metric, as every guardrail is judged on each finished trial; did you mean "
                             "'latency'? it has 2 keys: ['latency', 'loss']")  # fmt: skip
