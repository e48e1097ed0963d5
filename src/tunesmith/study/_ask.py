"""What `Study.ask` hands out: a promoted PAUSED trial, a lost trial's retry, or a new proposal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from tunesmith._checkpoint_file import saved_step
from tunesmith.environment import TRIAL_KEY, record_environment
from tunesmith.errors import SearchSpaceExhausted, SpaceError
from tunesmith.schedulers.base import Continuation, Promotion, known_length
from tunesmith.schedulers.successive_halving import RungPromotion
from tunesmith.storage import Proposal
from tunesmith.storage.base import Proposer, count_budgeted
from tunesmith.study._checkpoints import START_STEP_UNSURE
from tunesmith.study._known import NOTHING_KNOWN, Known, queued_proposal, read_known, valid
from tunesmith.study._observers import trials_ended
from tunesmith.study._recovery import requeued
from tunesmith.study._spec import check_space_current
from tunesmith.trial import Trial, TrialKind, TrialRecord, TrialState

if TYPE_CHECKING:
    from tunesmith.study._study import Study

__all__ = ["full_length", "hand_over_checkpoint", "propose", "proposer", "resume_paused", "retire_paused", "trial_seed"]


def trial_seed(study_seed: int, number: int) -> int:
    """The seed of trial ``number``: a deterministic 32-bit function of the study seed and number."""
    return int(np.random.SeedSequence([study_seed, number]).generate_state(1)[0])


def resume_paused(study: Study, history: Sequence[TrialRecord]) -> Trial | None:
    """Run on a PAUSED trial the scheduler promotes; retire those it never will (each for its own reason where the
    scheduler gives one: `_outranked`)."""
    final = study.budget.trials is not None and count_budgeted(history) >= study.budget.trials
    promotion = study.scheduler.promote(valid(history), study.context, final=final)
    retired = set(promotion.retire)
    ended = [r for r in history if r.number in retired]
    _end_paused(study, ended, promotion.reason, promotion.kind, _outranked(promotion))
    if promotion.resume is None:
        return None
    record = study.storage.resume_trial(
        study._info.id,
        lambda fresh: study.scheduler.promote(valid(fresh), study.context, final=final).resume,
        worker=study._worker,
        now=study._clock(),
    )
    return None if record is None else study._handle(record)


def retire_paused(study: Study, history: Sequence[TrialRecord], reason: str) -> None:
    """End every PAUSED trial as STOPPED where it paused: the wall-time or resource budget is spent, so no promotion
    can train it further (left PAUSED, it waited for ever, and a study none of whose trials finished had no best).

    One that the scheduler's final promotions would have left behind, since its rung ranks it outside the top share
    as the rung stands (`_outranked`), ends kind SCHEDULER with the scheduler's reason: the budget cut short no
    promotion of it. The others, which had their promotion to come, end kind BUDGET for ``reason``.
    """
    paused = [r for r in history if r.state is TrialState.PAUSED]
    if not paused:
        return
    outranked = _outranked(study.scheduler.promote(valid(history), study.context, final=True))
    _end_paused(study, paused, reason, TrialKind.BUDGET, outranked)


def _outranked(promotion: Promotion) -> Mapping[int, str]:
    """The PAUSED trials ``promotion`` says their rung ranks outside the top share, each with why (a rung scheduler's
    final `RungPromotion`); none for another scheduler's."""
    return promotion.outranked if isinstance(promotion, RungPromotion) else {}


def _end_paused(study: Study, records: Sequence[TrialRecord], reason: str | None, kind: TrialKind | None,
                outranked: Mapping[int, str]) -> None:  # fmt: skip
    """End the PAUSED ones of ``records`` as STOPPED where they paused (their last heartbeat: the wait for a
    promotion that never came was no running), their checkpoints removed, then tell the running `optimize`'s
    observers (a tracker showed them paused). Those in ``outranked`` end kind SCHEDULER for the reason given there,
    the others of ``kind`` for ``reason``."""
    ended: list[int] = []
    for record in records:
        if record.state is TrialState.PAUSED:
            at = record.heartbeat_at if record.heartbeat_at is not None else study._clock()
            why, cause = (
                (outranked[record.number], TrialKind.SCHEDULER) if record.number in outranked else (reason, kind)
            )
            if study.storage.finish_trial(
                study._info.id, record.number, TrialState.STOPPED, metrics=record.metrics, reason=why,
                error=None, now=at, kind=cause,
            ):  # fmt: skip
                ended.append(record.number)
                study._checkpoints.remove(record.number)  # only this finish's: one ended elsewhere kept what it kept
    trials_ended(study, ended)


