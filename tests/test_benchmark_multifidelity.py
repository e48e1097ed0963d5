"""The multi-fidelity benchmark runs end to end on tiny configurations, spends its budgets, writes its tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmarks.multifidelity import main, paired, run_method
from benchmarks.multifidelity_peers import available
from benchmarks.multifidelity_problems import PROBLEMS, CurveCache


def _spent_but_a_full_training(spent: int, resource: int) -> bool:
    """ASHA spends the budget, less what is left when too little is to train another configuration to the end."""
    return resource - 81 < spent <= resource


def test_asha_spends_the_budget_and_evaluates_more_configurations() -> None:
    problem = PROBLEMS["curves"]
    random = run_method("random", problem, resource=4 * 81, seed=0)
    asha = run_method("asha", problem, resource=4 * 81, seed=0)
    assert random.configurations == 4 and random.spent == 4 * 81 and len(random.events) == 4
    assert _spent_but_a_full_training(asha.spent, 4 * 81)
    assert asha.configurations > 4 * random.configurations


def test_the_oracle_bound_ranks_each_rung_by_the_final_loss_its_run_will_reach() -> None:
    """``oracle-asha`` is ASHA told each run's final loss at every step, so its rungs rank configurations as their
    ends will: on late bloomers, drawing what plain ASHA draws, it trains to the end one that ends at least as low
    (plain ASHA cuts the late bloomers early)."""
    problem = PROBLEMS["late-bloomers"]
    oracle = run_method("oracle-asha", problem, resource=6 * 81, seed=0)
    plain = run_method("asha", problem, resource=6 * 81, seed=0)
    assert _spent_but_a_full_training(oracle.spent, 6 * 81) and _spent_but_a_full_training(plain.spent, 6 * 81)
    assert oracle.configurations > 6
    finals = [loss for _, loss in oracle.events]
    # Late bloomers are no longer cut early: strictly lower (0.110 against 0.116 on this seed), and other rungs
    # kept (98 configurations against 84), so an oracle that read the curves as plain ASHA does fails here.
    assert finals and min(finals) < min(loss for _, loss in plain.events)
    assert oracle.configurations != plain.configurations


def test_four_workers_on_the_simulated_clock_spend_the_same_budget() -> None:
    trace = run_method("asha", PROBLEMS["divergence"], resource=6 * 81, seed=1, workers=4)
    assert _spent_but_a_full_training(trace.spent, 6 * 81)
    assert [spent for spent, _ in trace.events] == sorted(spent for spent, _ in trace.events)


def test_a_curve_continues_where_it_stopped_as_from_a_checkpoint() -> None:
    problem = PROBLEMS["sgd-digits"]
    params = {"alpha": 1e-4, "eta0": 0.01, "loss": "hinge", "penalty": "l2"}
    whole = list(problem.curve(params, 7))[:5]
    cache = CurveCache(problem)
    first = [cache.loss("a", params, 7, step) for step in (1, 2)]
    later = [cache.loss("a", params, 7, step) for step in (3, 4, 5)]
    assert first + later == whole


@pytest.mark.parametrize("peer", ["optuna-sha", "optuna-wilcoxon", "synetune-asha", "synetune-bohb", "dehb", "smac-mf"])
def test_each_peer_spends_exactly_the_budget(peer: str) -> None:
    if not available(peer):
        pytest.skip(f"{peer} is not installed (pip install 'tunesmith[bench]')")
    trace = run_method(peer, PROBLEMS["curves"], resource=3 * 81, seed=0, workers=2)
    assert trace.spent == 3 * 81
    assert trace.configurations >= 3


def test_tiny_run_writes_json_and_markdown(tmp_path: Path) -> None:
    code = main(["--problems", "curves", "--methods", "asha", "--seeds", "1", "--random-configs", "3",
                 "--workers", "1,2", "--out", str(tmp_path)])  # fmt: skip
    assert code == 0
    results = json.loads((tmp_path / "multifidelity.json").read_text())
    assert set(results["curves"]["methods"]) == {"random", "asha"}
    assert results["curves (2 workers)"]["workers"] == 2
    assert "| curves | asha |" in (tmp_path / "multifidelity.md").read_text()


def _row(reach: list[float | None], best: list[float]) -> dict[str, object]:
    return {"per_seed": {"reach": reach, "best_final": best}}


def test_paired_counts_a_seed_never_reached_as_later_and_neither_reaching_as_a_tie() -> None:
    ours = _row([0.1, None, None, 0.5], [0.10, 0.12, 0.11, 0.09])
    other = _row([0.2, 0.3, None, 0.4], [0.11, 0.12, 0.10, 0.10])
    pair = paired(ours, other)
    assert {k: pair["reach"][k] for k in ("better", "worse", "tied")} == {"better": 1, "worse": 2, "tied": 1}
    assert {k: pair["best_final"][k] for k in ("better", "worse", "tied")} == {"better": 2, "worse": 1, "tied": 1}
    assert pair["reach"]["p"] == pytest.approx(1.0)  # one against two is a coin flip


def test_paired_p_is_small_only_when_one_side_wins_nearly_every_seed() -> None:
    ten = [0.1] * 10
    pair = paired(_row(ten, ten), _row([0.2] * 10, [0.2] * 10))
    assert pair["reach"]["better"] == 10 and pair["reach"]["p"] == pytest.approx(2 / 2**10)
    assert paired(_row(ten, ten), _row(ten, ten))["reach"] == {"better": 0, "worse": 0, "tied": 10, "p": 1.0}


def test_a_run_with_the_default_writes_its_seed_by_seed_comparison(tmp_path: Path) -> None:
    code = main(["--problems", "curves", "--methods", "default,asha", "--seeds", "2", "--random-configs", "3",
                 "--workers", "1", "--out", str(tmp_path)])  # fmt: skip
    assert code == 0
    results = json.loads((tmp_path / "multifidelity.json").read_text())
    assert len(results["curves"]["methods"]["default"]["per_seed"]["reach"]) == 2
    table = (tmp_path / "multifidelity.md").read_text()
    assert "| curves | asha |" in table.split("Seed by seed")[1]
    assert "| curves | random |" in table.split("Seed by seed")[1]  # on seeds of its own: independent pairs


def test_the_benchmark_runs_itself_again_under_a_fixed_hash_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    # SMAC3 drew differently in each process without one; with it already fixed, nothing is run again.
    import benchmarks.multifidelity as module

    calls: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(module.os, "execv", lambda path, args: calls.append((path, list(args))))
    monkeypatch.setattr(module.sys, "argv", ["multifidelity.py", "--seeds", "2"])
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    module._with_fixed_hash_seed()
    assert calls == []
    monkeypatch.delenv("PYTHONHASHSEED")
    module._with_fixed_hash_seed()
    assert calls == [(module.sys.executable, [module.sys.executable, "-m", "benchmarks.multifidelity", "--seeds", "2"])]
    assert module.os.environ["PYTHONHASHSEED"] == "0"
