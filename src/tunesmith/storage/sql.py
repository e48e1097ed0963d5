"""SQL storage through SQLAlchemy 2 Core: SQLite by default (WAL, busy timeout), PostgreSQL at scale.

Concurrency: every write runs in a transaction that first locks the study row (``BEGIN
IMMEDIATE`` on SQLite, ``SELECT ... FOR NO KEY UPDATE`` on PostgreSQL), so trial numbers are
gap-free and the trial budget is exact across processes and machines.

Finished trial records are cached per storage object (`tunesmith.storage._trial_cache`). Schema: the
tables of `tunesmith.storage._sql_schema` are schema version `SCHEMA_VERSION`; alembic migrations
(`tunesmith.storage.migrations`) create them in an empty database and upgrade an older one on open
(``upgrade=False`` refuses instead), one opener at a time (SQLite's write lock, a PostgreSQL advisory
lock). `SQLStorage.url` is the redacted URL (``postgresql://user:***@host/db``), safe to print.

Failures: the engine (`tunesmith.storage._engine`) turns every driver exception into a `StorageError`
with the fix (`tunesmith.storage._failures`), reconnects to a PostgreSQL server that restarted, and its
`Connections` let `close` wait for connections in use on other threads (a server that cannot be reached, at the
first connection or after, is tried for ``reconnect_for`` seconds: 60 by default, ``?reconnect_for=SECONDS`` in a
PostgreSQL URL, which every worker given that URL then honours); a SQLite file (or its ``-wal``)
deleted, replaced or truncated while open stops the next read or write with `StorageLost`
(`tunesmith.storage._sqlite_file`). Every read and write is one unit of work (`_read`, `_write`, `_locked`)
that runs again as a whole on a new connection when a lost connection cut it off (`Connections.run`); a
write whose COMMIT the loss cut off is first looked for, under the lock the write takes (so a COMMIT still
running in the old session has finished), and nothing is written twice:

- ``create_trial``: the trial row at the number it took, with this worker, start time, seed and parameters;
- ``add_report``: every reported metric stored at the step (a step holds a metric once: a report of one
  already there is refused, so they can only be this report's);
- ``finish_trial``: the trial's row holding this state, metrics, reason, kind, error and finish time (so a
  result that landed is not run again and then called discarded because the trial is finished);
- ``update_study_attr`` (``set_study_attr``): the attribute holding the value written (landed), or the
  value read before (not landed); anything else means another writer changed it since, and nobody can tell;
- ``resume_trial``: the trial RUNNING for this worker since this resumption; ``get_or_create_study``: the
  study with this spec and creation time;
- ``update_trial``, ``update_study_spec``, ``heartbeat`` and creating the schema set values (or check the
  version under a lock), so running them twice changes nothing.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tunesmith._report_rules import ReportRefused
from tunesmith.budget import counts_toward_budget
from tunesmith.errors import (
    StorageError,
    StorageUnavailable,
    StudyInUse,
    StudyNotFound,
    TrialNotRunning,
    TunesmithError,
    not_running,
)
from tunesmith.storage._engine import RECONNECT_FOR, Landing, make_engine
from tunesmith.storage._failures import foreign_database, no_schema
from tunesmith.storage._sql_schema import (
    _dumps,
    _dumps_spec,
    _migrate,
    _record_from_row,
    _retry_of,
    _study_from_row,
    bump_trials_revision,
    keep_study_id_retired,
    retired_study_ids,
    stored_version,
    studies_table,
    trials_revision,
    trials_table,
    values_table,
)
from tunesmith.storage._sql_schema import metadata as metadata
from tunesmith.storage._trial_cache import Facet, FinishedTrials, TrialHistory
from tunesmith.storage._urls import read_storage_file, redact_url, storage_url_from_environment
from tunesmith.storage.base import (
    SCHEMA_VERSION,
    Proposer,
    Storage,
    StudyInfo,
    name_forms,
    paused_until,
    refused_report,
    study_not_found,
    trial_not_found,
)
from tunesmith.trial import TrialKind, TrialRecord, TrialState

__all__ = ["SQLStorage", "read_storage_file", "redact_url", "storage_url_from_environment"]

# pg_advisory_xact_lock key under which PostgreSQL openers create or migrate the schema ("tsmi").
_SCHEMA_LOCK_KEY = 0x74736D69
# What storage holds of a trial left RUNNING by a write whose outcome is unknown.
_LEFT_RUNNING = (
    "a trial left RUNNING is recorded lost (LOST_WORKER, no budget spent) once its heartbeat is older than the "
    "study's grace"
)

Result = TypeVar("Result")


class SQLStorage(Storage):
    """A study database reached through a SQLAlchemy URL (``sqlite:///tunesmith.db``, ``postgresql://...``).

    Args:
        url: the database URL; ``postgresql://`` uses psycopg 3 (``pip install 'tunesmith[postgres]'``).
        busy_timeout: seconds a write waits for a lock another process holds: SQLite's busy timeout (a
            SQLite URL's ``?timeout=`` wins), PostgreSQL's ``lock_timeout``.
        echo: log every SQL statement (SQLAlchemy's ``echo``).
        upgrade: migrate a database written by an older tunesmith to this schema version on open;
            with ``False`` such a database raises `StorageError` (run ``tunesmith storage upgrade``).
        must_exist: refuse a SQLite file that does not exist, and a database without tunesmith's
            tables, instead of creating them (what commands that only read want). A database that holds
            other tables but no tunesmith schema (another program's, an Optuna study's) is refused either way,
            and left as it was.
        reconnect_for: seconds to keep trying a PostgreSQL server that cannot be reached (stopped, restarting,
            starting up), at the first connection as after one, and to keep running again a read or write whose
            connection was lost in flight, before it fails with `StorageUnavailable`; counted from when the
            outage was first found, whichever thread found it. A PostgreSQL URL's ``?reconnect_for=SECONDS``
            wins (the URL reaches every worker: ``--storage``, a storage file, ``TUNESMITH_STORAGE``).

    A SQLite file that cannot be written (nor its directory, or its existing -shm/-wal) is opened read-only, as
    is one whose URL ends in ``?mode=ro`` (``?immutable=1``: read-only and unlocked, for read-only media). A
    SQLite URL must name a file: ``sqlite:///`` and ``sqlite:///:memory:`` are refused (``"memory"`` is the
    storage that keeps nothing).

    Raises:
        StorageError: the URL is malformed or names an unsupported backend, a missing driver or no SQLite file,
            or its ``reconnect_for`` is no number of seconds.
        StorageUnavailable: the database cannot be opened or reached, or holds another program's tables; the
            message says why.
    """

    def __init__(
        self, url: str, *, busy_timeout: float = 60.0, echo: bool = False, upgrade: bool = True,
        must_exist: bool = False, reconnect_for: float = RECONNECT_FOR,
    ) -> None:  # fmt: skip
        self.url = redact_url(url)
        try:
            parsed = sa.engine.make_url(url)
        except sa.exc.ArgumentError as exc:
            raise StorageError(f"cannot parse storage URL {self.url!r}: {exc}") from None
        self._is_sqlite = parsed.get_backend_name() == "sqlite"
        # Every connection is taken through _connections, so that close() can wait for those in use.
        self._engine, self._file, self._connections = make_engine(
            parsed, self.url, busy_timeout=busy_timeout, echo=echo, must_exist=must_exist, reconnect_for=reconnect_for
        )
        # Pooled connections are closed when the storage is dropped without close(), not left
        # for the garbage collector (psycopg warns about those).
        self._finalizer = weakref.finalize(self, self._engine.dispose)
        self._finished = FinishedTrials()
        try:
            self._ensure_schema(upgrade, must_exist)
        except BaseException:
            self.close()  # a refused database keeps no connection open (a PostgreSQL session, a SQLite lock)
            raise

    def _ensure_schema(self, upgrade: bool, must_exist: bool) -> None:
        version = self._read(stored_version)
        if version is None:
            # Another program's database (an Optuna study, a mistyped path) is refused before anything is written
            # into it; only an empty one is made tunesmith's. The tables are read before the version again: another
            # opener's migration commits its tables and its version together, so tables seen here mean its version is
            # seen by the later read (reading the version first, the tables could appear in between, foreign-looking).
            tables, version = self._read(lambda conn: (sa.inspect(conn).get_table_names(), stored_version(conn)))
            if tables and version is None:
                raise foreign_database(self.url, tables)
            if version is None and must_exist:
                raise no_schema(self.url)
        if version == SCHEMA_VERSION:
            return  # the common case: no lock, no alembic
        if self._file is not None and self._file.read_only and version is not None and version < SCHEMA_VERSION:
            raise StorageUnavailable(
                f"{self.url} has schema version {version}, older than this tunesmith ({SCHEMA_VERSION}), and is "
                "read-only here: run `tunesmith storage upgrade` where it is writable, or on a copy"
            )

        def migrate(conn: Connection) -> None:
            if not self._is_sqlite:
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_SCHEMA_LOCK_KEY)))
            version = stored_version(conn)  # again, under the lock: another opener may have migrated
            if version == SCHEMA_VERSION:
                return
            if version is not None and version > SCHEMA_VERSION:
                raise StorageError(
                    f"{self.url} has schema version {version}, newer than this tunesmith "
                    f"({SCHEMA_VERSION}): upgrade tunesmith"
                )
            if version is not None and not upgrade:
                raise StorageError(
                    f"{self.url} has schema version {version}, older than this tunesmith ({SCHEMA_VERSION}): "
                    "run `tunesmith storage upgrade` or open it with SQLStorage(url, upgrade=True)"
                )
            _migrate(conn, version)

        self._write(migrate)  # run again after a lost COMMIT, it finds the version migrated, or migrates

    @property
    def reconnect_for(self) -> float:
        """The seconds a PostgreSQL server that cannot be reached is tried for (the URL's ``?reconnect_for=``, else
        the argument)."""
        return self._connections.reconnect_for

    @property
    def schema_version(self) -> int:
        """The schema version the database records."""
        version = self._read(stored_version)
        if version is None:
            raise StorageError(f"{self.url} has no tunesmith schema")
        return version

    def _read(self, work: Callable[[Connection], Result]) -> Result:
        """``work(conn)`` on a connection, once the SQLite file is found intact (as `_write` does: the open
        connections still read a deleted or replaced file, so a study that is gone would go on being served); run
        again on a new connection when a lost connection cut it off."""
        if self._file is not None:
            self._file.verify()
        return self._connections.run(work)

    def _write(self, work: Callable[[Connection], Result], landing: Landing[Result] | None = None) -> Result:
        """``work(conn)`` in a write transaction (``BEGIN IMMEDIATE`` on SQLite), once the SQLite file is found
        intact; run again as a whole on a new connection when a lost connection cut it off (`Connections.run`).

        ``landing`` tells whether a COMMIT the loss cut off landed; a write without one must change nothing when
        it runs twice.
        """
        if self._file is not None:
            self._file.verify()
        return self._connections.run(work, writer=True, landing=landing)

    def _locked(
        self, study_id: int, work: Callable[[Connection], Result], landing: Landing[Result] | None = None
    ) -> Result:
        """``work(conn)`` in a write transaction holding the study's lock (see `_write`).

        ``landing``'s check takes the lock first: a COMMIT the loss cut off that reached a server still running
        its session has then finished, so the check reads its outcome, not the moment before it.
        """

        def locked(conn: Connection) -> Result:
            self._lock_study(conn, study_id)
            return work(conn)

        if landing is None:
            return self._write(locked)
        check = landing.check

        def checked(conn: Connection, result: Result) -> bool | str:
            self._lock_study(conn, study_id)
            return check(conn, result)

        return self._write(locked, replace(landing, check=checked))

    def _lock_study(self, conn: Connection, study_id: int) -> None:
        """Lock study ``study_id`` until the transaction ends; raises `StudyNotFound`."""
        query = sa.select(studies_table.c.id).where(studies_table.c.id == study_id)
        if not self._is_sqlite:
            # FOR NO KEY UPDATE: excludes other lockers, yet lets rows referencing the study
            # (new trials) take their foreign-key share lock.
            query = query.with_for_update(key_share=True)
        if conn.execute(query).first() is None:
            raise StudyNotFound(f"no study with id {study_id} in {self.url}")

    # Studies ----------------------------------------------------------------------------------
    def get_or_create_study(self, name: str, spec: Mapping[str, Any], now: float) -> tuple[StudyInfo, bool]:
        try:
            return self.load_study(name), False
        except StudyNotFound:
            pass
        name = name_forms(name)[0]
        text = _dumps_spec(spec)

        def created(conn: Connection, _: object) -> bool:
            query = sa.select(studies_table.c.spec, studies_table.c.created_at).where(studies_table.c.name == name)
            row = conn.execute(query).first()
            return row is not None and row.spec == text and row.created_at == now

        landing = Landing(
            created, lambda _: f"the new study {name!r}", lambda _: f"study {name!r} may be stored or not; run again"
        )
        try:
            self._write(lambda conn: self._new_study(conn, name, text, "{}", now), landing)
            return self.load_study(name), True
        except sa.exc.IntegrityError:  # another worker created it first
            return self.load_study(name), False

    def _new_study(self, conn: Connection, name: str, spec: str, attrs: str, created_at: float) -> int:
        """Insert a study's row; its id."""
        values: dict[str, Any] = {"name": name, "spec": spec, "attrs": attrs, "created_at": created_at}
        retired = retired_study_ids(conn)
        if retired and self._is_sqlite:  # SQLite gives a new row the highest id + 1: a deleted study's, maybe
            highest = conn.execute(sa.select(sa.func.max(studies_table.c.id))).scalar() or 0
            values["id"] = max(highest, retired) + 1
        return _inserted_id(conn.execute(sa.insert(studies_table).values(**values)))

    def insert_study(
        self, name: str, spec: Mapping[str, Any], *, attrs: Mapping[str, Any], created_at: float,
        trials: Sequence[TrialRecord],
    ) -> StudyInfo:  # fmt: skip
        name = name_forms(name)[0]
        s, t, v = studies_table, trials_table, values_table

        def insert(conn: Connection) -> None:
            if conn.execute(sa.select(s.c.id).where(s.c.name == name)).first() is not None:
                raise StorageError(f"a study named {name!r} exists in {self.url}: it is not replaced")
            study_id = self._new_study(conn, name, _dumps_spec(spec), _dumps(dict(attrs)), created_at)
            for record in sorted(trials, key=lambda r: r.number):
                row = _row_of(record)
                trial_id = _inserted_id(conn.execute(sa.insert(t).values(study_id=study_id, **row)))
                curve = [{"trial_id": trial_id, "step": step, "metrics": _dumps(dict(metrics))}
                         for step, metrics in sorted(record.intermediate.items())]  # fmt: skip
                if curve:
                    conn.execute(sa.insert(v), curve)

        def landed(conn: Connection, _: None) -> bool:
            query = sa.select(s.c.id).where(s.c.name == name, s.c.created_at == created_at)
            study_id = conn.execute(query).scalar()
            if study_id is None:
                return False
            stored = conn.execute(sa.select(sa.func.count()).select_from(t).where(t.c.study_id == study_id)).scalar()
            return stored == len(trials)

        what = f"the copy of study {name!r} ({len(trials)} trials)"
        self._write(insert, Landing(landed, lambda _: what, lambda _: "storage holds the study whole or not at all"))
        return self.load_study(name)

    def load_study(self, name: str) -> StudyInfo:
        def find(conn: Connection) -> sa.Row[Any] | None:
            row = None
            for form in name_forms(name):
                row = row or conn.execute(sa.select(studies_table).where(studies_table.c.name == form)).first()
            return row

        row = self._read(find)
        if row is None:
            query = sa.select(studies_table.c.name).order_by(studies_table.c.id)
            names = self._read(lambda conn: [str(n) for n in conn.execute(query).scalars()])
            raise study_not_found(name, self.url, names)
        return _study_from_row(row)

    def list_studies(self) -> list[StudyInfo]:
        rows = self._read(lambda conn: conn.execute(sa.select(studies_table).order_by(studies_table.c.id)).all())
        return [_study_from_row(r) for r in rows]

    def set_study_attr(self, study_id: int, key: str, value: Any) -> None:
        self.update_study_attr(study_id, key, lambda _: value)

    def update_study_attr(self, study_id: int, key: str, update: Callable[[Any], Any]) -> Any:
        query = sa.select(studies_table.c.attrs).where(studies_table.c.id == study_id)

        def rewrite(conn: Connection) -> tuple[str, str, Any]:
            attrs = json.loads(conn.execute(query).scalar_one())
            before = _dumps(attrs.get(key))
            attrs[key] = value = update(attrs.get(key))
            conn.execute(sa.update(studies_table).where(studies_table.c.id == study_id).values(attrs=_dumps(attrs)))
            return before, _dumps(value), value

        def landed(conn: Connection, written: tuple[str, str, Any]) -> bool | str:
            stored = conn.execute(query).scalar()
            now = _dumps(None if stored is None else json.loads(stored).get(key))
            if now in written[:2]:
                return now == written[1]
            return (
                "another writer has changed it since, so storage cannot tell whether it holds this write; read the "
                "attribute back (Study.attrs) and write it again if this write is missing"
            )

        def what(_: object) -> str:
            return f"study attribute {key!r} of study {study_id}"

        def holds(_: object) -> str:
            return f"storage holds study attribute {key!r} either with this write or as it was before"

        return self._locked(study_id, rewrite, Landing(landed, what, holds))[2]

    def delete_study(self, study_id: int, *, running: bool = False) -> None:
        t, s = trials_table, studies_table

        def delete(conn: Connection) -> None:
            self._lock_study(conn, study_id)
            if not running:
                busy = tuple(int(n) for n in conn.execute(
                    sa.select(t.c.number).where(t.c.study_id == study_id, t.c.state == TrialState.RUNNING.value)
                    .order_by(t.c.number)).scalars())  # fmt: skip
                if busy:
                    raise StudyInUse(f"study {study_id} in {self.url} has running trials {list(busy)}", busy)
            trial_ids = sa.select(t.c.id).where(t.c.study_id == study_id).scalar_subquery()
            conn.execute(sa.delete(values_table).where(values_table.c.trial_id.in_(trial_ids)))
            conn.execute(sa.delete(t).where(t.c.study_id == study_id))
            conn.execute(sa.delete(s).where(s.c.id == study_id))
            keep_study_id_retired(conn, study_id)

        def landed(conn: Connection, _: None) -> bool:
            return conn.execute(sa.select(s.c.id).where(s.c.id == study_id)).first() is None

        what = f"the deletion of study {study_id}"
        self._write(delete, Landing(landed, lambda _: what, lambda _: "storage holds the study whole or not at all"))
        self._finished.forget(study_id)

    def update_study_spec(self, study_id: int, spec: Mapping[str, Any]) -> None:
        update = sa.update(studies_table).where(studies_table.c.id == study_id).values(spec=_dumps_spec(spec))
        self._locked(study_id, lambda conn: conn.execute(update))  # the same spec twice changes nothing

    # Trials -----------------------------------------------------------------------------------
    def _read_trials(self, conn: Connection, study_id: int) -> TrialHistory:
        revision = trials_revision(conn, study_id)
        cached = self._finished.view(study_id, revision)
        t = trials_table
        query = sa.select(t).where(t.c.study_id == study_id)
        # Only what the cache lacks, each part by the (study_id, number) index: the trials numbered past it, and
        # those it holds no finished record of (an OR of the two made SQLite read every trial of the study).
        new = conn.execute(query.where(t.c.number > cached.top).order_by(t.c.number)).all()
        at_holes = [
            row
            for chunk in _chunks(cached.holes)
            for row in conn.execute(query.where(t.c.number.in_(chunk)).order_by(t.c.number))
        ]
        values: dict[int, dict[int, dict[str, float]]] = {}
        v = values_table
        for chunk in _chunks([r.id for r in (*at_holes, *new)]):
            for vrow in conn.execute(sa.select(v.c.trial_id, v.c.step, v.c.metrics).where(v.c.trial_id.in_(chunk))):
                values.setdefault(vrow.trial_id, {})[vrow.step] = json.loads(vrow.metrics)
        holes = [_record_from_row(row, values.get(row.id, {})) for row in at_holes]
        past = [_record_from_row(row, values.get(row.id, {})) for row in new]
        finished = [record for record in (*holes, *past) if record.state.is_finished]
        if finished:
            self._finished.add(study_id, revision, finished)
        return cached.history(holes, past, lambda facet: self._finished.watch(study_id, facet))

    def get_trials(self, study_id: int) -> list[TrialRecord]:
        return list(self._read(lambda conn: self._read_trials(conn, study_id)))

    def get_trial(self, study_id: int, number: int) -> TrialRecord:
        t, v = trials_table, values_table

        def read(conn: Connection) -> TrialRecord:
            revision = trials_revision(conn, study_id)
            cached = self._finished.get(study_id, number, revision)
            if cached is not None:
                return cached
            if not _INT64[0] <= number <= _INT64[1]:  # no column holds it: SQLite's driver raised OverflowError
                raise _no_trial(conn, study_id, number)
            row = conn.execute(sa.select(t).where(t.c.study_id == study_id, t.c.number == number)).first()
            if row is None:
                raise _no_trial(conn, study_id, number)
            values = {
                r.step: json.loads(r.metrics)
                for r in conn.execute(sa.select(v.c.step, v.c.metrics).where(v.c.trial_id == row.id))
            }
            record = _record_from_row(row, values)
            if record.state.is_finished:  # as `_read_trials` would: the next read of the trials need not read it
                self._finished.add(study_id, revision, [record])
            return record

        return self._read(read)

    def _trial_id(self, conn: Connection, study_id: int, number: int) -> tuple[int, str]:
        row = self._trial_row(conn, study_id, number)
        return int(row.id), str(row.state)

    @staticmethod
    def _trial_row(conn: Connection, study_id: int, number: int, *columns: sa.Column[Any]) -> sa.Row[Any]:
        """The trial's ``id`` and ``state``, and ``columns``; raises `TrialNotFound` (a `KeyError`) when the number
        does not exist."""
        t = trials_table
        row = conn.execute(
            sa.select(t.c.id, t.c.state, *columns).where(t.c.study_id == study_id, t.c.number == number)
        ).first()
        if row is None:
            raise _no_trial(conn, study_id, number)
        return row

    def create_trial(
        self, study_id: int, propose: Proposer, *, max_trials: int | None, worker: str, now: float
    ) -> TrialRecord | None:
        def create(conn: Connection) -> TrialRecord | None:
            history = self._read_trials(conn, study_id)
            if max_trials is not None and _budgeted(history) >= max_trials:
                return None
            number = history[-1].number + 1 if history else 0
            proposal = propose(number, history)
            record = TrialRecord(
                number=number,
                params=dict(proposal.params),
                seed=int(proposal.seed),
                state=TrialState.RUNNING,
                started_at=now,
                heartbeat_at=now,
                worker=worker,
                attrs=dict(proposal.attrs),
            )
            conn.execute(
                sa.insert(trials_table).values(
                    study_id=study_id,
                    number=number,
                    state=record.state.value,
                    params=_dumps(record.params),
                    seed=record.seed,
                    metrics="{}",
                    resource=0.0,
                    started_at=now,
                    heartbeat_at=now,
                    worker=worker,
                    attrs=_dumps(record.attrs),
                    retry_of=_retry_of(record.attrs),
                )
            )
            return record

        def landed(conn: Connection, record: TrialRecord | None) -> bool:
            if record is None:
                return True  # it wrote nothing
            t = trials_table
            query = sa.select(t.c.worker, t.c.started_at, t.c.seed, t.c.params)
            row = conn.execute(query.where(t.c.study_id == study_id, t.c.number == record.number)).first()
            mine = (record.worker, record.started_at, record.seed, _dumps(record.params))
            return row is not None and (row.worker, row.started_at, row.seed, row.params) == mine

        def what(record: TrialRecord | None) -> str | None:
            return None if record is None else f"the new trial #{record.number} of study {study_id} ({record.params})"

        def holds(record: TrialRecord | None) -> str:
            number = "" if record is None else f" #{record.number}"
            return f"storage holds trial{number} either RUNNING for this worker or not at all; {_LEFT_RUNNING}"

        return self._locked(study_id, create, Landing(landed, what, holds))

    def add_report(self, study_id: int, number: int, step: int, metrics: Mapping[str, float], now: float) -> None:
        t, v = trials_table, values_table

        def record(conn: Connection) -> None:
            trial = self._trial_row(conn, study_id, number, t.c.resource, t.c.attrs)  # attrs parsed only if needed
            trial_id = int(trial.id)
            if trial.state != TrialState.RUNNING.value:
                raise TrialNotRunning(not_running(number, str(trial.state)))
            existing = conn.execute(
                sa.select(v.c.id, v.c.metrics).where(v.c.trial_id == trial_id, v.c.step == step)
            ).first()
            stored: dict[str, float] = {} if existing is None else json.loads(existing.metrics)
            refused = refused_report(
                number, step, metrics, resource=float(trial.resource), stored_at_step=stored,
                attrs=lambda: json.loads(trial.attrs),
            )  # fmt: skip
            if refused is not None:
                raise ReportRefused(refused)
            if existing is None:
                conn.execute(sa.insert(v).values(trial_id=trial_id, step=step, metrics=_dumps(dict(metrics))))
            else:
                conn.execute(sa.update(v).where(v.c.id == existing.id).values(metrics=_dumps({**stored, **metrics})))
            conn.execute(
                sa.update(t)
                .where(t.c.id == trial_id)
                .values(
                    resource=sa.func.max(t.c.resource, float(step))
                    if self._is_sqlite
                    else sa.func.greatest(t.c.resource, float(step)),
                    heartbeat_at=now,
                )
            )

        def landed(conn: Connection, _: None) -> bool:
            # The report updated the trial's row: locking it waits for a COMMIT still running in the old session.
            trial = conn.execute(
                sa.select(t.c.id).where(t.c.study_id == study_id, t.c.number == number).with_for_update()
            ).first()
            # Each metric is stored at a step once (a report of one already there is refused): present with
            # these values, they are this report's.
            query = sa.select(v.c.metrics).where(v.c.trial_id == (None if trial is None else trial.id))
            row = conn.execute(query.where(v.c.step == step)).first()
            stored = {} if row is None else json.loads(row.metrics)
            return all(name in stored and _dumps(stored[name]) == _dumps(value) for name, value in metrics.items())

        def what(_: None) -> str:
            return f"trial #{number}'s report at step {step} ({_values(metrics)})"

        def holds(_: None) -> str:
            return f"storage holds trial #{number} with this report or without it, still RUNNING; {_LEFT_RUNNING}"

        self._write(record, Landing(landed, what, holds))

    def finish_trial(
        self,
        study_id: int,
        number: int,
        state: TrialState,
        *,
        metrics: Mapping[str, float],
        reason: str | None,
        error: str | None,
        now: float,
        only_if_running: bool = True,
        kind: TrialKind | None = None,
    ) -> bool:
        t = trials_table
        outcome = {
            "state": state.value,
            "metrics": _dumps(dict(metrics)),
            "reason": reason,
            "kind": None if kind is None else TrialKind(kind).value,
            "error": error,
            "finished_at": now if state.is_finished else None,
        }

        def finish(conn: Connection) -> tuple[str, int | None] | None:
            """The state it replaced and the trials revision it bumped; ``None`` when it wrote nothing."""
            trial_id, current = self._trial_id(conn, study_id, number)
            if only_if_running and TrialState(current).is_finished:
                return None
            revised = bump_trials_revision(conn, study_id) if TrialState(current).is_finished else None
            conn.execute(sa.update(t).where(t.c.id == trial_id).values(**outcome))
            return current, revised

        def landed(conn: Connection, _: object) -> bool:
            query = sa.select(*(t.c[name] for name in outcome)).where(t.c.study_id == study_id, t.c.number == number)
            row = conn.execute(query).first()
            return row is not None and tuple(row) == tuple(outcome.values())

        def what(finished: tuple[str, int | None] | None) -> str | None:
            values = f", {_values(metrics)}" if metrics else ""
            return None if finished is None else f"trial #{number}'s outcome ({state.value}{values})"

        def holds(finished: tuple[str, int | None] | None) -> str:
            before = "" if finished is None else f" or still {finished[0]}"
            return f"storage holds trial #{number} either {state.value} with this outcome{before}; {_LEFT_RUNNING}"

        finished = self._locked(study_id, finish, Landing(landed, what, holds))
        if finished is None:
            return False
        revised = finished[1]
        if revised is not None:
            self._finished.changed(study_id, number, revised, revised + 1)
        if self._file is not None and state.is_finished:
            self._file.trial_finished(number)
        return True

    def update_trial(self, study_id: int, number: int, **fields: Any) -> None:
        allowed = {"state", "params", "attrs", "worker", "heartbeat_at", "started_at", "finished_at", "reason",
                   "kind", "error", "resource"}  # fmt: skip
        unknown = set(fields) - allowed
        if unknown:
            raise StorageError(f"update_trial cannot change {sorted(unknown)}")
        t = trials_table

        def update(conn: Connection) -> int | None:  # the same values set twice change nothing
            trial_id, current = self._trial_id(conn, study_id, number)
            revised = bump_trials_revision(conn, study_id) if TrialState(current).is_finished else None
            values: dict[str, Any] = {k: v for k, v in fields.items() if k not in ("state", "params", "attrs", "kind")}
            if "params" in fields:
                values["params"] = _dumps(dict(fields["params"]))
            if "kind" in fields:
                values["kind"] = None if fields["kind"] is None else TrialKind(fields["kind"]).value
            if "state" in fields:
                values["state"] = TrialState(fields["state"]).value
            if "attrs" in fields:
                current = json.loads(conn.execute(sa.select(t.c.attrs).where(t.c.id == trial_id)).scalar_one())
                values["attrs"] = _dumps({**current, **fields["attrs"]})
            conn.execute(sa.update(t).where(t.c.id == trial_id).values(**values))
            return revised

        revised = self._locked(study_id, update)
        if revised is not None:
            self._finished.changed(study_id, number, revised, revised + 1)

    def resume_trial(
        self, study_id: int, pick: Callable[[Sequence[TrialRecord]], int | None], *, worker: str, now: float
    ) -> TrialRecord | None:
        t = trials_table

        def resume(conn: Connection) -> int | None:
            history = self._read_trials(conn, study_id)
            number = pick(history)
            if number is None:
                return None
            paused = next((r for r in history if r.number == number), None)
            if paused is None or paused.state is not TrialState.PAUSED:
                return None
            changed = conn.execute(
                sa.update(t)
                .where(t.c.study_id == study_id, t.c.number == number, t.c.state == TrialState.PAUSED.value)
                .values(
                    state=TrialState.RUNNING.value,
                    worker=worker,
                    heartbeat_at=now,
                    attrs=_dumps({**paused.attrs, **paused_until(paused, now)}),
                    reason=None,  # the pause's ("pause by asha at step 1") no longer says why it is where it is
                    kind=None,
                )
            ).rowcount
            return number if changed else None

        def landed(conn: Connection, number: int | None) -> bool:
            if number is None:
                return True  # it wrote nothing
            query = sa.select(t.c.state, t.c.worker, t.c.heartbeat_at)
            row = conn.execute(query.where(t.c.study_id == study_id, t.c.number == number)).first()
            return row is not None and tuple(row) == (TrialState.RUNNING.value, worker, now)

        def what(number: int | None) -> str | None:
            return None if number is None else f"the resumption of trial #{number} of study {study_id}"

        def holds(number: int | None) -> str:
            return f"storage holds trial #{number} either RUNNING for this worker or still PAUSED; {_LEFT_RUNNING}"

        number = self._locked(study_id, resume, Landing(landed, what, holds))
        return None if number is None else self.get_trial(study_id, number)

    def pause_lost_trial(self, study_id: int, number: int, *, worker: str, reason: str) -> bool:
        t = trials_table
        running = (t.c.study_id == study_id, t.c.number == number, t.c.state == TrialState.RUNNING.value,
                   t.c.worker == worker)  # fmt: skip

        def pause(conn: Connection) -> bool:
            changed = conn.execute(
                sa.update(t).where(*running).values(state=TrialState.PAUSED.value, reason=reason, kind=None)
            ).rowcount
            return bool(changed)

        def landed(conn: Connection, paused: bool) -> bool:
            if not paused:
                return True  # it wrote nothing
            query = sa.select(t.c.state, t.c.reason).where(t.c.study_id == study_id, t.c.number == number)
            row = conn.execute(query).first()
            return row is not None and tuple(row) == (TrialState.PAUSED.value, reason)

        def what(paused: bool) -> str | None:
            return f"the pause of lost trial #{number} of study {study_id}" if paused else None

        def holds(_: bool) -> str:
            return f"storage holds trial #{number} either PAUSED or still RUNNING for its gone worker {worker}"

        return bool(self._locked(study_id, pause, Landing(landed, what, holds)))

    def heartbeat(self, study_id: int, numbers: Sequence[int], now: float) -> None:
        if not numbers:
            return
        t = trials_table
        beat = (
            sa.update(t)
            .where(t.c.study_id == study_id, t.c.number.in_(list(numbers)), t.c.state == TrialState.RUNNING.value)
            .values(heartbeat_at=now)
        )
        self._write(lambda conn: conn.execute(beat))  # the same time set twice changes nothing

    def close(self) -> None:
        """Refuse further use, wait (up to the busy timeout, at least 15 s) for connections in use on
        other threads, such as a study's heartbeat thread, and close every connection."""
        self._connections.close()
        self._finalizer.detach()


# The trials that spend no trial budget (`counts_toward_budget`): few, so counted from the cache's index.
_SPENDS_NO_BUDGET = Facet("spends no trial budget", lambda record: not counts_toward_budget(record))


# The numbers a trial number column can hold (a 64-bit integer, in SQLite and PostgreSQL alike).
_INT64 = (-(2**63), 2**63 - 1)


def _no_trial(conn: Connection, study_id: int, number: int) -> TunesmithError:
    """What to raise for trial ``number``, absent from study ``study_id``: `TrialNotFound` with the study's name and
    the trial numbers it holds, or `StudyNotFound` when the study itself is gone."""
    s, t = studies_table, trials_table
    name = conn.execute(sa.select(s.c.name).where(s.c.id == study_id)).scalar()
    if name is None:
        return StudyNotFound(f"no study with id {study_id} in this storage")
    last = conn.execute(sa.select(sa.func.max(t.c.number)).where(t.c.study_id == study_id)).scalar()
    return trial_not_found(str(name), number, 0 if last is None else int(last) + 1)


def _inserted_id(result: sa.CursorResult[Any]) -> int:
    """The id the insert that returned ``result`` gave its row."""
    key = result.inserted_primary_key
    if key is None:  # every insert here is of one row into a table with an integer id
        raise StorageError("the database returned no id for an inserted row")
    return int(key[0])


def _row_of(record: TrialRecord) -> dict[str, Any]:
    """``record``'s columns in the trials table (its curve goes to the values table)."""
    return {
        "number": record.number,
        "state": record.state.value,
        "params": _dumps(record.params),
        "seed": record.seed,
        "metrics": _dumps(record.metrics),
        "resource": record.resource,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "heartbeat_at": record.heartbeat_at,
        "reason": record.reason,
        "error": record.error,
        "worker": record.worker,
        "attrs": _dumps(record.attrs),
        "retry_of": _retry_of(record.attrs),
        "kind": None if record.kind is None else record.kind.value,
    }


def _budgeted(history: TrialHistory) -> int:
    """`count_budgeted` of ``history``, from its index rather than a pass over every trial."""
    return len(history) - len(history.matching(_SPENDS_NO_BUDGET))


def _chunks(items: Sequence[int], size: int = 5000) -> list[Sequence[int]]:
    """``items`` in runs of ``size``, each few enough for one ``IN (...)``."""
    return [items[start : start + size] for start in range(0, len(items), size)]


def _values(metrics: Mapping[str, float]) -> str:
    """Metrics in full precision, for messages: ``loss=0.25, acc=0.875``."""
    return ", ".join(f"{name}={value!r}" for name, value in metrics.items())
