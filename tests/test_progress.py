"""Progress wherever a person waits: the search, the baseline, the re-runs, the holdout, the report; and Ctrl-C."""

from __future__ import annotations

import io
import math
import os
import pty
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import tunesmith as ts
from tests.conftest import BIN
from tunesmith import _progress
from tunesmith._progress import PLAIN_INTERVAL, Progress, format_seconds, showing
from tunesmith.cli import cli
from tunesmith.errors import ConfigError
from tunesmith.storage import open_storage
from tunesmith.trial import TrialKind, TrialState

LEFT = re.compile(r"about (\d+h )?(\d+m )?\d+s left")

MODULE = """
import os
import random
import time


def objective(trial):
    time.sleep(float(os.environ.get("TS_TEST_SLEEP", "0.05")))
    rng = random.Random(trial.seed)
    return {"loss": [(trial.params["x"] - 0.3) ** 2 + 0.1 + rng.gauss(0.0, 0.01) for _ in range(50)]}


def evaluate(params, seed):
    rng = random.Random(7)
    return {"holdout_loss": [(params["x"] - 0.3) ** 2 + 0.1 + rng.gauss(0.0, 0.01) for _ in range(50)]}
"""

CONFIG = """
name = "waits"
objective = "waitmod:objective"
seed = 1
sampler = "random"
[metric]
name = "loss"
[budget]
trials = {trials}
[space]
x = {{ type = "float", low = 0.0, high = 1.0 }}
"""

HOLDOUT = """
[holdout]
evaluate = "waitmod:evaluate"
top = 2
seeds = 2
baseline = { x = 0.9 }
"""


def write_config(folder: Path, *, trials: int, holdout: bool) -> Path:
    (folder / "waitmod.py").write_text(textwrap.dedent(MODULE))
    path = folder / "waits.toml"
    path.write_text(CONFIG.format(trials=trials) + (HOLDOUT if holdout else ""))
    return path


def sleepy(trial: ts.Trial) -> float:
    time.sleep(0.08)
    return (trial.params["x"] - 0.3) ** 2


def new_study(trials: int, storage: str = "memory", name: str | None = None) -> ts.Study:
    return ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), budget=ts.Budget(trials=trials), sampler="random",
                    storage=storage, name=name, seed=3)  # fmt: skip


def test_optimize_with_progress_shows_trials_done_and_the_time_left_on_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    study = new_study(8, name="shown")
    study.optimize(sleepy, progress=True)
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert lines[0].startswith("search shown: 0/8 trials")
    assert any(LEFT.search(line) and "best value" in line for line in lines[1:-1]), lines
    assert re.match(r"search shown: 8/8 trials, done after \d+s · best value ", lines[-1]), lines
    assert captured.out == ""  # stdout stays the program's


def test_optimize_shows_nothing_when_stderr_is_not_a_terminal_or_progress_is_false(
    capsys: pytest.CaptureFixture[str],
) -> None:
    new_study(3).optimize(sleepy)  # the default: stderr is captured here, so not a terminal
    new_study(3).optimize(sleepy, progress=False)
    with showing(True):
        new_study(3).optimize(sleepy, progress=False)  # an explicit False wins over the ambient default
    assert capsys.readouterr().err == ""
    with pytest.raises(ConfigError, match="progress must be True, False or None"):
        new_study(3).optimize(sleepy, progress="yes")  # type: ignore[arg-type]


def test_a_log_gets_a_line_a_minute_once_a_phase_has_run_a_minute_and_nothing_from_a_short_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A search of hours on a cluster printed nothing to its log until its summary. The minute is shortened here.
    monkeypatch.setattr(_progress, "PULSE_INTERVAL", 0.3)
    short = io.StringIO()
    with Progress("short", 5, unit="trials", stream=short) as bar:
        bar.update(advance=5)
    assert short.getvalue() == ""
    long = io.StringIO()
    with Progress("long", 5, unit="trials", stream=long) as bar:
        bar.update(advance=1)
        assert long.getvalue() == ""  # not before an interval has passed since the phase began
        time.sleep(0.35)
        bar.update(advance=1)
        bar.update(advance=1)  # at most one line an interval
    lines = long.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith("long: 2/5 trials, about") and LEFT.search(lines[0]), lines
    assert lines[1].startswith("long: 3/5 trials, done after"), lines
    quiet = io.StringIO()
    with Progress("quiet", 5, stream=quiet, show=False) as bar:
        time.sleep(0.35)
        bar.update(advance=1)
    assert quiet.getvalue() == ""
    with showing(False):  # --no-progress
        quiet = io.StringIO()
        with Progress("quiet", 5, stream=quiet) as bar:
            time.sleep(0.35)
            bar.update(advance=1)
        assert quiet.getvalue() == ""


