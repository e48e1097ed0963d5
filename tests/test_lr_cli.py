"""``tunesmith lr-find CONFIG`` through click's CliRunner, on configs whose probe is a real quadratic."""

from __future__ import annotations

import json
import re
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from tunesmith.cli import cli

CURVATURE = 8.0  # the probe's SGD diverges above 2 / 8 = 0.25

PROBE_SOURCE = f"""
import random

seen = []

def objective(trial):
    return trial.params["lr"]

def lr_probe(params):
    seen.append(dict(params))
    state = {{"x": 1.0}}
    def step(lr):
        state["x"] -= lr * {CURVATURE} * state["x"]
        return {CURVATURE} / 2 * state["x"] ** 2
    return step

def not_a_factory():
    return 3

def unseeded_probe():
    seen.append("called without parameters")
    return lr_probe({{}})

def seeded_probe(params):
    # SGD on the quadratic from a start drawn with the seed: the seed moves the whole curve.
    state = {{"x": random.Random(params.get("seed", 0)).uniform(0.5, 2.0)}}
    def step(lr):
        state["x"] -= lr * {CURVATURE} * state["x"]
        return {CURVATURE} / 2 * state["x"] ** 2
    return step
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    """A directory with a probe module under a unique name; sys.path and sys.modules restored after."""
    module = f"lr_probe_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(PROBE_SOURCE)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield tmp_path, module
    sys.modules.pop(module, None)


def write_config(directory: Path, module: str, probe: str) -> Path:
    config = directory / "study.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            name = "quadratic"
            objective = "{module}:objective"
            metric = "value"
            {probe}

            [space]
            lr = {{ type = "float", low = 1e-4, high = 1.0, log = true }}
            width = {{ type = "int", low = 8, high = 64 }}
            """
        )
    )
    return config


def test_lr_find_prints_the_suggestions_and_the_bounds_to_put_in_the_space(project: tuple[Path, str]) -> None:
    directory, module = project
    config = write_config(directory, module, f'lr_probe = "{module}:lr_probe"')
    result = CliRunner().invoke(cli, ["lr-find", str(config)])
    assert result.exit_code == 0, result.output
    assert "suggested" in result.output and "steepest" in result.output and "min_div_10" in result.output
    assert 'put in the space: lr = { type = "float", low = ' in result.output
    title = result.output.splitlines()[0]  # on one line: it wrapped to the narrow table's width
    assert re.fullmatch(r"LR range test \(\d+ steps, \w+\)\s*", title), result.output


