"""The report's timeline: when each trial ran, one row per trial running at once, over the study's running time.

A tuning run on several workers goes wrong in ways a history of values does not show: a worker that stood idle
(the sampler, storage or start-up between trials), a straggler that held the last rows while the others waited, a
burst of failures when a machine went away. The timeline draws each trial's running spans (`budget.running_spans`,
the spans the wall-time and compute budgets count: a wait paused at a rung is cut out) as bars, coloured by state.

A row is not a worker: storage records which process ran a trial (``host:pid``), not which of the executor's slots,
so each span takes the lowest row free when it starts (`lanes`). The rows are then as many as the most trials that
ran at once, and how busy they were (`Lanes.busy`) is the share of rows x running time the trials filled.

Private to `tunesmith.report`: import the figure from `tunesmith.report.plots`.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import plotly.graph_objects as go

from tunesmith._numbers import format_value
from tunesmith._progress import format_seconds
from tunesmith.budget import running_clock, running_spans
from tunesmith.report._data import ReportData
from tunesmith.report._plots_common import STATE_COLOURS, _empty, _figure, plot_text, time_unit
from tunesmith.trial import TrialRecord

__all__ = ["MAX_TIMELINE_SPANS", "Lanes", "Span", "lanes", "timeline"]

# The most spans drawn: beyond, the latest ones (a study of tens of thousands of trials made the report megabytes of
# bars too thin to see); the caption says how many were left out.
MAX_TIMELINE_SPANS = 5000


@dataclass(frozen=True)
class Span:
    """One running span of a trial, in seconds of the study's running time, and the row it is drawn in."""

    record: TrialRecord
    start: float
    end: float
    row: int


@dataclass(frozen=True)
class Lanes:
    """Trials' running spans laid out in rows (see the module's docstring)."""

    spans: tuple[Span, ...]
    # The most trials that ran at once: the rows drawn.
    rows: int
    # Seconds during which at least one trial ran.
    running: float
    # The share of rows x running time the trials filled (1.0: every row busy all along).
    busy: float


def lanes(records: Sequence[TrialRecord], now: float, gone: Collection[int] = ()) -> Lanes | None:
    """``records``' running spans, each in the lowest row free when it starts; ``None`` when no trial ran yet."""
    walls = sorted(
        ((start, end, record) for record in records for start, end in running_spans(record, now, gone)),
        key=lambda span: (span[0], span[1], span[2].number),
    )
    if not walls:
        return None
    clock = running_clock(records, now, gone)  # the spans above, merged: the clock runs while a trial does
    running = clock(now)
    ends: list[tuple[float, int]] = []  # (end, row) of the rows in use
    free: list[int] = []
    spans = []
    for start, end, record in walls:
        while ends and ends[0][0] <= start:
            heapq.heappush(free, heapq.heappop(ends)[1])
        row = heapq.heappop(free) if free else len(ends) + len(free)
        heapq.heappush(ends, (end, row))
        spans.append(Span(record, clock(start), clock(end), row))
    rows = 1 + max(span.row for span in spans)
    filled = sum(span.end - span.start for span in spans)
    return Lanes(tuple(spans), rows, running, filled / (rows * running) if running > 0 else 1.0)


def caption(laid: Lanes) -> str:
    """What the timeline shows, in words, with how busy its rows were."""
    return (
        f"Each bar is a trial running, coloured by its state; a trial paused at a rung and resumed has a bar for each "
        f"stretch. At most {laid.rows} trials ran at once, and they filled {laid.busy:.0%} of those {laid.rows} rows "
        f"over the {_duration(laid.running)} the study ran: a row is not a worker, but the lowest row free when "
        f"a trial started (storage records which process ran a trial, not which of its slots)."
    )


def timeline(data: ReportData, laid: Lanes | None, *, limit: int = MAX_TIMELINE_SPANS) -> go.Figure:
    """The timeline figure of ``laid`` (from `lanes`): a horizontal bar per span, one trace per state; while no two
    trials have run at once (``laid`` ``None`` or of one row), a figure that says so."""
    title = "Trials over running time, one row per trial running at once"
    if laid is None or laid.rows < 2:
        return _empty(_figure(title, height=220), "no two trials have run at once yet: this figure shows when each "
                      "trial ran, one row per trial running at once")  # fmt: skip
    spans = sorted(laid.spans, key=lambda span: span.start)[-limit:]
    unit, per = time_unit(max(span.end for span in spans))
    title += f" (at most {laid.rows}, the rows {laid.busy:.0%} busy)"
    if len(spans) < len(laid.spans):
        title += f" (the latest {len(spans)} of {len(laid.spans)} stretches)"
    fig = _figure(title, height=min(900, 160 + 22 * laid.rows), barmode="overlay")
    for state, colour in STATE_COLOURS.items():
        shown = [span for span in spans if span.record.state is state]
        if not shown:
            continue
        fig.add_trace(
            go.Bar(
                orientation="h",
                base=[span.start / per for span in shown],
                x=[max(span.end - span.start, 0.0) / per for span in shown],
                y=[span.row + 1 for span in shown],
                name=state.value,
                marker={"color": colour, "line": {"width": 0.5, "color": "#ffffff"}},
                hovertext=[_hover(data, span) for span in shown],
                hoverinfo="text",
            )
        )
    fig.update_xaxes(title_text=f"{unit} of running time (while at least one trial ran)", rangemode="tozero")
    fig.update_yaxes(title_text="trials running at once", autorange="reversed", dtick=1 if laid.rows <= 20 else None)
    return fig


def _hover(data: ReportData, span: Span) -> str:
    record = span.record
    value = record.metrics.get(data.metric.name)
    said = [f"trial #{record.number} ({record.state.value})", f"ran {_duration(span.end - span.start)}"]
    if value is not None:
        said.append(f"{plot_text(data.metric.name)} = {format_value(value)}")
    if record.reason:
        said.append(plot_text(record.brief_reason(80) or ""))
    return "<br>".join(said)


def _duration(seconds: float) -> str:
    """``seconds`` for a reader: "0.31 s" under a minute (a short trial's "0s" said it did not run), else "6m 40s"."""
    return f"{format_value(float(seconds), digits=2)} s" if seconds < 60 else format_seconds(seconds)
