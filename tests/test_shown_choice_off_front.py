"""A choice recorded from the Pareto front that a later trial dominates is said to be off the front wherever the
choice is shown (`tunesmith best` and `status`, the HTML report, the dashboard): by which trials, whether beyond the
recorded noise, and how to choose again."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import tunesmith as ts
from tunesmith.cli import cli
from tunesmith.dashboard._data import SnapshotCache, snapshot
from tunesmith.report import render_report

SPACE = ts.Space({"x0": ts.Float(0.0, 1.0), "x1": ts.Float(0.0, 1.0)})
OBJECTIVES = [ts.Metric("error"), ts.Metric("latency_ms")]


def trade_off(trial: ts.Trial) -> dict[str, float]:
    """x0 trades error for latency; x1 only makes both worse, so x1 = 0 dominates any x1 > 0 at the same x0."""
    x0, x1 = trial.params["x0"], trial.params["x1"]
    return {"error": x0 + x1, "latency_ms": 10 * (1 - x0) + 10 * x1}


def wide_noise(trial: ts.Trial) -> dict[str, Any]:
    """`trade_off` measured per example with a spread far larger than any difference between trials."""
    exact = trade_off(trial)
    return {name: [value - 50.0, value + 50.0] for name, value in exact.items()}


def _dominated_choice(url: str, name: str, objective: Any) -> tuple[ts.Study, int, int]:
    """12 trials, a knee chosen, then one trial that dominates the choice: (study, chosen, dominating)."""
    study = ts.Study(SPACE, metrics=OBJECTIVES, budget=ts.Budget(trials=13), storage=url, name=name, seed=0,
                     sampler="random")  # fmt: skip
    study.optimize(objective, n_trials=12)
    chosen = study.choose(ts.choose.knee())
    assert chosen.params["x1"] > 0
    study.enqueue({"x0": chosen.params["x0"], "x1": 0.0})
    study.optimize(objective, n_trials=1)
    study = ts.Study.load(name, url)
    dominating = study.trials[-1].number
    assert dominating in {r.number for r in study.pareto_front}
    assert chosen.number not in {r.number for r in study.pareto_front}
    return study, chosen.number, dominating


@pytest.fixture(scope="module")
def dominated(tmp_path_factory: pytest.TempPathFactory) -> tuple[ts.Study, str, int, int]:
    url = f"sqlite:///{tmp_path_factory.mktemp('front') / 'later.db'}"
    study, chosen, dominating = _dominated_choice(url, "later", trade_off)
    return study, url, chosen, dominating


def _check(text: str, chosen: int, dominating: int) -> None:
    text = " ".join(text.split())
    assert f"the chosen trial #{chosen} (error " in text
    assert "is no longer on the Pareto front: dominated by " in text
    assert f"dominated by #{dominating} (error " in text
    assert "choose again from the front as it is now: study.choose(ts.choose.knee())" in text


def test_best_says_the_choice_left_the_front_and_by_which_trial(dominated: tuple[ts.Study, str, int, int]) -> None:
    """It printed '* chosen: trial #11 (knee point ...)' under a front that no longer held trial 11."""
    _, url, chosen, dominating = dominated
    result = CliRunner().invoke(cli, ["best", "later", "--storage", url], catch_exceptions=False)
    _check(result.output, chosen, dominating)


def test_best_json_carries_the_note_beside_the_choice(dominated: tuple[ts.Study, str, int, int]) -> None:
    _, url, chosen, dominating = dominated
    result = CliRunner().invoke(cli, ["best", "later", "--storage", url, "--json"], catch_exceptions=False)
    data = json.loads(result.output)
    assert data["chosen"] == chosen
    _check(data["choice_off_front"], chosen, dominating)


def test_status_says_the_choice_left_the_front(dominated: tuple[ts.Study, str, int, int]) -> None:
    _, url, chosen, dominating = dominated
    result = CliRunner().invoke(cli, ["status", "later", "--storage", url], catch_exceptions=False)
    _check(result.output, chosen, dominating)


def test_the_html_reports_front_section_says_the_choice_left_it(dominated: tuple[ts.Study, str, int, int]) -> None:
    study, _, chosen, dominating = dominated
    section = re.search(r"<h2>Pareto front</h2>(.*?)</section>", render_report(study), flags=re.S)
    assert section is not None
    _check(html.unescape(re.sub(r"<[^>]+>", " ", section.group(1))), chosen, dominating)


def test_the_dashboards_front_says_the_choice_left_it(dominated: tuple[ts.Study, str, int, int]) -> None:
    study, _, chosen, dominating = dominated
    front = snapshot(study.info, study.trials, SnapshotCache())["front"]
    assert front["chosen"] == chosen
    _check(front["off_front"], chosen, dominating)


def test_a_choice_still_on_the_front_gets_no_such_note() -> None:
    study = ts.Study(SPACE, metrics=OBJECTIVES, budget=ts.Budget(trials=12), storage="memory", seed=0,
                     sampler="random")  # fmt: skip
    study.optimize(trade_off)
    study.choose(ts.choose.knee())
    assert snapshot(study.info, study.trials, SnapshotCache())["front"]["off_front"] is None


def test_a_domination_within_the_recorded_noise_is_said_to_be_within_it(tmp_path: Path) -> None:
    """The verdict's front check calls such a domination undecided; the views must not call it more than that."""
    url = f"sqlite:///{tmp_path / 'noisy.db'}"
    _, chosen, dominating = _dominated_choice(url, "noisy", wide_noise)
    result = CliRunner().invoke(cli, ["best", "noisy", "--storage", url], catch_exceptions=False)
    _check(result.output, chosen, dominating)
    assert "but only within the recorded noise of the objectives" in " ".join(result.output.split())
