"""Advice on where to spend the budget, from importance, given only when the evidence supports it."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from tunesmith.analysis._common import format_value, round_sig
from tunesmith.analysis._edges import AT_THE_END
from tunesmith.analysis.importance import ALPHA, PLANTED, ImportanceResult, ParamImportance, percent
from tunesmith.objective import Metric
from tunesmith.pareto import pareto_front
from tunesmith.space import Float, Int, Space
from tunesmith.trial import TrialRecord, best_record

__all__ = [
    "DOMINANT_EFFECT",
    "LEAD_CONFIDENCE",
    "LITTLE_EFFECT",
    "MIN_ADVICE_TRIALS",
    "Suggestion",
    "budget_advice",
    "front_advice",
    "front_range_end_advice",
    "range_end_advice",
]

# "Little effect": a main effect (and every interaction with it) below this share of the variance of the metric's
# ranks (what importance fits: `importance._ranks`) ...
LITTLE_EFFECT = 0.05
# ... while the most important parameter explains at least this share.
DOMINANT_EFFECT = 0.2
# Advice on where to spend the budget needs this many trials measured, and the parameter named first must lead the
# next one at this confidence (`_lead`). The leader is the larger of the two shares, picked after looking, so a one-
# sided 97.5% keeps a true tie called a lead in 5% of studies (at 95%, 10%).
MIN_ADVICE_TRIALS = 30
LEAD_CONFIDENCE = 0.975
# How many standard deviations of the lead that confidence asks for.
_LEAD_Z = 1.959964
# The trials to run that advice asks for measure the missing ones in this share of runs (the planner's deck asks as
# much of a budget: `schedulers._deck.SURE`).
_SURE = 0.9
# Advice withheld because importance is not shown, where the importance note beside it says why (`Suggestion.said`).
_WITHHELD_BRIEF = ("no advice on where to spend the budget: the trials do not yet show which parameters matter (the "
                   "importance note says why, and what would show it)")  # fmt: skip


@dataclass(frozen=True)
class Suggestion:
    """A concrete change to the search, with the evidence behind it.

    ``withheld`` names the metric whose importance, not shown beyond chance, withholds advice on where to spend the
    budget (``None`` for any other suggestion): the importance note says the same reason at length, so a view that
    shows that note shortens this one to ``brief`` (`said`)."""

    text: str
    param: str | None = None
    because: str = ""
    withheld: str | None = None
    brief: str | None = None

    def said(self, told: str | None = None) -> str:
        """The sentence to show where the importance note of metric ``told`` is shown too: ``brief`` when this
        suggestion only repeats that note's reason, else ``text``."""
        return self.brief if told is not None and self.withheld == told and self.brief else self.text

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "param": self.param, "because": self.because}


def _lead(top: ParamImportance, runner_up: ParamImportance | None) -> float:
    """The confidence that ``top`` explains more than ``runner_up``: the normal probability of a lead above 0, its
    mean over the trees (paired, tree by tree) against its standard deviation over them (`_lead_spread`).

    Each tree is fitted on its own bootstrap resample of the trials, so that spread is what resampling the trials
    does to one tree's reading: it holds the trials' sampling noise, with room to spare (on a true tie of two
    parameters at 80 trials, 0.106 against the forest's own 0.066 across 24 studies). The share of trees that
    read ``top`` ahead did not: its tail is heavy, and 97% of the trees put one of two equal parameters ahead at
    1.5 standard deviations."""
    if runner_up is None:
        return 1.0
    difference, deviation = _lead_spread(top, runner_up)
    if deviation == 0.0:
        return 1.0 if difference > 0.0 else 0.0
    return float(0.5 * math.erfc(-difference / deviation / math.sqrt(2.0)))


def _lead_spread(top: ParamImportance, runner_up: ParamImportance) -> tuple[float, float]:
    """``top``'s lead over ``runner_up`` (its mean over the trees) and its standard deviation over them; without the
    trees' shares paired (a parameter the trials never varied has none), from the two means and standard deviations
    as if independent."""
    if not top.trees or len(top.trees) != len(runner_up.trees):
        return top.mean - runner_up.mean, math.hypot(top.std, runner_up.std)
    differences = np.array(top.trees) - np.array(runner_up.trees)
    return float(differences.mean()), float(differences.std())


