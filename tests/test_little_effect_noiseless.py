"""On a metric without noise the planted test's residuals are all 0 (`_noise_scale`): its 19 data sets were then one
and the same, and p (0.05 or 1) rested on a single forest's read. At an effect of exactly 5% of the variance
(loss = 3a + 0.688b, no noise, 80 TPE trials) that read fell below the trials' own in 7 of 20 studies, each told
"b has little effect"; each data set now refits the noiseless planted metric on its own bootstrap of the trials."""

from __future__ import annotations

import math

import pytest

import tunesmith as ts
from tunesmith.analysis import ImportanceResult, importance
from tunesmith.analysis.importance import ALPHA

SPACE = ts.Space({"a": ts.Float(0.0, 1.0), "b": ts.Float(0.0, 1.0), "c": ts.Float(0.0, 1.0)})
# Under the uniform measure 3a holds a variance of 0.75 and k b one of k² / 12: 5% of the whole at this k.
AT_FIVE_PERCENT = math.sqrt(12 * 0.75 * 0.05 / 0.95)


@pytest.fixture(scope="module")
def noiseless_at_the_boundary() -> ImportanceResult:
    """Study 29 of the measurement: one planted forest read b above the trials' share, so p was 0.05."""
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=80), storage="memory", seed=29, sampler="tpe")
    study.optimize(lambda t: {"loss": 3 * t.params["a"] + AT_FIVE_PERCENT * t.params["b"]})
    return importance(study.trials, SPACE, "loss")


def test_an_effect_of_exactly_the_tested_share_without_noise_is_not_ruled_out_on_one_forests_read(
    noiseless_at_the_boundary: ImportanceResult,
) -> None:
    p_value = noiseless_at_the_boundary.planted_p("b", 0.05)
    assert p_value is not None and ALPHA < p_value < 1.0, p_value
