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

A pick is not evidence by itself: `Contest` pairs the winner with each other eligible candidate seed by seed and
says whether it beats each beyond noise (a one-sided paired t-test at 5% over the candidates it was picked from, and
the examples' noise when the runs carry it), else that the re-runs cannot tell them apart and how many seeds would.
Candidates identical on every seed tie: the search's ranking names the winner among them, and the summary says so.

Then the guide's second step, "re-run final configuration across seeds": a winner picked from several
eligible candidates by ``Rule.LCB`` or ``Rule.WORST`` won partly because its runs happened to agree, so
their spread reads low. It is re-run on ``confirm`` further fresh seeds after the pick, and the verdict
judges its spread on those runs alone. The baseline runs on those seeds too, so that the baseline margin pairs
them with the winner's seed by seed.

A PBT continuation's search score came from a schedule: its ancestors' configurations, each for the steps it trained,
then its own. Its re-runs train its own configuration from scratch, another schedule, so they are no seed repeats of
that score: `lineage_of` reads the schedule from the trials' ``parent`` and ``start_step``, the candidate's note and the
summary name it, and the verdict's seed-stability check cannot pass as decided on such runs.
"""

from __future__ import annotations

import itertools
import json
import math
import statistics
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from tunesmith._caller import outside_stacklevel
from tunesmith._noise import metric_noise
from tunesmith._progress import Progress, check_progress
from tunesmith._validate import integer
from tunesmith.attributes import BaselineAttr, SeedCandidateAttr, SeedStabilityAttr, read_attr, write_attr
from tunesmith.discipline._front import chosen_from_front, describe, front_around, several_objectives
from tunesmith.discipline._paired import ExampleBars, paired_advice, seeds_to_clear, within_noise
from tunesmith.discipline._reruns import (
    BASELINE_NUMBER,
    LIMIT_KINDS,
    SEED_BLIND_WHY,
    UNBOUNDED,
    Objective,
    RunJob,
    RunLimits,
    SeedRun,
    across_runs,
    check_keep_checkpoints,
    mean_and_sd,
    run_many,
    seed_blind,
    seed_list,
    typical_duration,
)
from tunesmith.discipline.baseline import Baseline, evaluate_baseline, run_baseline_on_seeds, run_pending_baseline
from tunesmith.discipline.conventions import slices_of
from tunesmith.discipline.gap import Z_ONE_SIDED_95
from tunesmith.discipline.guardrails import GuardrailOutcome, GuardrailReading, read_guardrail
from tunesmith.discipline.verdict import warn_if_judged
from tunesmith.errors import ConfigError, TunesmithError
from tunesmith.integrations._sklearn_space import estimator_params
from tunesmith.objective import COUNT, DIGEST, Guardrail, Metric
from tunesmith.study import ExampleCountWarning, ObjectiveError
from tunesmith.study._optimize import refuse_unrunnable
from tunesmith.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from tunesmith.study import Study

__all__ = [
    "DEFAULT_SEEDS",
    "Baseline",
    "Candidate",
    "Contest",
    "Lineage",
    "Rival",
    "Rule",
    "SeedReport",
    "SeedRun",
    "Standing",
    "TopKUnusedWarning",
    "evaluate_baseline",
    "lineage_of",
    "recorded_contest",
    "run_pending_baseline",
    "seed_list",
    "same_result_as",
    "stand_ins",
    "top_configurations",
    "validate_top",
]


class TopKUnusedWarning(UserWarning):
    """`validate_top` was given a ``k`` other than 1 on a study with several objectives, where it re-runs the one
    configuration `Study.choose` recorded: the choice there is made by the rule stated on the Pareto front, not by
    ranking candidates on one objective, so there are no top ``k`` to re-run."""


class Rule(Enum):
    """How `validate_top` picks the winner among re-run candidates."""

    LCB = "lcb"
    MEAN = "mean"
    WORST = "worst"


def _t_quantile(confidence: float, dof: int) -> float:
    from scipy.stats import t

    return float(t.ppf(confidence, dof))


@dataclass(frozen=True)
class Segment:
    """A stretch of a PBT continuation's training: trial ``trial``'s configuration, from ``start_step`` on
    (``params`` ``None``: that trial is not in the study's records)."""

    trial: int
    start_step: int
    params: dict[str, Any] | None


@dataclass(frozen=True)
class Lineage:
    """The schedule a PBT continuation's search score came from: the configuration of each trial of its lineage,
    root first, each from the step its trial took over at, the continuation's own last (`lineage_of`).

    Its re-runs from scratch train the continuation's own configuration alone, another schedule: they are no seed
    repeats of its score, and a re-run objective cannot replay the schedule (it is given the final ``params`` and a
    seed, nothing of the lineage).
    """

    segments: tuple[Segment, ...]

    @property
    def trial(self) -> int:
        return self.segments[-1].trial

    @property
    def trained(self) -> tuple[Segment, ...]:
        """The segments that trained a step: those before the next one's start, and the continuation's own (one
        continued from the step its parent started at trained nothing under the parent's configuration)."""
        pairs = zip(self.segments, self.segments[1:], strict=False)
        return (*(s for s, later in pairs if later.start_step > s.start_step), self.segments[-1])

    @property
    def changed(self) -> tuple[str, ...]:
        """The parameters whose value changes along the schedule, in the continuation's order."""
        known = [s.params for s in self.trained if s.params is not None]
        names = dict.fromkeys(name for params in reversed(known) for name in params)
        return tuple(name for name in names if len({repr(params.get(name)) for params in known}) > 1)

    def describe(self) -> str:
        """One sentence naming the lineage and what the re-runs train instead: "#4 continued #1 from step 3 (lr
        0.1273 then 0.1527): its re-runs train lr 0.1527 from scratch, another schedule"."""
        *ancestors, own = self.segments
        clauses = [f"#{own.trial} continued #{ancestors[-1].trial} from step {own.start_step}"]
        clauses += [
            f"which continued #{earlier.trial} from step {later.start_step}"
            for earlier, later in zip(reversed(ancestors[:-1]), reversed(ancestors[1:]), strict=True)
        ]
        # Every parameter when none is seen to change: a stretch whose parameters are not recorded may differ in any.
        names, trained = self.changed or tuple(own.params or {}), self.trained
        stretches = [self._values(s, names, named=i == 0 or len(names) > 1) for i, s in enumerate(trained)]
        if len(stretches) == 2:
            schedule = f"{stretches[0]} then {stretches[1]}"
        else:
            steps = [f"{text} to step {later.start_step}" for text, later in zip(stretches, trained[1:], strict=False)]
            schedule = f"{', '.join(steps)}, then {stretches[-1]}"
        own_values = self._values(own, names, named=True)
        return f"{', '.join(clauses)} ({schedule}): its re-runs train {own_values} from scratch, another schedule"

    @staticmethod
    def _values(segment: Segment, names: Sequence[str], *, named: bool) -> str:
        if segment.params is None:
            return f"#{segment.trial}'s parameters, not in the study's records"
        params = segment.params
        shown = [_shown(params.get(name)) for name in names]
        return ", ".join(f"{name} {value}" if named else value for name, value in zip(names, shown, strict=True))


def _shown(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else "unset" if value is None else str(value)


def lineage_of(record: TrialRecord, records: Sequence[TrialRecord]) -> Lineage | None:
    """The schedule ``record``'s score came from when it is a PBT continuation whose lineage changed a parameter,
    read from the trials' ``parent`` and ``start_step`` (``records``: the study's trials, its ancestors among them).

    ``None`` for a trial trained from scratch (a retried continuation is: the retry drops ``parent``), and for a
    continuation whose lineage kept one configuration throughout: its re-runs from scratch repeat its schedule, and
    are seed repeats of its score as an ordinary trial's are.
    """
    by_number = {r.number: r for r in records}
    segments = [Segment(record.number, int(record.attrs.get("start_step", 0)), dict(record.params))]
    current: TrialRecord | None = record
    while current is not None:
        parent = current.attrs.get("parent")
        if not isinstance(parent, int) or isinstance(parent, bool) or any(s.trial == parent for s in segments):
            break
        current = by_number.get(parent)
        params = None if current is None else dict(current.params)
        start = 0 if current is None else int(current.attrs.get("start_step", 0))
        segments.insert(0, Segment(parent, start, params))
    lineage = Lineage(tuple(segments))
    if len(lineage.trained) < 2 or (not lineage.changed and all(s.params is not None for s in lineage.trained)):
        return None
    return lineage


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
        lineage: the schedule its search score came from, when it is a PBT continuation whose lineage changed a
            parameter (`lineage_of`): its runs then train another schedule, and ``note`` says so.

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
    lineage: Lineage | None = None

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
    lineage: Lineage | None = None,
) -> Candidate:
    # A run whose objective raised `Infeasible` measured nothing: it counts against the candidate, as a failure does.
    values = tuple(run.metrics[metric.name] for run in runs
                   if run.state != TrialState.FAILED.value and metric.name in run.metrics)  # fmt: skip
    mean, std = mean_and_sd(values) if values else (math.nan, math.nan)
    notes: list[str] = []  # each one keeps the candidate from winning
    failed = [run for run in runs if run.state == TrialState.FAILED.value]
    if failed:
        notes.append(f"{len(failed)} of {len(runs)} runs failed ({(failed[0].reason or '').splitlines()[0]})")
    declared = [run for run in runs if run.state == TrialState.INFEASIBLE.value and not run.metrics]
    if declared:
        notes.append(f"{len(declared)} of {len(runs)} runs could not be run ({declared[0].reason})")
    caveats = [] if lineage is None else [lineage.describe()]  # still eligible: its runs are fair among re-runs
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
        lineage=lineage,
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
    seeds: Sequence[int], limits: RunLimits = UNBOUNDED,
) -> None:  # fmt: skip
    """Record the runs so far and raise when the first `_BROKEN_AFTER` re-runs all failed: configurations that
    worked in the search fail every time, so the objective given to `validate_top` is broken (another signature, a
    missing metric), and going on would only spend more runs on a bug. When every one of them ended at a limit
    (``limits``: past ``trial_timeout``, out of memory under ``memory_limit``), the message names the limit and how
    long the search's trials took, since the limit may be what is too tight for a re-run.

    ``candidates`` are those re-run so far, the last one perhaps on fewer seeds than the others. They are recorded
    in the attribute ``seed_stability`` with no winner, every failed run with its error, so that the verdict's
    seed-stability check fails on them rather than reading as never run.
    """
    runs = [run for candidate in candidates for run in candidate.runs]
    if len(runs) < _BROKEN_AFTER or any(run.state != TrialState.FAILED.value for run in runs):
        return
    first = runs[0].reason or ""
    line = first.splitlines()[0] if first else "no reason"
    at_limits = all(run.kind in LIMIT_KINDS for run in runs)
    stopped = (f"validate_top stopped after {len(runs)} failed re-runs: its objective is broken; fix it and run "
               "ts.validate_top(study, objective) again")  # fmt: skip
    cause = f"the objective given to it is broken ({line}); fix it and run validate_top again"
    if at_limits:
        took = typical_duration(study.trials)
        search = "" if took is None else f" (the search's complete trials took a median of {took:.3g}s)"
        stopped = (f"validate_top stopped after {len(runs)} re-runs that ended at the per-run limits "
                   f"({limits.describe()}); raise them or fix what makes the re-runs run past them, and run "
                   "ts.validate_top(study, objective) again")  # fmt: skip
        cause = (f"every one ended at the per-run limits, {limits.describe()} ({line}){search}: raise the limit if "
                 "a re-run needs more than it allows, else find what makes the re-runs hang or grow, and run "
                 "validate_top again")  # fmt: skip
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
        f"search: {cause}. The failed runs are recorded in the study attribute seed_stability, so the verdict's "
        f"seed-stability check fails until then.\nThe first failure:\n{first}",
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
        alike: ``(trial, candidate)`` for each trial ranked among the candidates that was not re-run because its
            per-example values in the search were the candidate's (`top_configurations`); not stored in the
            attribute, where the trials' fingerprints say it again (`same_result_as`).
        asked: the ``k`` given when the study had fewer distinct COMPLETE configurations than it, all re-run
            (``None``: as many re-ran as were asked for, or ``k`` was left to its default).
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
    alike: tuple[tuple[int, int], ...] = ()
    asked: int | None = None

    @property
    def changes_across_seeds(self) -> bool:
        """Whether the best candidate differs from one seed to another."""
        return len(set(self.per_seed_winners)) > 1

    @property
    def overturned(self) -> bool:
        """Whether the winner is not the configuration that was best in the search (beyond noise or not: see
        `contest`)."""
        return self.winner is not None and bool(self.candidates) and self.winner.trial != self.candidates[0].trial

    @property
    def contest(self) -> Contest | None:
        """Whether the re-runs tell the winner from the other eligible candidates (``None``: no winner)."""
        if self.winner is None:
            return None
        runs = {c.trial: c.runs for c in self.candidates if c.eligible}
        return _contest(self.winner.trial, runs, self.metric)

    def summary(self) -> str:
        rule = f"{self.rule.value}" + (f" at {self.confidence:.0%}" if self.rule is Rule.LCB else "")
        lines = [f"{len(self.candidates)} candidates x {len(self.seeds)} seeds, picked by {rule}:"]
        eligible = [c for c in self.candidates if c.eligible]
        for c in (*self.candidates, *([self.baseline] if self.baseline else [])):
            mark = "*" if self.winner is not None and c.trial == self.winner.trial else " "
            if not c.eligible and c.trial != BASELINE_NUMBER:
                status = f" not eligible: {c.note}"
            elif c.trial != BASELINE_NUMBER and (better := _dominated_by(c, eligible, self.metric)) is not None:
                status = f" left out: {better.text()}"
            else:
                status = ""
            completed = sum(1 for run in c.runs if run.state != TrialState.FAILED.value)
            seeds = f"{len(c.runs)} seeds" if completed == len(c.runs) else f"{completed} of {len(c.runs)} seeds"
            origin = seeds if c.original is None else f"search {c.original:.4g}"
            lines.append(
                f" {mark} {c.label:>9} {self.metric.name} {c.mean:.4g} +- {c.std:.2g} ({origin}; "
                f"score {c.score:.4g}){status}"
            )
        if self.alike:
            lines.append(_alike_line(self.alike))
        if self.asked is not None:
            lines.append(f"{self.asked} were asked for: the study has no other distinct completed configuration")
        for c in self.candidates:  # an ineligible one's note, shown above, names its lineage already
            if c.lineage is not None and c.eligible:
                searched = "" if c.original is None else f" that scored {c.original:.4g}"
                lines.append(f"{c.lineage.describe()}, not seed repeats of the run{searched} in the search")
        if self.around:
            lines.append(f"the front around the chosen trial: {', '.join(self.around)}")
        contest = self.contest
        if self.winner is None:
            lines.append("no candidate is eligible")
        else:
            tied = () if contest is None else contest.tied
            across = across_seeds(self.per_seed_winners, self.winner.trial, tied, compared=len(eligible))
            lines.append(f"winner {self.winner.label}{f'; {across}' if across else ''}{self._overturn(contest)}")
        if contest is not None and contest.describe(self.metric.name):
            lines.append(contest.describe(self.metric.name))
        if self.confirmation is not None:
            lines.append(_confirmed(self.confirmation, self.metric))
        confirmed = () if self.confirmation is None else self.confirmation.runs
        blind = seed_blind([*(run for c in self.candidates for run in c.runs), *confirmed], self.metric.name)
        if blind is not None:
            every = "the candidate" if blind.candidates == 1 else f"each of {blind.candidates} candidates"
            lines.append(f"{every} gave the same {self.metric.name}{blind.examples} on every seed it ran: "
                         f"{SEED_BLIND_WHY}; these re-runs then measure no seed noise, and only more validation "
                         "examples can tell candidates apart")  # fmt: skip
        return "\n".join(lines)

    def _overturn(self, contest: Contest | None) -> str:
        """The winner line's word on the search's best, when the winner is another: overturned only when the winner
        beats it beyond noise (or it is not eligible); a pick within noise only preferred."""
        if not self.overturned:
            return ""
        searched = self.candidates[0]
        rival = None if contest is None else contest.rival(searched.trial)
        if rival is None or rival.beaten:
            return "; the search's best was overturned"
        if rival.identical:
            return f"; it ties the search's best {searched.label}, ranked first in the search"
        return f"; the rule prefers it to the search's best {searched.label}, but not beyond noise"

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


@dataclass(frozen=True)
class _Dominated:
    """Another candidate, ``by``, at least as good as a candidate on every one of the ``seeds`` and better on
    ``beaten`` of them (at least one)."""

    by: int
    beaten: int
    seeds: int

    def text(self) -> str:
        """What the summary says: beaten on every seed only when it was; a tie on the others is named, since a
        one-seed difference says nothing of noise (the rule is admissibility: on no seed did it do better)."""
        if self.beaten == self.seeds:
            return f"beaten on every seed by #{self.by}"
        return (f"#{self.by} matched it on {self.seeds - self.beaten} of the {self.seeds} seeds and beat it on "
                f"{self.beaten}, so it was better on none")


def _dominated_by(candidate: Candidate, others: Sequence[Candidate], metric: Metric) -> _Dominated | None:
    """A candidate at least as good as ``candidate`` on every seed and better on one (``None``: none is), comparing
    the runs of each seed (all completed: the candidates are eligible); of several, the one better on most seeds."""
    mine = [run.metrics.get(metric.name) for run in candidate.runs]
    found: list[_Dominated] = []
    for other in others:
        if other is candidate:
            continue
        theirs = [run.metrics.get(metric.name) for run in other.runs]
        pairs = [(a, b) for a, b in zip(mine, theirs, strict=True) if a is not None and b is not None]
        if len(pairs) != len(mine) or not pairs:
            continue
        beaten = sum(1 for a, b in pairs if metric.better(b, a))
        if beaten and all(not metric.better(a, b) for a, b in pairs):
            found.append(_Dominated(other.trial, beaten, len(pairs)))
    return max(found, key=lambda d: d.beaten, default=None)


# The one-sided level at which the winner must beat each other eligible candidate, shared among the candidates it was
# picked from (Bonferroni: that some candidate beats every other by chance is at most the sum over the candidates).
_CONTEST_LEVEL = 0.05


class Standing(Enum):
    """How the winner stands against the other eligible candidates, paired seed by seed (`Contest`)."""

    ALONE = "alone"  # no other eligible candidate to compare it with
    TIED = "tied"  # identical to another on every seed: the search's ranking names it, not the re-runs
    WITHIN_NOISE = "within noise"  # another cannot be told from it on these seeds
    BEYOND_NOISE = "beyond noise"  # it beats every other beyond noise


@dataclass(frozen=True)
class Rival:
    """The winner against one other eligible candidate on the seeds both ran.

    Attributes:
        trial: the other candidate's trial number.
        identical: both gave exactly the same metric on every one of those seeds.
        gain: the winner's mean advantage seed by seed, in the metric's units (positive: the winner is better).
        spread: the standard deviation of that advantage across the seeds.
        seeds: how many seeds are paired.
        t_bar: what ``gain`` must exceed for the one-sided paired t-test at the contest's level.
        sampling_bar: what it must exceed for the validation examples' noise every seed shares, which pairing by
            seed does not remove (0: none recorded). With both candidates' per-example values on every paired seed
            (``examples``), `Z_ONE_SIDED_95` standard errors of their per-example differences, as the baseline
            margin reads them: on one validation set two models' errors are correlated, so the difference is far
            less noisy than either score. Else the winner's own per-example or per-fold standard error at the
            contest's level.
        combined_bar: with ``examples``, the t-test's bar and the examples' own part in quadrature (0: without).
        examples: the two candidates' per-example values paired seed by seed and example by example (``None``: not
            both kept them, alike, on every paired seed).
    """

    trial: int
    identical: bool
    gain: float
    spread: float
    seeds: int
    t_bar: float
    sampling_bar: float
    combined_bar: float = 0.0
    examples: ExampleBars | None = None

    @property
    def bar(self) -> float:
        return max(self.t_bar, self.sampling_bar, self.combined_bar)

    @property
    def beaten(self) -> bool:
        """Whether the winner beats it beyond noise."""
        return not self.identical and self.gain > self.bar


@dataclass(frozen=True)
class Contest:
    """Whether the re-runs tell the winner from the other eligible candidates: each is paired with it seed by seed
    and must lose beyond noise at one-sided ``level`` (5% over the ``compared`` candidates the winner was picked
    from); ``rivals`` in the search's ranking."""

    winner: int
    level: float
    compared: int
    rivals: tuple[Rival, ...]

    @property
    def tied(self) -> tuple[int, ...]:
        """The candidates identical to the winner on every seed."""
        return tuple(r.trial for r in self.rivals if r.identical)

    @property
    def standing(self) -> Standing:
        if not self.rivals:
            return Standing.ALONE
        if self.tied:
            return Standing.TIED
        return Standing.BEYOND_NOISE if all(r.beaten for r in self.rivals) else Standing.WITHIN_NOISE

    @property
    def separated(self) -> bool:
        """Whether the winner beats every other eligible candidate beyond noise (vacuously, when there is none)."""
        return self.standing in (Standing.ALONE, Standing.BEYOND_NOISE)

    @property
    def runner_up(self) -> Rival | None:
        """The candidate closest to the winner: the first tied with it, else the one it clears its bar by the least."""
        if not self.rivals:
            return None
        tied = [r for r in self.rivals if r.identical]
        return tied[0] if tied else min(self.rivals, key=lambda r: r.gain - r.bar)

    def rival(self, trial: int) -> Rival | None:
        return next((r for r in self.rivals if r.trial == trial), None)

    @property
    def seeds_to_decide(self) -> int | None:
        """How many paired seeds the t-test would need to clear the runner-up's gain, were it and its spread to stay
        (``None``: separated or tied already, the winner not ahead on average, the gain within noise whatever the
        seeds, or the examples' noise, not the seeds', in the way)."""
        runner_up = self.runner_up
        if runner_up is None or self.standing is not Standing.WITHIN_NOISE or runner_up.gain <= 0:
            return None
        if within_noise(runner_up.gain, runner_up.bar) is not None:
            return None
        if runner_up.examples is not None:  # more seeds lower the t-test's bar and the seed-by-example part
            return runner_up.examples.seeds_to_clear(runner_up.gain, runner_up.spread, self.level)
        if runner_up.t_bar < runner_up.gain:
            return None
        return seeds_to_clear(runner_up.gain, runner_up.spread, self.level, runner_up.seeds)

    def describe(self, metric: str) -> str:
        """The summary's line on it (empty: no other eligible candidate)."""
        runner_up = self.runner_up
        if runner_up is None:
            return ""
        if self.tied:
            names = ", ".join(f"#{n}" for n in self.tied)
            return (f"the winner ties {names}: identical {metric} on every one of {runner_up.seeds} seeds, so the "
                    f"re-runs cannot tell them apart; #{self.winner} is named by the search's ranking (the best of "
                    "them in the search), not by a better result. More seeds would not separate results that stay "
                    "identical: the seed alone sets them, so the parameters they differ in seem to do nothing "
                    "here")  # fmt: skip
        test = (f"{runner_up.gain:.3g} +- {runner_up.spread / math.sqrt(runner_up.seeds):.2g} seed by seed over "
                f"{runner_up.seeds} paired seeds")  # fmt: skip
        picked = f", 5% over {self.compared} candidates" if self.compared > 1 else ""
        bar = f"{runner_up.bar:.3g} (one-sided paired t-test at {self.level:.2%}{picked}"
        if runner_up.examples is not None:
            bar += (f"; the examples' noise {runner_up.sampling_bar:.3g}, {Z_ONE_SIDED_95:.3g} standard errors of the "
                    f"per-example differences paired over {runner_up.examples.examples} examples, "
                    f"{runner_up.combined_bar:.3g} with the t-test's bar in quadrature)")  # fmt: skip
        else:
            bar += f"; the examples' noise {runner_up.sampling_bar:.3g})" if runner_up.sampling_bar > 0 else ")"
        if self.separated:
            beaten = (f"every other candidate beyond noise; the closest, #{runner_up.trial}:" if len(self.rivals) > 1
                      else f"#{runner_up.trial} beyond noise:")  # fmt: skip
            if runner_up.bar == 0:  # the same gain on every seed, and no examples' noise recorded
                return (f"the winner beats {beaten} it gains {runner_up.gain:.3g} on every one of {runner_up.seeds} "
                        "seeds alike, so the seeds do not move the difference (no examples' noise is recorded to "
                        "weigh it against)")  # fmt: skip
            return f"the winner beats {beaten} it gains {test}, beyond {bar}"
        apart = f"the winner cannot be told apart from #{runner_up.trial} on these seeds"
        unbeaten = [r for r in self.rivals if not r.beaten]  # naming one of several read as the others beaten
        if len(unbeaten) > 1:
            names = ", ".join(f"#{r.trial}" for r in unbeaten[:-1]) + f" or #{unbeaten[-1].trial}"
            apart = (f"the winner cannot be told apart from {names} on these seeds; against #{runner_up.trial}, "
                     "whose gain falls furthest below its noise bar")
        if runner_up.gain <= 0:
            return (f"{apart}: #{runner_up.trial} does as well or better on average (the winner gains {test}); "
                    "the rule picked the winner on more than its mean, so more seeds are not expected to show it "
                    "better")  # fmt: skip
        if runner_up.examples is not None:
            advice = runner_up.examples.advice(runner_up.gain, runner_up.t_bar, runner_up.spread, self.level)
        else:
            advice = paired_advice(runner_up.gain, runner_up.t_bar, runner_up.sampling_bar, runner_up.spread,
                                    self.level, runner_up.seeds)  # fmt: skip
        seeds = self.seeds_to_decide
        call = f" if the gain and its spread held (validate_top with seeds={seeds})" if seeds is not None else ""
        return f"{apart}: it gains {test}, within noise: beyond it needs more than {bar}; {advice}{call}"


def _contest(winner: int, runs: Mapping[int, Sequence[SeedRun]], metric: Metric) -> Contest | None:
    """The winner against every other eligible candidate; ``runs`` holds each eligible candidate's runs (the winner's
    too) by trial number, in the search's ranking. ``None`` when the winner has fewer than two seeds to pair."""

    def measured(trial: int) -> dict[int, SeedRun]:
        return {run.seed: run for run in runs[trial]
                if run.state != TrialState.FAILED.value and metric.name in run.metrics}  # fmt: skip

    from scipy.stats import norm
    from scipy.stats import t as student

    own_runs = measured(winner)
    mine = {seed: run.metrics[metric.name] for seed, run in own_runs.items()}
    if len(mine) < 2:
        return None
    level = _CONTEST_LEVEL / len(runs)
    own = [n.stderr for run in runs[winner] if (n := metric_noise(run.metrics, metric)) is not None]
    sampling = float(norm.ppf(1.0 - level)) * float(np.mean(own)) if own else 0.0
    rivals = []
    for trial in runs:
        their_runs = measured(trial)
        theirs = {seed: run.metrics[metric.name] for seed, run in their_runs.items()}
        shared = [seed for seed in mine if seed in theirs]
        if trial == winner or len(shared) < 2:
            continue
        differences = [metric.sign() * (theirs[s] - mine[s]) for s in shared]
        spread = statistics.stdev(differences)
        t_bar = float(student.ppf(1.0 - level, len(shared) - 1)) * spread / math.sqrt(len(shared))
        examples = ExampleBars.of([(own_runs[s].examples, their_runs[s].examples) for s in shared], metric.sign())
        sampling_bar, combined_bar = examples.bars(t_bar, level) if examples is not None else (sampling, 0.0)
        rivals.append(Rival(
            trial=trial, identical=all(theirs[s] == mine[s] for s in shared), gain=math.fsum(differences) / len(shared),
            spread=spread, seeds=len(shared), t_bar=t_bar, sampling_bar=sampling_bar, combined_bar=combined_bar,
            examples=examples,
        ))  # fmt: skip
    return Contest(winner, level, len(runs), tuple(rivals))


def recorded_contest(stability: SeedStabilityAttr, metric: Metric) -> Contest | None:
    """The `Contest` the recorded re-runs show (``None``: no winner, or the candidates' eligibility or runs were not
    recorded), for the views that read the attribute ``seed_stability``, as `SeedReport.contest` is for its summary."""
    entries = [c for c in stability.candidates or () if not c.baseline]
    if stability.winner is None or stability.runs is None or not entries:
        return None
    if any(c.eligible is None or c.trial is None for c in entries):
        return None
    eligible: dict[int, list[SeedRun]] = {c.trial: [] for c in entries if c.eligible and c.trial is not None}
    if stability.winner not in eligible:
        return None
    try:
        recorded = [SeedRun.from_json(run) for run in stability.runs]
    except (KeyError, TypeError, ValueError):
        return None  # not in their shape: the report's seed stability section says so
    for run in recorded:
        if run.candidate in eligible:
            eligible[run.candidate].append(run)
    return _contest(stability.winner, eligible, metric)


def across_seeds(per_seed_winners: Sequence[int], winner: int | None, tied: Sequence[int] = (),
                 compared: int | None = None) -> str:  # fmt: skip
    """Which candidate was best on each seed, said against the winner; ``tied``: the candidates identical to the winner
    on every seed (`Contest.tied`), which a seed's best credits to the winner, so that it is never said to be best.
    ``compared``: how many eligible candidates were compared seed by seed (``None``: not known). Fewer than two
    compared nothing, so ``""``: a lone candidate is the best on every seed by default, and saying so read as
    evidence (`validate_top` on a study with several objectives re-runs only the chosen configuration)."""
    if compared is not None and compared < 2:
        return ""
    if not per_seed_winners:
        return "no seed had an eligible candidate"
    listed = ", ".join(f"#{n}" for n in per_seed_winners)
    if len(set(per_seed_winners)) > 1:
        return f"the best candidate changes across seeds ({listed})"
    if tied and per_seed_winners[0] == winner:
        names = ", ".join(f"#{n}" for n in tied)
        return f"no candidate is best on any seed: the winner ties {names} on every seed and none beats them on one"
    if per_seed_winners[0] == winner:
        return "the winner is the best candidate on every seed"
    return f"#{per_seed_winners[0]} is the best candidate on every seed, level with the winner on at least one"


def _alike_line(alike: Sequence[tuple[int, int]]) -> str:
    """The summary's line on the trials not re-run for giving a candidate's per-example values."""
    by: dict[int, list[int]] = {}
    for trial, candidate in alike:
        by.setdefault(candidate, []).append(trial)
    said = "; ".join(
        f"{', '.join(f'#{n}' for n in trials[:5])}{f' and {len(trials) - 5} more' if len(trials) > 5 else ''} "
        f"gave #{candidate}'s"
        for candidate, trials in by.items()
    )
    return (f"not re-run: {said} per-example values in the search (the same result example by example, under "
            "other parameters and seeds): the candidate's re-runs stand for them")  # fmt: skip


def top_configurations(records: Sequence[TrialRecord], metric: Metric, k: int) -> list[TrialRecord]:
    """The best ``k`` COMPLETE, valid (not invalidated) trials with distinct configurations and distinct results,
    best first.

    A trial whose per-example values of the metric are those of a better-ranked one (their fingerprints,
    ``digest:<metric>``, agree) is left out: it gave the same value on every validation example, on another
    seed and with other parameters, so the parameters it differs by did not act there (a tree's depth past the
    depth it grew to, a regularisation too weak to move a single prediction). Re-running it beside the other
    re-runs the same model, most likely: 3 of 3 candidates alike on every seed told nothing apart, where the next
    distinct results could be paired with the best example by example. Two models that differ can give the same
    values on a small set by chance (right or wrong on 20 examples); this set cannot tell them apart either way.
    `same_result_as` names the trials so left out.
    """
    out: list[TrialRecord] = []
    for ranked in _ranked_configurations(records, metric):
        if ranked.stands_for == ranked.record.number:
            out.append(ranked.record)
        if len(out) == k:
            break
    return out


def same_result_as(records: Sequence[TrialRecord], metric: Metric) -> dict[int, int]:
    """For each ranked trial that `top_configurations` leaves out for giving a better-ranked trial's per-example
    values of ``metric`` (their fingerprints agree), the number of the first trial that gave them. A repeat of an
    earlier trial's configuration is not in it: re-running the configuration re-runs it."""
    return {r.record.number: r.stands_for for r in _ranked_configurations(records, metric) if r.same_result}


def stand_ins(records: Sequence[TrialRecord], metric: Metric) -> dict[int, int]:
    """For each ranked trial, the trial of `top_configurations` whose re-runs stand for it: itself, the first trial
    of its configuration, or the first that gave its per-example values of ``metric``."""
    return {r.record.number: r.stands_for for r in _ranked_configurations(records, metric)}


def _passed_over_alike(records: Sequence[TrialRecord], metric: Metric, top: Sequence[TrialRecord]) -> tuple[
    tuple[int, int], ...
]:
    """``(trial, candidate)`` for each trial ranked before the last of ``top`` that `top_configurations` left out for
    giving a candidate's per-example values."""
    if not top:
        return ()
    out: list[tuple[int, int]] = []
    for ranked in _ranked_configurations(records, metric):
        if ranked.record.number == top[-1].number:
            break
        if ranked.same_result:
            out.append((ranked.record.number, ranked.stands_for))
    return tuple(out)


class _Ranked(NamedTuple):
    """A ranked trial and the trial whose re-runs stand for it (its own number when it is re-run itself)."""

    record: TrialRecord
    stands_for: int
    same_result: bool = False  # it stands in for giving that trial's per-example values, not its configuration


def _ranked_configurations(records: Sequence[TrialRecord], metric: Metric) -> Iterator[_Ranked]:
    """The COMPLETE, valid trials best first, each with the trial that stands for it: itself when it is a
    configuration and a result of its own, else the first trial of its configuration, or the first trial whose
    per-example values of ``metric`` it gave."""
    ranked = sorted(
        (
            r
            for r in records
            if r.state is TrialState.COMPLETE and r.value(metric.name) is not None and r.invalidated is None
        ),
        key=lambda r: (metric.sign() * (r.value(metric.name) or 0.0), r.number),
    )
    configurations: dict[str, int] = {}
    results: dict[float, int] = {}
    for record in ranked:
        key = json.dumps(record.params, sort_keys=True, default=str)
        fingerprint = record.metrics.get(f"{DIGEST}{metric.name}")
        if key in configurations:
            yield _Ranked(record, configurations[key])
        elif fingerprint is not None and fingerprint in results:
            configurations[key] = results[fingerprint]
            yield _Ranked(record, results[fingerprint], same_result=True)
        else:
            configurations[key] = record.number
            if fingerprint is not None:
                results[fingerprint] = record.number
            yield _Ranked(record, record.number)


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


# The seeds `validate_top` re-runs each candidate on unless told otherwise (the winner's confirmation runs too).
DEFAULT_SEEDS = 5

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
    progress: bool | None, keep_checkpoints: bool, limits: RunLimits,
) -> list[SeedRun]:  # fmt: skip
    """The winner re-run on ``seed_values``, fresh seeds after the pick (the ``first``-th of the seed list on), each
    under ``limits``.

    Every run is kept, a failed one too, as the selection's are; `_stop_if_broken` is not asked: the winner
    completed every selection run, so a failure here is the configuration's, for the verdict to judge.
    """
    label = f"re-running the winner #{record.number} of {study.name} on {len(seed_values)} fresh seeds"
    jobs = [RunJob(record.number, estimator_params(study, record.params), seed,
                   study.checkpoint_root / "seeds" / f"{record.number}-{first + i}")
            for i, seed in enumerate(seed_values)]  # fmt: skip
    per_unit = limits.per_run(typical_duration([record]))
    with Progress(label, len(jobs), unit="runs", per_unit=per_unit, show=progress) as bar:
        return run_many(objective, jobs, metric=study.metric, guardrails=study.guardrails,
                        keep_checkpoint=keep_checkpoints, limits=limits,
                        ended=lambda runs: bar.update(advance=1))  # fmt: skip


