"""A narrowing of a float range keeps the best trial and every trial within noise of it, and is given even when most
of the range fails. The best lr (0.28) sat just below the divergence edge (0.3): "lr > 0.3" became "narrow lr to at
most 0.2", which ruled the best trial out, and with everything above 0.3 of a range 0.25-10 diverging the rounded
bound fell below the range's low end and no advice was given at all."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

import tunesmith as ts
from tunesmith.analysis import Diagnosis, diagnose
from tunesmith.trial import TrialRecord, TrialState

STEPS = np.arange(1, 21)
LOSS = ts.Metric("loss", "min")


def _record(number: int, lr: float, curve: np.ndarray) -> TrialRecord:
    values = [float(v) for v in curve]
    return TrialRecord(
        number=number,
        params={"lr": lr},
        seed=number,
        state=TrialState.COMPLETE,
        metrics={"loss": values[-1]},
        intermediate={int(step): {"loss": v} for step, v in zip(STEPS, values, strict=True)},
    )


def _trained(lr: float) -> np.ndarray:
    """A healthy curve whose final loss is lower the higher ``lr`` (the best lr sits just below the edge)."""
    return 0.1 + np.exp(-lr * 3.0 * STEPS) + 0.05 * (1.0 - min(lr, 1.0))


def _diverged() -> np.ndarray:
    return 3.0**STEPS


def _levelled() -> np.ndarray:
    """A curve that levels off high: underfitting."""
    return 0.9 + 0.1 * np.exp(-STEPS)


def _suggestion(result: Diagnosis, what: str) -> str:
    """The one suggestion made because of ``what`` trials (``"diverged"``, ``"underfitting"``)."""
    found = [s.text for s in result.suggestions if f" {what} trials have " in s.because]
    assert len(found) == 1, [s.text for s in result.suggestions]
    return found[0]


def _bound(text: str) -> float:
    return float(text.rsplit(" ", 1)[1])


def test_a_narrowing_keeps_the_best_trial_just_below_the_divergence_edge() -> None:
    space = ts.Space({"lr": ts.Float(1e-3, 1.0, log=True)})
    below = [0.28, *np.geomspace(1e-2, 0.25, 11)]
    above = [0.31, *np.geomspace(0.35, 1.0, 7)]
    records = [_record(n, float(lr), _trained(float(lr))) for n, lr in enumerate(below)]
    records += [_record(len(below) + n, float(lr), _diverged()) for n, lr in enumerate(above)]
    result = diagnose(records, space, LOSS)
    best = min(records, key=lambda r: r.metrics["loss"])
    assert best.params["lr"] == 0.28
    text = _suggestion(result, "diverged")
    assert text.startswith("narrow lr to at most "), text
    assert best.params["lr"] <= _bound(text) < 0.31, text


def test_a_narrowing_from_below_keeps_the_best_trial_just_above_the_edge() -> None:
    """The rule "lr < 0.001" became "narrow lr to at least 0.002", ruling out the best trial at lr 0.00105."""
    space = ts.Space({"lr": ts.Float(1e-4, 1e-1, log=True)})
    levelled = [0.00095, *np.geomspace(1e-4, 8e-4, 7)]
    records = [_record(n, float(lr), _levelled()) for n, lr in enumerate(levelled)]
    records.append(_record(len(records), 0.00105, 0.05 + 0.9 * np.exp(-STEPS / 2)))  # the best
    for lr in np.geomspace(2e-3, 0.1, 11):
        records.append(_record(len(records), float(lr), 0.2 + 0.9 * np.exp(-STEPS / 2)))
    result = diagnose(records, space, LOSS)
    text = _suggestion(result, "underfitting")
    assert text.startswith("narrow lr to at least "), text
    assert 0.00095 < _bound(text) <= 0.00105, text


def test_a_narrowing_that_would_cut_a_trial_within_noise_of_the_best_is_not_advised() -> None:
    """Trial 17 (lr 0.4) levelled no higher than the best within the curves' noise: ruling its region out could
    drop the best configuration, which noise alone ranked second."""
    space = ts.Space({"lr": ts.Float(1e-4, 1.0, log=True)})
    rng = np.random.default_rng(0)
    records = []
    for number in range(12):  # healthy, lr below 0.05, each curve with measurement noise of 0.01
        curve = 0.2 + 0.9 * np.exp(-STEPS / 2) + rng.normal(0.0, 0.01, len(STEPS))
        records.append(_record(number, 10 ** (-4 + number * 0.2), curve))
    for number in range(12, 17):  # levelled off high, lr above 0.05
        records.append(_record(number, 0.06 + 0.01 * (number - 12), _levelled()))
    best = min(records, key=lambda r: r.metrics["loss"])
    near = 0.2 + 0.9 * np.exp(-STEPS / 2) + rng.normal(0.0, 0.01, len(STEPS))
    near[-1] = best.metrics["loss"] + 0.005  # second to the best by half the noise of one point
    records.append(_record(17, 0.4, near))
    result = diagnose(records, space, LOSS)
    text = _suggestion(result, "underfitting")
    assert text.startswith(f"lr is not narrowed: it would cut 1 trial whose loss is within noise of the best's, "
                           f"#{best.number}"), text  # fmt: skip
    assert "#17 (lr=0.4)" in text, text


def test_a_narrowing_keeps_trials_within_the_noise_their_results_carry() -> None:
    """Results with a per-example standard error (0.02 here) are told apart from the best by that noise, as the
    tie note of `status` and the report reads them: trial 17 trails the best by 0.02, one standard error, and the
    curves' step noise (0.001) alone would have let the narrowing cut it."""
    space = ts.Space({"lr": ts.Float(1e-4, 1.0, log=True)})
    rng = np.random.default_rng(0)
    records = []
    for number in range(12):
        curve = 0.2 + 0.9 * np.exp(-STEPS / 2) + rng.normal(0.0, 0.001, len(STEPS))
        records.append(_record(number, 10 ** (-4 + number * 0.2), curve))
    for number in range(12, 17):
        records.append(_record(number, 0.06 + 0.01 * (number - 12), _levelled()))
    best = min(records, key=lambda r: r.metrics["loss"])
    near = 0.2 + 0.9 * np.exp(-STEPS / 2) + rng.normal(0.0, 0.001, len(STEPS))
    near[-1] = best.metrics["loss"] + 0.02
    records.append(_record(17, 0.4, near))
    records = [replace(r, metrics={**r.metrics, "stderr:loss": 0.02}) for r in records]
    text = _suggestion(diagnose(records, space, LOSS), "underfitting")
    assert text.startswith(f"lr is not narrowed: it would cut 1 trial whose loss is within noise of the best's, "
                           f"#{best.number} (within two standard errors of the difference, by the noise the results "
                           "carry)"), text  # fmt: skip
    assert "#17 (lr=0.4)" in text, text


