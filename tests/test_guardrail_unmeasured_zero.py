"""Re-runs that agree exactly across seeds, with no per-example or per-fold values, measure no noise: a model that
ignores its seed gives the same ECE on every run whatever the sampling noise of its validation examples (0.0553 on
560 examples, a bootstrap spread of 0.012, read "held ... +- 0 (6 seeds)" against a bound of 0.06). For a guardrail
such a reading is one number of unknown noise: it can show a breach, never that the guardrail holds."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import tunesmith as ts

ECE_BOUND = ts.Guardrail("val_ece", "<=", 0.06)


def deterministic(trial: ts.Trial) -> dict[str, float]:
    """The same result on every seed: a model that does not use its seed."""
    return {"acc": 0.9, "val_ece": 0.055}


def judged_on_identical_re_runs(
    objective: Callable[[ts.Trial], dict[str, float]] = deterministic,
) -> ts.discipline.Verdict:
    study = ts.Study(ts.Space({"c": ts.Choice(["a"])}), metric=ts.Metric("acc", "max"), guardrails=[ECE_BOUND],
                     sampler="grid", budget=ts.Budget(trials=1), storage="memory", seed=7)  # fmt: skip
    study.optimize(objective, progress=False)
    ts.validate_top(study, objective, k=1, seeds=3, progress=False)
    return ts.finalize(study, lambda params, seed: {"holdout_acc": 0.9}, progress=False)


def test_a_guardrail_on_re_runs_that_agree_exactly_is_not_shown_to_hold() -> None:
    verdict = judged_on_identical_re_runs()
    check = verdict.check("guardrails")
    assert not check.passed and not check.decided
    assert not verdict.ready


def test_the_detail_names_the_values_that_would_measure_the_noise_the_agreement_hides() -> None:
    detail = judged_on_identical_re_runs().check("guardrails").detail
    assert detail.startswith("val_ece <= 0.06: not shown to hold across the re-runs (0.055 on all 3 seeds: runs that "
                             "agree exactly measure no noise of the examples val_ece was read on")  # fmt: skip
    assert "its per-example values (a sequence)" in detail
    assert "**ts.discipline.fold_metrics('val_ece', per_fold)" in detail
    assert "a bootstrap standard error as 'stderr:val_ece'" in detail


def test_equal_re_runs_whose_floating_point_spread_is_not_zero_are_not_shown_to_hold_either() -> None:
    """np.std of three copies of 0.05626540478400545 is 8.5e-18, not 0: that rounding residue read as measured
    noise, and the guardrail "held ... +- 4.91e-18 (3 seeds)" where 0.055 (np.std exactly 0) did not."""
    assert np.std([0.05626540478400545] * 3, ddof=1) > 0

    def rounding(trial: ts.Trial) -> dict[str, float]:
        return {"acc": 0.9, "val_ece": 0.05626540478400545}

    check = judged_on_identical_re_runs(rounding).check("guardrails")
    assert not check.passed and not check.decided
    assert "runs that agree exactly measure no noise" in check.detail