def _running_detail(runs: Sequence[SeedRun | None], jobs: Sequence[RunJob], seeds: int, workers: int) -> str:
    """The progress line's detail while the candidates re-run: the next run to end in the jobs' order, ``#12, seed
    3/5`` (and how many run at once, with several)."""
    place = next((i for i, run in enumerate(runs) if run is None), None)
    if place is None:
        return ""
    said = f"#{jobs[place].candidate}, seed {place % seeds + 1}/{seeds}"
    return said if workers == 1 else f"{said}, {workers} at once"


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
    k: int | None = None,
    seeds: int = DEFAULT_SEEDS,
    *,
    rule: Rule | str = Rule.LCB,
    confidence: float = 0.9,
    confirm: int | None = None,
    progress: bool | None = None,
    keep_checkpoints: bool = False,
    trial_timeout: float | None = None,
    memory_limit: int | str | None = None,
    workers: int = 1,
    gpus_per_trial: float | None = None,
    executor: str | Mapping[str, Any] | None = None,
) -> SeedReport:
    """Re-run the study's top ``k`` configurations with ``seeds`` fresh seeds and pick the most stable.

    A baseline declared with ``Study(baseline=...)`` and not evaluated yet runs first, on the same
    seeds. On a multi-objective study the candidate is the trial `Study.choose` recorded, ranked on the primary
    objective (the verdict judges its spread on every objective), and the report names its neighbours on the Pareto
    front; ``k`` is not used there, since the choice is made by `Study.choose`'s rule on the front, not by ranking
    candidates, and a ``k`` other than 1 warns (`TopKUnusedWarning`) rather than being dropped in silence. It is
    not refused: the call still re-runs the configuration the verdict judges, and code written for both kinds of
    study (``validate_top(study, objective, k=3)``) keeps working.
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
    Each run, the baseline's too, honours ``trial_timeout`` and ``memory_limit`` as a search trial under
    ``Study.optimize(trial_timeout=..., memory_limit=...)`` does, through the same processes executor: a run past its
    timeout is killed and recorded FAILED of kind TIMEOUT (`SeedRun.kind`), which makes its candidate ineligible as
    any failed run does. The study does not store the limits its searches ran under, so they are given here;
    ``tunesmith run`` passes its config's. Without them a run is one call in this process, unbounded: one that hangs
    holds the call up. With ``workers`` (and ``gpus_per_trial``) the runs share the machine as the search's trials
    did, ``workers`` at once in processes of their own, each holding its GPUs while it runs, or with
    ``executor="ray"`` (or a table of its options) as tasks of the search's Ray cluster; what is recorded is the
    same whatever order they end in, and the check for a broken objective reads the runs in their order.

    Args:
        study: the study whose trials are ranked.
        objective: the same objective the search ran (it receives the fresh seed as ``trial.seed``).
        k: how many distinct configurations to re-run (``None``: 3; with several objectives, 1: see above). A trial
            whose per-example values of the metric are a better-ranked trial's is not counted or re-run: it gave
            the same result example by example (`top_configurations`).
        seeds: how many seeds each runs with (the same seeds for all).
        rule: how the winner is picked (see `Rule`).
        confidence: the one-sided level of ``Rule.LCB``.
        confirm: how many fresh seeds the winner re-runs on after such a pick, and a recorded baseline with it
            (``None``: as many as ``seeds``; 0: none, and the verdict reads the spread on the runs that picked it).
        progress: show runs done and the time left on stderr (``None``: when stderr is a terminal).
        keep_checkpoints: keep each re-run's checkpoint folder (``checkpoint_root/seeds/<trial>-<i>``, the
            baseline's ``baseline-<i>``) once it ends; by default it is deleted. Either way a re-run starts in an
            empty folder, never from the state an earlier call left.
        trial_timeout: seconds a run may take before it is killed and recorded FAILED of kind TIMEOUT (``None``:
            no limit, and the run is a call in this process).
        memory_limit: bytes, or a size such as ``"4GB"``, a run may map beyond what its process starts with; past
            them it fails, kind OUT_OF_MEMORY (``None``: no limit).
        workers: how many runs at once (the baseline's and the confirmation's too), each in its own process; 1:
            one after another. Runs of one configuration then run at once with the same ``trial.number``: an
            objective writes its files into ``trial.checkpoint_dir``, each run's own, not into a path named by it.
        gpus_per_trial: GPUs each run holds while it runs, as `ProcessExecutor(gpus_per_trial=...)` hands them out
            (``None``: the runs' environment is left alone).
        executor: where the runs go when several run at once: ``None`` or ``"processes"`` (this machine), ``"ray"``
            or a table of Ray's options as `Study.optimize` takes it (``{"name": "ray", "num_gpus": 1}``): Ray
            runs even one at a time on the cluster.

    Raises:
        TunesmithError: when the study has no COMPLETE trial.
        ConfigError: an objective no executor can run (not a function of the trial alone, or ``async def``), a
            ``trial_timeout`` that is not a positive number of seconds, a ``memory_limit`` that is no
            memory size, ``workers`` below 1, a ``gpus_per_trial`` that is no whole number of GPUs nor a share of
            one, GPUs asked for that the machine does not have, another executor, or options Ray refuses
            (``memory_limit``; its GPUs are ``num_gpus``), all before anything runs.
        ConfigError: a multi-objective study without a recorded choice (`Study.choose`).
        ObjectiveError: when the first three re-runs all failed, or every run of the declared baseline did: the
            objective is broken. The runs made are recorded first (``seed_stability``, ``baseline``), so that the
            verdict fails on them. A failed run on the fresh seeds after the pick, the winner's or the baseline's,
            is recorded and raises nothing (the baseline's is warned about, `BaselineFailuresWarning`).
    """
    check_progress(progress)
    refuse_unrunnable(objective, "validate_top")
    check_keep_checkpoints(keep_checkpoints)
    limits = RunLimits.checked(trial_timeout, memory_limit, workers, gpus_per_trial, executor)
    limits.check_gpus()
    chosen_rule = _check_rule(rule, confidence)
    count = 3 if k is None else integer("k", k, minimum=1, fix="use 3")
    seed_values = seed_list(study.seed, seeds)
    confirm_count = _check_confirm(confirm, len(seed_values))
    several = several_objectives(study)  # then the one candidate is the trial study.choose recorded
    trials = study.trials
    top = [chosen_from_front(study, "validate_top")] if several else top_configurations(trials, study.metric, count)
    if several and k is not None and count != 1:
        names = ", ".join(m.name for m in study.objectives)
        warnings.warn(
            f"k={k} is not used on study {study.name!r}, which has several objectives ({names}): validate_top "
            f"re-runs the one configuration study.choose recorded, trial #{top[0].number}, since the choice is made "
            "by study.choose's rule on the Pareto front, not by ranking candidates on one objective. Leave k out "
            "(or pass k=1); to weigh another point of the front, choose it with study.choose(...) and run "
            "validate_top again",
            TopKUnusedWarning,
            stacklevel=outside_stacklevel(),
        )
    if not top:
        raise TunesmithError(f"study {study.name!r} has no COMPLETE trial: run the search before validate_top")
    # A declared baseline runs first, on the very seeds the candidates get (the seed list's first ``seeds``).
    run_pending_baseline(study, objective, seeds=len(seed_values), progress=progress,
                         keep_checkpoints=keep_checkpoints, limits=limits)  # fmt: skip
    baseline = _baseline_candidate(study, chosen_rule, confidence, seed_values)
    candidates: list[Candidate] = []
    label = f"re-running the top {len(top)} of {study.name} across {len(seed_values)} seeds"
    expected = typical_duration(top)  # the same configurations took this long in the search
    lineages = [lineage_of(record, trials) for record in top]
    jobs = [
        RunJob(record.number, estimator_params(study, record.params), seed,
               study.checkpoint_root / "seeds" / f"{record.number}-{i}")
        for record in top
        for i, seed in enumerate(seed_values)
    ]  # fmt: skip

    def summarised(runs: Sequence[SeedRun]) -> list[Candidate]:
        """The candidates of ``runs`` (in the jobs' order, the last candidate's perhaps on fewer seeds)."""
        per = len(seed_values)
        starts = range(0, len(runs), per)
        return [
            _summarise(record.number, record.params, record.value(study.metric.name), runs[at : at + per],
                       study.metric, study.guardrails, chosen_rule, confidence, lineage)
            for at, record, lineage in zip(starts, top, lineages, strict=False)
        ]  # fmt: skip

    def ended(runs: Sequence[SeedRun | None]) -> None:
        # The runs that ended before the first still going, in the jobs' order: one after another, every run so
        # far; with several at once, what `_stop_if_broken` reads is the same whatever order they ended in.
        ran = [run for run in itertools.takewhile(lambda run: run is not None, runs) if run is not None]
        bar.update(advance=1, detail=_running_detail(runs, jobs, len(seed_values), limits.workers))
        if ran:
            _stop_if_broken(study, summarised(ran), baseline, rule=chosen_rule, confidence=confidence,
                            seeds=seed_values, limits=limits)  # fmt: skip

    with Progress(label, len(jobs), unit="runs", per_unit=limits.per_run(expected), show=progress) as bar:
        bar.update(detail=_running_detail([None] * len(jobs), jobs, len(seed_values), limits.workers))
        ran = run_many(objective, jobs, metric=study.metric, guardrails=study.guardrails,
                       keep_checkpoint=keep_checkpoints, limits=limits, ended=ended)  # fmt: skip
    candidates.extend(summarised(ran))
    eligible = [c for c in candidates if c.eligible]
    # Every candidate ran on the same seeds: one another matches or beats on every seed has nothing to offer the rule,
    # however steady it is (on two seeds, a spread of 0 by chance would otherwise win the lower bound).
    undominated = [c for c in eligible if _dominated_by(c, eligible, study.metric) is None]
    winner = None
    for c in undominated:  # in the search's ranking: of candidates level on the score the best in the search wins
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
        runs = _confirm(study, objective, record, confirm_seeds, first=len(seed_values), progress=progress,
                        keep_checkpoints=keep_checkpoints, limits=limits)  # fmt: skip
        confirmation = _summarise(
            winner.trial, winner.params, winner.original, runs, study.metric, study.guardrails, chosen_rule, confidence
        )
        # The baseline ran on the seed list's first seeds: on these too, the margin pairs the winner with it.
        run_baseline_on_seeds(study, objective, confirm_seeds, first=len(seed_values), progress=progress,
                              keep_checkpoints=keep_checkpoints, limits=limits)  # fmt: skip
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
        alike=() if several else _passed_over_alike(trials, study.metric, top),
        asked=k if k is not None and not several and len(top) < count else None,
    )
    write_attr(study, report.attribute())
    elsewhere = _read_elsewhere(top, (*candidates, *([confirmation] if confirmation is not None else [])),
                                study.metric)  # fmt: skip
    if elsewhere is not None:
        warnings.warn(elsewhere, ExampleCountWarning, stacklevel=outside_stacklevel())
    warn_if_judged(study.attrs, "validate_top")
    return report


def _read_elsewhere(top: Sequence[TrialRecord], candidates: Sequence[Candidate], metric: Metric) -> str | None:
    """What to say when a candidate's re-runs read ``metric`` from another number of validation examples than its
    trial in the search did (``None``: the same, or no count on either side): the objective given to `validate_top`
    scores another set than the search's, and the re-runs' scores do not compare with the search's."""
    counts = {record.number: record.metrics.get(f"{COUNT}{metric.name}") for record in top}
    for candidate in candidates:
        searched = counts.get(candidate.trial)
        rerun = {run.metrics[f"{COUNT}{metric.name}"] for run in candidate.runs
                 if f"{COUNT}{metric.name}" in run.metrics}  # fmt: skip
        if searched is None or not rerun or rerun == {searched}:
            continue
        read = " and ".join(f"{count:.0f}" for count in sorted(rerun))
        return (f"the re-runs of #{candidate.trial} read {metric.name} from {read} validation examples, its trial in "
                f"the search from {searched:.0f}: the objective given to validate_top scores another validation set "
                "than the search's, so the re-runs' scores do not compare with the search's (its ranking, each "
                "candidate's search value); pass validate_top the objective the search ran")  # fmt: skip
    return None
