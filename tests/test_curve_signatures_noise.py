"""Curve signatures read against the study's best account for seed noise, and divergence shows on a bounded score.

30 trials of one configuration whose final loss depends only on the seed drew "underfitting" for 13 of them, and 43%
of the trials of studies where no parameter mattered; a classifier whose weights blew up (accuracy back at chance, its
loss beside it at 1e50 or inf) was never "diverged" (0 of 76), since a score cannot rise far above its start.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import tunesmith as ts
from tunesmith.analysis import Signature, classify_curves
from tunesmith.trial import TrialRecord, TrialState

STEPS = np.arange(1, 21)
LEVEL = 0.01  # the level at which a label read against the study's best is stated (`SignatureThresholds.level`)


def _record(number: int, params: dict[str, Any], **curves: list[float]) -> TrialRecord:
    """A finished trial that reported each of ``curves`` (name -> values at steps 1, 2, ...)."""
    length = max(len(values) for values in curves.values())
    intermediate = {
        step + 1: {name: float(values[step]) for name, values in curves.items() if step < len(values)}
        for step in range(length)
    }
    final = {name: float(values[-1]) for name, values in curves.items()}
    return TrialRecord(number, params, number, TrialState.COMPLETE, final, intermediate)


def _seed_only_curve(rng: np.random.Generator, level: float) -> list[float]:
    """A smooth loss curve levelling off at ``level``, measured with a little step-to-step noise."""
    return list(level + 0.5 * np.exp(-STEPS / 3) + rng.normal(0, 0.005, len(STEPS)))


def _underfitting(records: list[TrialRecord]) -> set[int]:
    found = classify_curves(records, "loss")
    return {n for n, d in found.items() if d.signature is Signature.UNDERFITTING}


def test_trials_of_one_configuration_that_differ_only_by_seed_are_not_called_underfitting() -> None:
    labelled = 0
    for study in range(20):
        rng = np.random.default_rng(study)
        records = [_record(i, {"lr": 0.01}, loss=_seed_only_curve(rng, 0.5 + rng.normal(0, 0.15))) for i in range(30)]
        labelled += len(_underfitting(records))
    assert labelled <= LEVEL * 600, f"{labelled} of 600 trials of one configuration called underfitting"


def test_where_no_parameter_matters_trials_are_called_underfitting_at_most_at_the_stated_level() -> None:
    labelled = 0
    for study in range(48):
        rng = np.random.default_rng(1000 + study)
        records = []
        for i in range(36):
            params = {"lr": float(10 ** rng.uniform(-3, -1)), "l2": float(10 ** rng.uniform(-4, -1))}
            records.append(_record(i, params, loss=_seed_only_curve(rng, 0.5 + rng.normal(0, 0.15))))
        labelled += len(_underfitting(records))
    assert labelled <= LEVEL * 48 * 36, f"{labelled} of {48 * 36} trials called underfitting, no parameter mattering"


def test_a_planted_underfitting_region_is_labelled_and_its_seed_noise_neighbours_are_not() -> None:
    planted_found = others_labelled = planted = 0
    for study in range(5):
        rng = np.random.default_rng(2000 + study)
        records, slow = [], set()
        for i in range(36):
            lr = float(10 ** rng.uniform(-4, 0))
            if lr < 1e-3:  # too small a learning rate: levels off far above what the others reach
                slow.add(i)
            level = 0.5 + (0.8 if lr < 1e-3 else 0.0) + rng.normal(0, 0.1)
            records.append(_record(i, {"lr": lr}, loss=_seed_only_curve(rng, level)))
        labelled = _underfitting(records)
        planted += len(slow)
        planted_found += len(labelled & slow)
        others_labelled += len(labelled - slow)
    assert planted >= 20 and planted_found == planted, f"{planted_found} of {planted} planted trials labelled"
    assert others_labelled <= 1, f"{others_labelled} trials outside the planted region called underfitting"


def test_a_label_read_against_the_best_says_how_sure_it_is() -> None:
    rng = np.random.default_rng(7)
    records = [_record(i, {"lr": 0.01}, loss=_seed_only_curve(rng, 0.5 + rng.normal(0, 0.05))) for i in range(20)]
    records.append(_record(20, {"lr": 0.01}, loss=_seed_only_curve(rng, 1.2)))  # far beyond any seed's luck
    found = classify_curves(records, "loss")
    stuck = found[20]
    assert stuck.signature is Signature.UNDERFITTING
    assert stuck.p_value is not None and stuck.p_value <= LEVEL
    assert "beyond their seed noise at the 0.01 level (p " in stuck.detail, stuck.detail
    assert "seed noise sd" in stuck.detail and "pairs of trials of nearest configurations" in stuck.detail


def test_a_trial_far_above_the_best_only_by_seed_luck_says_it_is_within_the_seed_noise() -> None:
    rng = np.random.default_rng(3)
    records = [_record(i, {"lr": 0.01}, loss=_seed_only_curve(rng, 0.5 + rng.normal(0, 0.15))) for i in range(30)]
    found = classify_curves(records, "loss")
    # Those the gap to the luckiest seed alone would have labelled are checked against the seed noise, and pass it.
    checked = [d for d in found.values() if "within their seed noise" in d.detail]
    assert len(checked) >= 5, [d.detail for d in found.values()]
    assert all(d.signature is Signature.HEALTHY and d.p_value is not None and d.p_value > LEVEL for d in checked)


def test_with_too_few_trials_to_measure_seed_noise_an_underfitting_label_says_it_was_not_checked() -> None:
    rng = np.random.default_rng(0)
    records = [_record(i, {"lr": 0.01}, loss=_seed_only_curve(rng, 0.1)) for i in range(3)]
    records.append(_record(3, {"lr": 0.01}, loss=list(2.0 - 0.01 * STEPS)))
    found = classify_curves(records, "loss")
    assert found[3].signature is Signature.UNDERFITTING and found[3].p_value is None
    assert "not checked against the trials' seed noise" in found[3].detail, found[3].detail


def _accuracy(rng: np.random.Generator, true: np.ndarray) -> list[float]:
    """An accuracy curve scored on 500 examples at each step."""
    return [float(v) for v in rng.binomial(500, np.clip(true, 0.0, 1.0)) / 500]


def test_an_accuracy_that_collapses_to_chance_after_learning_is_diverged_and_noisy_or_overfit_ones_are_not() -> None:
    learned = 0.92 - 0.3 * np.exp(-(STEPS - 1) / 3)
    for study in range(5):
        rng = np.random.default_rng(study)
        records = [_record(i, {"lr": 0.01}, acc=_accuracy(rng, learned)) for i in range(20)]
        overfit = learned - 0.012 * np.maximum(0, STEPS - 6)
        records.append(_record(20, {"lr": 0.02}, acc=_accuracy(rng, overfit)))
        collapsed = np.where(STEPS < 9, learned, 0.1)  # the weights blew up at step 9: back to chance
        records.append(_record(21, {"lr": 0.5}, acc=_accuracy(rng, collapsed)))
        found = classify_curves(records, ts.Metric("acc", "max"))
        assert found[21].signature is Signature.DIVERGED, found[21].detail
        detail = found[21].detail
        ended = float(detail.split(" to ")[1].split(" ")[0])
        assert detail.startswith("acc collapsed from 0.") and 0.0 <= ended <= 0.2, detail  # as reported, not negated
        assert not any(found[i].signature is Signature.DIVERGED for i in range(21)), [d.detail for d in found.values()]


def test_a_trial_whose_other_metric_ends_not_finite_is_diverged_and_one_not_finite_for_a_while_is_not() -> None:
    rng = np.random.default_rng(0)
    learned = 0.92 - 0.3 * np.exp(-(STEPS - 1) / 3)
    mse = list(0.1 * np.exp(-STEPS / 5))
    records = [_record(i, {"lr": 0.01}, acc=_accuracy(rng, learned), mse=mse) for i in range(10)]
    chance = _accuracy(rng, np.full(len(STEPS), 0.1))
    records.append(_record(10, {"lr": 0.9}, acc=chance, mse=[*mse[:5], *[math.inf] * 14, math.nan]))
    skipped = [*mse[:5], math.inf, *mse[6:]]  # a step skipped under loss scaling: inf once, then training went on
    records.append(_record(11, {"lr": 0.01}, acc=_accuracy(rng, learned), mse=skipped))
    found = classify_curves(records, ts.Metric("acc", "max"))
    assert found[10].signature is Signature.DIVERGED
    assert found[10].detail.startswith("mse is nan at its last report"), found[10].detail
    assert found[11].signature is not Signature.DIVERGED, found[11].detail


def test_a_loss_that_blows_up_beside_an_accuracy_at_chance_from_the_start_is_diverged() -> None:
    rng = np.random.default_rng(0)
    learned = 0.92 - 0.3 * np.exp(-(STEPS - 1) / 3)
    mse = list(0.1 * np.exp(-STEPS / 5))
    records = [_record(i, {"lr": 0.01}, acc=_accuracy(rng, learned), mse=mse) for i in range(10)]
    blown = list(1e8 * 1e10 ** (STEPS - 1.0))  # the weights grew without bound from the first epoch
    records.append(_record(10, {"lr": 0.4}, acc=_accuracy(rng, np.full(len(STEPS), 0.1)), mse=blown))
    found = classify_curves(records, ts.Metric("acc", "max"))
    assert found[10].signature is Signature.DIVERGED, found[10].detail
    assert found[10].detail.startswith("mse blew up from 1e+08 at step 1"), found[10].detail
    assert not any(found[i].signature is Signature.DIVERGED for i in range(10))


def _rungs(number: int, state: TrialState, scores: dict[int, float]) -> TrialRecord:
    """A trial that reported ``score`` at the given rungs (a subsample fit at each: independent noisy readings)."""
    return TrialRecord(number, {"C": 0.1 * (number + 1)}, number, state, {"score": scores[max(scores)]},
                       {step: {"score": value} for step, value in scores.items()})  # fmt: skip


def test_a_dip_as_deep_as_the_step_noise_of_the_curves_that_show_it_is_no_collapse() -> None:
    # ASHA on n_samples: rungs stop most trials at one or two reports, which show no step noise; counted as
    # noiseless they pulled the study's noise to 0, and a dip every curve shared at rung 42 read as a collapse.
    records = [
        _rungs(0, TrialState.COMPLETE, {14: 0.851, 42: 0.772, 126: 0.880, 400: 0.939}),
        _rungs(1, TrialState.STOPPED, {14: 0.851, 42: 0.772, 126: 0.880}),
        _rungs(2, TrialState.STOPPED, {14: 0.851, 42: 0.772}),
        *(_rungs(n, TrialState.STOPPED, {14: 0.80 + 0.004 * n}) for n in range(3, 12)),
    ]
    found = classify_curves(records, ts.Metric("score", "max"))
    assert all(d.signature is not Signature.DIVERGED for d in found.values()), found