def test_a_range_where_most_trials_diverge_is_still_narrowed() -> None:
    """lr 0.25-10 with everything above 0.3 diverging: 25 of 30 trials, the case that wastes the most budget."""
    space = ts.Space({"lr": ts.Float(0.25, 10.0, log=True)})
    below = [0.26, 0.27, 0.28, 0.255, 0.29]
    above = np.geomspace(0.31, 10.0, 25)
    records = [_record(n, lr, _trained(lr)) for n, lr in enumerate(below)]
    records += [_record(len(below) + n, float(lr), _diverged()) for n, lr in enumerate(above)]
    result = diagnose(records, space, LOSS)
    text = _suggestion(result, "diverged")
    assert text.startswith("narrow lr to at most "), text
    assert 0.29 <= _bound(text) < 0.31, text


def test_a_rule_that_leaves_only_the_low_end_says_to_lower_it() -> None:
    """Every trial above the range's low end diverged: no narrower range inside avoids the rule, so the advice is
    to search below the low end."""
    space = ts.Space({"lr": ts.Float(0.3, 10.0, log=True)})
    above = np.geomspace(0.31, 10.0, 25)
    records = [_record(n, 0.3, _trained(0.3)) for n in range(4)]
    records += [_record(4 + n, float(lr), _diverged()) for n, lr in enumerate(above)]
    result = diagnose(records, space, LOSS)
    text = _suggestion(result, "diverged")
    assert text.startswith("lr is not narrowed: lr > 0.3 holds on all of its range 0.3-10 but the low end"), text
    assert "lower the low end" in text, text
