"""The exception hierarchy: one root, specific subclasses that callers can catch as built-ins."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Literal

# The limit a `BudgetExhausted` names: the trial count, the wall time, the compute time or the resource units.
BudgetLimit = Literal["trials", "wall_time", "compute", "resource"]


class TunesmithError(Exception):
    """Root of every error tunesmith raises on purpose."""


class SpaceError(TunesmithError, ValueError):
    """A search space or parameter breaks a rule; the message names the rule, the value and the fix."""


class ConfigError(TunesmithError, ValueError):
    """A study configuration (file or arguments) is invalid."""


class ArgumentError(ConfigError, TypeError):
    """A constructor was called with an argument it does not take (or without one it needs).

    Also a `TypeError`, which is what Python raises for the same mistake; the message names the
    argument, the closest one the constructor takes and every argument it takes.
    """


class SpaceArgumentError(SpaceError, TypeError):
    """A parameter class was called with an argument it does not take: `ArgumentError`'s twin for spaces."""


class MissingParameterError(TunesmithError, KeyError):
    """A key ``trial.params`` does not hold: the message says why (a condition switches the parameter off in this
    trial, a parameter defined by run not asked for yet, or no such parameter) and the fix. A `KeyError`, which is
    what a dict raises, printed as its message rather than quoted."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ReadOnlyParamsError(TunesmithError, TypeError):
    """The objective changed ``trial.params`` (set, deleted or popped a key): that dict is the configuration the study
    records for the trial, so a change would run values the records do not hold. A `TypeError`, as a read-only
    mapping raises; the message names the change and the fix (copy it first)."""


class AttributeShapeError(TunesmithError, ValueError):
    """A stored study attribute is not in the shape tunesmith writes (see `tunesmith.attributes`)."""


class StorageError(TunesmithError, RuntimeError):
    """The storage cannot do what was asked (unknown URL, missing study, schema mismatch)."""


class StorageUnavailable(StorageError):
    """The storage cannot be opened, reached or written; the message says why and the fix.

    No such file, a server that does not answer, a file that is not a database, a read-only file or
    directory, a full disk. What the call that raised it wanted to write was not stored.
    """


class DatabaseMissing(StorageUnavailable):
    """The SQLite file a command reads does not exist (nothing was created to find out): told apart from a storage
    that exists but does not answer, which is no sign that a study has not run yet."""


class StorageLost(StorageError):
    """The database went away while in use: deleted, replaced, truncated or damaged.

    The message names the last trial known to be stored; restore the file or start a new study.
    """


class StudyNotFound(StorageError, KeyError):
    """No study of that name exists in the storage."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the message readable.
        return str(self.args[0]) if self.args else ""


class BudgetExhausted(TunesmithError):
    """The study's budget (trials, wall time, compute or resource) is spent: no new trial may start.

    Attributes:
        limit: which limit was reached: ``"trials"``, ``"wall_time"``, ``"compute"`` or ``"resource"``.
    """

    def __init__(self, message: str, limit: BudgetLimit = "trials") -> None:
        super().__init__(message)
        self.limit = limit


class SearchSpaceExhausted(TunesmithError):
    """A finite space is used up: every configuration was tried or is running (any sampler but Random; the
    study then ends as its budget would)."""


class SearchConverged(TunesmithError):
    """A budget with ``until_converged`` ends the search: what is left to find is below the metric's noise
    (`tunesmith.study._convergence`); the study then ends as its budget would."""


class DeletionRefused(TunesmithError, RuntimeError):
    """A study was not deleted; the message says why and how to delete it anyway."""


