"""The finished trial records a `SQLStorage` keeps, valid for one revision of a study's trials.

A finished record rarely changes, so each storage object reads it once. It can still change: a
retry mark (`Study.retry_failed`) is written into a FAILED trial's attributes, perhaps by another
process. Every such write bumps the study's ``trials_revision`` in the database; a reader passes the
revision it read with the rows, and a newer one drops what the cache holds for that study.
"""

from __future__ import annotations

import threading

from tunesmith.trial import TrialRecord

__all__ = ["FinishedTrials"]


class FinishedTrials:
    """Finished records per study, each study's set stamped with the ``trials_revision`` it was read at.

    Revisions only grow. A reader that saw an older revision than the cache's (it began before a
    newer reader) may use the cache, which is fresher than its own snapshot, but never adds to it.
    Thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[int, dict[int, TrialRecord]] = {}
        self._revision: dict[int, int] = {}

    def view(self, study_id: int, revision: int) -> dict[int, TrialRecord]:
        """A copy of the records cached for ``study_id``; empty (and the cache dropped) when the study's
        trials changed since they were read, i.e. ``revision`` is newer than the cache's."""
        with self._lock:
            known = self._revision.get(study_id)
            if known is None or revision > known:
                self._records.pop(study_id, None)
                self._revision[study_id] = revision
                return {}
            return dict(self._records.get(study_id, {}))

    def get(self, study_id: int, number: int, revision: int) -> TrialRecord | None:
        """The cached record of trial ``number`` when the cache is as new as ``revision``, else ``None``."""
        with self._lock:
            if self._revision.get(study_id) != revision:
                return None
            return self._records.get(study_id, {}).get(number)

    def add(self, study_id: int, revision: int, records: dict[int, TrialRecord]) -> None:
        """Keep ``records``, read at ``revision``, unless the cache has moved to another revision since."""
        with self._lock:
            if self._revision.get(study_id) == revision:
                self._records.setdefault(study_id, {}).update(records)

    def changed(self, study_id: int, number: int, before: int, after: int) -> None:
        """This storage changed finished trial ``number``, moving the study from revision ``before`` to
        ``after``: the record is dropped, and the rest stays valid when the cache was at ``before``."""
        with self._lock:
            self._records.get(study_id, {}).pop(number, None)
            if self._revision.get(study_id) == before:
                self._revision[study_id] = after
