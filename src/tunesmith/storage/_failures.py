"""Every way a storage can fail, turned into one `StorageError` that says what happened and the fix.

This is the one place that reads driver exceptions (sqlite3, psycopg, SQLAlchemy) and the one place
that words storage failures; `SQLStorage` calls `explain` from its engine's ``handle_error`` event,
so no statement anywhere else needs a ``try``. Messages carry the redacted URL or the file's path,
never a password, and fit on one line so the CLI can print them without a traceback.
"""

from __future__ import annotations

import difflib
import errno
import os
import re
import shlex
import sys
import urllib.parse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tunesmith.errors import DatabaseMissing, StorageError, StorageLost, StorageUnavailable

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = [
    "SQLITE_FORMS",
    "CommitUnknown",
    "ConnectionLost",
    "DatabaseBusy",
    "ServerGone",
    "bad_sqlite_url",
    "commit_unknown",
    "explain",
    "foreign_database",
    "gave_up",
    "lost",
    "missing_database",
    "missing_driver",
    "no_file_path",
    "no_schema",
    "os_failure",
    "reconnect_hint",
    "still_gone",
    "unsupported_scheme",
    "wal_lost",
]

SQLITE_FORMS = (
    "sqlite:///relative/path.db (three slashes: relative to the working directory) or "
    "sqlite:////absolute/path.db (four slashes: from the root)"
)
_SUPPORTED = "SQLite (sqlite:///tunesmith.db) or PostgreSQL (postgresql://user@host/db)"

# SQLite's primary result codes (the low byte of sqlite3.Error.sqlite_errorcode).
_SQLITE_PERM, _SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY = 3, 5, 6, 8
_SQLITE_IOERR, _SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_CANTOPEN, _SQLITE_NOTADB = 10, 11, 13, 14, 26
# Free bytes under which a "disk I/O error" is taken to be a full disk.
_NEARLY_FULL = 128 * 1024
# The most one refused write leaves a file short of the file-size limit: a write that would cross the limit stops
# at it, and one that starts past it writes nothing, so the file it grew ends within one write of the limit (a WAL
# frame: a page of at most 64 KiB and its 24-byte header; the -shm file grows by 32 KiB).
_ONE_WRITE = 64 * 1024 + 24
# The files SQLite writes for a database: a refused write may have been to any of them.
_SQLITE_FILES = ("", "-wal", "-journal", "-shm")
_NO_RESTORE = "SQLite rolls a refused write back, so the database is intact and the study resumes where it stopped"


_KNOWN = ("memory", "postgresql", "sqlite")


class ServerGone(StorageUnavailable):
    """A PostgreSQL server cannot be reached now, or does not accept connections yet: stopped, restarting,
    starting up, the network gone (a wrong host or port looks the same). A URL that libpq or the server refuses (a
    misspelt option, a value libpq does not take, SSL the server does not offer) is no such failure: it fails at
    once with a plain `StorageUnavailable`, as waiting would not change it. Waiting may help:
    `tunesmith.storage._engine.Connections` tries again for ``reconnect_for`` seconds, on the first connection as
    after one, before letting it through (`still_gone`).

    Attributes:
        said: the driver's words (``Connection refused``, ``the database system is starting up``).
        reached_before: the engine had connected to the server before, so the server went away.
    """

    def __init__(self, message: str, *, said: str = "", reached_before: bool = True) -> None:
        super().__init__(message)
        self.said = said
        self.reached_before = reached_before


class ConnectionLost(StorageUnavailable):
    """The connection to a PostgreSQL server broke while a statement or its COMMIT was in flight (the server
    restarted, an administrator ended the session, the network dropped). A transaction whose COMMIT was not sent
    rolled back on the server, so it can run again as a whole: `tunesmith.storage._engine.Connections.run` does,
    on a new connection, after first reading whether a COMMIT the loss cut off landed."""


class DatabaseBusy(StorageUnavailable):
    """Another connection held the SQLite database's write lock (SQLITE_BUSY), so the statement did nothing: SQLite
    applies no part of a statement, nor of a COMMIT, that it refuses as busy, so the transaction can run again as a
    whole. SQLite waits for the lock in C, where Python runs no signal handler, so it waits only a short slice at a
    time and `tunesmith.storage._engine.Connections.run` tries again until the busy timeout has passed, acting on
    Ctrl-C or SIGTERM between tries; the message, worded for the whole busy timeout, is shown only then."""


class CommitUnknown(StorageUnavailable):
    """The connection broke during a transaction's COMMIT and whether the COMMIT landed could not be read back
    (the server did not come back in time, or another writer changed what it wrote since). The message names
    what was being written and what storage may hold."""


