"""API misuses a new user hit, each silent before: a trial told to the wrong study, a `Trial` kept after its run,
a trial asked for and never told, and an objective no executor can call with a trial.

A trial of study a told to study b completed b's trial #0 (another configuration) with a's result; a handle kept
after optimize took reports (answered STOP, stored nowhere) and drew parameters for a finished trial; an untold
``ask()`` held a place of the budget while optimize said "trial budget spent (4/4)" after 3 results; and an objective
``def objective(params, data)`` or an ``async def`` one failed every trial until fail-fast stopped the run."""

from __future__ import annotations

import functools
import operator
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import tunesmith as ts
from tunesmith.errors import ConfigError, TrialNotRunning
from tunesmith.trial import TrialKind, TrialState

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def quiet_optimize(study: ts.Study, objective: Any, **options: Any) -> ts.StudyResult:
    """Optimize, with the warnings these small budgets draw beside the point here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return study.optimize(objective, progress=False, **options)


# A trial told to another study --------------------------------------------------------------------------------


def test_a_trial_told_to_another_study_is_refused_and_nothing_is_recorded() -> None:
    a = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=5), storage="memory", name="a", seed=0)
    b = ts.Study(ts.Space({"y": ts.Int(1, 9)}), metric=ts.Metric("acc", "max"), budget=ts.Budget(trials=5),
                 storage="memory", name="b", seed=1)  # fmt: skip
    from_a = a.ask()
    b.ask()  # b's own trial #0: another configuration under the same number
    with pytest.raises(ConfigError, match=r"trial #0 of study 'a' was told to study 'b'.*tell the study that asked"):
        b.tell(from_a, {"acc": 0.99})
    assert [(r.state, r.metrics) for r in b.trials] == [(TrialState.RUNNING, {})]
    assert a.trials[0].state is TrialState.RUNNING


def test_a_trial_is_told_to_any_study_object_of_the_study_that_asked_for_it(tmp_path: Path) -> None:
    """The refusal reads the study, not the `Study` object: one reopened on the same storage tells the trial."""
    url = f"sqlite:///{tmp_path / 'same.db'}"
    asked = ts.Study(SPACE, metric="loss", storage=url, name="same", seed=0).ask()
    record = ts.Study.load("same", storage=url).tell(asked, 0.25)
    assert (record.state, record.value("loss")) == (TrialState.COMPLETE, 0.25)


# A Trial kept after its run ------------------------------------------------------------------------------------


def _kept_after_optimize() -> tuple[ts.Study, ts.Trial]:
    kept: list[ts.Trial] = []

    def objective(trial: ts.Trial) -> float:
        kept.append(trial)
        for _ in trial.steps(3):
            trial.report(loss=trial.params["x"])
        return float(trial.params["x"])

    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=1), storage="memory", seed=0)
    quiet_optimize(study, objective)
    return study, kept[0]


def test_a_trial_kept_after_optimize_refuses_reports_and_its_step_stays_where_storage_ends() -> None:
    study, kept = _kept_after_optimize()
    with pytest.raises(TrialNotRunning, match=r"trial #0 is not running: its objective returned"):
        kept.report(loss=0.01)
    with pytest.raises(TrialNotRunning, match=r"report\(loss=\.\.\.\) at step 10 would be stored nowhere"):
        kept.report(step=10, loss=0.01)  # refused as ended, not as a stop "at step 4" storage never held
    assert kept.step == 3 and sorted(study.trials[0].intermediate) == [1, 2, 3]


def test_a_trial_kept_after_optimize_refuses_to_draw_a_parameter() -> None:
    _, kept = _kept_after_optimize()
    with pytest.raises(TrialNotRunning, match=r"suggest_float\('y'\) would be stored nowhere"):
        kept.suggest_float("y", 0.0, 1.0)


@pytest.mark.parametrize("told_by", ["handle", "number"])
def test_a_told_trial_refuses_to_draw_a_parameter(told_by: str) -> None:
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0)
    trial = study.ask()
    study.tell(trial if told_by == "handle" else trial.number, 0.3)
    with pytest.raises(TrialNotRunning, match=r"trial #0 is complete, not running: suggest_int\('n'\)"):
        trial.suggest_int("n", 1, 9)
    assert study.trials[0].params == trial.params


# A trial asked for and never told ------------------------------------------------------------------------------


def test_a_trial_asked_for_and_never_told_is_named_in_the_notes_with_the_fix(tmp_path: Path) -> None:
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=4), storage=f"sqlite:///{tmp_path / 'p.db'}",
                     name="p", seed=0)  # fmt: skip
    study.ask()  # a notebook cell that asked and never told
    result = quiet_optimize(study, lambda trial: trial.params["x"])
    assert result.trials_run == 3 and result.stop_reason == "trial budget spent (4/4)"
    [note] = [n for n in result.notes if "never told" in n]
    assert "trial #0, handed out by study.ask()" in note and "trial budget (4 trials)" in note
    assert "study.tell(0, value)" in note and "kind=ts.TrialKind.INTERRUPTED" in note


def test_giving_up_an_untold_trial_as_the_note_says_frees_its_place_of_the_budget() -> None:
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=2), storage="memory", seed=0)
    untold = study.ask()
    study.tell(untold.number, reason="abandoned", kind=TrialKind.INTERRUPTED)
    result = quiet_optimize(study, lambda trial: trial.params["x"])
    assert result.trials_run == 2 and not [n for n in result.notes if "never told" in n]


# An objective no executor can call with a trial ----------------------------------------------------------------


def _needs_data(params: dict[str, Any], data: float) -> float:  # Optuna-style mistake: not a function of a trial
    return float(params["x"]) * data


@pytest.mark.parametrize(
    ("objective", "said"),
    [
        (_needs_data, r"_needs_data\(params, data\) cannot be called with the trial alone \(missing a required "),
        (lambda: 1.0, r"<lambda>\(\) cannot be called with the trial alone \(too many positional arguments\)"),
        (lambda *, trial: 1.0, r"<lambda>\(\*, trial\) cannot be called with the trial alone"),
    ],
    ids=["two-arguments", "no-argument", "keyword-only"],
)
@pytest.mark.parametrize("executor", ["inline", "processes"])
def test_an_objective_that_cannot_take_the_trial_alone_is_refused_before_any_trial(
    objective: Callable[..., Any], said: str, executor: str
) -> None:
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=5), storage="memory", seed=0)
    with pytest.raises(ConfigError, match=said + r".*def objective\(trial\)"):
        study.optimize(objective, executor=executor, fail_fast=None, progress=False)
    assert study.trials == []


async def _async_objective(trial: ts.Trial) -> float:
    return float(trial.params["x"])


class _AsyncCall:
    async def __call__(self, trial: ts.Trial) -> float:
        return float(trial.params["x"])


@pytest.mark.parametrize(
    "objective", [_async_objective, _AsyncCall(), functools.partial(_async_objective)], ids=["def", "call", "partial"]
)
def test_a_coroutine_objective_is_refused_before_any_trial_naming_a_plain_def_with_asyncio_run(
    objective: Callable[..., Any],
) -> None:
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=5), storage="memory", seed=0)
    with pytest.raises(ConfigError, match=r"is a coroutine function \(async def\).*plain def.*asyncio\.run\("):
        study.optimize(objective, fail_fast=None, progress=False)
    assert study.trials == []


def _with_data(trial: ts.Trial, data: float) -> float:
    return float(trial.params["x"]) * data


def _any_arguments(*args: Any) -> float:
    return float(args[0].params["x"])


def _defaulted(trial: ts.Trial, data: float = 1.0) -> float:
    return float(trial.params["x"]) * data


class _Call:
    def __call__(self, trial: ts.Trial) -> float:
        return float(trial.params["x"])


def _giving_data(function: Callable[..., float]) -> Callable[..., float]:
    """A decorator that passes ``data`` itself: its wrapper, not the function it wraps, is what is called."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> float:
        return function(*args, data=2.0, **kwargs)

    return wrapper


@pytest.mark.parametrize(
    "objective",
    [
        functools.partial(_with_data, data=2.0),
        _any_arguments,
        _defaulted,
        _Call(),
        _giving_data(_with_data),
        operator.attrgetter("number"),  # a builtin whose signature cannot be read
    ],
    ids=["partial", "star-args", "defaults", "callable-object", "wrapping-decorator", "unreadable-builtin"],
)
def test_an_objective_callable_with_the_trial_alone_runs(objective: Callable[..., Any]) -> None:
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=2), storage="memory", seed=0)
    result = quiet_optimize(study, objective)
    assert result.states == {"complete": 2}
