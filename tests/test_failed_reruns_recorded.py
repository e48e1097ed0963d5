"""Re-runs and baseline runs that all fail are recorded before validate_top raises, and the verdict fails on them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.report import write_report
from tunesmith.study import ObjectiveError

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})
CRASHING_BASELINE = {"x": -1.0}  # outside the space: the objective below crashes on it


def accuracy(x: float, seed: int) -> dict[str, Any]:
    """Per-example accuracy that rises with x."""
    return {"acc": np.random.default_rng(seed).random(400) < 0.7 + 0.2 * x}


def objective(trial: ts.Trial) -> dict[str, Any]:
    """`accuracy`, crashing on the baseline's negative x."""
    if trial.params["x"] < 0:
        raise RuntimeError("the baseline's configuration crashes the model")
    return accuracy(trial.params["x"], trial.seed)


def broken(trial: ts.Trial) -> dict[str, Any]:
    """The objective handed to validate_top fails on every fresh seed (its data split is keyed by seed)."""
    raise RuntimeError(f"no data split for seed {trial.seed}")


def holdout(params: dict[str, Any], seed: int) -> dict[str, Any]:
    return {"holdout_acc": np.random.default_rng(1).random(400) < 0.7 + 0.2 * params["x"]}


def searched(baseline: dict[str, float] | None = None) -> ts.Study:
    study = ts.Study(SPACE, metric=ts.Metric("acc", "max"), budget=ts.Budget(trials=6), storage="memory", seed=0,
                     sampler="random", baseline=baseline)  # fmt: skip
    study.optimize(objective)
    return study


def test_re_runs_that_all_fail_are_recorded_with_their_errors_before_validate_top_raises() -> None:
    study = searched()
    with pytest.raises(ObjectiveError, match=r"first 3 re-runs .* all failed.*recorded in the study attribute"):
        ts.validate_top(study, broken, k=3, seeds=5)
    stored = study.attrs["seed_stability"]
    assert stored["winner"] is None
    assert [run["state"] for run in stored["runs"]] == ["failed"] * 3
    assert all("RuntimeError: no data split for seed" in run["reason"] for run in stored["runs"])
    assert len(stored["seeds"]) == 3, "the seeds recorded are those the runs were made on, not the five planned"


def test_finalize_after_re_runs_that_all_failed_refuses_before_it_opens_the_holdout() -> None:
    # The verdict would fail seed stability on a bug in the setup and spend the holdout for good.
    study = searched()
    with pytest.raises(ObjectiveError):
        ts.validate_top(study, broken, k=3, seeds=5)
    with pytest.raises(ObjectiveError, match=r"all 3 re-runs of its candidates failed.*\(the first: RuntimeError: no "
                       r"data split for seed.*run ts.validate_top\(study, objective\) again.*not opened"):
        ts.finalize(study, holdout)
    assert "holdout_log" not in study.attrs
    ts.validate_top(study, objective, k=3, seeds=5)  # fixed: the next finalize opens the holdout for the first time
    verdict = ts.finalize(study, holdout)
    assert "holdout opened once" not in [check.name for check in verdict.checks]  # a first opening: nothing to say
    assert len(study.attrs["holdout_log"]) == 1


def test_baseline_runs_that_all_fail_are_recorded_with_their_errors_before_validate_top_raises() -> None:
    study = searched(baseline=CRASHING_BASELINE)
    with pytest.raises(ObjectiveError, match=r"every baseline run failed \(5 of 5 seeds.*recorded in the study"):
        ts.validate_top(study, objective, k=3, seeds=5)
    stored = study.attrs["baseline"]
    assert stored["params"] == CRASHING_BASELINE and stored["values"] == [] and stored.get("mean") is None
    assert [run["state"] for run in stored["runs"]] == ["failed"] * 5
    assert all("RuntimeError: the baseline's configuration crashes" in run["reason"] for run in stored["runs"])


def test_a_verdict_after_every_baseline_run_failed_fails_the_margin_without_saying_it_never_ran() -> None:
    study = searched(baseline=CRASHING_BASELINE)
    with pytest.raises(ObjectiveError):
        ts.validate_top(study, objective, k=3, seeds=5)
    verdict = ts.finalize(study, holdout)
    margin = verdict.check("baseline margin")
    assert not verdict.ready and not margin.passed and margin.checked
    assert "never run" not in margin.detail
    assert "every baseline run failed (5 of 5 seeds; the first: RuntimeError: the baseline's configuration" in (
        margin.detail
    )
    assert "fix the objective for the baseline {'x': -1.0}" in margin.detail


def test_a_baseline_recorded_as_all_failed_runs_again_in_the_next_validate_top() -> None:
    study = searched(baseline=CRASHING_BASELINE)
    with pytest.raises(ObjectiveError):
        ts.validate_top(study, objective, k=3, seeds=5)
    assert [run["state"] for run in study.attrs["baseline"]["runs"]] == ["failed"] * 5

    def fixed(trial: ts.Trial) -> dict[str, Any]:  # the baseline's x clipped into the space
        return accuracy(max(trial.params["x"], 0.0), trial.seed)

    report = ts.validate_top(study, fixed, k=3, seeds=5)
    assert report.baseline is not None and len(report.baseline.values) == 5
    states = [run["state"] for run in study.attrs["baseline"]["runs"]]
    assert states == ["complete"] * (5 + len(report.confirm_seeds)), "the failed runs replaced, then the fresh seeds"


def test_the_report_says_every_baseline_run_failed_rather_than_that_it_cannot_read_the_baseline(tmp_path: Path) -> None:
    study = searched(baseline=CRASHING_BASELINE)
    with pytest.raises(ObjectiveError):
        ts.validate_top(study, objective, k=3, seeds=5)
    page = write_report(study, tmp_path / "report.html").read_text()
    assert "were run on 5 seeds and every run failed" in page
    assert "RuntimeError: the baseline&#x27;s configuration crashes the model" in page
