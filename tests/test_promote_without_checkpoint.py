"""Promote mode continues a paused trial from its checkpoint. A trial that paused with none saved would train from a
fresh model while its curve and resource claim the steps before its pause (a trial recorded at the full resource,
and picked as the best, had trained 18 of its 27 steps), so its resumption records it FAILED and stops the study,
saying which case it is: an objective that keeps no checkpoint, or one that paused before its first save."""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

import tunesmith as ts
from tunesmith.study import CheckpointMissing
from tunesmith.trial import TrialState

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})
EXECUTORS = ["inline", "processes"]


def _fresh_model(trial: ts.Trial) -> dict[str, float]:
    """Keeps no checkpoint: each run, a resumed one too, trains a fresh model and counts the steps it trained."""
    trained = 0
    for _ in trial.steps(27):
        trained += 1
        trial.report(loss=trial.params["x"] + 1.0 / trained)
    return {"loss": trial.params["x"] + 1.0 / trained, "trained": trained}


def _promote_study(checkpoints: Path, trials: int, max_resource: int = 27) -> ts.Study:
    return ts.Study(SPACE, metric="loss", scheduler=ts.ASHA(1, max_resource, 3, mode="promote"), storage="memory",
                    seed=0, budget=ts.Budget(trials=trials), checkpoint_dir=checkpoints)  # fmt: skip


def _optimize(study: ts.Study, executor: str = "inline") -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ts.study.PausedTrialsWarning)  # the study stops with trials at their rungs
        study.optimize(_fresh_model, executor=executor, progress=False)


@pytest.mark.parametrize("executor", EXECUTORS)
def test_an_objective_that_keeps_no_checkpoint_stops_the_study_at_its_first_resumption(
    executor: str, tmp_path: Path
) -> None:
    study = _promote_study(tmp_path, trials=15)
    with pytest.raises(CheckpointMissing) as raised:
        _optimize(study, executor)
    said = str(raised.value)
    named = re.search(r"promote mode continues a paused trial from its checkpoint, but trial #(\d+) paused at "
                      r"resource (\d+) with no checkpoint saved", said)  # fmt: skip
    assert named is not None, said
    assert "nor has any trial of study" in said and "the objective keeps no checkpoint" in said, said
    assert "trial.save_checkpoint(state) at each report" in said and "trial.load_checkpoint() at start" in said, said
    assert 'or use mode="stop"' in said, said
    [failed] = [r for r in study.trials if r.state is TrialState.FAILED]
    assert (failed.number, failed.resource) == (int(named.group(1)), float(named.group(2)))
    assert failed.reason == "checkpoint missing" and failed.error == said


def test_no_trial_is_recorded_past_the_steps_its_model_trained(tmp_path: Path) -> None:
    study = _promote_study(tmp_path, trials=15)
    with contextlib.suppress(CheckpointMissing):  # how the study ends is the test above's: this one reads the record
        _optimize(study)
    ran = [r for r in study.trials if "trained" in r.metrics]
    assert ran, "trials ran to their first rung"
    assert [(r.number, r.resource) for r in ran] == [(r.number, r.metrics["trained"]) for r in ran]


def test_a_trial_that_paused_before_its_first_save_stops_the_study_naming_the_trials_that_saved(
    tmp_path: Path,
) -> None:
    study = _promote_study(tmp_path, trials=3, max_resource=9)
    for loss, saves in ((0.1, False), (0.6, True), (0.7, True)):  # the best of the rung is the one without a save
        trial = study.ask()
        trial.report(step=1, loss=loss)
        if saves:
            trial.save_checkpoint({"step": 1})
        study.tell(trial)
    with pytest.raises(CheckpointMissing, match=r"trial #0 paused at resource 1 with no checkpoint saved \(.*, though "
                       r"trials #1, #2 saved one: the objective saves less often than it reports"):  # fmt: skip
        study.ask()  # the trial budget is spent: its final promotion resumes trial 0
    assert study.trials[0].state is TrialState.FAILED and study.trials[0].resource == 1


def _own_loop(step_given: bool) -> Callable[[ts.Trial], float]:
    """A loop of its own, as Optuna and Ray users write one: train an epoch, save the state, then report it."""

    def objective(trial: ts.Trial) -> float:
        state = trial.load_checkpoint() or {"trained": 0}
        loss = 1.0
        while state["trained"] < 9:
            state["trained"] += 1
            loss = trial.params["x"] + 1.0 / state["trained"]
            if step_given:
                trial.save_checkpoint(state, step=state["trained"])
            else:
                trial.save_checkpoint(state)
            trial.report(step=state["trained"], loss=loss)
            if trial.should_stop():
                break
        return loss

    return objective


def test_a_loop_of_its_own_that_saves_before_it_reports_resumes_given_the_step(tmp_path: Path) -> None:
    """Saved before ``report(step=n)`` outside a `steps` loop, the state was stamped with the step before it, and
    the first promotion stopped the study, saying the files held that step; ``save_checkpoint(state, step=n)``
    stamps the step the state holds."""
    study = _promote_study(tmp_path / "given", trials=12, max_resource=9)
    study.optimize(_own_loop(step_given=True), progress=False)
    states = {r.state for r in study.trials}
    assert TrialState.FAILED not in states and TrialState.PAUSED not in states
    best = study.best
    assert best is not None and best.resource == 9

    unstamped = _promote_study(tmp_path / "stamped", trials=12, max_resource=9)
    with pytest.raises(CheckpointMissing, match=r"trial.save_checkpoint\(state, step=n\)"):
        unstamped.optimize(_own_loop(step_given=False), progress=False)


@pytest.mark.parametrize("step", [-1, 1.5, "2", True])
def test_a_checkpoint_step_that_is_no_count_of_steps_is_refused(tmp_path: Path, step: object) -> None:
    trial = ts.Study(SPACE, metric="loss", storage="memory", checkpoint_dir=tmp_path).ask()
    with pytest.raises(ts.TunesmithError, match="step"):
        trial.save_checkpoint({"a": 1}, step=step)  # type: ignore[arg-type]
