"""Re-running failures after a fix: FAILED trials re-queued, each once, without spending the budget twice."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from tunesmith._text import counted
from tunesmith.budget import RETRY_REQUESTED, Budget, compute_time, counts_toward_budget, plain_number, running_time
from tunesmith.errors import ConfigError
from tunesmith.schedulers.pbt import RESUMES
from tunesmith.storage.base import count_budgeted
from tunesmith.study._limits import spent_beyond_trials
from tunesmith.study._search_progress import command_arguments
from tunesmith.trial import TrialKind, TrialRecord, TrialState

if TYPE_CHECKING:
    from tunesmith.study._study import Study

__all__ = ["CODE_FAILURES", "FAILED_KINDS", "owed_retry", "retry_failed"]

# Failures the objective's code causes whatever the configuration: worth re-running once it is fixed.
CODE_FAILURES = (TrialKind.EXCEPTION, TrialKind.BAD_RESULT, TrialKind.MISSING_METRIC)
# Every kind a FAILED trial can have (the others belong to STOPPED and INFEASIBLE trials).
FAILED_KINDS = (
    TrialKind.EXCEPTION, TrialKind.CRASH, TrialKind.TIMEOUT, TrialKind.OUT_OF_MEMORY, TrialKind.NON_FINITE,
    TrialKind.MISSING_METRIC, TrialKind.BAD_RESULT, TrialKind.INTERRUPTED, TrialKind.LOST_WORKER,
)  # fmt: skip


def _checked_kinds(kinds: Iterable[TrialKind]) -> frozenset[TrialKind]:
    chosen = [kinds] if isinstance(kinds, TrialKind | str) else list(kinds)  # a bare kind is one kind
    allowed = ", ".join(f"TrialKind.{k.name}" for k in FAILED_KINDS)
    for kind in chosen:
        if kind not in FAILED_KINDS:
            raise ConfigError(
                f"retry_failed re-queues FAILED trials, whose kind is one of {allowed}; got kinds={chosen!r}: "
                "pass TrialKind members of a failure, e.g. kinds=(TrialKind.EXCEPTION,)"
            )
    if not chosen:
        raise ConfigError("retry_failed needs at least one kind, got kinds=(): pass e.g. kinds=(TrialKind.EXCEPTION,)")
    return frozenset(chosen)


def owed_retry(history: Sequence[TrialRecord], kinds: Iterable[TrialKind]) -> list[TrialRecord]:
    """The FAILED trials of ``history`` of one of ``kinds`` that no trial retries or resumes yet and that are not
    already queued for a retry, in number order. A PBT member lost in a crash and resumed from its checkpoint
    (`tunesmith.schedulers.pbt.PBT.resumption`) goes on training in the trial that resumes it: a retry would train
    its configuration a second time, from scratch, beside it."""
    wanted = frozenset(kinds)
    rerun = {r.attrs.get(key) for r in history for key in ("retry_of", RESUMES) if key in r.attrs}
    return [
        r
        for r in history
        if r.state is TrialState.FAILED
        and r.kind in wanted
        and r.number not in rerun
        and not r.attrs.get(RETRY_REQUESTED)
    ]


def retry_failed(study: Study, kinds: Iterable[TrialKind]) -> list[int]:
    """Queue ``study``'s FAILED trials of ``kinds`` for a retry (see `Study.retry_failed`)."""
    chosen = _checked_kinds(kinds)
    if any(kind.is_interruption for kind in chosen):
        study.reap_lost_trials()  # a trial still RUNNING whose worker is gone is one of those asked for
    history = study.trials
    owed = owed_retry(history, chosen)
    if owed:
        _refuse_beyond_trials(study, history, owed)
    # An interrupted trial never spent the budget (a new trial replaced it), so its retry frees no place to run in.
    unpaid = [r.number for r in owed if not counts_toward_budget(r)]
    limit = study.budget.trials
    if unpaid and limit is not None and (spent := count_budgeted(history)) + len(unpaid) > limit:
        needed = spent + len(unpaid)
        raise ConfigError(
            f"the trial budget has {limit - spent} of {limit} trials left, but retrying "
            f"{counted(len(unpaid), 'interrupted or lost trial')} ({', '.join(f'#{n}' for n in unpaid)}) needs "
            f"{len(unpaid)}: {'it' if len(unpaid) == 1 else 'they'} never counted towards the budget, so "
            f"{'its retry' if len(unpaid) == 1 else 'their retries'} would never run; raise it first "
            f"(study.extend_budget(trials={needed}), or tunesmith extend "
            f"{command_arguments(study.name, study.storage.url)} --trials {needed})"
        )
    queued: list[int] = []
    for record in owed:
        study.storage.update_trial(study._info.id, record.number, attrs={RETRY_REQUESTED: True})
        queued.append(record.number)
    return queued


