"""`study.optimize(..., fail_fast=None)` whose budget ends with every trial failed says the study has no result.

Fail-fast on raises `ObjectiveError` at the end of such a run; with it off the run spends its budget, as asked, and
then warns (`AllTrialsFailedWarning`, a `NoFeasibleTrialWarning`) with the same text in `StudyResult.notes`, as a
budget spent with every trial infeasible does. It returned in silence.

pyproject's filters ignore `AllTrialsFailedWarning` (tests fail every trial on purpose), so each test here records
warnings itself.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import tunesmith as ts
from tunesmith.study import AllTrialsFailedWarning, NoFeasibleTrialWarning, StudyResult

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def same_error(trial: ts.Trial) -> float:
    raise ValueError(f"bad input shape ({trial.number}, 4)")


def three_errors(trial: ts.Trial) -> float:
    kind = trial.number % 3
    if kind == 0:
        raise ValueError("bad input")
    if kind == 1:
        raise KeyError("missing column")
    raise ZeroDivisionError("division by zero")


def _optimize(
    objective: Callable[[ts.Trial], float], n_trials: int = 8
) -> tuple[StudyResult, list[warnings.WarningMessage]]:
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0, sampler="random")
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        result = study.optimize(objective, n_trials=n_trials, fail_fast=None)
    return result, said


def _no_result(said: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in said if issubclass(w.category, NoFeasibleTrialWarning)]


def test_every_trial_raising_the_same_error_warns_that_the_study_has_no_result() -> None:
    result, said = _optimize(same_error)
    (warned,) = [w for w in said if w.category is AllTrialsFailedWarning]
    text = str(warned.message)
    assert result.trials_run == 8, "fail_fast=None spent the budget, as asked"
    assert "no feasible trial: all 8 trials that finished failed and none gave a result (8 exception)" in text
    assert "every one failed the same way: ValueError: bad input shape (0, 4)" in text


def test_the_warning_and_the_notes_say_the_same() -> None:
    result, said = _optimize(same_error)
    assert _no_result(said) == [result.notes[-1]]


def test_one_error_in_eight_configurations_is_too_few_to_blame_the_code_and_it_says_what_would_decide() -> None:
    _, said = _optimize(same_error)
    (text,) = _no_result(said)
    assert (
        "in 8 different configurations (a part of the space holding three quarters of it would hold them all 10%"
        in text
    )
    assert "too few to tell a broken objective from a part of the space that fails (11 configurations" in text


def test_one_error_in_twelve_configurations_is_blamed_on_the_code_with_how_sure_that_is() -> None:
    _, said = _optimize(same_error, n_trials=12)
    (text,) = _no_result(said)
    assert "would hold them all 3% of the time), so the objective's code, its data or its environment is the" in text


def test_different_errors_name_the_most_common_with_its_trials() -> None:
    _, said = _optimize(three_errors)
    (text,) = _no_result(said)
    assert "3 different failures, the most common in 3 of 8 (#0, #3, #6): ValueError: bad input" in text
    assert "the objective's code" not in text, "errors that differ are not blamed on one cause"


def test_a_study_in_memory_is_pointed_at_its_trials_for_the_traceback_and_at_retry_failed_for_the_fix() -> None:
    _, said = _optimize(same_error)
    (text,) = _no_result(said)
    assert "Trial #0's traceback is its `error` in `study.trials`" in text
    assert "re-queue them with study.retry_failed() (a retry spends the budget in the failure's place)" in text


def test_failures_a_retry_skips_unless_asked_are_named_in_the_retry_call_it_gives() -> None:
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0, sampler="random")
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        study.optimize(lambda trial: math.nan, n_trials=4, fail_fast=None)
    (text,) = _no_result(said)
    assert "study.retry_failed(kinds=(TrialKind.NON_FINITE,))" in text
    assert len(study.retry_failed(kinds=(ts.TrialKind.NON_FINITE,))) == 4, "the call it gives re-queues them"


def test_a_run_that_leaves_budget_for_a_later_one_does_not_warn() -> None:
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0, sampler="random", budget=ts.Budget(trials=20))
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        study.optimize(same_error, n_trials=3, fail_fast=None)
    assert not _no_result(said), "the search goes on in a later run"


def test_a_study_where_one_trial_worked_does_not_warn() -> None:
    def fails_but_once(trial: ts.Trial) -> float:
        if trial.number == 5:
            return trial.params["x"]
        raise ValueError("bad input")

    result, said = _optimize(fails_but_once)
    assert result.best is not None and not _no_result(said)
