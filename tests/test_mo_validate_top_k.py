"""`validate_top` on a study with several objectives re-runs the one configuration `Study.choose` recorded: a ``k``
asked for is not used, and it says so; a lone candidate compared with nothing is never called the best on every
seed."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.discipline import seeds

PER_SEED_SENTENCE = "best candidate on every seed"


def measure(params: dict[str, Any], seed: int) -> dict[str, Any]:
    x, rng = params["x"], np.random.default_rng(seed)
    return {"error": (rng.random(300) < 0.1 + 0.3 * x).astype(float),
            "cost": (rng.random(300) < 0.4 - 0.3 * x).astype(float)}  # fmt: skip


def chosen_trade_off() -> ts.Study:
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metrics=[ts.Metric("error"), ts.Metric("cost")],
                     sampler="random", budget=ts.Budget(trials=8), storage="memory", seed=0)  # fmt: skip
    study.optimize(lambda trial: measure(trial.params, trial.seed))
    study.choose(ts.choose.knee())
    return study


def test_validate_top_warns_that_k_is_not_used_on_a_study_with_several_objectives() -> None:
    study = chosen_trade_off()
    chosen = study.chosen
    assert chosen is not None
    with pytest.warns(seeds.TopKUnusedWarning, match=r"k=5 is not used .* study\.choose's rule on the Pareto front"):
        report = ts.validate_top(study, lambda trial: measure(trial.params, trial.seed), k=5, seeds=3)
    assert [c.trial for c in report.candidates] == [chosen.number]


def test_the_seed_check_names_no_best_candidate_per_seed_when_only_the_chosen_trade_off_was_re_run() -> None:
    study = chosen_trade_off()
    ts.validate_top(study, lambda trial: measure(trial.params, trial.seed), seeds=3)
    verdict = ts.finalize(study, lambda params, seed: measure(params, seed + 10**6))
    assert PER_SEED_SENTENCE not in verdict.check("seed stability").detail


def one_objective_re_run_alone() -> tuple[ts.Study, seeds.SeedReport]:
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric=ts.Metric("error"), sampler="random",
                     budget=ts.Budget(trials=4), storage="memory", seed=0)  # fmt: skip
    study.optimize(lambda trial: {"error": measure(trial.params, trial.seed)["error"]})
    report = ts.validate_top(study, lambda trial: {"error": measure(trial.params, trial.seed)["error"]}, k=1, seeds=3)
    return study, report


def test_the_seed_check_names_no_best_candidate_per_seed_when_one_configuration_was_re_run() -> None:
    study, _ = one_objective_re_run_alone()
    verdict = ts.finalize(study, lambda params, seed: {"error": measure(params, seed + 10**6)["error"]})
    detail = verdict.check("seed stability").detail
    assert detail.startswith("error ") and PER_SEED_SENTENCE not in detail, detail


def test_the_seed_report_names_no_best_candidate_per_seed_with_one_candidate() -> None:
    _, report = one_objective_re_run_alone()
    assert report.winner is not None
    assert f"winner #{report.winner.trial}" in report.summary() and PER_SEED_SENTENCE not in report.summary()
