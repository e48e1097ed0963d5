"""The storage protocol: the single source of truth for studies and their trials.

Every implementation must make `Storage.create_trial` atomic across threads, processes and
machines sharing the storage: trial numbers are unique and gap-free per study, and the
trial budget is checked in the same transaction that creates the trial, so it is exact over
any number of workers. Records are JSON; nothing is pickled.
"""

from __future__ import annotations

import difflib
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tunesmith._report_rules import out_of_order
from tunesmith.budget import counts_toward_budget
from tunesmith.errors import StudyNotFound, TunesmithError
from tunesmith.trial import PAUSED_SPANS, TrialKind, TrialRecord, TrialState

__all__ = [
    "Proposal", "Proposer", "Storage", "StudyInfo", "TrialNotFound", "name_forms", "refused_report", "study_not_found",
    "trial_not_found",
]  # fmt: skip


class TrialNotFound(TunesmithError, KeyError):
    """No trial of that number exists in the study; the message names the study, the numbers it holds and the fix.

    A `KeyError`, which `Storage.get_trial` raised before, so callers that catch one still do. Not a
    `StorageError`: the storage answered, the number asked for is the mistake.
    """

    def __str__(self) -> str:  # KeyError quotes its argument; keep the message readable.
        return str(self.args[0]) if self.args else ""


def trial_not_found(study: str, number: int, held: int) -> TrialNotFound:
    """`TrialNotFound` for trial ``number`` of the study named ``study``, whose trials are #0 to #``held - 1``
    (numbers are gap-free from 0, so the range is every trial it has), with the fix."""
    if held == 0:
        have = "it has no trial yet"
    elif held == 1:
        have = "its only trial is #0"
    else:
        have = f"its trials are #0 to #{held - 1}"
    return TrialNotFound(
        f"study {study!r} has no trial #{number}: {have}; pass the number of one of its trials: trial.number of a "
        "trial that study.ask() handed out, or a record's number in study.trials"
    )


def study_not_found(name: str, where: str, names: Sequence[str]) -> StudyNotFound:
    """`StudyNotFound` for ``name``, listing the studies ``where`` holds (the closest first) and the fix."""
    if not names:
        return StudyNotFound(
            f"no study named {name!r} in {where}, which holds no study yet: check the storage, or create the study "
            "with ts.Study(space, name=...) (`tunesmith run CONFIG`)"
        )
    close = difflib.get_close_matches(name, names, n=1)
    shown = ", ".join(repr(n) for n in [*close, *(n for n in names if n not in close)][:10])
    more = f" and {len(names) - 10} more" if len(names) > 10 else ""
    guess = f"; did you mean {close[0]!r}?" if close else ""
    return StudyNotFound(f"no study named {name!r} in {where}: its studies are {shown}{more}{guess}")


def name_forms(name: str) -> tuple[str, ...]:
    """The forms a study name is looked up by: its NFC form (what is stored: "café" typed precomposed or as "e"
    and a combining accent, as macOS file names come, is one study), then the name as given when that differs
    (a study stored before names were normalised)."""
    composed = unicodedata.normalize("NFC", name)
    return (composed,) if composed == name else (composed, name)


# The schema `SQLStorage` writes; alembic revision NNNN in storage/migrations produces version N.
SCHEMA_VERSION = 4


@dataclass(frozen=True)
class StudyInfo:
    """A stored study: its id, unique name, creation spec and free attributes."""

    id: int
    name: str
    spec: dict[str, Any]
    attrs: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0


@dataclass(frozen=True)
class Proposal:
    """What a proposer returns for a new trial number: its parameters, seed and attributes."""

    params: dict[str, Any]
    seed: int
    attrs: dict[str, Any] = field(default_factory=dict)


# Called inside the storage's transaction with the new trial's number and the study's
# history; it must not touch the storage itself.
Proposer = Callable[[int, Sequence[TrialRecord]], Proposal]


def count_budgeted(records: Iterable[TrialRecord]) -> int:
    return sum(1 for r in records if counts_toward_budget(r))


