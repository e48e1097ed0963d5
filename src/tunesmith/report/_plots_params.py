"""The search across parameters: parallel coordinates, importance and slices.

Private to `tunesmith.report`: import these from `tunesmith.report.plots`. Slice plots keep at
most `MAX_SLICE_POINTS` trials (the trials marked as the result always among them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from tunesmith.analysis import ImportanceResult
from tunesmith.analysis._common import format_value
from tunesmith.report._data import ReportData
from tunesmith.report._plots_common import _LAYOUT, _empty, _figure, _thin, plot_text
from tunesmith.report._shown import marked_trials
from tunesmith.space import Choice, Float, Int, Param
from tunesmith.trial import TrialState

__all__ = ["MAX_SLICE_POINTS", "importance", "parallel_coordinates", "slices"]

MAX_SLICE_POINTS = 3000


def _axis(param: Param, values: Sequence[Any]) -> tuple[list[float], list[float], list[str]]:
    """Coordinates of ``values`` on the parameter's encoded axis, with tick positions and labels."""
    coords = [param.encode(v) if v is not None else -0.15 for v in values]
    discrete = param.values() if isinstance(param, Int) else None
    if isinstance(param, Choice):
        ticks = [param.encode(o) for o in param.options]
        labels = [plot_text(format_value(o)) for o in param.options]
    elif discrete is not None and len(discrete) <= 10:
        ticks = [param.encode(v) for v in discrete]
        labels = [str(v) for v in discrete]
    else:
        ticks = [float(u) for u in np.linspace(0.0, 1.0, 5)]
        labels = [format_value(param.decode(u)) for u in ticks]
    if any(v is None for v in values):
        ticks = [-0.15, *ticks]
        labels = ["inactive", *labels]
    return coords, ticks, labels


def _ordered(data: ReportData, order: Sequence[str] | None) -> list[str]:
    """The space's dimensions, those named in ``order`` first (e.g. most important first)."""
    dims = data.space.dimensions
    first = [n for n in order or () if n in dims]
    return first + [n for n in dims if n not in first]


def parallel_coordinates(data: ReportData, order: Sequence[str] | None = None) -> go.Figure:
    """One line per evaluated, valid trial across every parameter, ending at the metric (also the colour).

    ``order`` puts those parameters first (the report passes the importance ranking).
    """
    name = data.metric.name
    rows = [r for r in data.valid if r.state in (TrialState.COMPLETE, TrialState.INFEASIBLE)]
    rows = [r for r in rows if r.value(name) is not None]
    fig = _figure(f"Parallel coordinates ({len(rows)} evaluated trials)", height=460)
    if not rows:
        return _empty(fig, "no evaluated trials yet")
    dimensions = []
    for param_name in _ordered(data, order):
        param = data.space[param_name]
        values = [r.params.get(param_name) for r in rows]
        coords, ticks, labels = _axis(param, values)
        dimensions.append(
            {
                "label": plot_text(param_name),
                "values": coords,
                "tickvals": ticks,
                "ticktext": labels,
                "range": [min(ticks), 1.0],
            }
        )
    metric_values = [r.value(name) for r in rows]
    dimensions.append({"label": plot_text(name), "values": metric_values})
    fig.add_trace(
        go.Parcoords(
            dimensions=dimensions,
            line={
                "color": metric_values,
                "colorscale": "Viridis",
                "reversescale": data.metric.direction == "min",
                "showscale": True,
                "colorbar": {"title": {"text": plot_text(name)}},
            },
        )
    )
    fig.update_layout(margin={"l": 70, "r": 70, "t": 80, "b": 40})
    return fig


