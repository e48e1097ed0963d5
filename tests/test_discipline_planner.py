"""Priors, the planner and ``scheduler="auto"``: the guide's method table, budgets in configurations."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import tunesmith as ts
from tunesmith.cli import cli
from tunesmith.discipline.planner import Method
from tunesmith.errors import ConfigError
from tunesmith.samplers import Auto, SearchContext
from tunesmith.schedulers import ASHA, FIFO, PBT, Hyperband, make_scheduler
from tunesmith.schedulers.auto import AutoScheduler

SPACE = ts.Space(
    {
        "lr": ts.priors.learning_rate(),
        "batch_size": ts.priors.batch_size(),
        "weight_decay": ts.priors.weight_decay(),
        "layers": ts.priors.depth(),
    }
)


def test_priors_follow_the_guide_ranges() -> None:
    assert (ts.priors.learning_rate().low, ts.priors.learning_rate().high, ts.priors.learning_rate().log) == (
        1e-5,
        1e-1,
        True,
    )
    assert ts.priors.batch_size().grid_values() == [32, 64, 128, 256, 512, 1024, 2048, 4096]
    assert (ts.priors.depth().low, ts.priors.depth().high) == (2, 6)
    assert ts.priors.width().grid_values()[0] == 64 and ts.priors.width().grid_values()[-1] == 1024
    assert ts.priors.adam_beta1().contains(0.9) and ts.priors.adam_beta2().contains(0.999)
    assert ts.priors.adam_eps().contains(1e-8)
    assert ts.priors.weight_decay().contains(1e-5) and ts.priors.dropout().contains(0.1)


def test_priors_are_overridable_and_take_conditions() -> None:
    lr = ts.priors.learning_rate(1e-4, 1e-2, when={"optimizer": "sgd"})
    assert (lr.low, lr.high, lr.when) == (1e-4, 1e-2, {"optimizer": "sgd"})
    assert ts.priors.dropout(0.0, 0.5, log=False).contains(0.4)
    with pytest.raises(ts.SpaceError):
        ts.priors.batch_size(64, 32)


def test_a_tiny_space_is_planned_as_a_grid() -> None:
    space = ts.Space({"kernel": ts.Choice(["linear", "rbf"]), "degree": ts.Int(2, 4)})
    plan = ts.plan(space, 50)
    assert plan.sampler == "grid" and plan.scheduler["name"] == "fifo"
    grid = next(o for o in plan.options if o.method is Method.GRID)
    assert grid.fits and grid.configurations == 6


def test_the_sampler_part_agrees_with_auto() -> None:
    for budget, cost in ((60, None), (2000, None), (60, 0.05)):
        plan = ts.plan(SPACE, budget, trial_cost=cost)
        context = SearchContext(metric=ts.Metric("value"), budget=ts.Budget(trials=budget), trial_cost=cost)
        chosen, _ = Auto().choose(SPACE, context)
        assert plan.sampler == chosen.name


def test_under_early_stopping_the_plan_picks_the_sampler_a_study_with_its_scheduler_picks() -> None:
    """The plan's context lacked the rungs, so it offered CMA-ES where a study with the plan's own scheduler and
    budget runs TPE (CMA-ES cannot read trials stopped at a rung)."""
    space = ts.Space({f"x{i}": ts.Float(0.0, 1.0) for i in range(4)})
    plan = ts.plan(space, ts.Budget(trials=40), trial_cost=3600, fidelity=27)
    assert plan.scheduler["name"] == "asha" and plan.budget.trials is not None and plan.budget.trials > 300
    study = ts.Study(space, metric="loss", scheduler=plan.make_scheduler(), budget=plan.budget, storage="memory")
    assert plan.sampler == study.attrs["sampler_choice"]["sampler"]["name"] == "tpe"
    assert "early_signal, an assumption" in " ".join(plan.reasons)


def test_a_budget_smaller_than_the_model_start_is_random_search() -> None:
    plan = ts.plan(SPACE, 4)
    assert plan.sampler == "sobol" and "random search" in plan.reasons[0]


def test_an_early_signal_buys_many_more_configurations_with_asha() -> None:
    plan = ts.plan(SPACE, ts.Budget(trials=100), trial_cost=3600, workers=4, fidelity=81)
    counts = {o.method: o.configurations for o in plan.options}
    assert plan.scheduler["name"] == "asha"
    assert counts[Method.RANDOM] == 100
    assert counts[Method.ASHA] is not None and counts[Method.ASHA] >= 10 * counts[Method.RANDOM]
    assert counts[Method.RANDOM] < (counts[Method.HYPERBAND] or 0) < counts[Method.ASHA]
    assert plan.configurations == counts[Method.ASHA]
    assert plan.budget.trials == counts[Method.ASHA] and plan.budget.resource == 100 * 81
    assert isinstance(plan.make_scheduler(), ASHA)


def test_a_finite_space_the_compute_trains_whole_gets_a_grid_without_early_stopping() -> None:
    """72 configurations, compute for 100 full-length trials: the plan was ASHA over 900 trials ("at least 27 train
    fully"); the run ended after the 72, 5 trained fully and 236 of 2,700 units spent. Every method's count is now
    capped at the space's, and where the compute trains them all the plan is a grid with FIFO."""
    rates = ts.Choice([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    space = ts.Space({"a": ts.Choice(["x", "y", "z"]), "b": ts.Int(1, 4), "c": rates})
    covered = ts.plan(space, ts.Budget(trials=100), fidelity=27)
    assert (covered.sampler, covered.scheduler["name"], covered.configurations) == ("grid", "fifo", 72)
    assert all(o.configurations in (None, 72) for o in covered.options)
    assert next(o for o in covered.options if o.method is Method.GRID).fits
    assert "the space holds 72 configurations and this compute trains 72 to the full resource" in covered.summary()
    partial = ts.plan(space, ts.Budget(trials=30), fidelity=27)
    assert max(o.configurations or 0 for o in partial.options) == 72 and partial.configurations <= 72


def test_an_uncertain_signal_gets_hyperband_and_none_gets_fifo() -> None:
    assert ts.plan(SPACE, 100, fidelity=ts.Fidelity(27, early_signal=None)).scheduler["name"] == "hyperband"
    fifo = ts.plan(SPACE, 100, fidelity=ts.Fidelity(27, early_signal=False))
    assert fifo.scheduler["name"] == "fifo" and "late bloomers" in fifo.reasons[-1]
    assert ts.plan(SPACE, 100).scheduler["name"] == "fifo"


def test_long_adaptive_runs_get_pbt() -> None:
    fidelity = {"max_resource": 100, "adaptive": True}
    plan = ts.plan(SPACE, ts.Budget(wall_time="10h"), trial_cost=600, workers=8, fidelity=fidelity)
    assert plan.scheduler["name"] == "pbt"
    assert plan.full_trials == pytest.approx(10 * 3600 * 8 / 600)
    assert "pbt" in plan.reasons[-1]
    assert "scheduler='pb2' chooses each replacement's hyperparameters by a model" in plan.reasons[-1]


def test_plan_refuses_what_it_cannot_count() -> None:
    with pytest.raises(ConfigError, match="trial_cost"):
        ts.plan(SPACE, ts.Budget(wall_time="1h"))
    with pytest.raises(ConfigError, match="workers"):
        ts.plan(SPACE, 10, workers=0)
    with pytest.raises(ConfigError, match="trial_cost"):
        ts.plan(SPACE, 10, trial_cost=-1.0)


def test_the_plan_is_json_and_text() -> None:
    plan = ts.plan(SPACE, 100, fidelity=27)
    assert json.loads(json.dumps(plan.to_json()))["scheduler"]["name"] == "asha"
    assert "configurations the budget buys" in plan.summary()


def test_scheduler_auto_resolves_like_the_planner() -> None:
    assert isinstance(make_scheduler("auto").chosen, FIFO)
    assert isinstance(make_scheduler({"name": "auto", "max_resource": 27}).chosen, ASHA)
    assert isinstance(AutoScheduler(max_resource=27, early_signal=None).chosen, Hyperband)
    assert isinstance(AutoScheduler(max_resource=100, adaptive=True).chosen, PBT)
    with pytest.raises(ConfigError):
        AutoScheduler(max_resource=27, early_signal="maybe")  # type: ignore[arg-type]


def test_a_study_with_scheduler_auto_stops_poor_trials_and_resumes_alike() -> None:
    space = ts.Space({"x": ts.Float(0.0, 1.0)})

    def objective(trial: ts.Trial) -> float:
        loss = 1.0
        for step in trial.steps(9):
            loss = (trial.params["x"] - 0.3) ** 2 + 1.0 / (step + 1)
            trial.report(loss=loss)
        return loss

    storage = "memory"
    study = ts.Study(space, metric="loss", sampler="random", scheduler={"name": "auto", "max_resource": 9},
                     budget=ts.Budget(trials=12), storage=storage, seed=0)  # fmt: skip
    study.optimize(objective)
    states = {r.state for r in study.trials}
    assert ts.TrialState.STOPPED in states and ts.TrialState.COMPLETE in states
    again = ts.Study.load(study.name, study.storage)
    assert isinstance(again.scheduler, AutoScheduler) and isinstance(again.scheduler.chosen, ASHA)


def test_cli_plan_prints_the_recommendation(tmp_path: Path) -> None:
    config = tmp_path / "study.toml"
    config.write_text(
        'objective = "objectives:quadratic"\nworkers = 2\n[metric]\nname = "loss"\n[budget]\ntrials = 500\n'
        '[scheduler]\nname = "asha"\nmax_resource = 27\n[space]\nx = { type = "float", low = 0.0, high = 1.0 }\n'
    )
    result = CliRunner().invoke(cli, ["plan", str(config), "--trial-cost", "60", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["scheduler"]["name"] == "asha" and data["configurations"] == 500
    text = CliRunner().invoke(cli, ["plan", str(config), "--early-signal", "no"])
    assert text.exit_code == 0 and "scheduler: fifo" in text.output
    bare = tmp_path / "bare.toml"
    bare.write_text(
        'objective = "objectives:quadratic"\nmetric = "loss"\n[space]\nx = { type = "float", low = 0, high = 1 }\n'
    )
    refused = CliRunner().invoke(cli, ["plan", str(bare)])
    assert refused.exit_code == 1 and "--trials" in refused.output
    alone = CliRunner().invoke(cli, ["plan", str(bare), "--trials", "20", "--min-resource", "3"])
    assert alone.exit_code == 1 and "min_resource=3 needs a resource axis" in alone.output, "not dropped silently"
    assert "--max-resource" in alone.output


def test_a_small_budget_names_the_optimizer_details_to_leave_at_their_defaults() -> None:
    space = ts.Space({"lr": ts.priors.learning_rate(), "weight_decay": ts.priors.weight_decay(),
                      "optim.beta1": ts.priors.adam_beta1(), "optim.beta2": ts.priors.adam_beta2()})  # fmt: skip
    small = [r for r in ts.plan(space, 30, trial_cost=60).reasons if "ranks" in r]
    assert len(small) == 1
    assert "30 configurations for 4 parameters" in small[0]
    assert "optim.beta1 (default 0.9), optim.beta2 (default 0.999) are named like optimizer details" in small[0]
    assert "lr (default" not in small[0] and "weight_decay (default" not in small[0]  # only the low-priority ones
    # Ten configurations per parameter are enough to tune them all; a space without such names gets no note.
    assert not [r for r in ts.plan(space, 40, trial_cost=60).reasons if "ranks" in r]
    plain = ts.Space({"lr": ts.priors.learning_rate(), "steps": ts.Int(1, 9), "clr": ts.Float(0.1, 1.0)})
    assert not [r for r in ts.plan(plain, 5, trial_cost=60).reasons if "ranks" in r]


def test_a_parameter_name_points_to_its_place_in_the_guides_hierarchy() -> None:
    from tunesmith.discipline.priors import priority_of

    assert priority_of("lr") is not None and priority_of("lr")[:2] == ("learning_rate", "critical")  # type: ignore[index]
    assert priority_of("head_lr")[0] == "learning_rate"  # type: ignore[index]
    assert priority_of("optimizer.beta2")[:2] == ("adam_beta2", "low")  # type: ignore[index]
    assert priority_of("momentum")[1] == "low"  # type: ignore[index]
    assert priority_of("num_layers")[0] == "depth"  # type: ignore[index]
    for unrelated in ("steps", "clr", "n_estimators", "max_depth_ratio"):
        assert priority_of(unrelated) is None, unrelated


def test_the_configurations_planned_under_asha_are_the_ones_its_run_evaluates() -> None:
    """The steady share (3 of 27 units a configuration) planned 180 configurations on 540 units; the run's first
    trials go on among few peers and cost more, so it spent the units after about 160, short of the plan. The
    count now comes from the scheduler's deck, as the run plays it."""
    space = ts.Space({"a": ts.Float(0.0, 1.0), "b": ts.Float(0.0, 1.0)})
    planned = ts.plan(space, ts.Budget(trials=20), fidelity=27)
    assert planned.scheduler["name"] == "asha" and planned.budget.trials == planned.configurations
    evaluated = []
    for seed in range(5):
        rng = np.random.default_rng(seed)

        def objective(trial: ts.Trial, rng: np.random.Generator = rng) -> float:
            value = 0.0
            for step in trial.steps(27):
                value = 1 / (step + 1) + (trial.params["a"] - 0.3) ** 2 + 0.05 * float(rng.normal())
                trial.report(loss=value)
            return value

        study = ts.Study(space, metric="loss", storage="memory", seed=seed, budget=planned.budget, sampler="random",
                         scheduler=planned.scheduler)  # fmt: skip
        study.optimize(objective)
        evaluated.append(len(study.trials))
    # a median over the runs: one that meets several slow starters early spends the units sooner
    assert float(np.median(evaluated)) >= 0.97 * (planned.configurations or 0), (evaluated, planned.configurations)
