"""A trial whose `Trial.steps` loop ran to its end trained every step, whatever steps it reported at: its resource is
the loop's length, so the resource budget counts what was trained and a full run counts as one."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import pytest

import tunesmith as ts
from tunesmith.study import ResourceAxisWarning, ShortTrainingWarning

SPACE = ts.Space({"q": ts.Float(0.0, 1.0)})
EPOCHS = 27


def every_fifth(trial: ts.Trial) -> dict[str, float]:
    """Trains 27 epochs and evaluates every fifth: its last report is at step 25."""
    value = 0.0
    for step in trial.steps(EPOCHS):
        value = trial.params["q"] + math.exp(-0.2 * (step + 1))
        if (step + 1) % 5 == 0:
            trial.report(val_loss=value)
    return {"val_loss": value}


@pytest.mark.parametrize(("executor", "sql"), [("inline", False), ("processes", False), ("inline", True)])
def test_a_loop_that_ran_to_its_end_is_recorded_at_its_length_not_its_last_report(
    executor: str, sql: bool, tmp_path: Path
) -> None:
    """Stored at 25, the budget counted 25 where 27 were trained, and the end-of-run check said no trial reached
    max_resource=27 and advised setting it to 25."""
    study = ts.Study(SPACE, metric="val_loss", scheduler=ts.ASHA(min_resource=1, max_resource=EPOCHS, eta=3),
                     budget=ts.Budget(trials=6), storage=f"sqlite:///{tmp_path}/s.db" if sql else "memory", seed=0,
                     sampler="random")  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceAxisWarning)
        warnings.simplefilter("ignore", ShortTrainingWarning)
        study.optimize(every_fifth, executor=executor)
    complete = [r for r in study.trials if r.state is ts.TrialState.COMPLETE]
    assert complete and all(r.resource == EPOCHS for r in complete)
    assert study.usage().resource == sum(r.resource for r in study.trials)


def test_ask_and_tell_records_the_loop_s_length_too() -> None:
    study = ts.Study(SPACE, metric="val_loss", storage="memory", seed=0, budget=ts.Budget(trials=1))
    trial = study.ask()
    told = study.tell(trial, every_fifth(trial))
    assert told.resource == EPOCHS


def test_a_loop_the_study_stopped_keeps_the_step_it_reported_last() -> None:
    def stopped_early(trial: ts.Trial) -> dict[str, float]:
        for step in trial.steps(EPOCHS):
            if step == 9:
                break  # the objective's own early exit: the loop did not run to its end
            trial.report(val_loss=1.0 / (step + 1))
        return {"val_loss": 0.1}

    study = ts.Study(SPACE, metric="val_loss", storage="memory", seed=0, budget=ts.Budget(trials=1))
    study.optimize(stopped_early)
    assert study.trials[0].resource == 9
