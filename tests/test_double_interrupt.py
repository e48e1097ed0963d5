"""Two interruptions close together (``timeout -s INT`` sends two; a user presses Ctrl-C twice) end a run as one
does: exit code 130, every trial that was running recorded FAILED (interrupted), and a summary that says so. The
second one used to land in the shutdown, between stopping a trial process (SIGSTOP) and killing it, and the run
waited on the stopped process for ever; or between the trials' records, which it left RUNNING while saying none
was; or in a fork's hooks, where it left logging's lock held and the next log line hung the run. And the first
could be lost: raised in a weakref callback the garbage collector ran ("Exception ignored in: ..."), it was dropped,
and the run went on (a second one was then ignored as the first was being handled)."""

from __future__ import annotations

import contextlib
import contextvars
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from contextlib import closing
from pathlib import Path

import click
import pytest

from tunesmith.cli._common import PROCESS_ENDS_WITH_COMMAND, _interruptible
from tunesmith.executors.inline import holding_interrupts

SLOW = textwrap.dedent(
    """\
    import time

    def objective(trial):
        time.sleep(2.0)
        return {"loss": (trial.params["x"] - 1.0) ** 2}
    """
)

CONFIG = textwrap.dedent(
    """\
    name = "twice"
    objective = "slow:objective"
    storage = "sqlite:///twice.db"
    seed = 0
    workers = 2
    executor = "processes"
    sampler = "random"
    [metric]
    name = "loss"
    direction = "min"
    [budget]
    trials = 50
    [space]
    x = { type = "float", low = -3.0, high = 3.0 }
    """
)


def _states(db: Path) -> list[str]:
    if not db.exists():
        return []
    with closing(sqlite3.connect(db)) as conn:
        try:
            return [row[0] for row in conn.execute("SELECT state FROM trials")]
        except sqlite3.OperationalError:  # the run is creating its tables
            return []


def _interrupt_twice(folder: Path, gap: float) -> tuple[int, str]:
    tunesmith = Path(sys.executable).with_name("tunesmith")
    with subprocess.Popen(
        [str(tunesmith), "run", "twice.toml", "--no-report"], cwd=folder, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as a terminal starts it
        env={**os.environ, "PYTHONFAULTHANDLER": "1"},  # SIGABRT prints every thread's stack: see _hung
    ) as run:  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while _states(folder / "twice.db").count("complete") < 2:  # trials run, and new ones are forking
                assert run.poll() is None and time.monotonic() < deadline, "no trial finished"
                time.sleep(0.1)
            run.send_signal(signal.SIGINT)
            time.sleep(gap)
            run.send_signal(signal.SIGINT)
            try:
                _, err = run.communicate(timeout=30)  # hung for ever before
            except subprocess.TimeoutExpired:
                _hung(run)
        finally:
            if run.poll() is None:
                run.kill()
                run.communicate()
    return run.returncode, err


def _hung(run: subprocess.Popen[str]) -> None:
    """Fail with where the hung run waits: its processes (the trial processes of its session among them) and every
    thread's stack, which SIGABRT makes the run print under PYTHONFAULTHANDLER. The hang was seen once in a few
    thousand runs on a loaded machine and not again, so the failure must say where it was."""
    processes = subprocess.run(["ps", "-o", "pid,ppid,stat,wchan:24,args", "-s", str(run.pid)], capture_output=True,
                               text=True, check=False).stdout  # fmt: skip
    run.send_signal(signal.SIGABRT)
    try:
        _, err = run.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        err = "(no stack: the run did not end on SIGABRT either)"
    pytest.fail(f"the run did not end within 30 s of the two interruptions; its processes:\n{processes}\n"
                f"its stderr, with its threads' stacks:\n{err[-6000:]}")


@pytest.mark.parametrize("gap", [0.0, 0.0, 0.005, 0.02])
def test_two_interruptions_close_together_end_the_run_with_every_trial_recorded(tmp_path: Path, gap: float) -> None:
    (tmp_path / "slow.py").write_text(SLOW)
    (tmp_path / "twice.toml").write_text(CONFIG)
    code, err = _interrupt_twice(tmp_path, gap)
    assert code in (130, -signal.SIGINT), err[-2000:]  # a second one during the interpreter's exit kills it so
    states = _states(tmp_path / "twice.db")
    assert "running" not in states, (states, err[-2000:])
    assert "Traceback" not in err and "Aborted!" not in err, err[-2000:]
    if code == 130:
        said = " ".join(err.split())
        assert "interrupted: study 'twice' keeps its" in said, err[-2000:]
        assert ("no trial was running" in said) == ("failed" not in states), err[-2000:]


def test_interruptions_held_in_a_block_are_noted_and_the_first_replayed_after_it() -> None:
    former = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt), holding_interrupts(replay=True) as noted:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # the handler runs here, and raises nothing
            assert noted == [signal.SIGINT]
        with holding_interrupts() as noted:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
        assert noted == [signal.SIGINT]  # without replay, nothing is raised after the block either
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, former)


