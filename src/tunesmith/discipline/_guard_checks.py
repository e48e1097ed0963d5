"""The verdict's checks on guardrails: each guardrail on the chosen configuration, and proxy overfitting
(a calibration metric, a watched metric or a guardrail not on a cost degrading as the primary metric improves among
the best trials)."""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tunesmith._noise import metric_noise
from tunesmith.attributes import ChoiceAttr, SeedStabilityAttr, read_attr
from tunesmith.choose import Best, Weights, from_json
from tunesmith.discipline._front import several_objectives
from tunesmith.discipline._reruns import SeedRun, across_runs, completed
from tunesmith.discipline.conventions import holdout_key, holdout_keys
from tunesmith.discipline.gap import Noise, noise_of
from tunesmith.discipline.guardrails import (
    GuardrailOutcome,
    GuardrailReading,
    PrimaryTie,
    ProxyFinding,
    _bounds_a_cost,
    _guarded_metric,
    _reads_as_calibration,
    proxy_scan,
    read_guardrail,
    unmeasured_zero,
)
from tunesmith.discipline.verdict import Check
from tunesmith.errors import ConfigError, TunesmithError
from tunesmith.objective import Guardrail, Metric, metric_named
from tunesmith.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from tunesmith.study import Study

__all__ = ["WatchedMetrics", "guardrail_check", "proxy_check", "proxy_watch"]

#: What ``finalize(..., watch=)`` takes: metrics to watch for proxy overfitting, as `Metric` or bare names.
WatchedMetrics = Sequence[Metric | str]


def guardrail_check(study: Study, record: TrialRecord, scores: Mapping[str, float]) -> Check:
    """Each guardrail on every measurement of the chosen configuration: the holdout when ``scores`` measure it
    (under the names `holdout_keys` reads for a metric), and its seed re-runs (`validate_top`'s selection and
    confirmation runs, read as a mean with the seeds' noise); its single search result only when neither
    measured it. Each is decided beyond its noise (`read_guardrail`): a breach in any fails, a reading the
    evidence cannot decide in any leaves the guardrail undecided, and so does a re-run that breached it on its
    own. As a breach in any reading decides, each is read for a breach at 5% shared among the readings of known
    noise (`_judge`). A reading of unknown noise inside the bound shows nothing either way: the guardrail holds
    only when a reading with known noise shows it. An undecided guardrail fails the check, which says what would
    decide it: a winner is ready only when its guardrails are shown to hold.

    The bounds of the ``choose.best`` rule that chose ``record`` on a study of several objectives are judged as
    guardrails too (`_bounds_of_choice`): the rule read them on the search's one noisy value of each trial, so a
    bound is shown to hold only on the same evidence as a guardrail."""
    name = "guardrails"
    bounds = _bounds_of_choice(study, record)
    if not study.guardrails and not bounds:
        return Check(name, True, "the study declares no guardrails", checked=False)
    reruns = _Reruns.of(study, record.number)
    lines, outcomes = [], []
    for guardrail in study.guardrails:
        outcome, line = _judge(guardrail, record, scores, reruns, _Pick.of(study, record, guardrail.metric))
        outcomes.append(outcome)
        lines.append(line)
    for bound in bounds:
        # Unlike a guardrail, a bound does not make a run beyond it INFEASIBLE: it bounds the chosen configuration's
        # value, read on the mean of its runs with their noise, not each run's.
        outcome, line = _judge(bound, record, scores, reruns, _Pick.of(study, record, bound.metric), each_run=False)
        outcomes.append(outcome)
        lines.append(f"the bound of its choice (study.choose) {line}")
    passed = all(o is GuardrailOutcome.HELD for o in outcomes)
    if GuardrailOutcome.UNDECIDED in outcomes and GuardrailOutcome.BREACHED not in outcomes:
        lines.append("a winner is ready only when its guardrails are shown to hold")
    decided = GuardrailOutcome.BREACHED in outcomes or GuardrailOutcome.UNDECIDED not in outcomes
    return Check(name, passed, "; ".join(lines), decided=decided)


