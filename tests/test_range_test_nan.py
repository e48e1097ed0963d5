"""The LR range test reads a non-finite loss as divergence only when the loss had stopped falling before it: one bad
batch while the loss still falls ends the test without a suggestion, never with one read from the truncated curve.

The curve is SGD on a quadratic ``sum(L_i / 2 * x_i**2)`` with curvatures up to 4, stable for rates below 0.5, with a
little Gaussian noise on each loss and one non-finite loss at step 60 (lr 0.038), where the loss still falls fast.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from tunesmith.lr import RangeTestError, range_test

CURVATURES = np.linspace(0.1, 4.0, 20)
BAD_STEP = 60


def sgd_step_with_one_bad_loss(bad_loss: float, seed: int = 0) -> Callable[[float], float]:
    """``step(lr)``: one SGD step at ``lr``, then the loss (plus noise), except ``bad_loss`` at step `BAD_STEP`."""
    rng = np.random.default_rng(seed)
    x = np.ones_like(CURVATURES)
    taken = 0

    def step(lr: float) -> float:
        nonlocal taken
        taken += 1
        x[:] = x - lr * CURVATURES * x
        loss = 0.5 * float(np.sum(CURVATURES * x * x)) + 0.01 * float(rng.standard_normal())
        return bad_loss if taken == BAD_STEP else loss

    return step


@pytest.mark.parametrize("bad_loss", [math.nan, math.inf])
def test_a_non_finite_loss_while_the_loss_still_falls_gives_no_suggestion(bad_loss: float) -> None:
    result = range_test(sgd_step_with_one_bad_loss(bad_loss), min_lr=1e-5, max_lr=10, num_steps=100)
    assert result.stop_reason == "non-finite loss" and len(result.lrs) == BAD_STEP - 1
    message = rf"the loss went non-finite \({bad_loss}\) at lr=0\.0376 while still falling"
    with pytest.raises(RangeTestError, match=message) as refused:
        _ = result.suggested_lr
    assert "check the data and the loss for NaN or inf" in str(refused.value)
    with pytest.raises(RangeTestError, match=message):
        _ = result.suggested_range  # it was a zero-width range at the last finite rate
