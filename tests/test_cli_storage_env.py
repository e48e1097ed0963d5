"""Where the command line finds its storage: one rule for every command, said when it is not on the command line.

--storage (or --storage-file) on the command line, else the config's ``storage`` (`run`), else
TUNESMITH_STORAGE (or TUNESMITH_STORAGE_FILE), else sqlite:///tunesmith.db; and a SQLite path starting
with ``~``, which nothing expands, is refused with the absolute URL to write instead.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import tunesmith as ts
from tunesmith.cli import cli
from tunesmith.storage import open_storage

CONFIG = """
name = "quad"
objective = "objectives:quadratic"
seed = 2
sampler = "random"
{storage}
[metric]
name = "loss"
direction = "min"

[budget]
trials = 3

[space]
x = {{ type = "float", low = 0.0, high = 1.0 }}
"""

NO_ENVIRONMENT: dict[str, str | None] = {"TUNESMITH_STORAGE": None, "TUNESMITH_STORAGE_FILE": None}


def invoke(*args: str, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env={**NO_ENVIRONMENT, **(env or {})}, catch_exceptions=False)


def write_config(directory: Path, storage: str | None = None) -> Path:
    path = directory / "quad.toml"
    path.write_text(CONFIG.format(storage="" if storage is None else f'storage = "{storage}"'))
    return path


@pytest.fixture
def in_tmp(objectives_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working directory is ``objectives_dir``, where the default storage would be written."""
    monkeypatch.chdir(objectives_dir)
    return objectives_dir


def storage_file(directory: Path, url: str) -> Path:
    path = directory / "storage.url"
    path.write_text(f"# the shared study database\n{url}\n")
    return path


@pytest.mark.parametrize(
    "command",
    [
        ["status", "quad"],
        ["trials", "quad"],
        ["best", "quad"],
        ["show", "quad", "0"],
        ["studies"],
        ["export", "quad"],
        ["report", "quad", "-o", "quad.html"],
    ],
    ids=lambda command: command[0],
)
def test_every_command_reads_its_storage_from_the_storage_file_variable(in_tmp: Path, command: list[str]) -> None:
    url = f"sqlite:///{in_tmp}/shared.db"
    env: dict[str, str | None] = {"TUNESMITH_STORAGE_FILE": str(storage_file(in_tmp, url))}
    assert invoke("run", str(write_config(in_tmp)), "--no-progress", "--no-report", env=env).exit_code == 0

    result = invoke(*command, env=env)

    assert result.exit_code == 0, result.output
    assert not (in_tmp / "tunesmith.db").exists(), "run and the readers use the file's storage, not the default"
    assert ts.Study.names(url) == ["quad"]


def test_run_writes_to_the_storage_the_storage_file_variable_names(in_tmp: Path) -> None:
    url = f"sqlite:///{in_tmp}/shared.db"
    env: dict[str, str | None] = {"TUNESMITH_STORAGE_FILE": str(storage_file(in_tmp, url))}

    result = invoke("run", str(write_config(in_tmp)), "--no-progress", "--no-report", env=env)

    assert result.exit_code == 0, result.output
    assert len(ts.Study.load("quad", url).trials) == 3
    assert not (in_tmp / "tunesmith.db").exists()


def test_the_configs_storage_beats_the_environment(in_tmp: Path) -> None:
    from_config, from_environment = f"sqlite:///{in_tmp}/config.db", f"sqlite:///{in_tmp}/env.db"
    config = write_config(in_tmp, storage=from_config)

    result = invoke("run", str(config), "--no-progress", "--no-report", env={"TUNESMITH_STORAGE": from_environment})

    assert result.exit_code == 0, result.output
    assert ts.Study.names(from_config) == ["quad"]
    assert not (in_tmp / "env.db").exists()
    assert result.stderr.startswith(
        f"storage: {from_config} (from the config's storage, which beats TUNESMITH_STORAGE; --storage overrides both)"
    )


def test_a_storage_written_in_the_config_alone_is_not_repeated(in_tmp: Path) -> None:
    from_config = f"sqlite:///{in_tmp}/config.db"

    result = invoke("run", str(write_config(in_tmp, storage=from_config)), "--no-progress", "--no-report")

    assert result.exit_code == 0, result.output
    assert ts.Study.names(from_config) == ["quad"] and "storage:" not in result.stderr


def test_storage_on_the_command_line_beats_the_config_and_the_environment(in_tmp: Path) -> None:
    given = f"sqlite:///{in_tmp}/given.db"
    config = write_config(in_tmp, storage=f"sqlite:///{in_tmp}/config.db")
    env: dict[str, str | None] = {"TUNESMITH_STORAGE": f"sqlite:///{in_tmp}/env.db"}

    result = invoke("run", str(config), "--storage", given, "--no-progress", "--no-report", env=env)

    assert result.exit_code == 0, result.output
    assert ts.Study.names(given) == ["quad"]
    assert not (in_tmp / "config.db").exists() and not (in_tmp / "env.db").exists()
    assert "storage:" not in result.stderr, "a storage typed on the command line is not repeated"


def test_a_storage_file_on_the_command_line_beats_the_storage_variable(in_tmp: Path) -> None:
    url = f"sqlite:///{in_tmp}/shared.db"
    config = write_config(in_tmp)
    path = storage_file(in_tmp, url)

    result = invoke("run", str(config), "--storage-file", str(path), "--no-progress", "--no-report",
                    env={"TUNESMITH_STORAGE": f"sqlite:///{in_tmp}/env.db"})  # fmt: skip

    assert result.exit_code == 0, result.output
    assert ts.Study.names(url) == ["quad"] and not (in_tmp / "env.db").exists()


def test_a_storage_from_the_environment_or_the_default_is_printed_with_where_it_came_from(in_tmp: Path) -> None:
    url = f"sqlite:///{in_tmp}/env.db"
    invoke("run", str(write_config(in_tmp)), "--no-progress", "--no-report", env={"TUNESMITH_STORAGE": url})

    from_environment = invoke("status", "quad", env={"TUNESMITH_STORAGE": url})
    from_default = invoke("studies")

    assert from_environment.stderr == f"storage: {url} (from TUNESMITH_STORAGE; --storage overrides it)\n"
    assert from_default.stderr.startswith("storage: sqlite:///tunesmith.db (the default;")


def test_json_output_carries_no_storage_note(in_tmp: Path) -> None:
    url = f"sqlite:///{in_tmp}/env.db"
    invoke("run", str(write_config(in_tmp)), "--no-progress", "--no-report", env={"TUNESMITH_STORAGE": url})

    result = invoke("best", "quad", "--json", env={"TUNESMITH_STORAGE": url})

    assert result.stderr == ""
    assert json.loads(result.stdout)["number"] in (0, 1, 2)


def test_both_storage_variables_set_is_refused_with_both_values(in_tmp: Path) -> None:
    env: dict[str, str | None] = {
        "TUNESMITH_STORAGE": f"sqlite:///{in_tmp}/a.db",
        "TUNESMITH_STORAGE_FILE": str(storage_file(in_tmp, f"sqlite:///{in_tmp}/b.db")),
    }

    result = invoke("status", env=env)

    assert result.exit_code == 1
    assert "TUNESMITH_STORAGE=sqlite:///" in result.output and "TUNESMITH_STORAGE_FILE=" in result.output
    assert "unset one, or pass --storage or --storage-file" in result.output


def test_a_sqlite_path_starting_with_a_tilde_is_refused_with_the_expanded_url(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = in_tmp / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))

    with pytest.raises(ts.StorageError) as refused:
        open_storage("sqlite:///~/tilde.db")

    assert f"sqlite:///{home}/tilde.db" in str(refused.value)  # the absolute URL: four slashes
    assert "sqlite:///./~/tilde.db" in str(refused.value)  # for a directory really named ~
    assert not (in_tmp / "~").exists() and not (home / "tilde.db").exists()


def test_run_refuses_a_tilde_storage_and_creates_nothing(in_tmp: Path) -> None:
    result = invoke("run", str(write_config(in_tmp)), "--storage", "sqlite:///~/tilde.db", "--no-progress",
                    "--no-report")  # fmt: skip

    assert result.exit_code == 1
    assert "starts its path with '~'" in result.output and f"sqlite:///{Path.home()}/tilde.db" in result.output
    assert not (in_tmp / "~").exists()


def test_a_directory_really_named_tilde_is_reached_with_a_leading_dot(in_tmp: Path) -> None:
    storage = open_storage("sqlite:///./~/tilde.db")

    assert (in_tmp / "~" / "tilde.db").is_file()
    storage.close()


def test_a_config_run_from_another_directory_says_it_created_a_new_database(in_tmp: Path) -> None:
    """A relative storage is read from the working directory, the objective next to the config: run from the
    parent, the config silently started its study afresh in a second database."""
    project = in_tmp / "proj"
    project.mkdir()
    config = write_config(project, "sqlite:///q.db")
    (project / "objectives.py").write_text((in_tmp / "objectives.py").read_text())
    first = invoke("run", str(config), "--no-progress", "--no-report")
    assert first.exit_code == 0, first.output
    said = f"created a new database {in_tmp / 'q.db'} (a relative sqlite:/// path is read from the working directory"
    assert f"{said}, {in_tmp})" in " ".join(first.output.split())
    again = invoke("run", str(config), "--no-progress", "--no-report")
    assert again.exit_code == 0 and "created a new database" not in again.output, again.output
