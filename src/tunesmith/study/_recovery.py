"""Recovery of trials lost with their worker: heartbeats, reaping, re-queueing and settling."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import weakref
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from numbers import Real
from typing import TYPE_CHECKING, Any

from tunesmith.budget import RETRY_REQUESTED
from tunesmith.errors import StorageError, StorageLost, StorageUnavailable
from tunesmith.schedulers.pbt import EXPLORER, RESUMES
from tunesmith.storage import Proposal, Storage
from tunesmith.storage._failures import CommitUnknown, ServerGone
from tunesmith.storage._trial_cache import Facet, matching
from tunesmith.storage.base import count_budgeted
from tunesmith.study._checkpoints import CHECKPOINTED, START_STEP_UNSURE
from tunesmith.study._observers import trials_ended
from tunesmith.study._retry import owed_retry
from tunesmith.trial import TrialKind, TrialRecord, TrialState

if TYPE_CHECKING:
    from tunesmith.study._study import Study

__all__ = [
    "CONTINUATION",
    "FROM_SCRATCH",
    "RETRIED_FROM_SCRATCH",
    "Lost",
    "ResultDiscardedWarning",
    "Stopped",
    "cut_short_by",
    "discarded_note",
    "find_lost",
    "gone_notes",
    "naming_the_result",
    "reap",
    "requeued",
    "outcome_text",
    "settle",
    "start_heartbeat",
    "stopped_by",
    "worker_id",
]

_log = logging.getLogger("tunesmith")

# What makes a trial a PBT continuation (`_ask.propose`, `_ask.hand_over_checkpoint`): its donor, start step,
# lineage, the stopped member it replaces (or the lost one it resumes), how its parameters moved from its donor's,
# why that donor, and the scheduler as its ``sampler``.
CONTINUATION = frozenset(
    {"parent", "start_step", "lineage", "replaces", RESUMES, "explored", EXPLORER, "donor_note", START_STEP_UNSURE,
     "sampler"}
)
# The failed trial's attributes its retry drops (see `requeued`): the request itself, whether its checkpoint
# folder held files (the retry's folder is a new one), and a PBT continuation's own (`CONTINUATION`; its
# ``sampler`` only where the trial was one): the retry trains from step 0.
FROM_SCRATCH = frozenset({RETRY_REQUESTED, CHECKPOINTED} | CONTINUATION - {"sampler"})
# The attribute of a retry of a PBT continuation: ``{"parent": donor, "start_step": step}``, what the failed
# continuation was to continue; the retry trains its parameters from step 0.
RETRIED_FROM_SCRATCH = "retried_from_scratch"


class ResultDiscardedWarning(UserWarning):
    """A trial's result came after the trial had already ended in storage (most often: its worker stalled past
    the study's grace and another worker gave the trial up as lost), so it was not recorded."""


def discarded_note(stored: TrialRecord, state: TrialState, metrics: dict[str, float], grace: float) -> str:
    """What to say of a result that came for a trial storage already holds as ended."""
    values = ", ".join(f"{k}={v:.6g}" for k, v in metrics.items()) or "no metrics"
    why = f" ({stored.reason})" if stored.reason else ""
    lost = (
        f"; a worker whose heartbeat stops for longer than the study's grace ({grace:g}s: a machine that stalled, "
        "a process paused) is taken for gone and its trial given up (retried when retries allow): give the study "
        "a longer grace= when its workers can stall that long"
        if stored.kind is TrialKind.LOST_WORKER
        else ""
    )
    return (
        f"trial #{stored.number} had already ended as {stored.state.value}{why} when this result came "
        f"({state.value}, {values}): it is not recorded, storage keeps what it holds{lost}"
    )


def worker_id() -> str:
    """``host:pid`` of this process; ``TUNESMITH_WORKER_HOST`` names the host where hostnames are not
    unique (containers sharing one), since a local-pid liveness check is only sound on one's own host."""
    return f"{os.environ.get('TUNESMITH_WORKER_HOST') or socket.gethostname()}:{os.getpid()}"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie has exited; only its parent has not collected it yet
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