def full_length(history: Sequence[TrialRecord]) -> float:
    """How far trials go (`schedulers.base.known_length`), ``inf`` before any trial shows it.

    A continuation that would start there has nothing left to train: its donor has reported its last step and
    is only still RUNNING until its objective returns. Handed out, it would run no step and return its donor's
    final metrics from the copied checkpoint; the sampler proposes instead, and the stopped trial it was to replace
    is replaced by a later continuation of a donor with steps left.
    """
    return known_length(history)


def hand_over_checkpoint(study: Study, record: TrialRecord, parent: int) -> TrialRecord:
    """Copy continuation ``record``'s checkpoint from its ``parent`` (PBT's exploit) and make its ``start_step`` the
    step the copied files were saved at, so that its curve and resource count on from the state it loads.

    The continuation recorded its parent's last report when it was created; the parent may have trained and saved
    on before the copy, or still be saving the step it reported. The copy is made outside the study lock (a
    checkpoint can be large) and the trial is handed out only once its start step agrees with it. Files the
    objective wrote itself carry no step: the recorded one stands, and ``attrs["start_step_unsure"]`` says that it
    may be short (a loop that saves each epoch before a slower evaluation reports it hands on files a step ahead
    of the parent's last report, and the continuation's curve and resource count then miss that step).
    """
    saved = study._checkpoints.copy(parent, record.number)
    if saved is None and study._checkpoints.holds_files(record.number):
        step = int(record.attrs.get("start_step", 0))
        note = (f"the checkpoint files copied from #{parent} carry no step (the objective wrote them itself), so "
                f"start_step {step} is its last report's: files saved after that report hold later steps, which "
                "then count nowhere; save through trial.save_checkpoint(state) inside trial.steps(...), which "
                "records the step a state holds, to hand on an exact step")  # fmt: skip
        study._storage.update_trial(study._info.id, record.number, attrs={START_STEP_UNSURE: note})
        return replace(record, attrs={**record.attrs, START_STEP_UNSURE: note})
    if saved is None or saved == int(record.attrs.get("start_step", 0)):
        return record
    study._storage.update_trial(study._info.id, record.number, attrs={"start_step": saved})
    return replace(record, attrs={**record.attrs, "start_step": saved})


def proposer(study: Study) -> Proposer:
    """`propose` for ``study``'s next trial, with its queue, warm start and learned space (the parameters
    trials asked for by name) read now, outside the lock, as is this process's environment (recorded with the
    study the first time it appears: `tunesmith.environment.record_environment`). The attributes are read once:
    with a warm start they hold every point, and each read parses them all. Before this object's first draw, the
    same read says whether another process has replaced the space since (`_spec.check_space_current`)."""
    info = study.info
    if not study._space_current:
        check_space_current(study._info, info.spec.get("space"), study.storage.url)
        study._space_current = True
    attrs = info.attrs
    study._defined.refresh(attrs)
    fingerprint = record_environment(study.storage, study._info.id, attrs)
    known = read_known(study, attrs)
    return lambda number, history: propose(study, number, history, known, fingerprint=fingerprint)


def propose(
    study: Study,
    number: int,
    history: Sequence[TrialRecord],
    known: Known = NOTHING_KNOWN,
    *,
    fingerprint: str | None = None,
) -> Proposal:
    """Trial ``number``'s parameters, seed and attributes; runs inside `Storage.create_trial`, under
    the study lock: PBT's continuation of a member lost while it trained (`_resumption`) first, then a lost
    trial's retry, then an enqueued configuration, then a scheduler's continuation (PBT) of a donor with steps
    left (`full_length`), else the sampler. Invalidated trials are hidden from both; the sampler also learns from
    the warm start's points (`tunesmith.study._known`).

    ``fingerprint`` (the environment this process runs, `tunesmith.environment`) goes into the attributes
    under ``"environment"``, a retry's too: it runs under this process's code, not its failed trial's."""
    proposal = _propose(study, number, history, known)
    if fingerprint is None:
        return proposal
    return replace(proposal, attrs={**proposal.attrs, TRIAL_KEY: fingerprint})


