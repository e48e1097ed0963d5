"""Schema migrations: a database written by an older tunesmith opens, upgraded, with every trial kept."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from tests.pg import PostgresServer
from tunesmith.errors import StorageError
from tunesmith.storage import SQLStorage
from tunesmith.storage.base import SCHEMA_VERSION, Proposal
from tunesmith.storage.migrations import VERSION_TABLE
from tunesmith.storage.sql import metadata
from tunesmith.trial import TrialState


def _version_1_tables() -> sa.MetaData:
    """The tables as tunesmith 0.1 wrote them (schema version 1, before alembic): no ``retry_of``."""
    old = sa.MetaData()
    sa.Table("tunesmith_meta", old, sa.Column("key", sa.String(64), primary_key=True),
             sa.Column("value", sa.Text, nullable=False))  # fmt: skip
    sa.Table(
        "studies", old,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("attrs", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )  # fmt: skip
    sa.Table(
        "trials", old,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("study_id", sa.Integer, sa.ForeignKey("studies.id", ondelete="CASCADE"), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("metrics", sa.Text, nullable=False),
        sa.Column("resource", sa.Float, nullable=False),
        sa.Column("started_at", sa.Float),
        sa.Column("finished_at", sa.Float),
        sa.Column("heartbeat_at", sa.Float),
        sa.Column("reason", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("worker", sa.String(255)),
        sa.Column("attrs", sa.Text, nullable=False),
        sa.UniqueConstraint("study_id", "number", name="uq_trials_study_number"),
        sa.Index("ix_trials_study_state", "study_id", "state"),
    )  # fmt: skip
    sa.Table(
        "trial_values", old,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("trial_id", sa.Integer, sa.ForeignKey("trials.id", ondelete="CASCADE"), nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("metrics", sa.Text, nullable=False),
        sa.UniqueConstraint("trial_id", "step", name="uq_values_trial_step"),
    )  # fmt: skip
    return old


def _write_version_1_database(url: str, trials: int) -> None:
    """A study with ``trials`` trials (the last one RUNNING), each with two reported steps."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    old = _version_1_tables()
    with engine.begin() as conn:
        old.create_all(conn)
        conn.execute(old.tables["tunesmith_meta"].insert().values(key="schema_version", value="1"))
        study = old.tables["studies"].insert().values(
            name="legacy", spec=json.dumps({"seed": 3}), attrs=json.dumps({"note": "v1"}), created_at=1.0)
        study_id = conn.execute(study).inserted_primary_key[0]
        for number in range(trials):
            done = number < trials - 1
            trial_id = conn.execute(old.tables["trials"].insert().values(
                study_id=study_id, number=number, state="complete" if done else "running",
                params=json.dumps({"x": number / 10}), seed=100 + number,
                metrics=json.dumps({"loss": number / 100} if done else {}), resource=2.0, started_at=10.0 + number,
                finished_at=11.0 + number if done else None, heartbeat_at=10.5 + number, reason=None, error=None,
                worker="old-host:42", attrs=json.dumps({"sampler": "random"}))).inserted_primary_key[0]
            for step in (1, 2):
                conn.execute(old.tables["trial_values"].insert().values(
                    trial_id=trial_id, step=step, metrics=json.dumps({"loss": 1.0 / step})))  # fmt: skip
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres")
        return server.create_database("mig")
    return f"sqlite:///{tmp_path}/legacy.db"


@pytest.fixture
def opened() -> Iterator[Callable[..., SQLStorage]]:
    storages: list[SQLStorage] = []

    def open_(url: str, **kwargs: bool) -> SQLStorage:
        storages.append(SQLStorage(url, **kwargs))
        return storages[-1]

    yield open_
    for storage in storages:
        storage.close()


def _schema_diff(url: str) -> list[object]:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def test_migrations_build_exactly_the_declared_schema(empty_url: str, opened: Callable[..., SQLStorage]) -> None:
    storage = opened(empty_url)
    assert storage.schema_version == SCHEMA_VERSION
    assert _schema_diff(empty_url) == [], "storage/migrations and the tables in storage/sql.py disagree"


def test_a_version_1_database_is_upgraded_on_open_without_losing_a_trial(
    empty_url: str, opened: Callable[..., SQLStorage]
) -> None:
    _write_version_1_database(empty_url, trials=5)
    storage = opened(empty_url)
    assert storage.schema_version == SCHEMA_VERSION == 2
    assert _schema_diff(empty_url) == []
    info = storage.load_study("legacy")
    assert info.spec == {"seed": 3} and info.attrs == {"note": "v1"}
    records = storage.get_trials(info.id)
    assert [r.number for r in records] == [0, 1, 2, 3, 4]
    assert [r.state for r in records] == [TrialState.COMPLETE] * 4 + [TrialState.RUNNING]
    assert records[2].params == {"x": 0.2} and records[2].metrics == {"loss": 0.02} and records[2].seed == 102
    assert records[2].intermediate == {1: {"loss": 1.0}, 2: {"loss": 0.5}} and records[2].worker == "old-host:42"
    # The upgraded database takes new trials, retry lineage included.
    retry = storage.create_trial(info.id, lambda n, h: Proposal({"x": 0.4}, 104, {"retry_of": 4, "retries": 1}),
                                 max_trials=None, worker="new:1", now=20.0)  # fmt: skip
    assert retry is not None and retry.number == 5 and retry.attrs["retry_of"] == 4


def test_the_database_refuses_a_second_retry_of_the_same_trial(
    empty_url: str, opened: Callable[..., SQLStorage]
) -> None:
    storage = opened(empty_url)
    info, _ = storage.get_or_create_study("s", {"seed": 1}, now=0.0)
    again = lambda n, h: Proposal({"x": 1}, 1, {"retry_of": 0, "retries": 1})  # noqa: E731
    storage.create_trial(info.id, lambda n, h: Proposal({"x": 1}, 1), max_trials=None, worker="h:1", now=0.0)
    storage.create_trial(info.id, again, max_trials=None, worker="h:1", now=0.0)
    with pytest.raises(sa.exc.IntegrityError):
        storage.create_trial(info.id, again, max_trials=None, worker="h:1", now=0.0)
    assert [r.number for r in storage.get_trials(info.id)] == [0, 1], "the refused trial left no gap"


def test_an_older_database_is_refused_when_upgrade_is_off(empty_url: str, opened: Callable[..., SQLStorage]) -> None:
    _write_version_1_database(empty_url, trials=2)
    with pytest.raises(StorageError, match=r"schema version 1, older than this tunesmith \(2\).*storage upgrade"):
        opened(empty_url, upgrade=False)
    assert opened(empty_url).schema_version == SCHEMA_VERSION


def test_concurrent_openers_of_an_empty_postgres_database_migrate_once(
    postgres: PostgresServer, opened: Callable[..., SQLStorage]
) -> None:
    url = postgres.create_database("race")
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def open_one() -> None:
        try:
            barrier.wait()
            opened(url)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert _schema_diff(url) == []
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        assert conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all() == ["0002"]
    engine.dispose()
