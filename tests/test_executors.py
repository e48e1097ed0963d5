"""Trial isolation: whatever an objective does to its process, the study records it and goes on."""

from __future__ import annotations

import ctypes
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.executors import InlineExecutor, ProcessExecutor, make_executor
from tunesmith.executors.base import Executor, Objective, TrialJob, TrialOutcome
from tunesmith.trial import TrialKind


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


def _run_directly(executor: Executor, objective: Objective, params: list[dict[str, object]]) -> list[TrialOutcome]:
    """Each job's outcome, in job order, from ``executor`` driven without a study."""
    done: list[TrialOutcome] = []
    executor.start(objective, lambda number, step, metrics: ts.Decision.CONTINUE)
    for number, job_params in enumerate(params):
        while executor.busy() >= executor.capacity:
            done.extend(executor.wait(timeout=1.0))
        executor.submit(TrialJob(number, job_params, seed=number))
    while executor.busy():
        done.extend(executor.wait(timeout=1.0))
    executor.shutdown()
    return sorted(done, key=lambda outcome: outcome.number)


@pytest.mark.slow
def test_every_failure_of_a_trial_process_carries_its_kind() -> None:
    expected = {"ok": None, "raise": TrialKind.EXCEPTION, "exit": TrialKind.CRASH, "segfault": TrialKind.CRASH,
                "memory": TrialKind.OUT_OF_MEMORY, "hang": TrialKind.TIMEOUT}  # fmt: skip
    executor = ProcessExecutor(3, memory_limit=512 * 2**20, trial_timeout=5.0)
    outcomes = _run_directly(executor, fault_objective, [{"kind": kind} for kind in expected])
    assert {kind: o.kind for kind, o in zip(expected, outcomes, strict=True)} == expected
    assert [o.failed for o in outcomes] == [kind is not None for kind in expected.values()]
    assert outcomes[-1].reason == "timed out", "the reason stays beside the kind, unchanged"


def test_a_result_that_cannot_leave_the_trial_process_is_a_bad_result() -> None:
    import threading

    (outcome,) = _run_directly(ProcessExecutor(1), lambda trial: {"lock": threading.Lock()}, [{}])
    assert outcome.kind is TrialKind.BAD_RESULT and outcome.reason == "result not serialisable"


def test_inline_failures_carry_their_kind() -> None:
    def objective(trial: ts.Trial) -> float:
        if trial.params["fault"] == "memory":
            raise MemoryError
        raise KeyError("missing")

    outcomes = _run_directly(InlineExecutor(), objective, [{"fault": "memory"}, {"fault": "raise"}])
    assert [(o.kind, o.reason) for o in outcomes] == [
        (TrialKind.OUT_OF_MEMORY, "out of memory"),
        (TrialKind.EXCEPTION, "exception: KeyError"),
    ]


def test_simulated_failures_carry_their_kind() -> None:
    def objective(trial: ts.Trial) -> Iterator[tuple[float, dict[str, float]]]:
        yield 1.0, {"loss": 1.0}
        raise RuntimeError("broke at step 2")

    (outcome,) = _run_directly(ts.SimulatedExecutor(workers=1), objective, [{}])
    assert outcome.kind is TrialKind.EXCEPTION and outcome.reason == "exception: RuntimeError"


def test_the_segfault_stack_is_kept_when_the_parent_has_its_own_fault_handler(tmp_path: Path) -> None:
    """Ray's driver enables faulthandler, then its C++ core installs its own SIGSEGV handler over it; a trial
    process must still write its stack to the study (faulthandler, thinking itself enabled, reinstalled nothing)."""
    import faulthandler
    import signal

    was_enabled = faulthandler.is_enabled()  # pytest's own handler, restored below
    with open(tmp_path / "parent-faults.log", "wb") as parent_log:
        faulthandler.enable(file=parent_log, all_threads=True)
        previous = signal.signal(signal.SIGSEGV, signal.SIG_DFL)  # another library's handler over faulthandler's
        try:
            outcomes = _run_directly(ProcessExecutor(1), fault_objective, [{"kind": "segfault"}])
        finally:
            faulthandler.disable()
            signal.signal(signal.SIGSEGV, previous)
            if was_enabled:
                faulthandler.enable()
    assert "Segmentation fault" in (outcomes[0].error or "") and "fault_objective" in (outcomes[0].error or "")


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie waiting to be reaped does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _spawns_and_waits(trial: ts.Trial) -> float:
    """Starts a long-lived process, as a launcher or a data server would, writes its pid, then works."""
    import subprocess

    child = subprocess.Popen(["sleep", "300"])
    (Path(os.environ["TUNESMITH_TEST_PIDS"]) / f"{trial.number}.pid").write_text(str(child.pid))
    if trial.number == 0:
        time.sleep(60)  # past its timeout
    return float(trial.params["x"])


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads process states from /proc")
def test_processes_an_objective_started_die_with_its_trial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A trial killed for its timeout left its `sleep` running under init; so did one that completed.
    monkeypatch.setenv("TUNESMITH_TEST_PIDS", str(tmp_path))
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", budget=ts.Budget(trials=2),
                     storage="memory", seed=0, sampler="random")  # fmt: skip
    study.optimize(_spawns_and_waits, workers=2, executor="processes", trial_timeout=3.0)
    assert sorted(r.state.value for r in study.trials) == ["complete", "failed"]
    pids = [int(p.read_text()) for p in tmp_path.glob("*.pid")]
    assert len(pids) == 2
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in pids if _alive(pid)], "no process a trial started outlives it"


def test_a_report_for_a_trial_another_process_finished_is_answered_stop_not_raised_in_the_driver() -> None:
    """The process and Ray executors hand reports to the study in the driver: a trial another worker reaped
    (storage refuses its report with TrialNotRunning) is told to stop instead of crashing the driver's loop."""
    from tunesmith.decision import Decision
    from tunesmith.errors import TrialNotRunning
    from tunesmith.executors.base import decide_report

    def finished_elsewhere(number: int, step: int, metrics: dict[str, float]) -> Decision:
        raise TrialNotRunning(f"trial #{number} is failed, not running")

    assert decide_report(finished_elsewhere, 3, 2, {"loss": 0.5}) is Decision.STOP
    assert decide_report(lambda n, s, m: Decision.CONTINUE, 3, 2, {"loss": 0.5}) is Decision.CONTINUE
