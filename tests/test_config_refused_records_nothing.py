"""A config `tunesmith run` refuses records nothing: no study, and no database file where none was.

Every setting the config decides is checked when it is loaded, before storage is opened: a setting refused once
the study was stored left a study of no trials behind, and the next run, its typo fixed and its space edited,
was refused "study 's' already exists ... with a different space".
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import tunesmith as ts
from tunesmith.cli import cli
from tunesmith.storage import open_storage

MODULE = "refusal_objectives"

OBJECTIVES = """
NOT_A_FUNCTION = 3


def objective(trial):
    return {"loss": trial.params["x"]}


async def async_objective(trial):
    return {"loss": trial.params["x"]}


def needs_data(params, data):
    return {"loss": params["x"]}


def evaluate(params, seed):
    return {"loss": params["x"]}


def needs_split(params, seed, split):
    return {"loss": params["x"]}
"""

NO_ENVIRONMENT: dict[str, str | None] = {"TUNESMITH_STORAGE": None, "TUNESMITH_STORAGE_FILE": None}


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The working directory, holding the objectives' module, where the default storage would be written."""
    (tmp_path / f"{MODULE}.py").write_text(textwrap.dedent(OBJECTIVES))
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    sys.modules.pop(MODULE, None)


def write_config(
    folder: Path, settings: str = "", *, name: str = "s", high: float = 1.0, budget: str = "trials = 2"
) -> Path:  # fmt: skip
    """``s.toml``: study ``name`` minimising ``loss`` over ``x`` in [0, ``high``], with ``settings`` at the top."""
    path = folder / "s.toml"
    budget_table = f"[budget]\n{budget}\n" if budget else ""
    path.write_text(
        f'name = "{name}"\nobjective = "{MODULE}:objective"\nseed = 0\n{settings}\n'
        f'[metric]\nname = "loss"\n{budget_table}[space]\nx = {{ type = "float", low = 0.0, high = {high} }}\n'
    )
    return path


def run(config: Path, *args: str) -> Result:
    return CliRunner().invoke(
        cli, ["run", str(config), "--no-progress", "--no-report", *args], env=NO_ENVIRONMENT, catch_exceptions=False
    )


def test_a_misspelt_executor_is_refused_before_the_database_is_created(folder: Path) -> None:
    database = folder / "s.db"
    result = run(write_config(folder, 'executor = "proc"'), "--storage", f"sqlite:///{database}")
    assert not database.exists()
    assert result.exit_code == 1
    assert "s.toml: unknown executor 'proc'" in result.output and "did you mean 'processes'?" in result.output


def test_a_refused_config_does_not_create_the_default_database(folder: Path) -> None:
    result = run(write_config(folder, 'executor = "proc"'))
    assert result.exit_code == 1
    assert not (folder / "tunesmith.db").exists()


def test_a_config_fixed_after_a_refusal_runs_with_its_edited_space(folder: Path) -> None:
    """The reported sequence: the typo refused, then fixed while the space was edited."""
    storage = f"sqlite:///{folder / 's.db'}"
    assert run(write_config(folder, 'executor = "proc"'), "--storage", storage).exit_code == 1
    fixed = run(write_config(folder, 'executor = "processes"', high=2.0), "--storage", storage)
    assert fixed.exit_code == 0, fixed.output
    study = ts.Study.load("s", storage)
    assert study.space == ts.Space({"x": ts.Float(0.0, 2.0)}) and len(study.trials) == 2


@pytest.mark.parametrize(
    ("setting", "refusal"),
    [
        ('sampler = "tpee"', "s.toml: unknown sampler 'tpee'"),
        ('scheduler = { name = "asha", etaa = 3 }', "s.toml: invalid options for scheduler 'asha'"),
        ('executor = "ray"\nmemory_limit = 1000000000', "memory_limit is enforced by executor='processes' only"),
        ('executor = { gpus_per_trial = 1 }', "executor must name an executor, one of 'inline', 'processes'"),
    ],
    ids=["sampler", "scheduler-options", "executor-limits", "executor-table-without-name"],
)
def test_a_config_refused_for_a_setting_creates_no_database(folder: Path, setting: str, refusal: str) -> None:
    database = folder / "s.db"
    result = run(write_config(folder, setting), "--storage", f"sqlite:///{database}")
    assert not database.exists()
    assert result.exit_code == 1
    assert refusal in result.output


def test_a_study_name_with_white_space_at_its_ends_is_refused_before_the_database_is_created(folder: Path) -> None:
    database = folder / "s.db"
    result = run(write_config(folder, name=" s "), "--storage", f"sqlite:///{database}")
    assert not database.exists()
    assert result.exit_code == 1
    assert "got name=' s ': write name = \"s\"" in result.output


def test_a_name_option_with_white_space_at_its_ends_is_refused_before_the_database_is_created(folder: Path) -> None:
    database = folder / "s.db"
    result = run(write_config(folder), "--storage", f"sqlite:///{database}", "--name", "s ")
    assert not database.exists()
    assert result.exit_code == 2
    assert "Invalid value for '--name'" in result.output and "pass --name 's'" in result.output


