"""A loss that is NaN from the first report of every trial is a bug in the objective: fail-fast stops the study,
where every trial was stopped as 'diverged', none failed, and the whole budget went with exit code 0."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from click.testing import CliRunner

import tunesmith as ts
from tunesmith.cli import cli
from tunesmith.study import ObjectiveError

SPACE = ts.Space({"lr": ts.Float(1e-4, 1e-1, log=True)})


def _sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'nan.db'}"


def nan_from_step_one(trial: ts.Trial) -> dict[str, float]:
    """The bug: a log(0) in the loss, whatever the configuration."""
    for _ in trial.steps(10):
        trial.report(val_loss=math.nan)
    return {"val_loss": math.nan}


def _study(tmp_path: Path, **options: object) -> ts.Study:
    return ts.Study(SPACE, metric="val_loss", storage=_sqlite(tmp_path), name="nan", seed=0,
                    budget=ts.Budget(trials=50), **options)  # type: ignore[arg-type]  # fmt: skip


def test_a_loss_nan_at_the_first_report_of_ten_trials_in_a_row_stops_the_study(tmp_path: Path) -> None:
    study = _study(tmp_path)
    with pytest.raises(ObjectiveError, match=r"the first report of the first 10 trials in a row, across 10 different "
                                             r"configurations, was NaN or infinite, and none worked"):  # fmt: skip
        study.optimize(nan_from_step_one)
    assert len(ts.Study.load("nan", storage=_sqlite(tmp_path)).trials) == 10, "ten trials spent, not fifty"


def test_the_stop_names_the_trials_the_metric_the_step_the_ranges_tried_and_the_fix(tmp_path: Path) -> None:
    study = _study(tmp_path)
    with pytest.raises(ObjectiveError) as caught:
        study.optimize(nan_from_step_one)
    message = str(caught.value)
    tried = [r.params["lr"] for r in study.trials]
    assert "In trials #0-#9: val_loss=nan at the first report (step 1)." in message
    assert f"these trials covered lr {min(tried):.3g} to {max(tried):.3g}" in message
    assert "check the objective's loss at step 1" in message and "narrow it" in message


def test_a_loss_inf_at_the_first_report_under_asha_stops_the_study(tmp_path: Path) -> None:
    study = _study(tmp_path, scheduler=ts.ASHA(min_resource=1, max_resource=9, eta=3))

    def inf_from_step_one(trial: ts.Trial) -> dict[str, float]:
        for _ in trial.steps(9):
            trial.report(val_loss=math.inf)
        return {"val_loss": math.inf}

    with pytest.raises(ObjectiveError, match=r"In trials #0-#9: val_loss=inf at the first report \(step 1\)"):
        study.optimize(inf_from_step_one)


def test_trials_nan_at_the_first_report_in_earlier_runs_count_toward_the_stop(tmp_path: Path) -> None:
    """A smoke test run four trials at a time: each run ends saying nothing worked, and the third stops after two
    more, at the study's tenth."""
    with pytest.raises(ObjectiveError, match=r"all 4 trials of this run diverged and none worked .*may be to blame"):
        _study(tmp_path).optimize(nan_from_step_one, n_trials=4)
    with pytest.raises(ObjectiveError, match=r"all 4 trials of this run diverged, as did 4 before it"):
        ts.Study.load("nan", storage=_sqlite(tmp_path)).optimize(nan_from_step_one, n_trials=4)
    with pytest.raises(ObjectiveError, match=r"the first report of the first 10 trials in a row"):
        ts.Study.load("nan", storage=_sqlite(tmp_path)).optimize(nan_from_step_one, n_trials=4)
    assert len(ts.Study.load("nan", storage=_sqlite(tmp_path)).trials) == 10


def test_a_nan_returned_by_every_trial_says_to_check_the_objectives_loss(tmp_path: Path) -> None:
    study = _study(tmp_path)
    with pytest.raises(ObjectiveError, match=r"In trials #0-#9: val_loss=nan in the returned result\. .*"
                                             r"check the objective's loss at step 1"):  # fmt: skip
        study.optimize(lambda trial: {"val_loss": math.nan})


