"""The multi-fidelity benchmark runs end to end on a tiny configuration and writes its tables."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.multifidelity import PROBLEMS, main, run_method


def test_asha_spends_exactly_the_budget_and_evaluates_more_configurations() -> None:
    problem = PROBLEMS["curves"]
    random = run_method("random", problem, resource=4 * 81, seed=0)
    asha = run_method("asha", problem, resource=4 * 81, seed=0)
    assert random.configurations == 4 and random.events[-1][0] == 4 * 81
    assert asha.events[-1][0] == 4 * 81
    assert asha.configurations > 4 * random.configurations


def test_tiny_run_writes_json_and_markdown(tmp_path: Path) -> None:
    code = main(["--problems", "curves", "--methods", "random,asha", "--seeds", "1", "--random-configs", "3",
                 "--out", str(tmp_path)])  # fmt: skip
    assert code == 0
    results = json.loads((tmp_path / "multifidelity.json").read_text())
    assert set(results["curves"]["methods"]) == {"random", "asha"}
    assert "| curves | asha |" in (tmp_path / "multifidelity.md").read_text()
