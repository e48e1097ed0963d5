"""The discipline on a multi-objective study: it works on the trial `Study.choose` recorded.

A front has no single best, so `validate_top` and `finalize` refuse such a study until a choice is
recorded; then they re-run the chosen configuration (the verdict judges its seed spread on every objective,
and the baseline margin whether the baseline dominates it), and report the front around it (its neighbours on
the front ordered by the primary objective). A choice goes stale as trials run after it: the front check fails
one dominated beyond the noise, and re-applies the recorded rule to the current front (`reapply_choice`).
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from statistics import NormalDist
from typing import TYPE_CHECKING

from tunesmith._noise import metric_noise
from tunesmith.attributes import ChoiceAttr, read_attr
from tunesmith.choose import from_json, neighbours
from tunesmith.discipline.verdict import Check
from tunesmith.errors import ConfigError
from tunesmith.objective import Metric
from tunesmith.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from tunesmith.study import Study

__all__ = [
    "DOMINANCE_LEVEL",
    "Dominance",
    "Dominators",
    "Reapplied",
    "Staleness",
    "chosen_from_front",
    "dominance",
    "dominates",
    "dominators",
    "front_around",
    "front_check",
    "near_front",
    "noise_unknown",
    "reapply_choice",
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
            "ts.choose.best('<metric>', bounds={...}), ts.choose.weights({...})), or from the command line with "
            f"tunesmith choose {shlex.quote(study.name)} --knee (or --best, --weight)"
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


class Staleness(Enum):
    """What the recorded choice's rule, re-applied to the current front, says of the chosen trial
    (`reapply_choice`)."""

    CURRENT = "current"  # it picks the chosen trial still
    WITHIN_NOISE = "within_noise"  # it picks another, but the chosen one lies within the noise of it by the rule
    NOISE_UNKNOWN = "noise_unknown"  # it picks another; the noise of what the rule reads is not recorded
    STALE = "stale"  # it picks another, the chosen one behind it beyond the noise


@dataclass(frozen=True)
class Reapplied:
    """The recorded rule re-applied to the current front (`reapply_choice`): the trial it picks now, how that
    stands with the chosen one (``staleness``) and ``detail`` in words (with the fix when it is not current)."""

    staleness: Staleness
    chosen: TrialRecord
    picked: TrialRecord
    detail: str


def reapply_choice(study: Study, chosen: TrialRecord | None = None, *, opened: bool = True) -> Reapplied | None:
    """The rule `Study.choose` recorded, re-applied to the current Pareto front: whether it picks ``chosen`` (the
    recorded trial when ``None``) still, and if not whether ``chosen`` lies behind the new pick beyond the recorded
    noise of what the rule reads (`tunesmith.choose.Pick`: each score's standard error, at the level the knee
    reads its extremes, shared among the trials the rule ranks). ``None`` when no choice is recorded, ``chosen``
    is not the recorded trial, or it has left the front (`front_check` judges what dominates it). ``opened``: the
    holdout was opened on ``chosen`` (the fix then opens it again, forced)."""
    choice = read_attr(study.attrs, ChoiceAttr)
    chosen = chosen if chosen is not None else study.chosen
    if choice is None or chosen is None or chosen.number != choice.trial:
        return None
    front = study.pareto_front
    if all(r.number != chosen.number for r in front):
        return None
    rule = from_json(choice.rule)
    # The rule met the chosen trial, on the front still, so it cannot be refused here (no bound unmet).
    picked = rule.judge(front, study.objectives or (study.metric,))
    if picked.chosen.number == chosen.number:
        return Reapplied(Staleness.CURRENT, chosen, chosen, f"its rule {rule.describe()} picks it still")
    new = "" if picked.chosen.number in choice.front else ", run since the choice"
    then = f" (its recorded reason was given on the front of {len(choice.front)})" if choice.front else ""
    said = (f"its rule {rule.describe()}, re-applied to the current front of {len(front)}, now picks "
            f"{describe(picked.chosen, study)}{new}{then}")  # fmt: skip
    fix = f"choose again (study.choose({rule.describe()})), {_then(opened)}"
    behind, cut = picked.standing(chosen.number), picked.cut
    if cut is None or behind is None:
        lacking = ", ".join(picked.unrecorded) or "what the rule reads"
        return Reapplied(Staleness.NOISE_UNKNOWN, chosen, picked.chosen, (
            f"{said}; no standard errors were recorded for {lacking}, so whether #{chosen.number} lies within noise "
            f"of it is unknown: return per-example values (a list or an array) for {lacking} so that the check can "
            f"judge it, or {fix}"))  # fmt: skip
    if math.isinf(behind):  # behind on exact values: stale, whatever the cut
        return Reapplied(Staleness.STALE, chosen, picked.chosen, f"{said}: #{chosen.number} lies behind it by the rule "
                         f"on values of no noise, so it is no longer what its rule picks; {fix}")  # fmt: skip
    standing = f"#{chosen.number} lies {behind:.1f} standard errors behind it by the rule"
    if behind > cut:
        return Reapplied(Staleness.STALE, chosen, picked.chosen, f"{said}: {standing}, beyond the noise (more than "
                         f"{cut:.1f}), so it is no longer what its rule picks; {fix}")  # fmt: skip
    return Reapplied(Staleness.WITHIN_NOISE, chosen, picked.chosen, (
        f"{said}, but {standing}, within the noise (up to {cut:.1f}): the evidence cannot tell which of the two the "
        f"rule picks; more examples per evaluation would decide, or {fix}"))  # fmt: skip


def _then(opened: bool) -> str:
    """What follows choosing again: after the holdout was opened on the old choice, a forced opening."""
    return "then re-run validate_top and finalize (force=True)" if opened else "then re-run validate_top and finalize"


def front_check(study: Study, chosen: TrialRecord, *, opened: bool = True) -> Check:
    """The verdict's line on the front: the chosen trial and its neighbours. When trials run since the choice
    dominate it, it fails if one of them dominates it beyond the recorded noise (`dominators`: on every objective,
    with the level shared among them), else it is undecided: within the noise, or with the noise of an objective
    unknown (then it leans, as the slice and shift checks do on unknown noise). On the front still, it re-applies
    the recorded rule (`reapply_choice`): it fails when the rule now picks another trial beyond the noise of the
    chosen one, is undecided when within it, and leans when that noise is not recorded. ``opened``: as for
    `reapply_choice` (`finalize` reads the check before the holdout opens, to refuse a choice it fails on)."""
    around = front_around(study, chosen)
    beside = "; neighbours on the front: " + ", ".join(describe(r, study) for r in around) if around else ""
    front = study.pareto_front
    if any(r.number == chosen.number for r in front):
        on = f"chosen {describe(chosen, study)}, of {len(front)} on the front"
        again = reapply_choice(study, chosen, opened=opened)
        if again is None or again.staleness is Staleness.CURRENT:
            return Check("Pareto front", True, f"{on}{beside}")
        detail = f"{on}, but {again.detail}{beside}"
        if again.staleness is Staleness.STALE:
            return Check("Pareto front", False, detail)
        unknown = again.staleness is Staleness.NOISE_UNKNOWN
        return Check("Pareto front", True, detail, decided=False, leans=unknown)
    found = dominators(front, chosen, study.objectives)
    if not found.members:
        return Check("Pareto front", True, f"chosen {describe(chosen, study)}, no longer on the front")
    fix = f"choose again (study.choose(rule)), {_then(opened)}"
    if found.beyond:
        named = ", ".join(describe(r, study) for r in found.beyond[:3])
        return Check("Pareto front", False, f"chosen {describe(chosen, study)} is dominated by {named}, run since "
                     f"the choice, beyond the noise on every objective: it is no longer what its rule would pick; "
                     f"{fix}")  # fmt: skip
    if found.unknown:
        named = ", ".join(describe(r, study) for r in found.unknown[:3])
        lacking = ", ".join(noise_unknown(found.unknown[0], chosen, study.objectives))
        detail = (f"chosen {describe(chosen, study)} is dominated by {named}, run since the choice, but no standard "
                  f"errors were recorded for {lacking}, so whether this is beyond noise is unknown: return per-example "
                  f"values (a list or an array) for {lacking} so that the check can judge it, or {fix}")  # fmt: skip
        return Check("Pareto front", True, detail, decided=False, leans=True)
    named = ", ".join(describe(r, study) for r in found.within[:3])
    detail = (f"chosen {describe(chosen, study)} is dominated by {named}, but only within the recorded noise of "
              f"the objectives: the evidence cannot tell them apart; more examples would decide, or {fix}")  # fmt: skip
    return Check("Pareto front", True, detail, decided=False)


def near_front(front: Sequence[TrialRecord], records: Sequence[TrialRecord],
               objectives: Sequence[Metric]) -> list[TrialRecord]:  # fmt: skip
    """The COMPLETE ``records`` off the ``front`` that it dominates only within the recorded noise of the
    objectives: every front member that dominates one is within the noise on some objective whose noise is
    recorded (`dominators`: dominance beyond noise needs every objective), so the front cannot be told from them.
    A record without noise on any objective never counts: whether the front dominates it beyond noise is unknown,
    not within it; nor does one beyond the noise wherever it is recorded and of unknown noise elsewhere. An
    objective without noise beside a noisy one (an exact latency beside an error rate) no longer hides a trial
    within the error rate's noise of the front: it had, and status said nothing of it."""
    on_front = {r.number for r in front}
    near = []
    for record in records:
        if record.number in on_front or all(metric_noise(record.metrics, m) is None for m in objectives):
            continue
        if record.state is not TrialState.COMPLETE or any(m.name not in record.metrics for m in objectives):
            continue
        found = dominators(front, record, objectives)
        if found.members and len(found.within) == len(found.members):
            near.append(record)
    return near


