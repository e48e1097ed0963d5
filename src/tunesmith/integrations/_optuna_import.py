"""Copying an Optuna study into tunesmith storage (`import_study`; CLI ``tunesmith import-optuna``).

Needs the ``optuna`` extra. Every trial is written through the `Storage` protocol as tunesmith writes its
own: `Storage.create_trial` (numbered in the study lock, under the trial budget), `Storage.add_report` per
intermediate value and `Storage.finish_trial`, each stamped with Optuna's own times.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

import numpy as np
import sqlalchemy as sa

from tunesmith._attribute_json import Fields, JsonObject, is_text
from tunesmith.attributes import read_attr, write_attr
from tunesmith.budget import RETRY_REQUESTED, Budget
from tunesmith.errors import ConfigError, SpaceError, StorageError, StorageUnavailable, StudyNotFound, require
from tunesmith.integrations._optuna_convert import infer_space, record_of
from tunesmith.objective import Direction, Metric
from tunesmith.samplers import Sampler
from tunesmith.schedulers import Scheduler
from tunesmith.space import Space
from tunesmith.storage import Proposal, Storage, open_storage, redact_url
from tunesmith.storage._failures import _OPTUNA_TABLES, _TABLES_SHOWN
from tunesmith.storage._sql_schema import meta_table
from tunesmith.storage.base import count_budgeted
from tunesmith.study import Study, trial_seed
from tunesmith.trial import TrialKind, TrialRecord

require("optuna", "optuna")

import optuna  # noqa: E402 - after the check that names the extra
from optuna.study import StudyDirection  # noqa: E402
from optuna.trial import FrozenTrial  # noqa: E402
from optuna.trial import TrialState as OptunaState  # noqa: E402

__all__ = ["IMPORT_WORKER", "ImportResult", "OptunaImportAttr", "import_study"]

# The worker imported trials are recorded with: no process of this name exists, so none is ever reaped.
IMPORT_WORKER = "optuna-import"
# The table only a tunesmith database holds (Optuna's has tables named as tunesmith's others are).
_TUNESMITH_TABLE = meta_table.name


@dataclass(frozen=True, kw_only=True)
class OptunaImportAttr(JsonObject):
    """``optuna_import``: where a study was imported from (written before the first trial, ``complete`` after the last).

    Attributes:
        source: the Optuna storage URL (password hidden), or the storage's type when given as an object.
        study: the Optuna study's name.
        trials: how many trials were copied.
        step_offset: added to every Optuna step (1 when some trial reported at step 0; tunesmith's steps count
            resource units done, from 1).
        optional: parameters some trials lack for no reason the others explain (see `infer_space`).
        queued: numbers of the trials WAITING in Optuna, queued to run first when the study resumes.
        user_attrs: the Optuna study's own user attributes (``study.set_user_attr``); each trial's are in its
            ``attrs["user_attrs"]``.
        complete: whether every trial was written; ``False`` on a study an import left part-written (``trials``
            then counts those written), which is no copy of the Optuna study and cannot be finished.
        at: when the import started (UNIX time).
    """

    KEY: ClassVar[str] = "optuna_import"
    ALWAYS = frozenset({"complete"})
    source: str
    study: str
    trials: int = 0
    step_offset: int = 0
    optional: tuple[str, ...] = ()
    queued: tuple[int, ...] = ()
    user_attrs: dict[str, Any] = field(default_factory=dict)
    complete: bool = False
    at: float | None = None

    @classmethod
    def from_json(cls, value: Any, where: str | None = None) -> OptunaImportAttr:
        r = Fields(value, where or cls.KEY)
        return cls(source=r.text("source", required=True), study=r.text("study", required=True),
                   trials=r.integer("trials") or 0, step_offset=r.integer("step_offset") or 0,
                   optional=r.items("optional", is_text, "parameter names") or (),
                   queued=r.items("queued", lambda v: isinstance(v, int), "trial numbers") or (),
                   user_attrs=r.mapping("user_attrs") or {},
                   complete=bool(r.flag("complete")), at=r.number("at"), **r.rest())  # fmt: skip


@dataclass(frozen=True)
class ImportResult:
    """What `import_study` did.

    Attributes:
        study: the tunesmith study, ready to resume (``result.study.optimize(objective)``).
        states: imported trials per tunesmith state (``{"complete": 40, "stopped": 7, "failed": 3}``).
        optional: parameters some trials lack for no reason the others explain (see `infer_space`).
        queued: trials WAITING in Optuna, queued to run first when the study resumes.
        not_queued: WAITING trials whose enqueued parameters are not a valid configuration of the space, with why.
        step_offset: added to every Optuna step (see `OptunaImportAttr`).
        non_finite: trials COMPLETE in Optuna imported FAILED (kind NON_FINITE) because a value is NaN or
            infinite, as tunesmith records such a result, with why (``{1: "value is inf (Optuna)"}``); Optuna may
            have ranked one of them best.
        infeasible: trials COMPLETE in Optuna imported INFEASIBLE (kind GUARDRAIL) because Optuna recorded a
            constraint value above 0 for them, as tunesmith records a breached guardrail, with why
            (``{9: "Optuna constraint violated: constraint 0 = 12.5 > 0 ..."}``); none is best or on the front here,
            as none is among Optuna's ``best_trials``.
        user_attrs: the Optuna study's own user attributes, kept in the study attribute ``optuna_import``.
    """

    study: Study
    states: dict[str, int]
    optional: tuple[str, ...] = ()
    queued: tuple[int, ...] = ()
    not_queued: dict[int, str] = field(default_factory=dict)
    step_offset: int = 0
    non_finite: dict[int, str] = field(default_factory=dict)
    infeasible: dict[int, str] = field(default_factory=dict)
    user_attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def trials(self) -> int:
        return sum(self.states.values())


def import_study(
    source: str | optuna.storages.BaseStorage,
    study_name: str,
    *,
    storage: str | Storage | None = None,
    name: str | None = None,
    metric: str | None = None,
    sampler: str | Mapping[str, Any] | Sampler | None = "auto",
    scheduler: str | Mapping[str, Any] | Scheduler | None = None,
    budget: Budget | None = None,
    seed: int | None = None,
) -> ImportResult:
    """Copy the Optuna study ``study_name`` into tunesmith storage as a new study, to resume or judge there.

    Parameters and their distributions become a `Space` (see `infer_space`: a parameter asked only in some
    trials becomes conditional when another parameter's value explains it, else optional), the direction the
    metric's goal, and each trial a record with its number, parameters, value, state, intermediate values
    (the reported curve), user attributes (``attrs["user_attrs"]``; ``attrs["optuna"]`` keeps the Optuna
    number and state) and times; the Optuna study's own user attributes go to the study attribute
    ``optuna_import`` (``user_attrs``). States: COMPLETE -> COMPLETE (FAILED of kind NON_FINITE when a value is
    NaN or infinite, as tunesmith records such a result; ``ImportResult.non_finite`` names them; INFEASIBLE of
    kind GUARDRAIL when Optuna recorded a constraint value above 0, as tunesmith records a breached guardrail;
    ``ImportResult.infeasible`` names them); PRUNED -> STOPPED (kind SCHEDULER, its last intermediate value as
    its result; constraints, like guardrails, judge finished trials only); FAIL -> FAILED (kind EXCEPTION);
    RUNNING -> FAILED (kind INTERRUPTED: its worker reports to Optuna, not here, and it spends no budget);
    WAITING -> FAILED (kind INTERRUPTED), queued to run first when the study resumes if its enqueued parameters
    are a valid configuration. Optuna's constraint values (``constraints_func``) are kept as the metrics
    ``constraint_0``, ``constraint_1``, ... (``constraint_<name>`` for a named one); the study gets no
    guardrails from them, so new trials are not held to them.

    Importing is done once: a study of the target name that already exists is refused (nothing is copied
    twice); import again under another ``name``.

    Args:
        source: the Optuna storage: a URL (``sqlite:///optuna.db``, ``postgresql://...``) or a storage object. A URL
            is read without writing to it: a database without Optuna's tables (a tunesmith one, another program's) is
            refused before Optuna's storage could create its tables there, and the target is opened only after.
        study_name: the Optuna study's name.
        storage: the tunesmith storage to write (default: as `Study`).
        name: the tunesmith study's name (default: ``study_name``).
        metric: the metric's name (default: the Optuna study's metric name, else ``"value"``). A multi-objective
            study becomes one with the same objectives and directions, named after the Optuna study's metric
            names, else ``value_0``, ``value_1``, ...
        sampler, scheduler, seed: as for `Study`; the sampler continues from the imported history.
        budget: the study's budget, counting the imported trials (``Budget(trials=100)``: 100 in all).

    Raises:
        ConfigError: ``metric`` for a multi-objective study (its objectives keep Optuna's names), an objective
            named as a constraint's metric is (``constraint_0``), a study without parameters, a trial budget too
            small to write every imported trial (the trials that spend it, and a place free to create the last
            one), or a tunesmith study of the target name that exists already.
        StorageError: a trial could not be written; the study is then left part-written, marked incomplete in
            ``optuna_import``, and the message says so.
        StudyNotFound: no Optuna study of that name (the message lists those there are).
        StorageUnavailable: a SQLite source file that does not exist, a source that cannot be read, or one that is no
            Optuna database: a tunesmith database (source and storage swapped), one without Optuna's tables, or one
            without the schema version Optuna would write into it on opening.
    """
    loaded = _load_optuna(source, study_name)
    directions: list[Direction] = ["max" if d is StudyDirection.MAXIMIZE else "min" for d in loaded.directions]
    names = loaded.metric_names
    if len(directions) > 1 and metric is not None:
        raise ConfigError(
            f"Optuna study {study_name!r} has {len(directions)} objectives, but metric={metric!r} names one: leave "
            "it out, and the objectives take the Optuna study's metric names (set_metric_names), else value_0, "
            "value_1, ..."
        )
    if len(directions) > 1:
        targets = [Metric(names[i] if names else f"value_{i}", d) for i, d in enumerate(directions)]
    else:
        targets = [Metric(metric or (names[0] if names else "value"), directions[0])]
    trials = sorted(loaded.get_trials(deepcopy=False), key=lambda t: t.number)
    inferred = infer_space(trials)
    step_offset = 1 if any(0 in t.intermediate_values for t in trials) else 0
    records = [record_of(t, [m.name for m in targets], step_offset=step_offset) for t in trials]
    queue, not_queued = _waiting(trials, inferred.space)
    records = [_queued(r, queue[r.number]) if r.number in queue else r for r in records]
    if budget is not None and budget.trials is not None and _trials_needed(records) > budget.trials:
        raise ConfigError(_budget_too_small(records, budget.trials))
    store = open_storage(storage)
    new_name = name or study_name
    _refuse_existing(store, new_name, study_name)
    objectives: dict[str, Any] = {"metric": targets[0]} if len(targets) == 1 else {"metrics": targets}
    study = Study(inferred.space, sampler=sampler, scheduler=scheduler, budget=budget, storage=store, name=new_name,
                  seed=seed, **objectives)  # fmt: skip
    attr = OptunaImportAttr(source=_where(source), study=study_name,
                            step_offset=step_offset, optional=inferred.optional, queued=tuple(sorted(queue)),
                            user_attrs=dict(loaded.user_attrs), at=time.time())  # fmt: skip
    write_attr(study, attr)
    study_id = store.load_study(new_name).id
    written = 0
    try:
        for record in records:
            _write(store, study_id, record.evolve(seed=trial_seed(study.seed, record.number)), study.budget)
            written += 1
    except StorageError as exc:
        raise StorageError(_partial(exc, new_name, study_name, written, len(records))) from exc
    finally:
        if written < len(records):  # storage that failed may refuse this write too: ``complete`` stays false anyway
            with contextlib.suppress(StorageError):
                write_attr(study, replace(attr, trials=written))
    write_attr(study, replace(attr, trials=len(records), complete=True))
    states = Counter(record.state.value for record in records)
    non_finite = {r.number: r.reason or "a value is not finite" for r in records if r.kind is TrialKind.NON_FINITE}
    infeasible = {r.number: r.reason or "a constraint is violated" for r in records if r.kind is TrialKind.GUARDRAIL}
    return ImportResult(study, dict(states), inferred.optional, tuple(sorted(queue)), not_queued, step_offset,
                        non_finite=non_finite, infeasible=infeasible, user_attrs=dict(loaded.user_attrs))  # fmt: skip


def _trials_needed(records: Sequence[TrialRecord]) -> int:
    """The smallest trial budget under which every record can be written, in order, as `_write` writes them.

    Each trial is created under the budget (`Storage.create_trial` refuses one once the trials before it spend
    all of it), so the last needs a place free after every trial before it, even when it is itself a trial that
    spends none once written (RUNNING or WAITING in Optuna: FAILED, interrupted). Every other budgeted trial
    needs its own place, so this is the budgeted count, or one more when the last trial spends nothing.
    """
    if not records:
        return 0
    return max(count_budgeted(records), count_budgeted(records[:-1]) + 1)


def _budget_too_small(records: Sequence[TrialRecord], trials: int) -> str:
    needed, spent = _trials_needed(records), count_budgeted(records)
    why = f"the imported trials spend {spent} trials of the budget"
    if needed > spent:
        why += (
            f", and trial {records[-1].number}, the last, needs a place free when it is written although it "
            "spends none once written (RUNNING or WAITING in Optuna, it is imported interrupted)"
        )
    return (
        f"budget.trials must be at least {needed} to import this study, but got {trials}: {why}; pass a budget of "
        f"at least {needed} trials (--trials {needed}, budget=Budget(trials={needed}))"
    )


def _partial(exc: StorageError, name: str, source_study: str, written: int, total: int) -> str:
    """Why an import stopped partway, and what to do with the part-written study."""
    return (
        f"{exc}. The import stopped after {written} of {total} trials: study {name!r} is a partial copy, marked "
        "incomplete (study attribute optuna_import, complete: false), and cannot be finished; discard it: do not "
        f"resume or judge it, and import {source_study!r} again under a new name (--as NEW_NAME, name=)"
    )


@dataclass(frozen=True)
class _Queued:
    params: dict[str, Any]
    drawn: tuple[str, ...]  # not fixed by ``enqueue_trial``: drawn from the prior at import


def _queued(record: TrialRecord, queued: _Queued) -> TrialRecord:
    """A WAITING trial queued to run first on resume (`Study.retry_failed`'s mark), its drawn parameters named."""
    drawn = {"drawn_from_prior": list(queued.drawn)} if queued.drawn else {}
    return record.evolve(params=queued.params, attrs={**record.attrs, RETRY_REQUESTED: True, **drawn})


def _where(source: str | optuna.storages.BaseStorage) -> str:
    return redact_url(source) if isinstance(source, str) else type(source).__name__


def _load_optuna(source: str | optuna.storages.BaseStorage, study_name: str) -> optuna.Study:
    storage = _optuna_storage(source) if isinstance(source, str) else source
    try:
        return optuna.load_study(study_name=study_name, storage=storage, sampler=optuna.samplers.RandomSampler())
    except KeyError:
        known = ", ".join(optuna.study.get_all_study_names(storage)) or "none"
        raise StudyNotFound(
            f"no Optuna study named {study_name!r} in {_where(source)} (studies: {known}): pass one of them"
        ) from None


def _optuna_storage(url: str) -> optuna.storages.RDBStorage:
    """Optuna's storage at ``url``, opened so that reading writes nothing into the database.

    Optuna's storage creates its tables, records a schema version and stamps alembic's revision in whatever database
    it opens, so a database that is not Optuna's (a tunesmith one, from --from and --storage swapped; any other) is
    refused after a read-only look at its tables, and Optuna's is opened without creating tables.

    Raises:
        StorageUnavailable: a SQLite file that does not exist, a database that cannot be read, a tunesmith database,
            a database without Optuna's tables, or an Optuna database without the schema version Optuna would write.
    """
    where = redact_url(url)
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise StorageUnavailable(
            f"the Optuna storage must be a SQLAlchemy URL, got {where!r} ({exc}): pass the URL the Optuna study was "
            "created with (sqlite:///optuna.db, postgresql://user@host/db)"
        ) from None
    path = (parsed.database or "") if parsed.get_backend_name() == "sqlite" else None
    if path is not None and path not in ("", ":memory:") and not Path(path).is_file():
        raise StorageUnavailable(
            f"no Optuna storage at {where}: the file {path!r} does not exist; check the path (reading never creates it)"
        )
    tables, versioned = _optuna_tables(url, path)
    if _TUNESMITH_TABLE in tables:
        raise StorageUnavailable(
            f"an import reads an Optuna database, but {where} holds tunesmith's tables: this is a tunesmith database; "
            "did you swap --from and --storage? --from (import_study's source) names the Optuna database to read, "
            "--storage the tunesmith one to write; nothing was written to either"
        )
    if not _OPTUNA_TABLES.issubset(tables):
        held = ", ".join(sorted(tables)[:_TABLES_SHOWN]) if tables else "no tables"
        more = f" and {len(tables) - _TABLES_SHOWN} more" if len(tables) > _TABLES_SHOWN else ""
        raise StorageUnavailable(
            f"an import reads an Optuna database (one holding Optuna's tables: {', '.join(sorted(_OPTUNA_TABLES))}), "
            f"but {where} holds {held}{more}; it was left untouched: pass as --from (import_study's source) the "
            "storage URL the Optuna study was created with (optuna.create_study(storage=...))"
        )
    if not versioned:
        raise StorageUnavailable(
            f"an import reads an Optuna database without writing to it, but {where} records no Optuna schema version "
            "(rows in version_info and alembic_version), which Optuna writes into a database when it opens one: run "
            "`optuna storage upgrade --storage URL` on a copy of it (that writes the version), then import the copy"
        )
    return optuna.storages.RDBStorage(url, skip_table_creation=True)


def _optuna_tables(url: str, sqlite_path: str | None) -> tuple[set[str], bool]:
    """The database's table names, and whether it records the schema version Optuna's storage would otherwise write
    on opening it (a ``version_info`` row, an ``alembic_version`` row); read without writing anything.

    A SQLite file is opened read-only (``mode=ro``): even a connection SQLite would otherwise allow to write is
    refused one here.
    """
    if sqlite_path not in (None, "", ":memory:"):
        target = quote(str(Path(sqlite_path).absolute()))
        engine = sa.create_engine("sqlite://", creator=lambda: sqlite3.connect(f"file:{target}?mode=ro", uri=True))
    else:
        engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            versioned = {"version_info", "alembic_version"} <= tables and all(
                conn.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar()
                for name in ("version_info", "alembic_version")
            )
    except sa.exc.SQLAlchemyError as exc:
        said = (str(getattr(exc, "orig", None) or exc).splitlines() or [type(exc).__name__])[0]
        raise StorageUnavailable(
            f"cannot read the Optuna storage {redact_url(url)}: {said}; check the URL, that the database exists and "
            "that it can be reached"
        ) from None
    finally:
        engine.dispose()
    return tables, versioned


def _waiting(trials: list[FrozenTrial], space: Space) -> tuple[dict[int, _Queued], dict[int, str]]:
    """The WAITING trials that can run: number -> their parameters (those Optuna's ``enqueue_trial`` fixed, and
    the rest drawn from the prior, as Optuna would have sampled them); and those that cannot, with why."""
    queue: dict[int, _Queued] = {}
    refused: dict[int, str] = {}
    for trial in trials:
        if trial.state is not OptunaState.WAITING:
            continue
        fixed = {**trial.params, **(trial.system_attrs.get("fixed_params") or {})}
        unknown = sorted(set(fixed) - set(space))
        if unknown:
            refused[trial.number] = f"parameters {unknown} are not in the space {list(space)}"
            continue
        rng = np.random.default_rng(trial.number)
        params: dict[str, Any] = {}
        for name, param in space.items():
            if space.is_active(name, params):
                params[name] = fixed[name] if name in fixed else param.sample(rng)
        try:
            queue[trial.number] = _Queued(space.validate(params), tuple(n for n in params if n not in fixed))
        except SpaceError as exc:
            refused[trial.number] = str(exc)
    return queue, refused


def _refuse_existing(store: Storage, name: str, source_study: str) -> None:
    try:
        info = store.load_study(name)
    except StudyNotFound:
        return
    earlier = read_attr(info.attrs, OptunaImportAttr)
    if earlier is None:
        why = f"a study named {name!r} already exists in {redact_url(store.url)}"
    elif earlier.complete:
        why = f"{name!r} was already imported from Optuna study {earlier.study!r} ({earlier.trials} trials)"
    else:
        raise ConfigError(
            f"an import into {name!r} from Optuna study {earlier.study!r} stopped after {earlier.trials} trials "
            "(study attribute optuna_import, complete: false): a partial copy cannot be finished, and an import is "
            f"never merged into an existing study; discard {name!r} and import {source_study!r} under a new name "
            "(--as NEW_NAME, name=)"
        )
    raise ConfigError(
        f"{why}: an import is never merged into an existing study, so that no trial is copied twice; resume it "
        f"with ts.Study.load({name!r}, storage), or import {source_study!r} under a new name (--as NEW_NAME, name=)"
    )


def _write(store: Storage, study_id: int, record: TrialRecord, budget: Budget) -> None:
    """Write one imported trial as the study writes its own: created (numbered, under the budget), its
    curve reported, then finished, at Optuna's times."""
    started = record.started_at if record.started_at is not None else time.time()
    created = store.create_trial(
        study_id, lambda number, history: Proposal(record.params, record.seed, record.attrs),
        max_trials=budget.trials, worker=IMPORT_WORKER, now=started,
    )  # fmt: skip
    if created is None or created.number != record.number:
        raise StorageError(
            f"Optuna trial {record.number} could not be written as trial {record.number} "
            f"(got {'none: the budget is spent' if created is None else created.number}): another writer is "
            "adding trials to this study"
        )
    for step, metrics in sorted(record.intermediate.items()):
        store.add_report(study_id, record.number, step, metrics, started)
    store.finish_trial(
        study_id, record.number, record.state, metrics=record.metrics, reason=record.reason, error=record.error,
        now=record.finished_at if record.finished_at is not None else started, kind=record.kind,
    )  # fmt: skip
