"""The discipline on a multi-objective study: it works on the trial `Study.choose` recorded.

A front has no single best, so `validate_top` and `finalize` refuse such a study until a choice is
recorded; then they re-run and judge the chosen configuration on the primary objective, and report
the front around it (its neighbours on the front ordered by the primary objective).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tunesmith.attributes import ChoiceAttr, read_attr
from tunesmith.choose import neighbours
from tunesmith.discipline.gap import Z_ONE_SIDED_95, noise_of
from tunesmith.discipline.verdict import Check
from tunesmith.errors import ConfigError
from tunesmith.objective import Metric
from tunesmith.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from tunesmith.study import Study

__all__ = [
    "beyond_noise",
    "chosen_from_front",
    "dominates",
    "front_around",
    "front_check",
    "near_front",
    "several_objectives",
]


def several_objectives(study: Study) -> bool:
    return len(study.objectives) > 1


def chosen_from_front(study: Study, what: str) -> TrialRecord:
    """The trial `Study.choose` recorded; refused (naming `study.choose`) when there is none."""
    chosen = study.chosen
    choice = read_attr(study.attrs, ChoiceAttr)
    if chosen is None and choice is not None:
        void = next((r for r in study.trials if r.number == choice.trial), None)
        why = f" ({void.invalidated})" if void is not None and void.invalidated else ""
        raise ConfigError(
            f"{what} needs one configuration, but the recorded choice of study {study.name!r}, trial #{choice.trial}, "
            f"was invalidated since{why}: choose again from the Pareto front with study.choose(...) (the rule was "
            f"{choice.rule.get('name', choice.rule)})"
        )
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
    """The verdict's line on the front: the chosen trial and its neighbours; when trials run since the choice
    dominate it, it fails (the choice is no longer what its rule picks), or is undecided when every one of them
    dominates it only within the recorded noise of the objectives."""
    around = front_around(study, chosen)
    beside = "; neighbours on the front: " + ", ".join(describe(r, study) for r in around) if around else ""
    front = study.pareto_front
    if any(r.number == chosen.number for r in front):
        return Check("Pareto front", True, f"chosen {describe(chosen, study)}, of {len(front)} on the front{beside}")
    better = [r for r in front if dominates(r, chosen, study.objectives)]
    if not better:
        return Check("Pareto front", True, f"chosen {describe(chosen, study)}, no longer on the front")
    clear = [r for r in better if beyond_noise(r, chosen, study.objectives)]
    named = ", ".join(describe(r, study) for r in (clear or better)[:3])
    fix = "choose again (study.choose(rule)), then re-run validate_top and finalize (force=True)"
    if clear:
        return Check("Pareto front", False, f"chosen {describe(chosen, study)} is dominated by {named}, run since "
                     f"the choice, beyond the noise: it is no longer what its rule would pick; {fix}")  # fmt: skip
    detail = (f"chosen {describe(chosen, study)} is dominated by {named}, but only within the recorded noise of "
              f"the objectives: the evidence cannot tell them apart; more examples would decide, or {fix}")  # fmt: skip
    return Check("Pareto front", True, detail, decided=False)


def near_front(front: Sequence[TrialRecord], records: Sequence[TrialRecord],
               objectives: Sequence[Metric]) -> list[TrialRecord]:  # fmt: skip
    """The COMPLETE ``records`` off the ``front`` that it dominates only within the recorded noise of the
    objectives: every front member that dominates one beats it on no objective beyond one-sided 95% of the
    difference's standard error, so the front cannot be told from them. Only records whose every objective
    carries its noise count (a difference of unknown noise is taken as real, as `beyond_noise` takes it)."""
    on_front = {r.number for r in front}
    near = []
    for record in records:
        if record.number in on_front or any(noise_of(record.metrics, m.name) is None for m in objectives):
            continue
        if record.state is not TrialState.COMPLETE or any(m.name not in record.metrics for m in objectives):
            continue
        dominating = [r for r in front if dominates(r, record, objectives)]
        if dominating and not any(beyond_noise(r, record, objectives) for r in dominating):
            near.append(record)
    return near


def dominates(a: TrialRecord, b: TrialRecord, objectives: Sequence[Metric]) -> bool:
    losses = [(m.sign() * a.metrics[m.name], m.sign() * b.metrics[m.name]) for m in objectives]
    return all(x <= y for x, y in losses) and any(x < y for x, y in losses)


def beyond_noise(a: TrialRecord, b: TrialRecord, objectives: Sequence[Metric]) -> bool:
    """Whether ``a`` beats ``b`` beyond noise (one-sided 95%) on some objective; with no noise recorded for an
    objective, any difference there counts."""
    for m in objectives:
        gain = m.sign() * (b.metrics[m.name] - a.metrics[m.name])
        errors = [n.stderr for r in (a, b) if (n := noise_of(r.metrics, m.name)) is not None]
        if gain <= 0:
            continue
        if not errors:
            return True
        # the standard error of the difference; with one side's noise unknown, the other's taken for it
        difference = math.hypot(errors[0], errors[-1]) if len(errors) == 2 else math.sqrt(2.0) * errors[0]
        if gain > Z_ONE_SIDED_95 * difference:
            return True
    return False
