"""The baseline margin's advice names what would clear every bar above the gain: more seeds lower the paired t-test's
bar, more examples the sampling bar, pairing the seeds a bar of one seed standard deviation, and a gain a tenth of a
standard error from zero is within noise."""

from __future__ import annotations

from typing import Any

import numpy as np

import tunesmith as ts
from tunesmith.discipline._reruns import seed_list

CONFIGS = ts.Space({"config": ts.Choice(["a", "b"])})
SEEDS = seed_list(0, 3)  # the seeds validate_top(seeds=3) runs on for a study with seed=0


def correct(hits: int, n: int) -> np.ndarray:
    """``hits`` correct answers out of ``n`` (per-example results)."""
    return np.arange(n) < hits


def paired_margin(winner_hits: tuple[int, int, int], baseline_hits: int, examples: int) -> ts.Check:
    """The margin of "a" against the baseline "b" re-run on three paired seeds, "a" scoring ``winner_hits`` on
    them (and their first in the search), "b" ``baseline_hits`` on every seed, out of ``examples``."""

    def objective(trial: ts.Trial) -> dict[str, Any]:
        if trial.params["config"] == "b":
            return {"acc": correct(baseline_hits, examples)}
        hits = dict(zip(SEEDS, winner_hits, strict=True)).get(trial.seed, winner_hits[0])
        return {"acc": correct(hits, examples)}

    # One trial, "a": nothing was selected on the validation examples, so no selection optimism is taken back.
    study = ts.Study(CONFIGS, metric=ts.Metric("acc", "max"), sampler="grid", budget=ts.Budget(trials=1),
                     storage="memory", seed=0, baseline={"config": "b"})  # fmt: skip
    study.enqueue({"config": "a"})
    study.optimize(objective, progress=False)
    assert [t.params["config"] for t in study.trials] == ["a"]
    ts.validate_top(study, objective, k=1, seeds=3, progress=False)
    verdict = ts.finalize(study, lambda params, seed: {"holdout_acc": correct(baseline_hits, examples)})
    return verdict.check("baseline margin")


def test_a_gain_below_the_paired_bars_names_how_many_paired_seeds_would_decide() -> None:
    # Seed by seed the winner gains 1, 2 and 0 of 160 examples: 0.00625 +- 0.0036, against a t-test's bar of 0.0105.
    # Both models keep their per-example values, so the sampling bar reads the paired per-example differences, and
    # the gain must clear the two bars combined (the seed-by-example noise counted once): more seeds lower that,
    # while the examples' own part already lies below the gain.
    margin = paired_margin((141, 142, 140), 140, examples=160)
    assert not margin.passed and not margin.decided
    assert "(1.64 standard errors of the per-example differences, paired over 160 examples on 3 seeds)" in margin.detail
    assert ("about 28 paired seeds for both (now 3) would decide, bringing the bar (0.0121) below the gain; the "
            "examples' own part (0.00592) is below the gain already") in margin.detail  # fmt: skip


def test_a_paired_gain_a_tenth_of_a_standard_error_from_zero_is_within_noise() -> None:
    margin = paired_margin((865, 856, 860), 860, examples=1000)  # gains 5, -4 and 0 of 1000: 0.00033 +- 0.0026
    assert not margin.passed and not margin.decided
    assert "the gain itself is within noise: 0.000333 is a tenth of a standard error or less" in margin.detail


def test_a_gain_below_one_seed_standard_deviation_unpaired_names_pairing_not_more_seeds() -> None:
    baseline = dict(zip(seed_list(0, 5), (0.75, 0.85, 0.80, 0.74, 0.86), strict=True))  # mean 0.80, std 0.055
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric=ts.Metric("acc", "max"), budget=ts.Budget(trials=1),
                     storage="memory", seed=0, baseline={"x": 0.5})  # fmt: skip
    study.optimize(lambda trial: {"acc": 0.84}, progress=False)  # one number: its sampling noise unknown
    ts.evaluate_baseline(study, lambda trial: {"acc": baseline[trial.seed]}, progress=False)
    margin = ts.finalize(study, lambda params, seed: {"holdout_acc": 0.84}).check("baseline margin")
    assert not margin.passed and not margin.decided
    assert ("one seed standard deviation (0.0552), which more seeds do not lower, lies above the gain: the winner and "
            "the baseline run on the same seeds would be compared seed by seed") in margin.detail
    assert margin.detail.endswith("(ts.validate_top(study, objective) re-runs the winner on the baseline's seeds)")
