"""Budget advice is said whether or not the objective reports learning curves: it was computed and stored in the
report's JSON, but the summary and the report's Diagnosis said only that there were no curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.report import write_report
from tunesmith.report._data import analyse, report_data


@pytest.fixture(scope="module")
def plain_study() -> ts.Study:
    """A plain objective (no trial.report) in which a alone matters."""
    space = ts.Space({"a": ts.Float(0, 1), "b": ts.Float(0, 1), "c": ts.Float(0, 1)})
    rng = np.random.default_rng(0)
    study = ts.Study(space, metric="loss", budget=ts.Budget(trials=60), storage="memory", sampler="random", seed=0)
    study.optimize(lambda t: {"loss": 4 * t.params["a"] + 0.3 * rng.normal()})
    return study


def test_the_diagnosis_lines_carry_the_budget_advice_without_learning_curves(plain_study: ts.Study) -> None:
    lines = analyse(report_data(plain_study)).diagnosis.lines()
    assert lines[0].startswith("no learning curves of 'loss' to diagnose"), lines
    assert any(line.startswith("tune a first") for line in lines[1:]), lines


def test_the_html_reports_diagnosis_shows_the_budget_advice_without_learning_curves(
    plain_study: ts.Study, tmp_path: Path
) -> None:
    page = write_report(plain_study, tmp_path / "plain.html").read_text(encoding="utf-8")
    diagnosis = page.split("<h2>Diagnosis</h2>", 1)[1].split("<h2>", 1)[0]
    assert "<li>tune a first" in diagnosis, diagnosis