@dataclass(frozen=True)
class _Reruns:
    """The judged trial's own seed re-runs that completed (a failed run measured nothing): those that picked it
    and those on fresh seeds after the pick."""

    trial: int
    selection: tuple[SeedRun, ...]
    confirmation: tuple[SeedRun, ...]

    @classmethod
    def of(cls, study: Study, trial: int) -> _Reruns:
        stability = read_attr(study.attrs, SeedStabilityAttr)
        if stability is None or stability.candidate(trial) is None:
            return cls(trial, (), ())
        return cls(trial, tuple(completed(stability.runs, trial)), tuple(completed(stability.confirm_runs, trial)))

    def measuring(self, metric: str) -> tuple[tuple[SeedRun, ...], str]:
        """The runs that measured ``metric``, and which they are in words."""
        selection = tuple(run for run in self.selection if metric in run.metrics)
        confirmation = tuple(run for run in self.confirmation if metric in run.metrics)
        said = f"{len(selection)} re-runs of trial #{self.trial}"
        if confirmation:
            said = f"{len(selection)} selection and {len(confirmation)} confirmation re-runs of trial #{self.trial}"
        return (*selection, *confirmation), said


@dataclass(frozen=True)
class _Pick:
    """How the pick of the judged trial read a guarded metric: among the readings of ``compared`` configurations
    (1: it did not read the metric, beyond a breach making a trial INFEASIBLE), ``how`` in words."""

    compared: int = 1
    how: str = ""

    @classmethod
    def of(cls, study: Study, record: TrialRecord, metric: str) -> _Pick:
        """The pick that chose ``record``: the search's best on the study's metric, or the rule `Study.choose`
        recorded, which reads ``metric`` when it is `choose.best`'s metric or a bound of it, weighs it, or is the
        knee (which reads every objective). Every trial that measured ``metric`` counts, the INFEASIBLE ones too:
        their readings were drawn as well, and falling beyond the bound is what kept them from being picked."""
        how = ""
        if several_objectives(study):
            choice = read_attr(study.attrs, ChoiceAttr)
            if choice is not None and choice.trial == record.number and _reads(choice.rule, metric, study):
                how = f"study.choose: {choice.why}"
        elif metric == study.metric.name:
            how = f"the search's best {metric}"
        if not how:
            return cls()
        compared = sum(1 for r in study.trials if r.invalidated is None and r.value(metric) is not None
                       and r.state in (TrialState.COMPLETE, TrialState.INFEASIBLE))  # fmt: skip
        return cls(max(compared, 1), how)


def _bounds_of_choice(study: Study, record: TrialRecord) -> tuple[Guardrail, ...]:
    """The bounds of the ``choose.best`` rule `Study.choose` recorded when it chose ``record`` (empty for another
    rule, another trial, or one objective), less any the study declares as a guardrail already."""
    if not several_objectives(study):
        return ()
    choice = read_attr(study.attrs, ChoiceAttr)
    if choice is None or choice.trial != record.number:
        return ()
    rule = from_json(choice.rule)
    return tuple(b for b in rule.bounds if b not in study.guardrails) if isinstance(rule, Best) else ()


def _reads(rule: Mapping[str, object], metric: str, study: Study) -> bool:
    """Whether a recorded `choose` rule reads ``metric`` to pick a trial of the front."""
    picked = from_json(rule)
    if isinstance(picked, Best):
        return picked.metric == metric or any(bound.metric == metric for bound in picked.bounds)
    if isinstance(picked, Weights):
        return dict(picked.weights).get(metric, 0.0) > 0
    return metric in {m.name for m in study.objectives}  # the knee reads every objective


_SHOWN = {GuardrailOutcome.HELD: "held", GuardrailOutcome.BREACHED: "breached",
          GuardrailOutcome.UNDECIDED: "not shown to hold"}  # fmt: skip


