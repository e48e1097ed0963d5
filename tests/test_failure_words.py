"""A run's failures are named in their trial kind's own words wherever they are printed, and what a run with no result
prints points at this study and at what exists.

The terminal's Diagnosis called an exception or a timeout "crashed" (the failures table keeps "crash" for a dead
process) and a NaN result "diverged" (the error and `tunesmith trials --failed` say non_finite); a timeout's fix said
"fix what the failure shows" and its reason was quoted under the heading "traceback"; with --no-report the error said
"the trials and the report are kept"; `tunesmith status` and `best` gave `tunesmith show STUDY 0` where `run` gave the
real command.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from click.testing import CliRunner, Result

import tunesmith as ts
from tunesmith.analysis import diagnose
from tunesmith.cli import cli
from tunesmith.study._optimize import no_feasible_note, no_result_traceback
from tunesmith.trial import TrialKind, TrialRecord, TrialState

OBJECTIVES = """
import math


def broken(trial):
    raise RuntimeError("metric code broken")


def nan(trial):
    return {"loss": math.nan}
"""
LOSS = ts.Metric("loss", "min")
SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def _url(folder: Path) -> str:
    return f"sqlite:///{folder / 'words.db'}"


def _run(folder: Path, objective: str, *options: str) -> Result:
    """``tunesmith run`` of study ``objective``, 4 trials that all fail, fail-fast off."""
    (folder / "words_objectives.py").write_text(OBJECTIVES)
    (folder / "study.toml").write_text(
        f'name = "{objective}"\nobjective = "words_objectives:{objective}"\nseed = 0\nsampler = "random"\n'
        'fail_fast = false\n[metric]\nname = "loss"\n[budget]\ntrials = 4\n'
        '[space]\nx = { type = "float", low = 0.0, high = 1.0 }\n'
    )
    args = ["run", str(folder / "study.toml"), "--storage", _url(folder), "--no-progress", *options]
    return CliRunner().invoke(cli, args, env={"COLUMNS": "1000"})


def _diagnosis(result: Result) -> str:
    """The run's Diagnosis line: its count of each signature and failure."""
    return next(line for line in result.output.splitlines() if "signatures of" in line)


def _timeouts(n: int = 3) -> list[TrialRecord]:
    """Trials the processes executor killed at trial_timeout=1.0s, as it records them."""
    killed = {"kind": TrialKind.TIMEOUT, "reason": "timed out", "error": "killed after trial_timeout=1.0s"}
    return [TrialRecord(k, {"x": 0.1 * k}, k, TrialState.FAILED, {}, {}, **killed) for k in range(n)]


def test_the_diagnosis_calls_exceptions_exception_not_crashed(tmp_path: Path) -> None:
    result = _run(tmp_path, "broken", "--no-report")
    assert result.exit_code == 1, result.output
    assert _diagnosis(result).endswith("4 exception (RuntimeError)"), result.output
    assert "crashed" not in result.output


def test_the_diagnosis_calls_a_nan_result_non_finite_as_the_failed_trials_table_does(tmp_path: Path) -> None:
    result = _run(tmp_path, "nan", "--no-report")
    assert _diagnosis(result).endswith("4 non_finite (loss)"), result.output
    assert "diverged" not in result.output
    listed = CliRunner().invoke(cli, ["trials", "nan", "--storage", _url(tmp_path), "--failed"])
    assert "non_finite" in listed.output, listed.output


def test_the_diagnosis_calls_a_timeout_timeout() -> None:
    lines = diagnose(_timeouts(), SPACE, LOSS).lines()
    assert lines[0].endswith("judged by their results alone): 3 timeout"), lines


def test_a_timeout_note_says_to_raise_trial_timeout_or_make_the_trial_faster() -> None:
    note = no_feasible_note(_timeouts(), LOSS, (), (), "timeouts --storage sqlite:///t.db")
    assert note is not None
    assert "Raise trial_timeout" in note and "or make the trial faster" in note, note


def test_a_timeouts_reason_is_not_called_a_traceback() -> None:
    records = _timeouts()
    note = no_feasible_note(records, LOSS, (), (), "timeouts --storage sqlite:///t.db")
    assert note is not None and "traceback" not in note, note
    assert "prints trial #0's failure" in note
    assert no_result_traceback(records) is None, "the note quotes the reason already: nothing to head 'traceback'"


def test_with_no_report_the_error_does_not_say_the_report_is_kept(tmp_path: Path) -> None:
    result = _run(tmp_path, "broken", "--no-report")
    error = result.output[result.output.index("\nError: ") + 1 :].split("\n")[0]
    assert error.endswith("; the trials are kept"), error
    assert "report" not in error.rsplit(";", 1)[1]


def test_with_a_report_the_error_says_it_is_kept_beside_the_trials(tmp_path: Path) -> None:
    result = _run(tmp_path, "broken", "--report", str(tmp_path / "broken.html"))
    error = result.output[result.output.index("\nError: ") + 1 :].split("\n")[0]
    assert error.endswith("; the trials and the report are kept"), error
    assert (tmp_path / "broken.html").exists()


def test_status_gives_the_command_that_shows_the_failure_with_the_study_and_its_storage(tmp_path: Path) -> None:
    _run(tmp_path, "broken", "--no-report")
    shown = CliRunner().invoke(cli, ["status", "broken", "--storage", _url(tmp_path)], env={"COLUMNS": "1000"})
    expected = f"`tunesmith show broken --storage {shlex.quote(_url(tmp_path))} 0`"
    assert expected in shown.output and "STUDY" not in shown.output, shown.output


def test_best_gives_the_command_that_shows_the_failure_with_the_study_and_its_storage(tmp_path: Path) -> None:
    _run(tmp_path, "broken", "--no-report")
    shown = CliRunner().invoke(cli, ["best", "broken", "--storage", _url(tmp_path)], env={"COLUMNS": "1000"})
    assert shown.exit_code == 1
    expected = f"`tunesmith show broken --storage {shlex.quote(_url(tmp_path))} 0`"
    assert expected in shown.output and "STUDY" not in shown.output, shown.output
