"""Re-running failures after a fix: FAILED trials re-queued, each once, without spending the budget twice."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from tunesmith.budget import RETRY_REQUESTED, counts_toward_budget
from tunesmith.errors import ConfigError
from tunesmith.storage.base import count_budgeted
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
    """The FAILED trials of ``history`` of one of ``kinds`` that no trial retries yet and that are not
    already queued for a retry, in number order."""
    wanted = frozenset(kinds)
    retried = {r.attrs.get("retry_of") for r in history if "retry_of" in r.attrs}
    return [
        r
        for r in history
        if r.state is TrialState.FAILED
        and r.kind in wanted
        and r.number not in retried
        and not r.attrs.get(RETRY_REQUESTED)
    ]


def retry_failed(study: Study, kinds: Iterable[TrialKind]) -> list[int]:
    """Queue ``study``'s FAILED trials of ``kinds`` for a retry (see `Study.retry_failed`)."""
    chosen = _checked_kinds(kinds)
    if any(kind.is_interruption for kind in chosen):
        study.reap_lost_trials()  # a trial still RUNNING whose worker is gone is one of those asked for
    history = study.trials
    owed = owed_retry(history, chosen)
    # An interrupted trial never spent the budget (a new trial replaced it), so its retry frees no place to run in.
    unpaid = [r.number for r in owed if not counts_toward_budget(r)]
    limit = study.budget.trials
    if unpaid and limit is not None and (spent := count_budgeted(history)) + len(unpaid) > limit:
        needed = spent + len(unpaid)
        raise ConfigError(
            f"the trial budget has {limit - spent} of {limit} trials left, but retrying {len(unpaid)} "
            f"interrupted or lost trial(s) ({', '.join(f'#{n}' for n in unpaid)}) needs {len(unpaid)}: they never "
            f"counted towards the budget, so their retries would never run; raise it first "
            f"(study.extend_budget(trials={needed}), or tunesmith extend {study.name} --trials {needed})"
        )
    queued: list[int] = []
    for record in owed:
        study.storage.update_trial(study._info.id, record.number, attrs={RETRY_REQUESTED: True})
        queued.append(record.number)
    return queued
