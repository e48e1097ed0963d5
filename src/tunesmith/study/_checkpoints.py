"""Where trials keep checkpoint files, and pruning those nobody can use any more."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from tunesmith.objective import Metric
from tunesmith.trial import TrialRecord, TrialState

__all__ = ["CheckpointStore", "default_checkpoint_root"]


def default_checkpoint_root(study_name: str) -> Path:
    """``tunesmith-checkpoints/<name>``, the name reduced to characters safe in a folder name."""
    return Path("tunesmith-checkpoints") / "".join(c if c.isalnum() or c in "-_." else "_" for c in study_name)


class CheckpointStore:
    """A study's checkpoint folders: ``root/trial-NNNNNN``, one per trial.

    Args:
        root: the study's checkpoint folder.
        keep: how many of the best finished trials keep their checkpoints.
    """

    def __init__(self, root: Path, keep: int) -> None:
        self.root = root
        self.keep = keep

    def trial_dir(self, number: int) -> Path:
        """Where trial ``number`` keeps its checkpoint files."""
        return self.root / f"trial-{number:06d}"

    def copy(self, source: int, target: int) -> None:
        """Give a continuation its parent's checkpoint files (PBT's exploit)."""
        origin = self.trial_dir(source)
        if origin.is_dir():
            shutil.copytree(origin, self.trial_dir(target), dirs_exist_ok=True)

    def remove(self, number: int) -> None:
        shutil.rmtree(self.trial_dir(number), ignore_errors=True)

    def prune(self, history: Sequence[TrialRecord], metric: Metric) -> None:
        """Delete checkpoints nobody can use: finished trials other than the best ``keep``."""
        if not self.root.is_dir():
            return
        ranked = sorted(
            (r for r in history if r.state is TrialState.COMPLETE and r.value(metric.name) is not None),
            key=lambda r: metric.sign() * (r.value(metric.name) or 0.0),
        )
        kept = {r.number for r in ranked[: self.keep]}
        for record in history:
            if record.state.is_finished and record.number not in kept:
                path = self.trial_dir(record.number)
                if path.exists():
                    shutil.rmtree(path, ignore_errors=True)
