"""A config without ``[space]``: the study is defined by run, as `Study` is with no space.

An objective written for Optuna asks for its parameters (``trial.suggest_float``); `tunesmith run` refused its
config with "needs a 'space' entry", and an empty ``[space]`` with "a Space needs at least one parameter", so the
CLI could not run what `Study(None, ...)` runs in Python.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

import tunesmith as ts
from tunesmith.cli import cli
from tunesmith.config import load_config
from tunesmith.errors import ConfigError

OBJECTIVES = """
import numpy as np


def objective(trial):
    x = trial.suggest_float("x", -3.0, 3.0)
    kind = trial.suggest_categorical("kind", ["a", "b"])
    return {"loss": (x - 1.0) ** 2 + (0.5 if kind == "b" else 0.0)}


def seeded_by_number(trial):
    rng = np.random.default_rng(trial.number)
    x = trial.suggest_float("x", -3.0, 3.0)
    return {"loss": (x - 1.0) ** 2 + rng.normal(0.0, 0.01)}


def holdout(params, seed):
    return {"loss": (params["x"] - 1.0) ** 2}


def lr_probe(params):
    state = {"x": 1.0}

    def step(lr):
        state["x"] -= lr * 8.0 * state["x"]
        return 4.0 * state["x"] ** 2

    return step
"""


@pytest.fixture
def project(tmp_path: Path, user_module: Callable[[str, str], str]) -> tuple[Path, str]:
    """The working directory, holding the objectives under a unique module name."""
    return tmp_path, user_module("by_run", OBJECTIVES)


def write_config(folder: Path, module: str, *, objective: str = "objective", trials: int = 12, extra: str = "") -> Path:
    config = folder / "by_run.toml"
    config.write_text(textwrap.dedent(f"""
        name = "by-run"
        objective = "{module}:{objective}"
        storage = "sqlite:///by_run.db"
        seed = 0

        [metric]
        name = "loss"
        direction = "min"

        [budget]
        trials = {trials}
    """) + textwrap.dedent(extra))  # fmt: skip
    return config


def test_a_config_without_a_space_runs_a_study_that_learns_its_parameters(project: tuple[Path, str]) -> None:
    folder, module = project
    config = write_config(folder, module)
    assert load_config(config).space is None

    result = CliRunner().invoke(cli, ["run", str(config)])

    assert result.exit_code == 0, result.output
    study = ts.Study.load("by-run", "sqlite:///by_run.db")
    assert sorted(study.space) == ["kind", "x"]
    assert [t.state for t in study.trials] == [ts.TrialState.COMPLETE] * 12
    assert study.best is not None and abs(study.best.params["x"] - 1.0) < 1.0


def test_a_config_without_a_space_runs_its_holdout_sequence(project: tuple[Path, str]) -> None:
    folder, module = project
    config = write_config(folder, module, extra=f"""
        [holdout]
        evaluate = "{module}:holdout"
        baseline = {{ x = 0.0, kind = "a" }}
        seeds = 2
    """)  # fmt: skip

    result = CliRunner().invoke(cli, ["run", str(config)])

    assert result.exit_code == 0, result.output
    study = ts.Study.load("by-run", "sqlite:///by_run.db")
    assert study.attrs["baseline"]["params"] == {"x": 0.0, "kind": "a"}
    assert "holdout" in study.attrs


def test_a_config_without_an_objective_is_refused_with_the_entry_to_write(project: tuple[Path, str]) -> None:
    folder, _ = project
    config = folder / "none.toml"
    config.write_text('[metric]\nname = "loss"\n')

    with pytest.raises(ConfigError, match=r"needs an 'objective' entry.*objective = \"module:function\""):
        load_config(config)


def test_plan_reads_the_space_the_stored_study_learned_and_before_any_trial_says_what_to_do(
    project: tuple[Path, str],
) -> None:
    folder, module = project
    config = write_config(folder, module)

    before = CliRunner().invoke(cli, ["plan", str(config)])
    assert before.exit_code != 0
    assert "has no [space]" in before.output and "--trials 3" in before.output
    assert not (folder / "by_run.db").exists()  # planning creates no database to find out

    assert CliRunner().invoke(cli, ["run", str(config), "--trials", "3"]).exit_code == 0
    after = CliRunner().invoke(cli, ["plan", str(config)])

    assert after.exit_code == 0, after.output
    assert "2 parameters" in after.output


def test_lr_find_runs_on_a_config_without_a_space(project: tuple[Path, str]) -> None:
    folder, module = project
    config = write_config(folder, module, extra=f"""
        [lr_probe]
        function = "{module}:lr_probe"
        param = "lr"
    """)  # fmt: skip

    result = CliRunner().invoke(cli, ["lr-find", str(config), "--num-steps", "60"])

    assert result.exit_code == 0, result.output
    assert "suggested" in result.output.lower()
    # no [space] to put the bounds in: the objective's own call takes them
    assert "ask for it in the objective: trial.suggest_float('lr', " in result.output
    assert "put in the space" not in result.output


def test_a_baseline_that_seeds_from_the_trial_number_fails_with_why_and_the_fix(project: tuple[Path, str]) -> None:
    folder, module = project
    config = write_config(folder, module, objective="seeded_by_number", extra=f"""
        [holdout]
        evaluate = "{module}:holdout"
        baseline = {{ x = 0.0 }}
        seeds = 2
    """)  # fmt: skip

    result = CliRunner().invoke(cli, ["run", str(config)])

    assert result.exit_code != 0
    assert "The baseline runs as trial number -1" in result.output
    assert "seed from trial.seed" in result.output


def test_plan_says_a_storage_that_does_not_answer_as_it_is_not_as_a_study_yet_to_run(
    project: tuple[Path, str],
) -> None:
    folder, module = project
    config = write_config(folder, module)
    (folder / "by_run.db").write_text("not a database, but a file of text " * 40)

    result = CliRunner().invoke(cli, ["plan", str(config)])

    assert result.exit_code == 1
    assert "has no [space]" not in result.output and "--trials 3" not in result.output, result.output
