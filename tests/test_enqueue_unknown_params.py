"""`enqueue` refuses a parameter a study with a given space would never read: its trial's record would claim a
configuration that never ran."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

import tunesmith as ts
from tunesmith.attributes import EnqueuedAttr, read_attr
from tunesmith.cli import cli


def test_enqueue_refuses_a_name_the_given_space_lacks_once_completed_trials_asked_for_none(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/eq.db"
    study = ts.Study(ts.Space({"x": ts.Float(0, 1)}), metric="loss", storage=url, name="eq", sampler="random")
    study.optimize(lambda trial: {"loss": trial.params["x"]}, n_trials=1)

    result = CliRunner().invoke(cli, ["enqueue", "--study", "eq", "--storage", url, "lr=0.5"])

    assert result.exit_code == 1, result.output
    assert result.output.startswith(
        "Error: enqueue: 'lr' is not a parameter of the space, got lr=0.5: the space has x; study 'eq' was given "
        "its space up front and its completed trial asked for no other parameter by name, so no trial would read "
        "a new one"
    ), result.output
    assert "add the parameter to the space" in result.output
    assert read_attr(ts.Study.load("eq", url).attrs, EnqueuedAttr) is None, "nothing was queued"


def test_the_refusal_of_a_new_name_names_the_closest_parameter(tmp_path: Path) -> None:
    space = ts.Space({"learning_rate": ts.Float(1e-4, 1e-1, log=True), "layers": ts.Int(1, 4)})
    study = ts.Study(space, metric="loss", storage=f"sqlite:///{tmp_path}/c.db", name="c", sampler="random")
    study.optimize(lambda trial: {"loss": trial.params["learning_rate"]}, n_trials=1)

    result = CliRunner().invoke(cli, ["enqueue", "--study", "c", "--storage", study.storage.url, "learningrate=0.01"])

    assert result.exit_code == 1, result.output
    assert "did you mean 'learning_rate'? the space has learning_rate, layers; study 'c' was given" in result.output