def _trials_to_tell(result: ImportanceResult, top: ParamImportance, runner_up: ParamImportance) -> str:
    """Roughly how many trials would show a lead as large as the one seen at `LEAD_CONFIDENCE`, if it is real (the
    spread shrinks about as one over the square root of the trials); on a true tie none would."""
    mean, deviation = _lead_spread(top, runner_up)
    if mean <= 0 or deviation == 0:
        return "the two are indistinguishable so far: at least twice the trials would tell"
    needed = result.n_trials * (_LEAD_Z * deviation / mean) ** 2
    if needed > 10 * result.n_trials:
        return "the two are indistinguishable so far: at least ten times the trials would tell"
    return (f"about {max(1, math.ceil(needed - result.n_trials))} more trials would show a lead as large as the one "
            "seen, if it is real")  # fmt: skip


def _upper(item: ParamImportance) -> float:
    """A one-sided 95% upper bound of a parameter's share over trees."""
    return float(np.quantile(item.trees, 0.95)) if item.trees else item.mean + 1.645 * item.std


# What `_little`'s planted test found, for a suggestion's ``because``.
_PLANTED = (
    f"an effect of {LITTLE_EFFECT:.0%} of the ranks' variance planted in each of {PLANTED} data sets like the trials "
    "read a larger fANOVA share than theirs every time"
)
_BOUNDS = (
    f"in its fANOVA share, also set against data planted with a {LITTLE_EFFECT:.0%} effect of it, and in what "
    "a forest without it fails to predict"
)


def _of_what(result: ImportanceResult) -> str:
    """What a share divides: the part of the variation in the metric's ranks that the parameters predict, when that
    is known (importance fits the ranks, `importance._ranks`)."""
    if result.explained is None:
        return f"the variance of {result.metric}'s ranks"
    return (f"the part of the variation in {result.metric}'s ranks that the parameters predict "
            f"({percent(result.explained)}, out of bag)")  # fmt: skip


def _little(result: ImportanceResult, item: ParamImportance) -> bool:
    """Whether ``item`` is shown to have little effect: its fANOVA share's upper bound over trees and the one-sided
    95% bound of the share lost without it (`ImportanceResult.dropped`) are under `LITTLE_EFFECT`, and data planted
    with an effect of `LITTLE_EFFECT` read a larger share than the trials at `ALPHA`
    (`ImportanceResult.planted_p`). The first two are cheap, but a forest underrates a secondary effect and neither
    sees that bias (a 10% effect read as 1-5% on 30 random trials, and on 80 that TPE crowded near its optimum:
    "fix it" in 15% and 30% of studies); the planted effect carries the same bias, and holds the claim to 95%."""
    if _upper(item) >= LITTLE_EFFECT:
        return False
    dropped = result.dropped(item.name)
    if dropped is None or dropped[0] + 1.645 * dropped[1] >= LITTLE_EFFECT:
        return False
    p_value = result.planted_p(item.name, LITTLE_EFFECT)
    return p_value is not None and p_value <= ALPHA


