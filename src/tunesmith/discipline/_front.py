"""The discipline on a multi-objective study: it works on the trial `Study.choose` recorded.

A front has no single best, so `validate_top` and `finalize` refuse such a study until a choice is
recorded; then they re-run and judge the chosen configuration on the primary objective, and report
the front around it (its neighbours on the front ordered by the primary objective).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tunesmith.choose import neighbours
from tunesmith.discipline.verdict import Check
from tunesmith.errors import ConfigError
from tunesmith.trial import TrialRecord

if TYPE_CHECKING:
    from tunesmith.study import Study

__all__ = ["chosen_from_front", "front_around", "front_check", "several_objectives"]


def several_objectives(study: Study) -> bool:
    return len(study.objectives) > 1


def chosen_from_front(study: Study, what: str) -> TrialRecord:
    """The trial `Study.choose` recorded; refused (naming `study.choose`) when there is none."""
    chosen = study.chosen
    if chosen is None:
        names = ", ".join(m.name for m in study.objectives)
        raise ConfigError(
            f"{what} needs one configuration, but study {study.name!r} has several objectives ({names}) and no "
            "recorded choice: pick one from the Pareto front first with study.choose(ts.choose.knee()) (or "
            "ts.choose.best('<metric>', bounds={...}), ts.choose.weights({...}))"
        )
    return chosen


def front_around(study: Study, chosen: TrialRecord) -> list[TrialRecord]:
    """``chosen``'s neighbours on the current front (by the primary objective); empty when it left the front."""
    front = study.pareto_front
    if all(r.number != chosen.number for r in front):
        return []
    return neighbours(front, chosen, study.metric)


def describe(record: TrialRecord, study: Study) -> str:
    values = ", ".join(f"{m.name} {record.metrics.get(m.name, float('nan')):.4g}" for m in study.objectives)
    return f"#{record.number} ({values})"


def front_check(study: Study, chosen: TrialRecord) -> Check:
    """The verdict's line on the front: the chosen trial, the rule, and its neighbours (information only)."""
    around = front_around(study, chosen)
    beside = "; neighbours on the front: " + ", ".join(describe(r, study) for r in around) if around else ""
    on_front = any(r.number == chosen.number for r in study.pareto_front)
    where = f"of {len(study.pareto_front)} on the front" if on_front else "no longer on the front"
    return Check("Pareto front", True, f"chosen {describe(chosen, study)}, {where}{beside}")
