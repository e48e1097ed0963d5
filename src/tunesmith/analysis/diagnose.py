"""Failure diagnosis: which parameters explain each failure signature, and what to change.

For every signature that enough trials share, `diagnose` looks for the single rule on one
parameter (``lr > 0.04``, ``batch_size <= 64``, ``optimizer = sgd``) that best separates the
trials with that signature from the other judged trials (best F1 score over every cut between
observed values), keeps it when it covers most of those trials and is mostly right and when chance
cannot explain it, and turns it into a suggestion ("narrow lr to at most 0.04"). Chance is measured
by a permutation test (`_chance`): the trials' signatures are dealt to their configurations at random,
the best rule of every signature over every parameter and cut is found again, and a rule is kept only
when at most 5% of such shuffles find, for some signature, one as unlikely (``p``, stated with the rule).
So the failures' base rate counts, and so does the search over many parameters, cuts and signatures: a
rule picked out of hundreds looks good by luck, and so does the best of three signatures' rules.
A narrowing's bound is the rule's threshold rounded outward (towards keeping more of the range), short of the
region's nearest trial, so it keeps every trial outside the region; on a step grid (an `Int`, a `Float` with
``step``) it is the grid value nearest the threshold on the side kept, so the narrowed range is one the space
accepts. It is not advised when it would cut the best
trial or one within noise of it, and when the region holds all of the range but one end it says to move that end.
With an importance result it also names the parameters that barely matter, so the budget goes to the
ones that do. A study with several objectives has a front, not a best: a range is narrowed only when every
trial of the Pareto front stays inside it, and a parameter is called of little effect only when it is so on
every objective (`_advice.front_advice`, with an importance result per objective). A trial whose curve is too short
to judge (fewer than `SignatureThresholds.min_points` reports, neither diverged nor underfitting: one that ASHA
stopped at its first rung) is counted apart ("23 too short to judge"), not as healthy, and no rule is fitted to it.

Failures no curve shows are tested beside the signatures, in the same family, each by its trial kind's word and its
cause, as ``tunesmith trials --failed`` names them: an exception by its type ("exception (ValueError)"), a dead process
by its reason ("crash (killed by SIGSEGV)"), a timeout, and a result not finite by its metric ("non_finite (mem_mb)");
see `curves.Failure`. A complete trial that reported no curve but a finite final value did not fail: it is set
against the failures as the healthy trials are (it has no signature of its own), so a study whose objective never calls
``trial.report`` still gets its rules ("16 of 16 non_finite trials (loss) have lr > 0.01"), and its first line says how
many trials were judged by their results alone.

Example:
    >>> report = diagnose(study.trials, study.space, study.metric)
    >>> print("\\n".join(report.lines()))
    signatures of 100 trials: 15 diverged, 85 healthy
    14 of 15 diverged trials have lr > 0.04 (14 of 16 trials with lr > 0.04 diverged; p = 0.005 by chance)
    narrow lr to at most 0.04
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from tunesmith._trial_warnings import recorded
from tunesmith._validate import integer
from tunesmith.analysis._advice import (
    Suggestion,
    budget_advice,
    front_advice,
    front_range_end_advice,
    range_end_advice,
)
from tunesmith.analysis._chance import f1, family_p_values
from tunesmith.analysis._common import as_metric, format_value, round_sig, valid_records
from tunesmith.analysis.curves import (
    CurveDiagnosis,
    Failure,
    FailureDiagnosis,
    FailureKind,
    Signature,
    SignatureThresholds,
    curve_metric_of,
    judge_curves,
    signature_counts,
)
from tunesmith.analysis.importance import ImportanceResult
from tunesmith.objective import Guardrail, Metric
from tunesmith.pareto import pareto_front
from tunesmith.schedulers._noise import losses, study_noise
from tunesmith.space import Choice, Float, Int, Param, Space
from tunesmith.study._convergence import trial_noise
from tunesmith.trial import TrialRecord, TrialState, best_record

__all__ = ["Attribution", "Diagnosis", "Rule", "Suggestion", "Warned", "diagnose"]

Op = Literal[">", "<", ">=", "<=", "="]



@dataclass(frozen=True)
class Warned:
    """A kind of warning the objective raised in some trials (`tunesmith._trial_warnings`): no failure, since those
    trials gave results, but evidence about them (a model that did not converge), attributed as failures are. Its
    rule is said and no range is narrowed for it: the warned trials may score well. Where the warnings fell on trials
    at random (each of 30 trials warned with chance 0.3; three numeric parameters and a choice; 2,000 seeded studies
    under a random sampler), a rule was kept in 3.9% of studies (95% interval 3.0-4.7%)."""

    category: str
    where: str

    @property
    def value(self) -> str:
        return f"warned ({self.category} at {self.where})"

    @property
    def is_failure(self) -> bool:
        return False


# What a rule explains: a curve's failure signature, a failure no curve shows (an exception, a timeout...), or a kind
# of warning the objective raised.
Label = Signature | Failure | Warned

# A rule is kept when it covers this share of the signature's trials ...
MIN_RECALL = 0.6
# ... and this share of the trials it covers have the signature ...
MIN_PRECISION = 0.5
# ... and at most this share of random deals of the signatures give rules as good, across every signature
# tested (the permutation test, `_chance.family_p_values`).
ALPHA = 0.05


@dataclass(frozen=True)
class Rule:
    """A condition on one parameter: ``lr > 0.04``, ``batch_size <= 64``, ``optimizer = sgd``."""

    param: str
    op: Op
    value: Any

    def holds(self, params: Mapping[str, Any]) -> bool:
        """Whether a configuration satisfies the rule (an inactive parameter never does)."""
        if self.param not in params:
            return False
        v = params[self.param]
        if self.op == "=":
            return json.dumps(v) == json.dumps(self.value)
        if isinstance(v, bool) or not isinstance(v, int | float):
            return False
        return {">": v > self.value, "<": v < self.value, ">=": v >= self.value, "<=": v <= self.value}[self.op]

    def describe(self) -> str:
        return f"{self.param} {self.op} {format_value(self.value)}"

    def to_json(self) -> dict[str, Any]:
        return {"param": self.param, "op": self.op, "value": self.value}


@dataclass(frozen=True)
class Attribution:
    """The rule that best explains one signature, with its evidence.

    Attributes:
        signature: the failure signature explained, or the failure no curve shows (`curves.Failure`).
        rule: the rule on one parameter.
        matched: trials with the signature that satisfy the rule.
        total: trials with the signature.
        covered: judged trials that satisfy the rule (with or without the signature).
        p_value: how often chance alone explains a signature as well (`_chance.PERMUTATIONS` shuffles of the trials'
            signatures, the unshuffled ones counted too): the share of shuffles in which the best rule, over
            every parameter and cut, of some signature tested is as unlikely as this one's (min-P over the
            signatures, so showing several signatures does not raise the false alarms above `ALPHA`).
    """

    signature: Label
    rule: Rule
    matched: int
    total: int
    covered: int
    p_value: float | None = None

    def describe(self) -> str:
        chance = "" if self.p_value is None else f"; p = {self.p_value:.2g} by chance"
        return (
            f"{self.matched} of {self.total} {_trials(self.signature)} have {self.rule.describe()} "
            f"({self.matched} of {self.covered} trials with {self.rule.describe()} {_verb(self.signature)}{chance})"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "signature": self.signature.value,
            "rule": self.rule.to_json(),
            "matched": self.matched,
            "total": self.total,
            "covered": self.covered,
            "p_value": self.p_value,
            "text": self.describe(),
        }


@dataclass(frozen=True)
class Diagnosis:
    """Every trial's signature, the attributions and the suggestions.

    Attributes:
        curves: trial number -> signature, for every trial whose curve could be judged.
        too_short: trial number -> why not, for every finished trial whose curve is too short to judge (a trial
            ASHA stopped at its first rung): counted apart, neither healthy nor a failure, and left out of the
            attributions.
        failures: trial number -> how it failed, for every trial that failed in a way no curve shows (raised, died,
            timed out, or returned a metric not finite: `curves.Failure`), each attributed as a signature is.
        without_curve: the complete trials with a finite final value of the curve metric that reported no curve of
            it: no failure and no signature, set against the failures by the rules.
        no_curve: how many of the trials counted (judged, too short, failed or without a curve) reported no curve of
            the curve metric: those ``without_curve``, and failures such as a NaN returned or an exception before the
            first report.
        warned: the judged trials (failed, with a signature or without a curve) whose objective raised a warning;
            each kind that enough of them share is attributed as a failure is (`Warned`).
    """

    metric: str
    curves: dict[int, CurveDiagnosis]
    attributions: tuple[Attribution, ...]
    suggestions: tuple[Suggestion, ...]
    unfinished: int = 0  # trials that reported the metric but have not finished (running, or paused at a rung)
    objectives: tuple[str, ...] = ()  # every objective of a study with several (the curves are ``metric``'s)
    too_short: dict[int, str] = field(default_factory=dict)
    failures: dict[int, FailureDiagnosis] = field(default_factory=dict)
    without_curve: tuple[int, ...] = ()
    no_curve: int = 0
    warned: tuple[int, ...] = ()  # the counted trials whose objective raised a warning (`tunesmith._trial_warnings`)

    @property
    def counts(self) -> dict[Signature, int]:
        return signature_counts(self.curves)

    def signature_of(self, number: int) -> Signature | None:
        """The signature of trial ``number`` (``None`` when it was not judged, a curve too short to judge too)."""
        found = self.curves.get(number)
        return None if found is None else found.signature

    def lines(self, told: str | None = None) -> list[str]:
        """The diagnosis in sentences: counts, attributions, then suggestions (the advice on where to spend the
        budget is said whether or not the trials reported learning curves). ``told``: the metric whose importance
        note the view shows beside these lines, whose reason a withheld advice then does not repeat
        (`Suggestion.said`)."""
        suggestions = [s.said(told) for s in self.suggestions]
        # A rule over trials without curves (which warned) is a finding too: said after their counts.
        judged_any = bool(self.curves or self.too_short or self.failures or self.attributions)
        if not judged_any and self.unfinished:
            running = (f"{self.unfinished} trial{'s' * (self.unfinished != 1)} reported {self.metric!r} and "
                       f"{'is' if self.unfinished == 1 else 'are'} still running or paused at a rung")  # fmt: skip
            if self.without_curve:  # finished, with a result and no curve: "no finished trial" read beside "3 complete"
                done = len(self.without_curve)
                return [f"no curve to diagnose yet: the {done} finished trial{'s' * (done != 1)} reported no curve of "
                        f"{self.metric!r}, and {running}", *suggestions]  # fmt: skip
            return [f"no finished trial to diagnose yet: {running}", *suggestions]
        if not judged_any:
            return [f"no learning curves of {self.metric!r} to diagnose: report it at each step with trial.report()",
                    *suggestions]  # fmt: skip
        parts = [f"{n} {s.value}" for s, n in self.counts.items() if n]
        if self.too_short:  # a curve of one report is no evidence of health
            parts.append(f"{len(self.too_short)} too short to judge")
        kinds: dict[Failure, int] = {}
        for found in self.failures.values():
            kinds[found.failure] = kinds.get(found.failure, 0) + 1
        parts += [f"{n} {failure.value}" for failure, n in sorted(kinds.items(), key=lambda k: _order(k[0]))]
        if self.without_curve:  # finished with a finite value: not failed, yet no shape to call healthy
            parts.append(f"{len(self.without_curve)} complete without a curve")
        total = len(self.curves) + len(self.too_short) + len(self.failures) + len(self.without_curve)
        judged = f"{total} trials"
        several = len(self.objectives) > 1
        of = f"{self.metric}, one of {len(self.objectives)} objectives" if several else repr(self.metric)
        if self.no_curve == total:  # no curve to speak of: "learning curves of accuracy" would claim what none showed
            judged += f" (none reported a curve of {of}: judged by their results alone)"
        else:
            if several:  # the signatures, and the rules below, are about one objective's curves
                judged += f"' learning curves of {self.metric} (one of {len(self.objectives)} objectives)"
            if self.no_curve:
                blind = self.no_curve
                judged += f" ({blind} of them reported no curve of {self.metric!r}: judged by their results alone)"
        out = [f"signatures of {judged}: {', '.join(parts)}" + (f"; {len(self.warned)} warned" if self.warned else "")]
        out += [a.describe() for a in self.attributions]
        out += suggestions
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "objectives": list(self.objectives),
            "counts": {s.value: n for s, n in self.counts.items()},
            "trials": {str(n): {"signature": d.signature.value, "detail": d.detail} for n, d in self.curves.items()},
            "too_short": {str(n): why for n, why in self.too_short.items()},
            "failures": {str(n): {"failure": d.failure.value, "detail": d.detail} for n, d in self.failures.items()},
            "without_curve": list(self.without_curve),
            "warned": list(self.warned),
            "attributions": [a.to_json() for a in self.attributions],
            "suggestions": [s.to_json() for s in self.suggestions],
        }


def diagnose(
    records: Iterable[TrialRecord],
    space: Space,
    metric: Metric | str,
    *,
    importance: ImportanceResult | Sequence[ImportanceResult] | None = None,
    objectives: Sequence[Metric] = (),
    importance_level: float | None = None,
    curve_metric: Metric | str | None = None,
    guardrails: Sequence[Guardrail] = (),
    thresholds: SignatureThresholds | None = None,
    min_trials: int = 3,
    best: TrialRecord | None = None,
) -> Diagnosis:
    """Signatures of every trial, the parameters that explain them and what to change.

    Args:
        records: the study's trials (invalidated ones are left out).
        space: the study's space.
        metric: the study's metric (its direction orients the curves); with several objectives, the first.
        importance: when given (and the evidence supports it), the parameter to tune first and those
            with little effect to fix; with several objectives, one result per objective (matched by name).
        objectives: every objective of a study with several (``metric`` first): ranges are then narrowed only
            where no trial of the Pareto front lies outside, and advice names the objective it is about.
        importance_level: the resource (rung) importance was measured at, when below full training;
            the advice then says so.
        curve_metric: the reported metric to read curves from, in its own direction (default: ``metric``): a
            `Metric`, or the name of one of ``objectives`` or ``guardrails`` (any other name is refused).
        guardrails: the study's guardrails, whose metrics a curve may be read from.
        thresholds: the signature rules' thresholds.
        min_trials: the fewest trials a signature needs before it is attributed.
        best: the trial the views show as best (`report._shown.shown_best`: the seed re-runs' winner when it
            stands), which a narrowing must keep and whose values the advice fixes; with several objectives, the
            recorded choice (`Study.choose`). Default: the search's best (`best_record`), or with several
            objectives the Pareto front's best on the first.

    Returns:
        The diagnosis.
    """
    integer("min_trials", min_trials, minimum=1)
    metric_ = as_metric(metric)
    records = valid_records(records)
    curve = curve_metric_of(metric_, curve_metric, (*objectives, *guardrails))
    # A non-finite objective or guardrail says training blew up; a NaN in any other metric of a result need not.
    judgements = judge_curves(
        records, metric_, curve_metric=curve, declared=(*objectives, *guardrails), thresholds=thresholds
    )
    # A curve too short to judge is no evidence either way: it is neither a failure nor a healthy trial to a rule. A
    # complete trial without a curve did not fail: without it, a study reporting no curves has only failures to judge.
    curves = judgements.signatures
    failures = judgements.failures
    labels: dict[int, Label | None] = {n: d.signature for n, d in curves.items()}
    labels.update({n: d.failure for n, d in failures.items()})
    labels.update(dict.fromkeys(judgements.without_curve))
    judged = [r for r in records if r.number in labels]
    attributions: list[Attribution] = []
    suggestions: list[Suggestion] = []
    several = len(objectives) > 1
    if best is None and not several:
        best = best_record(records, metric_)
    front = pareto_front(records, objectives) if several else []
    healthy = [r for r in judged if labels[r.number] is Signature.HEALTHY]
    near_best = _within_noise_of_best(records, metric_, best, healthy)
    # Every failure signature and every failure no curve shows, shared by enough trials, is tested, whatever its rule
    # turns out to be: the family the permutation test adjusts for is fixed before any rule is looked at.
    failed: list[Failure] = sorted({d.failure for d in failures.values()}, key=_order)
    kinds: list[Label] = [*(s for s in Signature if s.is_failure), *failed]
    positives = {kind: np.array([labels[r.number] == kind for r in judged], dtype=bool) for kind in kinds}
    # The kinds of warning the objective raised join the family: which trials warned is a labelling as a failure is.
    warned = {r.number: {Warned(*w.kind) for w in recorded(r.attrs)} for r in judged}
    for kind in sorted(set().union(*warned.values()), key=lambda k: (k.category, k.where)):
        positives[kind] = np.array([kind in warned[r.number] for r in judged], dtype=bool)
    tested = {s: positive for s, positive in positives.items() if positive.sum() >= min_trials}
    p_values = family_p_values(judged, tested, space)
    for signature, positive in tested.items():
        found = _best_rule(judged, positive, space)
        if found is None or found.matched < min_trials or p_values[signature] > ALPHA:
            continue
        attributions.append(
            Attribution(signature, found.rule, found.matched, int(positive.sum()), found.covered, p_values[signature])
        )
        if isinstance(signature, Warned):
            continue
        param = space[found.rule.param]
        inside = [r for r in judged if found.rule.holds(r.params)]
        region = [] if found.rule.op == "=" else [float(r.params[found.rule.param]) for r in inside]
        bug = signature if isinstance(signature, Failure) and _code_error(signature) else None
        narrowing = None if bug is not None else _narrowing(found.rule, param, signature, region)
        suggestion = None if narrowing is None else narrowing.text
        if bug is not None:
            suggestion = _fix_the_code(found.rule, bug)
        elif narrowing is None and found.rule.op != "=":
            suggestion = _no_room(found.rule, param)
        elif narrowing is not None and several:
            suggestion = _narrowing_on_front(narrowing, front)
        elif narrowing is not None and best is not None:
            suggestion = _narrowing_keeping_best(narrowing, best, near_best)
        if suggestion is not None:
            suggestions.append(Suggestion(suggestion, found.rule.param, attributions[-1].describe()))
    results = [importance] if isinstance(importance, ImportanceResult) else list(importance or ())
    if results:
        # An end beyond which a rule put failed trials is not one to widen.
        failing = frozenset((a.rule.param, "high" if a.rule.op in (">", ">=") else "low") for a in attributions
                            if a.rule.op != "=" and not isinstance(a.signature, Warned))  # fmt: skip
        # Where to spend the budget is a choice among parameters: with one, "tune it first" said nothing, and "no
        # advice yet: about 91 more trials to run" sent a search on for advice it could never give.
        among = len(space.dimensions) > 1
        if several:
            advice = front_advice(results, records, objectives, best=best) if among else []
            advice += front_range_end_advice(results, space, front, objectives, failing=failing)
        else:
            advice = budget_advice(results[0], records, metric_, best=best) if among else []
            advice += range_end_advice(results[0], space, best, failing=failing)
        if importance_level is not None:
            weaker = f" (measured at resource {importance_level:g}, not after full training: weaker evidence)"
            advice = [replace(a, text=a.text + weaker) for a in advice]
        suggestions += advice
    name = curve.name
    unfinished = sum(
        1 for r in records if not r.state.is_finished and any(name in values for values in r.intermediate.values())
    )
    names = tuple(o.name for o in objectives) if several else ()
    counted = {*labels, *judgements.too_short}
    no_curve = sum(1 for r in records if r.number in counted and not r.curve(name))
    return Diagnosis(
        metric_.name,
        curves,
        tuple(attributions),
        tuple(suggestions),
        unfinished,
        names,
        judgements.too_short,
        failures,
        judgements.without_curve,
        no_curve,
        tuple(sorted(n for n, kinds in warned.items() if kinds)),
    )


@dataclass(frozen=True)
class _Found:
    rule: Rule
    matched: int
    covered: int
    score: float


def _best_rule(judged: Sequence[TrialRecord], positive: np.ndarray, space: Space) -> _Found | None:
    best: _Found | None = None
    for name in space.dimensions:
        param = space[name]
        if isinstance(param, Choice):
            found = _best_category(name, param, judged, positive)
        elif isinstance(param, Float | Int):
            found = _best_cut(name, param, judged, positive)
        else:
            found = None
        if found is not None and (best is None or found.score > best.score):
            best = found
    if best is None:
        return None
    total = int(positive.sum())
    if best.matched < MIN_RECALL * total or best.matched < MIN_PRECISION * best.covered:
        return None
    return best


def _best_category(name: str, param: Choice, judged: Sequence[TrialRecord], positive: np.ndarray) -> _Found | None:
    if len(param.options) < 2:
        return None
    keys = [json.dumps(r.params[name]) if name in r.params else None for r in judged]
    best: _Found | None = None
    total = int(positive.sum())
    for option in param.options:
        inside = np.array([k == json.dumps(option) for k in keys], dtype=bool)
        matched, covered = int((inside & positive).sum()), int(inside.sum())
        score = float(f1(np.array(matched), np.array(covered), total))
        if covered and (best is None or score > best.score):
            best = _Found(Rule(name, "=", option), matched, covered, score)
    return best


def _best_cut(name: str, param: Float | Int, judged: Sequence[TrialRecord], positive: np.ndarray) -> _Found | None:
    """The cut ``param > t`` or ``param < t`` with the best F1 for the positive trials."""
    values = np.array(
        [float(r.params[name]) if isinstance(r.params.get(name), int | float) else math.nan for r in judged]
    )
    active = np.isfinite(values)
    if active.sum() < 2:
        return None
    total = int(positive.sum())
    x, pos = values[active], positive[active]
    order = np.argsort(x, kind="stable")
    x, pos = x[order], pos[order]
    distinct, first = np.unique(x, return_index=True)
    if len(distinct) < 2:
        return None
    # Cut k lies between distinct[k-1] and distinct[k]: "below" holds the first first[k] trials.
    below_n = first[1:]
    below_pos = np.cumsum(pos)[below_n - 1]
    above_n = len(x) - below_n
    above_pos = int(pos.sum()) - below_pos
    f1_above = f1(above_pos, above_n, total)
    f1_below = f1(below_pos, below_n, total)
    k_above, k_below = int(np.argmax(f1_above)), int(np.argmax(f1_below))
    if f1_above[k_above] >= f1_below[k_below]:
        k, upper, score = k_above, True, float(f1_above[k_above])
        matched, covered = int(above_pos[k]), int(above_n[k])
    else:
        k, upper, score = k_below, False, float(f1_below[k_below])
        matched, covered = int(below_pos[k]), int(below_n[k])
    lo, hi = float(distinct[k]), float(distinct[k + 1])
    return _Found(_cut_rule(name, param, lo, hi, upper), matched, covered, score)


def _cut_rule(name: str, param: Float | Int, lo: float, hi: float, upper: bool) -> Rule:
    """A readable rule that splits observed values ``<= lo`` from ``>= hi``."""
    if isinstance(param, Int):
        return Rule(name, ">=", int(hi)) if upper else Rule(name, "<=", int(lo))
    middle = math.sqrt(lo * hi) if param.log else (lo + hi) / 2.0
    threshold = middle
    for digits in (1, 2, 3):
        candidate = round_sig(middle, digits)
        if (lo <= candidate < hi) if upper else (lo < candidate <= hi):
            threshold = candidate
            break
    return Rule(name, ">" if upper else "<", threshold)


# Exceptions that a bug in the objective's code raises (a name, key, attribute or index it looks up; a call with the
# wrong arguments; a failed assertion), not a configuration that cannot train: a region of the space where they are
# raised is code to fix, never a range to drop. A ValueError or a RuntimeError may be a library refusing a
# combination of parameters (a solver that takes no such penalty), which narrowing the space answers.
CODE_ERRORS = frozenset({
    "AssertionError", "AttributeError", "ImportError", "IndentationError", "IndexError", "KeyError",
    "ModuleNotFoundError", "NameError", "NotImplementedError", "SyntaxError", "TypeError", "UnboundLocalError",
})  # fmt: skip


def _code_error(failure: Failure) -> bool:
    """Whether ``failure`` is an exception that a bug in the objective's code raises (`CODE_ERRORS`)."""
    return failure.kind is FailureKind.EXCEPTION and failure.cause.rpartition(".")[2] in CODE_ERRORS


