"""Trial isolation: whatever an objective does to its process, the study records it and goes on."""

from __future__ import annotations

import ctypes
import math
import os
import time

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.executors import InlineExecutor, ProcessExecutor, make_executor


def fault_objective(trial: ts.Trial) -> float:
    kind = trial.params["kind"]
    if kind == "raise":
        raise ValueError("objective raised on purpose")
    if kind == "nan":
        return math.nan
    if kind == "exit":
        os._exit(1)
    if kind == "segfault":
        ctypes.string_at(0)
    if kind == "memory":
        np.ones(2**33, dtype=np.uint8)  # 8 GiB, far above the limit
    if kind == "hang":
        time.sleep(60)
    return 1.0


KINDS = ["ok", "raise", "nan", "exit", "segfault", "memory", "hang"]


@pytest.fixture(scope="module")
def fault_study() -> ts.Study:
    study = ts.Study(
        ts.Space({"kind": ts.Choice(KINDS)}),
        metric="value",
        sampler="grid",
        storage="memory",
        budget=ts.Budget(trials=len(KINDS)),
    )
    study.optimize(fault_objective, workers=2, executor="processes", memory_limit=512 * 2**20, trial_timeout=10.0)
    return study


@pytest.mark.parametrize(
    ("kind", "state", "reason"),
    [
        ("ok", ts.TrialState.COMPLETE, None),
        ("raise", ts.TrialState.FAILED, "exception: ValueError"),
        ("nan", ts.TrialState.FAILED, "value is nan"),
        ("exit", ts.TrialState.FAILED, "exited with code 1"),
        ("segfault", ts.TrialState.FAILED, "killed by SIGSEGV"),
        ("memory", ts.TrialState.FAILED, "out of memory"),
        ("hang", ts.TrialState.FAILED, "timed out"),
    ],
)
def test_each_fault_is_recorded_with_its_reason(
    fault_study: ts.Study, kind: str, state: ts.TrialState, reason: str | None
) -> None:
    record = next(r for r in fault_study.trials if r.params["kind"] == kind)
    assert record.state is state
    if reason is None:
        assert record.reason is None
    else:
        assert reason in (record.reason or ""), record.reason


def test_the_study_survives_all_faults(fault_study: ts.Study) -> None:
    assert len(fault_study.trials) == len(KINDS)
    assert fault_study.best is not None and fault_study.best.params == {"kind": "ok"}


def test_exception_traceback_is_kept(fault_study: ts.Study) -> None:
    record = next(r for r in fault_study.trials if r.params["kind"] == "raise")
    assert "objective raised on purpose" in (record.error or "")


def test_reports_cross_the_process_boundary_and_stops_come_back() -> None:
    study = ts.Study(ts.Space({"x": ts.Float(0, 1)}), metric="loss", storage="memory", budget=ts.Budget(trials=2))

    def objective(trial: ts.Trial) -> float:
        loss = 1.0
        for step in trial.steps(6):
            loss = math.nan if step == 3 else 1.0 / (step + 1)
            trial.report(loss=loss)
        return loss

    study.optimize(objective, workers=2, executor="processes")
    for record in study.trials:
        assert record.state is ts.TrialState.STOPPED and record.reason == "diverged"
        assert sorted(record.intermediate) == [1, 2, 3, 4]


def test_closures_work_with_the_default_fork_start() -> None:
    offset = 0.5
    study = ts.Study(ts.Space({"x": ts.Float(0, 1)}), metric="v", storage="memory", budget=ts.Budget(trials=3))
    study.optimize(lambda t: t.params["x"] + offset, workers=2, executor="processes")
    assert all(r.metrics["v"] >= 0.5 for r in study.trials)


def test_make_executor_validates() -> None:
    assert isinstance(make_executor("inline"), InlineExecutor)
    assert isinstance(make_executor("processes", 3), ProcessExecutor)
    with pytest.raises(ts.ConfigError, match="inline executor runs one trial"):
        make_executor("inline", 2)
    with pytest.raises(ts.ConfigError, match="executor must be"):
        make_executor("threads")
    with pytest.raises(ts.ConfigError, match="workers must be a positive integer"):
        ProcessExecutor(0)


def test_segfault_stack_is_kept_in_the_error_text(fault_study: ts.Study) -> None:
    record = next(r for r in fault_study.trials if r.params["kind"] == "segfault")
    assert "Segmentation fault" in (record.error or "") and "fault_objective" in (record.error or "")
