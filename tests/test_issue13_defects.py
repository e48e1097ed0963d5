"""The smaller defects of "loud, explained, recoverable": each test fails without its fix.

- the budget-burn chart's resource axis runs to the budget, not to the resource used;
- a retry marked by another process reaches a worker that is already running;
- closing a storage waits for a heartbeat in flight and leaves no connection open;
- ``tunesmith storage upgrade`` and read-only commands given a ``file:`` URL never create a database.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner, Result

import tunesmith as ts
from tests.pg import PostgresServer
from tests.test_migrations import _write_version_1_database
from tunesmith.cli import cli
from tunesmith.errors import StorageLost, StorageUnavailable
from tunesmith.report import ReportData, plots
from tunesmith.storage import SQLStorage, open_storage
from tunesmith.storage.base import SCHEMA_VERSION
from tunesmith.trial import TrialKind, TrialState

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


# the budget-burn chart ---------------------------------------------------------------------------
def ten_steps(trial: ts.Trial) -> float:
    for _ in trial.steps(10):
        trial.report(loss=float(trial.params["x"]))
    return float(trial.params["x"])


def _burn_axis(budget: ts.Budget, trials: int) -> tuple[float, float]:
    """The resource used at the end of the chart's line and the top of its axis, after ``trials`` trials."""
    study = ts.Study(SPACE, metric="loss", sampler="random", seed=1, storage="memory", budget=budget)
    study.optimize(ten_steps, n_trials=trials)
    figure = plots.budget_burn(ReportData.from_study(study))
    line = next(trace for trace in figure.data if trace.name == "resource used")
    assert figure.layout.yaxis2.range is not None, "the resource axis is scaled to the line itself"
    return float(line.y[-1]), float(figure.layout.yaxis2.range[1])


def test_the_resource_axis_runs_to_the_resource_budget_not_to_the_resource_used() -> None:
    used, top = _burn_axis(ts.Budget(resource=400), trials=4)
    assert used == 40.0
    assert top >= 400.0 and used / top < 0.11, "a tenth of the resource budget stands a tenth of the way up"


def test_without_a_resource_budget_the_resource_line_stands_as_high_as_the_trial_budget_spent() -> None:
    used, top = _burn_axis(ts.Budget(trials=20), trials=5)
    assert used == 50.0
    assert used / top == pytest.approx(0.25 / 1.05), "a quarter of the trials, a quarter of the axis (and its margin)"


def test_the_burn_counts_trials_as_the_budget_does_against_the_study_s_running_time() -> None:
    """A failure re-queued for a retry drew the line to 5 against a budget of 4 (the text said 4 spent), and the
    x axis ran in wall-clock seconds against a wall-time budget that counts running time."""
    import time

    study = ts.Study(SPACE, metric="loss", sampler="random", seed=1, storage="memory", budget=ts.Budget(trials=4))

    def first_fails(trial: ts.Trial) -> float:
        if trial.number == 0:
            raise ValueError("a bug, fixed below")
        return float(trial.params["x"])

    study.optimize(first_fails, n_trials=2)
    time.sleep(1.0)  # between two runs: no running time
    study.retry_failed()
    study.optimize(lambda t: float(t.params["x"]))
    assert study.usage().trials == 4 and len(study.trials) == 5
    figure = plots.budget_burn(ReportData.from_study(study))
    line = next(trace for trace in figure.data if trace.name == "trials finished")
    assert line.y[-1] == 4, "the line ends where the budget says it is spent"
    assert max(line.x) < 0.5 and "running time" in figure.layout.xaxis.title.text


# a retry mark reaches a running worker --------------------------------------------------------------
def broken(trial: ts.Trial) -> float:
    raise ValueError(f"bug at x={trial.params['x']}")


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres")
        return server.create_database("defects")
    return f"sqlite:///{tmp_path}/defects.db"


@pytest.fixture
def opened() -> Iterator[Callable[[str], SQLStorage]]:
    storages: list[SQLStorage] = []

    def open_(where: str) -> SQLStorage:
        storages.append(SQLStorage(where))
        return storages[-1]

    yield open_
    for storage in storages:
        storage.close()


def _worker(storage: SQLStorage) -> ts.Study:
    return ts.Study(SPACE, metric="loss", sampler="random", seed=3, storage=storage, name="mark",
                    budget=ts.Budget(trials=3))  # fmt: skip


def test_a_running_worker_sees_a_retry_marked_by_another_process(url: str, opened: Callable[[str], SQLStorage]) -> None:
    worker = _worker(opened(url))
    worker.optimize(broken, fail_fast=None)
    assert [r.kind for r in worker.trials] == [TrialKind.EXCEPTION] * 3, "the worker has read (and cached) them"
    other = ts.Study.load("mark", opened(url))  # `tunesmith retry`, from another process
    assert other.retry_failed() == [0, 1, 2]
    trial = worker.ask()
    assert trial is not None, "the budget is free again: the retries spend it"
    record = worker.storage.get_trial(worker.info.id, trial.number)
    assert record.attrs["retry_of"] == 0 and record.params == worker.trials[0].params
    assert worker.storage.get_trial(worker.info.id, 1).attrs.get("retry_requested") is True


def test_finished_trials_are_read_once_while_nothing_changes(url: str, opened: Callable[[str], SQLStorage]) -> None:
    worker = _worker(opened(url))
    worker.optimize(broken, fail_fast=None)
    first, again = worker.trials, worker.trials
    assert all(a is b for a, b in zip(first, again, strict=True)), "the cache serves finished records"
    ts.Study.load("mark", opened(url)).retry_failed()
    marked = worker.trials
    assert all(r.attrs.get("retry_requested") for r in marked) and marked[0] is not first[0]
    assert all(a is b for a, b in zip(marked, worker.trials, strict=True)), "and caches them again"


