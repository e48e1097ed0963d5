"""Asking for and telling a trial costs the same however many trials the study holds (SQLite, a trivial objective).

Each trial once read every stored trial, in SQLite and in Python, several times over, so a 3,000-trial study wrote
each trial at twice the cost of its first ones. The work is counted, not timed: the lines of tunesmith's code that
run and the instructions SQLite runs, for one ask and tell at 30 trials and at 330. One trial stays RUNNING below
the others throughout, as a worker's does, since a trial the cache cannot hold is what turned a read into a scan.

Besides: a trial's recorded duration ends when it is told, and the index through which a history read inside a
write finds the few trials a rule looks for (`TrialHistory.matching`) finds what a scan finds, however finished
trials change.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import sqlalchemy as sa

import tunesmith as ts
from tunesmith.storage import Proposal, SQLStorage, Storage
from tunesmith.storage._trial_cache import Facet, matching
from tunesmith.trial import TrialRecord, TrialState


def _study(tmp_path: Path) -> ts.Study:
    return ts.Study(
        ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", storage=f"sqlite:///{tmp_path / 'write.db'}",
        name="write", seed=0, sampler="random", heartbeat_interval=3600.0, grace=7200.0,
    )  # fmt: skip  (beats and reaping once an hour: none falls inside what a test counts)


def _one_trial(study: ts.Study) -> None:
    trial = study.ask()
    study.tell(trial, {"loss": trial.params["x"]})


def _grow(study: ts.Study, trials: int) -> None:
    while len(study.trials) < trials:
        _one_trial(study)


def _engine(study: ts.Study) -> sa.Engine:
    storage = study.storage
    assert isinstance(storage, SQLStorage)
    return storage._engine


def _tunesmith_lines(work: Callable[[], None]) -> int:
    """The lines of tunesmith's own code that ``work()`` runs on this thread."""
    lines = 0

    def in_frame(frame: FrameType, event: str, arg: Any) -> Callable[..., Any]:
        nonlocal lines
        lines += event == "line"
        return in_frame

    def on_call(frame: FrameType, event: str, arg: Any) -> Callable[..., Any] | None:
        return in_frame if "/tunesmith/" in frame.f_code.co_filename else None

    sys.settrace(on_call)
    try:
        work()
    finally:
        sys.settrace(None)
    return lines


def _sqlite_instructions(study: ts.Study, work: Callable[[], None]) -> int:
    """The virtual-machine instructions SQLite runs for the statements of ``work()``, their rows fetched included."""
    instructions = 0
    connections: list[sqlite3.Connection] = []

    def count() -> int:
        nonlocal instructions
        instructions += 1
        return 0  # go on

    def before(conn: Any, cursor: Any, *_: Any) -> None:
        cursor.connection.set_progress_handler(count, 1)
        connections.append(cursor.connection)

    sa.event.listen(_engine(study), "before_cursor_execute", before)
    try:
        work()
    finally:
        sa.event.remove(_engine(study), "before_cursor_execute", before)
        for connection in connections:
            connection.set_progress_handler(None, 1)
    return instructions


def test_asking_for_and_telling_a_trial_runs_as_much_tunesmith_code_at_330_trials_as_at_30(tmp_path: Path) -> None:
    study = _study(tmp_path)
    study.ask()  # runs throughout, below every later trial
    _grow(study, 30)
    few = _tunesmith_lines(lambda: _one_trial(study))
    _grow(study, 330)
    many = _tunesmith_lines(lambda: _one_trial(study))
    assert many <= few * 1.1, f"{few} lines per trial at 30 trials, {many} at 330"


def test_asking_for_and_telling_a_trial_takes_as_much_sqlite_work_at_330_trials_as_at_30(tmp_path: Path) -> None:
    study = _study(tmp_path)
    study.ask()  # runs throughout, below every later trial
    _grow(study, 30)
    few = _sqlite_instructions(study, lambda: _one_trial(study))
    _grow(study, 330)
    many = _sqlite_instructions(study, lambda: _one_trial(study))
    assert many <= few * 1.1, f"{few} SQLite instructions per trial at 30 trials, {many} at 330"


def test_a_trials_recorded_duration_ends_when_it_is_told_not_after_the_storage_work_that_records_it(
    tmp_path: Path,
) -> None:
    study = _study(tmp_path)
    now = [1000.0]
    study._clock = lambda: now[0]
    trial = study.ask()
    now[0] += 5.0  # the objective ran 5 s

    def a_second_per_statement(*_: Any) -> None:
        now[0] += 1.0

    sa.event.listen(_engine(study), "before_cursor_execute", a_second_per_statement)
    record = study.tell(trial, {"loss": 0.5})
    assert (record.started_at, record.finished_at) == (1000.0, 1005.0)


MARKED = Facet("marked", lambda record: bool(record.attrs.get("mark")))
FAILED = Facet("failed", lambda record: record.state is TrialState.FAILED)


def test_a_history_read_through_the_cache_finds_what_a_scan_finds_as_finished_trials_change_here_and_elsewhere(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'facets.db'}"
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", storage=SQLStorage(url), name="facets")
    here, elsewhere, study_id = study.storage, SQLStorage(url), study._info.id  # two caches, as two processes hold
    seen: list[dict[str, list[int]]] = []

    def propose(number: int, history: Sequence[TrialRecord]) -> Proposal:
        for facet in (MARKED, FAILED):
            assert matching(history, facet) == tuple(r for r in history if facet.test(r)), facet.name
        seen.append({facet.name: [r.number for r in matching(history, facet)] for facet in (MARKED, FAILED)})
        return Proposal(params={"x": 0.5}, seed=number)

    def new_trial() -> int:
        record = here.create_trial(study_id, propose, max_trials=None, worker="w:1", now=0.0)
        assert record is not None
        return record.number

    def finish(storage: Storage, number: int, state: TrialState) -> None:
        storage.finish_trial(study_id, number, state, metrics={"loss": 1.0}, reason=None, error=None, now=1.0,
                             only_if_running=False)  # fmt: skip

    running = new_trial()  # stays RUNNING below the others until the end
    for number in [new_trial() for _ in range(4)]:
        finish(here, number, TrialState.COMPLETE)
    new_trial()  # the facets are indexed from here on
    here.update_trial(study_id, 1, attrs={"mark": True})  # a finished trial changed by this storage
    new_trial()
    here.update_trial(study_id, 1, attrs={"mark": None})
    new_trial()
    elsewhere.update_trial(study_id, 2, attrs={"mark": True})  # and by another process's
    new_trial()
    finish(elsewhere, 3, TrialState.FAILED)  # a finished trial finished again
    new_trial()
    finish(here, running, TrialState.FAILED)
    new_trial()
    finish(here, 3, TrialState.COMPLETE)
    new_trial()
    assert seen[5:] == [
        {"marked": [], "failed": []},
        {"marked": [1], "failed": []},
        {"marked": [], "failed": []},
        {"marked": [2], "failed": []},
        {"marked": [2], "failed": [3]},
        {"marked": [2], "failed": [0, 3]},
        {"marked": [2], "failed": [0]},
    ]
    elsewhere.close()
    here.close()
