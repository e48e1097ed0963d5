"""Optuna habits kept in a tunesmith objective: each either does what the user meant or says what to write instead.

`raise TrialPruned()` after `trial.should_stop()` (the migration table's `should_prune` -> `should_stop`) ends the
trial on the study's stop, as returning does; raised without a stop, it fails with the fix. `trial.should_prune()`,
`trial.set_user_attr(...)`, `trial.user_attrs` and `trial.report(value, step)` raise tunesmith errors naming the
tunesmith call.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import tunesmith as ts
from tunesmith.decision import Decision
from tunesmith.errors import TunesmithError
from tunesmith.executors.base import TrialJob
from tunesmith.executors.inline import run_job
from tunesmith.study import ShortTrainingWarning
from tunesmith.trial import OptunaAttributeError, OptunaReportError, Trial, TrialKind, TrialRecord, TrialState


class TrialPruned(Exception):
    """Another library's `TrialPruned`: recognised by its class name, as Optuna's is."""


class LibraryPruned(TrialPruned):
    """A subclass of it: the name is matched up the MRO."""


def _asha_study(path: Path, name: str) -> ts.Study:
    return ts.Study(
        metric="loss",
        storage=f"sqlite:///{path}",
        checkpoint_dir=path.with_suffix(".checkpoints"),
        name=name,
        seed=0,
        scheduler=ts.ASHA(min_resource=1, max_resource=9, eta=3),
        budget=ts.Budget(trials=9),
    )


def _curve(pruned: type[BaseException] | None) -> Callable[[Any], float]:
    """An objective that ends on the study's stop by raising ``pruned``, or by returning when it is None."""

    def objective(trial: Any) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        loss = x
        for step in range(1, 10):
            loss = x + 1.0 / step
            trial.report(step, loss=loss)
            if trial.should_stop():
                if pruned is None:
                    return loss
                raise pruned()
        return loss

    return objective


def _ran(path: Path, name: str, pruned: type[BaseException] | None) -> list[TrialRecord]:
    study = _asha_study(path, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortTrainingWarning)  # 9 trials train few to the end, and it says so
        study.optimize(_curve(pruned))
    return study.trials


def _as_compared(records: list[TrialRecord]) -> list[tuple[Any, ...]]:
    return [(r.state, r.kind, r.reason, r.metrics, r.resource) for r in records]


def test_optunas_trial_pruned_after_a_stop_records_the_trial_as_returning_would(tmp_path: Path) -> None:
    optuna = pytest.importorskip("optuna")
    raised = _ran(tmp_path / "raised.db", "raised", optuna.TrialPruned)
    returned = _ran(tmp_path / "returned.db", "returned", None)
    assert any(r.state is TrialState.STOPPED and r.kind is TrialKind.SCHEDULER for r in raised)
    assert _as_compared(raised) == _as_compared(returned)


def test_any_class_named_trial_pruned_after_a_stop_records_the_trial_as_returning_would(tmp_path: Path) -> None:
    raised = _ran(tmp_path / "raised.db", "raised", LibraryPruned)
    returned = _ran(tmp_path / "returned.db", "returned", None)
    assert not any(r.state is TrialState.FAILED for r in raised)
    assert _as_compared(raised) == _as_compared(returned)


def test_trial_pruned_after_a_pause_ends_the_trial_paused_not_failed() -> None:
    def objective(trial: Trial) -> float:
        trial.report(1, loss=0.5)
        if trial.should_stop():
            raise TrialPruned()
        return 0.5

    outcome = run_job(objective, TrialJob(0, {}, 0), lambda number, step, metrics: Decision.PAUSE)
    assert (outcome.failed, outcome.decision, outcome.result) == (False, Decision.PAUSE, None)


def test_trial_pruned_without_a_stop_fails_the_trial_naming_the_rule_and_the_fix(tmp_path: Path) -> None:
    def prunes_itself(trial: Trial) -> float:
        trial.report(1, loss=0.5)
        raise TrialPruned()

    study = ts.Study(
        ts.Space({"x": ts.Float(0.0, 1.0)}),
        metric="loss",
        storage=f"sqlite:///{tmp_path / 's.db'}",
        checkpoint_dir=tmp_path / "checkpoints",
        seed=0,
    )
    study.optimize(prunes_itself, n_trials=1, fail_fast=None)  # the record, not the run's verdict, is tested here
    (record,) = study.trials
    assert (record.state, record.kind) == (TrialState.FAILED, TrialKind.EXCEPTION)
    assert "TrialPruned raised without a stop" in (record.reason or "")
    assert "scheduler decides stops" in (record.error or "")
    assert "if trial.should_stop(): return" in (record.error or "")


def test_should_prune_names_should_stop() -> None:
    trial = Trial(0, {}, 0)
    with pytest.raises(OptunaAttributeError, match=r"trial\.should_stop\(\)") as caught:
        trial.should_prune()  # type: ignore[attr-defined]
    assert isinstance(caught.value, AttributeError) and isinstance(caught.value, TunesmithError)


@pytest.mark.parametrize("call", ["set_user_attr", "user_attrs"])
def test_user_attributes_name_the_result_dict_instead(call: str) -> None:
    trial = Trial(0, {}, 0)
    with pytest.raises(OptunaAttributeError, match="extra entries of the result dict"):
        getattr(trial, call)


def test_report_in_optunas_value_then_step_order_names_the_tunesmith_call() -> None:
    trial = Trial(0, {}, 0)
    with pytest.raises(OptunaReportError, match=r"trial\.report\(1, loss=0\.5\)") as caught:
        trial.report(0.5, 0)  # type: ignore[call-arg]
    assert isinstance(caught.value, TypeError) and isinstance(caught.value, TunesmithError)
    assert trial.step == 0  # nothing was recorded


def test_report_with_other_extra_positional_arguments_names_the_signature() -> None:
    trial = Trial(0, {}, 0)
    with pytest.raises(TypeError, match=r"takes one positional argument, the step, and metrics by name"):
        trial.report(3, 5)  # type: ignore[call-arg]
