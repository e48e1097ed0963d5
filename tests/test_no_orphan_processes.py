"""No process a trial started outlives its trial, not even one that left the trial's process group for a session
of its own (a launcher, a data server, a daemon): whether the objective returns, the trial times out, or the driver
is killed. Every trial here runs with ``executor="processes"`` and records the pid of each process its objective
starts; each test then waits, under a deadline, for all of them to be gone.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import tunesmith as ts
from tunesmith.trial import TrialKind, TrialState

# Real processes and signals, about 10 s a file: the whole suite runs them, the quick ones on other Pythons do not.
pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl and /proc are Linux's"),
    pytest.mark.slow,
]

# Starts a `sleep` in a session of its own, records its pid in the folder argv[1] names and exits without waiting
# for it: what a launcher that daemonizes a server does. The `sleep` is left without a parent.
LAUNCHER = """
import subprocess, sys
from pathlib import Path

child = subprocess.Popen(["sleep", "300"], start_new_session=True)
(Path(sys.argv[1]) / f"daemon-{child.pid}").touch()
"""


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs: a zombie (dead, not yet reaped) does not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _recorded(folder: Path) -> list[int]:
    return [int(path.name.rsplit("-", 1)[1]) for path in folder.iterdir()]


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def _none_alive(folder: Path) -> Callable[[], bool]:
    return lambda: not any(_alive(pid) for pid in _recorded(folder))


@pytest.fixture
def started(tmp_path: Path) -> Iterator[Path]:
    """The folder where objectives record what they start (one empty file per process, named ``<what>-<pid>``);
    whatever recorded there still runs afterwards is killed, pass or fail."""
    folder = tmp_path / "started"
    folder.mkdir()
    yield folder
    for pid in _recorded(folder):
        if _alive(pid):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def _start_in_own_session(folder: Path) -> None:
    child = subprocess.Popen(["sleep", "300"], start_new_session=True)
    (folder / f"session-{child.pid}").touch()


def _study(tmp_path: Path, trials: int) -> ts.Study:
    return ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", budget=ts.Budget(trials=trials),
                    storage=f"sqlite:///{tmp_path}/study.db", seed=0, sampler="random")  # fmt: skip


def test_a_process_an_objective_started_in_a_session_of_its_own_dies_when_the_trial_returns(
    tmp_path: Path, started: Path
) -> None:
    def objective(trial: ts.Trial) -> float:
        _start_in_own_session(started)
        return float(trial.params["x"])

    _study(tmp_path, trials=4).optimize(objective, workers=2, executor="processes")

    assert len(_recorded(started)) == 4
    _wait_for(_none_alive(started), 5, "the processes the trials started to die")


def test_a_daemon_whose_launcher_exited_dies_when_the_trial_returns(tmp_path: Path, started: Path) -> None:
    def objective(trial: ts.Trial) -> float:
        subprocess.run([sys.executable, "-c", LAUNCHER, str(started)], check=True)
        return float(trial.params["x"])

    _study(tmp_path, trials=2).optimize(objective, workers=2, executor="processes")

    assert len(_recorded(started)) == 2
    _wait_for(_none_alive(started), 5, "the daemons the trials launched to die")


def test_the_run_warns_which_trial_left_processes_running_and_how_many_were_killed(
    tmp_path: Path, started: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def objective(trial: ts.Trial) -> float:
        _start_in_own_session(started)
        _start_in_own_session(started)
        return float(trial.params["x"])

    with caplog.at_level(logging.WARNING, logger="tunesmith"):
        _study(tmp_path, trials=1).optimize(objective, workers=1, executor="processes")

    assert "trial 0 ended with 2 processes it started still running; killed them" in caplog.text


def test_a_timed_out_trial_takes_the_processes_it_started_in_a_session_of_their_own_with_it(
    tmp_path: Path, started: Path
) -> None:
    def objective(trial: ts.Trial) -> float:
        _start_in_own_session(started)
        subprocess.run([sys.executable, "-c", LAUNCHER, str(started)], check=True)
        time.sleep(60)
        return float(trial.params["x"])

    study = _study(tmp_path, trials=1)
    study.optimize(objective, workers=1, executor="processes", trial_timeout=4.0, fail_fast=None)

    assert [(t.state, t.kind) for t in study.trials] == [(TrialState.FAILED, TrialKind.TIMEOUT)]
    assert len(_recorded(started)) == 2, "both processes started before the timeout"
    _wait_for(_none_alive(started), 5, "the processes the timed-out trial started to die")


# A driver whose one trial starts a `sleep` in a session of its own, records it, then trains until it is killed.
DRIVER = """
import subprocess, sys, time
from pathlib import Path

import tunesmith as ts

folder = Path(sys.argv[1])


def objective(trial):
    child = subprocess.Popen(["sleep", "300"], start_new_session=True)
    (folder / f"session-{child.pid}").touch()
    time.sleep(60)
    return 1.0


study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", storage="memory", budget=ts.Budget(trials=1))
study.optimize(objective, workers=1, executor="processes")
"""


def test_a_driver_killed_with_sigkill_takes_the_processes_its_trial_started_in_their_own_session_with_it(
    tmp_path: Path, started: Path
) -> None:
    with (tmp_path / "driver.log").open("w") as log:
        driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(started)],
                                  stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:

        def trial_started() -> bool:
            if driver.poll() is not None:
                raise AssertionError(f"the driver exited early:\n{(tmp_path / 'driver.log').read_text()}")
            return bool(_recorded(started))

        _wait_for(trial_started, 8, "the trial to start its sleep")
        driver.kill()
    finally:
        driver.kill()
        driver.wait()

    _wait_for(_none_alive(started), 5, "the sleep the trial started to die")