def test_a_long_search_pulses_in_a_log_and_the_cli_too(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr(_progress, "PULSE_INTERVAL", 0.3)
    new_study(8, name="pulse").optimize(sleepy)  # 8 trials of 0.08 s: longer than the interval
    lines = capsys.readouterr().err.splitlines()
    assert lines and lines[0].startswith("search pulse: "), lines
    assert re.match(r"search pulse: 8/8 trials, done after", lines[-1]), lines
    monkeypatch.setenv("TS_TEST_SLEEP", "0.1")
    config = write_config(tmp_path, trials=6, holdout=False)
    ran = CliRunner().invoke(cli, ["run", str(config), "--storage", f"sqlite:///{tmp_path}/p.db", "--no-report"],
                             catch_exceptions=False)  # fmt: skip
    assert ran.exit_code == 0, ran.output
    assert any(line.startswith("search waits: ") for line in ran.stderr.splitlines()), ran.stderr
    quiet = CliRunner().invoke(cli, ["run", str(config), "--storage", f"sqlite:///{tmp_path}/q.db", "--no-report",
                                     "--no-progress"], catch_exceptions=False)  # fmt: skip
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_a_wall_time_budget_counts_down_its_seconds(capsys: pytest.CaptureFixture[str]) -> None:
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), budget=ts.Budget(wall_time=1.0), storage="memory", seed=3)
    study.optimize(sleepy, progress=True)
    lines = capsys.readouterr().err.splitlines()
    assert "s of budget" in lines[0] and "left" in lines[0]  # a time budget knows its end from the start
    assert "done after" in lines[-1]


def test_the_progress_is_drawn_on_a_terminal_by_default(objectives_dir: Path, cli_env: dict[str, str]) -> None:
    script = (
        "import time, tunesmith as ts\n"
        "s = ts.Study(ts.Space({'x': ts.Float(0.0, 1.0)}), budget=ts.Budget(trials=6), storage='memory', seed=1)\n"
        "s.optimize(lambda t: time.sleep(0.1) or t.params['x'])\n"
    )
    master, slave = pty.openpty()
    process = subprocess.Popen([sys.executable, "-c", script], stderr=slave, stdout=subprocess.DEVNULL, env=cli_env)
    os.close(slave)
    drawn = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        drawn += chunk
    os.close(master)
    assert process.wait(timeout=60) == 0
    text = drawn.decode(errors="replace")
    assert "search study-" in text and LEFT.search(text) and "6/6 trials, done after" in text
    assert "\x1b[" in text  # drawn as a bar, redrawn in place


def test_the_discipline_shows_the_baseline_the_reruns_and_the_holdout(capsys: pytest.CaptureFixture[str]) -> None:
    study = new_study(5, name="disc")
    study.optimize(sleepy, progress=False)
    ts.evaluate_baseline(study, sleepy, {"x": 0.9}, seeds=3, progress=True)
    ts.validate_top(study, sleepy, k=2, seeds=3, progress=True)
    ts.finalize(study, lambda params, seed: {"value": (params["x"] - 0.3) ** 2}, progress=True)
    err = capsys.readouterr().err
    assert "baseline of disc across 3 seeds: 0/3 runs, about" in err  # guessed from the trials' durations
    assert "baseline of disc across 3 seeds: 3/3 runs, done after" in err
    reruns = [line for line in err.splitlines() if line.startswith("re-running the top 2 of disc across 3 seeds")]
    assert LEFT.search(reruns[0]) and "6/6 runs, done after" in reruns[-1]
    holdout = [line for line in err.splitlines() if line.startswith("holdout of disc: trial #")]
    assert LEFT.search(holdout[0]) and "1/1 evaluations, done after" in holdout[-1]
    with pytest.warns(ts.study.HoldoutSpentWarning):  # after the verdict: it says the verdict is stale
        ts.validate_top(study, sleepy, k=2, seeds=3)  # progress=None and stderr is not a terminal: quiet
    assert capsys.readouterr().err == ""


def test_progress_draws_at_most_a_few_times_a_second_and_costs_microseconds_per_update() -> None:
    stream = io.StringIO()
    updates = 200_000
    started = time.perf_counter()
    with Progress("busy", updates, unit="steps", show=True, stream=stream) as bar:
        for _ in range(updates):
            bar.update(advance=1)
    took = time.perf_counter() - started
    lines = stream.getvalue().splitlines()
    # the first line, the first estimate, one a PLAIN_INTERVAL, the end
    assert 3 <= len(lines) <= 3 + took / PLAIN_INTERVAL + 1, lines
    assert took / updates < 20e-6, f"{took / updates * 1e6:.1f} µs per update"
    assert lines[-1].startswith(f"busy: {updates}/{updates} steps, done after")


