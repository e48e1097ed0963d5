"""Whole studies as units: copy one to another storage, delete one.

`copy_study` moves a study, every trial as recorded, from one storage to another in one transaction (a search
begun on SQLite continued by workers on PostgreSQL, a finished one archived to a file); the copy records where it
came from.

A study's rows are evidence for other studies on the same storage: its holdout openings are how a later study
learns that a holdout set was read already ("holdout opened once"), and the configurations it compared on a
validation set are counted in a later study's optimism. `delete_study` refuses to erase a holdout opening unless
told to, refuses a study whose trials are running (their workers would write on), and says what it took away.
"""

from __future__ import annotations

import shlex
import shutil
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunesmith._text import counted
from tunesmith.attributes import CheckpointRootAttr, CopiesAttr, CopyAttr, ValidationSetAttr, read_attr
from tunesmith.errors import ConfigError, DeletionRefused, StudyInUse, StudyNotFound
from tunesmith.storage import Storage, open_storage
from tunesmith.storage.base import StudyInfo
from tunesmith.study._settings import DEFAULT_GRACE
from tunesmith.study._validation_set import _COMPARED
from tunesmith.trial import TrialRecord, TrialState

__all__ = ["CopiedStudy", "DeletedStudy", "copy_study", "delete_study", "held_text", "states_of"]


def states_of(records: list[TrialRecord]) -> dict[str, int]:
    """How many of ``records`` are in each state, in the order the states first appear."""
    return dict(Counter(r.state.value for r in records))


def held_text(states: dict[str, int]) -> str:
    """``"3 complete, 1 failed"`` (`states_of`); ``"no trials"`` for none."""
    return ", ".join(f"{count} {state}" for state, count in states.items()) or "no trials"


def _where(store: Storage) -> str:
    """The storage as messages name it: its URL (password hidden), else its type."""
    return store.url or type(store).__name__


@dataclass(frozen=True)
class DeletedStudy:
    """What `delete_study` deleted.

    Attributes:
        name: the study's name.
        storage: where it was (a URL, passwords hidden).
        trials: how many trials of each state it held (``{"complete": 12, "failed": 1}``).
        validation_set: the validation set it tuned on, when it compared configurations on a named one.
        compared: the configurations it compared on that set, which later studies tuning on it no longer count.
        holdout_openings: the holdout openings deleted with it (only with ``force``).
        checkpoint_folder: its checkpoint folder when that still holds files, which deletion leaves in place.
        running: the trials that were still RUNNING (only with ``force``).
    """

    name: str
    storage: str
    trials: dict[str, int] = field(default_factory=dict)
    validation_set: str | None = None
    compared: int = 0
    holdout_openings: int = 0
    checkpoint_folder: str | None = None
    running: tuple[int, ...] = ()

    def lines(self) -> list[str]:
        """What was deleted and what that changes, one statement a line."""
        said = [f"deleted study {self.name!r} from {self.storage} ({held_text(self.trials)})"]
        if self.running:
            said.append(f"trials {list(self.running)} were running: their workers' next writes fail (study not found)")
        if self.compared:
            said.append(
                f"{self.compared} configurations it compared on validation set {self.validation_set!r} are no longer "
                "counted by the studies on this storage that tune on that set: their optimism now leaves them out"
            )
        if self.holdout_openings:
            said.append(
                f"its {counted(self.holdout_openings, 'holdout opening')} went with it: a later study's finalize no "
                "longer knows that holdout set was read"
            )
        if self.checkpoint_folder:
            said.append(f"its checkpoint files are left in {self.checkpoint_folder}: remove the folder when done")
        return said


