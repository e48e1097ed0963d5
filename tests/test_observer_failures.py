"""An observer hook that raises stops the run at once, with its own exception: never a failure of the objective."""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Mapping
from typing import Any

import pytest

import tunesmith as ts
from tunesmith.budget import counts_toward_budget

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


class TrackerDown(ts.Observer):
    """Its ``on_report`` raises from trial ``from_trial`` on; it writes down the trials it heard end."""

    def __init__(self, from_trial: int, error: BaseException) -> None:
        self.from_trial, self.error = from_trial, error
        self.ended: list[tuple[int, ts.TrialKind | None]] = []

    def on_report(self, study: ts.Study, number: int, step: int, metrics: Mapping[str, float], decision: Any) -> None:
        if number >= self.from_trial:
            raise self.error

    def on_trial_end(self, study: ts.Study, record: ts.TrialRecord) -> None:
        self.ended.append((record.number, record.kind))


def reporting(trial: ts.Trial) -> float:
    for _ in trial.steps(3):
        trial.report(loss=trial.params["x"])
    return float(trial.params["x"])


def forgiving(trial: ts.Trial) -> float:
    """An objective that turns any exception of its training into a bad score, as many do."""
    try:
        return reporting(trial)
    except Exception:  # noqa: BLE001 - what the objective under test does
        return 1.0


def _study(name: str, trials: int = 20) -> ts.Study:
    return ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=trials), storage="memory", name=name, seed=0)


@pytest.mark.parametrize("executor", ["inline", "processes"])
@pytest.mark.parametrize("objective", [reporting, forgiving], ids=["plain", "catches-exceptions"])
def test_an_on_report_hook_that_raises_stops_the_run_at_once_and_the_trial_is_interrupted(
    executor: str, objective: Any
) -> None:
    # A ConnectionError is an OSError: the process executor must not take it for its own pipe breaking.
    tracker = TrackerDown(from_trial=2, error=ConnectionError("tracking server unreachable"))
    study = _study(f"down-{executor}")
    with pytest.raises(ConnectionError, match="tracking server unreachable") as raised:
        study.optimize(objective, executor=executor, callbacks=[tracker])
    hook_frames = [frame.name for frame in traceback.extract_tb(raised.value.__traceback__)]
    assert hook_frames[-1] == "on_report"  # the hook's own traceback
    states = [(r.number, r.state, r.kind) for r in study.trials]
    assert states == [
        (0, ts.TrialState.COMPLETE, None),
        (1, ts.TrialState.COMPLETE, None),
        (2, ts.TrialState.FAILED, ts.TrialKind.INTERRUPTED),  # no later trial started
    ]
    assert not counts_toward_budget(study.trials[2]) and study.usage().trials == 2
    assert tracker.ended[-1] == (2, ts.TrialKind.INTERRUPTED)  # observers hear how the trial ended


def test_an_on_report_hook_that_raises_in_the_first_inline_trial_does_not_blame_the_objective() -> None:
    study = _study("first")
    with pytest.raises(RuntimeError, match="tracker down") as raised:
        study.optimize(reporting, callbacks=[TrackerDown(0, RuntimeError("tracker down"))])
    assert type(raised.value) is RuntimeError  # the hook's, not ObjectiveError blaming the objective
    (only,) = study.trials
    assert only.state is ts.TrialState.FAILED and only.kind is ts.TrialKind.INTERRUPTED


def test_an_objective_that_swallows_the_stop_itself_still_stops_the_run_when_the_trial_ends() -> None:
    def stubborn(trial: ts.Trial) -> float:
        for _ in trial.steps(3):
            with contextlib.suppress(BaseException):  # a bare except, as some training loops have
                trial.report(loss=trial.params["x"])
        return float(trial.params["x"])

    study = _study("stubborn")
    with pytest.raises(RuntimeError, match="tracker down"):
        study.optimize(stubborn, callbacks=[TrackerDown(1, RuntimeError("tracker down"))])
    assert [r.number for r in study.trials] == [0, 1]  # no trial after the one whose tracking failed
