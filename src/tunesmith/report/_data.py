"""What a report is made of: the study's records and settings, and the analyses run on them."""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from tunesmith._noise import metric_noise, point_unit
from tunesmith._text import counted
from tunesmith.analysis import (
    Diagnosis,
    EarlySignal,
    ImportanceResult,
    NotEnoughTrials,
    diagnose,
    early_signal,
    importance,
)
from tunesmith.analysis._advice import MIN_ADVICE_TRIALS
from tunesmith.analysis._common import finished_values, format_value, telling_digits, valid_records
from tunesmith.analysis.importance import MORE_TRIALS, SpreadBeyondNoise, seed_noise_of
from tunesmith.attributes import (
    ChoiceAttr,
    EnvironmentAttr,
    ReferencePointAttr,
    SeedStabilityAttr,
    read_attr,
    read_intact,
)
from tunesmith.budget import Budget
from tunesmith.discipline._reruns import SEED_BLIND_WHY, SeedRun, seed_blind
from tunesmith.discipline.gap import noise_of
from tunesmith.discipline.seeds import DEFAULT_SEEDS, lineage_of, same_result_as, stand_ins
from tunesmith.environment import TRIAL_KEY
from tunesmith.errors import ConfigError
from tunesmith.fidelity import rung_view
from tunesmith.objective import COUNT, DIGEST, STDERR, Guardrail, Metric, metric_named
from tunesmith.pareto import (
    REFERENCE_TRIALS,
    hypervolume_history,
    loss_matrix,
    pareto_front,
    reference_losses,
    study_reference,
)
from tunesmith.space import Space
from tunesmith.trial import TrialRecord, TrialState, best_record

if TYPE_CHECKING:
    from tunesmith.schedulers import Scheduler
    from tunesmith.study import Study

__all__ = [
    "EnvironmentGroup",
    "Findings",
    "ReportData",
    "analyse",
    "environment_note",
    "metrics_text",
    "report_data",
    "tie_note",
    "tied_with_best",
    "within_noise_of_best",
]


