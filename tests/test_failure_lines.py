"""A failure is summed up by its exception line: the first line of the last exception's message, the one that starts
with the exception's type, not whatever the message or the traceback put last (a hint, a progress line's ``\\r``
overwrite, an exception group's frame). The failed-trials table shows it and fail-fast compares failures on it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import tunesmith as ts
from tunesmith.cli import cli
from tunesmith.study import ObjectiveError
from tunesmith.study._optimize import failure_text
from tunesmith.trial import TrialRecord

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def _failed(objective: object) -> TrialRecord:
    """The one trial of a study whose objective is ``objective``, failed."""
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0, budget=ts.Budget(trials=1))
    study.optimize(objective, fail_fast=None)  # type: ignore[arg-type]
    (record,) = study.trials
    assert record.state is ts.TrialState.FAILED and record.error is not None, "the premise: the trial raised"
    return record


def test_the_failed_trials_table_shows_the_first_line_of_a_multi_line_message(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/shapes.db"

    def misaligned(trial: ts.Trial) -> float:
        raise ValueError("shapes (3,4) and (5,6) not aligned\nhint: check the input layer")

    study = ts.Study(SPACE, metric="loss", storage=url, name="shapes", seed=0, budget=ts.Budget(trials=1))
    study.optimize(misaligned, fail_fast=None)
    study.storage.close()
    result = CliRunner().invoke(cli, ["trials", "shapes", "--storage", url, "--failed"], catch_exceptions=False,
                                env={"COLUMNS": "250"})  # fmt: skip
    assert "ValueError: shapes (3,4) and (5,6) not aligned" in result.output, result.output
    assert "hint: check the input layer" not in result.output


def test_a_carriage_return_in_the_message_neither_cuts_nor_replaces_the_exception_line() -> None:
    def progress_in_message(trial: ts.Trial) -> float:
        raise RuntimeError("loading 10%\rloading 100%\nsecond line\rOVERWRITE")

    assert failure_text(_failed(progress_in_message)) == "RuntimeError: loading 10% loading 100%"


def test_a_chained_exception_is_summed_up_by_the_last_exception_raised() -> None:
    def chained(trial: ts.Trial) -> float:
        try:
            raise KeyError("first failure\nits detail")
        except KeyError as exc:
            raise ValueError("lookup failed\nhint: check the keys") from exc

    assert failure_text(_failed(chained)) == "ValueError: lookup failed"


def test_an_exception_group_is_summed_up_by_its_own_line() -> None:
    def grouped(trial: ts.Trial) -> float:
        raise ExceptionGroup("two loaders failed", [ValueError("a"), TypeError("b")])

    assert failure_text(_failed(grouped)) == "ExceptionGroup: two loaders failed (2 sub-exceptions)"


def test_a_bug_whose_message_ends_with_a_per_trial_line_stops_the_study_at_the_third_trial() -> None:
    """The same exception line, then a line that names the trial: the same failure, three times."""

    def broken(trial: ts.Trial) -> float:
        raise ValueError(f"shapes (3,4) and (5,6) not aligned\nseen in trial {trial.number}")

    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0, budget=ts.Budget(trials=50))
    with pytest.raises(ObjectiveError, match=r"failed the same way and none worked: ValueError: shapes \(3,4\)"):
        study.optimize(broken)
    assert len(study.trials) == 3


def test_a_ray_task_error_is_read_by_the_exception_it_ends_with_not_its_first_line() -> None:
    """Ray's text names the task and its process first (``ray::trial-0() (pid=..)``), which differs from trial to
    trial: read by it, three trials failing alike on an import error never made a streak."""
    from tunesmith.study._optimize import _exception_line

    text = ("RayTaskError(RaySystemError): ray::trial-{n}() (pid=16109, ip=192.0.2.2)\n"
            "  At least one of the input arguments for this task could not be computed:\n"
            "ray.exceptions.RaySystemError: System error: No module named 'objective_module'\n"
            "traceback: Traceback (most recent call last):\n          ^^^^^^^^^^^^^\n"
            "ModuleNotFoundError: No module named 'objective_module'\n")  # fmt: skip
    lines = {_exception_line(text.format(n=n)) for n in range(3)}
    assert lines == {"ModuleNotFoundError: No module named 'objective_module'"}
