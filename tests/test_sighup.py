"""SIGHUP (the terminal closed, an ssh session dropped) ends `tunesmith run` and `tunesmith worker` as SIGTERM does:
the running trials are recorded interrupted, their processes and what those started are killed, one line says what
was kept, and the exit code is 129 (128 + SIGHUP). Each test starts the real command on a real SQLite study, waits
until its trials run, and sends it SIGHUP.
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
from typing import Protocol

import pytest

import tunesmith as ts
from tests.conftest import BIN
from tunesmith.trial import TrialKind, TrialState

# Real processes and signals, about 10 s a file: the whole suite runs them, the quick ones on other Pythons do not.
pytestmark = [pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"), pytest.mark.slow]

WORKERS = 2

# Each trial starts a `sleep` in a session of its own (a launcher, a data server), records its own pid and the
# sleep's as "<trial pid> <sleep pid>", then trains until it is stopped.
OBJECTIVE = """
import os, subprocess, time
from pathlib import Path


def objective(trial):
    child = subprocess.Popen(["sleep", "300"], start_new_session=True)
    pids = Path(__file__).parent / f"pids-{trial.number}"
    pids.with_suffix(".tmp").write_text(f"{os.getpid()} {child.pid}")
    pids.with_suffix(".tmp").replace(pids)
    time.sleep(60)
    return {"loss": trial.params["x"]}
"""

CONFIG = """
name = "hup"
objective = "hup_objective:objective"
storage = "sqlite:///hup.db"
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


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs: a zombie (dead, not yet reaped) does not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def _hang_ups_end_it() -> None:
    """In the started command's process, before it runs: SIGHUP ends it unless it says otherwise."""
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


class Start(Protocol):
    def __call__(self, args: list[str], *, ignore_sighup: bool = False) -> tuple[subprocess.Popen[str], list[int]]: ...


@pytest.fixture
def start(tmp_path: Path, cli_env: dict[str, str]) -> Iterator[Start]:
    """Start ``tunesmith ARGS`` in ``tmp_path`` beside `OBJECTIVE` and `CONFIG` (output to ``out.txt``, not a pipe a
    surviving `sleep` would hold open; with SIGHUP ignored, as ``nohup`` starts it, if ``ignore_sighup``) and wait
    until every trial has started its `sleep`; returns the command and the pids of the trials and their sleeps.
    Afterwards SIGKILLs whatever of them is left, pass or fail."""
    commands: list[subprocess.Popen[str]] = []
    pids: list[int] = []
    (tmp_path / "hup_objective.py").write_text(OBJECTIVE)
    (tmp_path / "hup.toml").write_text(CONFIG)

    def run(args: list[str], *, ignore_sighup: bool = False) -> tuple[subprocess.Popen[str], list[int]]:
        nohup = ["nohup"] if ignore_sighup else []
        with (tmp_path / "out.txt").open("w") as out:
            # PYTHONFAULTHANDLER: SIGABRT prints every thread's stack (see _hang_up)
            env = {**cli_env, "PYTHONFAULTHANDLER": "1"}
            # SIGHUP's default action, as a terminal starts a command, whatever the suite inherited: started under
            # nohup, its workers ignored SIGHUP, the commands inherited that, and the two tests that hang up waited.
            command = subprocess.Popen([*nohup, str(BIN / "tunesmith"), *args], cwd=tmp_path, env=env, text=True,
                                       stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                       preexec_fn=_hang_ups_end_it)  # fmt: skip
        commands.append(command)

        def started() -> bool:
            if command.poll() is not None:
                raise AssertionError(f"the command exited early:\n{(tmp_path / 'out.txt').read_text()}")
            return all((tmp_path / f"pids-{n}").is_file() for n in range(WORKERS))

        _wait_for(started, 8, "every trial to start its sleep")
        pids.extend(int(pid) for n in range(WORKERS) for pid in (tmp_path / f"pids-{n}").read_text().split())
        assert all(_alive(pid) for pid in pids)
        return command, pids

    yield run
    for command in commands:
        command.kill()
        command.wait(timeout=60)
    for pid in pids:
        if _alive(pid):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def _hang_up(command: subprocess.Popen[str], pids: list[int], out: Path) -> None:
    """Send SIGHUP, wait for the command to end and for every process of its trials to be gone. A command that does
    not end fails the test with its processes and every thread's stack: both tests hung once each in a full suite
    (30 s, with 4,600 tests on two workers) and never alone, even under load."""
    command.send_signal(signal.SIGHUP)
    try:
        command.wait(timeout=30)
    except subprocess.TimeoutExpired:
        processes = subprocess.run(["ps", "-o", "pid,ppid,pgid,stat,wchan:24,args", "--ppid", str(command.pid),
                                    "-p", str(command.pid)], capture_output=True, text=True, check=False).stdout
        command.send_signal(signal.SIGABRT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            command.wait(timeout=10)
        pytest.fail(f"the command did not end within 30 s of SIGHUP; its processes:\n{processes}\n"
                    f"its output, with its threads' stacks:\n{out.read_text()[-6000:]}")
    _wait_for(lambda: not any(_alive(pid) for pid in pids), 5, "the trials and their sleeps to die")


def _trials(tmp_path: Path) -> list[tuple[TrialState, TrialKind | None]]:
    return [(t.state, t.kind) for t in ts.Study.load("hup", f"sqlite:///{tmp_path}/hup.db").trials]


def test_sighup_ends_run_with_129_and_a_message_its_trials_recorded_interrupted_and_their_processes_killed(
    start: Start, tmp_path: Path
) -> None:
    command, pids = start(["run", "hup.toml", "--no-report", "--no-progress"])

    _hang_up(command, pids, tmp_path / "out.txt")

    output = (tmp_path / "out.txt").read_text()
    assert command.returncode == 129, output
    assert "\nterminated (SIGHUP): study 'hup' keeps its 0 finished trials" in f"\n{output}", output
    assert _trials(tmp_path) == [(TrialState.FAILED, TrialKind.INTERRUPTED)] * WORKERS


def test_sighup_ends_worker_with_129_and_a_message_its_trials_recorded_interrupted_and_their_processes_killed(
    start: Start, tmp_path: Path
) -> None:
    ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", budget=ts.Budget(trials=WORKERS), name="hup",
             storage=f"sqlite:///{tmp_path}/hup.db", seed=0)  # fmt: skip
    storage = f"sqlite:///{tmp_path}/hup.db"
    command, pids = start(["worker", "hup", "--storage", storage, "--objective", "hup_objective:objective",
                           "--workers", str(WORKERS), "--executor", "processes", "--no-wait"])  # fmt: skip

    _hang_up(command, pids, tmp_path / "out.txt")

    output = (tmp_path / "out.txt").read_text()
    assert command.returncode == 129, output
    assert "\nterminated (SIGHUP): the trials this worker finished are kept in" in f"\n{output}", output
    assert _trials(tmp_path) == [(TrialState.FAILED, TrialKind.INTERRUPTED)] * WORKERS


def test_a_run_started_with_nohup_ignores_sighup(start: Start, tmp_path: Path) -> None:
    command, _pids = start(["run", "hup.toml", "--no-report", "--no-progress"], ignore_sighup=True)

    # Both at once: a SIGHUP handled would end the run first, with 129 (the lower-numbered signal is delivered first).
    command.send_signal(signal.SIGHUP)
    command.send_signal(signal.SIGTERM)
    command.wait(timeout=30)

    output = (tmp_path / "out.txt").read_text()
    assert command.returncode == 143, output
    assert "\nterminated (SIGTERM): study 'hup'" in f"\n{output}", output
