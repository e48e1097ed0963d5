"""`tunesmith best` says which trials the best cannot be told from, as `status` does: it named one of eight exact
ties "best trial #0" with no word of the others (text, and `"note": null` in --json)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

import tunesmith as ts
from tunesmith.cli import cli


def _ties(tmp_path: Path) -> str:
    """Ten trials of which every ``x >= 0.2`` scores 0.9 on 200 examples: exact ties at the best."""
    url = f"sqlite:///{tmp_path}/ties.db"

    def objective(trial: ts.Trial) -> dict[str, np.ndarray]:
        right = 180 if trial.params["x"] >= 0.2 else 120
        return {"acc": np.r_[np.ones(right), np.zeros(200 - right)]}

    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric=ts.Metric("acc", "max"), budget=ts.Budget(trials=10),
                     storage=url, name="ties", seed=0, sampler="random")  # fmt: skip
    study.optimize(objective)
    return url


def test_best_names_the_trials_that_tie_with_the_best_as_status_does(tmp_path: Path) -> None:
    url = _ties(tmp_path)
    text = " ".join(CliRunner().invoke(cli, ["best", "ties", "--storage", url], catch_exceptions=False).output.split())
    status = " ".join(CliRunner().invoke(cli, ["status", "ties", "--storage", url]).output.split())
    said = "trials tie exactly at the best's acc = 0.9"
    assert said in text and said in status, text
    assert "nothing in the results tells them apart, and the earliest, #0, is shown as best" in text


def test_best_json_carries_the_ties(tmp_path: Path) -> None:
    url = _ties(tmp_path)
    record = json.loads(CliRunner().invoke(cli, ["best", "ties", "--storage", url, "--json"]).output)
    assert record["number"] == 0 and "trials tie exactly at the best's acc = 0.9" in record["ties"]


def test_the_noise_note_names_the_searchs_best_when_the_re_runs_picked_another(tmp_path: Path) -> None:
    """The re-runs picked #0 over the search's best #1: the note said "#0 lie within two standard errors of the best",
    the shown best tied with itself."""
    url = f"sqlite:///{tmp_path}/picked.db"

    def objective(trial: ts.Trial) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(trial.seed % 2**32)
        return {"acc": rng.random(300) < 0.8 + 0.05 * trial.params["x"]}

    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric=ts.Metric("acc", "max"), budget=ts.Budget(trials=2),
                     storage=url, name="picked", seed=0)  # fmt: skip
    study.optimize(objective)
    report = ts.validate_top(study, objective, k=2, seeds=3, progress=False)
    searched = study.best
    assert searched is not None and report.winner is not None and report.winner.trial != searched.number
    result = CliRunner().invoke(cli, ["best", "picked", "--storage", url])
    text = " ".join(result.output.split())
    assert f"within two standard errors of the search's best, #{searched.number}'s, acc" in text, text
