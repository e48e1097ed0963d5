"""Reading studies back from storage: trials, best, status, studies, report, export and the live dashboard."""

from __future__ import annotations

import csv
import functools
import math
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.table import Table

from tunesmith._study_admin import held_text, states_of
from tunesmith._text import terminal_safe
from tunesmith._trial_warnings import warned_note
from tunesmith.attributes import ConvergenceAttr, SeedStabilityAttr, WarmStartAttr, read_attr
from tunesmith.budget import RETRY_REQUESTED, Budget, BudgetUsage, counts_toward_budget, seconds_of
from tunesmith.cli._common import (
    CliError,
    _confirm_stored,
    _fmt,
    _friendly_errors,
    _open,
    _params_text,
    _print_json,
    _record_json,
    _resolve_study,
    _summary,
    console,
    json_option,
    left_to_find,
    left_unread,
    storage_option,
    verdict_colour,
)
from tunesmith.cli._failures import _named, _when, metric_text, shown_metrics
from tunesmith.cli._known import known_lines
from tunesmith.discipline.holdout import refit_pick
from tunesmith.errors import StudyNotFound
from tunesmith.objective import Guardrail, Metric
from tunesmith.samplers import Random
from tunesmith.samplers._tried import ENUMERATION_LIMIT, Tried, configurations
from tunesmith.space import Space
from tunesmith.storage import redact_url
from tunesmith.study import Study
from tunesmith.study._convergence import recorded_text
from tunesmith.study._known import _priors, valid
from tunesmith.study._limits import starts_no_trial
from tunesmith.study._optimize import failed_some_note, failure_text, no_feasible_note
from tunesmith.study._search_progress import listing_arguments
from tunesmith.study._validation_set import earlier_studies, validation_set
from tunesmith.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from tunesmith.report._shown import SchedulerStops, ShownBest

_Command = TypeVar("_Command", bound=Callable[..., Any])

def _one_line_errors(command: _Command) -> _Command:
    """The command with every `TunesmithError` (a damaged database, a server gone) shown as one line, exit
    code 1, never a traceback, as `_friendly_errors` does for a block."""

    @functools.wraps(command)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        with _friendly_errors():
            return command(*args, **kwargs)

    return guarded  # type: ignore[return-value]


# A longer reason is cut to its head in the trials table (a scheduler's stop reason runs to hundreds of characters).
_REASON_CHARS = 100


