"""The multi-objective benchmark runs end to end on a tiny configuration and writes its table."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import moocore
import numpy as np
import pytest
from benchmarks.multiobjective import PROBLEMS, main, run_method


def test_the_zdt1_front_reaches_the_known_hypervolume() -> None:
    problem = PROBLEMS["zdt1"]
    f1 = np.linspace(0.0, 1.0, 2001)
    front = [problem.values({"x0": v, **{f"x{i}": 0.0 for i in range(1, 6)}}) for v in f1]
    losses = np.array([[p["f1"], p["f2"]] for p in front])
    # Area below the reference (1.1, 1.1) and above f2 = 1 - sqrt(f1): 1.21 - 1/3.
    assert abs(moocore.hypervolume(losses, ref=problem.reference) - (1.21 - 1 / 3)) < 1e-3


def test_a_run_returns_one_row_of_objectives_per_trial() -> None:
    run = run_method("tunesmith-tpe", PROBLEMS["dtlz2"], budget=8, seed=0)
    assert run.losses.shape == (8, 3) and run.seconds_per_suggestion > 0


@pytest.mark.skipif(importlib.util.find_spec("optuna") is None, reason="the bench extra is not installed")
def test_tiny_run_writes_json_and_markdown(tmp_path: Path) -> None:
    code = main(["--problems", "zdt1", "--methods", "tunesmith-tpe,optuna-tpe", "--seeds", "1", "--budgets", "12",
                 "--out", str(tmp_path)])  # fmt: skip
    assert code == 0
    results = json.loads((tmp_path / "multiobjective.json").read_text())
    assert {r["method"] for r in results["runs"]} == {"tunesmith-tpe", "optuna-tpe"}
    table = (tmp_path / "multiobjective.md").read_text()
    assert "| zdt1 | 12 | optuna-tpe (best Optuna) |" in table and "| zdt1 | 12 | tunesmith-tpe |" in table
