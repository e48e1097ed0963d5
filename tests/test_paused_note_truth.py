"""The note on trials left paused at their rungs (`PausedTrialsWarning`, `StudyResult.notes`) says what the next
`optimize` call does with them, and a call that ends at ``n_trials`` once the study's budget is spent leaves none
paused: it makes the last promotions (or ends them) as a run that the budget ends does."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.errors import BudgetExhausted
from tunesmith.schedulers import Scheduler, make_scheduler
from tunesmith.trial import TrialState

SPACE = ts.Space({"lr": ts.Float(1e-4, 1e-1, log=True)})
LENGTH = 27


def _curve(trial: ts.Trial) -> dict[str, float]:
    """A noisy learning curve whose floor depends on the learning rate: the rungs have something to rank."""
    noise = np.random.default_rng(trial.seed)
    value = 0.0
    for step in trial.steps(LENGTH):
        value = 0.3 + 0.1 * (np.log10(trial.params["lr"]) + 2.5) ** 2 + 1.0 / (step + 1) + noise.normal(0, 0.01)
        trial.report(val_loss=float(value))
        trial.save_checkpoint({"step": step})  # the curve's state is its step: a promotion resumes from it
    return {"val_loss": float(value)}


def _study(scheduler: Scheduler, budget: ts.Budget) -> ts.Study:
    """A study of its own copy of ``scheduler``: two studies built from one parameter share no scheduler state."""
    return ts.Study(SPACE, metric="val_loss", scheduler=make_scheduler(scheduler.describe()), budget=budget,
                    storage="memory", seed=0)  # fmt: skip


def _states(study: ts.Study) -> list[tuple[int, TrialState, float]]:
    return [(r.number, r.state, r.resource) for r in study.trials]


def _paused(study: ts.Study) -> dict[int, float]:
    return {r.number: r.resource for r in study.trials if r.state is TrialState.PAUSED}


@pytest.mark.parametrize(
    ("scheduler", "budget"),
    [
        (ts.ASHA(1, LENGTH, 3, mode="promote"), ts.Budget(trials=30)),
        (ts.Hyperband(1, LENGTH, 3, mode="promote"), ts.Budget(trials=30)),
        # The resource budget's own run ends right after its last new trial's first rung: n_trials meets it there.
        (ts.ASHA(1, LENGTH, 3, mode="promote"), ts.Budget(resource=60)),
    ],
    ids=["asha-trials", "hyperband-trials", "asha-resource"],
)
def test_a_call_limit_that_meets_a_spent_budget_ends_the_run_as_the_budget_does(
    scheduler: Scheduler, budget: ts.Budget
) -> None:
    by_budget = _study(scheduler, budget)
    by_budget.optimize(_curve, progress=False)
    limited = _study(scheduler, budget)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ts.study.PausedTrialsWarning)
        result = limited.optimize(_curve, n_trials=len(by_budget.trials), progress=False)
    with pytest.raises(BudgetExhausted):
        limited.ask()  # the premise: the budget is spent, so no later call could do more for a paused trial
    assert _paused(limited) == {} and not [n for n in result.notes if "paused" in n]
    assert _states(limited) == _states(by_budget)


def _sleeps_past(timeout: float, last: int) -> Callable[[ts.Trial], dict[str, float]]:
    """`_curve`, with trial ``last`` (the trial budget's last new trial) reporting its first step only once
    ``timeout`` has passed since the first trial began: the call's timeout falls right after the budget is spent."""
    began: list[float] = []

    def objective(trial: ts.Trial) -> dict[str, float]:
        if not began:
            began.append(time.monotonic())
        if trial.number == last and trial.step == 0:
            time.sleep(max(0.0, began[0] + timeout - time.monotonic()) + 0.05)
        return _curve(trial)

    return objective


def test_a_timeout_that_leaves_the_last_promotions_says_the_next_call_makes_them_and_it_does() -> None:
    scheduler, budget = ts.ASHA(1, LENGTH, 3, mode="promote"), ts.Budget(trials=9)
    _study(scheduler, budget).optimize(_curve, progress=False)  # warm: a cold first run takes over a second
    study = _study(scheduler, budget)
    with pytest.warns(ts.study.PausedTrialsWarning) as caught:
        result = study.optimize(_sleeps_past(1.0, last=8), timeout=1.0, progress=False)
    assert result.stop_reason.startswith("timeout")
    assert len(study.trials) == 9, "the timeout fell before the budget's last trial: trials #0-#7 took over 1 s"
    waiting = _paused(study)
    assert waiting, "the timeout left trials paused"
    said = str(caught[-1].message)
    assert "the study's trial budget is spent (9/9)" in said, said
    assert "the next optimize() call starts no trial and makes the last promotions" in said, said
    assert "ending the others STOPPED where they paused" in said, said
    assert said in result.notes

    study.optimize(_curve, progress=False)
    after = {r.number: r for r in study.trials}
    assert len(after) == 9, "it started no trial"
    assert _paused(study) == {}
    trained = [n for n in waiting if after[n].resource > waiting[n]]
    ended_there = [n for n in waiting if after[n].state is TrialState.STOPPED and after[n].resource == waiting[n]]
    assert trained and sorted(trained + ended_there) == sorted(waiting)


def test_with_budget_left_the_note_says_the_paused_trials_wait_for_their_rungs_and_they_do() -> None:
    study = _study(ts.ASHA(1, LENGTH, 3, mode="promote"), ts.Budget(trials=60))
    with pytest.warns(ts.study.PausedTrialsWarning) as caught:
        study.optimize(_curve, n_trials=10, progress=False)
    said = str(caught[-1].message)
    assert "the next optimize() call resumes each one its rung ranks there" in said, said
    assert "the others wait for more trials to reach their rungs" in said, said
    waiting = _paused(study)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ts.study.PausedTrialsWarning)
        study.optimize(_curve, n_trials=5, progress=False)
    after = {r.number: r for r in study.trials}
    untouched = [n for n in waiting if after[n].state is TrialState.PAUSED and after[n].resource == waiting[n]]
    assert untouched, "some still wait at their rungs after the next call, which a promise to resume them broke"


def test_a_stop_under_a_spent_resource_budget_says_the_next_call_ends_the_paused_trials_and_it_does() -> None:
    budget = ts.Budget(resource=60)  # its own run ends right after its last new trial's first rung
    by_budget = _study(ts.ASHA(1, LENGTH, 3, mode="promote"), budget)
    by_budget.optimize(_curve, progress=False)
    last = len(by_budget.trials) - 1

    def stop_after_last(study: ts.Study, record: ts.TrialRecord) -> None:
        if record.number == last:
            study.stop()

    study = _study(ts.ASHA(1, LENGTH, 3, mode="promote"), budget)
    with pytest.warns(ts.study.PausedTrialsWarning) as caught:
        study.optimize(_curve, callbacks=[stop_after_last], progress=False)
    waiting = _paused(study)
    said = str(caught[-1].message)
    assert waiting and "the study's resource budget is spent" in said, said
    assert "the next optimize() call ends them STOPPED where they paused" in said, said

    result = study.optimize(_curve, progress=False)
    assert result.stop_reason.startswith("resource budget spent"), result.stop_reason
    after = {r.number: r for r in study.trials}
    assert all(after[n].state is TrialState.STOPPED and after[n].resource == waiting[n] for n in waiting)
