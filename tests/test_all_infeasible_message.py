"""When trials finished but every one broke a guardrail (INFEASIBLE), `status`, `best`, the HTML report, the
dashboard and `study.optimize` say so: how many, which guardrails they broke and how many broke each, and what to
change."""

from __future__ import annotations

import html
import re
import warnings

import pytest
from click.testing import CliRunner

import tunesmith as ts
from tunesmith.cli import cli
from tunesmith.dashboard._data import SnapshotCache, snapshot
from tunesmith.report import render_report, report_data
from tunesmith.report._shown import no_feasible_note
from tunesmith.study._optimize import NoFeasibleTrialWarning

SPACE = ts.Space({"x0": ts.Float(0.0, 1.0), "x1": ts.Float(0.0, 1.0)})
UNMET = ts.Guardrail("latency_ms", "<=", 5.0)  # latency runs from 10 to 21: nobody meets it


def slow(trial: ts.Trial) -> dict[str, float]:
    x0, x1 = trial.params["x0"], trial.params["x1"]
    return {"error": x0, "latency_ms": 10 + 10 * (1 - x0) + x1}


def _study(url: str, name: str, metrics: list[str], guardrails: list[ts.Guardrail]) -> ts.Study:
    """15 trials of `slow` with ``metrics`` as objectives (one: a single-objective study) under ``guardrails``."""
    study = ts.Study(SPACE, metrics=metrics, guardrails=guardrails, budget=ts.Budget(trials=15), storage=url,
                     name=name, seed=0, sampler="random")  # fmt: skip
    with pytest.warns(NoFeasibleTrialWarning):  # what it says is specified below
        study.optimize(slow)
    assert {r.state for r in study.trials} == {ts.TrialState.INFEASIBLE}
    return study


@pytest.fixture(scope="module")
def nobody(tmp_path_factory: pytest.TempPathFactory) -> tuple[ts.Study, str]:
    """Two objectives, one guardrail no trial meets."""
    url = f"sqlite:///{tmp_path_factory.mktemp('infeasible') / 'nobody.db'}"
    return _study(url, "nobody", ["error", "latency_ms"], [UNMET]), url


def _nearest(study: ts.Study) -> str:
    record = min(study.trials, key=lambda r: (r.metrics["latency_ms"], r.number))
    return f"the nearest to it latency_ms = {record.metrics['latency_ms']:.3g} (trial #{record.number})"


def _check(text: str, study: ts.Study) -> None:
    text = " ".join(text.split())
    assert "no feasible trial: a trial must meet every guardrail, and all 15 trials that finished with results are " \
           "INFEASIBLE: latency_ms <= 5 broken by 15 of 15" in text  # fmt: skip
    assert _nearest(study) in text
    assert "Relax the bound, or change the space toward configurations that meet it" in text


def test_status_names_the_guardrail_every_trial_broke(nobody: tuple[ts.Study, str]) -> None:
    """It said "No trial has completed with every objective finite yet", as if more trials might help."""
    study, url = nobody
    result = CliRunner().invoke(cli, ["status", "nobody", "--storage", url], catch_exceptions=False)
    _check(result.output, study)
    assert "No trial has completed" not in result.output


def test_best_fails_naming_the_guardrail_every_trial_broke(nobody: tuple[ts.Study, str]) -> None:
    study, url = nobody
    result = CliRunner().invoke(cli, ["best", "nobody", "--storage", url])
    assert result.exit_code == 1
    _check(result.output, study)


def test_the_html_report_names_the_guardrail_every_trial_broke(nobody: tuple[ts.Study, str]) -> None:
    study, _ = nobody
    section = re.search(r"<h2>Pareto front</h2>(.*?)</section>", render_report(study), flags=re.S)
    assert section is not None
    _check(html.unescape(re.sub(r"<[^>]+>", " ", section.group(1))), study)


def test_the_dashboard_names_the_guardrail_every_trial_broke(nobody: tuple[ts.Study, str]) -> None:
    study, _ = nobody
    _check(snapshot(study.info, study.trials, SnapshotCache())["no_feasible"], study)


def test_one_objective_gets_the_same_message_from_status_and_best(tmp_path_factory: pytest.TempPathFactory) -> None:
    url = f"sqlite:///{tmp_path_factory.mktemp('infeasible') / 'single.db'}"
    study = _study(url, "single", ["error"], [UNMET])
    runner = CliRunner()
    for command in ("status", "best"):
        _check(runner.invoke(cli, [command, "single", "--storage", url]).output, study)


def test_each_guardrail_broken_is_named_with_how_many_broke_it(tmp_path_factory: pytest.TempPathFactory) -> None:
    """A trial is recorded INFEASIBLE for the first guardrail it breaks; the message counts every one it broke."""
    url = f"sqlite:///{tmp_path_factory.mktemp('infeasible') / 'two.db'}"
    study = _study(url, "two", ["error"], [UNMET, ts.Guardrail("error", ">=", 0.5)])
    low_error = sum(r.metrics["error"] < 0.5 for r in study.trials)
    assert 0 < low_error < 15
    text = " ".join(CliRunner().invoke(cli, ["status", "two", "--storage", url]).output.split())
    assert "latency_ms <= 5 broken by 15 of 15" in text
    assert f"error >= 0.5 broken by {low_error} of 15" in text


@pytest.mark.parametrize("metrics", [["error"], ["error", "latency_ms"]], ids=["one objective", "two objectives"])
def test_optimize_warns_as_status_says_once_the_budget_is_spent_with_no_feasible_trial(metrics: list[str]) -> None:
    """`study.optimize` returned quietly, where `tunesmith run` exits 1; it warns, and the result's notes say it."""
    study = ts.Study(SPACE, metrics=metrics, guardrails=[UNMET], budget=ts.Budget(trials=15), storage="memory",
                     name="api", seed=0, sampler="random")  # fmt: skip
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        result = study.optimize(slow)
    (warned,) = [str(w.message) for w in said if issubclass(w.category, NoFeasibleTrialWarning)]
    _check(warned, study)
    assert no_feasible_note(report_data(study)) in warned, "word for word what status and best say"
    assert warned in result.notes


def test_the_no_result_warning_points_at_the_line_that_called_optimize() -> None:
    """So Python's default filter says it once per calling line, not once per process for every study."""
    study = ts.Study(SPACE, metric="error", guardrails=[UNMET], budget=ts.Budget(trials=3), storage="memory", seed=0)
    with pytest.warns(NoFeasibleTrialWarning) as said:
        study.optimize(slow)
    assert [w.filename for w in said] == [__file__]


def test_the_nearest_value_is_printed_with_the_digits_that_show_it_broke_the_bound() -> None:
    """20.0004 under latency_ms <= 20 printed as 20 reads as a trial that met it."""
    study = ts.Study(SPACE, metric="error", guardrails=[ts.Guardrail("latency_ms", "<=", 20.0)],
                     budget=ts.Budget(trials=3), storage="memory", seed=0)  # fmt: skip
    with pytest.warns(NoFeasibleTrialWarning) as said:
        study.optimize(lambda trial: {"error": trial.params["x0"], "latency_ms": 20.0004 + 1e-4 * trial.params["x1"]})
    printed = re.search(r"the nearest to it latency_ms = (\S+) \(trial", str(said[0].message))
    assert printed is not None and float(printed.group(1)) > 20.0
