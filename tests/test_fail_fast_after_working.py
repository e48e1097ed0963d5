"""Something that breaks during a run (a data file deleted, a full disk) fails every later trial the same way: after
trials worked, ten identical code failures in a row stop the study, where the rest of the budget went with exit 0."""

from __future__ import annotations

from pathlib import Path

import pytest

import tunesmith as ts
from tunesmith.study import ObjectiveError

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def _study(tmp_path: Path, sampler: str = "tpe") -> ts.Study:
    return ts.Study(SPACE, metric="loss", storage=f"sqlite:///{tmp_path / 'broke.db'}", name="broke", seed=0,
                    sampler=sampler, budget=ts.Budget(trials=50))  # fmt: skip


def test_identical_failures_after_ten_trials_worked_stop_the_study_at_the_tenth(tmp_path: Path) -> None:
    data = tmp_path / "train.csv"
    data.write_text("1,2,3\n")

    def objective(trial: ts.Trial) -> float:
        if trial.number == 10:
            data.unlink()  # the data goes away during the run, after ten trials worked
        return len(data.read_text()) * trial.params["x"]

    with pytest.raises(ObjectiveError, match=r"the last 10 trials \(#10-#19\) failed the same way after earlier trials "
                                             r"worked: FileNotFoundError.*tunesmith retry STUDY"):  # fmt: skip
        _study(tmp_path).optimize(objective)
    assert len(ts.Study.load("broke", storage=f"sqlite:///{tmp_path / 'broke.db'}").trials) == 20


def test_a_region_that_raises_on_purpose_does_not_stop_a_study_that_keeps_working(tmp_path: Path) -> None:
    def objective(trial: ts.Trial) -> float:
        if trial.params["x"] > 0.6:
            raise ValueError("x above 0.6 is not a valid setting for this model")
        return (trial.params["x"] - 0.5) ** 2

    result = _study(tmp_path).optimize(objective)
    assert result.trials_run == 50 and result.best is not None


def test_a_streak_after_few_trials_worked_needs_to_be_longer_to_stop_the_study(tmp_path: Path) -> None:
    """Three trials worked: a region failing at a steady rate could put ten in a row after them, so it takes
    more (were the failures spread at random, the last k holding them all has a chance of 6 / ((k+1)(k+2)(k+3)))."""

    def objective(trial: ts.Trial) -> float:
        if trial.number >= 3:
            raise OSError("No space left on device")
        return trial.params["x"]

    expected = (r"the last 38 trials \(#3-#40\) failed the same way .*it failed 0 of the 3 trials before them: were "
                r"its 38 failures spread at random over all 41 trials, the last 38 would hold them all with a chance "
                r"of 9e-05")
    with pytest.raises(ObjectiveError, match=expected):
        _study(tmp_path).optimize(objective)


def test_failures_of_different_kinds_in_a_row_after_trials_worked_do_not_stop_the_study(tmp_path: Path) -> None:
    def objective(trial: ts.Trial) -> float:
        if trial.number >= 2:
            raise ValueError(f"trial {trial.number} failed its own way")
        return trial.params["x"]

    result = _study(tmp_path, sampler="random").optimize(objective)
    assert result.trials_run == 50


def test_fail_fast_none_keeps_going_after_identical_failures(tmp_path: Path) -> None:
    def objective(trial: ts.Trial) -> float:
        if trial.number >= 2:
            raise OSError("No space left on device")
        return trial.params["x"]

    result = _study(tmp_path).optimize(objective, fail_fast=None)
    assert result.trials_run == 50
