"""The reason `Auto` records for its choice counts warm-start points towards the model's quasi-random start.

The samplers read warm-start points as finished trials ahead of the study's own, so a GP after 5 Sobol trials
models from the first trial of a study warm-started with 5 points or more: the reason must not call that search
quasi-random. Where the number of points is not known (the choice a new study records), the reason says what
they change.
"""

from __future__ import annotations

import math

import tunesmith as ts
from tunesmith.objective import Metric
from tunesmith.samplers import Auto, SearchContext

SPACE = ts.Space({"lr": ts.Float(1e-4, 1e-1, log=True)})  # one parameter: a GP after 5 Sobol trials


def _context(trials: int) -> SearchContext:
    return SearchContext(metric=Metric("value"), budget=ts.Budget(trials=trials))


def _distance_to_best(trial: ts.Trial) -> float:
    return (math.log10(trial.params["lr"]) + 2) ** 2


def test_a_warm_started_study_does_not_record_its_search_as_wholly_quasi_random() -> None:
    earlier = ts.Study(SPACE, metric="value", budget=ts.Budget(trials=20), storage="memory", seed=0, sampler="random")
    earlier.optimize(_distance_to_best, progress=False)

    study = ts.Study(SPACE, metric="value", budget=ts.Budget(trials=3), storage="memory", seed=0, warm_start=earlier)

    why = study.attrs["sampler_choice"]["why"]
    assert "quasi-random" not in why  # the GP placed all three trials at the optimum the warm start shows
    assert why.endswith("; its 20 warm-start points stand for all 5 Sobol trials: gp chooses every trial")


def test_warm_start_points_that_fill_the_quasi_random_start_leave_every_trial_to_the_model() -> None:
    _, why = Auto().choose(SPACE, _context(3), warm_points=20)

    assert why.endswith("; its 20 warm-start points stand for all 5 Sobol trials: gp chooses every trial")
    assert "quasi-random" not in why


def test_warm_start_points_shorten_the_quasi_random_start_by_their_number() -> None:
    _, why = Auto().choose(SPACE, _context(3), warm_points=3)

    assert why.endswith("; its 3 warm-start points stand for 3 of the 5 Sobol trials: gp chooses after 2 Sobol trials")


def test_a_budget_within_what_is_left_of_the_quasi_random_start_is_still_called_quasi_random() -> None:
    _, why = Auto().choose(SPACE, _context(3), warm_points=2)

    assert why.endswith(
        "; but a budget of 3 trials is no more than the 3 Sobol trials left after 2 warm-start points took the place "
        "of the rest, so the whole search is quasi-random, as sampler='sobol' would run it"
    )
