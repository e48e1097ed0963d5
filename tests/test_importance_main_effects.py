"""Which parameters matter is decided per parameter (`ImportanceResult.matters`), each main effect tested on its own
with Holm's correction. Before, only the forest's out-of-bag R² was tested, for all parameters at once, and a
parameter was named only when its share led the next one over the trees: on 40 random trials of five parameters,
one with a linear effect worth 30% of the variance, the forest showed importance in 18 studies of 40 and the
parameter was named in 7."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.analysis import ImportanceResult, importance
from tunesmith.analysis._advice import budget_advice
from tunesmith.analysis.importance import ALPHA, _main_effect_tests, _ranks
from tunesmith.trial import TrialRecord, TrialState

FIVE = ts.Space({name: ts.Float(0.0, 1.0) for name in "abcde"})
MIXED = ts.Space(
    {
        "lr": ts.Float(1e-4, 1.0, log=True),
        "width": ts.Int(1, 4),
        "optimizer": ts.Choice(["sgd", "adam", "rmsprop"]),
        "momentum": ts.Float(0.0, 0.99, when={"optimizer": "sgd"}),
        "dropout": ts.Float(0.0, 0.5),
    }
)
LOSS = ts.Metric("loss")


def _linear(share: float) -> Callable[[dict[str, Any]], float]:
    """A loss linear in ``a`` whose effect holds ``share`` of the variance of the loss with unit noise added."""
    slope = math.sqrt(12.0 * share / (1.0 - share))
    return lambda params: slope * (params["a"] - 0.5)


def _records(
    seed: int, trials: int, effect: Callable[[dict[str, Any]], float], space: ts.Space = FIVE
) -> list[TrialRecord]:
    """``trials`` random configurations of ``space`` whose loss is ``effect`` plus unit Gaussian noise."""
    rng = np.random.default_rng(seed)
    records = []
    for number in range(trials):
        params = space.sample(rng)
        loss = effect(params) + float(rng.normal())
        records.append(TrialRecord(number, params, number, TrialState.COMPLETE, {"loss": loss}))
    return records


def _result(
    seed: int, trials: int, effect: Callable[[dict[str, Any]], float], space: ts.Space = FIVE
) -> ImportanceResult:
    return importance(_records(seed, trials, effect, space), space, LOSS)


@pytest.fixture(scope="module")
def unshown() -> tuple[list[TrialRecord], ImportanceResult]:
    """A study (a: 30% of the variance) whose forest predicts none of the ranks out of bag, yet a's effect shows."""
    records = _records(10_007, 40, _linear(0.3))
    return records, importance(records, FIVE, LOSS)


def test_a_strong_effect_among_four_noise_parameters_is_found_and_the_noise_is_not() -> None:
    result = _result(0, 40, _linear(0.5))
    assert result.matters == ("a",), result.effects


def test_a_moderate_effect_the_forest_does_not_show_is_found(
    unshown: tuple[list[TrialRecord], ImportanceResult],
) -> None:
    _, result = unshown
    assert not result.shown, result.explained_note()
    assert result.matters == ("a",), result.effects


def test_the_note_names_the_main_effect_found_where_the_forest_shows_none(
    unshown: tuple[list[TrialRecord], ImportanceResult],
) -> None:
    _, result = unshown
    note = result.explained_note() or ""
    assert note.startswith("the main effect of a on the ranks of 'loss' is beyond chance (p = "), note
    assert "the forest's shares are not yet shown beyond chance" in note, note


def test_the_advice_says_the_effect_found_where_the_forest_shows_none(
    unshown: tuple[list[TrialRecord], ImportanceResult],
) -> None:
    records, result = unshown
    first = budget_advice(result, records, LOSS)[0]
    assert "a's main effect on loss's ranks is beyond chance" in first.text, first.text


def test_a_bowl_shaped_effect_is_found() -> None:
    """Best in the middle of the range: a line through it explains nothing."""
    result = _result(1, 40, lambda params: 12.0 * (params["a"] - 0.5) ** 2)
    assert result.matters == ("a",), result.effects


