"""The holdout gap, the worst slice and the shifted-data drop are judged against their limit, not against zero:
a failure needs the lower bound beyond the limit, a decided pass the upper bound within it; in between the check
passes undecided and says how much more data would decide."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import tunesmith as ts
from tunesmith.discipline import slice_metrics
from tunesmith.discipline._drops import shifted_check
from tunesmith.discipline.gap import Noise, gap_test, noise_of
from tunesmith.objective import normalise_result

ACC = ts.Metric("acc", "max")
SPACE = ts.Space({"config": ts.Choice(["only"])})
Evaluate = Callable[[dict[str, Any], int], dict[str, Any]]


def correct(right: int, n: int) -> np.ndarray:
    """Per-example results: ``right`` of ``n`` examples right."""
    return (np.arange(n) < right).astype(float)


def returning(result: dict[str, Any]) -> Evaluate:
    return lambda params, seed: result


def finalized(holdout: dict[str, Any], shifted: dict[str, Any] | None = None) -> ts.discipline.Verdict:
    """The verdict on a one-trial search (0.90 on 200 validation examples) with these evaluations."""
    study = ts.Study(SPACE, metric=ACC, sampler="grid", budget=ts.Budget(trials=1), storage="memory", seed=3)
    study.optimize(lambda trial: {"acc": correct(180, 200)})
    return ts.finalize(study, returning(holdout), shifted=None if shifted is None else returning(shifted))


def shifted_drop(holdout_right: int, shifted_right: int, n: int = 1000) -> ts.discipline.Check:
    return finalized({"holdout_acc": correct(holdout_right, n)}, {"holdout_acc": correct(shifted_right, n)}).check(
        "shifted data"
    )


def measured(values: np.ndarray) -> tuple[float, Noise]:
    """The mean of per-example values and its noise, as the library reads an objective's result."""
    result = normalise_result({"acc": values}, ACC)
    noise = noise_of(result, "acc")
    assert noise is not None
    return result["acc"], noise


def test_a_shifted_drop_beyond_the_limit_but_within_noise_of_it_passes_undecided() -> None:
    check = shifted_drop(850, 795)  # 5.5 points +- 1.7 against 5: clears zero, not the limit
    assert check.passed and not check.decided and check.status == "undecided"
    assert "beyond the limit but within noise of it" in check.detail
    assert "x the examples would decide" in check.detail


def test_a_shifted_drop_within_the_limit_whose_upper_bound_is_beyond_it_passes_undecided() -> None:
    check = shifted_drop(850, 820)  # 3 points +- 1.7: its upper bound, 5.8 points, is beyond the limit
    assert check.passed and not check.decided
    assert "within the limit but within noise of it" in check.detail


def test_a_shifted_drop_whose_upper_bound_is_within_the_limit_passes_decided_and_says_so() -> None:
    check = shifted_drop(850, 840)
    assert check.passed and check.decided and "within the limit, and so is its upper bound +3.7 points" in check.detail


def test_a_shifted_drop_whose_lower_bound_is_beyond_the_limit_fails_and_states_the_bound() -> None:
    check = shifted_drop(850, 700)
    assert not check.passed and check.decided
    assert "beyond the limit and beyond noise (its lower bound +12.0 points is beyond the limit)" in check.detail


def test_a_shifted_drop_at_the_limit_says_more_data_cannot_decide_it_soon() -> None:
    check = shifted_drop(850, 800)
    assert check.passed and not check.decided
    assert "too close to the limit for more of the examples to decide it soon" in check.detail


def test_a_shifted_drop_exactly_at_the_limit_fails_at_most_one_study_in_twenty() -> None:
    rng = np.random.default_rng(5)
    failed = 0
    for _ in range(2000):
        holdout, holdout_noise = measured(rng.random(1000) < 0.85)
        shifted, shifted_noise = measured(rng.random(1000) < 0.80)
        failed += not shifted_check(ACC, holdout, holdout_noise, shifted, shifted_noise, 0.05).passed
    assert failed / 2000 <= 0.065, f"{failed / 2000:.1%} failed at the limit (tested against zero: about half)"


def test_a_drop_with_unknown_noise_beyond_the_limit_says_whether_it_exceeds_the_limit_cannot_be_told() -> None:
    check = finalized({"holdout_acc": correct(850, 1000), "shifted:holdout_acc": 0.70}).check("shifted data")
    assert check.passed and not check.decided
    assert "whether the drop exceeds the limit by more than sampling noise cannot be told" in check.detail


def test_a_gap_beyond_the_limit_but_within_noise_of_it_is_not_flagged() -> None:
    test = gap_test(ACC, 0.90, 0.865, validation_noise=Noise(0.01, "1000 examples"),
                    holdout_noise=Noise(0.01, "1000 examples"), threshold=0.02, points=True)  # fmt: skip
    assert not test.flagged and not test.decided  # 3.5 points +- 1.4: its lower bound, 1.2, is within 2
    assert "beyond the limit but within noise of it (95% bounds +1.2 points to +5.8 points)" in test.detail