def _fix_the_code(rule: Rule, signature: Failure) -> str:
    """The advice for a code error confined to ``rule``'s region: fix the code that region runs, not the space. It
    advised dropping the option (``drop sgd from opt's options``), hiding the bug, while the samplers, steered away
    from the failures, had left the region unsearched."""
    return (f"fix the objective's code for {rule.describe()}: {signature.cause} is a programming error (a name, key, "
            "attribute or argument the code gets wrong there), not a configuration that cannot train, and those "
            "trials gave no result, so the samplers steer away and that region goes unsearched; fix it, then retry "
            "the failures (tunesmith retry, or study.retry_failed())")


def _verb(signature: Label) -> str:
    if isinstance(signature, Warned):
        return "warned"
    if isinstance(signature, Failure):
        cause = signature.cause
        return {
            FailureKind.EXCEPTION: f"raised {cause}",
            FailureKind.OUT_OF_MEMORY: f"ran out of memory ({cause})",
            FailureKind.CRASH: f"crashed ({cause})",
            FailureKind.TIMEOUT: "timed out",
            FailureKind.NON_FINITE: f"had {cause} not finite",
        }[signature.kind]
    return {
        Signature.DIVERGED: "diverged",
        Signature.UNSTABLE: "were unstable",
        Signature.OVERFITTING: "overfit",
        Signature.UNDERFITTING: "underfit",
        Signature.HEALTHY: "were healthy",
    }[signature]


