"""`validate_top` and `evaluate_baseline` refuse an objective no run can call before they run anything.

Passing the holdout's ``evaluate(params, seed)`` where the search's objective goes is the natural slip. Every run
raised TypeError and was recorded: the re-runs as ``seed_stability``, whose failures fail the verdict's seed
stability until ``validate_top`` is run again, and the baseline's as ``baseline``, whose failures fail its margin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import tunesmith as ts
from tunesmith.attributes import BaselineAttr, SeedStabilityAttr, read_attr


def objective(trial: ts.Trial) -> dict[str, float]:
    return {"loss": (trial.params["x"] - 0.3) ** 2}


def evaluate(params: dict[str, Any], seed: int) -> dict[str, float]:
    return {"loss": (params["x"] - 0.3) ** 2}


async def coroutine(trial: ts.Trial) -> dict[str, float]:
    return objective(trial)


def tuned(tmp_path: Path) -> ts.Study:
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", budget=ts.Budget(trials=5),
                     storage=f"sqlite:///{tmp_path / 's.db'}", name="s", seed=0)  # fmt: skip
    study.optimize(objective)
    return study


@pytest.mark.parametrize(
    ("wrong", "refusal"),
    [
        (evaluate, r"objective evaluate\(params, seed\) cannot be called with the trial alone \(missing a required "
                   r"argument: 'seed'\): validate_top calls objective\(trial\), with one positional argument, in every "
                   "run"),
        (coroutine, r"objective coroutine is a coroutine function \(async def\): validate_top calls objective"),
        ({"loss": 0.1}, r"objective must be a function of a trial, got dict \{'loss': 0.1\}: pass the function "
                        "itself to validate_top"),
    ],
    ids=["params-and-seed", "async", "no-function"],
)
def test_validate_top_refuses_an_objective_no_run_can_call_and_records_nothing(
    tmp_path: Path, wrong: Any, refusal: str
) -> None:  # fmt: skip
    study = tuned(tmp_path)
    with pytest.raises(ts.ConfigError, match=refusal):
        ts.validate_top(study, wrong, seeds=2)
    assert read_attr(study.attrs, SeedStabilityAttr) is None
    report = ts.validate_top(study, objective, seeds=2)  # the fixed call runs as the first would have
    assert report.winner is not None


def test_evaluate_baseline_refuses_an_objective_no_run_can_call_and_records_no_run(tmp_path: Path) -> None:
    study = tuned(tmp_path)
    with pytest.raises(ts.ConfigError, match=r"evaluate_baseline calls objective\(trial\), with one positional"):
        ts.evaluate_baseline(study, evaluate, {"x": 0.5}, seeds=2)  # type: ignore[arg-type]
    assert read_attr(study.attrs, BaselineAttr) is None
    baseline = ts.evaluate_baseline(study, objective, {"x": 0.5}, seeds=2)
    assert len(baseline.runs) == 2
