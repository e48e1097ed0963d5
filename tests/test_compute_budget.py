"""The compute budget: trial time times the devices each trial held (GPU-hours, or trial-hours without GPUs), which
every trial running at once spends, unlike wall time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import tunesmith as ts
from tunesmith.budget import Budget, compute_time, running_time
from tunesmith.cli import cli
from tunesmith.config import load_config
from tunesmith.errors import ConfigError
from tunesmith.executors import SimulatedExecutor
from tunesmith.trial import TrialRecord, TrialState

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def ten_steps(trial: ts.Trial) -> Iterator[tuple[float, dict[str, float]]]:
    """Ten steps of one simulated second each."""
    for step in range(trial.step, 10):
        yield 1.0, {"loss": (trial.params["x"] - 0.3) ** 2 + 1.0 / (step + 1)}


def test_trials_running_at_once_each_spend_it_and_a_gpu_counts_per_device() -> None:
    two_gpus = {"gpus": ["0", "1"]}
    records = [
        TrialRecord(0, {"x": 0.1}, 1, TrialState.COMPLETE, started_at=0.0, finished_at=10.0, attrs=two_gpus),
        TrialRecord(1, {"x": 0.2}, 2, TrialState.COMPLETE, started_at=5.0, finished_at=15.0),
        TrialRecord(2, {"x": 0.3}, 3, TrialState.RUNNING, started_at=12.0, attrs={"gpus": ["2"]}),
    ]  # fmt: skip
    assert running_time(records, now=20.0) == 20.0  # the study ran from 0 to 20
    assert compute_time(records, now=20.0) == 2 * 10.0 + 10.0 + 8.0  # two GPUs for 10 s, 10 s, one GPU for 8 s so far
    usage = Budget.usage(records, now=20.0)
    assert usage.compute == 38.0 and Budget(compute=40).fraction_spent(usage) == pytest.approx(0.95)
    assert Budget(compute=38).exhausted_by(usage) == "compute budget spent (38s/38s of trial time x devices)"


def test_four_workers_spend_it_four_times_as_fast_as_wall_time() -> None:
    study = ts.Study(SPACE, metric="loss", sampler="random", budget=ts.Budget(compute="100s"), storage="memory", seed=0)
    result = study.optimize(ten_steps, executor=SimulatedExecutor(workers=4, start_time=0.0), progress=False)
    usage = study.usage()
    assert "compute budget spent" in result.stop_reason, result.stop_reason
    # A running trial is stopped at its next report once the budget is spent: each of the 4 may overrun by a step.
    assert 100.0 <= usage.compute <= 104.0, usage
    # 100 s of trial time on 4 workers at once: two rounds of 4, then the 2 trials the 20 s left trains to the end
    # (the 4 running keep what they will spend: 4 started then were each cut halfway, and it took 26 s).
    assert usage.elapsed <= 30.0, usage
    assert all(r.resource == 10 for r in study.trials), [(r.number, r.state, r.resource) for r in study.trials]
    finished = [r for r in study.trials if r.state.is_finished]
    assert sum(compute_time([r], usage.elapsed) for r in finished) == pytest.approx(usage.compute)


def test_it_is_stored_only_when_set_read_from_a_config_and_raised_by_extend(tmp_path: Path) -> None:
    assert "compute" not in Budget(trials=5).to_json()  # studies stored without it keep their stored form
    budget = Budget.from_json({"trials": None, "wall_time": None, "resource": None, "compute": "1h30m"}, stored=True)
    assert budget.compute_seconds == 5400.0 and budget.describe() == "compute=5400s" and not budget.is_unbounded()
    with pytest.raises(ConfigError, match=r"compute must look like '90s', '30m', '2h' or '1h30m', got compute='a lot'"):
        Budget(compute="a lot")
    (tmp_path / "objective_cb.py").write_text("def objective(trial):\n    return float(trial.params['x'])\n")
    (tmp_path / "study.toml").write_text(
        'name = "cb"\nobjective = "objective_cb:objective"\nseed = 1\n[metric]\nname = "loss"\n'
        '[budget]\ncompute = "2h"\n[space]\nx = { type = "float", low = 0.0, high = 1.0 }\n'
    )
    assert load_config(tmp_path / "study.toml").budget == Budget(compute=7200)
    url = f"sqlite:///{tmp_path / 's.db'}"
    ts.Study(SPACE, metric="loss", budget=Budget(compute="2h"), storage=url, name="cb")
    extended = CliRunner().invoke(cli, ["extend", "cb", "--storage", url, "--compute", "3h"])
    assert extended.exit_code == 0, extended.output
    assert "compute=7200s -> compute=10800s" in extended.output
    lower = CliRunner().invoke(cli, ["extend", "cb", "--storage", url, "--compute", "1h"])
    assert lower.exit_code != 0 and "must raise compute above the stored compute=10800" in lower.output
    status = CliRunner(env={"COLUMNS": "300"}).invoke(cli, ["status", "cb", "--storage", url, "--json"])
    budget_json = json.loads(status.output)["budget"]
    assert budget_json["compute_seconds"] == 0.0 and budget_json["compute_seconds_limit"] == 10800.0


def test_the_planner_counts_the_trials_it_buys_whatever_the_workers() -> None:
    space = ts.Space({"lr": ts.Float(1e-4, 1e-1, log=True)})
    for workers in (1, 4):
        plan = ts.discipline.plan(space, Budget(compute="10h"), trial_cost="30m", workers=workers)
        assert "the budget pays for about 20 full-length trials" in plan.summary()
    with pytest.raises(ConfigError, match="a compute budget needs trial_cost"):
        ts.discipline.plan(space, Budget(compute="10h"))


def test_a_trial_sharing_a_gpu_counts_its_share_of_it() -> None:
    from tunesmith.budget import devices_held

    def held(**attrs: object) -> float:
        record = TrialRecord(0, {"x": 0.1}, 1, TrialState.COMPLETE, started_at=0.0, finished_at=10.0, attrs=attrs)
        assert compute_time([record], now=10.0) == pytest.approx(10.0 * devices_held(record))
        return devices_held(record)

    assert held() == 1.0  # no GPU: the trial's own time
    assert held(gpus=["0", "1"]) == 2.0
    assert held(gpus=["0"], gpu_share=0.5) == 0.5  # Ray's num_gpus=0.5: two trials on one GPU, each half of it
    assert held(gpus=["0"], gpu_share="half") == 1.0  # a value written by hand that is no share counts whole
