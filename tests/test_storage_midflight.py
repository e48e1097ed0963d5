"""A PostgreSQL connection lost while a transaction is in flight: the transaction runs again as a whole, and a
COMMIT the loss cut off is looked for first, so every write is stored exactly once.

Every test runs against a throwaway PostgreSQL server of its own (tests/pg.py), since some restart it. The
connection is lost for real: the server restarted between two statements of a transaction, the session
ended by ``pg_terminate_backend`` from a second connection, or the server's answer to a COMMIT dropped by a
TCP relay between the storage and the server (the COMMIT lands, the storage never hears so).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

import tunesmith as ts
from tests.pg import SUPERUSER, PostgresServer
from tunesmith.errors import StorageUnavailable
from tunesmith.storage import Proposal, SQLStorage
from tunesmith.trial import TrialState

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})
# The simple-protocol query libpq sends to commit: 'Q', its length (4 + 7), "COMMIT\0".
_COMMIT = b"Q\x00\x00\x00\x0bCOMMIT\x00"


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    """A server of this module's own: its tests restart it."""
    own = PostgresServer().start()
    try:
        yield own
    finally:
        own.stop()


def _restart(server: PostgresServer) -> None:
    """Stop the server (its sessions ended at once) and start it again on the same port."""
    result = server._run("pg_ctl", "-D", str(server.data), "-l", str(server.log), "-m", "fast", "-w", "-t", "60",
                         "restart")  # fmt: skip
    assert result.returncode == 0, result.stderr


def _terminate(server: PostgresServer, pid: int) -> None:
    """End session ``pid`` from another connection, and wait until it is gone."""
    server.psql(f"SELECT pg_terminate_backend({pid}, 10000)")


def _on_statement(storage: SQLStorage, starts: str, act: Callable[[Any], None], times: int = 1) -> list[str]:
    """Call ``act(dbapi_connection)`` just before the first ``times`` statements starting with ``starts`` run;
    the statements it acted before."""
    acted: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if len(acted) < times and statement.startswith(starts):
            acted.append(statement)
            act(cursor.connection)

    sa.event.listen(storage._engine, "before_cursor_execute", before)
    return acted


def _propose(number: int, history: object) -> Proposal:
    return Proposal(params={"x": 0.5}, seed=number)


def _count(server: PostgresServer, url: str, sql: str) -> int:
    with psycopg.connect(host="127.0.0.1", port=server.port, user=SUPERUSER, dbname=url.rsplit("/", 1)[1]) as conn:
        row = conn.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


class CommitRelay:
    """A TCP relay between the storage and the server that can drop the server's answer to the next COMMIT and
    close the connection: the COMMIT lands, the storage only sees its connection lost.

    ``cut_next_commit()`` arms it once; ``down`` closes every new connection at once (the network stays down);
    ``on_cut`` runs after the COMMIT landed and before the storage's connection is closed.
    """

    def __init__(self, server_port: int) -> None:
        self.server_port = server_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.down = False
        self.cuts = 0
        self.on_cut: Callable[[], None] | None = None
        self._armed = threading.Event()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()  # every connection's two ends, closed by close()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def url(self, database_url: str) -> str:
        return database_url.replace(f":{self.server_port}/", f":{self.port}/")

    def cut_next_commit(self) -> None:
        self._armed.set()

    def close(self) -> None:
        """Stop listening and end every connection, and wait for the relay's threads: nothing of it outlives
        the test. Closing a listening socket alone leaves a thread blocked in accept() on Linux, and the port
        still taking connections; shutting it down first wakes that thread."""
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        with self._lock:
            _close(*self._open)
        for thread in self._threads:
            thread.join(timeout=10)
            assert not thread.is_alive(), f"the relay's thread {thread.name} did not end"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.down:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.server_port))
            except OSError:  # the server is down: the storage sees its connection closed, as it would
                client.close()
                continue
            with self._lock:
                self._open.update((client, upstream))
            cut = threading.Event()  # set once this connection carried the armed COMMIT
            for target, ends in ((self._to_server, (client, upstream)), (self._to_client, (upstream, client))):
                thread = threading.Thread(target=target, args=(*ends, cut), daemon=True)
                self._threads.append(thread)
                thread.start()

    def _to_server(self, client: socket.socket, upstream: socket.socket, cut: threading.Event) -> None:
        while data := _receive(client):
            if self._armed.is_set() and _COMMIT in data:  # libpq writes a message whole
                self._armed.clear()
                cut.set()  # before the COMMIT goes on: its answer is the next thing the server sends
            try:
                upstream.sendall(data)
            except OSError:
                break
        _close(client, upstream)

    def _to_client(self, upstream: socket.socket, client: socket.socket, cut: threading.Event) -> None:
        while data := _receive(upstream):
            if cut.is_set():  # the answer to the COMMIT: it landed, the storage never hears so
                self.cuts += 1
                if self.on_cut is not None:
                    self.on_cut()
                break
            try:
                client.sendall(data)
            except OSError:
                break
        _close(client, upstream)


