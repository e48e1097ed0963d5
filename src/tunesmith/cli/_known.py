"""Known configurations from the command line: `enqueue` one to run next, `invalidate` / `revalidate` a trial,
and the lines `status` prints about the queue, the warm start and invalidated trials."""

from __future__ import annotations

import warnings

import click

from tunesmith._text import counted, terminal_safe
from tunesmith.attributes import CopiesAttr, EnqueuedAttr, NestedFoldAttr, WarmStartAttr, read_attr
from tunesmith.budget import RETRY_REQUESTED
from tunesmith.cli._common import (
    CliError,
    _confirm_stored,
    _friendly_errors,
    _params_text,
    _resolve_study,
    console,
    storage_option,
    trial_number,
)
from tunesmith.cli._failures import _when
from tunesmith.storage import redact_url
from tunesmith.study import Study
from tunesmith.study._known import (
    QueueBeyondBudgetWarning,
    QueuedConfigurationRepeatWarning,
    from_text,
    queue_beyond_budget,
    waiting,
)
from tunesmith.trial import TrialRecord

# The study is named first, as `show`, `best` and `status` name it; --study, the older form, still names it.
study_option = click.option("--study", "study_name", default=None,
                            help="The study's name, when not given as the first argument.")  # fmt: skip


def _named_first(
    command: str, study_name: str | None, given: tuple[str, ...], rest: str
) -> tuple[str, tuple[str, ...]]:
    """The study's name and the arguments after it: the first of ``given`` unless --study named it (``study_name``).

    Raises:
        CliError: no study named, or nothing after it (``rest``: what comes after the name, for the usage shown).
    """
    usage = f"tunesmith {command} STUDY_NAME {rest}"
    if study_name is not None:
        return study_name, given
    if len(given) < 2:
        got = f"got only {given[0]!r}" if given else "got nothing"
        raise CliError(f"{command} takes the study's name and then {rest}, {got}: {usage}")
    return given[0], given[1:]


# Why a warm start drops an earlier result (`tunesmith.study._warm_start.record_warm_start`), each a cause it counts.
_DROPPED = (
    "dropped (outside the space's bounds, giving text where a number goes, lacking a parameter the space makes active "
    "or giving one it switches off, without a finite value, or breaching this study's guardrails; the warning at the "
    "warm start counted each)"
)


def known_lines(study: Study) -> list[str]:
    """What `status` says about the warm start, the queue, the copies that brought the study here and invalidated
    trials (nothing when none)."""
    lines: list[str] = []
    with _friendly_errors():
        attrs = study.attrs
        warm = read_attr(attrs, WarmStartAttr)
        queue = read_attr(attrs, EnqueuedAttr)
    records = study.trials
    if warm is not None:
        # The attribute counts the results dropped, not why each was: the warning at the warm start said that.
        dropped = f"; {warm.dropped} {_DROPPED}" if warm.dropped else ""
        lines.append(
            f"warm start: {len(warm.points)} earlier results from {warm.source} inform the sampler; they are not "
            f"trials of this study{dropped}"
        )
    lines += queue_lines(study, queue, records)
    if (fold := read_attr(attrs, NestedFoldAttr)) is not None:
        score = "score" if fold.metric is None else fold.metric
        winner = "its winner" if fold.trial is None else f"its winner (#{fold.trial})"
        lines.append(
            f"nested cross-validation, outer fold {fold.fold} of {fold.folds}: {winner} scored {score} "
            f"{fold.outer_score:.6g} on the fold's {fold.test_rows} test rows, which no trial of this study saw (its "
            f"search read {fold.inner_best:.6g}, tuned on {fold.train_rows} rows); one fold's score, no estimate on "
            f"its own: the nested estimate is the mean over the {fold.folds} fold studies, with their spread"
        )
    copies = read_attr(attrs, CopiesAttr)
    for copy in () if copies is None else copies.copies:
        lines.append(f"copied on {_when(copy.at)} from study {copy.study!r} of {copy.source} with {copy.trials} trials")
    imported = attrs.get("optuna_import")  # read as stored: the importer's module needs Optuna, status does not
    if isinstance(imported, dict) and imported.get("complete") is False:
        lines.append(
            f"incomplete Optuna import: {imported.get('trials', 0)} trials of Optuna study {imported.get('study')!r} "
            "written; unless an import is running now, this study is no copy of it and cannot be finished: import "
            "again under a new name (tunesmith import-optuna ... --as NEW_NAME)"
        )
    queued = [r.number for r in records if r.attrs.get(RETRY_REQUESTED)]
    retried = {r.attrs.get("retry_of") for r in records if "retry_of" in r.attrs}
    waiting_retry = [n for n in queued if n not in retried]
    if waiting_retry:
        numbers = ", ".join(f"#{n}" for n in waiting_retry)
        lines.append(
            f"retry queued: {len(waiting_retry)} failed trials ({numbers}) run again next, each retry taking the "
            "budget place its failure gave up"
        )
    invalid = [r.number for r in records if r.invalidated is not None]
    if invalid:
        numbers = ", ".join(f"#{n}" for n in invalid)
        lines.append(f"invalidated: {counted(len(invalid), 'trial')} ({numbers}), out of best, the samplers and the "
                     "discipline")  # fmt: skip
    return lines


