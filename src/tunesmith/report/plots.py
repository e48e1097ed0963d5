"""The report's figures, one function per figure, each returning a plotly ``Figure``.

Every function takes a `ReportData` (and the analyses where it needs them) and returns a
figure that stands alone. Large studies are thinned where drawing every point would not show
more: learning curves and slice plots keep at most a few thousand trials (failures and the
best trial always among them); histories, parallel coordinates and budget curves show all.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from tunesmith.analysis import Diagnosis, ImportanceResult, Signature
from tunesmith.analysis._common import format_value
from tunesmith.attributes import AttributeShapeError, BaselineAttr, HoldoutAttr, SeedStabilityAttr, read_attr
from tunesmith.report._data import ReportData
from tunesmith.space import Choice, Float, Int, Param
from tunesmith.trial import TrialRecord, TrialState

__all__ = [
    "STATE_COLOURS",
    "SIGNATURE_COLOURS",
    "budget_burn",
    "guardrails",
    "history",
    "holdout",
    "holdout_rows",
    "importance",
    "learning_curves",
    "parallel_coordinates",
    "seed_stability",
    "slices",
]

STATE_COLOURS: dict[TrialState, str] = {
    TrialState.COMPLETE: "#4c78a8",
    TrialState.STOPPED: "#9ca3af",
    TrialState.FAILED: "#e45756",
    TrialState.INFEASIBLE: "#f58518",
    TrialState.RUNNING: "#54a24b",
    TrialState.PAUSED: "#72b7b2",
}
SIGNATURE_COLOURS: dict[Signature, str] = {
    Signature.HEALTHY: "#4c78a8",
    Signature.DIVERGED: "#e45756",
    Signature.UNSTABLE: "#f58518",
    Signature.OVERFITTING: "#b279a2",
    Signature.UNDERFITTING: "#9d755d",
}
BEST_COLOUR = "#111827"
MAX_CURVES = 600
MAX_SLICE_POINTS = 3000
_LAYOUT: dict[str, Any] = {
    "template": "plotly_white",
    "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
    "font": {"family": "system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif", "size": 12},
    "legend": {"orientation": "h", "y": -0.18},
}


def _figure(title: str, height: int = 420, **layout: Any) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(**{**_LAYOUT, "title": {"text": title, "x": 0.01}, "height": height, **layout})
    return fig


def history(data: ReportData) -> go.Figure:
    """The metric of every trial by trial number, coloured by state, with the best so far."""
    name = data.metric.name
    fig = _figure(f"Optimisation history: {name} ({data.metric.direction})", xaxis_title="trial", yaxis_title=name)
    by_state: dict[TrialState, tuple[list[int], list[float]]] = {}
    for record in data.records:
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
    steps_x, steps_y = _best_so_far(data)
    if steps_x:
        fig.add_trace(
            go.Scatter(
                x=steps_x, y=steps_y, mode="lines", name="best so far", line={"color": BEST_COLOUR, "shape": "hv"}
            )
        )
    try:
        baseline = read_attr(data.attrs, BaselineAttr)
    except AttributeShapeError:
        baseline = None  # the report's baseline section says what is wrong with it
    if baseline is not None and baseline.mean is not None:
        # Results are read relative to the model's defaults (the DRIFT baseline).
        fig.add_hline(
            y=float(baseline.mean), line={"dash": "dash", "color": "#555555"},
            annotation_text="baseline (defaults)", annotation_position="top left",
        )  # fmt: skip
    return fig


def _best_so_far(data: ReportData) -> tuple[list[int], list[float]]:
    xs: list[int] = []
    ys: list[float] = []
    best: float | None = None
    for record in sorted(data.records, key=lambda r: r.number):
        value = record.value(data.metric.name)
        improved = value is not None and (best is None or data.metric.better(value, best))
        if record.state is TrialState.COMPLETE and improved:
            best = value
        if best is not None:
            xs.append(record.number)
            ys.append(best)
    return xs, ys


def _thin(
    records: Sequence[TrialRecord], limit: int, keep: set[int], seed: int = 0, first: frozenset[int] = frozenset()
) -> list[TrialRecord]:
    """At most ``limit`` records: those in ``keep`` (``first`` before the others), the rest drawn at random."""
    if len(records) <= limit:
        return list(records)
    kept = sorted((r for r in records if r.number in keep), key=lambda r: -1 if r.number in first else r.number)
    kept = kept[:limit]
    rest = [r for r in records if r.number not in keep]
    room = limit - len(kept)
    if room > 0 and rest:
        picks = np.random.default_rng(seed).choice(len(rest), size=min(room, len(rest)), replace=False)
        kept += [rest[i] for i in sorted(picks.tolist())]
    return sorted(kept, key=lambda r: r.number)


def learning_curves(data: ReportData, diagnosis: Diagnosis, max_curves: int = MAX_CURVES) -> go.Figure:
    """Every trial's curve of the metric, coloured by signature (a button switches to state)."""
    name = data.metric.name
    with_curves = [r for r in data.records if r.curve(name)]
    best = data.best
    failures = sorted(n for n, d in diagnosis.curves.items() if d.signature.is_failure)
    if len(failures) > max_curves // 2:  # failures get half the room at most, so healthy curves still show
        picks = np.random.default_rng(1).choice(len(failures), size=max_curves // 2, replace=False)
        failures = [failures[i] for i in sorted(picks.tolist())]
    keep = set(failures) | ({best.number} if best else set())
    shown = _thin(with_curves, max_curves, keep, first=frozenset({best.number} if best else set()))
    note = f" (showing {len(shown)} of {len(with_curves)})" if len(shown) < len(with_curves) else ""
    fig = _figure(f"Learning curves: {name} by step{note}", height=460, xaxis_title="step", yaxis_title=name)
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
    if best is not None:
        points = best.curve(name)
        fig.add_trace(
            go.Scatter(
                x=[s for s, _ in points],
                y=[_finite_or_none(v) for _, v in points],
                mode="lines",
                name=f"best (trial {best.number})",
                line={"color": BEST_COLOUR, "width": 3},
            )
        )
    extra = [True] if best is not None else []
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
    finite = [v for r in shown for _, v in r.curve(name) if math.isfinite(v)]
    if finite:
        # Diverged curves reach enormous values; clip the view to where the other curves live.
        low, high = float(np.percentile(finite, 1)), float(np.percentile(finite, 97))
        pad = 0.08 * (high - low or abs(high) or 1.0)
        fig.update_yaxes(range=[low - pad, high + pad])
    return fig


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _curve_trace(label: str, members: Sequence[TrialRecord], metric: str, colour: str, visible: bool) -> go.Scatter:
    xs: list[float | None] = []
    ys: list[float | None] = []
    numbers: list[int | None] = []
    for record in members:
        for step, value in record.curve(metric):
            xs.append(step)
            ys.append(_finite_or_none(value))
            numbers.append(record.number)
        xs.append(None)  # a gap separates one trial's curve from the next
        ys.append(None)
        numbers.append(None)
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


def _axis(param: Param, values: Sequence[Any]) -> tuple[list[float], list[float], list[str]]:
    """Coordinates of ``values`` on the parameter's encoded axis, with tick positions and labels."""
    coords = [param.encode(v) if v is not None else -0.15 for v in values]
    discrete = param.values() if isinstance(param, Int) else None
    if isinstance(param, Choice):
        ticks = [param.encode(o) for o in param.options]
        labels = [format_value(o) for o in param.options]
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
    """One line per evaluated trial across every parameter, ending at the metric (also the colour).

    ``order`` puts those parameters first (the report passes the importance ranking).
    """
    name = data.metric.name
    rows = [r for r in data.records if r.state in (TrialState.COMPLETE, TrialState.INFEASIBLE)]
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
                "label": param_name,
                "values": coords,
                "tickvals": ticks,
                "ticktext": labels,
                "range": [min(ticks), 1.0],
            }
        )
    metric_values = [r.value(name) for r in rows]
    dimensions.append({"label": name, "values": metric_values})
    fig.add_trace(
        go.Parcoords(
            dimensions=dimensions,
            line={
                "color": metric_values,
                "colorscale": "Viridis",
                "reversescale": data.metric.direction == "min",
                "showscale": True,
                "colorbar": {"title": {"text": name}},
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
            y=[p.name for p in mains],
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
                y=[p.name for p in pairs],
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
    """The metric against each parameter, one panel per parameter, coloured by trial number.

    ``order`` puts those parameters first (the report passes the importance ranking).
    """
    name = data.metric.name
    dims = _ordered(data, order)
    evaluated = [r for r in data.records if r.state in (TrialState.COMPLETE, TrialState.INFEASIBLE)]
    evaluated = [r for r in evaluated if r.value(name) is not None]
    best = data.best
    shown = _thin(evaluated, max_points, {best.number} if best else set())
    cols = min(3, max(1, len(dims)))
    rows = math.ceil(len(dims) / cols)
    note = f" (showing {len(shown)} of {len(evaluated)})" if len(shown) < len(evaluated) else ""
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=dims, vertical_spacing=0.5 / max(rows, 1) ** 0.5 / 2)
    fig.update_layout(
        **{**_LAYOUT, "title": {"text": f"Slices: {name} by parameter{note}", "x": 0.01}, "height": 60 + 280 * rows}
    )
    fig.update_layout(showlegend=False)
    numbers = [r.number for r in shown]
    for k, param_name in enumerate(dims):
        row, col = k // cols + 1, k % cols + 1
        param = data.space[param_name]
        xs = [r.params.get(param_name) for r in shown]
        active = [i for i, x in enumerate(xs) if x is not None]
        x_values = [xs[i] if not isinstance(xs[i], bool) else str(xs[i]) for i in active]
        if isinstance(param, Choice):
            x_values = [format_value(v) for v in x_values]
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
                hovertemplate=f"trial %{{customdata}}<br>{param_name}=%{{x}}<br>{name}=%{{y}}<extra></extra>",
            ),
            row=row,
            col=col,
        )
        if best is not None and param_name in best.params:
            best_x = best.params[param_name]
            fig.add_trace(
                go.Scatter(
                    x=[format_value(best_x) if isinstance(param, Choice) else best_x],
                    y=[best.value(name)],
                    mode="markers",
                    marker={"color": "#e45756", "size": 11, "symbol": "star"},
                    hovertemplate=f"best: trial {best.number}<extra></extra>",
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


def budget_burn(data: ReportData) -> go.Figure:
    """Trials finished and resource used over wall time, against the budget's limits."""
    finished = sorted(
        (r for r in data.records if r.finished_at is not None and r.state.is_finished), key=lambda r: r.finished_at or 0
    )
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.update_layout(**{**_LAYOUT, "title": {"text": "Budget burn over wall time", "x": 0.01}, "height": 380})
    if not finished:
        return _empty(fig, "no finished trials yet")
    starts = [r.started_at for r in data.records if r.started_at is not None]
    origin = min(starts) if starts else float(finished[0].finished_at or 0.0)
    elapsed = [(r.finished_at or origin) - origin for r in finished]
    span = max(max(elapsed), data.budget.wall_seconds or 0.0)
    unit, per = ("seconds", 1.0) if span < 120 else ("minutes", 60.0) if span < 3 * 3600 else ("hours", 3600.0)
    times = [t / per for t in elapsed]
    trials = list(range(1, len(finished) + 1))
    resource = np.cumsum([r.resource for r in finished]).tolist()
    fig.add_trace(
        go.Scatter(x=times, y=trials, mode="lines", name="trials finished", line={"shape": "hv", "color": "#4c78a8"}),
        secondary_y=False,
    )
    fig.add_trace(
        go.Scatter(x=times, y=resource, mode="lines", name="resource used", line={"shape": "hv", "color": "#f58518"}),
        secondary_y=True,
    )
    # Limits are drawn as traces, not shapes, so that each sits on its own axis.
    x_end = max(times[-1], span / per)
    for limit, name, colour, on_right in (
        (data.budget.trials, "trial budget", "#4c78a8", False),
        (data.budget.resource, "resource budget", "#f58518", True),
    ):
        if limit is not None:
            fig.add_trace(
                go.Scatter(
                    x=[0, x_end], y=[limit] * 2, mode="lines", name=name, line={"dash": "dash", "color": colour}
                ),
                secondary_y=on_right,
            )
    if data.budget.wall_seconds is not None:
        fig.add_vline(x=data.budget.wall_seconds / per, line_dash="dot", annotation_text="wall-time budget")
    fig.update_xaxes(title_text=f"{unit} since the first trial started")
    fig.update_yaxes(title_text="trials", secondary_y=False, rangemode="tozero")
    fig.update_yaxes(title_text="resource units", secondary_y=True, rangemode="tozero")
    return fig


def guardrails(data: ReportData) -> go.Figure | None:
    """Each guardrail's metric against the primary metric, with its bound (``None`` without guardrails)."""
    usable = [g for g in data.guardrails if any(g.metric in r.metrics for r in data.records)]
    if not usable:
        return None
    name = data.metric.name
    fig = make_subplots(rows=1, cols=len(usable), subplot_titles=[g.describe() for g in usable])
    fig.update_layout(**{**_LAYOUT, "title": {"text": "Guardrails", "x": 0.01}, "height": 380})
    for k, guard in enumerate(usable, start=1):
        for ok in (True, False):
            points = [r for r in data.records if guard.metric in r.metrics and r.value(name) is not None]
            points = [r for r in points if guard.holds(r.metrics[guard.metric]) == ok]
            fig.add_trace(
                go.Scatter(
                    x=[r.metrics[guard.metric] for r in points],
                    y=[r.value(name) for r in points],
                    mode="markers",
                    name="holds" if ok else "breached",
                    legendgroup="holds" if ok else "breached",
                    showlegend=k == 1,
                    marker={"color": "#4c78a8" if ok else "#e45756", "size": 5, "opacity": 0.6},
                ),
                row=1,
                col=k,
            )
        fig.add_vline(x=guard.bound, line_dash="dash", line_color="#e45756", row=1, col=k)
        fig.update_xaxes(title_text=guard.metric, row=1, col=k)
    fig.update_yaxes(title_text=name, row=1, col=1)
    return fig


def seed_stability(section: SeedStabilityAttr | Mapping[str, Any]) -> go.Figure:
    """The metric of each candidate across seeds (attribute ``seed_stability``, see `tunesmith.attributes`).

    Raises:
        AttributeShapeError: when the attribute is not in its shape or has no candidates.
    """
    stability = section if isinstance(section, SeedStabilityAttr) else SeedStabilityAttr.from_json(section)
    if stability.candidates is None:
        raise stability.missing("candidates")
    metric = "metric" if stability.metric is None else stability.metric
    fig = _figure(f"Seed stability: {metric} across seeds", yaxis_title=metric)
    for candidate in stability.candidates:
        values = [float(v) for v in candidate.values]
        fig.add_trace(go.Box(y=values, name=candidate.label, boxpoints="all", jitter=0.3, pointpos=0, showlegend=False))
    return fig


def holdout_rows(section: HoldoutAttr | Mapping[str, Any]) -> list[tuple[str, float, float]]:
    """``(label, validation, holdout)`` rows from attribute ``holdout`` in either shape (`HoldoutAttr.table`).

    Raises:
        AttributeShapeError: when the attribute has neither rows nor pairs of numbers.
    """
    return (section if isinstance(section, HoldoutAttr) else HoldoutAttr.from_json(section)).table()


def holdout(section: HoldoutAttr | Mapping[str, Any]) -> go.Figure:
    """Validation against holdout scores, per candidate or per metric (attribute ``holdout``)."""
    stored = section if isinstance(section, HoldoutAttr) else HoldoutAttr.from_json(section)
    rows = stored.table()
    trial = "" if stored.trial is None else f" (trial {stored.trial})"
    fig = _figure(f"Validation vs holdout{trial}", barmode="group")
    labels = [r[0] for r in rows]
    fig.add_trace(go.Bar(x=labels, y=[r[1] for r in rows], name="validation", marker_color="#4c78a8"))
    fig.add_trace(go.Bar(x=labels, y=[r[2] for r in rows], name="holdout", marker_color="#f58518"))
    return fig


def _empty(fig: go.Figure, message: str) -> go.Figure:
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font={"size": 14})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig
