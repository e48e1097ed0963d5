"""A SQLite database file: how to open it (read-write, read-only, immutable) and noticing that it went away.

A file deleted, replaced or truncated under a running study does not stop SQLite: the open
connections keep writing into the deleted inode, or into the WAL of a truncated file, and every
write "succeeds". `DatabaseFile` remembers the file's identity and size when the storage opens it;
`SQLStorage` asks it before each write transaction (one ``os.stat``), so the study stops at the
first write after the loss instead of reporting a budget spent into nowhere.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Literal
from urllib.parse import quote

from tunesmith.errors import StorageError, StorageLost
from tunesmith.storage._failures import lost

__all__ = ["AccessMode", "DatabaseFile", "access_mode", "connection_uri", "requested_mode"]

# rw: read and write an existing file (SQLite never creates it: the storage does, once);
# ro: read only; immutable: read only, without the -shm file a read-only directory cannot hold.
AccessMode = Literal["rw", "ro", "immutable"]


def requested_mode(query: Mapping[str, object]) -> AccessMode | None:
    """The access a URL's query asks for: ``?mode=ro`` or ``?immutable=1`` (``None``: decide from the file).

    Raises:
        StorageError: ``mode`` is not ``ro``, ``rw`` or ``rwc``.
    """
    mode = query.get("mode")
    immutable = str(query.get("immutable", "0")).lower() in ("1", "true", "yes", "on")
    if immutable:
        return "immutable"
    if mode is None or mode in ("rw", "rwc"):
        return None
    if mode == "ro":
        return "ro"
    raise StorageError(f"a SQLite URL's mode must be 'ro' (read only) or 'rw', got mode={mode!r}: use ?mode=ro")


def _writable(path: str) -> bool:
    return os.access(path, os.W_OK)


def access_mode(path: str, requested: AccessMode | None = None) -> AccessMode:
    """How to open the existing file ``path``: read-write unless it, or its directory, cannot be written.

    SQLite in WAL mode needs a ``-shm`` file beside the database even to read: in a directory that
    cannot be written, an existing ``-shm``/``-wal`` pair is used read-only, and without one the file is
    read as immutable (which is exact when no ``-wal`` holds unmerged writes).
    """
    if requested is not None:
        return requested
    directory = os.path.dirname(os.path.abspath(path))
    wal, shm = f"{path}-wal", f"{path}-shm"
    companions = os.path.exists(wal) and os.path.exists(shm)
    if _writable(path) and (_writable(directory) or (companions and _writable(wal) and _writable(shm))):
        return "rw"
    if _writable(directory) or companions:
        return "ro"
    if not os.path.exists(wal) or os.path.getsize(wal) == 0:
        return "immutable"
    return "ro"  # a -wal without its -shm in a read-only directory: SQLite says it cannot open it


def connection_uri(path: str, mode: AccessMode) -> str:
    """The ``file:`` URI that opens ``path`` with ``mode`` (SQLite then never creates the file)."""
    options = "mode=ro&immutable=1" if mode == "immutable" else f"mode={mode}"
    return f"file:{quote(os.path.abspath(path))}?{options}"


class DatabaseFile:
    """The SQLite file a storage opened, as it was then: its identity (device, inode) and its size.

    `verify` raises `StorageLost` when the file has since been deleted, replaced by another file or
    truncated. A tunesmith database never shrinks (nothing VACUUMs it), so a smaller file was
    truncated. Once lost, always lost. Thread-safe.

    Args:
        path: the database file; it must exist.
        mode: how the storage's connections open it.
    """

    def __init__(self, path: str, mode: AccessMode = "rw") -> None:
        self.path = os.path.abspath(path)
        self.mode: AccessMode = mode
        stat = os.stat(self.path)
        self._identity = (stat.st_dev, stat.st_ino)
        self._size = stat.st_size
        self._lock = threading.Lock()
        self._lost: str | None = None
        self._stored: int | None = None  # the last trial finished before a write that found the file intact
        self._unconfirmed: int | None = None  # finished since: its write may have gone to a lost file

    @property
    def read_only(self) -> bool:
        """Whether connections open the file read-only (``ro`` or ``immutable``)."""
        return self.mode != "rw"

    def _problem(self) -> str | None:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return "was deleted"
        except OSError:
            return None  # cannot look (a permission on the way): the database itself will say
        if (stat.st_dev, stat.st_ino) != self._identity:
            return "was replaced by another file"
        if stat.st_size < self._size:
            return f"was truncated ({stat.st_size} bytes, {self._size} before)"
        self._size = stat.st_size
        return None

    def check(self) -> StorageLost | None:
        """The error to raise if the file is no longer the one opened (``None``: it is)."""
        with self._lock:
            if self._lost is None:
                self._lost = self._problem()
            if self._lost is None:
                if self._unconfirmed is not None:
                    self._stored, self._unconfirmed = self._unconfirmed, None
                return None
            return lost(self.path, self._lost, self._stored)

    def verify(self) -> None:
        """Raise `StorageLost` unless the file is still the one opened and not truncated."""
        error = self.check()
        if error is not None:
            raise error

    def trial_finished(self, number: int) -> None:
        """Trial ``number``'s result was written: stored for sure once the next `check` finds the file intact."""
        with self._lock:
            self._unconfirmed = number
