"""Storage that cannot vanish unnoticed: every storage failure is one clear message with the fix.

Issue 13, item 3. A database deleted, replaced or truncated under a running study stops it at the next
write; commands that only read never create a database; an unreachable server, a bad URL, an unsupported
scheme, a file that is not a database, a full disk and a read-only file each give one line, never a
traceback; and a read-only database can still be read.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

import tunesmith as ts
from tests.conftest import BIN
from tunesmith.cli import cli
from tunesmith.errors import StorageError, StorageLost, StorageUnavailable
from tunesmith.storage import SQLStorage, open_storage
from tunesmith.storage import _sqlite_file as sqlite_file

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})
READING_COMMANDS = [["best"], ["status"], ["trials"], ["studies"], ["report", "-o", "r.html"], ["export"],
                    ["worker", "quad", "--objective", "objectives:quadratic"]]  # a worker joins: it creates nothing


def _invoke(*args: str) -> object:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _one_error_line(result: object) -> str:
    """The output of a command that failed as it should: exit code 1, one ``Error:`` line, no traceback."""
    output: str = result.output  # type: ignore[attr-defined]
    assert result.exit_code == 1, output  # type: ignore[attr-defined]
    assert "Traceback" not in output
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), output
    return lines[0]


def _stored_study(path: Path, trials: int = 3) -> None:
    """A closed SQLite database at ``path`` holding a study ``s`` of ``trials`` finished trials."""
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=trials), storage=f"sqlite:///{path}", name="s")
    study.optimize(lambda trial: {"loss": trial.params["x"]})
    study.storage.close()


# A database that vanishes under a running study ---------------------------------------------------
def _delete(path: Path) -> None:
    path.unlink()


def _replace(path: Path) -> None:
    path.unlink()
    sqlite3.connect(path).close()  # a new, empty database where the old one was


def _truncate_to_zero(path: Path) -> None:
    os.truncate(path, 0)


def _truncate_to_half(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


LOSSES: dict[str, tuple[Callable[[Path], None], str]] = {
    "deleted": (_delete, "was deleted"),
    "replaced": (_replace, "was replaced by another file"),
    "truncated to zero": (_truncate_to_zero, "was truncated (0 bytes"),
    "truncated": (_truncate_to_half, "was truncated"),
}


@pytest.mark.parametrize("loss", LOSSES, ids=list(LOSSES))
def test_a_database_that_vanishes_under_a_study_stops_it_at_the_next_write(tmp_path: Path, loss: str) -> None:
    path = tmp_path / "study.db"
    damage, what = LOSSES[loss]

    def objective(trial: ts.Trial) -> dict[str, float]:
        if trial.number == 5:
            damage(path)
        return {"loss": trial.params["x"]}

    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=20), storage=f"sqlite:///{path}", name="s")
    try:
        with pytest.raises(StorageLost) as raised:
            study.optimize(objective)
    finally:
        study.storage.close()
    message = str(raised.value)
    assert f"the SQLite database {path} {what}" in message
    assert "nothing after trial 4 was stored; restore the file or start a new study" in message


def test_a_storage_refuses_every_write_once_its_file_was_deleted(tmp_path: Path) -> None:
    path = tmp_path / "study.db"
    storage = SQLStorage(f"sqlite:///{path}")
    info, _ = storage.get_or_create_study("s", {}, now=0.0)
    path.unlink()
    try:
        for _ in range(2):  # and stays refused: the file does not come back by being recreated
            with pytest.raises(StorageLost, match="was deleted"):
                storage.set_study_attr(info.id, "k", 1)
        assert not path.exists(), "a connection must never recreate the deleted file"
    finally:
        storage.close()


VANISHING_OBJECTIVE = """
import os


def vanishing(trial):
    if trial.number == 3:
        os.remove(os.environ["TS_VANISHING_DB"])
    return {"loss": trial.params["x"]}
