"""Without re-runs, the baseline margin reads the search's best as one run against the baseline's mean over its
seeds, the seed noise measured by the baseline's spread alone: a one-sided 5% test of the winner beating it."""

from __future__ import annotations

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.discipline._margin import baseline_check
from tunesmith.discipline._reruns import seed_list
from tunesmith.discipline.optimism import estimate_optimism
from tunesmith.trial import TrialRecord, TrialState

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})
METRIC = ts.Metric("acc", "max")


def scoring(values: dict[int, float]) -> ts.Objective:
    """An objective scoring ``values[seed]`` on each seed."""

    def objective(trial: ts.Trial) -> dict[str, float]:
        return {"acc": values[trial.seed]}

    return objective


def baseline_study(values: dict[int, float]) -> ts.Study:
    """A study of one trial with the baseline evaluated on the seeds of ``values``, each scoring its value."""
    study = ts.Study(SPACE, metric=METRIC, budget=ts.Budget(trials=1), storage="memory", seed=0, baseline={"x": 0.5})
    ts.evaluate_baseline(study, scoring(values), seeds=len(values), progress=False)
    return study


@pytest.mark.slow  # about 0.05 s a search: each reads the optimism in 400 simulated worlds
def test_a_search_of_configurations_no_better_than_the_baseline_passes_the_margin_in_about_5_percent() -> None:
    """400 searches of 20 configurations, every one and the baseline scoring 0.80 with seed noise 0.03 and the
    baseline run on five seeds: the margin is the search's best less the optimism read at the baseline's spread,
    as `finalize` gives it. One seed standard deviation as the bar passed about a quarter of them."""
    rng = np.random.default_rng(2024)
    seeds = seed_list(0, 5)
    study = baseline_study(dict.fromkeys(seeds, 0.8))
    searches, passed = 400, 0
    for _ in range(searches):
        baseline = dict(zip(seeds, 0.80 + 0.03 * rng.standard_normal(5), strict=True))
        ts.evaluate_baseline(study, scoring(baseline), progress=False)
        scores = 0.80 + 0.03 * rng.standard_normal(20)
        records = [TrialRecord(number=i, params={"x": i / 20}, seed=i, state=TrialState.COMPLETE,
                               metrics={"acc": float(score)}) for i, score in enumerate(scores)]  # fmt: skip
        spread = float(np.std(list(baseline.values()), ddof=1))
        optimism = estimate_optimism(records, METRIC, noise=spread)
        best = records[int(np.argmax(scores))]
        passed += baseline_check(study, best, None, optimism).passed
    assert 0.02 <= passed / searches <= 0.08, passed  # 5% +- 2.4 standard errors of 400 draws


def test_one_run_ahead_by_more_than_a_seed_deviation_but_within_its_bar_is_undecided_naming_baseline_seeds() -> None:
    """One configuration searched once, 0.11 above a baseline of mean 0.80 and seed standard deviation 0.055 on five
    seeds: the difference of one run and a mean of five has 1.1 standard deviations, read on 4 degrees of freedom,
    so beyond chance means above 2.34 of them (0.129), and nine baseline seeds would bring that below 0.11."""
    baseline = dict(zip(seed_list(0, 5), (0.75, 0.85, 0.80, 0.74, 0.86), strict=True))  # mean 0.80, std 0.0552
    study = baseline_study(baseline)
    study.optimize(lambda trial: {"acc": 0.91}, progress=False)
    margin = ts.finalize(study, lambda params, seed: {"holdout_acc": 0.91}, progress=False).check("baseline margin")
    assert not margin.passed and not margin.decided, margin.detail
    assert ("better by 0.11, seed noise 0.0552 (the baseline's over 5 seeds): one run against their mean is beyond "
            "chance above 0.129 (one-sided 5% on 4 degrees of freedom, Student's t)") in margin.detail  # fmt: skip
    assert ("about 9 baseline seeds (now 5; ts.evaluate_baseline(study, objective, seeds=9)) would decide, bringing "
            "the seed bar (0.129) below the gain") in margin.detail  # fmt: skip