def _trials(signature: Label) -> str:
    """The trials with ``signature``, as a count names them: ``diverged trials``, ``exception trials (MemoryError)``,
    ``timeout trials``."""
    if isinstance(signature, Warned):
        return f"trials that warned ({signature.category} at {signature.where})"
    if isinstance(signature, Failure):
        cause = f" ({signature.cause})" if signature.cause else ""
        return f"{signature.kind.value} trials{cause}"
    return f"{signature.value} trials"


def _order(failure: Failure) -> tuple[str, str]:
    """Failures in a fixed order (by kind, then by cause), so that the same trials read the same."""
    return (failure.kind.name, failure.cause)


@dataclass(frozen=True)
class _Narrowing:
    """A change of one parameter's range: keep ``param op bound`` (``!=``: drop that option)."""

    param: str
    op: Literal["<=", ">=", "!="]
    bound: Any
    text: str

    def keeps(self, params: Mapping[str, Any]) -> bool:
        """Whether a configuration stays inside the narrowed range (an inactive parameter always does)."""
        if self.param not in params:
            return True
        value = params[self.param]
        if self.op == "!=":
            return json.dumps(value) != json.dumps(self.bound)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return True
        return bool(value <= self.bound) if self.op == "<=" else bool(value >= self.bound)


# Pareto-front trials named when a narrowing would cut them.
FRONT_NAMED = 3


