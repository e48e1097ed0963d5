"""The benchmark runs end to end on a tiny configuration, and its scores mean what the table says."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from benchmarks.peers import available
from benchmarks.run import main, summarise


def test_quick_benchmark_writes_json_and_markdown(tmp_path: Path) -> None:
    methods = ["tunesmith-auto", "tunesmith-tpe", "random"]
    methods += [m for m in ("optuna-tpe", "hyperopt-tpe", "skopt-gp") if available(m)]
    code = main(
        [
            "--problems", "branin,mixed",
            "--methods", ",".join(methods),
            "--budget", "4",
            "--seeds", "1",
            "--no-overhead",
            "--out", str(tmp_path),
        ]
    )  # fmt: skip
    assert code == 0
    data = json.loads((tmp_path / "results.json").read_text())
    assert {r["method"] for r in data["runs"]} == set(methods)
    assert all(len(r["losses"]) == 4 for r in data["runs"])
    table = (tmp_path / "results.md").read_text()
    assert "| branin |" in table and "mean rank" in table


def test_summary_scores_best_as_100_and_random_mean_as_0() -> None:
    runs = [
        {"method": "random", "problem": "p", "seed": 0, "losses": [4.0, 2.0], "best": 2.0},
        {"method": "tunesmith-gp", "problem": "p", "seed": 0, "losses": [3.0, 1.0], "best": 1.0},
    ]
    summary = summarise(runs, ["tunesmith-gp", "random"], ["p"])
    methods = summary["problems"]["p"]["methods"]
    assert methods["tunesmith-gp"]["score"] == pytest.approx(100.0)
    assert methods["random"]["score"] == pytest.approx(100.0 * (3.0 - 2.0) / (3.0 - 1.0))
    assert summary["overall"]["tunesmith-gp"]["mean_rank"] == 1.0
    assert summary["wins"]["tunesmith-gp"]["random"] == {"problems": 1.0, "runs": 1.0}


@pytest.mark.skipif(importlib.util.find_spec("optuna") is None, reason="the bench extra is not installed")
def test_overhead_measures_both_sides() -> None:
    from benchmarks.overhead import measure

    rows = measure([20], [], repeats=2)
    assert rows[0]["sampler"] == "tpe" and rows[0]["tunesmith_s"] > 0 and rows[0]["optuna_s"] > 0


def test_a_noisy_run_is_scored_by_the_true_loss_of_the_trial_it_reports_best(tmp_path: Path) -> None:
    code = main(["--problems", "branin", "--methods", "tunesmith-auto", "--budget", "6", "--seeds", "2", "--noise",
                 "0.5", "--no-overhead", "--out", str(tmp_path)])  # fmt: skip
    assert code == 0
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["config"]["noise"] == 0.5
    for run in data["runs"]:
        observed, true = run["observed"], run["losses"]
        assert len(observed) == len(true) == 6 and observed != true  # told noisy values, scored on the true ones
        assert run["best"] == true[observed.index(min(observed))]
    assert "Gaussian noise of 0.5 x the problem's spread" in (tmp_path / "results.md").read_text()


def test_noise_is_refused_on_a_cross_validated_task(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--problems", "svm_cancer", "--noise", "0.1", "--no-overhead", "--seeds", "1"]) == 2
    assert "--noise applies to synthetic problems only, got ['svm_cancer']" in capsys.readouterr().err