def test_an_option_that_does_better_is_found() -> None:
    result = _result(2, 40, lambda params: -1.5 * (params["optimizer"] == "adam"), MIXED)
    assert result.matters == ("optimizer",), result.effects


def test_a_parameter_that_never_varied_is_not_tested() -> None:
    records = [replace(record, params={**record.params, "e": 0.25}) for record in _records(3, 30, _linear(0.5))]
    result = importance(records, FIVE, LOSS)
    assert result.effect("e") is None
    assert {test.tested for test in result.effects} == {4}


def test_the_smallest_p_value_is_multiplied_by_the_parameters_tested() -> None:
    test = _result(4, 40, _linear(0.5)).effects[0]
    assert test.adjusted == pytest.approx(min(1.0, test.p_value * test.tested))


def _null_found(designs: int, trials: int, draw: Callable[[np.random.Generator], np.ndarray]) -> int:
    """In how many of ``designs`` pure-noise studies (configurations from ``draw``, in the order created) some
    parameter of MIXED is found."""
    dims = MIXED.dimensions
    options = [len(p.options) if isinstance(p := MIXED[name], ts.Choice) else None for name in dims]
    found = 0
    for seed in range(designs):
        rng = np.random.default_rng(seed)
        x = np.vstack([draw(rng) for _ in range(trials)])
        ranks = _ranks(rng.normal(size=trials), LOSS)
        found += any(test.found for test in _main_effect_tests(x, ranks, dims, options, seed))
    return found


def test_pure_noise_finds_a_parameter_in_at_most_alpha_of_random_studies() -> None:
    """5.2% of 24,000 such studies; 400 expect 20, and 30 or more come by chance in 1.9% of draws."""
    found = _null_found(400, 40, lambda rng: MIXED.encode(MIXED.sample(rng)))
    assert found < 30, f"some parameter found in {found} of 400 pure-noise studies at ALPHA {ALPHA}"


@pytest.mark.slow
def test_pure_noise_finds_a_parameter_in_at_most_alpha_of_studies_a_model_based_sampler_ran() -> None:
    """TPE draws later configurations near the luckiest earlier ones, so the configurations depend on the noise: a
    test that dealt the trials' own ranks to them found some parameter in 6.2% of 1,000 such studies of 40 trials
    (8.5% of 400 under the default sampler); ranks among the later trials hold it to 4.4% (5.0%). 100 studies
    expect 5, and 10 or more come by chance in 2.8% of draws."""
    found = 0
    for seed in range(100):
        study = ts.Study(FIVE, metric="loss", budget=ts.Budget(trials=40), storage="memory", sampler="tpe", seed=seed)
        study.optimize(lambda t: {"loss": float(np.random.default_rng(t.seed).normal())})
        x = np.vstack([FIVE.encode(r.params) for r in study.trials])
        ranks = _ranks(np.array([r.metrics["loss"] for r in study.trials]), LOSS)
        found += any(test.found for test in _main_effect_tests(x, ranks, FIVE.dimensions, [None] * 5, seed))
    assert found < 10, f"some parameter found in {found} of 100 pure-noise TPE studies"


@pytest.mark.slow
def test_a_planted_strong_effect_is_found_in_nearly_every_study_of_forty_trials() -> None:
    """A linear effect worth half the variance among four noise parameters, in 20 studies of 40 random trials: found
    in 18 (the forest showed importance with a ranked first in 16, and named it, leading the next share over the
    trees, in 12). A noise parameter was found in 2; Holm holds that to 5% of studies, and 4 or more of 20 come by
    chance in 1.6% of draws."""
    results = [_result(10_000 + seed, 40, _linear(0.5)) for seed in range(20)]
    found = sum("a" in result.matters for result in results)
    noise = sum(bool(set(result.matters) - {"a"}) for result in results)
    assert found >= 16, f"a found in {found} of 20 studies"
    assert noise <= 3, f"a noise parameter found in {noise} of 20 studies"