def budget_advice(
    result: ImportanceResult, records: Sequence[TrialRecord], metric: Metric, *, best: TrialRecord | None = None
) -> list[Suggestion]:
    """Advice on where to spend the budget, given only when the evidence supports it: a parameter to
    tune first when it leads the next one at `LEAD_CONFIDENCE`, parameters to fix when even the upper
    bound of their share is small, and neither before `MIN_ADVICE_TRIALS` trials nor before the trials
    show that the parameters predict the metric beyond chance (`ImportanceResult.shown`) or that some parameter's
    main effect is beyond chance (`ImportanceResult.matters`; parameters to fix need the first): the two tests
    share `ALPHA`, so that pure noise releases advice in at most that share of studies (`ImportanceResult.released`).

    Args:
        result: the metric's importance.
        records: the study's trials.
        metric: the study's metric.
        best: the trial the views show as best, whose values the parameters to fix are fixed at: the seed re-runs'
            winner when it stands (`report._shown.shown_best`); default the search's best (`best_record`).
    """
    if not result.main or (result.main[0].mean < DOMINANT_EFFECT and not result.matters):
        return []
    withheld = _withheld(result, records)
    if withheld is not None:
        return [withheld]
    first = _first(result)
    # No parameter stands out (nothing to spend the budget on rather than the rest), or the forest's shares that
    # "little effect" reads are not shown beyond chance, or no parameter dominates them.
    if first.param is None or not _readable(result, records):
        return [first]
    top = result.of(first.param)
    if best is None:
        best = best_record(records, metric)  # never an invalidated trial
    named = _little_effects(result)
    little = [item for item in result.main if item.name in named and item.name != top.name]
    values = {item.name: best.params.get(item.name) for item in little} if best is not None else {}
    out = [first]
    if len(little) == 1:
        item = little[0]
        value = values.get(item.name)
        fix = (
            "fix it"
            if best is None or value is None
            else f"fix it at {format_value(value)} (as in trial #{best.number})"
        )
        out.append(
            Suggestion(
                f"{item.name} has little effect ({item.mean:.0%} of the variance of {result.metric}'s ranks, under "
                f"{LITTLE_EFFECT:.0%} at 95% {_BOUNDS}): {fix} and spend the budget on {top.name}",
                item.name,
                f"fANOVA main effect {item.mean:.1%} ± {item.std:.1%}; {_PLANTED}",
            )
        )
    elif little:
        names = ", ".join(f"{item.name} ({item.mean:.0%})" for item in little)
        fixed = ", ".join(f"{n}={format_value(v)}" for n, v in values.items() if v is not None)
        at = f" at trial #{best.number}'s values ({fixed})" if best is not None and fixed else ""
        out.append(
            Suggestion(
                f"{names} have little effect (each under {LITTLE_EFFECT:.0%} of the variance of {result.metric}'s "
                f"ranks at 95% {_BOUNDS}): fix them{at} and spend the budget on {top.name}",
                None,
                "; ".join([*(f"{item.name}: {item.mean:.1%} ± {item.std:.1%}" for item in little), _PLANTED]),
            )
        )
    return out


def front_advice(
    results: Sequence[ImportanceResult],
    records: Sequence[TrialRecord],
    objectives: Sequence[Metric],
    *,
    best: TrialRecord | None = None,
) -> list[Suggestion]:
    """Advice on where to spend the budget of a study with several objectives: for each objective, which
    parameter to tune first for it (as `budget_advice` decides, each statement naming its objective), and the
    parameters to fix only when they have little effect on every objective. A parameter that barely moves the
    first objective may drive another one: fixing it would give up that part of the front.

    Args:
        results: the importance of each objective (matched by name); an objective without one is not known to
            leave any parameter with little effect, so then no parameter is called little.
        records: the study's trials (the fixed values are taken from a trial of the Pareto front).
        objectives: every objective of the study, the first one first.
        best: the trial the views single out on the front (the recorded choice, `Study.choose`, which the seed
            re-runs validate): its values are quoted when it is on the Pareto front; default the front's best on
            the first objective.
    """
    by_name = {result.metric: result for result in results}
    out: list[Suggestion] = []
    bounds: list[set[str]] = []  # per objective: the parameters of little effect on it
    for objective in objectives:
        result = by_name.get(objective.name)
        said = _objective_advice(result, objective, records)
        out += [_for(objective, s) for s in said]
        # Only a parameter of little effect on the first objective can be one on every objective: the others
        # are not refitted without it.
        among = bounds[0] if bounds else None
        if result is not None and _readable(result, records):
            bounds.append(_little_effects(result, among))
        else:
            bounds.append(set())
    ranked = [item.name for item in by_name[objectives[0].name].main] if bounds and bounds[0] else []
    little = [name for name in ranked if all(name in each for each in bounds)]
    if not little:
        return out
    shares = {
        name: ", ".join(f"{by_name[o.name].of(name).mean:.0%} of {o.name}" for o in objectives) for name in little
    }
    front = pareto_front(records, objectives)
    kept = next((r for r in front if best is not None and r.number == best.number), None)
    if kept is None:
        kept = min(front, key=lambda r: (objectives[0].sign() * r.metrics[objectives[0].name], r.number), default=None)
    fixed = ", ".join(f"{name}={format_value(kept.params[name])}" for name in little if kept and name in kept.params)
    moves = "it moves" if len(little) == 1 else "they move"
    at = (f" at any value ({moves} no objective), e.g. as in trial #{kept.number} of the Pareto front ({fixed})"
          if kept is not None and fixed else "")  # fmt: skip
    rest = [item.name for item in by_name[objectives[0].name].main if item.name not in little]
    spend = f" and spend the budget on {', '.join(rest)}" if rest else ""
    names = ", ".join(f"{name} ({shares[name]})" for name in little)
    verb = "has" if len(little) == 1 else "have"
    out.append(
        Suggestion(
            f"{names} {verb} little effect on every objective (under {LITTLE_EFFECT:.0%} of the variance of each "
            f"one's ranks at 95% {_BOUNDS}): fix {'it' if len(little) == 1 else 'them'}{at}{spend}",
            little[0] if len(little) == 1 else None,
            "; ".join([*(f"{name}: {shares[name]}" for name in little), _PLANTED]),
        )
    )
    return out


