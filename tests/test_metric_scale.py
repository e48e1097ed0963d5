"""A metric's declared scale: a bounded score in fractions or in percent reads the same verdict, in points."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.config import load_config
from tunesmith.errors import ConfigError
from tunesmith.study._spec import StudySpec
from tunesmith.trial import TrialKind, TrialState

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})
EXAMPLES = 5000


def _errors(seed: int, rate: float, scale: float) -> np.ndarray:
    """0/1 errors per example (0/100 in percent)."""
    return (np.random.default_rng(seed).random(EXAMPLES) < rate).astype(float) * scale


def _judged(scale: float) -> tuple[ts.Verdict, dict[str, Any]]:
    """A 10%-error model whose holdout is 1 point worse, with two slices and a shifted set, reported on ``scale``."""

    def objective(trial: ts.Trial) -> dict[str, Any]:
        rate = 0.10 + 0.008 * float(np.random.default_rng(trial.seed).standard_normal())
        return {"val_err": _errors(trial.seed + 1, rate, scale)}

    def evaluate(params: dict[str, Any], seed: int) -> dict[str, Any]:
        errors = _errors(seed + 7, 0.11, scale)
        half = EXAMPLES // 2
        return {"holdout_err": errors, "slice:a:holdout_err": errors[:half], "slice:b:holdout_err": errors[half:]}

    def shifted(params: dict[str, Any], seed: int) -> dict[str, Any]:
        return {"holdout_err": _errors(seed + 9, 0.12, scale)}

    study = ts.Study(SPACE, metric=ts.Metric("val_err", "min", scale=scale), budget=ts.Budget(trials=3),
                     storage="memory", seed=3)  # fmt: skip
    study.optimize(objective)
    ts.validate_top(study, objective, k=1, seeds=5)
    return ts.finalize(study, evaluate, shifted=shifted), study.attrs["holdout"]


def _spreads(verdict: ts.Verdict) -> list[str]:
    """The spreads and drops the checks state in points or percent (``+1.4 points``, ``spread 1.2%``)."""
    return [m for c in verdict.checks for m in re.findall(r"[+-]?\d+\.\d+ points|spread \d+\.\d+%", c.detail)]


def test_the_same_study_in_fractions_and_in_percent_reads_the_same_verdict() -> None:
    fraction, fraction_holdout = _judged(1.0)
    percent, percent_holdout = _judged(100.0)
    assert [(c.name, c.status) for c in percent.checks] == [(c.name, c.status) for c in fraction.checks]
    assert percent.ready == fraction.ready
    assert percent_holdout["gap_units"] == fraction_holdout["gap_units"] == "points"
    assert percent_holdout["gap"] == pytest.approx(fraction_holdout["gap"])
    assert percent_holdout["gap_stderr"] == pytest.approx(fraction_holdout["gap_stderr"])
    assert _spreads(percent) == _spreads(fraction)


def test_a_bounded_name_read_relatively_says_so_and_names_the_scale_to_declare() -> None:
    def objective(trial: ts.Trial) -> dict[str, Any]:
        return {"val_err": _errors(trial.seed + 1, 0.10, 100.0)}

    def evaluate(params: dict[str, Any], seed: int) -> dict[str, Any]:
        return {"holdout_err": _errors(seed + 7, 0.11, 100.0)}

    study = ts.Study(SPACE, metric=ts.Metric("val_err", "min"), budget=ts.Budget(trials=3), storage="memory", seed=3)
    study.optimize(objective)
    gap = next(c for c in ts.finalize(study, evaluate).checks if c.name == "holdout gap")
    assert "read relative to its value, not in points" in gap.detail
    assert "ts.Metric('val_err', 'min', scale=100)" in gap.detail


def test_a_result_outside_the_declared_scale_fails_the_trial_with_the_rule_the_value_and_the_fix() -> None:
    study = ts.Study(SPACE, metric=ts.Metric("val_acc", "max", scale=1.0), budget=ts.Budget(trials=1),
                     storage="memory", seed=0)  # fmt: skip
    study.optimize(lambda trial: {"val_acc": 87.4}, fail_fast=None)
    (record,) = study.trials
    assert record.state is TrialState.FAILED and record.kind is TrialKind.BAD_RESULT
    assert "[0, 1]" in (record.reason or "")
    assert "val_acc=87.4" in (record.reason or "")
    assert "scale=100" in (record.reason or "")


@pytest.mark.parametrize("scale", [0, -1.0, float("nan"), float("inf"), "100", True])
def test_a_scale_that_is_not_a_positive_finite_number_is_refused(scale: Any) -> None:
    with pytest.raises(ConfigError, match="scale must be a finite number > 0 or None"):
        ts.Metric("val_acc", "max", scale=scale)


@pytest.mark.parametrize("name", ["val_log_loss", "valid_0-binary_logloss", "nll", "cross_entropy", "rmse",
                                  "mean_squared_error", "val_mae", "sq_err", "val_abs_error", "sse"])  # fmt: skip
def test_a_scale_on_a_loss_never_negative_and_without_bound_is_refused_with_the_fix(name: str) -> None:
    with pytest.raises(ConfigError, match=r"no upper bound .* but got scale=1: .* drop scale="):
        ts.Metric(name, "min", scale=1)


def test_a_metric_table_stores_its_scale_only_when_one_is_declared() -> None:
    assert ts.Metric("val_acc", "max").to_json() == {"name": "val_acc", "direction": "max"}
    declared = ts.Metric("val_acc", "max", scale=100)
    assert declared.to_json() == {"name": "val_acc", "direction": "max", "scale": 100.0}
    assert ts.Metric.from_json(declared.to_json()) == declared


def test_a_stored_spec_without_a_scale_opens_with_none() -> None:
    stored = {"version": 1, "space": SPACE.to_json(), "metric": {"name": "val_acc", "direction": "max"},
              "guardrails": [], "budget": {"trials": 3}, "sampler": None, "scheduler": None, "seed": 1}  # fmt: skip
    assert StudySpec.from_json(stored).metric.scale is None


def test_a_config_files_metric_table_takes_a_scale(tmp_path: Path) -> None:
    config = tmp_path / "study.toml"
    config.write_text('objective = "mod:objective"\n[metric]\nname = "val_acc"\ndirection = "max"\nscale = 100\n'
                      '[space]\nx = { type = "float", low = 0.0, high = 1.0 }\n')  # fmt: skip
    assert load_config(config).metric == ts.Metric("val_acc", "max", scale=100)


def test_reopening_a_study_with_a_scale_it_was_not_stored_with_is_refused_naming_the_scale(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'scale.db'}"
    ts.Study(SPACE, metric=ts.Metric("val_acc", "max"), storage=storage, name="s", seed=1)
    with pytest.raises(ConfigError, match=r"not metric \{'name': 'val_acc', 'direction': 'max', 'scale': 100.0\}"):
        ts.Study(SPACE, metric=ts.Metric("val_acc", "max", scale=100), storage=storage, name="s")


def test_a_study_with_several_scaled_objectives_runs_and_reopens_as_stored(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'multi.db'}"
    objectives = [ts.Metric("val_acc", "max", scale=100), ts.Metric("latency_ms", "min")]
    study = ts.Study(SPACE, metrics=objectives, budget=ts.Budget(trials=3), storage=storage, name="m", seed=1)
    study.optimize(lambda trial: {"val_acc": 80 + 10 * trial.params["x"], "latency_ms": 5 + trial.params["x"]})
    assert all(r.state is TrialState.COMPLETE for r in study.trials)
    assert ts.Study.load("m", storage).objectives == tuple(objectives)
