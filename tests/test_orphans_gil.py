"""No trial outlives its killed driver while the objective is inside one long C call that holds the GIL (a builtin, a
C-extension loop): the trial process's own ways to end (a signal handler, a watchdog thread) are Python code that
waits for that GIL, so the driver's watch process ends such a trial, with what it started, a moment later.

Each test starts a real driver (``executor="processes"``, two workers) whose trials each start a ``sleep`` in a
session of its own, record their pids, then enter ``sum(range(10**12))``, which holds the GIL for hours; the
driver is killed with SIGKILL and the recorded processes must be gone within a few seconds.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the watch process forks; reads /proc")

WORKERS = 2
# Seconds for every recorded process to be gone once the driver is killed: the watch process's grace (1.5 s) and
# its kills, with room for a loaded machine; the C call would hold the trials for hours.
WITHIN = 10.0

# Records each process as an empty file named ``<what>-<pid>`` in the folder argv[1] names: ``session`` for the
# `sleep` a trial starts, then ``trial`` for the trial process, just before it enters the C call.
DRIVER = """
import os, subprocess, sys
from pathlib import Path

import tunesmith as ts

folder = Path(sys.argv[1])


def objective(trial):
    child = subprocess.Popen(["sleep", "300"], start_new_session=True)
    (folder / f"session-{child.pid}").touch()
    (folder / f"trial-{os.getpid()}").touch()
    sum(range(10**12))  # one C call: no Python code of this process runs until it returns
    return 1.0


study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", storage="memory",
                 budget=ts.Budget(trials=WORKERS))
study.optimize(objective, workers=WORKERS, executor="processes")
""".replace("WORKERS", str(WORKERS))


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs: a zombie (dead, not yet reaped by whoever adopted it) does not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _recorded(folder: Path, what: str) -> list[int]:
    return [int(path.name.rsplit("-", 1)[1]) for path in folder.glob(f"{what}-*")]


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def killed_driver(tmp_path: Path) -> Iterator[Path]:
    """Start `DRIVER`, wait until both trials are inside the C call, kill the driver with SIGKILL; yields the folder
    of recorded processes, and SIGKILLs whatever of them still runs afterwards, pass or fail."""
    folder = tmp_path / "started"
    folder.mkdir()
    with (tmp_path / "driver.log").open("w") as log:
        driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(folder)],
                                  stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:

        def in_the_c_call() -> bool:
            if driver.poll() is not None:
                raise AssertionError(f"the driver exited early:\n{(tmp_path / 'driver.log').read_text()}")
            return len(_recorded(folder, "trial")) == WORKERS

        _wait_for(in_the_c_call, 30, "both trials to enter the C call")
        time.sleep(1.0)  # from the record to the call: a few bytecodes, even on a loaded machine
        driver.kill()
        driver.wait()
        yield folder
    finally:
        driver.kill()
        driver.wait()
        for pid in _recorded(folder, "trial") + _recorded(folder, "session"):
            if _alive(pid):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)


def test_trial_processes_inside_a_c_call_that_holds_the_gil_die_soon_after_their_driver_is_killed(
    killed_driver: Path,
) -> None:
    trials = _recorded(killed_driver, "trial")

    _wait_for(lambda: not any(_alive(pid) for pid in trials), WITHIN, "the trial processes to die")


def test_what_a_trial_inside_a_gil_holding_c_call_started_dies_with_its_killed_driver(killed_driver: Path) -> None:
    sessions = _recorded(killed_driver, "session")

    assert len(sessions) == WORKERS
    _wait_for(lambda: not any(_alive(pid) for pid in sessions), WITHIN, "the sleeps the trials started to die")