def queue_lines(study: Study, queue: EnqueuedAttr | None, records: list[TrialRecord]) -> list[str]:
    """What `status` and `enqueue` say about the queue: how many wait, and whether the budget has room for them."""
    if queue is None or not queue.configs:
        return []
    count = waiting(queue, records)
    lines = [f"enqueued: {counted(count, 'configuration')} waiting, {len(queue.configs) - count} run"]
    if blocked := queue_beyond_budget(study, records):
        lines.append(blocked)
    return lines


def _split(study: Study, storage: str, pair: str, example: str = "tunesmith enqueue ...") -> tuple[str, str]:
    """``pair`` as (name, value text), cut at the '=' after a parameter's name: a name may hold '=' (the space takes
    it) and so may a value (a choice "a=b"), so only the space's names can tell where the name ends."""
    space = study.space
    known = [(pair[:at], pair[at + 1 :]) for at, char in enumerate(pair) if char == "=" and pair[:at] in space]
    if len(known) == 1:
        return known[0]
    if len(known) > 1:
        readings = [(name, from_text(space.get(name), text)) for name, text in known]
        said = " or as ".join(f"{name!r} set to {value!r}" for name, value in readings)
        calls = " or ".join(f".enqueue({{{name!r}: {value!r}}})" for name, value in readings)
        raise CliError(
            f"a parameter is given as name=value, cut at the '=' after a parameter's name, but {pair!r} reads as "
            f"{said}, and the space has each of these names, so the command line cannot tell which is meant: "
            f"enqueue it from Python, where the name is a key of its own: "
            f"ts.Study.load({study.name!r}, storage={redact_url(storage)!r}){calls}"
        )
    # A name the study does not know yet (define-by-run) ends at the first '='.
    name, sep, text = pair.partition("=")
    if not sep or not name:
        raise CliError(f"parameters are given as name=value, got {pair!r}: e.g. {example} lr=0.01")
    return name, text


def parse_params(study: Study, storage: str, pairs: tuple[str, ...], example: str = "tunesmith enqueue ..."
                 ) -> dict[str, object]:  # fmt: skip
    """``NAME=VALUE`` texts as parameters, each value read against the study's space (``example``: the command a
    refusal shows them in)."""
    params: dict[str, object] = {}
    given: dict[str, str] = {}  # name -> the pair that gave it, to name both when it comes again
    for pair in pairs:
        name, text = _split(study, storage, pair, example)
        if name in given:  # keeping either value would queue a configuration the user may not have meant
            raise CliError(f"{name} given twice ({given[name]}, {pair}): give each parameter once")
        given[name] = pair
        # A name the study does not know yet (define-by-run) is read as a number, true/false/null or text.
        params[name] = from_text(study.space.get(name), text)
    return params