@dataclass(frozen=True)
class Lost:
    """A RUNNING trial whose worker is gone: ``dead`` when its process on this host no longer
    exists, else silent for longer than the grace period."""

    record: TrialRecord
    dead: bool
    detail: str

    @property
    def reason(self) -> str:
        return "interrupted" if self.dead else "lost worker"

    @property
    def kind(self) -> TrialKind:
        return TrialKind.INTERRUPTED if self.dead else TrialKind.LOST_WORKER


def find_lost(
    history: Sequence[TrialRecord], *, worker: str, own: Collection[int], now: float, grace: float
) -> list[Lost]:
    """The RUNNING trials of ``history`` whose worker is gone (never those in ``own``, which this
    process runs itself)."""
    host, _, own_pid = worker.rpartition(":")
    lost: list[Lost] = []
    for record in history:
        if record.state is not TrialState.RUNNING or record.number in own:
            continue
        worker_host, _, pid_text = (record.worker or "").rpartition(":")
        dead = worker_host == host and pid_text.isdigit() and pid_text != own_pid and not pid_alive(int(pid_text))
        silent = record.heartbeat_at is not None and now - record.heartbeat_at > grace
        if dead or silent:
            why = "its process is gone" if dead else f"no heartbeat for {now - (record.heartbeat_at or now):.0f}s"
            lost.append(Lost(record, dead, f"worker {record.worker}: {why}"))
    return lost


def gone_notes(
    history: Sequence[TrialRecord],
    *,
    study: str,
    grace: float,
    retries: int,
    now: float,
    trials: int | None = None,
    waiting: Callable[[Lost], int | None] = lambda lost: None,
) -> dict[int, str]:
    """What a reader that runs no trial (``tunesmith status``, ``trials``, the dashboard) says of each
    RUNNING trial whose worker is gone, by trial number. Storage keeps such a trial RUNNING until a
    worker of the study reaps it, so a reader that showed the state alone would report a dead run as
    alive.

    A gone trial spends no budget once reaped, so ``tunesmith retry`` needs a trial of the budget to run it again:
    ``trials``, the study's trial budget (``None``: none, or not known), says whether one is left, and the note asks
    for ``tunesmith extend`` first when none is (`_rerun_hint`). ``study`` is the study as those commands take it:
    its name and storage (`_search_progress.command_arguments`). ``waiting`` names the step a gone trial will wait
    PAUSED at, to resume from its checkpoint there, rather than end FAILED (`waits_again` of the study)."""
    found = find_lost(history, worker=worker_id(), own=(), now=now, grace=grace)
    gone = {lost.record.number: lost for lost in found}
    # What the budget counts once the gone trials are reaped: they stop counting.
    spent = count_budgeted(r for r in history if r.number not in gone)
    others_run = any(r.state is TrialState.RUNNING and r.number not in gone for r in history)
    notes: dict[int, str] = {}
    for lost in found:
        step = waiting(lost)
        if step is not None:
            notes[lost.record.number] = (
                f"its worker is gone ({lost.detail}); the next worker of this study (tunesmith run or worker) "
                f"records it PAUSED again, at its rung, to be promoted anew and go on from its checkpoint at step "
                f"{step}"
            )
            continue
        if int(lost.record.attrs.get("retries", 0)) < retries:  # a retry is handed out before any new trial
            rerun = "and runs it again (retries)"
        else:
            hint = _rerun_hint(
                history, found, lost.kind, study=study, spent=spent, trials=trials, others_run=others_run
            )
            rerun = f"and does not run it again (retries={retries}; {hint})"
        notes[lost.record.number] = (
            f"its worker is gone ({lost.detail}); the next worker of this study (tunesmith run or worker) "
            f"records it FAILED ({lost.reason}), outside the trial budget, {rerun}"
        )
    return notes


def _budget_left(spent: int, trials: int) -> str:
    left = max(0, trials - spent)
    return "it is spent" if left == 0 else f"{left} of its {trials} trials {'is' if left == 1 else 'are'} left"