def _trials_table(study: Study, records: list[TrialRecord], title: str, gone: dict[int, str]) -> Table:
    """Every trial, a RUNNING one whose worker is gone marked so, with why (``gone``: `Study.gone_trials`). A FAILED
    trial's value cells stay empty: what storage holds of its metrics is a partial report, or none, by how it was
    stopped (`tunesmith show` prints it, labelled)."""
    table = Table(title=title, title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("state")
    objectives = study.objectives or (study.metric,)  # a column per objective
    for metric in objectives:
        table.add_column(terminal_safe(metric.name), justify="right")
    table.add_column("params")
    table.add_column("reason", overflow="fold")
    for record in records:
        # a metric returned per example with its standard error and count, a guarded one to the digits its bound
        # needs, as the report shows it
        values = ["" if m.name not in record.metrics or record.state is TrialState.FAILED
                  else metric_text(record.metrics, m.name, m.scale, study.guardrails) for m in objectives]  # fmt: skip
        invalid = record.invalidated
        state = record.state.value if invalid is None else f"{record.state.value}, invalidated"
        reason = (record.brief_reason(_REASON_CHARS) or "") if invalid is None else f"invalidated: {invalid}"
        if record.number in gone:
            state, reason = f"{state} (worker gone)", gone[record.number]
        table.add_row(
            str(record.number),
            state,
            *(terminal_safe(value) for value in values),
            _params_text(record.params),
            terminal_safe(reason),
        )
    return table


def _failed_table(records: list[TrialRecord], title: str, retries: dict[int, int]) -> Table:
    """FAILED trials: why (kind, reason, and in one bounded line what the failure said: a crash's reason, else the
    exception line of the traceback) before what."""
    table = Table(title=title, title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("kind")
    table.add_column("reason", overflow="fold")
    table.add_column("error", overflow="fold")
    table.add_column("params")
    for record in records:
        retry = retries.get(record.number)
        again = f" (re-run as #{retry})" if retry is not None else " (retry queued)" if record.attrs.get(
            RETRY_REQUESTED) else ""  # fmt: skip
        table.add_row(
            str(record.number),
            "" if record.kind is None else record.kind.value,
            terminal_safe((record.reason or "") + again),
            terminal_safe(failure_text(record) if record.error else ""),
            _params_text(record.params),
        )
    return table


def _trial_json(record: TrialRecord, metric: str, gone: dict[int, str]) -> dict[str, Any]:
    """A `trials --json` row: the common fields, ``value`` (the study's ``metric``, as the table's column and the
    export's ``value`` have it; null for a FAILED trial, whose ``metrics`` are only what it reported before it
    failed, or nothing, by how it was stopped), the failure's kind and its whole traceback, when and where it ran
    (``started_at``, ``finished_at``: Unix times, as the export's columns; ``worker``: host and process, as `show`
    prints it), and for a RUNNING trial whose worker is gone, why (``worker_gone``; else null)."""
    kind = None if record.kind is None else record.kind.value
    value = None if record.state is TrialState.FAILED else record.metrics.get(metric)
    return {
        **_record_json(record), "value": value, "kind": kind, "error": record.error, "invalidated": record.invalidated,
        "started_at": record.started_at, "finished_at": record.finished_at, "worker": record.worker,
        "worker_gone": gone.get(record.number), "retry_of": record.attrs.get("retry_of"),
        "counts_toward_budget": counts_toward_budget(record) and record.number not in gone,
    }  # fmt: skip


@click.command()
@click.argument("study_name", required=False)
@storage_option
@json_option
@click.option("--state", type=click.Choice([s.value for s in TrialState]), default=None, help="Only trials in STATE.")
@click.option("--failed", is_flag=True, help="Only FAILED trials, with their kind, reason and error.")
@_one_line_errors
def trials(study_name: str | None, storage: str, as_json: bool, state: str | None, failed: bool) -> None:
    """List the trials of STUDY_NAME (default: the most recent study); `tunesmith show` prints one in full."""
    if failed and state not in (None, TrialState.FAILED.value):
        raise CliError(f"--failed lists FAILED trials, so it cannot go with --state {state}: give one of them")
    if failed:
        state = TrialState.FAILED.value
    study = _resolve_study(storage, study_name)
    records = [r for r in study.trials if state is None or r.state.value == state]
    gone = study.gone_trials()
    if as_json:
        for record in records:
            _print_json(_trial_json(record, study.metric.name, gone))
        return
    if failed:
        title = f"{study.name}: {len(records)} failed trials"
        retries = {r.attrs["retry_of"]: r.number for r in study.trials if isinstance(r.attrs.get("retry_of"), int)}
        console.print(_failed_table(records, terminal_safe(title), retries))
        # A line of its own, never wrapped: a title wraps at the table's width, inside the storage URL
        console.print(terminal_safe(f"one in full: tunesmith show {_named(study)} N"), soft_wrap=True)
        return
    console.print(_trials_table(study, records, terminal_safe(f"{study.name}: {len(records)} trials"), gone))
    if any(r.invalidated is None and r.brief_reason(_REASON_CHARS) != r.reason for r in records):
        console.print(terminal_safe(f"a reason ending ': ...' is cut to its head: tunesmith show {_named(study)} N "
                                    "prints it whole"), soft_wrap=True)  # fmt: skip


@click.command()
@click.argument("study_name", required=False)
@storage_option
@json_option
@_one_line_errors
def best(study_name: str | None, storage: str, as_json: bool) -> None:
    """Show the best trial of STUDY_NAME (default: the most recent study); with several objectives, the Pareto front.

    After `finalize`, the recorded verdict follows, as `status` prints it: the winner is not ready until it says so.
    """
    from tunesmith.report import report_data
    from tunesmith.report._shown import shown_best

    study = _resolve_study(storage, study_name)
    if len(study.objectives) > 1:
        _print_front(study, as_json)
        if not as_json:
            _verdict_lines(study)
        return
    read_attr(study.attrs, SeedStabilityAttr)  # damaged re-runs: one line, exit 1 (shown_best would pass over them)
    data = report_data(study)
    shown = shown_best(data)  # what status, the report and the dashboard show as best, and say of it
    if shown is None:
        raise CliError(f"study {study.name!r} has {_why_no_result(study) or 'no COMPLETE trial yet'}")
    chosen = shown.record
    pick = refit_pick(study)
    if as_json:
        _print_json({"study": study.name, **_best_json(study, shown, pick)})
        return
    console.print(f"[bold]{terminal_safe(study.name)}[/bold] best trial #{chosen.number} (seed {chosen.seed})"
                  f"{terminal_safe(shown.label)}")  # fmt: skip
    colour = "green" if shown.settled else "yellow"
    for line in shown.lines:
        console.print(f"[{colour}]{terminal_safe(line)}[/{colour}]")
    for caveat in shown.caveats:  # the scheduler's few trained fully, the trials it cannot be told from
        console.print(f"[yellow]{terminal_safe(caveat)}[/yellow]")
    if (said := _refit_line(study, pick, chosen)) is not None:
        console.print(f"[yellow]{terminal_safe(said)}[/yellow]")
    for key, value in chosen.params.items():
        console.print(terminal_safe(f"  {key} = {_fmt(value)}"))
    for key, text in shown_metrics(chosen.metrics, study.objectives or (study.metric,), study.guardrails).items():
        console.print(f"  [green]{terminal_safe(key)}[/green] = {terminal_safe(text)}")
    _verdict_lines(study)


def _best_json(study: Study, shown: ShownBest, pick: TrialRecord | None) -> dict[str, Any]:
    """`best --json` of one objective, named as the dashboard and `finalize --json` name them: at the top the trial
    the text shows (the seed re-runs' winner when it stands, else the search's best), ``validated`` (true only when
    the text calls it "the validated winner": the re-runs' pick, told apart from every other candidate beyond
    noise) and ``validated_winner`` (its number; null otherwise), ``rerun_pick`` (the re-runs' pick shown, told
    apart or not; null when the search's best is shown), ``separated`` (whether the re-runs told their pick apart
    beyond noise) and ``not_told_apart_from`` (the candidates they did not: tied or within noise; empty when
    separated), both null when no pick is shown or its runs are not recorded to judge it, ``search_best`` (the same
    trial when the re-runs agree), ``note`` (all the text says of the best beside its headline, as the dashboard's
    best carries it), ``ties`` (the trials the best cannot be told from, exactly or within noise, as the text and
    `status` say them; null when none), ``few_trained`` (a scheduler trained too few fully to pick it, as `status`
    says; null when not), ``lineage`` (a PBT continuation's schedule, root first: each trial's ``params`` with the
    ``first_step`` and ``last_step`` it trained, as ``note`` says it; null for a trial its parameters trained from
    scratch), ``best_params_trial`` (``pick``: the trial whose configuration the last `TunesmithSearchCV`
    fit's ``best_params_`` and ``best_estimator_`` are, which a ``refit`` callable need not pick at the top; null
    for a study no search fitted) and ``verdict`` (null before `finalize`): the trial it judged, its status and why
    it is stale."""
    record = shown.record
    return {
        **_record_json(record), "validated": shown.validated,
        "validated_winner": record.number if shown.validated else None,
        "rerun_pick": record.number if shown.rerun else None, "separated": shown.separated,
        "not_told_apart_from": None if shown.not_told_apart_from is None else list(shown.not_told_apart_from),
        "search_best": _record_json(shown.search),
        "note": shown.note, "ties": shown.ties, "few_trained": shown.few_trained,
        "lineage": None if shown.schedule is None else [stretch.to_json() for stretch in shown.schedule],
        "best_params_trial": None if pick is None else _record_json(pick), "verdict": _verdict_json(study),
    }  # fmt: skip


def _refit_line(study: Study, pick: TrialRecord | None, best: TrialRecord | None) -> str | None:
    """The line `best` and `status` print when the last `TunesmithSearchCV` fit's ``refit`` picked another trial
    (``pick``) than the ``best`` they show: which of the two the fitted estimator is (``None`` when they agree)."""
    if pick is None or (best is not None and pick.number == best.number):
        return None
    metric = study.metric.name
    score = f", {metric} {_fmt(pick.metrics[metric])}" if metric in pick.metrics else ""
    params = ", ".join(f"{k}={_fmt(v)}" for k, v in pick.params.items())
    against = "" if best is None else f", not the best trial #{best.number}"
    return (
        f"TunesmithSearchCV's refit chose trial #{pick.number} ({params}{score}){against}: the last fit's "
        f"best_params_ and best_estimator_ are trial #{pick.number}'s"
    )


def _verdict_json(study: Study) -> dict[str, Any] | None:
    """The recorded verdict as every ``--json`` carries it (``None`` before `finalize`): the trial it judged, its
    status, ``ready``, and why it is stale (``None`` when it is not); the dashboard carries the same
    (`report._shown.verdict_json`)."""
    from tunesmith.report._shown import verdict_json

    return verdict_json(study.attrs, study.trials)  # damaged: one line, exit 1 (commands run under _one_line_errors)


def _print_front(study: Study, as_json: bool) -> None:
    """`best` of a study with several objectives: its Pareto front (each objective with its standard error when it
    was returned per example), the recorded choice marked (and said to be off the front when later trials dominate
    it), and what `status` says of the front: the trials it cannot be told from within noise (``near_front``) and a
    scheduler's few trained fully (``few_trained``); with ``as_json``, the recorded verdict too, as the
    single-objective form carries it (`_verdict_json`)."""
    from tunesmith.report import report_data
    from tunesmith.report._shown import choice_off_front, few_trained_note, near_front_note
    from tunesmith.report.terminal import front_table

    front = study.pareto_front
    data = report_data(study)
    if not front:
        said = _why_no_result(study) or "no COMPLETE trial with every objective yet"
        raise CliError(f"study {study.name!r} has {said}")
    with _friendly_errors():
        choice, void, left = data.choice, data.void_choice, choice_off_front(data)
    chosen = None if choice is None else choice.trial
    few, near = few_trained_note(data), near_front_note(data)
    if as_json:
        rows = [_record_json(r) for r in front]
        _print_json({"study": study.name, "front": rows, "chosen": chosen, "void_choice": void,
                     "choice_off_front": left, "near_front": near, "few_trained": few,
                     "hypervolume": study.hypervolume(), "verdict": _verdict_json(study)})  # fmt: skip
        return
    names = ", ".join(m.name for m in study.objectives)
    console.print(
        f"[bold]{terminal_safe(study.name)}[/bold] Pareto front: {len(front)} trials ({terminal_safe(names)})"
    )
    primary = study.metric
    ordered = sorted(front, key=lambda r: (primary.sign() * r.metrics[primary.name], r.number))
    console.print(front_table(data, ordered, chosen))
    for caveat in (few, near):  # as `status` says them under its front
        if caveat is not None:
            console.print(f"[yellow]{terminal_safe(caveat)}[/yellow]")
    if void is not None:
        console.print(f"[yellow]{terminal_safe(void)}[/yellow]")
    elif choice is None:
        pick = f"tunesmith choose {shlex.quote(study.name)} --knee"
        console.print(terminal_safe(f"no choice recorded: {pick} (study.choose(ts.choose.knee()) in Python) picks one "
                                    "(* marks it)"), soft_wrap=True)  # fmt: skip
    else:
        console.print(terminal_safe(f"* chosen: trial #{choice.trial} ({choice.why})"))
        if left is not None:
            console.print(f"[yellow]{terminal_safe(left)}[/yellow]")


def _why_no_result(study: Study) -> str | None:
    """Why ``study`` has no result (`no_feasible_note`), its commands naming the study and its storage
    (`listing_arguments`) as `run` and `status` name them; ``None`` when it has one or no trial finished."""
    where = listing_arguments(study.name, study.storage.url)
    return no_feasible_note(study.trials, study.metric, study.objectives, study.guardrails, where)


@click.command()
@click.argument("study_name", required=False)
@storage_option
@json_option
@_one_line_errors
def status(study_name: str | None, storage: str, as_json: bool) -> None:
    """Budget burned, the space's forbidden combinations, whether the space is used up, the scheduler's stops, trial
    states, the sampler and the best.

    Wall time is the study's running time, the time while at least one of its trials ran (see
    `tunesmith.Budget`): a study that ran 29 s shows 29 s however long ago it started.
    """
    from tunesmith.report._shown import scheduler_stops

    study = _resolve_study(storage, study_name)
    gone = study.gone_trials()  # read once: the budget line and the notes below count the same trials as gone
    records = study.trials
    usage = Budget.usage(records, time.time(), gone=gone)
    used_up = _space_used_up(study, records, usage)
    stops = scheduler_stops(study, records, usage)  # as the HTML report's header says it
    if as_json:
        _print_json(_status_json(study, records, usage, used_up, stops))
        return
    console.print(_budget_line(study.budget, usage))
    if (left := _too_little_left(study, records, usage)) is not None:
        console.print(terminal_safe(left))
    for line in _forbidden_lines(study.space):  # the used-up line below counts only the configurations they allow
        console.print(terminal_safe(line))
    if used_up is not None:
        console.print(f"[yellow]{terminal_safe(used_up.line())}[/yellow]")
    if (stopped := recorded_text(study.attrs, study.budget, study.metric)) is not None:
        console.print(f"[yellow]{terminal_safe(stopped)}[/yellow]")
    if stops is not None:
        for line in stops.lines():
            console.print(terminal_safe(line))
        if stops.few_trained is not None and not _best_shown(study):  # else said once, beside the best below
            console.print(f"[yellow]{terminal_safe(stops.few_trained)}[/yellow]")
    for line in known_lines(study):  # warm start, enqueued configurations, invalidated trials
        console.print(terminal_safe(line))
    if (warned := _warned(study, records)) is not None:  # what each run's notes said, over every trial stored
        console.print(terminal_safe(warned))
    if (pick := refit_pick(study)) is not None and (said := _refit_line(study, pick, _shown_record(study))):
        console.print(f"[yellow]{terminal_safe(said)}[/yellow]")  # the summary below shows the study's best
    _verdict_lines(study)
    for number, note in gone.items():
        console.print(f"[yellow]{terminal_safe(f'trial {number} is recorded running, but {note}')}[/yellow]")
    _summary(study)


def _forbidden_lines(space: Space) -> list[str]:
    """`status`'s word on the space's forbidden clauses, as stored with it: a heading, then each clause (its `str`) on
    a line of its own; none for a space without clauses."""
    clauses = space.forbidden
    if not clauses:
        return []
    params = f"{len(space)} parameter{'s' * (len(space) != 1)}"
    counted = f"{len(clauses)} forbidden clause{'s' * (len(clauses) != 1)}"  # a clause may rule out many combinations
    return [f"space: {params}; {counted}:", *(f"  {clause}" for clause in clauses)]


def _best_shown(study: Study) -> bool:
    """Whether the summary `status` ends with shows a best (or a front): `report._shown.best_is_shown`."""
    from tunesmith.report import report_data
    from tunesmith.report._shown import best_is_shown

    return best_is_shown(report_data(study))


def _shown_record(study: Study) -> TrialRecord | None:
    """The trial the report's summary shows as best (`report._shown.shown_best`); ``None`` when it shows none."""
    from tunesmith.report import report_data
    from tunesmith.report._shown import shown_best

    shown = shown_best(report_data(study))
    return None if shown is None else shown.record


def _too_little_left(study: Study, records: Sequence[TrialRecord], usage: BudgetUsage) -> str | None:
    """Under `_budget_line`, when no trial runs and the resource, wall time or compute left is too little for
    `Study.ask` to start one (`starts_no_trial`: a new trial starts only where it could train to the end): what a
    run on would do, and the fix. Alone, the line's "88% spent" read as room for more."""
    budget = study.budget
    running = any(r.state is TrialState.RUNNING for r in records)
    if running or budget.exhausted_limit(usage) is not None:
        return None
    spent = starts_no_trial(budget, records, study.scheduler)
    if spent is None:
        return None
    if spent.limit in ("wall_time", "compute"):
        return f"a run on starts no trial: {spent.message}"
    left = (budget.resource or 0.0) - usage.resource
    return (
        f"the resource left ({left:g}) cannot train a new trial to the end, so a run on starts none: raise the "
        "resource budget to go on (tunesmith extend --resource)"
    )


def _budget_line(budget: Budget, usage: BudgetUsage) -> str:
    """`status`'s budget line: what the study spent as storage will count it once a worker reaps the RUNNING trials
    whose worker is gone (``usage``: `Budget.usage` given `Study.gone_trials`). Such a trial spends no trial budget
    (it becomes FAILED, interrupted or lost worker, as the notes on gone trials count it) and its running time ends
    at its last heartbeat. It only reads: a worker of the study reaps."""
    parts = []
    if budget.trials is not None:
        parts.append(f"trials {usage.trials}/{budget.trials}")
    if budget.wall_seconds is not None:
        parts.append(f"wall time {seconds_of(usage.elapsed, budget.wall_seconds)} counted while trials ran")
    if budget.compute_seconds is not None:
        parts.append(f"compute {seconds_of(usage.compute, budget.compute_seconds)} of trial time x devices")
    if budget.resource is not None:
        parts.append(f"resource {usage.resource:g}/{budget.resource:g}")
    if budget.until_converged:
        parts.append("or until converged")
    return f"budget: {', '.join(parts) or 'unbounded'} ({budget.fraction_spent(usage):.0%} spent)"


def _status_json(
    study: Study,
    records: list[TrialRecord],
    usage: BudgetUsage,
    used_up: _SpaceUsedUp | None,
    stops: SchedulerStops | None,
) -> dict[str, Any]:
    """`status --json`: the budget spent and its limits (null: no such limit), the trials by state, the space used
    up (null while it is not), the search's convergence (null unless ``until_converged`` stopped it) and what is left
    to find (`_left_json`), the scheduler's stops (null for a scheduler that stops none by design, FIFO), the recorded
    verdict (null before `finalize`), the validation set (`_validation_set_json`) and the failures beside the
    results (`failed_some_note`)."""
    budget = study.budget
    states: dict[str, int] = {}
    for record in records:
        states[record.state.value] = states.get(record.state.value, 0) + 1
    converged = read_attr(study.attrs, ConvergenceAttr)
    return {
        "study": study.name,
        "budget": {
            "trials": usage.trials, "trials_limit": budget.trials, "wall_seconds": usage.elapsed,
            "wall_seconds_limit": budget.wall_seconds, "resource": usage.resource, "resource_limit": budget.resource,
            "compute_seconds": usage.compute, "compute_seconds_limit": budget.compute_seconds,
            "until_converged": budget.until_converged, "spent": budget.fraction_spent(usage),
        },
        "converged": None if converged is None else converged.to_json(),
        "left_to_find": _left_json(study),
        "left_to_find_unread": left_unread(study),
        "states": states,
        # the failures beside the study's results, in the words status prints under its heading (null: none)
        "failed": failed_some_note(records, listing_arguments(study.name, study.storage.url)),
        # the kinds of warning the objective raised, in the words status prints (null: none)
        "warned": _warned(study, records),
        "forbidden": [clause.to_json() for clause in study.space.forbidden],  # as the space's JSON stores them
        "space_used_up": None if used_up is None else used_up.to_json(),
        "scheduler": None if stops is None else stops.to_json(),
        "verdict": _verdict_json(study),
        "validation_set": _validation_set_json(study),
    }  # fmt: skip


def _warned(study: Study, records: Sequence[TrialRecord]) -> str | None:
    """The kinds of warning the objective raised over the study's finished trials, as a run's notes say them
    (`tunesmith._trial_warnings.warned_note`); ``None`` when none warned."""
    finished = [r for r in records if r.state.is_finished]
    return warned_note(finished, len(finished), listing_arguments(study.name, study.storage.url))


def _left_json(study: Study) -> dict[str, Any] | None:
    """What the summary's "left to find" line says (`left_to_find`), as numbers: the bound, the noise, the complete
    trials read, the best trial and whether the bound is below the noise (null where the line is not printed)."""
    left = left_to_find(study)
    if left is None or left.bound is None:
        return None
    return {"bound": left.bound.bound, "noise": left.noise, "trials": left.trials, "best": left.best,
            "converged": left.converged}  # fmt: skip


def _validation_set_json(study: Study) -> dict[str, Any] | None:
    """The validation set the study records (null: none) and how many configurations each study created before it
    compared on it (`earlier_studies`)."""
    named = validation_set(study)
    if named is None:
        return None
    return {"name": named.name, "source": named.source,
            "earlier": {e.name: len(e.records) for e in earlier_studies(study)}}  # fmt: skip


@dataclass(frozen=True)
class _SpaceUsedUp:
    """Every configuration of a finite space tried: a sampler that skips tried configurations has nothing new left.

    Attributes:
        configurations: how many the space has.
        running: some of them are still running.
        trials_left: the trial budget's places left unspent (``None``: no trial limit).
        budget_left: some limit of the budget is not reached (an unbounded budget is never reached).
        repeats: the sampler draws tried configurations again rather than stopping (`Random`).
    """

    configurations: int
    running: bool
    trials_left: int | None
    budget_left: bool
    repeats: bool

    def line(self) -> str:
        plural = "s" if self.configurations != 1 else ""
        tried = f"all {self.configurations} configuration{plural} tried" + (
            " (running trials included)" if self.running else ""
        )
        if not self.budget_left:
            repeated = ", the random sampler repeating them" if self.repeats else ""
            return f"space used up: {tried}{repeated}; widen the space to search further"
        rest = (
            "the rest of the budget"
            if self.trials_left is None
            else f"the budget's {self.trials_left} other trial{'s' if self.trials_left != 1 else ''}"
        )
        if self.repeats:
            return f"space used up: {tried}; the random sampler repeats them for {rest}: widen the space"
        return f"space used up: {tried}; {rest} cannot run: widen the space"

    def to_json(self) -> dict[str, Any]:
        return {
            "configurations": self.configurations, "running": self.running, "trials_left": self.trials_left,
            "budget_left": self.budget_left, "repeats": self.repeats,
        }  # fmt: skip


def _space_used_up(study: Study, records: list[TrialRecord], usage: BudgetUsage) -> _SpaceUsedUp | None:
    """Whether the study tried every configuration of its space (``None`` while it has not), on the history a
    sampler reads: the warm-start points and the valid trials, running ones included.

    The cheap refusals come first: a space samplers cannot list (no dimension, a continuous float, more than
    `ENUMERATION_LIMIT` configurations) never ends a search, nor does one whose configurations cannot repeat (an
    always-active continuous float: `Tried.active` is false); then the space's configurations are listed, as
    `tunesmith.samplers._tried.untried` lists them before it raises `SearchSpaceExhausted`, up to the first
    untried one.
    """
    space = study.space
    size = space.cardinality()
    if not space.dimensions or not math.isfinite(size) or size > ENUMERATION_LIMIT:
        return None
    with _friendly_errors():
        warm = read_attr(study.attrs, WarmStartAttr)
    tried = Tried(space, [*(() if warm is None else _priors(study, warm)), *valid(records)])
    if not tried.active:
        return None
    every = configurations(space)
    if any(config not in tried for config in every):
        return None
    budget = study.budget
    return _SpaceUsedUp(
        configurations=len(every),
        running=any(r.state is TrialState.RUNNING for r in records),
        trials_left=None if budget.trials is None else max(0, budget.trials - usage.trials),
        budget_left=budget.exhausted_limit(usage) is None,
        repeats=isinstance(study.sampler, Random),
    )


@click.command()
@storage_option
@json_option
@_one_line_errors
def studies(storage: str, as_json: bool) -> None:
    """List the studies in the storage: each one's trials by state, when it was created and last active, and its
    best (one objective)."""
    store = _open(storage)
    if store.url == "memory":  # an empty list would read as "no studies yet", where none can ever be read
        raise CliError(
            "storage 'memory' keeps a study only inside the process that ran it, so a new command never finds one: "
            "pass the storage the study was run with, a SQLite or PostgreSQL URL (--storage sqlite:///tunesmith.db, "
            "--storage postgresql://user@host/db)"
        )
    with _friendly_errors():
        infos = store.list_studies()
        if not infos and not as_json:  # said on stderr: standard output still lists none, a line per study
            click.echo(terminal_safe(f"no studies in {redact_url(store.url)} yet: `tunesmith run CONFIG --storage "
                                     "URL`, or a study created from Python, stores one", markup=False), err=True)
        for info in infos:
            listed = _Listed.of(Study.load(info.name, store))
            if as_json:
                _print_json(listed.to_json())
            else:
                console.print(terminal_safe(listed.line()))


@dataclass(frozen=True)
class _Listed:
    """What `studies` says of one study: its trials by state, when it was created and last active, and its best
    (one objective): the trial `status`, `best` and the report show as best (`report._shown.picked_best`), the seed
    re-runs' pick when they picked one (``rerun``), else the best COMPLETE trial, invalidated ones left out."""

    name: str
    created_at: float
    states: dict[str, int]
    last_active: float | None
    metric: Metric | None
    objectives: int
    best: TrialRecord | None
    rerun: bool = False
    guardrails: tuple[Guardrail, ...] = ()

    @classmethod
    def of(cls, study: Study) -> _Listed:
        from tunesmith.report import report_data
        from tunesmith.report._shown import picked_best

        records = study.trials
        times = [t for r in records for t in (r.finished_at, r.heartbeat_at, r.started_at) if t is not None]
        objectives = max(len(study.objectives), 1)
        picked = picked_best(report_data(study)) if objectives == 1 else None
        return cls(
            name=study.name,
            created_at=study.info.created_at,
            states=states_of(records),
            last_active=max(times, default=None),
            metric=study.metric,
            objectives=objectives,
            best=None if picked is None else picked.record,
            rerun=picked is not None and picked.rerun,
            guardrails=tuple(study.guardrails),
        )

    def line(self) -> str:
        count = sum(self.states.values())
        held = f" ({held_text(self.states)})" if count else ""
        parts = [f"{self.name}  {count} trial{'s' * (count != 1)}{held}", f"created {_when(self.created_at)}"]
        if self.last_active is not None:
            parts.append(f"last active {_when(self.last_active)}")
        if self.objectives > 1:
            parts.append(f"{self.objectives} objectives (tunesmith status {shlex.quote(self.name)} shows the front)")
        elif self.best is not None and self.metric is not None:
            from tunesmith.report._data import value_text  # the report package loads the analyses: only when printed

            # As every view prints it: a feasible value on a guardrail's bound never reads as the bound.
            value = value_text(self.best.metrics, self.metric.name, scale=self.metric.scale, guardrails=self.guardrails)
            pick = ", the re-runs' pick" if self.rerun else ""
            parts.append(f"best {self.metric.name} {value} (#{self.best.number}{pick})")
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        best = None
        if self.best is not None and self.metric is not None:
            best = {"trial": self.best.number, "metric": self.metric.name, "value": self.best.value(self.metric.name),
                    "rerun_pick": self.rerun}  # fmt: skip
        return {"name": self.name, "trials": sum(self.states.values()), "created_at": self.created_at,
                "states": self.states, "last_active": self.last_active, "best": best}  # fmt: skip


@click.command()
@click.argument("study_name", required=False)
@storage_option
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), default="report.html", show_default=True, help="HTML file."
)
@_one_line_errors
def report(study_name: str | None, storage: str, output: str) -> None:
    """Write the HTML report of STUDY_NAME (default: the most recent study): one offline file."""
    from tunesmith.report import analyse, report_data, summary, write_report
    from tunesmith.report._shown import scheduler_stops

    study = _resolve_study(storage, study_name)
    with _friendly_errors():
        data = report_data(study)
        findings = analyse(data)
        stops = scheduler_stops(study, data.records)  # the header says what `status` says of the scheduler
        path = write_report(data, output, findings=findings, scheduler=stops)
        summary(data, console=console, findings=findings)
        _verdict_lines(study)
    console.print(terminal_safe(f"report written to {path}"))
    _confirm_stored(study)