def _refuse_beyond_trials(study: Study, history: Sequence[TrialRecord], owed: Sequence[TrialRecord]) -> None:
    """Refuse to queue ``owed`` when the wall-time or resource budget leaves no room for a new trial.

    A re-queued failure gives back its place in the trial budget, but not the time it ran nor the units it
    trained: those were spent. Queued under such a budget, the retries would never run (`Study.ask` refuses
    every new trial), while the failures stopped counting towards the trial budget and stopped being offered
    for a retry. The stored budget is read, so a limit another process raised (`tunesmith extend`) counts.
    """
    stored = Budget.from_json(study.storage.load_study(study.name).spec.get("budget"), stored=True)
    now = study._clock()
    spent = [
        found
        for limit in (
            Budget(wall_time=stored.wall_time),
            Budget(compute=stored.compute),
            Budget(resource=stored.resource),
        )
        if (found := spent_beyond_trials(limit, history, now, scheduler=study.scheduler)) is not None
    ]
    if not spent:
        return
    usage = Budget.usage(history, now)
    finished = [r for r in history if r.state is TrialState.COMPLETE and r.invalidated is None]
    count = len(owed)
    raised: list[tuple[str, str, str]] = []  # (keyword, CLI option, new total)
    estimates: list[str] = []
    if stored.wall_seconds is not None and any(found.limit == "wall_time" for found in spent):
        each, basis = _longest(finished, owed, lambda r: running_time([r], now), "s")
        seconds = math.floor(max(stored.wall_seconds, usage.elapsed) + count * each) + 1  # whole, above the limit
        raised.append(("wall_time", "--wall-time", str(seconds)))
        estimates.append(f"each retry runs about as long as {basis}")
    if stored.compute_seconds is not None and any(found.limit == "compute" for found in spent):
        each, basis = _longest(finished, owed, lambda r: compute_time([r], now), "s")
        seconds = math.floor(max(stored.compute_seconds, usage.compute) + count * each) + 1
        raised.append(("compute", "--compute", str(seconds)))
        estimates.append(f"each retry spends about the compute of {basis}")
    if stored.resource is not None and any(found.limit == "resource" for found in spent):
        each, basis = _longest(finished, owed, lambda r: r.resource, " units")
        units = max(stored.resource, usage.resource) + count * max(each, 1.0)
        raised.append(("resource", "--resource", plain_number(units)))
        estimates.append(f"each retry trains from scratch, as far as {basis}")
    keywords = ", ".join(f"{keyword}={value}" for keyword, _, value in raised)
    options = " ".join(f"{option} {value}" for _, option, value in raised)
    raise ConfigError(
        f"retry_failed would queue {counted(count, 'failed trial')} ({', '.join(f'#{r.number}' for r in owed)}), but "
        f"{'; '.join(found.message for found in spent)}: a retry runs as a new trial, and no new trial starts once "
        "the wall-time or resource budget is spent (a failure gives back its place in the trial budget, not the time "
        f"it ran or the units it trained); raise the budget first ({'; '.join(estimates)}): "
        f"study.extend_budget({keywords}), or tunesmith extend {command_arguments(study.name, study.storage.url)} "
        f"{options}"
    )


def _longest(
    finished: Sequence[TrialRecord], owed: Sequence[TrialRecord], measure: Callable[[TrialRecord], float], unit: str
) -> tuple[float, str]:
    """How much one retry may need by ``measure``, and what that is read from, in words: the longest complete trial,
    else (none completed) the longest failure, which a retry that gets past the failure's cause goes beyond."""
    if finished:
        most = max(measure(r) for r in finished)
        return most, f"the longest complete trial ({most:.3g}{unit})"
    most = max(measure(r) for r in owed)
    return most, f"the longest failure ({most:.3g}{unit}; no trial has completed, so a retry may need more)"
