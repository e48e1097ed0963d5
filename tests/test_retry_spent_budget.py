"""`Study.retry_failed` under a spent wall-time or resource budget.

A re-queued failure gives back its place in the trial budget (its retry takes it), so retries run in a study whose
trial budget is spent. The time a failure ran and the units it trained stay spent: no new trial starts once the
wall-time or resource budget is, a retry included. So retrying there is refused up front, with the budget to raise,
instead of queueing retries that never run while the failures stop counting towards the trial budget.

The studies are real (SQLite storage, the inline executor); the wall-time study runs on a clock the objective moves.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import tunesmith as ts
from tunesmith.errors import ConfigError

SPACE = ts.Space({"lr": ts.Float(1e-3, 1e-1, log=True)})


def _objective(broken: bool) -> Callable[[ts.Trial], dict[str, float]]:
    """Five reported steps; while ``broken``, a large learning rate raises at step 2 (a bug, fixed later)."""

    def objective(trial: ts.Trial) -> dict[str, float]:
        for step in trial.steps(5):
            if broken and trial.params["lr"] > 0.02 and step == 2:
                raise ValueError("bug for large lr")
            trial.report(loss=1.0 / (step + 1) + trial.params["lr"])
        return {"loss": 0.2 + trial.params["lr"]}

    return objective


def _spent_resource_study(tmp_path: Path) -> ts.Study:
    """A study whose resource budget (30 units) is spent, with some trials failed by the objective's bug."""
    study = ts.Study(
        SPACE, metric="loss", budget=ts.Budget(resource=30), storage=f"sqlite:///{tmp_path / 'r.db'}", name="r",
        seed=0, sampler="random",
    )  # fmt: skip
    study.optimize(_objective(broken=True), fail_fast=None, progress=False)
    assert study.usage().resource >= 30 and _failed(study), "the setting: spent, with failures to retry"
    return study


def _failed(study: ts.Study) -> list[int]:
    return [r.number for r in study.trials if r.state is ts.TrialState.FAILED]


def test_retrying_under_a_spent_resource_budget_is_refused_with_the_resource_to_extend_to(tmp_path: Path) -> None:
    study = _spent_resource_study(tmp_path)
    longest = max(r.resource for r in study.trials if r.state is ts.TrialState.COMPLETE)
    needed = study.usage().resource + len(_failed(study)) * longest

    with pytest.raises(ConfigError) as refused:
        study.retry_failed()

    message = str(refused.value)
    assert f"resource budget spent ({study.usage().resource:g}/30)" in message
    assert "no new trial starts once the wall-time or resource budget is spent" in message
    assert f"tunesmith extend r --storage {study.storage.url} --resource {needed:g}" in message


def test_a_refused_retry_leaves_the_failures_counting_towards_the_trial_budget(tmp_path: Path) -> None:
    study = _spent_resource_study(tmp_path)
    before = study.usage().trials

    with pytest.raises(ConfigError):
        study.retry_failed()

    assert study.usage().trials == before
    assert not any(r.attrs.get("retry_requested") for r in study.trials)


def test_the_resource_a_refusal_asks_for_runs_every_retry(tmp_path: Path) -> None:
    study = _spent_resource_study(tmp_path)
    failed = _failed(study)
    with pytest.raises(ConfigError) as refused:
        study.retry_failed()
    asked = float(str(refused.value).rsplit("--resource ", 1)[1])

    study.extend_budget(resource=asked)
    assert study.retry_failed() == failed
    study.optimize(_objective(broken=False), fail_fast=None, progress=False)

    retried = sorted(r.attrs["retry_of"] for r in study.trials if "retry_of" in r.attrs)
    assert retried == failed


def test_retrying_under_a_spent_wall_time_budget_is_refused_with_the_wall_time_to_extend_to(tmp_path: Path) -> None:
    study = ts.Study(
        SPACE, metric="loss", budget=ts.Budget(wall_time=10), storage=f"sqlite:///{tmp_path / 'w.db'}", name="w",
        seed=0, sampler="random",
    )  # fmt: skip
    now = [1000.0]
    study._clock = lambda: now[0]
    for number in range(3):  # 4 s each, one after the other: 12 s of 10; the second fails
        trial = study.ask()
        now[0] += 4.0
        if number == 1:
            study.tell(trial, error="ValueError: bug", kind=ts.TrialKind.EXCEPTION)
        else:
            study.tell(trial, {"loss": trial.params["lr"]})

    with pytest.raises(ConfigError) as refused:
        study.retry_failed()

    message = str(refused.value)
    assert "wall-time budget spent (12s/10s)" in message
    # 12 s spent, and one retry of about 4 s
    assert f"tunesmith extend w --storage {study.storage.url} --wall-time 17" in message
