"""The verdict fails decided only on an interval, never on a coin flip. The baseline margin fails decided only when
the winner's gain plus the bar it must clear to pass (the gain's one-sided 95% upper bound) lies at or below zero: a
shortfall within that bar, or one of unknown noise, fails undecided, as a gain within it does. A guardrail read on
the holdout and on re-runs is breached when either reads a breach, so each is read at 5% shared between them."""

from __future__ import annotations

from typing import Any

import numpy as np

import tunesmith as ts

SPACE = ts.Space({"x": ts.Float(0, 1)})
BASELINE = {"x": 0.5}
EXAMPLES = 160
BASELINE_RIGHT = np.arange(EXAMPLES) < 128  # the baseline gets the first 80% of the examples right, on every seed


def margin_of(objective: ts.Objective) -> ts.Check:
    """Two configurations searched, the best re-run on five seeds and judged against the baseline (x = 0.5), run
    on the same seeds."""
    study = ts.Study(SPACE, metric=ts.Metric("acc", "max"), budget=ts.Budget(trials=2), storage="memory", seed=0,
                     baseline=BASELINE)  # fmt: skip
    study.optimize(objective, progress=False)
    ts.validate_top(study, objective, k=1, seeds=5, progress=False)
    verdict = ts.finalize(study, lambda params, seed: {"holdout_acc": 0.8}, progress=False)
    return verdict.check("baseline margin")


def missing(examples: int) -> ts.Objective:
    """An objective where every configuration but the baseline answers as the baseline does but gets the first
    ``examples`` it gets right wrong, the same ones on every seed: a shortfall of ``examples / 160`` on every seed."""

    def objective(trial: ts.Trial) -> dict[str, Any]:
        right = BASELINE_RIGHT.copy()
        if trial.params != BASELINE:
            right[:examples] = False
        return {"acc": right.astype(float)}

    return objective


def test_a_shortfall_within_the_bar_fails_undecided_naming_what_would_decide() -> None:
    # One example of 160 lost: -0.00625 on every seed, within the sampling bar of the per-example differences
    # (1.645 standard errors: 0.0103), so the gain's one-sided 95% upper bound lies above zero.
    check = margin_of(missing(1))
    assert check.status == "FAILED, undecided", check.detail
    assert "the winner gains -0.00625" in check.detail
    assert "nor show that it falls short: about 2.7x the validation examples would decide, bringing the bar" in (
        check.detail
    )
    assert check.detail.endswith("below the shortfall")


def test_a_shortfall_beyond_the_bar_fails_decided_stating_the_upper_bound() -> None:
    # Twelve examples lost on every seed: -0.075, against a bar of 0.0344, so the upper bound is -0.0406.
    check = margin_of(missing(12))
    assert check.status == "FAILED", check.detail
    assert check.detail.endswith(
        "the winner does not beat the baseline: its gain's one-sided 95% upper bound, the gain plus the bar "
        "(0.0344), is -0.0406, at or below zero"
    )


def scores_alike_on_every_seed(trial: ts.Trial) -> dict[str, float]:
    """One score per run, the same on every seed: the baseline 0.90, every other configuration 0.85."""
    return {"acc": 0.90 if trial.params == BASELINE else 0.85}


def test_a_shortfall_of_unknown_noise_fails_undecided_naming_what_would_measure_it() -> None:
    # Worse by 0.05 on every seed alike, with no per-example values: how far the validation sample moves the
    # difference is unknown, as it is for a gain of 0.05, which the check reads as not checked.
    check = margin_of(scores_alike_on_every_seed)
    assert check.status == "FAILED, undecided", check.detail
    assert "worse by 0.05 on every one of 5 seeds alike, but no noise is known" in check.detail
    assert "return per-example values (e.g. {'acc': correct_per_example}) or per-fold scores to decide" in check.detail


def one_run_short(trial: ts.Trial) -> dict[str, float]:
    """The baseline (x = 0.5) scores 0.90 with a seed standard deviation of 0.01; every other x 0.893 on one run."""
    if trial.params == BASELINE:
        return {"acc": 0.90 + float(np.random.default_rng(trial.seed).normal(0, 0.01))}
    return {"acc": 0.893}


def test_one_run_short_of_the_baseline_mean_within_its_seed_bar_fails_undecided() -> None:
    study = ts.Study(SPACE, metric=ts.Metric("acc", "max"), budget=ts.Budget(trials=1), storage="memory", seed=0,
                     baseline=BASELINE)  # fmt: skip
    study.optimize(one_run_short, progress=False)
    ts.evaluate_baseline(study, one_run_short, seeds=5, progress=False)
    check = ts.finalize(study, lambda params, seed: {"holdout_acc": 0.893}, progress=False).check("baseline margin")
    # Worse by 0.0107 on one run, where one run against the mean of five is beyond chance only past 0.0203.
    assert check.status == "FAILED, undecided", check.detail
    assert "worse by 0.0107" in check.detail and "one run against their mean is beyond chance above 0.0203" in (
        check.detail
    )
    assert ("nor show that it falls short: the search's best's own noise, 0.0143 at 95% read from one seed standard "
            "deviation (0.00869), which more seeds do not lower, lies above the shortfall: the winner and the "
            "baseline run on the same seeds would be compared seed by seed") in check.detail  # fmt: skip


BOUND = 20.0
HOLDOUT = 50


def latency_guarded(trial: ts.Trial) -> dict[str, Any]:
    """Accuracy, and a latency well inside the bound on every run (19 ms, a seed spread of 0.1)."""
    latency = 19.0 + float(np.random.default_rng(trial.seed).normal(0, 0.1))
    return {"acc": BASELINE_RIGHT.astype(float), "latency_ms": latency}


def holdout_beyond_by(z: float) -> ts.Evaluate:
    """Holdout latencies of 50 examples whose mean lies ``z`` of their standard errors beyond the bound."""
    pattern = np.random.default_rng(3).normal(0, 1, HOLDOUT)
    pattern = (pattern - pattern.mean()) / pattern.std(ddof=1)  # mean 0, standard error exactly 1 / sqrt(50)
    latencies = BOUND + z / np.sqrt(HOLDOUT) + pattern
    return lambda params, seed: {"holdout_acc": 0.8, "latency_ms": latencies}


def test_a_guardrail_read_on_the_holdout_and_on_re_runs_is_breached_only_beyond_the_shared_level() -> None:
    study = ts.Study(SPACE, metric=ts.Metric("acc", "max"), budget=ts.Budget(trials=2),
                     guardrails=[ts.Guardrail("latency_ms", "<=", BOUND)], storage="memory", seed=0)  # fmt: skip
    study.optimize(latency_guarded, progress=False)
    ts.validate_top(study, latency_guarded, k=1, seeds=5, progress=False)
    # 1.9 standard errors beyond: a breach at 5% (Student's t on 49 degrees of freedom: 1.68), not at 2.5% (2.01)
    check = ts.finalize(study, holdout_beyond_by(1.9), progress=False).check("guardrails")
    assert check.status == "FAILED, undecided", check.detail
    assert "cannot tell on the holdout (20.27 +- 0.141 (50 examples), 1.9 standard errors beyond; a one-sided 95% " in (
        check.detail
    )
    assert ("decision needs 2.01 (Student's t on 49 degrees of freedom), as a breach in any of the 2 readings of "
            "latency_ms decides: one-sided 2.50% each, which keeps 5% over all of them)") in check.detail  # fmt: skip
