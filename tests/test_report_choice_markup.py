"""A Choice value in the report's charts is drawn as stored: plotly reads ``<b>``, ``<br>`` and ``<a href>`` in
category labels as markup, so a stored value put bold text, a line break or a live link to another site into a
shared report."""

from __future__ import annotations

import tunesmith as ts
from tunesmith.report._data import ReportData
from tunesmith.report._plots_params import parallel_coordinates, slices

VALUES = ["<b>bold</b>", '<a href="https://example.com/x">link</a>', "a<br>b"]


def _data() -> ReportData:
    study = ts.Study(ts.Space({"opt": ts.Choice(VALUES), "lr": ts.Float(0.1, 1.0)}), metric="loss",
                     budget=ts.Budget(trials=9), storage="memory", seed=0)  # fmt: skip
    study.optimize(lambda t: t.params["lr"] + VALUES.index(t.params["opt"]))
    return ReportData.from_study(study)


def test_slices_draw_choice_values_as_text_not_markup() -> None:
    labels = {str(x) for trace in slices(_data()).data for x in (trace.x or ())}
    assert not any("<" in label for label in labels)
    assert "&lt;b&gt;bold&lt;/b&gt;" in labels


def test_parallel_coordinates_label_choice_values_as_text_not_markup() -> None:
    ticks = [t for dim in parallel_coordinates(_data()).data[0].dimensions for t in (dim.ticktext or ())]
    assert ticks and not any("<" in str(tick) for tick in ticks)
