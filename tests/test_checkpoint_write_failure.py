"""A checkpoint the filesystem refuses is one `CheckpointWriteError` naming the folder, the system's error and the
fix, and fail-fast advises fixing the folder, never ts.Infeasible."""

from __future__ import annotations

import shutil
import signal
import sys
from pathlib import Path

import numpy as np
import pytest

import tunesmith as ts
from tunesmith._checkpoint_file import CheckpointWriteError
from tunesmith.errors import TunesmithError
from tunesmith.study._optimize import ObjectiveError

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def checkpointing(trial: ts.Trial) -> dict[str, float]:
    trial.save_checkpoint({"x": trial.params["x"]})
    return {"loss": trial.params["x"]}


def test_a_checkpoint_folder_under_a_regular_file_is_refused_naming_the_file_and_the_settings(tmp_path: Path) -> None:
    (tmp_path / "not-a-folder").write_text("")
    folder = tmp_path / "not-a-folder" / "ck" / "trial-000000"
    trial = ts.Trial(0, {"x": 0.5}, seed=0, checkpoint_dir=folder)
    with pytest.raises(CheckpointWriteError) as raised:
        trial.save_checkpoint({"x": 0.5})
    message = str(raised.value)
    assert isinstance(raised.value, OSError) and isinstance(raised.value, TunesmithError)
    assert f"checkpoint not written to {folder}" in message
    assert f"{tmp_path / 'not-a-folder'} is a file, not a folder" in message
    assert "checkpoint_dir=" in message and "keep_checkpoints" in message


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_a_write_the_filesystem_refuses_leaves_the_previous_checkpoint_and_no_partial_file(tmp_path: Path) -> None:
    import resource

    trial = ts.Trial(0, {"x": 0.5}, seed=0, checkpoint_dir=tmp_path / "trial-000000")
    trial.save_checkpoint({"step": 1, "weights": np.zeros(10)})
    before = sorted(p.name for p in (tmp_path / "trial-000000").iterdir())
    # A file-size limit makes the filesystem refuse the larger arrays file (EFBIG) as a full disk would (ENOSPC).
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64_000, limit[1]))
    try:
        with pytest.raises(CheckpointWriteError, match=r"OSError: \[Errno 27\] File too large;"):
            trial.save_checkpoint({"step": 2, "weights": np.zeros(150_000)})
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limit)
        signal.signal(signal.SIGXFSZ, handler)
    assert sorted(p.name for p in (tmp_path / "trial-000000").iterdir()) == before
    state = trial.load_checkpoint()
    assert state is not None and state["step"] == 1


def test_fail_fast_on_unwritable_checkpoints_advises_fixing_the_folder_not_infeasible(tmp_path: Path) -> None:
    (tmp_path / "not-a-folder").write_text("")
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=5), storage="memory", seed=0,
                     checkpoint_dir=tmp_path / "not-a-folder" / "ck")  # fmt: skip
    with pytest.raises(ObjectiveError) as raised:
        study.optimize(checkpointing)
    message = str(raised.value)
    assert "CheckpointWriteError: checkpoint not written to" in message
    assert "The study's checkpoint folder is at fault" in message
    assert "raise ts.Infeasible(reason) instead" not in message
    said = message.split("The last traceback:")[0]
    assert said.count("checkpoint_dir=") == 1  # the fix is said once, as the error said it


def test_fail_fast_on_checkpoints_refused_after_trials_worked_advises_fixing_the_folder(tmp_path: Path) -> None:
    root = tmp_path / "ck"

    def folder_becomes_a_file(study: ts.Study, record: ts.TrialRecord) -> None:
        if record.number == 4:  # the disk goes bad under a running study
            shutil.rmtree(root)
            root.write_text("")

    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=40), storage="memory", seed=0,
                     checkpoint_dir=root)  # fmt: skip
    with pytest.raises(ObjectiveError) as raised:
        study.optimize(checkpointing, callbacks=[folder_becomes_a_file])
    message = str(raised.value)
    assert "failed after earlier trials worked: tunesmith._checkpoint_file.CheckpointWriteError" in message
    assert "The study's checkpoint folder is at fault" in message
    assert "Something broke during the run" not in message