def _receive(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


def _close(*socks: socket.socket) -> None:
    for sock in socks:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()


@pytest.fixture
def relay(server: PostgresServer) -> Iterator[CommitRelay]:
    own = CommitRelay(server.port)
    try:
        yield own
    finally:
        own.close()


@pytest.fixture
def relayed(server: PostgresServer, relay: CommitRelay) -> Iterator[tuple[SQLStorage, str, int]]:
    """A storage reached through the relay, the database's direct URL and a study's id."""
    url = server.create_database()
    storage = SQLStorage(relay.url(url), reconnect_for=5.0)
    info, _ = storage.get_or_create_study("s", {}, now=0.0)
    try:
        yield storage, url, info.id
    finally:
        storage.close()


# The server restarts inside a write of a running study ------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    ["INSERT INTO trials", "INSERT INTO trial_values", "UPDATE trials SET state"],
    ids=["creating-a-trial", "storing-a-report", "storing-a-result"],
)
def test_a_server_restarted_inside_a_write_leaves_every_result_of_the_study_stored_once(
    server: PostgresServer, statement: str
) -> None:
    url = server.create_database()
    storage = SQLStorage(url)
    restarted = _on_statement(storage, statement, lambda _: _restart(server))
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=3), storage=storage, name="s", seed=0)

    def objective(trial: ts.Trial) -> float:
        for step in (1, 2, 3):
            trial.report(step, loss=trial.params["x"] / step)
        return float(trial.params["x"])

    try:
        result = study.optimize(objective, progress=False)
        records = study.trials
    finally:
        storage.close()
    assert len(restarted) == 1
    assert result.states == {"complete": 3}
    assert [r.number for r in records] == [0, 1, 2]
    assert all(r.intermediate == {s: {"loss": r.params["x"] / s} for s in (1, 2, 3)} for r in records)
    assert _count(server, url, "SELECT count(*) FROM trials") == 3
    assert _count(server, url, "SELECT count(*) FROM trial_values") == 9


# The session ends while a write waits for the study's lock ----------------------------------------


