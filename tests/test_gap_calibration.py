"""The holdout-gap test's calibration: a true gap exactly at the limit is flagged "overfitted" in at most 5% of
studies, on small holdouts of right-or-wrong examples (the score test at the limit) and on per-fold validation
noise (Student's t on its degrees of freedom)."""

from __future__ import annotations

import numpy as np
from scipy import stats

import tunesmith as ts
from tunesmith.discipline.gap import Noise, gap_test, noise_of
from tunesmith.objective import summarise

ACC = ts.Metric("acc", "max")


def right_of(right: int, examples: int) -> dict[str, float]:
    """What an objective returning ``right`` correct of ``examples`` per-example values records."""
    return summarise("acc", [1.0] * right + [0.0] * (examples - right))


def test_a_small_holdouts_standard_error_is_read_at_the_limit_not_pooled_with_validation() -> None:
    validation, holdout = right_of(285, 300), right_of(27, 30)  # 0.95 against 0.90 on 30 examples
    test = gap_test(ACC, validation["acc"], holdout["acc"], validation_noise=noise_of(validation, "acc"),
                    holdout_noise=noise_of(holdout, "acc"), threshold=0.02, points=True)  # fmt: skip
    # The proportions most likely to give 285/300 and 27/30 among those 2 points apart, found on a fine grid.
    share = np.linspace(0.02, 1.0, 2_000_001)[1:-1]
    likelihood = (285 * np.log(share) + 15 * np.log(1 - share) + 27 * np.log(share - 0.02)
                  + 3 * np.log(1.02 - share))  # fmt: skip
    best = float(share[np.argmax(likelihood)])
    at_the_limit = np.sqrt(best * (1 - best) / 300 + (best - 0.02) * (1.02 - best) / 30)
    assert abs(test.stderr - at_the_limit) < 1e-5, f"standard error {test.stderr:.5f}, at the limit {at_the_limit:.5f}"
    assert "score test at the limit" in test.detail


def test_a_true_gap_at_the_limit_on_30_holdout_examples_is_flagged_in_at_most_5_percent() -> None:
    # Every outcome of 300 validation examples at 0.95 and 30 holdout examples at 0.93, weighed by its binomial
    # probability: the exact rate, with nothing drawn at random (pooled: 8.9%).
    flagged = 0.0
    for right in range(250, 301):
        validation = right_of(right, 300)
        for held in range(10, 31):
            holdout = right_of(held, 30)
            test = gap_test(ACC, validation["acc"], holdout["acc"], validation_noise=noise_of(validation, "acc"),
                            holdout_noise=noise_of(holdout, "acc"), threshold=0.02, points=True)  # fmt: skip
            if test.flagged and test.gap > 0:
                flagged += stats.binom.pmf(right, 300, 0.95) * stats.binom.pmf(held, 30, 0.93)
    assert flagged <= 0.05, f"flagged 'overfitted' in {flagged:.2%} of studies at the limit"


def test_per_fold_noise_carries_the_folds_degrees_of_freedom() -> None:
    folds = {"acc": 0.90, **{f"fold:{i}:acc": v for i, v in enumerate([0.88, 0.93, 0.87, 0.91, 0.91])}}
    noise = noise_of(folds, "acc")
    assert noise is not None and noise.dof == 4


def test_a_gap_on_fold_noise_is_bounded_with_students_t() -> None:
    # 2.0 standard errors beyond the limit: beyond the normal's 1.645, within Student's t on the folds' 4 degrees of
    # freedom (2.13; the holdout's hundredth of the variance, read on the normal, takes it to 2.127).
    validation = Noise(0.01, "5 folds", dof=4)
    holdout = Noise(0.001, "a large holdout")
    stderr = np.hypot(0.01, 0.001)
    test = gap_test(ACC, 0.90, 0.88 - 2.0 * stderr, validation_noise=validation, holdout_noise=holdout,
                    threshold=0.02, points=True)  # fmt: skip
    assert not test.flagged and not test.decided, test.detail
    assert "Student's t, 4 degrees of freedom" in test.detail


def test_a_true_gap_at_the_limit_on_3_folds_is_flagged_in_at_most_5_percent() -> None:
    # 3 fold scores around 0.90 (spread 0.03), 10,000 holdout examples at 0.88: the folds' noise dominates, and
    # read at the normal quantile it was flagged in 11% of studies.
    rng = np.random.default_rng(0)
    studies, flagged = 4000, 0
    for _ in range(studies):
        folds = 0.90 + 0.03 * rng.standard_normal(3)
        validation = {"acc": float(folds.mean()), **{f"fold:{i}:acc": float(v) for i, v in enumerate(folds)}}
        share = rng.binomial(10_000, 0.88) / 10_000  # what `summarise` records of 10,000 right-or-wrong examples
        holdout = {"acc": share, "stderr:acc": np.sqrt(share * (1 - share) / 9_999), "count:acc": 10_000.0}
        test = gap_test(ACC, validation["acc"], holdout["acc"], validation_noise=noise_of(validation, "acc"),
                        holdout_noise=noise_of(holdout, "acc"), threshold=0.02, points=True)  # fmt: skip
        flagged += test.flagged and test.gap > 0
    # 5% of 4,000 is 200 +- 14: 260 is four standard deviations above it, and 11% is 440.
    assert flagged <= 260, f"flagged 'overfitted' in {flagged / studies:.1%} of studies at the limit"