def test_lr_find_json_holds_the_curve_and_a_suggestion_below_two_over_l(project: tuple[Path, str]) -> None:
    directory, module = project
    config = write_config(directory, module, f'lr_probe = "{module}:lr_probe"')
    result = CliRunner().invoke(cli, ["lr-find", str(config), "--json", "--num-steps", "80", "--min-lr", "1e-6"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    threshold = 2 / CURVATURE
    assert threshold / 10 < data["suggestions"]["suggested"] < threshold
    assert data["num_steps"] == 80 and data["lrs"][0] == pytest.approx(1e-6)
    assert data["bounds"]["high"] == pytest.approx(data["suggestions"]["onset"])
    assert data["stop_reason"] == "diverged"


def test_the_probe_table_sets_the_range_and_the_factory_gets_the_space_centre_with_overrides(
    project: tuple[Path, str], tmp_path: Path
) -> None:
    directory, module = project
    probe = f"""
            [lr_probe]
            function = "{module}:lr_probe"
            param = "peak_lr"
            min_lr = 1e-5
            max_lr = 5.0
            num_steps = 60
            params = {{ width = 16 }}
    """
    config = write_config(directory, module, textwrap.dedent(probe).replace("\n", "\n            "))
    plot = tmp_path / "curve.html"
    result = CliRunner().invoke(cli, ["lr-find", str(config), "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    assert "put in the space: peak_lr = " in result.output
    assert plot.is_file() and "plotly" in plot.read_text()[:100000].lower()
    seen = sys.modules[module].seen
    assert seen == [{"lr": pytest.approx(1e-2), "width": 16}]  # lr at the centre of its log range


def test_a_config_without_a_probe_is_refused_with_the_contract(project: tuple[Path, str]) -> None:
    directory, module = project
    config = write_config(directory, module, "")
    result = CliRunner().invoke(cli, ["lr-find", str(config)])
    assert result.exit_code == 1
    assert "does not support lr-find (no lr_probe entry)" in result.output
    assert "lr_probe = 'module:function'" in result.output


def test_a_probe_that_returns_no_step_function_is_refused(project: tuple[Path, str]) -> None:
    directory, module = project
    config = write_config(directory, module, f'lr_probe = "{module}:not_a_factory"')
    result = CliRunner().invoke(cli, ["lr-find", str(config)])
    assert result.exit_code == 1
    assert "must return a step(lr) -> loss function, got int" in result.output


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_a_range_that_never_diverged_reads_no_bounds_and_says_to_raise_max_lr(
    project: tuple[Path, str], json_flag: list[str]
) -> None:
    """The onset was reported as max_lr itself and the bounds ended there: a limit of the test, not of training."""
    directory, module = project
    config = write_config(directory, module, f'lr_probe = "{module}:lr_probe"')
    result = CliRunner().invoke(cli, ["lr-find", str(config), "--max-lr", "0.2", *json_flag])
    assert result.exit_code == 1, result.output
    assert "still falling at max_lr=0.2 and never diverged" in " ".join(result.output.split())
    assert "put in the space" not in result.output


def test_a_probe_param_spelt_like_a_space_parameter_is_refused_with_the_name(project: tuple[Path, str]) -> None:
    # "put in the space: l = ..." beside an existing lr would add a second rate, not bound the searched one.
    directory, module = project
    probe = f'\n            [lr_probe]\n            function = "{module}:lr_probe"\n            param = "lrr"\n'
    result = CliRunner().invoke(cli, ["lr-find", str(write_config(directory, module, probe))])
    assert result.exit_code == 1 and "lr_probe.param 'lrr' is not in the space, but 'lr' is" in result.output


# The probe's seed: lr-find's advice to run again on another seed needs a seed to reach the probe -----------------
def test_lr_find_hands_the_probe_the_configs_seed(project: tuple[Path, str]) -> None:
    directory, module = project
    config = write_config(directory, module, f'seed = 7\nlr_probe = "{module}:lr_probe"')
    result = CliRunner().invoke(cli, ["lr-find", str(config)])
    assert result.exit_code == 0, result.output
    assert sys.modules[module].seen[-1]["seed"] == 7


def test_the_seed_flag_overrides_the_configs_seed(project: tuple[Path, str]) -> None:
    directory, module = project
    config = write_config(directory, module, f'seed = 7\nlr_probe = "{module}:lr_probe"')
    result = CliRunner().invoke(cli, ["lr-find", str(config), "--seed", "3", "--json"])
    assert result.exit_code == 0, result.output
    assert sys.modules[module].seen[-1]["seed"] == 3 and json.loads(result.output)["seed"] == 3


def test_a_seed_in_lr_probe_params_beats_the_configs_and_the_flag_beats_both(project: tuple[Path, str]) -> None:
    directory, module = project
    probe = f'seed = 7\n[lr_probe]\nfunction = "{module}:lr_probe"\nparams = {{ seed = 5 }}'
    config = write_config(directory, module, probe)
    for flags, expected in (([], 5), (["--seed", "3"], 3)):
        result = CliRunner().invoke(cli, ["lr-find", str(config), *flags])
        assert result.exit_code == 0, result.output
        assert sys.modules[module].seen[-1]["seed"] == expected


def test_lr_find_with_a_seed_still_runs_a_probe_that_takes_no_parameters(project: tuple[Path, str]) -> None:
    directory, module = project
    config = write_config(directory, module, f'lr_probe = "{module}:unseeded_probe"')
    result = CliRunner().invoke(cli, ["lr-find", str(config), "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert sys.modules[module].seen[0] == "called without parameters"


@pytest.mark.parametrize(
    ("seed_line", "advice"),
    [
        ("seed = 7", "run lr-find again with --seed 8 to check (this run handed the probe seed 7)"),
        ("", "run lr-find with --seed 0 and again with --seed 1 to check (the config sets no seed to hand the probe)"),
    ],
)
def test_lr_find_names_the_seed_to_run_again_with(project: tuple[Path, str], seed_line: str, advice: str) -> None:
    directory, module = project
    config = write_config(directory, module, f'{seed_line}\nlr_probe = "{module}:lr_probe"')
    result = CliRunner().invoke(cli, ["lr-find", str(config)])
    assert result.exit_code == 0, result.output
    assert advice in " ".join(result.output.split())


def test_lr_find_on_another_seed_runs_another_curve_from_a_probe_that_reads_the_seed(
    project: tuple[Path, str],
) -> None:
    directory, module = project
    config = write_config(directory, module, f'lr_probe = "{module}:seeded_probe"')

    def losses(seed: int) -> list[float]:
        result = CliRunner().invoke(cli, ["lr-find", str(config), "--json", "--seed", str(seed)])
        assert result.exit_code == 0, result.output
        return list(json.loads(result.output)["losses"])

    assert losses(1) == losses(1)
    assert losses(1) != losses(2)
