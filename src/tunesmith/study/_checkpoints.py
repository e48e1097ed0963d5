"""Where trials keep checkpoint files, and pruning those nobody can use any more."""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path

from tunesmith._text import safe_file_name
from tunesmith.objective import Metric
from tunesmith.trial import TrialRecord, TrialState

__all__ = ["CheckpointStore", "default_checkpoint_root"]


def default_checkpoint_root(study_name: str) -> Path:
    """``tunesmith-checkpoints/<name>``, the name made one safe folder name (see `safe_file_name`)."""
    return Path("tunesmith-checkpoints") / safe_file_name(study_name)


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
        """Delete trial ``number``'s checkpoint folder, if it is inside ``root`` (see `_delete`)."""
        self._delete(self.trial_dir(number))

    def prune(self, history: Sequence[TrialRecord], metric: Metric) -> None:
        """Delete checkpoints nobody can use: finished trials other than the best ``keep`` valid ones (an
        invalidated trial never holds one of the ``keep`` places, so its checkpoint goes at the next prune)."""
        if not self.root.is_dir():
            return
        ranked = sorted(
            (
                r
                for r in history
                if r.state is TrialState.COMPLETE and r.value(metric.name) is not None and r.invalidated is None
            ),
            key=lambda r: metric.sign() * (r.value(metric.name) or 0.0),
        )
        kept = {r.number for r in ranked[: self.keep]}
        for record in history:
            if record.state.is_finished and record.number not in kept:
                self._delete(self.trial_dir(record.number))

    def _delete(self, path: Path) -> None:
        """Delete ``path`` if it is a real folder strictly inside ``root``; refuse anything else, with a warning.

        Deleting is the one thing here that can destroy a user's files: a link (which could point at
        another trial's folder or anywhere else) or a path that resolves outside this study's root is
        never deleted.
        """
        if not path.exists() and not path.is_symlink():
            return
        root, target = self.root.resolve(), path.resolve()
        if path.is_symlink() or target == root or not target.is_relative_to(root):
            warnings.warn(
                f"not deleting checkpoint folder {path}: it is a link or resolves to {target}, not a folder "
                f"inside the study's checkpoint root {root}; delete it yourself if it is a checkpoint",
                RuntimeWarning,
                stacklevel=3,
            )
            return
        shutil.rmtree(target, ignore_errors=True)