@dataclass(frozen=True)
class ReportData:
    """Everything a report reads: a study's settings, its trials and its free attributes.

    Build one with `ReportData.from_study`, or directly from records (for studies kept elsewhere).
    The optional sections read ``attrs`` through `tunesmith.attributes` (see docs/architecture.md, "Report").
    """

    name: str
    space: Space
    metric: Metric
    records: tuple[TrialRecord, ...]
    guardrails: tuple[Guardrail, ...] = ()
    budget: Budget = field(default_factory=Budget)
    attrs: Mapping[str, Any] = field(default_factory=dict)
    rungs: tuple[float, ...] = ()  # the scheduler's resource levels, for multi-fidelity studies
    objectives: tuple[Metric, ...] = ()  # every objective of a multi-objective study (``metric`` first)
    given_reference: Mapping[str, float] | None = None  # the reference point given with such a study
    gone: frozenset[int] = frozenset()  # RUNNING trials whose worker is gone (`Study.gone_trials`)
    scheduler: Scheduler | None = None  # what stopped trials: a best among few trained fully is said to be weak

    @classmethod
    def from_study(cls, study: Study) -> ReportData:
        """A snapshot of ``study``: its trials and attributes as stored now."""
        return cls(
            name=study.name,
            space=study.space,
            metric=study.metric,
            records=tuple(study.trials),
            guardrails=tuple(study.guardrails),
            budget=study.budget,
            attrs=dict(study.info.attrs),
            rungs=study.scheduler.rungs(),
            objectives=tuple(study.objectives),
            given_reference=study.given_reference,
            gone=frozenset(study.gone_trials()),
            scheduler=study.scheduler,
        )

    @property
    def best(self) -> TrialRecord | None:
        """The best COMPLETE, valid trial by the metric."""
        return best_record(self.records, self.metric)

    @property
    def valid(self) -> tuple[TrialRecord, ...]:
        """The records without invalidated trials: what every figure that ranks or learns draws from."""
        return tuple(valid_records(self.records))

    @property
    def invalidated(self) -> tuple[TrialRecord, ...]:
        """The trials `Study.invalidate` took out of the search, listed (marked) for the audit."""
        return tuple(r for r in self.records if r.invalidated is not None)

    @property
    def several(self) -> bool:
        """Whether the study has several objectives (then it has a front, not a best)."""
        return len(self.objectives) > 1

    @property
    def front(self) -> list[TrialRecord]:
        """The non-dominated feasible trials (several objectives), in trial order."""
        return pareto_front(self.records, self.objectives) if self.several else []

    @property
    def choice(self) -> ChoiceAttr | None:
        """The choice recorded from the front (`Study.choose`), unless its trial was invalidated since: then
        nothing is chosen, and `void_choice` says why."""
        recorded = read_attr(self.attrs, ChoiceAttr)
        if recorded is None or self.void_choice is not None:
            return None
        return recorded

    @property
    def void_choice(self) -> str | None:
        """Why the recorded choice no longer stands (its trial was invalidated after it was chosen), else ``None``."""
        recorded = read_attr(self.attrs, ChoiceAttr)
        if recorded is None:
            return None
        trial = next((r for r in self.records if r.number == recorded.trial), None)
        if trial is None or trial.invalidated is None:
            return None
        return (f"the choice of trial {recorded.trial} is void: it was invalidated since ({trial.invalidated}); "
                "choose again from the front: study.choose(ts.choose.knee())")  # fmt: skip

    @property
    def reference(self) -> ReferencePointAttr | None:
        """The hypervolume's reference point: stored, given, or (not stored yet) derived from the first trials."""
        if not self.several:
            return None
        stored = read_attr(self.attrs, ReferencePointAttr)
        return study_reference(self.records, self.objectives, given=self.given_reference, stored=stored)

    def hypervolume_line(self) -> str:
        """The front's hypervolume against its reference point, or why there is none yet."""
        _, history = self.hypervolumes()
        reference = self.reference
        if reference is not None and history:
            point = ", ".join(f"{k} = {format_value(v)}" for k, v in reference.values.items())
            return f"hypervolume {history[-1]:.6g} against the reference point ({point}; {reference.source})"
        kept, _ = loss_matrix(self.records, self.objectives)
        return (f"no hypervolume yet: its reference point is derived from the first {REFERENCE_TRIALS} complete "
                f"feasible trials ({len(kept)} so far); pass reference_point={{...}} (one bound per objective) to "
                "the study to measure it from the first trial")  # fmt: skip

    def hypervolumes(self) -> tuple[list[TrialRecord], list[float]]:
        """The complete feasible trials in number order and the front's hypervolume after each (empty: no reference)."""
        reference = self.reference
        if reference is None:
            return [], []
        kept, losses = loss_matrix(sorted(self.records, key=lambda r: r.number), self.objectives)
        ref = reference_losses(reference.values, self.objectives)
        return kept, hypervolume_history(np.asarray(losses), ref)

    def ranked(self) -> list[TrialRecord]:
        """COMPLETE, valid trials with a finite metric, best first."""
        done = [r for r in self.valid if r.state is TrialState.COMPLETE and r.value(self.metric.name) is not None]
        return sorted(done, key=lambda r: (self.metric.sign() * (r.value(self.metric.name) or 0.0), r.number))

    def environment_groups(self) -> list[EnvironmentGroup]:
        """The trials by the environment they ran under (their ``attrs["environment"]`` fingerprint), in the
        order each first ran; those that recorded none (run by an older tunesmith) form a group of their own."""
        # The HTML report notes a stored one out of its shape; the trials still say which ran together.
        stored = read_intact(self.attrs, EnvironmentAttr)
        known = {} if stored is None else dict(stored.environments)
        if stored is not None and stored.fingerprint is not None:
            known.setdefault(stored.fingerprint, stored)
        numbers: dict[str | None, list[int]] = {}
        for record in sorted(self.records, key=lambda r: r.number):
            mark = record.attrs.get(TRIAL_KEY)
            numbers.setdefault(mark if isinstance(mark, str) else None, []).append(record.number)
        return [EnvironmentGroup(mark, None if mark is None else known.get(mark), tuple(n))
                for mark, n in numbers.items()]  # fmt: skip

    def state_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for record in self.records:
            counts[record.state.value] = counts.get(record.state.value, 0) + 1
        return counts


@dataclass(frozen=True)
class EnvironmentGroup:
    """Trials that ran under one environment: its ``fingerprint`` (``None``: trials that recorded none), the
    environment as the study recorded it (``None`` when it did not) and the trial numbers, in order."""

    fingerprint: str | None
    environment: EnvironmentAttr | None
    trials: tuple[int, ...]

    def label(self, packages: Sequence[str] = ()) -> str:
        """The environment in a few words: its git commit (short) and the versions of ``packages``."""
        if self.fingerprint is None:
            return "no recorded environment (run by an older tunesmith, or imported)"
        if self.environment is None:
            return f"environment {self.fingerprint} (missing from the study's environment attribute)"
        commit = self.environment.git_commit
        if commit is None:
            said = "no git commit"
        else:
            said = f"commit {commit[:7]}{'+dirty' if commit.endswith('+dirty') else ''}"
        versions = [f"{name} {self.environment.packages.get(name, 'not installed')}" for name in packages]
        return ", ".join([said, *versions])


