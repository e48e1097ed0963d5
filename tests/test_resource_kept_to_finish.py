"""A resource budget under ASHA or Hyperband keeps what the trials past their last rung need to train to the end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import tunesmith as ts
from tunesmith.cli import cli
from tunesmith.executors import SimulatedExecutor
from tunesmith.report._shown import _few_trained_note
from tunesmith.schedulers import ASHA, FIFO, FinishLine, Hyperband
from tunesmith.study._limits import spent_beyond_trials
from tunesmith.trial import TrialRecord, TrialState


def _running(number: int, resource: int, state: TrialState = TrialState.RUNNING) -> TrialRecord:
    reports = {step: {"loss": 1.0 / step} for step in range(1, resource + 1)}
    return TrialRecord(number, {"x": 0.5}, seed=number, state=state, intermediate=reports, resource=float(resource))


def _stopped(number: int, resource: int) -> TrialRecord:
    return _running(number, resource, TrialState.STOPPED)


def test_the_finish_line_is_the_last_rung_below_the_full_resource_in_stop_mode() -> None:
    assert ASHA(1, 27, 3).finish_line(0) == FinishLine(9.0, 27.0)
    assert ASHA(1, 27, 3, mode="promote").finish_line(0) is None  # a paused trial may go on later
    assert FIFO().finish_line(0) is None
    hyperband = Hyperband(1, 27, 3)
    lines = {hyperband.bracket_of(n): hyperband.finish_line(n) for n in range(40)}
    assert lines[0] == FinishLine(0.0, 27.0) and lines[3] == FinishLine(9.0, 27.0)  # bracket 0 stops none


def test_a_new_trial_waits_for_the_resource_a_trial_past_its_last_rung_needs_to_finish() -> None:
    # Trial 1 is past the last rung (9) at 20 of 27: it needs 7 more. 85 used of 100: a new trial's 27 do not fit.
    history = [_stopped(0, 65), _running(1, 20)]
    budget = ts.Budget(resource=100)
    spent = spent_beyond_trials(budget, history, now=0.0, scheduler=ASHA(1, 27, 3))
    assert spent is not None and spent.limit == "resource"
    assert spent.message == (
        "resource budget spent (85 used of 100, 7 kept for trial 1 to finish): too little left to train a new trial "
        "to the end (27 more)"
    )
    # Without the scheduler (FIFO names no finish line), the next steps alone are counted, as before.
    assert spent_beyond_trials(budget, history, now=0.0) is None
    assert spent_beyond_trials(budget, history, now=0.0, scheduler=FIFO()) is None
    # Room for both: the new trial starts.
    assert spent_beyond_trials(ts.Budget(resource=119), history, now=0.0, scheduler=ASHA(1, 27, 3)) is None


def test_a_trial_short_of_its_last_rung_goes_on_only_beside_what_the_finishing_trials_need() -> None:
    # Trial 2 reported at rung 3 (short of 9): its next step (1 more) fits only if trial 1's 7 are not kept.
    history = [_stopped(0, 69), _running(1, 20), _running(2, 3)]
    budget, asha = ts.Budget(resource=99), ASHA(1, 27, 3)
    spent = spent_beyond_trials(budget, history, now=0.0, step_for=2, scheduler=asha)
    assert spent is not None and spent.message == (
        "resource budget spent (92 used of 99, 7 kept for trial 1 to finish): too little left to train trial 2 to "
        "its next report (1 more)"
    )
    assert spent_beyond_trials(budget, history, now=0.0, step_for=2) is None  # as before: its step and trial 1's
    # Trial 2 stopped there, trial 1 trains to the end on what is left.
    history[2] = _stopped(2, 3)
    assert spent_beyond_trials(budget, history, now=0.0, step_for=1, scheduler=asha) is None
    # A step trial 2 has under way is spent whatever comes: then trial 1 cannot finish, and stops now.
    history[2] = _running(2, 3)
    spent = spent_beyond_trials(budget, history, now=0.0, step_for=1, scheduler=asha)
    assert spent is not None and spent.message.endswith("1 in flight): too little left to train trial 1 to the end "
                                                        "(7 more)")  # fmt: skip


def test_a_trial_at_the_end_of_its_training_is_never_stopped_by_the_budget() -> None:
    # 99 used of 100 and a step each of trials 2 and 3 in flight: past the budget, yet trial 1 needs nothing more.
    history = [_stopped(0, 66), _running(1, 27), _running(2, 3), _running(3, 3)]
    assert spent_beyond_trials(ts.Budget(resource=100), history, now=0.0, step_for=1, scheduler=ASHA(1, 27, 3)) is None


def test_of_two_trials_past_the_line_the_one_nearer_the_end_finishes_and_the_other_stops_now() -> None:
    # 100 used of 110: trial 1 needs 7 more, trial 2 needs 17; both do not fit, trial 1 alone does.
    history = [_stopped(0, 60), _running(1, 20), _running(2, 10)]
    budget, asha = ts.Budget(resource=110), ASHA(1, 27, 3)
    assert spent_beyond_trials(budget, history, now=0.0, step_for=1, scheduler=asha) is None
    spent = spent_beyond_trials(budget, history, now=0.0, step_for=2, scheduler=asha)
    assert spent is not None
    assert spent.message == (
        "resource budget spent (90 used of 110, 7 kept for trial 1 to finish): too little left to train trial 2 to "
        "the end (17 more)"
    )


def _objective(trial: ts.Trial) -> Iterator[tuple[float, dict[str, float]]]:
    x = trial.params["x"]
    for step in range(trial.step + 1, 28):
        yield 1.0, {"loss": (x - 0.3) ** 2 + 1.0 / step}


def test_parallel_workers_on_a_small_resource_budget_train_trials_to_the_end_rather_than_cut_them() -> None:
    # Four workers, three full trainings' worth: new trials spent the budget on their first rungs while the trials
    # past the last rung were cut, 19 to 45 units past it, and no seed trained one fully (the study had no best).
    for seed in range(6):
        study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", budget=ts.Budget(resource=3 * 27),
                         seed=seed, storage="memory", sampler="random", scheduler=ASHA(1, 27, 3))  # fmt: skip
        study.optimize(_objective, executor=SimulatedExecutor(workers=4), progress=False)
        records = study.trials
        cut = sum(r.resource - 9 for r in records if r.state is not TrialState.COMPLETE and r.resource > 9)
        complete = [r for r in records if r.state is TrialState.COMPLETE]
        assert complete and cut == 0, (seed, cut, [(r.number, r.state, r.resource, r.reason) for r in records])
        assert sum(r.resource for r in records) <= 3 * 27
        assert study.best is not None


def _steps(trial: ts.Trial) -> float:
    x = trial.params["x"]
    for step in trial.steps(27):
        trial.report(loss=(x - 0.3) ** 2 + 1.0 / (step + 1))
    return (x - 0.3) ** 2 + 1 / 27


def test_a_best_among_few_trained_fully_is_not_told_to_run_on_when_what_is_left_trains_none_to_the_end() -> None:
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", budget=ts.Budget(resource=4 * 27), seed=1,
                     storage="memory", scheduler=ASHA(1, 27, 3))  # fmt: skip
    with pytest.warns(ts.study.ShortTrainingWarning):
        result = study.optimize(_steps, progress=False)
    assert result.stop_reason.endswith("too little left to train a new trial to the end (27 more)")
    usage = study.usage()
    assert usage.resource is not None and usage.resource < 4 * 27  # not all spent: what is left trains none
    note = _few_trained_note(study.scheduler, study.budget, study.trials, usage)
    # It said "the budget is not spent, so run the study on", and a run on would start nothing.
    assert note is not None and "not spent" not in note and "before the resource budget ran out" in note
    assert "raise the resource budget" in note


def test_status_says_when_the_resource_left_cannot_train_a_new_trial_to_the_end(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'left.db'}"
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), name="left", metric="loss", budget=ts.Budget(resource=4 * 27),
                     seed=1, storage=url, scheduler=ASHA(1, 27, 3))  # fmt: skip
    with pytest.warns(ts.study.ShortTrainingWarning):
        study.optimize(_steps, progress=False)
    left = 4 * 27 - study.usage().resource
    assert 0 < left < 27
    shown = CliRunner().invoke(cli, ["status", "left", "--storage", url])
    assert shown.exit_code == 0, shown.output
    said = " ".join(shown.output.split())
    assert f"budget: resource {4 * 27 - left:g}/108" in said
    assert (f"the resource left ({left:g}) cannot train a new trial to the end, so a run on starts none: raise the "
            "resource budget to go on (tunesmith extend --resource)") in said  # fmt: skip
