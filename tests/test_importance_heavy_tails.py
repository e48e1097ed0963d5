"""Importance reads the trials' ranks, not their values: a few blown-up but finite losses (2.5-30 against 0.3-2.5)
held most of the variance of the values, and a forest that ordered every other trial by lr predicted -5% of it out
of bag; the study was told "the parameters predict none of the variation" although lr orders the losses (Spearman
0.98)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.analysis.importance import ALPHA, importance
from tunesmith.trial import TrialRecord

SPACE = ts.Space({"lr": ts.Float(1e-5, 3.0, log=True), "dropout": ts.Float(0, 0.9), "width": ts.Int(16, 256, base=2)})


def _loss(params: dict[str, float], rng: np.random.Generator) -> float:
    """U-shaped in log lr (best at 0.1) with a little noise; above lr 0.8 training blows up to a finite loss."""
    lr = params["lr"]
    if lr > 0.8:
        return float(np.exp(rng.uniform(math.log(2.5), math.log(30.0))))
    return 0.3 + 0.25 * (math.log10(lr) + 1.0) ** 2 + float(rng.normal(0.0, 0.05))


@pytest.fixture(scope="module")
def blown_up() -> list[TrialRecord]:
    """40 random trials, 5 of them blown up (seed 8: the study that withheld lr)."""
    study = ts.Study(SPACE, metric="val_loss", budget=ts.Budget(trials=40), storage="memory", sampler="random", seed=8)
    study.optimize(lambda t: {"val_loss": _loss(t.params, np.random.default_rng(t.seed % 2**32))})
    records = study.trials
    assert sum(r.params["lr"] > 0.8 for r in records) == 5  # the set-up the test is about
    return records


def test_a_clear_effect_is_shown_despite_a_few_huge_finite_losses(blown_up: list[TrialRecord]) -> None:
    result = importance(blown_up, SPACE, "val_loss")
    assert result.shown and result.chance is not None and result.chance <= ALPHA, result.explained_note()
    assert result.ranking()[0] == "lr", result.main


def test_a_monotone_transform_of_the_metric_leaves_the_importance_as_it_was(blown_up: list[TrialRecord]) -> None:
    """The log of the losses orders the trials alike, so the forest is fitted on the same ranks."""
    logged = [r.evolve(metrics={**r.metrics, "log_loss": math.log(r.metrics["val_loss"])}) for r in blown_up]
    raw = importance(blown_up, SPACE, "val_loss")
    log = importance(logged, SPACE, "log_loss")
    assert (raw.explained, raw.chance) == (log.explained, log.chance)
    assert [(p.params, p.mean) for p in raw.main] == [(p.params, p.mean) for p in log.main]


def test_the_note_says_the_r2_is_of_the_metrics_ranks(blown_up: list[TrialRecord]) -> None:
    result = importance(blown_up, SPACE, "val_loss")
    assert f"predict {result.explained:.0%} of the variation in the ranks of 'val_loss'" in (
        result.explained_note() or ""
    )
