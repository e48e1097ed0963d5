"""A PostgreSQL server that cannot be reached for a while: the study waits for it (`reconnect_for`, 60 s by
default, ``?reconnect_for=`` in the URL), at the first connection as later, with its trials running and their
results kept; past that window it stops with one message naming every result it could not store, and an
interrupt during the outage stops at once and says what storage really holds.

The server is real (tests/pg.py), of this module's own, since these tests stop and start it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

import tunesmith as ts
from tests.pg import PostgresServer
from tunesmith.errors import StorageError, StorageUnavailable
from tunesmith.storage import SQLStorage
from tunesmith.storage._failures import ServerGone, explain, still_gone
from tunesmith.study._recovery import stopped_by
from tunesmith.trial import TrialState

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    own = PostgresServer().start()
    try:
        yield own
    finally:
        own.stop()


@pytest.fixture
def down_then_up(server: PostgresServer) -> Iterator[PostgresServer]:
    """The server, started again after the test if the test left it stopped."""
    yield server
    if server._run("pg_ctl", "-D", str(server.data), "status").returncode != 0:
        server.resume()


def _study(storage: SQLStorage, name: str, trials: int) -> ts.Study:
    return ts.Study(
        SPACE, metric="loss", budget=ts.Budget(trials=trials), storage=storage, name=name, seed=0, sampler="random"
    )


@pytest.mark.slow
def test_a_restart_longer_than_ten_seconds_is_ridden_out_with_the_trials_running_through_it(
    down_then_up: PostgresServer, tmp_path: Path
) -> None:
    server = down_then_up
    storage = SQLStorage(server.create_database())
    study = _study(storage, "restart", trials=4)
    calls = tmp_path / "calls"

    def objective(trial: ts.Trial) -> dict[str, float]:
        time.sleep(2.0)  # the first two trials run through the outage's start
        with calls.open("a") as fh:
            fh.write(f"{trial.number}\n")
        return {"loss": trial.params["x"]}

    threading.Timer(0.5, server.pause).start()
    threading.Timer(12.5, server.resume).start()
    try:
        result = study.optimize(objective, workers=2, executor="processes", progress=False)
        assert result.states == {"complete": 4}
        assert sorted(calls.read_text().split()) == ["0", "1", "2", "3"], "each trial ran once, none was cut short"
    finally:
        storage.close()


def test_results_that_cannot_be_stored_within_the_window_are_all_named_in_one_message(
    down_then_up: PostgresServer,
) -> None:
    server = down_then_up
    url = server.create_database()
    storage = SQLStorage(url, reconnect_for=1.0)
    study = _study(storage, "down", trials=2)

    def objective(trial: ts.Trial) -> dict[str, float]:
        # #0 ends while the server is down; #1 ends while the study waits for it, and is held with #0's
        time.sleep(1.5 if trial.number == 0 else 2.0)
        return {"loss": trial.params["x"]}

    threading.Timer(0.7, server.pause).start()
    try:
        with pytest.raises(StorageUnavailable) as raised:
            study.optimize(objective, workers=2, executor="processes", progress=False)
    finally:
        server.resume()
    try:
        returned = {r.number: r.params["x"] for r in study.trials}
        states = [r.state for r in study.trials]
    finally:
        storage.close()
    message = str(raised.value)
    assert message.startswith(f"trial #0's result (loss={returned[0]!r}) could not be stored: ")
    assert "did not come back within 1 s" in message and "?reconnect_for=" in message
    assert f"not stored either: trial #1's result (loss={returned[1]!r})" in message
    assert "trials #0, #1 are still recorded running there" in message
    assert states == [TrialState.RUNNING] * 2, "storage holds what the message says"


def test_an_interrupt_while_the_server_is_down_stops_at_once_and_says_the_trial_is_still_running(
    down_then_up: PostgresServer,
) -> None:
    server = down_then_up
    storage = SQLStorage(server.create_database())
    study = _study(storage, "sigterm", trials=3)
    stopped_at: list[float] = []

    def objective(trial: ts.Trial) -> float:
        server.pause()
        stopped_at.append(time.monotonic())
        raise KeyboardInterrupt  # Ctrl-C, or SIGTERM as the CLI raises it

    try:
        with pytest.raises(KeyboardInterrupt) as raised:
            study.optimize(objective, progress=False)
        waited = time.monotonic() - stopped_at[0]
        server.resume()
        states = [r.state for r in study.trials]
    finally:
        storage.close()
    assert waited < 5.0, "an interrupt does not wait for the storage"
    stopped = stopped_by(raised.value)
    assert stopped is not None and stopped.running == (0,) and stopped.interrupted == ()
    assert "storage did not answer, so trial #0 is still recorded running there" in stopped.describe()
    assert any("still recorded running" in note for note in raised.value.__notes__)
    assert states == [TrialState.RUNNING], "what storage holds: the trial was not recorded interrupted"


def test_an_interrupt_with_the_storage_answering_says_the_trial_is_recorded_interrupted(tmp_path: Path) -> None:
    storage = SQLStorage(f"sqlite:///{tmp_path}/i.db")
    study = _study(storage, "i", trials=3)

    def objective(trial: ts.Trial) -> float:
        raise KeyboardInterrupt

    try:
        with pytest.raises(KeyboardInterrupt) as raised:
            study.optimize(objective, progress=False)
        states = [(r.state, r.reason) for r in study.trials]
    finally:
        storage.close()
    stopped = stopped_by(raised.value)
    assert stopped is not None and stopped.interrupted == (0,) and stopped.all_recorded
    assert stopped.describe() == "trial #0 is recorded FAILED (interrupted), outside the trial budget"
    assert states == [(TrialState.FAILED, "interrupted")]


def test_a_first_connection_waits_for_a_server_that_is_not_up_yet(down_then_up: PostgresServer) -> None:
    server = down_then_up
    url = server.create_database()
    server.pause()
    threading.Timer(1.0, server.resume).start()
    began = time.monotonic()
    storage = SQLStorage(url)
    try:
        assert storage.list_studies() == []
        assert time.monotonic() - began >= 1.0
    finally:
        storage.close()


def test_reconnect_for_in_a_postgresql_url_sets_how_long_a_server_is_waited_for(down_then_up: PostgresServer) -> None:
    server = down_then_up
    url = server.create_database()
    server.pause()
    began = time.monotonic()
    with pytest.raises(ServerGone) as raised:
        SQLStorage(f"{url}?reconnect_for=1.5")
    waited = time.monotonic() - began
    assert 1.5 <= waited < 10.0
    message = str(raised.value)
    assert message.startswith(f"cannot connect to PostgreSQL at {url}?reconnect_for=1.5 (")
    assert "tried for 1.5 s: check that the server runs" in message
    assert "?reconnect_for=300 (seconds) at the end of the storage URL waits longer (now 1.5 s)" in message


def test_reconnect_for_is_refused_in_a_sqlite_url_and_when_not_seconds(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="a SQLite database is a file with no server to wait for"):
        SQLStorage(f"sqlite:///{tmp_path}/r.db?reconnect_for=5")
    with pytest.raises(StorageError, match=r"got reconnect_for='soon': write \?reconnect_for=120"):
        SQLStorage("postgresql://u@127.0.0.1:1/db?reconnect_for=soon")
    assert not (tmp_path / "r.db").exists()


def test_a_server_starting_up_is_named_so_and_waited_for() -> None:
    said = (
        'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  the database system '
        "is starting up"
    )
    url = "postgresql://u@127.0.0.1:5432/db"
    error = explain(psycopg.OperationalError(said), url, connecting=True, connected_before=False)
    assert isinstance(error, ServerGone), "waiting helps: it is tried again, not refused at once"
    assert str(error) == f"PostgreSQL at {url} is starting up ({said})"
    final = str(still_gone(url, error, 60.0))
    assert "did not accept connections within 60 s; run again once it has started" in final
    assert "check that the server runs" not in final
