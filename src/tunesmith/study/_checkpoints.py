"""Where trials keep checkpoint files, and pruning those nobody can use any more."""

from __future__ import annotations

import logging
import os
import shutil
import uuid
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tunesmith._caller import outside_stacklevel
from tunesmith._checkpoint_file import saved_step, whole
from tunesmith._text import counted, safe_file_name
from tunesmith.attributes import CheckpointRootAttr, read_attr
from tunesmith.errors import TunesmithError
from tunesmith.objective import Metric
from tunesmith.pareto import loss_matrix, nondominated_order, nondominated_ranks
from tunesmith.schedulers.pbt import RESUMES
from tunesmith.trial import TrialRecord, TrialState

_log = logging.getLogger("tunesmith")

__all__ = [
    "CHECKPOINTED",
    "CheckpointMissing",
    "CheckpointStore",
    "CheckpointWarning",
    "START_STEP_UNSURE",
    "default_checkpoint_root",
    "own_checkpoint_root",
    "stored_checkpoint_root",
]


def default_checkpoint_root(study_name: str) -> Path:
    """``tunesmith-checkpoints/<name>``, the name made one safe folder name (see `safe_file_name`)."""
    return Path("tunesmith-checkpoints") / safe_file_name(study_name)


def own_checkpoint_root(default: Path) -> Path:
    """The folder a study created just now keeps its checkpoints in: ``default`` unless it already holds
    files, which then belong to another study of the same name (one in another database, or in a database
    deleted since) that this one must neither resume from nor prune; it then gets ``default`` with a short
    random suffix, which it records (`CheckpointRootAttr`) so that every later opener finds the same one."""
    if not default.is_dir() or not any(default.iterdir()):
        return default
    while True:
        own = default.with_name(f"{default.name}-{uuid.uuid4().hex[:8]}")
        if not own.exists():
            break
    _log.info(
        "%s holds another study's checkpoints (an earlier study of this name): this study keeps its own in %s",
        default,
        own,
    )
    return own


# A trial's attribute, set when it ended (or paused) with files in its checkpoint folder: a resumption
# (or a PBT continuation) that finds the folder empty has lost them.
CHECKPOINTED = "checkpointed"
# A PBT continuation's attribute when the files it got carry no step (`_ask.hand_over_checkpoint`): why its
# ``start_step`` may be short.
START_STEP_UNSURE = "start_step_unsure"
# How an objective keeps its training across a pause or a PBT continuation, as the errors that need it say.
_SAVE_AND_LOAD = ("Call trial.save_checkpoint(state) at each report (in each iteration of trial.steps(...)) and "
                  "trial.load_checkpoint() at start")


class CheckpointMissing(TunesmithError, RuntimeError):
    """A paused trial (or a PBT continuation) would resume where its checkpoint files are not. Usually a worker
    started where the study's checkpoint folder is not (another machine without a shared filesystem, or
    ``checkpoint_dir`` given otherwise), or the folder was deleted: a setup problem every resumption would meet,
    so the study records the trial FAILED and stops, rather than train it from nothing under its old steps.

    Also raised when a paused trial saved no checkpoint before its pause (promote mode with an objective that keeps
    none, or saves less often than it reports): resumed, it would train from nothing while its curve and resource
    claim the steps before the pause, and the study would rank, promote and pick it on training it never had."""


class CheckpointWarning(UserWarning):
    """A trial resumes or continues from a checkpoint that was never saved: a PBT continuation whose donor left no
    files trains from nothing under the steps it borrowed."""


def stored_checkpoint_root(attrs: Mapping[str, Any], fallback: Path) -> Path:
    """The checkpoint folder the study recorded when it was created, when this process can use it (it
    exists, or it can be created: the same machine or a shared filesystem); else ``fallback`` (this
    process's default), as on another machine, where the recorded folder's files are not to be found
    anyway. Studies created before the folder was recorded use ``fallback``."""
    stored = read_attr(attrs, CheckpointRootAttr)
    if stored is None:
        return fallback.absolute()
    root = Path(stored.path)
    existing = next((p for p in (root, *root.parents) if p.exists()), None)
    usable = existing is not None and existing.is_dir() and (existing == root or os.access(existing, os.W_OK | os.X_OK))
    return root if usable else fallback.absolute()