def _verdict_lines(study: Study) -> None:
    """The recorded verdict's headline (as `finalize` stored it), and why it is stale when it is."""
    from tunesmith.attributes import VerdictAttr
    from tunesmith.discipline.verdict import stale_note

    with _friendly_errors():
        verdict = read_attr(study.attrs, VerdictAttr)
    if verdict is None:
        return
    stale = stale_note(study.attrs, study.trials)
    if stale:  # led by it: a stale "verdict: ready" read as current
        console.print(f"[yellow]{terminal_safe(f'verdict {stale}')}[/yellow]")
        console.print(f"[yellow]{terminal_safe(f'recorded verdict: {verdict.summary or verdict.status}')}[/yellow]")
        return
    colour = verdict_colour(verdict.ready, verdict.status == "fail")
    console.print(f"[{colour}]{terminal_safe(f'verdict: {verdict.summary or verdict.status}')}[/{colour}]")


@click.command()
@click.argument("study_name", required=False)
@storage_option
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="CSV file (default: stdout).")
@click.option("--mlflow", "to_mlflow", is_flag=True, help="Also log the study to MLflow (tunesmith[mlflow]).")
@click.option("--tracking-uri", default=None, help="MLflow tracking URI (default: MLflow's own).")
@click.option("--experiment", default=None, help="MLflow experiment (default: the study's name).")
@click.option("--tensorboard", "tensorboard_dir", type=click.Path(file_okay=False), default=None,
              help="Also write the study as TensorBoard runs into this folder (tunesmith[tensorboard]).")  # fmt: skip
