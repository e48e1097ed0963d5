"""`import_study` / ``tunesmith import-optuna`` read the source database without ever writing to it.

A source that is not an Optuna database (another program's, or a tunesmith database from --from and --storage
swapped) is refused by name, in one message, before anything is written to it; an Optuna database that Optuna itself
would write a schema version into on opening is refused too. The target is opened, and created, only once the source
has been read, so a refused import leaves no new database behind.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import tunesmith as ts
from tunesmith.cli import cli
from tunesmith.errors import StorageUnavailable


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _one_error_line(result: Result) -> str:
    """The output of a refused command: exit code 1, one ``Error:`` line, no traceback."""
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


def _fingerprint(path: Path) -> tuple[set[str], str, int]:
    """The file's tables, its bytes' SHA-256 and its modification time (ns)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    db.close()
    return tables, hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def _optuna_database(path: Path, study_name: str = "opt") -> str:
    """An Optuna study of three trials in the SQLite file ``path``, its storage closed; returns its URL."""
    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.CRITICAL)
    url = f"sqlite:///{path}"
    storage = optuna.storages.RDBStorage(url)
    try:
        study = optuna.create_study(storage=storage, study_name=study_name, sampler=optuna.samplers.RandomSampler(0))
        study.optimize(lambda trial: trial.suggest_float("x", 0.0, 1.0), n_trials=3)
    finally:
        storage.engine.dispose()
    return url


def _other_programs_database(path: Path) -> str:
    """A SQLite file of another program: one table of results."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE results (a REAL)")
        db.execute("INSERT INTO results VALUES (0.5)")
    db.close()
    return f"sqlite:///{path}"


def _tunesmith_database(path: Path) -> str:
    """A tunesmith study ``s`` of two finished trials in the SQLite file ``path``, its storage closed."""
    url = f"sqlite:///{path}"
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", budget=ts.Budget(trials=2), storage=url,
                     name="s", seed=0)  # fmt: skip
    study.optimize(lambda trial: {"loss": trial.params["x"]})
    study.storage.close()
    return url


def test_a_refused_import_leaves_another_programs_database_with_its_tables_bytes_and_mtime(tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    from tunesmith.integrations.optuna import import_study

    path = tmp_path / "mine.db"
    source = _other_programs_database(path)
    before = _fingerprint(path)
    with pytest.raises(StorageUnavailable, match=r"holds results; it was left untouched"):
        import_study(source, "x", storage="memory")
    assert _fingerprint(path) == before


def test_another_programs_database_given_as_the_source_is_refused_in_one_message_naming_the_rule_and_the_fix(
    tmp_path: Path,
) -> None:
    pytest.importorskip("optuna")
    source = _other_programs_database(tmp_path / "mine.db")
    line = _one_error_line(
        _invoke("import-optuna", "--from", source, "--study", "x", "--storage", f"sqlite:///{tmp_path / 't.db'}")
    )
    assert "an import reads an Optuna database" in line and f"but {source} holds results" in line
    assert "optuna.create_study(storage=...)" in line


def test_swapped_from_and_storage_are_refused_by_name_with_exit_1_and_no_traceback(tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    tunesmith_db = _tunesmith_database(tmp_path / "tunesmith.db")
    optuna_db = _optuna_database(tmp_path / "optuna.db", study_name="s")
    line = _one_error_line(_invoke("import-optuna", "--from", tunesmith_db, "--study", "s", "--storage", optuna_db))
    assert "this is a tunesmith database; did you swap --from and --storage?" in line


def test_a_tunesmith_database_given_as_the_source_keeps_its_tables_bytes_and_mtime(tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    path = tmp_path / "tunesmith.db"
    source = _tunesmith_database(path)
    before = _fingerprint(path)
    _invoke("import-optuna", "--from", source, "--study", "s", "--storage", f"sqlite:///{tmp_path / 'new.db'}")
    assert _fingerprint(path) == before


def test_an_optuna_database_without_its_schema_version_is_refused_rather_than_stamped(tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    path = tmp_path / "optuna.db"
    _optuna_database(path)
    with sqlite3.connect(path) as db:  # as a database from before Optuna recorded alembic revisions
        db.execute("DROP TABLE alembic_version")
    db.close()
    before = _fingerprint(path)
    target = f"sqlite:///{tmp_path / 't.db'}"
    line = _one_error_line(
        _invoke("import-optuna", "--from", f"sqlite:///{path}", "--study", "opt", "--storage", target)
    )
    assert "records no Optuna schema version" in line and "optuna storage upgrade" in line
    assert _fingerprint(path) == before


@pytest.mark.parametrize("failure", ["not an Optuna database", "no such Optuna study"])
def test_the_target_database_is_not_created_when_the_import_fails(tmp_path: Path, failure: str) -> None:
    pytest.importorskip("optuna")
    if failure == "not an Optuna database":
        source, study_name = _other_programs_database(tmp_path / "mine.db"), "opt"
    else:
        source, study_name = _optuna_database(tmp_path / "optuna.db"), "no-such-study"
    target = tmp_path / "target.db"
    _one_error_line(
        _invoke("import-optuna", "--from", source, "--study", study_name, "--storage", f"sqlite:///{target}")
    )
    assert not target.exists()


def test_a_normal_import_copies_every_trial_and_leaves_the_optuna_database_unchanged(tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    path = tmp_path / "optuna.db"
    source = _optuna_database(path)
    before = _fingerprint(path)
    target = f"sqlite:///{tmp_path / 'target.db'}"
    result = _invoke("import-optuna", "--from", source, "--study", "opt", "--storage", target)
    assert result.exit_code == 0, result.output
    study = ts.Study.load("opt", storage=target)
    assert [trial.state for trial in study.trials] == [ts.TrialState.COMPLETE] * 3
    assert _fingerprint(path) == before
