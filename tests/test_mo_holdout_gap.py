"""On a study with several objectives the holdout gap is judged on every objective the holdout returns, not on
the first alone: a trade-off chosen under a bound on its cost must not be called generalising on its error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tunesmith as ts

# Two configurations, both on the front: "a" has the higher error and the lower cost.
ERRORS = {"a": 1000, "b": 750}  # wrong answers out of 5,000 (0.20 and 0.15)
COSTS = {"a": 1000, "b": 2000}  # costly examples out of 5,000 (0.20 and 0.40)


def share(hits: int, n: int) -> np.ndarray:
    """Per-example values: ``hits`` ones among ``n``."""
    return (np.arange(n) < hits).astype(float)


def elsewhere(hits: int, n: int) -> np.ndarray:
    """The same share on other examples (a holdout's): ``hits`` ones among ``n``, in another order than `share`'s,
    which the holdout check would read as the validation values themselves."""
    return share(hits, n)[::-1]


def measure(params: dict[str, Any], seed: int) -> dict[str, Any]:
    config = params["config"]
    return {"error": share(ERRORS[config], 5000), "cost": share(COSTS[config], 5000)}


Measure = Callable[[dict[str, Any], int], dict[str, Any]]


def study_choosing_a(rule: Any = None, objective: Measure = measure) -> ts.Study:
    """A study whose recorded choice is "a": the lowest error with a cost of at most 0.25 (or ``rule``)."""
    study = ts.Study(ts.Space({"config": ts.Choice(["a", "b"])}),
                     metrics=[ts.Metric("error", scale=1), ts.Metric("cost", scale=1)], sampler="grid",
                     budget=ts.Budget(trials=2), storage="memory", seed=0)  # fmt: skip
    study.optimize(lambda trial: objective(trial.params, trial.seed))
    chosen = study.choose(rule or ts.choose.best("error", bounds={"cost": ("<=", 0.25)}))
    assert chosen.params == {"config": "a"}
    return study


def test_a_further_objective_worse_on_the_holdout_beyond_noise_fails_the_gap_check() -> None:
    study = study_choosing_a()
    # The error generalises; the cost, 0.20 on validation, is 0.60 on the holdout.
    verdict = ts.finalize(study, lambda params, seed: {"error": elsewhere(1000, 5000), "cost": share(180, 300)})
    gap = verdict.check("holdout gap")
    assert not gap.passed and gap.decided, gap.detail
    assert gap.detail.startswith("cost fails the holdout gap, every objective judged: validation error 0.2 ")
    assert "validation cost 0.2 (" in gap.detail and "vs holdout 0.6: gap +40.0 points" in gap.detail


def test_every_objective_within_the_limit_passes_the_gap_check_naming_each() -> None:
    study = study_choosing_a()
    verdict = ts.finalize(study, lambda params, seed: {"error": elsewhere(1000, 5000), "cost": elsewhere(1000, 5000)})
    gap = verdict.check("holdout gap")
    assert gap.passed and gap.decided, gap.detail
    assert gap.detail.startswith("every objective within the limit: validation error 0.2 ")
    assert "validation cost 0.2 (" in gap.detail


def test_a_further_objective_within_noise_of_the_limit_leaves_the_gap_check_undecided() -> None:
    study = study_choosing_a()
    # 4 points worse on 300 holdout examples: beyond the 2-point limit, within noise of it.
    verdict = ts.finalize(study, lambda params, seed: {"error": elsewhere(1000, 5000), "cost": share(72, 300)})
    gap = verdict.check("holdout gap")
    assert gap.passed and not gap.decided and gap.leans, gap.detail
    assert gap.detail.startswith("cost undecided, every objective judged: ")
    assert not verdict.ready


def test_a_further_objective_the_holdout_does_not_return_is_named_and_decides_nothing() -> None:
    study = study_choosing_a()
    gap = ts.finalize(study, lambda params, seed: {"error": elsewhere(1000, 5000)}).check("holdout gap")
    assert gap.passed and gap.decided, gap.detail
    assert gap.detail.startswith("every objective the holdout returned within it: ")
    assert "cost not judged: the holdout returned no 'holdout_cost' or 'cost'" in gap.detail


def test_a_further_objective_the_choice_held_to_a_bound_has_no_optimism_taken_back_and_says_so() -> None:
    study = study_choosing_a()
    gap = ts.finalize(study, lambda params, seed: {"error": elsewhere(1000, 5000), "cost": elsewhere(1000, 5000)})
    assert ("nothing taken back for choosing: the choice did not optimise cost by itself"
            in gap.check("holdout gap").detail)  # fmt: skip


def test_a_further_objective_the_choice_optimised_says_that_its_selection_is_not_taken_back() -> None:
    # The lowest cost is "a": the choice took the best of the configurations on cost, whose optimism the
    # verdict estimates on the first objective only.
    study = study_choosing_a(ts.choose.best("cost"))
    gap = ts.finalize(study, lambda params, seed: {"error": elsewhere(1000, 5000), "cost": elsewhere(1000, 5000)})
    detail = gap.check("holdout gap").detail
    assert "the choice optimised cost (ts.choose.best('cost')), which flatters its validation score" in detail
    assert "part of a gap here may be that selection" in detail


def test_a_further_objective_without_per_example_values_is_judged_on_its_spread_across_the_seed_re_runs() -> None:
    def noisy_cost(params: dict[str, Any], seed: int) -> dict[str, Any]:
        wobble = 0.01 * float(np.random.default_rng(seed).standard_normal())
        return {"error": share(ERRORS[params["config"]], 5000), "cost": COSTS[params["config"]] / 5000 + wobble}

    study = study_choosing_a(objective=noisy_cost)
    ts.validate_top(study, lambda trial: noisy_cost(trial.params, trial.seed), seeds=3)
    gap = ts.finalize(study, lambda params, seed: noisy_cost(params, seed + 10**6)).check("holdout gap")
    assert "noise from validation one run's spread over 3 seeds" in gap.detail, gap.detail


def test_a_non_finite_holdout_score_of_a_further_objective_is_refused() -> None:
    study = study_choosing_a()
    with pytest.raises(ts.ConfigError, match="the holdout evaluation returned cost=nan: the verdict needs finite"):
        ts.finalize(study, lambda params, seed: {"error": elsewhere(1000, 5000), "cost": float("nan")})


def test_the_holdout_table_has_a_row_for_every_objective_the_holdout_returned() -> None:
    study = study_choosing_a()
    ts.finalize(study, lambda params, seed: {"error": elsewhere(1000, 5000), "cost": share(180, 300)})
    rows = {row["label"]: (row["validation"], row["holdout"]) for row in study.attrs["holdout"]["rows"]}
    assert rows == {"error": (0.2, 0.2), "cost": (0.2, 0.6)}
