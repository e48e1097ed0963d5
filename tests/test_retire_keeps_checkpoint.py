"""Retiring a paused trial removes its checkpoint only when the retirement was recorded: a trial another worker
resumed and finished meanwhile keeps what it kept."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import tunesmith as ts
from tunesmith.study import _ask
from tunesmith.trial import TrialKind, TrialState


def test_retiring_a_paused_trial_that_another_worker_resumed_and_finished_keeps_its_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    study = ts.Study(ts.Space({"lr": ts.Float(1e-3, 1e-1, log=True)}), metric="loss",
                     storage=f"sqlite:///{tmp_path / 'a.db'}", name="mlp", seed=0, sampler="random",
                     keep_checkpoints=3)  # fmt: skip
    trial = study.ask()
    trial.save_checkpoint({"epoch": 9})
    study.tell(trial, 0.5)  # another worker's resumption ran it to the end ...
    stale = dataclasses.replace(study.trials[0], state=TrialState.PAUSED)  # ... after this one read it PAUSED
    _ask._end_paused(study, [stale], "budget spent", TrialKind.BUDGET, {})
    assert study.trials[0].state is TrialState.COMPLETE
    assert trial.load_checkpoint() == {"epoch": 9}