def dominates(a: TrialRecord, b: TrialRecord, objectives: Sequence[Metric]) -> bool:
    losses = [(m.sign() * a.metrics[m.name], m.sign() * b.metrics[m.name]) for m in objectives]
    return all(x <= y for x, y in losses) and any(x < y for x, y in losses)


# One-sided: the chance that a trial which does not truly dominate another is said to dominate it beyond the
# noise, shared (Bonferroni) among the front members that dominate it, so that with many of them near a trial the
# chance that one passes by luck stays at this level.
DOMINANCE_LEVEL = 0.05


class Dominance(Enum):
    """How far a trial that dominates another does so, read on the recorded noise (`dominance`)."""

    BEYOND_NOISE = "beyond_noise"  # beyond the noise on every objective
    WITHIN_NOISE = "within_noise"  # within the noise on an objective whose noise is known
    NOISE_UNKNOWN = "noise_unknown"  # beyond it wherever the noise is known, but unknown on some objective


def dominance(a: TrialRecord, b: TrialRecord, objectives: Sequence[Metric], compared: int = 1) -> Dominance:
    """Whether ``a``, which dominates ``b``, does so beyond the recorded noise.

    Dominance beyond noise must hold on every objective (an intersection-union test, each objective at the full
    level): ``a``'s gain must exceed the one-sided `DOMINANCE_LEVEL` / ``compared`` quantile of the difference's
    standard error, or, where that error is exactly 0, be a gain or a tie. Beating ``b`` beyond noise on one
    objective while the other is within it says nothing of which is better there: on a straight true trade-off
    (400 examples a trial) that rule failed the front check in 63 of 200 studies, this one in 0 (1 without
    sharing the level). With one side's noise unknown, the other's stands for it; with neither's, the
    objective's difference cannot be judged.

    Args:
        a: the dominating trial.
        b: the dominated trial.
        objectives: the study's objectives.
        compared: how many trials are judged against ``b`` at once (each gets the level's share).
    """
    z = NormalDist().inv_cdf(1.0 - DOMINANCE_LEVEL / max(compared, 1))
    unknown = False
    for m in objectives:
        gain = m.sign() * (b.metrics[m.name] - a.metrics[m.name])
        error = _difference_error(a, b, m)
        if error is None:
            unknown = True
        elif not (gain > z * error if error > 0 else gain >= 0):
            return Dominance.WITHIN_NOISE
    return Dominance.NOISE_UNKNOWN if unknown else Dominance.BEYOND_NOISE


