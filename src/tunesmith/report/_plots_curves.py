"""The search over time: the optimisation history and the learning curves.

Private to `tunesmith.report`: import these from `tunesmith.report.plots`. Learning curves keep
at most `MAX_CURVES` trials (failures and the trials marked as the result always among them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from tunesmith.analysis import Diagnosis
from tunesmith.attributes import BaselineAttr, read_intact
from tunesmith.report._data import ReportData
from tunesmith.report._plots_common import (
    BEST_COLOUR,
    INVALIDATED_COLOUR,
    SIGNATURE_COLOURS,
    STATE_COLOURS,
    _figure,
    _thin,
    plot_text,
    value_axis,
)
from tunesmith.report._shown import Marked, marked_trials
from tunesmith.trial import TrialRecord, TrialState

__all__ = ["MAX_CURVES", "history", "learning_curves"]

MAX_CURVES = 600


def history(data: ReportData) -> go.Figure:
    """The metric of every trial by trial number, coloured by state, with the best so far.

    Invalidated trials are shown apart, as crosses with their reason, and never set the best so far. With several
    objectives the metric is the first objective, and there is no best so far: a front has no single best, and how
    it grew over the trials is the hypervolume's figure (`hypervolume_history`).
    """
    name = data.metric.name
    first = ", the first objective; the front's progress is the hypervolume" if data.several else ""
    fig = _figure(f"Optimisation history: {plot_text(name)} ({data.metric.direction}){first}", xaxis_title="trial",
                  yaxis_title=plot_text(name))  # fmt: skip
    by_state: dict[TrialState, tuple[list[int], list[float]]] = {}
    for record in data.valid:
        value = record.value(name)
        if value is not None:
            xs, ys = by_state.setdefault(record.state, ([], []))
            xs.append(record.number)
            ys.append(value)
    for state, (xs, ys) in by_state.items():
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="markers",
                name=state.value,
                marker={"color": STATE_COLOURS[state], "size": 5, "opacity": 0.6},
            )
        )
    invalid = [r for r in data.invalidated if r.value(name) is not None]
    if invalid:
        fig.add_trace(
            go.Scatter(
                x=[r.number for r in invalid], y=[r.value(name) for r in invalid], mode="markers", name="invalidated",
                customdata=[r.invalidated for r in invalid],
                hovertemplate="trial %{x} (invalidated: %{customdata})<br>%{y}<extra></extra>",
                marker={"color": INVALIDATED_COLOUR, "size": 8, "symbol": "x-thin", "line": {"width": 2}},
            )
        )  # fmt: skip
    steps_x, steps_y = ([], []) if data.several else _best_so_far(data)
    if steps_x:
        fig.add_trace(
            go.Scatter(
                x=steps_x, y=steps_y, mode="lines", name="best so far", line={"color": BEST_COLOUR, "shape": "hv"}
            )
        )
    baseline = read_intact(data.attrs, BaselineAttr)  # the report's baseline section says what is wrong with it
    drawn = [v for _, ys in by_state.values() for v in ys] + [v for v in steps_y if v is not None]
    drawn += [v for r in invalid if (v := r.value(name)) is not None]
    if baseline is not None and baseline.mean is not None:
        # Results are read relative to the model's defaults (the DRIFT baseline).
        fig.add_hline(
            y=float(baseline.mean), line={"dash": "dash", "color": "#555555"},
            annotation_text="baseline (defaults)", annotation_position="top left",
        )  # fmt: skip
        drawn.append(float(baseline.mean))
    value_axis(fig, drawn, plot_text(name))
    return fig


def _best_so_far(data: ReportData) -> tuple[list[int], list[float]]:
    xs: list[int] = []
    ys: list[float] = []
    best: float | None = None
    for record in sorted(data.records, key=lambda r: r.number):
        value = record.value(data.metric.name)
        improved = value is not None and (best is None or data.metric.better(value, best))
        if record.state is TrialState.COMPLETE and record.invalidated is None and improved:
            best = value
        if best is not None:
            xs.append(record.number)
            ys.append(best)
    return xs, ys


def learning_curves(data: ReportData, diagnosis: Diagnosis, max_curves: int = MAX_CURVES) -> go.Figure:
    """Every valid trial's curve of the metric, coloured by signature (a button switches to state), with the curves
    of the result as the summaries state it drawn over them (`marked_trials`: the best shown, or with several
    objectives the chosen point, else the front)."""
    name = data.metric.name
    with_curves = [r for r in data.valid if r.curve(name)]
    marked = marked_trials(data)
    drawn = frozenset() if marked is None else marked.numbers
    failures = sorted(n for n, d in diagnosis.curves.items() if d.signature.is_failure)
    if len(failures) > max_curves // 2:  # failures get half the room at most, so healthy curves still show
        picks = np.random.default_rng(1).choice(len(failures), size=max_curves // 2, replace=False)
        failures = [failures[i] for i in sorted(picks.tolist())]
    shown = _thin(with_curves, max_curves, set(failures) | drawn, first=drawn)
    note = f" (showing {len(shown)} of {len(with_curves)})" if len(shown) < len(with_curves) else ""
    first = ", the first objective," if data.several else ""
    fig = _figure(f"Learning curves: {plot_text(name)}{first} by step{note}", height=460, xaxis_title="step",
                  yaxis_title=plot_text(name))  # fmt: skip
    groups_sig: dict[str, list[TrialRecord]] = {}
    groups_state: dict[str, list[TrialRecord]] = {}
    for record in shown:
        signature = diagnosis.signature_of(record.number)
        groups_sig.setdefault(signature.value if signature else "not judged", []).append(record)
        groups_state.setdefault(record.state.value, []).append(record)
    colour_sig = {s.value: c for s, c in SIGNATURE_COLOURS.items()} | {"not judged": "#9ca3af"}
    colour_state = {s.value: c for s, c in STATE_COLOURS.items()}
    for label, members in sorted(groups_sig.items()):
        fig.add_trace(_curve_trace(label, members, name, colour_sig[label], visible=True))
    for label, members in sorted(groups_state.items()):
        fig.add_trace(_curve_trace(label, members, name, colour_state[label], visible=False))
    n_sig, n_state = len(groups_sig), len(groups_state)
    kept = {r.number for r in shown}
    marked_curves = [] if marked is None else [r for r in marked.records if r.number in kept and r.curve(name)]
    if marked is not None and marked_curves:
        fig.add_trace(_marked_trace(marked, marked_curves, name))
    extra = [True] if marked_curves else []
    fig.update_layout(
        updatemenus=[
            {
                "type": "buttons",
                "direction": "right",
                "x": 0.5,
                "xanchor": "center",
                "y": 1.0,
                "yanchor": "bottom",
                "buttons": [
                    {
                        "label": "by signature",
                        "method": "restyle",
                        "args": [{"visible": [True] * n_sig + [False] * n_state + extra}],
                    },
                    {
                        "label": "by state",
                        "method": "restyle",
                        "args": [{"visible": [False] * n_sig + [True] * n_state + extra}],
                    },
                ],
            }
        ]
    )
    # Diverged curves reach enormous values: the view is clipped to where the other curves live.
    value_axis(fig, (v for r in shown for _, v in r.curve(name)), plot_text(name), clip=True)
    return fig


def _marked_trace(marked: Marked, records: Sequence[TrialRecord], metric: str) -> go.Scatter:
    """The curves of the marked trials as one bold trace, named as the summaries name them (``customdata``: the trial
    numbers, as in every curve trace)."""
    xs, ys, numbers = _joined_curves(records, metric)
    hover = f"{plot_text(marked.mark.value)}: trial %{{customdata}}<br>step %{{x}}<br>%{{y}}<extra></extra>"
    return go.Scatter(x=xs, y=ys, mode="lines", name=plot_text(marked.name()), customdata=numbers,
                      hovertemplate=hover, line={"color": BEST_COLOUR, "width": 3}, connectgaps=False)  # fmt: skip


def _joined_curves(records: Sequence[TrialRecord], metric: str
                   ) -> tuple[list[float | None], list[float | None], list[int | None]]:  # fmt: skip
    """The curves of ``records`` as one line's x, y and trial numbers, a gap (``None``) between one trial's and the
    next; a non-finite value is a gap too."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    numbers: list[int | None] = []
    for record in records:
        for step, value in record.curve(metric):
            xs.append(step)
            ys.append(_finite_or_none(value))
            numbers.append(record.number)
        xs.append(None)
        ys.append(None)
        numbers.append(None)
    return xs, ys, numbers


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _curve_trace(label: str, members: Sequence[TrialRecord], metric: str, colour: str, visible: bool) -> go.Scatter:
    xs, ys, numbers = _joined_curves(members, metric)
    return go.Scatter(
        x=xs,
        y=ys,
        mode="lines",
        name=f"{label} ({len(members)})",
        visible=visible,
        customdata=numbers,
        hovertemplate="trial %{customdata}<br>step %{x}<br>%{y}<extra>" + label + "</extra>",
        line={"color": colour, "width": 1},
        opacity=0.55,
        connectgaps=False,
    )
