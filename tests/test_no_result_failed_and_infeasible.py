"""A spent budget whose trials all failed but for INFEASIBLE ones says both why: the failures and the infeasible trials.

4 trials raising RuntimeError and 1 raising ts.Infeasible ended with "the objective declared 1 of the 1 trials that
finished infeasible ... change the space" alone: no failure count, no traceback, no retry, and the API warned
NoFeasibleTrialWarning rather than AllTrialsFailedWarning. The note now counts both, says the more numerous first (the
likelier cause), and `tunesmith run` quotes the failure's traceback.

pyproject's filters ignore `AllTrialsFailedWarning`, so each test here records warnings itself.
"""

from __future__ import annotations

import re
import shlex
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import tunesmith as ts
from tunesmith.cli import cli
from tunesmith.study import AllTrialsFailedWarning, NoFeasibleTrialWarning

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def four_fail_one_declared(trial: ts.Trial) -> float:
    if trial.number == 2:
        raise ts.Infeasible("too big for the device")
    raise RuntimeError("CUDA driver gone")


def one_fails_four_declared(trial: ts.Trial) -> float:
    if trial.number == 0:
        raise RuntimeError("CUDA driver gone")
    raise ts.Infeasible("too big for the device")


def fails_or_too_slow(trial: ts.Trial) -> dict[str, float]:
    """Trials #0 and #3 raise; the others give a result that breaks the latency guardrail."""
    if trial.number % 3 == 0:
        raise ValueError("bad batch")
    return {"loss": trial.params["x"], "latency": 10.0}


def _warned(
    objective: Callable[[ts.Trial], object], guardrails: tuple[ts.Guardrail, ...] = ()
) -> list[warnings.WarningMessage]:
    study = ts.Study(SPACE, metric="loss", guardrails=list(guardrails), budget=ts.Budget(trials=5), storage="memory",
                     seed=0, sampler="random")  # fmt: skip
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        study.optimize(objective, fail_fast=None)
    return [w for w in said if issubclass(w.category, NoFeasibleTrialWarning)]


def _text(objective: Callable[[ts.Trial], object], guardrails: tuple[ts.Guardrail, ...] = ()) -> str:
    (warned,) = _warned(objective, guardrails)
    return str(warned.message)


def test_failures_beside_a_declared_infeasible_trial_warn_all_trials_failed() -> None:
    (warned,) = _warned(four_fail_one_declared)
    assert warned.category is AllTrialsFailedWarning


def test_the_note_counts_the_failures_and_the_infeasible_trials() -> None:
    text = _text(four_fail_one_declared)
    assert "of the 5 trials that finished, 4 failed and 1 is INFEASIBLE, so none gave a feasible result" in text


def test_the_note_names_the_most_common_failure_and_how_to_requeue_it() -> None:
    text = _text(four_fail_one_declared)
    assert "4 exception; every one failed the same way: RuntimeError: CUDA driver gone" in text
    assert "re-queue them with study.retry_failed()" in text


def test_the_note_says_why_the_infeasible_trial_is_so_beside_the_failures() -> None:
    text = _text(four_fail_one_declared)
    assert "Then the infeasible trial: the objective declared 1 of the 1 trials that finished infeasible" in text


@pytest.mark.parametrize(
    ("objective", "first", "then"),
    [
        (four_fail_one_declared, "The failures first, as the more numerous", "Then the infeasible trial: "),
        (one_fails_four_declared, "The infeasible trials first, as the more numerous", "Then the failure: "),
    ],
)
def test_the_more_numerous_cause_is_said_first(objective: Callable[[ts.Trial], float], first: str, then: str) -> None:
    text = _text(objective)
    assert first in text and then in text and text.index(first) < text.index(then), text


def test_failures_beside_trials_that_gave_results_are_not_blamed_on_code_broken_everywhere() -> None:
    text = _text(fails_or_too_slow, (ts.Guardrail("latency", "<=", 5.0),))
    assert "2 exception; every one failed the same way: ValueError: bad batch" in text
    assert "while 3 other trials gave a result: the objective runs in some configurations" in text
    assert "latency <= 5 broken by 3 of 3" in text


OBJECTIVES = """
import tunesmith as ts


def oneinf(trial):
    if trial.number == 2:
        raise ts.Infeasible("too big for the device")
    raise RuntimeError("CUDA driver gone")
"""


def _run(folder: Path) -> Result:
    (folder / "probe.py").write_text(OBJECTIVES)
    (folder / "oneinf.toml").write_text(
        'name = "oneinf"\nobjective = "probe:oneinf"\nseed = 0\nsampler = "random"\nfail_fast = false\n'
        '[metric]\nname = "loss"\n[budget]\ntrials = 5\n[space]\nx = { type = "float", low = 0.0, high = 1.0 }\n'
    )
    url = f"sqlite:///{folder / 'af.db'}"
    return CliRunner().invoke(cli, ["run", str(folder / "oneinf.toml"), "--storage", url, "--no-progress",
                                    "--no-report"])  # fmt: skip


def test_run_exits_1_quoting_the_failures_traceback_beside_the_infeasible_trial(tmp_path: Path) -> None:
    result = _run(tmp_path)
    assert result.exit_code == 1, result.output
    error = result.output[result.output.index("\nError: ") + 1 :]
    assert "4 failed and 1 is INFEASIBLE" in error
    assert "\nTrial #0's traceback:\nTraceback (most recent call last):" in error
    assert 'raise RuntimeError("CUDA driver gone")' in error


def test_the_retry_the_run_gives_requeues_the_failures(tmp_path: Path) -> None:
    said = _run(tmp_path).output.split("\nError: ", 1)[1].split("\n")[0]
    (retry,) = [c for c in re.findall(r"`(tunesmith [^`]+)`", said) if c.startswith("tunesmith retry")]
    requeued = CliRunner().invoke(cli, shlex.split(retry)[1:])
    assert requeued.exit_code == 0 and "re-queued 4 failed trials of oneinf" in requeued.output, requeued.output