# The runs of consecutive trial numbers named in an environment note before "and N more".
RUNS_NAMED = 6


def trial_runs_text(numbers: Sequence[int]) -> str:
    """``#0-#4, #7, #9-#12``: trial numbers as runs of consecutive ones."""
    runs: list[list[int]] = []
    for number in sorted(numbers):
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    named = [f"#{run[0]}" if len(run) == 1 else f"#{run[0]}-#{run[-1]}" for run in runs[:RUNS_NAMED]]
    left = sum(len(run) for run in runs[RUNS_NAMED:])
    return ", ".join(named) + (f" and {left} more" if left else "")


def differing_packages(groups: Sequence[EnvironmentGroup]) -> list[str]:
    """The packages whose versions differ between the recorded environments of ``groups``."""
    known = [g.environment for g in groups if g.environment is not None]
    names = sorted({name for env in known for name in env.packages})
    return [name for name in names if len({env.packages.get(name) for env in known}) > 1]


def environment_note(data: ReportData) -> str | None:
    """What to say when the trials ran under more than one environment (code or package versions): which trials
    ran under which, where the best ran, and what to do; ``None`` when they all ran under one."""
    groups = data.environment_groups()
    if len(groups) < 2:
        return None
    packages = differing_packages(groups)
    parts = "; ".join(f"{trial_runs_text(g.trials)} under {g.label(packages)}" for g in groups)
    said = f"trials ran under {len(groups)} environments (git commit, package versions): {parts}"
    best = None if data.several else data.best
    if best is not None:
        group = next(g for g in groups if best.number in g.trials)
        said += f"; the best, #{best.number}, ran under {group.label(packages)}"
    fix = f"tunesmith invalidate {shlex.quote(data.name)} N --reason 'objective changed'"
    return (f"{said}. Results of other code or packages may not compare: if the objective changed, invalidate the "
            f"trials run before ({fix}, once per trial) or compare trials within one environment")  # fmt: skip


def metrics_text(
    metrics: Mapping[str, float], *, objectives: Sequence[Metric] = (), guardrails: Sequence[Guardrail] = ()
) -> str:
    """``name=value`` pairs, a metric returned per example shown with its standard error and count
    (``val_acc=0.965 ± 0.0141 (n=171)``) rather than as three unrelated numbers, and without its fingerprint
    (``digest:<name>``, bookkeeping for the holdout check, not a metric). ``objectives``: the study's
    metrics, whose declared scale (`Metric.scale`) reads a proportion whose examples all agree (`value_text`);
    ``guardrails``: the study's, whose metrics are printed with the digits their bounds need (`value_text`)."""
    scales = {metric.name: metric.scale for metric in objectives}
    return ", ".join(f"{name}={value_text(metrics, name, scale=scales.get(name), guardrails=guardrails)}"
                     for name in metrics if not name.startswith((STDERR, COUNT, DIGEST)))  # fmt: skip


def objective_digits(records: Sequence[TrialRecord], objectives: Sequence[Metric]) -> dict[str, int]:
    """Each objective's `telling_digits` over ``records`` (a front): 0.1000001 and 0.1000002 printed "0.1" twice,
    and read as members that dominate each other."""
    return {m.name: telling_digits(r.metrics.get(m.name) for r in records) for m in objectives}


def value_text(
    metrics: Mapping[str, float],
    name: str,
    *,
    scale: float | None = None,
    guardrails: Sequence[Guardrail] = (),
    digits: int = 3,
) -> str:
    """Metric ``name``'s value, with its standard error and count when it was returned per example
    (``0.965 ± 0.0141 (n=171)``); ``-`` when the metrics lack it.

    A metric a guardrail of ``guardrails`` bounds is printed with the digits that keep it on its side of each bound
    (`format_value`): a feasible ``0.099996`` under ``latency < 0.1`` would read ``0.1``, a breach. Every view
    prints a metric through this function, so that no two show one value differently.

    Counted examples that all agree have a sample spread of 0, which is no certainty: a proportion (every example
    right, or every one wrong, on ``scale``: `Metric.scale`, 1 when ``None``) shows the standard error the verdict
    reads for it (`discipline.gap.noise_of`: ``1 ± 0.0194 (n=50, all alike)``); any other value says its noise is
    unknown. A standard error recorded without a count (by hand) is shown as given. ``digits``: the fewest
    significant digits of the value (a table's `telling_digits`, so that distinct values in it never read alike).
    """
    value = metrics.get(name)
    if value is None:
        return "-"
    bounds = [guardrail.bound for guardrail in guardrails if guardrail.metric == name]
    shown = format_value(value, bounds=bounds, digits=digits)
    stderr, count = metrics.get(f"{STDERR}{name}"), metrics.get(f"{COUNT}{name}")
    if stderr is None:
        return shown
    if count is None:  # a standard error given by hand (0 for an exact objective): shown as given
        return f"{shown} ± {format_value(stderr)}"
    if stderr != 0:
        return f"{shown} ± {format_value(stderr)} (n={int(count)})"
    noise = noise_of(metrics, name, 1.0 if scale is None else scale)
    if noise is None:
        return f"{shown} (n={int(count)}, all alike, noise unknown)"
    return f"{shown} ± {format_value(noise.stderr)} (n={int(count)}, all alike)"


