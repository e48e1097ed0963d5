"""The convergence benchmark runs end to end on a tiny configuration and prints its table."""

from __future__ import annotations

import importlib.util

import pytest
from benchmarks.convergence import main


@pytest.mark.skipif(importlib.util.find_spec("optuna") is None, reason="the bench extra is not installed")
def test_tiny_run_prints_a_row_per_method(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--problems", "svm-cancer", "--seeds", "1", "--budget", "24"]) == 0
    table = capsys.readouterr().out
    for method in ("tunesmith, whole budget", "tunesmith until_converged", "Optuna GP, whole budget",
                   "Optuna GP + Terminator"):  # fmt: skip
        assert f"| svm-cancer | {method} | " in table, table


def test_calibration_prints_how_often_the_bound_held(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--calibration", "--problems", "branin,mixed", "--seeds", "1", "--budget", "30"]) == 0
    table = capsys.readouterr().out
    assert "| branin | " in table and " of 2 |" in table  # checks at 20 and 30 trials
    assert "| mixed |" not in table  # no known optimum: no row