def refused_report(
    number: int,
    step: int,
    names: Iterable[str],
    *,
    resource: float,
    stored_at_step: Iterable[str],
    attrs: Callable[[], Mapping[str, Any]],
) -> str | None:
    """Why trial ``number`` may not record metrics ``names`` at ``step``, read on its stored curve
    (`_report_rules.out_of_order`), so the report rules hold for whichever `Study` object or process reports;
    ``None`` when it may.

    ``resource`` is the trial's largest stored step and ``stored_at_step`` the metrics stored at ``step``.
    ``attrs()`` reads the trial's attributes for ``start_step``, the step a continuation begins at: it is
    called only on a first report or a step not after ``resource``, so the usual report reads nothing more.
    A trial resumed after a pause counts from its stored curve (its resumption is not stored): a same-step
    report of new metrics there is let through, which `Trial.report` refuses.
    """
    last = int(resource)
    if step > last > 0:
        return None
    start = int(attrs().get("start_step", 0))
    return out_of_order(number, step, max(last, start), start, set(names) & set(stored_at_step))


class Storage(ABC):
    """Where studies live. Implementations: `MemoryStorage`, `SQLStorage` (SQLite, PostgreSQL).

    Subclasses implement every abstract method. All methods are safe to call from several
    threads; SQL storages are also safe across processes and machines.
    """

    url: str = ""

    @abstractmethod
    def get_or_create_study(self, name: str, spec: Mapping[str, Any], now: float) -> tuple[StudyInfo, bool]:
        """The study called ``name``, created with ``spec`` when absent; the flag says whether it was created."""

    @abstractmethod
    def load_study(self, name: str) -> StudyInfo:
        """The study called ``name``; raises `StudyNotFound`."""

    @abstractmethod
    def list_studies(self) -> list[StudyInfo]:
        """Every study, oldest first."""

    @abstractmethod
    def set_study_attr(self, study_id: int, key: str, value: Any) -> None:
        """Set one JSON attribute of a study."""

    def update_study_attr(self, study_id: int, key: str, update: Callable[[Any], Any]) -> Any:
        """Replace one JSON attribute with ``update(current)`` (``current`` is ``None`` when absent) and
        return the new value, atomically: ``update`` runs with the study locked, so two workers appending
        to a list both land. It must not touch the storage. This default is atomic only within one
        process and only for a storage without other writers; `MemoryStorage` and `SQLStorage` override it.
        """
        info = next((s for s in self.list_studies() if s.id == study_id), None)
        if info is None:
            raise StudyNotFound(f"no study with id {study_id} in {self.url or type(self).__name__}")
        value = update(info.attrs.get(key))
        self.set_study_attr(study_id, key, value)
        return value

    @abstractmethod
    def insert_study(
        self, name: str, spec: Mapping[str, Any], *, attrs: Mapping[str, Any], created_at: float,
        trials: Sequence[TrialRecord],
    ) -> StudyInfo:  # fmt: skip
        """Store a whole study at once, in one transaction: its spec, attributes, creation time and every trial as
        recorded (numbers, states, curves, times, workers, attributes), what a copy from another storage writes.
        Raises `StorageError` when a study of that name exists (nothing is written)."""

    @abstractmethod
    def delete_study(self, study_id: int, *, running: bool = False) -> None:
        """Delete a study with its trials, their reports and its attributes, in one transaction; its id is never given
        to a study created later, so an object still holding it fails (`StudyNotFound`) rather than write into
        another study. Raises `StudyNotFound`; `StudyInUse` (nothing deleted) when a trial of it is RUNNING,
        unless ``running``."""

    @abstractmethod
    def update_study_spec(self, study_id: int, spec: Mapping[str, Any]) -> None:
        """Replace a study's stored spec (its attributes and trials are kept); raises `StudyNotFound`.

        A spec is written once, when the study is created; this is for the one recorded change a
        study allows, `Study.extend_budget`.
        """

    @abstractmethod
    def create_trial(
        self,
        study_id: int,
        propose: Proposer,
        *,
        max_trials: int | None,
        worker: str,
        now: float,
    ) -> TrialRecord | None:
        """Atomically number and insert a RUNNING trial, or return ``None`` when the budget is spent.

        ``propose`` runs inside the transaction with the next number and the full history.
        """

    @abstractmethod
    def add_report(self, study_id: int, number: int, step: int, metrics: Mapping[str, float], now: float) -> None:
        """Record intermediate ``metrics`` at ``step``; raises the resource used and the heartbeat.

        The report rules are checked on the stored curve in the same transaction as the write (`refused_report`):
        steps increase, a step again only with metrics not stored at it, which join them.

        Raises:
            TrialNotRunning: the trial is not RUNNING (finished or paused); nothing is written.
            ReportRefused: ``step`` breaks the report rules; nothing is written.
        """

    @abstractmethod
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
        """Move a trial to a final or paused state; returns ``False`` (changing nothing) when it had
        already left RUNNING/PAUSED and ``only_if_running`` is set: a recorded result is never overwritten.

        ``reason`` is the cause in words, for people; ``kind`` the same cause as a `TrialKind`,
        for code (``None`` for COMPLETE and PAUSED). Both are stored as given.
        """

    @abstractmethod
    def update_trial(self, study_id: int, number: int, **fields: Any) -> None:
        """Change ``state`` (as a `TrialState`), ``params`` (replaced: what a define-by-run objective asked
        for), ``attrs`` (merged), ``worker``, ``heartbeat_at``,
        ``started_at``, ``finished_at``, ``reason``, ``kind`` (as a `TrialKind` or ``None``), ``error`` or
        ``resource`` (what a trial trained beyond its last report: the end of its `Trial.steps` loop)."""

    @abstractmethod
    def heartbeat(self, study_id: int, numbers: Sequence[int], now: float) -> None:
        """Mark the given running trials as alive at ``now``."""

    @abstractmethod
    def get_trials(self, study_id: int) -> list[TrialRecord]:
        """Every trial of the study in number order, with intermediate values."""

    def get_trial(self, study_id: int, number: int) -> TrialRecord:
        """One trial; raises `TrialNotFound` (a `KeyError`) when the number does not exist."""
        records = self.get_trials(study_id)
        for record in records:
            if record.number == number:
                return record
        info = next((s for s in self.list_studies() if s.id == study_id), None)
        if info is None:
            raise StudyNotFound(f"no study with id {study_id} in {self.url or type(self).__name__}")
        raise trial_not_found(info.name, number, max((r.number for r in records), default=-1) + 1)

    def resume_trial(
        self, study_id: int, pick: Callable[[Sequence[TrialRecord]], int | None], *, worker: str, now: float
    ) -> TrialRecord | None:
        """Atomically move the PAUSED trial that ``pick(history)`` names back to RUNNING.

        Returns the resumed record, or ``None`` when ``pick`` names none. ``pick`` runs with the
        study locked, so two workers never resume the same trial. This default is atomic only
        within one process; SQL storages override it with a database lock.
        """
        number = pick(self.get_trials(study_id))
        if number is None:
            return None
        record = self.get_trial(study_id, number)
        if record.state is not TrialState.PAUSED:
            return None
        # The pause's reason ("pause by asha at step 1") no longer says why the trial is where it is.
        self.update_trial(study_id, number, state=TrialState.RUNNING, worker=worker, heartbeat_at=now,
                          attrs=paused_until(record, now), reason=None, kind=None)  # fmt: skip
        return self.get_trial(study_id, number)

    def pause_lost_trial(self, study_id: int, number: int, *, worker: str, reason: str) -> bool:
        """Atomically move trial ``number`` back to PAUSED where it is still RUNNING for ``worker``, a worker found
        gone: a pausing scheduler's trial lost while it trained on after a promotion waits at its rung again, to
        resume from its checkpoint (`tunesmith.study._recovery.reap`). Returns ``False``, changing nothing, when the
        trial moved on since it was read (another worker reaped or resumed it).

        Its heartbeat stays its last one, which a resumption counts its wait from (`paused_until`). This default
        is atomic only within one process; the storages override it with their lock."""
        record = self.get_trial(study_id, number)
        if record.state is not TrialState.RUNNING or record.worker != worker:
            return False
        self.update_trial(study_id, number, state=TrialState.PAUSED, reason=reason, kind=None)
        return True

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; a storage holding them waits for those in use on other threads (a study's
        heartbeat thread) first. Further use is undefined (`SQLStorage` raises `StorageError`)."""


def paused_until(record: TrialRecord, now: float) -> dict[str, Any]:
    """The attributes that record ``record``'s wait at its rung, from its last heartbeat (its pause) to ``now``,
    its resumption: `TrialRecord.paused`, which running time and duration leave out."""
    since = record.heartbeat_at if record.heartbeat_at is not None else now
    spans = [[a, b] for a, b in record.paused]
    return {PAUSED_SPANS: [*spans, [since, max(since, now)]]}