def _judge(guardrail: Guardrail, record: TrialRecord, scores: Mapping[str, float], reruns: _Reruns,
           pick: _Pick, *, each_run: bool = True) -> tuple[GuardrailOutcome, str]:  # fmt: skip
    """One guardrail on every source that measured it: its outcome (the worst of theirs) and the detail. The
    search's single result, read only when nothing else measured it, was favoured by the ``pick``: held needs
    more of it (`read_guardrail`'s ``chosen_inside`` and ``compared``). ``each_run``: a re-run beyond the bound
    breaches it on its own (a guardrail, which makes such a run INFEASIBLE), else only the runs' mean is read.

    A breach in any reading decides, so each reading of known noise is read for a breach at 5% shared among them
    (`read_guardrail`'s ``readings``, Bonferroni): a latency on its bound, read on 50 holdout values and 10 re-runs,
    read breached in 12.4% of 394 verdicts each at 5%, in 5.1% at 2.5% each. Held needs every reading to hold,
    which no share lowers."""
    measured: list[tuple[str, float, Noise | None]] = []
    read: list[str] = []
    key = holdout_key(Metric(guardrail.metric, "min"), scores)
    if key is not None:
        measured.append(("on the holdout", scores[key], noise_of(scores, key)))
        read.append("the holdout")
    runs, said = reruns.measuring(guardrail.metric)
    # Selection and confirmation runs are pooled: the same configuration on fresh seeds each time. The pick read
    # the guardrail only to bar a breach beyond noise, and a single breaching run is judged on its own below.
    across = across_runs(runs, guardrail.metric)
    if across is not None:
        measured.append(("across the re-runs", across[0], across[1]))
        read.append(said)
    alone = [(where, read_guardrail(guardrail, value, noise)) for where, value, noise in measured]
    # A point of unknown (or no) noise breaches on the point, not by chance at a level: it takes no share.
    shares = max(1, sum(1 for _, reading in alone if _by_chance(reading)))
    readings = [(where, read_guardrail(guardrail, value, noise, readings=shares)) for where, value, noise in measured]
    favoured = ""
    if readings:
        read.append("not the search's single result")
    else:
        value = record.value(guardrail.metric)
        if value is None:  # the search records a result without a guardrail's metric as FAILED
            raise TunesmithError(f"trial #{record.number} has no {guardrail.metric!r}: it cannot have passed "
                                 f"{guardrail.describe()}")  # fmt: skip
        searched = read_guardrail(guardrail, value, noise_of(record.metrics, guardrail.metric), chosen_inside=True,
                                  compared=pick.compared)  # fmt: skip
        readings.append(("in the search (not measured on the holdout)", searched))
        read.append("the search's single result alone (not measured on the holdout, not re-run across seeds)")
        if searched.outcome is GuardrailOutcome.UNDECIDED:
            favoured = f"; {_FAVOURED_BY_THE_PICK if pick.compared == 1 else _read_by_the_pick(guardrail, pick)}"
    # A point of unknown noise inside the bound shows nothing either way: alone, it leaves the guardrail undecided.
    outcomes = [reading.outcome for _, reading in readings
                if reading.noise_known or reading.outcome is GuardrailOutcome.BREACHED]  # fmt: skip
    rule = guardrail.describe()
    parts = [_part(reading, where, rule, shown=bool(outcomes)) for where, reading in readings]
    parts[-1] += favoured
    breaching = [run for run in runs if each_run and not guardrail.holds(run.metrics[guardrail.metric])]
    if breaching:
        # Each run is a model that could be shipped: one beyond the bound by more than its own noise breaks the
        # guardrail, read at 5% shared among every reading and every run (a breach in any decides).
        shown = [run for run in breaching if _beyond_its_noise(guardrail, run, shares + len(runs))]
        parts.append(_breached_on_their_own(breaching, len(runs), guardrail, shown))
        # never held while a run of it breached; decided when one breached beyond its own noise
        outcomes.append(GuardrailOutcome.BREACHED if shown else GuardrailOutcome.UNDECIDED)
    outcome = _worst(outcomes) if outcomes else GuardrailOutcome.UNDECIDED
    overall = f"{_SHOWN[outcome]}: " if len(parts) > 1 else ""
    return outcome, f"{rule}: {overall}{'; '.join(parts)} (read: {', '.join(read)})"


