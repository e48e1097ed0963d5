"""The SQL schema `SQLStorage` stores studies in, and the conversion between its rows and records.

The tables are schema version `SCHEMA_VERSION`; alembic migrations in `tunesmith.storage.migrations`
create them in an empty database and upgrade an older one (`_migrate`). A test checks that the
migrated schema equals the tables declared here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tunesmith.errors import StudyNotFound
from tunesmith.storage.base import SCHEMA_VERSION, StudyInfo
from tunesmith.trial import TrialKind, TrialRecord, TrialState

metadata = sa.MetaData()

meta_table = sa.Table(
    "tunesmith_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

studies_table = sa.Table(
    "studies",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("spec", sa.Text, nullable=False),
    sa.Column("attrs", sa.Text, nullable=False, default="{}"),
    sa.Column("created_at", sa.Float, nullable=False),
    # Bumped (under the study lock) whenever a finished trial's row changes: caches compare it (version 4).
    sa.Column("trials_revision", sa.Integer, nullable=False, server_default="0"),
)

trials_table = sa.Table(
    "trials",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("study_id", sa.Integer, sa.ForeignKey("studies.id", ondelete="CASCADE"), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("params", sa.Text, nullable=False),
    sa.Column("seed", sa.BigInteger, nullable=False),
    sa.Column("metrics", sa.Text, nullable=False, default="{}"),
    sa.Column("resource", sa.Float, nullable=False, default=0.0),
    sa.Column("started_at", sa.Float),
    sa.Column("finished_at", sa.Float),
    sa.Column("heartbeat_at", sa.Float),
    sa.Column("reason", sa.Text),
    sa.Column("error", sa.Text),
    sa.Column("worker", sa.String(255)),
    sa.Column("attrs", sa.Text, nullable=False, default="{}"),
    sa.Column("retry_of", sa.Integer, nullable=True),
    sa.Column("kind", sa.String(32), nullable=True),  # a `TrialKind` value (schema version 3)
    sa.UniqueConstraint("study_id", "number", name="uq_trials_study_number"),
    sa.Index("ix_trials_study_state", "study_id", "state"),
    sa.Index("uq_trials_study_retry_of", "study_id", "retry_of", unique=True),
)

values_table = sa.Table(
    "trial_values",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("trial_id", sa.Integer, sa.ForeignKey("trials.id", ondelete="CASCADE"), nullable=False),
    sa.Column("step", sa.Integer, nullable=False),
    sa.Column("metrics", sa.Text, nullable=False),
    sa.UniqueConstraint("trial_id", "step", name="uq_values_trial_step"),
)


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _dumps_spec(spec: Mapping[str, Any]) -> str:
    """A study's spec as its column stores it: keys sorted, as `_dumps` sorts them, except the parameters of its
    space, which keep their order.

    A space draws its parameters in order, so sorting them by name made a seeded search in SQL storage differ
    from the same search in memory. A spec stored sorted (before tunesmith kept the order) is read in that
    order, and its study goes on drawing as it did.
    """
    space = spec.get("space")
    ordered = {key: _sorted(spec[key]) for key in sorted(spec)}
    if isinstance(space, Mapping):
        ordered["space"] = {name: _sorted(definition) for name, definition in space.items()}
    return json.dumps(ordered)


def _sorted(value: Any) -> Any:
    """``value`` with the keys of every mapping in it sorted (what ``json.dumps(sort_keys=True)`` writes)."""
    if isinstance(value, Mapping):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list | tuple):
        return [_sorted(item) for item in value]
    return value


def _study_from_row(row: Any) -> StudyInfo:
    return StudyInfo(
        id=row.id, name=row.name, spec=json.loads(row.spec), attrs=json.loads(row.attrs), created_at=row.created_at
    )


def _record_from_row(row: Any, values: dict[int, dict[str, float]]) -> TrialRecord:
    return TrialRecord(
        number=row.number,
        params=json.loads(row.params),
        seed=int(row.seed),
        state=TrialState(row.state),
        metrics=json.loads(row.metrics),
        intermediate=values,
        resource=float(row.resource),
        started_at=row.started_at,
        finished_at=row.finished_at,
        heartbeat_at=row.heartbeat_at,
        reason=row.reason,
        kind=None if row.kind is None else TrialKind(row.kind),
        error=row.error,
        worker=row.worker,
        attrs=json.loads(row.attrs),
    )


def stored_version(conn: Connection) -> int | None:
    """The schema version the database records (``None`` for an empty database)."""
    if not sa.inspect(conn).has_table("tunesmith_meta"):
        return None
    value = conn.execute(sa.select(meta_table.c.value).where(meta_table.c.key == "schema_version")).scalar()
    return None if value is None else int(value)


_RETIRED = "retired_study_ids"  # the meta key under which the highest id a deleted study held is kept


def retired_study_ids(conn: Connection) -> int:
    """The highest id a deleted study held (0: none was deleted); no study created later takes an id at or below
    it, so an object still holding a deleted study's id never reads or writes another study."""
    value = conn.execute(sa.select(meta_table.c.value).where(meta_table.c.key == _RETIRED)).scalar()
    return 0 if value is None else int(value)


def keep_study_id_retired(conn: Connection, study_id: int) -> None:
    """Record, in the deleting transaction, that ``study_id`` is never given again (see `retired_study_ids`)."""
    before = conn.execute(sa.select(meta_table.c.value).where(meta_table.c.key == _RETIRED)).scalar()
    if before is None:
        conn.execute(sa.insert(meta_table).values(key=_RETIRED, value=str(study_id)))
    elif int(before) < study_id:
        conn.execute(sa.update(meta_table).where(meta_table.c.key == _RETIRED).values(value=str(study_id)))


def trials_revision(conn: Connection, study_id: int) -> int:
    """The study's ``trials_revision``: it moves whenever a finished trial changes (see `FinishedTrials`). Raises
    `StudyNotFound` when no study has the id: one deleted since its id was read."""
    s = studies_table
    revision = conn.execute(sa.select(s.c.trials_revision).where(s.c.id == study_id)).scalar()
    if revision is None:
        raise StudyNotFound(f"no study with id {study_id} in this storage (deleted since it was opened?)")
    return int(revision)


def bump_trials_revision(conn: Connection, study_id: int) -> int:
    """Record, with the study locked, that a finished trial changes; returns the revision before (pass it
    to `FinishedTrials.changed` once the transaction is committed)."""
    before = trials_revision(conn, study_id)
    s = studies_table
    conn.execute(sa.update(s).where(s.c.id == study_id).values(trials_revision=before + 1))
    return before


def _retry_of(attrs: Mapping[str, Any]) -> int | None:
    value = attrs.get("retry_of")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _migrate(conn: Connection, version: int | None) -> None:
    """Bring the schema from ``version`` (``None``: empty database) to `SCHEMA_VERSION` with alembic."""
    from alembic import command
    from alembic.config import Config

    from tunesmith.storage.migrations import MIGRATIONS_DIR, VERSION_TABLE, revision_of

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = conn
    if version is not None and not sa.inspect(conn).has_table(VERSION_TABLE):
        # Written before tunesmith used alembic: the meta table says which revision it is at.
        command.stamp(config, revision_of(version))
    command.upgrade(config, revision_of(SCHEMA_VERSION))
