"""Advice on where to spend the budget, from importance, given only when the evidence supports it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunesmith.analysis._common import format_value
from tunesmith.analysis.importance import ImportanceResult, ParamImportance
from tunesmith.objective import Metric
from tunesmith.trial import TrialRecord, best_record

__all__ = ["DOMINANT_EFFECT", "LEAD_CONFIDENCE", "LITTLE_EFFECT", "MIN_ADVICE_TRIALS", "Suggestion", "budget_advice"]

# "Little effect": a main effect (and every interaction with it) below this share of the variance ...
LITTLE_EFFECT = 0.05
# ... while the most important parameter explains at least this share.
DOMINANT_EFFECT = 0.2
# Advice on where to spend the budget needs this many trials measured, and the parameter named
# first must explain more than the next one in this share of the forest's trees.
MIN_ADVICE_TRIALS = 30
LEAD_CONFIDENCE = 0.95


@dataclass(frozen=True)
class Suggestion:
    """A concrete change to the search, with the evidence behind it."""

    text: str
    param: str | None = None
    because: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "param": self.param, "because": self.because}


def _lead(top: ParamImportance, runner_up: ParamImportance | None) -> float:
    """The share of trees in which ``top`` explains more than ``runner_up`` (paired, tree by tree)."""
    if runner_up is None or not top.trees or len(top.trees) != len(runner_up.trees):
        return 1.0 if runner_up is None or top.mean - 2 * top.std > runner_up.mean + 2 * runner_up.std else 0.0
    return float(np.mean(np.array(top.trees) > np.array(runner_up.trees)))


def _trials_to_tell(result: ImportanceResult, top: ParamImportance, runner_up: ParamImportance) -> str:
    """Roughly how many trials would separate the two leading parameters (the spread over trees
    shrinks about as one over the square root of the trials)."""
    if not top.trees or len(top.trees) != len(runner_up.trees):
        return "more trials would tell"
    differences = np.array(top.trees) - np.array(runner_up.trees)
    mean, spread = float(differences.mean()), float(differences.std())
    if mean <= 0 or spread == 0:
        return "the two are indistinguishable so far: at least twice the trials would tell"
    needed = result.n_trials * (1.645 * spread / mean) ** 2
    if needed > 10 * result.n_trials:
        return "the two are indistinguishable so far: at least ten times the trials would tell"
    return f"about {max(1, math.ceil(needed - result.n_trials))} more trials would tell"


def _upper(item: ParamImportance) -> float:
    """A one-sided 95% upper bound of a parameter's share over trees."""
    return float(np.quantile(item.trees, 0.95)) if item.trees else item.mean + 1.645 * item.std


_BOUNDS = "in its fANOVA share and in what a forest without it fails to predict"


def _of_what(result: ImportanceResult) -> str:
    """What a share divides: the part of the metric's variation the parameters predict, when that is known."""
    if result.explained is None:
        return f"the variance of {result.metric}"
    return f"the part of {result.metric}'s variation the parameters predict ({result.explained:.0%}, out of bag)"


def _little(result: ImportanceResult, item: ParamImportance) -> float | None:
    """A one-sided 95% upper bound of the share of variance lost without ``item`` when both that and its fANOVA
    share's bound are under `LITTLE_EFFECT` (``None``: not shown to have little effect)."""
    if _upper(item) >= LITTLE_EFFECT:
        return None
    dropped = result.dropped(item.name)
    if dropped is None:
        return None
    bound = dropped[0] + 1.645 * dropped[1]
    return max(bound, _upper(item)) if bound < LITTLE_EFFECT else None


def budget_advice(result: ImportanceResult, records: Sequence[TrialRecord], metric: Metric) -> list[Suggestion]:
    """Advice on where to spend the budget, given only when the evidence supports it: a parameter to
    tune first when it leads the next one in 95% of the trees, parameters to fix when even the upper
    bound of their share is small, and neither before `MIN_ADVICE_TRIALS` trials."""
    if not result.main or result.main[0].mean < DOMINANT_EFFECT:
        return []
    top = result.main[0]
    runner_up = result.main[1] if len(result.main) > 1 else None
    evidence = f"fANOVA over {result.n_trials} trials, {result.n_trees} trees"
    if result.n_trials < MIN_ADVICE_TRIALS:
        return [Suggestion(
            f"no advice on where to spend the budget yet: {result.n_trials} trials measured, advice needs "
            f"{MIN_ADVICE_TRIALS} (about {MIN_ADVICE_TRIALS - result.n_trials} more)", None, evidence,
        )]  # fmt: skip
    if result.explains_nothing:
        return [Suggestion(
            f"no advice on where to spend the budget: {result.explained_note()}", None, evidence,
        )]  # fmt: skip
    if _lead(top, runner_up) < LEAD_CONFIDENCE:
        assert runner_up is not None
        return [Suggestion(
            f"no parameter stands out yet: {top.name} {top.mean:.0%} ± {top.std:.0%} against {runner_up.name} "
            f"{runner_up.mean:.0%} ± {runner_up.std:.0%}; {_trials_to_tell(result, top, runner_up)}", None, evidence,
        )]  # fmt: skip
    best = best_record(records, metric)  # never an invalidated trial
    out = [
        Suggestion(
            f"tune {top.name} first: it explains {top.mean:.0%} ± {top.std:.0%} of {_of_what(result)}"
            f"; more than {runner_up.name if runner_up else 'any other'} in {_lead(top, runner_up):.0%} of the trees",
            top.name,
            evidence,
        )
    ]
    interacting = {name for pair in result.pairs if pair.mean >= LITTLE_EFFECT for name in pair.params}
    bounds = {item.name: _little(result, item) for item in result.main[1:] if item.name not in interacting}
    little = [item for item in result.main[1:] if bounds.get(item.name) is not None]
    values = {item.name: best.params.get(item.name) if best is not None else None for item in little}
    if len(little) == 1:
        item = little[0]
        value = values[item.name]
        fix = f"fix it at {format_value(value)}" if value is not None else "fix it"
        out.append(
            Suggestion(
                f"{item.name} has little effect ({item.mean:.0%} of the variance, at most {bounds[item.name]:.0%} at "
                f"95%, {_BOUNDS}): {fix} and spend the budget on {top.name}",
                item.name,
                f"fANOVA main effect {item.mean:.1%} ± {item.std:.1%}",
            )
        )
    elif little:
        names = ", ".join(f"{item.name} ({item.mean:.0%})" for item in little)
        fixed = ", ".join(f"{n}={format_value(v)}" for n, v in values.items() if v is not None)
        at = f" at the best trial's values ({fixed})" if fixed else ""
        out.append(
            Suggestion(
                f"{names} have little effect (each at most {LITTLE_EFFECT:.0%} of the variance at 95%, {_BOUNDS}): "
                f"fix them{at} and spend the budget on {top.name}",
                None,
                "; ".join(f"{item.name}: {item.mean:.1%} ± {item.std:.1%}" for item in little),
            )
        )
    return out
