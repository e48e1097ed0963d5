"""Several objectives are never silently reduced to the first: a sampler or scheduler that reads one metric is
refused before anything is stored, and every objective a result gives is checked as the primary metric is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import tunesmith as ts
from tunesmith.errors import ConfigError
from tunesmith.trial import TrialKind, TrialState

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})
OBJECTIVES = [ts.Metric("error"), ts.Metric("latency_ms")]


def _refusal(tmp_path: Path, **search: Any) -> str:
    """The message of the study refused with ``search`` (sampler=, scheduler=), once shown that it stored nothing."""
    database = tmp_path / "refused.db"
    with pytest.raises(ConfigError) as refused:
        ts.Study(SPACE, metrics=OBJECTIVES, storage=f"sqlite:///{database}", seed=0, **{"sampler": "random", **search})
    assert not database.exists()
    return str(refused.value)


def test_cmaes_on_several_objectives_is_refused_naming_the_samplers_that_take_them_all(tmp_path: Path) -> None:
    message = _refusal(tmp_path, sampler="cmaes")
    assert "sampler 'cmaes' optimises one objective" in message
    assert "2 objectives (error, latency_ms)" in message
    assert "sampler='auto'" in message and "'gp', 'tpe' or 'nsga2'" in message


def test_median_stopping_on_several_objectives_is_refused_naming_the_schedulers_that_take_them_all(
    tmp_path: Path,
) -> None:
    message = _refusal(tmp_path, scheduler=ts.MedianStop())
    assert "scheduler 'median' stops trials by one objective" in message
    assert "2 objectives (error, latency_ms)" in message
    assert "scheduler='asha', 'hyperband' or 'successive_halving'" in message


@pytest.mark.parametrize("name", ["pbt", "pb2"])
def test_pbt_and_pb2_on_several_objectives_are_refused_naming_the_schedulers_that_take_them_all(
    tmp_path: Path, name: str
) -> None:
    message = _refusal(tmp_path, scheduler=name)
    assert f"scheduler '{name}' stops and replaces trials by one objective" in message
    assert "scheduler='asha', 'hyperband' or 'successive_halving'" in message


def test_the_auto_scheduler_picking_pbt_on_several_objectives_is_refused(tmp_path: Path) -> None:
    message = _refusal(tmp_path, scheduler={"name": "auto", "max_resource": 40, "adaptive": True})
    assert "scheduler 'auto' (here 'pbt')" in message


def _trial_of_two_objectives(result: dict[str, Any], metrics: list[ts.Metric]) -> ts.TrialRecord:
    study = ts.Study(SPACE, metrics=metrics, sampler="random", budget=ts.Budget(trials=1), storage="memory", seed=0)
    study.optimize(lambda trial: result, fail_fast=None)
    (record,) = study.trials
    return record


def test_a_second_objective_outside_its_declared_scale_fails_the_trial_with_the_rule_the_value_and_the_fix() -> None:
    record = _trial_of_two_objectives(
        {"error": 0.3, "accuracy": 68.15}, [ts.Metric("error", scale=1), ts.Metric("accuracy", "max", scale=1)]
    )
    assert record.state is TrialState.FAILED and record.kind is TrialKind.BAD_RESULT
    assert "accuracy=68.15" in (record.reason or "")
    assert "[0, 1]" in (record.reason or "") and "scale=100" in (record.reason or "")


def test_a_second_objective_returned_as_a_bool_fails_the_trial() -> None:
    record = _trial_of_two_objectives(
        {"error": 0.3, "fits_memory": True}, [ts.Metric("error"), ts.Metric("fits_memory", "max")]
    )
    assert record.state is TrialState.FAILED and record.kind is TrialKind.BAD_RESULT
    assert "metric 'fits_memory' is not a number: True (bool)" in (record.reason or "")


def test_a_bare_number_outside_the_metrics_declared_scale_fails_the_trial() -> None:
    study = ts.Study(SPACE, metric=ts.Metric("val_acc", "max", scale=1), sampler="random", budget=ts.Budget(trials=1),
                     storage="memory", seed=0)  # fmt: skip
    study.optimize(lambda trial: 87.4, fail_fast=None)
    (record,) = study.trials
    assert record.state is TrialState.FAILED and record.kind is TrialKind.BAD_RESULT
    assert "val_acc=87.4" in (record.reason or "")
