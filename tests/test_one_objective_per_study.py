"""One study runs one objective: the one its first `tunesmith run` or `tunesmith worker` recorded. A config edited
to name another, another config file naming the same study, or a worker's --objective naming another is refused,
so that trials of two objectives never mix in one study."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import tunesmith as ts
from tunesmith.attributes import ObjectiveReferenceAttr, read_attr
from tunesmith.cli import cli

# Two objectives whose scores differ by a thousand: mixed in one study, its best and its samplers compare them.
OBJECTIVES = """
def near_one(trial):
    return {"loss": 1.0 + trial.params["x"]}


def near_a_thousand(trial):
    return {"loss": 1000.0 + trial.params["x"]}


def broken(trial):
    raise NameError("name 'undefined' is not defined")
"""

CONFIG = """
name = "{name}"
objective = "{objective}"
seed = 0
sampler = "random"
[metric]
name = "loss"
direction = "min"
[budget]
trials = 6
[space]
x = {{ type = "float", low = 0.0, high = 1.0 }}
"""


def _module(folder: Path, name: str) -> str:
    """A module of both objectives, named for the test (imports are cached for the whole session)."""
    module = f"one_objective_{name}"
    (folder / f"{module}.py").write_text(OBJECTIVES)
    return module


def _config(folder: Path, file: str, name: str, objective: str) -> Path:
    path = folder / file
    path.write_text(CONFIG.format(name=name, objective=objective))
    return path


def _run(config: Path, url: str, *more: str) -> Result:
    return CliRunner().invoke(cli, ["run", str(config), "--storage", url, "--trials", "2", "--no-report", *more])


def _worker(name: str, url: str, *more: str) -> Result:
    return CliRunner().invoke(cli, ["worker", name, "--storage", url, "--no-wait", *more])


def _losses(name: str, url: str) -> list[float]:
    return [r.metrics["loss"] for r in ts.Study.load(name, url).trials if "loss" in r.metrics]


def test_a_worker_is_refused_when_the_studys_config_was_edited_to_name_another_objective(tmp_path: Path) -> None:
    module = _module(tmp_path, "edited")
    config = _config(tmp_path, "edited.toml", "edited", f"{module}:near_one")
    url = f"sqlite:///{tmp_path}/edited.db"
    assert _run(config, url).exit_code == 0
    _config(tmp_path, "edited.toml", "edited", f"{module}:near_a_thousand")  # the user edits the file later

    result = _worker("edited", url)

    assert result.exit_code == 1, result.output
    assert result.output == (
        f"Error: its config {config} names {module}:near_a_thousand ({tmp_path / module}.py), not the objective "
        f"of study 'edited', which records {module}:near_one ({tmp_path / module}.py): one study runs one "
        "objective, since trials of two objectives cannot be compared (its best, samplers and analyses would mix "
        f'them); put objective = "{module}:near_one" back in {config} (or pass --objective {module}:near_one), '
        f"or run {module}:near_a_thousand as a new study, under another name\n"
    )
    assert max(_losses("edited", url)) < 2, "no trial of the other objective ran"


def test_a_run_of_another_config_naming_the_study_with_another_objective_is_refused(tmp_path: Path) -> None:
    module = _module(tmp_path, "other_file")
    first = _config(tmp_path, "first.toml", "shared", f"{module}:near_one")
    url = f"sqlite:///{tmp_path}/shared.db"
    assert _run(first, url).exit_code == 0
    second = _config(tmp_path, "second.toml", "shared", f"{module}:near_a_thousand")

    result = _run(second, url)

    assert result.exit_code == 1, result.output
    assert result.output == (
        f"Error: config {second} names {module}:near_a_thousand ({tmp_path / module}.py), not the objective of "
        f"study 'shared', which records {module}:near_one ({tmp_path / module}.py): one study runs one objective, "
        "since trials of two objectives cannot be compared (its best, samplers and analyses would mix them); put "
        f'objective = "{module}:near_one" in second.toml, or run {module}:near_a_thousand as a new study: '
        "--name NEW_NAME (or another name in second.toml)\n"
    )
    study = ts.Study.load("shared", url)
    assert max(_losses("shared", url)) < 2, "no trial of the other objective ran"
    assert study.attrs["config"] == str(first), "a refused run leaves workers on the study's own config"


def test_the_other_objective_runs_as_a_new_study_under_another_name(tmp_path: Path) -> None:
    module = _module(tmp_path, "renamed")
    first = _config(tmp_path, "first.toml", "renamed", f"{module}:near_one")
    url = f"sqlite:///{tmp_path}/renamed.db"
    assert _run(first, url).exit_code == 0
    second = _config(tmp_path, "second.toml", "renamed", f"{module}:near_a_thousand")
    assert _run(second, url).exit_code == 1

    result = _run(second, url, "--name", "renamed-thousand")

    assert result.exit_code == 0, result.output
    assert min(_losses("renamed-thousand", url)) > 999 and max(_losses("renamed", url)) < 2


def test_a_worker_given_the_recorded_objective_runs_although_the_config_now_names_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = _module(tmp_path, "given")
    config = _config(tmp_path, "given.toml", "given", f"{module}:near_one")
    url = f"sqlite:///{tmp_path}/given.db"
    assert _run(config, url).exit_code == 0
    _config(tmp_path, "given.toml", "given", f"{module}:near_a_thousand")
    monkeypatch.chdir(tmp_path)  # where --objective is read from

    result = _worker("given", url, "--objective", f"{module}:near_one")

    assert result.exit_code == 0, result.output
    assert len(_losses("given", url)) == 6 and max(_losses("given", url)) < 2


def test_a_run_from_another_config_file_with_the_same_objective_goes_on_silently_with_that_objective(
    tmp_path: Path,
) -> None:
    module = _module(tmp_path, "same")
    first = _config(tmp_path, "first.toml", "same", f"{module}:near_one")
    url = f"sqlite:///{tmp_path}/same.db"
    assert _run(first, url).exit_code == 0
    second = _config(tmp_path, "second.toml", "same", f"{module}:near_one")

    result = _run(second, url)

    assert result.exit_code == 0, result.output
    assert "Error" not in result.output and "warning" not in result.output, result.output
    attrs = ts.Study.load("same", url).attrs
    assert attrs["config"] == str(second), "workers follow the config the study last ran"
    assert read_attr(attrs, ObjectiveReferenceAttr) == ObjectiveReferenceAttr(
        module=module, function="near_one", file=f"{module}.py", directory=str(tmp_path.resolve())
    )


def test_a_study_none_of_whose_trials_gave_a_result_takes_the_fixed_objective_and_says_so(tmp_path: Path) -> None:
    module = _module(tmp_path, "fixed")
    config = _config(tmp_path, "fixed.toml", "fixed", f"{module}:broken")
    url = f"sqlite:///{tmp_path}/fixed.db"
    assert _run(config, url, "--no-progress").exit_code == 1, "the objective fails every trial"
    _config(tmp_path, "fixed.toml", "fixed", f"{module}:near_one")

    result = _run(config, url, "--no-progress")

    assert result.exit_code == 0, result.output
    assert result.stderr == (
        f"note: study 'fixed' now runs {module}:near_one ({tmp_path / module}.py) in place of {module}:broken "
        f"({tmp_path / module}.py), since none of its 2 trials gave a result\n"
    )


def test_a_study_that_records_no_objective_records_it_at_its_next_run(tmp_path: Path) -> None:
    # As a study created in Python, or stored before studies recorded their objective, is.
    module = _module(tmp_path, "unrecorded")
    url = f"sqlite:///{tmp_path}/unrecorded.db"
    ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", budget=ts.Budget(trials=6), storage=url,
             name="unrecorded", seed=0, sampler="random")  # fmt: skip
    assert _run(_config(tmp_path, "first.toml", "unrecorded", f"{module}:near_one"), url).exit_code == 0

    result = _run(_config(tmp_path, "second.toml", "unrecorded", f"{module}:near_a_thousand"), url)

    assert result.exit_code == 1 and "not the objective of study 'unrecorded'" in result.output, result.output
    assert max(_losses("unrecorded", url)) < 2


def test_a_run_is_refused_after_a_worker_recorded_another_objective(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = _module(tmp_path, "worker_first")
    url = f"sqlite:///{tmp_path}/worker_first.db"
    ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", budget=ts.Budget(trials=6), storage=url,
             name="worker-first", seed=0, sampler="random")  # fmt: skip
    monkeypatch.chdir(tmp_path)
    first = CliRunner().invoke(cli, ["worker", "worker-first", "--storage", url, "--objective", f"{module}:near_one"])
    assert first.exit_code == 0, first.output
    ts.Study.load("worker-first", url).extend_budget(trials=8)
    config = _config(tmp_path, "later.toml", "worker-first", f"{module}:near_a_thousand")
    config.write_text(config.read_text().replace("trials = 6", "trials = 8"))

    result = _run(config, url)

    assert result.exit_code == 1 and f"which records {module}:near_one (" in result.output, result.output
    assert len(_losses("worker-first", url)) == 6 and max(_losses("worker-first", url)) < 2
