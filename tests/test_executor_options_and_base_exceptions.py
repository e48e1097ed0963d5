"""Two ways an executor lost what the user asked for.

An executor passed as an instance runs as its constructor built it: ``workers``, ``trial_timeout`` or
``memory_limit`` given to `Study.optimize` beside it were dropped without a word (a 6 s trial under
``trial_timeout=2`` completed), so they are refused with where to set them.

An objective's ``asyncio.CancelledError`` (a `BaseException`) fails its trial with the traceback under the inline
executor, as in a trial process: it was recorded interrupted, its traceback lost, and the study died with it. Other
`BaseException`s (a test framework's skip) pass through as they are meant to. A real Ctrl-C the objective turned
into another exception still interrupts.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tunesmith as ts
from tunesmith.errors import ConfigError
from tunesmith.executors import InlineExecutor, ProcessExecutor, RayExecutor, make_executor
from tunesmith.study import ObjectiveError
from tunesmith.trial import Trial, TrialKind, TrialState


class LibraryStop(BaseException):
    """A library's own `BaseException` subclass, as some frameworks raise to unwind a run."""


def _study(trials: int = 1) -> ts.Study:
    return ts.Study(
        ts.Space({"x": ts.Float(0, 1)}),
        metric="loss",
        budget=ts.Budget(trials=trials),
        storage="memory",
        seed=0,
        sampler="random",
    )


def _quick(trial: Trial) -> dict[str, float]:
    return {"loss": trial.params["x"]}


def test_a_trial_timeout_beside_an_executor_instance_is_refused_naming_its_constructor() -> None:
    study = _study()
    with pytest.raises(ConfigError, match=r"trial_timeout=2.*set trial_timeout on ProcessExecutor\(trial_timeout="):
        study.optimize(_quick, executor=ProcessExecutor(workers=1), trial_timeout=2)
    assert study.trials == []


def test_a_memory_limit_beside_an_inline_executor_instance_is_refused_pointing_to_the_process_executor() -> None:
    study = _study()
    with pytest.raises(
        ConfigError, match=r"InlineExecutor cannot enforce memory_limit: use ProcessExecutor\(memory_limit="
    ):
        study.optimize(_quick, executor=InlineExecutor(), memory_limit="100MB")
    assert study.trials == []


def test_workers_beside_an_executor_instance_running_another_count_is_refused() -> None:
    study = _study()
    with pytest.raises(
        ConfigError, match=r"workers=3 with ProcessExecutor \(running 2 .*set workers on ProcessExecutor\(workers=3\)"
    ):
        study.optimize(_quick, executor=ProcessExecutor(workers=2), workers=3)
    assert study.trials == []


def test_workers_beside_an_inline_executor_count_its_one_trial_in_the_singular() -> None:
    study = _study()
    with pytest.raises(ConfigError, match=r"with InlineExecutor \(running 1 trial at once\); InlineExecutor runs 1 "
                                          r"trial at once: use ProcessExecutor\(workers=2\)"):  # fmt: skip
        study.optimize(_quick, executor=InlineExecutor(), workers=2)  # it read "1 trial(s) at once"


def test_an_explicit_workers_1_beside_an_executor_built_for_4_is_refused() -> None:
    study = _study()
    with pytest.raises(
        ConfigError, match=r"workers=1 with ProcessExecutor \(running 4 .*set workers on ProcessExecutor\(workers=1\)"
    ):
        study.optimize(_quick, executor=ProcessExecutor(workers=4), workers=1)
    assert study.trials == []


def test_an_executor_built_for_4_runs_4_trials_at_once_when_workers_is_not_given(tmp_path: Path) -> None:
    # Each trial waits until 4 trials have started: with fewer running at once, the first ones give up and say so.
    def together(trial: Trial) -> dict[str, float]:
        (tmp_path / str(trial.number)).touch()
        deadline = time.monotonic() + 20
        while len(list(tmp_path.iterdir())) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        return {"loss": trial.params["x"], "started_together": float(len(list(tmp_path.iterdir())))}

    study = _study(trials=4)
    study.optimize(together, executor=ProcessExecutor(workers=4))
    assert [r.metrics["started_together"] for r in study.trials] == [4.0] * 4


def test_a_memory_limit_beside_a_ray_executor_points_to_its_resources() -> None:
    # Building a RayExecutor does not import Ray, so this runs without it.
    with pytest.raises(ConfigError, match=r"RayExecutor cannot enforce memory_limit: .*RayExecutor\(resources="):
        make_executor(RayExecutor(workers=2), 2, memory_limit=2**30)


def test_an_objectives_cancelled_error_fails_its_trial_inline_with_the_traceback() -> None:
    def objective(trial: Trial) -> dict[str, float]:
        raise asyncio.CancelledError("the objective's own")

    study = _study(trials=2)
    study.optimize(objective, executor="inline", fail_fast=None)
    records = study.trials
    assert [(r.state, r.kind) for r in records] == [(TrialState.FAILED, TrialKind.EXCEPTION)] * 2
    assert all("CancelledError" in (r.error or "") for r in records)


def test_another_base_exception_passes_through_an_inline_trial_as_it_is_meant_to() -> None:
    # A BaseException other than CancelledError is a signal meant to pass `except Exception` (a test framework's
    # skip raised inside the objective, a coroutine library's exit): the study does not swallow it as a failure.
    def objective(trial: Trial) -> dict[str, float]:
        raise LibraryStop("unwind")

    study = _study(trials=2)
    with pytest.raises(LibraryStop):
        study.optimize(objective, executor="inline", fail_fast=None)


def test_fail_fast_stops_an_objective_whose_base_exception_fails_every_trial_inline() -> None:
    def objective(trial: Trial) -> dict[str, float]:
        async def cancelled() -> None:
            current = asyncio.current_task()
            assert current is not None
            current.cancel()
            await asyncio.sleep(1)

        asyncio.run(cancelled())
        return {"loss": 1.0}

    study = _study(trials=6)
    with pytest.raises(ObjectiveError):
        study.optimize(objective, executor="inline", fail_fast=3)
    assert [r.kind for r in study.trials] == [TrialKind.EXCEPTION] * 3


@pytest.fixture
def ctrl_c_raises() -> Iterator[None]:
    """Ctrl-C raises `KeyboardInterrupt`, as in a terminal, even where the suite started with SIGINT ignored."""
    former = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, former)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.usefixtures("ctrl_c_raises")
def test_a_ctrl_c_the_objective_turns_into_another_base_exception_still_interrupts_the_study() -> None:
    def objective(trial: Trial) -> Any:
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        except KeyboardInterrupt:
            raise asyncio.CancelledError("unwound on Ctrl-C") from None
        return {"loss": 1.0}

    study = _study(trials=3)
    with pytest.raises(KeyboardInterrupt):
        study.optimize(objective, executor="inline")
    assert [r.kind for r in study.trials] == [TrialKind.INTERRUPTED]
