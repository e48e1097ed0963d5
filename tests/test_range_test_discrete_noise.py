"""The LR range test on a discrete loss (a mini-batch error rate, a loss logged to 2 decimals).

Most step-to-step differences of such a loss tie, so their median absolute deviation is 0 whatever the noise.
Its noise must still be read, or any fall of pure noise passes as a fall.
"""

from __future__ import annotations

import numpy as np
import pytest

from tunesmith.lr import RangeTestError, range_test


@pytest.mark.parametrize("seed", [5, 10, 16])
def test_a_mini_batch_error_rate_that_is_noise_gives_no_suggestion(seed: int) -> None:
    # The error rate on 8 examples of a model that does not learn: 0, 1/8 or 2/8 at almost every step.
    rng = np.random.default_rng(seed)
    result = range_test(lambda lr: rng.binomial(8, 0.1) / 8, min_lr=1e-6, max_lr=1.0, num_steps=100)
    with pytest.raises(RangeTestError, match="the loss never clearly fell"):
        _ = result.suggested_lr


@pytest.mark.parametrize("seed", [2, 7, 14])
def test_a_loss_logged_to_two_decimals_that_is_noise_gives_no_suggestion(seed: int) -> None:
    # A loss of 2.30 with noise 0.004 logged to 2 decimals: 2.29, 2.30 or 2.31, and 2.30 four times in five.
    rng = np.random.default_rng(seed)
    result = range_test(lambda lr: round(2.3 + 0.004 * rng.normal(), 2), min_lr=1e-6, max_lr=1.0, num_steps=100)
    with pytest.raises(RangeTestError, match="the loss never clearly fell"):
        _ = result.suggested_lr


def test_step_noise_of_a_loss_logged_to_two_decimals_is_its_spread() -> None:
    rng = np.random.default_rng(0)
    result = range_test(lambda lr: round(2.3 + 0.004 * rng.normal(), 2), min_lr=1e-6, max_lr=1e-5, num_steps=200)
    spread = float(np.std(result.losses, ddof=1))  # the loss ignores lr: its spread is its noise
    assert 0.8 * spread < result.step_noise() < 1.25 * spread


def test_a_loss_that_moves_in_too_few_steps_to_read_its_noise_gives_no_suggestion() -> None:
    # Logged to 2 decimals, the loss moved in one step of the 40 before its lowest point: one move is no
    # measure of noise, and the fall it made is no evidence of learning.
    losses = iter([2.30] * 40 + [2.29] * 3 + [2.30] * 57)
    result = range_test(lambda lr: next(losses), min_lr=1e-6, max_lr=1.0, num_steps=100)
    with pytest.raises(
        RangeTestError,
        match=r"noise cannot be estimated: .* only 1 of its 40 step-to-step changes .* loss at full precision",
    ):
        _ = result.suggested_lr
