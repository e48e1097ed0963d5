"""The report's figures for several objectives: the Pareto front and its history (hypervolume over trials).

Private to `tunesmith.report`: import the figures from `tunesmith.report.plots`.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from tunesmith.objective import Metric
from tunesmith.pareto import loss_matrix, nondominated_ranks
from tunesmith.report._data import ReportData
from tunesmith.report._plots_common import BEST_COLOUR, STATE_COLOURS, _empty, _figure, plot_text
from tunesmith.trial import TrialRecord, TrialState

__all__ = ["hypervolume_history", "pareto_front"]

FRONT_COLOUR = "#e45756"
# The front as it stood after these shares of the complete trials: how it moved (an empirical attainment view).
_EARLIER = (0.25, 0.5)


def _front_of(records: Sequence[TrialRecord], objectives: Sequence[Metric]) -> list[TrialRecord]:
    kept, losses = loss_matrix(records, objectives)
    return [r for r, rank in zip(kept, nondominated_ranks(losses), strict=True) if rank == 0]


def _label(record: TrialRecord, objectives: Sequence[Metric]) -> str:
    return f"#{record.number} " + ", ".join(f"{m.name}={record.metrics[m.name]:.4g}" for m in objectives)


def pareto_front(data: ReportData) -> go.Figure:
    """Two objectives: every complete trial, the front highlighted as a staircase, the fronts after a quarter and
    half of the trials dashed, the chosen trial starred. Three or more: every pair of objectives (a scatter matrix)."""
    objectives = data.objectives
    fig = _figure("Pareto front", height=480 if len(objectives) == 2 else 160 * len(objectives) + 120)
    complete, _ = loss_matrix(sorted(data.records, key=lambda r: r.number), objectives)
    if not complete:
        return _empty(fig, "no complete trial with every objective yet")
    front = _front_of(complete, objectives)
    on_front = {r.number for r in front}
    choice = data.choice
    if len(objectives) > 2:
        return _pairwise(fig, complete, on_front, objectives)
    x, y = objectives
    others = [r for r in complete if r.number not in on_front]
    fig.add_trace(go.Scatter(
        x=[r.metrics[x.name] for r in others], y=[r.metrics[y.name] for r in others], mode="markers",
        name="dominated", marker={"color": STATE_COLOURS[TrialState.COMPLETE], "opacity": 0.45},
        text=[_label(r, objectives) for r in others], hoverinfo="text",
    ))  # fmt: skip
    for share in _EARLIER:
        count = int(len(complete) * share)
        if count >= 2:
            earlier = sorted(_front_of(complete[:count], objectives), key=lambda r: x.sign() * r.metrics[x.name])
            fig.add_trace(go.Scatter(
                x=[r.metrics[x.name] for r in earlier], y=[r.metrics[y.name] for r in earlier], mode="lines",
                line={"shape": "hv", "dash": "dot", "color": "#9ca3af"}, name=f"front after {count} trials",
                hoverinfo="skip",
            ))  # fmt: skip
    ordered = sorted(front, key=lambda r: x.sign() * r.metrics[x.name])
    fig.add_trace(go.Scatter(
        x=[r.metrics[x.name] for r in ordered], y=[r.metrics[y.name] for r in ordered], mode="lines+markers",
        line={"shape": "hv", "color": FRONT_COLOUR}, marker={"size": 9, "color": FRONT_COLOUR},
        name=f"Pareto front ({len(front)} trials)", text=[_label(r, objectives) for r in ordered], hoverinfo="text",
    ))  # fmt: skip
    chosen = next((r for r in complete if choice is not None and r.number == choice.trial), None)
    if chosen is not None:
        fig.add_trace(go.Scatter(
            x=[chosen.metrics[x.name]], y=[chosen.metrics[y.name]], mode="markers", name=f"chosen #{chosen.number}",
            marker={"symbol": "star", "size": 16, "color": BEST_COLOUR}, text=[_label(chosen, objectives)],
            hoverinfo="text",
        ))  # fmt: skip
    reference = data.reference
    if reference is not None:
        fig.add_trace(go.Scatter(
            x=[reference.values[x.name]], y=[reference.values[y.name]], mode="markers", name="reference point",
            marker={"symbol": "x", "size": 10, "color": "#6b7280"},
        ))  # fmt: skip
    fig.update_xaxes(title_text=f"{plot_text(x.name)} ({x.direction})")
    fig.update_yaxes(title_text=f"{plot_text(y.name)} ({y.direction})")
    return fig


def _pairwise(
    fig: go.Figure, complete: list[TrialRecord], on_front: set[int], objectives: Sequence[Metric]
) -> go.Figure:
    colours = [FRONT_COLOUR if r.number in on_front else STATE_COLOURS[TrialState.COMPLETE] for r in complete]
    fig.add_trace(go.Splom(
        dimensions=[{"label": f"{plot_text(m.name)} ({m.direction})", "values": [r.metrics[m.name] for r in complete]}
                    for m in objectives],
        marker={"color": colours, "size": 6}, text=[_label(r, objectives) for r in complete], hoverinfo="text",
        diagonal={"visible": False}, showupperhalf=False, name="trials (red: on the front)",
    ))  # fmt: skip
    return fig


def hypervolume_history(data: ReportData) -> go.Figure:
    """The front's hypervolume after each complete trial, against the study's reference point."""
    fig = _figure("Hypervolume over trials", height=360)
    kept, history = data.hypervolumes()
    reference = data.reference
    if reference is None or not history:
        return _empty(fig, data.hypervolume_line())
    fig.add_trace(go.Scatter(
        x=[r.number for r in kept], y=history, mode="lines+markers", line={"shape": "hv", "color": FRONT_COLOUR},
        name="hypervolume",
    ))  # fmt: skip
    point = ", ".join(f"{k}={v:.4g}" for k, v in reference.values.items())
    fig.update_xaxes(title_text="trial")
    fig.update_yaxes(title_text=f"hypervolume (reference {point}, {reference.source})")
    return fig
