"""The holdout-gap check on a holdout that is the validation set: a holdout is data the search never saw, so one whose
result is the chosen trial's validation result itself, to every digit, fails; a tie that independent sets of
right-or-wrong values meet by chance is judged as any other gap."""

from __future__ import annotations

from typing import Any

import numpy as np

import tunesmith as ts
from tunesmith.discipline.gap import gap_test, noise_of
from tunesmith.objective import summarise

ACC = ts.Metric("val_acc", "max")


def _losses(params: dict[str, Any], seed: int) -> list[float]:
    """Per-example losses of one configuration on 300 validation examples, the same for the same params and seed."""
    rng = np.random.default_rng([seed % 2**32, int(params["x"] * 1e9)])
    return [float(v) for v in rng.exponential(0.4, 300)]


def _check(verdict: ts.Verdict) -> ts.discipline.Check:
    return next(c for c in verdict.checks if c.name == "holdout gap")


def test_a_holdout_that_is_the_validation_set_fails_the_gap_check_as_decided() -> None:
    study = ts.Study(ts.Space({"x": ts.Float(0, 1)}), metric=ts.Metric("val_loss", "min"),
                     budget=ts.Budget(trials=12), storage="memory", name="leaked", seed=3)  # fmt: skip
    study.optimize(lambda trial: {"val_loss": _losses(trial.params, trial.seed)}, progress=False)
    # evaluate scores x_val again: the chosen trial's own validation losses come back as the holdout
    verdict = ts.finalize(study, lambda params, seed: {"holdout_loss": _losses(params, seed)}, holdout="copy",
                          progress=False)  # fmt: skip
    check = _check(verdict)
    assert check.status == "FAILED" and not verdict.ready, check.detail
    assert "the holdout result is the validation result itself" in check.detail
    assert "300 per-example values" in check.detail
    assert "the holdout must be data the search never saw" in check.detail
    assert "evaluate(params, seed) scores x_holdout, not x_val" in check.detail


def test_right_or_wrong_values_tied_by_count_are_judged_as_a_gap_not_as_the_validation_set() -> None:
    # 850 of 1,000 right on both sides: an independent holdout ties that count in up to 4% of studies, so the tie
    # decides nothing by itself
    values = np.r_[np.ones(850), np.zeros(150)]
    scores = summarise("val_acc", values)
    test = gap_test(ACC, scores["val_acc"], scores["val_acc"], validation_noise=noise_of(scores, "val_acc"),
                    holdout_noise=noise_of(scores, "val_acc"), threshold=0.02, points=True, selection=0.05,
                    compared=30)  # fmt: skip
    assert not test.flagged and test.decided, test.detail
    assert "validation result itself" not in test.detail