def _narrowing_on_front(narrowing: _Narrowing, front: Sequence[TrialRecord]) -> str:
    """The narrowing's text when every trial of the Pareto front stays inside it; else why it is not advised (the
    front trades one objective for another, and a failure signature is read from one objective's curves)."""
    cut = [r for r in front if not narrowing.keeps(r.params)]
    if not front:
        return narrowing.text
    if not cut:
        return f"{narrowing.text} (every trial of the Pareto front lies inside)"
    named = ", ".join(f"#{r.number} ({narrowing.param}={format_value(r.params[narrowing.param])})"
                      for r in cut[:FRONT_NAMED])  # fmt: skip
    more = f" and {len(cut) - FRONT_NAMED} more" if len(cut) > FRONT_NAMED else ""
    return (f"{narrowing.param} is not narrowed: it would cut {len(cut)} of the {len(front)} trials of the Pareto "
            f"front ({named}{more}), which trade one objective for another")  # fmt: skip


@dataclass(frozen=True)
class _NearBest:
    """The trials a narrowing must keep besides the best: those whose final value noise alone could have ranked
    first (within ``margin`` of the best's, in ``metric``'s units, by the curves' step noise; ``margin`` 0: exact
    ties), or within two standard errors of the difference by the noise their results carry (``measured``: a
    per-example standard error, a count, folds; `study._convergence.trial_noise`)."""

    trials: tuple[TrialRecord, ...]
    margin: float
    metric: str
    measured: bool = False


