"""The baseline margin takes back the selection optimism its winner's score still holds: re-runs on fresh seeds
take back the seeds' luck in the pick, never the luck of the validation examples that picked it; without re-runs it
takes back what the holdout-gap check takes back from the same score; and a shortfall that shows only once an
estimated optimism is taken back is undecided, never a decided failure."""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.discipline._margin import _kept_share, baseline_check
from tunesmith.discipline._reruns import ExampleValues
from tunesmith.discipline.gap import Noise
from tunesmith.discipline.optimism import Optimism, chosen_flattery

EXAMPLES = 300


def examples(values: np.ndarray) -> ExampleValues:
    packed = ExampleValues.of(values)
    assert packed is not None
    return packed


def test_runs_that_repeat_the_same_answers_keep_all_of_the_selection_optimism() -> None:
    # A model that ignores its seed: every re-run scores the examples that picked it exactly as the search did.
    answers = np.random.default_rng(0).random(EXAMPLES) < 0.8
    assert _kept_share([examples(answers)] * 3, 0.0, None) == pytest.approx(1.0)


def test_runs_whose_answers_move_with_the_seed_keep_little_of_it() -> None:
    # Which examples it gets right is drawn afresh on every seed: nothing of the search's luck stays with it.
    rng = np.random.default_rng(1)
    runs = [examples(rng.random(EXAMPLES) < 0.8) for _ in range(5)]
    assert _kept_share(runs, 0.0, None) < 0.2


def test_half_fixed_half_seeded_answers_keep_about_half() -> None:
    rng = np.random.default_rng(2)
    fixed = rng.standard_normal(EXAMPLES)
    runs = [examples(fixed + rng.standard_normal(EXAMPLES) < 0.84 * np.sqrt(2)) for _ in range(8)]
    assert 0.3 < _kept_share(runs, 0.0, None) < 0.75


def test_without_per_example_runs_the_standard_error_stands_for_the_part_that_stays() -> None:
    winner = Noise(0.03, "300 examples", 300)
    assert _kept_share([None, None], 0.04, winner) == pytest.approx(0.03**2 / (0.03**2 + 0.04**2))
    assert _kept_share([None, None], 0.04, None) == 0.0  # plain scores: the optimism was the seeds' noise


def key(params: dict[str, Any]) -> int:
    return zlib.crc32(repr(sorted(params.items())).encode())


def deterministic_null(trial: ts.Trial) -> dict[str, Any]:
    """Every configuration is truly 80% accurate; which examples it gets right depends on it, never on the seed."""
    return {"acc": np.random.default_rng([key(trial.params), 1]).random(EXAMPLES) < 0.8}


def test_after_validate_top_a_winner_no_better_than_the_baseline_keeps_its_examples_luck_and_does_not_pass() -> None:
    # Study seed 0: the winner's confirmation runs repeat its search score, 0.0667 above the baseline on 300
    # examples, beyond the paired bar (0.0499); the pick among 30 on those same examples explains most of it.
    study = ts.Study(ts.Space({"a": ts.Float(0, 1), "b": ts.Float(0, 1)}), metric=ts.Metric("acc", "max"),
                     budget=ts.Budget(trials=30), storage="memory", seed=0, baseline={"a": 0.5, "b": 0.5},
                     sampler="random")  # fmt: skip
    study.optimize(deterministic_null, progress=False)
    ts.validate_top(study, deterministic_null, k=3, seeds=3, progress=False)
    verdict = ts.finalize(study, lambda params, seed: {"holdout_acc": 0.8}, progress=False)
    check = verdict.check("baseline margin")
    assert "less the selection optimism its validation examples keep" in check.detail, check.detail
    assert "on 3 paired seeds the winner gains 0.0667 +- 0 seed by seed, 0.0223 less" in check.detail, check.detail
    assert "sampling noise 0.0499" in check.detail, check.detail
    assert not check.passed, check.detail


def loss_study(scores: list[float], baseline: float, stderr: float) -> ts.Study:
    """A study whose trials scored ``scores`` (a loss, each with ``stderr``) and whose baseline scored ``baseline``
    on three seeds, a hair apart."""
    table = dict(enumerate(scores))
    space = ts.Space({"i": ts.Choice([*table, -1])})

    def objective(trial: ts.Trial) -> dict[str, float]:
        i = trial.params["i"]
        value = baseline + 1e-4 * (trial.seed % 3) if i == -1 else table[i]
        return {"loss": value, "stderr:loss": stderr, "count:loss": 300.0}

    study = ts.Study(space, metric=ts.Metric("loss", "min"), sampler="grid", budget=ts.Budget(trials=len(scores)),
                     storage="memory", seed=0, baseline={"i": -1})  # fmt: skip
    for i in table:
        study.enqueue({"i": i})
    study.optimize(objective, progress=False)
    ts.evaluate_baseline(study, objective, seeds=3, progress=False)
    return study


def test_without_re_runs_the_margin_takes_back_what_the_gap_check_does_at_most_the_lead_over_the_median() -> None:
    study = loss_study([0.50, 0.52, 0.53, 0.54, 0.55], baseline=0.51, stderr=0.01)
    best = study.best
    assert best is not None
    optimism = Optimism(compared=5, best=0.50, estimate=0.2, corrected=0.70, method="per-example noise", detail="")
    scores = [t.metrics["loss"] for t in study.trials]
    assert chosen_flattery(optimism, 0.50, scores, study.metric.sign()) == pytest.approx(0.03)  # the lead, not 0.2
    check = baseline_check(study, best, None, optimism)
    assert "(the search's 0.5 less its selection optimism 0.03)" in check.detail, check.detail


def test_a_shortfall_that_shows_only_once_the_estimated_optimism_is_taken_back_is_undecided() -> None:
    # The winner and the baseline score alike; taken back, an optimism of 0.08 puts the winner 0.08 behind, beyond
    # the bar (about 0.023), but the uncorrected gain's upper bound lies above zero.
    study = loss_study([0.50, 0.60, 0.61, 0.62, 0.63], baseline=0.50, stderr=0.01)
    best = study.best
    assert best is not None
    optimism = Optimism(compared=5, best=0.50, estimate=0.08, corrected=0.58, method="per-example noise", detail="")
    check = baseline_check(study, best, None, optimism)
    assert not check.passed and not check.decided, check.detail
    assert "at or below zero only once the selection optimism (0.08), itself an estimate, is taken back" in check.detail
    # A winner far behind the baseline before any correction still fails decided.
    behind = loss_study([0.60, 0.70, 0.71, 0.72, 0.73], baseline=0.50, stderr=0.01)
    assert behind.best is not None
    optimism = Optimism(compared=5, best=0.60, estimate=0.08, corrected=0.68, method="per-example noise", detail="")
    check = baseline_check(behind, behind.best, None, optimism)
    assert not check.passed and check.decided, check.detail
