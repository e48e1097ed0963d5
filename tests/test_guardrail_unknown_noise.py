"""A guardrail is never shown to hold by one number of unknown noise: such a point decides only a breach, and the
verdict says what would measure the noise."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import tunesmith as ts
from tunesmith.discipline.guardrails import GuardrailOutcome, read_guardrail

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})
LATENCY = ts.Guardrail("latency_ms", "<=", 50.0)


def searched(objective: Callable[[ts.Trial], dict[str, Any]]) -> ts.Study:
    study = ts.Study(SPACE, metric=ts.Metric("acc", "max"), guardrails=[LATENCY], sampler="random",
                     budget=ts.Budget(trials=4), storage="memory", seed=0)  # fmt: skip
    study.optimize(objective, progress=False)
    return study


def thirty_ms(trial: ts.Trial) -> dict[str, Any]:
    """Accuracy per example, and a latency of about 30 ms read as one number (its noise unknown)."""
    rng = np.random.default_rng(trial.seed)
    return {"acc": rng.random(300) < 0.9, "latency_ms": 30.0 + rng.normal(0.0, 2.0)}


def test_a_point_of_unknown_noise_decides_only_a_breach() -> None:
    assert read_guardrail(LATENCY, 49.9).outcome is GuardrailOutcome.UNDECIDED
    assert read_guardrail(LATENCY, 50.1).outcome is GuardrailOutcome.BREACHED


def test_the_searchs_single_result_does_not_show_a_guardrail_holds_and_the_detail_says_what_would() -> None:
    study = searched(thirty_ms)
    verdict = ts.finalize(study, lambda params, seed: {"holdout_acc": np.arange(300) < 270})
    check = verdict.check("guardrails")
    assert not check.passed and not check.decided and not verdict.ready
    assert "not shown to hold in the search (not measured on the holdout)" in check.detail
    assert "re-runs across seeds (ts.validate_top(study, objective))" in check.detail
    assert "the search's result is favoured by the pick" in check.detail


def test_a_holdout_point_of_unknown_noise_alone_does_not_show_a_guardrail_holds() -> None:
    study = searched(thirty_ms)
    verdict = ts.finalize(study, lambda params, seed: {"holdout_acc": np.arange(300) < 270, "latency_ms": 12.0})
    check = verdict.check("guardrails")
    assert not check.passed and not check.decided
    assert check.detail.startswith("latency_ms <= 50: not shown to hold on the holdout (12, inside the bound")


def test_a_point_of_unknown_noise_beside_re_runs_that_held_shows_nothing_either_way() -> None:
    study = searched(thirty_ms)
    ts.validate_top(study, thirty_ms, k=1, seeds=5, progress=False)
    verdict = ts.finalize(study, lambda params, seed: {"holdout_acc": np.arange(300) < 270, "latency_ms": 12.0})
    check = verdict.check("guardrails")
    assert check.passed and check.decided
    assert check.detail.startswith("latency_ms <= 50: held: inside the bound on the holdout (12; its noise is "
                                   "unknown, so this point shows nothing); held across the re-runs (")  # fmt: skip
