"""The finished trial records a `SQLStorage` keeps, valid for one revision of a study's trials, and the histories
read through them.

A finished record rarely changes, so each storage object reads it once. It can still change: a
retry mark (`Study.retry_failed`) is written into a FAILED trial's attributes, perhaps by another
process. Every such write bumps the study's ``trials_revision`` in the database; a reader passes the
revision it read with the rows, and a newer one drops what the cache holds for that study.

A read then asks the database only for what the cache lacks (`Cached`): the trials numbered past the highest
it holds, and its holes, the numbers below that were not finished when read (running, paused). A history read
so is a `TrialHistory`: immutable and in number order, it finds the few trials with a `Facet` (owed a retry,
invalidated, that ran an enqueued configuration) from an index the cache keeps up to date as records arrive, so
that the rules every new trial consults do not scan every trial of the study, which made each trial of a
3,000-trial study cost twice what the first did.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter

from tunesmith.trial import TrialRecord

__all__ = ["Cached", "Facet", "FinishedTrials", "TrialHistory", "matching"]

_number = attrgetter("number")


@dataclass(frozen=True, eq=False)
class Facet:
    """A property few of a study's trials have that a rule looks for at every new trial ("owed a retry").

    ``test`` must read the record alone (a cached record does not change), and a facet is a module-level
    constant: caches know it by its identity. A facet most trials have gains nothing from the index.
    """

    name: str
    test: Callable[[TrialRecord], bool]


def matching(history: Sequence[TrialRecord], facet: Facet) -> Sequence[TrialRecord]:
    """The trials of ``history`` with ``facet``, in its order: from a `TrialHistory`'s index, else by a scan."""
    if isinstance(history, TrialHistory):
        return history.matching(facet)
    return tuple(record for record in history if facet.test(record))


class TrialHistory(tuple[TrialRecord, ...]):
    """A study's trials in number order as one read found them (`SQLStorage`'s reads inside its writes).

    ``known`` holds, for each facet the cache indexes, its cached trials with that facet; the others of this
    history, ``fresh`` (read from the database by this read: few), are tested when asked. A facet the cache does
    not index yet is found by a scan, once, and ``watch`` asks the cache to index it from then on.
    """

    _known: Mapping[Facet, tuple[TrialRecord, ...]]
    _fresh: tuple[TrialRecord, ...]
    _watch: Callable[[Facet], None] | None
    _found: dict[Facet, tuple[TrialRecord, ...]]

    def __new__(
        cls,
        records: Iterable[TrialRecord],
        *,
        fresh: Iterable[TrialRecord] = (),
        known: Mapping[Facet, tuple[TrialRecord, ...]] | None = None,
        watch: Callable[[Facet], None] | None = None,
    ) -> TrialHistory:
        history = super().__new__(cls, records)
        history._known = {} if known is None else known
        history._fresh = tuple(fresh)
        history._watch = watch
        history._found = {}
        return history

    def matching(self, facet: Facet) -> tuple[TrialRecord, ...]:
        """This history's trials with ``facet``, in number order."""
        found = self._found.get(facet)
        if found is None:
            cached = self._known.get(facet)
            if cached is None:
                found = tuple(record for record in self if facet.test(record))
                if self._watch is not None:
                    self._watch(facet)
            else:
                fresh = [record for record in self._fresh if facet.test(record)]
                found = tuple(sorted((*cached, *fresh), key=_number)) if fresh else cached
            self._found[facet] = found
        return found

    def without(self, records: Collection[TrialRecord]) -> list[TrialRecord]:
        """This history less ``records`` (some of its own trials), joined from the slices between them."""
        kept: list[TrialRecord] = []
        start = 0
        for number in sorted(record.number for record in records):
            at = bisect.bisect_left(self, number, lo=start, key=_number)
            kept.extend(self[start:at])
            start = at + 1 if at < len(self) and self[at].number == number else at
        kept.extend(self[start:])
        return kept


@dataclass(frozen=True)
class Cached:
    """What the cache held of a study when a read began (`FinishedTrials.view`).

    Attributes:
        records: the cached finished records, in number order.
        top: the highest number cached (-1: none); every trial numbered past it is to be read.
        holes: the numbers at or below ``top`` not cached (not finished when read), to be read again.
        known: for each facet the cache indexes, the cached records with it (see `TrialHistory`).
    """

    records: tuple[TrialRecord, ...] = ()
    top: int = -1
    holes: tuple[int, ...] = ()
    known: Mapping[Facet, tuple[TrialRecord, ...]] = field(default_factory=dict)

    def history(
        self, holes: Sequence[TrialRecord], new: Sequence[TrialRecord], watch: Callable[[Facet], None] | None
    ) -> TrialHistory:
        """The study's history: these records with ``holes`` (the rows read at the holes, in number order) put in
        their places and ``new`` (the rows numbered past ``top``, in order) after them."""
        records = list(self.records)
        for record in holes:
            bisect.insort(records, record, key=_number)
        records.extend(new)
        return TrialHistory(records, fresh=(*holes, *new), known=self.known, watch=watch)