class StudyInUse(DeletionRefused):
    """A study cannot be deleted while trials of it are running: their workers would go on writing to it.

    Attributes:
        running: the numbers of its RUNNING trials.
    """

    def __init__(self, message: str, running: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.running = running


class TrialNotRunning(TunesmithError, RuntimeError):
    """A report reached a trial that is not running (already told, or paused): it is not recorded."""


def not_running(number: int, state: str) -> str:
    """`TrialNotRunning`'s message: the trial, its state, why nothing was recorded and the fix."""
    return (
        f"trial #{number} is {state}, not running: a report is recorded only while a trial runs (after it was "
        "told, it would rewrite the curve of a result already recorded); report before study.tell, and end the "
        "training loop or remove the callback when the trial ends"
    )


class OrphanedTrialError(TunesmithError, RuntimeError):
    """A trial's process outlived the driver that records it: it may no longer write anything for the trial."""


class Infeasible(Exception):
    """What an objective raises to say its configuration cannot be run: too large for the device, a combination the
    model refuses, a constraint between parameters known only at run time.

    The trial is recorded INFEASIBLE, kind `TrialKind.DECLARED`, with ``reason`` ("infeasible: ...") and the
    traceback, whatever it reported before (its curve is kept). As a guardrail's breach, it is never the best, the
    samplers learn to avoid its region, and it never counts as the objective's failure: fail-fast does not stop on
    it. A subclass of it is recorded the same.

    Not a `TunesmithError`: the objective raises it, not tunesmith.

    Args:
        reason: why the configuration cannot run, for people: the values that rule it out.

    Raises:
        ArgumentError: ``reason`` is not a string with some text in it.

    Example:
        >>> raise Infeasible("batch 4096 needs 40 GB, the GPU has 16")  # doctest: +SKIP
    """

    def __init__(self, reason: str) -> None:
        if not isinstance(reason, str) or not reason.strip():
            raise ArgumentError(
                f"ts.Infeasible(reason) needs a reason, a non-empty string, got {reason!r}: say what rules the "
                "configuration out, e.g. ts.Infeasible(f'batch {batch} needs 40 GB, the GPU has 16')"
            )
        super().__init__(reason)  # the only argument, so the exception pickles (a trial process, Ray)
        self.reason = reason


class MissingExtra(TunesmithError, ImportError):
    """An optional dependency is needed; the message names the extra to install."""


def require(module: str, extra: str, *, when_broken: str = "") -> object:
    """Import an optional dependency or raise `MissingExtra` naming the extra that provides it; when the dependency is
    installed but importing it failed on something else it imports (Keras 3 without its backend), the error names
    that instead, with ``when_broken`` as the fix: installing the extra again would change nothing."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing = exc.name
        if missing is not None and missing.split(".")[0] != module.split(".")[0]:
            fix = when_broken or f"install {missing.split('.')[0]}"
            raise MissingExtra(
                f"{module!r} is installed, but importing it failed: {exc} (a module {module} imports): {fix}"
            ) from exc
        raise MissingExtra(
            f"{module!r} is needed for this feature: install it with pip install 'tunesmith[{extra}]'"
        ) from exc


class FileNotWritten(TunesmithError, OSError):
    """A report or export file could not be written: a file stands where a folder of its path should be, the
    folder is not writable, the disk is full. The message names the path, the system's reason and the fix.

    Also the `OSError` a caller of the write would catch, with the ``errno``, ``strerror`` and ``filename`` of the
    error the system raised (its ``__cause__``).
    """

    def __init__(self, message: str, cause: OSError) -> None:
        super().__init__(message)
        self.errno, self.strerror, self.filename = cause.errno, cause.strerror, cause.filename

    def __str__(self) -> str:  # OSError would print "[Errno 17] File exists: 'notadir'" instead of the message
        return str(self.args[0])


def not_written(what: str, path: Path, exc: OSError) -> FileNotWritten:
    """``exc``, raised while writing ``what`` (``"the HTML report"``) to ``path``, as a `FileNotWritten` that
    names the path, the system's reason and the fix."""
    where = path.absolute()
    reason = exc.strerror or str(exc)
    # A file named like one of the path's folders: mkdir says "File exists", a write "Not a directory".
    blocker = next((p for p in reversed(where.parents) if os.path.lexists(p) and not os.path.isdir(p)), None)
    if blocker is not None:
        fix = f"{blocker} is a file where a folder should be: move it away or choose another path"
    elif exc.errno == errno.EISDIR:
        fix = "that path is a folder: name a file inside it"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        nearest = next(p for p in (where, *where.parents) if os.path.lexists(p))
        fix = f"choose a folder you can write to, or fix the permissions of {nearest}"
    elif exc.errno in (errno.ENOSPC, errno.EDQUOT):
        fix = "free some space (or disk quota) and write it again"
    elif exc.errno == errno.ENAMETOOLONG:
        fix = "choose a shorter path"
    else:
        fix = "choose another path"
    return FileNotWritten(f"cannot write {what} to {where}: {reason}: {fix}", exc)
