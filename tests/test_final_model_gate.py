"""The final-value model replaces the raw rung ranking only when its gain is beyond chance.

Each case is a rung of 14 trials stopped there and some trained to the end; the rung value is uniform on
[0.2, 0.6], one parameter x is uniform on [0, 1], and the final value is the rung value - 0.1, plus
``shift * (x - 0.5)``, plus noise of sd 0.1.
"""

from __future__ import annotations

import math

import numpy as np

from tunesmith.schedulers._final_model import predicted_finals
from tunesmith.trial import TrialRecord, TrialState

LEVEL = 0.05  # the level the gate is documented to hold


def rung(rng: np.random.Generator, trained: int, shift: float) -> list[tuple[float, TrialRecord]]:
    scored = []
    for n in range(trained + 14):
        loss, x = float(rng.uniform(0.2, 0.6)), float(rng.uniform())
        curve = {3: {"loss": loss}}
        if n < trained:
            curve[9] = {"loss": loss - 0.1 + shift * (x - 0.5) + float(rng.normal(0.0, 0.1))}
            record = TrialRecord(n, {"x": x}, n, TrialState.COMPLETE, intermediate=curve, resource=9.0)
        else:
            record = TrialRecord(n, {"x": x}, n, TrialState.STOPPED, intermediate=curve, resource=3.0)
        scored.append((loss, record))
    return scored


def engaged(cases: int, trained: int, shift: float) -> float:
    """The share of ``cases`` rungs at which the model replaced the raw ranking."""
    rng = np.random.default_rng(0)
    return sum(predicted_finals(rung(rng, trained, shift), "loss", 1.0, 9.0) is not None for _ in range(cases)) / cases


def test_a_parameter_that_says_nothing_beyond_the_rung_value_rarely_engages_the_model() -> None:
    # With 6 trained trials a fixed margin of 0.05 Spearman engaged the model at 10% of these rungs.
    cases = 1000
    allowed = LEVEL + 2 * math.sqrt(LEVEL * (1 - LEVEL) / cases)  # the level, plus two standard errors of the count
    share = engaged(cases, trained=6, shift=0.0)
    assert share <= allowed, f"the model engaged at {share:.1%} of rungs where x is irrelevant (at most {allowed:.1%})"


def test_a_small_gain_that_many_trained_trials_establish_engages_the_model() -> None:
    # x moves the final value by a little over half the rung value's spread: with 60 trained trials the gain in rank
    # correlation is small but clear, and the fixed margin of 0.05 missed it at 36% of these rungs.
    share = engaged(200, trained=60, shift=0.2)
    assert share >= 0.9, f"the model engaged at only {share:.1%} of rungs where x shifts the final value"
