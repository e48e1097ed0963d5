"""Promote mode under a wall-time budget: a trial told PAUSE whose objective returns only after the run's last `ask`
retired the paused trials (a slow teardown, another worker's trial ending first) was left PAUSED for good, its time
no longer counted once its heartbeat stopped. The run now ends it where it paused, as `ask` ended the others."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import tunesmith as ts
from tunesmith.schedulers import ASHA
from tunesmith.trial import TrialState

WALL = 1.0
URL = "TUNESMITH_TEST_PAUSED_URL"


def _ended(number: int) -> bool:
    trials = ts.Study.load("p", os.environ[URL]).trials
    return len(trials) > number and trials[number].state not in (TrialState.RUNNING, TrialState.PAUSED)


def objective(trial: ts.Trial) -> float:
    trial.load_checkpoint()
    if trial.number == 1:
        time.sleep(WALL + 0.5)  # reaches its rung once the budget is spent: paused, then retired by the next ask
    trial.save_checkpoint({"step": 1})
    trial.report(step=1, loss=1.0 + trial.number)
    if trial.number == 0 and trial.should_stop():
        deadline = time.monotonic() + 60.0
        while not _ended(1) and time.monotonic() < deadline:  # returns once that ask has run
            time.sleep(0.05)
        time.sleep(0.3)
    return 1.0 + trial.number


@pytest.mark.timeout(120)
def test_a_trial_paused_after_the_last_ask_ends_with_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    monkeypatch.setenv(URL, url)
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", scheduler=ASHA(1, 9, 3, mode="promote"),
                     budget=ts.Budget(wall_time=WALL), storage=url, name="p", seed=0, sampler="random",
                     checkpoint_dir=tmp_path / "ck")  # fmt: skip
    result = study.optimize(objective, workers=2, executor="processes")
    assert result.stop_reason.startswith("wall-time budget spent"), result.stop_reason
    states = {r.number: r.state for r in study.trials}
    assert TrialState.PAUSED not in states.values(), states
    assert "paused" not in result.states
    again = study.optimize(objective, workers=2, executor="processes")
    assert again.trials_run == 0 and len(study.trials) == len(states)
