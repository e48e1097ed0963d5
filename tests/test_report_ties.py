"""Trials whose metric equals the best's exactly are said wherever trials within the best's noise are."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from rich.console import Console

import tunesmith as ts
from tunesmith.report import write_report
from tunesmith.report._data import ReportData, tie_note
from tunesmith.report.terminal import summary
from tunesmith.trial import TrialRecord, TrialState

SPACE = ts.Space({"act": ts.Choice(["relu", "tanh", "none"]), "lr": ts.Float(1e-4, 1.0, log=True)})


def _tied_study() -> ts.Study:
    """Loss depends on ``act`` alone: every relu trial ties exactly with the others."""
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=24), storage="memory", seed=0, sampler="random")
    study.optimize(lambda t: {"relu": 0.0576, "tanh": 0.3, "none": 1.5}[t.params["act"]])
    return study


def test_the_summary_and_the_report_say_how_many_trials_tie_exactly_with_the_best(tmp_path: Path) -> None:
    """26 of 30 trials had exactly the best's loss, and the summary said "Best: trial 0" with no word of it."""
    study = _tied_study()
    best = study.best
    assert best is not None
    tied = [r.number for r in study.trials if r.metrics.get("loss") == best.metrics["loss"]]
    assert len(tied) >= 3 and best.number == tied[0]
    out = io.StringIO()
    summary(study, console=Console(file=out, width=400), analyses=False)
    text = " ".join(out.getvalue().split())
    said = (f"{len(tied)} trials tie exactly at the best's loss = 0.0576 ({', '.join(f'#{n}' for n in tied[:10])}"
            f"{f' and {len(tied) - 10} more' if len(tied) > 10 else ''}): nothing in the results tells them apart, "
            f"and the earliest, #{best.number}, is shown as best")  # fmt: skip
    assert said in text
    page = write_report(study, tmp_path / "ties.html").read_text()
    assert f"{len(tied)} trials tie exactly at the best&#x27;s loss = 0.0576" in page


def test_trials_tied_exactly_are_not_named_again_as_within_noise() -> None:
    def told(number: int, acc: float) -> TrialRecord:
        return TrialRecord(number, {"act": "relu", "lr": 0.01}, number, TrialState.COMPLETE,
                           {"acc": acc, "stderr:acc": 0.02, "count:acc": 200.0})  # fmt: skip

    records = (told(0, 0.9), told(1, 0.91), told(2, 0.91), told(3, 0.5))
    data = ReportData(name="s", space=SPACE, metric=ts.Metric("acc", "max"), records=records)
    note = tie_note(data)
    assert note is not None
    exact, noise = note.split("; ", 1)
    assert exact.startswith("2 trials tie exactly at the best's acc = 0.91 (#1, #2)") and "earliest, #1" in exact
    assert noise.startswith("#0 lie within two standard errors of the best's acc")


def test_more_tied_trials_than_named_are_counted() -> None:
    rng = np.random.default_rng(0)
    records = tuple(TrialRecord(i, {"act": "relu", "lr": float(rng.uniform(1e-4, 1.0))}, i, TrialState.COMPLETE,
                                {"loss": 0.25 if i % 5 else 0.75}) for i in range(30))  # fmt: skip
    note = tie_note(ReportData(name="s", space=SPACE, metric=ts.Metric("loss"), records=records))
    assert note is not None and note.startswith("24 trials tie exactly at the best's loss = 0.25 (#1, #2, #3, #4, "
                                                "#6, #7, #8, #9, #11, #12 and 14 more)")  # fmt: skip
