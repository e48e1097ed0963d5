"""`tunesmith run` whose budget is spent with no feasible trial (every one declared infeasible, or every result
broke a guardrail) exits with code 1 and says so, keeping the trials: the study has no result, and a script that
gates on the exit code read a run of 30 trials that all raised ts.Infeasible as a success. A run that leaves budget
for a later one exits 0."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

import tunesmith as ts
from tunesmith.cli import cli

CONFIG = """
name = "nothing"
objective = "{objective}"
seed = 0
sampler = "random"

[metric]
name = "loss"

{guardrail}

[budget]
trials = 4

[space]
x = {{ type = "float", low = 0.0, high = 1.0 }}
"""
UNREACHABLE = '[[guardrails]]\nmetric = "loss"\nop = "<="\nbound = -1.0'


def _run(objectives_dir: Path, objective: str, guardrail: str = "", *extra: str) -> tuple[Result, str]:
    (objectives_dir / "refusing.py").write_text(
        "import tunesmith as ts\n\n\ndef refuse(trial):\n    raise ts.Infeasible('needs more memory than the device')\n"
    )
    config = objectives_dir / "nothing.toml"
    config.write_text(CONFIG.format(objective=objective, guardrail=guardrail))
    url = f"sqlite:///{objectives_dir / 'nothing.db'}"
    result = CliRunner().invoke(cli, ["run", str(config), "--storage", url, "--no-progress", "--no-report", *extra])
    return result, url


def test_a_spent_budget_of_declared_infeasible_trials_exits_1_keeping_them(objectives_dir: Path) -> None:
    result, url = _run(objectives_dir, "refusing:refuse")
    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())
    assert "the budget is spent and the study has no result: no feasible trial" in said
    assert "check the condition it raises ts.Infeasible on" in said
    assert [t.state for t in ts.Study.load("nothing", url).trials] == [ts.TrialState.INFEASIBLE] * 4


def test_a_spent_budget_whose_every_result_broke_a_guardrail_exits_1(objectives_dir: Path) -> None:
    result, _ = _run(objectives_dir, "objectives:quadratic", UNREACHABLE)
    assert result.exit_code == 1, result.output
    assert "no feasible trial" in " ".join(result.output.split())


def test_a_run_that_leaves_budget_for_a_later_one_exits_0(objectives_dir: Path) -> None:
    result, _ = _run(objectives_dir, "refusing:refuse", "", "--trials", "2")
    assert result.exit_code == 0, result.output


def test_a_spent_budget_with_a_feasible_trial_exits_0(objectives_dir: Path) -> None:
    result, _ = _run(objectives_dir, "objectives:quadratic")
    assert result.exit_code == 0, result.output