def unsupported_scheme(url: str, scheme: str, known: Sequence[str] = _KNOWN) -> StorageError:
    """A URL whose scheme no storage serves (``mysql://``), with the close one if there is one."""
    close = difflib.get_close_matches(scheme.lower(), list(known), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return StorageError(
        f"unknown storage {scheme.lower()!r}: {hint}tunesmith stores studies in {_SUPPORTED} or 'memory', not at {url}"
    )


def bad_sqlite_url(url: str, parsed: sa.URL) -> StorageError:
    """``sqlite://tmp/x.db``: two slashes, so the first part of the path was read as a host name."""
    if parsed.host and not (parsed.username or parsed.password or parsed.port):
        relative = f"{parsed.host}/{parsed.database or ''}".rstrip("/")
        return StorageError(
            f"{url} has two slashes after 'sqlite:', so {parsed.host!r} was read as a host name: write "
            f"sqlite:///{relative} for the relative path {relative} (three slashes) or sqlite:////{relative} "
            f"for the absolute path /{relative} (four slashes)"
        )
    return StorageError(f"{url} is not a SQLite URL: SQLite has no user, host or port; write {SQLITE_FORMS}")


def missing_driver(url: str, drivername: str, exc: ImportError) -> StorageError:
    """The URL names a driver that is not installed."""
    if drivername in ("postgresql", "postgresql+psycopg"):
        fix = "pip install 'tunesmith[postgres]'"
    else:
        fix = "use postgresql://... (psycopg 3, pip install 'tunesmith[postgres]') or install that driver"
    return StorageError(f"the driver for {drivername!r} ({url}) is not installed ({exc}): {fix}")


def missing_database(url: str, database: str) -> DatabaseMissing:
    """A reading command was pointed at a SQLite file that does not exist (``database``: the URL's path)."""
    relative = "" if os.path.isabs(database) else f"; a relative path is read from {os.getcwd()}: {SQLITE_FORMS}"
    return DatabaseMissing(
        f"no database at {os.path.abspath(database)} ({url}): check the path (`tunesmith run CONFIG` creates "
        f"it){relative}"
    )


def no_schema(url: str) -> StorageUnavailable:
    """A reading command was pointed at a database with no tunesmith tables."""
    return StorageUnavailable(
        f"{url} holds no tunesmith database (no tunesmith tables): check the path or database name "
        "(`tunesmith run CONFIG` creates it)"
    )


# Tables every Optuna storage holds (its RDB schema): a database with all of them is Optuna's.
_OPTUNA_TABLES = frozenset({"studies", "trials", "version_info", "study_directions", "trial_params"})
# Table names a refusal lists before saying how many more there are.
_TABLES_SHOWN = 5


def foreign_database(url: str, tables: Sequence[str]) -> StorageUnavailable:
    """A database that holds ``tables`` but no tunesmith schema: another program's, which tunesmith must not write
    into (its tables may clash with tunesmith's, and its owner does not expect them)."""
    if _OPTUNA_TABLES.issubset(tables):
        return StorageUnavailable(
            f"{url} holds an Optuna database, not a tunesmith one, and tunesmith writes only into its own database "
            "or an empty one, so it left this one untouched: to continue an Optuna study under tunesmith, copy it "
            f"into a database of its own with `tunesmith import-optuna --from {url} --study NAME --storage "
            "sqlite:///tunesmith.db`, or name another file or database"
        )
    names = sorted(tables)
    shown = ", ".join(names[:_TABLES_SHOWN])
    more = f" and {len(names) - _TABLES_SHOWN} more" if len(names) > _TABLES_SHOWN else ""
    return StorageUnavailable(
        f"{url} holds another program's tables ({shown}{more}) and no tunesmith schema, and tunesmith writes only "
        "into its own database or an empty one, so it left this one untouched: check the path or database name, or "
        "name another file or database (sqlite:///tunesmith.db)"
    )


def no_file_path(url: str) -> StorageError:
    """A SQLite URL naming no file (``sqlite:///``, what ``sqlite:///$DB`` gives with ``DB`` unset) or SQLite's
    in-memory database: either would run a study into memory and keep nothing, silently."""
    return StorageError(
        f"a SQLite storage URL must name a database file, got {url!r}, which would keep the study in memory and "
        f"lose it when the process ends: write {SQLITE_FORMS}, or storage 'memory' to keep nothing on purpose"
    )


def lost(path: str, what: str, last_trial: int | None, saved: bool = False) -> StorageLost:
    """The database file went away while in use: ``what`` says how (was deleted, replaced, truncated,
    had its -wal file deleted); ``saved``: what the open connections still read of it is saved beside it when the
    storage closes (`DatabaseFile`)."""
    if last_trial is None:
        stored = "nothing this process wrote since it opened the file is sure to be stored"
    else:
        stored = f"nothing after trial {last_trial} was stored"
    where = os.path.abspath(path)
    keep = (f" (when this process closes the storage, what it still reads of the old file is saved as "
            f"{where}.lost-<time>-<pid>, and its -wal and -shm are taken from the path)" if saved else "")  # fmt: skip
    return StorageLost(f"the SQLite database {where} {what} while in use: {stored}; restore the file or start a new "
                       f"study{keep}")  # fmt: skip


def wal_lost(path: str, what: str) -> StorageLost:
    """The database's ``-wal`` file went away while in use (``what``: was deleted, was replaced).

    The open connections keep the deleted file and write it back into the database when the last of them
    closes (the storage closes them on exit); a process killed before then loses what the file held.
    """
    where = os.path.abspath(path)
    return StorageLost(
        f"the SQLite database {where}'s -wal file {what} while in use: another program removed it (the writes "
        "since the last checkpoint live only in it); this process stops writing and hands what it holds back to "
        f"the database when it closes it (a process killed now loses those trials): leave {where}-wal and -shm "
        "alone while a study runs, then run again to resume"
    )


def os_failure(url: str, path: str, exc: OSError, doing: str) -> StorageUnavailable:
    """Creating the database file or its directory failed (permissions, a full disk or quota, a file-size limit,
    a file in the way)."""
    where = os.path.abspath(path)
    if exc.errno == errno.ENOSPC:
        fix = "free some space and run again"
    elif exc.errno == errno.EDQUOT:
        fix = "your disk quota is used up (`quota -s` shows it): free space within it or have it raised, and run again"
    elif exc.errno == errno.EFBIG:
        fix = "a file would exceed this process's file-size limit (`ulimit -f`): raise the limit and run again"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = "choose a path you can write to, or fix the directory's permissions"
    elif exc.errno == errno.EISDIR:
        fix = "that path is a directory: name a file inside it, such as tunesmith.db"
    else:
        fix = f"check the path; URLs are {SQLITE_FORMS}"
    return StorageUnavailable(f"cannot {doing} {where} ({url}): {exc.strerror or exc}: {fix}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def gave_up(url: str, lost: StorageUnavailable, seconds: float) -> ConnectionLost:
    """A transaction the lost connection cut off before its COMMIT, run again for ``seconds`` in vain: it rolled
    back every time, so nothing of it is stored."""
    return ConnectionLost(
        f"lost the connection to PostgreSQL at {url} ({_first_line(lost.__cause__ or lost)}) and could not run the "
        f"transaction again within {seconds:g} s: it rolled back, so nothing of it was stored; run again when the "
        "server is back (the study resumes where it stopped)"
    )


def commit_unknown(url: str, lost: StorageUnavailable, what: str, holds: str, seconds: float | None) -> CommitUnknown:
    """The lost connection cut off the COMMIT of ``what`` and whether it landed cannot be read: the server did not
    come back within ``seconds``, or (``seconds=None``) ``holds`` says why the stored data cannot tell."""
    said = _first_line(lost.__cause__ or lost)
    if seconds is None:
        return CommitUnknown(f"lost the connection to PostgreSQL at {url} ({said}) while committing {what}: {holds}")
    return CommitUnknown(
        f"lost the connection to PostgreSQL at {url} ({said}) while committing {what}, and it did not come back "
        f"within {seconds:g} s to read whether that landed: {holds}; run again when the server is back (the study "
        "resumes where it stopped)"
    )


def reconnect_hint(seconds: float) -> str:
    """How to wait longer for a PostgreSQL server (the storage URL's ``reconnect_for``)."""
    longer = max(300, int(seconds * 5))
    return f"?reconnect_for={longer} (seconds) at the end of the storage URL waits longer (now {seconds:g} s)"


def still_gone(url: str, gone: ServerGone, seconds: float) -> ServerGone:
    """``gone`` once the engine has tried again for ``seconds`` in vain (`Connections`): what to check, and how to
    wait longer for a server that takes longer to come back."""
    within = f"within {seconds:g} s" if seconds > 0 else "at once"
    if _starting(gone.said) is not None:
        advice = (
            f"it did not accept connections {within}; run again once it has started (the study resumes where it "
            f"stopped), or: {reconnect_hint(seconds)}"
        )
    elif gone.reached_before:
        advice = (
            f"it did not come back {within}; run again when the server is back (the study resumes where it "
            f"stopped), or for a restart that takes longer: {reconnect_hint(seconds)}"
        )
    else:
        tried = f"tried for {seconds:g} s: " if seconds > 0 else ""
        advice = (
            f"{tried}check that the server runs and accepts TCP connections at that host and port, and the user, "
            f"password and database name; for a server that takes longer to start: {reconnect_hint(seconds)}"
        )
    return ServerGone(f"{gone}; {advice}", said=gone.said, reached_before=gone.reached_before)


def _file_size_limit() -> int | None:
    """This process's file-size limit in bytes (``RLIMIT_FSIZE``, what ``ulimit -f`` sets), ``None`` when unlimited.

    A write past it fails with EFBIG (Python ignores the SIGXFSZ that would otherwise kill the process), which
    SQLite reports as a "disk I/O error", or as "database or disk is full" when the write stopped at the limit.
    """
    if sys.platform == "win32":
        return None
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    return None if soft == resource.RLIM_INFINITY else soft


def _at_size_limit(path: str, limit: int) -> tuple[str, int] | None:
    """The file of the database at ``path`` (itself, its -wal, -journal or -shm) that ends within one write of
    ``limit`` bytes, with its size: a write to it was refused by the limit. ``None`` when none does."""
    for suffix in _SQLITE_FILES:
        try:
            size = os.stat(path + suffix).st_size
        except OSError:
            continue
        if size > limit - _ONE_WRITE:
            return os.path.abspath(path + suffix), size
    return None


def _free_bytes(path: str) -> int | None:
    """Bytes free to this user on the disk holding ``path``; ``None`` where that cannot be read."""
    try:
        stat = os.statvfs(os.path.dirname(os.path.abspath(path)))
    except (OSError, AttributeError):  # no statvfs on Windows
        return None
    return stat.f_bavail * stat.f_frsize


def _write_refused(primary: int, path: str, where: str, said: str, name: str) -> StorageUnavailable:
    """SQLITE_FULL or SQLITE_IOERR on the database at ``path``: a file-size limit reached, else a full disk (SQLite
    often fails to grow its -shm file first there, and says only "disk I/O error"), else every cause that fits:
    sqlite3 gives no errno to tell a used-up quota (EDQUOT) from a failing disk. Never advice to replace the file:
    a refused write leaves it as it was."""
    limit = _file_size_limit()
    reached = None if limit is None else _at_size_limit(path, limit)
    if limit is not None and reached is not None:
        grown, size = reached
        return StorageUnavailable(
            f"the SQLite database {where} reached this process's file-size limit ({said}): {grown} holds {size:,} "
            f"bytes and the limit (`ulimit -f`, RLIMIT_FSIZE) is {limit:,} bytes; raise it (`ulimit -f unlimited`, "
            f"or the job scheduler's file-size setting) and run again: {_NO_RESTORE}"
        )
    free = _free_bytes(path)
    if primary == _SQLITE_FULL or (free is not None and free < _NEARLY_FULL):
        # SQLITE_FULL is a write cut short: no room on the disk, or in this user's quota of it.
        quota = (
            f"; the disk shows {free:,} bytes free now, so your disk quota (`quota -s`) may be what is full"
            if free is not None and free >= _NEARLY_FULL
            else ""
        )
        return StorageUnavailable(
            f"the disk holding {where} is full ({said}): nothing more can be stored; free some space and run again "
            f"(the study resumes where it stopped){quota}"
        )
    limited = "" if limit is None else f": {limit:,} bytes here"
    return StorageUnavailable(
        f"SQLite failed on the database {where} ({said}, {name}), and the error does not say why: a disk quota used "
        f"up (`quota -s` shows yours), a file-size limit (`ulimit -f`{limited}), a full or failing disk, or a network "
        "file system that dropped the file (see the system log). Fix the cause and run again (the study resumes where "
        f"it stopped); SQLite rolls a refused write back, so the file is normally intact: "
        f"`sqlite3 {shlex.quote(where)} 'PRAGMA integrity_check'` says whether it is"
    )


def _sqlite(orig: Any, url: str, path: str | None, busy_timeout: float) -> StorageError:
    code = getattr(orig, "sqlite_errorcode", None)
    primary = None if code is None else code & 0xFF
    said = _first_line(orig)
    where = path or url
    if primary == _SQLITE_NOTADB:
        return StorageUnavailable(
            f"{where} is not a SQLite database ({said}): check the path, or move that file away "
            "and let `tunesmith run` create a new database there"
        )
    if primary == _SQLITE_CORRUPT:
        return StorageLost(
            f"the SQLite database {where} is damaged ({said}): was it truncated, overwritten or copied while in "
            "use? Restore it from a copy, or start a new study in another file"
        )
    if primary in (_SQLITE_FULL, _SQLITE_IOERR) and path is not None:
        name = getattr(orig, "sqlite_errorname", None) or f"SQLite error {code}"
        return _write_refused(primary, path, where, said, name)
    if primary == _SQLITE_FULL:
        return StorageUnavailable(
            f"the disk holding {where} is full ({said}): nothing more can be stored; free some space and "
            "run again (the study resumes where it stopped)"
        )
    stuck = _read_only_companion(path) if primary in (_SQLITE_READONLY, _SQLITE_PERM) and path else None
    if stuck is not None:
        return StorageUnavailable(
            f"the SQLite database {where} is writable but its {stuck} is not ({said}), and SQLite writes through "
            "both (a read of the database while it was read-only left that file with its mode then): once no "
            f"process has the database open, delete {stuck} (SQLite makes it again), or make it writable "
            f"(chmod u+w {shlex.quote(stuck)}), and run again"
        )
    if primary in (_SQLITE_READONLY, _SQLITE_PERM):
        return StorageUnavailable(
            f"{where} is read-only here ({said}): reading works, writing does not; run this where the file and "
            "its directory are writable, or copy the database (with its -wal file) somewhere writable"
        )
    if primary == _SQLITE_CANTOPEN:
        return StorageUnavailable(
            f"cannot open the SQLite database {where} ({said}): check that the path exists and that you may "
            "read it; a read-only directory also needs the database's -wal and -shm files next to it, so copy "
            "them with it"
        )
    if primary == _SQLITE_IOERR:
        return StorageUnavailable(
            f"disk I/O error on the SQLite database {where} ({said}): a disk quota used up, a file-size limit "
            "(`ulimit -f`), a full or failing disk; fix the cause and run again (the study resumes where it stopped)"
        )
    if primary in (_SQLITE_BUSY, _SQLITE_LOCKED):
        # SQLITE_LOCKED (a conflict inside one process's shared cache) is returned at once, without SQLite's busy
        # wait, so waiting again would change what it does: only SQLITE_BUSY is tried again.
        busy = DatabaseBusy if primary == _SQLITE_BUSY else StorageUnavailable
        return busy(
            f"the SQLite database {where} {_stayed_locked('busy', busy_timeout, said)}: another process holds a "
            f"long write; retry, or raise the timeout: ?timeout={_longer(busy_timeout)} (seconds) at the end of the "
            f"storage URL, or SQLStorage(busy_timeout={_longer(busy_timeout)})"
        )
    return StorageUnavailable(f"the SQLite database {where} failed: {said}")


def _read_only_companion(path: str) -> str | None:
    """The ``-shm`` or ``-wal`` file of the writable database ``path`` that exists but cannot be written
    (``None``: neither, or the database itself is read-only, which the usual message covers)."""
    if not os.access(path, os.W_OK):
        return None
    for suffix in ("-shm", "-wal"):
        companion = os.path.abspath(path + suffix)
        if os.path.exists(companion) and not os.access(companion, os.W_OK):
            return companion
    return None


def _stayed_locked(which: str, timeout: float, said: str) -> str:
    return f"stayed locked longer than the {which} timeout ({timeout:g} s) ({said})"


def _longer(timeout: float) -> int:
    """A timeout worth suggesting in place of ``timeout``: five times as long, at least 300 s."""
    return max(300, int(timeout * 5))


# PostgreSQL SQLSTATE codes worth a sentence of their own.
_PG_STATES = {
    "53100": "the server's disk is full: free space on it and run again (the study resumes where it stopped)",
    "53300": "the server refuses more connections: lower the number of workers or raise max_connections",
    "25006": "the database is read-only (a standby?): connect to the primary server",
    "42501": "this role may not write here: grant it write rights (CREATE on the schema to make tunesmith's tables; "
    "SELECT, INSERT, UPDATE and DELETE on them and USAGE on their sequences to run studies), connect as the "
    "database's owner, or use another database",
    "42P07": "the database holds a table of that name that is not tunesmith's: use another database",
    "3D000": "that database does not exist: create it (createdb) or check its name in the URL",
    "28P01": "password authentication failed: check the user and password",
    "28000": "the server refused this user: check the user and the server's pg_hba.conf",
    # not a SQLSTATE: libpq's own refusal to connect without a password the server asks for
    "no password": "the server asks for a password and none was given: write it in the URL "
    "(postgresql://user:PASSWORD@host/db) or keep it in ~/.pgpass, and pass the URL with --storage-file",
}
# psycopg reports a failure to connect with no sqlstate (3.3), so the server's message says which it was:
# the English texts the server sends (lc_messages other than English: only the generic advice applies).
_PG_MESSAGES = (
    (re.compile(r"password authentication failed"), "28P01"),
    (re.compile(r"no password supplied"), "no password"),
    (re.compile(r'database "[^"]*" does not exist'), "3D000"),
    (re.compile(r'pg_hba\.conf|role "[^"]*" does not exist|is not permitted to log in'), "28000"),
    (re.compile(r"too many (clients|connections)|connection slots are reserved"), "53300"),
    (re.compile(r"the database system is (starting up|shutting down|in recovery|not yet accepting)"), "57P03"),
)
# What a server that answers "cannot connect now" (57P03) is doing, read from its (English) message.
_NOT_READY = (
    ("starting up", "is starting up"),
    ("shutting down", "is shutting down"),
    ("in recovery", "is recovering (replaying its log after a crash or a restart)"),
    ("not yet accepting", "does not accept connections yet"),
)


def _starting(said: str) -> str | None:
    """What a PostgreSQL server that refuses connections for now says it is doing (``is starting up``), or
    ``None`` when ``said`` is no such refusal."""
    return next((doing for words, doing in _NOT_READY if f"the database system is {words}" in said), None)


def _sqlstate(orig: Any) -> str | None:
    """The SQLSTATE of a psycopg error, read from the server's message when psycopg gives none."""
    state = getattr(orig, "sqlstate", None)
    if state:
        return str(state)
    text = str(orig)
    return next((code for pattern, code in _PG_MESSAGES if pattern.search(text)), None)


# libpq's and psycopg's words for a connection that reached no server able to answer: refused (nothing listens;
# a missing unix socket means the same), timed out, a host name that resolves to no address (DNS may be down), the
# connection dropped on its way. With the 08 and 57P SQLSTATE classes these are what a first connection waits out:
# any other refusal is an answer that stays the same however long one waits.
_UNREACHABLE = re.compile(
    r"Connection refused|No such file or directory|timeout expired|timed out|could not translate host name|"
    r"failed to resolve host|No route to host|Network is unreachable|Connection reset by peer|"
    r"server closed the connection unexpectedly|Resource temporarily unavailable|SSL SYSCALL error|"
    r"SSL connection has been closed unexpectedly|could not (send|receive) data (to|from) server|"
    r"could not send (startup|SSL negotiation|GSSAPI negotiation) packet"
)
_LIBPQ_DOCS = "https://www.postgresql.org/docs/current/libpq-connect.html"
_TLS_VERSIONS = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
_PROTOCOL_VERSIONS = ("3.0", "3.2", "latest")
# The words libpq (18) takes for the options that take one of a few, as its documentation lists them.
_OPTION_WORDS: dict[str, tuple[str, ...]] = {
    "sslmode": ("disable", "allow", "prefer", "require", "verify-ca", "verify-full"),
    "gssencmode": ("disable", "prefer", "require"),
    "channel_binding": ("disable", "prefer", "require"),
    "sslnegotiation": ("postgres", "direct"),
    "sslcertmode": ("disable", "allow", "require"),
    "target_session_attrs": ("any", "read-write", "read-only", "primary", "standby", "prefer-standby"),
    "load_balance_hosts": ("disable", "random"),
    "ssl_min_protocol_version": _TLS_VERSIONS,
    "ssl_max_protocol_version": _TLS_VERSIONS,
    "min_protocol_version": _PROTOCOL_VERSIONS,
    "max_protocol_version": _PROTOCOL_VERSIONS,
    "require_auth": ("password", "md5", "gss", "sspi", "scram-sha-256", "oauth", "none"),
}
_VERIFYING = (
    "sslmode=verify-ca and verify-full check the server's certificate against a CA certificate (by default "
    "~/.postgresql/root.crt)"
)
_CLIENT_CERTIFICATE = (
    "the client certificate and its key (sslcert= and sslkey=, by default ~/.postgresql/postgresql.crt and .key) "
    "must both exist and belong together, and the key be readable by you alone (chmod 600): correct the paths or "
    "the files, or remove sslcert and sslkey from the URL"
)
# libpq's refusals of a combination of options: the fix for each. Its own words, in the message too, name them.
_COMBINATIONS = (
    (
        re.compile(r"weak sslmode .* sslnegotiation=direct"),
        "sslnegotiation=direct needs sslmode=require, verify-ca or verify-full: write one of them, or remove "
        "sslnegotiation",
    ),
    (
        re.compile(r"weak sslmode .* sslrootcert=system"),
        "sslrootcert=system needs sslmode=verify-full: write it, or name a CA certificate file in sslrootcert",
    ),
    (
        re.compile(r"require_auth method"),
        "require_auth lists either the methods to allow (require_auth=scram-sha-256,password) or, each with a !, "
        "those to refuse (require_auth=!md5,!password), each once: correct it in the URL",
    ),
    (
        re.compile(r"invalid SSL protocol version range"),
        "ssl_min_protocol_version is above ssl_max_protocol_version: lower the first or raise the second",
    ),
    (
        re.compile(r"could not match \d+ host names"),
        "host and hostaddr list one entry per server, so the URL must give as many of one as of the other",
    ),
    (
        re.compile(r"could not match \d+ port numbers"),
        "port lists one port per host, or a single one for them all: correct the URL's port or host",
    ),
    (
        re.compile(r"host name must be specified for a verified SSL connection"),
        "sslmode=verify-full checks the server's certificate against the host name and the URL gives only an "
        "address (hostaddr): give host= too, or write sslmode=verify-ca",
    ),
)
# The server's SSL, GSSAPI or certificate setup does not fit the URL's: the fix for each.
_NEGOTIATIONS = (
    (
        re.compile(r"GSSAPI encryption required|doesn't support GSSAPI encryption, but it was required"),
        "gssencmode=require needs a Kerberos ticket (kinit), a TCP connection (not a unix socket) and a server that "
        "offers GSSAPI encryption: get a ticket, or write gssencmode=prefer",
    ),
    (
        re.compile(r"channel binding (is )?required"),
        "channel_binding=require needs SSL and SCRAM authentication (scram-sha-256 in pg_hba.conf): connect with SSL "
        "to a server that asks for it, or write channel_binding=prefer",
    ),
    (
        re.compile(r"server did not request an SSL certificate"),
        "sslcertmode=require needs a server that asks for the client's certificate (clientcert in pg_hba.conf): have "
        "it ask, or write sslcertmode=allow",
    ),
    (
        re.compile(r"root certificate file|could not get home directory to locate root certificate"),
        f"{_VERIFYING}: name that file with sslrootcert=PATH (sslrootcert=system: the system's trusted roots), or "
        "write sslmode=require to encrypt without checking the certificate",
    ),
    (
        re.compile(r"certificate verify failed"),
        f"{_VERIFYING}, and no CA there signed it: name the right CA file with sslrootcert=PATH, or write "
        "sslmode=require to encrypt without checking the certificate",
    ),
    (
        re.compile(r"server certificate for .* does not match host name"),
        "sslmode=verify-full checks that the server's certificate names the host connected to: connect by a name "
        "the certificate holds, or write sslmode=verify-ca to check the certificate alone",
    ),
    (
        re.compile(
            r"could not (open|read) certificate file|certificate present, but not private key file|"
            r"could not (load|stat) private key file|certificate does not match private key file|private key file"
        ),
        _CLIENT_CERTIFICATE,
    ),
)
# SSL that failed to start for a reason libpq words no better (a server older than PostgreSQL 17 answering
# sslnegotiation=direct, something other than PostgreSQL at that port). On a connection that worked before, the
# same words can mean the server went down in the middle of the handshake, so only a first connection refuses them.
_SSL_FAILED = re.compile(
    r"SSL error:|received invalid response to SSL negotiation|received unencrypted data after SSL response|"
    r"SSL connection was established with unexpected ALPN|established without ALPN"
)


def _connection_options() -> list[str]:
    """The option names a PostgreSQL URL may carry: libpq's (as the installed one lists them) and tunesmith's."""
    try:
        from psycopg import pq
    except ImportError:  # psycopg2 alone: the options with values of their own are the likely misspellings
        return [*_OPTION_WORDS, "reconnect_for"]
    return [option.keyword.decode() for option in pq.Conninfo.get_defaults()] + ["reconnect_for"]


def _option_docs(option: str) -> str:
    return f"{_LIBPQ_DOCS}#LIBPQ-CONNECT-{option.upper().replace('_', '-')}"


def _did_you_mean(given: str, candidates: Sequence[str], written: str) -> str:
    """``did you mean X? `` for the candidate closest to ``given`` (``written`` formats it), or nothing."""
    close = difflib.get_close_matches(given, list(candidates), n=1)
    return f"did you mean {written.format(close[0])}? " if close else ""


def _asked_for_ssl(url: str) -> str:
    """Where the connection was told to require SSL: the URL's sslmode, else libpq's environment variable."""
    in_url = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).get("sslmode")
    if in_url:
        return f"the URL's sslmode={in_url[-1]}"
    if os.environ.get("PGSSLMODE"):
        return f"PGSSLMODE={os.environ['PGSSLMODE']} in the environment"
    return "the connection's sslmode"


def _whole_number(option: str, value: str) -> str:
    return f"{option} takes a whole number, got {option}={value!r}: write one in the URL (see {_option_docs(option)})"


def _refused_settings(text: str, url: str, connected_before: bool) -> str | None:
    """What of the connection's settings libpq, psycopg or the server refused in ``text`` (the driver's words),
    and the fix; ``None`` when ``text`` names no such refusal. Each comes back the same on every try, so waiting
    for it as for a server that cannot be reached would only delay the fix."""
    if found := re.search(r'invalid (?:connection option|URI query parameter:) "([^"]+)"', text):
        name = found[1]
        return (
            f"{name!r} is not a connection option: {_did_you_mean(name, _connection_options(), '{}')}correct or "
            f"remove it in the URL (the options: {_LIBPQ_DOCS}#LIBPQ-PARAMKEYWORDS)"
        )
    if found := re.search(r'invalid integer value "([^"]*)" for connection option "([^"]+)"', text):
        return _whole_number(found[2], found[1])
    if found := re.search(r"bad value for (\w+): '([^']*)'", text):  # psycopg reads connect_timeout itself
        return _whole_number(found[1], found[2])
    if found := re.search(r'invalid port number: "([^"]*)"', text):  # libpq before 18
        return _whole_number("port", found[1])
    if found := re.search(r'invalid "?(\w+)"? value: "([^"]*)"', text):
        option, value = found[1], found[2]
        words = _OPTION_WORDS.get(option)
        if words is None:
            return f"libpq does not take {option}={value!r}: correct it in the URL (see {_option_docs(option)})"
        meant = _did_you_mean(value.lstrip("!"), words, f"{option}={{}}")
        return (
            f"{option} takes one of {', '.join(words)}, got {option}={value!r}: {meant}correct it in the URL (see "
            f"{_option_docs(option)})"
        )
    if found := re.search(r'invalid value "([^"]*)" for (minimum|maximum) SSL protocol version', text):
        option = f"ssl_{'min' if found[2] == 'minimum' else 'max'}_protocol_version"
        meant = _did_you_mean(found[1], _TLS_VERSIONS, f"{option}={{}}")
        return f"{option} takes one of {', '.join(_TLS_VERSIONS)}, got {found[1]!r}: {meant}correct it in the URL"
    if "server does not support SSL, but SSL was required" in text:
        return (
            f"{_asked_for_ssl(url)} requires SSL and the server at that host and port does not offer it: turn SSL "
            "on at the server (ssl = on, with a certificate, in postgresql.conf), or write sslmode=prefer to use SSL "
            "only where the server offers it"
        )
    if found := re.search(r'unrecognized configuration parameter "([^"]+)"', text):
        return (
            f"the server has no setting {found[1]!r}, which the URL sets (options=-c {found[1]}=...): correct its "
            "name or remove it from the URL"
        )
    if found := re.search(r'invalid value for parameter "([^"]+)": "([^"]*)"', text):
        return (
            f"the server does not take {found[1]}={found[2]!r}, which the URL sets (in options=-c, or as an option "
            "of its own): correct it in the URL"
        )
    fix = next((fix for pattern, fix in (*_COMBINATIONS, *_NEGOTIATIONS) if pattern.search(text)), None)
    if fix is None and not connected_before and _SSL_FAILED.search(text):
        fix = (
            "SSL could not be set up with the server at that host and port: check the URL's SSL options (sslmode; "
            "sslnegotiation=direct needs PostgreSQL 17 or later; sslrootcert) against the server's SSL setup"
        )
    return fix


def _postgresql(
    orig: Any, url: str, connecting: bool, disconnected: bool, connected_before: bool, lock_timeout: float
) -> StorageError:
    said = _first_line(orig)
    state = _sqlstate(orig)
    if state in _PG_STATES:
        return StorageUnavailable(f"PostgreSQL at {url}: {said}: {_PG_STATES[state]}")
    if state == "55P03":  # lock_not_available: lock_timeout ran out
        return StorageUnavailable(
            f"the PostgreSQL database at {url} {_stayed_locked('lock', lock_timeout, said)}: another session "
            "holds a long write on the study (a stalled worker, a transaction left open in psql); retry, or raise "
            f"the timeout: SQLStorage(busy_timeout={_longer(lock_timeout)}), or "
            f"?options=-c%20lock_timeout%3D{_longer(lock_timeout)}s at the end of the storage URL"
        )
    refused = _refused_settings(str(orig), url, connected_before) if connecting else None
    if refused is not None:
        return StorageUnavailable(
            f"cannot connect to PostgreSQL at {url} ({said}): {refused} (tried once: waiting would not change this)"
        )
    gone = disconnected or (state or "").startswith(("08", "57P"))
    # A first connection waits only for a server it cannot reach; one the same URL reached before waits for any
    # failure without a SQLSTATE, since what changed is the server (a restart), not the URL.
    worth_waiting = _UNREACHABLE.search(str(orig)) is not None or (connected_before and state is None)
    if connecting and (gone or worth_waiting):  # waiting may help: a server restarting, starting up
        starting = _starting(said) if state == "57P03" else None
        if starting is not None:
            text = f"PostgreSQL at {url} {starting} ({said})"
        elif connected_before:
            text = (
                f"lost the connection to PostgreSQL at {url} ({said}): the server stopped or cannot be reached since "
                "this process connected to it"
            )
        else:
            text = f"cannot connect to PostgreSQL at {url} ({said})"
        return ServerGone(text, said=said, reached_before=connected_before)
    if connecting:  # an answer that is no outage: the same on every try
        return StorageUnavailable(
            f"cannot connect to PostgreSQL at {url} ({said}): check the URL's user, password, database name and "
            "options against the server's setup (tried once: only a server that cannot be reached is waited for)"
        )
    if gone:
        return ConnectionLost(
            f"lost the connection to PostgreSQL at {url} ({said}): the last write may not have been stored; "
            "run again when the server is back (the study resumes where it stopped)"
        )
    if (state or "").startswith("42"):  # syntax error or access rule violation: the tables are not as expected
        return StorageUnavailable(
            f"PostgreSQL at {url} refused a statement of tunesmith's ({said}, SQLSTATE {state}): the database's "
            "tables are not the ones this tunesmith expects; check that the URL names a tunesmith database that "
            "no other program or hand has changed, or use another database"
        )
    return StorageUnavailable(f"PostgreSQL at {url} failed: {said}")


def explain(
    exc: BaseException,
    url: str,
    *,
    path: str | None = None,
    connecting: bool = False,
    disconnected: bool = False,
    connected_before: bool = False,
    busy_timeout: float = 60.0,
) -> StorageError | None:
    """The `StorageError` to raise in place of a driver's exception, or ``None`` to let it through.

    Only failures of the storage itself are translated: an `sqlalchemy.exc.IntegrityError` (a
    unique index doing its job: another worker created the study first, a retry taken twice) or a
    `DataError` is tunesmith's own business and passes unchanged. A `ProgrammingError` is translated: the
    database refused a statement (a role without write rights, a table that is not tunesmith's), which no
    caller can act on but the user.

    Args:
        exc: the driver's exception (SQLAlchemy's ``original_exception``).
        url: the redacted URL, to name the storage.
        path: the SQLite file, when there is one.
        connecting: the exception was raised while connecting.
        disconnected: the driver lost the connection.
        connected_before: the engine had connected before: a failure to connect now means the server went
            away (`ServerGone`, which the engine retries), not a wrong address or password.
        busy_timeout: the seconds a write waits for a lock (SQLite's busy timeout, PostgreSQL's lock_timeout).
    """
    module = type(exc).__module__.split(".", 1)[0]
    # The DB-API classes it belongs to: psycopg's UniqueViolation is an IntegrityError.
    kinds = {cls.__name__ for cls in type(exc).__mro__}
    if kinds & {"IntegrityError", "DataError"}:
        return None
    if module == "sqlite3":
        return _sqlite(exc, url, path, busy_timeout)
    if module in ("psycopg", "psycopg2"):
        return _postgresql(exc, url, connecting, disconnected, connected_before, busy_timeout)
    if kinds & {"OperationalError", "InterfaceError", "InternalError", "DatabaseError"}:
        return StorageUnavailable(f"the storage {url} failed: {_first_line(exc)}")
    return None
