"""In-process storage: fast, thread-safe, gone when the process ends."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from tunesmith._report_rules import ReportRefused
from tunesmith.errors import StorageError, StudyInUse, StudyNotFound, TrialNotRunning, not_running
from tunesmith.storage.base import (
    Proposer,
    Storage,
    StudyInfo,
    count_budgeted,
    name_forms,
    refused_report,
    study_not_found,
)
from tunesmith.trial import TrialKind, TrialRecord, TrialState

__all__ = ["MemoryStorage"]


class MemoryStorage(Storage):
    """Keeps studies in a dict under a lock; for tests, notebooks and single-process runs."""

    url = "memory"

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._studies: dict[int, StudyInfo] = {}
        self._trials: dict[int, list[TrialRecord]] = {}
        self._last_id = 0  # ids only grow: a deleted study's is never given again

    def get_or_create_study(self, name: str, spec: Mapping[str, Any], now: float) -> tuple[StudyInfo, bool]:
        with self._lock:
            try:
                return self.load_study(name), False
            except StudyNotFound:
                self._last_id += 1
                info = StudyInfo(id=self._last_id, name=name_forms(name)[0], spec=dict(spec), attrs={},
                                 created_at=now)  # fmt: skip
                self._studies[info.id] = info
                self._trials[info.id] = []
                return info, True

    def load_study(self, name: str) -> StudyInfo:
        with self._lock:
            for form in name_forms(name):
                for info in self._studies.values():
                    if info.name == form:
                        return info
            names = [info.name for info in self._studies.values()]
        raise study_not_found(name, "memory storage", names)

    def list_studies(self) -> list[StudyInfo]:
        with self._lock:
            return list(self._studies.values())

    def set_study_attr(self, study_id: int, key: str, value: Any) -> None:
        with self._lock:
            info = self._study(study_id)
            self._studies[study_id] = replace(info, attrs={**info.attrs, key: value})

    def update_study_attr(self, study_id: int, key: str, update: Callable[[Any], Any]) -> Any:
        with self._lock:
            value = update(self._study(study_id).attrs.get(key))
            self.set_study_attr(study_id, key, value)
            return value

    def insert_study(
        self, name: str, spec: Mapping[str, Any], *, attrs: Mapping[str, Any], created_at: float,
        trials: Sequence[TrialRecord],
    ) -> StudyInfo:  # fmt: skip
        with self._lock:
            try:
                self.load_study(name)
            except StudyNotFound:
                pass
            else:
                raise StorageError(f"a study named {name!r} exists in memory storage: it is not replaced")
            self._last_id += 1
            info = StudyInfo(id=self._last_id, name=name_forms(name)[0], spec=dict(spec), attrs=dict(attrs),
                             created_at=created_at)  # fmt: skip
            self._studies[info.id] = info
            self._trials[info.id] = sorted(trials, key=lambda record: record.number)
            return info

    def delete_study(self, study_id: int, *, running: bool = False) -> None:
        with self._lock:
            self._study(study_id)  # raises StudyNotFound
            busy = tuple(r.number for r in self._trials[study_id] if r.state is TrialState.RUNNING)
            if busy and not running:
                raise StudyInUse(f"study {study_id} in memory storage has running trials {list(busy)}", busy)
            del self._studies[study_id], self._trials[study_id]

    def update_study_spec(self, study_id: int, spec: Mapping[str, Any]) -> None:
        with self._lock:
            self._studies[study_id] = replace(self._study(study_id), spec=dict(spec))

    def create_trial(
        self, study_id: int, propose: Proposer, *, max_trials: int | None, worker: str, now: float
    ) -> TrialRecord | None:
        with self._lock:
            trials = self._trials_of(study_id)
            if max_trials is not None and count_budgeted(trials) >= max_trials:
                return None
            number = len(trials)
            proposal = propose(number, list(trials))
            record = TrialRecord(
                number=number,
                params=dict(proposal.params),
                seed=proposal.seed,
                state=TrialState.RUNNING,
                started_at=now,
                heartbeat_at=now,
                worker=worker,
                attrs=dict(proposal.attrs),
            )
            trials.append(record)
            return record

    def add_report(self, study_id: int, number: int, step: int, metrics: Mapping[str, float], now: float) -> None:
        with self._lock:
            record = self._record(study_id, number)
            if record.state is not TrialState.RUNNING:
                raise TrialNotRunning(not_running(number, record.state.value))
            stored = record.intermediate.get(step, {})
            refused = refused_report(
                number, step, metrics, resource=record.resource, stored_at_step=stored, attrs=lambda: record.attrs
            )
            if refused is not None:
                raise ReportRefused(refused)
            intermediate = {**record.intermediate, step: {**stored, **metrics}}
            self._put(
                study_id,
                replace(
                    record, intermediate=intermediate, resource=max(record.resource, float(step)), heartbeat_at=now
                ),
            )

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
        with self._lock:
            record = self._record(study_id, number)
            if only_if_running and record.state.is_finished:
                return False
            finished_at = now if state.is_finished else None
            kind = None if kind is None else TrialKind(kind)
            self._put(
                study_id,
                replace(
                    record,
                    state=state,
                    metrics=dict(metrics),
                    reason=reason,
                    kind=kind,
                    error=error,
                    finished_at=finished_at,
                ),
            )
            return True

    def update_trial(self, study_id: int, number: int, **fields: Any) -> None:
        with self._lock:
            record = self._record(study_id, number)
            changes: dict[str, Any] = {}
            for key, value in fields.items():
                if key == "attrs":
                    changes["attrs"] = {**record.attrs, **value}
                elif key == "kind":
                    changes["kind"] = None if value is None else TrialKind(value)
                elif key == "params":
                    changes["params"] = dict(value)
                elif key in ("state", "worker", "heartbeat_at", "started_at", "finished_at", "reason", "error",
                             "resource"):
                    changes[key] = value
                else:
                    raise StorageError(f"update_trial cannot change {key!r}")
            self._put(study_id, replace(record, **changes))

    def resume_trial(
        self, study_id: int, pick: Callable[[Sequence[TrialRecord]], int | None], *, worker: str, now: float
    ) -> TrialRecord | None:
        with self._lock:
            return super().resume_trial(study_id, pick, worker=worker, now=now)

    def pause_lost_trial(self, study_id: int, number: int, *, worker: str, reason: str) -> bool:
        with self._lock:
            return super().pause_lost_trial(study_id, number, worker=worker, reason=reason)

    def heartbeat(self, study_id: int, numbers: Sequence[int], now: float) -> None:
        with self._lock:
            for number in numbers:
                record = self._record(study_id, number)
                if not record.state.is_finished:
                    self._put(study_id, replace(record, heartbeat_at=now))

    def get_trials(self, study_id: int) -> list[TrialRecord]:
        with self._lock:
            return list(self._trials_of(study_id))

    def _study(self, study_id: int) -> StudyInfo:
        if study_id not in self._studies:
            raise StudyNotFound(f"no study with id {study_id} in memory storage")
        return self._studies[study_id]

    def _trials_of(self, study_id: int) -> list[TrialRecord]:
        self._study(study_id)
        return self._trials[study_id]

    def _record(self, study_id: int, number: int) -> TrialRecord:
        trials = self._trials_of(study_id)
        if not 0 <= number < len(trials):
            raise KeyError(f"trial {number} does not exist in study {study_id}")
        return trials[number]

    def _put(self, study_id: int, record: TrialRecord) -> None:
        self._trials[study_id][record.number] = record
