"""Importance and budget advice under ASHA: read where enough trials were measured, say what selection did to them,
and count more trials in trials to run."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.analysis import importance
from tunesmith.analysis._advice import MIN_ADVICE_TRIALS, budget_advice
from tunesmith.executors import SimulatedExecutor
from tunesmith.fidelity import rung_view
from tunesmith.report import analyse, report_data

SPACE = ts.Space(
    {
        "lr": ts.Float(1e-4, 1e-1, log=True),
        "wd": ts.Float(1e-6, 1e-2, log=True),
        "width": ts.Int(16, 256, base=2),
    }
)


def lr_alone_matters(trial: ts.Trial) -> Iterator[tuple[float, dict[str, float]]]:
    """A curve whose level is set by the learning rate alone (best at 10**-2.5), plus a little noise."""
    rng = np.random.default_rng(trial.seed)
    distance = (math.log10(trial.params["lr"]) + 2.5) ** 2
    for step in range(trial.step, 50):
        yield 60.0, {"val_loss": 0.3 + 0.1 * distance + 1.0 / (step + 1) + rng.normal(0, 0.01)}


def asha_study(trials: int) -> ts.Study:
    study = ts.Study(SPACE, metric="val_loss", sampler="random", budget=ts.Budget(trials=trials), seed=0,
                     scheduler=ts.ASHA(min_resource=1, max_resource=50, eta=3), storage="memory")  # fmt: skip
    study.optimize(lr_alone_matters, executor=SimulatedExecutor(workers=1), progress=False)
    return study


@pytest.fixture(scope="module")
def study_of_120() -> ts.Study:
    return asha_study(120)


def reached(study: ts.Study, level: float) -> int:
    return sum(1 for r in study.trials if r.resource >= level)


def test_importance_is_read_at_the_highest_rung_that_the_trials_advice_needs_reached(study_of_120: ts.Study) -> None:
    assert reached(study_of_120, 3) >= MIN_ADVICE_TRIALS > reached(study_of_120, 9) >= 10
    note = analyse(report_data(study_of_120)).importance_note or ""
    assert (f"importance measured at resource 3 over the {reached(study_of_120, 3)} trials that reached it (of 120), "
            "the highest rung at least 30 trials reached") in note  # fmt: skip


def test_the_note_says_trials_above_the_first_rung_were_selected_on_the_metric(study_of_120: ts.Study) -> None:
    note = analyse(report_data(study_of_120)).importance_note or ""
    assert "a trial reaches it from a lower rung only by ranking high on 'val_loss' there" in note
    assert "the fewer trials at the higher rungs were selected further" in note


def test_with_no_higher_rung_holding_the_trials_advice_needs_importance_reads_every_trial_at_the_first_rung() -> None:
    study = asha_study(45)
    assert 10 <= reached(study, 3) < MIN_ADVICE_TRIALS, "the old rule read the survivors at rung 3"
    found = analyse(report_data(study))
    assert found.importance is not None, found.importance_note
    assert found.importance.n_trials == 45
    assert "measured at resource 1 over the 45 trials that reached it (of 45), the first rung" in (
        found.importance_note or ""
    )


def test_advice_withheld_for_too_few_trials_at_a_rung_counts_the_trials_to_run(study_of_120: ts.Study) -> None:
    from scipy.stats import binom

    data = report_data(study_of_120)
    level, view = rung_view(data.valid, data.metric, data.rungs, min_observations=10)
    result = importance(view, data.space, data.metric)
    measured, finished = result.n_trials, len(study_of_120.trials)
    assert level == 9 and measured < MIN_ADVICE_TRIALS and result.main[0].mean >= 0.2
    [advice] = budget_advice(result, study_of_120.trials, data.metric)
    missing = MIN_ADVICE_TRIALS - measured
    assert f"{missing} more must be measured, and {measured} of the {finished} trials finished were" in advice.text
    found = re.search(r"so about (\d+) more trials to run \(enough in 9 runs of 10 at that share\)", advice.text)
    assert found is not None, advice.text
    runs = int(found.group(1))
    share = measured / finished
    # The fewest trials that measure the missing ones in 9 runs of 10, each measured at the share so far.
    assert binom.sf(missing - 1, runs, share) >= 0.9 > binom.sf(missing - 1, runs - 1, share)


def test_a_selected_rung_that_shows_no_effect_points_to_the_unselected_trials_at_the_first_rung(
    study_of_120: ts.Study,
) -> None:
    found = analyse(report_data(study_of_120))
    assert found.importance is None, "lr barely varies among the trials that survived rung 1"
    note = found.importance_note or ""
    assert "the 120 trials at the first rung (resource 1), none selected yet, are where it would show" in note


def test_the_note_counts_trials_measured_at_the_rung_in_trials_to_run(study_of_120: ts.Study) -> None:
    note = analyse(report_data(study_of_120)).importance_note or ""
    assert "would be needed" in note, "the note asks for more trials measured at rung 3"
    share = 120 / reached(study_of_120, 3)
    said = f"a count of trials here counts trials measured at resource 3: each trial measured takes about {share:.2g} "
    assert said in note
