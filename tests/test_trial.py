"""Trial records: the kind of a stopped or failed trial, beside its reason; what `Trial.report` accepts."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.decision import Decision
from tunesmith.trial import TrialKind, TrialRecord, TrialState


@pytest.mark.parametrize("kind", list(TrialKind))
def test_a_record_keeps_its_kind_through_json(kind: TrialKind) -> None:
    record = TrialRecord(number=3, params={"x": 1}, seed=7, state=TrialState.FAILED, reason="why", kind=kind)
    data = json.loads(json.dumps(record.to_json()))
    assert data["kind"] == kind.value and data["reason"] == "why"
    assert TrialRecord.from_json(data) == record


def test_a_record_written_before_kinds_reads_back_without_one() -> None:
    record = TrialRecord(number=0, params={}, seed=0, state=TrialState.FAILED, reason="interrupted")
    data = record.to_json()
    del data["kind"]
    assert TrialRecord.from_json(data).kind is None


def test_a_complete_record_has_no_kind() -> None:
    record = TrialRecord(number=0, params={}, seed=0, state=TrialState.COMPLETE)
    assert record.kind is None and record.to_json()["kind"] is None


def test_only_interrupted_and_lost_worker_are_interruptions() -> None:
    assert {k for k in TrialKind if k.is_interruption} == {TrialKind.INTERRUPTED, TrialKind.LOST_WORKER}


def test_kind_values_are_stable_column_values() -> None:
    assert all(k.value == k.name.lower() and len(k.value) <= 32 for k in TrialKind)


def _reported(step: object, value: object = 0.5) -> dict[int, dict[str, float]]:
    seen: dict[int, dict[str, float]] = {}

    def reporter(at: int, values: dict[str, float]) -> Decision:
        seen[at] = values
        return Decision.CONTINUE

    trial = ts.Trial(0, {}, 0, reporter=reporter)
    trial.report(step=step, loss=value)  # type: ignore[arg-type]
    return seen


@pytest.mark.parametrize("step", [1.5, 0.5, True, "3", 0, -2, float("inf"), float("nan"), 2**60])
def test_a_report_step_that_is_not_a_whole_number_from_one_is_refused_with_the_fix(step: object) -> None:
    # Half-epoch steps were cut to integers and overwrote each other; a bool or a string was read as a number.
    expected = rf"report step must be a whole number .*got step={re.escape(repr(step))}: count in the finest unit"
    with pytest.raises(ts.TunesmithError, match=expected):
        _reported(step)


def test_whole_steps_and_numeric_scalars_of_any_kind_are_accepted() -> None:
    torch = pytest.importorskip("torch")
    assert _reported(3.0) == {3: {"loss": 0.5}}
    assert _reported(np.int64(4), np.float32(0.25)) == {4: {"loss": 0.25}}
    assert _reported(torch.tensor(5), torch.tensor(0.75)) == {5: {"loss": 0.75}}
    assert math.isnan(_reported(1, float("nan"))[1]["loss"]), "a NaN loss is a divergence to record, not an error"


@pytest.mark.parametrize("value", [True, "0.5", None, [0.5]])
def test_a_reported_metric_that_is_not_a_number_is_refused_with_the_fix(value: object) -> None:
    with pytest.raises(ts.TunesmithError, match=r"report\(\) takes numbers, got loss=.*trial.report\(loss=float"):
        _reported(1, value)


def test_should_stop_reads_the_same_called_or_not() -> None:
    """`if trial.should_stop:` (the call forgotten) was a bound method, always true: every trial stopped after
    its first report and returned that step's value as its result."""
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", storage="memory", seed=0,
                     scheduler=ts.ASHA(max_resource=9))  # fmt: skip
    trial = study.ask()
    trial.report(1, loss=0.5)
    assert not trial.should_stop and trial.should_stop() is False
    steps = 1
    for step in range(2, 10):
        trial.report(step, loss=0.5 / step)
        steps = step
        if trial.should_stop:
            break
    assert steps == 9, "a lone trial at every rung goes on to the end"


def test_a_trial_stopped_early_stays_stopped_when_its_report_steps_count_other_units() -> None:
    """steps(9) epochs reported at optimizer steps 10, 20, ... 90: the first report's step (10) passed the 9
    planned, so a trial ASHA stopped there was read as having trained to the end, recorded COMPLETE after one
    epoch, and could become the best."""
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", storage="memory", seed=0,
                     sampler="random", scheduler=ts.ASHA(min_resource=10, max_resource=90),
                     budget=ts.Budget(trials=12))  # fmt: skip

    def epochs(trial: ts.Trial) -> float:
        loss = 1.0
        for epoch in trial.steps(9):
            loss = trial.params["x"] + 1.0 / (epoch + 1)
            trial.report((epoch + 1) * 10, loss=loss)
        return loss

    with pytest.warns(ts.study.ShortTrainingWarning):
        study.optimize(epochs)
    for record in study.trials:
        trained_fully = record.resource == 90
        assert (record.state is ts.TrialState.COMPLETE) == trained_fully, (record.number, record.state, record.resource)
    assert study.best is not None and study.best.resource == 90


@pytest.mark.parametrize("storage", ["memory", "sqlite"])
def test_a_report_after_tell_is_refused_and_the_told_record_is_kept(storage: str, tmp_path: Path) -> None:
    """A callback still attached to a finished trial rewrote its stored curve (step 1: 0.9 became 7.0) and its
    resource, and was told to continue."""
    from tunesmith.errors import TrialNotRunning

    url = "memory" if storage == "memory" else f"sqlite:///{tmp_path / 'told.db'}"
    study = ts.Study(ts.Space({"a": ts.Float(0.0, 1.0)}), metric="loss", storage=url, seed=0)
    trial = study.ask()
    trial.report(1, loss=0.9)
    trial.report(2, loss=0.8)
    study.tell(trial, {"loss": 0.8})
    with pytest.raises(TrialNotRunning, match=r"trial #0 is complete, not running: .* report before study.tell"):
        trial.report(3, loss=5.0)
    with pytest.raises(ts.trial.ReportRefused, match=r"trial 0 reported step 1 after step 2"):  # the trial's own rule
        trial.report(1, loss=7.0)
    record = study.trials[0]
    assert record.curve("loss") == [(1, 0.9), (2, 0.8)] and record.resource == 2.0
