"""`ts.delete_study` and `tunesmith delete`: a study deleted to start over, never one whose workers still write to
it, nor one whose holdout opening later studies rely on, unless told to; what it took away is said."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import tunesmith as ts
from tunesmith.cli import cli

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def _flat(text: str) -> str:
    """``text`` without white space: the console wraps a long line anywhere, inside a path too."""
    return "".join(text.split())


def objective(trial: ts.Trial) -> float:
    return trial.params["x"]


def _study(url: str, name: str = "s", trials: int = 3, **options: Any) -> ts.Study:
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=trials), storage=url, name=name, seed=0, **options)
    study.optimize(objective)
    return study


def test_a_deleted_study_is_gone_and_its_name_starts_over_empty(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    held = _study(url)
    _study(url, name="other")
    deleted = ts.delete_study("s", url)
    assert deleted.trials == {"complete": 3}
    assert deleted.lines()[0] == f"deleted study 's' from {url} (3 complete)"
    assert ts.Study.names(url) == ["other"]
    with pytest.raises(ts.StudyNotFound, match="deleted since it was opened"):
        held.trials  # noqa: B018 - an object still holding the study reads nothing of another
    again = _study(url, trials=2)
    assert [t.number for t in again.trials] == [0, 1]
    assert len(ts.Study.load("other", url).trials) == 3


def test_a_study_with_a_running_trial_is_kept_unless_forced(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    study = _study(url)
    study.extend_budget(trials=4)
    running = study.ask()
    with pytest.raises(ts.StudyInUse) as refused:
        ts.delete_study("s", url)
    assert refused.value.running == (running.number,)
    said = str(refused.value)
    assert f"1 running trial (#{running.number} on " in said
    assert re.search(r"last heard \d+ s ago\)", said), said
    assert "tunesmith delete s --force" in said
    assert len(ts.Study.load("s", url).trials) == 4, "a refused deletion deletes nothing"
    deleted = ts.delete_study("s", url, force=True)
    assert deleted.running == (3,)
    assert "trials [3] were running: their workers' next writes fail (study not found)" in deleted.lines()
    with pytest.raises(ts.StudyNotFound):
        running.report(1, loss=0.5)


def test_a_study_that_opened_the_holdout_is_kept_unless_forced(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    study = _study(url, validation_set="val-2026")
    ts.finalize(study, lambda params, seed: {"holdout_loss": params["x"] + 0.01}, holdout="holdout-2026")
    with pytest.raises(ts.DeletionRefused, match=r"opened the locked holdout \(1 opening, holdout set "
                                                 r"'holdout-2026',"):  # fmt: skip
        ts.delete_study("s", url)
    assert ts.Study.names(url) == ["s"]
    deleted = ts.delete_study("s", url, force=True)
    assert deleted.holdout_openings == 1
    assert deleted.lines()[1:] == [
        "3 configurations it compared on validation set 'val-2026' are no longer counted by the studies on this "
        "storage that tune on that set: their optimism now leaves them out",
        "its 1 holdout opening went with it: a later study's finalize no longer knows that holdout set was read",
    ]


def test_checkpoint_files_are_left_where_they_are_and_named(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    folder = tmp_path / "checkpoints"
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=1), storage=url, name="s", checkpoint_dir=folder)

    def saving(trial: ts.Trial) -> float:
        trial.save_checkpoint({"step": 1})
        return trial.params["x"]

    study.optimize(saving)
    kept = [p for p in folder.rglob("*") if p.is_file()]
    assert kept
    deleted = ts.delete_study("s", url)
    assert deleted.checkpoint_folder == str(folder.resolve())
    assert f"its checkpoint files are left in {folder.resolve()}: remove the folder when done" in deleted.lines()
    assert all(p.is_file() for p in kept)


def test_a_missing_study_names_the_ones_there_are(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    _study(url)
    with pytest.raises(ts.StudyNotFound, match="'nope'"):
        ts.delete_study("nope", url)


def test_the_command_deletes_with_yes_and_says_what_went(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    _study(url)
    result = CliRunner().invoke(cli, ["delete", "s", "--storage", url, "--yes"])
    assert result.exit_code == 0, result.output
    assert _flat(f"deleted study 's' from {url} (3 complete)") in _flat(result.output)
    listed = CliRunner().invoke(cli, ["studies", "--storage", url, "--json"])
    assert listed.exit_code == 0 and listed.output.strip() == ""


def test_the_command_asks_first_and_refuses_to_guess_without_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    _study(url)
    result = CliRunner().invoke(cli, ["delete", "s", "--storage", url])
    assert result.exit_code == 1
    assert _flat("no terminal to answer on: pass --yes to delete without asking") in _flat(result.output)
    monkeypatch.setattr("tunesmith.cli._scale._answerable", lambda: True)
    result = CliRunner().invoke(cli, ["delete", "s", "--storage", url], input="n\n")
    assert result.exit_code == 1 and _flat("study 's' not deleted") in _flat(result.output)
    assert ts.Study.names(url) == ["s"]
    result = CliRunner().invoke(cli, ["delete", "s", "--storage", url], input="y\n")
    assert result.exit_code == 0, result.output
    assert _flat(f"delete study 's' and its 3 trials from {url}? [y/N]") in _flat(result.output)
    assert ts.Study.names(url) == []


def test_the_command_keeps_a_study_with_running_trials_in_one_line_until_forced(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    study = _study(url)
    study.extend_budget(trials=4)
    study.ask()
    result = CliRunner().invoke(cli, ["delete", "s", "--storage", url, "--yes"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output and _flat("has 1 running trial") in _flat(result.output)
    result = CliRunner().invoke(cli, ["delete", "s", "--storage", url, "--yes", "--force"])
    assert result.exit_code == 0, result.output
    assert ts.Study.names(url) == []


def test_a_run_whose_study_is_deleted_under_it_stops_saying_nothing_was_kept(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=3), storage=url, name="s", seed=0)

    def deleted_midway(trial: ts.Trial) -> float:
        trial.report(1, loss=0.5)
        ts.delete_study("s", url, force=True)  # what `tunesmith delete s --force` does from another shell
        trial.report(2, loss=0.4)
        return 0.4

    with pytest.raises(ts.StudyNotFound) as stopped:
        study.optimize(deleted_midway)
    assert "deleted while its trials ran (tunesmith delete --force" in stopped.value.__notes__[-1]
    assert ts.Study.names(url) == []


def test_names_that_read_as_markup_are_printed_as_they_are(tmp_path: Path) -> None:
    url, archive = f"sqlite:///{tmp_path / 'd.db'}", f"sqlite:///{tmp_path / 'archive.db'}"
    _study(url, name="evil[/bold]")
    copied = CliRunner().invoke(cli, ["copy", "evil[/bold]", "--storage", url, "--to", archive])
    assert copied.exit_code == 0, copied.output
    assert "copied study 'evil[/bold]'" in copied.output and "\\[" not in copied.output
    deleted = CliRunner().invoke(cli, ["delete", "evil[/bold]", "--storage", url, "--yes"])
    assert deleted.exit_code == 0, deleted.output
    assert "deleted study 'evil[/bold]'" in deleted.output and "\\[" not in deleted.output
