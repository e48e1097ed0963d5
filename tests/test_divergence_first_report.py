"""A loss that blows up at its first report is diverged, and a curve too short to judge is not called healthy.

Trials whose lr was too high reported a cross-entropy of 14-15 at their first epoch, where the others start near 1.7,
and then sat at chance (2.30). The divergence rules compared a curve only with its own first value, or needed it to
have been below the study's start, so under FIFO those trials read "underfitting" (advice: raise lr only), and under
ASHA, which stopped them at their first rung with one report, every trial of the study read "healthy".
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.analysis import Signature, SignatureThresholds, classify_curves, diagnose
from tunesmith.analysis.curves import judge_curves
from tunesmith.errors import ConfigError
from tunesmith.trial import TrialKind, TrialRecord, TrialState

SPACE = ts.Space({"lr": ts.Float(1e-4, 3.0, log=True), "dropout": ts.Float(0.0, 0.5)})
HOT = 1.0  # above this lr the loss blows up in the first epoch


def _blowing_up_at_first_epoch(trial: ts.Trial) -> dict[str, float]:
    """Above `HOT`, the loss blows up in epoch 1 (about 15) and the dead weights then sit at chance (2.30); below, it
    falls from chance towards a floor that is higher the further lr is from 0.05, faster the higher lr."""
    lr = trial.params["lr"]
    rng = np.random.default_rng(trial.seed % 2**32)
    value = math.nan
    for index, _ in enumerate(trial.steps(20)):
        if lr > HOT:
            value = 15.0 + rng.normal(0.0, 1.0) if index == 0 else 2.30 + rng.normal(0.0, 0.01)
        else:
            floor = 0.1 + 0.3 * (math.log10(lr) + 1.3) ** 2
            value = floor + (2.3 - floor) * math.exp(-(index + 1) * min(1.0, 30 * lr)) + rng.normal(0.0, 0.02)
        trial.report(val_loss=value)
    return {"val_loss": value}


def _study(scheduler: ts.ASHA | None) -> ts.Study:
    study = ts.Study(SPACE, metric="val_loss", budget=ts.Budget(trials=40), storage="memory", sampler="random",
                     seed=1, scheduler=scheduler)  # fmt: skip
    study.optimize(_blowing_up_at_first_epoch)
    return study


@pytest.fixture(scope="module")
def fifo() -> ts.Study:
    return _study(None)


@pytest.fixture(scope="module")
def asha() -> ts.Study:
    return _study(ts.ASHA(min_resource=1, max_resource=20, eta=3))


def _hot(study: ts.Study) -> set[int]:
    hot = {r.number for r in study.trials if r.params["lr"] > HOT}
    assert len(hot) >= 3, "the planted blow-ups must be there to find"
    return hot


def test_a_loss_that_blows_up_at_its_first_report_and_then_sits_at_chance_is_diverged(fifo: ts.Study) -> None:
    found = classify_curves(fifo.trials, fifo.metric)
    diverged = {n for n, d in found.items() if d.signature is Signature.DIVERGED}
    assert diverged == _hot(fifo), {n: found[n].detail for n in diverged ^ _hot(fifo)}
    for number in diverged:
        assert re.match(
            r"val_loss reached [\d.]+ at step 1, [\d.]+ times the typical [\d.]+ of the 39 other trials at "
            r"that step",
            found[number].detail,
        ), found[number].detail


def test_a_trial_stopped_at_its_first_rung_after_blowing_up_is_diverged(asha: ts.Study) -> None:
    found = classify_curves(asha.trials, asha.metric)
    hot = _hot(asha)
    assert all(len(r.curve("val_loss")) == 1 for r in asha.trials if r.number in hot), "stopped at the first rung"
    diverged = {n for n, d in found.items() if d.signature is Signature.DIVERGED}
    assert diverged == hot


def test_a_one_report_trial_within_its_peers_is_too_short_to_judge_not_healthy(asha: ts.Study) -> None:
    short = {r.number for r in asha.trials if len(r.curve("val_loss")) == 1} - _hot(asha)
    assert short, "ASHA stops some trials at their first rung"
    found = classify_curves(asha.trials, asha.metric)
    assert not short & set(found), {n: found[n].signature.value for n in short & set(found)}
    result = diagnose(asha.trials, asha.space, asha.metric)
    assert set(result.too_short) == short
    assert all(why.startswith("too short to judge: 1 report of val_loss") for why in result.too_short.values())


def test_the_summary_counts_curves_too_short_to_judge_apart_from_healthy_ones(asha: ts.Study) -> None:
    result = diagnose(asha.trials, asha.space, asha.metric)
    first = result.lines()[0]
    match = re.fullmatch(r"signatures of (\d+) trials: (.*)", first)
    assert match is not None, first
    parts = {what: count for count, what in (part.split(" ", 1) for part in match.group(2).split(", "))}
    assert int(parts["too short to judge"]) == len(result.too_short) > 0
    assert int(parts["healthy"]) == result.counts[Signature.HEALTHY]
    assert int(match.group(1)) == len(asha.trials) == sum(int(n) for n in parts.values())


def test_blown_up_trials_are_attributed_to_lr_and_the_advice_lowers_its_top(asha: ts.Study) -> None:
    result = diagnose(asha.trials, asha.space, asha.metric)
    attribution = next(a for a in result.attributions if a.signature is Signature.DIVERGED)
    assert attribution.rule.param == "lr" and attribution.matched == attribution.total == len(_hot(asha))
    narrowing = next(s.text for s in result.suggestions if s.text.startswith("narrow lr to at most"))
    bound = float(narrowing.rsplit(" ", 1)[1])
    assert bound < min(r.params["lr"] for r in asha.trials if r.number in _hot(asha))


def _one_report(number: int, value: float) -> TrialRecord:
    return TrialRecord(
        number=number,
        params={"lr": 10.0 ** (-3 + number / 4)},
        seed=number,
        state=TrialState.COMPLETE,
        metrics={"loss": value},
        intermediate={1: {"loss": value}},
    )


def test_a_one_report_trial_with_too_few_peers_at_its_step_is_too_short_to_judge_and_says_so() -> None:
    """Five others at its step are too few to read their typical value and spread off: a report of 15 against them
    is not called diverged, nor healthy."""
    records = [_one_report(n, 1.7 + 0.05 * n) for n in range(5)] + [_one_report(5, 15.0)]
    result = diagnose(records, ts.Space({"lr": ts.Float(1e-4, 1.0, log=True)}), "loss")
    assert result.curves == {}
    assert "too few other trials reported at step 1 to compare it with (it takes 8" in result.too_short[5]
    assert result.lines()[0] == "signatures of 6 trials: 6 too short to judge"


def test_the_margin_above_the_peers_must_exceed_one() -> None:
    with pytest.raises(ConfigError, match=r"above_peers.*1\.0.*e\.g\. 4"):
        SignatureThresholds(above_peers=1.0)


def _slow_or_fast(trial: ts.Trial) -> dict[str, float]:
    """Below lr 1e-3 the model barely learns: its loss falls steadily from 2.39, about chance for ten classes (2.30);
    above, it learns fast, to about 0.55 by the first report and 0.08 by the last."""
    rng = np.random.default_rng(trial.seed % 2**32)
    value = math.nan
    for index, _ in enumerate(trial.steps(12)):
        if trial.params["lr"] < 1e-3:
            value = 2.4 - 0.011 * (index + 1)
        else:
            value = 0.5 * math.exp(-0.2 * index) + 0.05 + 0.01 * rng.random()
        trial.report(val_loss=value)
    return {"val_loss": value}


def _slow_among_fast(slow: int) -> tuple[ts.Study, set[int]]:
    """40 trials of `_slow_or_fast`, the first ``slow`` of them slow; and the slow ones' numbers."""
    study = ts.Study(ts.Space({"lr": ts.Float(1e-5, 1e-1, log=True)}), metric="val_loss",
                     budget=ts.Budget(trials=40), storage="memory", sampler="random", seed=0)  # fmt: skip
    for index in range(40):
        study.enqueue({"lr": 10 ** (-4.5 + 0.1 * index) if index < slow else 10 ** (-2.5 + 0.03 * index)})
    study.optimize(_slow_or_fast)
    numbers = {r.number for r in study.trials if r.params["lr"] < 1e-3}
    assert len(numbers) == slow
    return study, numbers


def test_slow_learners_sitting_at_chance_among_fast_learners_are_not_diverged() -> None:
    """Six slow trials' first reports (2.39) lie 4.3 times above the fast trials' (0.55), yet their curves never rose
    and sit where an untrained model does: they did not blow up."""
    study, slow = _slow_among_fast(6)
    found = classify_curves(study.trials, study.metric)
    diverged = {n: found[n].detail for n in slow if found[n].signature is Signature.DIVERGED}
    assert not diverged, diverged


def test_a_lone_slow_learner_among_fast_learners_is_not_diverged() -> None:
    """No other trial sits at chance to show that level; the slow trial's own other reports do, at every step."""
    study, slow = _slow_among_fast(1)
    found = classify_curves(study.trials, study.metric)
    (number,) = slow
    assert found[number].signature is not Signature.DIVERGED, found[number].detail


def _curve(number: int, values: list[float]) -> TrialRecord:
    return TrialRecord(
        number=number,
        params={"lr": 10.0 ** (-4 + number / 10)},
        seed=number,
        state=TrialState.COMPLETE,
        metrics={"loss": values[-1]},
        intermediate={step: {"loss": value} for step, value in enumerate(values, start=1)},
    )


def test_a_blow_up_among_trials_split_into_fast_and_slow_learners_is_diverged() -> None:
    """The other trials' first reports fall in two groups, near 1 and near chance (2.3): their spread is wide, yet a
    loss of 14 to 15.5 that fell back to chance lies over four times above both, and above the slowest start."""
    fast = [_curve(n, [f, 0.6 * f, 0.4 * f, 0.35 * f]) for n, f in enumerate(np.linspace(0.9, 1.2, 18))]
    slow = [_curve(18 + n, [s, 0.98 * s, 0.96 * s, 0.95 * s]) for n, s in enumerate(np.linspace(1.9, 2.33, 18))]
    hot = [_curve(36 + n, [h, 2.30, 2.30, 2.31]) for n, h in enumerate([14.0, 14.5, 15.0, 15.5])]
    found = classify_curves([*fast, *slow, *hot], "loss")
    diverged = {n for n, d in found.items() if d.signature is Signature.DIVERGED}
    assert diverged == {36, 37, 38, 39}, {n: found[n].detail for n in diverged}


def _asha_like(curves: list[list[float]], lrs: list[float]) -> list[TrialRecord]:
    """The trials as ASHA leaves them with rungs at steps 1 and 3: the 23 worst first reports of 40 stop there, the
    11 next at step 3, and the best 6 train their 12 steps."""
    ranks = np.argsort(np.argsort([values[0] for values in curves]))
    records = []
    for number, (values, lr, rank) in enumerate(zip(curves, lrs, ranks, strict=True)):
        kept = values[: 12 if rank < 6 else 3 if rank < 17 else 1]
        stopped = len(kept) < len(values)
        records.append(TrialRecord(
            number=number, params={"lr": lr}, seed=number,
            state=TrialState.STOPPED if stopped else TrialState.COMPLETE, kind=TrialKind.SCHEDULER if stopped else None,
            metrics={"loss": kept[-1]}, intermediate={step: {"loss": v} for step, v in enumerate(kept, start=1)},
        ))  # fmt: skip
    return records


def _among_alike_fast_learners(first: float, seed: int, fast: float = 0.55) -> tuple[list[TrialRecord], set[int]]:
    """40 trials under ASHA, log-normal noise of sd 0.02 between seeds and between reports: 34 alike fast learners whose
    loss falls from ``fast`` to 0.08 over 12 steps, and 6 at low lr whose first report is ``first`` (2.39: untrained,
    at chance for ten classes; 15: blown up) and who then sit at chance; and those six's numbers."""
    rng = np.random.default_rng(seed)
    curves, lrs = [], []
    for number in range(40):
        if number < 6:
            base = [first] + [2.4 - 0.011 * (step + 1) for step in range(1, 12)]
            lrs.append(10 ** (-4.5 + 0.1 * number))
        else:
            base = [(fast - 0.05) * math.exp(-0.2 * step) + 0.05 for step in range(12)]
            lrs.append(10 ** (-2.5 + 0.03 * number))
        offset = rng.normal(0.0, 0.02)
        curves.append([b * math.exp(offset + rng.normal(0.0, 0.02)) for b in base])
    return _asha_like(curves, lrs), set(range(6))


def test_a_one_report_trial_at_chance_among_fast_learners_that_learned_alike_is_not_diverged() -> None:
    """Its report (2.39) lies 4.1-4.3 times above the highest fast learner's (0.57), as a blow-up's would: nothing the
    study shows tells where an untrained model sits (such trials were called diverged in 65% of seeded studies)."""
    records, slow = _among_alike_fast_learners(2.39, seed=11)
    judged = judge_curves(records, "loss")
    assert all(len(r.intermediate) == 1 for r in records if r.number in slow), "ASHA stopped them at the first rung"
    diverged = {n: judged.signatures[n].detail for n in slow & set(judged.signatures)}
    assert not diverged, diverged


def test_a_one_report_trial_among_fast_learners_that_learned_alike_says_one_report_cannot_judge_it() -> None:
    """At chance (2.39), 5.6 times above fast learners that all reached 0.4 by their first report."""
    records, slow = _among_alike_fast_learners(2.39, seed=11, fast=0.4)
    judged = judge_curves(records, "loss")
    assert set(judged.too_short) >= slow
    for number in slow:
        assert "learned alike" in judged.too_short[number], judged.too_short[number]
        assert "(not judged: one report; a second report of it" in judged.too_short[number], judged.too_short[number]


def test_a_first_report_blown_up_to_15_among_fast_learners_that_learned_alike_is_not_judged_either() -> None:
    """A report of 15, 27 times the fast learners' 0.55, is where a blow-up lands and where an untrained model sits
    on a task whose chance loss is that high: with every other trial learned alike, the study shows neither level."""
    records, hot = _among_alike_fast_learners(15.0, seed=12)
    judged = judge_curves(records, "loss")
    assert not hot & set(judged.signatures), {n: judged.signatures[n].detail for n in hot & set(judged.signatures)}
    assert all("(not judged: one report" in judged.too_short[n] for n in hot)


def test_a_first_report_blown_up_to_15_among_trials_that_learned_at_different_paces_is_still_diverged() -> None:
    """The others' first reports spread from 0.9 to chance (2.3) with lr, far beyond their seed noise (sd 0.02): the
    slowest show where an untrained model sits, and a one-report loss of 15 lies 6.5 times above it."""
    rng = np.random.default_rng(13)
    curves, lrs = [], []
    for number, lr in enumerate([*np.geomspace(1e-4, 0.5, 36).tolist(), 1.5, 2.0, 2.5, 3.0]):
        if number < 36:
            floor = 0.1 + 0.3 * (math.log10(lr) + 1.3) ** 2
            base = [floor + (2.3 - floor) * math.exp(-(step + 1) * min(1.0, 30 * lr)) for step in range(12)]
        else:
            base = [15.0] + [2.3] * 11
        offset = rng.normal(0.0, 0.02)
        curves.append([b * math.exp(offset + rng.normal(0.0, 0.02)) for b in base])
        lrs.append(lr)
    records = _asha_like(curves, lrs)
    hot = {36, 37, 38, 39}
    assert all(len(r.intermediate) == 1 for r in records if r.number in hot), "ASHA stopped them at the first rung"
    judged = judge_curves(records, "loss")
    diverged = {n for n, d in judged.signatures.items() if d.signature is Signature.DIVERGED}
    assert diverged == hot, {n: judged.signatures[n].detail for n in diverged ^ hot if n in judged.signatures}
