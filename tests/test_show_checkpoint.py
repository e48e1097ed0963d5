"""`tunesmith show` says where a trial's checkpoint is and whether its files are still there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import tunesmith as ts
from tunesmith.cli import cli


def checkpointing(trial: ts.Trial) -> dict[str, float]:
    trial.save_checkpoint({"x": trial.params["x"]})
    return {"loss": trial.params["x"] ** 2}


@pytest.fixture
def pruned(tmp_path: Path) -> tuple[str, ts.Study]:
    """A study of five checkpointed trials, keep_checkpoints=1: only the best trial's files are left."""
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = ts.Study(ts.Space({"x": ts.Float(-1, 1)}), metric="loss", budget=ts.Budget(trials=5), storage=url,
                     name="s", seed=0, sampler="random", keep_checkpoints=1,
                     checkpoint_dir=tmp_path / "ck")  # fmt: skip
    study.optimize(checkpointing)
    return url, study


def _show(url: str, number: int, *extra: str) -> str:
    result = CliRunner().invoke(cli, ["show", "s", str(number), "--storage", url, *extra], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _worst(study: ts.Study) -> int:
    return max(study.trials, key=lambda t: t.value("loss") or 0.0).number


def _best(study: ts.Study) -> int:
    return min(study.trials, key=lambda t: t.value("loss") or 0.0).number


def test_show_says_a_checkpoint_keep_checkpoints_deleted_is_gone(pruned: tuple[str, ts.Study]) -> None:
    url, study = pruned
    worst = _worst(study)
    line = next(line for line in _show(url, worst).splitlines() if line.strip().startswith("checkpoint "))
    assert f"{study.trial_checkpoint_dir(worst)} (deleted by keep_checkpoints" in line


def test_show_says_the_kept_checkpoint_holds_files(pruned: tuple[str, ts.Study]) -> None:
    url, study = pruned
    best = _best(study)
    assert f"checkpoint {study.trial_checkpoint_dir(best)} (holds files)" in _show(url, best)


def test_show_json_carries_the_checkpoint_path_and_whether_it_exists(pruned: tuple[str, ts.Study]) -> None:
    url, study = pruned
    worst, best = _worst(study), _best(study)
    assert json.loads(_show(url, worst, "--json"))["checkpoint"] == {
        "path": str(study.trial_checkpoint_dir(worst)), "exists": False}  # fmt: skip
    assert json.loads(_show(url, best, "--json"))["checkpoint"] == {
        "path": str(study.trial_checkpoint_dir(best)), "exists": True}  # fmt: skip
