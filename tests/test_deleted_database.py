"""A database that goes away after its last write is never read from, nor reported as saved.

The open connections of a storage go on reading a SQLite file that was deleted or replaced (they hold the old
inode), so without a check a `Study` kept in a session served its trials, best, CSV and report from a database
that no longer existed, and `tunesmith run` printed its summary, wrote its report and exited 0 over a deleted
database. Reads now check the file as writes do, and every command that writes reads its storage once more
after its last output. A COMMIT cut off with its outcome unknown is said to be one that may not have been stored.

Everything here is real: SQLite files deleted or replaced on disk, the CLI writing its report into a named pipe
(so that the database can be deleted while the command is busy writing, after its last read), and a PostgreSQL
server whose answer to a COMMIT is dropped by a TCP relay.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import tunesmith as ts
from tests.pg import PostgresServer
from tests.test_storage_midflight import CommitRelay
from tunesmith.cli import cli
from tunesmith.errors import StorageLost, StorageUnavailable
from tunesmith.report import write_csv, write_report
from tunesmith.storage import SQLStorage

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def _study(storage: str | SQLStorage, trials: int) -> ts.Study:
    return ts.Study(
        SPACE, metric="loss", budget=ts.Budget(trials=trials), storage=storage, name="s", seed=0, sampler="random"
    )


def _delete_database(path: Path) -> None:
    """Delete the SQLite file ``path`` with its -wal and -shm files, as a user cleaning up a folder would."""
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        name.unlink(missing_ok=True)


# A Study held in a session -------------------------------------------------------------------------------------
READS: dict[str, Callable[[ts.Study, Path], Any]] = {
    "trials": lambda study, _: study.trials,
    "best": lambda study, _: study.best,
    "usage": lambda study, _: study.usage(),
    "write_csv": lambda study, folder: write_csv(study, folder / "trials.csv"),
    "write_report": lambda study, folder: write_report(study, folder / "report.html"),
}


@pytest.mark.parametrize("read", READS, ids=list(READS))
def test_a_study_held_in_a_session_refuses_to_read_its_deleted_database(tmp_path: Path, read: str) -> None:
    path = tmp_path / "study.db"
    study = _study(f"sqlite:///{path}", trials=4)
    study.optimize(lambda trial: {"loss": trial.params["x"]})
    _delete_database(path)
    output = tmp_path / "out"
    try:
        with pytest.raises(StorageLost) as raised:
            READS[read](study, output)
    finally:
        study.storage.close()
    message = str(raised.value)
    assert f"the SQLite database {path} was deleted while in use" in message
    assert "nothing after trial 3 was stored; restore the file or start a new study" in message
    assert not output.exists(), "nothing is written from a database that is gone"


def test_a_study_refuses_to_read_a_database_file_replaced_by_an_older_copy(tmp_path: Path) -> None:
    path, backup = tmp_path / "study.db", tmp_path / "backup.db"
    study = _study(f"sqlite:///{path}", trials=6)
    study.optimize(lambda trial: {"loss": trial.params["x"]}, n_trials=3)
    shutil.copy(path, backup)  # a backup of the file, taken after 3 trials
    study.optimize(lambda trial: {"loss": trial.params["x"]})
    os.replace(backup, path)  # restored over the file the study holds open
    try:
        with pytest.raises(StorageLost, match=f"the SQLite database {path} was replaced by another file"):
            study.trials  # noqa: B018 - the read is the behaviour under test
    finally:
        study.storage.close()


def test_a_database_replaced_in_use_is_saved_beside_it_and_its_old_log_never_reaches_the_new_file(
    tmp_path: Path,
) -> None:
    # SQLite leaves a moved file's -wal and -shm at the path: the next open applied the old log to the new file,
    # whose own study was lost. The old database, still read by the open connections, is saved first.
    path, other = tmp_path / "study.db", tmp_path / "other.db"
    unrelated = ts.Study(SPACE, metric="loss", storage=f"sqlite:///{other}", name="keep", seed=1)
    unrelated.optimize(lambda trial: {"loss": trial.params["x"]}, n_trials=2)
    unrelated.storage.close()
    study = _study(f"sqlite:///{path}", trials=6)
    study.optimize(lambda trial: {"loss": trial.params["x"]}, n_trials=3)
    shutil.copy(other, tmp_path / "copy.db")
    os.replace(tmp_path / "copy.db", path)  # what rsync does: a copy renamed over the file in use
    with pytest.raises(StorageLost, match=r"is saved as .*study\.db\.lost-<time>-<pid>"):
        study.trials  # noqa: B018 - the read is the behaviour under test
    study.storage.close()
    assert not (tmp_path / "study.db-wal").exists() and not (tmp_path / "study.db-shm").exists()
    assert [s.name for s in ts.storage.open_storage(f"sqlite:///{path}").list_studies()] == ["keep"]
    (saved,) = tmp_path.glob("study.db.lost-*")
    kept = ts.Study.load("s", storage=f"sqlite:///{saved}")
    assert [t.number for t in kept.trials] == [0, 1, 2]


def test_a_database_deleted_in_use_is_saved_beside_where_it_was(tmp_path: Path) -> None:
    path = tmp_path / "study.db"
    study = _study(f"sqlite:///{path}", trials=6)
    study.optimize(lambda trial: {"loss": trial.params["x"]}, n_trials=3)
    _delete_database(path)
    with pytest.raises(StorageLost, match="was deleted while in use"):
        study.trials  # noqa: B018 - the read is the behaviour under test
    study.storage.close()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("study.db")) == [
        next(tmp_path.glob("study.db.lost-*")).name
    ]
    assert len(ts.Study.load("s", storage=f"sqlite:///{next(tmp_path.glob('study.db.lost-*'))}").trials) == 3


# Commands that write: a database deleted after their last read or write -------------------------------------
RUN_CONFIG = """\
name = "s"
objective = "objectives:quadratic"
sampler = "random"
seed = 0
[metric]
name = "loss"
direction = "min"
[budget]
trials = 4
[space]
x = { type = "float", low = 0.0, high = 1.0 }
"""


def _invoke_deleting_while_it_writes(args: list[str], pipe: Path, database: Path) -> Result:
    """Invoke the CLI with ``args``, which write a file to the named pipe ``pipe``: once the command has begun
    writing it (its reads of the database done), ``database`` is deleted, then the rest of the file is read."""
    os.mkfifo(pipe)
    began = threading.Event()

    def read_the_pipe() -> None:
        with pipe.open("rb") as fh:
            fh.read(1)
            began.set()
            _delete_database(database)
            fh.read()

    reader = threading.Thread(target=read_the_pipe, daemon=True)
    reader.start()
    try:
        return CliRunner().invoke(cli, args)
    finally:
        if not began.is_set():  # the command failed before it opened the pipe: let the reader go
            os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(timeout=30)


def _fails_with_the_loss(result: Result, database: Path) -> str:
    output: str = result.output
    assert result.exit_code == 1, output
    assert "Traceback" not in output
    last = output.strip().splitlines()[-1]
    assert last.startswith(f"Error: the SQLite database {database} was deleted while in use: "), output
    assert "restore the file or start a new study (when this process closes the storage, what it still reads of the " \
        "old file is saved as" in last, output
    return output


def test_run_exits_1_when_its_database_is_deleted_while_it_writes_the_report(
    objectives_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(objectives_dir))
    config, database, pipe = objectives_dir / "s.toml", objectives_dir / "s.db", objectives_dir / "report.html"
    config.write_text(RUN_CONFIG)
    result = _invoke_deleting_while_it_writes(
        ["run", str(config), "--storage", f"sqlite:///{database}", "--no-progress", "--report", str(pipe)],
        pipe,
        database,
    )
    output = _fails_with_the_loss(result, database)
    written = "".join(output.split("Error:")[0].split())  # the console wraps a long path
    assert f"report:{pipe}" in written, "the report was written before the last check: its line comes first"
    assert not database.exists(), "the check reads: it never recreates the database"


@pytest.mark.parametrize("command", [["report", "-o"], ["export", "-o"]], ids=["report", "export"])
def test_a_command_writing_a_file_exits_1_when_the_database_is_deleted_while_it_writes(
    tmp_path: Path, command: list[str]
) -> None:
    database, pipe = tmp_path / "s.db", tmp_path / "out"
    # Each row longer than a pipe's buffer (64 KiB): the command cannot finish writing, and check the database
    # after, before the reader has deleted it (4 short CSV rows fit the buffer, and the check raced the deletion).
    long = ts.Space({"x": ts.Float(0.0, 1.0), "note": ts.Choice(["a" * 70_000, "b" * 70_000])})
    study = ts.Study(long, metric="loss", budget=ts.Budget(trials=4), storage=f"sqlite:///{database}", name="s",
                     seed=0, sampler="random")  # fmt: skip
    study.optimize(lambda trial: {"loss": trial.params["x"]})
    study.storage.close()
    result = _invoke_deleting_while_it_writes(
        [*command, str(pipe), "s", "--storage", f"sqlite:///{database}"], pipe, database
    )
    _fails_with_the_loss(result, database)


# A COMMIT whose outcome is unknown -----------------------------------------------------------------------------
def test_a_result_whose_commit_was_cut_off_unheard_is_said_to_be_one_that_may_not_have_been_stored(
    postgres: PostgresServer,
) -> None:
    relay = CommitRelay(postgres.port)
    storage = SQLStorage(relay.url(postgres.create_database()), reconnect_for=1.0)
    study = _study(storage, trials=3)
    returned: dict[str, float] = {}

    def objective(trial: ts.Trial) -> dict[str, float]:
        if trial.number == 1:  # the next COMMIT is this result's; the network goes down with its answer
            relay.on_cut = lambda: setattr(relay, "down", True)
            relay.cut_next_commit()
            returned["loss"] = trial.params["x"]
        return {"loss": trial.params["x"]}

    try:
        with pytest.raises(StorageUnavailable) as raised:
            study.optimize(objective, progress=False)
    finally:
        storage.close()
        relay.close()
    message = str(raised.value)
    assert message.startswith(f"trial #1's result (loss={returned['loss']!r}) may not have been stored: "), message
    assert "storage holds trial #1 either complete with this outcome or still running" in message
    assert "could not be stored" not in message
