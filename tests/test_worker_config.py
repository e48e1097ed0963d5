"""`tunesmith worker` runs its trials as the study's config says: its executor, trial_timeout and memory_limit."""

from __future__ import annotations

import os
from pathlib import Path

from click.testing import CliRunner

import tunesmith as ts
from tunesmith.cli import cli
from tunesmith.trial import TrialKind, TrialState

OBJECTIVE = """
import os, time
from pathlib import Path


def hangs(trial):
    time.sleep(30)
    return {"loss": trial.params["x"]}


def records_its_pid(trial):
    Path(__file__).with_name(f"pid-{trial.number}").write_text(str(os.getpid()))
    return {"loss": trial.params["x"]}
"""

CONFIG = """
name = "{name}"
objective = "worker_config_{name}:{objective}"
seed = 0
{settings}
[metric]
name = "loss"
direction = "min"
[budget]
trials = 2
[space]
x = {{ type = "float", low = 0.0, high = 1.0 }}
"""


def _start_study(folder: Path, name: str, objective: str, settings: str, exit_code: int = 0) -> str:
    """Run the config's first trial with `tunesmith run` (which records the config); the storage URL."""
    (folder / f"worker_config_{name}.py").write_text(OBJECTIVE)  # a module per test: imports are cached
    config = folder / f"{name}.toml"
    config.write_text(CONFIG.format(name=name, objective=objective, settings=settings))
    url = f"sqlite:///{folder}/{name}.db"
    ran = CliRunner().invoke(cli, ["run", str(config), "--storage", url, "--trials", "1", "--no-report"])
    assert ran.exit_code == exit_code, ran.output
    return url


def test_a_worker_kills_a_trial_past_the_configs_trial_timeout(tmp_path: Path) -> None:
    # Each run's only trial times out and nothing has worked: both exit non-zero (the study has no result).
    url = _start_study(tmp_path, "hang", "hangs", "trial_timeout = 1", exit_code=1)

    result = CliRunner().invoke(cli, ["worker", "hang", "--storage", url], catch_exceptions=False)

    assert result.exit_code == 1 and "as did 1 before it, and none worked (2 timeout" in result.output, result.output
    worker_trial = ts.Study.load("hang", url).trials[1]
    assert (worker_trial.state, worker_trial.kind, worker_trial.reason) == (
        TrialState.FAILED,
        TrialKind.TIMEOUT,
        "timed out",
    )


def test_a_worker_runs_trials_with_the_configs_executor(tmp_path: Path) -> None:
    url = _start_study(tmp_path, "pids", "records_its_pid", 'executor = "processes"')

    result = CliRunner().invoke(cli, ["worker", "pids", "--storage", url], catch_exceptions=False)

    assert result.exit_code == 0, result.output
    assert int((tmp_path / "pid-1").read_text()) != os.getpid()  # a trial process, not this one


def test_the_executor_option_beats_the_configs(tmp_path: Path) -> None:
    url = _start_study(tmp_path, "inline", "records_its_pid", 'executor = "processes"')

    result = CliRunner().invoke(cli, ["worker", "inline", "--storage", url, "--executor", "inline"])

    assert result.exit_code == 0, result.output
    assert int((tmp_path / "pid-1").read_text()) == os.getpid()


def test_a_worker_says_it_ran_in_processes_where_inline_cannot_keep_the_configs_trial_timeout(tmp_path: Path) -> None:
    url = _start_study(tmp_path, "timed", "records_its_pid", "trial_timeout = 30")

    result = CliRunner().invoke(cli, ["worker", "timed", "--storage", url, "--executor", "inline"])

    assert result.exit_code == 0, result.output
    assert int((tmp_path / "pid-1").read_text()) != os.getpid(), "the trial_timeout needs a trial process"
    assert "trials ran in child processes (executor='processes'): trial_timeout" in " ".join(result.output.split())
