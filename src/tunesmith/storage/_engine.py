"""The SQLAlchemy engine behind `SQLStorage`: one per storage, its failures explained in one place.

SQLite: WAL (switched on only in a tunesmith database or an empty one, since the mode is recorded in the
file), a busy timeout (the URL's ``?timeout=`` wins), ``BEGIN IMMEDIATE`` for writers; a file database is
created by the storage (never by a connection, so a deleted file is not silently recreated) and opened
read-only when it, its directory or its -shm/-wal cannot be written; a URL naming no file, or SQLite's
in-memory database, is refused (``"memory"`` keeps nothing on purpose). PostgreSQL: psycopg 3 with a connect
timeout, TCP keepalives and a ``lock_timeout`` equal to the busy timeout, so a row lock held by a stalled
session fails like a SQLite lock instead of waiting forever; a server that cannot be reached (stopped,
restarting, starting up), at the first connection or after, is tried again for ``reconnect_for`` seconds (60 by
default; a PostgreSQL URL's ``?reconnect_for=`` wins) before the failure is let through, every thread of the
process sharing one window per outage (a URL that libpq or the server refuses, a misspelt option or SSL the server
does not offer, fails at once: no wait changes it), and a transaction the lost connection cut off runs again as a whole
(`Connections.run`); within `without_waiting` a call tries once. A SQLite lock is waited for in slices of at most
half a second, tried again by `Connections.run` until the busy timeout has passed, so that Ctrl-C or SIGTERM is
acted on while another process holds the lock. Every driver exception goes through the
engine's ``handle_error`` event to `tunesmith.storage._failures`.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from tunesmith.errors import StorageError, StorageUnavailable
from tunesmith.storage._failures import (
    ConnectionLost,
    DatabaseBusy,
    ServerGone,
    bad_sqlite_url,
    commit_unknown,
    explain,
    gave_up,
    missing_database,
    missing_driver,
    no_file_path,
    no_schema,
    os_failure,
    reconnect_hint,
    still_gone,
    unsupported_scheme,
)
from tunesmith.storage._sql_schema import meta_table
from tunesmith.storage._sqlite_file import DatabaseFile, access_mode, connection_uri, from_file_uri, requested_mode

__all__ = ["RECONNECT_FOR", "Connections", "Landing", "make_engine", "url_reconnect_for", "without_waiting"]

_log = logging.getLogger("tunesmith")

Result = TypeVar("Result")

# Seconds to wait for a PostgreSQL server to answer (libpq waits forever by default); the URL's
# ``?connect_timeout=`` wins.
POSTGRESQL_CONNECT_TIMEOUT = 15
# libpq's TCP keepalives: a server that vanished without closing the connection (a dead host, a dropped
# network) is noticed after about 30 + 3 x 10 s instead of the kernel's two hours. The URL's values win.
_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}
# Pauses between attempts to reconnect to a PostgreSQL server that went away (a restart), doubling.
_FIRST_PAUSE, _LONGEST_PAUSE = 0.2, 2.0
# Seconds to keep trying a PostgreSQL server that cannot be reached: a restart of a busy server (a checkpoint at
# shutdown, crash recovery at start-up) takes tens of seconds. A PostgreSQL URL's ``?reconnect_for=`` wins.
RECONNECT_FOR = 60.0
# The most seconds SQLite waits for its database lock in one go. SQLite waits in C, where Python runs no signal
# handler, so a whole busy timeout there left SIGTERM unanswered for up to a minute (a supervisor sends SIGKILL
# after about 10 s); `Connections.run` tries again until the busy timeout has passed, Python acting on signals
# between tries.
_BUSY_SLICE = 0.5
# False within `without_waiting`: a server that cannot be reached is tried once.
_waiting: ContextVar[bool] = ContextVar("tunesmith_storage_waiting", default=True)


@contextmanager
def without_waiting() -> Iterator[None]:
    """Within the block, on this thread, a PostgreSQL server that cannot be reached is tried once instead of for
    ``reconnect_for`` seconds, and a transaction its lost connection cut off is not run again: for what must end
    promptly (a study stopping on Ctrl-C or SIGTERM) or comes again anyway (a heartbeat). The outage it finds still
    starts the window the other calls wait in."""
    token = _waiting.set(False)
    try:
        yield
    finally:
        _waiting.reset(token)


def make_engine(
    parsed: sa.URL,
    shown: str,
    *,
    busy_timeout: float,
    echo: bool,
    must_exist: bool,
    reconnect_for: float = RECONNECT_FOR,
) -> tuple[Engine, DatabaseFile | None, Connections]:
    """The engine for ``parsed``, the SQLite file it opened (``None``: a server), and the
    `Connections` every connection is to be taken through.

    Args:
        parsed: the URL.
        shown: the redacted URL, for messages.
        busy_timeout: seconds a SQLite writer waits for the database lock, and a PostgreSQL statement for a
            row lock (``lock_timeout``); a SQLite URL's ``?timeout=`` wins.
        echo: log every statement.
        must_exist: refuse a SQLite file that does not exist instead of creating it.
        reconnect_for: seconds to keep trying a PostgreSQL server that cannot be reached (stopped, restarting,
            starting up), at the first connection or after, before `ServerGone` is let through; the URL's
            ``?reconnect_for=`` wins.

    Raises:
        StorageError: the URL names no supported backend, is malformed, names no SQLite file (or SQLite's
            in-memory database), its driver is missing, or its ``reconnect_for`` is no number of seconds or is
            given to SQLite.
        StorageUnavailable: the SQLite file is missing (``must_exist``) or cannot be created.
    """
    backend = parsed.get_backend_name()
    parsed, reconnect_for = url_reconnect_for(parsed, shown, reconnect_for)
    database_file: DatabaseFile | None = None
    if backend == "sqlite":
        busy_timeout = url_busy_timeout(parsed, busy_timeout)
        engine, database_file = _sqlite_engine(parsed, shown, busy_timeout, echo, must_exist)
    elif backend == "postgresql":
        engine = _postgresql_engine(parsed, shown, echo, busy_timeout)
    else:
        raise unsupported_scheme(shown, backend)
    _explain_failures(engine, shown, database_file, busy_timeout)
    connections = Connections(
        engine, shown, wait=max(busy_timeout, 15.0), reconnect_for=reconnect_for, busy_timeout=busy_timeout
    )
    return engine, database_file, connections


def url_busy_timeout(parsed: sa.URL, busy_timeout: float) -> float:
    """The seconds a SQLite URL's ``?timeout=`` gives (the driver's own option), else ``busy_timeout``.

    Raises:
        StorageError: the timeout is not a number of seconds.
    """
    given = parsed.query.get("timeout")
    if given is None:
        return busy_timeout
    try:
        seconds = float(str(given))
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise StorageError(
            f"a SQLite URL's timeout is the seconds a writer waits for the database lock, got timeout={given!r}: "
            "write ?timeout=300"
        )
    return seconds


def url_reconnect_for(parsed: sa.URL, shown: str, reconnect_for: float) -> tuple[sa.URL, float]:
    """The URL without its ``?reconnect_for=`` (tunesmith's option, not the driver's) and the seconds it gives,
    else ``reconnect_for``: the URL travels to every worker (``--storage``, a storage file, ``TUNESMITH_STORAGE``),
    so that is where a longer wait for a server restart is written.

    Raises:
        StorageError: the value is not a number of seconds, or the URL is SQLite's (no server to wait for).
    """
    given = parsed.query.get("reconnect_for")
    if given is None:
        return parsed, reconnect_for
    if parsed.get_backend_name() == "sqlite":
        raise StorageError(
            f"{shown} gives reconnect_for={given!r}, the seconds to wait for a PostgreSQL server that cannot be "
            "reached, but a SQLite database is a file with no server to wait for: remove it from the URL"
        )
    try:
        seconds = float(str(given))
    except ValueError:
        seconds = -1.0
    if not (seconds >= 0 and math.isfinite(seconds)):
        raise StorageError(
            f"a PostgreSQL URL's reconnect_for is the seconds to keep trying a server that cannot be reached (a "
            f"restart), a number >= 0, got reconnect_for={given!r}: write ?reconnect_for=120"
        )
    return parsed.difference_update_query(["reconnect_for"]), seconds


def _postgresql_engine(parsed: sa.URL, shown: str, echo: bool, lock_timeout: float) -> Engine:
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    connect_args: dict[str, Any] = {}
    if parsed.drivername == "postgresql+psycopg":
        if "connect_timeout" not in parsed.query:
            connect_args["connect_timeout"] = POSTGRESQL_CONNECT_TIMEOUT
        connect_args.update({key: value for key, value in _KEEPALIVES.items() if key not in parsed.query})
        # The URL's own options come after ours, so that its -c lock_timeout=... wins.
        given = parsed.query.get("options", "")
        connect_args["options"] = f"-c lock_timeout={int(lock_timeout * 1000)} {given}".strip()
    try:
        return sa.create_engine(parsed, echo=echo, pool_pre_ping=True, connect_args=connect_args)
    except ImportError as exc:
        raise missing_driver(shown, parsed.drivername, exc) from None


def _open_file(parsed: sa.URL, shown: str, must_exist: bool) -> tuple[sa.URL, DatabaseFile]:
    """Create the database file unless it exists (or refuse a missing one); the URL without our options.

    A ``file:`` URI (``?uri=true``) is opened as the file it names, with the same checks.

    Raises:
        StorageError: the URL names no file (``sqlite:///``) or SQLite's in-memory database, which would keep
            nothing: ``"memory"`` is the storage that keeps nothing on purpose.
        StorageUnavailable: the file is missing (``must_exist``) or cannot be created.
    """
    plain = from_file_uri(parsed)
    if plain is None:
        raise no_file_path(shown)  # a file: URI of an in-memory database
    parsed, options = plain
    database = parsed.database or ""
    if database in ("", ":memory:"):
        raise no_file_path(shown)
    _refuse_home_shorthand(parsed, database, shown)
    requested = requested_mode(parsed.query)
    parsed = parsed.difference_update_query(["mode", "immutable"])
    path = os.path.abspath(database)
    if os.path.isdir(path):
        raise os_failure(shown, path, IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR)), "open")
    if not os.path.exists(path):
        if must_exist or requested is not None:
            raise missing_database(shown, database)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "ab"):
                pass  # an empty file is an empty SQLite database
        except OSError as exc:
            raise os_failure(shown, path, exc, "create the SQLite database") from None
    elif must_exist and os.path.getsize(path) == 0:
        raise no_schema(shown)  # before a connection writes the WAL header into it
    return parsed, DatabaseFile(path, access_mode(path, requested), options)


def _refuse_home_shorthand(parsed: sa.URL, database: str, shown: str) -> None:
    """Refuse ``sqlite:///~/x.db``: neither SQLite nor a URL expands ``~``, so the file would be created in a
    directory literally named ``~`` under the working directory, where no one looks for it.

    Raises:
        StorageError: naming the expanded absolute URL to write instead (and ``./~/`` for a directory that is
            really named ``~``).
    """
    first = database.replace(os.sep, "/").split("/", 1)[0]
    if not first.startswith("~"):
        return
    expanded = os.path.expanduser(database)
    if expanded == database:  # ~name of no known user
        fix = "write the absolute path with four slashes, sqlite:////path/to/the.db"
    else:
        absolute = parsed.set(database=expanded).render_as_string(hide_password=True)
        fix = f"write the absolute path instead, {absolute} (four slashes)"
    raise StorageError(
        f"{shown} starts its path with {first!r}, which a storage URL does not expand to a home directory (it "
        f"would name {os.path.join(os.getcwd(), first)}): {fix}, or sqlite:///./{database} for a path that really "
        f"starts with a directory named {first!r}"
    )


def _sqlite_engine(
    parsed: sa.URL, shown: str, busy_timeout: float, echo: bool, must_exist: bool
) -> tuple[Engine, DatabaseFile]:
    if parsed.host or parsed.username or parsed.password or parsed.port:
        raise bad_sqlite_url(shown, parsed)
    parsed, database_file = _open_file(parsed, shown, must_exist)
    lock_wait = min(busy_timeout, _BUSY_SLICE)  # `Connections.run` waits the rest of the busy timeout
    engine = sa.create_engine(parsed, echo=echo, connect_args={"timeout": lock_wait, "check_same_thread": False})
    read_only = database_file.read_only
    uri = connection_uri(database_file.path, database_file.mode, database_file.options)

    @sa.event.listens_for(engine, "do_connect")
    def _open_existing(_dialect: Any, _record: Any, cargs: list[Any], cparams: dict[str, Any]) -> None:
        # mode=rw: SQLite never creates the file, so a deleted database is not silently recreated.
        cargs[0] = uri
        cparams["uri"] = True

    sa.event.listen(engine, "connect", lambda conn, _record: database_file.connection_opened(conn))
    sa.event.listen(engine, "close", lambda conn, _record: database_file.connection_closed(conn))
    sa.event.listen(engine, "close_detached", lambda conn: database_file.connection_closed(conn))

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from pysqlite so that BEGIN IMMEDIATE below is honoured.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(lock_wait * 1000)}")
        if not read_only and _may_switch_to_wal(cursor, must_exist):
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers queue on the database lock at BEGIN instead of failing when a read lock
        # is upgraded; readers take no lock (WAL gives them a consistent snapshot).
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("writer") else "BEGIN")

    return engine, database_file


def _may_switch_to_wal(cursor: Any, must_exist: bool) -> bool:
    """Whether a connection may switch the file to WAL, a change SQLite records in the file and every program
    that opens it then follows: only on a tunesmith database (its ``tunesmith_meta`` table present) or an empty
    one tunesmith is about to make its own (not when ``must_exist``: that opener refuses an empty one). Another
    program's database is refused by `SQLStorage` and must be left byte for byte as it was."""
    names = {row[0] for row in cursor.execute("SELECT name FROM sqlite_master").fetchall()}
    return meta_table.name in names or (not names and not must_exist)


def _explain_failures(engine: Engine, shown: str, database_file: DatabaseFile | None, busy_timeout: float) -> None:
    path = None if database_file is None else database_file.path
    connected = threading.Event()  # once set, a failure to connect means the server went away

    @sa.event.listens_for(engine, "connect")
    def _connected(_dbapi_conn: Any, _record: Any) -> None:
        connected.set()

    @sa.event.listens_for(engine, "handle_error")
    def _explain(context: sa.engine.ExceptionContext) -> None:
        if context.is_pre_ping:
            return  # the pool reconnects by itself
        if database_file is not None:
            gone = database_file.check()  # a vanished file explains any error that follows
            if gone is not None:
                raise gone
        error = explain(
            context.original_exception,
            shown,
            path=path,
            connecting=context.connection is None,
            disconnected=context.is_disconnect,
            connected_before=connected.is_set(),
            busy_timeout=busy_timeout,
        )
        if error is not None:
            raise error


@dataclass(frozen=True)
class Landing(Generic[Result]):
    """How to tell whether a write whose COMMIT a lost connection cut off landed (`Connections.run`).

    Args:
        check: reads, in the transaction that would run the write again, whether the write that returned
            ``result`` is stored: ``True`` (it landed: ``result`` stands), ``False`` (it did not: run it again), or
            a text saying why storage cannot tell and what it holds.
        what: the write, for messages ("trial #7's outcome (COMPLETE, loss=0.25)"); ``None`` when the transaction
            that returned ``result`` wrote nothing, so that ``result`` stands whether its COMMIT landed or not.
        holds: what storage may hold when the check cannot be made.
    """

    check: Callable[[Connection, Result], bool | str]
    what: Callable[[Result], str | None]
    holds: Callable[[Result], str]


class Connections:
    """The engine's connections in use, so that closing waits for them instead of pulling them away.

    A connection checked out while the storage closes (a study's heartbeat thread beating) would go
    back to a pool the engine no longer holds, and stay open until the garbage collector finds it
    (psycopg then warns). `open` refuses once `close` began; `close` waits for the connections in use
    on other threads, then disposes of the engine; a connection still in use after the wait (or
    held by the closing thread itself) disposes of it again when it is returned. Thread-safe.

    A PostgreSQL server that cannot be reached (`ServerGone`: stopped, restarting, starting up, at the first
    connection or after one) is tried again, with pauses doubling from 0.2 s to 2 s, until ``reconnect_for``
    seconds after the outage was first found, by whichever thread found it: the threads of a process (a study's
    loop and its heartbeat) share one window per outage, so a call made late in an outage does not wait the whole
    window again, and one made after it gives up at its first failure. The first connection that works ends the
    outage. A first connection that must wait says so once, on the ``tunesmith`` logger (a wrong host or port
    waits as long as a server starting up). Only `ServerGone` is waited for: a first connection refused for a reason
    no wait changes (an option libpq does not know, a value it does not take, SSL the server does not offer, a
    missing database or role) raises at once, as `tunesmith.storage._failures.explain` words it. Within
    `without_waiting` a call tries once.

    A transaction run through `run` that SQLite refused as busy (`DatabaseBusy`: another process holds the database
    lock; SQLite waits for it in slices of at most half a second) runs again as a whole until ``busy_timeout``
    seconds after the call began, so the whole wait stays the busy timeout while Python acts on signals between
    tries.

    A transaction run through `run` whose connection broke in flight (`ConnectionLost`) runs again as a whole on
    a new connection until ``reconnect_for`` seconds after the loss (or the outage it fell in); one whose COMMIT
    the loss cut off first reads whether that COMMIT landed (its `Landing`), so no write applies twice.

    Args:
        engine: the storage's engine.
        shown: the redacted URL, for messages.
        wait: the most seconds `close` waits for connections in use.
        reconnect_for: the seconds to keep trying a server that cannot be reached.
        busy_timeout: the seconds to keep trying a SQLite database another process holds locked.
    """

    def __init__(
        self, engine: Engine, shown: str, wait: float, reconnect_for: float = 0.0, busy_timeout: float = 0.0
    ) -> None:
        self._engine = engine
        self._shown = shown
        self._wait = wait
        self._reconnect_for = reconnect_for
        self._busy_timeout = busy_timeout
        self._lock_wait = min(busy_timeout, _BUSY_SLICE)  # what SQLite waits for its lock in one try
        self._changed = threading.Condition()
        self._in_use: dict[int, int] = {}  # thread id -> connections it holds
        self._disposing = threading.Lock()  # close() returns only once every connection is closed
        self._outage = threading.Lock()
        self._down_since: float | None = None  # time.monotonic() when the server was found unreachable
        self.closed = False

    @property
    def reconnect_for(self) -> float:
        """The seconds a server that cannot be reached is tried for."""
        return self._reconnect_for

    @contextmanager
    def open(self, until: float | None = None) -> Iterator[Connection]:
        """A connection of the engine, returned to it at the end of the block.

        Args:
            until: the `time.monotonic` reading up to which to try a server that cannot be reached (``None``:
                ``reconnect_for`` seconds after the outage was first found).

        Raises:
            StorageError: the storage is closed.
        """
        with self._held(), self._connect(until) as conn:
            yield conn

    @contextmanager
    def _held(self) -> Iterator[None]:
        """This thread's use of the storage for the block, which `close` waits for: a connection checked out, or a
        transaction `run` tries again while SQLite's lock is held elsewhere (between its tries it holds no
        connection, yet a heartbeat in flight must not find the engine disposed under it). A new use is refused once
        the storage is closing, but a use within one already held goes on (the next try of that transaction).

        Raises:
            StorageError: the storage is closed.
        """
        me = threading.get_ident()
        with self._changed:
            if self.closed and me not in self._in_use:
                raise StorageError(f"the storage {self._shown} is closed: open it again to use it")
            self._in_use[me] = self._in_use.get(me, 0) + 1
        try:
            yield
        finally:
            with self._changed:
                self._in_use[me] -= 1
                if not self._in_use[me]:
                    del self._in_use[me]
                last = self.closed and not self._in_use
                self._changed.notify_all()
            if last:
                self._dispose()  # close() may have stopped waiting for this one: its connection is back now

    def _connect(self, until: float | None) -> Connection:
        """A connection of the engine, trying again while a server that cannot be reached may come back.

        Raises:
            ServerGone: the server did not come back in time (`still_gone`), or was tried once (`without_waiting`,
                or the storage is closing).
        """
        pause = _FIRST_PAUSE
        while True:
            try:
                conn = self._engine.connect()
            except ServerGone as exc:
                began, found = self._outage_began()
                if not _waiting.get() or self.closed:
                    raise
                left = (began + self._reconnect_for if until is None else until) - time.monotonic()
                if left <= 0:
                    raise still_gone(self._shown, exc, self._reconnect_for) from exc
                if found and not exc.reached_before:  # mid-run, the heartbeat says it (`_recovery`)
                    _log.warning(
                        "tunesmith: %s: trying again for up to %.0f s; %s",
                        exc,
                        left,
                        reconnect_hint(self._reconnect_for),
                    )
                time.sleep(min(pause, left))
                pause = min(pause * 2, _LONGEST_PAUSE)
            else:
                with self._outage:
                    self._down_since = None
                return conn

    def _outage_began(self) -> tuple[float, bool]:
        """When the outage under way was first found (`time.monotonic`), and whether that is now."""
        with self._outage:
            if self._down_since is not None:
                return self._down_since, False
            self._down_since = time.monotonic()
            return self._down_since, True

    def run(
        self, work: Callable[[Connection], Result], *, writer: bool = False, landing: Landing[Result] | None = None
    ) -> Result:
        """``work(conn)`` in one transaction, committed when ``writer`` (a read ends with the connection); what it
        returns.

        A transaction cut off by a lost connection (`ConnectionLost`) before its COMMIT rolled back on the
        server, so it runs again as a whole on a new connection, at once and then after pauses doubling from
        0.2 s, until ``reconnect_for`` seconds after the first loss (or after the outage under way was first found;
        once, within `without_waiting`). A transaction SQLite refused as busy (`DatabaseBusy`: a statement or COMMIT
        it refuses so applies nothing) runs again as a whole, until ``busy_timeout`` seconds after the call began
        (also within `without_waiting`, as the whole wait used to be spent in SQLite). A COMMIT the loss cut off may
        have landed: a
        write with a ``landing`` first has its `Landing.check` read whether it did, in the transaction that would
        run it again; a write without one must be harmless to run twice (a heartbeat, a value set again).

        Raises:
            ConnectionLost: the transaction was cut off before its COMMIT every time until the time ran out; nothing
                of it is stored.
            ServerGone: the server did not come back; nothing of the transaction is stored.
            DatabaseBusy: the SQLite database stayed locked for the busy timeout; nothing of the transaction is
                stored.
            CommitUnknown: a COMMIT was cut off and whether it landed cannot be read (the server did not come
                back in time, or the check cannot tell); the message names the write and what storage may hold.
        """
        locked_until = time.monotonic() + self._busy_timeout  # a database lock is waited for until then
        with self._held():  # the tries of one transaction are one use, which `close` waits for
            return self._tries(work, writer, landing, locked_until)

    def _tries(
        self, work: Callable[[Connection], Result], writer: bool, landing: Landing[Result] | None, locked_until: float
    ) -> Result:
        """`run`'s tries of ``work``, until one commits (or reads) or the time to try again runs out."""
        deadline: float | None = None  # reconnect_for after the first loss, or the outage it fell in
        pause = 0.0
        cut_off: tuple[Result, StorageUnavailable] | None = None  # a write whose COMMIT was cut off, and the loss
        busy = False  # SQLite refused a try as busy
        while True:
            ran: list[Result] = []  # once the work ran, a loss cuts off its COMMIT
            tried = time.monotonic()
            try:
                with self.open(deadline) as conn, self._waiting_for_lock(conn, locked_until - tried if busy else None):
                    if not writer:
                        return work(conn)
                    conn = conn.execution_options(writer=True)
                    with conn.begin():
                        if cut_off is not None and landing is not None and self._landed(landing, conn, *cut_off):
                            return cut_off[0]
                        cut_off = None
                        ran.append(work(conn))
                    return ran[0]
            except DatabaseBusy:
                if time.monotonic() >= locked_until:
                    raise
                busy = True
                # SQLite may refuse at once (a lock it cannot wait for): a try lasts its slice all the same.
                time.sleep(max(0.0, min(tried + self._lock_wait, locked_until) - time.monotonic()))
                continue
            except (ConnectionLost, ServerGone) as exc:
                if deadline is None:
                    if isinstance(exc, ServerGone):
                        raise  # the first connection could not be taken: _connect has waited already
                    deadline = self._outage_began()[0] + self._reconnect_for
                if ran and landing is not None:
                    if landing.what(ran[0]) is None:
                        return ran[0]  # it wrote nothing: what it read stands
                    cut_off = (ran[0], exc)
                if time.monotonic() >= deadline or self.closed or not _waiting.get():
                    if cut_off is not None and landing is not None:
                        what, holds = str(landing.what(cut_off[0])), landing.holds(cut_off[0])
                        raise commit_unknown(self._shown, exc, what, holds, self._reconnect_for) from exc
                    if isinstance(exc, ConnectionLost) and not ran:
                        raise gave_up(self._shown, exc, self._reconnect_for) from exc
                    raise
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(max(pause * 2, _FIRST_PAUSE), _LONGEST_PAUSE)

    @contextmanager
    def _waiting_for_lock(self, conn: Connection, left: float | None) -> Iterator[None]:
        """Within the block, SQLite waits at most ``left`` seconds for its lock when that is less than its slice,
        so that the last try ends when the busy timeout does; the slice is set again afterwards. ``None``: a try
        that follows none refused as busy (on PostgreSQL, always), left as it is."""
        if left is None or not 0 < left < self._lock_wait:
            yield
            return
        raw = conn.connection.driver_connection
        assert raw is not None  # a connection checked out of the pool is open
        raw.execute(f"PRAGMA busy_timeout = {int(left * 1000)}")
        try:
            yield
        finally:
            with suppress(Exception):  # a connection an interrupt invalidated is closed: nothing to set again
                raw.execute(f"PRAGMA busy_timeout = {int(self._lock_wait * 1000)}")

    def _landed(self, landing: Landing[Result], conn: Connection, result: Result, lost: StorageUnavailable) -> bool:
        """Whether the write that returned ``result`` landed before ``lost`` cut off its COMMIT (`Landing.check`).

        Raises:
            CommitUnknown: storage cannot tell.
        """
        landed = landing.check(conn, result)
        if isinstance(landed, str):
            raise commit_unknown(self._shown, lost, str(landing.what(result)), landed, None) from lost
        return landed

    def close(self) -> None:
        """Refuse new connections, wait for those in use on other threads, then close every connection."""
        me = threading.get_ident()
        with self._changed:
            self.closed = True
            self._changed.wait_for(lambda: not set(self._in_use) - {me}, timeout=self._wait)
        self._dispose()

    def _dispose(self) -> None:
        with self._disposing:
            self._engine.dispose()