class _Study:
    """One study's cached records, at one revision, and their index (see `FinishedTrials`)."""

    def __init__(self, revision: int, facets: Iterable[Facet] = ()) -> None:
        self.revision = revision
        self.records: dict[int, TrialRecord] = {}
        self.ordered: list[TrialRecord] = []
        self.top = -1
        self.holes: set[int] = set()
        self.known: dict[Facet, tuple[TrialRecord, ...]] = {facet: () for facet in facets}

    def hold(self, record: TrialRecord) -> None:
        number = record.number
        if number in self.records:
            return
        self.records[number] = record
        if number > self.top:
            self.holes.update(range(self.top + 1, number))
            self.top = number
            self.ordered.append(record)
        else:
            self.holes.discard(number)
            bisect.insort(self.ordered, record, key=_number)
        for facet, found in self.known.items():
            if facet.test(record):
                self.known[facet] = _inserted(found, record)

    def drop(self, number: int) -> None:
        record = self.records.pop(number, None)
        if record is None:
            return
        del self.ordered[bisect.bisect_left(self.ordered, number, key=_number)]
        self.holes.add(number)
        for facet, found in self.known.items():
            if any(held is record for held in found):
                self.known[facet] = tuple(held for held in found if held is not record)


def _inserted(records: tuple[TrialRecord, ...], record: TrialRecord) -> tuple[TrialRecord, ...]:
    listed = list(records)
    bisect.insort(listed, record, key=_number)
    return tuple(listed)


class FinishedTrials:
    """Finished records per study, each study's set stamped with the ``trials_revision`` it was read at.

    Revisions only grow. A reader that saw an older revision than the cache's (it began before a
    newer reader) may use the cache, which is fresher than its own snapshot, but never adds to it.
    Each facet a history was asked for (`TrialHistory.matching`) is indexed from then on, across revisions.
    Thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._studies: dict[int, _Study] = {}

    def view(self, study_id: int, revision: int) -> Cached:
        """What is cached for ``study_id``; nothing (and the cache dropped) when the study's trials changed since
        they were read, i.e. ``revision`` is newer than the cache's."""
        with self._lock:
            study = self._studies.get(study_id)
            if study is None or revision > study.revision:
                facets = () if study is None else tuple(study.known)
                self._studies[study_id] = _Study(revision, facets)
                return Cached(known={facet: () for facet in facets})
            return Cached(tuple(study.ordered), study.top, tuple(sorted(study.holes)), dict(study.known))

    def forget(self, study_id: int) -> None:
        """Drop what is cached for ``study_id`` (the study was deleted)."""
        with self._lock:
            self._studies.pop(study_id, None)

    def get(self, study_id: int, number: int, revision: int) -> TrialRecord | None:
        """The cached record of trial ``number`` when the cache is as new as ``revision``, else ``None``."""
        with self._lock:
            study = self._studies.get(study_id)
            if study is None or study.revision != revision:
                return None
            return study.records.get(number)

    def add(self, study_id: int, revision: int, records: Iterable[TrialRecord]) -> None:
        """Keep ``records`` (finished), read at ``revision``, unless the cache has moved to another revision since."""
        with self._lock:
            study = self._studies.get(study_id)
            if study is not None and study.revision == revision:
                for record in sorted(records, key=_number):
                    study.hold(record)

    def watch(self, study_id: int, facet: Facet) -> None:
        """Index ``facet`` among ``study_id``'s records from now on (`TrialHistory.matching`)."""
        with self._lock:
            study = self._studies.get(study_id)
            if study is not None and facet not in study.known:
                study.known[facet] = tuple(record for record in study.ordered if facet.test(record))

    def changed(self, study_id: int, number: int, before: int, after: int) -> None:
        """This storage changed finished trial ``number``, moving the study from revision ``before`` to
        ``after``: the record is dropped, and the rest stays valid when the cache was at ``before``."""
        with self._lock:
            study = self._studies.get(study_id)
            if study is None:
                return
            study.drop(number)
            if study.revision == before:
                study.revision = after