def test_a_write_whose_session_is_ended_while_it_waits_for_a_lock_runs_again_and_lands_once(
    server: PostgresServer,
) -> None:
    url = server.create_database()
    storage = SQLStorage(url)
    info, _ = storage.get_or_create_study("s", {}, now=0.0)
    storage.create_trial(info.id, _propose, max_trials=None, worker="w:1", now=1.0)
    database = url.rsplit("/", 1)[1]
    holder = psycopg.connect(host="127.0.0.1", port=server.port, user=SUPERUSER, dbname=database)
    watcher = psycopg.connect(host="127.0.0.1", port=server.port, user=SUPERUSER, dbname=database, autocommit=True)
    outcome: list[object] = []

    def finish() -> None:
        try:
            finished = storage.finish_trial(
                info.id, 0, TrialState.COMPLETE, metrics={"loss": 0.25}, reason=None, error=None, now=2.0
            )
            outcome.append(finished)
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            outcome.append(exc)

    def waiting() -> int:
        """The session waiting for the study's lock, once there is one."""
        for _ in range(200):
            row = watcher.execute(
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = %s", (database,)
            ).fetchone()
            if row is not None:
                return int(row[0])
            time.sleep(0.05)
        raise AssertionError("no session waits for the study's lock")

    try:
        holder.execute("SELECT id FROM studies WHERE id = %s FOR UPDATE", (info.id,))
        writer = threading.Thread(target=finish)
        writer.start()
        ended = waiting()
        _terminate(server, ended)
        assert waiting() != ended  # the write waits again, on a new connection
        holder.commit()
        writer.join(30)
        record = storage.get_trial(info.id, 0)
    finally:
        holder.close()
        watcher.close()
        storage.close()
    assert outcome == [True]
    assert record.state is TrialState.COMPLETE and record.metrics == {"loss": 0.25}


def test_a_transaction_cut_off_each_time_until_the_time_runs_out_says_nothing_of_it_was_stored(
    server: PostgresServer,
) -> None:
    url = server.create_database()
    storage = SQLStorage(url, reconnect_for=1.0)
    info, _ = storage.get_or_create_study("s", {}, now=0.0)
    storage.create_trial(info.id, _propose, max_trials=None, worker="w:1", now=1.0)
    _on_statement(storage, "INSERT INTO trial_values", lambda dbapi: _terminate(server, dbapi.info.backend_pid), 1000)
    try:
        with pytest.raises(StorageUnavailable) as raised:
            storage.add_report(info.id, 0, 1, {"loss": 0.5}, now=2.0)
    finally:
        storage.close()
    message = str(raised.value)
    assert message.startswith(f"lost the connection to PostgreSQL at {url} (")
    assert "could not run the transaction again within 1 s: it rolled back, so nothing of it was stored" in message
    assert _count(server, url, "SELECT count(*) FROM trial_values") == 0


# A COMMIT cut off: landed or not, each write is stored once -------------------------------------------


def test_a_result_whose_commit_was_cut_off_before_it_landed_is_recorded_by_running_it_again(
    server: PostgresServer,
) -> None:
    url = server.create_database()
    storage = SQLStorage(url)
    info, _ = storage.get_or_create_study("s", {}, now=0.0)
    storage.create_trial(info.id, _propose, max_trials=None, worker="w:1", now=1.0)
    ended: list[int] = []

    def end_session(conn: sa.Connection) -> None:
        if not ended:  # the session ends between the transaction's last statement and its COMMIT
            ended.append(conn.connection.dbapi_connection.info.backend_pid)  # type: ignore[union-attr]
            _terminate(server, ended[0])

    sa.event.listen(storage._engine, "commit", end_session)
    try:
        recorded = storage.finish_trial(info.id, 0, TrialState.COMPLETE, metrics={"loss": 0.25}, reason=None,
                                        error=None, now=2.0)  # fmt: skip
        record = storage.get_trial(info.id, 0)
    finally:
        storage.close()
    assert ended and recorded is True
    assert record.state is TrialState.COMPLETE and record.metrics == {"loss": 0.25}


def test_a_trial_whose_commit_landed_unheard_is_not_created_twice(
    relay: CommitRelay, relayed: tuple[SQLStorage, str, int]
) -> None:
    storage, _, study_id = relayed
    relay.cut_next_commit()
    created = storage.create_trial(study_id, _propose, max_trials=None, worker="w:1", now=1.0)
    assert relay.cuts == 1
    assert created is not None and created.number == 0
    assert [r.number for r in storage.get_trials(study_id)] == [0]


