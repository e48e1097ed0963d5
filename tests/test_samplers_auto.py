"""`Auto` follows the guide's method table and records why it chose what it chose."""

from __future__ import annotations

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.objective import Metric
from tunesmith.samplers import GP, TPE, Auto, Grid, SearchContext
from tunesmith.samplers.auto import GP_MAX_TRIALS
from tunesmith.space import Choice, Float, Int, Space
from tunesmith.testing.samplers import CONTEXT, run_history
from tunesmith.trial import TrialRecord, TrialState

LOW_DIM = Space({"lr": Float(1e-5, 1e-1, log=True), "layers": Int(2, 6), "dropout": Float(0.0, 0.5)})
WITH_CHOICES = Space({**LOW_DIM, "act": Choice(["relu", "gelu"]), "opt": Choice(["adam", "sgd"])})


def context(trials: int | None = None, cost: float | None = None) -> SearchContext:
    return SearchContext(metric=Metric("loss"), budget=ts.Budget(trials=trials), trial_cost=cost)


def test_a_tiny_space_gets_a_grid() -> None:
    space = Space({"a": Choice([1, 2, 3]), "b": Int(1, 4)})
    sampler, why = Auto().choose(space, context(50))
    assert isinstance(sampler, Grid) and why.startswith("grid")


def test_a_low_dimensional_search_gets_a_gp_after_a_sobol_start() -> None:
    sampler, why = Auto().choose(LOW_DIM, context(60))
    assert isinstance(sampler, GP)
    assert "Sobol" in why and "gp" in why


def test_the_reason_counts_one_parameter_in_the_singular() -> None:
    _, why = Auto().choose(Space({"lr": Float(1e-5, 1e-1, log=True)}), context(60))
    assert why.startswith("gp: 1 parameter and a budget of 60 trials"), why  # it read "1 parameters"
    _, why = Auto().choose(Space({"a": Choice([1, 2, 3])}), context(2))
    assert why.startswith("grid: 1 parameter with at most"), why


def test_the_reason_names_a_budget_without_a_trial_count_as_bounded() -> None:
    # It read "an unbounded budget" for a study given an hour.
    hour = SearchContext(metric=Metric("loss"), budget=ts.Budget(wall_time="1h"))
    _, why = Auto().choose(LOW_DIM, hour)
    assert why.startswith("gp: 3 parameters and a budget with no trial count (wall_time=3600s) - "), why
    assert f"CMA-ES takes over after {GP_MAX_TRIALS} trials" in why
    _, why = Auto().choose(LOW_DIM, context())
    assert why.startswith("gp: 3 parameters and an unbounded budget - "), why
    objectives = (Metric("loss"), Metric("ms"))
    two = SearchContext(metric=Metric("loss"), budget=ts.Budget(compute="2h"), objectives=objectives)
    _, why = Auto().choose(LOW_DIM, two)
    assert why.startswith("gp: 2 objectives, 3 parameters and a budget with no trial count (compute=7200s) - "), why


def test_a_large_space_gets_tpe() -> None:
    space = Space({f"x{i}": Float(0.0, 1.0) for i in range(20)})
    sampler, why = Auto().choose(space, context(60))
    assert isinstance(sampler, TPE) and "20 parameters" in why


def test_a_mostly_categorical_space_gets_tpe() -> None:
    space = Space({f"c{i}": Choice(["a", "b", "c", "d", "e", "f"]) for i in range(4)} | {"x": Float(0.0, 1.0)})
    sampler, _ = Auto().choose(space, context(60))
    assert isinstance(sampler, TPE)


def test_a_large_budget_gets_tpe_when_choices_are_more_than_a_quarter_of_the_space() -> None:
    # (a continuous-dominated space gets CMA-ES instead: tests/test_samplers_cmaes.py)
    sampler, why = Auto().choose(WITH_CHOICES, context(2000))
    assert isinstance(sampler, TPE) and "2000 trials" in why


def test_cheap_trials_get_tpe() -> None:
    sampler, why = Auto().choose(LOW_DIM, context(60, cost=0.05))
    assert isinstance(sampler, TPE) and "cheap" in why


def test_an_unbounded_gp_search_hands_over_to_tpe_after_300_trials() -> None:
    space = WITH_CHOICES  # a continuous-dominated space goes on with CMA-ES (tests/test_samplers_cmaes.py)
    history = [
        TrialRecord(number=n, params=space.sample(np.random.default_rng(n)), seed=n, metrics={"loss": float(n)})
        for n in range(GP_MAX_TRIALS)
    ]
    history = [r.evolve(state=TrialState.COMPLETE) for r in history]
    rng_a, rng_b = np.random.default_rng(1), np.random.default_rng(1)
    assert isinstance(Auto().choose(space, context())[0], GP)
    assert Auto().suggest(space, history, rng_a, CONTEXT) == TPE().suggest(space, history, rng_b, CONTEXT)


def test_the_study_records_the_choice_and_the_reason() -> None:
    study = ts.Study(LOW_DIM, metric="loss", budget=ts.Budget(trials=40), storage="memory", seed=0)
    choice = study.info.attrs["sampler_choice"]
    assert choice["sampler"]["name"] == "gp"
    assert "Sobol" in choice["why"]


def test_auto_beats_random_on_an_easy_function() -> None:
    def loss(p: dict[str, float]) -> float:
        return (np.log10(p["lr"]) + 3.0) ** 2 + (p["layers"] - 4) ** 2 * 0.1 + (p["dropout"] - 0.2) ** 2

    auto = np.mean([min(r.metrics["loss"] for r in run_history(Auto(), LOW_DIM, loss, 25, seed=s)) for s in range(2)])
    rnd = np.mean(
        [min(r.metrics["loss"] for r in run_history(ts.Random(), LOW_DIM, loss, 25, seed=s)) for s in range(2)]
    )
    assert auto < rnd / 3, (auto, rnd)