def _objective_advice(
    result: ImportanceResult | None, objective: Metric, records: Sequence[TrialRecord]
) -> list[Suggestion]:
    """What one objective's importance says on its own: the parameter to tune first for it, or why none."""
    if result is None:
        return [Suggestion(f"no advice on where to spend the budget: {objective.name}'s importance is not measured "
                           "(too few finished trials with a finite value, or a value that never varies)")]  # fmt: skip
    if not result.main or (result.main[0].mean < DOMINANT_EFFECT and not result.matters):
        return []
    withheld = _withheld(result, records)
    return [withheld if withheld is not None else _first(result)]


def _readable(result: ImportanceResult, records: Sequence[TrialRecord]) -> bool:
    """Whether ``result``'s shares can support advice: one parameter explains a fair share, from enough trials
    whose forest predicts the metric beyond chance (`ImportanceResult.shown`; a main effect found alone, without
    it, names a parameter to tune first but leaves the shares unread)."""
    return (
        bool(result.main)
        and result.main[0].mean >= DOMINANT_EFFECT
        and result.shown
        and _withheld(result, records) is None
    )


def _withheld(result: ImportanceResult, records: Sequence[TrialRecord]) -> Suggestion | None:
    """Why ``result`` supports no advice yet (too few trials, or neither the forest nor any parameter's main effect
    shown beyond chance), else ``None``; a count of trials to measure is also said in trials to run when only some
    of ``records`` were measured (`_to_run`)."""
    evidence = _evidence(result)
    if result.n_trials < MIN_ADVICE_TRIALS:
        return Suggestion(
            f"no advice on where to spend the budget yet: {result.n_trials} trials measured, advice needs "
            f"{MIN_ADVICE_TRIALS}{_to_run(MIN_ADVICE_TRIALS - result.n_trials, result.n_trials, _finished(records))}",
            None, evidence,
        )  # fmt: skip
    if not result.released:
        counted = _counted(result.n_trials, _finished(records))
        return Suggestion(f"no advice on where to spend the budget: {result.explained_note()}{counted}", None, evidence,
                          withheld=result.metric, brief=_WITHHELD_BRIEF)  # fmt: skip
    return None


def _finished(records: Sequence[TrialRecord]) -> int:
    """The trials of ``records`` that ended: each could have been measured (a running one may still be)."""
    return sum(1 for record in records if record.state.is_finished)


def _to_run(missing: int, measured: int, finished: int) -> str:
    """``missing`` more trials to measure, in trials to run: under early stopping importance reads the trials that
    reached one rung, and 19 more measured at ASHA's rung 27 of 50 (eta 3) took about 27 times as many trials to
    run, where the advice had said 19. The trials to run measure ``missing`` in 9 runs of 10 (`_SURE`) if each one
    is measured with the share measured so far (``measured`` of ``finished``)."""
    if finished <= measured:
        return f" (about {missing} more)"
    runs = _runs_to_measure(missing, measured / finished)
    return (f": {missing} more must be measured, and {measured} of the {finished} trials finished were, so about "
            f"{runs} more trials to run (enough in 9 runs of 10 at that share)")  # fmt: skip