def within_noise_of_best(data: ReportData, top_k: int | None = None) -> list[TrialRecord]:
    """The ranked trials (the best left out; ``top_k``: only among the best ``top_k``, ``None``: every one) whose
    metric lies within two standard errors of the difference from the best's, when both carry their noise as the
    verdict reads it (`discipline.gap.noise_of`: a per-example standard error, for counted examples that all agree
    the adjusted proportion's, else their folds' spread): the search cannot tell them from the best. Every view
    reads them all: the noise does not end where a table does."""
    ranked = data.ranked() if top_k is None else data.ranked()[:top_k]
    if not ranked:
        return []
    name = data.metric.name

    def error_of(record: TrialRecord) -> float | None:  # as the verdict reads it: a perfect score's is not 0
        noise = noise_of(record.metrics, name, point_unit(data.metric))
        return None if noise is None or not math.isfinite(noise.stderr) else noise.stderr

    best, best_error = ranked[0], error_of(ranked[0])
    if best_error is None:
        return []
    tied = []
    for record in ranked[1:]:
        error = error_of(record)
        if error is not None and abs((record.value(name) or 0.0) - (best.value(name) or 0.0)) < 2.0 * math.hypot(
            best_error, error
        ):
            tied.append(record)
    return tied


def tied_with_best(data: ReportData) -> list[TrialRecord]:
    """The ranked trials (the best left out) whose metric equals the best's exactly: nothing in the results
    orders them, and the search's best is the earliest of them."""
    ranked = data.ranked()
    if not ranked:
        return []
    name = data.metric.name
    value = ranked[0].value(name)
    return [r for r in ranked[1:] if r.value(name) == value]


# The tied trials named in a note before "and N more".
TIES_NAMED = 10


def tie_note(data: ReportData) -> str | None:
    """What to say of the trials the best cannot be told from: those whose metric equals the best's exactly
    (`tied_with_best`, and which is shown as best: the seed re-runs' pick when they ran, else the earliest), and every
    ranked trial within the best's noise (`within_noise_of_best`), with what the seed re-runs found when they ran,
    else how to run them. It reads every ranked trial, not a display's table (5 trials in the terminal, 10 in the
    HTML report had each view name other trials)."""
    exact = tied_with_best(data)
    said = [_exact_tie_note(data, exact)] if exact else []
    numbers_tied = {r.number for r in exact}
    noisy = [r for r in within_noise_of_best(data) if r.number not in numbers_tied]
    if noisy:
        said.append(_noise_note(data, noisy))
    return "; ".join(said) or None


def _named(records: Sequence[TrialRecord]) -> str:
    """``#6, #12, #18 and 4 more``: the first `TIES_NAMED` trial numbers, the rest counted."""
    return _numbers_named([r.number for r in records], TIES_NAMED)


def _numbers_named(numbers: Sequence[int], limit: int) -> str:
    """``#6, #12, #18 and 4 more``: the first ``limit`` trial numbers, the rest counted."""
    named = ", ".join(f"#{n}" for n in numbers[:limit])
    return named + (f" and {len(numbers) - limit} more" if len(numbers) > limit else "")


def _exact_tie_note(data: ReportData, exact: list[TrialRecord]) -> str:
    from tunesmith.report._shown import picked_best  # _shown builds on this module

    best = data.ranked()[0]
    tied = [best, *exact]
    value = format_value(best.value(data.metric.name) or 0.0)
    said = f"{len(tied)} trials tie exactly at the best's {data.metric.name} = {value} ({_named(tied)})"
    # Name the trial every view shows, as the headline does: the seed re-runs' pick once they ran, not the earliest.
    shown = picked_best(data)
    if shown is not None and shown.rerun:
        said = (f"{said}: nothing in the search's results tells them apart; #{shown.record.number} is shown as best, "
                "the seed re-runs' pick")  # fmt: skip
    else:
        said = f"{said}: nothing in the results tells them apart, and the earliest, #{best.number}, is shown as best"
    alike = same_result_as(data.records, data.metric)
    same = [r for r in exact if alike.get(r.number) == best.number]
    if not same:
        return said
    which = f"the {len(exact)} others" if len(same) == len(exact) else f"{len(same)} of the {len(exact)} others"
    return (f"{said}; {which} ({_named(same)}) gave #{best.number}'s value on every validation "
            "example (their per-example fingerprints agree): the same result example by example, which no score on "
            "these examples tells apart, so validate_top re-runs them as one, and only other examples (a larger "
            "validation set, or folds) could")  # fmt: skip


