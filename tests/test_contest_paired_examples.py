"""validate_top's contest reads the validation examples' noise from the two candidates' per-example values paired
example by example, as the baseline margin does, when both returned them on every paired seed: on one validation set
two models err on mostly the same examples, so their difference is far less noisy than either score.

Read from the winner's own standard error instead, a winner right on 12 more of 300 examples on every seed (a gain
of 4 points) was "within noise" of the runner-up, and the summary asked for about 1.3x the validation examples;
and two unrelated models, level in truth, were told apart by more than the noise of their difference allows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import tunesmith as ts
from tunesmith.discipline._reruns import seed_list
from tunesmith.discipline.seeds import Contest, Rival, SeedReport, Standing

EXAMPLES = 300
SEEDS = seed_list(0, 5)  # the fresh seeds validate_top gives a study of seed 0, seeds=5
CHOICES = ts.Space({"c": ts.Choice(["a", "b"])})


def validated(objective: Any) -> SeedReport:
    """A grid over ``c`` (the search ranks "a" first), re-run on 5 seeds."""
    study = ts.Study(CHOICES, metric=ts.Metric("acc", "max"), sampler="grid", budget=ts.Budget(trials=2),
                     storage="memory", name="paired", seed=0)  # fmt: skip
    study.optimize(objective)
    return ts.validate_top(study, objective, k=2, seeds=5, confirm=0)


def correlated(trial: ts.Trial) -> dict[str, Any]:
    """Both models right on the same 228 examples, "a" on 12 more; a seed flips 6 examples for both."""
    correct = np.zeros(EXAMPLES)
    correct[:228] = 1.0
    if trial.params["c"] == "a":
        correct[228:240] = 1.0
    flipped = np.random.default_rng(trial.seed).choice(np.arange(240, EXAMPLES), 6, replace=False)
    correct[flipped] = 1.0
    return {"acc": correct}


def contested(objective: Any, ahead: int) -> tuple[SeedReport, Contest, Rival]:
    """The re-runs of ``objective``, their contest and its rival, "b": "a" wins, ``ahead`` examples better."""
    report = validated(objective)
    contest = report.contest
    assert contest is not None and report.winner is not None and report.winner.trial == 0
    rival = contest.rival(1)
    assert rival is not None and abs(rival.gain - ahead / EXAMPLES) < 1e-12
    return report, contest, rival


def test_a_winner_right_on_more_examples_on_every_seed_is_told_apart_beyond_the_noise_of_the_difference() -> None:
    report, contest, rival = contested(correlated, 12)
    # The difference's noise: 12 of 300 examples differ, so about 0.011 a standard error, against 0.023 for a score
    # of 0.8 on 300 examples alone (0.045 at the contest's level, above the gain).
    assert rival.beaten and contest.standing is Standing.BEYOND_NOISE, contest.describe("acc")
    assert rival.examples is not None and rival.examples.stderr < 0.012
    assert "the winner beats #1 beyond noise" in report.summary(), report.summary()


def unrelated(trial: ts.Trial) -> dict[str, Any]:
    """Two models about 80% right, each on its own examples: their errors do not correlate, so their difference is
    noisier than either score; "a" happens to be right on 14 more of them, the same on every seed."""
    rng = np.random.default_rng(1 if trial.params["c"] == "a" else 2)
    correct = (rng.random(EXAMPLES) < 0.8).astype(float)
    right = int(correct.sum())
    target = 247 if trial.params["c"] == "a" else 233
    order = rng.permutation(EXAMPLES)
    if right < target:
        correct[[i for i in order if correct[i] == 0][: target - right]] = 1.0
    else:
        correct[[i for i in order if correct[i] == 1][: right - target]] = 0.0
    return {"acc": correct}


def test_unrelated_models_are_not_told_apart_on_a_gain_within_the_noise_of_their_difference() -> None:
    _, contest, rival = contested(unrelated, 14)
    # Unpaired, the difference of two 80% scores on 300 examples has a standard error about 0.033: 14 examples
    # (0.047) are within its bar, though beyond the winner's own standard error at the contest's level (0.039).
    assert not rival.beaten and contest.standing is Standing.WITHIN_NOISE, contest.describe("acc")
    assert rival.examples is not None and rival.examples.stderr > 0.03
    described = contest.describe("acc")
    assert "validation examples" in described, described