"""


def test_run_stops_with_one_line_and_does_not_report_a_spent_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "vanish.py").write_text(textwrap.dedent(VANISHING_OBJECTIVE))
    config = tmp_path / "vanish.toml"
    config.write_text(
        'name = "v"\nobjective = "vanish:vanishing"\nsampler = "random"\n[metric]\nname = "loss"\n'
        'direction = "min"\n[budget]\ntrials = 12\n[space]\nx = { type = "float", low = 0.0, high = 1.0 }\n'
    )
    path = tmp_path / "v.db"
    monkeypatch.setenv("TS_VANISHING_DB", str(path))
    monkeypatch.syspath_prepend(str(tmp_path))
    result = CliRunner().invoke(
        cli, ["run", str(config), "--storage", f"sqlite:///{path}", "--no-progress", "--no-report"]
    )
    output: str = result.output
    assert result.exit_code == 1, output
    assert "Traceback" not in output and "budget spent" not in output
    assert "Error: trial #3's result (loss=" in output and "could not be stored: the SQLite database" in output
    assert "was deleted while in use" in output
    assert "nothing after trial 2 was stored; restore the file or start a new study" in output


# Commands that only read never create a database ----------------------------------------------------
@pytest.mark.parametrize("command", READING_COMMANDS, ids=lambda c: c[0])
def test_a_reading_command_refuses_a_missing_database_and_creates_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    line = _one_error_line(_invoke(*command, "--storage", "sqlite:///typo.db"))
    assert f"no database at {tmp_path / 'typo.db'}" in line
    assert "check the path (`tunesmith run CONFIG` creates it)" in line
    assert "sqlite:////absolute/path.db" in line, "a relative path: the absolute form is explained"
    assert not (tmp_path / "typo.db").exists()


def test_open_storage_without_create_refuses_a_missing_file_or_one_without_tunesmith_tables(tmp_path: Path) -> None:
    with pytest.raises(StorageUnavailable, match="no database at"):
        open_storage(f"sqlite:///{tmp_path}/missing.db", create=False)
    assert not (tmp_path / "missing.db").exists()
    (tmp_path / "empty.db").touch()
    with pytest.raises(StorageUnavailable, match="holds no tunesmith database"):
        SQLStorage(f"sqlite:///{tmp_path}/empty.db", must_exist=True)
    assert (tmp_path / "empty.db").stat().st_size == 0, "nothing was written into it"


def test_loading_a_study_from_a_missing_file_creates_no_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/typo.db"
    with pytest.raises(StorageUnavailable, match="no database at"):
        ts.Study.load("s", url)
    with pytest.raises(StorageUnavailable, match="no database at"):
        ts.Study.names(url)
    assert not (tmp_path / "typo.db").exists()


def test_commands_that_write_still_create_the_database(tmp_path: Path) -> None:
    storage = open_storage(f"sqlite:///{tmp_path}/new/dir/fresh.db")
    try:
        assert storage.list_studies() == []
    finally:
        storage.close()


# One clear line for every failure -------------------------------------------------------------------
def test_an_unreachable_postgresql_server_is_one_line_with_the_fix() -> None:
    pytest.importorskip("psycopg")
    line = _one_error_line(_invoke("status", "--storage", "postgresql://u:hunter2@127.0.0.1:1/db?connect_timeout=2&reconnect_for=0"))
    assert "cannot connect to PostgreSQL at postgresql://u:***@127.0.0.1:1/db" in line
    assert "check that the server runs" in line and "hunter2" not in line


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("sqlite://tmp/x.db", "two slashes after 'sqlite:'"),
        ("mysql://u@localhost/db", "unknown storage 'mysql'"),
        ("postgres://u@localhost/db", "did you mean 'postgresql'?"),
    ],
)
def test_a_malformed_or_unsupported_url_is_one_line_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, said: str
) -> None:
    monkeypatch.chdir(tmp_path)
    line = _one_error_line(_invoke("status", "--storage", url))
    assert said in line
    assert "tunesmith[postgres]" not in line
    assert list(tmp_path.iterdir()) == [], "nothing was created"


def test_two_slashes_are_explained_with_the_relative_and_the_absolute_form() -> None:
    with pytest.raises(StorageError) as raised:
        SQLStorage("sqlite://tmp/x.db")
    message = str(raised.value)
    assert "sqlite:///tmp/x.db for the relative path tmp/x.db (three slashes)" in message
    assert "sqlite:////tmp/x.db for the absolute path /tmp/x.db (four slashes)" in message


def test_a_backend_other_than_sqlite_or_postgresql_is_not_told_to_install_the_postgres_extra() -> None:
    with pytest.raises(StorageError, match="unknown storage 'mysql'") as raised:
        SQLStorage("mysql+pymysql://u@localhost/db")
    assert "tunesmith[postgres]" not in str(raised.value)


def test_a_file_that_is_not_a_database_is_one_line_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 20)
    line = _one_error_line(_invoke("status", "--storage", f"sqlite:///{path}"))
    assert f"{path} is not a SQLite database (file is not a database)" in line
    assert path.read_text().startswith("these are my notes"), "the file was not touched"
    with pytest.raises(StorageUnavailable, match="is not a SQLite database"):
        SQLStorage(f"sqlite:///{path}")  # `run` and `worker` too


def test_a_full_disk_is_one_clear_error(tmp_path: Path) -> None:
    # SQLite's own limit on the database's size raises the same SQLITE_FULL a full disk does.
    storage = SQLStorage(f"sqlite:///{tmp_path}/full.db")
    info, _ = storage.get_or_create_study("s", {}, now=0.0)
    storage._engine.dispose()
    sa.event.listen(storage._engine, "connect", lambda conn, _: conn.execute("PRAGMA max_page_count = 1"))
    try:
        with pytest.raises(StorageUnavailable, match=r"the disk holding .*full\.db is full .*free some space"):
            storage.set_study_attr(info.id, "big", "x" * 100_000)
    finally:
        storage.close()


# Linux mount namespaces give a real full disk and a real read-only file system, even as root; private
# propagation keeps those mounts out of the machine's own mount table.
def _mount_namespace_works() -> bool:
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    probe = subprocess.run(
        [unshare, "-m", "--propagation", "private", "mount", "-t", "tmpfs", "tmpfs", "/mnt"],
        capture_output=True,
        timeout=30,
    )
    return probe.returncode == 0


needs_mounts = pytest.mark.skipif(
    not _mount_namespace_works(), reason="needs `unshare -m` and mount rights (root, or CAP_SYS_ADMIN)"
)


def _in_mount_namespace(script: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TS_BIN": str(BIN)}
    env.pop("TUNESMITH_STORAGE", None)
    return subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-ec", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )


@needs_mounts
def test_a_really_full_disk_is_one_line_from_the_cli(tmp_path: Path) -> None:
    _stored_study(tmp_path / "s.db")
    (tmp_path / "full").mkdir()
    script = """
        mount -t tmpfs -o size=1m tmpfs full
        cp s.db full/
        dd if=/dev/zero of=full/filler bs=4k 2>/dev/null || true
        "$TS_BIN/tunesmith" status --storage sqlite:///full/s.db
    """
    done = _in_mount_namespace(script, tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "is full" in done.stderr and "free some space" in done.stderr, done.stderr


# A read-only database: reading works, writing says why it cannot -----------------------------------
def test_a_read_only_url_reads_and_refuses_writes_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    _stored_study(path)
    url = f"sqlite:///{path}?mode=ro"
    status = _invoke("status", "--storage", url)
    assert status.exit_code == 0, status.output  # type: ignore[attr-defined]
    listed = _invoke("trials", "--storage", url, "--json")
    assert len(listed.output.splitlines()) == 3  # type: ignore[attr-defined]
    storage = SQLStorage(url)
    try:
        info = storage.load_study("s")
        with pytest.raises(StorageUnavailable, match=r"is read-only here .*reading works, writing does not"):
            storage.set_study_attr(info.id, "k", 1)
    finally:
        storage.close()


def test_a_database_in_a_directory_that_cannot_be_written_is_read_without_a_shm_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Root writes through any chmod, so the directory is made "unwritable" where tunesmith asks;
    # the real read-only file system is the test below.
    path = tmp_path / "s.db"
    _stored_study(path)
    assert not Path(f"{path}-shm").exists(), "closed cleanly: WAL's -shm file is gone, as after a finished run"
    directory = str(tmp_path)
    real_access = os.access
    monkeypatch.setattr(sqlite_file.os, "access", lambda p, mode: p != directory and real_access(p, mode))
    assert sqlite_file.access_mode(str(path)) == "immutable"
    storage = SQLStorage(f"sqlite:///{path}")
    try:
        assert len(storage.get_trials(storage.load_study("s").id)) == 3
        assert not Path(f"{path}-shm").exists(), "read while open without a -shm file beside it"
    finally:
        storage.close()
    listed = _invoke("trials", "--storage", f"sqlite:///{path}", "--json")
    assert listed.exit_code == 0 and len(listed.output.splitlines()) == 3  # type: ignore[attr-defined]


@pytest.mark.slow
@needs_mounts
def test_status_reads_a_database_on_a_read_only_file_system(tmp_path: Path) -> None:
    _stored_study(tmp_path / "db" / "s.db")
    (tmp_path / "ro").mkdir()
    script = """
        mount --bind db ro
        mount -o remount,ro,bind ro
        "$TS_BIN/tunesmith" status --storage sqlite:///ro/s.db
        "$TS_BIN/tunesmith" trials --json --storage sqlite:///ro/s.db
        "$TS_BIN/tunesmith" extend s --trials 9 --storage sqlite:///ro/s.db || echo "exit $?"
    """
    done = _in_mount_namespace(script, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "trials 3/3" in done.stdout, "status works"
    assert done.stdout.count('"number"') == 3, "trials works"
    assert "exit 1" in done.stdout and "Traceback" not in done.stderr
    assert "is read-only here" in done.stderr and "reading works, writing does not" in done.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through chmod: the read-only file system test covers root")
def test_status_reads_a_database_whose_file_and_directory_are_read_only(tmp_path: Path) -> None:
    directory = tmp_path / "db"
    path = directory / "s.db"
    _stored_study(path)
    path.chmod(0o444)
    directory.chmod(0o555)
    try:
        status = _invoke("status", "--storage", f"sqlite:///{path}")
        assert status.exit_code == 0 and "trials 3/3" in status.output, status.output  # type: ignore[attr-defined]
        refused = _invoke("extend", "s", "--trials", "9", "--storage", f"sqlite:///{path}")
        assert "is read-only here" in _one_error_line(refused)
    finally:
        directory.chmod(0o755)
        path.chmod(0o644)