def _propose(study: Study, number: int, history: Sequence[TrialRecord], known: Known) -> Proposal:
    resumed = _resumption(study, history)
    if resumed is not None:
        return resumed
    retry = requeued(history, study.retries)
    if retry is not None:
        return retry
    rng = np.random.default_rng([study.seed, number])
    seed = trial_seed(study.seed, number)
    context = study.context
    queued = known.next_queued(history)
    if queued is not None:
        return queued_proposal(study, queued, known.for_samplers(history), rng, context, seed)
    continuation = study.scheduler.propose(study.space, valid(history), rng, context)
    if continuation is not None and _steps_left(study, continuation, full_length(history)):
        return _continued(study, continuation, seed)
    space = study.space
    if not space:  # no parameter at all before a define-by-run study's first trial asked for one
        return Proposal(params={}, seed=seed, attrs={"sampler": study.sampler.name})
    try:
        suggested = study.sampler.suggest(space, known.for_samplers(history), rng, context)
    except SearchSpaceExhausted as exc:
        learned = [name for name in space if study._defined.given is None or name not in study._defined.given]
        if not learned:
            raise
        raise SearchSpaceExhausted(f"{exc} ({_LEARNED_ONLY.format(', '.join(map(repr, learned)))})") from exc
    clause = space.forbids(suggested)
    if clause is not None:  # a sampler's bug, never a trial's: loud, before any trial runs it
        raise SpaceError(
            f"a sampler must never propose a configuration the space forbids, got {suggested!r} from sampler "
            f"{study.sampler.name!r}, which clause {clause} forbids: a sampler of your own must skip what "
            "Space.forbids names (tunesmith.samplers._tried.Tried does); for a built-in one, report it, and use "
            "sampler='random' meanwhile"
        )
    return Proposal(params=space.validate(suggested), seed=seed, attrs={"sampler": study.sampler.name})


# Why a define-by-run study's used-up space may not be the objective's, and the fix: a study learns a parameter only
# from a trial that asks for it, and none runs once the parameters it knows are used up.
_LEARNED_ONLY = (
    "the study learned {} from what its trials asked for, and a parameter the objective asks for only now is unknown "
    "to it until a trial asks: enqueue a configuration that gives it a value, study.enqueue({{..., 'new_parameter': "
    "value}}), and the trials go on over the grown space; a learned range keeps its first definition, so a wider one "
    "needs a new study"
)


def _resumption(study: Study, history: Sequence[TrialRecord]) -> Proposal | None:
    """The scheduler's continuation of a trial lost while it trained (PBT's of a member: `PBT.resumption`),
    under the member's seed. It comes before a retry, which would train the member from scratch and throw its steps
    away, and before any new member, so that after a crash the population goes on where it was."""
    shown = valid(history)
    continuation = study.scheduler.resumption(shown)
    if continuation is None:
        return None
    member = next(r for r in shown if r.number == continuation.parent)
    return _continued(study, continuation, member.seed)


def _steps_left(study: Study, continuation: Continuation, length: float) -> bool:
    """Whether ``continuation`` has steps left to train before ``length`` (`full_length`), counted from the step its
    donor's checkpoint holds when that is further on than the donor's last report: the copy starts there
    (`hand_over_checkpoint`). A loop that saves in `Trial.steps` before it reports stamps the step it trains, so
    a donor in its last iteration showed steps left by its reports while its checkpoint held the last step: the
    continuation trained nothing, was recorded STOPPED as such, became PBT's next member to replace, and was
    replaced from the same donor again, a chain of empty trials that took no time and ended the run ("the last 10
    trials ... spent 0"). The sampler proposes instead, and the member it was to replace waits for a donor with
    steps left."""
    held = saved_step(study._checkpoints.trial_dir(continuation.parent))
    start = max(continuation.start_step, held) if held is not None else continuation.start_step
    return start < length


def _continued(study: Study, continuation: Continuation, seed: int) -> Proposal:
    """The proposal of a scheduler's ``continuation``: its parent and start step recorded with its own attributes,
    the scheduler as its ``sampler``."""
    attrs = {
        **continuation.attrs,
        "sampler": study.scheduler.name,
        "parent": continuation.parent,
        "start_step": continuation.start_step,
    }
    return Proposal(params=study.space.validate(continuation.params), seed=seed, attrs=attrs)
