"""A config's ``warm_start``: the staged tuning `Study(warm_start=...)` does, from the command line.

A config could not name earlier results: a second stage that added a parameter had to start a study from nothing
(the stored study refuses a changed space), or be written in Python.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import tunesmith as ts
from tunesmith.cli import cli
from tunesmith.config import load_config
from tunesmith.errors import ConfigError

OBJECTIVE = """
def objective(trial):
    p = trial.params
    return {"loss": (p["x"] - 1.0) ** 2 + p.get("y", 0.0) ** 2}
"""

STAGE = """
name = "{name}"
objective = "{module}:objective"
storage = "sqlite:///{db}"
seed = 0

[metric]
name = "loss"
direction = "min"

[budget]
trials = 6

[space]
x = {{ type = "float", low = -3.0, high = 3.0 }}
"""


@pytest.fixture
def project(tmp_path: Path, user_module: Callable[[str, str], str]) -> tuple[Path, str]:
    """A folder with the objective under a unique module name and a first stage's config."""
    module = user_module("warm_cfg", OBJECTIVE)
    (tmp_path / "stage1.toml").write_text(STAGE.format(name="stage1", module=module, db=tmp_path / "s.db"))
    return tmp_path, module


def second_stage(folder: Path, module: str, warm_start: str, *, db: str = "s.db") -> Path:
    config = folder / "stage2.toml"
    config.write_text(STAGE.format(name="stage2", module=module, db=folder / db)
                      + 'y = { type = "float", low = -1.0, high = 1.0 }\n' + textwrap.dedent(warm_start))  # fmt: skip
    return config


def run(config: Path) -> Result:
    return CliRunner().invoke(cli, ["run", str(config), "--no-report"])


def test_a_second_stage_warm_starts_from_the_first_stage_study_with_a_fill(project: tuple[Path, str]) -> None:
    folder, module = project
    assert run(folder / "stage1.toml").exit_code == 0
    config = second_stage(folder, module, """
        [warm_start]
        study = "stage1"
        fill = { y = 0.0 }
    """)  # fmt: skip

    first, again = run(config), run(config)

    assert first.exit_code == 0, first.output
    assert again.exit_code == 0, again.output  # the same source given again on resuming is a no-op
    stage2 = ts.Study.load("stage2", f"sqlite:///{folder / 's.db'}")
    attr = stage2.attrs["warm_start"]
    assert attr["source"].startswith("study 'stage1' in sqlite:///") and attr["fill"] == {"y": 0.0}
    assert len(attr["points"]) == 6 and len(stage2.trials) == 6
    assert "warm-start points" in stage2.attrs["sampler_choice"]["why"]


def test_a_csv_is_read_from_the_config_folder_whatever_the_working_directory(
    project: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, module = project
    assert run(folder / "stage1.toml").exit_code == 0
    exported = CliRunner().invoke(cli, ["export", "stage1", "--storage", f"sqlite:///{folder / 's.db'}"])
    (folder / "stage1.csv").write_text(exported.output)
    config = second_stage(folder, module, """
        [warm_start]
        csv = "stage1.csv"
        fill = { y = 0.0 }
    """)  # fmt: skip
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))

    result = run(config)

    assert result.exit_code == 0, result.output
    attr = ts.Study.load("stage2", f"sqlite:///{folder / 's.db'}").attrs["warm_start"]
    assert attr["source"] == f"CSV file {folder / 'stage1.csv'}" and len(attr["points"]) == 6


def test_a_missing_source_study_is_refused_before_any_database_is_created(project: tuple[Path, str]) -> None:
    folder, module = project
    config = second_stage(folder, module, "", db="new.db")
    config.write_text('warm_start = { study = "stage1" }\n' + config.read_text())

    result = run(config)

    assert result.exit_code == 1
    assert "warm_start.study 'stage1' in stage2.toml: no database at" in result.output
    assert not (folder / "new.db").exists()


@pytest.mark.parametrize(
    ("entry", "refusal"),
    [
        ('warm_start = "missing.csv"\n', "warm_start.csv 'missing.csv' is no file"),
        ('warm_start = { csv = "a.csv", study = "stage1" }\n', "warm_start names one source"),
        ('warm_start = { csv = "a.csv", storage = "sqlite:///x.db" }\n', "beside a csv"),
        ('warm_start = { study = "stage1", fil = { y = 0.0 } }\n', "did you mean 'fill'?"),
        ('warm_start = { study = "stage1", fill = 0.0 }\n', "warm_start.fill maps parameter names"),
    ],
)
def test_a_malformed_warm_start_is_refused_when_the_config_loads(
    project: tuple[Path, str], entry: str, refusal: str
) -> None:
    folder, module = project
    (folder / "a.csv").write_text("x,loss\n0.5,0.25\n")
    config = second_stage(folder, module, "")
    config.write_text(entry + config.read_text())

    with pytest.raises(ConfigError, match=refusal.replace("?", r"\?")):
        load_config(config)
