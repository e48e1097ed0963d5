"""A resource budget is spent by the steps trials report. When it is the only thing that could end a run and the
trials keep ending without spending any, the run stops with a `ConfigError` instead of going on for ever; an
infinite resource budget, which nothing spends, is refused as an infinite trial or wall-time budget is."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import tunesmith as ts
from tunesmith.cli import cli
from tunesmith.errors import ConfigError

SPACE = ts.Space({"x": ts.Float(-2.0, 2.0)})


def _study(budget: ts.Budget, **kwargs: Any) -> ts.Study:
    return ts.Study(SPACE, metric="value", budget=budget, storage="memory", seed=0, sampler="random", **kwargs)


def _ran_past(limit: int) -> Callable[[ts.Study, ts.TrialRecord], None]:
    """A callback that ends a run which nothing else ended by trial ``limit`` (before the fix: never)."""

    def guard(study: ts.Study, record: ts.TrialRecord) -> None:
        if record.number >= limit:
            raise AssertionError(f"the run went past {limit} trials: nothing ended it")

    return guard


def returns_without_reporting(trial: ts.Trial) -> float:
    return (trial.params["x"] - 0.5) ** 2


def reports_two_steps(trial: ts.Trial) -> float:
    value = 1.0
    for _ in trial.steps(2):
        value = (trial.params["x"] - 0.5) ** 2
        trial.report(value=value)
    return value


def test_trials_that_report_no_step_stop_a_resource_budget_after_the_first_three() -> None:
    study = _study(ts.Budget(resource=100))
    with pytest.raises(ConfigError, match=r"furthest step it passes to trial\.report.*first 3 trials that ended "
                       r"spent 0 of resource=100.*give a trial or wall-time limit"):  # fmt: skip
        study.optimize(returns_without_reporting, callbacks=[_ran_past(50)])


def test_the_trials_run_before_the_unspent_stop_stay_recorded() -> None:
    study = _study(ts.Budget(resource=100))
    with pytest.raises(ConfigError):
        study.optimize(returns_without_reporting, callbacks=[_ran_past(50)])
    assert [r.state for r in study.trials] == [ts.TrialState.COMPLETE] * 3


def test_trials_that_stop_reporting_after_some_spent_stop_the_run_ten_in_a_row() -> None:
    def reports_only_first(trial: ts.Trial) -> float:
        return reports_two_steps(trial) if trial.number == 0 else returns_without_reporting(trial)

    study = _study(ts.Budget(resource=100))
    with pytest.raises(ConfigError, match=r"the last 10 trials that ended in a row spent 0 \(of the 1 before them, 1 "
                       r"spent some\) of resource=100"):  # fmt: skip
        study.optimize(reports_only_first, callbacks=[_ran_past(50)])
    assert len(study.trials) == 11


def test_trials_of_an_earlier_call_that_spent_nothing_count_toward_the_stop() -> None:
    study = _study(ts.Budget(resource=100))
    study.optimize(returns_without_reporting, n_trials=2)
    with pytest.raises(ConfigError, match="the first 3 trials that ended spent 0"):
        study.optimize(returns_without_reporting, callbacks=[_ran_past(50)])
    assert len(study.trials) == 3


def test_a_few_trials_failed_before_their_first_report_do_not_stop_the_run() -> None:
    def fails_first(trial: ts.Trial) -> float:
        if trial.number < 3:
            raise ValueError("the data is not there yet")
        return reports_two_steps(trial)

    study = _study(ts.Budget(resource=10))
    result = study.optimize(fails_first, fail_fast=None, callbacks=[_ran_past(50)])
    assert result.stop_reason.startswith("resource budget spent"), result.stop_reason


def test_a_few_configurations_declared_infeasible_before_their_first_report_do_not_stop_the_run() -> None:
    def infeasible_first(trial: ts.Trial) -> float:
        if trial.number < 3:
            raise ts.Infeasible("too large for the device")
        return reports_two_steps(trial)

    study = _study(ts.Budget(resource=10))
    result = study.optimize(infeasible_first, callbacks=[_ran_past(50)])
    assert result.stop_reason.startswith("resource budget spent"), result.stop_reason


def test_under_asha_trials_that_report_no_step_stop_with_the_error_rather_than_only_a_warning() -> None:
    study = _study(ts.Budget(resource=200), scheduler=ts.ASHA(min_resource=1, max_resource=9, eta=3))
    with pytest.raises(ConfigError, match="the first 3 trials that ended spent 0 of resource=200"):
        study.optimize(returns_without_reporting, callbacks=[_ran_past(50)])


def sleeps_without_reporting(trial: ts.Trial) -> float:
    time.sleep(0.05)
    return returns_without_reporting(trial)


@pytest.mark.parametrize(
    ("budget", "limits"),
    [
        (ts.Budget(resource=100, trials=5), {}),
        (ts.Budget(resource=100, wall_time=0.3), {}),
        (ts.Budget(resource=100), {"n_trials": 5}),
        (ts.Budget(resource=100), {"timeout": 0.3}),
    ],
    ids=["trials", "wall_time", "n_trials", "timeout"],
)
def test_any_other_limit_lets_trials_that_spend_nothing_run_to_it(budget: ts.Budget, limits: dict[str, Any]) -> None:
    result = _study(budget).optimize(sleeps_without_reporting, callbacks=[_ran_past(50)], **limits)
    assert result.trials_run > 3


def test_an_infinite_resource_budget_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"resource must be a finite number > 0 or None, got resource=inf: pass"):
        ts.Budget(resource=float("inf"))


def test_extend_refuses_an_infinite_resource_and_keeps_the_stored_budget(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    ts.Study(SPACE, metric="value", budget=ts.Budget(resource=10), storage=url, name="s", seed=0)
    result = CliRunner().invoke(cli, ["extend", "s", "--storage", url, "--resource", "inf"])
    assert result.exit_code == 1, result.output
    assert "got resource=inf" in result.output
    assert ts.Study.load("s", storage=url).budget.resource == 10
