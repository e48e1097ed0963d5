"""Schedulers pass the conformance suite; FIFO never stops a trial."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tunesmith.decision import Decision
from tunesmith.errors import ConfigError
from tunesmith.schedulers import FIFO, Scheduler, make_scheduler
from tunesmith.testing.schedulers import CONTEXT, SCHEDULER_CHECKS, synthetic_history

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