def importance(result: ImportanceResult | None, note: str | None = None, top_pairs: int = 10) -> go.Figure:
    """Main effects and the largest pair interactions, with one standard deviation over trees."""
    if result is None:
        return _empty(_figure("Hyperparameter importance"), note or "importance unavailable")
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.5, 0.5],
        subplot_titles=("main effects", f"top {top_pairs} interactions"),
        horizontal_spacing=0.22,
    )
    fig.update_layout(
        **{
            **_LAYOUT,
            "title": {
                "text": f"Hyperparameter importance (fANOVA, {result.n_trials} trials, {result.n_trees} trees)",
                "x": 0.01,
            },
            "height": max(320, 60 + 34 * len(result.main)),
            "showlegend": False,
        }
    )
    mains = list(reversed(result.main))
    fig.add_trace(
        go.Bar(
            x=[p.mean for p in mains],
            y=[plot_text(p.name) for p in mains],
            orientation="h",
            error_x={"type": "data", "array": [p.std for p in mains], "visible": True},
            marker={"color": "#4c78a8"},
            hovertemplate="%{y}: %{x:.1%}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    pairs = list(reversed(result.pairs[:top_pairs]))
    if pairs:
        fig.add_trace(
            go.Bar(
                x=[p.mean for p in pairs],
                y=[plot_text(p.name) for p in pairs],
                orientation="h",
                error_x={"type": "data", "array": [p.std for p in pairs], "visible": True},
                marker={"color": "#72b7b2"},
                hovertemplate="%{y}: %{x:.1%}<extra></extra>",
            ),
            row=1,
            col=2,
        )
    fig.update_xaxes(tickformat=".0%", title_text="share of variance", rangemode="tozero")
    return fig


def slices(data: ReportData, order: Sequence[str] | None = None, max_points: int = MAX_SLICE_POINTS) -> go.Figure:
    """The metric against each parameter (valid trials), one panel per parameter, coloured by trial number; stars
    mark the result as the summaries state it (`marked_trials`: the best shown, or with several objectives the chosen
    point, else the front).

    ``order`` puts those parameters first (the report passes the importance ranking).
    """
    name = data.metric.name
    dims = _ordered(data, order)
    evaluated = [r for r in data.valid if r.state in (TrialState.COMPLETE, TrialState.INFEASIBLE)]
    evaluated = [r for r in evaluated if r.value(name) is not None]
    marked = marked_trials(data)
    shown = _thin(evaluated, max_points, set(marked.numbers) if marked else set())
    cols = min(3, max(1, len(dims)))
    rows = math.ceil(len(dims) / cols)
    note = f" (showing {len(shown)} of {len(evaluated)})" if len(shown) < len(evaluated) else ""
    titles = [plot_text(d) for d in dims]
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, vertical_spacing=0.5 / max(rows, 1) ** 0.5 / 2)
    first = ", the first objective," if data.several else ""
    title = {"text": f"Slices: {plot_text(name)}{first} by parameter{note}", "x": 0.01}
    fig.update_layout(**{**_LAYOUT, "title": title, "height": 60 + 280 * rows})
    fig.update_layout(showlegend=False)
    numbers = [r.number for r in shown]
    for k, param_name in enumerate(dims):
        row, col = k // cols + 1, k % cols + 1
        param = data.space[param_name]
        xs = [r.params.get(param_name) for r in shown]
        active = [i for i, x in enumerate(xs) if x is not None]
        x_values = [xs[i] if not isinstance(xs[i], bool) else str(xs[i]) for i in active]
        if isinstance(param, Choice):  # category labels plotly draws as markup: escaped, as names are
            x_values = [plot_text(format_value(v)) for v in x_values]
        fig.add_trace(
            go.Scatter(
                x=x_values,
                y=[shown[i].value(name) for i in active],
                mode="markers",
                marker={
                    "color": [numbers[i] for i in active],
                    "colorscale": "Blues",
                    "size": 5,
                    "opacity": 0.7,
                    "showscale": k == 0,
                    "colorbar": {"title": {"text": "trial"}, "len": 0.5} if k == 0 else None,
                },
                customdata=[numbers[i] for i in active],
                hovertemplate=(f"trial %{{customdata}}<br>{plot_text(param_name)}=%{{x}}<br>{plot_text(name)}=%{{y}}"
                               "<extra></extra>"),
            ),
            row=row,
            col=col,
        )
        stars = [] if marked is None else [r for r in marked.records if param_name in r.params]
        if marked is not None and stars:
            star_xs = [r.params[param_name] for r in stars]
            fig.add_trace(
                go.Scatter(
                    x=[plot_text(format_value(x)) for x in star_xs] if isinstance(param, Choice) else star_xs,
                    y=[r.value(name) for r in stars],
                    mode="markers",
                    marker={"color": "#e45756", "size": 11, "symbol": "star"},
                    text=[plot_text(marked.label(r)) for r in stars],
                    hovertemplate="%{text}<extra></extra>",
                ),
                row=row,
                col=col,
            )
        if isinstance(param, Int) and param.base is not None:
            ticks = param.values() or []
            ticks = ticks[:: max(1, math.ceil(len(ticks) / 6))]
            fig.update_xaxes(type="log", tickvals=ticks, ticktext=[str(t) for t in ticks], row=row, col=col)
        elif isinstance(param, Float | Int) and param.log:
            fig.update_xaxes(type="log", row=row, col=col)
        if isinstance(param, Choice):
            fig.update_xaxes(type="category", row=row, col=col)
    return fig
