"""The discipline's figures: budget burn, guardrails, seed stability and validation vs holdout.

Private to `tunesmith.report`: import these from `tunesmith.report.plots`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from tunesmith.analysis._common import FINAL_STATES
from tunesmith.attributes import HoldoutAttr, SeedStabilityAttr
from tunesmith.budget import Budget, counts_toward_budget, running_clock
from tunesmith.discipline.gap import noise_of
from tunesmith.discipline.guardrails import GuardrailOutcome, read_guardrail
from tunesmith.report._data import ReportData
from tunesmith.report._plots_common import _LAYOUT, _empty, _figure, plot_text, time_unit
from tunesmith.trial import TrialRecord

__all__ = ["budget_burn", "guardrails", "holdout", "holdout_rows", "seed_stability"]


def _resource_ceiling(data: ReportData, finished: list[TrialRecord]) -> tuple[float, str] | None:
    """The top of the resource axis and what it is, so that the resource line's height is the share of
    the budget spent: the resource budget; without one, the resource the trial or wall-time budget
    spends at the rate so far (the line then stands as high as the larger share of those spent);
    ``None`` for an unbounded budget, which has no top."""
    budget = data.budget
    last = max(r.finished_at or 0.0 for r in finished)
    usage = budget.usage(finished, last)
    if budget.resource is not None:
        return max(budget.resource, usage.resource), "top: the resource budget"
    shares = []
    if budget.trials is not None:
        shares.append((usage.trials / budget.trials, "trial"))
    if budget.wall_seconds is not None:
        shares.append((usage.elapsed / budget.wall_seconds, "wall-time"))
    if budget.compute_seconds is not None:
        shares.append((usage.compute / budget.compute_seconds, "compute"))
    if not shares or usage.resource <= 0:
        return None
    share, limit = max(shares)
    if share <= 0:
        return None
    return usage.resource / min(1.0, share), f"top: what the {limit} budget spends at this rate"


def budget_burn(data: ReportData) -> go.Figure:
    """Trials finished and resource used over wall time, against the budget's limits.

    The resource axis runs from 0 to the resource budget (see `_resource_ceiling`), never to the
    resource used, so a line reaches the top only when its budget is spent.
    """
    finished = sorted(
        (r for r in data.records if r.finished_at is not None and r.state.is_finished), key=lambda r: r.finished_at or 0
    )
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.update_layout(**{**_LAYOUT, "title": {"text": "Budget burn over wall time", "x": 0.01}, "height": 380})
    if not finished:
        return _empty(fig, "no finished trials yet")
    # The x axis is the study's running time, what its wall-time budget counts: time between two runs is none.
    clock = running_clock(data.records, max(r.finished_at or 0.0 for r in finished))
    elapsed = [clock(r.finished_at or 0.0) for r in finished]
    span = max(max(elapsed), data.budget.wall_seconds or 0.0)
    unit, per = time_unit(span)
    times = [t / per for t in elapsed]
    # Trials as the trial budget counts them: not an interrupted one, nor a failure re-queued for a retry.
    trials = np.cumsum([1 if counts_toward_budget(r) else 0 for r in finished]).tolist()
    # Resource as the budget counts it: a PBT continuation's steps before its start are its parent's.
    resource = np.cumsum([Budget.usage([r], 0.0).resource for r in finished]).tolist()
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
    fig.update_xaxes(title_text=f"{unit} of running time (while at least one trial ran)")
    fig.update_yaxes(title_text="trials", secondary_y=False, rangemode="tozero")
    ceiling = _resource_ceiling(data, finished)
    if ceiling is None:
        fig.update_yaxes(title_text="resource units", secondary_y=True, rangemode="tozero")
    else:
        top, meaning = ceiling
        fig.update_yaxes(
            title_text=f"resource units ({meaning})", secondary_y=True, range=[0, top * 1.05], autorange=False
        )
    return fig


def guardrails(data: ReportData) -> go.Figure | None:
    """Each guardrail's metric against the primary metric over the valid trials, with its bound, each trial
    marked as the verdict would judge it: holds, cannot tell (within its recorded noise of the bound, or inside
    the bound with no noise recorded: one number cannot show it holds) or breached (``None`` without guardrails)."""
    usable = [g for g in data.guardrails if any(g.metric in r.metrics for r in data.valid)]
    if not usable:
        return None
    name = data.metric.name
    fig = make_subplots(rows=1, cols=len(usable), subplot_titles=[plot_text(g.describe()) for g in usable])
    fig.update_layout(**{**_LAYOUT, "title": {"text": "Guardrails", "x": 0.01}, "height": 380})
    groups = {GuardrailOutcome.HELD: ("holds", "#4c78a8"), GuardrailOutcome.UNDECIDED: ("cannot tell", "#f2a541"),
              GuardrailOutcome.BREACHED: ("breached", "#e45756")}  # fmt: skip
    for k, guard in enumerate(usable, start=1):
        # finished trials only: a trial a scheduler stopped (or one still running) was never judged against it
        measured = [r for r in data.valid if r.state in FINAL_STATES and guard.metric in r.metrics
                    and r.value(name) is not None]  # fmt: skip
        # judged as the verdict judges it: against each measurement's recorded noise
        outcome = {r.number: read_guardrail(guard, r.metrics[guard.metric], noise_of(r.metrics, guard.metric)).outcome
                   for r in measured}  # fmt: skip
        for kind, (label, colour) in groups.items():
            points = [r for r in measured if outcome[r.number] is kind]
            if kind is GuardrailOutcome.UNDECIDED and not points:
                continue
            fig.add_trace(
                go.Scatter(
                    x=[r.metrics[guard.metric] for r in points],
                    y=[r.value(name) for r in points],
                    mode="markers",
                    name=label,
                    legendgroup=label,
                    showlegend=k == 1,
                    marker={"color": colour, "size": 5, "opacity": 0.6},
                ),
                row=1,
                col=k,
            )
        fig.add_vline(x=guard.bound, line_dash="dash", line_color="#e45756", row=1, col=k)
        fig.update_xaxes(title_text=plot_text(guard.metric), row=1, col=k)
    fig.update_yaxes(title_text=plot_text(name), row=1, col=1)
    return fig


def seed_stability(section: SeedStabilityAttr | Mapping[str, Any]) -> go.Figure:
    """The metric of each candidate across seeds (attribute ``seed_stability``, see `tunesmith.attributes`), and beside
    the winner its runs on the fresh seeds after the pick when it has them: those are what the verdict's seed
    stability and baseline margin judge it on (the figure showed the runs that picked it alone).

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
        confirmed = [float(v) for v in candidate.confirm_values or ()]
        if confirmed:
            fig.add_trace(go.Box(y=confirmed, name=f"{candidate.label}: {len(confirmed)} fresh seeds after the pick",
                                 boxpoints="all", jitter=0.3, pointpos=0, showlegend=False,
                                 marker_color="#54a24b"))  # fmt: skip
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
