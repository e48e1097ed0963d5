"""A config's ``[holdout] watch`` and ``tunesmith finalize --watch`` can watch a metric where higher is better.

Both took bare names alone, minimised. A score such as ``val_accuracy`` was refused with the Python fix
(``ts.Metric('val_accuracy', 'max')``) that neither a config nor the command line can write, and a config's was
refused only once the search had run, when the holdout was about to open. A config entry is now a name or a table
with ``name`` and ``direction``, read when the config is loaded; ``--watch`` takes ``NAME:max``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import tunesmith as ts
from tunesmith.cli import cli
from tunesmith.discipline.sequence import holdout_plan

OBJECTIVES = """
import numpy as np


def objective(trial):
    rng = np.random.default_rng(trial.seed)
    x = trial.params["x"]
    return {"loss": x + 0.01 * rng.random(), "val_accuracy": 0.9 - 0.1 * x + 0.01 * rng.random()}


def evaluate(params, seed):
    return {"loss": params["x"], "val_accuracy": 0.9 - 0.1 * params["x"]}
"""


def config(folder: Path, watch: str) -> Path:
    (folder / "watched.py").write_text(textwrap.dedent(OBJECTIVES))
    path = folder / "w.toml"
    path.write_text(textwrap.dedent(f"""\
        name = "w"
        objective = "watched:objective"
        storage = "sqlite:///{folder / 'w.db'}"
        seed = 0

        [metric]
        name = "loss"
        direction = "min"

        [budget]
        trials = 8

        [space]
        x = {{ type = "float", low = 0.0, high = 1.0 }}

        [holdout]
        evaluate = "watched:evaluate"
        top = 2
        seeds = 2
        watch = {watch}
        """))
    return path


def test_a_score_named_bare_in_a_configs_watch_is_refused_before_the_search(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["run", str(config(tmp_path, '["val_accuracy"]')), "--no-progress",
                                      "--no-report"])  # fmt: skip
    assert result.exit_code == 1, result.output
    assert ("metric 'val_accuracy' reads like a score where higher is better, but a bare name is minimised: write "
            '{ name = "val_accuracy", direction = "max" } as a holdout.watch entry') in " ".join(result.output.split())
    assert not (tmp_path / "w.db").exists()  # refused before the search, not once it had run


def test_a_configs_watch_takes_a_table_with_a_direction_and_the_verdict_watches_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    path = config(tmp_path, '[{ name = "val_accuracy", direction = "max" }, "val_ece"]')
    plan = holdout_plan({"evaluate": "operator:add", "watch": [{"name": "val_accuracy", "direction": "max"}]})
    assert plan.watch == (ts.Metric("val_accuracy", "max"),)
    path.write_text(path.read_text().replace(', "val_ece"', ""))
    result = CliRunner().invoke(cli, ["run", str(path), "--no-progress", "--no-report"])
    assert result.exit_code in (0, 1), result.output
    verdict = ts.Study.load("w", f"sqlite:///{tmp_path / 'w.db'}").attrs["verdict"]
    proxy = next(c for c in verdict["checks"] if c["name"] == "proxy overfitting")
    assert "val_accuracy" in proxy["detail"], proxy


def test_finalize_on_the_command_line_watches_a_score_written_name_colon_max(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    storage = f"sqlite:///{tmp_path / 'c.db'}"
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", storage=storage, name="c", seed=1,
                     budget=ts.Budget(trials=8))  # fmt: skip
    study.optimize(lambda trial: {"loss": trial.params["x"], "val_accuracy": 0.9 - 0.1 * trial.params["x"]
                                  + 0.01 * np.random.default_rng(trial.seed).random()})  # fmt: skip
    (tmp_path / "cli_watch.py").write_text(textwrap.dedent(OBJECTIVES))
    common = ["finalize", "c", "--storage", storage, "--evaluate", "cli_watch:evaluate", "--watch"]
    refused = CliRunner().invoke(cli, [*common, "val_accuracy"])
    assert refused.exit_code == 1, refused.output
    assert "write --watch val_accuracy:max (or val_accuracy:min if lower really is better)" in " ".join(
        refused.output.split())
    assert "holdout_log" not in ts.Study.load("c", storage).attrs  # refused before the holdout opened
    watched = CliRunner().invoke(cli, [*common, "val_accuracy:max"])
    assert watched.exit_code in (0, 1), watched.output
    verdict = ts.Study.load("c", storage).attrs["verdict"]
    proxy = next(c for c in verdict["checks"] if c["name"] == "proxy overfitting")
    assert "val_accuracy" in proxy["detail"], proxy
