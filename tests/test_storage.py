"""Every storage backend passes the one conformance suite, plus SQL specifics."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from tunesmith.errors import StorageError
from tunesmith.storage import MemoryStorage, SQLStorage, Storage, open_storage, redact_url
from tunesmith.storage.base import SCHEMA_VERSION
from tunesmith.testing.storage import STORAGE_CHECKS


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def make_storage(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Storage]:
    counter = iter(range(1000))
    if request.param == "memory":
        return MemoryStorage
    if request.param == "postgresql":
        server = request.getfixturevalue("postgres")  # a real server, started once per session
        return lambda: SQLStorage(server.create_database())
    return lambda: SQLStorage(f"sqlite:///{tmp_path}/s{next(counter)}.db")


@pytest.mark.parametrize("check", STORAGE_CHECKS, ids=lambda c: c.__name__)
def test_storage_conformance(make_storage: Callable[[], Storage], check: Callable[..., None]) -> None:
    check(make_storage)


def test_sqlite_uses_wal_and_records_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "study.db"
    storage = SQLStorage(f"sqlite:///{path}")
    assert storage.schema_version == SCHEMA_VERSION
    with closing(sqlite3.connect(path)) as conn, conn:  # sqlite3's own context commits but never closes
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_sqlite_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    SQLStorage(f"sqlite:///{path}").close()
    with closing(sqlite3.connect(path)) as conn, conn:  # sqlite3's own context commits but never closes
        conn.execute("UPDATE tunesmith_meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(StorageError, match="newer than this tunesmith"):
        SQLStorage(f"sqlite:///{path}")


def test_sql_storage_stores_no_pickles(tmp_path: Path) -> None:
    from tunesmith.testing.storage import check_records_are_json

    path = tmp_path / "json.db"
    check_records_are_json(lambda: SQLStorage(f"sqlite:///{path}"))
    with closing(sqlite3.connect(path)) as conn, conn:  # sqlite3's own context commits but never closes
        for params, metrics, attrs in conn.execute("SELECT params, metrics, attrs FROM trials"):
            for text in (params, metrics, attrs):
                assert isinstance(text, str) and text.startswith("{")


def test_a_second_storage_object_sees_finished_and_new_trials(tmp_path: Path) -> None:
    from tunesmith.storage.base import Proposal
    from tunesmith.trial import TrialState

    url = f"sqlite:///{tmp_path}/shared.db"
    writer, reader = SQLStorage(url), SQLStorage(url)
    info, _ = writer.get_or_create_study("s", {"seed": 1}, now=0.0)
    propose = lambda n, h: Proposal({"x": n}, n)  # noqa: E731
    writer.create_trial(info.id, propose, max_trials=None, worker="h:1", now=0.0)
    assert [r.state for r in reader.get_trials(info.id)] == [TrialState.RUNNING]
    writer.finish_trial(info.id, 0, TrialState.COMPLETE, metrics={"v": 1.0}, reason=None, error=None, now=1.0)
    writer.create_trial(info.id, propose, max_trials=None, worker="h:1", now=2.0)
    states = [r.state for r in reader.get_trials(info.id)]
    assert states == [TrialState.COMPLETE, TrialState.RUNNING], "the reader's cache must not hide changes"


def test_open_storage_urls(tmp_path: Path) -> None:
    assert isinstance(open_storage("memory"), MemoryStorage)
    assert isinstance(open_storage(str(tmp_path / "a.db")), SQLStorage)
    with pytest.raises(StorageError, match="storage must be"):
        open_storage("tunesmith-no-scheme")


def test_redact_url_hides_the_password() -> None:
    redacted = redact_url("postgresql://alice:s3cret@db.example:5432/tune")
    assert "s3cret" not in redacted and "alice" in redacted


def test_a_closed_sql_storage_opens_no_new_connection(tmp_path: Path) -> None:
    storage = SQLStorage(f"sqlite:///{tmp_path}/closed.db")
    storage.get_or_create_study("s", {"seed": 1}, now=0.0)
    storage.close()
    with pytest.raises(StorageError, match="is closed"):
        storage.list_studies()


@pytest.mark.parametrize("storage", ["memory", "sqlite"])
def test_a_study_not_found_lists_the_studies_there_are_with_the_closest_first(storage: str, tmp_path: Path) -> None:
    """From Python the message said only "no study named 'real-studdy' in ...", though the guide says it lists them."""
    import tunesmith as ts
    from tunesmith.errors import StudyNotFound

    url = "memory" if storage == "memory" else f"sqlite:///{tmp_path / 'nf.db'}"
    store = open_storage(url)
    with pytest.raises(StudyNotFound, match=r"which holds no study yet: check the storage, or create the study"):
        store.load_study("real-studdy")
    for name in ("other", "real-study"):
        ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", storage=store, name=name, seed=0)
    with pytest.raises(StudyNotFound, match=r"its studies are 'real-study', 'other'; did you mean 'real-study'\?"):
        store.load_study("real-studdy")


def test_a_storage_named_without_a_scheme_is_shown_as_it_is() -> None:
    """``redact_url("memory")`` read ``memory://***``, so the CLI's Ctrl-C message, which looks for "memory", told a
    user whose trials lived in memory that the study "keeps its 5 finished trials" and how to resume it."""
    assert redact_url("memory") == "memory"
    assert redact_url("runs/tune.db") == "runs/tune.db"


def test_a_scheme_in_capitals_is_read_as_its_lower_case(tmp_path: Path) -> None:
    """Schemes are case-insensitive; ``SQLite:///`` was refused with "unknown storage 'sqlite': did you mean
    'sqlite'?"."""
    storage = open_storage(f"SQLite:///{tmp_path}/caps.db")
    try:
        assert isinstance(storage, SQLStorage)
        storage.get_or_create_study("s", {"seed": 1}, now=0.0)
    finally:
        storage.close()
    assert (tmp_path / "caps.db").is_file()


def test_a_url_missing_its_slashes_is_refused_not_made_a_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``sqlite:/x.db`` (one slash) ended in ``.db`` and was read as a path: a folder named ``sqlite:`` held the new
    database, without a word."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StorageError, match=r"'sqlite:/x\.db' starts like a sqlite URL but lacks the '//'.*sqlite:///"):
        open_storage("sqlite:/x.db")
    assert list(tmp_path.iterdir()) == []