def _counted(measured: int, finished: int) -> str:
    """What a count of trials in an importance note counts when only some trials were measured (``""`` if all)."""
    if finished <= measured:
        return ""
    return (f" (a count of trials here counts trials measured, and {measured} of the {finished} trials finished were: "
            f"each trial measured takes about {finished / measured:.2g} trials to run)")  # fmt: skip


def _runs_to_measure(missing: int, share: float) -> int:
    """The fewest trials of which ``missing`` or more are measured in a `_SURE` share of runs, each measured with
    probability ``share`` on its own."""
    from scipy.stats import binom  # imported on first use: keeps `import tunesmith` light

    # Here the mean count stands over 2.5 of its standard deviations above ``missing``: the answer lies below.
    top = math.ceil((missing + 3.0 * math.sqrt(missing) + 3.0) / share) + 1
    runs = np.arange(missing, top + 1)
    sure = np.flatnonzero(binom.sf(missing - 1, runs, share) >= _SURE)
    return int(runs[sure[0]]) if sure.size else top


def _first(result: ImportanceResult) -> Suggestion:
    """The parameter to tune first (its ``param`` set), or that none stands out yet (``param`` ``None``): the largest
    share when it leads the next one at `LEAD_CONFIDENCE`, and, where some parameters' main effects are shown beyond
    chance (`ImportanceResult.matters`), is one of them (`_first_found`)."""
    if result.matters:
        return _first_found(result)
    top = result.main[0]
    runner_up = result.main[1] if len(result.main) > 1 else None
    lead = _lead(top, runner_up)
    if lead < LEAD_CONFIDENCE:
        assert runner_up is not None
        return Suggestion(
            f"no parameter stands out yet: {top.name} {top.mean:.0%} ± {top.std:.0%} against {runner_up.name} "
            f"{runner_up.mean:.0%} ± {runner_up.std:.0%}; {_trials_to_tell(result, top, runner_up)}", None,
            _evidence(result),
        )  # fmt: skip
    ahead = "" if runner_up is None else _ahead(top, runner_up, lead)
    return Suggestion(
        f"tune {top.name} first: it explains {top.mean:.0%} ± {top.std:.0%} of {_of_what(result)}{ahead}",
        top.name,
        _evidence(result),
    )


def _first_found(result: ImportanceResult) -> Suggestion:
    """`_first` where some parameters' main effects are shown beyond chance (`ImportanceResult.matters`: each by its
    own permutation test, Holm-corrected at its level, `MainEffectTest.level`, so a parameter without effect is found
    in at most `ALPHA` of studies).

    That a parameter matters does not make it matter most: of two with equal effects one may pass its test and the
    other narrowly miss it. So the found parameter of largest share is named to tune first only when it also leads
    the next share at `LEAD_CONFIDENCE` over the trees, as without a test; else the advice says what was found and
    that no parameter stands out yet. The forest's shares are quoted as a part of what the parameters predict only
    where its own test shows them (`ImportanceResult.shown`)."""
    found = sorted((result.of(name) for name in result.matters), key=lambda item: -item.mean)
    top = found[0]
    runner_up = next((item for item in result.main if item.name != top.name), None)
    evidence = "; ".join([_evidence(result), *(test.text() for test in result.effects if test.found)])
    if len(found) == 1:
        test = result.effect(top.name)
        assert test is not None
        seen = f"{top.name}'s main effect on {result.metric}'s ranks is beyond chance ({test.text()}), and no other "
        seen += "parameter's is yet"
    else:
        seen = f"{_listed([item.name for item in found])} each have a main effect on {result.metric}'s ranks beyond "
        seen += "chance"
    lead = _lead(top, runner_up)
    if runner_up is not None and lead < LEAD_CONFIDENCE:
        return Suggestion(
            f"no parameter stands out yet: {seen}, but {top.name}'s share {top.mean:.0%} ± {top.std:.0%} does not lead "
            f"{runner_up.name}'s {runner_up.mean:.0%} ± {runner_up.std:.0%} beyond the spread of the forest's trees; "
            f"{_trials_to_tell(result, top, runner_up)}", None, evidence,
        )  # fmt: skip
    share = (
        f"it explains {top.mean:.0%} ± {top.std:.0%} of {_of_what(result)}"
        if result.shown
        else f"its fANOVA share is {top.mean:.0%} ± {top.std:.0%} (the forest's shares are not shown beyond chance)"
    )
    ahead = "" if runner_up is None else _ahead(top, runner_up, lead)
    return Suggestion(f"tune {top.name} first: {seen}; {share}{ahead}", top.name, evidence)


