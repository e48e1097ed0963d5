"""What the dashboard shows, read from storage alone: one JSON-ready snapshot per request.

Nothing here writes: a study is read with `Storage.load_study` and `Storage.get_trials` (no
`Study` object is built, since building one may record attributes), and the figures come from
`tunesmith.report.plots`, so the dashboard draws exactly what the HTML report draws.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from tunesmith._attribute_json import json_safe
from tunesmith.analysis import diagnose
from tunesmith.budget import Budget
from tunesmith.report import ReportData, plots
from tunesmith.report._data import objective_digits, value_text
from tunesmith.report._plots_timeline import lanes as timeline_lanes
from tunesmith.report._shown import (
    choice_off_front,
    few_trained_note,
    near_front_note,
    no_feasible_note,
    shown_best,
    verdict_json,
)
from tunesmith.schedulers import make_scheduler
from tunesmith.storage import StudyInfo
from tunesmith.study import DEFAULT_GRACE, StudySpec, gone_notes
from tunesmith.study._convergence import recorded_text
from tunesmith.study._optimize import failed_some_note
from tunesmith.trial import TrialRecord

__all__ = ["FIGURES", "FRONT_FIGURES", "LATEST", "SnapshotCache", "json_safe", "snapshot", "study_data", "trial_json"]

# The charts the page draws, in page order.
FIGURES = ("history", "learning_curves", "budget_burn", "timeline")
# Drawn too for a study with several objectives (the page adds a chart for each, above the others).
FRONT_FIGURES = ("pareto_front", "hypervolume")
# Trials listed in the table of latest trials.
LATEST = 25


def study_data(info: StudyInfo, records: Sequence[TrialRecord]) -> ReportData:
    """A `ReportData` from a stored study's spec, attributes and trials (what `Study.load` would read)."""
    spec = StudySpec.from_json(info.spec)
    scheduler = make_scheduler(spec.scheduler)
    return ReportData(
        name=info.name,
        space=spec.search_space(info.attrs),  # with the parameters a define-by-run study learned
        metric=spec.metric,
        records=tuple(records),
        guardrails=spec.guardrails,
        budget=spec.budget,
        attrs=dict(info.attrs),
        rungs=scheduler.rungs(),
        objectives=spec.objectives,
        given_reference=spec.reference_point,
        scheduler=scheduler,
    )


def _front_json(data: ReportData) -> dict[str, Any] | None:
    """Several objectives: the objectives, the front's trials (by the primary objective; ``texts``: each objective as
    the other views show it, with its standard error when it was returned per example), the chosen trial and, when
    it left the front since, by which trials it is dominated and how to choose again (``off_front``); what
    ``tunesmith best`` says of the front: the trials it cannot be told from within noise (``near_front``) and a
    scheduler's few trained fully (``few_trained``)."""
    if not data.several:
        return None
    primary = data.metric
    front = sorted(data.front, key=lambda r: (primary.sign() * r.metrics[primary.name], r.number))
    choice = data.choice
    digits = objective_digits(front, data.objectives)  # as status and the report print the front
    return {
        "objectives": [m.to_json() for m in data.objectives],
        "trials": [
            {
                "number": r.number,
                "values": {m.name: r.metrics[m.name] for m in data.objectives},
                "texts": {
                    m.name: value_text(r.metrics, m.name, scale=m.scale, guardrails=data.guardrails,
                                       digits=digits[m.name])
                    for m in data.objectives
                },
                "params": r.params,
            }
            for r in front
        ],
        "chosen": None if choice is None else choice.trial,
        "off_front": choice_off_front(data),
        "near_front": near_front_note(data),
        "few_trained": few_trained_note(data),
    }


def trial_json(record: TrialRecord, metric: str, gone: str | None = None) -> dict[str, Any]:
    """One row of the trial table; ``gone``: why a RUNNING trial's worker is gone (`gone_notes`)."""
    return {
        "number": record.number,
        "state": record.state.value,
        "value": record.value(metric),
        "resource": record.resource,
        "params": record.params,
        "kind": None if record.kind is None else record.kind.value,
        "reason": record.reason,
        "invalidated": record.invalidated,  # why `Study.invalidate` took it out of the search (the row is marked)
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "duration": record.duration,
        "worker_gone": gone,
    }


def _figures(data: ReportData) -> dict[str, Any]:
    diagnosis = diagnose(data.valid, data.space, data.metric, objectives=data.objectives, guardrails=data.guardrails)
    figures = {
        "history": plots.history(data),
        "learning_curves": plots.learning_curves(data, diagnosis),
        "budget_burn": plots.budget_burn(data),
    }
    if data.several:
        figures.update({"pareto_front": plots.pareto_front(data), "hypervolume": plots.hypervolume_history(data)})
    # plotly's own encoder turns numpy arrays into lists and NaN into null.
    return {name: json.loads(figure.to_json()) for name, figure in figures.items()}