def test_a_second_interruption_while_the_first_is_reported_is_ignored_and_the_command_exits_130() -> None:
    # The report reads storage to say what was kept; a second Ctrl-C landing there, once the handlers had been put
    # back, raised through click ("Aborted!", exit code 1) and the report was never printed. Under the full suite, a
    # gap of 20 ms between the two signals of the test above met that window.
    said: list[str] = []

    def say(exc: BaseException) -> str:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # a handler that raises would raise here
        said.append("reported")
        return "interrupted: the study keeps its trials"

    former = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(click.exceptions.Exit) as ended, _interruptible(say):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)  # the first interruption raises here
    except KeyboardInterrupt:
        pytest.fail("the second interruption escaped the report")
    finally:
        signal.signal(signal.SIGINT, former)
    assert ended.value.exit_code == 130 and said == ["reported"]


def test_after_an_interruption_the_console_script_leaves_a_later_ctrl_c_its_default_action() -> None:
    # The second signal of the first test at a 20 ms gap met the interpreter's exit under CI's full suite: Python's
    # handler, put back when the block ended, raised in an atexit finalizer (the storage engine's disposal), and a
    # traceback followed the report. The console script's process ends with the command; a command called from Python
    # gets its caller's handler back.
    def interrupted() -> object:
        with pytest.raises(click.exceptions.Exit), _interruptible(lambda exc: "interrupted: trials kept"):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        return signal.getsignal(signal.SIGINT)

    def as_console_script() -> object:
        PROCESS_ENDS_WITH_COMMAND.set(True)
        return interrupted()

    former = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        assert contextvars.copy_context().run(as_console_script) is signal.SIG_DFL
        signal.signal(signal.SIGINT, signal.default_int_handler)
        assert interrupted() is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, former)


EXITING = textwrap.dedent(
    """\
    import atexit, os, signal, sys, time

    def ctrl_c_during_the_exit():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(2)  # Python's handler would raise here

    atexit.register(ctrl_c_during_the_exit)
    sys.argv = ["tunesmith", "studies", "--storage", "sqlite:///kept.db"]
    from tunesmith.cli import main
    main()
    """
)


def test_a_ctrl_c_while_the_command_exits_ends_it_without_a_traceback(tmp_path: Path) -> None:
    from tunesmith.storage import open_storage

    open_storage(f"sqlite:///{tmp_path / 'kept.db'}", create=True).close()
    (tmp_path / "exiting.py").write_text(EXITING)
    # Started as a terminal starts it: a suite run in the background by a shell without job control (CI's second
    # Python) begins with SIGINT ignored, the command then inherited that, and the Ctrl-C at its exit was ignored
    # (exit code 0), whatever tunesmith did.
    done = subprocess.run([sys.executable, "exiting.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    assert done.returncode == -signal.SIGINT, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr[-2000:]


class _Child:
    """A process as `processes._cut_off` handles one: pid, kill and join."""

    def __init__(self) -> None:
        self.popen = subprocess.Popen(["sleep", "30"])
        self.pid = self.popen.pid

    def kill(self) -> None:
        self.popen.kill()

    def join(self) -> None:
        self.popen.wait()


def test_an_interruption_between_stopping_and_killing_a_trial_process_comes_after_the_kill(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Ctrl-C landing in the walk of the process tree, after the trial process was stopped (SIGSTOP) and before it was
    # killed, left it stopped: nothing killed it afterwards, and the run waited on it as it exited.
    from tunesmith.executors import processes

    child = _Child()
    walk = processes.end_descendants

    def interrupted_walk(pid: int) -> int:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # Python's handler would raise here
        return walk(pid)

    monkeypatch.setattr(processes, "end_descendants", interrupted_walk)
    former = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):  # still raised: after the kill
            processes._cut_off(child)
        ended = child.popen.poll()  # None: stopped, and left so
    finally:
        signal.signal(signal.SIGINT, former)
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.pid, signal.SIGKILL)
        child.popen.wait()
    assert ended == -signal.SIGKILL


def test_an_interruption_just_after_a_result_was_stored_says_it_was_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C landing after a trial's result was committed, before the loop marked it told: the run told the trial
    again as interrupted (storage kept it COMPLETE and warned the result away) and its message said "trial #1 is
    recorded FAILED (interrupted) ...; not stored: trial #1's result (loss=...)", which storage contradicted (seen once
    in CI's double-interrupt test)."""
    import warnings

    import tunesmith as ts
    from tunesmith.study import _optimize
    from tunesmith.study._recovery import stopped_by

    real = _optimize._finish
    calls = []

    def finish_then_interrupted(study: ts.Study, outcome: object) -> object:
        record = real(study, outcome)  # type: ignore[arg-type]
        calls.append(record.number)
        if len(calls) == 2:
            raise KeyboardInterrupt  # after the commit, before the loop knew
        return record

    monkeypatch.setattr(_optimize, "_finish", finish_then_interrupted)
    url = f"sqlite:///{tmp_path / 'told.db'}"
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", storage=url, seed=0, name="told",
                     budget=ts.Budget(trials=5))  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a result discarded by a second telling would raise here
        with pytest.raises(KeyboardInterrupt) as stopped:
            study.optimize(lambda trial: trial.params["x"])
    said = stopped_by(stopped.value)
    assert said is not None
    assert said.stored == (1,) and said.interrupted == () and said.unstored == ()
    assert "recorded FAILED" not in said.describe() and "not stored" not in said.describe()
    assert [r.state.value for r in ts.Study.load("told", storage=url).trials] == ["complete", "complete"]
