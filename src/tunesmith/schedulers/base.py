"""The scheduler protocol: after each report, decide whether a trial continues, stops or pauses."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from tunesmith.decision import Decision
from tunesmith.samplers.base import SearchContext
from tunesmith.trial import TrialRecord

__all__ = ["Decision", "Scheduler"]


class Scheduler(ABC):
    """Decides the fate of a running trial from the history alone.

    Subclasses implement `decide`, which must:

    * return a `Decision` (never a string);
    * depend only on its arguments and the constructor settings, so one worker or many, and
      a study resumed from storage, reach the same decisions;
    * treat ``trial`` (whose latest report is already in ``trial.intermediate``) and
      ``history`` (every trial of the study, ``trial`` included) as read-only.
    """

    name: str = "scheduler"

    @abstractmethod
    def decide(self, trial: TrialRecord, history: Sequence[TrialRecord], context: SearchContext) -> Decision:
        """The decision for ``trial`` after its latest report."""

    def describe(self) -> dict[str, Any]:
        """The scheduler's name and settings, recorded with the study."""
        return {"name": self.name}