class CheckpointStore:
    """A study's checkpoint folders: ``root/trial-NNNNNN``, one per trial.

    Args:
        root: the study's checkpoint folder.
        keep: how many of the best finished trials keep their checkpoints.
    """

    def __init__(self, root: Path, keep: int) -> None:
        self.root = root
        self.keep = keep
        self._warned_no_donor = False  # `CheckpointWarning` for a PBT donor without files: once per study

    def trial_dir(self, number: int) -> Path:
        """Where trial ``number`` keeps its checkpoint files."""
        return self.root / f"trial-{number:06d}"

    def holds_files(self, number: int) -> bool:
        """Whether trial ``number``'s folder holds any file (a checkpoint to resume from)."""
        folder = self.trial_dir(number)
        return folder.is_dir() and any(p.is_file() for p in folder.rglob("*"))

    def holds_step(self, number: int, step: int) -> bool:
        """Whether trial ``number``'s folder holds a whole checkpoint saved at ``step`` (`Trial.save_checkpoint`
        stamps the step its state holds; files the objective wrote itself carry none, so they hold no known step)."""
        folder = self.trial_dir(number)
        return saved_step(folder) == step and whole(folder)

    def missing(
        self,
        record: TrialRecord,
        start: int,
        *,
        study: str,
        trial: Callable[[int], TrialRecord],
        history: Callable[[], Sequence[TrialRecord]],
        simulated: bool = False,
    ) -> str | None:
        """Why ``record`` cannot resume at ``start``, its checkpoint folder being empty: the files it (or its PBT
        parent, read with ``trial``) left are not here, or it paused having saved none (`never_saved`, which reads
        the study's trials with ``history``), or it is a PBT continuation and no trial of the study ever saved one
        (`_no_donor_ever_saved`). ``None`` for a PBT continuation whose donor alone held none (a
        `CheckpointWarning` instead, once per study, since it trains from nothing under its donor's steps), and
        with ``simulated`` (`executors.SimulatedExecutor`, whose curves compute each step from ``trial.step``, so
        a resumption loses nothing) for a paused trial."""
        source = record
        parent = record.attrs.get("parent")
        if not record.attrs.get(CHECKPOINTED) and isinstance(parent, int):
            source = trial(parent)
        if not source.attrs.get(CHECKPOINTED):
            if source is not record:
                if not simulated and not self._saved_by(history(), record.number):
                    return self._no_donor_ever_saved(record, source.number, start, study=study)
                self._warn_no_donor_checkpoint(record, source.number, start)
                return None
            return None if simulated else self.never_saved(record, start, study=study, history=history())
        whose = "it" if source is record else f"its parent trial {source.number}"
        return (
            f"trial {record.number} would resume at step {start}, but its checkpoint folder "
            f"{self.trial_dir(record.number)} holds none of the files {whose} left, so it would train from nothing "
            f"under its old steps: run every worker of study {study!r} where its checkpoints are (the same machine "
            "or a shared filesystem, or checkpoint_dir= naming that folder); the trial is recorded FAILED, and "
            "`tunesmith retry --kind exception` runs its configuration again from the start"
        )

    def never_saved(self, record: TrialRecord, start: int, *, study: str, history: Sequence[TrialRecord]) -> str:
        """Why ``record``, paused at ``start`` without a checkpoint (its folder never held a file), cannot resume.

        Resumed, the objective finds nothing to load and trains from a fresh model, while the trial's curve and
        resource claim the ``start`` steps before its pause: a trial promoted to the top rung is then recorded at
        the full resource, and may be the study's best, on a model trained only since its last resumption. Which
        fix the message leads with rests on the study's other trials: when none ever saved a checkpoint (no trial
        `CHECKPOINTED`, none unfinished holding files), the objective keeps none at all; when some did, this one
        paused before its first save (an objective that saves less often than it reports).
        """
        saved = self._saved_by(history, record.number)
        if saved:
            shown = ", ".join(f"#{n}" for n in saved[:5]) + (", ..." if len(saved) > 5 else "")
            evidence = (
                f"though trial{'s' if len(saved) != 1 else ''} {shown} saved one: the objective saves less often "
                "than it reports, or not on every path"
            )
        else:
            evidence = f"nor has any trial of study {study!r}: the objective keeps no checkpoint"
        return (
            f"promote mode continues a paused trial from its checkpoint, but trial #{record.number} paused at "
            f"resource {start} with no checkpoint saved (its folder {self.trial_dir(record.number)} holds no file, "
            f"{evidence}): resumed, it would train from scratch while its curve and resource claim the "
            f"{'step' if start == 1 else f'{start} steps'} before its pause. {_SAVE_AND_LOAD} (it returns that state "
            "when trial.resumed), or "
            'use mode="stop" (ASHA, Hyperband), which needs none. Study '
            f"{study!r} stops and the trial is recorded FAILED; once the objective checkpoints, "
            "`tunesmith retry --kind exception` runs its configuration again from the start"
        )

    def _saved_by(self, history: Sequence[TrialRecord], other_than: int) -> list[int]:
        """The trials of ``history`` but ``other_than`` that saved a checkpoint (`CHECKPOINTED`, or unfinished and
        holding files), in number order."""
        return sorted(
            r.number
            for r in history
            if r.number != other_than
            and (r.attrs.get(CHECKPOINTED) or (not r.state.is_finished and self.holds_files(r.number)))
        )

    def _no_donor_ever_saved(self, record: TrialRecord, donor: int, start: int, *, study: str) -> str:
        """Why PBT continuation ``record`` cannot start: its donor, like every trial of the study, saved no
        checkpoint. The objective keeps none, so every continuation would train from scratch under the steps it
        borrowed, its curve and results claiming training it never had: a systematic error, which stops the study
        (`CheckpointMissing`), where a donor that alone lacks files while others saved is a `CheckpointWarning`."""
        return (
            f"PBT continues trial #{donor}'s training in trial #{record.number} from step {start}, but no trial of "
            f"study {study!r} has saved a checkpoint (trial #{donor}'s folder {self.trial_dir(donor)} holds no file, "
            "nor does any other's): the objective keeps none, or saves less often than PBT's perturbation interval, "
            "so its continuations would train from scratch while their curves and results claim the steps they "
            f"borrowed. {_SAVE_AND_LOAD} (it returns the donor's state when trial.resumed), or use a scheduler that "
            f"needs none (ASHA, Hyperband). Study {study!r} stops and "
            "the trial is recorded FAILED"
        )

    def behind(self, record: TrialRecord, start: int, *, study: str) -> str | None:
        """Why ``record`` cannot resume at ``start``, its last reported step: its checkpoint was saved at an earlier
        step (`saved_step`), as by an objective that saves every second epoch and paused on an odd one; ``None``
        when the checkpoint holds ``start`` (or carries no step: files the objective wrote itself).

        Resuming at ``start`` would train on from the older state while the curve and the resource claim steps it
        never trained. Resuming at the checkpoint's step is no way out either: storage keeps one value per metric
        and step and refuses a report at a step it holds (`storage.base.refused_report`), so the steps after the
        checkpoint's, which the trial reported already and the rungs ranked it on, could not be reported again.
        """
        saved = saved_step(self.trial_dir(record.number))
        if saved is None or saved >= start:
            return None
        reported = f"step {start} is" if start == saved + 1 else f"steps {saved + 1}-{start} are"
        return (
            f"trial {record.number} would resume at step {start}, its last report, but its checkpoint in "
            f"{self.trial_dir(record.number)} was saved at step {saved}: it would train on from step {saved}'s state "
            f"while its curve and resource claim {counted(start - saved, 'step')} it never trained, and it cannot go "
            "back to "
            f"step {saved}, since {reported} reported already (the rungs ranked it on them). "
            f"Save the checkpoint at every step you report, after that step's training (trial.save_checkpoint(state) "
            f"in each iteration of trial.steps(...), before or after trial.report); a loop of your own that saves "
            f"before trial.report(step=n) passes the step its state holds, trial.save_checkpoint(state, step=n), "
            f"else the state is stamped with the step reported before it: study {study!r} stops, the trial "
            "is recorded FAILED, and `tunesmith retry --kind exception` runs its configuration again from the start"
        )

    def _warn_no_donor_checkpoint(self, record: TrialRecord, donor: int, start: int) -> None:
        if self._warned_no_donor:
            return
        self._warned_no_donor = True
        why = "PBT resumes it, lost with its worker" if record.attrs.get(RESUMES) == donor else "PBT's exploit"
        warnings.warn(
            f"trial {record.number} continues trial {donor}'s training from step {start} ({why}), but trial "
            f"{donor} saved no checkpoint (its folder {self.trial_dir(donor)} holds no file): PBT needs the "
            "objective to save its state (trial.save_checkpoint(...) or files in trial.checkpoint_dir) as it trains "
            "and to load it when trial.resumed (trial.load_checkpoint()); without them each continuation trains "
            "from scratch under borrowed steps. Shown once per study",
            CheckpointWarning,
            stacklevel=outside_stacklevel(),
        )

    def copy(self, source: int, target: int) -> int | None:
        """Give a continuation its parent's checkpoint files (PBT's exploit) and return the step they were saved at
        (`saved_step`; ``None`` for files the objective wrote itself, which carry no step). The parent may have
        trained on since the continuation was created: the step says where the files it got stand."""
        self._copy_files(source, target)
        return saved_step(self.trial_dir(target))

    def _copy_files(self, source: int, target: int) -> None:
        """Copy ``source``'s folder into ``target``'s. The parent may be saving while they are copied: a copy that
        missed a file the save replaced, or took the new state without its new arrays, is made again."""
        origin, copied = self.trial_dir(source), self.trial_dir(target)
        for attempt in range(3):
            if not origin.is_dir():
                return
            try:
                shutil.copytree(origin, copied, dirs_exist_ok=True)
            except shutil.Error:
                if attempt == 2:
                    raise
                continue
            if whole(copied) or not whole(origin):
                return

    def remove(self, number: int) -> None:
        """Delete trial ``number``'s checkpoint folder, if it is inside ``root`` (see `_delete`)."""
        self._delete(self.trial_dir(number))

    def prune(
        self,
        history: Sequence[TrialRecord],
        objectives: Sequence[Metric],
        chosen: int | None = None,
        *,
        resumes_lost: bool = False,
    ) -> None:
        """Delete checkpoints nobody can use: those of finished trials other than the ones `kept` names and the ones
        `awaiting_rerun` names.

        With ``resumes_lost`` (a scheduler that continues a trial lost while it trained: `Scheduler.resumes_lost`,
        PBT), a trial lost with its worker (FAILED, `TrialKind.is_interruption`: interrupted, lost worker) keeps its
        checkpoint until a trial reruns it: a resumption of it (`schedulers.pbt.PBT.resumption`), once that one holds
        its copy of the files, or a retry, which trains from scratch. Under any other scheduler nothing resumes such a
        trial (a retry trains from scratch), so its checkpoint goes as any finished trial's does.
        """
        if not self.root.is_dir():
            return
        kept = self.kept(history, objectives, chosen)
        if resumes_lost:
            kept |= self.awaiting_rerun(history)
        for record in history:
            if record.state.is_finished and record.number not in kept:
                self._delete(self.trial_dir(record.number))

    def awaiting_rerun(self, history: Sequence[TrialRecord]) -> set[int]:
        """The trials lost with their worker whose checkpoint a rerun may still need (see `prune`): no retry of them
        exists, and no trial that resumes them holds files yet (its copy may be under way, outside the study lock)."""
        retried = {r.attrs.get("retry_of") for r in history if "retry_of" in r.attrs}
        copied = {r.attrs.get(RESUMES) for r in history if RESUMES in r.attrs and self.holds_files(r.number)}
        return {
            r.number
            for r in history
            if r.state is TrialState.FAILED
            and r.kind is not None
            and r.kind.is_interruption
            and r.number not in retried | copied
        }

    def kept(self, history: Sequence[TrialRecord], objectives: Sequence[Metric], chosen: int | None) -> set[int]:
        """The finished trials whose checkpoints pruning keeps (none when ``keep`` is 0).

        One objective: the best ``keep`` valid COMPLETE trials. Several: every trial of the current Pareto front,
        however many (each is a model someone may deploy: `Study.choose` picks among them by a rule chosen later,
        and keeping only the best by the first metric deleted the others), then the next best by non-dominated
        rank and crowding up to ``keep`` in all. Either way also ``chosen``, the trial `Study.choose` recorded,
        while it is valid, even once later trials push it off the front. An invalidated trial is never kept.
        """
        if self.keep == 0:
            return set()
        kept: set[int]
        if len(objectives) > 1:
            comparable, losses = loss_matrix(history, objectives)
            order = nondominated_order(losses)
            ranks = nondominated_ranks(losses)
            kept = {comparable[i].number for i in order[: self.keep]}
            kept |= {record.number for record, rank in zip(comparable, ranks, strict=True) if rank == 0}
        else:
            metric = objectives[0]
            ranked = sorted(
                (
                    r
                    for r in history
                    if r.state is TrialState.COMPLETE and r.value(metric.name) is not None and r.invalidated is None
                ),
                key=lambda r: metric.sign() * (r.value(metric.name) or 0.0),
            )
            kept = {r.number for r in ranked[: self.keep]}
        if chosen is not None and any(r.number == chosen and r.invalidated is None for r in history):
            kept.add(chosen)
        return kept

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
                stacklevel=outside_stacklevel(),
            )
            return
        shutil.rmtree(target, ignore_errors=True)