def test_half_the_space_diverging_at_the_first_report_does_not_stop_the_study_even_several_in_a_row(
    tmp_path: Path,
) -> None:
    """A learning rate above 0.003 (half the log-range) blows up at once. With seed 4 the first four trials
    all draw one: three in a row, the rule for identical exceptions, would have stopped a sound objective."""

    def high_lr_blows_up(trial: ts.Trial) -> dict[str, float]:
        loss = 1.0
        for step in trial.steps(5):
            loss = math.nan if trial.params["lr"] > 3e-3 else 1.0 / (step + 1) + trial.params["lr"]
            trial.report(val_loss=loss)
        return {"val_loss": loss}

    study = ts.Study(SPACE, metric="val_loss", storage=_sqlite(tmp_path), name="half", seed=4, sampler="random",
                     budget=ts.Budget(trials=30))  # fmt: skip
    study.optimize(high_lr_blows_up)
    trials = ts.Study.load("half", storage=_sqlite(tmp_path)).trials
    first = [r.kind is ts.TrialKind.DIVERGED for r in trials[:4]]
    assert first == [True] * 4, f"the first four trials must diverge at once for this test to mean anything: {first}"
    assert len(trials) == 30 and study.best is not None


def test_the_cli_exits_non_zero_with_the_rule_when_the_loss_is_nan_from_the_first_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "nan_objective.py").write_text(
        "import math\n\ndef objective(trial):\n    for _ in trial.steps(9):\n"
        "        trial.report(val_loss=math.nan)\n    return {'val_loss': math.nan}\n"
    )
    (tmp_path / "study.toml").write_text(
        'name = "nan_steps"\nobjective = "nan_objective:objective"\nseed = 0\n[metric]\nname = "val_loss"\n'
        '[budget]\ntrials = 30\n[space]\nx = { type = "float", low = 0.0, high = 1.0 }\n'
    )
    result = CliRunner().invoke(cli, ["run", "study.toml", "--storage", _sqlite(tmp_path), "--no-progress",
                                      "--no-report"])  # fmt: skip
    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())
    assert "the first report of the first 10 trials in a row, across 10 different configurations, was NaN" in said
    assert "check the objective's loss at step 1" in said


def blows_up_at_step_four(trial: ts.Trial) -> dict[str, float]:
    """A space too aggressive everywhere: every configuration trains three steps, then the loss turns NaN."""
    loss = 1.0
    for step in trial.steps(6):
        loss = 1.0 / (step + 1) if step < 3 else math.nan
        trial.report(val_loss=loss)
    return {"val_loss": loss}


def test_every_trial_diverging_after_some_steps_stops_the_study_at_the_tenth(tmp_path: Path) -> None:
    study = _study(tmp_path)
    with pytest.raises(ObjectiveError, match=r"the first 10 trials in a row, across 10 different configurations, "
                                             r"diverged, and none worked .*Every configuration tried diverged "
                                             r"\(these trials covered lr .*lower the upper bounds"):  # fmt: skip
        study.optimize(blows_up_at_step_four)
    assert len(ts.Study.load("nan", storage=_sqlite(tmp_path)).trials) == 10, "ten trials spent, not fifty"


def test_a_short_run_where_every_trial_diverged_ends_saying_nothing_worked(tmp_path: Path) -> None:
    with pytest.raises(ObjectiveError, match=r"all 4 trials of this run diverged and none worked \(4 diverged after "
                                             r"some steps.*may be to blame"):  # fmt: skip
        _study(tmp_path).optimize(blows_up_at_step_four, n_trials=4)


def test_a_diverged_trial_is_not_one_that_worked_so_identical_crashes_after_it_still_stop_the_study(
    tmp_path: Path,
) -> None:
    def diverges_then_crashes(trial: ts.Trial) -> dict[str, float]:
        if trial.number == 0:
            return blows_up_at_step_four(trial)
        raise KeyError("val_loss")

    with pytest.raises(ObjectiveError, match=r"the first 3 trials \(#1, #2, #3\) failed the same way"):
        _study(tmp_path).optimize(diverges_then_crashes)
