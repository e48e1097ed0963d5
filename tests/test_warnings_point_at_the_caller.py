"""A warning tunesmith gives a Python caller points at the caller's line, as Python's own do: the line shown under it
is the user's call, not a line inside tunesmith ("return _optimize.optimize(" under `Study.optimize`'s warnings, "init(
self, *args, **kwargs)" under a space's), however many of tunesmith's frames lie between (`outside_stacklevel`), and a
function the caller did not call is not named as having run."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from typing import Any

import tunesmith as ts
from tunesmith._caller import outside_stacklevel
from tunesmith.discipline.baseline import BaselineFailuresWarning
from tunesmith.study import HoldoutSpentWarning, PopulationWarning, ShortTrainingWarning

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def _caught(call: Callable[[], Any]) -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        call()
    return [w for w in caught if w.category.__module__.startswith("tunesmith")]


def _curve(trial: ts.Trial) -> dict[str, float]:
    loss = 1.0
    for step in trial.steps(9):
        loss = trial.params["x"] / (step + 1)
        trial.report(loss=loss)
    return {"loss": loss}


def test_the_warnings_of_study_optimize_point_at_the_line_that_called_it() -> None:
    short = ts.Study(SPACE, metric="loss", storage="memory", seed=0, budget=ts.Budget(trials=6),
                     scheduler={"name": "auto", "max_resource": 9})  # fmt: skip
    said = _caught(lambda: short.optimize(_curve))
    assert [w.category for w in said] == [ShortTrainingWarning], said
    population = ts.Study(SPACE, metric="loss", storage="memory", seed=0, budget=ts.Budget(trials=4),
                          scheduler=ts.PBT(perturbation_interval=2))  # fmt: skip
    said += _caught(lambda: population.optimize(_curve))
    assert PopulationWarning in [w.category for w in said], said
    assert [w.filename for w in said] == [__file__] * len(said), [(w.filename, w.lineno) for w in said]


def _judged(objective: Callable[[ts.Trial], dict[str, float]]) -> ts.Study:
    """A study whose verdict is recorded, with a baseline declared that has not run."""
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0, budget=ts.Budget(trials=3), baseline={"x": 0.5})
    study.optimize(objective)
    ts.finalize(study, lambda params, seed: {"loss": 0.5})
    return study


def test_validate_top_after_a_verdict_warns_once_in_its_own_name_at_the_callers_line() -> None:
    def objective(trial: ts.Trial) -> dict[str, float]:
        return {"loss": trial.params["x"]}

    study = _judged(objective)
    said = _caught(lambda: ts.validate_top(study, objective, k=1, seeds=2))  # its declared baseline runs first
    assert [w.category for w in said] == [HoldoutSpentWarning], [str(w.message) for w in said]
    assert str(said[0].message).startswith("validate_top ran after the study's verdict was recorded")
    assert said[0].filename == __file__


def test_the_baselines_failures_in_validate_top_are_warned_at_the_callers_line() -> None:
    def objective(trial: ts.Trial) -> dict[str, float]:
        if trial.params["x"] == 0.5 and trial.seed % 2:
            raise RuntimeError("the baseline fails on odd seeds")
        return {"loss": trial.params["x"]}

    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0, budget=ts.Budget(trials=3), baseline={"x": 0.5})
    study.optimize(objective)
    said = _caught(lambda: ts.validate_top(study, objective, k=1, seeds=4))
    failures = [w for w in said if w.category is BaselineFailuresWarning]
    assert failures and [w.filename for w in failures] == [__file__] * len(failures), [
        (w.filename, w.lineno) for w in failures
    ]


def test_a_spaces_warning_points_past_the_argument_check_that_wraps_its_constructor() -> None:
    said = _caught(lambda: ts.Space({"alpha": ts.Float(0.0, 1.0)}, forbidden=[ts.Forbidden("alpha > alpha")]))
    assert [w.category for w in said] == [ts.SpaceWarning] and said[0].filename == __file__, said


def test_a_warning_raised_in_the_objective_points_at_the_objectives_line() -> None:
    lines: list[int] = []

    def objective(trial: ts.Trial) -> float:
        lines.append(inspect.currentframe().f_lineno + 1)  # type: ignore[union-attr]
        return trial.suggest_float("dropout", 0.0, 2.0)  # a dropout rate beyond 1: a range no such rate has

    study = ts.Study(storage="memory", budget=ts.Budget(trials=1), seed=0)
    said = _caught(lambda: study.optimize(objective))
    meaningless = [w for w in said if w.category is ts.SpaceWarning]
    assert meaningless and (meaningless[0].filename, meaningless[0].lineno) == (__file__, lines[0]), said


def test_the_stack_level_counts_to_the_first_frame_outside_tunesmith() -> None:
    assert outside_stacklevel() == 1  # called here, outside tunesmith: this frame