def _rerun_hint(
    history: Sequence[TrialRecord],
    found: Sequence[Lost],
    kind: TrialKind,
    *,
    study: str,
    spent: int,
    trials: int | None,
    others_run: bool,
) -> str:
    """The command that re-queues the gone trials of ``kind``, as `Study.retry_failed` will accept it: it refuses
    retries the trial budget has no room for (none of them counts towards it), so when the budget left cannot take
    every trial ``tunesmith retry --kind`` re-queues (those of that kind already reaped too), ``tunesmith extend``
    comes first; while other trials run, their workers spend what is left."""
    retry = f"tunesmith retry {study} --kind {kind.value}"
    if trials is None:
        return f"{retry} re-queues it"
    gone = {lost.record.number for lost in found}
    needed = len(owed_retry([r for r in history if r.number not in gone], [kind])) + sum(
        1 for lost in found if lost.kind is kind
    )
    if spent + needed > trials:
        return (
            f"the trial budget has no room for a retry ({_budget_left(spent, trials)}, and retrying {needed} "
            f"{kind.value} trial{'s' * (needed != 1)} takes {needed}): tunesmith extend {study} --trials "
            f"{spent + needed}, then {retry}"
        )
    if others_run:
        return (
            f"{retry} re-queues it while the trial budget has room ({_budget_left(spent, trials)}, which the running "
            f"workers go on spending); once they have spent it, raise it first: tunesmith extend {study} --trials "
            f"{trials + needed}, then {retry}"
        )
    return f"{retry} re-queues it ({_budget_left(spent, trials)})"


# What `requeued` looks for at every new trial, found through the storage's index (`matching`), not a pass over
# every trial: retries, and the FAILED trials one may be owed to (re-queued, or interrupted).
_RETRY = Facet("a retry", lambda record: "retry_of" in record.attrs)
_RESUMPTION = Facet("a PBT resumption", lambda record: RESUMES in record.attrs)
_MAY_BE_OWED = Facet(
    "failed, re-queued or interrupted",
    lambda record: (
        record.state is TrialState.FAILED
        and (bool(record.attrs.get(RETRY_REQUESTED)) or (record.kind is not None and record.kind.is_interruption))
    ),
)


def requeued(history: Sequence[TrialRecord], retries: int) -> Proposal | None:
    """The oldest FAILED trial still owed a retry, proposed again (same parameters and seed).

    A trial is owed one when it was lost with its worker and has had fewer than ``retries``, or
    when `Study.retry_failed` marked it (``attrs["retry_requested"]``, whatever ``retries``); either
    way only while no trial is its ``retry_of`` yet. Runs inside `Storage.create_trial`, under the
    study lock, so exactly one worker picks up each; the SQL storage also refuses a second
    ``retry_of`` the same trial.

    A retry trains from scratch: it keeps none of the attributes that tied the failed trial to steps it did
    not train itself (`FROM_SCRATCH`). A PBT continuation was to start at its donor's step, from the checkpoint
    its donor held then; the donor has trained on (or ended) since, and only its current checkpoint is kept,
    so its retry runs its configuration from step 0 rather than load later weights under the old start step
    (which recorded a 22-step training as 12 steps). It is no continuation: it keeps none of one's attributes
    (`CONTINUATION`: a retry that said it was PBT's, had explored from a donor and replaced a member read as
    one), and ``attrs["retried_from_scratch"]`` says which continuation it runs from scratch.

    A lost trial that PBT resumed from its checkpoint (`schedulers.pbt.PBT.resumption`) had its rerun: it is owed no
    retry, though one `Study.retry_failed` asked for still runs.
    """
    retried = {r.attrs.get("retry_of") for r in matching(history, _RETRY)}
    resumed = {r.attrs.get(RESUMES) for r in matching(history, _RESUMPTION)}
    for record in matching(history, _MAY_BE_OWED):
        if record.number in retried:
            continue
        count = int(record.attrs.get("retries", 0))
        attrs = _from_scratch(record)
        if record.attrs.get(RETRY_REQUESTED):  # re-queued after a fix: not a lost worker's retry
            return Proposal(params=dict(record.params), seed=record.seed, attrs={**attrs, "retry_of": record.number})
        if record.kind is not None and record.kind.is_interruption and count < retries and record.number not in resumed:
            attrs = {**attrs, "retry_of": record.number, "retries": count + 1}
            return Proposal(params=dict(record.params), seed=record.seed, attrs=attrs)
    return None