@_one_line_errors
def export(
    study_name: str | None,
    storage: str,
    output: str | None,
    to_mlflow: bool,
    tracking_uri: str | None,
    experiment: str | None,
    tensorboard_dir: str | None,
) -> None:
    """Export the trials of STUDY_NAME as CSV rows (one per trial), and optionally to MLflow or TensorBoard."""
    from tunesmith.report import log_to_mlflow, write_csv

    study = _resolve_study(storage, study_name)
    with _friendly_errors():
        if output is not None:
            path = write_csv(study, output)
            console.print(terminal_safe(f"{len(study.trials)} trials written to {path}"))
        elif not to_mlflow and tensorboard_dir is None:
            # One writer for the file and stdout, so both write a None choice as null (an empty cell is a
            # parameter the trial did not have) and a warm start reads them alike.
            with tempfile.TemporaryDirectory(prefix="tunesmith-export-") as scratch:
                _print_csv(write_csv(study, Path(scratch) / "trials.csv"))
        if to_mlflow:
            run_id = log_to_mlflow(study, tracking_uri=tracking_uri, experiment=experiment)
            console.print(terminal_safe(f"logged to MLflow: parent run {run_id}"))
        if tensorboard_dir is not None:
            from tunesmith.report import log_to_tensorboard

            folder = log_to_tensorboard(study, tensorboard_dir)
            console.print(terminal_safe(f"written to TensorBoard: {folder} (view with tensorboard --logdir "
                                        f"{tensorboard_dir})"))  # fmt: skip
    _confirm_stored(study)


