"""NSGA-II under guardrails: Deb's constrained domination decides which trials breed."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

import tunesmith as ts
from tunesmith.objective import Guardrail, Metric
from tunesmith.samplers import NSGA2, SearchContext
from tunesmith.space import Float, Space
from tunesmith.trial import TrialKind, TrialRecord, TrialState

SPACE = Space({f"x{i}": Float(0.0, 1.0) for i in range(2)})
TWO = (Metric("f1", "min"), Metric("f2", "min"))


def infeasible(number: int, x0: float, metrics: Mapping[str, float]) -> TrialRecord:
    return TrialRecord(number=number, params={"x0": x0, "x1": 0.5 + 0.01 * number}, seed=number,
                       state=TrialState.INFEASIBLE, kind=TrialKind.GUARDRAIL, metrics=dict(metrics))  # fmt: skip


def first_parents(history: Sequence[TrialRecord], context: SearchContext, population: int) -> list[float]:
    """``x0`` of 200 children bred by copying their first parent with a small mutation."""
    nsga2 = NSGA2(population_size=population, crossover_prob=0.0, mutation_prob=1.0, mutation_eta=100.0)
    return [nsga2.suggest(SPACE, history, np.random.default_rng(s), context)["x0"] for s in range(200)]


def test_infeasible_parents_are_chosen_by_how_far_they_breach_not_by_their_objectives() -> None:
    context = SearchContext(metric=TWO[0], objectives=TWO, guardrails=(Guardrail("size_mb", "<=", 60.0),))
    # Near x0 = 0.1: just beyond the bound, worse objectives; near x0 = 0.9: far beyond it, dominating.
    near = [infeasible(i, 0.1 + 0.01 * i, {"f1": 5.0 + i, "f2": 5.0 - i, "size_mb": 61.0 + i}) for i in range(4)]
    far = [infeasible(4 + i, 0.9 - 0.01 * i, {"f1": 1.0 + i, "f2": 1.0 - i, "size_mb": 150.0 + i}) for i in range(4)]
    children = first_parents([*near, *far], context, population=4)
    assert all(x0 < 0.5 for x0 in children), "every parent kept is one of the trials closest to the bound"


def test_each_guardrail_s_breach_is_scaled_so_its_units_do_not_outweigh_the_others() -> None:
    guardrails = (Guardrail("latency_s", "<=", 1.0), Guardrail("memory_bytes", "<=", 1e9))
    context = SearchContext(metric=TWO[0], objectives=TWO, guardrails=guardrails)
    # Near x0 = 0.1: 0.1 s and tens of megabytes over; near x0 = 0.9: memory well inside, 2 s over.
    slightly = [infeasible(i, 0.1 + 0.01 * i, {"f1": 5.0 + i, "f2": 5.0 - i, "latency_s": 1.1,
                                               "memory_bytes": 1e9 + 1e7 * (i + 1)}) for i in range(4)]  # fmt: skip
    slow = [infeasible(4 + i, 0.9 - 0.01 * i, {"f1": 1.0 + i, "f2": 1.0 - i, "latency_s": 3.0 + 0.1 * i,
                                               "memory_bytes": 5e8}) for i in range(4)]  # fmt: skip
    children = first_parents([*slightly, *slow], context, population=4)
    assert all(x0 < 0.5 for x0 in children), "tens of megabytes over a gigabyte bound is a small breach"


def test_a_tournament_between_infeasible_parents_picks_the_smaller_breach() -> None:
    context = SearchContext(metric=TWO[0], objectives=TWO, guardrails=(Guardrail("size_mb", "<=", 60.0),))
    # All eight are parents: one just beyond the bound with the worst objectives, seven far beyond and dominating it.
    closest = infeasible(0, 0.1, {"f1": 9.0, "f2": 9.0, "size_mb": 61.0})
    far = [infeasible(1 + i, 0.9 - 0.01 * i, {"f1": 1.0 + i, "f2": 1.0 - i, "size_mb": 150.0 + i}) for i in range(7)]
    children = first_parents([closest, *far], context, population=8)
    # It wins every tournament it enters: 1 - (7/8)^2 = 0.23 of the children (ranked by objectives: 1/64).
    assert sum(x0 < 0.5 for x0 in children) >= 30


def test_a_study_whose_first_generation_is_all_infeasible_moves_into_the_feasible_region() -> None:
    def objective(trial: ts.Trial) -> dict[str, float]:
        x = [trial.params[f"x{i}"] for i in range(3)]
        g = 1 + 9 * (x[1] + x[2]) / 2
        return {"error": x[0], "latency_ms": g * (1 - math.sqrt(x[0] / g)), "size_mb": 100 * x[2] + 100 * (1 - x[0])}

    study = ts.Study(ts.Space({f"x{i}": ts.Float(0.0, 1.0) for i in range(3)}),
                     metrics=[ts.Metric("error"), ts.Metric("latency_ms")],
                     guardrails=[ts.Guardrail("size_mb", "<=", 60.0)], sampler={"name": "nsga2", "population_size": 10},
                     budget=ts.Budget(trials=60), storage="memory", seed=1)  # fmt: skip
    study.optimize(objective)
    first, last = study.trials[:10], study.trials[50:]
    assert all(t.state is TrialState.INFEASIBLE for t in first), "the scenario: generation 0 holds no feasible trial"
    assert sum(t.state is TrialState.COMPLETE for t in last) >= 5
    assert len(study.pareto_front) > 0
