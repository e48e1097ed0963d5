"""The scheduler protocol: after each report, decide whether a trial continues, stops or pauses."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from tunesmith._validate import checked_arguments
from tunesmith.context import SearchContext
from tunesmith.decision import Decision
from tunesmith.schedulers._deck import Deck
from tunesmith.space import Space
from tunesmith.trial import TrialKind, TrialRecord, TrialState

__all__ = [
    "NOTHING_LEFT_TO_TRAIN",
    "Continuation",
    "Decision",
    "FinishLine",
    "Promotion",
    "Scheduler",
    "known_length",
    "training_end",
]

# The reason a PBT continuation that trained no step of its own is recorded with (`study._outcome`): its donor had
# reported its last step, and that step is where training ends (`training_end`).
NOTHING_LEFT_TO_TRAIN = "nothing left to train"


def training_end(record: TrialRecord) -> float | None:
    """The step ``record`` shows training ends at, if it shows one: a COMPLETE trial's resource (with reports, not
    invalidated), or the start step of a continuation recorded as having had nothing left to train (its donor had
    reported its last step there); ``None`` for any other trial."""
    if record.state is TrialState.COMPLETE and record.resource > 0 and record.invalidated is None:
        return record.resource
    start = record.attrs.get("start_step")
    if record.state is TrialState.STOPPED and (record.reason or "").startswith(NOTHING_LEFT_TO_TRAIN):
        return float(start) if isinstance(start, int | float) and start > 0 else None
    return None


def known_length(history: Sequence[TrialRecord]) -> float:
    """The step training is known to end at (all trials train alike): the furthest `training_end` in ``history``;
    infinite before any trial shows one.

    A trial that has reported its last step stays RUNNING until its objective returns (a final evaluation, say), and
    nothing tells it from one in mid-step: a continuation of it from that step would train nothing. Before a trial
    finished, though, nothing says where training ends, and a trial furthest on is most often a leader in
    mid-training: PBT continues it, and a continuation that then trains nothing is recorded as such (`study._outcome`),
    which makes its step known here."""
    return max((end for r in history if (end := training_end(r)) is not None), default=math.inf)


@dataclass(frozen=True)
class Promotion:
    """What a pausing scheduler wants done with PAUSED trials.

    Attributes:
        resume: the PAUSED trial to run on next (``None``: start a new trial instead).
        retire: PAUSED trials that can never be promoted; the study records them STOPPED.
        reason: why those are retired, for people.
        kind: why those are retired, for code: `TrialKind.SCHEDULER` (not good enough at a rung)
            or `TrialKind.BUDGET` (the trial budget ran out before they could be promoted).
    """

    resume: int | None = None
    retire: tuple[int, ...] = ()
    reason: str = "not promoted"
    kind: TrialKind = TrialKind.SCHEDULER


@dataclass(frozen=True)
class Continuation:
    """A new trial that continues another trial's training (PBT's exploit and explore).

    The study copies the checkpoint directory of ``parent`` into the new trial's before it
    starts, and the new trial's steps begin at ``start_step``.
    """

    params: dict[str, Any]
    parent: int
    start_step: int
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FinishLine:
    """`Scheduler.finish_line`: from resource ``past`` on, a trial trains to ``end`` unless it diverges."""

    past: float
    end: float


class Scheduler(ABC):
    """Decides the fate of a running trial from the history alone.

    Subclasses implement `decide`, which must:

    * return a `Decision` (never a string);
    * depend only on its arguments and the constructor settings, so one worker or many, and
      a study resumed from storage, reach the same decisions;
    * treat ``trial`` (whose latest report is already in ``trial.intermediate``) and
      ``history`` (every trial of the study, ``trial`` included) as read-only.

    Every subclass's constructor answers a misspelt argument with the closest name it takes
    (`tunesmith._validate.checked_arguments`).
    """

    name: str = "scheduler"

    #: Whether `decide` may return PAUSE (the study then asks `promote` before starting trials).
    pauses: bool = False
    #: Whether `decide` looks at other trials; when not, the study passes only the trial itself.
    reads_history: bool = True
    #: Whether `resumption` may continue a trial lost while it trained (the study then keeps such a trial's
    #: checkpoint until it is resumed; otherwise a lost trial's checkpoint is pruned as any finished one's).
    resumes_lost: bool = False
    #: The flags above: what the study reads off a scheduler besides its methods (a scheduler
    #: that delegates to another, as `AutoScheduler` does, copies each of them).
    FLAGS: ClassVar[tuple[str, ...]] = ("pauses", "reads_history", "resumes_lost")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        checked_arguments()(cls)

    @abstractmethod
    def decide(self, trial: TrialRecord, history: Sequence[TrialRecord], context: SearchContext) -> Decision:
        """The decision for ``trial`` after its latest report."""

    def explain(self, trial: TrialRecord, history: Sequence[TrialRecord], context: SearchContext) -> str | None:
        """Why `decide` did not answer CONTINUE for ``trial``, for people (the study puts it in the stop reason);
        ``None`` by default. Called with `decide`'s arguments, only after it stopped or paused the trial."""
        return None

    def promote(self, history: Sequence[TrialRecord], context: SearchContext, *, final: bool) -> Promotion:
        """Which PAUSED trial to resume, and which to retire (pausing schedulers only).

        ``final`` is true once no new trial may start (the trial budget is spent): promote what
        deserves it and retire the rest, so the study can end.
        """
        return Promotion()

    def propose(
        self, space: Space, history: Sequence[TrialRecord], rng: np.random.Generator, context: SearchContext
    ) -> Continuation | None:
        """A continuation to start instead of asking the sampler (PBT); ``None`` by default."""
        return None

    def resumption(self, history: Sequence[TrialRecord]) -> Continuation | None:
        """A continuation of a trial lost while it trained, from its own checkpoint, which the study starts before
        a retry, a queued configuration or `propose` (PBT: its population keeps its training through a crash);
        ``None`` by default."""
        return None

    def rungs(self) -> tuple[float, ...]:
        """Resource levels at which trials are compared (samplers may fit on the highest one)."""
        return ()

    def predicts_final(self) -> bool:
        """Whether the rungs rank trials by their predicted final value once the trials trained to the end predict
        it (`ASHA`'s ``predict_final``): samplers then see stopped trials at that prediction
        (`SearchContext.predicted_finals`). False by default."""
        return False

    def full_resource_share(self) -> float | None:
        """The share of new configurations expected to train to the full resource (1.0 when none is
        stopped early by design; ``None`` when it depends on the results, as for median stopping)."""
        return None

    def deck(self) -> Deck | None:
        """The rungs and brackets trials are dealt to, for estimating how many a budget trains fully
        (`tunesmith.schedulers._deck.simulate`); ``None`` (the default) when the scheduler has none to play."""
        return None

    def finish_line(self, number: int) -> FinishLine | None:
        """Where trial ``number`` is past this scheduler's last say: once it has trained to ``past`` it is stopped no
        more and trains on to ``end`` (save divergence and the budget), the only trials that can end trained fully.
        A resource budget keeps what such a trial still needs (`spent_beyond_trials`). ``None`` (the default) when
        the scheduler cannot say: no rungs, or trials that pause and wait for a promotion."""
        return None

    def first_decision(self) -> tuple[float, str] | None:
        """The earliest step at which the scheduler may stop a trial, and the setting that puts it there
        (``None``: at its first rung, or never)."""
        return None

    def min_concurrent(self) -> int:
        """Trials that must train at the same time for the scheduler to act at all (PBT compares the members
        training now); 1 for a scheduler that compares a trial with finished ones too."""
        return 1

    def describe(self) -> dict[str, Any]:
        """The scheduler's name and settings, recorded with the study."""
        return {"name": self.name}
