"""No orphans: a trial process dies with the driver that records it, and never writes for a trial after that.

Each end-to-end test starts a real driver (``executor="processes"``, two workers) whose trials write
their pid, then append a timestamp to a marker file and save a checkpoint every 50 ms; the driver is
killed with SIGKILL, and no trial process may survive it, nor any marker or checkpoint be written
after it. The ways an orphan ends are tested one at a time: the parent-death signal, the watchdog
thread that replaces it where there is none, the broken pipe of a trial that reports, and the
checkpoint an orphan is refused. A real `tunesmith run` whose trials start a `sleep` is then stopped
with SIGTERM (as `timeout`, systemd, docker stop, SLURM and Kubernetes do) and with SIGKILL: no
process of the trials' process groups may outlive it.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import tunesmith as ts
from tests.conftest import BIN
from tunesmith.cli._common import Terminated, _sigterm_as_interrupt
from tunesmith.errors import OrphanedTrialError
from tunesmith.executors import processes
from tunesmith.trial import Trial, TrialKind, TrialState

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


# A `tunesmith run` whose trials each start a `sleep` (a launcher, a data server) in the trial's process group and
# record both pids: "<trial pid> <sleep pid>".
GROUP_OBJECTIVE = """
import os, subprocess, time
from pathlib import Path


def objective(trial):
    child = subprocess.Popen(["sleep", "4242"])
    pids = Path(__file__).parent / f"pids-{trial.number}"
    pids.with_suffix(".tmp").write_text(f"{os.getpid()} {child.pid}")
    pids.with_suffix(".tmp").replace(pids)
    time.sleep(60)
    return {"loss": trial.params["x"]}
"""

GROUP_CONFIG = """
name = "groups"
objective = "group_objective:objective"
storage = "sqlite:///groups.db"
executor = "processes"
workers = WORKERS
seed = 0
[metric]
name = "loss"
direction = "min"
[budget]
trials = WORKERS
[space]
x = { type = "float", low = 0.0, high = 1.0 }
""".replace("WORKERS", str(WORKERS))


def _group_members(group: int) -> list[int]:
    """The live processes of the process group ``group`` (zombies left out)."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if os.getpgid(int(entry.name)) == group and _alive(int(entry.name)):
                    members.append(int(entry.name))
    return members


@pytest.fixture
def run_cli_driver(
    tmp_path: Path, cli_env: dict[str, str]
) -> Iterator[Callable[[], tuple[subprocess.Popen[str], list[int]]]]:
    """Start `tunesmith run` on `GROUP_CONFIG` (stdout and stderr to ``out.txt``, not a pipe a surviving `sleep`
    would hold open) and wait until every trial has started its `sleep`; returns the driver and the trials'
    process groups. Afterwards SIGKILLs whatever is left of those groups and the driver, pass or fail."""
    groups: list[int] = []
    drivers: list[subprocess.Popen[str]] = []

    def start() -> tuple[subprocess.Popen[str], list[int]]:
        (tmp_path / "group_objective.py").write_text(GROUP_OBJECTIVE)
        (tmp_path / "groups.toml").write_text(GROUP_CONFIG)
        with (tmp_path / "out.txt").open("w") as out:
            driver = subprocess.Popen([str(BIN / "tunesmith"), "run", "groups.toml", "--no-report", "--no-progress"],
                                      cwd=tmp_path, env=cli_env, stdin=subprocess.DEVNULL, stdout=out,
                                      stderr=subprocess.STDOUT, text=True)  # fmt: skip
        drivers.append(driver)

        def started() -> bool:
            if driver.poll() is not None:
                raise AssertionError(f"the driver exited early:\n{(tmp_path / 'out.txt').read_text()}")
            return all((tmp_path / f"pids-{n}").is_file() for n in range(WORKERS))

        _wait_for(started, 30, "every trial to start its sleep")
        pids = [(tmp_path / f"pids-{n}").read_text().split() for n in range(WORKERS)]
        groups.extend(int(trial_pid) for trial_pid, _sleep in pids)
        assert all(_alive(int(sleep)) for _trial, sleep in pids)
        return driver, groups

    yield start
    for group in groups:
        with contextlib.suppress(OSError):
            os.killpg(group, signal.SIGKILL)
    for driver in drivers:
        driver.kill()
        driver.wait(timeout=60)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigterm_to_the_cli_records_the_trials_interrupted_says_so_and_leaves_no_process_of_theirs(
    run_cli_driver: Callable[[], tuple[subprocess.Popen[str], list[int]]], tmp_path: Path
) -> None:
    driver, groups = run_cli_driver()

    driver.send_signal(signal.SIGTERM)
    driver.wait(timeout=60)

    output = (tmp_path / "out.txt").read_text()
    assert driver.returncode == 143, output
    assert "\nterminated (SIGTERM): study 'groups' keeps its 0 finished trials" in f"\n{output}", output
    assert "resume with:\n  tunesmith run groups.toml --no-progress --no-report" in output, output
    _wait_for(lambda: not any(_group_members(g) for g in groups), 5, "the trials' process groups to die")
    trials = ts.Study.load("groups", f"sqlite:///{tmp_path}/groups.db").trials
    assert [(t.state, t.kind) for t in trials] == [(TrialState.FAILED, TrialKind.INTERRUPTED)] * WORKERS


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl, /proc")
def test_a_driver_killed_with_sigkill_takes_every_process_its_trials_started_with_it(
    run_cli_driver: Callable[[], tuple[subprocess.Popen[str], list[int]]],
) -> None:
    driver, groups = run_cli_driver()

    driver.kill()
    driver.wait(timeout=60)

    _wait_for(lambda: not any(_group_members(g) for g in groups), 5, "the trials' process groups to die")


def test_sigterm_in_a_cli_command_raises_once_while_it_is_handled_and_the_former_handler_comes_back() -> None:
    caught: list[int] = []

    def former(signum: int, frame: object) -> None:  # stands for the default, which would end pytest
        caught.append(signum)

    outside = signal.signal(signal.SIGTERM, former)
    try:
        # A Terminated the block let end normally is raised again at its end: a SIGTERM always ends the command.
        with pytest.raises(Terminated), _sigterm_as_interrupt():
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)  # the handler raises as soon as the signal arrives
            except Terminated:  # where the command records its trials: a second one (`timeout` signals twice)
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.1)
        assert signal.getsignal(signal.SIGTERM) is former
    finally:
        signal.signal(signal.SIGTERM, outside)
    assert caught == []