def _from_scratch(record: TrialRecord) -> dict[str, Any]:
    """The attributes of ``record``'s retry, which trains from step 0 (see `requeued`)."""
    parent = record.attrs.get("parent")
    if not isinstance(parent, int) or isinstance(parent, bool):
        return {k: v for k, v in record.attrs.items() if k not in FROM_SCRATCH}
    attrs = {k: v for k, v in record.attrs.items() if k not in FROM_SCRATCH | CONTINUATION}
    attrs[RETRIED_FROM_SCRATCH] = {"parent": parent, "start_step": int(record.attrs.get("start_step", 0))}
    return attrs


def _waited_for(storage: Storage) -> str:
    """What a study does with results a PostgreSQL server that cannot be reached does not take (`Connections`)."""
    from tunesmith.storage.sql import SQLStorage  # imported on first use: keeps `import tunesmith` light

    seconds = f"{storage.reconnect_for:g} s" if isinstance(storage, SQLStorage) else "the storage URL's reconnect_for"
    return (
        f"the trials go on, and this worker keeps their results and tries the storage again for up to {seconds} from "
        "its first failure; after that it stops, naming each result it could not store"
    )


def _beat_while_alive(study_ref: weakref.ReferenceType[Study], interval: float) -> None:
    """Body of a study's heartbeat thread: beat its running trials until the study is gone.

    A storage failure must not end the beating (the storage may come back before the trials end), but it is
    said at once, on the ``tunesmith`` logger (stderr when logging is not set up), and once per outage: the
    study loop itself hears of it only when a trial ends and its result cannot be written.
    """
    from tunesmith.storage._engine import without_waiting  # imported on first use: keeps `import tunesmith` light

    failing = False
    while True:
        time.sleep(interval)
        study = study_ref()
        if study is None:
            return
        try:
            with without_waiting():  # a beat comes again; waiting would only delay saying the storage fails
                study.heartbeat()
        except (StorageUnavailable, StorageLost) as exc:
            if not failing:
                _log.warning(
                    "tunesmith: cannot record that the running trials of study %r are alive: %s; %s",
                    study.name,
                    exc,
                    _waited_for(study.storage)
                    if isinstance(exc, ServerGone)
                    else "the trials go on, and their results are stored if the storage is back when they end",
                )
            failing = True
        except Exception:  # noqa: BLE001 - a closed storage, a hiccup: the next beat tries again
            pass
        else:
            if failing:
                _log.warning("tunesmith: study %r's storage answers again", study.name)
            failing = False
        del study


def start_heartbeat(study: Study, interval: float) -> threading.Thread:
    """Start a daemon thread beating ``study``'s untold trials every ``interval`` s; it holds the
    study weakly and ends with it."""
    thread = threading.Thread(
        target=_beat_while_alive,
        args=(weakref.ref(study), interval),
        name=f"tunesmith-heartbeat-{study.name}",
        daemon=True,
    )
    thread.start()
    return thread


def _result_text(result: Any) -> str:
    """What an objective returned, in full precision, for a message that must not lose it."""
    if isinstance(result, Mapping):
        return ", ".join(f"{key}={_result_text(value)}" for key, value in result.items()) or "no metrics"
    if isinstance(result, Real) and not isinstance(result, bool):
        try:
            return repr(float(result))
        except OverflowError:  # an int beyond a float's range: its digits, cut
            text = repr(result)
            return text if len(text) <= 200 else f"{text[:200]}..."
    text = repr(result)
    return text if len(text) <= 200 else f"{text[:200]}..."


def outcome_text(number: int, result: Any, failure: str | None = None) -> str:
    """A finished trial's outcome for a message that must not lose it: ``trial #3's result (loss=0.25)``, or
    ``trial #3's failure (exception: ValueError)`` (``failure``: the reason it failed)."""
    what = f"failure ({failure})" if failure is not None else f"result ({_result_text(result)})"
    return f"trial #{number}'s {what}"


