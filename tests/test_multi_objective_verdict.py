"""The verdict on a multi-objective study judges every objective, not the first one alone."""

from __future__ import annotations

from typing import Any

import numpy as np

import tunesmith as ts
from tunesmith.discipline.verdict import Check, Verdict


def _study(baseline: dict[str, Any] | None = None) -> ts.Study:
    return ts.Study(
        ts.Space({"x": ts.Float(0.0, 1.0)}),
        metrics=[ts.Metric("error"), ts.Metric("latency_ms")],
        sampler="random",
        budget=ts.Budget(trials=8),
        storage="memory",
        seed=0,
        baseline=baseline,
    )


def _check(verdict: Verdict, name: str) -> Check:
    return next(c for c in verdict.checks if c.name == name)


def test_seed_stability_fails_a_choice_whose_second_objective_depends_on_the_seed() -> None:
    def measure(params: dict[str, Any], seed: int) -> dict[str, Any]:
        rng = np.random.default_rng(seed)
        error = (rng.random(2000) < 0.1).astype(float)  # the same on every seed
        latency = (50.0 - 20.0 * params["x"]) * (1.0 + 0.3 * rng.standard_normal())  # 30% of its value, seed to seed
        return {"error": error, "latency_ms": latency + rng.normal(0.0, 0.5, 2000)}

    study = _study()
    study.optimize(lambda trial: measure(trial.params, trial.seed))
    study.choose(ts.choose.best("latency_ms"))
    ts.validate_top(study, lambda trial: measure(trial.params, trial.seed), seeds=6)
    verdict = ts.finalize(study, lambda params, seed: measure(params, seed + 1000), holdout="held out")

    check = _check(verdict, "seed stability")
    assert (check.passed, check.decided) == (False, True), check.detail
    assert check.detail.startswith("latency_ms depends on the seed")


def test_baseline_margin_passes_a_trade_off_the_baseline_does_not_dominate() -> None:
    # The baseline (x=0) is the accurate but slow end of the front; any other choice trades error for latency.
    def measure(params: dict[str, Any], seed: int) -> dict[str, Any]:
        rng = np.random.default_rng(seed)
        x = params["x"]
        return {"error": (rng.random(2000) < 0.05 + 0.1 * x).astype(float),
                "latency_ms": 100.0 - 90.0 * np.sqrt(x) + rng.normal(0.0, 1.0, 2000)}  # fmt: skip

    study = _study(baseline={"x": 0.0})
    study.optimize(lambda trial: measure(trial.params, trial.seed))
    study.choose(ts.choose.best("latency_ms"))
    ts.validate_top(study, lambda trial: measure(trial.params, trial.seed), seeds=3)
    verdict = ts.finalize(study, lambda params, seed: measure(params, seed + 1000), holdout="held out")

    check = _check(verdict, "baseline margin")
    assert (check.passed, check.decided) == (True, True)
    assert "better beyond noise on latency_ms" in check.detail


def test_baseline_margin_is_undecided_when_the_baseline_is_better_on_one_objective_and_level_on_the_other() -> None:
    # The baseline's error is lower beyond noise; on latency the two differ by less than a seed's noise, which
    # each configuration draws on its own (a machine's load), so that pairing by seed does not cancel it.
    def measure(params: dict[str, Any], seed: int) -> dict[str, Any]:
        rng = np.random.default_rng(seed)
        x = params["x"]
        load = np.random.default_rng([seed, round(x * 1e6)]).normal(0.0, 10.0)
        return {"error": (rng.random(2000) < 0.05 + 0.2 * x).astype(float),
                "latency_ms": 100.0 - x + load + rng.normal(0.0, 1.0, 2000)}  # fmt: skip

    study = _study(baseline={"x": 0.0})
    study.optimize(lambda trial: measure(trial.params, trial.seed))
    study.choose(ts.choose.best("latency_ms"))
    ts.validate_top(study, lambda trial: measure(trial.params, trial.seed), seeds=3)
    verdict = ts.finalize(study, lambda params, seed: measure(params, seed + 1000), holdout="held out")

    check = _check(verdict, "baseline margin")
    assert (check.passed, check.decided) == (False, False), check.detail
    assert "latency_ms" in check.detail.split(";")[0]
