"""`tunesmith worker --objective`: the study's config still sets the trials' limits, a config this machine cannot
read is said, and an objective other than the one the study records is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import tunesmith as ts
from tunesmith.cli import cli
from tunesmith.trial import TrialKind

OBJECTIVE = """
import time


def quick(trial):
    return {"loss": trial.params["x"]}


def hangs(trial):
    if trial.number > 0:
        time.sleep(8)
    return {"loss": trial.params["x"]}
"""

CONFIG = """
name = "{name}"
objective = "{module}:{function}"
seed = 0
trial_timeout = 1
[metric]
name = "loss"
direction = "min"
[budget]
trials = 2
[space]
x = {{ type = "float", low = 0.0, high = 1.0 }}
"""


def _study_run_from_a_config(folder: Path, name: str, function: str) -> tuple[str, str, Path]:
    """A study whose first trial `tunesmith run` ran from a config (which the study records); its storage URL, its
    objective reference and the config's path. Each test has a module of its own: imports are cached."""
    module = f"worker_limits_{name}"
    (folder / f"{module}.py").write_text(OBJECTIVE)
    config = folder / f"{name}.toml"
    config.write_text(CONFIG.format(name=name, module=module, function=function))
    url = f"sqlite:///{folder}/{name}.db"
    ran = CliRunner().invoke(cli, ["run", str(config), "--storage", url, "--trials", "1", "--no-report"])
    assert ran.exit_code == 0, ran.output
    return url, f"{module}:{function}", config


def test_a_worker_given_the_studys_objective_applies_the_configs_trial_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, objective, _ = _study_run_from_a_config(tmp_path, "timeout", "hangs")
    monkeypatch.chdir(tmp_path)  # where --objective is read from

    result = CliRunner().invoke(cli, ["worker", "timeout", "--storage", url, "--objective", objective, "--no-wait"])

    assert result.exit_code == 0, result.output
    assert ts.Study.load("timeout", url).trials[1].kind is TrialKind.TIMEOUT  # after 1 s, not the 8 s it sleeps


def test_a_worker_that_cannot_read_the_studys_config_says_in_one_line_which_limits_it_cannot_apply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, objective, config = _study_run_from_a_config(tmp_path, "unread", "quick")
    config.unlink()  # a machine without the config file
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(cli, ["worker", "unread", "--storage", url, "--objective", objective, "--no-wait"])

    assert result.exit_code == 0, result.output
    warning = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warning == [
        f"warning: study 'unread' records its config {config}, which cannot be read here (config file "
        f"{str(config)!r} does not exist), so this worker runs without its trial_timeout, memory_limit, executor "
        "and fail_fast (the defaults apply): make the config readable at that path to apply them"
    ], result.stderr


def test_a_worker_given_another_objective_than_the_studys_config_names_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, objective, _config = _study_run_from_a_config(tmp_path, "other", "quick")
    monkeypatch.chdir(tmp_path)
    other = objective.replace(":quick", ":hangs")

    result = CliRunner().invoke(cli, ["worker", "other", "--storage", url, "--objective", other, "--no-wait"])

    assert result.exit_code == 1, result.output
    module_file = tmp_path / "worker_limits_other.py"
    assert result.output == (
        f"Error: --objective names {other} ({module_file}), not the objective of study 'other', which records "
        f"{objective} ({module_file}): one study runs one objective, since trials of two objectives cannot be "
        f"compared (its best, samplers and analyses would mix them); pass --objective {objective} instead, or run "
        f"{other} as a new study, under another name\n"
    )
    assert len(ts.Study.load("other", url).trials) == 1, "no trial of the other objective ran"


@pytest.mark.slow
def test_a_worker_given_another_objective_than_the_first_worker_recorded_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "worker_limits_recorded.py").write_text(OBJECTIVE)
    url = f"sqlite:///{tmp_path}/recorded.db"
    ts.Study(ts.Space({"x": ts.Float(0, 1)}), metric="loss", budget=ts.Budget(trials=1), storage=url, name="rec")
    monkeypatch.chdir(tmp_path)
    first = CliRunner().invoke(cli, ["worker", "rec", "--storage", url, "--objective", "worker_limits_recorded:quick"])
    assert first.exit_code == 0, first.output
    ts.Study.load("rec", url).extend_budget(trials=2)

    result = CliRunner().invoke(cli, ["worker", "rec", "--storage", url, "--objective", "worker_limits_recorded:hangs"])

    assert result.exit_code == 1, result.output
    recorded = f"which records worker_limits_recorded:quick ({tmp_path / 'worker_limits_recorded.py'}): one study"
    assert recorded in result.output, result.output
    assert len(ts.Study.load("rec", url).trials) == 1, "no trial of the other objective ran"
