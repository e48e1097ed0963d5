"""Rungs ranked by fronts keep every trial tied with the last one kept, as one objective's rungs do: the extremes of a
front, and identical results. A trial whose objective is not finite at a rung ranks after the trials whose values are,
instead of never being ranked (and so never stopped)."""

from __future__ import annotations

from typing import Any

import numpy as np

import tunesmith as ts
from tunesmith.pareto import front_scores

SPACE = ts.Space({"l": ts.Float(0.0, 100.0), "s": ts.Float(0.0, 10.0)})


def searched(configs: list[tuple[float, float]], objective: Any) -> dict[int, ts.TrialRecord]:
    study = ts.Study(SPACE, metrics=[ts.Metric("loss", "min"), ts.Metric("size", "min")],
                     budget=ts.Budget(trials=len(configs)), scheduler=ts.ASHA(min_resource=1, max_resource=9, eta=3),
                     storage="memory", seed=0, sampler="random")  # fmt: skip
    for loss, size in configs:
        study.enqueue({"l": loss, "s": size}, repeat=True)
    study.optimize(objective, progress=False)
    return {record.number: record for record in study.trials}


def constant(trial: ts.Trial) -> dict[str, float]:
    for _ in trial.steps(9):
        trial.report(loss=trial.params["l"], size=trial.params["s"])
    return {"loss": trial.params["l"], "size": trial.params["s"]}


def test_the_extremes_of_a_front_tie_and_every_one_goes_on() -> None:
    # #2 has the best loss of all three and #1 the best size: the rung keeps one, and cannot order the two.
    trials = searched([(2.0, 2.0), (3.0, 1.0), (1.0, 3.0)], constant)
    assert [trials[n].state for n in (1, 2)] == [ts.TrialState.COMPLETE] * 2, [t.reason for t in trials.values()]


def test_identical_results_tie_and_both_go_on() -> None:
    trials = searched([(5.0, 5.0), (6.0, 6.0), (1.0, 1.0), (1.0, 1.0)], constant)
    assert trials[2].state is trials[3].state is ts.TrialState.COMPLETE, [t.reason for t in trials.values()]


def test_a_trial_whose_second_objective_is_nan_at_a_rung_ranks_last_and_is_stopped() -> None:
    # It was never ranked, so it trained to the end, though every other trial beats it on both objectives.
    def nan_size_when_bad(trial: ts.Trial) -> dict[str, float]:
        bad = trial.params["l"] > 50
        for _ in trial.steps(9):
            trial.report(loss=trial.params["l"], size=float("nan") if bad else trial.params["s"])
        return {"loss": trial.params["l"], "size": trial.params["s"]}

    trials = searched([(float(i), float(i)) for i in range(1, 7)] + [(99.0, 9.0)], nan_size_when_bad)
    last = trials[6]
    assert last.state is ts.TrialState.STOPPED and last.resource == 1.0, last.reason
    assert "a value of an objective there is not finite, so it ranks after every trial whose values are" in (
        last.reason or ""
    )


def test_an_objective_nan_on_every_trial_until_the_end_stops_none_for_it() -> None:
    # Reported NaN until measured at the end, by every trial: no peer is finite to rank them after.
    def size_at_the_end(trial: ts.Trial) -> dict[str, float]:
        for _ in trial.steps(9):
            trial.report(loss=trial.params["l"], size=float("nan"))
        return {"loss": trial.params["l"], "size": trial.params["s"]}

    trials = searched([(float(i), float(i)) for i in range(1, 5)], size_at_the_end)
    assert all(t.state is ts.TrialState.COMPLETE for t in trials.values())


def test_front_scores_order_as_the_non_dominated_order_and_tie_what_nothing_tells_apart() -> None:
    losses = np.array([[2.0, 2.0], [3.0, 1.0], [1.0, 3.0], [1.0, 3.0], [4.0, 4.0]])
    scores = front_scores(losses)
    assert scores[1] == scores[2] == scores[3]  # the extremes of the front, one of them twice
    assert scores[1] < scores[0] < scores[4]  # the front's middle member is less isolated; the last front last
