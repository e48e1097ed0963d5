"""Trials whose metric was read from different numbers of validation examples were scored on different validation
sets (a study resumed after its split changed): their scores do not compare, and ranking them together can pick a
trial for an easier set. The run warns once when it happens, and every view of the best says so; before, the ranking
mixed them silently (only the ``n=`` beside each score differed)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.report import write_report
from tunesmith.report._data import report_data
from tunesmith.report._shown import shown_best
from tunesmith.study import ExampleCountWarning
from tunesmith.study._validation_set import ExampleCountWatch, mixed_examples_note
from tunesmith.trial import TrialRecord, TrialState

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})
ERROR = ts.Metric("error")


def scored_on(examples: int) -> ts.Objective:
    def objective(trial: ts.Trial) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(trial.seed)
        return {"error": (rng.random(examples) < 0.1 + 0.1 * trial.params["x"]).astype(float)}

    return objective


def holdout(params: dict[str, float], seed: int) -> dict[str, np.ndarray]:
    return {"holdout_error": (np.random.default_rng(seed).random(300) < 0.1 + 0.1 * params["x"]).astype(float)}


def test_a_study_resumed_on_another_set_warns_once_and_every_view_of_the_best_says_so(tmp_path: Path) -> None:
    study = ts.Study(SPACE, metric=ERROR, budget=ts.Budget(trials=5), storage="memory", name="s", seed=0)
    study.optimize(scored_on(150), progress=False)
    assert mixed_examples_note(study.trials, ERROR) is None
    study.extend_budget(trials=10)
    with pytest.warns(ExampleCountWarning) as warned:
        result = study.optimize(scored_on(300), progress=False)
    assert len(warned) == 1, [str(w.message) for w in warned]
    said = str(warned[0].message)
    assert said.startswith("trial #5's error was read from 300 validation examples, the study's earlier trials' "
                           "from 150: scores on different validation sets do not compare")  # fmt: skip
    assert said in result.notes
    shown = shown_best(report_data(study))
    assert shown is not None and shown.caveats[0] == mixed_examples_note(study.trials, ERROR)
    verdict = ts.finalize(study, holdout, progress=False)
    optimism = verdict.check("optimism").detail
    assert shown.caveats[0] in optimism  # not compared on the same data, whatever it says
    # It said so after it had said the opposite: "10 configurations compared on the same validation data; ...".
    assert optimism.startswith("10 configurations compared on validation sets of different sizes;"), optimism
    assert "the same validation data" not in optimism
    page = write_report(study, tmp_path / "report.html").read_text()
    assert "10 configurations compared on validation sets of different sizes." in page
    assert ("the trials' error was read from different numbers of validation examples (150 for 5 trials (#0, #1, #2 "
            "and 2 more), 300 for 5 trials (#5, #6, #7 and 2 more))") in shown.caveats[0]  # fmt: skip


def test_one_set_says_nothing() -> None:
    study = ts.Study(SPACE, metric=ERROR, budget=ts.Budget(trials=5), storage="memory", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExampleCountWarning)
        study.optimize(scored_on(150), progress=False)
    shown = shown_best(report_data(study))
    assert shown is not None and all("validation examples" not in c for c in shown.caveats)


def record(number: int, count: int | None, state: TrialState = TrialState.COMPLETE) -> TrialRecord:
    metrics = {"error": 0.1} if count is None else {"error": 0.1, "count:error": float(count)}
    return TrialRecord(number, {"x": 0.5}, number, state, metrics if state is TrialState.COMPLETE else {})


def test_the_watch_reads_complete_trials_with_a_count_and_says_a_new_count_once() -> None:
    watch = ExampleCountWatch(ERROR, [record(0, 150), record(1, None), record(2, None, TrialState.FAILED)])
    assert watch.see(record(3, None)) is None and watch.see(record(4, 150)) is None
    assert watch.see(record(5, 300)) is not None
    assert watch.see(record(6, 200)) is None  # once a run
    mixed = ExampleCountWatch(ERROR, [record(0, 150), record(1, 300)])
    assert mixed.see(record(2, 300)) is None  # a count the study had already
    assert ExampleCountWatch(ERROR, []).see(record(0, 150)) is None


def test_re_runs_read_from_another_set_than_the_search_warn() -> None:
    study = ts.Study(SPACE, metric=ERROR, budget=ts.Budget(trials=6), storage="memory", seed=0)
    study.optimize(scored_on(150), progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExampleCountWarning)
        ts.validate_top(study, scored_on(150), k=2, seeds=2, progress=False)
    with pytest.warns(ExampleCountWarning, match=r"the re-runs of #\d+ read error from 300 validation examples, its "
                      r"trial in the search from 150: the objective given to validate_top scores another validation "
                      r"set than the search's"):  # fmt: skip
        ts.validate_top(study, scored_on(300), k=2, seeds=2, progress=False)
