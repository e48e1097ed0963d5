"""Where the trials do not show which parameters matter, the summary and the report say why once, in the importance
note, and the diagnosis's withheld advice points to it: the demo printed the same 600 characters twice."""

from __future__ import annotations

import contextlib
import io
import random

from rich.console import Console

import tunesmith as ts
from tunesmith.report import render_report, summary
from tunesmith.report._data import analyse, report_data

REASON = "the parameters predict"  # in the importance note's reason, whatever the figures
BRIEF = ("no advice on where to spend the budget: the trials do not yet show which parameters matter (the importance "
         "note says why, and what would show it)")  # fmt: skip


def _noise_study() -> ts.Study:
    """40 trials of three parameters on a metric none of them moves."""
    space = ts.Space({"x": ts.Float(0.0, 1.0), "y": ts.Float(0.0, 1.0), "z": ts.Float(0.0, 1.0)})
    study = ts.Study(space, metric="loss", sampler="random", budget=ts.Budget(trials=40), storage="memory", seed=3)
    study.optimize(lambda t: random.Random(t.seed).gauss(0.3, 0.05))
    return study


def test_the_summary_and_the_report_say_once_why_no_advice_is_given() -> None:
    study = _noise_study()
    found = analyse(report_data(study))
    assert found.importance is None and REASON in (found.importance_note or ""), found.importance_note
    withheld = [s for s in found.diagnosis.suggestions if s.withheld == "loss"]
    assert len(withheld) == 1 and REASON in withheld[0].text, "the advice's own text keeps the reason (JSON, API)"
    assert REASON in found.diagnosis.to_json()["suggestions"][-1]["text"]

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        summary(study, console=Console(file=out, width=200))
    said = out.getvalue()
    assert said.count(REASON) == 1, said
    assert BRIEF in said

    page = render_report(study)
    diagnosis = page.split("<h2>Diagnosis</h2>", 1)[1].split("</section>", 1)[0]
    assert BRIEF in diagnosis and REASON not in diagnosis
    assert REASON in page.split("<h2>Hyperparameter importance</h2>", 1)[1].split("</section>", 1)[0]


def test_the_diagnosis_alone_gives_the_whole_reason() -> None:
    found = analyse(report_data(_noise_study()))
    assert any(REASON in line and line.startswith("no advice on where") for line in found.diagnosis.lines())
    assert BRIEF in found.diagnosis.lines(told="loss")
    assert BRIEF not in found.diagnosis.lines(told="other")
