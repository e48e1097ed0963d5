"""PBT whose objective saves no checkpoint at all stops at its first continuation, loudly: every continuation would
train from scratch under the steps it borrowed, its curve and results claiming training it never had. It warned once
and ran on, recording those results as PBT's; a donor that alone lacks files, while others saved, still warns."""

from __future__ import annotations

from pathlib import Path

import pytest

import tunesmith as ts
from tunesmith.study import CheckpointMissing
from tunesmith.trial import TrialKind, TrialState

SPACE = ts.Space({"lr": ts.Float(1e-3, 0.4, log=True)})


def objective(trial: ts.Trial) -> float:
    """Gradient steps on w**2 from w = 5, keeping its state in memory only: a continuation starts again at 5."""
    weight = 5.0
    for _ in trial.steps(40):
        weight -= trial.params["lr"] * 2 * weight
        trial.report(loss=weight * weight)
    return weight * weight


def study_in(folder: Path) -> ts.Study:
    return ts.Study(SPACE, metric="loss", scheduler=ts.PBT(perturbation_interval=5), budget=ts.Budget(trials=16),
                    storage="memory", seed=0, checkpoint_dir=folder)  # fmt: skip


def test_pbt_stops_when_no_trial_of_the_study_saved_a_checkpoint(tmp_path: Path) -> None:
    study = study_in(tmp_path)
    with pytest.raises(CheckpointMissing, match=r"PBT continues trial #\d+'s training in trial #\d+ from step \d+, "
                       r"but no trial of study .* has saved a checkpoint"):  # fmt: skip
        study.optimize(objective, workers=4, executor="processes")
    message = str([t.error for t in study.trials if t.kind is TrialKind.EXCEPTION])
    assert "trial.save_checkpoint(state) at each report" in message and "use a scheduler that needs none" in message
    continuation = next(t for t in study.trials if "parent" in t.attrs)
    assert (continuation.state, continuation.reason) == (TrialState.FAILED, "checkpoint missing")