# A trial is within noise of the best when its final value trails the best's by less than this many standard
# errors of the difference of two final values (two-sided 95%: a narrowing errs towards keeping a trial).
NEAR_BEST_Z = 1.959964


def _within_noise_of_best(
    records: Sequence[TrialRecord], metric: Metric, best: TrialRecord | None, healthy: Sequence[TrialRecord]
) -> _NearBest:
    """The trials that qualify as best (`best_record`'s rule) and trail ``best`` by less than noise explains.

    The noise is the median step-to-step noise of the healthy trials' curves of ``metric`` (`study_noise`; a
    diverged curve's swings are not measurement noise), and two final values differ by ``sqrt(2)`` times it; where
    the best and a trial both carry the noise of their results (`trial_noise`: a per-example standard error, a
    count, folds: what `status` and the report read to say which trials the search cannot tell from the best), the
    larger of the two margins holds, so that no advice cuts a trial the same screen calls within noise.
    """
    best_value = None if best is None else best.value(metric.name)
    if best is None or best_value is None:
        return _NearBest((), 0.0, metric.name)
    sign = 1.0 if metric.direction == "min" else -1.0
    noise = study_noise(losses(r, metric.name, sign) for r in healthy)
    margin = NEAR_BEST_Z * math.sqrt(2.0) * noise
    best_noise = trial_noise(best, metric)
    near, measured = [], False
    for record in records:
        value = record.value(metric.name)
        if record.number == best.number or record.state is not TrialState.COMPLETE or value is None:
            continue
        own = trial_noise(record, metric)
        # two standard errors, as `report._data.within_noise_of_best` reads them for every view's tie note
        by_results = None if best_noise is None or own is None else 2.0 * math.hypot(best_noise, own)
        if sign * (value - best_value) <= margin:
            near.append(record)
        elif by_results is not None and sign * (value - best_value) < by_results:
            near.append(record)
            measured = True
    return _NearBest(tuple(near), margin, metric.name, measured)