def test_a_report_whose_commit_landed_unheard_is_stored_once_and_not_refused(
    relay: CommitRelay, relayed: tuple[SQLStorage, str, int]
) -> None:
    storage, _, study_id = relayed
    storage.create_trial(study_id, _propose, max_trials=None, worker="w:1", now=1.0)
    relay.cut_next_commit()
    storage.add_report(study_id, 0, 1, {"loss": 0.5}, now=2.0)
    assert relay.cuts == 1
    assert storage.get_trial(study_id, 0).intermediate == {1: {"loss": 0.5}}


def test_a_result_whose_commit_landed_unheard_is_recorded_and_not_called_discarded(
    relay: CommitRelay, relayed: tuple[SQLStorage, str, int]
) -> None:
    storage, _, study_id = relayed
    storage.create_trial(study_id, _propose, max_trials=None, worker="w:1", now=1.0)
    relay.cut_next_commit()
    recorded = storage.finish_trial(study_id, 0, TrialState.COMPLETE, metrics={"loss": 0.25}, reason=None,
                                    error=None, now=2.0)  # fmt: skip
    assert relay.cuts == 1
    assert recorded is True  # False would tell the study the trial had ended before: its result discarded
    assert storage.get_trial(study_id, 0).metrics == {"loss": 0.25}


def test_an_attribute_appended_to_whose_commit_landed_unheard_is_appended_once(
    relay: CommitRelay, relayed: tuple[SQLStorage, str, int]
) -> None:
    storage, _, study_id = relayed
    storage.set_study_attr(study_id, "log", ["first"])
    relay.cut_next_commit()
    stored = storage.update_study_attr(study_id, "log", lambda log: [*log, "second"])
    assert relay.cuts == 1
    assert stored == ["first", "second"]
    assert storage.load_study("s").attrs["log"] == ["first", "second"]


# A COMMIT cut off and nobody can tell whether it landed ----------------------------------------------


def test_a_lost_commit_the_server_does_not_come_back_to_check_names_the_trial_and_what_storage_may_hold(
    server: PostgresServer, relay: CommitRelay
) -> None:
    url = server.create_database()
    storage = SQLStorage(relay.url(url), reconnect_for=1.0)
    info, _ = storage.get_or_create_study("s", {}, now=0.0)
    storage.create_trial(info.id, _propose, max_trials=None, worker="w:1", now=1.0)
    relay.on_cut = lambda: setattr(relay, "down", True)  # the network goes down with the COMMIT's answer
    relay.cut_next_commit()
    try:
        with pytest.raises(StorageUnavailable) as raised:
            storage.finish_trial(info.id, 0, TrialState.COMPLETE, metrics={"loss": 0.25}, reason=None, error=None,
                                 now=2.0)  # fmt: skip
    finally:
        storage.close()
    message = str(raised.value)
    assert message.startswith(f"lost the connection to PostgreSQL at {relay.url(url)} (")
    assert "while committing trial #0's outcome (complete, loss=0.25), and it did not come back within 1 s" in message
    assert "storage holds trial #0 either complete with this outcome or still running" in message
    assert "run again when the server is back" in message


def test_an_attribute_another_writer_changed_after_a_lost_commit_is_refused_with_what_to_check(
    server: PostgresServer, relay: CommitRelay, relayed: tuple[SQLStorage, str, int]
) -> None:
    storage, url, study_id = relayed
    storage.set_study_attr(study_id, "log", ["first"])
    other = SQLStorage(url)
    relay.on_cut = lambda: other.update_study_attr(study_id, "log", lambda log: [*log, "other"])
    relay.cut_next_commit()
    try:
        with pytest.raises(StorageUnavailable) as raised:
            storage.update_study_attr(study_id, "log", lambda log: [*log, "second"])
    finally:
        other.close()
    message = str(raised.value)
    assert f"while committing study attribute 'log' of study {study_id}: another writer has changed it since" in message
    assert "write it again if this write is missing" in message
    assert storage.load_study("s").attrs["log"] == ["first", "second", "other"]  # this write landed, as it happens