def _print_csv(path: Path) -> None:
    """The CSV file at ``path`` on stdout, its rows ending in a line feed.

    A pipe or a redirect gets every value exactly, for the program that reads it (only a CRLF inside a value
    becomes a line feed, as the rows' ends do). A terminal gets each cell with its control characters escaped, as
    every command shows user text, so that a name or value cannot clear the screen or retitle the window; the
    rows stay valid CSV, one line each.
    """
    with path.open(newline="", encoding="utf-8") as fh:
        if sys.stdout.isatty():
            rows = [[terminal_safe(cell, markup=False) for cell in row] for row in csv.reader(fh)]
            csv.writer(sys.stdout, lineterminator="\n").writerows(rows)
        else:
            sys.stdout.write(fh.read().replace("\r\n", "\n"))  # a lone CR in a value is data: kept
    sys.stdout.flush()


@click.command("dashboard")
@click.argument("study_name", required=False)
@storage_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback only by default).")
@click.option("--port", type=click.IntRange(min=0, max=65535), default=0, show_default=True, help="0: a free port.")
@click.option("--refresh", type=click.FloatRange(min=0, min_open=True), default=2.0, show_default=True,
              help="Seconds between the page's reads.")  # fmt: skip
@click.option("--allow-remote", is_flag=True, help="Serve on a non-loopback address (the dashboard has no login).")
@_one_line_errors
def dashboard_command(
    study_name: str | None, storage: str, host: str, port: int, refresh: float, allow_remote: bool
) -> None:
    """Serve a live dashboard of STUDY_NAME (default: the most recent study) until Ctrl-C; it only reads."""
    from tunesmith.dashboard import serve

    with _friendly_errors():
        try:
            server = serve(storage, study_name, host, port, refresh=refresh, allow_remote=allow_remote)
        except StudyNotFound:
            raise CliError(f"no study named {study_name!r} in {redact_url(storage)}") from None
        except OSError as exc:
            raise CliError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None
    served = f"tunesmith dashboard at {server.url} (storage {server.storage_label}); Ctrl-C to stop"
    click.echo(terminal_safe(served, markup=False))
    try:
        server.wait()
    except KeyboardInterrupt:
        click.echo("stopped")
    finally:
        server.shutdown()
