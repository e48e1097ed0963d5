"""The report's figures, one function per figure, each returning a plotly ``Figure``.

Every function takes a `ReportData` (and the analyses where it needs them) and returns a
figure that stands alone. Large studies are thinned where drawing every point would not show
more: learning curves and slice plots keep at most a few thousand trials (failures and the
best trial always among them); histories, parallel coordinates and budget curves show all, and
the timeline its latest few thousand stretches of running trials.
"""

from __future__ import annotations

from tunesmith.report._plots_common import BEST_COLOUR as BEST_COLOUR
from tunesmith.report._plots_common import SIGNATURE_COLOURS, STATE_COLOURS
from tunesmith.report._plots_curves import MAX_CURVES as MAX_CURVES
from tunesmith.report._plots_curves import history, learning_curves
from tunesmith.report._plots_discipline import budget_burn, guardrails, holdout, holdout_rows, seed_stability
from tunesmith.report._plots_front import hypervolume_history, pareto_front
from tunesmith.report._plots_params import MAX_SLICE_POINTS as MAX_SLICE_POINTS
from tunesmith.report._plots_params import importance, parallel_coordinates, slices
from tunesmith.report._plots_timeline import MAX_TIMELINE_SPANS as MAX_TIMELINE_SPANS
from tunesmith.report._plots_timeline import timeline

__all__ = [
    "STATE_COLOURS",
    "SIGNATURE_COLOURS",
    "budget_burn",
    "guardrails",
    "history",
    "holdout",
    "holdout_rows",
    "hypervolume_history",
    "importance",
    "learning_curves",
    "parallel_coordinates",
    "pareto_front",
    "seed_stability",
    "slices",
    "timeline",
]
