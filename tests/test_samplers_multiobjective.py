"""Samplers with several objectives: MOTPE, the GP with expected hypervolume improvement, NSGA-II and auto's choice."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import moocore
import numpy as np
import pytest
from scipy.stats import norm

import tunesmith as ts
from tunesmith.objective import Metric
from tunesmith.pareto import hypervolume
from tunesmith.samplers import GP, NSGA2, SAMPLERS, TPE, Auto, Random, Sampler, SearchContext, Sobol, make_sampler
from tunesmith.samplers._gp_model import GPModel, Hyper, log_h
from tunesmith.samplers._gp_multi import ExpectedHypervolumeImprovement, non_dominated_boxes
from tunesmith.samplers._objectives import rank_best_first
from tunesmith.space import Choice, Float, Int, Space
from tunesmith.trial import TrialKind, TrialRecord, TrialState

SPACE = Space({f"x{i}": Float(0.0, 1.0) for i in range(3)})
TWO = (Metric("f1", "min"), Metric("f2", "min"))
CONTEXT = SearchContext(metric=TWO[0], objectives=TWO)
REFERENCE = (1.1, 3.0)


def zdt1(p: Mapping[str, Any]) -> dict[str, float]:
    x = np.array([p[f"x{i}"] for i in range(3)])
    g = 1.0 + 9.0 * float(np.mean(x[1:]))
    return {"f1": float(x[0]), "f2": g * (1.0 - math.sqrt(x[0] / g))}


def run(sampler: Sampler, trials: int, seed: int, context: SearchContext = CONTEXT) -> list[TrialRecord]:
    records: list[TrialRecord] = []
    for number in range(trials):
        params = sampler.suggest(SPACE, list(records), np.random.default_rng([seed, number]), context)
        records.append(
            TrialRecord(number=number, params=params, seed=number, state=TrialState.COMPLETE, metrics=zdt1(params))
        )
    return records


def front_volume(records: list[TrialRecord]) -> float:
    losses = np.array([[r.metrics["f1"], r.metrics["f2"]] for r in records])
    return hypervolume(losses, REFERENCE)


def mean_volume(make: Callable[[], Sampler], trials: int, seeds: int = 2) -> float:
    return float(np.mean([front_volume(run(make(), trials, seed)) for seed in range(seeds)]))


# Each sampler beats random search on ZDT1 ------------------------------------------------------------
@pytest.mark.parametrize(
    ("make", "trials"),
    [
        (lambda: GP(n_candidates=256, n_restarts=2), 18),
        (lambda: TPE(), 40),
        (lambda: NSGA2(population_size=10), 100),
    ],
    ids=["gp", "tpe", "nsga2"],
)
def test_each_multiobjective_sampler_finds_a_larger_hypervolume_than_random_search(
    make: Callable[[], Sampler], trials: int
) -> None:
    ours = mean_volume(make, trials)
    random = mean_volume(Random, trials)
    assert ours > random + 0.5, f"hypervolume {ours:.3f} against random search's {random:.3f}"


@pytest.mark.parametrize("name", sorted(set(SAMPLERS) - {"grid"}))
def test_every_sampler_proposes_valid_configurations_with_several_objectives_and_mixed_states(name: str) -> None:
    space = Space(
        {"x": Float(0.0, 1.0), "n": Int(1, 8), "kind": Choice(["a", "b", "c"]), "y": Float(1e-3, 1.0, log=True)}
    )
    rng = np.random.default_rng(0)
    history = []
    for number in range(24):
        params = space.sample(rng)
        state = [TrialState.COMPLETE, TrialState.INFEASIBLE, TrialState.FAILED, TrialState.COMPLETE][number % 4]
        metrics = {"f1": params["x"], "f2": float(params["n"]) + params["y"]} if state is not TrialState.FAILED else {}
        if number % 7 == 6:
            metrics = {"f1": params["x"]}  # a missing objective counts as a failure
        history.append(TrialRecord(number=number, params=params, seed=number, state=state, metrics=metrics))
    history.append(TrialRecord(number=24, params=space.sample(rng), seed=24))  # running
    sampler = make_sampler(name)
    for attempt in range(3):
        params = sampler.suggest(space, history, np.random.default_rng(attempt), CONTEXT)
        assert space.validate(params) == params


# MOTPE ---------------------------------------------------------------------------------------------
def test_the_good_group_takes_whole_fronts_first() -> None:
    losses = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [1.0, 1.0], [2.0, 2.0], [0.6, 0.6]])
    assert sorted(rank_best_first(losses, 3)) == [0, 1, 2]
    assert sorted(rank_best_first(losses, 4)) == [0, 1, 2, 5]


def test_a_front_too_large_for_the_good_group_is_cut_by_hypervolume_contribution() -> None:
    # Five points on one front; two of them nearly coincide, so the one that adds more volume is kept.
    losses = np.array([[0.0, 1.0], [0.49, 0.51], [0.5, 0.5], [1.0, 0.0], [0.25, 0.9]])
    chosen = set(rank_best_first(losses, 3).tolist())
    assert {0, 3} <= chosen and len(chosen & {1, 2}) == 1


# The GP: exact expected hypervolume improvement ------------------------------------------------------
@pytest.mark.parametrize("k", [2, 3])
def test_the_boxes_measure_exactly_the_hypervolume_a_point_adds(k: int) -> None:
    rng = np.random.default_rng(k)
    points = rng.random((20, k))
    front = points[moocore.is_nondominated(points)]
    reference = np.full(k, 1.2)
    lower, upper = non_dominated_boxes(front, reference)
    for y in rng.random((10, k)) * 1.2:
        added = moocore.hypervolume(np.vstack([front, y]), ref=reference) - moocore.hypervolume(front, ref=reference)
        boxes = float(np.sum(np.prod(np.maximum(0.0, upper - np.maximum(lower, y)), axis=1)))
        assert boxes == pytest.approx(added, abs=1e-12)


def test_expected_hypervolume_improvement_matches_a_monte_carlo_estimate_and_its_gradient_is_exact() -> None:
    rng = np.random.default_rng(1)
    x = rng.random((10, 2))
    models = [GPModel(x, np.zeros((10, 0)), rng.normal(size=10), Hyper(np.array([0.3, 0.3]), 1.0, 1e-3)) for _ in "ab"]
    points = rng.normal(size=(12, 2))
    front = points[moocore.is_nondominated(points)]
    reference = np.full(2, 2.5)
    acq = ExpectedHypervolumeImprovement(
        models, *non_dominated_boxes(front, reference), None, np.ones(2, bool), np.full(2, np.inf)
    )
    candidates = rng.random((3, 2))
    value, gradient = acq(candidates, grad=True)
    base = moocore.hypervolume(front, ref=reference)
    for i, c in enumerate(candidates):
        mu = np.array([m.predict(c[None], np.zeros((1, 0)))[0][0] for m in models])
        sd = np.sqrt([m.predict(c[None], np.zeros((1, 0)))[1][0] for m in models])
        draws = mu + sd * rng.normal(size=(4000, 2))
        gains = [moocore.hypervolume(np.vstack([front, y]), ref=reference) - base for y in draws]
        assert math.exp(value[i]) == pytest.approx(np.mean(gains), rel=0.05, abs=1e-3)
    assert gradient is not None
    for j in range(2):
        step = np.zeros(2)
        step[j] = 1e-6
        numeric = (acq(candidates + step)[0] - acq(candidates - step)[0]) / 2e-6
        assert gradient[:, j] == pytest.approx(numeric, rel=1e-4, abs=1e-6)


def test_log_h_is_accurate_near_minus_one() -> None:
    # log(z Phi(z) + phi(z)) once overstated h by up to 45% for z in (-1.7, -1).
    z = np.array([-0.5, -1.05, -1.2, -1.5, -3.0, -8.0])
    assert log_h(z)[0] == pytest.approx(np.log(z * norm.cdf(z) + norm.pdf(z)), rel=1e-12)


def test_a_running_trial_moves_the_next_suggestion_elsewhere() -> None:
    for sampler in (GP(n_candidates=256, n_restarts=2), TPE(), NSGA2(population_size=8)):
        history = run(GP(n_candidates=128, n_restarts=1), 16, seed=3)
        first = sampler.suggest(SPACE, history, np.random.default_rng(5), CONTEXT)
        running = TrialRecord(number=len(history), params=first, seed=0)
        second = sampler.suggest(SPACE, [*history, running], np.random.default_rng(5), CONTEXT)
        distance = max(abs(first[n] - second[n]) for n in SPACE.dimensions)
        assert distance > 1e-3, f"{sampler!r} proposed the running configuration again"


def test_more_than_three_objectives_use_random_scalarisations() -> None:
    four = tuple(Metric(f"f{i}", "min") for i in range(4))
    context = SearchContext(metric=four[0], objectives=four)
    rng = np.random.default_rng(0)
    history = []
    for number in range(10):
        p = SPACE.sample(rng)
        metrics = {f"f{i}": (p["x0"] - 0.25 * i) ** 2 + p["x1"] for i in range(4)}
        history.append(TrialRecord(number=number, params=p, seed=number, state=TrialState.COMPLETE, metrics=metrics))
    gp = GP(n_candidates=128, n_restarts=1)
    picks = {
        json.dumps(gp.suggest(SPACE, history, np.random.default_rng(s), context), sort_keys=True) for s in range(3)
    }
    assert len(picks) == 3, "each suggestion draws its own weight"


# NSGA-II ---------------------------------------------------------------------------------------------
def test_nsga2_is_deterministic_given_the_rng() -> None:
    first = [json.dumps(r.params, sort_keys=True) for r in run(NSGA2(population_size=6), 20, seed=4)]
    again = [json.dumps(r.params, sort_keys=True) for r in run(NSGA2(population_size=6), 20, seed=4)]
    assert first == again


def test_nsga2_breeds_from_the_best_of_the_earlier_generations() -> None:
    history = run(Sobol(), 12, seed=0)
    # A trial far from everything on the front, made the best by its results: children stay near parents.
    best = TrialRecord(number=12, params={"x0": 0.5, "x1": 0.0, "x2": 0.0}, seed=0, state=TrialState.COMPLETE,
                       metrics={"f1": -10.0, "f2": -10.0})  # fmt: skip
    history = [*history, best, *run(Sobol(), 3, seed=1)]
    history = [r.evolve(number=i) for i, r in enumerate(history)]
    nsga2 = NSGA2(population_size=8, crossover_prob=0.0)
    children = [nsga2.suggest(SPACE, history, np.random.default_rng(s), CONTEXT) for s in range(200)]
    near = sum(abs(c["x1"]) < 0.2 and abs(c["x2"]) < 0.2 for c in children)
    # A binary tournament among the 8 parents picks it with probability 1 - (7/8)^2 = 0.23 (uniform: 0.125).
    assert near >= 35, "the dominating trial wins its tournaments and its children stay near it"


def test_nsga2_ignores_failed_trials_and_ranks_infeasible_ones_last() -> None:
    history = run(Sobol(), 8, seed=2)
    failed = [r.evolve(state=TrialState.FAILED, kind=TrialKind.EXCEPTION, metrics={}) for r in history[:4]]
    history = [*failed, *history[4:]]
    params = NSGA2(population_size=4).suggest(SPACE, history, np.random.default_rng(0), CONTEXT)
    assert SPACE.validate(params) == params


# Auto ------------------------------------------------------------------------------------------------
def context(trials: int | None, cost: float | None = None) -> SearchContext:
    return SearchContext(metric=TWO[0], objectives=TWO, budget=ts.Budget(trials=trials), trial_cost=cost)


def test_auto_picks_the_gp_with_expected_hypervolume_improvement_for_small_budgets() -> None:
    sampler, why = Auto().choose(SPACE, context(60))
    assert isinstance(sampler, GP) and "expected hypervolume improvement" in why and "2 objectives" in why


def test_auto_picks_motpe_for_mid_budgets_and_cheap_trials() -> None:
    sampler, why = Auto().choose(SPACE, context(600))
    assert isinstance(sampler, TPE) and "600 trials" in why and "MOTPE" in why
    sampler, why = Auto().choose(SPACE, context(60, cost=0.1))
    assert isinstance(sampler, TPE) and "cheap" in why


def test_auto_picks_nsga2_for_large_budgets() -> None:
    sampler, why = Auto().choose(SPACE, context(5000))
    assert isinstance(sampler, NSGA2) and "generations" in why


def test_an_unbounded_multiobjective_gp_search_goes_on_with_motpe() -> None:
    history = run(Random(), 300, seed=0)
    rng_a, rng_b = np.random.default_rng(1), np.random.default_rng(1)
    assert isinstance(Auto().choose(SPACE, context(None))[0], GP)
    assert Auto().suggest(SPACE, history, rng_a, context(None)) == TPE().suggest(SPACE, history, rng_b, CONTEXT)


def test_a_multiobjective_study_records_the_choice_and_the_reason() -> None:
    study = ts.Study(SPACE, metrics=[ts.Metric("f1"), ts.Metric("f2")], budget=ts.Budget(trials=40), storage="memory")
    choice = study.info.attrs["sampler_choice"]
    assert choice["sampler"]["name"] == "gp" and "hypervolume" in choice["why"]


# The reference point bounds the volume the GP pursues -----------------------------------------------
def _linear_front(p: Mapping[str, Any]) -> dict[str, float]:
    return {"f1": p["x0"], "f2": 1.0 - p["x0"] + p["x1"]}


def _gp_proposals(context: SearchContext, trials: int = 24) -> list[dict[str, Any]]:
    sampler, records = GP(n_candidates=256, n_restarts=2), []
    for number in range(trials):
        params = sampler.suggest(SPACE, list(records), np.random.default_rng([7, number]), context)
        records.append(TrialRecord(number, params, number, TrialState.COMPLETE, metrics=_linear_front(params)))
    return [r.params for r in records[sampler.startup_trials(SPACE) :]]


def test_the_gp_seeks_hypervolume_inside_the_study_s_reference_point() -> None:
    """With the reference at f1 = 0.3, only the front's part below it adds volume: the GP stays there,
    where without it the proposals spread along the whole front (the benchmark's DTLZ2 gap)."""
    told = _gp_proposals(SearchContext(metric=TWO[0], objectives=TWO, reference=(0.3, 1.5)))
    untold = _gp_proposals(CONTEXT)
    inside = sum(p["x0"] < 0.3 for p in told)
    assert inside >= 0.8 * len(told), [round(p["x0"], 2) for p in told]
    assert sum(p["x0"] < 0.3 for p in untold) < inside


def test_a_study_tells_its_samplers_its_reference_point_in_losses_space() -> None:
    metrics = [ts.Metric("error", "min"), ts.Metric("speed", "max")]
    given = ts.Study(SPACE, metrics=metrics, reference_point={"error": 0.5, "speed": 10.0}, storage="memory")
    assert given.context.reference == (0.5, -10.0)
    derived = ts.Study(SPACE, metrics=metrics, storage="memory", seed=0, sampler="random")
    assert derived.context.reference == ()
    for number in range(10):
        trial = derived.ask()
        derived.tell(trial, {"error": trial.params["x0"], "speed": 5.0 + number})
    stored = derived.reference_point
    assert stored is not None and derived.context.reference == (stored["error"], -stored["speed"])


def test_the_output_transform_maps_new_values_as_it_maps_its_data() -> None:
    from tunesmith.samplers._gp_model import OutputTransform, transform_outputs

    y = np.random.default_rng(0).lognormal(0.0, 2.0, 40)
    transform = OutputTransform(y)
    fitted = transform(y)
    # Standardised and in the data's order (transform_outputs is this map applied to its own data).
    assert float(np.mean(fitted)) == pytest.approx(0.0, abs=1e-9) and float(np.std(fitted)) == pytest.approx(1.0)
    assert np.array_equal(np.argsort(fitted), np.argsort(y))
    assert np.array_equal(fitted, transform_outputs(y))
    # A new value lands where its rank among the data puts it: a reference point beyond the worst, beyond.
    beyond = transform(np.array([y.min() - 1.0, y.max(), y.max() * 2, y.max() * 100]))
    assert np.all(np.diff(beyond) > 0) and beyond[1] == pytest.approx(fitted.max()) and beyond[0] < fitted.min()
    middle = transform(np.array([np.median(y)]))[0]
    assert np.sum(fitted < middle) == pytest.approx(len(y) / 2, abs=1)
    assert np.all(OutputTransform(np.ones(4))(np.array([0.0, 1.0, 2.0])) == [-1.0, 0.0, 1.0])
