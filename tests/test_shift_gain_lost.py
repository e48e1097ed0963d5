"""The shifted-data check with a baseline when the tuned gain is lost or shrinks under the shift."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tunesmith as ts

SPACE = ts.Space({"config": ts.Choice(["tuned", "other"])})
DEFAULTS = {"config": "default"}
N = 400

Evaluate = Callable[[dict[str, Any], int], dict[str, Any]]


def hits(right: int, n: int = N, first: int = 0) -> np.ndarray:
    """Per-example results on the same ``n`` examples: ``right`` of them right from ``first`` on, so that two models'
    results pair."""
    return ((np.arange(n) >= first) & (np.arange(n) < first + right)).astype(float)


def tuned(baseline: dict[str, Any] | None = DEFAULTS) -> ts.Study:
    """A study whose search picks "tuned" (validation accuracy 0.95), with the defaults declared as its baseline."""
    study = ts.Study(SPACE, metric=ts.Metric("acc", "max"), sampler="grid", budget=ts.Budget(trials=2),
                     storage="memory", seed=11, baseline=baseline)  # fmt: skip
    study.optimize(lambda trial: {"acc": 0.95 if trial.params["config"] == "tuned" else 0.80})
    return study


def scoring(right: dict[str, int]) -> Evaluate:
    """An evaluation that gives each configuration ``right[config]`` of `N` examples right."""
    return lambda params, seed: {"holdout_acc": hits(right[params["config"]])}


HOLDOUT = scoring({"tuned": 380, "default": 340})  # the tuned gain in distribution: +10 points, +- 1.5 paired
GAIN_GONE = scoring({"tuned": 300, "default": 300})  # the two models alike on every shifted example
# Holdout gains whose loss under the shift stays within the 5-point limit of the drop the baseline does not share.
SMALL = scoring({"tuned": 378, "default": 362})  # +4 points, +- 1.0 paired
EIGHT = scoring({"tuned": 380, "default": 348})  # +8 points, +- 1.4 paired


def test_a_shifted_gain_of_zero_with_no_noise_is_decided_lost_and_fails() -> None:
    verdict = ts.finalize(tuned(), HOLDOUT, shifted=GAIN_GONE)
    check = verdict.check("shifted data")
    assert not check.passed and check.decided and not verdict.ready
    assert "gain +0.0 points +- 0.0 points" in check.detail
    assert "no gain over the baseline under the shift: its upper bound +0.0 points is at or below zero" in check.detail
    assert "the gain of +10.0 points on the holdout is lost" in check.detail


def test_declaring_a_baseline_keeps_the_failure_of_a_winner_whose_gain_vanishes_under_the_shift() -> None:
    # The winner drops 20 points from the holdout (beyond the 5-point limit) while the baseline drops 10:
    # the drop beyond the baseline's is the tuned gain, lost, so it fails with or without a baseline.
    alone = ts.finalize(tuned(baseline=None), HOLDOUT, shifted=GAIN_GONE).check("shifted data")
    beside = ts.finalize(tuned(), HOLDOUT, shifted=GAIN_GONE).check("shifted data")
    assert (alone.passed, alone.decided) == (beside.passed, beside.decided) == (False, True)


def test_a_gain_that_shrank_beyond_noise_and_is_not_shown_above_zero_leans_and_is_not_shown_ready() -> None:
    # +0.5 points on 2 of 400 examples (within noise of zero) against +4 points on the holdout.
    verdict = ts.finalize(tuned(), SMALL, shifted=scoring({"tuned": 302, "default": 300}))
    check = verdict.check("shifted data")
    assert check.passed and not check.decided and check.leans
    assert not verdict.ready and verdict.headline.startswith("not shown ready")
    assert "it shrank beyond noise, from +4.0 points on the holdout to +0.5 points under the shift" in check.detail
    assert "not shown above zero there, so the check leans towards failing" in check.detail


def test_a_gain_that_holds_but_shrank_beyond_noise_passes_and_says_so_with_both_gains() -> None:
    # +5 points (20 of 400 examples, about 1.1 points of paired noise) against +8 on the holdout.
    check = ts.finalize(tuned(), EIGHT, shifted=scoring({"tuned": 320, "default": 300})).check("shifted data")
    assert check.passed and check.decided and not check.leans
    assert ("the gain holds under the shift, beyond noise, but it shrank beyond noise, from +8.0 points on the "
            "holdout to +5.0 points under the shift") in check.detail  # fmt: skip


def test_a_gain_that_shrank_beyond_noise_is_not_called_the_shift_itself() -> None:
    # Both lose beyond the 5-point limit (the winner 15 points, the baseline 12), but the winner 3 more: the shift
    # explains the baseline's drop, not the gain the winner lost.
    check = ts.finalize(tuned(), EIGHT, shifted=scoring({"tuned": 320, "default": 300})).check("shifted data")
    assert "the winner loses 15.0 points" in check.detail and "the baseline loses 12.0 points" in check.detail
    assert "the drop is the shift itself" not in check.detail


@pytest.mark.parametrize(("tuned_right", "towards"), [(302, "towards the gain holding above zero, were +0.5 points"),
                                                     (298, "towards its loss (an upper bound at or below zero), were "
                                                           "-0.5 points")])  # fmt: skip
def test_what_more_shifted_examples_would_decide_says_towards_which_outcome(tuned_right: int, towards: str) -> None:
    check = ts.finalize(tuned(), SMALL, shifted=scoring({"tuned": tuned_right, "default": 300})).check(
        "shifted data")  # fmt: skip
    assert "the shifted examples would decide it, " + towards in check.detail


def test_more_shifted_examples_are_not_said_to_decide_a_gain_of_exactly_zero_within_noise() -> None:
    # The two models differ on 20 of 400 shifted examples, 10 each way: a gain of exactly zero, with noise.
    def shifted(params: dict[str, Any], seed: int) -> dict[str, Any]:
        return {"holdout_acc": hits(300, first=0 if params["config"] == "tuned" else 10)}

    check = ts.finalize(tuned(), SMALL, shifted=shifted).check("shifted data")
    assert "gain +0.0 points +- 1.1 points" in check.detail and not check.decided
    assert "would decide" not in check.detail
    assert "more of the shifted examples would not move this: a gain of +0.0 points stays within noise" in check.detail


def test_a_gain_under_the_shift_at_or_below_zero_with_unknown_noise_is_not_shown_ready() -> None:
    right = {"tuned": (0.95, 0.50), "default": (0.85, 0.60)}  # 10 points below the baseline, noise unknown
    verdict = ts.finalize(tuned(), lambda params, seed: dict(zip(("holdout_acc", "shifted:holdout_acc"),
                                                                 right[params["config"]], strict=True)))  # fmt: skip
    check = verdict.check("shifted data")
    assert check.passed and not check.decided and check.leans and not verdict.ready
    assert "the estimate, -10.0 points, is no gain over the baseline" in check.detail


def test_a_gain_that_holds_but_shrank_by_more_than_the_limit_beyond_noise_fails_as_without_a_baseline() -> None:
    # +1 point under the shift (above zero beyond noise) against +10 on the holdout: the winner loses 19 points, the
    # baseline 10; the 9 points the baseline does not share are beyond the 5-point limit and beyond noise. Without a
    # baseline the winner's own drop fails; declaring one passed it ("the gain holds").
    shifted = scoring({"tuned": 304, "default": 300})
    alone = ts.finalize(tuned(baseline=None), HOLDOUT, shifted=shifted).check("shifted data")
    beside = ts.finalize(tuned(), HOLDOUT, shifted=shifted).check("shifted data")
    assert (alone.passed, alone.decided) == (beside.passed, beside.decided) == (False, True)
    assert "it shrank beyond noise, from +10.0 points on the holdout to +1.0 points under the shift" in beside.detail
    assert "loses more than the baseline under the shift by more than the limit of 5.0 points, beyond noise" in (
        beside.detail)  # fmt: skip


def test_a_gain_that_holds_but_shrank_by_more_than_the_limit_within_noise_leans() -> None:
    # +2.5 points under the shift against +10 on the holdout: 7.5 points lost, +- 1.8, beyond the limit within noise.
    verdict = ts.finalize(tuned(), HOLDOUT, shifted=scoring({"tuned": 310, "default": 300}))
    check = verdict.check("shifted data")
    assert check.passed and not check.decided and check.leans and not verdict.ready
    assert "the gain holds above zero under the shift, but it shrank beyond noise" in check.detail
    assert "by more than the limit of 5.0 points within noise, so the check leans towards failing" in check.detail


def test_a_gain_that_holds_and_may_have_shrunk_past_the_limit_within_noise_of_zero_does_not_lean() -> None:
    # +20 points on the holdout, +12 under a shift of 50 examples (above zero beyond noise): 8 points lost, +- 5.0,
    # beyond the 5-point limit on the estimate but within noise of no shrink at all. It leaned, and it said "it
    # shrank beyond noise ... its lower bound -0.2 points is above zero".
    holdout = scoring({"tuned": 380, "default": 300})

    def shifted(params: dict[str, Any], seed: int) -> dict[str, Any]:
        return {"holdout_acc": hits({"tuned": 45, "default": 39}[params["config"]], 50)}

    verdict = ts.finalize(tuned(), holdout, shifted=shifted)
    check = verdict.check("shifted data")
    assert check.passed and not check.decided and not check.leans, check.detail
    assert "the gain holds under the shift, beyond noise; it may have shrunk from the holdout's by more than the " \
           "limit of 5.0 points (by 8.0 points +- " in check.detail  # fmt: skip
    assert "but no shrink is shown beyond noise: not evidence either way" in check.detail
    assert "shrank beyond noise" not in check.detail