def _trial_numbers(numbers: Iterable[int]) -> str:
    listed = sorted(numbers)
    return ("trial " if len(listed) == 1 else "trials ") + ", ".join(f"#{n}" for n in listed)


# The attribute of the exception that stopped `Study.optimize` holding its `Stopped` (`stopped_by`).
_STOPPED = "tunesmith_stopped"


@dataclass(frozen=True)
class Stopped:
    """What `Study.optimize` left in storage when Ctrl-C, SIGTERM, a storage failure or an error stopped it while
    trials ran: read it from the exception with `stopped_by`. Each trial the loop had started is in one of these.

    Attributes:
        reason: the reason trials cut short are recorded with (``interrupted``, ``storage failure``).
        stored: trials that had finished, whose outcome was stored as the loop stopped.
        interrupted: trials recorded FAILED with ``reason``, of kind INTERRUPTED (outside the trial budget): those
            cut short, and those whose outcome could not be stored (the value is then in the recorded error).
        running: trials storage still shows RUNNING, since it did not answer: the next worker of the study records
            them FAILED (interrupted, or lost worker once their heartbeat is older than the grace), outside the
            trial budget.
        unstored: the finished trials whose outcome storage does not hold, each with it (`outcome_text`).
    """

    reason: str
    stored: tuple[int, ...] = ()
    interrupted: tuple[int, ...] = ()
    running: tuple[int, ...] = ()
    unstored: tuple[tuple[int, str], ...] = ()

    @property
    def all_recorded(self) -> bool:
        """Whether storage holds every trial the loop ran as it ended: stored, or recorded cut short."""
        return not self.running and not self.unstored

    def describe(self, *, named: int | None = None) -> str:
        """What was recorded, in clauses for a message (``trial #4 is recorded FAILED (interrupted), outside the
        trial budget``); ``named``: a trial whose outcome the message has named already."""
        parts: list[str] = []
        if self.stored:
            parts.append(f"{_trial_numbers(self.stored)} that had finished {self._are(self.stored)} stored")
        if self.interrupted:
            parts.append(
                f"{_trial_numbers(self.interrupted)} {self._are(self.interrupted)} recorded FAILED ({self.reason}), "
                "outside the trial budget"
            )
        if self.running:
            them = "it" if len(self.running) == 1 else "them"
            parts.append(
                f"storage did not answer, so {_trial_numbers(self.running)} {self._are(self.running)} still recorded "
                f"running there: the next worker of the study records {them} FAILED (interrupted, or lost worker "
                "once the study's grace has passed), outside the trial budget"
            )
        unstored = [text for number, text in self.unstored if number != named]
        if unstored:
            either = " either" if named is not None else ""
            parts.append(f"not stored{either}: {', '.join(unstored)}")
        return "; ".join(parts) or "no trial was running"

    @staticmethod
    def _are(numbers: tuple[int, ...]) -> str:
        return "is" if len(numbers) == 1 else "are"

    def attach(self, exc: BaseException) -> None:
        """Keep this on ``exc``, for `stopped_by`."""
        setattr(exc, _STOPPED, self)


def stopped_by(exc: BaseException) -> Stopped | None:
    """What `Study.optimize` recorded as ``exc`` stopped it (`Stopped`); ``None`` when ``exc`` did not come out of
    its loop (no trial of it was running), e.g. Ctrl-C while a study opened.

    The CLI says from it what an interrupted command kept: ``stopped_by(exc).describe()``.
    """
    stopped = getattr(exc, _STOPPED, None)
    return stopped if isinstance(stopped, Stopped) else None


@contextmanager
def naming_the_result(number: int, result: Any, failure: str | None = None) -> Iterator[None]:
    """Within the block, which records trial ``number``'s outcome, a storage failure (`StorageUnavailable`,
    `StorageLost`) is raised again with the trial and what it returned (``result``; ``failure``: the reason
    it failed instead) in its message, so that a value the objective computed is never lost in silence.

    A COMMIT cut off with its outcome unknown (`CommitUnknown`) says the result may not have been stored, since
    its message goes on to say that storage may hold it."""
    try:
        yield
    except (StorageUnavailable, StorageLost) as exc:
        outcome = "may not have been stored" if isinstance(exc, CommitUnknown) else "could not be stored"
        raise type(exc)(f"{outcome_text(number, result, failure)} {outcome}: {exc}") from exc


