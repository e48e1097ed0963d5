"""What every view says of the best (the terminal summary, the HTML report, the dashboard and ``tunesmith best``), so
that none contradicts storage or another: `shown_best` (the seed re-runs' winner before the search's best, with the
trials it cannot be told from, a scheduler's few trained fully: `few_trained_note`, and the schedule a PBT continuation
trained: `lineage_note`), `marked_trials` (what the figures mark as the result), `choice_off_front` (a recorded choice
that left the Pareto front), `near_front_note` (trials the front dominates only within the recorded noise) and
`no_feasible_note` (trials finished, but every one broke a guardrail), `verdict_json` (the recorded verdict, as
``--json`` and the dashboard carry it); and what every view says of the scheduler, `scheduler_stops` (``tunesmith
status`` and the HTML report's header), with `call_text`, a plug-in's stored settings as status names the scheduler and
the sampler."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import TYPE_CHECKING, Any

from tunesmith._text import counted
from tunesmith.analysis._common import format_value
from tunesmith.attributes import SeedStabilityAttr, VerdictAttr, read_attr, read_intact
from tunesmith.budget import Budget, BudgetUsage, plain_number
from tunesmith.choose import from_json as rule_from_json
from tunesmith.discipline.seeds import Contest, lineage_of, recorded_contest
from tunesmith.errors import ConfigError
from tunesmith.objective import Metric
from tunesmith.report._data import ReportData, metrics_text, rerun_objective, tie_note
from tunesmith.study._limits import MIN_FULLY_TRAINED, none_trained_note, short_training_note, starts_no_trial
from tunesmith.study._optimize import no_feasible_note as _no_feasible
from tunesmith.study._validation_set import mixed_examples_note
from tunesmith.study._verdict_state import standing
from tunesmith.trial import TrialKind, TrialRecord, TrialState

if TYPE_CHECKING:
    from tunesmith.schedulers import Scheduler
    from tunesmith.study import Study

__all__ = [
    "Mark",
    "Marked",
    "SchedulerStops",
    "ShownBest",
    "Stretch",
    "best_is_shown",
    "call_text",
    "choice_off_front",
    "described",
    "few_trained_note",
    "lineage_note",
    "marked_trials",
    "near_front_note",
    "no_feasible_note",
    "picked_best",
    "scheduler_stops",
    "shown_best",
    "trained_schedule",
    "verdict_json",
]


@dataclass(frozen=True)
class ShownBest:
    """The best configuration a summary shows, and what it says of it.

    ``record`` is the winner of the seed re-runs (`validate_top`, the ``seed_stability`` attribute, as
    ``tunesmith best`` reads it) when there is one and its trial stands, else the search's best; ``search`` is the
    search's best (each trial run on one seed). ``label`` follows the trial number (", the validated winner");
    ``lines`` say what the re-runs found of the two, or why their winner counts no more (empty without re-runs).
    ``rerun``: ``record`` is the re-runs' pick; ``separated``: whether their paired seeds beat every other eligible
    candidate beyond noise (`discipline.seeds.Contest.separated`), ``not_told_apart_from`` the candidates they did
    not (tied or within noise, in the search's ranking; empty when separated); both ``None`` when ``record`` is not
    the re-runs' pick or their runs are not recorded to judge it, as the label says.
    The caveats every view says beside it: ``ties``, the trials it cannot be told from, exactly or within noise
    (`report._data.tie_note`), ``few_trained``, that a scheduler trained too few fully to pick it
    (`few_trained_note`), and ``lineage``, that a PBT continuation's score came from a schedule, its ancestors'
    parameters before its own (`lineage_note`), whose stretches ``schedule`` holds; ``None`` when there is nothing to
    say.
    """

    record: TrialRecord
    search: TrialRecord
    label: str = ""
    lines: tuple[str, ...] = ()
    rerun: bool = False
    separated: bool | None = None
    not_told_apart_from: tuple[int, ...] | None = None
    ties: str | None = None
    few_trained: str | None = None
    lineage: str | None = None
    schedule: tuple[Stretch, ...] | None = None
    mixed_sets: str | None = None

    @property
    def validated(self) -> bool:
        """Whether ``record`` is the re-runs' pick and they told it apart from every other candidate beyond noise:
        what the label calls "the validated winner". A pick within noise, tied, or not judged is not."""
        return self.rerun and self.separated is True

    @property
    def settled(self) -> bool:
        """Whether the re-runs picked the search's best beyond noise: nothing shown needs a second look."""
        return self.validated and self.record.number == self.search.number

    @property
    def caveats(self) -> tuple[str, ...]:
        """The caveats said beside the best: scores read from different validation sets first (they weigh on the
        ranking itself), its lineage (its parameters alone did not earn its score), then the scheduler's (it weighs
        on every trial the ties name)."""
        return tuple(c for c in (self.mixed_sets, self.lineage, self.few_trained, self.ties) if c is not None)

    @property
    def note(self) -> str | None:
        """Everything said of the best beside its headline, in one string, as ``best --json`` and the dashboard
        carry it: the re-runs' `lines`, then the `caveats`."""
        return "; ".join((*self.lines, *self.caveats)) or None


def shown_best(data: ReportData) -> ShownBest | None:
    """The best to show for a study with one objective (``None``: no COMPLETE trial with a finite metric, or several
    objectives, which have a front instead), with the caveats every view says of it: what the terminal summary,
    ``tunesmith best`` (and ``--json``), the HTML report and the dashboard show, so that none says less."""
    picked = picked_best(data)
    if picked is None:
        return None
    schedule = trained_schedule(picked.record, data.records)
    lineage = None if schedule is None else lineage_note(picked, schedule, data.metric)
    return replace(picked, ties=tie_note(data), few_trained=few_trained_note(data), lineage=lineage, schedule=schedule,
                   mixed_sets=mixed_examples_note(data.records, data.metric))  # fmt: skip


@dataclass(frozen=True)
class Stretch:
    """A stretch of the schedule a PBT continuation trained: trial ``trial``'s parameters (``None``: that trial is not
    in the study's records) for steps ``first`` to ``last``; ``last < first``: it trained no step."""

    trial: int
    params: dict[str, Any] | None
    first: int
    last: int

    def steps(self) -> str:
        if self.last < self.first:
            return "for no step"
        return f"for step {self.first}" if self.last == self.first else f"for steps {self.first}-{self.last}"

    def to_json(self) -> dict[str, Any]:
        return {"trial": self.trial, "params": self.params, "first_step": self.first, "last_step": self.last}


def trained_schedule(record: TrialRecord, records: Sequence[TrialRecord]) -> tuple[Stretch, ...] | None:
    """The stretches ``record`` trained, root first, when it is a PBT continuation whose lineage changed a parameter
    (`discipline.seeds.lineage_of`, as `validate_top` and `finalize` read it); ``None`` for a trial whose parameters
    trained it from scratch. Each stretch runs from the step after its trial took over to the step the next took over
    at; the continuation's own runs to the last step it reported."""
    lineage = lineage_of(record, records)
    if lineage is None:
        return None
    trained = lineage.trained
    ends = [later.start_step for later in trained[1:]] + [int(record.resource)]
    return tuple(
        Stretch(s.trial, None if s.params is None else dict(s.params), s.start_step + 1, end)
        for s, end in zip(trained, ends, strict=True)
    )


def lineage_note(shown: ShownBest, schedule: Sequence[Stretch], metric: Metric) -> str:
    """What every view says beside a best that is a PBT continuation: the schedule it trained, "trained as a schedule,
    not from scratch: lr 0.3118 for steps 1-4 (#11), 0.0044 for steps 5-8 (#12), 0.005286 for steps 9-40 (#13)", that
    its score is the schedule's, and what measures its own parameters alone (unless the seed re-runs did)."""
    own = schedule[-1]
    known = [s.params for s in schedule if s.params is not None]
    changed = [name for name in (own.params or {}) if len({repr(p.get(name)) for p in known}) > 1]
    # A stretch whose parameters are not recorded may differ in any: then every parameter is named.
    names = changed or list(own.params or {})
    stretches = ", ".join(
        f"{_stretch_values(s, names, named=i == 0 or len(names) > 1)} {s.steps()} (#{s.trial})"
        for i, s in enumerate(schedule)
    )
    alone = _stretch_values(own, names, named=True)
    said = (f"trial {own.trial} trained as a schedule (a PBT lineage), not from scratch: {stretches}; its "
            f"{metric.name} came from that schedule, not from {alone} alone")  # fmt: skip
    if shown.rerun:  # the re-runs trained the winner's own parameters from scratch: the lines above say how
        return f"{said}: the seed re-runs trained {alone} from scratch"
    rerun = f"ts.validate_top(study, objective) re-runs {alone} from scratch across seeds, which measures it alone"
    return f"{said}: {rerun}"


def _stretch_values(stretch: Stretch, names: Sequence[str], *, named: bool) -> str:
    if stretch.params is None:
        return f"#{stretch.trial}'s parameters (not in the study's records)"
    values = [_schedule_value(stretch.params.get(name)) for name in names]
    return ", ".join(f"{name} {value}" if named else value for name, value in zip(names, values, strict=True))


def _schedule_value(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def best_is_shown(data: ReportData) -> bool:
    """Whether a view's best section shows a best (or, with several objectives, a front): it then carries the
    scheduler's few trained fully (`few_trained_note`), which the view's header leaves to it, so it is said once."""
    return bool(data.front) if data.several else picked_best(data) is not None


def picked_best(data: ReportData) -> ShownBest | None:
    """The trial `shown_best` shows and what the seed re-runs say of it, without the caveats: for the analyses and
    figures that only need which trial it is."""
    search = None if data.several else data.best
    if search is None:
        return None
    stability = _seed_stability(data)
    if stability is None or stability.winner is None:
        return ShownBest(search, search)
    winner = next((r for r in data.records if r.number == stability.winner), None)
    if winner is None or winner.invalidated is not None or winner.state is not TrialState.COMPLETE:
        gone = "is not among the study's trials" if winner is None else (
            f"was invalidated since ({winner.invalidated})" if winner.invalidated is not None
            else f"is {winner.state.value}, not COMPLETE")  # fmt: skip
        said = (f"the seed re-runs picked trial {stability.winner}, which {gone}: it validates nothing now, so the "
                f"search's best is shown; run ts.validate_top(study, {rerun_objective(data)}) again")  # fmt: skip
        return ShownBest(search, search, lines=(said,))
    metric = stability.metric or data.metric.name
    seeds = f"{len(stability.seeds)} seeds" if stability.seeds else "seeds"
    picked = (f"re-run across {seeds}, the rule {stability.rule or 'of validate_top'} picked it"
              f"{_rerun_text(stability, winner.number, metric)}")  # fmt: skip
    contest = recorded_contest(stability, data.metric)
    called = _called(contest)
    separated = None if contest is None else contest.separated
    apart = None if contest is None else tuple(r.trial for r in contest.rivals if not r.beaten)
    if winner.number == search.number:
        return ShownBest(winner, search, f", the search's best and {called}", (picked,), rerun=True,
                         separated=separated, not_told_apart_from=apart)  # fmt: skip
    rerun = _rerun_text(stability, search.number, metric)
    fate = (f"re-run on the same seeds{rerun}, not the rule's pick" if rerun else
            f"not re-run: ts.validate_top(study, {rerun_objective(data)}) re-runs the top trials across "
            "seeds")  # fmt: skip
    beside = (f"the search's best is trial {search.number} (seed {search.seed}): {metrics_text(search.metrics)} on "
              f"its one seed; {fate}")  # fmt: skip
    return ShownBest(winner, search, f", {called}", (picked, beside), rerun=True, separated=separated,
                     not_told_apart_from=apart)  # fmt: skip


class Mark(Enum):
    """What the trials a figure marks are: the one best shown (one objective), the point chosen from the front, or the
    front itself (several objectives and no choice). The value is the figure's label."""

    BEST = "best"
    CHOSEN = "chosen"
    FRONT = "Pareto front"


@dataclass(frozen=True)
class Marked:
    """The trials a figure marks as the study's result, in trial order, and what they are."""

    mark: Mark
    records: tuple[TrialRecord, ...]

    @property
    def numbers(self) -> frozenset[int]:
        return frozenset(r.number for r in self.records)

    def label(self, record: TrialRecord) -> str:
        """One marked trial as a figure names it: ``best: trial 9``, ``Pareto front: trial 3``."""
        return f"{self.mark.value}: trial {record.number}"

    def name(self) -> str:
        """The marks together, as a legend names them: ``best (trial 9)``, ``Pareto front (4 trials)``."""
        if self.mark is Mark.FRONT:
            return f"{self.mark.value} ({len(self.records)} trials)"
        return f"{self.mark.value} (trial {self.records[0].number})"


def marked_trials(data: ReportData) -> Marked | None:
    """What the figures mark as the result, as the summaries state it: with one objective the best `shown_best`
    shows (the seed re-runs' winner before the search's best); with several, which have no single best, the point
    chosen from the front (`Study.choose`, as ``status`` and ``tunesmith best`` mark it), else every trial on the
    front. ``None``: nothing to mark yet."""
    if not data.several:
        shown = picked_best(data)
        return None if shown is None else Marked(Mark.BEST, (shown.record,))
    choice = data.choice
    chosen = None if choice is None else next((r for r in data.valid if r.number == choice.trial), None)
    if chosen is not None:
        return Marked(Mark.CHOSEN, (chosen,))
    front = data.front
    return Marked(Mark.FRONT, tuple(front)) if front else None


def _called(contest: Contest | None) -> str:
    """What the re-runs' winner is called: the validated winner when its runs beat every other candidate's beyond
    noise (the recorded ``contest``, `discipline.seeds.recorded_contest`), else what they found: a tie on every seed,
    a pick within noise, or, with no contest recorded (runs stored before they were judged), no judgement."""
    if contest is None:
        # Unjudged is not separated: "validated" here read as evidence the stored re-runs never gave.
        return ("the re-runs' pick, not judged beyond noise (their runs are not recorded: "
                "ts.validate_top(study, objective) records them)")  # fmt: skip
    if contest.separated:
        return "the validated winner"
    # Every candidate not beaten beyond noise, in the search's ranking, as `best --json`'s not_told_apart_from
    # lists them: naming only the closest read as if the others had been told apart.
    within = [r.trial for r in contest.rivals if not r.beaten and not r.identical]
    if contest.tied:
        tied = ", ".join(f"#{n}" for n in contest.tied)
        also = f", and not told apart from {_either(within)} beyond noise" if within else ""
        return f"the re-runs' pick by the search's ranking, tied with {tied} on every seed{also}"
    return f"the re-runs' pick, not told apart from {_either(within) if within else 'another candidate'} beyond noise"


def _either(trials: list[int]) -> str:
    """``#5``, ``#5 or #7``, ``#3, #5 or #7``."""
    names = [f"#{n}" for n in trials]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _seed_stability(data: ReportData) -> SeedStabilityAttr | None:
    """The recorded re-runs; ``None`` when absent or not in their shape (the HTML report's seed stability section
    then says what is wrong with it)."""
    return read_intact(data.attrs, SeedStabilityAttr)


def _rerun_text(stability: SeedStabilityAttr, trial: int, metric: str) -> str:
    """``: loss 0.0123 ± 0.0557 (mean ± sd over 5 seeds); on 5 fresh seeds after the pick: ...`` for the candidate
    re-run from ``trial``; empty when it was not re-run."""
    candidate = stability.candidate(trial)
    if candidate is None or candidate.mean is None:
        return ""
    said = f": {metric} {_mean_sd(candidate.mean, candidate.std, len(candidate.values))}"
    if candidate.confirm_mean is not None:
        confirmed = len(candidate.confirm_values or ())
        said += (f"; on {confirmed} fresh seeds after the pick: "
                 f"{_mean_sd(candidate.confirm_mean, candidate.confirm_std, confirmed)}")  # fmt: skip
    return said


def _mean_sd(mean: float, sd: float | None, runs: int) -> str:
    if sd is None:
        return f"{format_value(mean)} (mean over {runs} seeds)"
    return f"{format_value(mean)} ± {format_value(sd)} (mean ± sd over {runs} seeds)"


# The trials that dominate a choice named in its note before "and N more".
DOMINATING_NAMED = 3


def choice_off_front(data: ReportData) -> str | None:
    """What to say when the choice recorded from the front (`Study.choose`) is no longer on it: the trials that
    dominate it, whether beyond the objectives' recorded noise, within it or of unknown noise (as the verdict's
    front check judges them, `discipline._front.dominators`), and how to choose again; ``None`` when it is still on
    the front, or nothing stands chosen."""
    choice = data.choice
    if choice is None:
        return None
    front = sorted(data.front, key=lambda r: (data.metric.sign() * r.metrics[data.metric.name], r.number))
    if any(r.number == choice.trial for r in front):
        return _rule_picks_another(data, front)
    from tunesmith.discipline._front import dominators, noise_unknown

    fix = f"choose again from the front as it is now: study.choose({_rule_call(choice.rule)})"
    chosen = next((r for r in data.records if r.number == choice.trial), None)
    if chosen is None or any(m.name not in chosen.metrics for m in data.objectives):
        return f"the chosen trial {choice.trial} is no longer on the Pareto front; {fix}"
    found = dominators(front, chosen, data.objectives)
    better = found.members
    if not better:
        return f"the chosen trial {_point(chosen, data.objectives)} is no longer on the Pareto front; {fix}"
    named = ", ".join(_point(r, data.objectives) for r in better[:DOMINATING_NAMED])
    more = f" and {len(better) - DOMINATING_NAMED} more" if len(better) > DOMINATING_NAMED else ""
    if len(found.beyond) == len(better):
        noise = ", beyond the recorded noise of the objectives"
    elif found.beyond:
        noise = f"; {len(found.beyond)} of them beyond the recorded noise of the objectives"
    elif found.unknown:
        lacking = ", ".join(noise_unknown(found.unknown[0], chosen, data.objectives))
        noise = f"; no standard errors were recorded for {lacking}, so whether this is beyond noise is unknown"
    else:
        noise = ", but only within the recorded noise of the objectives: the evidence cannot tell them apart"
    return (f"the chosen trial {_point(chosen, data.objectives)} is no longer on the Pareto front: dominated by "
            f"{named}{more}{noise}; {fix}")  # fmt: skip


def _rule_picks_another(data: ReportData, front: list[TrialRecord]) -> str | None:
    """What to say when the recorded choice is on the front still but its rule, re-applied to the front as it is now,
    picks another trial (as the verdict's front check re-applies it, `discipline._front.reapply_choice`): that trial,
    whether the chosen one lies behind it beyond the noise of what the rule reads, and the fix, before
    `validate_top` and `finalize` spend their runs and the holdout on the old choice; ``None`` when it picks the
    chosen one still, or the rule cannot be read."""
    choice = data.choice
    assert choice is not None
    try:
        rule = rule_from_json(choice.rule)
        picked = rule.judge(front, data.objectives)
    except (ConfigError, KeyError, TypeError, ValueError):
        return None
    if picked.chosen.number == choice.trial:
        return None
    chosen = next(r for r in front if r.number == choice.trial)
    behind, cut = picked.standing(choice.trial), picked.cut
    if cut is None or behind is None:
        noise = "whether it lies within noise of the new pick is unknown (no standard error recorded for it)"
    elif behind > cut:
        noise = f"the chosen trial lies {behind:.1f} standard errors behind it, beyond the noise (more than {cut:.1f})"
    else:
        noise = f"the chosen trial lies {behind:.1f} standard errors behind it, within the noise (up to {cut:.1f})"
    return (f"the recorded rule {_rule_call(choice.rule)}, re-applied to the front as it is now ({len(front)} trials), "
            f"picks {_point(picked.chosen, data.objectives)}, not the chosen {_point(chosen, data.objectives)}: "
            f"{noise}; choose again (study.choose({_rule_call(choice.rule)})) before ts.validate_top and "
            "ts.finalize, which judge the choice as recorded")  # fmt: skip


def _point(record: TrialRecord, objectives: tuple[Metric, ...]) -> str:
    values = ", ".join(f"{m.name} {format_value(record.metrics[m.name])}" for m in objectives)
    return f"#{record.number} ({values})"


def _rule_call(rule: dict[str, Any]) -> str:
    """The call that makes the recorded rule again, e.g. ``ts.choose.knee()``."""
    try:
        made = rule_from_json(rule)
    except (ConfigError, KeyError, TypeError, ValueError):
        return "rule"  # a rule this version does not know: the user names one
    recorded = made.to_json()
    if recorded["rule"] == "best":
        bounds = {b["metric"]: (b["op"], b["bound"]) for b in recorded["bounds"]}
        return f"ts.choose.best({recorded['metric']!r}" + (f", bounds={bounds!r})" if bounds else ")")
    if recorded["rule"] == "weights":
        return f"ts.choose.weights({recorded['weights']!r})"
    return "ts.choose.knee()"


# The trials near the front named in its note before "and N more".
NEAR_NAMED = 5


def near_front_note(data: ReportData) -> str | None:
    """What to say of the trials off the Pareto front that it dominates only within the recorded noise of the
    objectives (`discipline._front.near_front`): the front cannot be told from them; ``None`` when there are none
    (or no noise was recorded)."""
    from tunesmith.discipline._front import near_front

    near = near_front(data.front, data.valid, data.objectives)
    if not near:
        return None
    named = ", ".join(f"#{r.number}" for r in near[:NEAR_NAMED])
    more = f" and {len(near) - NEAR_NAMED} more" if len(near) > NEAR_NAMED else ""
    are = "is" if len(near) == 1 else "are"
    return (f"{counted(len(near), 'more trial')} ({named}{more}) {are} dominated by the front only within the "
            "recorded noise of the objectives (no front member that dominates one does so beyond one-sided 95% of the "
            "difference's standard error on every objective): the data cannot tell them from the front; more examples "
            "per trial would narrow the standard errors, which may then tell them apart")  # fmt: skip


def no_feasible_note(data: ReportData) -> str | None:
    """What to say when trials finished with their results but every one is INFEASIBLE (declared so, or breaking a
    guardrail): `tunesmith.study._optimize.no_feasible_note`, which `study.optimize` warns with, so that every view
    says the same; ``None`` when a trial is feasible, or none is INFEASIBLE."""
    return _no_feasible(data.records, data.metric, data.objectives, data.guardrails)


def verdict_json(attrs: Mapping[str, Any], records: Sequence[TrialRecord]) -> dict[str, Any] | None:
    """The recorded verdict as every ``--json`` and the dashboard carry it (``None`` before `finalize`): the trial it
    judged, its status, and its standing now (`tunesmith.study._verdict_state.standing`: ``ready``,
    ``recorded_ready``, ``stale``).

    Raises:
        AttributeShapeError: the stored verdict is damaged.
    """
    verdict = read_attr(attrs, VerdictAttr)
    now = standing(attrs, records)
    if verdict is None or now is None:
        return None
    return {"trial": verdict.trial, "status": verdict.status, **now}


def described(stored: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """A plug-in's ``describe()`` form as storage keeps it (``stored``: its keys sorted) in the order the live
    plug-in's ``describe()`` (``given``) lists them; keys ``given`` lacks go last."""
    order = list(given)
    return {key: stored[key] for key in sorted(stored, key=lambda k: order.index(k) if k in order else len(order))}


def call_text(form: Mapping[str, Any]) -> str:
    """A plug-in's ``describe()`` form as a person reads it, ``hyperband(min_resource=1, max_resource=27, eta=3)``;
    the bare name when it has no setting (``random``)."""
    settings = ", ".join(f"{key}={value!r}" for key, value in form.items() if key != "name")
    name = str(form.get("name"))
    return f"{name}({settings})" if settings else name


@dataclass(frozen=True)
class SchedulerStops:
    """What a scheduler that stops trials did, read from storage: ``tunesmith status`` and the HTML report's header
    say it in the same `lines`.

    Attributes:
        settings: its stored ``describe()`` form (the study spec).
        stopped: the trials it stopped (or retired unpromoted), by the rung they were stopped at: ``(level,
            count)``, lowest first; a scheduler without rungs (median stopping, PBT) has one entry at ``None``.
        full_resource: the last rung (``max_resource``); ``None`` without rungs.
        trained_fully: the COMPLETE trials that reached it; ``None`` without rungs.
        trials: the study's trials.
        few_trained: what to do when fewer than `MIN_FULLY_TRAINED` trained fully, as the end of the run warned.
    """

    settings: dict[str, Any]
    stopped: tuple[tuple[float | None, int], ...]
    full_resource: float | None
    trained_fully: int | None
    trials: int
    few_trained: str | None

    @property
    def name(self) -> str:
        return str(self.settings.get("name"))

    def lines(self) -> list[str]:
        """The settings, then where trials were stopped and how many trained to the full resource."""
        named = f"scheduler: {call_text(self.settings)}"
        total = sum(count for _, count in self.stopped)
        if self.full_resource is None:
            return [named, f"stopped by {self.name}: {total} of {self.trials} trials"]
        where = ", ".join(
            f"{count} at rung {plain_number(level)}" if level is not None else f"{count} below the first rung"
            for level, count in self.stopped
        )
        return [
            named,
            f"stopped by {self.name}: {where or 'none'}; trained to the full resource "
            f"({plain_number(self.full_resource)}): {self.trained_fully} of {self.trials} trials",
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "settings": self.settings,
            "stopped": [{"rung": level, "trials": count} for level, count in self.stopped],
            "full_resource": self.full_resource, "trained_fully": self.trained_fully, "trials": self.trials,
            "min_trained_fully": MIN_FULLY_TRAINED, "few_trained": self.few_trained,
        }  # fmt: skip


def scheduler_stops(
    study: Study, records: Sequence[TrialRecord] | None = None, usage: BudgetUsage | None = None
) -> SchedulerStops | None:
    """What ``study``'s scheduler did to ``records`` (default: its trials as stored now), the budget spent as
    ``usage`` (default: as `tunesmith status` counts it now); ``None`` for a scheduler that stops no trial by
    design (FIFO: its share trained to the full resource is 1).

    A trial stopped by a rung scheduler is counted at the highest rung at or below its ``resource`` (the largest
    step it reported): a trial that reports every 8 steps is judged at rung 3 by its step-8 report."""
    scheduler = study.scheduler
    if scheduler.full_resource_share() == 1.0:
        return None
    records = list(study.trials if records is None else records)
    if usage is None:
        usage = study.budget.usage(records, time.time(), gone=study.gone_trials())
    stored = study.info.spec.get("scheduler")
    stored = stored if isinstance(stored, Mapping) else {"name": scheduler.name}
    settings = described(stored, scheduler.describe())
    levels = sorted(scheduler.rungs())
    stopped: dict[float | None, int] = {}
    for record in records:
        if record.state is TrialState.STOPPED and record.kind is TrialKind.SCHEDULER:
            level = max((lv for lv in levels if lv <= record.resource * (1.0 + 1e-9)), default=None)
            stopped[level] = stopped.get(level, 0) + 1
    order = sorted(stopped.items(), key=lambda item: -1.0 if item[0] is None else item[0])
    if not levels:
        return SchedulerStops(settings, ((None, sum(stopped.values())),), None, None, len(records), None)
    full = levels[-1]
    trained = sum(1 for r in records if r.state is TrialState.COMPLETE and r.resource >= full * (1.0 - 1e-9))
    few = _few_trained_note(scheduler, study.budget, records, usage)
    return SchedulerStops(settings, tuple(order), full, trained, len(records), few)


def few_trained_note(data: ReportData, usage: BudgetUsage | None = None) -> str | None:
    """What `scheduler_stops` says when fewer than `MIN_FULLY_TRAINED` trials trained to the full resource (the best
    stands among too few), read from ``data`` (its `ReportData.scheduler`; ``None`` when it has none) and the budget
    spent as ``usage`` (default: as `tunesmith status` counts it now), so that every view that shows the best says
    it as ``status`` does."""
    scheduler = data.scheduler
    if scheduler is None or scheduler.full_resource_share() == 1.0:
        return None
    if usage is None:
        usage = data.budget.usage(data.records, time.time(), gone=data.gone)
    return _few_trained_note(scheduler, data.budget, data.records, usage)


def _few_trained_note(
    scheduler: Scheduler, budget: Budget, records: Sequence[TrialRecord], usage: BudgetUsage
) -> str | None:
    """Why a best chosen among fewer than `MIN_FULLY_TRAINED` trials trained fully is weak, and the fix the end of
    the run gave (`short_training_note`; `none_trained_note` when none completed). ``None`` when enough trained
    fully, when the scheduler has no rungs, or when trials completed and none reached the full resource: their length
    is not ``max_resource``, which the run said as it went (`AxisWatch`), and no budget fixes it."""
    levels = sorted(scheduler.rungs())
    if not levels:
        return None
    full = levels[-1]
    trained = sum(1 for r in records if r.state is TrialState.COMPLETE and r.resource >= full * (1.0 - 1e-9))
    if trained >= MIN_FULLY_TRAINED:
        return None
    if not any(r.state is TrialState.COMPLETE for r in records):
        return none_trained_note(records, scheduler, budget)
    if not trained:
        return None
    chosen = f"the best was chosen among only {trained} trained fully"
    limit = budget.exhausted_limit(usage)
    if limit is None and (refused := starts_no_trial(budget, records, scheduler)) is not None:
        limit = refused.limit  # spent for new trials as `Study.ask` counts it: what is left cannot train one to the end
    if limit is not None and (note := short_training_note(records, scheduler, budget, limit)) is not None:
        return f"{chosen}: {note}"
    return (
        f"{chosen}: fewer than {MIN_FULLY_TRAINED} cannot tell a winner from noise; the budget is not spent, so run "
        "the study on (study.optimize(...), tunesmith run) to train more"
    )