def _covering_k(data: ReportData, tied: Sequence[TrialRecord]) -> int:
    """The ``k`` for `validate_top` whose top ``k`` configurations hold the best and every one of ``tied``, or the
    trial whose re-runs stand for each (`stand_ins`: it re-runs distinct configurations with distinct results, best
    first, `discipline.seeds.top_configurations`)."""
    standing = stand_ins(data.records, data.metric)  # in ranked order: those standing for themselves are the top
    place = {number: k for k, number in enumerate((n for n, stand_in in standing.items() if n == stand_in), 1)}
    return max(place.get(standing.get(r.number, r.number), 1) for r in [*data.ranked()[:1], *tied])


def _noise_note(data: ReportData, tied: list[TrialRecord]) -> str:
    from tunesmith.report._shown import picked_best  # _shown builds on this module

    ranked = data.ranked()
    others = len(ranked) - 1
    noise = metric_noise(ranked[0].metrics, data.metric)
    kind = "per-example noise" if noise is None or "fold" not in noise.source else "noise of the folds' spread"
    # The trials are read against the search's best; where the seed re-runs picked another, every view shows that
    # one as best, and "within two standard errors of the best" named the shown best as tied with itself.
    shown = picked_best(data)
    best = "the best's"
    if shown is not None and shown.rerun and shown.record.number != ranked[0].number:
        best = f"the search's best, #{ranked[0].number}'s,"
    said = (f"{_named(tied)} lie within two standard errors of {best} {data.metric.name} ({kind}; "
            f"{len(tied)} of the {others} other ranked trials): the search cannot tell them apart")  # fmt: skip
    k = _covering_k(data, tied)
    stability = read_attr(data.attrs, SeedStabilityAttr)
    if stability is not None and stability.winner is not None:
        rerun = [c.trial for c in stability.candidates or () if c.trial is not None and c.trial >= 0]
        said += (f"; the seed re-runs of {', '.join(f'#{n}' for n in rerun)} picked #{stability.winner} across "
                 f"{len(stability.seeds or ())} seeds")  # fmt: skip
        standing = stand_ins(data.records, data.metric)  # a trial whose stand-in re-ran was re-run as that trial
        left = [r for r in tied if standing.get(r.number, r.number) not in rerun]
        runs = [SeedRun.from_json(run) for run in (*(stability.runs or ()), *(stability.confirm_runs or ()))]
        if left and seed_blind(runs, data.metric.name) is not None:  # more re-runs would repeat the same results
            said += (f"; {_named(left)} were not re-run, and re-runs would not tell them apart: every re-run gave "
                     f"the same {data.metric.name} on every seed ({SEED_BLIND_WHY}), so only more validation "
                     "examples would")  # fmt: skip
        elif left:
            said += (f"; {_named(left)} were not re-run: ts.validate_top(study, {rerun_objective(data)}, k={k}) "
                     f"re-runs the top trials across seeds{_rerun_cost(k, data, ranked[0])}")  # fmt: skip
        return said
    return (f"{said}; ts.validate_top(study, {rerun_objective(data)}, k={k}) re-runs them across "
            f"seeds{_rerun_cost(k, data, ranked[0])}")  # fmt: skip


_LARGE_FIELD = 10  # tied trials from which the advice also says what decides for less than re-running them all


def _rerun_cost(k: int, data: ReportData, best: TrialRecord) -> str:
    """What `validate_top` with ``k`` candidates costs on its default seeds, beside what the search spent, once ``k``
    is above its default 3 (``""`` below): a tied field of hundreds was advised as ``k=367`` alone, more runs than the
    search made; and, for a large field whose re-runs would cost half the search or more, what decides for less.

    The search's cost is its trials, or, when a scheduler stopped some before they trained as far as the ranked best
    did, the resource they all trained (the steps they reported): each re-run trains as far as that best, so 45 runs
    set against an ASHA search's 9 complete trials read as 5 times a search that trained 60. ``best``: the ranked
    best, which the caller has ranked already."""
    if k <= 3:
        return ""
    runs = k * DEFAULT_SEEDS + DEFAULT_SEEDS
    trials = len(data.records)
    full = best.resource
    spent = sum(r.resource for r in data.records)
    if full > 0 and any(r.resource < full for r in data.records):
        ratio = runs * full / spent
        cost = (f" ({runs:,} runs on its default {DEFAULT_SEEDS} seeds, each trained to step {full:g} as the best "
                f"was, {ratio:.2g} times the resource the search's {trials:,} trials trained")  # fmt: skip
    else:
        ratio = runs / trials
        cost = (f" ({runs:,} runs on its default {DEFAULT_SEEDS} seeds, {ratio:.2g} times the search's "
                f"{trials:,} trials")  # fmt: skip
    if k < _LARGE_FIELD or ratio < 0.5:
        return cost + ")"
    return (cost + "; a smaller k re-runs the best-ranked of them, which the search's scores cannot tell from the "
            "rest, and a validation set m times larger shrinks each score's noise by sqrt(m), which may separate "
            "them for less)")


