"""Schedulers pass the conformance suite; FIFO never stops a trial."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

import tunesmith as ts
from tunesmith.decision import Decision
from tunesmith.errors import ConfigError
from tunesmith.schedulers import FIFO, AutoScheduler, Scheduler, make_scheduler
from tunesmith.storage import MemoryStorage
from tunesmith.testing.schedulers import CONTEXT, SCHEDULER_CHECKS, synthetic_history
from tunesmith.trial import TrialRecord

SCHEDULERS: list[Callable[[], Scheduler]] = [FIFO]


@pytest.mark.parametrize("make", SCHEDULERS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("check", SCHEDULER_CHECKS, ids=lambda c: c.__name__)
def test_scheduler_conformance(make: Callable[[], Scheduler], check: Callable[..., None]) -> None:
    check(make)


def test_fifo_continues_even_the_worst_trial() -> None:
    history = synthetic_history()
    worst = max(history, key=lambda r: r.intermediate[1]["loss"])
    assert FIFO().decide(worst, history, CONTEXT) is Decision.CONTINUE


def test_make_scheduler_names_the_known_ones() -> None:
    assert isinstance(make_scheduler(None), FIFO)
    assert isinstance(make_scheduler("fifo"), FIFO)
    with pytest.raises(ConfigError, match="unknown scheduler 'nope'"):
        make_scheduler("nope")


def test_make_scheduler_suggests_a_close_name() -> None:
    with pytest.raises(ConfigError, match="did you mean 'fifo'"):
        make_scheduler("fido")


def test_scheduler_flags_name_every_flag_a_scheduler_declares() -> None:
    declared = {name for name, value in vars(Scheduler).items() if isinstance(value, bool)}
    assert declared == set(Scheduler.FLAGS)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"max_resource": 27, "early_signal": False},
        {"max_resource": 27},
        {"max_resource": 27, "early_signal": None},
        {"max_resource": 27, "adaptive": True},
    ],
    ids=["fifo-no-resource", "fifo-no-signal", "asha", "hyperband", "pbt"],
)
def test_auto_scheduler_forwards_every_flag_of_the_scheduler_it_chose(options: dict[str, Any]) -> None:
    auto = AutoScheduler(**options)
    assert {flag: getattr(auto, flag) for flag in Scheduler.FLAGS} == {
        flag: getattr(auto.chosen, flag) for flag in Scheduler.FLAGS
    }


class _WholeStudyReads(MemoryStorage):
    """Counts reads of a whole study's trials made by the creating thread (reading one trial is not one)."""

    def __init__(self) -> None:
        super().__init__()
        self.whole_reads = 0
        self._owner = threading.get_ident()
        self._one = False

    def get_trial(self, study_id: int, number: int) -> TrialRecord:
        self._one = True
        try:
            return super().get_trial(study_id, number)
        finally:
            self._one = False

    def get_trials(self, study_id: int) -> list[TrialRecord]:
        if threading.get_ident() == self._owner and not self._one:
            self.whole_reads += 1
        return super().get_trials(study_id)


@pytest.mark.parametrize("scheduler", ["fifo", "auto"])
def test_a_report_under_a_scheduler_that_reads_no_history_reads_only_its_own_trial(scheduler: str) -> None:
    storage = _WholeStudyReads()
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", storage=storage, scheduler=scheduler)
    trial = study.ask()
    storage.whole_reads = 0
    for step in (1, 2, 3):
        assert study.report(trial.number, step, {"loss": 1.0 / step}) is Decision.CONTINUE
    assert storage.whole_reads == 0