def test_a_log_gets_the_first_estimate_however_soon_the_first_unit_ends() -> None:
    stream = io.StringIO()
    with Progress("quick", 5, unit="trials", show=True, stream=stream) as bar:
        bar.update(advance=1)  # well inside a quarter of a second of the start
        lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and LEFT.search(lines[1]), lines


def test_the_search_loop_is_not_slowed_by_its_progress() -> None:
    def quick(trial: ts.Trial) -> float:
        return trial.params["x"]

    timings: dict[bool, float] = {False: math.inf, True: math.inf}
    for _ in range(3):  # the fastest of three, alternating: CI runs two Pythons' suites at once on two cores
        for shown in (False, True):
            started = time.perf_counter()
            new_study(400).optimize(quick, progress=shown)
            timings[shown] = min(timings[shown], time.perf_counter() - started)
    # the bar reads storage once, then counts what the loop tells it; drawing is throttled
    assert timings[True] < timings[False] * 1.5 + 0.3, timings


def test_times_read_as_people_read_them() -> None:
    assert [format_seconds(s) for s in (0.4, 45, 185, 7620)] == ["0s", "45s", "3m 05s", "2h 07m"]


def test_the_cli_run_shows_every_phase_on_stderr_and_nothing_without_progress(tmp_path: Path) -> None:
    config = write_config(tmp_path, trials=5, holdout=True)
    url = f"sqlite:///{tmp_path}/phases.db"
    result = CliRunner().invoke(cli, ["run", str(config), "--storage", url, "--progress", "--report",
                                      str(tmp_path / "r.html")], catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 0, result.output
    for phase in ("baseline of waits across 2 seeds", "search waits", "analysing 5 trials of waits",
                  "re-running the top 2 of waits across 2 seeds", "holdout of waits: trial #",
                  "writing the report of waits"):  # fmt: skip
        lines = [line for line in result.stderr.splitlines() if line.startswith(phase)]
        assert lines and "done after" in lines[-1], (phase, result.stderr)
    assert any(LEFT.search(line) for line in result.stderr.splitlines() if line.startswith("search waits"))
    assert not LEFT.search(result.stdout) and "report:" in result.stdout  # no progress line on stdout
    quiet = CliRunner().invoke(cli, ["run", str(config), "--storage", f"sqlite:///{tmp_path}/quiet.db", "--no-report"],
                               catch_exceptions=False)  # fmt: skip
    assert quiet.exit_code == 0 and quiet.stderr == ""  # stderr is not a terminal here


def _stored(url: str, name: str) -> list[ts.TrialRecord]:
    return ts.Study.load(name, url).trials


def _interrupt_when(process: subprocess.Popen[str], url: str, name: str, complete: int) -> tuple[str, str]:
    """SIGINT ``process`` once ``complete`` trials of ``name`` are stored and the next one runs; its stdout and
    stderr."""
    deadline = time.monotonic() + 120
    storage, study_id = None, None
    while True:
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
        try:
            storage = storage or open_storage(url, create=False)
            study_id = study_id or storage.load_study(name).id
        except ts.TunesmithError:  # not created yet
            continue
        stored = storage.get_trials(study_id)
        if sum(r.state is TrialState.COMPLETE for r in stored) >= complete and stored[-1].state is TrialState.RUNNING:
            break
    time.sleep(0.1)  # well inside the running trial
    process.send_signal(signal.SIGINT)
    return process.communicate(timeout=120)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a child of a shell's background job may inherit "ignore"


def test_ctrl_c_in_the_cli_keeps_the_trials_prints_the_resume_command_and_exits_130(
    tmp_path: Path, cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TS_TEST_SLEEP", "0")  # for the resumed run, in this process
    config = write_config(tmp_path, trials=10, holdout=False)
    url = f"sqlite:///{tmp_path}/ctrl-c.db"
    command = [str(BIN / "tunesmith"), "run", "waits.toml", "--storage", url, "--no-report"]
    env = {**cli_env, "PYTHONPATH": f"{tmp_path}{os.pathsep}{cli_env['PYTHONPATH']}", "TS_TEST_SLEEP": "0.5"}
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, preexec_fn=_default_sigint)  # fmt: skip
    _out, err = _interrupt_when(process, url, "waits", complete=2)
    assert process.returncode == 130, err
    assert "Aborted!" not in err and "Traceback" not in err
    assert f"tunesmith run waits.toml --storage {url} --no-report" in err, err
    kept = _stored(url, "waits")
    done = [r for r in kept if r.state is TrialState.COMPLETE]
    assert len(done) >= 2 and f"keeps its {len(done)} finished trials in {url}" in err
    assert [r.kind for r in kept if r.state is not TrialState.COMPLETE] == [TrialKind.INTERRUPTED]
    assert config.is_file()

    resumed = CliRunner().invoke(cli, ["run", str(config), "--storage", url, "--no-report"], catch_exceptions=False)
    assert resumed.exit_code == 0, resumed.output
    after = _stored(url, "waits")
    assert [(r.number, r.params) for r in after[: len(done)]] == [(r.number, r.params) for r in done]
    assert sum(r.state is TrialState.COMPLETE for r in after) == 10  # the interrupted trial spent no budget


def test_ctrl_c_in_python_records_the_running_trial_and_says_how_to_resume(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    url = f"sqlite:///{tmp_path}/py.db"
    script = textwrap.dedent(f"""
        import time, tunesmith as ts
        study = ts.Study(ts.Space({{"x": ts.Float(0.0, 1.0)}}), budget=ts.Budget(trials=12), storage={url!r},
                         name="py", seed=1)
        study.optimize(lambda trial: time.sleep(0.5) or trial.params["x"])
    """)
    process = subprocess.Popen([sys.executable, "-c", script], env=cli_env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)  # fmt: skip
    _out, err = _interrupt_when(process, url, "py", complete=2)
    assert "KeyboardInterrupt" in err
    assert f"ts.Study.load('py', storage={url!r}).optimize(objective)" in err, err
    kept = _stored(url, "py")
    assert sum(r.state is TrialState.COMPLETE for r in kept) >= 2
    assert [r.kind for r in kept if r.state is not TrialState.COMPLETE] == [TrialKind.INTERRUPTED]
    resumed = ts.Study.load("py", url)
    resumed.optimize(lambda trial: trial.params["x"], progress=False)
    assert sum(r.state is TrialState.COMPLETE for r in resumed.trials) == 12


def test_the_finalize_command_shows_the_holdout_evaluation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_config(tmp_path, trials=3, holdout=False)
    url = f"sqlite:///{tmp_path}/final.db"
    monkeypatch.chdir(tmp_path)  # where --evaluate finds waitmod
    assert CliRunner().invoke(cli, ["run", str(config), "--storage", url, "--no-report"]).exit_code == 0
    result = CliRunner().invoke(cli, ["finalize", "waits", "--storage", url, "--evaluate", "waitmod:evaluate",
                                      "--progress"], catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("holdout of waits: trial #")]
    assert LEFT.search(lines[0]) and "1/1 evaluations, done after" in lines[-1], result.stderr


def test_the_resume_command_names_what_was_typed_without_the_password() -> None:
    from tunesmith.cli._common import _command_line
    from tunesmith.cli._run import run

    typed = ["c.toml", "--storage", "postgresql://u:secret@h/db", "--no-progress", "--trials", "3"]
    context = run.make_context("run", typed)
    assert _command_line(context) == "tunesmith run c.toml --storage 'postgresql://u:***@h/db' --trials 3 --no-progress"


def test_ctrl_c_in_a_worker_says_how_to_carry_on_and_exits_130(tmp_path: Path, cli_env: dict[str, str]) -> None:
    write_config(tmp_path, trials=10, holdout=False)
    url = f"sqlite:///{tmp_path}/worker.db"
    ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", budget=ts.Budget(trials=10), storage=url,
             name="shared", seed=1, sampler="random")  # fmt: skip
    command = [str(BIN / "tunesmith"), "worker", "shared", "--storage", url, "--objective", "waitmod:objective"]
    env = {**cli_env, "PYTHONPATH": f"{tmp_path}{os.pathsep}{cli_env['PYTHONPATH']}", "TS_TEST_SLEEP": "0.5"}
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, preexec_fn=_default_sigint)  # fmt: skip
    _out, err = _interrupt_when(process, url, "shared", complete=2)
    assert process.returncode == 130, err
    assert "Aborted!" not in err and "Traceback" not in err
    assert "tunesmith worker shared" in err, err
    kept = _stored(url, "shared")
    assert sum(r.state is TrialState.COMPLETE for r in kept) >= 2
    assert [r.kind for r in kept if r.state is not TrialState.COMPLETE] == [TrialKind.INTERRUPTED]