def _by_chance(reading: GuardrailReading) -> bool:
    """Whether ``reading`` could breach its guardrail by chance: its noise is known and not zero."""
    return reading.noise_known and reading.noise is not None and reading.noise.stderr > 0


def _part(reading: GuardrailReading, where: str, rule: str, *, shown: bool) -> str:
    """One reading in the detail; ``shown``: readings with known noise (or a breach) decide the guardrail, and a
    point of unknown noise inside the bound is then only named."""
    if shown and not reading.noise_known and reading.outcome is GuardrailOutcome.UNDECIDED:
        point = reading.guardrail.value_text(reading.value, 4)  # on the side of the bound it lies on
        if reading.noise is not None and unmeasured_zero(reading.noise):
            return (f"inside the bound {where} ({point} on all {reading.noise.source}: runs that agree "
                    "exactly measure no noise, so this point shows nothing)")  # fmt: skip
        return f"inside the bound {where} ({point}; its noise is unknown, so this point shows nothing)"
    return reading.describe(where).removeprefix(f"{rule}: ")


# Said of the search's result when it cannot show that a guardrail holds: the chosen trial's reading was selected.
_FAVOURED_BY_THE_PICK = (
    "and the search's result is favoured by the pick: a result that breached the guardrail made its trial "
    "INFEASIBLE, never chosen, so the chosen trial's one reading is one that fell inside the bound, whatever its "
    "true value; re-runs of the winner across seeds also remove that luck"
)


def _read_by_the_pick(guardrail: Guardrail, pick: _Pick) -> str:
    """Said of the search's result when the pick read the guarded metric itself and the result cannot show that the
    guardrail holds: what the pick did, and what would decide."""
    name = guardrail.metric
    return (f"the pick read {name} itself ({pick.how}); re-runs of the winner on fresh seeds "
            f"(ts.validate_top(study, objective)) or {name} measured on the holdout (return "
            f"{holdout_keys(Metric(name, 'min'))[0]!r} from evaluate) would decide, free of its luck")  # fmt: skip


def _worst(outcomes: Sequence[GuardrailOutcome]) -> GuardrailOutcome:
    """Breached when any source breached it beyond noise, else undecided when any could not tell, else held."""
    for outcome in (GuardrailOutcome.BREACHED, GuardrailOutcome.UNDECIDED):
        if outcome in outcomes:
            return outcome
    return GuardrailOutcome.HELD


def _beyond_its_noise(guardrail: Guardrail, run: SeedRun, readings: int) -> bool:
    """Whether ``run`` breached ``guardrail`` beyond its own noise (its per-example or per-fold standard error, or
    exactly for an exact guardrail), at 5% shared among ``readings`` (`read_guardrail`); a run of unknown noise
    shows a breach only on its point, which decides nothing here."""
    reading = read_guardrail(guardrail, run.metrics[guardrail.metric], noise_of(run.metrics, guardrail.metric),
                             readings=readings)  # fmt: skip
    return reading.outcome is GuardrailOutcome.BREACHED and (guardrail.exact or _by_chance(reading))


def _breached_on_their_own(breaching: Sequence[SeedRun], runs: int, guardrail: Guardrail,
                           shown: Sequence[SeedRun] = ()) -> str:  # fmt: skip
    """What the detail says of re-runs that breached ``guardrail`` each on its own (recorded INFEASIBLE), ``shown``
    those among them beyond their own noise (`_beyond_its_noise`)."""
    named = ", ".join(f"seed {run.seed}: {guardrail.value_text(run.metrics[guardrail.metric], 4)}"
                      for run in breaching[:5])  # fmt: skip
    more = f" and {len(breaching) - 5} more" if len(breaching) > 5 else ""
    said = f"{len(breaching)} of {runs} re-runs breached it (each recorded INFEASIBLE; {named}{more})"
    fix = "find what breaches on those seeds, fix it and re-run ts.validate_top(study, objective)"
    if shown:
        beyond = "all of them" if len(shown) == len(breaching) else f"{len(shown)} of them"
        return (f"{said}, {beyond} beyond their own noise (5% shared among the readings and runs): a model trained "
                f"on such a seed breaks the guardrail, so it is shown not to hold on every seed; {fix}")  # fmt: skip
    return (f"{said}, so whatever its mean, it is not shown to hold on every seed: more seeds would measure how often "
            f"it breaches, not make it hold; {fix}")  # fmt: skip