def _narrowing_keeping_best(narrowing: _Narrowing, best: TrialRecord, near_best: _NearBest) -> str:
    """The narrowing's text when it keeps the best trial and every trial within noise of it; else why it is not
    advised (it would rule out the best result so far, or one that noise alone kept from being best)."""
    name = narrowing.param
    if not narrowing.keeps(best.params):
        return (f"{name} is not narrowed: the best trial, #{best.number} ({name}={format_value(best.params[name])}), "
                "lies in that region")  # fmt: skip
    cut = [r for r in near_best.trials if not narrowing.keeps(r.params)]
    if not cut:
        return narrowing.text
    named = ", ".join(f"#{r.number} ({name}={format_value(r.params[name])})" for r in cut[:FRONT_NAMED])
    more = f" and {len(cut) - FRONT_NAMED} more" if len(cut) > FRONT_NAMED else ""
    count = "1 trial" if len(cut) == 1 else f"{len(cut)} trials"
    how = ("within two standard errors of the difference, by the noise the results carry" if near_best.measured
           else f"within {format_value(near_best.margin)}, what the curves' step-to-step noise allows a difference at "
           "95%" if near_best.margin > 0 else "tied exactly")  # fmt: skip
    return (f"{name} is not narrowed: it would cut {count} whose {near_best.metric} is within noise of the best's, "
            f"#{best.number} ({how}): {named}{more}")  # fmt: skip


