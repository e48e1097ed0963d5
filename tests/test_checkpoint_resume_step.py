"""A paused trial resumes only from a checkpoint of the step it paused at: one saved earlier would train on from an
older state while its curve and resource claim the steps between, and going back to the checkpoint's step would
report steps the storage already holds (and refuses), so the trial is recorded FAILED and the study stops."""

from __future__ import annotations

from pathlib import Path

import pytest

import tunesmith as ts
from tunesmith.schedulers import ASHA
from tunesmith.study import CheckpointMissing


def saves_every_second_step(trial: ts.Trial) -> dict[str, float]:
    """Saves after even steps only, so a trial paused at rung 3 left the state of step 2."""
    state = trial.load_checkpoint() or {"epochs": 0}
    loss = 1.0
    for step in trial.steps(27):
        state["epochs"] += 1
        if (step + 1) % 2 == 0:
            trial.save_checkpoint(state)
        loss = trial.params["lr"] + 1.0 / state["epochs"]
        trial.report(loss=loss)
    return {"loss": loss}


def test_a_paused_trial_whose_checkpoint_is_behind_its_last_report_fails_naming_both_steps_and_the_fix(
    tmp_path: Path,
) -> None:
    study = ts.Study(ts.Space({"lr": ts.Float(0.01, 0.2, log=True)}), metric="loss",
                     scheduler=ASHA(min_resource=3, max_resource=27, eta=3, mode="promote"),
                     budget=ts.Budget(trials=9), storage="memory", seed=0, checkpoint_dir=tmp_path)  # fmt: skip
    with pytest.raises(CheckpointMissing, match=r"would resume at step 3, its last report, but its checkpoint .* "
                                                r"was saved at step 2"):  # fmt: skip
        study.optimize(saves_every_second_step)
    failed = [r for r in study.trials if r.state is ts.TrialState.FAILED]
    assert len(failed) == 1 and failed[0].reason == "checkpoint behind"
    assert failed[0].resource == 3, "nothing was trained or reported after the pause"
    assert "Save the checkpoint at every step you report, after that step's training" in (failed[0].error or "")
