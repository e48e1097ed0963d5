"""The seed-stability check passes as decided only when the data rule out a spread beyond the limit: its one-sided
95% upper bound (chi-square on n - 1 degrees of freedom) is within it; otherwise it passes undecided."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import chi2

import tunesmith as ts
from tunesmith.discipline._reruns import seed_list
from tunesmith.discipline.verdict import Check

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def seed_check(offsets: list[float]) -> Check:
    """The seed check of one configuration scoring about 1.0, re-run on ``len(offsets)`` seeds where it scores
    1.0 plus each offset in turn (its spread over |mean| is then about their standard deviation)."""
    study = ts.Study(SPACE, metric=ts.Metric("score", "max"), sampler="random", budget=ts.Budget(trials=1),
                     storage="memory", seed=0)  # fmt: skip
    study.optimize(lambda trial: {"score": 1.0}, progress=False)
    seeds = seed_list(0, len(offsets))
    ts.validate_top(study, lambda trial: {"score": 1.0 + offsets[seeds.index(trial.seed)]}, k=1,
                    seeds=len(offsets), progress=False)  # fmt: skip
    return ts.finalize(study, lambda params, seed: {"holdout_score": 1.0}).check("seed stability")


def test_a_spread_within_the_limit_whose_upper_bound_is_beyond_it_passes_undecided() -> None:
    check = seed_check([-0.03, 0.0, 0.03])  # 3.0% on 3 seeds: its 95% upper bound is 13.2%
    assert check.passed and not check.decided
    assert "within the limit, but 3 seeds cannot tell (95% upper bound 13.2%)" in check.detail


def test_a_spread_whose_upper_bound_is_within_the_limit_passes_decided() -> None:
    check = seed_check([-0.005, 0.0, 0.005])  # 0.5% on 3 seeds: its 95% upper bound is 2.2%
    assert check.passed and check.decided
    assert "its 95% upper bound 2.2% is within the limit" in check.detail


def test_an_undecided_pass_names_the_seeds_that_would_put_its_upper_bound_within_the_limit() -> None:
    check = seed_check([-0.03, 0.0, 0.03])
    spread = float(np.std([0.97, 1.0, 1.03], ddof=1))
    needed = next(n for n in range(4, 101) if spread * math.sqrt((n - 1) / chi2.ppf(0.05, n - 1)) <= 0.05)
    assert f"about {needed} seeds would decide at this spread" in check.detail


@pytest.mark.slow
def test_a_spread_at_the_limit_passes_as_decided_in_at_most_5_percent_of_studies() -> None:
    studies, decided = 300, 0
    for i in range(studies):
        rng = np.random.default_rng([i, 5])
        check = seed_check(list(0.05 * rng.standard_normal(3)))
        decided += check.passed and check.decided
    # Decided on the point estimate, 63% of such studies passed as decided (and 23% of those at twice the limit).
    assert decided / studies <= 0.08, f"{decided} of {studies}"
