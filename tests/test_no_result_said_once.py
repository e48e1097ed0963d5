"""`tunesmith run` on a study left without a result (every trial failed, or every one infeasible) said why three
times: in the run's notes, in the summary and in the error it exits 1 with. It is said once now, in that error, with
the commands for the study's storage and the failure's traceback; the notes and the summary say everything else, and
the summary that the reason follows."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import tunesmith as ts
from tunesmith.cli import cli
from tunesmith.study._known import QueueBeyondBudgetWarning
from tunesmith.study._optimize import NoFeasibleTrialWarning

CONFIG = """
name = "nothing"
objective = "{objective}"
seed = 0
sampler = "random"
fail_fast = false

{metrics}

[budget]
trials = 4

[space]
x = {{ type = "float", low = 0.0, high = 1.0 }}
"""
ONE_METRIC = '[metric]\nname = "loss"'
TWO_METRICS = """
[[metrics]]
name = "loss"
direction = "min"

[[metrics]]
name = "cost"
direction = "min"

[reference_point]
loss = 10.0
cost = 10.0
"""
OBJECTIVES = """
import tunesmith as ts


def refuse(trial):
    raise ts.Infeasible("needs more memory than the device")


def crash(trial):
    raise RuntimeError("the data loader broke")
"""
# What each run's reason says, in `no_feasible_note`'s words, whichever view prints it.
DECLARED = "the objective declared 4 of the 4 trials that finished infeasible"
ALL_FAILED = "all 4 trials that finished failed and none gave a result"
ERROR = "the budget is spent and the study has no result: no feasible trial: "
POINTER = "No result: no trial is feasible; why, and what to do, are said at the end."


def _run(folder: Path, objective: str, metrics: str = ONE_METRIC, *extra: str) -> Result:
    (folder / "no_result_objectives.py").write_text(OBJECTIVES)
    config = folder / "nothing.toml"
    config.write_text(CONFIG.format(objective=f"no_result_objectives:{objective}", metrics=metrics))
    url = f"sqlite:///{folder / 'nothing.db'}"
    return CliRunner().invoke(cli, ["run", str(config), "--storage", url, "--no-progress", "--no-report", *extra])


def _said(result: Result) -> str:
    """The command's output, its lines joined (rich wraps them at the terminal's width)."""
    return " ".join(result.output.split())


def test_a_run_whose_every_trial_was_declared_infeasible_says_why_once(tmp_path: Path) -> None:
    result = _run(tmp_path, "refuse")
    assert result.exit_code == 1, result.output
    assert _said(result).count(DECLARED) == 1, result.output


def test_a_run_whose_every_trial_failed_says_why_once(tmp_path: Path) -> None:
    result = _run(tmp_path, "crash")
    assert result.exit_code == 1, result.output
    assert _said(result).count(ALL_FAILED) == 1, result.output


def test_the_reason_is_said_in_the_error_the_run_exits_with(tmp_path: Path) -> None:
    said = _said(_run(tmp_path, "crash"))
    error = said.index(f"Error: {ERROR}")
    assert said.index(ALL_FAILED) > error  # its one saying
    assert said.index("RuntimeError: the data loader broke") > error  # the failure's traceback, after the reason


def test_the_summary_still_counts_the_trials_and_says_the_reason_follows(tmp_path: Path) -> None:
    said = _said(_run(tmp_path, "refuse"))
    assert "stopped: trial budget spent (4/4); this run: 4 trials" in said
    assert "nothing: loss (min), 4 infeasible" in said
    assert said.index(POINTER) < said.index(f"Error: {ERROR}")


def test_a_run_of_several_objectives_without_a_front_says_why_once(tmp_path: Path) -> None:
    result = _run(tmp_path, "refuse", TWO_METRICS)
    assert result.exit_code == 1, result.output
    said = _said(result)
    assert said.count(DECLARED) == 1, result.output
    assert POINTER in said


def test_the_run_keeps_its_other_notes(tmp_path: Path) -> None:
    first = _run(tmp_path, "refuse", ONE_METRIC, "--trials", "1")  # stores the study; its budget has 3 trials left
    assert first.exit_code == 0, first.output
    study = ts.Study.load("nothing", f"sqlite:///{tmp_path / 'nothing.db'}")
    with pytest.warns(QueueBeyondBudgetWarning):  # from the fourth on: more than the budget has left
        for x in (0.1, 0.2, 0.3, 0.4, 0.5):
            study.enqueue({"x": x})
    result = _run(tmp_path, "refuse")
    assert result.exit_code == 1, result.output
    said = _said(result)
    assert "2 enqueued configurations wait, but the trial budget has 0 of 4 trials left" in said
    assert said.count(DECLARED) == 1, result.output


def test_a_run_that_leaves_budget_says_the_reason_in_its_summary(tmp_path: Path) -> None:
    # No error ends it (a later run may find a feasible trial), so the summary is where the reason is said.
    result = _run(tmp_path, "refuse", ONE_METRIC, "--trials", "2")
    assert result.exit_code == 0, result.output
    said = _said(result)
    assert said.count("the objective declared 2 of the 2 trials that finished infeasible") == 1, result.output
    assert POINTER not in said


def test_optimize_names_the_note_that_says_the_study_has_no_result() -> None:
    def refuse(trial: ts.Trial) -> float:
        raise ts.Infeasible("needs more memory than the device")

    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", budget=ts.Budget(trials=3), seed=0)
    with pytest.warns(NoFeasibleTrialWarning) as warned:
        result = study.optimize(refuse)
    assert result.no_result is not None and result.no_result in result.notes
    assert str(warned[-1].message) == result.no_result


def test_optimize_names_no_such_note_when_a_trial_is_feasible() -> None:
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", budget=ts.Budget(trials=3), seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NoFeasibleTrialWarning)
        result = study.optimize(lambda trial: {"loss": trial.params["x"]})
    assert result.no_result is None
