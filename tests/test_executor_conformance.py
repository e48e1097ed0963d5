"""Every executor passes the one conformance suite (`tunesmith.testing.executors`): inline, processes,
simulated and, on a local Ray cluster started once for this module, Ray."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest

import tunesmith as ts
from tunesmith.decision import Decision
from tunesmith.executors import Executor, InlineExecutor, ProcessExecutor, SimulatedExecutor, TrialJob
from tunesmith.testing.executors import (
    EXECUTOR_CHECKS,
    check_an_exception_becomes_a_failed_outcome,
    check_clock_never_goes_back,
    generator_objective,
    plain_objective,
)

Check = Callable[..., None]

LOCAL: dict[str, tuple[Callable[[], Executor], Callable[..., object]]] = {
    "inline": (InlineExecutor, plain_objective),
    # Steps take real time in a child process, so a long step keeps a trial in flight.
    "processes": (partial(ProcessExecutor, 2), partial(plain_objective, real_time=True)),
    "simulated": (partial(SimulatedExecutor, 2), generator_objective),
}


@pytest.mark.parametrize("name", LOCAL)
@pytest.mark.parametrize("check", EXECUTOR_CHECKS, ids=lambda c: c.__name__)
def test_executor_conformance(name: str, check: Check) -> None:
    make, adapt = LOCAL[name]
    check(make, adapt)


def test_the_default_clock_is_the_wall_clock() -> None:
    before = time.time()
    reading = InlineExecutor().clock()
    assert before <= reading <= time.time()


def test_the_simulated_clock_is_the_simulated_time() -> None:
    def two_minutes(trial: ts.Trial) -> Iterator[tuple[float, dict[str, float]]]:
        yield 60.0, {"loss": 1.0}
        yield 60.0, {"loss": 0.5}

    executor = SimulatedExecutor(start_time=1000.0)
    executor.start(two_minutes, lambda number, step, metrics: Decision.CONTINUE)
    executor.submit(TrialJob(number=0, params={}, seed=0))
    assert executor.clock() == 1000.0
    assert [o.number for o in executor.wait(None)] == [0]
    assert executor.clock() == 1120.0


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    """One small local Ray cluster of this module's own (never one found running), loopback only."""
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray = pytest.importorskip("ray", reason="the ray extra is part of the test install (make test)")
    ray.init(address="local", num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False,
             object_store_memory=80 * 1024**2)  # fmt: skip
    try:
        yield
    finally:
        ray.shutdown()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("check", EXECUTOR_CHECKS, ids=lambda c: c.__name__)
def test_ray_executor_conformance(ray_cluster: None, check: Check) -> None:
    from tunesmith.executors.ray import RayExecutor

    check(partial(RayExecutor, 2), partial(plain_objective, real_time=True))


class _LetsExceptionsEscape(InlineExecutor):
    def submit(self, job: TrialJob) -> None:
        assert self._objective is not None
        self._objective(ts.Trial(job.number, job.params, job.seed))


class _ClockGoesBack(SimulatedExecutor):
    def clock(self) -> float:
        self.now -= 1.0
        return self.now


@pytest.mark.parametrize(
    ("make", "adapt", "check"),
    [
        (_LetsExceptionsEscape, plain_objective, check_an_exception_becomes_a_failed_outcome),
        (_ClockGoesBack, generator_objective, check_clock_never_goes_back),
    ],
    ids=["exception-escapes", "clock-goes-back"],
)
def test_the_suite_fails_a_broken_executor(make: Callable[[], Executor], adapt: Any, check: Check) -> None:
    with pytest.raises(AssertionError):
        check(make, adapt)