def _listed(names: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _ahead(top: ParamImportance, runner_up: ParamImportance, lead: float) -> str:
    """``top``'s lead over ``runner_up`` in words, with its spread and the confidence `_lead` gives it."""
    difference, deviation = _lead_spread(top, runner_up)
    size = f" by {difference:.0%} ± {deviation:.0%} over the spread of the trees"
    confidence = "over 99.9%" if lead > 0.999 else f"{lead:.1%}"
    return (
        f"; more than {runner_up.name}{size} (each tree fitted on a bootstrap resample of the trials): a lead "
        f"at {confidence} confidence"
    )


def _evidence(result: ImportanceResult) -> str:
    return f"fANOVA over {result.n_trials} trials, {result.n_trees} trees"


def _little_effects(result: ImportanceResult, among: set[str] | None = None) -> set[str]:
    """The parameters after the first with little effect on ``result``'s metric (none of their interactions
    large either, see `_little`); only those ``among`` when given."""
    interacting = {name for pair in result.pairs if pair.mean >= LITTLE_EFFECT for name in pair.params}
    candidates = [item for item in result.main[1:] if item.name not in interacting]
    return {item.name for item in candidates if (among is None or item.name in among) and _little(result, item)}


def range_end_advice(
    result: ImportanceResult,
    space: Space,
    best: TrialRecord | None,
    *,
    best_is: str = "the best trial",
    failing: frozenset[tuple[str, str]] = frozenset(),
    traded: Mapping[tuple[str, str], str] | None = None,
) -> list[Suggestion]:
    """Advice to widen a numeric parameter's range past an end that may cut better configurations off: where the
    metric improves towards that end beyond chance (`RangeEndTest.found`, Holm over every end tested) and ``best``,
    the trial the views show as best, lies at it (its value at the bound, or within `AT_THE_END` of the range in
    the parameter's encoding). Neither alone is evidence enough (see `_edges`). An end with nothing beyond it on the
    parameter's scale (an `Int` of powers of a base, or a log `Int`, at 1) is not advised on. ``best_is`` names
    ``best`` in the advice. ``failing`` holds the ends, as ``(parameter, "low" | "high")``, beyond which a rule of the
    diagnosis put failed trials (``lr > 0.3`` for diverged ones): widening there would add failures, however the
    trials that did not fail improve towards it. ``traded`` (several objectives) holds the ends, as ``(parameter,
    "low" | "high")``, that another objective worsens towards beyond chance, with that objective's evidence in a
    clause: the advice there says that a wider range would extend the front into a trade-off, not reach better
    configurations."""
    if best is None:
        return []
    out: list[Suggestion] = []
    for test in result.ends:
        if not test.found or test.name not in space or (test.name, test.end) in failing:
            continue
        param = space[test.name]
        value = best.params.get(test.name)
        if not isinstance(param, Float | Int) or value is None:
            continue
        high = test.end == "high"
        bound = param.high if high else param.low
        u = param.encode(value)
        at_bound = value == bound
        if not (at_bound or (u >= 1.0 - AT_THE_END if high else u <= AT_THE_END)):
            continue
        wider = _widened(param, high)
        if wider is None:  # nothing lies beyond on the parameter's scale
            continue
        where = "at the bound" if at_bound else f"in the {'top' if high else 'bottom'} tenth of the range"
        shown = format_value(bound)
        scale = ", on its log scale" if _logged(param) else ""
        widen = f"widen the range to about {format_value(wider)} (a quarter of its span further{scale})"
        cost = (traded or {}).get((test.name, test.end))
        if cost is None:
            text = (f"{test.name}'s range may cut better configurations off {'above' if high else 'below'} {shown}: "
                    f"{result.metric} improves towards that end ({test.describe(result.metric)}), and {test.name} in "
                    f"{best_is}, {format_value(value)} (trial #{best.number}), lies {where}; {widen} unless {shown} "
                    f"is as far as {test.name} can go")  # fmt: skip
        else:  # the front's own trade-off: the end extends it, at a cost the other objective says
            text = (f"{test.name}'s range ends the front's trade-off {'above' if high else 'below'} {shown}: "
                    f"{result.metric} improves towards that end ({test.describe(result.metric)}) while {cost}, and "
                    f"{test.name} in {best_is}, {format_value(value)} (trial #{best.number}), lies {where}: a wider "
                    f"range would extend the front to better {result.metric} at that cost, not reach configurations "
                    f"better on both; {widen} only if that part of the trade-off is wanted")  # fmt: skip
        out.append(
            Suggestion(
                text,
                test.name,
                f"range end test: statistic {test.statistic:.3g}, p = {test.p_value:.3g}, Holm-adjusted "
                f"{test.adjusted:.3g} over {test.family} ends; {test.name}={format_value(value)} at u={u:.3f}",
            )
        )
    return out


def front_range_end_advice(
    results: Sequence[ImportanceResult],
    space: Space,
    front: Sequence[TrialRecord],
    objectives: Sequence[Metric],
    *,
    failing: frozenset[tuple[str, str]] = frozenset(),
) -> list[Suggestion]:
    """`range_end_advice` for a study of several objectives: for each objective whose importance was measured, an
    end it improves towards beyond chance where the Pareto ``front``'s best trial on that objective lies, each
    statement naming its objective. Widening the range there may extend the front along that objective; where
    another objective improves towards the other end beyond chance (a smaller model: lower latency, lower accuracy),
    the end is the front's own trade-off, and the advice says so rather than promise better configurations."""
    out: list[Suggestion] = []
    for result in results:
        objective = next((o for o in objectives if o.name == result.metric), None)
        if objective is None:
            continue
        best = min(front, key=lambda r: (objective.sign() * r.metrics[objective.name], r.number), default=None)
        on = f"the Pareto front's best trial on {objective.name}"
        traded: dict[tuple[str, str], str] = {}
        for other in results:
            if other is result:
                continue
            for test in other.ends:
                mine = (test.name, "low" if test.end == "high" else "high")  # this end, the other's worse one
                if test.found and mine not in traded:
                    traded[mine] = (f"{other.metric} improves towards the other end (p = {test.adjusted:.2g}, Holm "
                                    f"over its {test.family} range ends)")  # fmt: skip
        said = range_end_advice(result, space, best, best_is=on, failing=failing, traded=traded)
        out += [_for(objective, s) for s in said]
    return out


def _for(objective: Metric, suggestion: Suggestion) -> Suggestion:
    """``suggestion`` said of ``objective``, one of several."""
    brief = None if suggestion.brief is None else f"for {objective.name}: {suggestion.brief}"
    return replace(suggestion, text=f"for {objective.name}: {suggestion.text}", brief=brief)


def _logged(param: Float | Int) -> bool:
    """Whether the parameter's range is spread on a log scale (a log range, or an `Int` of powers of a base)."""
    return bool(param.log) or (isinstance(param, Int) and param.base is not None)


def _widened(param: Float | Int, high: bool) -> float | int | None:
    """The bound a quarter of the range's span (in its scale) past the end, on the parameter's grid: one more power
    for an `Int` of powers of a base, whole steps for a stepped range; ``None`` where no such value exists (a log
    range's low end cannot go below 1 for an `Int`)."""
    if isinstance(param, Int) and param.base is not None:
        if high:
            return param.high * param.base
        return param.low // param.base if param.low >= param.base else None
    if param.log:
        factor = (param.high / param.low) ** 0.25
        moved = param.high * factor if high else param.low / factor
        if isinstance(param, Int):
            whole = round(moved)
            return whole if whole >= 1 and whole != (param.high if high else param.low) else None
        return round_sig(moved, 2)
    span = param.high - param.low
    if param.step is not None:
        steps = max(1, round(span / param.step / 4))
        moved = steps * param.step
        bound = param.high + moved if high else param.low - moved
        return int(bound) if isinstance(param, Int) else round_sig(bound, 12)
    moved = round_sig(span / 4, 2)
    return param.high + moved if high else param.low - moved