def cut_short_by(exc: BaseException) -> tuple[str, str]:
    """The reason and error a trial that the study loop cut short because of ``exc`` is recorded with."""
    if isinstance(exc, StorageError):
        return "storage failure", f"the study stopped: its storage failed ({exc})"
    return "interrupted", "the study loop was interrupted"


def waits_again(study: Study, lost: Lost) -> int | None:
    """The step at which ``lost`` waits PAUSED at its rung again, to be promoted anew from its checkpoint there,
    instead of ending FAILED; ``None`` when it ends FAILED.

    A pausing scheduler (ASHA or Hyperband in promote mode, `SuccessiveHalving`) resumed the trial from a rung (it
    waited paused before: `TrialRecord.paused`) and its process died on this host while it trained on. Its rung
    readings stand, and its folder holds a whole checkpoint saved at its last reported step, so nothing it trained
    is lost: ended FAILED, it dropped out of every rung, its checkpoint was pruned, and the configuration the rungs
    had promoted (often the best so far) never trained to the end. A trial that never paused has no rung reading
    to wait on (the sampler, or ``retries``, runs its place, as for any lost trial); one whose checkpoint is older
    than its last report could not go on from it (`Checkpoints.behind`); and one whose worker is only silent (no
    heartbeat for ``grace`` seconds, or on another host) may still be alive and end it itself: each ends FAILED."""
    record = lost.record
    step = int(record.resource)
    if not (lost.dead and study.scheduler.pauses and record.paused and step > 0):
        return None
    return step if study._checkpoints.holds_step(record.number, step) else None


def _waiting_reason(lost: Lost, step: int) -> str:
    return (
        f"paused again at step {step}: its worker died while it trained on after a promotion ({lost.detail}); it "
        f"waits at its rung to be promoted again, and goes on from its checkpoint at step {step}"
    )


def reap(study: Study, history: Sequence[TrialRecord]) -> list[int]:
    """Record ``study``'s lost trials in ``history`` FAILED (see `Study.reap_lost_trials`), each `CHECKPOINTED` when
    its folder holds files (PBT resumes it from them, and a resumption that finds them gone must say so), or PAUSED
    at its rung again where it can go on from its checkpoint (`waits_again`), then tell the running `optimize`'s
    observers (a tracker showed them running)."""
    now = study._clock()
    reaped: list[int] = []
    for lost in find_lost(history, worker=study._worker, own=study._running, now=now, grace=study.grace):
        step = waits_again(study, lost)
        if step is not None:
            why = _waiting_reason(lost, step)
            if study.storage.pause_lost_trial(study._info.id, lost.record.number, worker=lost.record.worker or "",
                                              reason=why):  # fmt: skip
                reaped.append(lost.record.number)
            continue
        if study.storage.finish_trial(
            study._info.id,
            lost.record.number,
            TrialState.FAILED,
            metrics=lost.record.metrics,
            reason=lost.reason,
            error=lost.detail,
            now=now,
            kind=lost.kind,
        ):
            reaped.append(lost.record.number)
            if study._checkpoints.holds_files(lost.record.number):
                study.storage.update_trial(study._info.id, lost.record.number, attrs={CHECKPOINTED: True})
    trials_ended(study, reaped)
    return reaped


def settle(study: Study, *, poll: float | None, timeout: float | None) -> list[int]:
    """Wait while other workers' trials run, reaping lost ones (see `Study.settle`)."""
    interval = poll if poll is not None else min(1.0, study.heartbeat_interval)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        history = study.trials
        if not any(r.state is TrialState.RUNNING and r.number not in study._running for r in history):
            return []
        reaped = reap(study, history)
        if reaped:
            return reaped
        if deadline is not None and time.monotonic() >= deadline:
            return []
        time.sleep(interval)
