"""A failed proxy check names the winner's value of the metric that degrades, the trial as good on the primary metric
(within its noise) that does best on it, and the fixes; a primary metric tied at its best on most trials (a plateau)
still compares the trials just below it, and the check says that it ties."""

from __future__ import annotations

from typing import Any

import numpy as np

import tunesmith as ts
from tunesmith.discipline.guardrails import proxy_scan

ACC = ts.Metric("val_acc", "max")
EXAMPLES = 2000
# Accuracy and ECE of ten configurations: the better the accuracy, the worse the calibration, but for "b", 0.5
# standard errors of the difference below "a" (2,000 examples each) and far better calibrated. "d" lies 2 standard
# errors below "a": beyond noise.
CONFIGURATIONS = {"a": (0.900, 0.100), "b": (0.895, 0.040), "c": (0.892, 0.060), "d": (0.880, 0.050),
                  "e": (0.870, 0.045), "f": (0.860, 0.035), "g": (0.850, 0.030), "h": (0.840, 0.025),
                  "i": (0.830, 0.020), "j": (0.800, 0.010)}  # fmt: skip


def traded_off(per_example: bool) -> ts.Study:
    def objective(trial: ts.Trial) -> dict[str, Any]:
        acc, ece = CONFIGURATIONS[trial.params["c"]]
        right = round(acc * EXAMPLES)
        correct = np.r_[np.ones(right), np.zeros(EXAMPLES - right)]
        return {"val_acc": correct if per_example else acc, "val_ece": ece}

    study = ts.Study(ts.Space({"c": ts.Choice(list(CONFIGURATIONS))}), metric=ACC, sampler="grid",
                     budget=ts.Budget(trials=len(CONFIGURATIONS)), storage="memory", seed=0)  # fmt: skip
    study.optimize(objective, progress=False)
    return study


def proxy_check(study: ts.Study, holdout: str = "holdout_acc") -> ts.discipline.Check:
    return ts.finalize(study, lambda params, seed: {holdout: 0.9}, progress=False).check("proxy overfitting")


def trial_of(study: ts.Study, configuration: str) -> int:
    return next(r.number for r in study.trials if r.params["c"] == configuration)


def test_a_proxy_finding_names_the_winners_value_of_the_degrading_metric() -> None:
    study = traded_off(per_example=True)
    check = proxy_check(study)
    assert not check.passed
    assert f"the winner (trial #{trial_of(study, 'a')}) has val_ece 0.1 at val_acc 0.9" in check.detail


def test_a_proxy_finding_names_the_best_calibrated_trial_within_noise_of_the_winner() -> None:
    study = traded_off(per_example=True)
    check = proxy_check(study)
    assert f"trial #{trial_of(study, 'b')} has val_ece 0.04 at val_acc 0.895 (0.5 standard errors below, within " \
        "noise)" in check.detail
    assert check.detail.endswith(f"or choose trial #{trial_of(study, 'b')}")


def test_a_proxy_finding_says_how_to_fix_it() -> None:
    check = proxy_check(traded_off(per_example=True))
    assert "fix: bound val_ece with ts.Guardrail('val_ece', '<=', <the most you accept>) in a new study" in check.detail
    assert "or recalibrate the model (e.g. scikit-learn's CalibratedClassifierCV) and re-run the search" in check.detail


def test_without_noise_on_the_primary_metric_no_trial_below_the_winner_is_named_as_good() -> None:
    check = proxy_check(traded_off(per_example=False))
    assert not check.passed
    assert "with no noise of val_acc measured (per-example or per-fold values, or re-runs that differ), no trial " \
        "below it can be shown as good" in check.detail
    assert "or choose trial" not in check.detail


AUC = ts.Metric("val_auc", "max")


def plateau() -> ts.Study:
    """30 random trials: AUC 0.9 for C above 0.1 (27 of them), a little lower below it; log loss rises with C."""

    def objective(trial: ts.Trial) -> dict[str, float]:
        c = trial.params["C"]
        return {"val_auc": 0.90 if c > 0.1 else 0.90 - 0.02 * (0.1 - c), "val_log_loss": 0.30 + 0.05 * c}

    study = ts.Study(ts.Space({"C": ts.Float(0.001, 1.0)}), metric=AUC, budget=ts.Budget(trials=30),
                     storage="memory", seed=0, sampler="random")  # fmt: skip
    study.optimize(objective, progress=False)
    return study


def test_a_plateau_at_the_top_still_compares_the_trials_just_below_it() -> None:
    check = proxy_check(plateau(), holdout="holdout_auc")
    assert check.checked
    assert check.detail.startswith("across all 30 trials, val_log_loss gets worse as val_auc improves")


def test_the_check_says_when_the_primary_metric_ties_at_its_best() -> None:
    study = plateau()
    tied = sum(1 for r in study.trials if r.value("val_auc") == 0.9)
    assert tied == 27
    check = proxy_check(study, holdout="holdout_auc")
    assert "val_auc ties at its best, 0.9, on 27 of the 30 trials, where it cannot trade off against anything: the " \
        "comparison rests on the 3 off the tie" in check.detail


def test_a_tied_trial_better_on_the_degrading_metric_is_named_as_just_as_good() -> None:
    study = plateau()
    tied = [r for r in study.trials if r.value("val_auc") == 0.9]
    best_calibrated = min(tied, key=lambda r: r.value("val_log_loss") or 0.0)
    check = proxy_check(study, holdout="holdout_auc")
    assert f"trial #{best_calibrated.number} has val_log_loss {best_calibrated.value('val_log_loss'):.4g} at " \
        "val_auc 0.9 (the same)" in check.detail


def test_nothing_to_compare_on_a_primary_metric_tied_on_every_trial_says_it_ties() -> None:
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric=AUC, budget=ts.Budget(trials=20),
                     storage="memory", seed=0, sampler="random")  # fmt: skip
    study.optimize(lambda trial: {"val_auc": 0.9, "val_ece": 0.02 + 0.1 * trial.params["x"]}, progress=False)
    check = proxy_check(study, holdout="holdout_auc")
    assert not check.checked
    assert check.detail.startswith("nothing to compare: val_auc ties at its best, 0.9, on 20 of the 20 trials")
    assert check.detail.endswith("the tied trials are equally good on val_auc, so choose among them on the guardrail "
                                 "or calibration metrics")  # fmt: skip


def test_a_collapsed_configuration_below_a_plateau_stays_out_of_the_comparison() -> None:
    # 24 trials tie at an AUC of 0.9, four lie just below, two collapsed ones (a constant prediction) at 0.5.
    auc = [0.9] * 24 + [0.899, 0.898, 0.897, 0.896, 0.5, 0.5]
    ece = [0.05 + 0.001 * i for i in range(24)] + [0.04, 0.03, 0.035, 0.045, 0.001, 0.002]
    records = [ts.TrialRecord(i, {"x": float(i)}, i, ts.TrialState.COMPLETE, {"auc": a, "ece": e})
               for i, (a, e) in enumerate(zip(auc, ece, strict=True))]  # fmt: skip
    scan = proxy_scan(records, ts.Metric("auc", "max"))
    assert scan.widest("ece").window == "all 28 trials but the 2 far below the rest"