@click.command()
@study_option
@storage_option
@click.option("--note", default=None, help="Why this configuration (kept with it and its trial).")
@click.option("--repeat", is_flag=True, help="Queue it even if a trial already ran it or the queue holds it.")
@click.argument("given", nargs=-1, required=True, metavar="STUDY_NAME NAME=VALUE...")
def enqueue(study_name: str | None, storage: str, note: str | None, repeat: bool, given: tuple[str, ...]) -> None:
    """Queue a configuration for STUDY_NAME: the next trial any worker starts runs it, before the sampler's
    proposals. Parameters left out are drawn by the sampler. One a trial already ran, or the queue holds, is not
    queued again unless --repeat is given."""
    study_name, params = _named_first("enqueue", study_name, given, "NAME=VALUE...")
    study = _resolve_study(storage, study_name)
    with _friendly_errors():
        values = parse_params(study, storage, params)
        with warnings.catch_warnings(record=True) as said:  # said below, with the queue
            warnings.simplefilter("ignore", QueueBeyondBudgetWarning)
            warnings.simplefilter("always", QueuedConfigurationRepeatWarning)
            study.enqueue(values, note=note, repeat=repeat)
        lines = queue_lines(study, read_attr(study.attrs, EnqueuedAttr), study.trials)
    repeats = [w for w in said if issubclass(w.category, QueuedConfigurationRepeatWarning)]
    for other in (w for w in said if w not in repeats):
        warnings.warn_explicit(other.message, other.category, other.filename, other.lineno)
    if repeats:
        said_once = str(repeats[0].message).replace("pass repeat=True", "pass --repeat")
        console.print(terminal_safe(f"not enqueued: {said_once}"), markup=False)
    else:
        console.print(f"enqueued for {terminal_safe(study.name)}: {_params_text(values)}")
    for line in lines:
        console.print(terminal_safe(line))
    _confirm_stored(study)


@click.command()
@study_option
@storage_option
@click.argument("given", nargs=-1, required=True, metavar="STUDY_NAME NUMBER")
@click.option("--reason", required=True, help="Why the trial's result cannot be trusted (kept for the audit).")
def invalidate(study_name: str | None, storage: str, given: tuple[str, ...], reason: str) -> None:
    """Take trial NUMBER of STUDY_NAME out of best, the samplers, the schedulers and the discipline; it stays
    stored and listed, marked with the reason (`tunesmith revalidate` undoes it)."""
    study_name, number = _study_and_number("invalidate", study_name, given)
    study = _resolve_study(storage, study_name)
    with _friendly_errors():
        study.invalidate(number, reason)
        if len(study.objectives) > 1:
            front = ", ".join(f"#{record.number}" for record in study.pareto_front) or "empty"
            now = f"the Pareto front is now {front}"
        else:
            best = study.best
            now = "best is now " + ("none" if best is None else f"trial #{best.number}")
    console.print(terminal_safe(f"trial #{number} of {study.name} invalidated: {reason.strip()}"))
    console.print(terminal_safe(now))
    _confirm_stored(study)


@click.command()
@study_option
@storage_option
@click.argument("given", nargs=-1, required=True, metavar="STUDY_NAME NUMBER")
def revalidate(study_name: str | None, storage: str, given: tuple[str, ...]) -> None:
    """Undo `tunesmith invalidate`: trial NUMBER of STUDY_NAME counts again."""
    study_name, number = _study_and_number("revalidate", study_name, given)
    study = _resolve_study(storage, study_name)
    with _friendly_errors():
        study.revalidate(number)
    console.print(terminal_safe(f"trial #{number} of {study.name} counts again"))
    _confirm_stored(study)


def _study_and_number(command: str, study_name: str | None, given: tuple[str, ...]) -> tuple[str, int]:
    """The study and the trial number of ``command`` (`_named_first`), the number refused unless it is one."""
    name, rest = _named_first(command, study_name, given, "NUMBER")
    if len(rest) != 1:
        raise CliError(f"{command} takes the study's name and one trial number, got {' '.join(given)}: "
                       f"tunesmith {command} STUDY_NAME NUMBER")  # fmt: skip
    return name, trial_number(rest[0], f"tunesmith {command} {name}")
