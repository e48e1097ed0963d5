"""Importance is stated and ranked only when the forest predicts the metric beyond chance: on pure noise a forest's
out-of-bag R² came out above 0 in 12% of studies of 10 trials, and the summary then ranked the parameters and said
they "predict 40% of the variation"."""

from __future__ import annotations

import re

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.report._data import Findings, ReportData, analyse
from tunesmith.trial import TrialRecord, TrialState

SPACE = ts.Space({"a": ts.Float(0.0, 1.0), "b": ts.Float(0.0, 1.0), "c": ts.Choice(["x", "y"])})


def _findings(trials: int, effect: float, seed: int) -> Findings:
    """The analyses of ``trials`` random configurations whose loss is ``effect * a`` plus unit noise."""
    rng = np.random.default_rng(seed)
    records = []
    for number in range(trials):
        params = SPACE.sample(rng)
        loss = effect * params["a"] + float(rng.normal())
        records.append(TrialRecord(number, params, number, TrialState.COMPLETE, {"loss": loss}))
    return analyse(ReportData("noise", SPACE, ts.Metric("loss"), tuple(records)))


@pytest.mark.slow
def test_importance_of_pure_noise_is_stated_in_few_studies() -> None:
    """A test at 5% states it in about 2 of 40 studies; 4 allows for chance."""
    stated = [seed for seed in range(40) if _findings(10, 0.0, seed).importance is not None]
    assert len(stated) <= 4, f"importance of pure noise stated in {len(stated)} of 40 studies: seeds {stated}"


def test_pure_noise_gets_a_note_that_the_trials_do_not_yet_show_which_parameters_matter() -> None:
    found = _findings(10, 0.0, seed=3)
    assert found.importance is None
    note = found.importance_note or ""
    assert note.startswith("the trials do not yet show which parameters matter: "), note
    assert re.search(r"\b\d+ more\b", note), note  # about how many more trials would show an effect


def test_a_real_effect_is_stated_with_how_often_chance_predicts_as_well() -> None:
    found = _findings(40, 4.0, seed=0)
    assert found.importance is not None and found.importance.ranking()[0] == "a", found.importance_note
    assert "that chance alone predicts as well" in (found.importance_note or ""), found.importance_note


@pytest.mark.slow  # ten studies
def test_how_many_more_trials_an_effect_needs_is_said_as_a_floor() -> None:
    """Said as "about N more trials would show an effect as large as this one", it came true 5-20% of the time in
    studies continued by N trials (a forest's reading of a small effect grows slower than the projection): it is
    said as a floor."""
    notes = [note for seed in range(10) if (note := _findings(20, 1.5, seed).importance_note)]
    counted = [note for note in notes if re.search(r"\b\d+ more trials\b", note)]
    assert counted, notes
    assert all(re.search(r"at least \d+ more trials, likely more, would be needed", note) for note in counted), counted
