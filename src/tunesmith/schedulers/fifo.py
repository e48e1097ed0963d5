"""FIFO: every trial runs to the end it chooses; the scheduler to use without an early signal."""

from __future__ import annotations

from collections.abc import Sequence

from tunesmith.context import SearchContext
from tunesmith.decision import Decision
from tunesmith.schedulers.base import Scheduler
from tunesmith.trial import TrialRecord

__all__ = ["FIFO"]


class FIFO(Scheduler):
    """Never stops a trial early."""

    name = "fifo"
    reads_history = False

    def decide(self, trial: TrialRecord, history: Sequence[TrialRecord], context: SearchContext) -> Decision:
        return Decision.CONTINUE

    def full_resource_share(self) -> float:
        return 1.0