# closing a storage while its study's heartbeat thread beats ---------------------------------------
def _beating(storage: SQLStorage) -> tuple[ts.Study, ts.Trial]:
    study = ts.Study(SPACE, metric="loss", sampler="random", storage=storage, name="beat",
                     heartbeat_interval=0.02, grace=5.0)  # fmt: skip
    trial = study.ask()
    assert trial is not None
    return study, trial


def _close_while_blocked(storage: SQLStorage, release: Callable[[], None]) -> None:
    """Close ``storage`` while its heartbeat thread waits on a lock another connection holds; then release."""
    time.sleep(0.3)  # several beats are due: one is now waiting for the lock, its connection checked out
    closer = threading.Thread(target=storage.close)
    closer.start()
    time.sleep(0.3)
    assert closer.is_alive(), "close() returned while a heartbeat was still using a connection"
    release()
    closer.join(10)
    assert not closer.is_alive()


def _open_files(path: Path) -> list[str]:
    names = (str(path), f"{path}-wal", f"{path}-shm")
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target in names:
            found.append(target)
    return found


def test_closing_a_sqlite_storage_waits_for_a_heartbeat_in_flight_and_closes_its_connection(tmp_path: Path) -> None:
    path = tmp_path / "beat.db"
    storage = SQLStorage(f"sqlite:///{path}", busy_timeout=20)
    study, trial = _beating(storage)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # the write lock: every beat now waits for it

    def release() -> None:
        blocker.execute("ROLLBACK")
        blocker.close()

    _close_while_blocked(storage, release)
    assert _open_files(path) == [], "a connection outlived close()"
    with pytest.raises(ts.TunesmithError, match="closed"):
        study.heartbeat(trial)


def test_closing_a_postgres_storage_waits_for_a_heartbeat_in_flight_and_closes_its_connection(
    postgres: PostgresServer,
) -> None:
    url = postgres.create_database("beat")
    storage = SQLStorage(url)
    study, trial = _beating(storage)
    blocker = psycopg.connect(url)
    blocker.execute("LOCK TABLE trials IN EXCLUSIVE MODE")  # every beat's UPDATE now waits for it
    _close_while_blocked(storage, blocker.rollback)
    others = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    deadline = time.monotonic() + 5
    while (left := blocker.execute(others).fetchone()) != (0,) and time.monotonic() < deadline:
        blocker.rollback()
        time.sleep(0.05)
    blocker.close()
    assert left == (0,), "a connection outlived close()"
    with pytest.raises(ts.TunesmithError, match="closed"):
        study.heartbeat(trial)


# never a database created by a command that only reads or upgrades ------------------------------------
def test_storage_upgrade_refuses_a_missing_database_naming_the_path(tmp_path: Path) -> None:
    path = tmp_path / "typo.db"
    result = CliRunner().invoke(cli, ["storage", "upgrade", "--storage", f"sqlite:///{path}"])
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert f"no database at {path}" in said and "check the path" in said and "tunesmith run" in said
    assert not path.exists(), "upgrade created the database it was asked to upgrade"


def test_storage_upgrade_migrates_an_older_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    _write_version_1_database(url, trials=2)
    result = invoke("storage", "upgrade", "--storage", url)
    assert result.exit_code == 0 and f"schema version {SCHEMA_VERSION}" in result.output


def _file_urls(path: Path) -> list[str]:
    return [
        f"sqlite:///file:{path}?uri=true",
        f"sqlite:///file:{path}?mode=rwc&uri=true",
        f"sqlite:///file:{path}?mode=ro&uri=true",
        f"sqlite:///file://localhost{path}?cache=shared&uri=true",
    ]


@pytest.mark.parametrize("form", range(4))
def test_a_read_only_command_given_a_file_uri_creates_no_database(tmp_path: Path, form: int) -> None:
    path = tmp_path / "typo.db"
    url = _file_urls(path)[form]
    result = CliRunner().invoke(cli, ["studies", "--storage", url])
    assert result.exit_code == 1
    assert f"no database at {path}" in " ".join(result.output.split())
    with pytest.raises(StorageUnavailable, match="no database at"):
        open_storage(url, create=False)
    assert list(tmp_path.iterdir()) == [], "a file: URL created a database"


def test_a_file_uri_database_is_opened_as_its_file_read_and_guarded_like_any_other(tmp_path: Path) -> None:
    path = tmp_path / "made.db"
    writable, read_only = _file_urls(path)[3], _file_urls(path)[2]
    study = ts.Study(SPACE, metric="loss", sampler="random", storage=writable, name="uri", budget=ts.Budget(trials=3))
    study.optimize(lambda trial: float(trial.params["x"]), n_trials=2)
    reader = open_storage(read_only, create=False)
    assert [s.name for s in reader.list_studies()] == ["uri"]
    assert [r.state for r in reader.get_trials(reader.load_study("uri").id)] == [TrialState.COMPLETE] * 2
    reader.close()
    path.unlink()  # deleted under the running study: the next write stops it, and nothing is recreated
    with pytest.raises(StorageLost, match=f"{path} was deleted"):
        study.optimize(lambda trial: float(trial.params["x"]))
    study.storage.close()
    assert not path.exists()