def _difference_error(a: TrialRecord, b: TrialRecord, metric: Metric) -> float | None:
    """The standard error of ``a`` minus ``b`` on objective ``metric``; with one side's noise unknown, the other's
    taken for it; ``None`` when neither side's is known."""
    errors = [n.stderr for r in (a, b) if (n := metric_noise(r.metrics, metric)) is not None]
    if not errors:
        return None
    return math.hypot(errors[0], errors[-1]) if len(errors) == 2 else math.sqrt(2.0) * errors[0]


def noise_unknown(a: TrialRecord, b: TrialRecord, objectives: Sequence[Metric]) -> list[str]:
    """The objectives on which neither ``a`` nor ``b`` records its noise."""
    return [m.name for m in objectives if _difference_error(a, b, m) is None]


@dataclass(frozen=True)
class Dominators:
    """The front members that dominate a trial (``members``, in the front's order), split by `Dominance`."""

    members: tuple[TrialRecord, ...] = ()
    beyond: tuple[TrialRecord, ...] = ()
    unknown: tuple[TrialRecord, ...] = ()
    within: tuple[TrialRecord, ...] = ()


def dominators(front: Sequence[TrialRecord], record: TrialRecord, objectives: Sequence[Metric]) -> Dominators:
    """The members of ``front`` that dominate ``record``, each judged by `dominance` with the level shared among
    them all (Bonferroni), since any one of them passing by luck would call ``record`` dominated."""
    members = tuple(r for r in front if dominates(r, record, objectives))
    judged = [(r, dominance(r, record, objectives, compared=len(members))) for r in members]
    return Dominators(
        members,
        beyond=tuple(r for r, d in judged if d is Dominance.BEYOND_NOISE),
        unknown=tuple(r for r, d in judged if d is Dominance.NOISE_UNKNOWN),
        within=tuple(r for r, d in judged if d is Dominance.WITHIN_NOISE),
    )
