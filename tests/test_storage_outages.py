"""A storage that fails in the middle of a study: a PostgreSQL server stopped or restarted, a lock held
by another session, a SQLite -wal file deleted, a damaged database read by the CLI.

Every test runs against the real thing: a throwaway PostgreSQL server of its own (tests/pg.py, the one
the conformance suite uses, started here because these tests stop and restart it), real SQLite files,
real locks held by a second connection.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

import tunesmith as ts
from tests.pg import PostgresServer
from tunesmith.cli import cli
from tunesmith.errors import StorageLost, StorageUnavailable
from tunesmith.storage import SQLStorage, open_storage
from tunesmith.trial import TrialState

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    """A server of this module's own: its tests stop it, restart it and change its pg_hba.conf."""
    own = PostgresServer().start()
    try:
        yield own
    finally:
        own.stop()


def _study(storage: SQLStorage | str, name: str, trials: int = 4) -> ts.Study:
    return ts.Study(
        SPACE, metric="loss", budget=ts.Budget(trials=trials), storage=storage, name=name, seed=0, sampler="random"
    )


# PostgreSQL: the server goes away during a study ----------------------------------------------------


def test_a_postgresql_server_down_for_a_second_is_invisible_to_the_study(server: PostgresServer) -> None:
    storage = SQLStorage(server.create_database())
    study = _study(storage, "restart")

    def objective(trial: ts.Trial) -> dict[str, float]:
        if trial.number == 1:  # the result is written while the server is down, and it is back a second later
            server.pause()
            threading.Timer(1.0, server.resume).start()
        return {"loss": trial.params["x"]}

    try:
        result = study.optimize(objective, progress=False)
        assert result.states == {"complete": 4}
        assert [r.state for r in study.trials] == [TrialState.COMPLETE] * 4
    finally:
        storage.close()


def test_a_server_that_stays_down_loses_the_connection_and_names_the_trial_and_its_result(
    server: PostgresServer,
) -> None:
    storage = SQLStorage(server.create_database(), reconnect_for=1.0)
    study = _study(storage, "down")
    returned: dict[str, float] = {}

    def objective(trial: ts.Trial) -> dict[str, float]:
        if trial.number == 1:
            server.pause()
            returned["loss"] = trial.params["x"]
        return {"loss": trial.params["x"]}

    try:
        with pytest.raises(StorageUnavailable) as raised:
            study.optimize(objective, progress=False)
    finally:
        server.resume()
        storage.close()
    message = str(raised.value)
    assert message.startswith(f"trial #1's result (loss={returned['loss']!r}) could not be stored: ")
    assert "lost the connection to PostgreSQL" in message and "run again when the server is back" in message
    assert "cannot connect" not in message and "password" not in message


def test_a_row_lock_held_by_another_session_stops_waiting_at_the_timeout(server: PostgresServer) -> None:
    url = server.create_database()
    storage = SQLStorage(url, busy_timeout=0.5)
    info, _ = storage.get_or_create_study("locked", {}, now=0.0)
    database = url.rsplit("/", 1)[1]
    holder = psycopg.connect(host="127.0.0.1", port=server.port, user="tunesmith", dbname=database)
    try:
        holder.execute("SELECT id FROM studies WHERE name = 'locked' FOR UPDATE")
        threading.Timer(5.0, holder.cancel_safe).start()  # without a lock timeout, the test fails instead of hanging
        began = time.monotonic()
        with pytest.raises(StorageUnavailable, match=r"stayed locked longer than the lock timeout \(0\.5 s\)"):
            storage.set_study_attr(info.id, "k", 1)
        assert time.monotonic() - began < 4.0
    finally:
        holder.close()
        storage.close()


def test_postgresql_connections_carry_the_lock_timeout_and_tcp_keepalives(server: PostgresServer) -> None:
    storage = SQLStorage(server.create_database(), busy_timeout=7)
    try:
        with storage._connections.open() as conn:
            assert conn.exec_driver_sql("SHOW lock_timeout").scalar() == "7s"
            parameters = conn.connection.dbapi_connection.info.get_parameters()  # type: ignore[union-attr]
        assert parameters["keepalives"] == "1" and int(parameters["keepalives_idle"]) > 0
    finally:
        storage.close()


