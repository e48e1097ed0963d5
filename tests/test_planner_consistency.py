"""The planner agrees with the run it plans: the same reading of a config's budget, the same forecast of how many
configurations train fully, and no advice the run then refutes (an eta that trains no more, PBT on one worker)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import tunesmith as ts
from tunesmith.cli import cli
from tunesmith.config import load_config
from tunesmith.discipline.planner import plan_for_config
from tunesmith.errors import ConfigError
from tunesmith.schedulers import ASHA, PBT, make_scheduler
from tunesmith.schedulers.auto import choose_scheduler
from tunesmith.study import MIN_FULLY_TRAINED, trained_fully
from tunesmith.study._limits import population_note

SPACE = ts.Space({"lr": ts.Float(1e-4, 1e-1, log=True), "wd": ts.Float(1e-6, 1e-2, log=True)})

OBJECTIVE = """
def steps27(trial):
    loss = 1.0
    for step in trial.steps(27):
        loss = (trial.params["x"] - 0.3) ** 2 + 1.0 / (step + 1)
        trial.report(loss=loss)
    return {"loss": loss}
"""

ASHA_CONFIG = """
objective = "objectives_t63:steps27"
seed = 0
[metric]
name = "loss"
[budget]
trials = 30
[scheduler]
name = "asha"
min_resource = 1
max_resource = 27
eta = 3
[space]
x = { type = "float", low = 0.0, high = 1.0 }
"""


@pytest.fixture
def asha_config(tmp_path: Path) -> Path:
    (tmp_path / "objectives_t63.py").write_text(OBJECTIVE)
    path = tmp_path / "asha.toml"
    path.write_text(ASHA_CONFIG)
    return path


def _spread(sentence: str) -> str:
    """The average and spread a forecast sentence states: ``3.1 on average (2-5 in 8 runs of 10)``."""
    found = re.search(r"trains (.+?) (?:of \d+ )?configurations", sentence)
    assert found is not None, sentence
    return found.group(1)


def test_a_config_trial_budget_under_a_rung_scheduler_counts_configurations_as_the_run_does(
    asha_config: Path,
) -> None:
    cfg = load_config(asha_config)
    plan = plan_for_config(cfg)
    assert plan.scheduler == make_scheduler(cfg.scheduler).describe()
    assert plan.budget == cfg.budget and plan.configurations == cfg.budget.trials
    stated = trained_fully(cfg.budget, make_scheduler(cfg.scheduler))
    assert stated is not None and plan.trained_fully == stated[0]
    # 30 configurations under ASHA spend far less than 30 full-length trials: the compute is theirs.
    assert plan.full_trials is not None and plan.full_trials < 30 / 3


def test_tunesmith_plan_states_the_forecast_tunesmith_run_prints_for_the_same_config(asha_config: Path) -> None:
    planned = CliRunner().invoke(cli, ["plan", str(asha_config)])
    assert planned.exit_code == 0, planned.output
    ran = CliRunner().invoke(cli, ["run", str(asha_config), "--storage", "memory", "--no-progress", "--no-report"])
    assert ran.exit_code == 0, ran.output
    forecast = " ".join(ran.output.split())  # rich wraps the line it prints
    assert forecast.startswith("asha trains ")
    assert f"{_spread(forecast)} of 30 configurations" in " ".join(planned.output.split())


def test_the_plan_summary_states_the_budget_and_the_scheduler_settings_it_assumes() -> None:
    plan = ts.plan(SPACE, ts.Budget(trials=40), fidelity=ts.Fidelity(max_resource=50, min_resource=2, eta=3))
    summary = plan.summary()
    assert plan.budget.trials is not None and plan.budget.resource is not None
    assert f"budget assumed: trials={plan.budget.trials}, resource={plan.budget.resource:g}" in summary
    assert "asha (min_resource=2, max_resource=50, eta=3, mode=stop" in summary


def test_the_plan_states_the_average_and_the_spread_of_configurations_trained_fully_as_the_run_does() -> None:
    plan = ts.plan(SPACE, ts.Budget(trials=40), fidelity=50)
    stated = trained_fully(plan.budget, plan.make_scheduler())
    assert stated is not None and plan.trained_fully == stated[0]
    line = next(line for line in plan.summary().splitlines() if "to the full resource" in line)
    assert _spread(stated[1]) in line and "on average" in line and "in 8 runs of 10" in line
    assert f"at least {stated[0]:.3g} configurations train to the full resource in 9 runs of 10" in line


def test_a_rung_scheduler_that_trains_few_fully_stays_and_warns_rather_than_give_way_to_blind_trainings() -> None:
    # The same compute without early stopping trains 10 fully, but 10 drawn blind: on the benchmark's curves the
    # rungs' best few of many ended lower on most seeds (docs/benchmarks.md, "A small budget").
    small = ts.plan(SPACE, ts.Budget(trials=10), fidelity=50)
    assert small.scheduler["name"] == "asha" and small.configurations is not None and small.configurations > 10
    assert small.trained_fully is not None and small.trained_fully < MIN_FULLY_TRAINED
    warning = " ".join(r for r in small.reasons if r.startswith("warning"))
    assert f"fewer than {MIN_FULLY_TRAINED} in more than 1 run of 10" in warning and "the run will warn" in warning
    assert "without early stopping the same compute trains 10 fully, but blind" in warning
    assert not any(r.startswith("fifo") for r in small.reasons)
    assert ts.plan(SPACE, ts.Budget(trials=100), fidelity=50).scheduler["name"] == "asha"


def test_the_plan_advises_no_smaller_eta_when_eta_2_trains_no_more_than_the_minimum() -> None:
    # Four full-length trials: the plan warns that ASHA trains too few fully, and so would FIFO.
    plan = ts.plan(SPACE, ts.Budget(trials=4), fidelity=27)
    warning = next(r for r in plan.reasons if r.startswith("warning"))
    at_two = trained_fully(plan.budget, ASHA(1, 27, 2))
    assert at_two is not None and at_two[0] < MIN_FULLY_TRAINED
    assert "eta" not in warning and "a larger budget helps" in warning


@pytest.mark.parametrize(
    ("scheduler", "budget"),
    [
        (ASHA(1, 27, 3), ts.Budget(trials=30)),
        (ASHA(1, 27, 3, mode="promote"), ts.Budget(trials=30)),
        (ASHA(1, 27, 3), ts.Budget(resource=100)),
    ],
    ids=["trials", "promote-trials", "resource"],
)
def test_the_run_forecast_advises_no_smaller_eta_when_eta_2_trains_too_few_as_well(
    scheduler: ts.ASHA, budget: ts.Budget
) -> None:
    twin = make_scheduler({**scheduler.describe(), "eta": 2})
    at_two = trained_fully(budget, twin)
    assert at_two is not None and at_two[0] < MIN_FULLY_TRAINED
    stated = trained_fully(budget, scheduler)
    assert stated is not None and stated[0] < MIN_FULLY_TRAINED
    assert "eta" not in stated[1]


def test_the_run_forecast_advises_eta_2_with_what_it_trains_when_it_trains_enough() -> None:
    budget = ts.Budget(trials=30)
    at_two = trained_fully(budget, ASHA(1, 4, 2))
    assert at_two is not None and at_two[0] >= MIN_FULLY_TRAINED
    stated = trained_fully(budget, ASHA(1, 4, 3))
    assert stated is not None and stated[0] < MIN_FULLY_TRAINED
    assert f"a smaller eta (eta=2 trains {at_two[0]:g} or more in 9 runs of 10 on this budget)" in stated[1]


def test_pbt_is_not_chosen_for_fewer_workers_than_its_population() -> None:
    needed = PBT().min_population
    alone, why = choose_scheduler(50, adaptive=True, workers=needed - 1)
    assert isinstance(alone, ASHA)
    assert f"pbt needs {needed} trials training at once" in why and f"pass workers={needed} or more" in why
    together, _ = choose_scheduler(50, adaptive=True, workers=needed)
    assert isinstance(together, PBT)


def test_the_plan_for_one_worker_and_adaptive_training_is_one_the_run_can_carry_out() -> None:
    plan = ts.plan(SPACE, ts.Budget(trials=40), workers=1, fidelity=ts.Fidelity(max_resource=50, adaptive=True))
    assert plan.scheduler["name"] != "pbt"
    assert population_note(plan.make_scheduler(), 1) is None
    pbt = next(o for o in plan.options if o.method.value == "pbt")
    assert not pbt.fits and "min_population" in pbt.note


def test_a_resource_budget_without_a_fidelity_is_refused_with_the_fix() -> None:
    with pytest.raises(ConfigError, match=r"Budget\(resource=2000\) came without a fidelity: pass fidelity="):
        ts.plan(SPACE, ts.Budget(resource=2000))


def test_tunesmith_plan_refuses_a_resource_budget_without_a_resource_axis(tmp_path: Path) -> None:
    path = tmp_path / "fifo.toml"
    path.write_text(
        'objective = "objectives:quadratic"\nmetric = "loss"\n[budget]\nresource = 2000\n'
        '[space]\nx = { type = "float", low = 0.0, high = 1.0 }\n'
    )
    refused = CliRunner().invoke(cli, ["plan", str(path)])
    assert refused.exit_code == 1
    assert "resource budget (resource=2000)" in refused.output and "--max-resource" in refused.output