def rerun_objective(data: ReportData) -> str:
    """What `validate_top`'s advice passes as the objective: a `TunesmithSearchCV` study's users have none of their
    own, and the search's fits do not read the seed, so its ``seed_objective`` makes the one that does."""
    return "search.seed_objective(X, y)" if "sklearn_scoring" in data.attrs else "objective"


def report_data(
    source: Any,
    *,
    space: Space | None = None,
    metric: Metric | str | None = None,
    name: str = "study",
) -> ReportData:
    """A `ReportData` from a `Study`, a `ReportData`, or a sequence of records with ``space`` and ``metric``."""
    if isinstance(source, ReportData):
        return source
    from tunesmith.study import Study

    if isinstance(source, Study):
        return ReportData.from_study(source)
    if isinstance(source, Sequence) and all(isinstance(r, TrialRecord) for r in source):
        if space is None or metric is None:
            raise ConfigError(
                "a report from bare trial records needs space= and metric=: "
                "pass write_report(records, path, space=study_space, metric='val_loss')"
            )
        metric_ = metric_named(metric) if isinstance(metric, str) else metric
        return ReportData(name=name, space=space, metric=metric_, records=tuple(source))
    raise ConfigError(
        f"a report needs a Study, a ReportData or a list of TrialRecord, got {type(source).__name__}: "
        "pass the study itself"
    )


@dataclass(frozen=True)
class Findings:
    """The analyses a report shows: importance (or why there is none) and the diagnosis.

    ``importance`` is set only when the trials show that the parameters predict the metric beyond chance
    (`ImportanceResult.shown`): otherwise its shares would rank noise, and ``importance_note`` says why there
    are none and about how many more trials would show them."""

    importance: ImportanceResult | None
    importance_note: str | None
    diagnosis: Diagnosis
    early_signal: EarlySignal | None = None  # whether early values ranked the final ones (`analysis.early_signal`)

    def diagnosis_lines(self) -> list[str]:
        """The diagnosis as a view that shows the importance note beside it says it: a withheld advice points to
        the note rather than repeat its reason (`Diagnosis.lines`; the note is the study's metric's, the one the
        diagnosis is of)."""
        return self.diagnosis.lines(told=self.diagnosis.metric if self.importance_note else None)


def analyse(data: ReportData, *, seed: int = 0, n_trees: int = 64) -> Findings:
    """Run importance and diagnosis on ``data``; a study too small for importance, or whose trials do not yet
    show what the parameters do beyond chance, gets a note instead. With several objectives, importance is
    measured for each: the first one's is shown, and the advice reads every one."""
    objectives = data.objectives if data.several else (data.metric,)
    scratch, continued = _from_scratch(data)
    level, found, passed = _importance_at_rung(scratch, data.metric, seed, n_trees)
    results = [found] if isinstance(found, ImportanceResult) else []
    for objective in objectives[1:]:
        _, other, _ = _importance_at_rung(scratch, objective, seed, n_trees)
        if isinstance(other, ImportanceResult):
            results.append(other)
    from tunesmith.report._shown import picked_best  # _shown builds on this module

    # The advice fixes parameters at the trial every view shows: the seed re-runs' winner, or the recorded choice.
    shown = picked_best(data)
    chosen = data.choice
    best = next((r for r in data.valid if r.number == chosen.trial), None) if chosen is not None else None
    diagnosis = diagnose(data.valid, data.space, data.metric, importance=results, objectives=objectives,
                         importance_level=level, best=shown.record if shown is not None else best,
                         guardrails=data.guardrails)  # fmt: skip
    signal = early_signal(data.valid, data.metric, data.scheduler)
    left_out = _continuations_note(continued)
    if not isinstance(found, ImportanceResult):
        said = str(found)
        if continued and said.endswith(f": {MORE_TRIALS}"):
            said = said.removesuffix(MORE_TRIALS) + _FEW_FROM_SCRATCH
        return Findings(None, "; ".join(n for n in (said, left_out) if n), diagnosis, signal)
    first = (f"importance of {data.metric.name}, the first objective (the advice below reads every objective: "
             f"{', '.join(o.name for o in objectives)})")  # fmt: skip
    notes = [first if data.several else None, found.explained_note(), left_out]
    if level is not None:
        notes.append(_rung_note(data, level, found, passed))
    return Findings(found if found.shown else None, "; ".join(n for n in notes if n) or None, diagnosis, signal)


