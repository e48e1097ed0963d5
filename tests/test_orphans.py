"""No orphans: a trial process dies with the driver that records it, and never writes for a trial after that.

Each end-to-end test starts a real driver (``executor="processes"``, two workers) whose trials write
their pid, then append a timestamp to a marker file and save a checkpoint every 50 ms; the driver is
killed with SIGKILL, and no trial process may survive it, nor any marker or checkpoint be written
after it. The ways an orphan ends are tested one at a time: the parent-death signal, the watchdog
thread that replaces it where there is none, the broken pipe of a trial that reports, and the
checkpoint an orphan is refused.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tunesmith.errors import OrphanedTrialError
from tunesmith.executors import processes
from tunesmith.trial import Trial

WORKERS = 2
# mode -> (the trial processes' pids, the time the driver was killed)
RunDriver = Callable[[str], tuple[list[int], float]]

DRIVER = """
import os, sys, time
from pathlib import Path

import tunesmith as ts
from tunesmith.executors import processes

root, mode = Path(sys.argv[1]), sys.argv[2]
# Each mode leaves one way for an orphan to end, so that each is tested alone.
if mode != "checkpoint":
    import tunesmith.trial
    tunesmith.trial.Trial._refuse_if_orphaned = lambda self: None
if mode == "watchdog":  # as where prctl is unavailable
    processes._parent_death_signal = lambda: False
elif mode in ("pipe", "checkpoint"):  # neither the signal nor the watchdog
    processes._die_with_parent = lambda parent_pid: None


def objective(trial):
    pid_file = root / f"pid-{trial.number}"
    pid_file.with_suffix(".tmp").write_text(str(os.getpid()))
    pid_file.with_suffix(".tmp").replace(pid_file)
    marker = root / f"marker-{trial.number}"
    for step in range(100_000):
        with marker.open("a") as fh:
            fh.write(f"{time.time()!r}\\n")
        trial.save_checkpoint({"written_at": time.time()})
        if mode == "pipe":
            trial.report(loss=1.0)
        time.sleep(0.05)
    return 1.0


study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", storage="memory",
                 budget=ts.Budget(trials=WORKERS), checkpoint_dir=root / "checkpoints")
study.optimize(objective, workers=WORKERS, executor="processes")
""".replace("WORKERS", str(WORKERS))


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs: a zombie (dead, not yet reaped by whoever adopted it) does not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return sys.platform.startswith("linux") is False  # no /proc: trust kill(0)
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def _stamps(root: Path) -> list[float]:
    """Every time a trial wrote a marker line or a checkpoint."""
    stamps = [float(line) for marker in root.glob("marker-*") for line in marker.read_text().split()]
    for state in root.glob("checkpoints/**/tunesmith-state.json"):
        stamps.append(json.loads(state.read_text())["state"]["written_at"])
        stamps.append(state.stat().st_mtime)
    return stamps


@pytest.fixture
def run_driver(tmp_path: Path) -> Iterator[RunDriver]:
    """Start a driver in ``mode``, wait until both trials are writing, kill it with SIGKILL.

    Returns the trial pids and the time of the kill; kills any survivor afterwards, pass or fail.
    """
    trial_pids: list[int] = []

    def run(mode: str) -> tuple[list[int], float]:
        log = (tmp_path / "driver.log").open("w")
        driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(tmp_path), mode],
                                  stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        try:

            def writing() -> bool:
                if driver.poll() is not None:
                    raise AssertionError(f"driver exited early:\n{(tmp_path / 'driver.log').read_text()}")
                markers = [tmp_path / f"marker-{n}" for n in range(WORKERS)]
                return all(m.is_file() and len(m.read_text().split()) >= 2 for m in markers)

            _wait_for(writing, 15, "both trials to start writing")
            trial_pids.extend(int((tmp_path / f"pid-{n}").read_text()) for n in range(WORKERS))
            assert all(_alive(pid) for pid in trial_pids)
            killed_at = time.time()
            driver.kill()
        finally:
            driver.kill()
            driver.wait()
            log.close()
        return trial_pids, killed_at

    yield run
    for pid in trial_pids:
        if _alive(pid):
            os.kill(pid, 9)


@pytest.mark.parametrize(
    ("mode", "within"),
    [
        pytest.param("signal", 1.0, marks=pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl")),
        ("watchdog", 2.5),  # the watchdog looks once a second
        ("pipe", 1.0),  # the trial reports: its next report finds the pipe broken
        ("checkpoint", 1.0),  # the trial's next save_checkpoint refuses, and its error finds the pipe broken
    ],
)
def test_no_trial_process_outlives_its_killed_driver(
    run_driver: RunDriver, tmp_path: Path, mode: str, within: float
) -> None:
    trial_pids, killed_at = run_driver(mode)

    _wait_for(lambda: not any(_alive(pid) for pid in trial_pids), 5, "the trial processes to die")

    last_write = max(_stamps(tmp_path))
    assert last_write < killed_at + within, f"a trial wrote {last_write - killed_at:.2f}s after its driver was killed"


def test_an_orphaned_trial_refuses_to_save_a_checkpoint(tmp_path: Path) -> None:
    # This process's parent is not this process: as for a trial re-parented after its driver died.
    trial = Trial(0, {}, 0, checkpoint_dir=tmp_path / "trial-0", parent_pid=os.getpid())

    with pytest.raises(OrphanedTrialError, match="outlived the study's driver"):
        trial.save_checkpoint({"step": 1})

    assert not (tmp_path / "trial-0").exists()


def test_an_orphaned_trial_does_not_recreate_its_checkpoint_folder(tmp_path: Path) -> None:
    trial = Trial(0, {}, 0, checkpoint_dir=tmp_path / "trial-0", parent_pid=os.getpid())

    with pytest.raises(OrphanedTrialError):
        _ = trial.checkpoint_dir

    assert not (tmp_path / "trial-0").exists()


def test_a_trial_whose_driver_lives_saves_checkpoints(tmp_path: Path) -> None:
    trial = Trial(0, {}, 0, checkpoint_dir=tmp_path / "trial-0", parent_pid=os.getppid())

    trial.save_checkpoint({"step": 1})

    assert trial.load_checkpoint() == {"step": 1}


@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="needs fork")
def test_a_trial_process_whose_driver_died_before_it_was_protected_exits_at_once() -> None:
    # A parent pid that is not the child's: the driver died between the fork and the prctl call.
    child = mp.get_context("fork").Process(target=processes._die_with_parent, args=(os.getpid() + 1_000_000,))
    child.start()
    child.join(timeout=10)

    assert child.exitcode == processes._ORPHANED_EXIT
