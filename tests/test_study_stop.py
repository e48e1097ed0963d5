"""`Study.stop`: a callback, an observer or the objective ends a running `optimize` without an exception."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import pytest

import tunesmith as ts
from tunesmith.study._optimize import STOPPED_BY_STUDY, NotOptimizing

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def _study(name: str, trials: int = 20) -> ts.Study:
    return ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=trials), storage="memory", name=name, seed=0)


def loss(trial: ts.Trial) -> float:
    return float(trial.params["x"])


def test_a_callback_that_calls_stop_ends_optimize_with_the_stop_as_its_reason() -> None:
    study = _study("callback")

    def after_three(study: ts.Study, record: ts.TrialRecord) -> None:
        if record.number == 2:
            study.stop()

    result = study.optimize(loss, callbacks=[after_three])
    assert result.stop_reason == STOPPED_BY_STUDY == "stopped by study.stop()"
    assert [r.number for r in study.trials] == [0, 1, 2]
    assert all(r.state is ts.TrialState.COMPLETE for r in study.trials)
    assert result.trials_run == 3


def test_an_objective_that_calls_stop_on_the_study_it_closes_over_finishes_its_own_trial() -> None:
    study = _study("objective")

    def objective(trial: ts.Trial) -> float:
        if trial.number == 1:
            study.stop()
        return loss(trial)

    result = study.optimize(objective)
    assert result.stop_reason == STOPPED_BY_STUDY
    assert [(r.number, r.state) for r in study.trials] == [(0, ts.TrialState.COMPLETE), (1, ts.TrialState.COMPLETE)]


class StopAtReport(ts.Observer):
    """Calls `Study.stop` from ``on_report`` when trial ``number`` reports its first step."""

    def __init__(self, number: int) -> None:
        self.number = number

    def on_report(self, study: ts.Study, number: int, step: int, metrics: Mapping[str, float], decision: Any) -> None:
        if number == self.number and step == 1:
            study.stop()


def reporting(trial: ts.Trial) -> float:
    for _ in trial.steps(3):
        trial.report(loss=trial.params["x"])
    return float(trial.params["x"])


def test_trials_running_when_an_observer_stops_the_study_in_trial_processes_run_to_their_end() -> None:
    study = _study("processes")
    result = study.optimize(reporting, workers=2, executor="processes", callbacks=[StopAtReport(0)])
    assert result.stop_reason == STOPPED_BY_STUDY
    # Trial 0 and those running beside it when the loop heard the stop ran all three steps; none started after.
    assert 2 <= len(study.trials) < 20
    assert all(r.state is ts.TrialState.COMPLETE and r.resource == 3 for r in study.trials)


def test_stop_called_outside_optimize_raises_naming_the_study() -> None:
    study = _study("idle")
    with pytest.raises(NotOptimizing, match=r"study 'idle' is not optimizing: call it from a callback"):
        study.stop()
    assert isinstance(NotOptimizing("x"), RuntimeError)


def test_a_stop_from_one_run_does_not_carry_over_to_the_next() -> None:
    study = _study("twice")
    study.optimize(loss, callbacks=[lambda study, record: study.stop()])
    result = study.optimize(loss, n_trials=3)
    assert result.stop_reason == "n_trials=3 started" and result.trials_run == 3


def test_stop_in_a_trial_process_fails_that_trial_with_the_reason_and_the_run_goes_on() -> None:
    study = _study("child", trials=4)

    def objective(trial: ts.Trial) -> float:
        if trial.number == 0:
            study.stop()  # a forked copy of the study: the driver's loop cannot hear it
        return loss(trial)

    result = study.optimize(objective, workers=2, executor="processes")
    assert result.stop_reason != STOPPED_BY_STUDY and len(study.trials) == 4
    failed = study.trials[0]
    assert failed.state is ts.TrialState.FAILED and failed.kind is ts.TrialKind.EXCEPTION
    assert "NotOptimizing: study.stop() must be called in the process that runs study.optimize" in (failed.error or "")


def test_a_thread_of_the_driver_may_stop_a_running_optimize() -> None:
    study = _study("thread", trials=1000)
    first = threading.Event()

    def objective(trial: ts.Trial) -> float:
        first.set()
        return loss(trial)

    stopper = threading.Thread(target=lambda: first.wait(10) and study.stop())
    stopper.start()
    result = study.optimize(objective)
    stopper.join()
    assert result.stop_reason == STOPPED_BY_STUDY and len(study.trials) < 1000
