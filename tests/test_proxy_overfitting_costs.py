"""`proxy_overfitting` called directly watches what the verdict's proxy check watches: a guardrail on a cost bounds
a trade-off the study accepted, and is left unwatched on both paths (`guardrails._watched`, the one rule)."""

from __future__ import annotations

import pytest

import tunesmith as ts
from tunesmith.discipline.guardrails import proxy_overfitting, proxy_scan

MEMORY = ts.Guardrail("mem_mb", "<=", 400.0, exact=True)
CALIBRATION = ts.Guardrail("val_ece", "<=", 0.5)


@pytest.fixture(scope="module")
def bigger_errs_less() -> ts.Study:
    """24 random trials: a bigger model errs less, uses more memory (within its bound) and is calibrated worse."""

    def objective(trial: ts.Trial) -> dict[str, float]:
        size = trial.params["size"]
        return {"error": 0.3 - 0.2 * size, "mem_mb": 50.0 + 300.0 * size, "val_ece": 0.02 + 0.1 * size}

    study = ts.Study(ts.Space({"size": ts.Float(0.0, 1.0)}), metric=ts.Metric("error", "min"),
                     guardrails=[MEMORY, CALIBRATION], sampler="random", budget=ts.Budget(trials=24), storage="memory",
                     seed=0)  # fmt: skip
    study.optimize(objective)
    return study


def test_a_guardrail_on_a_cost_given_directly_is_not_watched(bigger_errs_less: ts.Study) -> None:
    findings = proxy_overfitting(bigger_errs_less.trials, bigger_errs_less.metric, [MEMORY])
    assert "mem_mb" not in [f.metric for f in findings]


def test_a_cost_given_directly_as_a_metric_is_watched(bigger_errs_less: ts.Study) -> None:
    findings = proxy_overfitting(bigger_errs_less.trials, bigger_errs_less.metric, [ts.Metric("mem_mb", "min")])
    assert "mem_mb" in [f.metric for f in findings]


def test_the_scan_names_the_guardrails_on_a_cost_it_left_unwatched(bigger_errs_less: ts.Study) -> None:
    scan = proxy_scan(bigger_errs_less.trials, bigger_errs_less.metric, [MEMORY, CALIBRATION])
    assert scan.costs == (MEMORY,)
    assert "mem_mb" not in scan.watched


def test_the_direct_call_on_the_studys_guardrails_flags_what_the_verdict_fails(bigger_errs_less: ts.Study) -> None:
    direct = proxy_overfitting(bigger_errs_less.trials, bigger_errs_less.metric, bigger_errs_less.guardrails)
    check = ts.finalize(bigger_errs_less, lambda params, seed: {"holdout_error": 0.15}).check("proxy overfitting")
    assert [f.metric for f in direct] == ["val_ece"]
    assert not check.passed
    assert "tighten the guardrail val_ece <= 0.5" in check.detail
    assert "tighten the guardrail mem_mb" not in check.detail