def test_early_stopping_without_a_small_trial_budget_gets_tpe_and_says_why() -> None:
    """ASHA deals hundreds of configurations, most stopped at a low rung: TPE reads them cheaply (the
    multi-fidelity benchmark: the GP and its CMA-ES handover reached random search's best on 2 of 5 seeds of
    synthetic curves and 1 of 5 of late bloomers, TPE on 3 and 3)."""
    study = ts.Study(LOW_DIM, metric="loss", scheduler=ts.ASHA(1, 27, 3), budget=ts.Budget(resource=2000),
                     storage="memory", seed=0)  # fmt: skip
    choice = study.info.attrs["sampler_choice"]
    assert choice["sampler"]["name"] == "tpe" and "early stopping at 3 rungs" in choice["why"]
    # A resource budget bounds the search: it has no trial count, but it is no unbounded budget.
    assert "early stopping at 3 rungs and a budget with no trial count (resource=2000) - " in choice["why"], choice
    small = ts.Study(LOW_DIM, metric="loss", scheduler=ts.ASHA(1, 27, 3), budget=ts.Budget(trials=60),
                     storage="memory", seed=0)  # fmt: skip
    assert small.info.attrs["sampler_choice"]["sampler"]["name"] == "gp"


def test_a_grid_larger_than_the_budget_is_visited_in_the_study_s_own_shuffled_order() -> None:
    # In grid order four trials would all take the first value of the first parameters: one corner.
    space = Space({"k": Int(1, 5), "w": Choice(["uniform", "distance"]), "p": Int(1, 2)})
    sampler, why = Auto().choose(space, context(4))
    assert isinstance(sampler, Grid) and sampler.shuffle
    assert why.endswith("(20 configurations), visited in a shuffled order - a budget of 4 trials covers 4 of them")
    firsts = set()
    for seed in range(6):
        study = ts.Study(space, metric="loss", storage="memory", seed=seed, budget=ts.Budget(trials=4))
        study.optimize(lambda trial: float(trial.params["k"]))
        firsts.add(tuple(study.trials[0].params.values()))
        assert len({tuple(r.params.values()) for r in study.trials}) == 4, "no point twice"
    assert len(firsts) > 2, "the order follows the study's seed"
    assert isinstance(Auto().choose(space, context(20))[0], Grid) and not Auto().choose(space, context(20))[0].shuffle


def test_a_budget_within_the_model_s_quasi_random_start_says_the_search_is_quasi_random() -> None:
    _, why = Auto().choose(LOW_DIM, context(4), warm_points=0)
    assert why.endswith("but a budget of 4 trials is no more than the 5 Sobol trials it starts with, so the whole "
                        "search is quasi-random, as sampler='sobol' would run it")  # fmt: skip
    assert "quasi-random" not in Auto().choose(LOW_DIM, context(60))[1]


def test_a_named_grid_larger_than_the_trial_budget_moves_every_parameter() -> None:
    """``sampler="grid"`` visited a 5x5x5 grid lexicographically: 20 trials all had the first parameter's lowest
    value, and nothing said so. Under a budget that may end first the grid is now shuffled by default."""
    space = ts.Space({"lr_exp": ts.Int(1, 5), "depth": ts.Int(1, 5), "opt": ts.Choice(list("abcde"))})
    study = ts.Study(space, metric="loss", budget=ts.Budget(trials=20), storage="memory", seed=0, sampler="grid")
    study.optimize(lambda t: float(t.params["lr_exp"]))
    assert len({r.params["lr_exp"] for r in study.trials}) >= 4


def test_a_named_grid_that_coarsens_floats_beyond_the_budget_says_it_is_a_confined_random_search() -> None:
    space = ts.Space({f"p{i}": ts.Float(0.0, 1.0) for i in range(6)})
    study = ts.Study(space, metric="loss", budget=ts.Budget(trials=20), storage="memory", seed=0, sampler="grid")
    with pytest.warns(ts.samplers.SparseGridWarning, match=r"15,625 points and the trial budget visits 20 of them "
                      r"\(0\.1%\).*5 values of p0, p1, p2, p3, p4 and 1 more; sampler='sobol'"):  # fmt: skip
        study.optimize(lambda t: sum(t.params.values()))
    # A grid the budget mostly covers, or one of every value of discrete parameters (shuffled: a random search
    # without repeats, as the test above runs under warnings as errors), has nothing to say.
    covered = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0), "y": ts.Float(0.0, 1.0)}), metric="loss", sampler="grid",
                       budget=ts.Budget(trials=13), storage="memory", seed=0)  # fmt: skip
    assert isinstance(covered.sampler, ts.samplers.Grid)
    assert covered.sampler.coverage_note(covered.space, 13) is None
    assert covered.sampler.coverage_note(covered.space, 12) is not None
    assert covered.sampler.coverage_note(covered.space, None) is None


def test_a_named_grid_the_budget_covers_keeps_its_lexicographic_order() -> None:
    space = ts.Space({"a": ts.Int(1, 2), "b": ts.Choice(["x", "y"])})
    study = ts.Study(space, metric="loss", budget=ts.Budget(trials=4), storage="memory", seed=0, sampler="grid")
    study.optimize(lambda t: float(t.params["a"]))
    assert [(r.params["a"], r.params["b"]) for r in study.trials] == [(1, "x"), (1, "y"), (2, "x"), (2, "y")]
