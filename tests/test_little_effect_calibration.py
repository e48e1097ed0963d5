"""The advice "b has little effect (under 5% of the variance at 95%): fix it" holds at its 95%. A forest's fANOVA
share of a secondary effect is biased low on few trials, and on trials TPE crowded near its optimum: b, a tenth of the
variance (loss = 3a + b + noise), read 1-3%, and both bounds that guarded the claim (over trees, and what a forest
without b fails to predict) carry that bias. The claim was made in 9 of 30 TPE studies of 80 trials and 15 of 100
random studies of 30; it now also needs data planted with a 5% effect of b to read a larger share than the trials."""

from __future__ import annotations

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.analysis import ImportanceResult, importance
from tunesmith.analysis._advice import budget_advice
from tunesmith.analysis.importance import ALPHA

SPACE = ts.Space({"a": ts.Float(0.0, 1.0), "b": ts.Float(0.0, 1.0), "c": ts.Float(0.0, 1.0)})


def _study(seed: int, trials: int, sampler: str, b_effect: float) -> ts.Study:
    """loss = 3a + ``b_effect`` b + N(0, 0.1); c does nothing. Under the uniform measure 3a holds a variance of 0.75
    and b of 0.083 at ``b_effect`` 1: a tenth of the whole."""
    rng = np.random.default_rng(1000 + seed)
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=trials), storage="memory", seed=seed,
                     sampler=sampler)  # fmt: skip
    study.optimize(lambda t: {"loss": 3 * t.params["a"] + b_effect * t.params["b"] + float(rng.normal(0, 0.1))})
    return study


def _told_to_fix(study: ts.Study, name: str) -> bool:
    advice = budget_advice(importance(study.trials, SPACE, "loss"), study.trials, study.metric)
    named = [s.text.split(" little effect")[0] for s in advice if " little effect" in s.text]  # "b has", "c (1%), b"
    return any(head == f"{name} has" or f"{name} (" in head for head in named)


@pytest.fixture(scope="module")
def underrated() -> ImportanceResult:
    """30 random trials in which b's share reads 0.6% (at most 2% over trees) and a forest without b loses 2%."""
    study = _study(11, 30, "random", b_effect=1.0)
    return importance(study.trials, SPACE, "loss")


def test_a_tenth_of_the_variance_that_the_forest_reads_under_five_percent_is_not_ruled_out(
    underrated: ImportanceResult,
) -> None:
    share = underrated.of("b")
    lost = underrated.dropped("b")
    assert float(np.quantile(share.trees, 0.95)) < 0.05 and lost is not None and lost[0] + 1.645 * lost[1] < 0.05
    p_value = underrated.planted_p("b", 0.05)
    assert p_value is not None and p_value > ALPHA, p_value


def test_a_parameter_without_effect_is_ruled_out_against_a_planted_five_percent(underrated: ImportanceResult) -> None:
    p_value = underrated.planted_p("c", 0.05)
    assert p_value is not None and p_value <= ALPHA, p_value


@pytest.mark.slow
@pytest.mark.parametrize(("sampler", "trials", "studies"), [("tpe", 80, 10), ("random", 30, 16)])
def test_a_tenth_of_the_variance_is_not_called_little_effect(sampler: str, trials: int, studies: int) -> None:
    """Told "fix b" in 4 of these 10 TPE studies and 3 of these 16 random ones; at most 5% of studies may be."""
    told = sum(_told_to_fix(_study(seed, trials, sampler, b_effect=1.0), "b") for seed in range(studies))
    assert told <= 1, f"told to fix b (10% of the variance) in {told} of {studies} {sampler} studies of {trials} trials"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sampler", "trials", "studies", "least"), [("tpe", 80, 10, 6), ("random", 30, 20, 5)], ids=["tpe-80", "random-30"]
)
def test_a_parameter_without_effect_is_still_often_named_for_fixing(
    sampler: str, trials: int, studies: int, least: int
) -> None:
    """With b doing nothing too, c was named in 28 of 30 TPE studies of 80 trials and 49 of 60 random ones of 30.
    On the trials' ranks (`importance._ranks`) it is named in 17 of 20 TPE studies (15 on the values) and in 73 of
    150 random ones (49%, 95% interval 40-57%; 86 of the same 150 on the values: a paired loss of 9 points, 95%
    interval -0.2 to 17.5, that these studies cannot tell from none). At least 5 of 20 random studies fails by chance
    in 0.8% of draws at 49%, 4.7% at 40%, and catches a fall to 15% in 83% of draws."""
    told = sum(_told_to_fix(_study(seed, trials, sampler, b_effect=0.0), "c") for seed in range(studies))
    assert told >= least, f"told to fix c (no effect) in only {told} of {studies} {sampler} studies of {trials} trials"
