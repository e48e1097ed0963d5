"""PBT whose objective saves no checkpoint at all stops at its first continuation, loudly: every continuation would
train from scratch under the steps it borrowed, its curve and results claiming training it never had. It warned once
and ran on, recording those results as PBT's; a donor that alone lacks files, while others saved, still warns."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import tunesmith as ts
from tunesmith.study import CheckpointMissing
from tunesmith.study._checkpoints import CHECKPOINTED, CheckpointStore
from tunesmith.trial import TrialKind, TrialRecord, TrialState

SPACE = ts.Space({"lr": ts.Float(1e-3, 0.4, log=True)})


def objective(trial: ts.Trial) -> float:
    """Gradient steps on w**2 from w = 5, keeping its state in memory only: a continuation starts again at 5. Each
    step takes 50 ms, so that the four members train at once on a loaded machine too, as PBT needs to exploit."""
    weight = 5.0
    for _ in trial.steps(40):
        time.sleep(0.05)
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


def _records(saved: bool) -> tuple[TrialRecord, TrialRecord, list[TrialRecord]]:
    """A continuation of trial 1 (running, no files) beside trial 0, finished, which saved a checkpoint or not."""
    done = TrialRecord(0, {"lr": 0.1}, 0, state=TrialState.COMPLETE, attrs={CHECKPOINTED: True} if saved else {})
    donor = TrialRecord(1, {"lr": 0.2}, 1)
    continuation = TrialRecord(2, {"lr": 0.25}, 2, attrs={"parent": 1})
    return continuation, donor, [done, donor, continuation]


@pytest.mark.parametrize("simulated", [False, True])
def test_a_continuation_whose_donor_and_every_other_trial_saved_nothing_is_missing_its_checkpoint(
        tmp_path: Path, simulated: bool) -> None:  # fmt: skip
    store = CheckpointStore(tmp_path, keep=1)
    continuation, _, history = _records(saved=False)
    found = {r.number: r for r in history}
    if simulated:  # the simulated executor's curves may be computed from the step alone: a warning, once
        with pytest.warns(ts.study.CheckpointWarning, match="but trial 1 saved no checkpoint"):
            assert store.missing(continuation, 20, study="s", trial=found.__getitem__, history=lambda: history,
                                 simulated=True) is None  # fmt: skip
        return
    missing = store.missing(continuation, 20, study="s", trial=found.__getitem__, history=lambda: history)
    assert missing is not None and "PBT continues trial #1's training in trial #2 from step 20" in missing
    assert "no trial of study 's' has saved a checkpoint" in missing


def test_a_donor_that_alone_saved_nothing_warns_and_lets_the_continuation_run(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path, keep=1)
    continuation, _, history = _records(saved=True)
    found = {r.number: r for r in history}
    with pytest.warns(ts.study.CheckpointWarning, match="trial 2 continues trial 1's training from step 20"):
        assert store.missing(continuation, 20, study="s", trial=found.__getitem__, history=lambda: history) is None