def delete_study(name: str, storage: str | Storage | None = None, *, force: bool = False) -> DeletedStudy:
    """Delete study ``name`` with its trials, reports and attributes (``tunesmith delete`` in the CLI).

    Its id is never given to a study created later, so a `Study` object still holding it fails (`StudyNotFound`)
    rather than read or write another study; a study created later under the same name starts empty.

    Args:
        name: the study.
        storage: where it is (as `Study.load`; a missing SQLite file is an error, not created).
        force: delete it even when trials of it are RUNNING (their workers are gone: a machine that died) or it
            opened a holdout set (that set will judge no other study on this storage).

    Returns:
        `DeletedStudy`: what it held and what deleting it changed (`DeletedStudy.lines`).

    Raises:
        StudyNotFound: no study of that name.
        StudyInUse: trials of it are RUNNING (without ``force``); nothing is deleted.
        DeletionRefused: it opened a holdout set (without ``force``); nothing is deleted.
    """
    store = open_storage(storage, create=False)
    try:
        info = store.load_study(name)
        records = store.get_trials(info.id)
        running = tuple(r.number for r in records if r.state is TrialState.RUNNING)
        openings = _openings(info)
        if not force:
            if running:
                raise StudyInUse(_running_text(info.name, records, store), running)
            if openings:
                raise DeletionRefused(_holdout_text(info.name, openings, store))
        deleted = _what_goes(info, records, store, running, len(openings))
        try:
            store.delete_study(info.id, running=force)
        except StudyInUse as exc:  # a trial started between the read and the deletion
            raise StudyInUse(_running_text(info.name, store.get_trials(info.id), store), exc.running) from None
        return deleted
    finally:
        if store is not storage:  # opened here; a Storage object given stays open
            store.close()


@dataclass(frozen=True)
class CopiedStudy:
    """What `copy_study` copied.

    Attributes:
        name: the copy's name in the target storage.
        source: the study's name in the source storage.
        from_storage, to_storage: the two storages (URLs, passwords hidden).
        trials: how many trials of each state it holds.
        checkpoint_folder: the copy's own checkpoint folder (``None``: the source recorded none), which it never
            shares with the source: a worker of either would prune the other's best trials' files.
        checkpoints_copied: how many trials' checkpoint folders were copied into it from the source's.
        paused: whether the copy has paused trials, which resume from those files.
        gone: the trials recorded RUNNING whose worker is gone, copied as recorded.
    """

    name: str
    source: str
    from_storage: str
    to_storage: str
    trials: dict[str, int] = field(default_factory=dict)
    checkpoint_folder: str | None = None
    checkpoints_copied: int = 0
    paused: bool = False
    gone: tuple[int, ...] = ()

    def lines(self) -> list[str]:
        """What was copied and what to know of the copy, one statement a line."""
        renamed = "" if self.name == self.source else f" as {self.name!r}"
        said = [
            f"copied study {self.source!r} from {self.from_storage} to {self.to_storage}{renamed} "
            f"({held_text(self.trials)})",
            "the two are separate studies from now on: workers on either storage add trials to that one alone",
        ]
        if self.checkpoint_folder and self.checkpoints_copied:
            plural = "s" * (self.checkpoints_copied != 1)
            said.append(
                f"the checkpoint folder{plural} of {self.checkpoints_copied} trial{plural} copied to "
                f"{self.checkpoint_folder}, the copy's own"
                + (": its paused trials resume from there, so a worker on another machine needs that folder (a "
                   "shared file system)" if self.paused else "")
            )  # fmt: skip
        elif self.paused:
            said.append(
                "its paused trials' checkpoint files were not found on this machine, so none was copied: a worker "
                f"resumes them only where the files are put into {self.checkpoint_folder or 'its checkpoint folder'}"
            )
        if self.gone:
            numbers = ", ".join(f"#{n}" for n in self.gone)
            said.append(
                f"trial{'s' * (len(self.gone) != 1)} {numbers}, recorded running by a worker that is gone, copied as "
                "recorded: the next worker of either study records it FAILED (interrupted or lost worker), outside "
                "the trial budget"
            )
        return said


