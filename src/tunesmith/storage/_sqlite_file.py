"""A SQLite database file: how to open it (read-write, read-only, immutable) and noticing that it went away.

A file deleted, replaced or truncated under a running study does not stop SQLite: the open
connections keep writing into the deleted inode, or into the WAL of a truncated file, and every
write "succeeds". The same holds for a deleted ``-wal`` file: every write since the last checkpoint
then lives only in a file no one else can open, and a crash loses it. `DatabaseFile` remembers the
file's identity and size when the storage opens it, and the ``-wal`` file's identity once it exists;
`SQLStorage` asks it before each read and each write transaction (one ``os.stat``, two while a ``-wal`` is
in use), so the study stops at the first write after the loss instead of reporting a budget spent into
nowhere, and a reader (a `Study` held in a session, a command's summary, report or export) stops at its
first read instead of serving a database that is gone from the open connections.

A file deleted or replaced under the storage leaves its ``-wal`` and ``-shm`` at the path, and SQLite, seeing the
file moved, neither merges nor deletes them when its connections close: the next program to open the path (a
``tunesmith studies`` after the stop) applied the old database's log to the new file, whose contents were lost. So
when the last connection to the file opened closes, `DatabaseFile` saves what that connection still reads of it (the
deleted file with its log) to ``<path>.lost-<time>-<pid>`` with SQLite's backup, and only then removes the ``-wal``
and ``-shm`` it wrote, each checked to be the file its connections used.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Literal
from urllib.parse import quote, unquote, urlsplit

import sqlalchemy as sa

from tunesmith.errors import StorageError, StorageLost
from tunesmith.storage._failures import lost, wal_lost

__all__ = ["AccessMode", "DatabaseFile", "access_mode", "connection_uri", "from_file_uri", "requested_mode"]

_log = logging.getLogger("tunesmith")

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


# Query keys the Python driver takes itself (SQLAlchemy's pysqlite dialect); the rest of a ``uri=true``
# URL's query belongs to the SQLite URI.
_DRIVER_KEYS = ("uri", "timeout", "isolation_level", "detect_types", "check_same_thread", "cached_statements")
_TRUE = ("1", "true", "yes", "on", "y", "t")


def from_file_uri(parsed: sa.URL) -> tuple[sa.URL, tuple[tuple[str, str], ...]] | None:
    """A URL as a plain file path, and the SQLite URI options it carries besides ``mode`` and ``immutable``.

    ``sqlite:///file:x.db?mode=ro&uri=true`` names the file ``x.db`` by a SQLite URI; read as a plain
    path, it goes through the same checks as ``sqlite:///x.db?mode=ro`` (a missing file refused, never
    created, when only reading). A URL without ``uri=true`` is returned as it is (SQLite then reads
    ``file:x.db`` as a file name); ``None`` means an in-memory database (``file::memory:``, ``mode=memory``).

    Raises:
        StorageError: the URI names a host other than ``localhost``.
    """
    if str(parsed.query.get("uri", "")).lower() not in _TRUE:
        return parsed, ()
    database = parsed.database or ""
    path = database
    if database.startswith("file:"):
        parts = urlsplit(database)
        if parts.netloc not in ("", "localhost"):
            raise StorageError(
                f"a SQLite file: URI names no host, got {parts.netloc!r} in {database!r}: "
                "write file:relative/path.db or file:///absolute/path.db"
            )
        path = unquote(parts.path)
    if path in ("", ":memory:") or parsed.query.get("mode") == "memory":
        return None
    ours = (*_DRIVER_KEYS, "mode", "immutable")
    others = tuple((key, str(value)) for key, value in sorted(parsed.query.items()) if key not in ours)
    plain = parsed.set(database=path).difference_update_query(["uri", *(key for key, _ in others)])
    return plain, others


def _writable(path: str) -> bool:
    return os.access(path, os.W_OK)


def access_mode(path: str, requested: AccessMode | None = None) -> AccessMode:
    """How to open the existing file ``path``: read-write unless it, or its directory, cannot be written.

    SQLite in WAL mode needs a ``-shm`` file beside the database even to read: in a directory that
    cannot be written, an existing ``-shm``/``-wal`` pair is used read-only, and without one the file is
    read as immutable (which is exact when no ``-wal`` holds unmerged writes). An existing ``-shm`` or
    ``-wal`` that cannot be written (left by a read of the file while it was read-only: SQLite gives them
    the database's mode) makes the file read-only here too, since SQLite writes through them; a write then
    names that file.
    """
    if requested is not None:
        return requested
    directory = os.path.dirname(os.path.abspath(path))
    wal, shm = f"{path}-wal", f"{path}-shm"
    companions = os.path.exists(wal) and os.path.exists(shm)
    companions_writable = all(_writable(companion) for companion in (wal, shm) if os.path.exists(companion))
    if _writable(path) and companions_writable and (_writable(directory) or companions):
        return "rw"
    if _writable(directory) or companions:
        return "ro"
    if not os.path.exists(wal) or os.path.getsize(wal) == 0:
        return "immutable"
    return "ro"  # a -wal without its -shm in a read-only directory: SQLite says it cannot open it


def connection_uri(path: str, mode: AccessMode, options: Sequence[tuple[str, str]] = ()) -> str:
    """The ``file:`` URI that opens ``path`` with ``mode`` (SQLite then never creates the file), with
    further URI ``options`` (``cache=shared``) kept from the URL."""
    chosen = "mode=ro&immutable=1" if mode == "immutable" else f"mode={mode}"
    extra = "".join(f"&{quote(key)}={quote(value)}" for key, value in options)
    return f"file:{quote(os.path.abspath(path))}?{chosen}{extra}"


class DatabaseFile:
    """The SQLite file a storage opened, as it was then: its identity (device, inode) and its size.

    `verify` raises `StorageLost` when the file has since been deleted, replaced by another file or
    truncated, or when its ``-wal`` file, once seen, was deleted or replaced. A tunesmith database never
    shrinks (nothing VACUUMs it), so a smaller file was truncated; SQLite resets and truncates its
    ``-wal`` in place, and deletes it only when the last connection closes, which cannot happen while
    this storage holds its connections open. Once lost, always lost. Thread-safe.

    Args:
        path: the database file; it must exist.
        mode: how the storage's connections open it.
        options: further SQLite URI options the connections open it with (from a ``file:`` URL).
    """

    def __init__(self, path: str, mode: AccessMode = "rw", options: Sequence[tuple[str, str]] = ()) -> None:
        self.path = os.path.abspath(path)
        self.mode: AccessMode = mode
        self.options = tuple(options)
        stat = os.stat(self.path)
        self._identity = (stat.st_dev, stat.st_ino)
        self._size = stat.st_size
        self._lock = threading.Lock()
        self._lost: str | None = None
        self._moved = False  # deleted or replaced: the open connections still read the file opened
        self._wal_lost: str | None = None
        # The connections open on the file opened (by id): when the file moved, the last of them to close saves what
        # it reads of it (`_save_moved`), which no new connection can reach.
        self._open: dict[int, sqlite3.Connection] = {}
        self._shm: tuple[int, int] | None = None  # the -shm file's identity, read with the -wal's
        # The -wal file's (st_dev, st_ino), read by the first check that finds it while this storage holds a
        # connection, so that it is the file those connections write. SQLite deletes the -wal itself when the
        # last connection to the database closes, so it is forgotten when this storage's last one closes.
        self._wal: tuple[int, int] | None = None
        self._connections = 0
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
            self._moved = True
            return "was deleted"
        except OSError:
            return None  # cannot look (a permission on the way): the database itself will say
        if (stat.st_dev, stat.st_ino) != self._identity:
            self._moved = True
            return "was replaced by another file"
        if stat.st_size < self._size:
            return f"was truncated ({stat.st_size} bytes, {self._size} before)"
        self._size = stat.st_size
        return None

    def connection_opened(self, connection: sqlite3.Connection | None = None) -> None:
        """The storage opened a connection to the file (the pool's ``connect`` event); ``connection``, the driver's,
        is kept while it is open on the file opened (not once the path holds another)."""
        with self._lock:
            self._connections += 1
            if connection is None or self._lost is not None:
                return
            self._lost = self._problem()  # once lost, always lost: the next check says it
            if self._lost is None:
                self._open[id(connection)] = connection

    def connection_closed(self, connection: sqlite3.Connection | None = None) -> None:
        """The storage is closing one (the pool's ``close`` events, before the driver closes it): after its last,
        SQLite may delete the -wal. When the file was deleted or replaced, the last connection open on it saves
        what it reads (`_save_moved`) and the -wal and -shm it left at the path are removed."""
        with self._lock:
            self._connections = max(0, self._connections - 1)
            held = self._open.pop(id(connection), None) if connection is not None else None
            if self._moved and not self.read_only and held is not None and not self._open:
                self._save_moved(held)
            if not self._connections:
                self._wal = self._shm = None

    def _save_moved(self, connection: sqlite3.Connection) -> None:
        """Save what ``connection``, the last one open on the file opened, reads of it (the file deleted or replaced
        since, with its log) to ``<path>.lost-<time>-<pid>``, then remove the ``-wal`` and ``-shm`` it left at the
        path (those its connections used: a program opening the path would apply that log to the file there now).
        What it cannot save, it leaves in place, and says so."""
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        target = f"{self.path}.lost-{stamp}-{os.getpid()}"
        try:
            copy = sqlite3.connect(target)
            try:
                connection.backup(copy)
            finally:
                copy.close()
        except (sqlite3.Error, OSError) as exc:
            _log.warning(
                "tunesmith: the SQLite database %s %s while in use, and what this process still read of it could not "
                "be saved to %s (%s): its -wal and -shm are left at the path; move them aside before opening the "
                "file there now, or SQLite applies the old log to it",
                self.path, self._lost, target, exc,
            )  # fmt: skip
            return
        removed = [suffix for suffix, identity in (("-wal", self._wal), ("-shm", self._shm))
                   if identity is not None and _remove_if(f"{self.path}{suffix}", identity)]  # fmt: skip
        what = f"; its {' and '.join(removed)} removed from the path" if removed else ""
        _log.warning(
            "tunesmith: the SQLite database %s %s while in use: what this process still read of it is saved in %s%s",
            self.path, self._lost, target, what,
        )  # fmt: skip

    def _wal_problem(self) -> str | None:
        if self.read_only or not self._connections:
            return None  # a reader writes no -wal; without a connection, SQLite may delete it by right
        try:
            stat = os.stat(f"{self.path}-wal")
        except FileNotFoundError:
            return None if self._wal is None else "was deleted"
        except OSError:
            return None
        if self._wal is None:
            self._wal = (stat.st_dev, stat.st_ino)
            try:
                shm = os.stat(f"{self.path}-shm")
                self._shm = (shm.st_dev, shm.st_ino)
            except OSError:
                self._shm = None
        elif (stat.st_dev, stat.st_ino) != self._wal:
            return "was replaced by another file"
        return None

    def check(self) -> StorageLost | None:
        """The error to raise if the file is no longer the one opened (``None``: it is)."""
        with self._lock:
            if self._lost is None and self._wal_lost is None:
                self._lost = self._problem()
                if self._lost is None:
                    self._wal_lost = self._wal_problem()
            if self._lost is not None:
                return lost(self.path, self._lost, self._stored, saved=self._moved and not self.read_only)
            if self._wal_lost is not None:
                return wal_lost(self.path, self._wal_lost)
            if self._unconfirmed is not None:
                self._stored, self._unconfirmed = self._unconfirmed, None
            return None

    def verify(self) -> None:
        """Raise `StorageLost` unless the file is still the one opened and not truncated."""
        error = self.check()
        if error is not None:
            raise error

    def trial_finished(self, number: int) -> None:
        """Trial ``number``'s result was written: stored for sure once the next `check` finds the file intact."""
        with self._lock:
            self._unconfirmed = number


def _remove_if(path: str, identity: tuple[int, int]) -> bool:
    """Remove ``path`` when it is still the file of ``identity`` (device, inode); whether it was removed."""
    try:
        stat = os.stat(path)
        if (stat.st_dev, stat.st_ino) != identity:
            return False
        os.remove(path)
    except OSError:
        return False
    return True
