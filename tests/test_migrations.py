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
from tunesmith.storage import sql as sql_module
from tunesmith.storage._sql_schema import metadata
from tunesmith.storage.base import SCHEMA_VERSION, Proposal
from tunesmith.storage.migrations import MIGRATIONS_DIR, VERSION_TABLE
from tunesmith.trial import TrialKind, TrialState


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
    assert _schema_diff(empty_url) == [], "storage/migrations and the tables in storage/_sql_schema.py disagree"


def test_a_version_1_database_is_upgraded_on_open_without_losing_a_trial(
    empty_url: str, opened: Callable[..., SQLStorage]
) -> None:
    _write_version_1_database(empty_url, trials=5)
    storage = opened(empty_url)
    assert storage.schema_version == SCHEMA_VERSION == 4
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


# (state, reason) as tunesmith wrote them up to schema version 2, and the kind version 3 backfills.
_VERSION_2_ROWS: list[tuple[str, str | None, TrialKind | None]] = [
    ("complete", None, None),
    ("paused", "pause by asha at step 3", None),
    ("stopped", "stop by asha at step 3", TrialKind.SCHEDULER),
    ("stopped", "not in the top 1/3 at its rung", TrialKind.SCHEDULER),
    ("stopped", "stopped", TrialKind.SCHEDULER),
    ("stopped", "not promoted before the trial budget ran out", TrialKind.BUDGET),
    ("stopped", "wall-time budget spent (61s/60s)", TrialKind.BUDGET),
    ("stopped", "resource budget spent (9 used, 1 steps in flight, of 10)", TrialKind.BUDGET),
    ("stopped", "diverged", TrialKind.DIVERGED),
    ("failed", "interrupted", TrialKind.INTERRUPTED),
    ("failed", "lost worker", TrialKind.LOST_WORKER),
    ("failed", "exception: ValueError", TrialKind.EXCEPTION),
    ("failed", "exception in trial process", TrialKind.EXCEPTION),
    ("failed", "exception in trial task", TrialKind.EXCEPTION),
    ("failed", "error", TrialKind.EXCEPTION),
    ("failed", "a user's own words", TrialKind.EXCEPTION),
    ("failed", "killed by SIGSEGV", TrialKind.CRASH),
    ("failed", "killed by SIGKILL (out of memory or killed)", TrialKind.CRASH),
    ("failed", "trial process exited with code 3", TrialKind.CRASH),
    ("failed", "trial process vanished", TrialKind.CRASH),
    ("failed", "timed out", TrialKind.TIMEOUT),
    ("failed", "out of memory", TrialKind.OUT_OF_MEMORY),
    ("failed", "loss is nan", TrialKind.NON_FINITE),
    ("failed", "loss is -inf", TrialKind.NON_FINITE),
    ("failed", "loss is None", TrialKind.MISSING_METRIC),
    ("failed", "guardrail metric 'latency' missing from the result", TrialKind.MISSING_METRIC),
    ("failed", "bad result: the objective returned 'x'\nexpected a float", TrialKind.BAD_RESULT),
    ("failed", "result not serialisable", TrialKind.BAD_RESULT),
    ("infeasible", "guardrail breached: latency <= 1 (got 2)", TrialKind.GUARDRAIL),
    ("running", None, None),
]


def _write_version_2_database(url: str) -> None:
    """A study holding one trial per row of `_VERSION_2_ROWS`, written by the migrations up to 0002."""
    from alembic import command
    from alembic.config import Config

    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    old = _version_1_tables()  # version 2 only added trials.retry_of, which these rows leave empty
    with engine.begin() as conn:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.attributes["connection"] = conn
        command.upgrade(config, "0002")
        study = old.tables["studies"].insert().values(name="legacy", spec="{}", attrs="{}", created_at=1.0)
        study_id = conn.execute(study).inserted_primary_key[0]
        for number, (state, reason, _) in enumerate(_VERSION_2_ROWS):
            conn.execute(old.tables["trials"].insert().values(
                study_id=study_id, number=number, state=state, params=json.dumps({"x": number}), seed=number,
                metrics="{}", resource=0.0, started_at=1.0, finished_at=None if state == "running" else 2.0,
                heartbeat_at=1.0, reason=reason, error=None, worker="old-host:42", attrs="{}"))  # fmt: skip
    engine.dispose()


def test_a_version_2_database_gets_each_trial_kind_from_its_reason(
    empty_url: str, opened: Callable[..., SQLStorage]
) -> None:
    _write_version_2_database(empty_url)
    with pytest.raises(StorageError, match=r"schema version 2, older than this tunesmith \(4\)"):
        opened(empty_url, upgrade=False)
    storage = opened(empty_url)
    assert storage.schema_version == SCHEMA_VERSION == 4
    assert _schema_diff(empty_url) == []
    records = storage.get_trials(storage.load_study("legacy").id)
    assert [(r.state.value, r.reason) for r in records] == [(s, r) for s, r, _ in _VERSION_2_ROWS], "reasons kept"
    assert [(r.reason, r.kind) for r in records] == [(r, k) for _, r, k in _VERSION_2_ROWS]


def test_after_the_upgrade_lost_trials_still_do_not_spend_the_trial_budget(
    empty_url: str, opened: Callable[..., SQLStorage]
) -> None:
    _write_version_2_database(empty_url)
    storage = opened(empty_url)
    info = storage.load_study("legacy")
    budgeted = len(_VERSION_2_ROWS) - 2  # the interrupted trial and the lost worker's
    assert storage.create_trial(info.id, _propose_x, max_trials=budgeted, worker="new:1", now=3.0) is None
    extra = storage.create_trial(info.id, _propose_x, max_trials=budgeted + 1, worker="new:1", now=3.0)
    assert extra is not None and extra.number == len(_VERSION_2_ROWS) and extra.kind is None


def _propose_x(number: int, history: object) -> Proposal:
    return Proposal({"x": number}, number)


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
    with pytest.raises(StorageError, match=r"schema version 1, older than this tunesmith \(4\).*storage upgrade"):
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
        assert conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all() == ["0004"]
    engine.dispose()


def test_an_opener_that_read_no_version_before_another_migrated_does_not_call_the_database_foreign(
    empty_url: str, opened: Callable[..., SQLStorage], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The interleaving the concurrent test above hits only under load, made certain: the first opener reads no
    # version, then a second opener migrates the database, then the first looks for another program's tables.
    real = sql_module.stored_version
    raced: list[bool] = []

    def version_then_another_opener_migrates(conn: sa.Connection) -> int | None:
        version = real(conn)
        if not raced:
            raced.append(True)  # before it opens: the second opener's own reads come here too
            assert opened(empty_url).schema_version == SCHEMA_VERSION
        return version

    monkeypatch.setattr(sql_module, "stored_version", version_then_another_opener_migrates)
    assert opened(empty_url).schema_version == SCHEMA_VERSION
    assert raced