def _no_room(rule: Rule, param: Param) -> str:
    """Why a numeric rule gets no narrowing: its region covers the whole range but the one end, so the search
    should reach past that end instead."""
    assert isinstance(param, Float | Int)
    low, high = format_value(param.low), format_value(param.high)
    end, fix = ("low", "lower") if rule.op in (">", ">=") else ("high", "raise")
    return (f"{rule.param} is not narrowed: {rule.describe()} holds on all of its range {low}-{high} but the "
            f"{end} end, so no narrower range avoids it; {fix} the {end} end to search beyond "
            f"{format_value(rule.value)}")  # fmt: skip


def _narrowing(rule: Rule, param: Param, signature: Label, region: Sequence[float]) -> _Narrowing | None:
    """The range change that avoids ``rule``'s region and keeps every trial outside it; ``None`` when none stays
    in the range. ``region``: the values of the judged trials inside the region (a float bound stays short of them).
    """
    name = rule.param
    if rule.op == "=":
        if isinstance(param, Choice) and len(param.options) > 1:
            text = f"drop {format_value(rule.value)} from {name}'s options (it {_verb(signature)} most often)"
            return _Narrowing(name, "!=", rule.value, text)
        return None
    if isinstance(param, Int):
        # The values in ascending order (a `range` for a plain or stepped grid): searched by bisection, since
        # listing them took 0.8 s and 530 MB for Int(1, 2e7).
        allowed = param.values()
        if rule.op == ">=":
            if allowed is None:
                bound: int | None = math.ceil(rule.value) - 1
            else:
                at = bisect.bisect_left(allowed, rule.value)
                bound = allowed[at - 1] if at > 0 else None
            if bound is None or bound < param.low:
                return None
            return _Narrowing(name, "<=", bound, f"narrow {name} to at most {bound}")
        if allowed is None:
            bound = math.floor(rule.value) + 1
        else:
            at = bisect.bisect_right(allowed, rule.value)
            bound = allowed[at] if at < len(allowed) else None
        if bound is None or bound > param.high:
            return None
        return _Narrowing(name, ">=", bound, f"narrow {name} to at least {bound}")
    assert isinstance(param, Float)
    # Every trial outside the region lies on the threshold's safe side, the best among them, so a bound rounded
    # outward from the threshold keeps them all; it stops short of the region's nearest trial.
    threshold = float(rule.value)
    upper = rule.op == ">"
    if param.step is not None:
        # A bound off the grid is refused by ts.Float (high - low must be a whole number of steps); the grid value
        # on the threshold's safe side keeps every trial outside the region, as they all lie on the grid.
        bound_f = _grid_bound(param, threshold, at_most=upper)
        shown = repr(bound_f)
    elif upper:
        bound_f, shown = _round_outward(threshold, up=True, short_of=min(region, default=math.inf))
    else:
        bound_f, shown = _round_outward(threshold, up=False, short_of=max(region, default=-math.inf))
    if upper:
        return None if bound_f <= param.low else _Narrowing(name, "<=", bound_f, f"narrow {name} to at most {shown}")
    return None if bound_f >= param.high else _Narrowing(name, ">=", bound_f, f"narrow {name} to at least {shown}")


