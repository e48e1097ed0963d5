"""A warm start's points inform the samplers, but they are an earlier study's results, not trials of this one.

So no sampler counts them as tried configurations: the new study may run the earlier best again, and a warm
start that covered a small space leaves its configurations to run rather than a used-up space and no trial. Nor
do they count as the study's trials where `Auto` hands a long GP search over to another sampler.
"""

from __future__ import annotations

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.objective import Metric
from tunesmith.samplers import GP, Auto, SearchContext
from tunesmith.samplers._tried import Tried
from tunesmith.trial import TrialRecord, TrialState

TINY = ts.Space({"a": ts.Choice(["x", "y", "z"]), "b": ts.Int(1, 3)})  # 9 configurations


def _loss(params: dict[str, object]) -> float:
    b = params["b"]
    assert isinstance(b, int)
    return (b - 2) ** 2 + 3 * (params["a"] != "y")


def _objective(trial: ts.Trial) -> dict[str, float]:
    return {"loss": _loss(trial.params)}


def _every_configuration() -> ts.Study:
    earlier = ts.Study(TINY, metric="loss", sampler="grid", budget=ts.Budget(trials=9), storage="memory", seed=0)
    earlier.optimize(_objective, progress=False)
    assert len({(t.params["a"], t.params["b"]) for t in earlier.trials}) == 9
    return earlier


def test_a_warm_start_point_is_not_a_tried_configuration() -> None:
    config = {"a": "y", "b": 2}
    warm = TrialRecord(number=-1, params=config, seed=0, state=TrialState.COMPLETE, metrics={"loss": 0.0},
                       attrs={"warm_start": "study 'earlier' in memory"})  # fmt: skip

    assert config not in Tried(TINY, [warm])


@pytest.mark.parametrize("sampler", ["tpe", "gp", "cmaes", "sobol", "grid", "auto"])
def test_a_study_warm_started_from_every_configuration_runs_each_of_them_itself(sampler: str) -> None:
    earlier = _every_configuration()

    study = ts.Study(TINY, metric="loss", sampler=sampler, budget=ts.Budget(trials=9), storage="memory", seed=1,
                     warm_start=earlier)  # fmt: skip
    study.optimize(_objective, progress=False)

    assert len({(t.params["a"], t.params["b"]) for t in study.trials}) == 9
    assert study.best is not None and study.best.params == earlier.best.params


def test_a_warm_start_changes_neither_which_grid_points_a_study_visits_nor_their_order() -> None:
    earlier = ts.Study(TINY, metric="loss", sampler="random", budget=ts.Budget(trials=3), storage="memory", seed=5)
    earlier.optimize(_objective, progress=False)
    # A budget smaller than the grid: visited in the study's own shuffled order.
    cold = ts.Study(TINY, metric="loss", sampler="grid", budget=ts.Budget(trials=6), storage="memory", seed=2)
    warm = ts.Study(TINY, metric="loss", sampler="grid", budget=ts.Budget(trials=6), storage="memory", seed=2,
                    warm_start=earlier)  # fmt: skip
    cold.optimize(_objective, progress=False)
    warm.optimize(_objective, progress=False)

    assert [t.params for t in warm.trials] == [t.params for t in cold.trials]


def test_auto_says_a_grid_runs_every_configuration_a_warm_start_ran_and_runs_its_budget() -> None:
    study = ts.Study(TINY, metric="loss", budget=ts.Budget(trials=5), storage="memory", seed=1,
                     warm_start=_every_configuration())  # fmt: skip
    study.optimize(_objective, progress=False)

    assert len(study.trials) == 5
    why = study.attrs["sampler_choice"]["why"]
    assert why.startswith("grid:") and "a budget of 5 trials covers 5 of them" in why
    assert why.endswith("its 9 warm-start points count for none of them: a grid learns nothing from earlier results "
                        "and runs each configuration itself")  # fmt: skip


def _warm_records(space: ts.Space, count: int) -> list[TrialRecord]:
    """``count`` earlier results, numbered below 0 and first, as a study hands a warm start to its sampler."""
    rng = np.random.default_rng(0)
    return [
        TrialRecord(number=i - count, params=(p := space.sample(rng)), seed=0, state=TrialState.COMPLETE,
                    metrics={"loss": (p["x"] - 0.2) ** 2 + p["y"], "cost": 1 - p["x"] + p["y"]},
                    attrs={"warm_start": "records"})
        for i in range(count)
    ]  # fmt: skip


# 320 warm-start points: more than the 300 trials after which an unbounded GP search hands over to another sampler.
CUBE = ts.Space({"x": ts.Float(0, 1), "y": ts.Float(0, 1), "z": ts.Float(0, 1)})


def test_auto_keeps_the_gp_for_a_small_budget_however_many_warm_start_points_it_reads() -> None:
    context = SearchContext(metric=Metric("loss"), budget=ts.Budget(trials=20))
    warm, auto = _warm_records(CUBE, 320), Auto()
    assert auto.choose(CUBE, context)[0].name == "gp"

    proposed = auto.suggest(CUBE, warm, np.random.default_rng(7), context)

    # Not exact: the GP's fit differs in the last digits between a process's first fit and later ones.
    assert proposed == pytest.approx(GP().suggest(CUBE, warm, np.random.default_rng(7), context), abs=0.02)


def test_auto_keeps_the_multiobjective_gp_for_a_small_budget_however_many_warm_start_points_it_reads() -> None:
    two = (Metric("loss"), Metric("cost"))
    context = SearchContext(metric=two[0], objectives=two, budget=ts.Budget(trials=20))
    warm, auto = _warm_records(CUBE, 320), Auto()
    assert auto.choose(CUBE, context)[0].name == "gp"

    proposed = auto.suggest(CUBE, warm, np.random.default_rng(7), context)

    assert proposed == pytest.approx(GP().suggest(CUBE, warm, np.random.default_rng(7), context), abs=0.02)