@pytest.mark.parametrize(
    ("function", "refusal"),
    [
        ("NOT_A_FUNCTION", "objective must name a function of a trial, got objective = 'refusal_objectives:NOT_A"),
        ("async_objective", "objective async_objective is a coroutine function (async def)"),
        ("needs_data", "objective needs_data(params, data) cannot be called with the trial alone"),
    ],
    ids=["not-callable", "async", "two-arguments"],
)
def test_an_objective_no_executor_can_run_is_refused_before_the_database_is_created(
    folder: Path, function: str, refusal: str
) -> None:  # fmt: skip
    database = folder / "s.db"
    config = write_config(folder)
    config.write_text(config.read_text().replace(f"{MODULE}:objective", f"{MODULE}:{function}"))
    result = run(config, "--storage", f"sqlite:///{database}")
    assert not database.exists()
    assert result.exit_code == 1
    assert refusal in result.output


@pytest.mark.parametrize(
    ("holdout", "refusal"),
    [
        (f'evaluate = "{MODULE}:evaluate"\ntopp = 3', "unknown holdout keys ['topp']"),
        ('evaluate = "missing_module:evaluate"', "cannot import module 'missing_module' for the holdout evaluation"),
        (f'evaluate = "{MODULE}:evaluate"\ntop = 0', "holdout.top must be a positive integer, got holdout.top=0"),
        (f'evaluate = "{MODULE}:objective"', "finalize calls evaluate(params, seed) with the chosen configuration's"),
        (f'evaluate = "{MODULE}:evaluate"\nshifted = "{MODULE}:needs_split"',
         "shifted needs_split(params, seed, split) cannot"),
        (f'evaluate = "{MODULE}:evaluate"\nbaseline = {{ xx = 0.5 }}',
         "holdout.baseline: 'xx' is not a parameter of the space, got xx=0.5: did you mean 'x'?"),
    ],
    ids=["unknown-key", "import", "top", "evaluate-of-a-trial", "shifted-of-other-arguments", "baseline-typo"],
)
def test_a_refused_holdout_entry_creates_no_database(folder: Path, holdout: str, refusal: str) -> None:
    database = folder / "s.db"
    config = write_config(folder)
    config.write_text(f"{config.read_text()}\n[holdout]\n{holdout}\n")
    result = run(config, "--storage", f"sqlite:///{database}")
    assert not database.exists()
    assert result.exit_code == 1
    assert refusal in result.output


def test_ray_missing_is_refused_before_the_database_is_created(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ray is imported once the first trial is about to start: a machine without it refuses the config first."""
    monkeypatch.setitem(sys.modules, "ray", None)  # what an environment without Ray imports: ImportError
    database = folder / "s.db"
    result = run(write_config(folder, 'executor = "ray"'), "--storage", f"sqlite:///{database}")
    assert not database.exists()
    assert result.exit_code == 1
    assert "pip install 'tunesmith[ray]'" in result.output


def test_a_config_without_a_budget_is_refused_before_the_database_is_created(folder: Path) -> None:
    database = folder / "s.db"
    result = run(write_config(folder, budget=""), "--storage", f"sqlite:///{database}")
    assert not database.exists()
    assert result.exit_code == 1
    assert "study 's' would run without end: s.toml gives it no budget, the command no --trials" in result.output
    assert "add [budget] trials = N to s.toml (or wall_time), or run it with --trials N" in result.output


def test_a_stored_study_without_a_budget_is_refused_with_nothing_recorded(folder: Path) -> None:
    """A study made in Python with no budget, run from a config that gives none: its attributes stay as they were
    (the run recorded the objective and the config's path before the search refused it)."""
    storage = f"sqlite:///{folder / 's.db'}"
    ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric=ts.Metric("loss", "min"), storage=storage, name="s", seed=0)
    before = open_storage(storage).load_study("s").attrs
    result = run(write_config(folder, budget=""), "--storage", storage)
    assert result.exit_code == 1
    assert open_storage(storage).load_study("s").attrs == before
    assert "study 's' in sqlite:///" in result.output and "has no budget" in result.output
    assert "`tunesmith extend s --trials N` gives it one" in result.output


def test_a_refused_config_switches_no_sampler_of_a_stored_study(folder: Path) -> None:
    """Resumed with another sampler and a misspelt executor: the switch is not stored, since the run is refused."""
    storage = f"sqlite:///{folder / 's.db'}"
    assert run(write_config(folder, 'sampler = "random"'), "--storage", storage).exit_code == 0
    stored = open_storage(storage).load_study("s")
    result = run(write_config(folder, 'sampler = "tpe"\nexecutor = "proc"'), "--storage", storage)
    assert result.exit_code == 1
    after = open_storage(storage).load_study("s")
    assert (after.spec, after.attrs) == (stored.spec, stored.attrs)
