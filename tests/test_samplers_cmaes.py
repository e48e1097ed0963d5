"""`CMAES`: CMA-ES over the numeric parameters, rebuilt from the history, and `Auto`'s move to it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.objective import Metric
from tunesmith.samplers import CMAES, GP, TPE, Auto, Random, SearchContext
from tunesmith.samplers.auto import CMAES_MIN_TRIALS, GP_MAX_TRIALS
from tunesmith.space import Choice, Float, Int, Space
from tunesmith.testing.samplers import CONTEXT, run_history
from tunesmith.trial import TrialKind, TrialRecord, TrialState

TEN = Space({f"x{i}": Float(-5.0, 5.0) for i in range(10)})
PLANE = Space({"x": Float(-5.0, 5.0), "y": Float(-5.0, 5.0)})
LOW_DIM = Space({"lr": Float(1e-5, 1e-1, log=True), "layers": Int(2, 6), "dropout": Float(0.0, 0.5)})


def sphere(p: Mapping[str, Any]) -> float:
    return float(sum((v - 1.0) ** 2 for v in p.values()))


def rosenbrock(p: Mapping[str, Any]) -> float:
    x = [p[f"x{i}"] for i in range(10)]
    return float(sum(100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2 for i in range(9)))


def best(records: list[TrialRecord]) -> float:
    return min(r.metrics["loss"] for r in records)


def context(trials: int | None) -> SearchContext:
    return SearchContext(metric=Metric("loss"), budget=ts.Budget(trials=trials))


def running(space: Space, sampler: CMAES, history: list[TrialRecord], count: int) -> list[TrialRecord]:
    """``count`` more asks whose trials are still running."""
    for _ in range(count):
        number = len(history)
        params = sampler.suggest(space, history, np.random.default_rng([0, number]), CONTEXT)
        history.append(TrialRecord(number=number, params=params, seed=number, state=TrialState.RUNNING))
    return history


def finish(record: TrialRecord, value: float) -> TrialRecord:
    return record.evolve(state=TrialState.COMPLETE, metrics={"loss": value})


@pytest.mark.parametrize("objective", [sphere, rosenbrock], ids=["sphere", "rosenbrock"])
def test_cmaes_beats_random_search_in_ten_dimensions_at_300_trials(objective: Any) -> None:
    for seed in range(3):
        ours = best(run_history(CMAES(), TEN, objective, 300, seed=seed))
        theirs = best(run_history(Random(), TEN, objective, 300, seed=seed))
        assert ours < theirs / 10, f"seed {seed}: CMA-ES reached {ours}, random search {theirs}"


def test_integers_steps_and_log_scales_are_respected() -> None:
    space = Space(
        {
            "lr": Float(1e-6, 1e-1, log=True),
            "layers": Int(1, 12),
            "batch": Int(8, 1024, base=2),
            "share": Float(0.0, 1.0, step=0.05),
        }
    )

    def loss(p: Mapping[str, Any]) -> float:
        return (
            (math.log10(p["lr"]) + 5.0) ** 2
            + 0.3 * (p["layers"] - 9) ** 2
            + 0.3 * (math.log2(p["batch"]) - 5.0) ** 2
            + 4.0 * (p["share"] - 0.35) ** 2
        )

    sampler = CMAES()
    history = run_history(sampler, space, loss, 200, seed=0)
    assert all(isinstance(r.params["layers"], int) and isinstance(r.params["batch"], int) for r in history)
    top = min(history, key=lambda r: r.metrics["loss"]).params
    assert (top["layers"], top["batch"], top["share"]) == (9, 32, pytest.approx(0.35))
    assert 10**-5.3 < top["lr"] < 10**-4.7
    # The search lives in the log-scaled cube: lr = 1e-5 is a fifth of the way from 1e-6 to 1e-1.
    state = sampler.state(space, history, CONTEXT)
    assert state.generations > 10
    assert state.mean[0] == pytest.approx(0.2, abs=0.03)



def test_an_integer_of_more_values_than_float64_tells_apart_in_the_unit_cube_is_searched_as_continuous() -> None:
    """With margin, CMA-ES overflowed on a lattice of 2**56 points in the unit cube (its spacing, 2**-56, is below
    float64's resolution near 1) and every ask failed once the first generation was told."""
    space = Space({"n": Int(0, 2**62), "x": Float(0.0, 1.0)})

    history = run_history(CMAES(popsize=4), space, lambda p: (p["n"] / 2**62 - 0.3) ** 2 + p["x"], 30, seed=0)

    assert all(isinstance(r.params["n"], int) and 0 <= r.params["n"] <= 2**62 for r in history)
    assert min(r.metrics["loss"] for r in history) < 0.05

def test_categorical_parameters_are_learned_by_the_fallback() -> None:
    space = Space(
        {"x": Float(-5.0, 5.0), "y": Float(-5.0, 5.0), "z": Float(-5.0, 5.0), "kind": Choice(["a", "b", "c"])}
    )

    def loss(p: Mapping[str, Any]) -> float:
        return p["x"] ** 2 + p["y"] ** 2 + p["z"] ** 2 + {"a": 5.0, "b": 0.0, "c": 5.0}[p["kind"]]

    history = run_history(CMAES(), space, loss, 150, seed=1)
    late = [r.params["kind"] for r in history[-50:]]
    assert late.count("b") / len(late) > 0.8


def test_the_same_seed_gives_the_same_search_and_another_seed_another() -> None:
    def run(seed: int) -> list[dict[str, Any]]:
        study = ts.Study(PLANE, metric="loss", sampler={"name": "cmaes", "n_startup": 4}, storage="memory", seed=seed)
        for _ in range(30):
            trial = study.ask()
            study.tell(trial, sphere(trial.params))
        return [r.params for r in study.trials]

    assert run(5) == run(5)
    assert run(5)[10:] != run(6)[10:]


def test_pending_trials_count_toward_their_generation_and_get_distinct_candidates() -> None:
    sampler = CMAES(n_startup=5)
    history = run_history(sampler, PLANE, sphere, 5, seed=0)
    population = sampler.population(PLANE)
    running(PLANE, sampler, history, population + 2)
    asked = [tuple(r.params.values()) for r in history[5:]]
    assert len(set(asked)) == len(asked)
    state = sampler.state(PLANE, history, CONTEXT)
    assert (state.members, state.generations) == (population + 2, 0)
    history = [finish(r, sphere(r.params)) if r.state is TrialState.RUNNING else r for r in history]
    assert sampler.state(PLANE, history, CONTEXT).generations == 1


def test_a_lost_member_is_replaced_by_a_later_draw_of_the_same_generation() -> None:
    sampler = CMAES(n_startup=5)
    history = run_history(sampler, PLANE, sphere, 5, seed=0)
    population = sampler.population(PLANE)
    running(PLANE, sampler, history, population + 1)
    lost = history[5].evolve(state=TrialState.FAILED, kind=TrialKind.INTERRUPTED, reason="interrupted")
    members = [finish(r, sphere(r.params)) for r in history[6 : 5 + population]]
    history = [*history[:5], lost, *members, history[-1]]
    assert sampler.state(PLANE, history, CONTEXT).generations == 0  # the stand-in is still running
    history[-1] = finish(history[-1], sphere(history[-1].params))
    assert sampler.state(PLANE, history, CONTEXT).generations == 1


def test_a_new_study_object_on_the_same_storage_continues_the_search(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cma.db'}"
    sampler = {"name": "cmaes", "n_startup": 5}
    reference = ts.Study(PLANE, metric="loss", sampler=sampler, storage="memory", seed=3)
    first = ts.Study(PLANE, metric="loss", sampler=sampler, storage=url, name="cma", seed=3)
    for _ in range(60):
        for study in (reference, first):
            trial = study.ask()
            study.tell(trial, sphere(trial.params))
    resumed = ts.Study.load("cma", storage=url)
    assert resumed.sampler is not first.sampler
    assert isinstance(resumed.sampler, CMAES) and resumed.sampler.state(PLANE, resumed.trials, CONTEXT).generations > 5
    assert resumed.ask().params == reference.ask().params


def test_a_converged_run_restarts_with_a_doubled_population() -> None:
    sampler = CMAES()
    history = run_history(sampler, PLANE, sphere, 320, seed=0)
    state = sampler.state(PLANE, history, CONTEXT)
    assert state.restarts >= 1
    assert state.population == sampler.population(PLANE) * 2**state.restarts
    assert CMAES(restarts=False).state(PLANE, history, CONTEXT).restarts == 0


def test_many_numeric_parameters_use_the_separable_variant() -> None:
    wide = Space({f"x{i}": Float(-5.0, 5.0) for i in range(40)})
    assert CMAES().is_separable(wide) and not CMAES().is_separable(TEN)
    assert not CMAES(separable=False).is_separable(wide)
    ours = best(run_history(CMAES(), wide, sphere, 200, seed=0))
    assert ours < best(run_history(Random(), wide, sphere, 200, seed=0)) / 3


def test_auto_moves_to_cmaes_past_the_gp_budget_and_says_why() -> None:
    sampler, why = Auto().choose(LOW_DIM, context(2000))
    assert isinstance(sampler, CMAES)
    assert why.startswith("cmaes: a budget of 2000 trials") and f"more than {CMAES_MIN_TRIALS}" in why
    assert isinstance(Auto().choose(LOW_DIM, context(CMAES_MIN_TRIALS))[0], GP)
    study = ts.Study(LOW_DIM, metric="loss", budget=ts.Budget(trials=1000), storage="memory", seed=0)
    choice = study.info.attrs["sampler_choice"]
    assert choice["sampler"]["name"] == "cmaes" and "GP pays" in choice["why"]


def test_an_unbounded_gp_search_hands_over_to_cmaes_after_300_trials() -> None:
    assert "CMA-ES takes over" in Auto().choose(LOW_DIM, context(None))[1]
    history = [
        TrialRecord(
            number=n,
            params=LOW_DIM.sample(np.random.default_rng(n)),
            seed=n,
            state=TrialState.COMPLETE,
            metrics={"loss": float((n * 37) % 101)},
        )
        for n in range(GP_MAX_TRIALS)
    ]
    ours = Auto().suggest(LOW_DIM, history, np.random.default_rng(1), CONTEXT)
    assert ours == CMAES(n_startup=GP_MAX_TRIALS).suggest(LOW_DIM, history, np.random.default_rng(1), CONTEXT)
    assert ours != TPE().suggest(LOW_DIM, history, np.random.default_rng(1), CONTEXT)



def test_a_warm_started_history_tells_its_generations() -> None:
    # Warm-start records (numbered below 0, first in the history, as a study hands them over): the draw for trial n
    # is seeded by n, as the replay reads it, not by the history's length (no generation was ever told).
    space = Space({"a": Float(-2.0, 2.0), "b": Float(-2.0, 2.0), "c": Float(-2.0, 2.0)})
    rng = np.random.default_rng(0)
    warm = [TrialRecord(number=i - 3, params=(p := space.sample(rng)), seed=0, state=TrialState.COMPLETE,
                        metrics={"loss": sphere(p)}) for i in range(3)]  # fmt: skip
    sampler, records = CMAES(), list(warm)
    for number in range(60):
        params = space.validate(sampler.suggest(space, records, np.random.default_rng([0, number]), CONTEXT))
        records.append(TrialRecord(number=number, params=params, seed=number, state=TrialState.COMPLETE,
                                   metrics={"loss": sphere(params)}))  # fmt: skip
    assert sampler.state(space, records, CONTEXT).generations > 0