def copy_study(
    name: str, from_storage: str | Storage | None, to_storage: str | Storage, *, to_name: str | None = None
) -> CopiedStudy:
    """Copy study ``name`` with every trial as recorded (``tunesmith copy`` in the CLI); the source is unchanged.

    The copy is written in one transaction: the target holds it whole or not at all. It keeps the study's spec,
    attributes (its holdout openings and validation set among them, so the discipline reads it as it did), creation
    time and every trial (states, curves, times, workers, seeds, retries, paused trials with their checkpoint
    folder), and records the copy in its ``copied_from`` attribute (`tunesmith.attributes.CopiesAttr`). Resume it
    on the target with `Study.load` or ``tunesmith worker``.

    Args:
        name: the study in ``from_storage`` (a missing SQLite file is an error, not created).
        from_storage, to_storage: the storages (URLs or `Storage` objects); a new SQLite file is created for
            ``to_storage``.
        to_name: the copy's name (default: ``name``).

    Returns:
        `CopiedStudy` (`CopiedStudy.lines`: what the CLI prints).

    Raises:
        StudyNotFound: no study ``name`` in ``from_storage``.
        StudyInUse: trials of it are RUNNING: a copy is a snapshot, and their workers would go on writing to the
            source alone.
        ConfigError: ``to_storage`` holds a study named ``to_name`` already (a copy is never merged).
    """
    source = open_storage(from_storage, create=False)
    try:
        if to_name is not None:  # refused before a new SQLite file is created for it
            from tunesmith.study._study import _study_name, refuse_control_characters

            refuse_control_characters(to_storage, _study_name(to_name))
        target = open_storage(to_storage)
        try:
            return _copy(source, target, name, to_name)
        finally:
            if target is not to_storage:
                target.close()
    finally:
        if source is not from_storage:
            source.close()


def _copy(source: Storage, target: Storage, name: str, to_name: str | None) -> CopiedStudy:
    from tunesmith.study._study import _study_name, refuse_control_characters

    info = source.load_study(name)
    copy_name = info.name if to_name is None else _study_name(to_name)
    refuse_control_characters(target, copy_name)
    records = source.get_trials(info.id)
    gone = _gone(info, records)
    running = [r for r in records if r.state is TrialState.RUNNING and r.number not in gone]
    where, to = _where(source), _where(target)
    if running:
        raise StudyInUse(
            f"study {info.name!r} has {counted(len(running), 'running trial')} "
            f"({', '.join(f'#{r.number}' for r in running)}), so it is not copied: a copy is a snapshot, and their "
            f"workers would go on writing their results to {where} alone. Copy it once they end (tunesmith status "
            f"{shlex.quote(info.name)} shows them)",
            tuple(r.number for r in running),
        )
    try:
        target.load_study(copy_name)
    except StudyNotFound:
        pass
    else:
        raise ConfigError(
            f"{to} holds a study named {copy_name!r} already, and a copy is never merged into a study: copy it under "
            f"another name (to_name=, tunesmith copy --as NEW_NAME), or delete that study first (tunesmith delete)"
        )
    copies = read_attr(info.attrs, CopiesAttr) or CopiesAttr()
    entry = CopyAttr(source=where, study=info.name, at=time.time(), trials=len(records))
    attrs = {**info.attrs, CopiesAttr.KEY: CopiesAttr((*copies.copies, entry)).to_json()}
    root = read_attr(info.attrs, CheckpointRootAttr)
    own, copied_folders = (None, 0) if root is None else _copy_checkpoints(Path(root.path), copy_name)
    if own is not None:
        attrs[CheckpointRootAttr.KEY] = CheckpointRootAttr(path=str(own)).to_json()
    try:
        copied = target.insert_study(copy_name, info.spec, attrs=attrs, created_at=info.created_at, trials=records)
    except BaseException:
        if own is not None:  # the copy is whole or not at all: its files too
            shutil.rmtree(own, ignore_errors=True)
        raise
    return CopiedStudy(
        name=copied.name,
        source=info.name,
        from_storage=where,
        to_storage=to,
        trials=states_of(records),
        checkpoint_folder=None if own is None else str(own),
        checkpoints_copied=copied_folders,
        paused=any(r.state is TrialState.PAUSED for r in records),
        gone=tuple(sorted(gone)),
    )


def _gone(info: StudyInfo, records: list[TrialRecord]) -> dict[int, str]:
    """The RUNNING trials whose worker is gone (its process on this machine, or no heartbeat for the study's grace),
    by number, each with why: they write nothing more, so the copy may take them as recorded, and the next worker
    of either study records them FAILED (`Study.reap_lost_trials`). A trial whose worker lives blocks the copy."""
    from tunesmith.study._recovery import find_lost, worker_id
    from tunesmith.study._spec import StudySpec

    grace = StudySpec.from_json(info.spec).grace or DEFAULT_GRACE
    lost = find_lost(records, worker=worker_id(), own=(), now=time.time(), grace=grace)
    return {found.record.number: found.detail for found in lost}