# PostgreSQL: what the server says at connection time -----------------------------------------------


@pytest.fixture(scope="module")
def guarded(server: PostgresServer) -> PostgresServer:
    """The module's server with roles that fail to log in, each its own way."""
    server.psql("CREATE ROLE pw_user LOGIN PASSWORD 'right'")
    server.psql("CREATE ROLE refused_user LOGIN")
    server.psql("CREATE ROLE limited_user LOGIN CONNECTION LIMIT 0")
    hba = server.data / "pg_hba.conf"
    rules = "host all pw_user 127.0.0.1/32 scram-sha-256\nhost all refused_user 127.0.0.1/32 reject\n"
    hba.write_text(rules + hba.read_text())
    server.psql("SELECT pg_reload_conf()")
    return server


@pytest.mark.parametrize(
    ("user", "database", "advice"),
    [
        ("pw_user:wrong", "postgres", "password authentication failed: check the user and password"),
        ("tunesmith", "no_such_db", "that database does not exist: create it (createdb)"),
        ("refused_user", "postgres", "the server refused this user: check the user and the server's pg_hba.conf"),
        ("ghost", "postgres", "the server refused this user"),
        ("limited_user", "postgres", "the server refuses more connections: lower the number of workers"),
    ],
    ids=["wrong-password", "missing-database", "refused-user", "unknown-role", "too-many-connections"],
)
def test_a_refused_connection_gets_the_advice_for_what_the_server_said(
    guarded: PostgresServer, user: str, database: str, advice: str
) -> None:
    with pytest.raises(StorageUnavailable) as raised:
        open_storage(f"postgresql://{user}@127.0.0.1:{guarded.port}/{database}")
    message = str(raised.value)
    assert advice in message
    assert "check that the server runs" not in message and "wrong" not in message


# SQLite: a result that cannot be written ------------------------------------------------------------


def _hold_write_lock(path: Path, seconds: float) -> threading.Event:
    """Another connection takes the database's write lock for ``seconds``; the event is set once it holds it."""
    taken = threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        taken.set()
        time.sleep(seconds)
        conn.execute("COMMIT")
        conn.close()

    threading.Thread(target=hold, daemon=True).start()
    taken.wait(5)
    return taken