def proxy_watch(study: Study, records: Sequence[TrialRecord], watch: WatchedMetrics) -> tuple[Metric, ...]:
    """The metrics ``finalize(..., watch=)`` names, each with its direction: a `Metric`'s own, and a bare name read
    as a study reads one (`metric_named`: minimised, and refused where it reads like a score). Called before the
    holdout opens, so that a mistake here costs no opening.

    Raises:
        ConfigError: ``watch`` is not a list of metrics; an entry is neither a name nor a `Metric`, names an
            objective, is given twice, goes against the direction of a guardrail on it, or no finished trial
            reported it.
    """
    if isinstance(watch, str | Metric) or not isinstance(watch, Sequence):
        raise ConfigError(f"watch must be a list of metric names or ts.Metric, got watch={watch!r}: pass "
                          f"watch=[{watch!r}]")  # fmt: skip
    reported = dict.fromkeys(name for r in records if r.state in (TrialState.COMPLETE, TrialState.INFEASIBLE)
                             for name in r.metrics)  # fmt: skip
    objectives = {study.metric.name, *(m.name for m in study.objectives)}
    guarded = {g.metric: g for g in study.guardrails}
    watched: dict[str, Metric] = {}
    for item in watch:
        if not isinstance(item, str | Metric):
            raise ConfigError(f"each of watch must be a metric name or ts.Metric, got {item!r}: pass e.g. "
                              "ts.Metric('val_ece', 'min')")  # fmt: skip
        if (item if isinstance(item, str) else item.name) in objectives:
            raise ConfigError(f"watch names metrics to compare with the objective, got {item!r}, an objective of the "
                              "study: its trade-off with the primary metric is the search itself, or the front with "
                              "several objectives; leave it out of watch")  # fmt: skip
        fix = f"pass watch=[ts.Metric({item!r}, 'max')] (or 'min' if lower really is better)"
        metric = item if isinstance(item, Metric) else metric_named(item, fix=fix)
        if metric.name in watched:
            raise ConfigError(f"watch names each metric once, got {metric.name!r} twice: give it once")
        guardrail = guarded.get(metric.name)
        if guardrail is not None and _bounded_side(guardrail) != metric.direction:
            fix = "the guardrail already watches it, so leave it out of watch"
            if _bounds_a_cost(guardrail):  # a cost's guardrail is not watched: named, it is watched the way it bounds
                side = _bounded_side(guardrail)
                fix = f"watch it the way its guardrail bounds it: ts.Metric({metric.name!r}, {side!r})"
            raise ConfigError(f"a watched metric worsens the way its guardrail bounds it, got ts.Metric("
                              f"{metric.name!r}, {metric.direction!r}) beside the guardrail {guardrail.describe()}: "
                              f"{fix}")  # fmt: skip
        if metric.name not in reported:
            close = difflib.get_close_matches(metric.name, list(reported), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            named = ", ".join(name for name in reported if ":" not in name) or "none"  # not stderr:, count:, slice:...
            raise ConfigError(f"a watched metric must be one the trials reported, got {metric.name!r}, which no "
                              f"finished trial reported: {hint}the trials reported {named}; name one of those, or "
                              "return it from the objective")  # fmt: skip
        watched[metric.name] = metric
    return tuple(watched.values())


def _bounded_side(guardrail: Guardrail) -> str:
    """The direction a guardrail reads as better: ``min`` under a ceiling, ``max`` above a floor."""
    return "min" if guardrail.op in ("<=", "<") else "max"


def proxy_check(study: Study, records: Sequence[TrialRecord], watch: Sequence[Metric] = (),
                judged: TrialRecord | None = None) -> Check:  # fmt: skip
    """Proxy overfitting among the best trials, on the guardrails but those on a cost, the metrics ``watch`` names
    (`proxy_watch`) and the calibration metrics the trials report (named by words: `guardrails._reads_as_calibration`):
    fails on a
    trade-off beyond chance (`proxy_scan`), naming the ``judged`` trial's value of the degrading metric (``None``:
    the trial `finalize` judges, `_judged`), the trial within noise of it on the primary metric that does best on
    the degrading one, if any, and the fixes; passes undecided when none was found but the trials could not have
    shown a moderate one either, saying what would decide. When the primary metric ties at its best on the best
    trials, the detail says so. On a study of several objectives, a guardrail on (or a calibration metric that is)
    another objective is left out: that trade-off is the front the study set out to explore, not a proxy
    overfitted. So is a guardrail on a cost (`guardrails._bounds_a_cost`: latency, memory, size, or declared exact)
    unless ``watch`` names its metric: the trade-off it bounds is one the study accepted up to the bound, and the
    detail says so in a note that never fails the check (`_costs_note`)."""
    name = "proxy overfitting"
    objectives = {m.name for m in study.objectives}
    named = {m.name for m in watch}
    # A guardrail ``watch`` names is watched as named (`proxy_watch` holds its direction to the bound's); the scan
    # leaves the others on a cost unwatched (`guardrails._watched`), as a direct `proxy_overfitting` does.
    guardrails = [g for g in study.guardrails if g.metric not in objectives and g.metric not in named]
    scan = proxy_scan(records, study.metric, [*guardrails, *watch], leave_out=objectives)
    costs = scan.costs
    tie = "" if scan.tie is None else _tie_note(scan.tie, study.metric, compared=bool(scan.compared))
    costs_note = _costs_note(study, records, costs)
    if scan.findings:
        judged = judged if judged is not None else _judged(study, records)
        said = [f.detail for f in scan.findings] + ([tie] if tie else [])
        said += [_trade_off_advice(study, records, finding, judged) for finding in scan.findings]
        return Check(name, False, "; ".join(said + ([costs_note] if costs_note else [])))
    if not scan.compared:
        if scan.tie is not None and scan.watched:
            return Check(name, True, "; ".join([f"nothing to compare: {tie}"] + ([costs_note] if costs_note else [])),
                         checked=False)  # fmt: skip
        left_out = [g.metric for g in study.guardrails if g.metric in objectives]
        why = f" ({', '.join(left_out)} is an objective: its trade-off is the front)" if left_out else ""
        calibration = "calibration metric (a name with a word such as ece, calibration, brier, log_loss or nll)"
        guardrail = "guardrail other than on a cost, or" if costs else "guardrail or"
        what, fix = f"{guardrail} {calibration}", ": name another the trials report with finalize(..., watch=[...])"
        if watch:
            what, fix = f"{guardrail} {calibration} or watched metric ({', '.join(m.name for m in watch)})", ""
        nothing = f"nothing to compare: no {what} measured on at least 6 of the best trials and varying{why}{fix}"
        return Check(name, True, f"{nothing}; {costs_note}" if costs_note else nothing, checked=False)
    # No finding is not evidence of no trade-off: it is decided only when the trials could have shown a moderate one.
    said = [scan.absence(study.metric)] + ([tie] if tie else []) + ([costs_note] if costs_note else [])
    return Check(name, True, "; ".join(said), decided=scan.decided)


def _costs_note(study: Study, records: Sequence[TrialRecord], costs: Sequence[Guardrail]) -> str:
    """What the proxy check says of the guardrails on a cost it leaves unwatched: each bounds a trade-off the study
    accepted up to its bound (a bigger model errs less and uses more memory), so one seen among the best trials
    (`proxy_scan` of the costs alone, its 5% shared among them) is said, not failed; whether the chosen trial holds
    the bound is the guardrails check's to decide, on its noise. Empty when there is no cost."""
    if not costs:
        return ""
    reported = {name for r in records for name in r.metrics}  # left out: the scan reads no calibration metric here
    # As metrics: given as guardrails, the scan would leave them out as costs.
    bounded = [_guarded_metric(g) for g in costs]
    found = {f.metric: f for f in proxy_scan(records, study.metric, bounded, leave_out=reported).findings}
    said = []
    for guardrail in costs:
        why = "declared exact" if guardrail.exact else "its name reads as time, memory, size or compute"
        line = f"{guardrail.describe()} bounds a cost ({why}), not a proxy"
        finding = found.get(guardrail.metric)
        if finding is not None:
            line += (f": {finding.detail}, a trade-off the bound accepts (the guardrails check reads whether the "
                     "chosen trial holds it)")  # fmt: skip
        said.append(line)
    return "; ".join(said) + "; to watch a cost as a proxy, name it in finalize(..., watch=[...])"


def _tie_note(tie: PrimaryTie, metric: Metric, *, compared: bool) -> str:
    """What the proxy check says of a primary metric tied at its best: where it does not vary, nothing trades off
    against it, so a finding rests on the trials off the tie; with nothing compared, the tied trials are as good as
    one another on it, and the watched metrics can choose among them."""
    said = tie.describe(metric)
    off = tie.ranked - tie.tied
    if compared:
        return f"{said}, where it cannot trade off against anything: the comparison rests on the {off} off the tie"
    rest = f"the {off} off the tie lie far below them or are too few to compare" if off else "no trial lies off it"
    return (f"{said}, where it cannot trade off against anything, and {rest}; the tied trials are equally good on "
            f"{metric.name}, so choose among them on the guardrail or calibration metrics")  # fmt: skip


def _judged(study: Study, records: Sequence[TrialRecord]) -> TrialRecord | None:
    """The trial `finalize` judges, among ``records``: on several objectives the choice `Study.choose` recorded,
    else the seed re-runs' winner, else the complete trial best on the primary metric (``None``: none)."""
    numbered = {r.number: r for r in records}
    choice = read_attr(study.attrs, ChoiceAttr) if several_objectives(study) else None
    if choice is not None and choice.trial in numbered:
        return numbered[choice.trial]
    stability = read_attr(study.attrs, SeedStabilityAttr)
    if stability is not None and stability.winner is not None and stability.winner in numbered:
        return numbered[stability.winner]
    complete = [r for r in records if r.state is TrialState.COMPLETE and r.value(study.metric.name) is not None]
    return min(complete, key=lambda r: study.metric.sign() * (r.value(study.metric.name) or 0.0), default=None)


#: How many standard errors below the judged trial on the primary metric a trial may lie and still be within noise of
#: it: the one-sided 5% point, so that the judged trial is not shown better.
_WITHIN_NOISE = 1.645


def _trade_off_advice(study: Study, records: Sequence[TrialRecord], finding: ProxyFinding,
                      judged: TrialRecord | None) -> str:  # fmt: skip
    """What a proxy finding says beyond the correlation: the winner's value of the degrading metric, the trial as good
    on the primary metric or within noise of it that does best on the degrading metric (if one does better than
    the winner), and the fixes."""
    metric, degrading = study.metric, Metric(finding.metric, finding.direction)
    fixes = f"fix: {_trade_off_fixes(study, degrading)}"
    if judged is None:
        return fixes
    value, primary = judged.value(degrading.name), judged.value(metric.name)
    if value is None or primary is None:
        return f"the winner (trial #{judged.number}) did not report {degrading.name}; {fixes}"
    said = f"the winner (trial #{judged.number}) has {degrading.name} {value:.4g} at {metric.name} {primary:.4g}"
    noise = _PrimaryNoise.of(study, judged)
    alternative = _better_and_as_good(records, judged, metric, degrading, noise)
    if alternative is not None:
        other, below = alternative
        if below <= 0:
            where = "the same" if other.value(metric.name) == primary else "better"
        else:
            where = f"{below:.1f} standard errors below, within noise"
        return (f"{said}; trial #{other.number} has {degrading.name} {other.value(degrading.name):.4g} at "
                f"{metric.name} {other.value(metric.name):.4g} ({where}); {fixes}; or choose trial "
                f"#{other.number}")  # fmt: skip
    if noise is None:
        return (f"{said}; with no noise of {metric.name} measured (per-example or per-fold values, or re-runs that "
                f"differ), no trial below it can be shown as good; {fixes}")  # fmt: skip
    return f"{said}, and no trial within noise of it on {metric.name} does better on {degrading.name}; {fixes}"


def _trade_off_fixes(study: Study, degrading: Metric) -> str:
    """How to stop the search trading ``degrading`` away: bound it (tighten its guardrail), or, for calibration,
    recalibrate the model."""
    op = "<=" if degrading.direction == "min" else ">="
    guardrail = next((g for g in study.guardrails if g.metric == degrading.name), None)
    if guardrail is not None:
        bound = f"tighten the guardrail {guardrail.describe()} in a new study (a study keeps its guardrails)"
    else:
        bound = (f"bound {degrading.name} with ts.Guardrail({degrading.name!r}, {op!r}, <the most you accept>) in a "
                 "new study (a study keeps its guardrails)")  # fmt: skip
    if not _reads_as_calibration(degrading.name):
        return bound
    return f"{bound}, or recalibrate the model (e.g. scikit-learn's CalibratedClassifierCV) and re-run the search"


@dataclass(frozen=True)
class _PrimaryNoise:
    """The noise of one search result on the primary metric: each trial's per-example or per-fold standard error
    (`noise_of`; a trial without it is taken to carry the judged trial's, and the other way round), together with
    one run's spread across seeds from the judged trial's re-runs (each search result is one run)."""

    metric: Metric
    own: float | None
    seeds: float

    @classmethod
    def of(cls, study: Study, judged: TrialRecord) -> _PrimaryNoise | None:
        """``None``: neither measured."""
        own = metric_noise(judged.metrics, study.metric)
        stability = read_attr(study.attrs, SeedStabilityAttr)
        entry = None if stability is None else stability.candidate(judged.number)
        seeds = entry.std if entry is not None and entry.std is not None and math.isfinite(entry.std) else 0.0
        if (own is None or own.stderr <= 0) and seeds <= 0:
            return None
        return cls(study.metric, None if own is None else own.stderr, seeds)

    def of_difference(self, other: TrialRecord) -> float:
        """The standard error of ``judged``'s primary result less ``other``'s (unpaired: a bound that pairing on
        the same examples would only narrow)."""
        measured = metric_noise(other.metrics, self.metric)
        theirs = self.own if measured is None else measured.stderr
        mine = theirs if self.own is None else self.own
        return math.sqrt((mine or 0.0) ** 2 + (theirs or 0.0) ** 2 + 2.0 * self.seeds**2)


def _better_and_as_good(records: Sequence[TrialRecord], judged: TrialRecord, metric: Metric, degrading: Metric,
                        noise: _PrimaryNoise | None) -> tuple[TrialRecord, float] | None:  # fmt: skip
    """The complete trial, other than ``judged``, whose primary result is as good as ``judged``'s or within its noise
    (not shown worse at one-sided 5%; with ``noise`` unknown, only as good) and whose ``degrading`` value is the best
    of those and better than ``judged``'s; with how many standard errors below ``judged`` it lies on the primary
    metric (0 or less: as good or better)."""
    mine, worst_allowed = judged.value(metric.name) or 0.0, judged.value(degrading.name) or 0.0
    found: tuple[TrialRecord, float] | None = None
    for record in records:
        value, theirs = record.value(degrading.name), record.value(metric.name)
        if record.number == judged.number or record.state is not TrialState.COMPLETE or value is None or theirs is None:
            continue
        worse = metric.sign() * (theirs - mine)
        stderr = 0.0 if noise is None else noise.of_difference(record)
        below = worse / stderr if stderr > 0 else (math.inf if worse > 0 else 0.0)
        if below >= _WITHIN_NOISE or degrading.sign() * value >= degrading.sign() * worst_allowed:
            continue
        if found is None or degrading.sign() * value < degrading.sign() * (found[0].value(degrading.name) or 0.0):
            found = (record, below)
    return found
