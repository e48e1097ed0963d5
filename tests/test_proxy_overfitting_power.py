"""Proxy overfitting is decided on the p-value of the best trials' correlation, at the stated false-alarm rate,
not on a fixed correlation that the best trials' narrowing range makes ever harder to reach."""

from __future__ import annotations

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.discipline import proxy_overfitting
from tunesmith.discipline.guardrails import proxy_scan

AUC = ts.Metric("auc", "max")


def records(auc: list[float] | np.ndarray, ece: list[float] | np.ndarray) -> list[ts.TrialRecord]:
    return [ts.TrialRecord(i, {"x": float(i)}, i, ts.TrialState.COMPLETE, {"auc": float(a), "ece": float(e)})
            for i, (a, e) in enumerate(zip(auc, ece, strict=True))]  # fmt: skip


def calibration_degrading_beyond(capacity: float, trial: ts.Trial) -> dict[str, float]:
    """auc grows with capacity; ece is flat up to ``capacity`` and degrades beyond: among the best trials only."""
    rng = np.random.default_rng(trial.number)
    c = trial.params["capacity"]
    return {
        "auc": 0.7 + 0.2 * c + rng.normal(0.0, 0.02),
        "ece": 0.05 + 0.3 * max(0.0, c - capacity) + rng.normal(0.0, 0.02),
    }


@pytest.mark.slow
def test_a_trade_off_among_many_best_trials_fails_the_verdict_below_a_correlation_of_0_6() -> None:
    study = ts.Study(ts.Space({"capacity": ts.Float(0.0, 1.0)}), metric=AUC, sampler="random",
                     budget=ts.Budget(trials=200), storage="memory", seed=3)  # fmt: skip
    study.optimize(lambda trial: calibration_degrading_beyond(0.6, trial))
    [finding] = proxy_overfitting(study.trials, study.metric)
    assert finding.metric == "ece" and finding.trials == 50 and finding.correlation < 0.6
    verdict = ts.finalize(study, lambda params, seed: {"holdout_auc": 0.7 + 0.2 * params["capacity"]})
    assert not verdict.check("proxy overfitting").passed


def test_a_correlation_seven_trials_reach_by_chance_more_often_than_the_level_is_not_flagged() -> None:
    # Spearman 0.68: 276 of the 5,040 orderings of ece correlate as strongly (p = 0.055 > 0.05), although
    # Student's t approximation puts it at 0.047.
    auc = [0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]
    ece = [0.3, 0.4, 0.6, 0.5, 0.2, 0.1, 0.0]
    scan = proxy_scan(records(auc, ece), AUC, top=1.0)
    assert scan.compared == ("ece",) and scan.findings == []


def test_the_threshold_argument_is_deprecated() -> None:
    auc = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    with pytest.warns(FutureWarning, match=r"threshold is deprecated, got threshold=0\.6.*drop the argument"):
        proxy_overfitting(records(auc, auc), AUC, threshold=0.6)


def test_a_deprecated_threshold_is_still_required_of_the_correlation() -> None:
    rng = np.random.default_rng(5)
    auc = rng.normal(size=200)
    ece = 0.71 * auc + np.sqrt(1 - 0.71**2) * rng.normal(size=200)  # correlated 0.71 over all the trials
    [finding] = proxy_overfitting(records(auc, ece), AUC)
    assert finding.correlation < 0.6 and "p < 0.001" in finding.detail
    with pytest.warns(FutureWarning):
        assert proxy_overfitting(records(auc, ece), AUC, threshold=0.6) == []
