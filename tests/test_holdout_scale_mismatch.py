"""A holdout scored on another scale than validation is refused before it is judged, and its opening voided."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.config import load_config
from tunesmith.discipline.baseline import BaselineFailuresWarning
from tunesmith.discipline.holdout import HoldoutKeyMissing, HoldoutOpened, HoldoutScaleMismatch
from tunesmith.discipline.sequence import after_search
from tunesmith.errors import ConfigError, TunesmithError
from tunesmith.study import HoldoutSpentWarning

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def objective(trial: ts.Trial) -> dict[str, Any]:
    """Accuracy per example, as a fraction (0 or 1)."""
    return {"val_acc": (np.random.default_rng(trial.seed).random(500) < 0.85).astype(float)}


def in_percent(params: dict[str, Any], seed: int) -> dict[str, Any]:
    """The holdout's accuracy per example in percent (0 or 100): another scale than validation's."""
    return {"holdout_acc": 100.0 * (np.random.default_rng(seed + 1).random(500) < 0.85)}


def in_fractions(params: dict[str, Any], seed: int) -> dict[str, Any]:
    return {"holdout_acc": (np.random.default_rng(seed + 1).random(500) < 0.85).astype(float)}


def searched(metric: ts.Metric | None = None, trials: int = 5) -> ts.Study:
    study = ts.Study(SPACE, metric=metric or ts.Metric("val_acc", "max"), budget=ts.Budget(trials=trials),
                     storage="memory", seed=1)  # fmt: skip
    study.optimize(objective)
    return study


def test_a_holdout_on_another_scale_than_validation_is_refused_with_the_rule_the_values_and_the_fix() -> None:
    study = searched()
    with pytest.raises(HoldoutScaleMismatch) as raised:
        ts.finalize(study, in_percent)
    assert isinstance(raised.value, TunesmithError) and isinstance(raised.value, ValueError)
    message = str(raised.value)
    assert "the holdout must be scored as validation was, on the same scale" in message
    assert "holdout_acc=83.8" in message and "validation scores lie in [0, 1]" in message
    assert "divide a percentage by 100" in message


def test_a_declared_scale_refuses_a_holdout_outside_it_whatever_the_name() -> None:
    def score(trial: ts.Trial) -> float:
        return 0.8 + 0.1 * trial.params["x"]

    study = ts.Study(SPACE, metric=ts.Metric("score", "max", scale=1), budget=ts.Budget(trials=3), storage="memory",
                     seed=1)  # fmt: skip
    study.optimize(score)
    with pytest.raises(HoldoutScaleMismatch, match="its declared scale"):
        ts.finalize(study, lambda params, seed: {"holdout_score": 85.0})


def test_the_opening_refused_for_its_scale_is_recorded_as_voided_with_what_it_read() -> None:
    study = searched()
    with pytest.raises(HoldoutScaleMismatch):
        ts.finalize(study, in_percent)
    (opening,) = study.attrs["holdout_log"]
    assert opening["voided"] == "scale"
    assert opening["scores"]["holdout_acc"] == pytest.approx(83.8)


def test_after_an_opening_voided_for_its_scale_the_next_finalize_needs_no_force() -> None:
    study = searched()
    with pytest.raises(HoldoutScaleMismatch):
        ts.finalize(study, in_percent)
    verdict = ts.finalize(study, in_fractions)
    assert [o.get("forced") for o in study.attrs["holdout_log"]] == [False, False]
    opened = next(c for c in verdict.checks if c.name == "holdout opened once")
    assert opened.status == "ok"
    assert "opened 2 times, 1 of them voided (the holdout scored on another scale than validation" in opened.detail
    assert "picked nothing" in opened.detail


def test_an_opening_after_a_voided_one_counts_so_a_third_needs_force() -> None:
    study = searched()
    with pytest.raises(HoldoutScaleMismatch):
        ts.finalize(study, in_percent)
    ts.finalize(study, in_fractions)
    with pytest.raises(HoldoutOpened, match="opened once"):
        ts.finalize(study, in_fractions)


def test_a_voided_opening_of_another_trial_than_the_one_judged_leaves_the_opened_once_check_undecided() -> None:
    study = searched(trials=5)
    with pytest.raises(HoldoutScaleMismatch):
        ts.finalize(study, in_percent)
    voided_trial = study.attrs["holdout_log"][0]["trial"]
    study.invalidate(voided_trial, "a leak found in its features")
    verdict = ts.finalize(study, in_fractions)
    opened = next(c for c in verdict.checks if c.name == "holdout opened once")
    assert (opened.status, opened.leans) == ("undecided", True)
    assert f"scored trial #{voided_trial}" in opened.detail
    assert not verdict.ready


def test_with_no_eligible_candidate_the_seed_check_names_the_baseline_rather_than_trial_minus_one() -> None:
    def flaky(trial: ts.Trial) -> dict[str, Any]:
        if trial.seed % 5 == 2:
            raise RuntimeError("flaky run")
        return objective(trial)

    study = ts.Study(SPACE, metric=ts.Metric("val_acc", "max"), budget=ts.Budget(trials=4), storage="memory", seed=1,
                     baseline={"x": 0.5})  # fmt: skip
    study.optimize(flaky)
    with pytest.warns(BaselineFailuresWarning):
        ts.validate_top(study, flaky, k=2, seeds=5)
    seeds = next(c for c in ts.finalize(study, in_fractions).checks if c.name == "seed stability")
    assert "the baseline: 1 of 5 runs failed" in seeds.detail
    assert "#-1" not in seeds.detail


def test_a_config_run_after_a_voided_opening_opens_the_holdout_again(tmp_path: Path) -> None:
    """`tunesmith run` of a config with a holdout returns the recorded verdict once the holdout was opened; an
    opening voided for its scale recorded no verdict, and the run returned none."""
    (tmp_path / "scalemod.py").write_text(
        "import numpy as np\n\n\n"
        "def objective(trial):\n"
        "    return {'val_acc': (np.random.default_rng(trial.seed).random(500) < 0.85).astype(float)}\n\n\n"
        "def evaluate(params, seed):\n"
        "    return {'holdout_acc': (np.random.default_rng(seed + 1).random(500) < 0.85).astype(float)}\n"
    )
    config = tmp_path / "study.toml"
    config.write_text('name = "scale"\nobjective = "scalemod:objective"\nseed = 1\nstorage = "memory"\n'
                      'holdout = "scalemod:evaluate"\n[metric]\nname = "val_acc"\ndirection = "max"\n'
                      '[space]\nx = { type = "float", low = 0.0, high = 1.0 }\n[budget]\ntrials = 4\n')  # fmt: skip
    cfg = load_config(config)
    objective_of_config = cfg.load_objective()
    study = ts.Study(cfg.space, metric=cfg.metric, budget=cfg.budget, storage="memory", seed=1)
    study.optimize(objective_of_config)
    with pytest.raises(HoldoutScaleMismatch):
        ts.finalize(study, in_percent)
    verdict = after_search(study, cfg, objective_of_config)
    assert verdict is not None and verdict.check("holdout gap").checked
    assert len(study.attrs["holdout_log"]) == 2


def test_a_search_that_goes_on_after_a_voided_opening_draws_no_holdout_spent_warning() -> None:
    study = searched()
    with pytest.raises(HoldoutScaleMismatch):
        ts.finalize(study, in_percent)
    with warnings.catch_warnings():
        warnings.simplefilter("error", HoldoutSpentWarning)
        study.optimize(objective, n_trials=1)


def test_a_holdout_without_the_studys_metric_is_refused_and_its_opening_voided_so_the_fix_needs_no_force() -> None:
    # A typo in evaluate's keys: no check read any score, and the error names the keys, never their values.
    study = searched()

    def misnamed(params: dict[str, Any], seed: int) -> dict[str, Any]:
        return {"test_accuracy": in_fractions(params, seed)["holdout_acc"]}

    missing = r"returned \[.*'test_accuracy'\], without the study's metric"
    with pytest.raises(HoldoutKeyMissing, match=missing) as raised:
        ts.finalize(study, misnamed, holdout="h")
    assert isinstance(raised.value, ConfigError)
    assert "voided for its keys: the next one needs no force" in str(raised.value)
    verdict = ts.finalize(study, in_fractions, holdout="h")
    opened = verdict.check("holdout opened once")
    assert opened.passed and opened.decided, opened.detail
    assert "opened 2 times, 1 of them voided (returned without the study's metric" in opened.detail
    assert [entry.get("voided") for entry in study.attrs["holdout_log"]] == ["key", None]


def test_a_baseline_holdout_without_the_metric_after_the_winners_was_read_counts_the_opening() -> None:
    # The winner's holdout score was read in the same opening (the baseline is scored beside it for its slices), so
    # that opening is no voided one: the error says it is recorded, and a second needs force.
    study = ts.Study(SPACE, metric=ts.Metric("val_acc", "max"), budget=ts.Budget(trials=3), storage="memory",
                     seed=1, baseline={"x": 0.5})  # fmt: skip
    study.optimize(objective)

    def baseline_misnamed(params: dict[str, Any], seed: int) -> dict[str, Any]:
        scores = {"slice:young:holdout_acc": 0.8}
        key = "test_acc" if params["x"] == 0.5 else "holdout_acc"
        return {**scores, key: in_fractions(params, seed)["holdout_acc"]}

    with pytest.raises(ConfigError, match="The winner's holdout score was read, so this opening is recorded") as raised:
        ts.finalize(study, baseline_misnamed, holdout="h")
    assert not isinstance(raised.value, HoldoutKeyMissing)
    assert [entry.get("voided") for entry in study.attrs["holdout_log"]] == [None]
