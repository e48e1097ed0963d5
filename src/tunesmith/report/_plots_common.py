"""Shared pieces of the report's figures: state and signature colours, the layout, thinning, empty figures.

Private to `tunesmith.report`: import figures and colours from `tunesmith.report.plots`.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from tunesmith.analysis import Signature
from tunesmith.trial import TrialRecord, TrialState

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
INVALIDATED_COLOUR = "#6b7280"  # trials taken out of the search, shown for the audit
# Values all positive and spread over more than this factor (two decades) are read on a log axis: on a linear one a
# few early or diverged losses of 25 drew every loss near 0.005 as one line along zero.
LOG_SPREAD = 100.0
EMPTY_LINE_CHARS = 90  # a line of an empty figure's message: about what a report's figure holds at size 14
_LAYOUT: dict[str, Any] = {
    "template": "plotly_white",
    "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
    "font": {"family": "system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif", "size": 12},
    "legend": {"orientation": "h", "y": -0.18},
}


def time_unit(seconds: float) -> tuple[str, float]:
    """The unit a time axis spanning ``seconds`` reads in, and the seconds in one: seconds under two minutes, minutes
    under three hours, hours beyond."""
    return ("seconds", 1.0) if seconds < 120 else ("minutes", 60.0) if seconds < 3 * 3600 else ("hours", 3600.0)


def plot_text(text: str) -> str:
    """A user's name (a parameter, a metric) as plotly text: plotly reads ``<b>``, ``<i>``, ``<br>`` in figure
    text as markup, so ``optimizer<b>`` was drawn as ``optimizer``; its entities show the name as stored."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _figure(title: str, height: int = 420, **layout: Any) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(**{**_LAYOUT, "title": {"text": title, "x": 0.01}, "height": height, **layout})
    return fig


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


def value_axis(fig: go.Figure, values: Iterable[float], title: str, *, clip: bool = False) -> None:
    """The y axis of ``values`` (titled ``title``): logarithmic when they are all positive and spread over more than
    `LOG_SPREAD` (the title says so), else linear. ``clip``: the view kept to their 1st to 97th percentile, padded,
    where a few diverged curves reach values the others never come near."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return
    log = min(finite) > 0 and max(finite) > LOG_SPREAD * min(finite)
    if log:
        fig.update_yaxes(type="log", title_text=f"{title} (log scale)")
    if not clip:
        return
    read = np.log10(finite) if log else np.asarray(finite)  # a log axis takes its range in decades
    low, high = float(np.percentile(read, 1)), float(np.percentile(read, 97))
    pad = 0.08 * (high - low or abs(high) or 1.0)
    fig.update_yaxes(range=[low - pad, high + pad])


def _empty(fig: go.Figure, message: str) -> go.Figure:
    """``fig`` with no data: ``message`` in its middle, wrapped (an annotation is one line, and importance's note of
    three hundred characters ran off both sides of the figure)."""
    lines = textwrap.wrap(message, EMPTY_LINE_CHARS) or [""]
    fig.add_annotation(text="<br>".join(plot_text(line) for line in lines), showarrow=False, x=0.5, y=0.5,
                       xref="paper", yref="paper", font={"size": 14})  # fmt: skip
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig
