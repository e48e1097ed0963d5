"""A NaN in a metric the study does not watch says nothing of training. An F1 of a class a model never predicts is
undefined, and a healthy trial returns it: such a NaN labelled normal COMPLETE trials, the best among them, "diverged
(training blew up)", and the diagnosis then advised narrowing the space away from the best region. Only the study's
objectives, its guardrails and the metrics reported along the curves are watched; any other NaN is a note."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.analysis import Signature, classify_curves, diagnose
from tunesmith.trial import TrialKind, TrialRecord, TrialState

STEPS = np.arange(1, 11)
LOSS = ts.Metric("val_loss", "min")
SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def _record(number: int, x: float, extra: dict[str, float], **changes: object) -> TrialRecord:
    """A trial with a smooth, healthy curve whose level rises with ``x``, and ``extra`` in its result only."""
    noise = np.random.default_rng(number).normal(0.0, 0.005, len(STEPS))
    curve = [float(v) for v in 0.2 + x + np.exp(-0.3 * STEPS) + noise]
    record = TrialRecord(
        number=number,
        params={"x": x},
        seed=number,
        state=TrialState.COMPLETE,
        metrics={"val_loss": curve[-1], **extra},
        intermediate={int(step): {"val_loss": v} for step, v in zip(STEPS, curve, strict=True)},
    )
    return record.evolve(**changes) if changes else record


def _f1_undefined_below(cut: float, trials: int = 20) -> list[TrialRecord]:
    """Trials whose minority-class F1 is undefined (NaN) for every x below ``cut`` and 0.4 above."""
    xs = np.random.default_rng(0).uniform(0.0, 1.0, trials)
    return [_record(n, float(x), {"minority_f1": math.nan if x < cut else 0.4}) for n, x in enumerate(xs)]


def test_a_nan_in_an_unwatched_metric_leaves_each_trial_judged_on_its_curve() -> None:
    records = _f1_undefined_below(0.3)
    stopped = TrialState.STOPPED
    records += [_record(20 + i, 0.1 * i, {"aux": math.nan}, state=stopped, kind=TrialKind.SCHEDULER) for i in range(3)]
    found = classify_curves(records, LOSS)
    diverged = {n: d.detail for n, d in found.items() if d.signature is Signature.DIVERGED}
    assert diverged == {}


def test_an_undefined_metric_is_noted_in_the_trial_detail() -> None:
    records = _f1_undefined_below(0.3)
    undefined = next(r for r in records if math.isnan(r.metrics["minority_f1"]))
    detail = classify_curves(records, LOSS)[undefined.number].detail
    assert "undefined metric" in detail and "minority_f1=nan" in detail, detail


def test_only_a_nan_in_a_watched_metric_marks_a_trial_diverged() -> None:
    records = _f1_undefined_below(0.3)
    # A guardrail applies to finished results only: a stopped trial keeps a NaN guardrail metric in its result.
    guarded = _record(20, 0.5, {"minority_f1": 0.4, "latency": math.nan}, state=TrialState.STOPPED)
    reported = _record(21, 0.5, {"minority_f1": 0.4, "grad_norm": math.nan})
    first = {**reported.intermediate[1], "grad_norm": 1.0}  # reported along the curve once: a training metric
    # The study failed this one for a NaN second objective, which the analysis below is not told of: its curve shows
    # no blow-up, so it is that failure, in its trial kind's word, not a divergence.
    failed = _record(22, 0.5, {"minority_f1": 0.4, "memory": math.nan}, state=TrialState.FAILED)
    failed = failed.evolve(kind=TrialKind.NON_FINITE, reason="memory is nan")
    records += [guarded, reported.evolve(intermediate={**reported.intermediate, 1: first}), failed]
    result = diagnose(records, SPACE, LOSS, guardrails=[ts.Guardrail("latency", "<=", 0.1)])
    diverged = sorted(n for n, d in result.curves.items() if d.signature is Signature.DIVERGED)
    assert diverged == [20, 21], {n: result.curves[n].detail for n in diverged}
    assert result.failures[22].failure.value == "non_finite (memory)"


def test_a_study_without_curves_has_no_diverged_trial_for_an_undefined_metric() -> None:
    records = [r.evolve(intermediate={}) for r in _f1_undefined_below(0.3)]
    result = diagnose(records, SPACE, LOSS)
    assert result.counts[Signature.DIVERGED] == 0, result.lines()


def test_the_best_trial_is_not_called_diverged_for_an_undefined_metric() -> None:
    records = _f1_undefined_below(0.3)
    best = min(records, key=lambda r: r.metrics["val_loss"])
    assert math.isnan(best.metrics["minority_f1"])  # the planted case: the best trial's F1 is the undefined one
    result = diagnose(records, SPACE, LOSS)
    assert result.signature_of(best.number) is not Signature.DIVERGED, result.curves[best.number].detail


def test_no_attribution_or_advice_rests_on_an_undefined_metric() -> None:
    result = diagnose(_f1_undefined_below(0.3, trials=40), SPACE, LOSS)
    about_divergence = [a.describe() for a in result.attributions if a.signature is Signature.DIVERGED]
    advice = [s.text for s in result.suggestions if " diverged trials have " in s.because]
    assert about_divergence == [] and advice == [], result.lines()


THREE_OBJECTIVES = [ts.Metric("accuracy", "max"), ts.Metric("latency_ms"), ts.Metric("mem_mb")]


def _memory_probe_broken_at_width_256(trial: ts.Trial) -> dict[str, float]:
    """No trial.report; accuracy finite everywhere, the memory measurement NaN for width 256."""
    width, depth = trial.params["width"], trial.params["depth"]
    mem_mb = math.nan if width == 256 else width * depth * 1.5
    return {"accuracy": 0.7 + 0.01 * depth + width / 10000, "latency_ms": depth * width / 32, "mem_mb": mem_mb}


@pytest.fixture(scope="module")
def broken_probe() -> ts.Study:
    space = ts.Space({"width": ts.Choice([16, 32, 64, 128, 256]), "depth": ts.Int(1, 6)})
    study = ts.Study(space, metrics=THREE_OBJECTIVES, budget=ts.Budget(trials=40), storage="memory", seed=1,
                     sampler="random")  # fmt: skip
    study.optimize(_memory_probe_broken_at_width_256, fail_fast=None)
    return study


def test_a_nan_objective_of_a_trial_that_reported_nothing_is_not_finite_not_a_diverged_curve(
    broken_probe: ts.Study,
) -> None:
    """It read "signatures of 6 trials' learning curves of accuracy (one of 3 objectives): 6 diverged", where no
    curve of accuracy was ever reported."""
    broken = sum(r.params["width"] == 256 for r in broken_probe.trials)
    result = diagnose(broken_probe.trials, broken_probe.space, THREE_OBJECTIVES[0], objectives=THREE_OBJECTIVES)
    first = result.lines()[0]
    assert "learning curves of accuracy" not in first and "diverged" not in first, first
    assert f"{broken} non_finite (mem_mb)" in first, first
    assert {d.failure.value for d in result.failures.values()} == {"non_finite (mem_mb)"}


def test_a_nan_objective_without_curves_is_attributed_to_the_option_that_gives_it(broken_probe: ts.Study) -> None:
    broken = sum(r.params["width"] == 256 for r in broken_probe.trials)
    result = diagnose(broken_probe.trials, broken_probe.space, THREE_OBJECTIVES[0], objectives=THREE_OBJECTIVES)
    said = [a.describe() for a in result.attributions]
    assert any(a.startswith(f"{broken} of {broken} non_finite trials (mem_mb) have width = 256") for a in said), said
