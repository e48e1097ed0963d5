"""Checkpoints survive a worker started elsewhere: the study records its checkpoint folder as an absolute
path, and a trial that would resume where its files are not is recorded FAILED and stops the study, instead
of resuming from nothing at its old step."""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import pytest

import tunesmith as ts
from tunesmith.attributes import CheckpointRootAttr, read_attr
from tunesmith.schedulers import ASHA
from tunesmith.study import CheckpointMissing

SPACE = ts.Space({"quality": ts.Float(0.0, 1.0)})


def _study(url: str, trials: int = 9, **kwargs: object) -> ts.Study:
    return ts.Study(SPACE, metric="loss", scheduler=ASHA(1, 9, 3, mode="promote"), storage=url, name="ckpt",
                    seed=4, sampler="random", budget=ts.Budget(trials=trials), **kwargs)  # type: ignore[arg-type]  # fmt: skip


def checkpointed(trial: ts.Trial) -> dict[str, float]:
    """Trains from its checkpoint: it must find the epochs it says it did (``trial.step``)."""
    state = trial.load_checkpoint() or {"epochs": 0}
    assert state["epochs"] == trial.step, f"resumed at step {trial.step} with {state['epochs']} epochs done"
    loss = math.inf
    for step in trial.steps(9):
        state["epochs"] = step + 1
        trial.save_checkpoint(state)
        loss = trial.params["quality"] + 1.0 / (step + 1)
        trial.report(loss=loss)
    return {"loss": loss}


def _pause_some(url: str, where: Path, monkeypatch: pytest.MonkeyPatch) -> ts.Study:
    """The first worker, run in ``where``, leaves trials paused at their rungs with their checkpoints."""
    where.mkdir()
    monkeypatch.chdir(where)
    study = _study(url)
    with pytest.warns(ts.study.PausedTrialsWarning):
        study.optimize(checkpointed, n_trials=6)
    assert any(r.state is ts.TrialState.PAUSED for r in study.trials)
    return study


def test_a_worker_in_another_directory_resumes_from_the_first_opener_s_checkpoints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path}/ckpt.db"
    first = _pause_some(url, tmp_path / "a", monkeypatch)
    root = tmp_path / "a" / "tunesmith-checkpoints" / "ckpt"
    assert first.checkpoint_root == root
    stored = read_attr(first.attrs, CheckpointRootAttr)
    assert stored is not None and stored.path == str(root)
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "b")
    second = ts.Study.load("ckpt", url)
    assert second.checkpoint_root == root
    paused = {r.number for r in second.trials if r.state is ts.TrialState.PAUSED}
    resumed: list[int] = []

    def noting(trial: ts.Trial) -> dict[str, float]:
        if trial.step > 0 and trial.number in paused:
            resumed.append(trial.number)
        return checkpointed(trial)  # asserts that a resumed trial finds the epochs it did

    second.optimize(noting)
    assert resumed, "a trial paused by the first worker was resumed here"
    states = {r.state for r in second.trials}
    assert ts.TrialState.PAUSED not in states and ts.TrialState.FAILED not in states
    assert not (tmp_path / "b" / "tunesmith-checkpoints").exists()


def test_a_resumed_trial_whose_files_are_gone_fails_and_stops_the_study_saying_where_they_should_be(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It resumed at its old step with nothing loaded, training from scratch under steps that said otherwise.
    Restarting it from step 0 does not work either: its earlier reports stay, and the scheduler reads them."""
    url = f"sqlite:///{tmp_path}/ckpt.db"
    first = _pause_some(url, tmp_path / "a", monkeypatch)
    marked = [r.number for r in first.trials if r.attrs.get("checkpointed")]
    assert marked == [r.number for r in first.trials], "each trial ended or paused with files in its folder"
    for folder in first.checkpoint_root.iterdir():
        for file in folder.iterdir():
            file.unlink()  # e.g. a worker on a machine without the shared folder
    with pytest.raises(CheckpointMissing, match=r"would resume at step \d+, but its checkpoint folder .* holds none"):
        ts.Study.load("ckpt", url).optimize(checkpointed)
    failed = [r for r in ts.Study.load("ckpt", url).trials if r.state is ts.TrialState.FAILED]
    assert len(failed) == 1 and failed[0].reason == "checkpoint missing"
    assert "run every worker of study 'ckpt' where its checkpoints are" in (failed[0].error or "")


def test_an_objective_that_keeps_its_checkpoint_resumes_at_its_step_without_a_warning(tmp_path: Path) -> None:
    steps: list[int] = []

    def tracked(trial: ts.Trial) -> dict[str, float]:
        steps.append(trial.step)
        return checkpointed(trial)

    _study("memory", checkpoint_dir=tmp_path).optimize(tracked)  # any warning fails the test
    assert any(step > 0 for step in steps), "paused trials resumed at their rung"


def test_a_recorded_folder_this_process_cannot_create_falls_back_to_the_local_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path}/ckpt.db"
    created = _study(url)
    (tmp_path / "a-file").write_text("")  # the recorded folder cannot be made here, as on another machine
    created.set_attr("checkpoint_root", {"path": str(tmp_path / "a-file" / "ckpt")})
    created.storage.close()
    monkeypatch.chdir(tmp_path)
    study = ts.Study.load("ckpt", url)
    assert study.checkpoint_root == tmp_path / "tunesmith-checkpoints" / "ckpt"
    assert os.path.isabs(study.checkpoint_root)


def test_an_explicit_checkpoint_dir_wins_over_the_recorded_one(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/ckpt.db"
    _study(url, checkpoint_dir=tmp_path / "first").storage.close()
    assert ts.Study.load("ckpt", url).checkpoint_root == tmp_path / "first"
    assert ts.Study.load("ckpt", url, checkpoint_dir=tmp_path / "mine").checkpoint_root == tmp_path / "mine"


def test_a_new_study_of_a_name_whose_folder_holds_another_study_s_files_keeps_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two studies of one name (two databases, or one deleted and the study started again) shared
    ``tunesmith-checkpoints/<name>``: the second's fresh trials loaded the first's state, and its pruning deleted
    the first's folders. The second now records a folder of its own, which its later openers use."""
    first = _pause_some(f"sqlite:///{tmp_path}/one.db", tmp_path / "work", monkeypatch)
    root = tmp_path / "work" / "tunesmith-checkpoints" / "ckpt"
    assert first.checkpoint_root == root
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    assert any(p.name.startswith("trial-") for p in root.iterdir())

    second = _study(f"sqlite:///{tmp_path}/two.db", trials=12, keep_checkpoints=1)
    assert second.checkpoint_root.parent == root.parent and second.checkpoint_root.name.startswith("ckpt-")
    second.optimize(checkpointed, n_trials=12)  # every fresh trial asserts it starts from no epochs
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before  # the first's files untouched
    assert _study(f"sqlite:///{tmp_path}/two.db", trials=12).checkpoint_root == second.checkpoint_root

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ts.study.PausedTrialsWarning)
        first.optimize(checkpointed, n_trials=3)  # the first resumes its paused trials from its own files
    assert any(r.state is ts.TrialState.COMPLETE for r in first.trials)
    assert first.checkpoint_root == root


def test_a_new_study_takes_the_default_folder_when_it_is_empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tunesmith-checkpoints" / "ckpt").mkdir(parents=True)
    assert _study(f"sqlite:///{tmp_path}/one.db").checkpoint_root == tmp_path / "tunesmith-checkpoints" / "ckpt"