def _grid_bound(param: Float, value: float, *, at_most: bool) -> float:
    """The largest value of ``param``'s step grid at most ``value`` (``at_most``), or the smallest at least it; the
    grid's end when none is. The grid is read through ``encode``/``decode`` (each value owns an equal bin of the unit
    interval), so a grid of any size costs nothing."""
    count = int(param.cardinality())
    index = min(count - 1, math.floor(param.encode(value) * count))
    nearest = param.decode((index + 0.5) / count)
    # A threshold that is itself a grid value may differ from it by rounding alone: it is then that value.
    slack = 1e-9 * float(param.step or 0.0)
    if at_most and nearest > value + slack:
        index -= 1
    elif not at_most and nearest < value - slack:
        index += 1
    return param.decode((max(0, min(count - 1, index)) + 0.5) / count)


# The most significant digits a narrowing's bound is rounded to before it falls back on the rule's threshold.
_BOUND_DIGITS = 6


def _round_outward(value: float, *, up: bool, short_of: float) -> tuple[float, str]:
    """``value`` rounded up (or down) to the fewest significant digits that stay short of ``short_of``, with its
    text (``0.275`` up: ``0.3``; short of 0.29: ``0.28``); ``value`` itself when none does."""
    for digits in range(1, _BOUND_DIGITS + 1):
        rounded = _round_sig_towards(value, digits, up=up)
        if (rounded < short_of) if up else (rounded > short_of):
            return rounded, f"{rounded:.{digits}g}"
    return value, repr(value)


def _round_sig_towards(value: float, digits: int, *, up: bool) -> float:
    """``value`` rounded up or down to ``digits`` significant digits (``0.27`` up to 1: ``0.3``; down: ``0.2``)."""
    if value == 0 or not math.isfinite(value):
        return value
    scale = 10.0 ** (math.floor(math.log10(abs(value))) - digits + 1)
    units = value / scale
    if math.isclose(units, round(units), rel_tol=1e-9):  # already round: 0.3 / 0.1 is 2.9999999999999996
        units = float(round(units))
    else:
        units = float(math.ceil(units) if up else math.floor(units))
    return round_sig(units * scale, digits)