def _copy_checkpoints(source: Path, name: str) -> tuple[Path, int]:
    """A checkpoint folder of the copy's own beside the source's ``source``, named after the copy (``name``) with a
    short random suffix, and the trials' folders copied into it when ``source`` is on this machine; and how many
    were. A copy that kept the source's folder shared it: each study's worker pruned the folders of trials that
    are not among its own best, the other's best among them, and resumed its paused trials from files the other
    may have moved on."""
    from tunesmith.study._checkpoints import default_checkpoint_root

    base = source.parent / default_checkpoint_root(name).name
    while True:
        own = base.with_name(f"{base.name}-copy-{uuid.uuid4().hex[:8]}")
        if not own.exists():
            break
    if not source.is_dir():
        return own, 0  # on another machine: the copy still never writes to the source's folder, wherever it runs
    trials = sorted(p for p in source.iterdir() if p.is_dir() and p.name.startswith("trial-"))
    if not trials:
        return own, 0  # nothing to copy: the folder is made when a trial of the copy first saves
    own.mkdir(parents=True)
    try:
        for folder in trials:
            shutil.copytree(folder, own / folder.name, symlinks=True)
    except BaseException:
        shutil.rmtree(own, ignore_errors=True)
        raise
    return own, len(trials)


def _openings(info: StudyInfo) -> list[Any]:
    """The study's holdout openings that judged a winner (not voided)."""
    from tunesmith.discipline.holdout import counted_openings

    return counted_openings(info.attrs)


def _what_goes(info: StudyInfo, records: list[TrialRecord], store: Storage, running: tuple[int, ...],
               openings: int) -> DeletedStudy:  # fmt: skip
    named = read_attr(info.attrs, ValidationSetAttr)
    compared = 0 if named is None else sum(1 for r in records if r.state in _COMPARED and r.invalidated is None)
    root = read_attr(info.attrs, CheckpointRootAttr)
    folder = None if root is None else Path(root.path)
    holds_files = folder is not None and folder.is_dir() and any(p.is_file() for p in folder.rglob("*"))
    return DeletedStudy(
        name=info.name,
        storage=_where(store),
        trials=states_of(records),
        validation_set=None if named is None or not compared else named.name,
        compared=compared,
        holdout_openings=openings,
        checkpoint_folder=str(folder) if holds_files else None,
        running=running,
    )


def _running_text(name: str, records: list[TrialRecord], store: Storage) -> str:
    now = time.time()
    running = [r for r in records if r.state is TrialState.RUNNING]
    shown = "; ".join(
        f"#{r.number} on {r.worker or 'an unknown worker'}, last heard "
        + ("never" if r.heartbeat_at is None else f"{max(0.0, now - r.heartbeat_at):.0f} s ago")
        for r in running[:5]
    ) + ("; ..." if len(running) > 5 else "")  # fmt: skip
    status = f"tunesmith status {shlex.quote(name)} --storage {shlex.quote(_where(store))}"
    return (
        f"study {name!r} has {counted(len(running), 'running trial')} ({shown}), so it is not deleted: their "
        f"workers would go on writing to a study that is gone. Stop them first ({status} shows them), or, when "
        "their workers are gone for good (a machine that died), delete it anyway with force=True "
        f"(tunesmith delete {shlex.quote(name)} --force)"
    )


def _holdout_text(name: str, openings: list[Any], store: Storage) -> str:
    from tunesmith.discipline.holdout import holdout_name

    sets = sorted({repr(holdout_name(o)) if holdout_name(o) else "unnamed" for o in openings})
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(max(o.at for o in openings)))
    sets_word = "set" if len(sets) == 1 else "sets"
    return (
        f"study {name!r} opened the locked holdout ({counted(len(openings), 'opening')}, holdout {sets_word} "
        f"{', '.join(sets)}, "
        f"the last on {when}), so it is not deleted: its openings are how a later study on {_where(store)} learns "
        "that the set was read already, and without them the set would judge another winner as if it were fresh. "
        "Keep the study (a finished one costs only its rows), or, if that holdout set will judge no other study "
        f"here, delete it anyway with force=True (tunesmith delete {shlex.quote(name)} --force)"
    )
