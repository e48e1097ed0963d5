"""A study with results whose objective failed in some trials says so where it prints them: how many, the commonest
failures with their trials, where their tracebacks are and how to re-queue them (`failed_some_note`).

A run whose objective raised in 5 of its 12 trials ended with exit code 0 and a heading that said "5 failed" and
nothing of why."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import tunesmith as ts
from tunesmith.cli import cli
from tunesmith.dashboard._data import SnapshotCache, snapshot
from tunesmith.report import write_report
from tunesmith.study._optimize import failed_some_note
from tunesmith.trial import TrialKind

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def _flaky(trial: ts.Trial) -> dict[str, float]:
    if trial.number % 3 == 1:
        raise KeyError("sometimes")
    if trial.number % 3 == 2 and trial.number > 6:
        raise ValueError("bad shape (3, 4)")
    return {"loss": trial.params["x"]}


def _said(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False, terminal_width=400)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


@pytest.fixture
def flaky(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, ts.Study]:
    monkeypatch.chdir(tmp_path)  # a short path: the output wraps at 80 columns, and a longer one is cut inside
    url = "sqlite:///flaky.db"
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=12), storage=url, name="flaky", seed=0)
    study.optimize(_flaky)
    return url, study


def test_status_names_the_failures_beside_the_result(flaky: tuple[str, ts.Study]) -> None:
    url, _ = flaky
    said = _said("status", "flaky", "--storage", url)
    assert ("6 of the 12 finished trials failed and gave no result: 4 x KeyError: 'sometimes' (#1, #4, #7, #10); "
            "2 x ValueError: bad shape (3, 4) (#8, #11).") in said  # fmt: skip
    assert f"`tunesmith trials flaky --storage {url} --failed` lists them" in said
    assert f"`tunesmith retry flaky --storage {url}`" in said
    assert said.index("failed and gave no result") < said.index("Best: trial")


def test_the_note_goes_once_a_retry_re_ran_every_failure(flaky: tuple[str, ts.Study]) -> None:
    _, study = flaky
    assert failed_some_note(study.trials, "") is not None
    queued = study.retry_failed()
    assert len(queued) == 6
    study.extend_budget(trials=18)
    study.optimize(lambda trial: {"loss": trial.params["x"]})
    assert failed_some_note(study.trials, "") is None


def test_the_note_names_two_failures_and_counts_the_rest() -> None:
    def three_ways(trial: ts.Trial) -> dict[str, float]:
        if trial.number % 4 == 0:
            return {"loss": trial.params["x"]}
        raise [KeyError, ValueError, TypeError][trial.number % 4 - 1](f"way {trial.number % 4}")

    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=9), storage="memory", seed=0)
    study.optimize(three_ways, fail_fast=None)
    note = failed_some_note(study.trials, "")
    assert note is not None and note.startswith("6 of the 9 finished trials failed")
    assert "; 2 more, failing 1 other ways." in note and "study.retry_failed()" in note


def test_no_note_without_a_result_or_a_failure() -> None:
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=3), storage="memory", seed=0)
    study.optimize(lambda trial: {"loss": trial.params["x"]})
    assert failed_some_note(study.trials, "") is None
    broken = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=3), storage="memory", seed=0)
    with pytest.warns(UserWarning):  # every trial failed: no_feasible_note's to say, not this note's
        broken.optimize(lambda trial: 1 / 0, fail_fast=None)
    assert [r.kind for r in broken.trials] == [TrialKind.EXCEPTION] * 3
    assert failed_some_note(broken.trials, "") is None


def test_the_report_says_what_status_says_of_the_failures(flaky: tuple[str, ts.Study], tmp_path: Path) -> None:
    _, study = flaky
    page = write_report(study, tmp_path / "flaky.html").read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<script.*?</script>", " ", page, flags=re.S)))
    words = " ".join(text.split())
    assert "Failed trials 6 of the 12 finished trials failed and gave no result: 4 x KeyError: 'sometimes'" in words
    assert "`tunesmith trials STUDY --failed` lists them" in words


def test_the_dashboard_carries_the_same_words(flaky: tuple[str, ts.Study]) -> None:
    _, study = flaky
    said = snapshot(study.info, study.trials, SnapshotCache())["failed"]
    assert said == failed_some_note(study.trials, None) and said.startswith("6 of the 12 finished trials failed")


def test_status_json_carries_the_words_status_prints(flaky: tuple[str, ts.Study]) -> None:
    url, _ = flaky
    result = CliRunner().invoke(cli, ["status", "flaky", "--storage", url, "--json"], catch_exceptions=False)
    failed = json.loads(result.output)["failed"]
    assert failed.startswith("6 of the 12 finished trials failed") and " ".join(failed.split()) in _said(
        "status", "flaky", "--storage", url)
