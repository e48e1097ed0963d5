"""A learning rate far too low is underfitting, though its curve still improves a little at every step.

The guide maps a low learning rate to underfitting. The rule called a trial underfitting only when its curve levelled
off: the last third closed less than a fifth of the study's gap (from the typical start to the best). Where the other
trials start near the best, that gap is small, so a trial at 0.07 -> 0.29 accuracy over 12 epochs, against 0.98 for
the rest, closed more than a fifth of it and was called healthy; the diagnosis then had nothing to narrow. It is now
healthy only while its last third's pace would bring it near the best within one more training of the same length.
"""

from __future__ import annotations

import numpy as np

import tunesmith as ts
from tunesmith.analysis.curves import Signature, judge_curves
from tunesmith.analysis.diagnose import diagnose

SLOW, CATCHING_UP = 1e-4, 3e-4  # below SLOW: far too low; up to CATCHING_UP: slower, but getting there


def objective(trial: ts.Trial) -> dict[str, float]:
    rng = np.random.default_rng(trial.seed)
    lr = trial.params["lr"]
    accuracy = 0.0
    for step in trial.steps(12):
        if lr < SLOW:  # a little better each epoch, far below the rest
            accuracy = 0.07 + 0.02 * step
        elif lr < CATCHING_UP:  # 0.5 -> 0.81: would come near the best in one more training at this pace
            accuracy = 0.5 + 0.026 * step
        else:
            accuracy = 0.98 - 0.08 * float(np.exp(-(step - 1)))
        trial.report(val_acc=accuracy + float(rng.normal(0.0, 0.003)))
    return {"val_acc": accuracy + float(rng.normal(0.0, 0.003))}


def test_a_learning_rate_far_too_low_is_underfitting_and_the_diagnosis_narrows_it() -> None:
    study = ts.Study(ts.Space({"lr": ts.Float(1e-5, 1e-1, log=True), "width": ts.Int(16, 256)}),
                     metric=ts.Metric("val_acc", "max"), budget=ts.Budget(trials=40), storage="memory", seed=0,
                     sampler="random")  # fmt: skip
    study.optimize(objective)
    judged = judge_curves(study.trials, study.metric).signatures
    slow = [r.number for r in study.trials if r.params["lr"] < SLOW]
    catching_up = [r.number for r in study.trials if SLOW <= r.params["lr"] < CATCHING_UP]
    assert slow and catching_up
    assert {judged[n].signature for n in slow} == {Signature.UNDERFITTING}
    assert "still improving but at a pace that needs about" in judged[slow[0]].detail
    assert "(a learning rate too low, or too few steps)" in judged[slow[0]].detail
    assert {judged[n].signature for n in catching_up} == {Signature.HEALTHY}  # slower, but getting there
    lines = diagnose(study.trials, study.space, study.metric).lines()
    assert any(line.startswith("narrow lr to at least") for line in lines), lines