# The continuations the importance note names before "and N more".
CONTINUATIONS_NAMED = 5
# Why a PBT population leaves importance too few trials, in place of `MORE_TRIALS`: more trials would not help.
_FEW_FROM_SCRATCH = (
    "a PBT population stops most members it started and continues the best, so few trials train from scratch to "
    "the end, and more PBT trials add continuations, not such trials; to read what each parameter does on its own, "
    "search without PBT (FIFO, or ASHA to stop poor ones early)"
)


def _from_scratch(data: ReportData) -> tuple[ReportData, tuple[int, ...]]:
    """``data`` as importance reads it: without the PBT continuations whose lineage changed a parameter
    (`discipline.seeds.lineage_of`), whose scores came from their ancestors' parameters before their own, so that
    their own parameters are no configuration trained from scratch; and those left out, by number."""
    continued = tuple(
        r.number for r in data.valid if r.attrs.get("parent") is not None and lineage_of(r, data.records) is not None
    )
    if not continued:
        return data, ()
    out = set(continued)
    return replace(data, records=tuple(r for r in data.records if r.number not in out)), continued


def _continuations_note(continued: Sequence[int]) -> str | None:
    """What the importance note says of the continuations `_from_scratch` left out; ``None`` when none was."""
    if not continued:
        return None
    named = _numbers_named(continued, CONTINUATIONS_NAMED)
    return (f"{counted(len(continued), 'PBT continuation')} ({named}) left out of importance: each trained its "
            "ancestors' parameters before its own, so its score measures a schedule, not its parameters from "
            "scratch")  # fmt: skip


def _importance_at_rung(
    data: ReportData, objective: Metric, seed: int, n_trees: int
) -> tuple[float | None, ImportanceResult | NotEnoughTrials, list[_PassedOver]]:
    """The importance for ``objective`` (or why there is none), the rung it was measured at (``None``: the final
    values) and the higher rungs passed over. Under early stopping, trials are compared at one rung (final values of
    stopped trials come from less training), the one `_rung_to_read` picks. Invalidated trials are out of every
    analysis (`Study.invalidate`)."""
    level, records, passed = _rung_to_read(data, objective)
    # The re-runs measure the seed's noise on values trained to the end, not at a rung.
    seeds = None if level is not None else seed_noise_of(data.attrs, objective.name, primary=objective == data.metric)
    try:
        return level, importance(records, data.space, objective, seed=seed, n_trees=n_trees, seed_noise=seeds), passed
    except NotEnoughTrials as exc:
        return level, exc, passed


def _rung_trials(data: ReportData) -> int:
    """The trials importance wants at one rung: as many as advice needs, and two per parameter for the forest."""
    return max(MIN_ADVICE_TRIALS, 2 * len(data.space))


# A rung importance could read (``None``: the final values), the history seen there, and whether its values spread
# beyond their per-example noise (``None``: too few store a standard error to tell).
_Readable = tuple[float | None, list[TrialRecord], SpreadBeyondNoise | None]
# A higher rung importance passed over, and the test that showed its values alike within their noise.
_PassedOver = tuple[float | None, SpreadBeyondNoise]


def _rung_to_read(data: ReportData, objective: Metric) -> tuple[float | None, list[TrialRecord], list[_PassedOver]]:
    """The rung importance reads (``None``: the final values), the history seen there (`fidelity.rung_view`) and the
    higher rungs passed over: the highest rung that `_rung_trials` trials reached whose values there spread beyond
    their per-example noise (`_rungs_to_read`), else the highest of them, else the first rung, which every trial that
    reported reaches.

    A trial reaches a rung above the first only by ranking high on the metric below it, so the higher the rung, the
    fewer its trials and the less they vary in what drives the metric: the highest rung that 10 trials reached read
    the 11 survivors of ASHA's cut at rung 27 out of 300 trials where lr alone set the loss, and found no effect."""
    readable = _rungs_to_read(data, objective)
    if not readable:
        return (*_first_rung(data, objective), [])
    passed: list[_PassedOver] = []
    for level, records, spread in readable:
        if spread is None or spread.exceeded:
            return level, records, passed
        passed.append((level, spread))
    return readable[0][0], readable[0][1], []  # alike within noise everywhere: the highest, as before


