"""On a study of several objectives, a holdout that scores any objective on another scale than validation is refused
before any check reads it, and its opening voided, as it is for the first objective."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.discipline.holdout import HoldoutScaleMismatch

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def objective(trial: ts.Trial) -> dict[str, Any]:
    """Accuracy per example and a recall, both as fractions, and a latency without bounds."""
    x = trial.params["x"]
    return {"val_acc": (np.random.default_rng(trial.seed).random(400) < 0.8 + 0.1 * x).astype(float),
            "val_recall": 0.9 - 0.2 * x, "latency_ms": 20.0 + 30.0 * x}  # fmt: skip


def searched(*further: ts.Metric) -> ts.Study:
    study = ts.Study(SPACE, metrics=[ts.Metric("val_acc", "max"), *further], budget=ts.Budget(trials=6),
                     storage="memory", seed=1)  # fmt: skip
    study.optimize(objective)
    study.choose(ts.choose.best("val_acc"))
    return study


def holdout(recall: float, latency: float = 35.0) -> Any:
    def evaluate(params: dict[str, Any], seed: int) -> dict[str, Any]:
        return {"holdout_acc": (np.random.default_rng(seed + 1).random(400) < 0.85).astype(float),
                "holdout_recall": recall, "holdout_latency_ms": latency}  # fmt: skip

    return evaluate


def test_a_further_objective_scored_in_percent_where_validation_was_in_fractions_is_refused() -> None:
    study = searched(ts.Metric("val_recall", "max"))
    with pytest.raises(HoldoutScaleMismatch) as raised:
        ts.finalize(study, holdout(recall=84.0))
    message = str(raised.value)
    assert "val_recall reads in points of [0, 1]" in message
    assert "holdout_recall=84" in message
    assert "divide a percentage by 100" in message


def test_a_further_objective_refused_names_it_and_not_the_first_objective_scored_right() -> None:
    study = searched(ts.Metric("val_recall", "max"))
    with pytest.raises(HoldoutScaleMismatch) as raised:
        ts.finalize(study, holdout(recall=84.0))
    assert "val_acc reads in points" not in str(raised.value)


def test_a_further_objectives_declared_scale_refuses_a_holdout_outside_it() -> None:
    study = searched(ts.Metric("val_recall", "max", scale=1))
    with pytest.raises(HoldoutScaleMismatch, match=r"its declared scale, ts.Metric\('val_recall', 'max', scale=1\)"):
        ts.finalize(study, holdout(recall=84.0))


def test_the_opening_refused_for_a_further_objectives_scale_is_voided_and_the_next_needs_no_force() -> None:
    study = searched(ts.Metric("val_recall", "max"))
    with pytest.raises(HoldoutScaleMismatch):
        ts.finalize(study, holdout(recall=84.0), holdout="recall-set")
    (opening,) = study.attrs["holdout_log"]
    assert opening["voided"] == "scale"
    verdict = ts.finalize(study, holdout(recall=0.84), holdout="recall-set")
    assert verdict.check("holdout opened once").status == "ok"


def test_a_further_objective_without_bounds_is_not_held_to_a_range() -> None:
    study = searched(ts.Metric("latency_ms", "min"))
    verdict = ts.finalize(study, holdout(recall=0.84, latency=350.0))
    assert "latency_ms" in verdict.check("holdout gap").detail


def test_every_objective_off_its_scale_is_named_in_the_one_refusal() -> None:
    study = searched(ts.Metric("val_recall", "max"))

    def in_percent(params: dict[str, Any], seed: int) -> dict[str, Any]:
        return {**holdout(recall=84.0)(params, seed), "holdout_acc": 85.0}

    with pytest.raises(HoldoutScaleMismatch) as raised:
        ts.finalize(study, in_percent)
    message = str(raised.value)
    assert "val_acc reads in points of [0, 1]" in message and "holdout_acc=85" in message
    assert "val_recall reads in points of [0, 1]" in message and "holdout_recall=84" in message


def test_an_unnamed_holdout_after_a_voided_opening_is_undecided_across_studies() -> None:
    """This study's log passes the check; other studies' openings of an unnamed set cannot be looked for."""
    study = searched(ts.Metric("val_recall", "max"))
    with pytest.raises(HoldoutScaleMismatch):
        ts.finalize(study, holdout(recall=84.0))
    check = ts.finalize(study, holdout(recall=0.84)).check("holdout opened once")
    assert check.status == "undecided" and "pass finalize(..., holdout='<name of the set>')" in check.detail
