"""An interrupt stops the run even when the objective catches it: a training loop that saves its state on Ctrl-C
(``except KeyboardInterrupt``) and returns runs in the study's own process under the inline executor, so the
`KeyboardInterrupt` (Ctrl-C's, or the `Terminated` that `tunesmith run` raises for SIGTERM) lands in it. The
trial is recorded FAILED of kind interrupted, never COMPLETE with its cut-short result, and the run stops: a
command exits 143 after SIGTERM with the one line it prints for any interrupt, and a second SIGTERM stops an
objective that goes on after catching the first.
"""

from __future__ import annotations

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
from tunesmith.trial import TrialKind, TrialState

# Each trial writes the file ``started-<number>``, then trains for a minute unless interrupted; ON_INTERRUPT is
# what it does when it catches the interrupt, before it returns its result.
OBJECTIVE = """
import time
from pathlib import Path


def objective(trial):
    (Path(__file__).parent / f"started-{trial.number}").touch()
    try:
        time.sleep(60)
    except KeyboardInterrupt:
        ON_INTERRUPT
    return {"loss": trial.params["x"]}
"""

CONFIG = """
name = "caught"
objective = "caught_objective:objective"
storage = "sqlite:///caught.db"
seed = 0
[metric]
name = "loss"
direction = "min"
[budget]
trials = 3
[space]
x = { type = "float", low = 0.0, high = 1.0 }
"""

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

Start = Callable[[str], subprocess.Popen[str]]


@pytest.fixture(autouse=True)
def ctrl_c_raises() -> Iterator[None]:
    """Ctrl-C raises `KeyboardInterrupt`, as in a terminal: a process started in the background by a shell without
    job control (``make quick-pythons`` runs each Python's suite so) begins with SIGINT ignored, and Python then
    leaves it ignored."""
    former = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, former)


@pytest.fixture
def start_run(tmp_path: Path, cli_env: dict[str, str]) -> Iterator[Start]:
    """Start ``tunesmith run`` (inline: one worker) on `CONFIG` with `OBJECTIVE` doing ``on_interrupt`` (output to
    ``out.txt``) and wait until its first trial runs; SIGKILLs the command afterwards, pass or fail."""
    commands: list[subprocess.Popen[str]] = []

    def start(on_interrupt: str) -> subprocess.Popen[str]:
        (tmp_path / "caught_objective.py").write_text(OBJECTIVE.replace("ON_INTERRUPT", on_interrupt))
        (tmp_path / "caught.toml").write_text(CONFIG)
        with (tmp_path / "out.txt").open("w") as out:
            command = subprocess.Popen([str(BIN / "tunesmith"), "run", "caught.toml", "--no-report", "--no-progress"],
                                       cwd=tmp_path, env=cli_env, text=True, stdin=subprocess.DEVNULL, stdout=out,
                                       stderr=subprocess.STDOUT)  # fmt: skip
        commands.append(command)
        deadline = time.monotonic() + 30
        while not (tmp_path / "started-0").is_file():
            if command.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the first trial did not start:\n{(tmp_path / 'out.txt').read_text()}")
            time.sleep(0.05)
        time.sleep(0.2)  # into the objective's sleep, past the file it writes
        return command

    yield start
    for command in commands:
        command.kill()
        command.wait(timeout=60)


def _trials(storage: str) -> list[tuple[TrialState, TrialKind | None]]:
    return [(t.state, t.kind) for t in ts.Study.load("caught", storage=storage).trials]


def _ended(command: subprocess.Popen[str], tmp_path: Path, timeout: float) -> str:
    """Wait for ``command`` to exit; its output."""
    try:
        command.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"still running {timeout}s after SIGTERM") from None
    return (tmp_path / "out.txt").read_text()


@pytest.mark.slow  # a real command and its signals, a few seconds
def test_sigterm_caught_by_the_objective_ends_run_with_143_and_the_trial_recorded_interrupted(
    start_run: Start, tmp_path: Path
) -> None:
    command = start_run("pass")

    command.send_signal(signal.SIGTERM)
    output = _ended(command, tmp_path, timeout=20)

    assert command.returncode == 143, output
    assert "\nterminated (SIGTERM): study 'caught' keeps its 0 finished trials" in f"\n{output}", output
    assert _trials(f"sqlite:///{tmp_path}/caught.db") == [(TrialState.FAILED, TrialKind.INTERRUPTED)]


@pytest.mark.slow  # a real command and its signals, a few seconds
def test_a_second_sigterm_stops_an_objective_that_goes_on_after_catching_the_first(
    start_run: Start, tmp_path: Path
) -> None:
    command = start_run("time.sleep(60)  # saving its state, for longer than anyone waits")

    command.send_signal(signal.SIGTERM)
    time.sleep(1)
    assert command.poll() is None, "the objective should still be saving its state"
    command.send_signal(signal.SIGTERM)
    output = _ended(command, tmp_path, timeout=20)

    assert command.returncode == 143, output
    assert "\nterminated (SIGTERM): study 'caught' keeps its 0 finished trials" in f"\n{output}", output
    assert _trials(f"sqlite:///{tmp_path}/caught.db") == [(TrialState.FAILED, TrialKind.INTERRUPTED)]


def _study(tmp_path: Path) -> ts.Study:
    return ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", budget=ts.Budget(trials=3), name="caught",
                    storage=f"sqlite:///{tmp_path}/caught.db", seed=0)  # fmt: skip


def test_ctrl_c_caught_by_the_objective_stops_optimize_and_records_the_trial_interrupted(tmp_path: Path) -> None:
    def saves_on_ctrl_c(trial: ts.Trial) -> dict[str, float]:
        try:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, during training
            time.sleep(5)
        except KeyboardInterrupt:
            pass  # the state saved, the loop returns what it reached
        return {"loss": trial.params["x"]}

    study = _study(tmp_path)

    with pytest.raises(KeyboardInterrupt):
        study.optimize(saves_on_ctrl_c, progress=False)

    assert _trials(f"sqlite:///{tmp_path}/caught.db") == [(TrialState.FAILED, TrialKind.INTERRUPTED)]


def test_ctrl_c_the_objective_turns_into_another_error_stops_optimize_and_records_the_trial_interrupted(
    tmp_path: Path,
) -> None:
    def reraises_as_its_own_error(trial: ts.Trial) -> dict[str, float]:
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        except KeyboardInterrupt:
            raise RuntimeError("training interrupted") from None
        return {"loss": trial.params["x"]}

    study = _study(tmp_path)

    with pytest.raises(KeyboardInterrupt):
        study.optimize(reraises_as_its_own_error, progress=False)

    assert _trials(f"sqlite:///{tmp_path}/caught.db") == [(TrialState.FAILED, TrialKind.INTERRUPTED)]


def test_ctrl_c_caught_by_the_objective_during_a_seed_re_run_stops_validate_top(tmp_path: Path) -> None:
    """The seed re-runs call the objective in the study's process too: a caught Ctrl-C was a completed run."""
    study = _study(tmp_path)
    study.optimize(lambda trial: {"loss": trial.params["x"]}, n_trials=2, progress=False)

    def saves_on_ctrl_c(trial: ts.Trial) -> dict[str, float]:
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        except KeyboardInterrupt:
            pass
        return {"loss": trial.params["x"]}

    with pytest.raises(KeyboardInterrupt):
        ts.validate_top(study, saves_on_ctrl_c, k=1, seeds=2)
    assert "seed_stability" not in study.attrs