def _fingerprint(data: ReportData) -> tuple[Any, ...]:
    """Changes whenever anything a figure draws changes: new trials, states, reports, invalidations, and the
    study's attributes (a choice from the front, the baseline's line, the reference point)."""
    trials = tuple(
        (r.number, r.state.value, r.resource, len(r.intermediate), r.finished_at, r.invalidated) for r in data.records
    )
    return trials, hashlib.sha256(json.dumps(data.attrs, sort_keys=True, default=str).encode()).hexdigest()


class SnapshotCache:
    """Figures per study, rebuilt only when the study's trials changed since the last request.

    Thread-safe: the server answers requests on many threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._figures: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {}

    def figures(self, data: ReportData) -> dict[str, Any]:
        key = _fingerprint(data)
        with self._lock:
            cached = self._figures.get(data.name)
            if cached is not None and cached[0] == key:
                return cached[1]
        built = _figures(data)
        with self._lock:
            self._figures[data.name] = (key, built)
        return built


def snapshot(
    info: StudyInfo, records: Sequence[TrialRecord], cache: SnapshotCache, now: float | None = None
) -> dict[str, Any]:
    """Everything the page shows for a stored study: counts, budget, best (the seed re-runs' winner when there is
    one), the recorded verdict (as ``tunesmith status --json`` gives it), latest trials and figures."""
    spec = StudySpec.from_json(info.spec)
    gone = gone_notes(
        records, study=info.name, grace=spec.grace or DEFAULT_GRACE, retries=spec.retries or 0,
        now=time.time() if now is None else now, trials=spec.budget.trials,
    )  # fmt: skip
    usage = Budget.usage(records, time.time() if now is None else now, gone=gone)  # a gone trial runs no more
    # The budget as status counts it: which limit ran out decides the scheduler's few-trained note.
    data = replace(study_data(info, records), gone=frozenset(gone))
    metric = data.metric.name
    shown = shown_best(data)  # several objectives: no best, the front instead
    best_json = None if shown is None else {
        "number": shown.record.number, "value": shown.record.value(metric),
        "text": value_text(shown.record.metrics, metric, scale=data.metric.scale, guardrails=data.guardrails),
        "params": shown.record.params,
        # As `best --json` says them: the re-runs' pick, whether it is told apart beyond noise (only then validated)
        # and from which candidates it is not, so that the page never calls a pick within noise validated.
        "validated": shown.validated, "rerun_pick": shown.record.number if shown.rerun else None,
        "separated": shown.separated,
        "not_told_apart_from": None if shown.not_told_apart_from is None else list(shown.not_told_apart_from),
        "label": shown.label, "search_best": shown.search.number,
        # all the other views say of the best beside it (`best --json` carries the same): what the re-runs found of
        # the winner and of the search's best, a scheduler's few trained fully, the trials it cannot be told from
        "note": shown.note, "ties": shown.ties, "few_trained": shown.few_trained,
    }  # fmt: skip
    latest = sorted(records, key=lambda r: r.number, reverse=True)[:LATEST]
    return json_safe(
        {
            "name": data.name,
            "metric": {"name": metric, "direction": data.metric.direction},
            "trials": len(records),
            "states": data.state_counts(),
            "gone": len(gone),  # RUNNING trials whose worker is gone (storage keeps them RUNNING until reaped)
            "usage": {
                "trials": usage.trials,
                "resource": usage.resource,
                "elapsed": usage.elapsed,
                "compute": usage.compute,
            },
            "budget": {
                "trials": data.budget.trials,
                "wall_seconds": data.budget.wall_seconds,
                "resource": data.budget.resource,
                "compute_seconds": data.budget.compute_seconds,
                "until_converged": data.budget.until_converged,
            },
            "fraction_spent": data.budget.fraction_spent(usage),
            "exhausted": data.budget.exhausted_by(usage),
            "converged": recorded_text(data.attrs, data.budget, data.metric),  # null unless it converged
            "best": best_json,
            "no_feasible": no_feasible_note(data),  # no best: every finished trial broke a guardrail
            "failed": failed_some_note(data.records, None),  # some trials failed beside the results: which, as status
            "front": _front_json(data),
            "verdict": verdict_json(info.attrs, records),  # null before finalize; the best is not ready until it says
            "latest": [trial_json(r, metric, gone.get(r.number)) for r in latest],
            # the timeline apart from the cache: a running trial's bar grows with the clock, not with what storage holds
            "figures": {**cache.figures(data), "timeline": _timeline(data, time.time() if now is None else now)},
        }
    )


def _timeline(data: ReportData, now: float) -> dict[str, Any]:
    """The report's timeline of the trials so far, running ones up to ``now`` (a figure that says none ran at once
    while none has: the report then leaves it out)."""
    return dict(json.loads(plots.timeline(data, timeline_lanes(data.records, now, data.gone)).to_json()))