def _rungs_to_read(data: ReportData, objective: Metric) -> list[_Readable]:
    """Every rung that `_rung_trials` trials reached (``None``: the final values), the highest first, with the history
    seen there and whether the values there spread beyond their per-example noise (`SpreadBeyondNoise`; ``None``:
    too few store a standard error to tell).

    The survivors of a rung's cut were selected for their values below it: where their values no longer spread
    beyond the noise of the validation examples (44 SGD configurations at 3 of 27 epochs, p = 0.70, chosen from 92
    whose values at 1 epoch spread 8 times as much as their noise allows), nothing is left for the parameters to
    explain, and importance read there said that no parameter mattered while the 92 showed a learning rate taking
    45% of the variation. Choosing the rung on the values alone, never on how they relate to the parameters, leaves
    the tests of importance at their level."""
    wanted = _rung_trials(data)
    top, records = rung_view(data.valid, objective, data.rungs, min_observations=wanted)
    if top is None and data.rungs and len(finished_values(records, objective)[0]) < wanted:
        return []
    found: list[_Readable] = []
    levels = sorted(data.rungs)
    level: float | None = top
    while True:
        kept, values = finished_values(records, objective)
        found.append((level, records, SpreadBeyondNoise.of(kept, values, objective.name)))
        below = levels[:-1] if level is None else [r for r in levels if r < level]  # the last level: the full resource
        if not below:
            return found
        # An unreachable level last, so that rung_view reads the rungs below as rungs, not as the full resource.
        level, records = rung_view(data.valid, objective, (*below, math.inf), min_observations=wanted)
        if level is None:  # no rung below has enough trials
            return found


def _first_rung(data: ReportData, objective: Metric) -> tuple[float | None, list[TrialRecord]]:
    """The history seen at the study's first rung, whatever the trials there number (``None``: no trial reached it)."""
    # rung_view takes its last level for the full resource: one that no trial reaches leaves the first rung an
    # ordinary rung, whose view keeps trials trained to the end at their value there too.
    return rung_view(data.valid, objective, (min(data.rungs), math.inf), min_observations=1)


def _rung_note(data: ReportData, level: float, found: ImportanceResult, passed: Sequence[_PassedOver]) -> str:
    """Which rung importance read (`_rung_to_read`), over how many of the trials started, and what the scheduler's
    selection on the metric did to the trials there and above."""
    wanted, finished = _rung_trials(data), sum(1 for r in data.valid if r.state.is_finished)
    said = f"importance measured at resource {level:g} over the {found.n_trials} trials that reached it (of {finished})"
    if passed:
        where = "; ".join(f"{'the final values' if above is None else f'resource {above:g}'}: {spread.text()}"
                          for above, spread in passed)  # fmt: skip
        said += (f", not at the higher rung{'s' if len(passed) > 1 else ''} that {wanted} or more trials reached, "
                 f"whose values do not spread beyond their per-example noise ({where}): the selection on "
                 f"{found.metric!r} that brought the trials there left them alike, so nothing is left there for the "
                 "parameters to explain (the rung is chosen on the values alone, never on the parameters)")  # fmt: skip
        if level > min(data.rungs):
            said += (f"; the trials here were selected on {found.metric!r} too, so an effect that drove that "
                     "selection reads smaller here")  # fmt: skip
    elif level > min(data.rungs):
        said += (f", the highest rung at least {wanted} trials reached (advice needs {MIN_ADVICE_TRIALS} at one rung): "
                 f"a trial reaches it from a lower rung only by ranking high on {found.metric!r} there, so a parameter "
                 "that drove that selection varies less among these trials than among all of them and its effect reads "
                 "smaller here; the fewer trials at the higher rungs were selected further")  # fmt: skip
        first, view = _first_rung(data, data.metric) if not found.shown else (None, [])
        if first is not None:
            # More trials measured here are selected alike, so they need not show what the selection hid.
            unselected = len(finished_values(view, data.metric)[0])
            said += (f"; more trials measured here may not show an effect the selection hid: the {unselected} trials "
                     f"at the first rung (resource {first:g}), none selected yet, are where it would show, with less "
                     "training")  # fmt: skip
    elif found.n_trials >= wanted:
        said += (f", the first rung: fewer than {wanted} trials reached a higher rung, and those were selected on "
                 f"{found.metric!r}")  # fmt: skip
    else:
        said += (f", the first rung: no rung has the {wanted} trials importance reads, and the fewer trials at "
                 f"the higher rungs were selected on {found.metric!r}")  # fmt: skip
    if not found.shown and found.n_trials < finished:
        said += (f"; a count of trials here counts trials measured at resource {level:g}: each trial measured takes "
                 f"about {finished / found.n_trials:.2g} trials to run")  # fmt: skip
    return said
