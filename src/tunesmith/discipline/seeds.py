"""Seed stability: re-run configurations with fresh seeds, keep every run, pick by a stated rule.

The guide: "run top-3 candidates across 5+ seeds, pick most stable". `validate_top` re-runs the
best ``k`` distinct configurations of a study with the same ``seeds`` fresh seeds (paired, so
seed effects cancel in the comparison), records every run in the study attribute
``seed_stability`` (failed runs with their error), and picks the winner by a rule:

* ``Rule.LCB`` (default): the best lower confidence bound of the metric's goodness, i.e. the mean
  shifted by a one-sided Student-t margin (``confidence``) of its standard error toward worse;
* ``Rule.MEAN``: the best mean;
* ``Rule.WORST``: the best worst run.

A candidate with a failed run, or whose mean of a guardrail metric breaches the guardrail beyond
its noise (`read_guardrail`), is not eligible; one within the noise of the bound stays eligible with
a note, and the verdict's guardrail check decides. The baseline (the model's defaults) runs on the
same seeds (`tunesmith.discipline.baseline`).

Then the guide's second step, "re-run final configuration across seeds": a winner picked from several
eligible candidates by ``Rule.LCB`` or ``Rule.WORST`` won partly because its runs happened to agree, so
their spread reads low. It is re-run on ``confirm`` further fresh seeds after the pick, and the verdict
judges its spread on those runs alone. The baseline runs on those seeds too, so that the baseline margin pairs
them with the winner's seed by seed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import TYPE_CHECKING, Any

import numpy as np

from tunesmith._progress import Progress, check_progress
from tunesmith._validate import integer
from tunesmith.attributes import BaselineAttr, SeedCandidateAttr, SeedStabilityAttr, read_attr, write_attr
from tunesmith.discipline._front import chosen_from_front, describe, front_around, several_objectives
from tunesmith.discipline._reruns import (
    BASELINE_NUMBER,
    Objective,
    SeedRun,
    across_runs,
    run_once,
    seed_list,
    typical_duration,
)
from tunesmith.discipline.baseline import Baseline, evaluate_baseline, run_baseline_on_seeds, run_pending_baseline
from tunesmith.discipline.conventions import slices_of
from tunesmith.discipline.guardrails import GuardrailOutcome, GuardrailReading, read_guardrail
from tunesmith.discipline.verdict import warn_if_judged
from tunesmith.errors import ConfigError, TunesmithError
from tunesmith.objective import Guardrail, Metric
from tunesmith.study import ObjectiveError
from tunesmith.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from tunesmith.study import Study

__all__ = [
    "Baseline",
    "Candidate",
    "Rule",
    "SeedReport",
    "SeedRun",
    "evaluate_baseline",
    "run_pending_baseline",
    "seed_list",
    "top_configurations",
    "validate_top",
]


class Rule(Enum):
    """How `validate_top` picks the winner among re-run candidates."""

    LCB = "lcb"
    MEAN = "mean"
    WORST = "worst"


def _t_quantile(confidence: float, dof: int) -> float:
    from scipy.stats import t

    return float(t.ppf(confidence, dof))


@dataclass(frozen=True)
class Candidate:
    """A configuration re-run across seeds.

    Attributes:
        trial: the trial it came from (-1 for the baseline).
        params: the configuration.
        original: its metric in the search (on the trial's own seed).
        runs: every run, in seed order.
        values: the metric of each run that produced one (failed runs have none).
        mean, std: over ``values`` (``std`` with one degree of freedom removed).
        score: what the rule ranks, in the metric's units (e.g. the pessimistic bound).
        eligible: whether it may win (no failed run, every guardrail met on the mean).
        note: why it is not eligible.
        slices: slice name -> mean metric over the runs that reported it.

    The winner's confirmation runs (`SeedReport.confirmation`) are a Candidate too, of the same trial.
    """

    trial: int
    params: dict[str, Any]
    original: float | None
    runs: tuple[SeedRun, ...]
    values: tuple[float, ...]
    mean: float
    std: float
    score: float
    eligible: bool
    note: str = ""
    slices: dict[str, float] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return "baseline" if self.trial == BASELINE_NUMBER else f"#{self.trial}"

    def to_json(self) -> dict[str, Any]:
        return self.attribute().to_json()

    def attribute(self, *, baseline: bool = False, confirmation: Candidate | None = None) -> SeedCandidateAttr:
        """Its entry in the study attribute ``seed_stability`` (``baseline`` marks the baseline's; ``confirmation``
        is its re-run on fresh seeds after the pick, the winner's only)."""
        entry = SeedCandidateAttr(
            label=self.label, trial=self.trial, params=self.params, original=self.original, values=self.values,
            mean=self.mean, std=self.std, score=self.score, eligible=self.eligible, note=self.note,
            slices=self.slices, baseline=baseline,
        )  # fmt: skip
        if confirmation is None:
            return entry
        return replace(entry, confirm_values=confirmation.values, confirm_mean=confirmation.mean,
                       confirm_std=confirmation.std, confirm_note=confirmation.note)  # fmt: skip


def _summarise(
    trial: int,
    params: Mapping[str, Any],
    original: float | None,
    runs: Sequence[SeedRun],
    metric: Metric,
    guardrails: Sequence[Guardrail],
    rule: Rule,
    confidence: float,
) -> Candidate:
    # A run whose objective raised `Infeasible` measured nothing: it counts against the candidate, as a failure does.
    values = tuple(run.metrics[metric.name] for run in runs
                   if run.state != TrialState.FAILED.value and metric.name in run.metrics)  # fmt: skip
    mean = float(np.mean(values)) if values else math.nan
    std = float(np.std(values, ddof=1)) if len(values) > 1 else (0.0 if values else math.nan)
    notes: list[str] = []  # each one keeps the candidate from winning
    failed = [run for run in runs if run.state == TrialState.FAILED.value]
    if failed:
        notes.append(f"{len(failed)} of {len(runs)} runs failed ({(failed[0].reason or '').splitlines()[0]})")
    declared = [run for run in runs if run.state == TrialState.INFEASIBLE.value and not run.metrics]
    if declared:
        notes.append(f"{len(declared)} of {len(runs)} runs could not be run ({declared[0].reason})")
    caveats = []
    for guardrail in guardrails:
        reading = _guardrail_across_seeds(guardrail, runs)
        if reading is not None and reading.outcome is GuardrailOutcome.BREACHED:
            notes.append(f"guardrail breached across seeds: {reading.describe()}")
        elif reading is not None and reading.outcome is GuardrailOutcome.UNDECIDED:
            caveats.append(f"guardrail undecided across seeds: {reading.describe()}")
    if not values:
        score = math.nan
    elif rule is Rule.MEAN:
        score = mean
    elif rule is Rule.WORST:
        score = max(values) if metric.direction == "min" else min(values)
    else:
        margin = _t_quantile(confidence, len(values) - 1) * std / math.sqrt(len(values)) if len(values) > 1 else 0.0
        score = mean + metric.sign() * margin
    slice_values: dict[str, list[float]] = {}
    for run in runs:
        for name, value in slices_of(run.metrics, [metric.name]).items():
            slice_values.setdefault(name, []).append(value)
    return Candidate(
        trial=trial,
        params=dict(params),
        original=original,
        runs=tuple(runs),
        values=values,
        mean=mean,
        std=std,
        score=score,
        eligible=not notes and math.isfinite(score),
        note="; ".join(notes + caveats),
        slices={name: float(np.mean(v)) for name, v in slice_values.items()},
    )


def _guardrail_across_seeds(guardrail: Guardrail, runs: Sequence[SeedRun]) -> GuardrailReading | None:
    """``guardrail`` on its mean over the runs that measured it, with the mean's noise: the seeds' spread
    over the square root of their number and, when the runs carry per-example or per-fold noise, the
    runs' typical standard error (the same validation examples in every run: that part does not average out)."""
    measured = across_runs(runs, guardrail.metric)
    return None if measured is None else read_guardrail(guardrail, measured[0], measured[1])


# Failed re-runs in a row, from the first, that say the objective is broken (the search's fail_fast default).
_BROKEN_AFTER = 3


def _stop_if_broken(
    study: Study, candidates: Sequence[Candidate], baseline: Candidate | None, *, rule: Rule, confidence: float,
    seeds: Sequence[int],
) -> None:  # fmt: skip
    """Record the runs so far and raise when the first `_BROKEN_AFTER` re-runs all failed: configurations that
    worked in the search fail every time, so the objective given to `validate_top` is broken (another signature, a
    missing metric), and going on would only spend more runs on a bug.

    ``candidates`` are those re-run so far, the last one perhaps on fewer seeds than the others. They are recorded
    in the attribute ``seed_stability`` with no winner, every failed run with its error, so that the verdict's
    seed-stability check fails on them rather than reading as never run.
    """
    runs = [run for candidate in candidates for run in candidate.runs]
    if len(runs) < _BROKEN_AFTER or any(run.state != TrialState.FAILED.value for run in runs):
        return
    first = runs[0].reason or ""
    line = first.splitlines()[0] if first else "no reason"
    stopped = (f"validate_top stopped after {len(runs)} failed re-runs: its objective is broken; fix it and run "
               "ts.validate_top(study, objective) again")  # fmt: skip
    last = candidates[-1]
    recorded = [*candidates[:-1], replace(last, note=f"{last.note}; {stopped}" if last.note else stopped)]
    report = SeedReport(
        metric=study.metric, rule=rule, confidence=confidence,
        seeds=tuple(seeds[: max(len(c.runs) for c in candidates)]),  # the seeds the first candidate ran on
        candidates=tuple(recorded), winner=None, per_seed_winners=(), baseline=baseline,
    )  # fmt: skip
    write_attr(study, report.attribute())
    warn_if_judged(study.attrs, "validate_top")
    raise ObjectiveError(
        f"the first {len(runs)} re-runs of validate_top all failed, though their configurations worked in the "
        f"search: the objective given to it is broken ({line}); fix it and run validate_top again. The failed runs "
        f"are recorded in the study attribute seed_stability, so the verdict's seed-stability check fails until "
        f"then.\nThe first failure:\n{first}",
        first,
    )


@dataclass(frozen=True)
class SeedReport:
    """What `validate_top` found.

    Attributes:
        metric: the study's metric.
        rule: the rule that picked the winner; ``confidence`` its one-sided level (``Rule.LCB``).
        seeds: the seeds every candidate ran with.
        candidates: the candidates, in their order by the search's validation value.
        winner: the chosen candidate (``None`` when none is eligible).
        per_seed_winners: for each seed, the trial number of the best eligible candidate on it.
        around, around_trials: on a multi-objective study, the chosen trial's neighbours on the Pareto front
            (in words, and their numbers).
        confirm_seeds: the fresh seeds the winner re-ran on after the pick (empty: it did not).
        confirmation: the winner's runs on ``confirm_seeds`` (``None``: it did not re-run).
    """

    metric: Metric
    rule: Rule
    confidence: float
    seeds: tuple[int, ...]
    candidates: tuple[Candidate, ...]
    winner: Candidate | None
    per_seed_winners: tuple[int, ...]
    baseline: Candidate | None = None
    around: tuple[str, ...] = ()
    around_trials: tuple[int, ...] = ()
    confirm_seeds: tuple[int, ...] = ()
    confirmation: Candidate | None = None

    @property
    def changes_across_seeds(self) -> bool:
        """Whether the best candidate differs from one seed to another."""
        return len(set(self.per_seed_winners)) > 1

    @property
    def overturned(self) -> bool:
        """Whether the winner is not the configuration that was best in the search."""
        return self.winner is not None and bool(self.candidates) and self.winner.trial != self.candidates[0].trial

    def summary(self) -> str:
        rule = f"{self.rule.value}" + (f" at {self.confidence:.0%}" if self.rule is Rule.LCB else "")
        lines = [f"{len(self.candidates)} candidates x {len(self.seeds)} seeds, picked by {rule}:"]
        eligible = [c for c in self.candidates if c.eligible]
        for c in (*self.candidates, *([self.baseline] if self.baseline else [])):
            mark = "*" if self.winner is not None and c.trial == self.winner.trial else " "
            if not c.eligible and c.trial != BASELINE_NUMBER:
                status = f" not eligible: {c.note}"
            elif c.trial != BASELINE_NUMBER and (better := _beaten_on_every_seed(c, eligible, self.metric)) is not None:
                status = f" beaten on every seed by #{better}"
            else:
                status = ""
            completed = sum(1 for run in c.runs if run.state != TrialState.FAILED.value)
            seeds = f"{len(c.runs)} seeds" if completed == len(c.runs) else f"{completed} of {len(c.runs)} seeds"
            origin = seeds if c.original is None else f"search {c.original:.4g}"
            lines.append(
                f" {mark} {c.label:>9} {self.metric.name} {c.mean:.4g} +- {c.std:.2g} ({origin}; "
                f"score {c.score:.4g}){status}"
            )
        if self.around:
            lines.append(f"the front around the chosen trial: {', '.join(self.around)}")
        if self.winner is None:
            lines.append("no candidate is eligible")
        else:
            lines.append(
                f"winner {self.winner.label}; {across_seeds(self.per_seed_winners, self.winner.trial)}"
                + ("; the search's best was overturned" if self.overturned else "")
            )
        if self.confirmation is not None:
            lines.append(_confirmed(self.confirmation, self.metric))
        return "\n".join(lines)

    def to_attr(self) -> dict[str, Any]:
        """The JSON of `attribute`."""
        return self.attribute().to_json()

    def attribute(self) -> SeedStabilityAttr:
        """The study attribute ``seed_stability`` (every run is kept)."""
        confirmation = self.confirmation
        confirmed = None if confirmation is None else confirmation.trial
        entries = [c.attribute(confirmation=confirmation if c.trial == confirmed else None) for c in self.candidates]
        if self.baseline is not None:
            entries.append(self.baseline.attribute(baseline=True))
        return SeedStabilityAttr(
            metric=self.metric.name,
            direction=self.metric.direction,
            rule=self.rule.value,
            confidence=self.confidence,
            seeds=self.seeds,
            candidates=tuple(entries),
            winner=None if self.winner is None else self.winner.trial,
            winner_params=None if self.winner is None else self.winner.params,
            per_seed_winners=self.per_seed_winners,
            changes_across_seeds=self.changes_across_seeds,
            overturned=self.overturned,
            runs=tuple(run.to_json() for c in self.candidates for run in c.runs),
            around=self.around_trials or None,
            confirm_seeds=self.confirm_seeds or None,
            confirm_runs=None if confirmation is None else tuple(run.to_json() for run in confirmation.runs),
        )


def _confirmed(confirmation: Candidate, metric: Metric) -> str:
    """The summary's line on the winner's runs on fresh seeds after the pick."""
    ran = len(confirmation.runs)
    line = f"the winner re-run on {ran} fresh seeds after the pick: "
    if len(confirmation.values) > 1:
        line += f"{metric.name} {confirmation.mean:.4g} +- {confirmation.std:.2g}"
    else:
        line += f"{len(confirmation.values)} of {ran} runs gave {metric.name}, too few for a spread"
    return line + (f" ({confirmation.note})" if confirmation.note else "")


def _beaten_on_every_seed(candidate: Candidate, others: Sequence[Candidate], metric: Metric) -> int | None:
    """The trial number of a candidate at least as good as ``candidate`` on every seed and better on one
    (``None``: none is), comparing the runs of each seed (all completed: the candidates are eligible)."""
    mine = [run.metrics.get(metric.name) for run in candidate.runs]
    for other in others:
        if other is candidate:
            continue
        theirs = [run.metrics.get(metric.name) for run in other.runs]
        pairs = [(a, b) for a, b in zip(mine, theirs, strict=True) if a is not None and b is not None]
        if len(pairs) != len(mine) or not pairs:
            continue
        if all(not metric.better(a, b) for a, b in pairs) and any(metric.better(b, a) for a, b in pairs):
            return other.trial
    return None


def across_seeds(per_seed_winners: Sequence[int], winner: int | None) -> str:
    """Which candidate was best on each seed, said against the winner."""
    if not per_seed_winners:
        return "no seed had an eligible candidate"
    listed = ", ".join(f"#{n}" for n in per_seed_winners)
    if len(set(per_seed_winners)) > 1:
        return f"the best candidate changes across seeds ({listed})"
    if per_seed_winners[0] == winner:
        return "the winner is the best candidate on every seed"
    return f"#{per_seed_winners[0]} is the best candidate on every seed, level with the winner on at least one"


def top_configurations(records: Sequence[TrialRecord], metric: Metric, k: int) -> list[TrialRecord]:
    """The best ``k`` COMPLETE, valid (not invalidated) trials with distinct configurations, best first."""
    ranked = sorted(
        (
            r
            for r in records
            if r.state is TrialState.COMPLETE and r.value(metric.name) is not None and r.invalidated is None
        ),
        key=lambda r: (metric.sign() * (r.value(metric.name) or 0.0), r.number),
    )
    seen: set[str] = set()
    out: list[TrialRecord] = []
    for record in ranked:
        key = json.dumps(record.params, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            out.append(record)
        if len(out) == k:
            break
    return out


def _check_rule(rule: Rule | str, confidence: float) -> Rule:
    try:
        chosen = Rule(rule) if isinstance(rule, str) else rule
    except ValueError:
        raise ConfigError(f"rule must be one of {[r.value for r in Rule]}, got rule={rule!r}: use 'lcb'") from None
    if not isinstance(chosen, Rule):
        raise ConfigError(f"rule must be a tunesmith Rule or its name, got rule={rule!r}")
    if not 0.5 <= confidence < 1:
        raise ConfigError(f"confidence must be in [0.5, 1), got confidence={confidence!r}: use 0.9")
    return chosen


# The rules that read a candidate's spread: the winner they pick is partly the one whose runs happened to agree,
# so its spread measured on those runs reads low (3 candidates all at a 10% spread: the verdict caught it in 29% of
# studies on 3 seeds and 55% on 5, against 48% and 66% for one candidate; on confirmation runs, 48% and 67%).
# The mean of normal runs is independent of their spread, so Rule.MEAN does not flatter it.
_READS_SPREAD = frozenset({Rule.LCB, Rule.WORST})


def spread_flattered(rule: Rule | str | None, competing: int) -> bool:
    """Whether a winner picked by ``rule`` (a stored name; ``None``: the default, LCB) from ``competing`` eligible
    candidates has a spread flattered by the pick, when read on the runs that picked it."""
    name = Rule.LCB.value if rule is None else rule.value if isinstance(rule, Rule) else rule
    return competing > 1 and name in {r.value for r in _READS_SPREAD}


def _check_confirm(confirm: int | None, seeds: int) -> int:
    """``confirm`` checked: how many fresh seeds the winner re-runs on after the pick (``None``: ``seeds``)."""
    if confirm is None:
        return seeds
    fix = f"pass confirm={seeds} (as many as seeds), or confirm=0 to re-run nothing after the pick"
    count = integer("confirm", confirm, minimum=0, fix=fix)
    if count == 1:
        raise ConfigError(f"confirm must be 0 or at least 2 (a spread needs two seeds), got confirm=1: {fix}")
    return count


def _confirm(
    study: Study, objective: Objective, record: TrialRecord, seed_values: Sequence[int], *, first: int,
    progress: bool | None,
) -> list[SeedRun]:  # fmt: skip
    """The winner re-run on ``seed_values``, fresh seeds after the pick (the ``first``-th of the seed list on).

    Every run is kept, a failed one too, as the selection's are; `_stop_if_broken` is not asked: the winner
    completed every selection run, so a failure here is the configuration's, for the verdict to judge.
    """
    runs: list[SeedRun] = []
    label = f"re-running the winner #{record.number} of {study.name} on {len(seed_values)} fresh seeds"
    with Progress(label, len(seed_values), unit="runs", per_unit=typical_duration([record]), show=progress) as bar:
        for i, seed in enumerate(seed_values):
            bar.update(detail=f"seed {i + 1}/{len(seed_values)}")
            folder = study.checkpoint_root / "seeds" / f"{record.number}-{first + i}"
            runs.append(run_once(
                objective, record.params, seed, candidate=record.number, metric=study.metric,
                guardrails=study.guardrails, checkpoint_dir=folder,
            ))  # fmt: skip
            bar.update(advance=1)
    return runs


def _baseline_candidate(study: Study, rule: Rule, confidence: float, seeds: Sequence[int]) -> Candidate | None:
    """The baseline beside the candidates, on those of its runs that are on their ``seeds`` (``None``: none is),
    as the winner's entry holds its selection runs: its runs on other seeds (a baseline evaluated on more, or on the
    winner's fresh seeds after the pick) are in the attribute ``baseline``."""
    data = read_attr(study.attrs, BaselineAttr)
    if data is None or not data.runs:
        return None
    if data.params is None:
        raise data.missing("params")
    runs = [run for r in data.runs if (run := SeedRun.from_json(r)).seed in seeds]
    if not runs:
        return None
    return _summarise(BASELINE_NUMBER, data.params, None, runs, study.metric, study.guardrails, rule, confidence)


def validate_top(
    study: Study,
    objective: Objective,
    k: int = 3,
    seeds: int = 5,
    *,
    rule: Rule | str = Rule.LCB,
    confidence: float = 0.9,
    confirm: int | None = None,
    progress: bool | None = None,
) -> SeedReport:
    """Re-run the study's top ``k`` configurations with ``seeds`` fresh seeds and pick the most stable.

    A baseline declared with ``Study(baseline=...)`` and not evaluated yet runs first, on the same
    seeds. On a multi-objective study the candidate is the trial `Study.choose` recorded (``k`` is not
    used), judged on the primary objective, and the report names its neighbours on the Pareto front.
    A winner picked from several eligible candidates by a rule that reads their spread (``Rule.LCB``,
    ``Rule.WORST``) then re-runs on ``confirm`` further fresh seeds, and the verdict judges its spread on
    those runs alone: the runs that picked it flatter its spread. A recorded baseline then runs on those
    fresh seeds too, those it has not run yet (``confirm`` more baseline runs; none on a second call), so
    that the baseline margin pairs the winner's confirmation runs with it seed by seed; the attribute
    ``baseline``'s mean and spread are then over every seed it ran (`run_baseline_on_seeds`), and the report's
    ``baseline`` beside the candidates holds its runs on their seeds.
    Every run is recorded in the study attribute ``seed_stability``; `finalize` then scores the
    winner on the holdout. Re-runs are not trials: they do not spend the budget and cannot
    become `Study.best` by a lucky seed.

    Args:
        study: the study whose trials are ranked.
        objective: the same objective the search ran (it receives the fresh seed as ``trial.seed``).
        k: how many distinct configurations to re-run.
        seeds: how many seeds each runs with (the same seeds for all).
        rule: how the winner is picked (see `Rule`).
        confidence: the one-sided level of ``Rule.LCB``.
        confirm: how many fresh seeds the winner re-runs on after such a pick, and a recorded baseline with it
            (``None``: as many as ``seeds``; 0: none, and the verdict reads the spread on the runs that picked it).
        progress: show runs done and the time left on stderr (``None``: when stderr is a terminal).

    Raises:
        TunesmithError: when the study has no COMPLETE trial.
        ConfigError: a multi-objective study without a recorded choice (`Study.choose`).
        ObjectiveError: when the first three re-runs all failed, or every run of the declared baseline did: the
            objective is broken. The runs made are recorded first (``seed_stability``, ``baseline``), so that the
            verdict fails on them. A failed run on the fresh seeds after the pick, the winner's or the baseline's,
            is recorded and raises nothing (the baseline's is warned about, `BaselineFailuresWarning`).
    """
    check_progress(progress)
    chosen_rule = _check_rule(rule, confidence)
    integer("k", k, minimum=1, fix="use 3")
    seed_values = seed_list(study.seed, seeds)
    confirm_count = _check_confirm(confirm, len(seed_values))
    several = several_objectives(study)  # then the one candidate is the trial study.choose recorded
    top = [chosen_from_front(study, "validate_top")] if several else top_configurations(study.trials, study.metric, k)
    if not top:
        raise TunesmithError(f"study {study.name!r} has no COMPLETE trial: run the search before validate_top")
    # A declared baseline runs first, on the very seeds the candidates get (the seed list's first ``seeds``).
    run_pending_baseline(study, objective, seeds=len(seed_values), progress=progress)
    baseline = _baseline_candidate(study, chosen_rule, confidence, seed_values)
    candidates: list[Candidate] = []
    label = f"re-running the top {len(top)} of {study.name} across {len(seed_values)} seeds"
    expected = typical_duration(top)  # the same configurations took this long in the search
    with Progress(label, len(top) * len(seed_values), unit="runs", per_unit=expected, show=progress) as bar:
        for record in top:
            runs = []
            for i, seed in enumerate(seed_values):
                bar.update(detail=f"#{record.number}, seed {i + 1}/{len(seed_values)}")
                folder = study.checkpoint_root / "seeds" / f"{record.number}-{i}"
                runs.append(run_once(
                    objective, record.params, seed, candidate=record.number, metric=study.metric,
                    guardrails=study.guardrails, checkpoint_dir=folder,
                ))  # fmt: skip
                bar.update(advance=1)
                current = _summarise(
                    record.number, record.params, record.value(study.metric.name), runs, study.metric,
                    study.guardrails, chosen_rule, confidence,
                )  # fmt: skip
                _stop_if_broken(study, [*candidates, current], baseline, rule=chosen_rule, confidence=confidence,
                                seeds=seed_values)  # fmt: skip
            candidates.append(current)
    eligible = [c for c in candidates if c.eligible]
    # Every candidate ran on the same seeds: one beaten on every seed by another has nothing to offer the rule,
    # however steady it is (on two seeds, a spread of 0 by chance would otherwise win the lower bound).
    undominated = [c for c in eligible if _beaten_on_every_seed(c, eligible, study.metric) is None]
    winner = None
    for c in undominated:
        if winner is None or study.metric.better(c.score, winner.score):
            winner = c
    per_seed: list[int] = []
    for i in range(len(seed_values)):
        # The best candidates of seed i (several when they tie): the winner when it is one of them, so that a
        # tie never reads as the best candidate changing across seeds; else the best ranked in the search.
        losses = [
            (study.metric.sign() * seen, c.trial)
            for c in eligible
            if (seen := c.runs[i].metrics.get(study.metric.name)) is not None
        ]
        if not losses:
            continue
        best_loss = min(loss for loss, _ in losses)
        tied = [trial for loss, trial in losses if loss == best_loss]
        per_seed.append(winner.trial if winner is not None and winner.trial in tied else tied[0])
    confirmation: Candidate | None = None
    confirm_seeds: tuple[int, ...] = ()
    if winner is not None and confirm_count and spread_flattered(chosen_rule, len(eligible)):
        # The seed list's next seeds: fresh for every candidate, and apart from every trial's seed stream.
        confirm_seeds = tuple(seed_list(study.seed, len(seed_values) + confirm_count)[len(seed_values) :])
        record = next(r for r in top if r.number == winner.trial)
        runs = _confirm(study, objective, record, confirm_seeds, first=len(seed_values), progress=progress)
        confirmation = _summarise(
            winner.trial, winner.params, winner.original, runs, study.metric, study.guardrails, chosen_rule, confidence
        )
        # The baseline ran on the seed list's first seeds: on these too, the margin pairs the winner with it.
        run_baseline_on_seeds(study, objective, confirm_seeds, first=len(seed_values), progress=progress)
    report = SeedReport(
        metric=study.metric,
        rule=chosen_rule,
        confidence=confidence,
        seeds=tuple(seed_values),
        candidates=tuple(candidates),
        winner=winner,
        per_seed_winners=tuple(per_seed),
        baseline=baseline,
        around=tuple(describe(r, study) for r in front_around(study, top[0])) if several else (),
        around_trials=tuple(r.number for r in front_around(study, top[0])) if several else (),
        confirm_seeds=confirm_seeds,
        confirmation=confirmation,
    )
    write_attr(study, report.attribute())
    warn_if_judged(study.attrs, "validate_top")
    return report
