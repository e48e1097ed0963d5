"""Two ways a resource budget could fail quietly. A study an older version stored with ``resource=inf`` (no limit,
refused now) must keep loading, read as having no resource limit. And a run that only the resource budget can end
must stop, with one `ConfigError`, when its trials keep failing (fail-fast off) or raising `ts.Infeasible` before
their first report, which spends nothing, while a study with some infeasible region runs on to its budget."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

import tunesmith as ts
from tunesmith.cli import cli
from tunesmith.config import load_config
from tunesmith.errors import ConfigError
from tunesmith.study import ObjectiveError

SPACE = ts.Space({"x": ts.Float(-2.0, 2.0)})


def reports_two_steps(trial: ts.Trial) -> float:
    value = 1.0
    for _ in trial.steps(2):
        value = (trial.params["x"] - 0.5) ** 2
        trial.report(value=value)
    return value


def fails_before_reporting(trial: ts.Trial) -> float:
    raise ValueError("the data loader is broken")


def infeasible_before_reporting(trial: ts.Trial) -> float:
    raise ts.Infeasible("too large for the device")


def _ran_past(limit: int) -> Callable[[ts.Study, ts.TrialRecord], None]:
    """A callback that ends a run which nothing else ended by trial ``limit`` (before the fix: never)."""

    def guard(study: ts.Study, record: ts.TrialRecord) -> None:
        if record.number >= limit:
            raise AssertionError(f"the run went past {limit} trials: nothing ended it")

    return guard


def _resource_only(seed: int = 0, resource: float = 100) -> ts.Study:
    return ts.Study(
        SPACE, metric="value", budget=ts.Budget(resource=resource), storage="memory", seed=seed, sampler="random"
    )


# A study stored with resource=inf by an older version --------------------------------------------------------------


def _stored_with_infinite_resource(url: str, trials_run: int = 0) -> None:
    """Study "old" with a trial budget of 4 and, in its stored spec, resource=inf as older versions wrote it."""
    study = ts.Study(SPACE, metric="value", budget=ts.Budget(trials=4), storage=url, name="old", seed=0,
                     sampler="random")  # fmt: skip
    if trials_run:
        study.optimize(reports_two_steps, n_trials=trials_run)
    spec = dict(study.info.spec)
    spec["budget"] = {**spec["budget"], "resource": math.inf}  # stored as JSON's Infinity
    study.storage.update_study_spec(study.info.id, spec)


def test_a_study_stored_with_an_infinite_resource_budget_loads_with_no_resource_limit(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    _stored_with_infinite_resource(url)
    assert ts.Study.load("old", storage=url).budget == ts.Budget(trials=4)


@pytest.mark.parametrize(("command", "shown"), [("status", "budget: trials 2/4 (50% spent)"), ("best", "best trial #")])
def test_the_cli_reads_a_study_stored_with_an_infinite_resource_budget(
    tmp_path: Path, command: str, shown: str
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    _stored_with_infinite_resource(url, trials_run=2)
    result = CliRunner().invoke(cli, [command, "old", "--storage", url])
    assert result.exit_code == 0, result.output
    assert shown in result.output


def test_a_study_stored_with_an_infinite_resource_budget_runs_on_to_its_trial_budget(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    _stored_with_infinite_resource(url, trials_run=2)
    result = ts.Study.load("old", storage=url).optimize(reports_two_steps)
    assert result.stop_reason.startswith("trial budget spent (4/4)"), result.stop_reason
    assert result.trials_run == 2


def test_a_study_stored_with_an_infinite_resource_budget_can_extend_its_trial_budget(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    _stored_with_infinite_resource(url, trials_run=2)
    ts.Study.load("old", storage=url).extend_budget(trials=6)
    assert ts.Study.load("old", storage=url).budget == ts.Budget(trials=6)


def test_a_config_file_with_an_infinite_resource_budget_is_still_refused(tmp_path: Path) -> None:
    config = tmp_path / "study.toml"
    config.write_text(
        'objective = "objectives:quadratic"\nmetric = { name = "value", direction = "min" }\n'
        '[budget]\nresource = inf\n[space]\nx = { type = "float", low = 0.0, high = 1.0 }\n'
    )
    with pytest.raises(ConfigError, match=r"resource must be a finite number > 0 or None, got resource=inf: pass"):
        load_config(config)


# Trials that end before their first report, failed or infeasible -------------------------------------------------


@pytest.mark.timeout(120)
def test_trials_that_all_fail_before_reporting_with_fail_fast_off_stop_the_run_at_100() -> None:
    study = _resource_only()
    with pytest.raises(ConfigError, match=r"first 100 trials that ended spent 0 of resource=100 \(100 failed before "
                       r"their first report while fail_fast=None\).*turn fail-fast back on"):  # fmt: skip
        study.optimize(fails_before_reporting, fail_fast=None, callbacks=[_ran_past(300)])
    assert len(study.trials) == 100


@pytest.mark.timeout(120)
def test_trials_that_all_raise_infeasible_before_reporting_stop_the_run_at_100() -> None:
    study = _resource_only()
    with pytest.raises(ConfigError, match=r"first 100 trials that ended spent 0 of resource=100 \(100 raised "
                       r"ts\.Infeasible before their first report\); 100 in a row with nothing spent stop the run: "
                       r"that many draws all miss a runnable part of a twentieth of the space 0\.6% of the time, of a "
                       r"tenth 0\.003%.*narrow the space.*cannot tell a space where no configuration runs from one "
                       r"whose runnable part is that small: if some configurations do run, a trial or wall-time limit "
                       r"lets the search go on"):  # fmt: skip
        study.optimize(infeasible_before_reporting, callbacks=[_ran_past(300)])
    assert len(study.trials) == 100


@pytest.mark.timeout(120)
def test_ninety_nine_infeasible_trials_before_the_first_that_spends_do_not_stop_the_run() -> None:
    def runnable_from_the_hundredth(trial: ts.Trial) -> float:
        return infeasible_before_reporting(trial) if trial.number < 99 else reports_two_steps(trial)

    result = _resource_only(resource=10).optimize(runnable_from_the_hundredth, callbacks=[_ran_past(300)])
    assert result.stop_reason.startswith("resource budget spent"), result.stop_reason


@pytest.mark.timeout(120)
def test_trials_infeasible_after_five_that_spent_stop_the_run_twelve_in_a_row() -> None:
    def runs_only_first_five(trial: ts.Trial) -> float:
        return reports_two_steps(trial) if trial.number < 5 else infeasible_before_reporting(trial)

    study = _resource_only()
    with pytest.raises(ConfigError, match=r"the last 12 trials that ended in a row spent 0 \(of the 5 before them, 5 "
                       r"spent some\) of resource=100 \(12 raised ts\.Infeasible before their first report\); "
                       r"averaged over the rates of trials spending 0 that 0 of the 5 before them leave possible "
                       r"\(Beta\(1, 6\), mean 0\.14\), 12 in a row among 17 trials come about 0\.0009 of the time, "
                       r"under 0\.001.*The rate was read from 5 trials"):  # fmt: skip
        study.optimize(runs_only_first_five, callbacks=[_ran_past(300)])
    assert len(study.trials) == 5 + 12


@pytest.mark.timeout(120)
def test_trials_infeasible_after_one_that_spent_stop_the_run_at_the_cap_of_100() -> None:
    """One trial that spent leaves every rate possible: the chance alone went on to 1,999 in a row, where a run
    that spent nothing stops at 100."""

    def runs_only_the_first(trial: ts.Trial) -> float:
        return reports_two_steps(trial) if trial.number < 1 else infeasible_before_reporting(trial)

    study = _resource_only()
    with pytest.raises(ConfigError, match=r"the last 100 trials that ended in a row spent 0 \(of the 1 before them, 1 "
                       r"spent some\).*; 100 in a row stop the run: that many draws all miss a runnable part of a "
                       r"twentieth of the space 0\.6% of the time.*Only 1 of the 1 trials before them spent "
                       r"resource"):  # fmt: skip
        study.optimize(runs_only_the_first, callbacks=[_ran_past(300)])
    assert len(study.trials) == 1 + 100


@pytest.mark.timeout(120)
def test_failed_and_infeasible_trials_count_in_one_streak_with_fail_fast_off() -> None:
    def fails_or_infeasible(trial: ts.Trial) -> float:
        return fails_before_reporting(trial) if trial.number % 2 else infeasible_before_reporting(trial)

    study = _resource_only()
    with pytest.raises(ConfigError, match=r"\(50 raised ts\.Infeasible before their first report, 50 failed before "
                       r"their first report while fail_fast=None\)"):  # fmt: skip
        study.optimize(fails_or_infeasible, fail_fast=None, callbacks=[_ran_past(300)])


@pytest.mark.timeout(120)
def test_with_fail_fast_on_failures_stop_with_its_own_message_even_past_the_streak_rule() -> None:
    study = _resource_only()
    with pytest.raises(ObjectiveError, match=r"the first 20 trials .* failed the same way and none worked"):
        study.optimize(fails_before_reporting, fail_fast=20, callbacks=[_ran_past(200)])


@pytest.mark.timeout(120)
@pytest.mark.parametrize("seed", range(10))
def test_a_space_infeasible_in_half_its_draws_runs_until_the_resource_budget_is_spent(seed: int) -> None:
    def infeasible_below_zero(trial: ts.Trial) -> float:
        return infeasible_before_reporting(trial) if trial.params["x"] < 0.0 else reports_two_steps(trial)

    study = _resource_only(seed=seed, resource=40)
    result = study.optimize(infeasible_below_zero, callbacks=[_ran_past(1000)])
    assert result.stop_reason.startswith("resource budget spent"), result.stop_reason


@pytest.mark.timeout(120)
# Seeds 20-49 hold five (22, 29, 40, 46, 48) that a streak judged at the point estimate of the rate stopped.
@pytest.mark.parametrize("seed", range(20, 50))
def test_a_space_infeasible_in_three_quarters_of_its_draws_runs_until_the_resource_budget_is_spent(seed: int) -> None:
    def infeasible_below_one(trial: ts.Trial) -> float:
        return infeasible_before_reporting(trial) if trial.params["x"] < 1.0 else reports_two_steps(trial)

    study = _resource_only(seed=seed, resource=40)
    result = study.optimize(infeasible_below_one, callbacks=[_ran_past(1000)])
    assert result.stop_reason.startswith("resource budget spent"), result.stop_reason
