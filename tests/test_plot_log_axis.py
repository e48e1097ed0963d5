"""The history and learning-curve figures read losses spread over decades on a log axis: on a linear one, a few
early or diverged losses near 25 drew every loss near 0.005 as one line along zero."""

from __future__ import annotations

import tunesmith as ts
from tunesmith.report import ReportData, analyse, plots


def _study(low: float) -> ts.Study:
    """Losses from ``low`` to ``low`` + 25: each curve starts near the top, and ends near ``low`` or far above it."""
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", budget=ts.Budget(trials=8), storage="memory",
                     seed=0, sampler="random")  # fmt: skip

    def objective(trial: ts.Trial) -> float:
        loss = 0.0
        for step in trial.steps(20):
            loss = low + 25.0 * trial.params["x"] ** 3 + 25.0 * (1.0 - trial.params["x"]) * 0.5**step
            trial.report(loss=loss)
        return loss

    study.optimize(objective, progress=False)
    return study


def test_losses_over_decades_read_on_a_log_axis_and_others_on_a_linear_one() -> None:
    data = ReportData.from_study(_study(0.005))
    history = plots.history(data)
    assert history.layout.yaxis.type == "log" and history.layout.yaxis.title.text == "loss (log scale)"
    curves = plots.learning_curves(data, analyse(data).diagnosis)
    assert curves.layout.yaxis.type == "log" and curves.layout.yaxis.title.text == "loss (log scale)"
    low, high = curves.layout.yaxis.range  # in decades on a log axis: 10**-2.3 is 0.005
    assert -3.0 < low < -2.0 < 0.0 < high < 2.0, (low, high)
    near = ReportData.from_study(_study(50.0))  # 50 to 75: a linear axis shows it well
    assert plots.history(near).layout.yaxis.type in (None, "linear")
    assert plots.learning_curves(near, analyse(near).diagnosis).layout.yaxis.type in (None, "linear")


def test_an_empty_figure_wraps_its_message_and_shows_markup_as_text() -> None:
    """Importance's note of some three hundred characters was one annotation line that ran off both sides."""
    note = "the trials do not yet show which parameters matter: " + "the shares divide noise, not effects; " * 6
    fig = plots.importance(None, note + "lr <b> 0.1")
    (shown,) = fig.layout.annotations
    lines = shown.text.split("<br>")
    assert len(lines) > 3 and all(len(line) <= 90 for line in lines), lines
    assert lines[-1].endswith("lr &lt;b&gt; 0.1")  # a name's markup is drawn as written