def test_a_result_that_cannot_be_written_is_named_and_recorded_as_a_storage_failure(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    storage = SQLStorage(f"sqlite:///{path}", busy_timeout=0.5)
    study = _study(storage, "s", trials=5)
    returned: dict[str, float] = {}

    def objective(trial: ts.Trial) -> dict[str, float]:
        loss = (trial.params["x"] - 0.3) ** 2
        if trial.number == 2:  # the lock outlasts one busy timeout, not two: the cut-short record is written
            _hold_write_lock(path, 0.8)
            returned["loss"] = loss
        return {"loss": loss}

    try:
        with pytest.raises(StorageUnavailable) as raised:
            study.optimize(objective, progress=False)
        message = str(raised.value)
        assert message.startswith(f"trial #2's result (loss={returned['loss']!r}) could not be stored: ")
        assert "stayed locked longer than the busy timeout (0.5 s)" in message and "?timeout=" in message
        record = next(r for r in study.trials if r.number == 2)
        assert record.state is TrialState.FAILED and record.reason == "storage failure"
        assert record.error is not None and f"loss={returned['loss']!r}" in record.error
        assert "interrupted" not in record.error
    finally:
        storage.close()


def test_a_timeout_in_a_sqlite_url_is_the_busy_timeout(tmp_path: Path) -> None:
    storage = open_storage(f"sqlite:///{tmp_path}/t.db?timeout=0.3")
    try:
        with storage._connections.open() as conn:  # type: ignore[attr-defined]
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 300
        info, _ = storage.get_or_create_study("s", {}, now=0.0)
        _hold_write_lock(tmp_path / "t.db", 1.0)
        with pytest.raises(StorageUnavailable, match=r"busy timeout \(0\.3 s\).*\?timeout=300 \(seconds\)"):
            storage.set_study_attr(info.id, "k", 1)
    finally:
        storage.close()


# SQLite: the -wal file deleted while a study runs ------------------------------------------------------


def test_a_deleted_wal_file_stops_the_next_write_and_closing_keeps_what_it_held(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    url = f"sqlite:///{path}"
    study = _study(url, "w", trials=6)
    study.optimize(lambda t: {"loss": t.params["x"]}, n_trials=3, progress=False)
    assert Path(f"{path}-wal").exists()
    os.remove(f"{path}-wal")
    os.remove(f"{path}-shm")
    with pytest.raises(StorageLost, match=r"w\.db's -wal file was deleted while in use"):
        study.optimize(lambda t: {"loss": t.params["x"]}, progress=False)
    study.storage.close()  # the last connection writes the deleted file's contents back into the database
    reread = SQLStorage(url)
    try:
        info = reread.load_study("w")
        assert [r.state for r in reread.get_trials(info.id)][:3] == [TrialState.COMPLETE] * 3
    finally:
        reread.close()


def test_reconnecting_after_the_storage_closed_its_connections_is_not_a_lost_wal(tmp_path: Path) -> None:
    storage = SQLStorage(f"sqlite:///{tmp_path}/r.db")
    try:
        info, _ = storage.get_or_create_study("s", {}, now=0.0)
        storage._engine.dispose()  # SQLite deletes the -wal with the last connection; the next one makes another
        storage.set_study_attr(info.id, "k", 1)
        storage.set_study_attr(info.id, "k", 2)
    finally:
        storage.close()


# The heartbeat thread says when it cannot write ------------------------------------------------------


def test_the_heartbeat_thread_says_at_once_that_the_storage_fails(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "h.db"
    study = ts.Study(SPACE, metric="loss", storage=f"sqlite:///{path}", name="h", heartbeat_interval=0.1)
    trial = study.ask()
    with caplog.at_level(logging.WARNING, logger="tunesmith"):
        os.remove(path)
        time.sleep(0.6)
    said = [r.getMessage() for r in caplog.records if r.name == "tunesmith"]
    assert len(said) == 1, said
    assert "cannot record that the running trials of study 'h' are alive" in said[0] and "was deleted" in said[0]
    with pytest.raises(StorageLost):
        study.tell(trial, {"loss": 1.0})
    study.storage.close()


# The CLI on a damaged database and exporting to stdout ----------------------------------------------


def _damaged_database(tmp_path: Path) -> Path:
    path = tmp_path / "damaged.db"
    study = _study(f"sqlite:///{path}", "d", trials=3)
    study.optimize(lambda t: {"loss": t.params["x"]}, progress=False)
    study.storage.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'trials'").fetchone()[0]
    conn.close()
    with path.open("r+b") as fh:  # the trials table's first page garbled, the studies table intact
        fh.seek((root - 1) * page_size)
        fh.write(bytes(range(256)) * (page_size // 256))
    return path


@pytest.mark.parametrize("command", ["trials", "best", "status"])
def test_reading_commands_show_a_damaged_database_as_one_line(tmp_path: Path, command: str) -> None:
    path = _damaged_database(tmp_path)
    result = CliRunner().invoke(cli, [command, "d", "--storage", f"sqlite:///{path}"])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Error: the SQLite database" in result.output and "is damaged" in result.output


def test_export_to_stdout_writes_a_none_choice_as_null_like_the_file(tmp_path: Path) -> None:
    space = ts.Space({"max_depth": ts.Choice([None, 3]), "lr": ts.Float(0.01, 1.0, log=True)})
    url = f"sqlite:///{tmp_path}/e.db"
    study = ts.Study(space, metric="loss", budget=ts.Budget(trials=6), storage=url, name="e", seed=0)
    study.optimize(lambda t: {"loss": t.params["lr"]}, progress=False)
    nones = [r.number for r in study.trials if r.params["max_depth"] is None]
    assert nones, "the seed must draw max_depth=None at least once"
    study.storage.close()
    printed = CliRunner().invoke(cli, ["export", "e", "--storage", url])
    assert printed.exit_code == 0, printed.output
    written = CliRunner().invoke(cli, ["export", "e", "--storage", url, "-o", str(tmp_path / "e.csv")])
    assert written.exit_code == 0, written.output
    assert printed.output == (tmp_path / "e.csv").read_text(encoding="utf-8")
    lines = printed.output.splitlines()
    column = lines[0].split(",").index("params.max_depth")
    assert [lines[n + 1].split(",")[column] for n in nones] == ["null"] * len(nones)
