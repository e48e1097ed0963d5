"""`tunesmith run` with ``fail_fast = false`` whose budget ends with every trial failed exits 1 with one message.

The message counts the failures, names the most common with its trials, gives the commands that show its traceback,
list the failures and re-queue them, quotes the traceback, and the fix. 8 of 8 trials raising exited 0.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import tunesmith as ts
from tunesmith.cli import cli

OBJECTIVES = """
def same(trial):
    raise ValueError("bad input shape (3, 4)")


def three(trial):
    kind = trial.number % 3
    if kind == 0:
        raise ValueError("bad input")
    if kind == 1:
        raise KeyError("missing column")
    raise ZeroDivisionError("division by zero")


def evaluate(params, seed):
    return {"loss": 0.1}
"""


def _run(folder: Path, objective: str, *options: str, extra: str = "") -> Result:
    """``tunesmith run`` of study ``objective``: a float, a budget of 6 trials, fail-fast off."""
    (folder / "failing.py").write_text(OBJECTIVES)
    (folder / "study.toml").write_text(
        f'name = "{objective}"\nobjective = "failing:{objective}"\nseed = 1\nsampler = "random"\nfail_fast = false\n'
        '[metric]\nname = "loss"\n[budget]\ntrials = 6\n[space]\nx = { type = "float", low = 0.0, high = 1.0 }\n'
        f"{extra}"
    )
    return CliRunner().invoke(cli, ["run", str(folder / "study.toml"), "--storage", _url(folder), "--no-progress",
                                    "--no-report", *options])  # fmt: skip


def _url(folder: Path) -> str:
    return f"sqlite:///{folder / 's.db'}"


def _error(result: Result) -> str:
    """The error message click printed last (the terminal wraps the summary above it, not the error)."""
    return result.output[result.output.index("\nError: ") + 1 :]


def test_every_trial_failing_with_fail_fast_false_exits_1_counting_them_and_naming_the_error(tmp_path: Path) -> None:
    result = _run(tmp_path, "same")
    assert result.exit_code == 1, result.output
    assert "all 6 trials that finished failed and none gave a result (6 exception)" in _error(result)
    assert "every one failed the same way: ValueError: bad input shape (3, 4)" in _error(result)


def test_the_message_quotes_the_traceback_of_the_trial_it_names(tmp_path: Path) -> None:
    error = _error(_run(tmp_path, "same"))
    assert "\nTrial #0's traceback:\nTraceback (most recent call last):" in error
    assert 'raise ValueError("bad input shape (3, 4)")' in error, "the objective's own line"


def test_different_errors_name_the_most_common_with_its_trials(tmp_path: Path) -> None:
    result = _run(tmp_path, "three")
    assert result.exit_code == 1, result.output
    assert "3 different failures, the most common in 2 of 6 (#0, #3): ValueError: bad input" in _error(result)


def test_the_commands_the_message_gives_show_the_traceback_and_requeue_the_failures(tmp_path: Path) -> None:
    said = _error(_run(tmp_path, "same")).split("\n")[0]
    commands = {c.split()[1]: shlex.split(c)[1:] for c in re.findall(r"`(tunesmith [^`]+)`", said)}
    assert set(commands) == {"show", "trials", "retry"}, said
    shown = CliRunner().invoke(cli, commands["show"])
    assert shown.exit_code == 0 and 'raise ValueError("bad input shape (3, 4)")' in shown.output
    requeued = CliRunner().invoke(cli, commands["retry"])
    assert requeued.exit_code == 0 and "re-queued 6 failed trials of same" in requeued.output, requeued.output


def test_a_config_with_a_holdout_gets_the_same_message_instead_of_the_reruns_refusal(tmp_path: Path) -> None:
    """The re-runs of the top candidates ran first and refused: "has no COMPLETE trial: run the search first"."""
    result = _run(tmp_path, "same", extra='[holdout]\nevaluate = "failing:evaluate"\ntop = 1\nseeds = 2\n')
    assert result.exit_code == 1, result.output
    assert "all 6 trials that finished failed" in _error(result) and "validate_top" not in result.output


def test_a_run_cut_short_by_trials_exits_0_since_the_search_goes_on(tmp_path: Path) -> None:
    result = _run(tmp_path, "same", "--trials", "2")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("command", ["best", "status"])
def test_the_views_say_why_there_is_no_best_once_every_trial_failed(tmp_path: Path, command: str) -> None:
    _run(tmp_path, "same")
    shown = CliRunner().invoke(cli, [command, "same", "--storage", _url(tmp_path)])
    assert "all 6 trials that finished failed" in " ".join(shown.output.split()), shown.output
    assert ts.Study.load("same", _url(tmp_path)).best is None


def test_every_result_invalidated_is_said_so_with_the_fix_not_that_no_trial_completed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'inv.db'}"
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", storage=url, name="inv", seed=0)
    study.optimize(lambda trial: trial.params["x"], n_trials=2)
    for number in (0, 1):
        study.invalidate(number, "data leak")
    said = {command: CliRunner().invoke(cli, [command, "inv", "--storage", url]) for command in ("status", "best")}
    assert said["best"].exit_code == 1
    for result in said.values():
        text = " ".join(result.output.split())
        assert "every trial that completed with one is invalidated (2: #0 (data leak), #1 (data leak))" in text, text
        assert "tunesmith revalidate inv --storage" in text and "no COMPLETE trial" not in text, text
        assert "No trial has completed" not in text, text