def test_a_gap_within_the_limit_whose_upper_bound_is_beyond_it_is_undecided() -> None:
    test = gap_test(ACC, 0.90, 0.885, validation_noise=Noise(0.01, "1000 examples"),
                    holdout_noise=Noise(0.01, "1000 examples"), threshold=0.02, points=True)  # fmt: skip
    assert not test.flagged and not test.decided
    assert "within the limit but within noise of it" in test.detail
    assert "x the validation and holdout examples would decide" in test.detail


def test_a_flagged_gap_states_its_lower_bound_beyond_the_limit() -> None:
    test = gap_test(ACC, 0.90, 0.80, validation_noise=Noise(0.01, "1000 examples"),
                    holdout_noise=Noise(0.01, "1000 examples"), threshold=0.02, points=True)  # fmt: skip
    assert test.flagged and test.decided
    assert "its 95% lower bound +7.7 points is beyond the limit" in test.detail


def test_the_gap_beyond_what_selection_explains_is_judged_against_the_limit() -> None:
    test = gap_test(ACC, 0.90, 0.85, validation_noise=Noise(0.01, "1000 examples"),
                    holdout_noise=Noise(0.01, "1000 examples"), threshold=0.02, points=True, selection=0.02,
                    compared=20)  # fmt: skip
    assert test.expected == 0.02
    assert not test.flagged and not test.decided  # 3 points beyond selection +- 1.4: not beyond 2 beyond noise
    assert "+3.0 points beyond it" in test.detail


def test_a_gap_exactly_at_the_limit_is_flagged_at_most_one_study_in_twenty() -> None:
    rng = np.random.default_rng(6)
    flagged = 0
    for _ in range(2000):
        validation, validation_noise = measured(rng.random(1000) < 0.85)
        holdout, holdout_noise = measured(rng.random(1000) < 0.83)
        flagged += gap_test(ACC, validation, holdout, validation_noise=validation_noise, holdout_noise=holdout_noise,
                            threshold=0.02, points=True).flagged  # fmt: skip
    assert flagged / 2000 <= 0.065, f"{flagged / 2000:.1%} flagged at the limit (tested against zero: about half)"


def test_a_slice_beyond_the_limit_but_within_noise_of_it_is_not_a_collapse() -> None:
    slices = {"day": correct(360, 400), "dusk": correct(360, 400), "night": correct(288, 400)}  # night 12 below
    verdict = finalized({"holdout_acc": np.concatenate(list(slices.values())), **slice_metrics("holdout_acc", slices)})
    worst = verdict.check("worst slice")
    assert worst.passed and not worst.decided and "slice 'night'" in worst.detail
    assert "beyond the limit but within noise of it" in worst.detail


def test_a_noisy_slice_above_the_lowest_keeps_the_worst_slice_check_undecided() -> None:
    # dusk, the lowest, is 4.4 points below the average, its upper bound (9.5) within the 10-point limit; night is
    # 1.1 points below it, but on 30 examples its upper bound is 10.9 points, beyond the limit.
    slices = {"day": correct(3600, 4000), "dusk": correct(3200, 4000), "night": correct(25, 30)}
    verdict = finalized({"holdout_acc": np.concatenate(list(slices.values())), **slice_metrics("holdout_acc", slices)})
    worst = verdict.check("worst slice")
    assert worst.passed and not worst.decided and "slice 'night'" in worst.detail


def test_slices_as_means_beyond_the_limit_say_whether_the_drop_exceeds_it_cannot_be_told() -> None:
    verdict = finalized({"holdout_acc": correct(850, 1000), **slice_metrics("holdout_acc", {"day": 0.9, "night": 0.6})})
    worst = verdict.check("worst slice")
    assert worst.passed and not worst.decided
    assert "whether the drop exceeds the limit by more than sampling noise cannot be told" in worst.detail


def test_a_drop_both_models_share_is_the_shift_only_when_both_lower_bounds_are_beyond_the_limit() -> None:
    study = ts.Study(SPACE, metric=ACC, sampler="grid", budget=ts.Budget(trials=1), storage="memory", seed=3,
                     baseline={"config": "default"})  # fmt: skip
    study.optimize(lambda trial: {"acc": correct(180, 200)})

    def scoring(right: dict[str, int]) -> Evaluate:
        return lambda params, seed: {"holdout_acc": correct(right[params["config"]], 1000)}

    # both lose 6 points +- 1.7 against the 5-point limit: beyond it, but not beyond noise of it
    verdict = ts.finalize(study, scoring({"only": 850, "default": 800}), shifted=scoring({"only": 790, "default": 740}))
    check = verdict.check("shifted data")
    assert check.passed and "the gain holds under the shift" in check.detail
    assert "the winner loses 6.0 points" in check.detail and "the shift itself" not in check.detail
