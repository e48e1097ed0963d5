"""Storage never modifies a database that is not tunesmith's, and each of its refusals is one message.

A SQLite file or PostgreSQL database holding another program's tables (an Optuna study, a mistyped path) is
refused, by commands that read and by those that write, before anything touches it: its bytes stay as they were
(SQLite records the journal mode in the file, so not even WAL is switched on). A SQLite URL that names no file
is refused instead of running a study into memory; a role without write rights and a -shm left read-only get
the rule and the fix.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

import tunesmith as ts
from tests.pg import PostgresServer
from tunesmith.cli import cli
from tunesmith.errors import StorageError, StorageUnavailable
from tunesmith.storage import SQLStorage
from tunesmith.storage._sqlite_file import access_mode

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})
READING_COMMANDS = [["studies"], ["status"], ["trials"], ["export"], ["storage", "upgrade"]]


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _one_error_line(result: Result) -> str:
    """The output of a command refused as it should be: exit code 1, one ``Error:`` line, no traceback."""
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


def _checksum(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _optuna_database(url: str) -> None:
    """An Optuna study of two trials stored at ``url``."""
    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.CRITICAL)
    storage = optuna.storages.RDBStorage(url)
    try:
        study = optuna.create_study(storage=storage, study_name="opt", sampler=optuna.samplers.RandomSampler(seed=0))
        study.optimize(lambda trial: trial.suggest_float("x", 0.0, 1.0), n_trials=2)
    finally:
        storage.engine.dispose()


def _crm_database(path: Path) -> None:
    """Another program's SQLite database: one table of customers, in SQLite's default journal mode."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        db.execute("INSERT INTO customers (name) VALUES ('Ada')")
    db.close()


def _stored_study(url: str) -> None:
    """A study ``s`` of two finished trials at ``url``, its storage closed."""
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=2), storage=url, name="s", seed=0)
    study.optimize(lambda trial: {"loss": trial.params["x"]})
    study.storage.close()


def _writes_through_chmod() -> bool:
    """Whether this process may write a file whatever its mode says (root, unless CAP_DAC_OVERRIDE was dropped)."""
    with tempfile.TemporaryDirectory() as directory:
        probe = Path(directory, "probe")
        probe.touch()
        probe.chmod(0o444)
        return os.access(probe, os.W_OK)


needs_file_permissions = pytest.mark.skipif(
    _writes_through_chmod(), reason="root writes through chmod: run as another user to test read-only files"
)


# SQLite: another program's file is left byte for byte -----------------------------------------------------------
@pytest.mark.parametrize("command", READING_COMMANDS, ids=lambda command: "-".join(command))
def test_a_reading_command_refuses_an_optuna_database_without_changing_a_byte(
    tmp_path: Path, command: list[str]
) -> None:
    path = tmp_path / "optuna.db"
    _optuna_database(f"sqlite:///{path}")
    before = _checksum(path)
    line = _one_error_line(_invoke(*command, "--storage", f"sqlite:///{path}"))
    assert "holds an Optuna database" in line and "tunesmith import-optuna" in line
    assert _checksum(path) == before


def test_opening_an_optuna_database_to_write_is_refused_with_import_optuna_as_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "optuna.db"
    _optuna_database(f"sqlite:///{path}")
    before = _checksum(path)
    with pytest.raises(StorageUnavailable, match=r"holds an Optuna database.*tunesmith import-optuna --from"):
        SQLStorage(f"sqlite:///{path}")
    assert _checksum(path) == before


def test_a_database_of_another_programs_tables_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    _crm_database(path)
    before = _checksum(path)
    with pytest.raises(StorageUnavailable, match=r"another program's tables \(customers\).*name another file"):
        ts.Study(SPACE, metric="loss", storage=f"sqlite:///{path}", name="s")
    assert _checksum(path) == before
    with sqlite3.connect(path) as db:
        assert [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == ["customers"]
    db.close()


def test_a_refusal_lists_the_first_few_of_many_tables_and_counts_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as db:
        for number in range(8):
            db.execute(f"CREATE TABLE t{number} (id INTEGER)")
    db.close()
    with pytest.raises(StorageUnavailable, match=r"\(t0, t1, t2, t3, t4 and 3 more\)"):
        SQLStorage(f"sqlite:///{path}")


# SQLite: a URL that names no file ---------------------------------------------------------------------------------
@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite:///:memory:", "sqlite:///file::memory:?uri=true"])
def test_a_sqlite_url_naming_no_file_is_refused_with_memory_as_the_way_to_keep_nothing(url: str) -> None:
    with pytest.raises(StorageError, match=r"must name a database file, got '.*'.*storage 'memory' to keep nothing"):
        SQLStorage(url)


def test_run_with_an_empty_sqlite_path_is_refused_and_runs_nothing(objectives_dir: Path) -> None:
    config = objectives_dir / "c.toml"
    config.write_text(
        'name = "c"\nobjective = "objectives:quadratic"\nseed = 0\nstorage = "sqlite:///"\n[metric]\nname = "loss"\n'
        '[budget]\ntrials = 2\n[space]\nx = { type = "float", low = 0.0, high = 1.0 }\n'
    )
    line = _one_error_line(_invoke("run", str(config), "--no-report"))
    assert "must name a database file, got 'sqlite:///'" in line


# SQLite: a -shm or -wal left read-only ---------------------------------------------------------------------------
@needs_file_permissions
def test_a_read_only_shm_beside_a_writable_database_opens_it_read_only(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    path.write_bytes(b"")
    shm = tmp_path / "t.db-shm"
    shm.write_bytes(b"")
    shm.chmod(0o444)
    assert access_mode(str(path)) == "ro"


@needs_file_permissions
def test_a_write_refused_by_a_read_only_shm_names_that_file_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    url = f"sqlite:///{path}"
    _stored_study(url)
    path.chmod(0o444)
    reader = SQLStorage(url, must_exist=True)  # a read of the read-only file leaves its -shm at mode 444
    reader.list_studies()
    reader.close()
    path.chmod(0o644)
    line = _one_error_line(_invoke("extend", "s", "--trials", "4", "--storage", url))
    assert f"its {path}-shm is not" in line
    assert f"delete {path}-shm" in line and "chmod u+w" in line


# PostgreSQL --------------------------------------------------------------------------------------------------------
def _tables(url: str) -> list[str]:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            return sorted(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()


def test_a_postgresql_database_holding_an_optuna_study_is_refused_and_left_untouched(
    postgres: PostgresServer,
) -> None:
    pytest.importorskip("psycopg")
    url = postgres.create_database("optuna")
    _optuna_database(url.replace("postgresql://", "postgresql+psycopg://"))
    before = _tables(url)
    with pytest.raises(StorageUnavailable, match=r"holds an Optuna database.*tunesmith import-optuna"):
        SQLStorage(url)
    assert _tables(url) == before


def test_a_postgresql_role_without_write_rights_is_told_to_get_them(postgres: PostgresServer) -> None:
    pytest.importorskip("psycopg")
    url = postgres.create_database()
    _stored_study(url)
    role = f"reader_{os.getpid()}"
    database = url.rsplit("/", 1)[1]
    postgres.psql(f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN "
                  f"CREATE ROLE {role} LOGIN; END IF; END $$")  # fmt: skip
    postgres.psql(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}", database)
    reader = url.replace("//tunesmith@", f"//{role}@")
    line = _one_error_line(_invoke("extend", "s", "--trials", "4", "--storage", reader))
    assert "permission denied" in line and "grant it write rights" in line and "use another database" in line
