"""`Trial.save_checkpoint` / `Trial.load_checkpoint`'s files: plain state as JSON, numpy arrays in an ``.npz``.

A checkpoint is the JSON file ``tunesmith-state.json``: the step, the JSON values and the name of the arrays
file that goes with them. Top-level arrays are stored under their key (``arrays``); arrays deeper in dicts and
lists (a ``state_dict`` under ``"model"``) under a name of their own, with the path of keys and indices that leads
to them (``nested_arrays``), and stand as ``null`` in the JSON values until they are put back on load.

Saving writes the arrays under a new, unique name first, then replaces the JSON in one atomic rename (the commit),
and only then deletes the arrays the old JSON named: a crash at any point leaves the previous checkpoint whole,
never the new arrays beside the old state. Checkpoints written before the arrays file had its own name
(``tunesmith-arrays.npz``, replaced before the JSON) still load.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tunesmith.errors import TunesmithError

__all__ = ["CheckpointWriteError", "load_state", "not_written", "save_state", "saved_step", "whole"]

STATE_FILE = "tunesmith-state.json"
_OLD_ARRAYS = "tunesmith-arrays.npz"  # the one arrays file of checkpoints written before names were unique
_ARRAYS_GLOB = "tunesmith-arrays*.npz"

# A path into the state: dict keys (strings) and list indices (ints), from the top-level key down.
ArrayPath = list[str | int]


class CheckpointWriteError(TunesmithError, OSError):
    """A trial's checkpoint folder cannot be created, or its checkpoint written there (a path under a regular file,
    no permission, a full disk): the study's ``checkpoint_dir`` setting, not the objective, is to blame. An
    `OSError` too, which is what code around a write expects."""


def _file_in_the_way(directory: Path) -> str:
    """`` (PATH is a file, not a folder)`` for the nearest existing ancestor of ``directory`` (itself included)
    that is not a folder, else nothing: what a `NotADirectoryError` leaves unsaid."""
    existing = next((p for p in (directory, *directory.parents) if p.exists()), None)
    return "" if existing is None or existing.is_dir() else f" ({existing} is a file, not a folder)"


def not_written(directory: Path, error: OSError) -> CheckpointWriteError:
    """The error for a checkpoint ``directory`` that could not be created or written, naming the folder, what the
    system said and the fix."""
    said = f"[Errno {error.errno}] {error.strerror}" if error.strerror else str(error)
    named = isinstance(error.filename, str) and Path(error.filename) != directory
    where = f" (writing {Path(error.filename).name})" if named else ""
    return CheckpointWriteError(
        f"checkpoint not written to {directory}: {type(error).__name__}: {said}{where}"
        f"{_file_in_the_way(directory)}; checkpoints need a writable folder with free space: give the study "
        "checkpoint_dir= such a folder, or make room there (a lower keep_checkpoints keeps fewer old checkpoints)"
    )


def _string_keys(value: Any, where: str) -> None:
    """Refuse a mapping key that is not a string, at any depth: JSON would turn ``{1: 2}`` into ``{"1": 2}``,
    so the state would load back under other keys than it was saved with."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TunesmithError(
                    f"save_checkpoint takes string keys only (JSON keeps no other), got key {key!r} "
                    f"({type(key).__name__}) in {where}: it would load back as {str(key)!r}; use string keys "
                    f"(e.g. {str(key)!r}), or save a list of [key, value] pairs"
                )
            _string_keys(item, f"{where}[{key!r}]")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _string_keys(item, f"{where}[{index}]")


def _without_arrays(value: Any, path: ArrayPath, found: list[tuple[ArrayPath, Any]]) -> Any:
    """``value`` with every numpy array in its dicts, lists and tuples replaced by ``None``, each array added to
    ``found`` with its path (a copy: the caller's state is left as it is)."""
    import numpy as np

    if isinstance(value, np.ndarray):
        found.append((path, value))
        return None
    if isinstance(value, Mapping):
        return {key: _without_arrays(item, [*path, key], found) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_without_arrays(item, [*path, index], found) for index, item in enumerate(value)]
    return value


def _put_back(state: dict[str, Any], path: ArrayPath, array: Any) -> None:
    """Put ``array`` where ``path`` leads in ``state`` (the place `_without_arrays` left ``None``)."""
    holder: Any = state
    for step in path[:-1]:
        holder = holder[step]
    if holder[path[-1]] is not None:
        raise ValueError(f"the state holds {holder[path[-1]]!r} at {path}, where an array was saved")
    holder[path[-1]] = array


def _write_arrays(path: Path, arrays: Mapping[str, Any]) -> None:
    """An ``.npz`` as `numpy.savez` writes it (any array name, ``file`` too), flushed to disk before the JSON that
    names it replaces the old one; object arrays, which `numpy.load` would refuse to read back, are refused here."""
    import numpy as np

    with open(path, "wb") as fh:
        with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
            for name, array in arrays.items():
                with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
        fh.flush()
        os.fsync(fh.fileno())


def save_state(directory: Path, step: int, state: Mapping[str, Any]) -> None:
    """Save ``state`` (JSON values and numpy arrays, at any depth of its dicts and lists) with ``step`` into
    ``directory``, atomically.

    Raises:
        TunesmithError: a value JSON cannot hold, a key that is not a string, an object array.
        CheckpointWriteError: the system refused a write (no permission, a full disk); nothing of it is left.
    """
    import numpy as np

    _string_keys(state, "the state")
    arrays = {k: v for k, v in state.items() if isinstance(v, np.ndarray)}  # stored under their key, as always
    nested: list[tuple[ArrayPath, Any]] = []
    plain = {k: _without_arrays(v, [k], nested) for k, v in state.items() if k not in arrays}
    members = [f"nested-{index}" for index in range(len(nested))]
    while any(member in arrays for member in members):  # a top-level key spelt like one: rename the nested ones
        members = [f"_{member}" for member in members]
    arrays.update(zip(members, (array for _, array in nested), strict=True))
    arrays_file = f"tunesmith-arrays-{uuid.uuid4().hex}.npz" if arrays else None
    top_level = sorted(k for k in arrays if k not in members)
    record: dict[str, Any] = {"step": step, "state": plain, "arrays": top_level, "arrays_file": arrays_file}
    if nested:
        record["nested_arrays"] = [
            {"path": path, "name": member} for (path, _), member in zip(nested, members, strict=True)
        ]
    try:
        text = json.dumps(record)
    except (TypeError, ValueError) as exc:
        raise TunesmithError(
            f"save_checkpoint takes JSON values and numpy arrays ({exc}); write other formats "
            "(torch.save, ...) into trial.checkpoint_dir yourself"
        ) from None
    tmp = directory / f"{STATE_FILE}.tmp"
    try:
        if arrays_file is not None:
            _write_arrays(directory / arrays_file, arrays)
        tmp.write_text(text)
        os.replace(tmp, directory / STATE_FILE)  # the commit: from here on the new arrays are the checkpoint's
    except BaseException as exc:  # a full disk, an interrupt: the previous checkpoint stands, without these arrays
        for written in (tmp, *([directory / arrays_file] if arrays_file else [])):
            with contextlib.suppress(OSError):
                written.unlink(missing_ok=True)  # a half-written arrays file would hold on to the space it took
        if isinstance(exc, ValueError):  # an object array: numpy pickles none here
            raise TunesmithError(
                f"save_checkpoint takes numpy arrays of numbers, strings or bools ({exc}); convert an object array "
                "(np.asarray(x, dtype=float)), or write it into trial.checkpoint_dir yourself"
            ) from None
        if isinstance(exc, OSError):
            raise not_written(directory, exc) from None
        raise
    for stale in directory.glob(_ARRAYS_GLOB):  # the old checkpoint's, and any a crash left unreferenced
        if stale.name != arrays_file:
            stale.unlink(missing_ok=True)


def load_state(directory: Path) -> dict[str, Any] | None:
    """The state `save_state` last saved into ``directory`` (arrays included), or ``None`` when there is none."""
    import numpy as np

    path = directory / STATE_FILE
    if not path.is_file():
        return None
    try:
        saved = json.loads(path.read_text())
        state: dict[str, Any] = dict(saved["state"])
        names = list(saved.get("arrays") or [])
        nested = [(list(entry["path"]), str(entry["name"])) for entry in saved.get("nested_arrays") or []]
        arrays_file = Path(saved.get("arrays_file") or _OLD_ARRAYS).name
    except (ValueError, KeyError, TypeError) as exc:
        raise TunesmithError(
            f"checkpoint {path} cannot be read ({type(exc).__name__}: {exc}): it was not written by "
            "save_checkpoint, or written over by other code; delete it to start the trial from nothing"
        ) from None
    if names or nested:
        try:
            with np.load(directory / arrays_file) as stored:
                state.update({name: stored[name] for name in names})
                for where, name in nested:
                    _put_back(state, where, stored[name])
        except (OSError, KeyError, IndexError, TypeError, ValueError) as exc:
            every = names + [".".join(map(str, where)) for where, _ in nested]
            raise TunesmithError(
                f"checkpoint {path} names arrays {every} in {arrays_file}, which cannot be read "
                f"({type(exc).__name__}: {exc}): the folder's files were changed outside save_checkpoint; "
                "delete the folder's tunesmith-* files to start the trial from nothing"
            ) from None
    return state


def saved_step(directory: Path) -> int | None:
    """The step ``directory``'s checkpoint was saved at (the step its state holds: `Trial.save_checkpoint`), or
    ``None`` when the folder holds no checkpoint of ours (files the objective wrote itself carry no step) or one
    that cannot be read."""
    try:
        step = json.loads((directory / STATE_FILE).read_text())["step"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return step if isinstance(step, int) and not isinstance(step, bool) and step >= 0 else None


def whole(directory: Path) -> bool:
    """Whether ``directory``'s checkpoint, if any, has the arrays file its state names (a copy taken while the
    trial saved may hold the new state without the new arrays)."""
    try:
        saved = json.loads((directory / STATE_FILE).read_text())
        arrays_file = Path(saved.get("arrays_file") or _OLD_ARRAYS).name
        return not (saved.get("arrays") or saved.get("nested_arrays")) or (directory / arrays_file).is_file()
    except (OSError, ValueError, AttributeError, TypeError):
        return not (directory / STATE_FILE).exists()  # no checkpoint of ours is whole; a damaged one never will be
